//! Argument validators, with errors worded like Convex's
//! `ArgumentValidationError`s: they name the offending argument.

use serde_json::Value;

use super::{Args, FnError};
use crate::store::ids::DocId;

#[derive(Clone, Copy, Debug)]
pub enum ArgType {
    Number,
    String,
    /// `v.id(table)`.
    Id(&'static str),
    /// `v.union(v.id(a), v.id(b), ..)`: an id of any of these tables.
    IdOf(&'static [&'static str]),
    /// A string naming one of these tables.
    TableName(&'static [&'static str]),
    /// `v.array(v.number())`.
    NumberArray,
    /// `v.array(v.string())`.
    StringArray,
    Any,
}

#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: ArgType,
    pub optional: bool,
}

impl ArgSpec {
    pub const fn required(name: &'static str, ty: ArgType) -> ArgSpec {
        ArgSpec {
            name,
            ty,
            optional: false,
        }
    }
    pub const fn optional(name: &'static str, ty: ArgType) -> ArgSpec {
        ArgSpec {
            name,
            ty,
            optional: true,
        }
    }
}

fn validator_text(ty: ArgType) -> String {
    match ty {
        ArgType::Number => "v.number()".into(),
        ArgType::String => "v.string()".into(),
        ArgType::Id(table) => format!("v.id(\"{table}\")"),
        ArgType::IdOf(tables) => format!(
            "v.union({})",
            tables
                .iter()
                .map(|t| format!("v.id(\"{t}\")"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ArgType::TableName(tables) => tables
            .iter()
            .map(|t| format!("v.literal(\"{t}\")"))
            .collect::<Vec<_>>()
            .join(" | "),
        ArgType::NumberArray => "v.array(v.float64())".into(),
        ArgType::StringArray => "v.array(v.string())".into(),
        ArgType::Any => "v.any()".into(),
    }
}

/// The table an id string names, if it is a valid id of a known table.
fn id_table(value: &Value) -> Option<&'static str> {
    let id = DocId::decode(value.as_str()?).ok()?;
    let def = crate::store::schema::TABLES.get((id.table as usize).checked_sub(1)?)?;
    Some(def.name)
}

fn matches(ty: ArgType, value: &Value) -> bool {
    match ty {
        ArgType::Number => value.is_number(),
        ArgType::String => value.is_string(),
        ArgType::Id(table) => id_table(value) == Some(table),
        ArgType::IdOf(tables) => id_table(value).is_some_and(|t| tables.contains(&t)),
        ArgType::TableName(tables) => value.as_str().is_some_and(|s| tables.contains(&s)),
        ArgType::NumberArray => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_number)),
        ArgType::StringArray => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        ArgType::Any => true,
    }
}

pub fn validate(specs: &[ArgSpec], args: &Args) -> Result<(), FnError> {
    for spec in specs {
        match args.get(spec.name) {
            None if spec.optional => {}
            None => {
                return Err(FnError::plain(format!(
                    "ArgumentValidationError: Object is missing the required field `{}`. Consider wrapping the field validator in `v.optional(...)` if this is expected.",
                    spec.name
                )));
            }
            Some(value) if !matches(spec.ty, value) => {
                return Err(FnError::plain(format!(
                    "ArgumentValidationError: Value does not match validator.\nPath: .{}\nValue: {}\nValidator: {}",
                    spec.name,
                    value,
                    validator_text(spec.ty)
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = args.keys().find(|k| !specs.iter().any(|s| s.name == *k)) {
        return Err(FnError::plain(format!(
            "ArgumentValidationError: Object contains extra field `{extra}` that is not in the validator."
        )));
    }
    Ok(())
}

/// A validated number argument (validation already guaranteed the type).
pub fn arg_f64(args: &Args, name: &str) -> Result<f64, FnError> {
    args.get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| FnError::uncaught(format!("argument `{name}` is not a number")))
}

pub fn arg_str<'a>(args: &'a Args, name: &str) -> Result<&'a str, FnError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| FnError::uncaught(format!("argument `{name}` is not a string")))
}

/// A number argument that must be a non-negative integer no larger than
/// `max` (counts of rows, limits).
pub fn arg_count(args: &Args, name: &str, max: u64) -> Result<usize, FnError> {
    let value = arg_f64(args, name)?;
    if value < 0.0 || value.fract() != 0.0 || value > max as f64 {
        return Err(FnError::uncaught(format!(
            "argument `{name}` must be an integer in [0, {max}], got {value}"
        )));
    }
    Ok(value as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[ArgSpec] = &[
        ArgSpec::required("rows", ArgType::Number),
        ArgSpec::optional("channel", ArgType::String),
    ];

    fn args(v: Value) -> Args {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn validation_names_the_bad_argument() {
        assert!(validate(SPECS, &args(json!({"rows": 3}))).is_ok());
        let missing = validate(SPECS, &args(json!({}))).unwrap_err().message;
        assert!(
            missing.contains("missing the required field `rows`"),
            "{missing}"
        );
        let wrong = validate(SPECS, &args(json!({"rows": "x"})))
            .unwrap_err()
            .message;
        assert!(
            wrong.contains("Path: .rows") && wrong.contains("v.number()"),
            "{wrong}"
        );
        let extra = validate(SPECS, &args(json!({"rows": 1, "bogus": 1})))
            .unwrap_err()
            .message;
        assert!(extra.contains("extra field `bogus`"), "{extra}");
    }
}
