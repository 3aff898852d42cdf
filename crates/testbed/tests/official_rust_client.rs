//! The official `convex` Rust client against an in-process testbed.

use std::collections::BTreeMap;
use std::time::Duration;

use convex::{ConvexClient, FunctionResult, Value};
use futures_util::StreamExt;
use testbed::{TestbedConfig, TestbedHandle};

const TIMEOUT: Duration = Duration::from_secs(10);

fn args(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

async fn started() -> (TestbedHandle, ConvexClient) {
    let handle = testbed::start(TestbedConfig::default()).await.unwrap();
    let mut client = ConvexClient::new(&handle.url()).await.unwrap();
    client
        .set_admin_auth(handle.admin_key().to_string(), None)
        .await;
    (handle, client)
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn array(result: FunctionResult) -> Vec<Value> {
    match result {
        FunctionResult::Value(Value::Array(items)) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn field<'a>(doc: &'a Value, name: &str) -> &'a Value {
    match doc {
        Value::Object(fields) => fields
            .get(name)
            .unwrap_or_else(|| panic!("no field {name}")),
        other => panic!("not a document: {other:?}"),
    }
}

#[tokio::test]
async fn query_mutation_action_and_errors() {
    let (handle, mut client) = started().await;
    let setup = within(
        "setup mutation",
        client.mutation(
            "setup:setupMessages",
            args(&[
                ("rows", Value::Float64(25.0)),
                ("channel", string("global")),
            ]),
        ),
    )
    .await
    .unwrap();
    assert_eq!(setup, FunctionResult::Value(Value::Null));

    let page = array(
        within(
            "query",
            client.query(
                "query_index:queryMessages",
                args(&[("cacheBreaker", Value::Float64(0.0))]),
            ),
        )
        .await
        .unwrap(),
    );
    assert_eq!(page.len(), 10, "the first page holds 10 of the 25 rows");
    assert_eq!(field(&page[0], "rand"), &Value::Float64(0.0));
    let rands: Vec<f64> = page
        .iter()
        .map(|d| match field(d, "rand") {
            Value::Float64(r) => *r,
            other => panic!("rand is {other:?}"),
        })
        .collect();
    assert!(
        rands.windows(2).all(|w| w[0] <= w[1]),
        "index order: {rands:?}"
    );

    // A document fetched by its `_id` round-trips.
    let id = field(&page[3], "_id").clone();
    let by_id = within(
        "query by id",
        client.query("query_index:queryMessagesById", args(&[("id", id)])),
    )
    .await
    .unwrap();
    assert_eq!(by_id, FunctionResult::Value(page[3].clone()));

    let update = within("update", client.mutation("update", args(&[])))
        .await
        .unwrap();
    assert_eq!(update, FunctionResult::Value(Value::Null));

    let logged = within("action", client.action("log", args(&[])))
        .await
        .unwrap();
    assert_eq!(logged, FunctionResult::Value(Value::Null));

    let bad = within(
        "bad args",
        client.mutation(
            "setup:setupMessages",
            args(&[("rows", string("many")), ("channel", string("global"))]),
        ),
    )
    .await
    .unwrap();
    match bad {
        FunctionResult::ErrorMessage(message) => {
            assert!(message.contains("Path: .rows"), "{message}")
        }
        other => panic!("expected an error, got {other:?}"),
    }

    let unknown = within("unknown", client.query("nope:missing", args(&[])))
        .await
        .unwrap();
    match unknown {
        FunctionResult::ErrorMessage(message) => assert!(
            message.contains("Could not find public function for 'nope:missing'"),
            "{message}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }

    let stats = handle.stats();
    assert!(
        stats.queries >= 2 && stats.mutations >= 2 && stats.actions == 1,
        "{stats:?}"
    );
    assert_eq!(stats.connections_active, 1);
    drop(client);
    handle.shutdown().await;
}

#[tokio::test]
async fn subscription_observes_an_insert_and_untouched_ones_do_not_rerun() {
    let (handle, mut client) = started().await;
    let watch = |channel: &str| {
        args(&[
            ("channel", string(channel)),
            ("rand", Value::Float64(0.0)),
            ("limit", Value::Float64(100.0)),
            ("table", string("messages")),
        ])
    };
    let mut watched = within(
        "subscribe",
        client.subscribe("query_index:queryMessagesWithArgs", watch("watched")),
    )
    .await
    .unwrap();
    let mut untouched = within(
        "subscribe",
        client.subscribe("query_index:queryMessagesWithArgs", watch("untouched")),
    )
    .await
    .unwrap();
    assert!(array(within("first", watched.next()).await.unwrap()).is_empty());
    assert!(array(within("first", untouched.next()).await.unwrap()).is_empty());
    let before = handle.stats();

    let insert = args(&[
        ("channel", string("watched")),
        ("timestamp", Value::Float64(1.0)),
        ("rand", Value::Float64(42.0)),
        ("ballastCount", Value::Float64(3.0)),
        ("count", Value::Float64(2.0)),
        ("table", string("messages")),
    ]);
    let inserted = within(
        "insert",
        client.mutation("insert:insertMessageWithArgs", insert),
    )
    .await
    .unwrap();
    assert_eq!(inserted, FunctionResult::Value(Value::Null));
    let seen = array(within("update", watched.next()).await.unwrap());
    assert_eq!(seen.len(), 2);
    assert_eq!(field(&seen[0], "channel"), &string("watched"));
    match field(&seen[0], "ballastArray") {
        Value::Array(ballast) => assert_eq!(ballast.len(), 3),
        other => panic!("ballastArray is {other:?}"),
    }

    let after = handle.stats();
    assert_eq!(
        after.subscription_reruns - before.subscription_reruns,
        1,
        "only the watched subscription re-runs: {before:?} -> {after:?}"
    );
    assert_eq!(after.commits - before.commits, 1);
    drop((watched, untouched, client));
    handle.shutdown().await;
}
