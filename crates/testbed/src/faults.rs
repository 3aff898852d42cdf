//! Injected faults for testing the load generator: latency and errors per
//! function kind, a stall window holding every response, and dropping all
//! WebSocket connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use rand::Rng;
use rand_distr::{Distribution, Exp};
use serde::Deserialize;
use tokio::sync::watch;

/// The message of an injected function failure.
pub const INJECTED_FAULT: &str = "Injected fault";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    Query,
    Mutation,
    Action,
    HttpAction,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PerKind<T> {
    pub query: Option<T>,
    pub mutation: Option<T>,
    pub action: Option<T>,
    pub http_action: Option<T>,
}

impl<T> Default for PerKind<T> {
    fn default() -> Self {
        PerKind {
            query: None,
            mutation: None,
            action: None,
            http_action: None,
        }
    }
}

impl<T> PerKind<T> {
    fn get(&self, kind: FaultKind) -> Option<&T> {
        match kind {
            FaultKind::Query => self.query.as_ref(),
            FaultKind::Mutation => self.mutation.as_ref(),
            FaultKind::Action => self.action.as_ref(),
            FaultKind::HttpAction => self.http_action.as_ref(),
        }
    }

    fn all(&self) -> impl Iterator<Item = (&'static str, &T)> {
        [
            ("query", &self.query),
            ("mutation", &self.mutation),
            ("action", &self.action),
            ("http_action", &self.http_action),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| (name, v)))
    }
}

/// Exactly one of the fields: `{"fixed_ms": N}`, `{"uniform_ms": [LO, HI]}`
/// or `{"exponential_mean_ms": M}`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    pub fixed_ms: Option<f64>,
    pub uniform_ms: Option<[f64; 2]>,
    pub exponential_mean_ms: Option<f64>,
}

/// The body of `POST /_testbed/faults`; it replaces the previous set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub latency: Option<PerKind<LatencySpec>>,
    pub error_rate: Option<PerKind<f64>>,
    pub stall_ms: Option<u64>,
    pub drop_connections: Option<bool>,
}

#[derive(Clone, Copy, Debug)]
enum Latency {
    Fixed(f64),
    Uniform(f64, f64),
    Exponential(Exp<f64>),
}

impl Latency {
    fn sample(&self) -> Duration {
        let ms = match self {
            Latency::Fixed(ms) => *ms,
            Latency::Uniform(lo, hi) if lo == hi => *lo,
            Latency::Uniform(lo, hi) => rand::rng().random_range(*lo..*hi),
            Latency::Exponential(exp) => exp.sample(&mut rand::rng()),
        };
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

#[derive(Default)]
struct ActiveFaults {
    latency: PerKind<Latency>,
    error_rate: PerKind<f64>,
    stall_until: Option<Instant>,
}

pub struct Faults {
    any_active: AtomicBool,
    active: RwLock<ActiveFaults>,
    /// Bumped to make every WebSocket session drop its connection.
    drop_generation: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            any_active: AtomicBool::new(false),
            active: RwLock::new(ActiveFaults::default()),
            drop_generation: watch::Sender::new(0),
        }
    }
}

fn check_ms(field: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && (0.0..=3_600_000.0).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{field}: {value} is not a duration in [0, 3600000] ms"
        ))
    }
}

impl FaultSpec {
    fn compile(&self) -> Result<ActiveFaults, String> {
        let mut active = ActiveFaults::default();
        if let Some(latency) = &self.latency {
            for (kind, spec) in latency.all() {
                let field = format!("latency.{kind}");
                let compiled = match (spec.fixed_ms, spec.uniform_ms, spec.exponential_mean_ms) {
                    (Some(ms), None, None) => {
                        check_ms(&format!("{field}.fixed_ms"), ms)?;
                        Latency::Fixed(ms)
                    }
                    (None, Some([lo, hi]), None) => {
                        check_ms(&format!("{field}.uniform_ms[0]"), lo)?;
                        check_ms(&format!("{field}.uniform_ms[1]"), hi)?;
                        if lo > hi {
                            return Err(format!("{field}.uniform_ms: low {lo} exceeds high {hi}"));
                        }
                        Latency::Uniform(lo, hi)
                    }
                    (None, None, Some(mean)) => {
                        check_ms(&format!("{field}.exponential_mean_ms"), mean)?;
                        if mean <= 0.0 {
                            return Err(format!("{field}.exponential_mean_ms must be > 0"));
                        }
                        Latency::Exponential(
                            Exp::new(1.0 / mean).map_err(|e| format!("{field}: {e}"))?,
                        )
                    }
                    _ => {
                        return Err(format!(
                            "{field}: give exactly one of fixed_ms, uniform_ms, exponential_mean_ms"
                        ));
                    }
                };
                match kind {
                    "query" => active.latency.query = Some(compiled),
                    "mutation" => active.latency.mutation = Some(compiled),
                    "action" => active.latency.action = Some(compiled),
                    _ => active.latency.http_action = Some(compiled),
                }
            }
        }
        if let Some(rates) = &self.error_rate {
            for (kind, rate) in rates.all() {
                if !(0.0..=1.0).contains(rate) {
                    return Err(format!("error_rate.{kind}: {rate} is not in [0, 1]"));
                }
            }
            active.error_rate = rates.clone();
        }
        if let Some(ms) = self.stall_ms {
            check_ms("stall_ms", ms as f64)?;
            active.stall_until = Some(Instant::now() + Duration::from_millis(ms));
        }
        Ok(active)
    }
}

