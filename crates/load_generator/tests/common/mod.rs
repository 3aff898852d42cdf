//! Shared by the integration tests: an in-process testbed and a MetricSink
//! that keeps every record so tests can assert on them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use load_generator::run_env::RunEnv;
use load_generator::scenario::{MetricId, MetricSink, RequestOutcome, RequestTiming, Scenario};
use results_format::MetricKey;

#[derive(Default)]
pub struct MemorySink {
    keys: Mutex<Vec<(MetricKey, Option<f64>)>>,
    records: Mutex<Vec<(MetricId, RequestTiming, RequestOutcome)>>,
    counts: Mutex<HashMap<usize, u64>>,
}

impl MetricSink for MemorySink {
    fn register(&self, key: MetricKey, target_rate: Option<f64>) -> MetricId {
        let mut keys = self.keys.lock().unwrap();
        if let Some(i) = keys.iter().position(|(k, _)| *k == key) {
            return MetricId(i);
        }
        keys.push((key, target_rate));
        MetricId(keys.len() - 1)
    }
    fn record(&self, metric: MetricId, timing: RequestTiming, outcome: RequestOutcome) {
        assert!(timing.scheduled <= timing.sent || timing.sent <= timing.finished);
        assert!(timing.sent <= timing.finished, "sent after finished");
        self.records.lock().unwrap().push((metric, timing, outcome));
    }
    fn count(&self, metric: MetricId, n: u64) {
        *self.counts.lock().unwrap().entry(metric.0).or_default() += n;
    }
    fn dropped(&self, _metric: MetricId, _n: u64) {}
}

impl MemorySink {
    pub fn id(&self, scenario: &str, name: &str) -> Option<MetricId> {
        self.keys
            .lock()
            .unwrap()
            .iter()
            .position(|(k, _)| k.scenario == scenario && k.name == name)
            .map(MetricId)
    }

    pub fn key(&self, id: MetricId) -> MetricKey {
        self.keys.lock().unwrap()[id.0].0.clone()
    }

    pub fn registered(&self) -> Vec<String> {
        self.keys
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| format!("{}/{}", k.scenario, k.name))
            .collect()
    }

    /// Every metric with this scenario and name, whatever its path.
    fn ids(&self, scenario: &str, name: &str) -> Vec<MetricId> {
        self.keys
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| k.scenario == scenario && k.name == name)
            .map(|(i, _)| MetricId(i))
            .collect()
    }

    /// Records of every metric with this scenario and name (any path).
    pub fn outcomes(&self, scenario: &str, name: &str) -> Vec<(RequestTiming, RequestOutcome)> {
        let ids = self.ids(scenario, name);
        self.records
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _, _)| ids.contains(m))
            .map(|(_, t, o)| (*t, o.clone()))
            .collect()
    }

    pub fn successes(&self, scenario: &str, name: &str) -> usize {
        self.outcomes(scenario, name)
            .iter()
            .filter(|(_, o)| *o == RequestOutcome::Success)
            .count()
    }

    pub fn timeouts(&self, scenario: &str, name: &str) -> usize {
        self.outcomes(scenario, name)
            .iter()
            .filter(|(_, o)| *o == RequestOutcome::Timeout)
            .count()
    }

    /// Errors of this metric, by category.
    pub fn errors(&self, scenario: &str, name: &str) -> HashMap<String, usize> {
        let mut by = HashMap::new();
        for (_, o) in self.outcomes(scenario, name) {
            if let RequestOutcome::Error { category, .. } = o {
                *by.entry(category).or_default() += 1;
            }
        }
        by
    }

    pub fn error_messages(&self, scenario: &str, name: &str) -> Vec<String> {
        self.outcomes(scenario, name)
            .into_iter()
            .filter_map(|(_, o)| match o {
                RequestOutcome::Error { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, scenario: &str, name: &str) -> u64 {
        let counts = self.counts.lock().unwrap();
        self.ids(scenario, name)
            .iter()
            .map(|id| counts.get(&id.0).copied().unwrap_or(0))
            .sum()
    }
}

pub struct Bed {
    pub testbed: testbed::TestbedHandle,
    pub sink: Arc<MemorySink>,
    pub env: RunEnv,
}

pub async fn start() -> Bed {
    start_with(testbed::TestbedConfig::default()).await
}

pub async fn start_with(config: testbed::TestbedConfig) -> Bed {
    let testbed = testbed::start(config).await.expect("testbed starts");
    let sink = Arc::new(MemorySink::default());
    let env = RunEnv {
        url: testbed.url(),
        admin_key: testbed.admin_key().to_string(),
        site_url: Some(testbed.site_url()),
        sink: sink.clone(),
        seed: 7,
        provision_host: None,
        access_token: None,
    };
    Bed { testbed, sink, env }
}

impl Bed {
    pub async fn faults(&self, spec: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_testbed/faults", self.testbed.url()))
            .header(
                "Authorization",
                format!("Convex {}", self.testbed.admin_key()),
            )
            .json(&spec)
            .send()
            .await
            .expect("fault endpoint reachable");
        assert!(
            response.status().is_success(),
            "fault spec rejected: {}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn http_stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_testbed/stats", self.testbed.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Drives `scenario` like a closed loop: `workers` loops of `per_worker`
/// iterations each.
pub async fn drive(scenario: Arc<dyn Scenario>, workers: usize, per_worker: usize) {
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let scenario = scenario.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_worker {
                scenario.clone().run_once(Instant::now()).await;
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("workers finish")
            .expect("no panic");
    }
}
