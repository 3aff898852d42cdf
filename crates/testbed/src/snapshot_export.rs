//! Snapshot exports: `POST /api/export/request/zip` starts one, the system
//! query `_system/frontend/latestExport` follows it through `requested` ->
//! `in_progress` -> `completed` (or `failed`), and
//! `GET /api/export/zip/<start_ts>` downloads the archive.
//!
//! As in Convex, the snapshot timestamp `start_ts` is fixed when the export
//! moves to `in_progress`: the archive holds every table as of that
//! timestamp and nothing written after it. A request while another export is
//! still `requested` or `in_progress` joins that export instead of starting
//! a second one, so concurrent SnapshotExport loops all watch one export.
//!
//! Each state is held for at least [`ExportTiming`]'s durations so that a
//! subscriber sees every state in its own transition, not just the last.
//!
//! The record published for `latestExport` uses the field names of Convex's
//! `_exports` system table: `state`, `start_ts` (int64, from `in_progress`
//! on), `complete_ts` (int64, when completed), `format`, `requestor`, and
//! `failure_reason` when failed. Archives live in a private temp directory
//! and only the newest [`KEEP_COMPLETED`] are kept.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

/// How many completed archives stay downloadable.
pub const KEEP_COMPLETED: usize = 4;

/// The store-facing side an export needs; implemented by the testbed's
/// store wiring.
pub trait ExportHost: Send + Sync + 'static {
    /// Every app table (name, documents in Convex JSON) as of one
    /// timestamp, and that timestamp. Must be a consistent snapshot.
    fn snapshot(&self) -> (u64, Vec<(String, Vec<Value>)>);
    /// The store's current timestamp (for `complete_ts`).
    fn now_ts(&self) -> u64;
    /// The latest export's record changed: make `latestExport` subscribers
    /// see `record`.
    fn publish(&self, record: Value);
}

/// Minimum time spent in each intermediate state.
#[derive(Debug, Clone, Copy)]
pub struct ExportTiming {
    pub requested: Duration,
    pub in_progress: Duration,
}

