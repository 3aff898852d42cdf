//! The arrival process of an open loop: the offsets (from the start of
//! load) at which requests are due, independent of how the backend
//! responds. Offsets are absolute, so rounding never accumulates into drift.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::workload::model::{Arrival, Stage};

/// Arrivals are placed where the expected number of requests so far,
/// Λ(t) = ∫ rate, reaches the next target: 1, 2, 3, ... for constant
/// arrivals, a running sum of Exp(1) draws for Poisson (time rescaling).
/// With a constant rate this is exactly k / rate; with ramps it follows the
/// rate without the bias of `1 / rate(t)` steps.
pub struct Schedule {
    initial_rate: f64,
    stages: Vec<Stage>,
    arrival: Arrival,
    rng: StdRng,
    /// Λ of the next arrival.
    next_target: f64,
    /// Offset of the previous arrival, where the search for the next starts.
    previous: f64,
}

impl Schedule {
    pub fn new(rate: f64, arrival: Arrival, stages: Vec<Stage>, seed: u64) -> Self {
        let mut schedule = Schedule {
            initial_rate: rate,
            stages,
            arrival,
            rng: StdRng::seed_from_u64(seed),
            next_target: 0.0,
            previous: 0.0,
        };
        // A constant schedule with load from the start begins at once.
        if arrival == Arrival::Poisson || rate <= 0.0 {
            schedule.next_target = schedule.increment();
        }
        schedule
    }

    fn increment(&mut self) -> f64 {
        match self.arrival {
            Arrival::Constant => 1.0,
            Arrival::Poisson => {
                let u: f64 = self.rng.random();
                -(1.0 - u).ln()
            }
        }
    }

    fn stages_end(&self) -> f64 {
        self.stages.iter().map(|s| s.duration.as_secs_f64()).sum()
    }

    fn final_rate(&self) -> f64 {
        self.stages
            .last()
            .map_or(self.initial_rate, |s| s.target_rate)
    }

    /// The target rate at `t` seconds after the start of load: the initial
    /// rate, ramped linearly through each stage, then the last target held.
    pub fn rate_at(&self, t: f64) -> f64 {
        let mut from = self.initial_rate;
        let mut stage_start = 0.0;
        for stage in &self.stages {
            let length = stage.duration.as_secs_f64();
            if t < stage_start + length {
                let progress = (t - stage_start) / length;
                return from + (stage.target_rate - from) * progress;
            }
            from = stage.target_rate;
            stage_start += length;
        }
        from
    }

    /// Λ(t): requests expected in `[0, t)`.
    fn expected_by(&self, t: f64) -> f64 {
        let mut from = self.initial_rate;
        let mut stage_start = 0.0;
        let mut total = 0.0;
        for stage in &self.stages {
            let length = stage.duration.as_secs_f64();
            let x = (t - stage_start).min(length);
            if x <= 0.0 {
                return total;
            }
            total += from * x + (stage.target_rate - from) * x * x / (2.0 * length);
            from = stage.target_rate;
            stage_start += length;
        }
        total + from * (t - stage_start).max(0.0)
    }

    /// The first offset where Λ reaches `target`, or `None` if it never does.
    fn time_of(&self, target: f64) -> Option<f64> {
        if self.stages.is_empty() {
            return (self.initial_rate > 0.0).then(|| target / self.initial_rate);
        }
        let mut low = self.previous;
        let mut high = low.max(1e-3);
        while self.expected_by(high) < target {
            if high > self.stages_end() && self.final_rate() <= 0.0 {
                return None;
            }
            low = high;
            high *= 2.0;
        }
        for _ in 0..64 {
            let mid = (low + high) / 2.0;
            if self.expected_by(mid) < target {
                low = mid;
            } else {
                high = mid;
            }
        }
        Some(high)
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let due = self.time_of(self.next_target)?;
        self.previous = due;
        self.next_target += self.increment();
        Some(Duration::from_secs_f64(due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced_without_drift() {
        let offsets: Vec<_> = Schedule::new(3.0, Arrival::Constant, vec![], 1)
            .take(30_001)
            .collect();
        assert_eq!(offsets[0], Duration::ZERO);
        let last = offsets[30_000].as_secs_f64();
        assert!((last - 10_000.0).abs() < 1e-6, "{last}");
    }

    #[test]
    fn poisson_has_the_requested_mean_rate() {
        let count = Schedule::new(200.0, Arrival::Poisson, vec![], 7)
            .take_while(|d| d.as_secs_f64() < 100.0)
            .count();
        assert!((19_400..=20_600).contains(&count), "{count}");
    }

    #[test]
    fn stages_ramp_linearly_then_hold() {
        let stages = vec![
            Stage {
                duration: Duration::from_secs(10),
                target_rate: 100.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                target_rate: 0.0,
            },
        ];
        let s = Schedule::new(0.0, Arrival::Constant, stages.clone(), 1);
        assert_eq!(s.rate_at(5.0), 50.0);
        assert_eq!(s.rate_at(15.0), 50.0);
        assert_eq!(s.rate_at(30.0), 0.0);
        // Ramp 0 -> 100 -> 0 over 20 s is 1000 requests (area of the triangle).
        let n = Schedule::new(0.0, Arrival::Constant, stages, 1).count();
        assert!((990..=1010).contains(&n), "{n}");
    }
}
