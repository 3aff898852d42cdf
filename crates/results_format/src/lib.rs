//! The results archive format: the contract between `load_generator`, which
//! writes a run folder, and `xtask`, which reads it to render reports and
//! comparisons.
//!
//! A run folder holds:
//! - `run.json` ([`RunInfo`]): what ran, where, when, and how it ended.
//! - `histograms.json` ([`HistogramsFile`]): every metric's counts and
//!   latency histograms, whole-run and per interval.
//! - `latencies.hlog`: an HdrHistogram interval log (written by the
//!   generator, for HdrHistogram's own tools; not read back here).
//!
//! Both JSON files carry [`SCHEMA_VERSION`]. Readers refuse a file whose
//! major version they do not know, with an error naming the file. Any
//! change that an older reader would misread must bump the version.

mod archive;
mod histogram_codec;
mod types;

pub use archive::{
    ArchiveError, HISTOGRAMS_FILE, HLOG_FILE, RUN_FILE, RunArchive, decode_validated,
    read_histograms, read_histograms_unvalidated, read_run, read_run_info, write_atomic,
    write_json_atomic,
};
pub use histogram_codec::{
    CodecError, HIGHEST_TRACKABLE_US, LOWEST_DISCERNIBLE_US, LatencyHistogram, SIGNIFICANT_DIGITS,
    decode_histogram, encode_histogram, new_latency_histogram,
};
pub use types::*;

/// Version of `run.json` and `histograms.json`. Bump on any change an older
/// reader would misread.
pub const SCHEMA_VERSION: u32 = 1;