impl Default for ExportTiming {
    fn default() -> Self {
        Self {
            requested: Duration::from_millis(50),
            in_progress: Duration::from_millis(50),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("no completed snapshot export with start_ts {0} (it never existed or was evicted)")]
    NotFound(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    Requested,
    InProgress,
    Completed,
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Requested => "requested",
            ExportState::InProgress => "in_progress",
            ExportState::Completed => "completed",
            ExportState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
struct Export {
    state: ExportState,
    start_ts: Option<u64>,
    complete_ts: Option<u64>,
    failure_reason: Option<String>,
}

struct Inner {
    host: Arc<dyn ExportHost>,
    timing: ExportTiming,
    dir: PathBuf,
    latest: Mutex<Option<Export>>,
    /// Completed archives, oldest first: (start_ts, path).
    completed: Mutex<VecDeque<(u64, PathBuf)>>,
}

/// Runs snapshot exports; cheap to clone.
#[derive(Clone)]
pub struct ExportManager {
    inner: Arc<Inner>,
}

/// Convex encodes int64 fields as `{"$integer": base64 of 8 LE bytes}`.
fn int64(v: u64) -> Value {
    json!({"$integer": base64::engine::general_purpose::STANDARD.encode((v as i64).to_le_bytes())})
}

impl Export {
    fn record(&self) -> Value {
        let mut record = json!({
            "state": self.state.as_str(),
            "format": {"format": "zip", "include_storage": false},
            "requestor": "snapshotExport",
        });
        let fields = record.as_object_mut().expect("object literal");
        if let Some(ts) = self.start_ts {
            fields.insert("start_ts".into(), int64(ts));
        }
        if let Some(ts) = self.complete_ts {
            fields.insert("complete_ts".into(), int64(ts));
        }
        if let Some(reason) = &self.failure_reason {
            fields.insert("failure_reason".into(), Value::from(reason.clone()));
        }
        record
    }
}

impl ExportManager {
    pub fn new(host: Arc<dyn ExportHost>, timing: ExportTiming) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "testbed-exports-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                host,
                timing,
                dir,
                latest: Mutex::new(None),
                completed: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The record `latestExport` answers: `null` before any export.
    pub fn latest_record(&self) -> Value {
        self.inner
            .latest
            .lock()
            .expect("export lock")
            .as_ref()
            .map_or(Value::Null, Export::record)
    }

    /// Start an export (or join the running one); returns the record as it
    /// stands after the request. Must be called inside a Tokio runtime.
    pub fn request(&self) -> Value {
        let mut latest = self.inner.latest.lock().expect("export lock");
        if let Some(running) = latest
            .as_ref()
            .filter(|e| matches!(e.state, ExportState::Requested | ExportState::InProgress))
        {
            return running.record();
        }
        let export = Export {
            state: ExportState::Requested,
            start_ts: None,
            complete_ts: None,
            failure_reason: None,
        };
        let record = export.record();
        *latest = Some(export);
        drop(latest);
        self.inner.host.publish(record.clone());
        let manager = self.clone();
        tokio::spawn(async move { manager.run().await });
        record
    }

    fn update(&self, change: impl FnOnce(&mut Export)) {
        let record = {
            let mut latest = self.inner.latest.lock().expect("export lock");
            let export = latest.as_mut().expect("an export is running");
            change(export);
            export.record()
        };
        self.inner.host.publish(record);
    }

    async fn run(&self) {
        tokio::time::sleep(self.inner.timing.requested).await;
        // Copying a large snapshot is blocking work.
        let host = self.inner.host.clone();
        let (start_ts, tables) = match tokio::task::spawn_blocking(move || host.snapshot()).await {
            Ok(snapshot) => snapshot,
            Err(join_error) => {
                self.update(|export| {
                    export.state = ExportState::Failed;
                    export.failure_reason = Some(format!("snapshot task failed: {join_error}"));
                });
                return;
            }
        };
        self.update(|e| {
            e.state = ExportState::InProgress;
            e.start_ts = Some(start_ts);
        });
        // Unique per export: two exports with no write between them share a
        // start_ts, and the earlier file may still be streaming to a client.
        let path = self
            .inner
            .dir
            .join(format!("snapshot-{start_ts}-{}.zip", uuid::Uuid::new_v4()));
        let write_path = path.clone();
        let written = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let file = std::fs::File::create(&write_path).map_err(|e| e.to_string())?;
            let file =
                crate::snapshot_zip::write_snapshot_zip(std::io::BufWriter::new(file), tables)
                    .map_err(|e| e.to_string())?;
            file.into_inner()
                .map_err(|e| e.to_string())?
                .sync_all()
                .map_err(|e| e.to_string())
        });
        let (written, ()) =
            tokio::join!(written, tokio::time::sleep(self.inner.timing.in_progress));
        match written.unwrap_or_else(|e| Err(format!("export task panicked: {e}"))) {
            Ok(()) => {
                self.remember(start_ts, path);
                let now = self.inner.host.now_ts();
                self.update(|e| {
                    e.state = ExportState::Completed;
                    e.complete_ts = Some(now.max(start_ts));
                });
            }
            Err(reason) => {
                tracing::warn!(%reason, "snapshot export failed");
                let _ = std::fs::remove_file(&path);
                self.update(|e| {
                    e.state = ExportState::Failed;
                    e.failure_reason = Some(reason);
                });
            }
        }
    }

    fn remember(&self, start_ts: u64, path: PathBuf) {
        let mut completed = self.inner.completed.lock().expect("export lock");
        // A newer archive of the same snapshot replaces the older one (an
        // open download keeps reading the unlinked file).
        completed.retain(|(ts, old)| {
            let same = *ts == start_ts;
            if same {
                let _ = std::fs::remove_file(old);
            }
            !same
        });
        completed.push_back((start_ts, path));
        while completed.len() > KEEP_COMPLETED {
            if let Some((_, old)) = completed.pop_front() {
                let _ = std::fs::remove_file(old);
            }
        }
    }

    /// Path of the completed archive for `start_ts`.
    pub fn archive_path(&self, start_ts: u64) -> Result<PathBuf, ExportError> {
        self.inner
            .completed
            .lock()
            .expect("export lock")
            .iter()
            .find(|(ts, _)| *ts == start_ts)
            .map(|(_, p)| p.clone())
            .ok_or(ExportError::NotFound(start_ts))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The archive at `path` as an HTTP body streamed in 64 KiB chunks.
pub async fn archive_body(path: &std::path::Path) -> std::io::Result<(u64, axum::body::Body)> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((len, axum::body::Body::from_stream(chunks)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A tiny in-memory host: one table whose rows carry the ts they were
    /// written at, and a log of published records.
    struct Host {
        ts: AtomicU64,
        rows: Mutex<Vec<Value>>,
        published: Mutex<Vec<Value>>,
    }

    impl Host {
        fn write(&self, n: u64) {
            let ts = self.ts.fetch_add(1, Ordering::SeqCst) + 1;
            self.rows
                .lock()
                .unwrap()
                .push(json!({"_id": format!("r{n}"), "ts": ts}));
        }
    }

    impl ExportHost for Host {
        fn snapshot(&self) -> (u64, Vec<(String, Vec<Value>)>) {
            let rows = self.rows.lock().unwrap();
            (
                self.ts.load(Ordering::SeqCst),
                vec![("messages".into(), rows.clone()), ("empty".into(), vec![])],
            )
        }
        fn now_ts(&self) -> u64 {
            self.ts.load(Ordering::SeqCst)
        }
        fn publish(&self, record: Value) {
            self.published.lock().unwrap().push(record);
        }
    }

    fn decode_int64(v: &Value) -> u64 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v["$integer"].as_str().unwrap())
            .unwrap();
        i64::from_le_bytes(bytes.try_into().unwrap()) as u64
    }

    async fn wait_completed(manager: &ExportManager) -> Value {
        for _ in 0..500 {
            let record = manager.latest_record();
            if record["state"] == "completed" {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("export never completed: {}", manager.latest_record());
    }

    #[tokio::test]
    async fn export_publishes_each_state_and_archives_the_snapshot_at_start_ts() {
        let host = Arc::new(Host {
            ts: AtomicU64::new(0),
            rows: Mutex::new(vec![]),
            published: Mutex::new(vec![]),
        });
        for n in 0..3 {
            host.write(n);
        }
        let manager = ExportManager::new(host.clone(), ExportTiming::default()).unwrap();
        assert_eq!(manager.latest_record(), Value::Null);
        let first = manager.request();
        assert_eq!(first["state"], "requested");
        assert!(first.get("start_ts").is_none());
        // A second request while running joins the same export.
        assert_eq!(manager.request()["state"], "requested");

        // Wait for in_progress, then write more rows: they must not be in it.
        while manager.latest_record()["state"] == "requested" {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        host.write(3);
        let done = wait_completed(&manager).await;
        let start_ts = decode_int64(&done["start_ts"]);
        assert_eq!(start_ts, 3);
        assert!(decode_int64(&done["complete_ts"]) >= start_ts);

        let states: Vec<String> = host
            .published
            .lock()
            .unwrap()
            .iter()
            .map(|r| r["state"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(states, vec!["requested", "in_progress", "completed"]);

        let path = manager.archive_path(start_ts).unwrap();
        let (len, body) = archive_body(&path).await.unwrap();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(bytes.len() as u64, len);
        let tables =
            crate::snapshot_zip::read_snapshot_zip(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let ids: Vec<&str> = tables["messages"]
            .iter()
            .map(|d| d["_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["r0", "r1", "r2"]);
        assert!(tables["empty"].is_empty());

        assert_eq!(
            manager.archive_path(999).unwrap_err(),
            ExportError::NotFound(999)
        );

        // After completion a new request starts a new export with a later ts.
        assert_eq!(manager.request()["state"], "requested");
        let second = wait_completed(&manager).await;
        assert_eq!(decode_int64(&second["start_ts"]), 4);
        assert!(manager.archive_path(3).is_ok() && manager.archive_path(4).is_ok());
    }

    #[tokio::test]
    async fn two_exports_of_the_same_snapshot_both_download() {
        let host = Arc::new(Host {
            ts: AtomicU64::new(0),
            rows: Mutex::new(vec![]),
            published: Mutex::new(vec![]),
        });
        host.write(0);
        let fast = ExportTiming {
            requested: Duration::from_millis(1),
            in_progress: Duration::from_millis(1),
        };
        let manager = ExportManager::new(host.clone(), fast).unwrap();
        manager.request();
        let first = decode_int64(&wait_completed(&manager).await["start_ts"]);
        let first_path = manager.archive_path(first).unwrap();
        manager.request();
        let second = decode_int64(&wait_completed(&manager).await["start_ts"]);
        assert_eq!(first, second, "no write in between: same snapshot");
        let second_path = manager.archive_path(second).unwrap();
        assert_ne!(first_path, second_path);
        assert!(
            !first_path.exists(),
            "the older archive of that snapshot is removed"
        );
        let (_, body) = archive_body(&second_path).await.unwrap();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let tables =
            crate::snapshot_zip::read_snapshot_zip(std::io::Cursor::new(bytes.to_vec())).unwrap();
        assert_eq!(tables["messages"].len(), 1);
    }
}
