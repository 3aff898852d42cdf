//! `load-generator`: see `load-generator --help` and the crate docs for
//! flags and exit codes.

use clap::Parser;

fn main() {
    // `.env.local` (as Convex's CLI writes it) fills in what the
    // environment does not already set; a missing file is fine.
    let _ = dotenvy::from_filename(".env.local");
    let cli = load_generator::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    let code = runtime.block_on(load_generator::run::run(cli));
    // Scenario tasks (held subscriptions, stragglers) may still run: the
    // results are written, so leave without waiting for them.
    runtime.shutdown_background();
    std::process::exit(code);
}
