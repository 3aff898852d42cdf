//! Reads a run folder for the pipeline. Same checks and messages as
//! `results_format::read_run` (missing folder, JSON errors with line and
//! column, schema version), but the many per-interval histograms are
//! validated with the sparse reader instead of a dense decode, which keeps
//! a one-hour run within the pipeline's time budget.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use results_format::{
    ArchiveError, HISTOGRAMS_FILE, HistogramsFile, RUN_FILE, RunArchive, SCHEMA_VERSION,
};

pub fn read_run(dir: &Path) -> anyhow::Result<RunArchive> {
    if !dir.is_dir() {
        return Err(ArchiveError::Missing {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let run = results_format::read_run_info(&dir.join(RUN_FILE))?;
    let histograms = read_histograms(&dir.join(HISTOGRAMS_FILE))?;
    Ok(RunArchive {
        dir: dir.to_path_buf(),
        run,
        histograms,
    })
}

fn read_histograms(path: &Path) -> anyhow::Result<HistogramsFile> {
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ArchiveError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            ArchiveError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let json_error = |e: serde_json::Error| ArchiveError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<u64>,
    }
    let version: Version = serde_json::from_slice(&bytes).map_err(json_error)?;
    if version.schema_version != Some(u64::from(SCHEMA_VERSION)) {
        return Err(ArchiveError::SchemaVersion {
            path: path.to_path_buf(),
            found: version.schema_version.unwrap_or(0),
            expected: SCHEMA_VERSION,
        }
        .into());
    }
    let file: HistogramsFile = serde_json::from_slice(&bytes).map_err(json_error)?;
    for metric in &file.metrics {
        let context = || format!("{}: metric {}", path.display(), metric.key);
        for record in metric.latencies.values() {
            results_format::decode_histogram(&record.histogram)
                .map_err(|e| anyhow!(e))
                .with_context(context)?;
        }
        for interval in &metric.intervals {
            for text in interval.latencies.values() {
                crate::sparse::decode(text)
                    .with_context(|| format!("{}: interval {}", context(), interval.index))?;
            }
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
