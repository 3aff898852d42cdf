//! Run-to-run comparison statistics: a block bootstrap over the per-interval
//! histograms of two runs.
//!
//! Why this method: percentiles of latency have no simple sampling
//! distribution, and requests close in time are correlated (a slow second
//! slows every request in it). Resampling whole blocks of consecutive
//! intervals, with replacement, keeps that correlation inside each block and
//! gives the spread a percentile would show if the run were repeated under
//! the same conditions. For every resample we compute the statistic for A
//! and for B and keep the ratio B/A; the 2.5th and 97.5th percentiles of the
//! ratios are the 95 % confidence interval. A change counts only when the
//! whole interval lies beyond the noise threshold (default 5 %): slower when
//! the lower bound exceeds 1 + noise, faster when the upper bound is below
//! 1 - noise. The threshold absorbs run-to-run drift that no single run can
//! show (machine load, network), which the bootstrap alone would miss.
//!
//! For speed, histograms are re-bucketed on a common log grid (0.5 % wide
//! buckets, so any value is known to within 0.25 %), and each block is kept
//! as a sparse list of non-empty buckets.

use crate::run_reader::DecodedIntervals;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Relative width of a bucket of the common grid.
const GROWTH: f64 = 1.005;
/// Most blocks per run: longer runs put several intervals in one block.
const MAX_BLOCKS: usize = 120;
pub const RESAMPLES: usize = 400;
pub const DEFAULT_NOISE: f64 = 0.05;
const SEED: u64 = 0x00c0_ffee;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Statistic {
    P50,
    P90,
    P99,
    P999,
    Mean,
}

impl Statistic {
    pub const ALL: [Statistic; 5] = [
        Statistic::P50,
        Statistic::P90,
        Statistic::P99,
        Statistic::P999,
        Statistic::Mean,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Statistic::P50 => "p50",
            Statistic::P90 => "p90",
            Statistic::P99 => "p99",
            Statistic::P999 => "p99.9",
            Statistic::Mean => "mean",
        }
    }

    fn quantile(self) -> Option<f64> {
        match self {
            Statistic::P50 => Some(0.5),
            Statistic::P90 => Some(0.9),
            Statistic::P99 => Some(0.99),
            Statistic::P999 => Some(0.999),
            Statistic::Mean => None,
        }
    }

    /// p99.9 rests on a handful of samples in a short run; it is reported
    /// but does not decide a metric's verdict.
    pub fn decides_verdict(self) -> bool {
        !matches!(self, Statistic::P999)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Verdict {
    Faster,
    Slower,
    NoChange,
    /// Too few samples on one side to say anything.
    Insufficient,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoChange => "no significant change",
            Verdict::Insufficient => "not enough data",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            _ => "muted",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct StatComparison {
    pub statistic: Statistic,
    /// Whole-run values in microseconds.
    pub a_us: f64,
    pub b_us: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub verdict: Verdict,
}

impl StatComparison {
    pub fn change(&self) -> f64 {
        self.b_us / self.a_us - 1.0
    }
}

/// One block of consecutive intervals: its non-empty buckets, and its exact
/// sum of latencies for the mean.
#[derive(Debug, Clone, Default)]
struct Block {
    buckets: Vec<(u32, u64)>,
    count: u64,
    sum_us: f64,
}

#[derive(Debug, Clone)]
pub struct Blocks {
    blocks: Vec<Block>,
    grid: usize,
}

fn bucket_of(us: u64) -> usize {
    ((us.max(1) as f64).ln() / GROWTH.ln()) as usize
}

fn value_of(bucket: usize) -> f64 {
    GROWTH.powf(bucket as f64 + 0.5)
}

impl Blocks {
    pub fn from_intervals(intervals: &DecodedIntervals) -> Self {
        let grid = bucket_of(results_format::HIGHEST_TRACKABLE_US) + 2;
        let n = intervals
            .iter()
            .map(|i| i.0 as usize + 1)
            .max()
            .unwrap_or(0);
        let per_block = n.div_ceil(MAX_BLOCKS).max(1);
        let mut dense: Vec<Vec<u64>> = Vec::new();
        let mut sums: Vec<f64> = Vec::new();
        for (index, h) in intervals {
            let block = *index as usize / per_block;
            if dense.len() <= block {
                dense.resize_with(block + 1, Vec::new);
                sums.resize(block + 1, 0.0);
            }
            let counts = &mut dense[block];
            if counts.is_empty() {
                counts.resize(grid, 0);
            }
            for &(value, count) in &h.buckets {
                counts[bucket_of(value)] += count;
                sums[block] += value as f64 * count as f64;
            }
        }
        let blocks = dense
            .into_iter()
            .zip(sums)
            .filter(|(counts, _)| !counts.is_empty())
            .map(|(counts, sum_us)| {
                let buckets: Vec<(u32, u64)> = counts
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(b, c)| (b as u32, *c))
                    .collect();
                Block {
                    count: buckets.iter().map(|b| b.1).sum(),
                    buckets,
                    sum_us,
                }
            })
            .collect();
        Blocks { blocks, grid }
    }

    pub fn total(&self) -> u64 {
        self.blocks.iter().map(|b| b.count).sum()
    }

    /// Statistic values of one resample (or of the whole run when `pick`
    /// is every block once).
    fn statistics(&self, pick: &[usize], scratch: &mut Vec<u64>) -> [f64; 5] {
        scratch.clear();
        scratch.resize(self.grid, 0);
        let mut count = 0;
        let mut sum = 0.0;
        for &i in pick {
            let block = &self.blocks[i];
            for &(b, c) in &block.buckets {
                scratch[b as usize] += c;
            }
            count += block.count;
            sum += block.sum_us;
        }
        let mut out = [0.0; 5];
        let targets: Vec<(usize, u64)> = Statistic::ALL
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.quantile()
                    .map(|q| (i, ((q * count as f64).ceil() as u64).max(1)))
            })
            .collect();
        let mut next = 0;
        let mut seen = 0;
        for (bucket, &c) in scratch.iter().enumerate() {
            if c == 0 {
                continue;
            }
            seen += c;
            while next < targets.len() && seen >= targets[next].1 {
                out[targets[next].0] = value_of(bucket);
                next += 1;
            }
            if next == targets.len() {
                break;
            }
        }
        out[4] = if count > 0 { sum / count as f64 } else { 0.0 };
        out
    }

    fn resample(&self, rng: &mut StdRng, pick: &mut Vec<usize>) {
        pick.clear();
        let n = self.blocks.len();
        pick.extend((0..n).map(|_| rng.random_range(0..n)));
    }
}

