//! Facts about where and with what the run happened, for `run.json`.

use results_format::{BackendKind, GeneratorInfo, HostInfo};

pub fn host_info() -> HostInfo {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!(" {}", s.trim()))
        .unwrap_or_default();
    HostInfo {
        hostname,
        os: format!("{}{kernel}", std::env::consts::OS),
        arch: std::env::consts::ARCH.into(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes: memory_bytes(),
    }
}

fn memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The generator's own identity. The commit comes from
/// `LOAD_GENERATOR_GIT_COMMIT` if set (release builds, CI), else from
/// `git` in the source tree this binary was built from.
pub fn generator_info() -> GeneratorInfo {
    let git_commit = std::env::var("LOAD_GENERATOR_GIT_COMMIT").ok().or_else(|| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    GeneratorInfo {
        name: "load-generator".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit,
    }
}

/// The URL without credentials, query or fragment: scheme, host, port and
/// path only.
pub fn sanitize_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

/// `GET /version` of the backend, trimmed; `None` if it does not answer.
pub async fn backend_version(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let response = client
        .get(format!("{url}/version"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?;
    Ok(response.text().await?.trim().to_string())
}

pub fn backend_kind(version: Option<&str>) -> BackendKind {
    BackendKind::from_version(version.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_never_survive_sanitizing() {
        assert_eq!(
            super::sanitize_url("https://user:secret@example.test:3210/x?key=abc#f"),
            "https://example.test:3210/x"
        );
        assert_eq!(
            super::sanitize_url("http://127.0.0.1:3210/"),
            "http://127.0.0.1:3210"
        );
    }
}
