//! ObserveInsert (with and without search indexes), ManyIntersections and
//! HoldSubscriptions against the in-process testbed.

mod common;

use std::time::Duration;

use load_generator::scenarios;
use load_generator::workload::model::{Mode, ScenarioConfig, ScenarioOptions, ScenarioSpec};
use serde_json::json;

fn config(spec: ScenarioSpec, options: ScenarioOptions) -> ScenarioConfig {
    ScenarioConfig {
        spec,
        mode: Mode::Rate {
            rate: 50.0,
            arrival: Default::default(),
            stages: Vec::new(),
        },
        options,
    }
}

#[tokio::test]
async fn observe_insert_records_completion_and_observation() {
    let bed = common::start().await;
    for (search_indexes, name) in [(false, "ObserveInsert"), (true, "ObserveInsertWithSearch")] {
        let scenario = scenarios::build(
            &config(
                ScenarioSpec::ObserveInsert { search_indexes },
                Default::default(),
            ),
            &bed.env,
        )
        .unwrap();
        scenario.clone().prepare().await.unwrap();
        let mutations_before = bed.testbed.stats().mutations;
        common::drive(scenario, 4, 10).await;
        assert_eq!(bed.sink.successes(name, "mutation_completed"), 40, "{name}");
        assert_eq!(bed.sink.successes(name, "mutation_observed"), 40, "{name}");
        assert_eq!(bed.testbed.stats().mutations - mutations_before, 40);
        // Observation can never precede the mutation's response... nor its send.
        for (timing, _) in bed.sink.outcomes(name, "mutation_observed") {
            assert!(timing.sent <= timing.finished);
        }
    }
    assert!(bed.sink.id("ObserveInsert", "mutation_completed").is_some());
}

#[tokio::test]
async fn observe_insert_mutation_errors_are_mutation_errors() {
    let bed = common::start().await;
    let scenario = scenarios::build(
        &config(
            ScenarioSpec::ObserveInsert {
                search_indexes: false,
            },
            Default::default(),
        ),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    bed.faults(json!({"error_rate": {"mutation": 1.0}})).await;
    common::drive(scenario, 2, 3).await;
    let errors = bed.sink.errors("ObserveInsert", "mutation_completed");
    assert_eq!(errors.get("mutation").copied(), Some(6), "{errors:?}");
    // Nothing to observe when the insert failed.
    assert!(
        bed.sink
            .outcomes("ObserveInsert", "mutation_observed")
            .is_empty()
    );
}

#[tokio::test]
async fn observe_insert_slow_mutations_time_out_as_send_timeouts() {
    let bed = common::start().await;
    let options = ScenarioOptions {
        timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let scenario = scenarios::build(
        &config(
            ScenarioSpec::ObserveInsert {
                search_indexes: false,
            },
            options,
        ),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    bed.faults(json!({"latency": {"mutation": {"fixed_ms": 300}}}))
        .await;
    common::drive(scenario, 2, 2).await;
    assert_eq!(bed.sink.timeouts("ObserveInsert", "mutation_completed"), 4);
}

#[tokio::test]
async fn many_intersections_hold_n_subscriptions_and_see_each_insert() {
    let bed = common::start().await;
    let options = ScenarioOptions {
        connections: Some(2),
        ..Default::default()
    };
    let scenario = scenarios::build(
        &config(
            ScenarioSpec::ManyIntersections {
                num_subscriptions: 50,
            },
            options,
        ),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    common::drive(scenario, 4, 10).await;
    assert_eq!(
        bed.sink
            .successes("ManyIntersections", "mutation_completed"),
        40
    );
    assert_eq!(
        bed.sink.successes("ManyIntersections", "mutation_observed"),
        40
    );
    assert_eq!(
        bed.sink.successes("ManyIntersections", "connection_setup"),
        2
    );
}

#[tokio::test]
async fn many_intersections_survive_a_connection_drop() {
    let bed = common::start().await;
    let scenario = scenarios::build(
        &config(
            ScenarioSpec::ManyIntersections {
                num_subscriptions: 5,
            },
            Default::default(),
        ),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    bed.faults(json!({"drop_connections": true})).await;
    // The pumps re-subscribe after the reconnection.
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::drive(scenario, 2, 5).await;
    assert_eq!(bed.sink.count("ManyIntersections", "reconnect"), 1);
    assert_eq!(
        bed.sink.successes("ManyIntersections", "mutation_observed"),
        10
    );
}

#[tokio::test]
async fn hold_subscriptions_measures_invalidations() {
    let bed = common::start().await;
    let scenario = scenarios::build(
        &config(
            ScenarioSpec::HoldSubscriptions {
                num_subscriptions: 20,
                hold_duration_secs: 2,
                invalidation_interval_secs: Some(1),
                num_invalidations: Some(3),
            },
            Default::default(),
        ),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    let reruns_before = bed.testbed.stats().subscription_reruns;
    common::drive(scenario, 2, 1).await;
    // Two holds x two ticks (1 s, 2 s) x three invalidations.
    assert_eq!(
        bed.sink
            .successes("HoldSubscriptions", "invalidation_completed"),
        12
    );
    assert!(bed.testbed.stats().subscription_reruns - reruns_before >= 12);
}

#[tokio::test]
async fn subscription_scenarios_refuse_http_transport() {
    let bed = common::start().await;
    let options = ScenarioOptions {
        transport: load_generator::workload::model::Transport::Http,
        ..Default::default()
    };
    let err = scenarios::build(
        &config(
            ScenarioSpec::ManyIntersections {
                num_subscriptions: 1,
            },
            options,
        ),
        &bed.env,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("transport"), "{err}");
}
