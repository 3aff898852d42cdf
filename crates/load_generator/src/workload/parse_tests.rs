//! A table of malformed workloads and the error each must get: file, line,
//! column, field and a message naming what is accepted.

use super::model::*;
use super::parse::parse_workload;

/// Wraps one scenario object (on line 2) into an otherwise valid workload.
fn with_scenario(scenario: &str) -> String {
    format!("{{\"name\": \"t\", \"scenarios\": [\n{scenario}\n]}}")
}

struct Case {
    what: &'static str,
    text: String,
    line: usize,
    column: usize,
    field: &'static str,
    message: &'static str,
}

fn case(
    what: &'static str,
    text: String,
    at: (usize, usize),
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        what,
        text,
        line: at.0,
        column: at.1,
        field,
        message,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("not JSON", "{\"name\": \"t\",\n  \"scenarios\": [}".into(), (2, 17), "", "invalid JSON"),
        case("top level is an array", "[]".into(), (1, 1), "", "expected an object, found an array"),
        case("missing name", "{\"scenarios\": [{\"name\": \"Search\", \"rate\": 1}]}".into(), (1, 1), "name", "missing required field"),
        case("missing scenarios", "{\"name\": \"t\"}".into(), (1, 1), "scenarios", "missing required field"),
        case("empty scenarios", "{\"name\": \"t\", \"scenarios\": []}".into(), (1, 28), "scenarios", "at least one"),
        case("unknown top-level field", "{\"name\": \"t\", \"scenarios\": [{\"name\": \"Search\", \"rate\": 1}],\n \"num_rowz\": 5}".into(), (2, 2), "num_rowz", "accepted fields: `name`, `scenarios`, `num_rows`"),
        case("unknown scenario kind", with_scenario("  {\"name\": \"RunFunctions\", \"rate\": 1}"), (2, 12), "scenarios[0].name", "`RunFunctions` is not accepted; expected one of `RunFunction`, `RunHttpAction`"),
        case("unknown scenario field", with_scenario("  {\"name\": \"Search\", \"rate\": 1, \"pathh\": \"x\"}"), (2, 33), "scenarios[0].pathh", "unknown field for Search; accepted fields: `name`, `rate`"),
        case("field of another kind", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"fn_type\": \"query\"}"), (2, 31), "scenarios[0].fn_type", "unknown field for Search"),
        case("no mode", with_scenario("{\"name\": \"Search\"}"), (2, 1), "scenarios[0].rate", "missing mode: give exactly one of `rate`"),
        case("double mode", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"benchmark\": 2}"), (2, 44), "scenarios[0].benchmark", "both set"),
        case("zero rate", with_scenario("{\"name\": \"Search\", \"rate\": 0}"), (2, 28), "scenarios[0].rate", "greater than 0"),
        case("negative rate", with_scenario("{\"name\": \"Search\", \"rate\": -2.5}"), (2, 28), "scenarios[0].rate", "greater than 0, found -2.5"),
        case("rate as string", with_scenario("{\"name\": \"Search\", \"rate\": \"5\"}"), (2, 28), "scenarios[0].rate", "expected a number, found a string"),
        case("fractional benchmark", with_scenario("{\"name\": \"Search\", \"benchmark\": 1.5}"), (2, 33), "scenarios[0].benchmark", "whole number from 1"),
        case("zero benchmark", with_scenario("{\"name\": \"Search\", \"benchmark\": 0}"), (2, 33), "scenarios[0].benchmark", "whole number from 1"),
        case("missing fn_type", with_scenario("{\"name\": \"RunFunction\", \"path\": \"update\", \"rate\": 1}"), (2, 1), "scenarios[0].fn_type", "missing required field (one of `query`, `mutation`, `action`)"),
        case("bad fn_type", with_scenario("{\"name\": \"RunFunction\", \"path\": \"update\", \"fn_type\": \"write\", \"rate\": 1}"), (2, 54), "scenarios[0].fn_type", "`write` is not accepted; expected one of `query`, `mutation`, `action`"),
        case("path is a number", with_scenario("{\"name\": \"RunFunction\", \"path\": 7, \"fn_type\": \"query\", \"rate\": 1}"), (2, 33), "scenarios[0].path", "expected a string, found a number"),
        case("args not an object", with_scenario("{\"name\": \"RunFunction\", \"path\": \"q\", \"fn_type\": \"query\", \"args\": [1], \"rate\": 1}"), (2, 66), "scenarios[0].args", "expected an object of arguments, found an array"),
        case("bad http method", with_scenario("{\"name\": \"RunHttpAction\", \"path\": \"basic\", \"method\": \"FETCH\", \"rate\": 1}"), (2, 54), "scenarios[0].method", "`FETCH` is not accepted; expected one of `GET`, `POST`"),
        case("search_indexes not bool", with_scenario("{\"name\": \"ObserveInsert\", \"search_indexes\": \"yes\", \"rate\": 1}"), (2, 45), "scenarios[0].search_indexes", "expected `true` or `false`"),
        case("missing hold duration", with_scenario("{\"name\": \"HoldSubscriptions\", \"num_subscriptions\": 5, \"benchmark\": 1}"), (2, 1), "scenarios[0].hold_duration_secs", "missing required field"),
        case("bad arrival", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"arrival\": \"uniform\"}"), (2, 42), "scenarios[0].arrival", "expected one of `constant`, `poisson`"),
        case("arrival on a closed loop", with_scenario("{\"name\": \"Search\", \"benchmark\": 1, \"arrival\": \"poisson\"}"), (2, 47), "scenarios[0].arrival", "open-loop scenarios (`rate`) only"),
        case("bad transport", with_scenario("{\"name\": \"RunFunction\", \"path\": \"q\", \"fn_type\": \"query\", \"transport\": \"grpc\", \"rate\": 1}"), (2, 71), "scenarios[0].transport", "expected one of `ws`, `http`"),
        case("stage without rate", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"stages\": [{\"duration_secs\": 5}]}"), (2, 42), "scenarios[0].stages[0].rate", "missing required field"),
        case("negative timeout", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"timeout_ms\": -5}"), (2, 45), "scenarios[0].timeout_ms", "whole number from 1"),
        case("zero connections", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"connections\": 0}"), (2, 46), "scenarios[0].connections", "whole number from 1"),
        case("negative num_rows", "{\"name\": \"t\", \"num_rows\": -1, \"scenarios\": [{\"name\": \"Search\", \"rate\": 1}]}".into(), (1, 27), "num_rows", "whole number from 0"),
        case("bad threshold statistic", "{\"name\": \"t\", \"scenarios\": [{\"name\": \"Search\", \"rate\": 1}],\n\"thresholds\": [{\"metric\": \"*\", \"statistic\": \"p100.5_ms\", \"below\": 5}]}".into(), (2, 45), "thresholds[0].statistic", "expected one of p50_ms"),
        case("threshold with both limits", "{\"name\": \"t\", \"scenarios\": [{\"name\": \"Search\", \"rate\": 1}],\n\"thresholds\": [{\"metric\": \"*\", \"statistic\": \"p99_ms\", \"below\": 5, \"above\": 1}]}".into(), (2, 76), "thresholds[0].above", "exactly one of `below` or `above`"),
        case("duplicate key", with_scenario("{\"name\": \"Search\", \"rate\": 1, \"rate\": 2}"), (2, 31), "", "appears twice"),
    ]
}