/// Needs this many samples and blocks on each side to give a verdict.
const MIN_SAMPLES: u64 = 20;
const MIN_BLOCKS: usize = 5;
/// A percentile is judged only when each run has at least this many samples
/// above it: with fewer, p99 of a 30-request run is simply its slowest
/// request, and resampling blocks cannot show how much that would move if
/// the run were repeated (a single slow request then reads as a change).
const MIN_TAIL_SAMPLES: f64 = 5.0;

impl Statistic {
    /// Whether `samples` requests say enough about this statistic.
    fn judgeable_with(self, samples: u64) -> bool {
        match self.quantile() {
            // The epsilon keeps 50 samples enough for p90 despite rounding.
            Some(q) => samples as f64 * (1.0 - q) + 1e-9 >= MIN_TAIL_SAMPLES,
            None => true,
        }
    }
}

pub fn compare(a: &Blocks, b: &Blocks, noise: f64) -> Vec<StatComparison> {
    let mut scratch = Vec::new();
    let all = |x: &Blocks| (0..x.blocks.len()).collect::<Vec<_>>();
    let whole_a = a.statistics(&all(a), &mut scratch);
    let whole_b = b.statistics(&all(b), &mut scratch);
    let enough = |x: &Blocks| x.total() >= MIN_SAMPLES && x.blocks.len() >= MIN_BLOCKS;
    if !enough(a) || !enough(b) {
        return Statistic::ALL
            .iter()
            .enumerate()
            .map(|(i, &statistic)| StatComparison {
                statistic,
                a_us: whole_a[i],
                b_us: whole_b[i],
                ci_low: f64::NAN,
                ci_high: f64::NAN,
                verdict: Verdict::Insufficient,
            })
            .collect();
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut pick = Vec::new();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(RESAMPLES); Statistic::ALL.len()];
    for _ in 0..RESAMPLES {
        a.resample(&mut rng, &mut pick);
        let sa = a.statistics(&pick, &mut scratch);
        b.resample(&mut rng, &mut pick);
        let sb = b.statistics(&pick, &mut scratch);
        for i in 0..Statistic::ALL.len() {
            if sa[i] > 0.0 {
                ratios[i].push(sb[i] / sa[i]);
            }
        }
    }
    Statistic::ALL
        .iter()
        .enumerate()
        .map(|(i, &statistic)| {
            let r = &mut ratios[i];
            r.sort_by(f64::total_cmp);
            let (ci_low, ci_high) = (percentile(r, 0.025), percentile(r, 0.975));
            let judgeable = statistic.judgeable_with(a.total().min(b.total()));
            let verdict = if !judgeable {
                Verdict::Insufficient
            } else if ci_low > 1.0 + noise {
                Verdict::Slower
            } else if ci_high < 1.0 - noise {
                Verdict::Faster
            } else {
                Verdict::NoChange
            };
            StatComparison {
                statistic,
                a_us: whole_a[i],
                b_us: whole_b[i],
                ci_low,
                ci_high,
                verdict,
            }
        })
        .collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// A metric's verdict from the statistics its samples can judge: slower if
/// any deciding statistic is slower, faster if any is faster and none
/// slower; not enough data when none can be judged.
pub fn metric_verdict(stats: &[StatComparison]) -> Verdict {
    let verdicts: Vec<Verdict> = stats
        .iter()
        .filter(|s| s.statistic.decides_verdict() && s.verdict != Verdict::Insufficient)
        .map(|s| s.verdict)
        .collect();
    if verdicts.is_empty() {
        Verdict::Insufficient
    } else if verdicts.contains(&Verdict::Slower) {
        Verdict::Slower
    } else if verdicts.contains(&Verdict::Faster) {
        Verdict::Faster
    } else {
        Verdict::NoChange
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticRun;
    use results_format::LatencyKind;

    fn blocks(run: &SyntheticRun, name: &str) -> Blocks {
        let dir = crate::test_support::tempdir("bootstrap");
        run.write(&dir).unwrap();
        let view = crate::analysis::load(&dir).unwrap();
        let metric = view
            .metrics
            .iter()
            .find(|m| m.metric.key.name == name)
            .unwrap();
        Blocks::from_intervals(&metric.response_intervals)
    }

    #[test]
    fn bucketed_percentiles_match_the_histogram() {
        let run = SyntheticRun::smoke(3);
        let dir = crate::test_support::tempdir("bucketed");
        run.write(&dir).unwrap();
        let view = crate::analysis::load(&dir).unwrap();
        let metric = &view.metrics[0].metric;
        let b = Blocks::from_intervals(&view.metrics[0].response_intervals);
        let all: Vec<usize> = (0..b.blocks.len()).collect();
        let stats = b.statistics(&all, &mut Vec::new());
        let summary = &metric.latencies[&LatencyKind::ResponseTime].summary;
        for (ours, theirs) in [
            (stats[0], summary.p50_us as f64),
            (stats[2], summary.p99_us as f64),
            (stats[4], summary.mean_us),
        ] {
            assert!((ours / theirs - 1.0).abs() < 0.01, "{ours} vs {theirs}");
        }
    }

    #[test]
    fn thirty_percent_slower_is_detected_and_noise_is_not() {
        let a = blocks(&SyntheticRun::smoke(10), "query");
        let same = blocks(&SyntheticRun::smoke(11), "query");
        let slow = blocks(&SyntheticRun::smoke(12).with_factor("query", 1.3), "query");
        let fast = blocks(&SyntheticRun::smoke(13).with_factor("query", 0.7), "query");
        assert_eq!(
            metric_verdict(&compare(&a, &same, DEFAULT_NOISE)),
            Verdict::NoChange
        );
        let slower = compare(&a, &slow, DEFAULT_NOISE);
        assert_eq!(metric_verdict(&slower), Verdict::Slower);
        let p50 = slower[0];
        assert!(
            (p50.change() - 0.3).abs() < 0.05,
            "p50 change {}",
            p50.change()
        );
        assert!(p50.ci_low > 1.2 && p50.ci_high < 1.4, "{p50:?}");
        assert_eq!(
            metric_verdict(&compare(&a, &fast, DEFAULT_NOISE)),
            Verdict::Faster
        );
    }

    #[test]
    fn too_little_data_gives_no_verdict() {
        let mut tiny = SyntheticRun::smoke(5);
        tiny.duration_secs = 2;
        let a = blocks(&tiny, "query");
        let b = blocks(&SyntheticRun::smoke(6), "query");
        assert_eq!(
            metric_verdict(&compare(&a, &b, DEFAULT_NOISE)),
            Verdict::Insufficient
        );
    }

    #[test]
    fn tail_percentiles_need_enough_samples_above_them() {
        assert!(Statistic::P50.judgeable_with(20));
        assert!(!Statistic::P90.judgeable_with(30));
        assert!(Statistic::P90.judgeable_with(50));
        assert!(!Statistic::P99.judgeable_with(30));
        assert!(Statistic::P99.judgeable_with(500));
        assert!(Statistic::Mean.judgeable_with(20));
    }

    /// Like the e2e smoke runs: 5 requests/s for 6 s, so p99 is just the
    /// slowest request. p50 and the mean still decide; p99 is not judged.
    #[test]
    fn a_thirty_request_metric_is_judged_on_its_median_and_mean_only() {
        let short = |seed: u64, factor: f64| {
            let mut run = SyntheticRun::smoke(seed).with_factor("mutation", factor);
            run.duration_secs = 6;
            for m in &mut run.metrics {
                m.rate = 5.0;
            }
            blocks(&run, "mutation")
        };
        let a = short(20, 1.0);
        // 30 samples of a wide distribution only show a large change.
        let slower = compare(&a, &short(21, 2.5), DEFAULT_NOISE);
        let p99 = slower
            .iter()
            .find(|s| s.statistic == Statistic::P99)
            .unwrap();
        assert_eq!(p99.verdict, Verdict::Insufficient);
        assert_eq!(slower[0].verdict, Verdict::Slower, "{:?}", slower[0]);
        assert_eq!(metric_verdict(&slower), Verdict::Slower);
        let same = compare(&a, &short(22, 1.0), DEFAULT_NOISE);
        assert_ne!(metric_verdict(&same), Verdict::Slower, "{same:?}");
    }
}
