//! The testbed serves exactly the function set of `functions/contract.json`
//! (written with the Convex functions project): same paths, same kinds,
//! same argument names, optionality and types, and the same HTTP routes.
//! System functions (`_system/...`) are the backend's own, not the app's,
//! and are not part of the contract.

use std::collections::BTreeMap;

use serde_json::Value;
use testbed::functions::{ArgType, Registry};

const CONTRACT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions/contract.json");

fn contract() -> Value {
    let text =
        std::fs::read_to_string(CONTRACT).unwrap_or_else(|e| panic!("reading {CONTRACT}: {e}"));
    let contract: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {CONTRACT}: {e}"));
    assert_eq!(contract["version"], 1, "{CONTRACT}: unsupported version");
    contract
}

/// The contract's spelling of a testbed argument type.
fn contract_type(ty: ArgType) -> String {
    match ty {
        ArgType::Number => "number".into(),
        ArgType::String => "string".into(),
        ArgType::NumberArray => "number[]".into(),
        ArgType::StringArray => "string[]".into(),
        ArgType::Id(table) => format!("id:{table}"),
        ArgType::IdOf(tables) => format!("id:{}", tables.join("|")),
        ArgType::TableName(tables) => format!("enum:{}", tables.join("|")),
        ArgType::Any => "any".into(),
    }
}

#[test]
fn registry_serves_exactly_the_contract_functions() {
    let contract = contract();
    let registry = Registry::new();
    let mut expected: BTreeMap<String, (String, BTreeMap<String, String>)> = BTreeMap::new();
    for f in contract["functions"].as_array().expect("functions array") {
        let path = f["path"].as_str().expect("path").to_string();
        let kind = f["kind"].as_str().expect("kind").to_string();
        let args = f["args"]
            .as_object()
            .expect("args object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("arg type").to_string()))
            .collect();
        assert!(
            expected.insert(path.clone(), (kind, args)).is_none(),
            "{path} twice in the contract"
        );
    }
    let mut served: BTreeMap<String, (String, BTreeMap<String, String>)> = BTreeMap::new();
    for path in registry.paths().filter(|p| !p.starts_with("_system/")) {
        let def = registry.get(path).unwrap();
        let args = def
            .args
            .iter()
            .map(|spec| {
                let mut ty = contract_type(spec.ty);
                if spec.optional {
                    ty.push('?');
                }
                (spec.name.to_string(), ty)
            })
            .collect();
        served.insert(path.to_string(), (def.kind().as_str().to_string(), args));
    }
    let missing: Vec<&String> = expected
        .keys()
        .filter(|p| !served.contains_key(*p))
        .collect();
    let extra: Vec<&String> = served
        .keys()
        .filter(|p| !expected.contains_key(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "contract functions the testbed does not serve: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "testbed functions not in the contract: {extra:?}"
    );
    for (path, (kind, args)) in &expected {
        let (served_kind, served_args) = &served[path];
        assert_eq!(served_kind, kind, "{path}: kind");
        assert_eq!(served_args, args, "{path}: arguments");
    }
}

#[tokio::test]
async fn site_serves_exactly_the_contract_http_routes() {
    let contract = contract();
    let handle = testbed::start(testbed::TestbedConfig::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let routes = contract["http_routes"]
        .as_array()
        .expect("http_routes array");
    assert!(!routes.is_empty());
    for route in routes {
        let method: reqwest::Method = route["method"].as_str().unwrap().parse().unwrap();
        let path = route["path"].as_str().unwrap();
        let resp = http
            .request(method.clone(), format!("{}{path}", handle.site_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{method} {path}");
        resp.bytes().await.unwrap();
        // Another method on the same path is not a route.
        let other = if method == reqwest::Method::GET {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let resp = http
            .request(other.clone(), format!("{}{path}", handle.site_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{other} {path}");
    }
    handle.shutdown().await;
}