#[test]
fn malformed_workloads_get_precise_errors() {
    let cases = cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for c in cases {
        let Err(err) = parse_workload("wl.json", &c.text) else {
            failures.push(format!("{}: accepted", c.what));
            continue;
        };
        let first = &err.problems[0];
        let shown = err.to_string();
        let at = (first.pos.line, first.pos.column, first.field.as_str());
        let prefix_ok = shown.starts_with(&format!("wl.json:{}:{}:", c.line, c.column));
        let field_ok = c.field.is_empty() || shown.contains(&format!("field `{}`", c.field));
        if at != (c.line, c.column, c.field)
            || !first.message.contains(c.message)
            || !prefix_ok
            || !field_ok
        {
            failures.push(format!("{}: got {shown}", c.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = with_scenario("{\"name\": \"Search\", \"rate\": 0, \"bogus\": 1}");
    let err = parse_workload("wl.json", &text).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
}

#[test]
fn convex_prod_workload_is_accepted_unchanged() {
    let text = r#"{"name":"prod","scenarios":[{"name":"RunFunction","path":"update","fn_type":"mutation","rate":2},{"name":"ObserveInsert","search_indexes":true,"rate":5},{"name":"RunHttpAction","path":"basic","method":"POST","rate":2},{"name":"SnapshotExport","rate":0.0005},{"name":"HoldSubscriptions","benchmark":1000,"num_subscriptions":10,"hold_duration_secs":600,"invalidation_interval_secs":110,"num_invalidations":3}],"num_vector_rows":200}"#;
    let (w, content) = parse_workload("prod.json", text).unwrap();
    assert_eq!(w.name, "prod");
    assert_eq!(w.num_rows, DEFAULT_NUM_ROWS);
    assert_eq!(w.num_vector_rows, 200);
    assert_eq!(w.scenarios.len(), 5);
    assert_eq!(
        w.scenarios[0].spec,
        ScenarioSpec::RunFunction {
            path: "update".into(),
            fn_type: FunctionType::Mutation,
            args: None
        }
    );
    assert!(matches!(w.scenarios[3].mode, Mode::Rate { rate, .. } if rate == 0.0005));
    assert_eq!(w.scenarios[4].mode, Mode::Benchmark { workers: 1000 });
    assert_eq!(
        w.scenarios[4].spec,
        ScenarioSpec::HoldSubscriptions {
            num_subscriptions: 10,
            hold_duration_secs: 600,
            invalidation_interval_secs: Some(110),
            num_invalidations: Some(3)
        }
    );
    assert_eq!(content["scenarios"][1]["search_indexes"], true);
}

#[test]
fn extensions_parse() {
    let text = r#"{"name": "x", "duration_secs": 10, "scenarios": [
        {"name": "RunFunction", "path": "q", "fn_type": "query", "args": {"a": 1},
         "transport": "http", "arrival": "poisson", "rate": 10, "timeout_ms": 500,
         "connections": 4, "max_in_flight": 8, "max_queued": 100,
         "stages": [{"duration_secs": 5, "rate": 50}]}],
      "thresholds": [{"metric": "RunFunction/query", "statistic": "p99.9_ms", "below": 50},
                     {"metric": "*", "statistic": "error_rate", "below": 0.01}]}"#;
    let (w, _) = parse_workload("x.json", text).unwrap();
    let s = &w.scenarios[0];
    assert_eq!(s.options.transport, Transport::Http);
    assert_eq!(
        s.options.timeout,
        Some(std::time::Duration::from_millis(500))
    );
    assert_eq!(s.options.max_in_flight, Some(8));
    let Mode::Rate {
        arrival, stages, ..
    } = &s.mode
    else {
        panic!()
    };
    assert_eq!(*arrival, Arrival::Poisson);
    assert_eq!(stages[0].target_rate, 50.0);
    assert_eq!(w.thresholds[0].statistic, Statistic::PercentileMs(999));
    assert_eq!(w.thresholds[1].comparison, Comparison::LessThan);
    assert_eq!(w.duration, Some(std::time::Duration::from_secs(10)));
}

#[test]
fn a_ramp_may_start_from_zero_but_a_plain_rate_may_not() {
    let ramp = with_scenario(
        r#"{"name": "Search", "rate": 0, "stages": [{"duration_secs": 2, "rate": 5}]}"#,
    );
    assert!(parse_workload("r.json", &ramp).is_ok());
    let negative = with_scenario(
        r#"{"name": "Search", "rate": -1, "stages": [{"duration_secs": 2, "rate": 5}]}"#,
    );
    let err = parse_workload("r.json", &negative).unwrap_err();
    assert!(err.to_string().contains("must be 0 or more"), "{err}");
}
