//! Prints the open-loop scheduler's start lag with a no-op scenario.
//! `cargo run --release -p load_generator --example start_lag -- [rate] [secs]`

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args.next().map_or(Ok(5_000.0), |a| a.parse())?;
    let secs: f64 = args.next().map_or(Ok(10.0), |a| a.parse())?;
    let report = load_generator::perf::open_loop_start_lag(rate, secs)?;
    println!("{report}");
    // `cargo xtask perf` reads the figures from here.
    if let Ok(path) = std::env::var("PERF_JSON") {
        let lag = &report.start_lag;
        let figures = serde_json::json!({
            "rate": report.rate,
            "requests": report.recorded,
            "p50_us": lag.p50_us,
            "p99_us": lag.p99_us,
            "max_us": lag.max_us,
        });
        std::fs::write(&path, figures.to_string())?;
    }
    Ok(())
}
