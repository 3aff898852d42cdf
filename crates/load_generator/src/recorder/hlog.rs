//! HdrHistogram interval log (`.hlog`), the text format HdrHistogram's own
//! tools (HistogramLogProcessor, HdrHistogramVisualizer) read. Lines are
//! appended as intervals close, so the file grows with the run but the
//! process does not. A kill mid-append can leave a truncated last line,
//! which the readers skip.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Values are microseconds; Java's tools show max in milliseconds when
/// divided by this.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

pub struct HlogWriter {
    out: BufWriter<File>,
}

impl HlogWriter {
    pub fn create(path: &Path, started_at: DateTime<Utc>) -> std::io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        let epoch_secs = started_at.timestamp_millis() as f64 / 1000.0;
        writeln!(
            out,
            "#[Histograms of latencies in microseconds, one per metric, latency kind and interval]"
        )?;
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[StartTime: {epoch_secs:.3} (seconds since epoch), {}]",
            started_at.to_rfc3339()
        )?;
        writeln!(out, "#[BaseTime: {epoch_secs:.3} (seconds since epoch)]")?;
        writeln!(out, "#[MaxValueDivisor: {MAX_VALUE_DIVISOR:.3}]")?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        out.flush()?;
        Ok(HlogWriter { out })
    }

    /// One interval histogram, already V2-compressed and base64-encoded.
    pub fn append(
        &mut self,
        tag: &str,
        start: Duration,
        length: Duration,
        max_us: u64,
        encoded: &str,
    ) -> std::io::Result<()> {
        writeln!(
            self.out,
            "Tag={tag},{:.3},{:.3},{:.3},{encoded}",
            start.as_secs_f64(),
            length.as_secs_f64(),
            max_us as f64 / MAX_VALUE_DIVISOR
        )
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A tag may not contain `,`, spaces or line breaks.
pub fn tag_for(metric: &results_format::MetricKey, kind: results_format::LatencyKind) -> String {
    let kind = match kind {
        results_format::LatencyKind::ResponseTime => "response_time",
        results_format::LatencyKind::ServiceTime => "service_time",
        results_format::LatencyKind::StartLag => "start_lag",
    };
    let mut tag = format!("{}/{}", metric.scenario, metric.name);
    if let Some(path) = &metric.path {
        tag.push('/');
        tag.push_str(path);
    }
    tag.push('/');
    tag.push_str(kind);
    tag.chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}
