//! `http:siteUrl`: where the HTTP actions are served. Like Convex's
//! `process.env.CONVEX_SITE_URL`, it reads the deployment's environment
//! variables, which the testbed keeps in the system table
//! `_environment_variables` ({name, value}) and fills at start-up.

use serde_json::{Map, Value};

use super::{ArgSpec, ArgType, FnError, FunctionDef, Handler, internal};
use crate::store::Store;
use crate::store::transaction::Transaction;

pub const ENV_TABLE: &str = "_environment_variables";
pub const SITE_URL_VAR: &str = "CONVEX_SITE_URL";
/// Environment variables scanned per read; Convex allows far fewer.
const MAX_ENV_VARS: usize = 1000;

const SITE_URL_ARGS: &[ArgSpec] = &[ArgSpec::optional("cacheBreaker", ArgType::Number)];

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        path: "http:siteUrl",
        args: SITE_URL_ARGS,
        handler: Handler::Query(|tx, _| {
            env_var(tx, SITE_URL_VAR)?
                .map(Value::String)
                .ok_or_else(|| {
                    FnError::uncaught(format!("{SITE_URL_VAR} is not set in this deployment"))
                })
        }),
    }]
}

pub fn env_var(tx: &mut Transaction<'_>, name: &str) -> Result<Option<String>, FnError> {
    let rows = tx
        .scan_by_creation_time(ENV_TABLE, MAX_ENV_VARS)
        .map_err(FnError::uncaught)?;
    Ok(rows
        .iter()
        .find(|row| row.fields.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|row| {
            row.fields
                .get("value")
                .and_then(Value::as_str)
                .map(String::from)
        }))
}

/// Sets (or replaces) a deployment environment variable.
pub fn set_env_var(store: &Store, name: &str, value: &str) -> Result<(), FnError> {
    internal::run_mutation(store, |tx| {
        let rows = tx
            .scan_by_creation_time(ENV_TABLE, MAX_ENV_VARS)
            .map_err(FnError::uncaught)?;
        for row in rows {
            if row.fields.get("name").and_then(Value::as_str) == Some(name) {
                tx.delete(row.id).map_err(FnError::uncaught)?;
            }
        }
        let mut fields = Map::new();
        fields.insert("name".into(), Value::String(name.to_string()));
        fields.insert("value".into(), Value::String(value.to_string()));
        tx.insert(ENV_TABLE, fields).map_err(FnError::uncaught)?;
        Ok(Value::Null)
    })?;
    Ok(())
}