impl Faults {
    /// Replaces the active faults; an invalid spec changes nothing.
    pub fn set(&self, spec: &FaultSpec) -> Result<(), String> {
        let active = spec.compile()?;
        *self.active.write() = active;
        self.any_active.store(true, Ordering::Release);
        if spec.drop_connections == Some(true) {
            self.drop_all_connections();
        }
        Ok(())
    }

    pub fn clear(&self) {
        *self.active.write() = ActiveFaults::default();
        self.any_active.store(false, Ordering::Release);
    }

    fn active(&self) -> bool {
        self.any_active.load(Ordering::Acquire)
    }

    /// Injected latency for one execution of this kind, if any.
    pub fn latency(&self, kind: FaultKind) -> Option<Duration> {
        if !self.active() {
            return None;
        }
        self.active.read().latency.get(kind).map(Latency::sample)
    }

    /// Whether this execution should fail with `INJECTED_FAULT`.
    pub fn inject_error(&self, kind: FaultKind) -> bool {
        if !self.active() {
            return false;
        }
        let rate = self
            .active
            .read()
            .error_rate
            .get(kind)
            .copied()
            .unwrap_or(0.0);
        rate > 0.0 && rand::rng().random_bool(rate.min(1.0))
    }

    /// Sleeps for injected latency, then says whether to inject an error.
    pub async fn before_execution(&self, kind: FaultKind) -> bool {
        if let Some(delay) = self.latency(kind) {
            tokio::time::sleep(delay).await;
        }
        self.inject_error(kind)
    }

    /// Holds a response that would be sent inside the stall window until
    /// the window ends.
    pub async fn hold_response(&self) {
        if !self.active() {
            return;
        }
        let until = self.active.read().stall_until;
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Closes every open WebSocket connection abruptly, once.
    pub fn drop_all_connections(&self) {
        self.drop_generation.send_modify(|g| *g += 1);
    }

    pub fn drop_signal(&self) -> watch::Receiver<u64> {
        self.drop_generation.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FaultSpec, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_fields_are_named() {
        assert!(parse(r#"{"latncy": {}}"#).unwrap_err().contains("latncy"));
        assert!(
            parse(r#"{"latency": {"querry": {"fixed_ms": 1}}}"#)
                .unwrap_err()
                .contains("querry")
        );
    }

    #[test]
    fn specs_are_checked() {
        let faults = Faults::default();
        let spec =
            parse(r#"{"latency": {"query": {"fixed_ms": 5, "uniform_ms": [1, 2]}}}"#).unwrap();
        assert!(faults.set(&spec).unwrap_err().contains("latency.query"));
        let spec = parse(r#"{"error_rate": {"mutation": 1.5}}"#).unwrap();
        assert!(
            faults
                .set(&spec)
                .unwrap_err()
                .contains("error_rate.mutation")
        );
        let spec =
            parse(r#"{"latency": {"query": {"fixed_ms": 7}}, "error_rate": {"action": 1.0}}"#)
                .unwrap();
        faults.set(&spec).unwrap();
        assert_eq!(
            faults.latency(FaultKind::Query),
            Some(Duration::from_millis(7))
        );
        assert_eq!(faults.latency(FaultKind::Mutation), None);
        assert!(faults.inject_error(FaultKind::Action));
        assert!(!faults.inject_error(FaultKind::Query));
        faults.clear();
        assert_eq!(faults.latency(FaultKind::Query), None);
    }
}
