//! `cargo xtask bench`: one benchmark run, archived and reported.
//!
//! Without `--url` it starts the testbed on free loopback ports and needs
//! neither Node nor network. With `--url` (or `CONVEX_SELF_HOSTED_URL`,
//! also read from `.env.local`) it checks the deployment's `/version`,
//! deploys the benchmark functions, and runs the load generator against it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use rand::Rng as _;
use xshell::{Shell, cmd};

use crate::testbed_process::Testbed;

/// The admin key reaches the load generator only through this variable.
pub const ADMIN_KEY_ENV: &str = "CONVEX_SELF_HOSTED_ADMIN_KEY";
pub const URL_ENV: &str = "CONVEX_SELF_HOSTED_URL";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A workload name from `workloads/` or a path to a workload file.
    #[arg(long, default_value = "smoke")]
    pub workload: String,
    /// A Convex deployment to benchmark (default: start the local testbed).
    #[arg(long)]
    pub url: Option<String>,
    /// Its admin key (prefer CONVEX_SELF_HOSTED_ADMIN_KEY or .env.local).
    #[arg(long)]
    pub admin_key: Option<String>,
    /// Seconds of measurement.
    #[arg(long, default_value_t = 10)]
    pub duration: u32,
    /// Free text stored with the run.
    #[arg(long)]
    pub label: Option<String>,
    /// Do not deploy the benchmark functions (they are already there).
    #[arg(long)]
    pub skip_deploy: bool,
    /// Open the report in a browser when done.
    #[arg(long)]
    pub open: bool,
    /// The archive the run folder goes into.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

/// Where a run folder goes and what it is called:
/// `<UTC time>-<workload>-<short id>`.
pub fn run_folder_name(workload: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let safe: String = workload
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id: u32 = rand::rng().random();
    format!("{}-{safe}-{id:08x}", now.format("%Y%m%dT%H%M%SZ"))
}

pub fn run(sh: &Shell, args: &BenchArgs) -> anyhow::Result<()> {
    let root = crate::project_root();
    let workload = resolve_workload(&root, &args.workload)?;
    let workload_name = workload
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workload".into());
    let results = root.join(&args.results);
    std::fs::create_dir_all(&results).with_context(|| format!("creating {}", results.display()))?;
    // Named when the generator starts, not when the build did.
    let new_run_dir = || results.join(run_folder_name(&workload_name, chrono::Utc::now()));
    let run_dir;

    let (url, admin_key) = remote_target(&root, args)?;
    let generator_code = match url {
        None => {
            build_binaries(sh, &["testbed", "load_generator"])?;
            let admin_key = fresh_admin_key();
            let testbed = Testbed::start(&root.join("target/release/testbed"), &admin_key)?;
            println!("testbed ready at {}", testbed.url);
            run_dir = new_run_dir();
            let code = run_generator(&root, &workload, &testbed.url, &admin_key, &run_dir, args)?;
            drop(testbed);
            code
        }
        Some(url) => {
            let admin_key = admin_key.with_context(|| {
                format!("--url needs an admin key: set {ADMIN_KEY_ENV} (environment or .env.local)")
            })?;
            check_version(&url)?;
            if !args.skip_deploy {
                deploy_benchmark_functions(sh, &root, &url, &admin_key)?;
            }
            build_binaries(sh, &["load_generator"])?;
            run_dir = new_run_dir();
            run_generator(&root, &workload, &url, &admin_key, &run_dir, args)?
        }
    };
    finish(&run_dir, generator_code, args.open)
}

fn finish(run_dir: &Path, generator_code: i32, open: bool) -> anyhow::Result<()> {
    if !run_dir.join(results_format::RUN_FILE).is_file() {
        bail!(
            "the load generator exited with code {generator_code} and wrote no run folder at {}",
            run_dir.display()
        );
    }
    let report = crate::report::render_to_folder(run_dir)?;
    let view = crate::analysis::load_named(run_dir)?;
    print!("{}", stats_table(&view));
    let verdict = crate::report::verdict_text(&view.archive.run);
    println!("verdict: {verdict}");
    println!("run folder: {}", run_dir.display());
    println!("report: {}", report.display());
    if open {
        // Best effort: a machine without a desktop just has no browser.
        let _ = Command::new("xdg-open").arg(&report).spawn();
    }
    match generator_code {
        0 if view.archive.run.outcome.passed => Ok(()),
        0 | 1 => bail!("the run failed its thresholds or error budget: {verdict}"),
        2 => bail!("the load generator refused its input (exit code 2)"),
        3 => bail!(
            "the run is incomplete (exit code 3); partial files kept in {}",
            run_dir.display()
        ),
        code => bail!("the load generator failed with exit code {code}"),
    }
}

pub fn stats_table(view: &crate::analysis::RunView) -> String {
    let mut rows = vec![
        [
            "metric",
            "requests",
            "target/s",
            "achieved/s",
            "errors",
            "timeouts",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
        ]
        .map(String::from),
    ];
    for m in view.metrics.iter().filter(|m| crate::report::is_active(m)) {
        let r = crate::report::summary_row(m);
        rows.push([
            r.metric,
            r.requests.to_string(),
            r.target_rps,
            r.achieved_rps,
            r.errors.to_string(),
            r.timeouts.to_string(),
            r.p50,
            r.p90,
            r.p99,
            r.p999,
            r.max,
        ]);
    }
    crate::table::format(&rows)
}

