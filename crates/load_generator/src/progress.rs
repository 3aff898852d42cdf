//! One status line a second while the run goes, on stderr, only when it is
//! a terminal (and not `--quiet`): pipes and CI logs stay clean.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::recorder::Recorder;

pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

pub fn print_line(recorder: &Recorder, elapsed: Duration, planned: Option<Duration>) {
    let last = recorder.overall_last();
    let live = recorder.live();
    let errors: u64 = live
        .iter()
        .map(|m| m.totals.errors + m.totals.timeouts)
        .sum();
    let dropped: u64 = live.iter().map(|m| m.totals.dropped).sum();
    let planned = planned.map_or(String::new(), |p| format!("/{:.0}s", p.as_secs_f64()));
    let line = format!(
        "[{:>4.0}s{planned}] {:>8.1} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {errors}  dropped {dropped}",
        elapsed.as_secs_f64(),
        last.counts.requests as f64,
        last.response.p50_us as f64 / 1000.0,
        last.response.p99_us as f64 / 1000.0,
    );
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
}

pub fn finish_line() {
    let _ = writeln!(std::io::stderr());
}
