//! `testbed`: runs the testbed until SIGINT/SIGTERM.

use std::io::Write as _;

use clap::Parser;

#[derive(Parser)]
#[command(about = "A local stand-in backend speaking Convex's protocols (not Convex)")]
struct Cli {
    /// API port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 3210)]
    port: u16,
    /// Site (HTTP actions) port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 3211)]
    site_port: u16,
    /// Admin key to accept; generated and printed once when absent.
    #[arg(long)]
    admin_key: Option<String>,
    #[arg(long, default_value = "testbed")]
    instance_name: String,
    /// Access token the provisioning stand-in (cloud backups) accepts.
    #[arg(long)]
    access_token: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let generated = cli.admin_key.is_none();
    let handle = testbed::start(testbed::TestbedConfig {
        port: cli.port,
        site_port: cli.site_port,
        admin_key: cli.admin_key,
        instance_name: cli.instance_name,
        access_token: cli.access_token,
    })
    .await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(
            stdout,
            "testbed ready url={} site_url={}",
            handle.url(),
            handle.site_url()
        )?;
        if generated {
            // Asked for: a generated key is printed exactly once, here.
            writeln!(stdout, "admin_key={}", handle.admin_key())?;
        }
        stdout.flush()?;
    }
    wait_for_signal().await?;
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