fn resolve_workload(root: &Path, workload: &str) -> anyhow::Result<PathBuf> {
    let as_path = PathBuf::from(workload);
    if as_path.is_file() {
        return Ok(std::path::absolute(&as_path)?);
    }
    let named = root.join("workloads").join(format!("{workload}.json"));
    if named.is_file() {
        return Ok(named);
    }
    let mut known: Vec<String> = std::fs::read_dir(root.join("workloads"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    known.sort();
    bail!(
        "--workload {workload}: no such file, and no workloads/{workload}.json (known workloads: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// The deployment to benchmark, from the flags, the environment, or
/// `.env.local` (in that order). `None` means: use the testbed.
fn remote_target(
    root: &Path,
    args: &BenchArgs,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let mut url = args.url.clone().or_else(|| std::env::var(URL_ENV).ok());
    let mut key = args
        .admin_key
        .clone()
        .or_else(|| std::env::var(ADMIN_KEY_ENV).ok());
    let env_file = root.join(".env.local");
    if env_file.is_file() && (url.is_none() || key.is_none()) {
        for item in dotenvy::from_path_iter(&env_file)
            .with_context(|| format!("reading {}", env_file.display()))?
        {
            let (name, value) = item.with_context(|| format!("parsing {}", env_file.display()))?;
            match name.as_str() {
                URL_ENV if url.is_none() => url = Some(value),
                ADMIN_KEY_ENV if key.is_none() => key = Some(value),
                _ => {}
            }
        }
    }
    let url = url.filter(|u| !u.trim().is_empty());
    Ok((
        url.map(|u| u.trim_end_matches('/').to_string()),
        key.filter(|k| !k.is_empty()),
    ))
}

pub fn fresh_admin_key() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("bench-testbed|{hex}")
}

fn build_binaries(sh: &Shell, packages: &[&str]) -> anyhow::Result<()> {
    let args: Vec<String> = packages
        .iter()
        .flat_map(|p| ["-p".to_string(), p.to_string()])
        .collect();
    let mut build = cmd!(sh, "cargo build --release {args...}");
    // `cargo xtask` runs us with xtask's package variables set. Build
    // scripts (ring's) watch some of them, so passing them on would make
    // every bench rebuild half the dependency tree.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            build = build.env_remove(&*name);
        }
    }
    build.run()?;
    Ok(())
}

fn check_version(url: &str) -> anyhow::Result<()> {
    let version_url = format!("{url}/version");
    eprintln!("$ GET {version_url}");
    let response = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?
        .get(&version_url)
        .send()
        .with_context(|| format!("{version_url}: the deployment does not answer"))?;
    let status = response.status();
    let body = response.text().unwrap_or_default();
    if !status.is_success() {
        bail!("{version_url}: HTTP {status}: {}", body.trim());
    }
    println!("backend version: {}", body.trim());
    Ok(())
}

/// `npm ci` (from the committed lockfile) and `npx convex deploy` of
/// `functions/`, with the key in the CLI's environment only.
fn deploy_benchmark_functions(
    sh: &Shell,
    root: &Path,
    url: &str,
    admin_key: &str,
) -> anyhow::Result<()> {
    crate::deploy::deploy_functions(sh, &root.join("functions"), url, admin_key)
}

/// Runs the load generator with inherited output; returns its exit code.
fn run_generator(
    root: &Path,
    workload: &Path,
    url: &str,
    admin_key: &str,
    run_dir: &Path,
    args: &BenchArgs,
) -> anyhow::Result<i32> {
    let binary = root.join("target/release/load-generator");
    let mut command = Command::new(&binary);
    command
        .arg(workload)
        .args(["--duration", &args.duration.to_string()])
        .args(["--existing-instance-url", url])
        .arg("--output")
        .arg(run_dir);
    if let Some(label) = &args.label {
        command.args(["--label", label]);
    }
    // Shown before it runs, like every command; the key is in the
    // environment, never in argv.
    let shown: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| {
            let a = a.to_string_lossy();
            if a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.into_owned()
            }
        })
        .collect();
    eprintln!("$ {ADMIN_KEY_ENV}=<redacted> {}", shown.join(" "));
    command.env(ADMIN_KEY_ENV, admin_key);
    let status = command
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    Ok(status.code().unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folder_names_sort_by_time_and_are_safe() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-04T16:05:09Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let name = run_folder_name("my work/load", t);
        assert!(name.starts_with("20261204T160509Z-my_work_load-"), "{name}");
        assert_eq!(name.len(), "20261204T160509Z-my_work_load-".len() + 8);
        assert_ne!(run_folder_name("x", t), run_folder_name("x", t));
    }

    #[test]
    fn unknown_workload_names_the_known_ones() {
        let root = crate::test_support::tempdir("workloads");
        std::fs::create_dir_all(root.join("workloads")).unwrap();
        std::fs::write(root.join("workloads/smoke.json"), "{}").unwrap();
        let err = resolve_workload(&root, "nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("smoke"), "{err}");
        assert!(
            resolve_workload(&root, "smoke")
                .unwrap()
                .ends_with("smoke.json")
        );
    }
}
