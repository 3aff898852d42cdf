//! Prints the open-loop scheduler's start lag with a no-op scenario.
//! `cargo run --release -p load_generator --example start_lag -- [rate] [secs]`

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args.next().map_or(Ok(5_000.0), |a| a.parse())?;
    let secs: f64 = args.next().map_or(Ok(10.0), |a| a.parse())?;
    let report = load_generator::perf::open_loop_start_lag(rate, secs)?;
    println!("{report}");
    Ok(())
}
