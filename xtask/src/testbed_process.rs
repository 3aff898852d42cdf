//! The testbed as a child process of `cargo xtask bench`: started on free
//! loopback ports with a fresh admin key, stopped when the guard drops (on
//! every exit path, including errors and panics).

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};

const READY_PREFIX: &str = "testbed ready ";
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Testbed {
    child: Child,
    pub url: String,
    pub site_url: String,
}

impl Testbed {
    /// Starts `binary` and waits for its `testbed ready url=.. site_url=..`
    /// line. The admin key goes on this child's command line only (the child
    /// is ours); what we print shows it redacted.
    pub fn start(binary: &Path, admin_key: &str) -> anyhow::Result<Testbed> {
        if !binary.is_file() {
            bail!(
                "{}: testbed binary not found (build it with `cargo build --release -p testbed`)",
                binary.display()
            );
        }
        eprintln!(
            "$ {} --port 0 --site-port 0 --admin-key <redacted>",
            binary.display()
        );
        let mut child = Command::new(binary)
            .args(["--port", "0", "--site-port", "0", "--admin-key", admin_key])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Reads the ready line, then keeps draining stdout so the testbed
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && line.starts_with(READY_PREFIX) {
                    let _ = tx.send(line);
                    sent = true;
                }
            }
        });
        let mut testbed = Testbed {
            child,
            url: String::new(),
            site_url: String::new(),
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let status = testbed.child.try_wait().ok().flatten();
                bail!(
                    "the testbed did not print `{READY_PREFIX}url=...` within {} s{}",
                    START_TIMEOUT.as_secs(),
                    status
                        .map(|s| format!(" (it exited: {s})"))
                        .unwrap_or_default()
                );
            }
        };
        for field in line[READY_PREFIX.len()..].split_whitespace() {
            if let Some(url) = field.strip_prefix("url=") {
                testbed.url = url.to_string();
            } else if let Some(url) = field.strip_prefix("site_url=") {
                testbed.site_url = url.to_string();
            }
        }
        if testbed.url.is_empty() {
            bail!("the testbed's ready line has no url=: {line:?}");
        }
        Ok(testbed)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // SIGKILL is enough: the testbed keeps no state worth flushing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
