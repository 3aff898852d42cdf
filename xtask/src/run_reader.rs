//! Reads a run folder for the pipeline. Same checks and messages as
//! `results_format::read_run` (missing folder, JSON errors with line and
//! column, schema version), but the many per-interval histograms are
//! validated with the sparse reader instead of a dense decode, which keeps
//! a one-hour run within the pipeline's time budget.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use results_format::{
    ArchiveError, HISTOGRAMS_FILE, HistogramsFile, LatencyKind, RUN_FILE, RunArchive,
};

use crate::sparse::SparseHistogram;

/// Response-time histograms of one metric's intervals: (index, buckets).
pub type DecodedIntervals = Vec<(u32, SparseHistogram)>;

#[cfg(test)]
pub fn read_run(dir: &Path) -> anyhow::Result<RunArchive> {
    read_run_decoded(dir).map(|(archive, _)| archive)
}

/// Reads a run and returns, per metric (in file order), its decoded
/// response-time interval histograms, so nothing is decoded twice.
pub fn read_run_decoded(dir: &Path) -> anyhow::Result<(RunArchive, Vec<DecodedIntervals>)> {
    if !dir.is_dir() {
        return Err(ArchiveError::Missing {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let run = results_format::read_run_info(&dir.join(RUN_FILE))?;
    let path = dir.join(HISTOGRAMS_FILE);
    let histograms = read_histograms(&path)?;
    let decoded = decode_all(&path, &histograms)?;
    Ok((
        RunArchive {
            dir: dir.to_path_buf(),
            run,
            histograms,
        },
        decoded,
    ))
}

fn read_histograms(path: &Path) -> anyhow::Result<HistogramsFile> {
    let file = results_format::read_histograms_unvalidated(path)?;
    for metric in &file.metrics {
        let context = || format!("{}: metric {}", path.display(), metric.key);
        for record in metric.latencies.values() {
            results_format::decode_histogram(&record.histogram)
                .map_err(|e| anyhow!(e))
                .with_context(context)?;
        }
        if metric
            .intervals
            .windows(2)
            .any(|w| w[0].index >= w[1].index)
        {
            bail!("{}: intervals are not in increasing index order", context());
        }
    }
    Ok(file)
}

/// Decodes (and so validates) every interval's response-time histogram, on
/// every core.
fn decode_all(path: &Path, file: &HistogramsFile) -> anyhow::Result<Vec<DecodedIntervals>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = file
            .metrics
            .iter()
            .map(|metric| {
                scope.spawn(move || -> anyhow::Result<DecodedIntervals> {
                    let mut out = Vec::with_capacity(metric.intervals.len());
                    for interval in &metric.intervals {
                        // Only response time is read per interval by the
                        // pipeline; the other kinds are left to tools that
                        // use them.
                        let Some(text) = interval.latencies.get(&LatencyKind::ResponseTime) else {
                            continue;
                        };
                        let h = crate::sparse::decode(text).with_context(|| {
                            format!(
                                "{}: metric {}: interval {}",
                                path.display(),
                                metric.key,
                                interval.index
                            )
                        })?;
                        out.push((interval.index, h));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("decoding does not panic"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticRun;

    #[test]
    fn reads_what_results_format_reads() {
        let dir = crate::test_support::tempdir("reader");
        SyntheticRun::smoke(4).write(&dir).unwrap();
        let ours = read_run(&dir).unwrap();
        let theirs = results_format::read_run(&dir).unwrap();
        assert_eq!(ours.run, theirs.run);
        assert_eq!(ours.histograms, theirs.histograms);
    }

    #[test]
    fn a_corrupt_interval_histogram_names_file_metric_and_interval() {
        let dir = crate::test_support::tempdir("reader-corrupt");
        SyntheticRun::smoke(5).write(&dir).unwrap();
        let path = dir.join(HISTOGRAMS_FILE);
        let mut file: HistogramsFile =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let interval = &mut file.metrics[1].intervals[3];
        for text in interval.latencies.values_mut() {
            *text = "bm90IGEgaGlzdG9ncmFt".into();
        }
        results_format::write_json_atomic(&path, &file).unwrap();
        let err = format!("{:#}", read_run(&dir).unwrap_err());
        assert!(
            err.contains("histograms.json")
                && err.contains("RunFunction/mutation")
                && err.contains("interval 3"),
            "{err}"
        );
    }
}
