//! `cargo xtask <command>`: the project's pipeline, in the spirit of
//! rust-analyzer's xtask. Every external command is run through xshell and
//! echoed before it runs.

mod deploy;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "The project's pipeline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every suite the project has: fmt, clippy, cargo tests, Node tests.
    Test(test::TestArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    match cli.command {
        Command::Test(args) => test::run(&sh, &args),
    }
}

/// The workspace root, whatever directory `cargo xtask` was started from.
pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
