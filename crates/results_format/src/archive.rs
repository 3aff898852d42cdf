//! Reading and writing run folders. Writes are atomic (temporary file, then
//! rename) so a reader, or a run killed mid-write, never sees half a file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::histogram_codec::{CodecError, decode_histogram};
use crate::types::{HistogramsFile, RunInfo};
use crate::{LatencyHistogram, SCHEMA_VERSION};

pub const RUN_FILE: &str = "run.json";
pub const HISTOGRAMS_FILE: &str = "histograms.json";
pub const HLOG_FILE: &str = "latencies.hlog";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: no such run folder or file")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: schema_version {found} is not supported (this build reads version {expected}); \
         re-run the benchmark or use a matching build"
    )]
    SchemaVersion {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
    #[error("{path}: metric {metric}: {source}")]
    Histogram {
        path: PathBuf,
        metric: String,
        source: CodecError,
    },
}

/// A run folder read back whole.
#[derive(Debug, Clone)]
pub struct RunArchive {
    pub dir: PathBuf,
    pub run: RunInfo,
    pub histograms: HistogramsFile,
}

impl RunArchive {
    /// The folder name, which is the run's name in reports.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }
}

pub fn read_run(dir: &Path) -> Result<RunArchive, ArchiveError> {
    if !dir.is_dir() {
        return Err(ArchiveError::Missing {
            path: dir.to_path_buf(),
        });
    }
    let run = read_run_info(&dir.join(RUN_FILE))?;
    let histograms = read_histograms(&dir.join(HISTOGRAMS_FILE))?;
    Ok(RunArchive {
        dir: dir.to_path_buf(),
        run,
        histograms,
    })
}

pub fn read_run_info(path: &Path) -> Result<RunInfo, ArchiveError> {
    read_versioned_json(path)
}

/// Reads `histograms.json` and checks that every histogram in it decodes,
/// so a corrupt file is refused up front with the metric it concerns.
pub fn read_histograms(path: &Path) -> Result<HistogramsFile, ArchiveError> {
    let file = read_histograms_unvalidated(path)?;
    for metric in &file.metrics {
        let encoded = metric
            .latencies
            .values()
            .map(|r| r.histogram.as_str())
            .chain(
                metric
                    .intervals
                    .iter()
                    .flat_map(|i| i.latencies.values().map(String::as_str)),
            );
        for text in encoded {
            decode_histogram(text).map_err(|source| ArchiveError::Histogram {
                path: path.to_path_buf(),
                metric: metric.key.to_string(),
                source,
            })?;
        }
    }
    Ok(file)
}

/// Reads `histograms.json` with the same version and JSON checks as
/// [`read_histograms`], leaving the histograms undecoded: for readers that
/// validate them their own (faster) way.
pub fn read_histograms_unvalidated(path: &Path) -> Result<HistogramsFile, ArchiveError> {
    read_versioned_json(path)
}

/// Decodes one encoded histogram, for callers that already validated the file.
pub fn decode_validated(text: &str) -> LatencyHistogram {
    decode_histogram(text).expect("histograms are validated when the file is read")
}

fn read_versioned_json<T: DeserializeOwned>(path: &Path) -> Result<T, ArchiveError> {
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
    let version_error = |found: Option<u64>| ArchiveError::SchemaVersion {
        path: path.to_path_buf(),
        found: found.unwrap_or(0),
        expected: SCHEMA_VERSION,
    };
    // One typed parse on the happy path (a one-hour histograms.json is tens
    // of MB). On failure the version is checked first, so a future file
    // gets the version error rather than a confusing shape error.
    let parsed: Result<T, _> = serde_json::from_slice(&bytes);
    let found = serde_json::from_slice::<Version>(&bytes)
        .ok()
        .and_then(|v| v.schema_version);
    match parsed {
        Ok(_) if found != Some(u64::from(SCHEMA_VERSION)) => Err(version_error(found)),
        Ok(value) => Ok(value),
        Err(_) if found.is_some() && found != Some(u64::from(SCHEMA_VERSION)) => {
            Err(version_error(found))
        }
        Err(e) => Err(json_error(e)),
    }
}

/// Writes `bytes` to `path` atomically: a reader sees the old file or the
/// new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let io = |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)
}

pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), ArchiveError> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("results types always serialise");
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_file(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("results_format-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(HISTOGRAMS_FILE);
        write_atomic(&path, text.as_bytes()).unwrap();
        path
    }

    #[test]
    fn another_schema_version_is_refused_by_name() {
        let path = scratch_file("version", r#"{"schema_version": 99, "metrics": 3}"#);
        let err = read_histograms(&path).unwrap_err();
        assert!(
            matches!(err, ArchiveError::SchemaVersion { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("histograms.json"), "{err}");
    }

    #[test]
    fn broken_json_names_line_and_column() {
        let path = scratch_file("broken", "{\n  \"schema_version\": 1,\n  \"metrics\": [\n");
        let err = read_histograms(&path).unwrap_err();
        assert!(matches!(err, ArchiveError::Json { line: 4, .. }), "{err}");
    }

    #[test]
    fn a_missing_file_is_reported_as_missing() {
        let err = read_run(Path::new("/nonexistent/run")).unwrap_err();
        assert!(matches!(err, ArchiveError::Missing { .. }), "{err}");
    }
}
