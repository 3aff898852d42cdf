//! The function registry: path -> kind, argument validator and native Rust
//! handler. Later issues add modules (search, vectors, components, ...) by
//! appending to `all_functions`.

pub mod args;
mod components;
pub mod internal;
mod log;
mod messages;
mod node_actions;
mod openclaurd;
mod random_data;
pub mod schedule;
mod search;
mod setup;
pub mod site;
pub mod system;
mod vector_search;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

pub use args::{ArgSpec, ArgType, arg_f64, arg_str};

use crate::runtime::Runtime;
use crate::store::transaction::Transaction;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    Query,
    Mutation,
    Action,
}

impl FunctionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::Query => "query",
            FunctionKind::Mutation => "mutation",
            FunctionKind::Action => "action",
        }
    }
}

pub type Args = Map<String, Value>;

/// A function failed: what the client sees as `errorMessage` (and
/// `errorData` for ConvexError-style failures).
#[derive(Clone, Debug, PartialEq)]
pub struct FnError {
    pub message: String,
    pub data: Option<Value>,
}

impl FnError {
    /// An exception thrown by the function body, worded like Convex's
    /// uncaught errors.
    pub fn uncaught(message: impl std::fmt::Display) -> FnError {
        FnError {
            message: format!("Uncaught Error: {message}"),
            data: None,
        }
    }

    pub fn plain(message: impl Into<String>) -> FnError {
        FnError {
            message: message.into(),
            data: None,
        }
    }

    pub fn not_found(path: &str) -> FnError {
        FnError::plain(format!(
            "Could not find public function for '{path}'. Did you forget to run `npx convex dev` or `npx convex deploy`?"
        ))
    }
}

pub type QueryHandler = fn(&mut Transaction<'_>, &Args) -> Result<Value, FnError>;
pub type MutationHandler = fn(&mut Transaction<'_>, &Args) -> Result<Value, FnError>;
/// Actions may await (sleep, call queries and mutations through the
/// runtime, each its own transaction); they log through `ActionCtx`.
pub type ActionHandler = fn(ActionCtx, Args) -> BoxFuture<'static, Result<Value, FnError>>;

#[derive(Clone, Copy)]
pub enum Handler {
    Query(QueryHandler),
    Mutation(MutationHandler),
    Action(ActionHandler),
}

pub struct FunctionDef {
    /// Canonical path: `module:export`, `dir/module:export`.
    pub path: &'static str,
    pub args: &'static [ArgSpec],
    pub handler: Handler,
}

impl FunctionDef {
    pub fn kind(&self) -> FunctionKind {
        match self.handler {
            Handler::Query(_) => FunctionKind::Query,
            Handler::Mutation(_) => FunctionKind::Mutation,
            Handler::Action(_) => FunctionKind::Action,
        }
    }
}

/// What an action handler gets: the runtime to call queries and mutations
/// with, and a place for its log lines.
#[derive(Clone)]
pub struct ActionCtx {
    pub runtime: Arc<Runtime>,
    log_lines: Arc<parking_lot::Mutex<Vec<String>>>,
}

impl ActionCtx {
    pub fn new(runtime: Arc<Runtime>) -> ActionCtx {
        ActionCtx {
            runtime,
            log_lines: Default::default(),
        }
    }

    pub fn log(&self, line: &str) {
        self.log_lines.lock().push(format!("[LOG] '{line}'"));
    }

    pub fn take_log_lines(&self) -> Vec<String> {
        std::mem::take(&mut *self.log_lines.lock())
    }
}

fn all_functions() -> Vec<FunctionDef> {
    let mut all = Vec::new();
    all.extend(setup::functions());
    all.extend(messages::functions());
    all.extend(log::functions());
    all.extend(search::functions());
    all.extend(openclaurd::functions());
    all.extend(vector_search::functions());
    all.extend(schedule::functions());
    all.extend(components::functions());
    all.extend(node_actions::functions());
    all.extend(site::functions());
    all.extend(system::functions());
    all
}

pub struct Registry {
    by_path: HashMap<&'static str, FunctionDef>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    pub fn new() -> Registry {
        let mut by_path = HashMap::new();
        for def in all_functions() {
            let previous = by_path.insert(def.path, def);
            assert!(previous.is_none(), "function registered twice");
        }
        Registry { by_path }
    }

    /// Looks a function up by any spelling Convex accepts: `module` means
    /// `module:default`, and a `.js` suffix on the module is ignored.
    pub fn get(&self, path: &str) -> Option<&FunctionDef> {
        if let Some(def) = self.by_path.get(path) {
            return Some(def);
        }
        self.by_path.get(canonical_path(path).as_str())
    }

    pub fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_path.keys().copied()
    }
}

/// System functions (`_system/...`) belong to the backend, not the app;
/// like Convex, the testbed serves them to admins only.
pub fn is_system_path(path: &str) -> bool {
    path.starts_with("_system/")
}

pub fn system_needs_admin(path: &str) -> String {
    format!(
        "{path} is a system function: it requires admin authentication (the deployment's admin key)"
    )
}

pub fn canonical_path(path: &str) -> String {
    let (module, export) = path.split_once(':').unwrap_or((path, "default"));
    let module = module.strip_suffix(".js").unwrap_or(module);
    format!("{module}:{export}")
}

/// Turns the wire form of arguments (an object, or a one-element array
/// holding one) into the argument object.
pub fn args_object(args: Value) -> Result<Args, String> {
    match args {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        Value::Array(mut items) if items.len() <= 1 => match items.pop() {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map),
            Some(other) => Err(format!(
                "args must be an object or a one-element array holding an object; the element is {other}"
            )),
        },
        Value::Array(items) => Err(format!(
            "args must be an object or a one-element array holding an object; got an array of {} elements",
            items.len()
        )),
        other => Err(format!(
            "args must be an object or a one-element array holding an object; got {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_canonicalise_like_convex() {
        let registry = Registry::new();
        assert_eq!(registry.get("update").unwrap().path, "update:default");
        assert_eq!(
            registry.get("update.js:default").unwrap().path,
            "update:default"
        );
        assert_eq!(
            registry.get("query_index:queryMessages").unwrap().kind(),
            FunctionKind::Query
        );
        assert!(registry.get("query_index:nope").is_none());
        assert_eq!(registry.get("log").unwrap().kind(), FunctionKind::Action);
    }

    #[test]
    fn args_accept_object_or_one_element_array() {
        let obj = serde_json::json!({"a": 1});
        assert_eq!(
            args_object(obj.clone()).unwrap(),
            args_object(serde_json::json!([obj])).unwrap()
        );
        assert!(args_object(serde_json::json!([])).unwrap().is_empty());
        assert!(
            args_object(serde_json::json!([1, 2]))
                .unwrap_err()
                .contains("2 elements")
        );
        assert!(args_object(serde_json::json!("x")).is_err());
    }
}
