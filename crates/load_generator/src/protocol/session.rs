//! One live sync WebSocket: a reader task and a writer task around a shared
//! table of outstanding requests.
//!
//! The writer owns everything that must be sequential on the wire (query set
//! versions, request ids) and stamps each request with the instant its frame
//! was handed to the socket, so time a request spends queued inside the
//! session never counts as service time. The reader owns the state version
//! the server has brought us to, resolves queries, and holds back mutation
//! replies until a Transition reaches the mutation's commit timestamp (what
//! Convex's JS client does before resolving `client.mutation`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convex_sync_types::types::SerializedArgs;
use convex_sync_types::{
    AuthenticationToken, ClientMessage, Query, QueryId, QuerySetModification, ServerMessage,
    SessionId, StateModification, StateVersion, Timestamp, UdfPath,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value as JsonValue;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::wire::{self, ChunkAssembler, ServerMsg};
use super::{CallError, Failed};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server that sends nothing for this long is presumed dead (Convex sends
/// Pings every few seconds; its npm client gives up after 60 s of silence).
const INACTIVITY_LIMIT: Duration = Duration::from_secs(60);
/// Frames the writer coalesces into one flush when callers queue up.
const MAX_BATCH: usize = 64;
/// How long an answered one-shot query may stay in the server's query set
/// waiting to ride along with the next query set change, before it is
/// removed on its own. Saves a frame and a Transition per query.
const REMOVE_LINGER: Duration = Duration::from_millis(5);

/// Bytes tungstenite reads per socket read. Its default (128 KiB) is
/// zero-filled before every read, and the reader reads at least twice per
/// message (the message, then the empty socket): at 128 KiB that zeroing
/// was the largest single cost of an idle round trip. Sync messages are
/// mostly far smaller; a large one just takes more reads.
pub const READ_BUFFER_BYTES: usize = 16 * 1024;

/// The WebSocket settings every generator connection uses.
pub fn websocket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
}

/// Where and how to connect.
#[derive(Clone)]
pub struct SessionConfig {
    /// `ws://host:port/api/sync` (or `wss://`).
    pub ws_url: String,
    pub admin_key: Option<String>,
    /// Bound on connect + handshake + first Transition.
    pub setup_timeout: Duration,
}

impl std::fmt::Debug for SessionConfig {
    // The admin key must never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("ws_url", &self.ws_url)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("setup_timeout", &self.setup_timeout)
            .finish()
    }
}

/// A query's first result.
#[derive(Debug, Clone)]
pub struct QueryReply {
    pub value: JsonValue,
    /// When the `Add` frame was handed to the socket.
    pub sent: Instant,
}

/// A mutation's or action's result.
#[derive(Debug, Clone)]
pub struct RequestReply {
    pub value: JsonValue,
    pub sent: Instant,
    /// When the MutationResponse / ActionResponse arrived.
    pub responded: Instant,
    /// When a Transition reached the mutation's commit timestamp, i.e. when
    /// this client's subscriptions can reflect it (= `responded` for actions
    /// and for mutations already covered by an earlier Transition).
    pub visible: Instant,
}

enum QueryEntry {
    Once {
        reply: oneshot::Sender<Result<QueryReply, Failed>>,
        sent: Option<Instant>,
    },
    Watch {
        updates: mpsc::UnboundedSender<Result<JsonValue, CallError>>,
    },
}

struct RequestEntry {
    reply: oneshot::Sender<Result<RequestReply, Failed>>,
    sent: Instant,
}

#[derive(Default)]
struct Pending {
    queries: HashMap<u32, QueryEntry>,
    requests: HashMap<u32, RequestEntry>,
    /// Answered one-shot queries still in the server's query set.
    answered: Vec<u32>,
    /// Set once; after that nothing new is accepted.
    dead: Option<String>,
}

enum Command {
    AddQuery {
        query_id: u32,
        path: UdfPath,
        args: SerializedArgs,
        entry: QueryEntry,
    },
    /// A caller gave up on a query: the writer removes its entry and, if
    /// it was still there, sends the Remove (so each query is removed once).
    RemoveQuery { query_id: u32 },
    /// Answered queries lingered REMOVE_LINGER without another query set
    /// change to carry their removes: send the removes now.
    RemoveAnswered,
    Mutation {
        path: UdfPath,
        args: SerializedArgs,
        reply: oneshot::Sender<Result<RequestReply, Failed>>,
    },
    Action {
        path: UdfPath,
        args: SerializedArgs,
        reply: oneshot::Sender<Result<RequestReply, Failed>>,
    },
}

struct Shared {
    pending: Mutex<Pending>,
    next_query_id: AtomicU32,
    /// Calls (one-shot queries, mutations, actions) under way, counting
    /// the one being submitted. Held subscriptions do not count.
    calls_in_flight: AtomicU32,
    /// `Some(reason)` once the session is dead.
    closed: watch::Sender<Option<String>>,
}

/// Counts a call in `Shared::calls_in_flight` while it lives.
struct CallInFlight<'a>(&'a Shared);

impl<'a> CallInFlight<'a> {
    fn begin(shared: &'a Shared) -> Self {
        shared.calls_in_flight.fetch_add(1, Ordering::Relaxed);
        CallInFlight(shared)
    }
}

impl Drop for CallInFlight<'_> {
    fn drop(&mut self) {
        self.0.calls_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic elsewhere must not wedge every caller: the table stays usable.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the session dead and fails everything outstanding with `reason`.
    fn die(&self, reason: String) {
        let (queries, requests) = {
            let mut pending = self.lock();
            if pending.dead.is_some() {
                return;
            }
            pending.dead = Some(reason.clone());
            (
                std::mem::take(&mut pending.queries),
                std::mem::take(&mut pending.requests),
            )
        };
        for (_, entry) in queries {
            match entry {
                QueryEntry::Once { reply, sent } => {
                    let _ = reply.send(Err(Failed::new(sent, CallError::lost(&reason))));
                }
                QueryEntry::Watch { updates } => {
                    let _ = updates.send(Err(CallError::lost(&reason)));
                }
            }
        }
        for (_, entry) in requests {
            let _ = entry
                .reply
                .send(Err(Failed::new(Some(entry.sent), CallError::lost(&reason))));
        }
        self.closed.send_replace(Some(reason));
    }
}

/// A live (or just-died) session. Cheap to share behind an `Arc`.
pub struct Session {
    sender: Arc<Sender>,
    shared: Arc<Shared>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.die("the client closed the connection".into());
    }
}

/// Values a subscription yields, in order. Dropping it unsubscribes.
pub struct Subscription {
    updates: mpsc::UnboundedReceiver<Result<JsonValue, CallError>>,
    _guard: RemoveOnDrop,
}

impl Subscription {
    /// The next value; an error when the query failed or the connection
    /// died (after which the subscription yields nothing more).
    pub async fn next(&mut self) -> Result<JsonValue, CallError> {
        match self.updates.recv().await {
            Some(update) => update,
            None => Err(CallError::lost("subscription closed")),
        }
    }
}

struct RemoveOnDrop {
    sender: Arc<Sender>,
    query_id: u32,
    armed: bool,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let _ = self.sender.enqueue(Command::RemoveQuery {
            query_id: self.query_id,
        });
    }
}

impl Session {
    /// Connects, sends Connect (+ Authenticate) and an empty query set
    /// change, and returns once the server's first Transition proved the
    /// session is live.
    pub async fn open(
        config: &SessionConfig,
        connection_count: u32,
        last_close_reason: &str,
    ) -> anyhow::Result<Arc<Session>> {
        tokio::time::timeout(
            config.setup_timeout,
            Self::open_inner(config, connection_count, last_close_reason),
        )
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "connecting to {} took longer than {:?}",
                config.ws_url,
                config.setup_timeout
            )
        })?
    }

    async fn open_inner(
        config: &SessionConfig,
        connection_count: u32,
        last_close_reason: &str,
    ) -> anyhow::Result<Arc<Session>> {
        let (ws, _response) = tokio_tungstenite::connect_async_with_config(
            config.ws_url.as_str(),
            Some(websocket_config()),
            true,
        )
        .await
        .map_err(|e| anyhow::anyhow!("WebSocket connect to {} failed: {e}", config.ws_url))?;
        let (mut sink, mut stream) = ws.split();

        let client_ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut frames = vec![ClientMessage::Connect {
            session_id: SessionId::new(uuid::Uuid::new_v4()),
            connection_count,
            last_close_reason: last_close_reason.to_string(),
            max_observed_timestamp: None,
            client_ts: Some(client_ts),
        }];
        if let Some(key) = &config.admin_key {
            frames.push(ClientMessage::Authenticate {
                base_version: 0,
                token: AuthenticationToken::Admin(key.clone(), None),
            });
        }
        frames.push(ClientMessage::ModifyQuerySet {
            base_version: 0,
            new_version: 1,
            modifications: vec![],
        });
        for frame in frames {
            sink.feed(Message::text(wire::encode(frame)?)).await?;
        }
        sink.flush().await?;

        let version = first_transition(&mut stream, config.admin_key.is_some()).await?;

        let (commands, command_rx) = mpsc::unbounded_channel();
        let (closed, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            next_query_id: AtomicU32::new(0),
            calls_in_flight: AtomicU32::new(0),
            closed,
        });
        let sender = Arc::new(Sender {
            outbox: Mutex::new(Outbox {
                sink,
                commands: command_rx,
                shared: shared.clone(),
                frames: VecDeque::new(),
                query_set_version: 1,
                next_request_id: 0,
            }),
            commands,
            nudge: Notify::new(),
            shared: shared.clone(),
        });
        tokio::spawn(sender.clone().write_loop());
        tokio::spawn(
            Reader {
                stream,
                shared: shared.clone(),
                sender: sender.clone(),
                version,
                parked: Vec::new(),
                chunks: ChunkAssembler::default(),
                linger_wanted: false,
            }
            .run(),
        );
        Ok(Arc::new(Session { sender, shared }))
    }

    pub fn is_dead(&self) -> bool {
        self.shared.closed.borrow().is_some()
    }

    /// Resolves with the reason once the session died.
    pub async fn closed(&self) -> String {
        let mut rx = self.shared.closed.subscribe();
        match rx.wait_for(|r| r.is_some()).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "session dropped".into(),
        }
    }

    /// Ends the session; outstanding requests fail.
    pub fn close(&self, reason: &str) {
        self.shared.die(reason.to_string());
    }

    /// Subscribe, wait for the first result, unsubscribe (`client.query`).
    pub async fn query(&self, path: &str, args: JsonValue) -> Result<QueryReply, Failed> {
        let (path, args) = prepare(path, args)?;
        let _call = CallInFlight::begin(&self.shared);
        let query_id = self.shared.next_query_id.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        self.send(Command::AddQuery {
            query_id,
            path,
            args,
            entry: QueryEntry::Once { reply, sent: None },
        })?;
        // If the caller gives up (timeout), the query leaves the set.
        let mut guard = RemoveOnDrop {
            sender: self.sender.clone(),
            query_id,
            armed: true,
        };
        let result = rx.await.unwrap_or_else(|_| Err(self.lost(None)));
        // Answered (or the session died): the entry is already gone.
        guard.armed = false;
        result
    }

    pub fn subscribe(&self, path: &str, args: JsonValue) -> Result<Subscription, Failed> {
        let (path, args) = prepare(path, args)?;
        let query_id = self.shared.next_query_id.fetch_add(1, Ordering::Relaxed);
        let (updates, rx) = mpsc::unbounded_channel();
        self.send(Command::AddQuery {
            query_id,
            path,
            args,
            entry: QueryEntry::Watch { updates },
        })?;
        Ok(Subscription {
            updates: rx,
            _guard: RemoveOnDrop {
                sender: self.sender.clone(),
                query_id,
                armed: true,
            },
        })
    }

    pub async fn mutation(&self, path: &str, args: JsonValue) -> Result<RequestReply, Failed> {
        let (path, args) = prepare(path, args)?;
        let _call = CallInFlight::begin(&self.shared);
        let (reply, rx) = oneshot::channel();
        self.send(Command::Mutation { path, args, reply })?;
        rx.await.unwrap_or_else(|_| Err(self.lost(None)))
    }

    pub async fn action(&self, path: &str, args: JsonValue) -> Result<RequestReply, Failed> {
        let (path, args) = prepare(path, args)?;
        let _call = CallInFlight::begin(&self.shared);
        let (reply, rx) = oneshot::channel();
        self.send(Command::Action { path, args, reply })?;
        rx.await.unwrap_or_else(|_| Err(self.lost(None)))
    }

    fn send(&self, command: Command) -> Result<(), Failed> {
        self.sender.submit(command).map_err(|_| self.lost(None))
    }

    fn lost(&self, sent: Option<Instant>) -> Failed {
        let reason = self
            .shared
            .closed
            .borrow()
            .clone()
            .unwrap_or_else(|| "the connection closed".into());
        Failed::new(sent, CallError::lost(&reason))
    }
}

fn prepare(path: &str, args: JsonValue) -> Result<(UdfPath, SerializedArgs), Failed> {
    let path =
        wire::parse_path(path).map_err(|e| Failed::new(None, CallError::Usage(e.to_string())))?;
    let args = wire::serialized_args(args)
        .map_err(|e| Failed::new(None, CallError::Usage(format!("arguments: {e}"))))?;
    Ok((path, args))
}

/// Reads Transitions until one reaches the versions the setup frames asked
/// for (the server may answer Authenticate and ModifyQuerySet separately).
async fn first_transition(
    stream: &mut SplitStream<Ws>,
    authenticated: bool,
) -> anyhow::Result<StateVersion> {
    let mut version = StateVersion::initial();
    loop {
        let message = stream
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("the server closed the connection during setup"))??;
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => anyhow::bail!(
                "the server closed the connection during setup: {}",
                frame.map(|f| f.reason.to_string()).unwrap_or_default()
            ),
            _ => continue,
        };
        match wire::decode(&text)? {
            ServerMessage::Transition {
                start_version,
                end_version,
                ..
            } => {
                anyhow::ensure!(
                    start_version == version,
                    "a setup Transition starts at {start_version:?}, not at {version:?}"
                );
                version = end_version;
                if version.query_set >= 1 && (!authenticated || version.identity >= 1) {
                    return Ok(version);
                }
            }
            ServerMessage::AuthError { error_message, .. } => {
                anyhow::bail!("the server rejected the admin key: {error_message}")
            }
            ServerMessage::FatalError { error_message } => {
                anyhow::bail!("the server failed the session during setup: {error_message}")
            }
            _ => continue,
        }
    }
}

/// The sending half. Whoever gets to the outbox first (usually the caller
/// itself) turns commands into frames and writes them: on an idle
/// connection a request goes out from the caller's own task, with no
/// hand-over to another task (each hand-over can cost a thread wake-up).
/// A caller that finds the outbox busy, or a socket that cannot take more
/// right now, leaves the rest to the writer task.
struct Sender {
    outbox: Mutex<Outbox>,
    commands: mpsc::UnboundedSender<Command>,
    /// Tells the writer task there is something to send (or to re-poll:
    /// a caller's attempt may have replaced the writer's socket waker).
    nudge: Notify,
    shared: Arc<Shared>,
}

impl Sender {
    /// Sends `command` now if this is the only call under way and the
    /// outbox is free, else queues it for the writer. Never waits, so it
    /// cannot be cancelled halfway.
    fn submit(&self, command: Command) -> Result<(), ()> {
        // Under load the writer task coalesces queued commands into fewer
        // frames and flushes; writing inline there would cost a syscall per
        // call and contend for the outbox. Inline is for the idle case.
        if self.shared.calls_in_flight.load(Ordering::Relaxed) > 1 {
            return self.enqueue(command);
        }
        let mut outbox = match self.outbox.try_lock() {
            Ok(outbox) => outbox,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return self.enqueue(command),
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let result = match outbox.gather(Some(command)) {
            Ok(()) => outbox.poll_send(&mut cx),
            Err(e) => std::task::Poll::Ready(Err(e)),
        };
        drop(outbox);
        match result {
            std::task::Poll::Ready(Ok(())) => Ok(()),
            std::task::Poll::Ready(Err(e)) => {
                self.shared.die(format!("sending failed: {e}"));
                Ok(())
            }
            std::task::Poll::Pending => {
                self.nudge.notify_one();
                Ok(())
            }
        }
    }

    /// Queues `command` for the writer task.
    fn enqueue(&self, command: Command) -> Result<(), ()> {
        self.commands.send(command).map_err(|_| ())?;
        self.nudge.notify_one();
        if self.shared.lock().dead.is_some() {
            // The writer may be gone: fail what is queued here and now.
            self.reject_queued();
        }
        Ok(())
    }

    /// After death: `gather` fails every queued request (nothing is sent).
    fn reject_queued(&self) {
        let _ = self.lock_outbox().gather(None);
    }

    fn lock_outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer task: sends whatever callers left behind, until the
    /// session dies; then closes the socket.
    async fn write_loop(self: Arc<Self>) {
        let shared = self.shared.clone();
        let mut closed = shared.closed.subscribe();
        'session: loop {
            tokio::select! {
                biased;
                _ = closed.wait_for(|r| r.is_some()) => break,
                _ = self.nudge.notified() => {}
            }
            loop {
                let send = std::future::poll_fn(|cx| {
                    let mut outbox = self.lock_outbox();
                    if let Err(e) = outbox.gather(None) {
                        return std::task::Poll::Ready(Err(e));
                    }
                    outbox.poll_send(cx)
                });
                let sent = tokio::select! {
                    biased;
                    _ = closed.wait_for(|r| r.is_some()) => break 'session,
                    sent = send => sent,
                    // Re-poll with this task's waker.
                    _ = self.nudge.notified() => continue,
                };
                if let Err(e) = sent {
                    shared.die(format!("sending failed: {e}"));
                    break 'session;
                }
                break;
            }
        }
        self.reject_queued();
        let _ = std::future::poll_fn(|cx| self.lock_outbox().sink.poll_close_unpin(cx)).await;
    }
}

struct Outbox {
    sink: SplitSink<Ws, Message>,
    /// Commands queued while the outbox was busy (and removes from
    /// dropped guards), in order.
    commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
    /// Encoded frames not yet handed to the socket, in protocol order.
    frames: VecDeque<Message>,
    query_set_version: u32,
    next_request_id: u32,
}

impl Outbox {
    /// Turns `first` and whatever else is queued (up to MAX_BATCH) into
    /// frames. Consecutive query set changes travel as one `ModifyQuerySet`
    /// (as Convex's clients batch them), so queued removes and adds cost one
    /// frame and one Transition; order is kept. Versions and request ids
    /// are assigned here, under the outbox lock, in the order frames go out.
    fn gather(&mut self, first: Option<Command>) -> anyhow::Result<()> {
        let mut modifications = Vec::new();
        let mut next = first.or_else(|| self.commands.try_recv().ok());
        let mut batched = 0;
        while let Some(command) = next.take() {
            match self.prepare(command) {
                Some(Frame::Modify(modification)) => modifications.push(modification),
                Some(Frame::RemoveAnswered) => self.push_modifications(&mut modifications, true)?,
                Some(Frame::Message(message)) => {
                    self.push_modifications(&mut modifications, false)?;
                    self.frames
                        .push_back(Message::text(wire::encode(*message)?));
                }
                None => {}
            }
            batched += 1;
            if batched < MAX_BATCH {
                next = self.commands.try_recv().ok();
            }
        }
        self.push_modifications(&mut modifications, false)
    }

    /// Hands every queued frame to the socket and flushes. `Pending` when
    /// the socket cannot take more yet; what is left stays queued.
    fn poll_send(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<anyhow::Result<()>> {
        use std::task::Poll;
        while !self.frames.is_empty() {
            match self.sink.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            }
            let frame = self.frames.pop_front().expect("checked non-empty");
            if let Err(e) = self.sink.start_send_unpin(frame) {
                return Poll::Ready(Err(e.into()));
            }
        }
        self.sink.poll_flush_unpin(cx).map_err(Into::into)
    }

    /// One ModifyQuerySet: the answered queries' removes, then
    /// `modifications`. Nothing when both are empty, and nothing at all
    /// unless `always` or there are modifications.
    fn push_modifications(
        &mut self,
        modifications: &mut Vec<QuerySetModification>,
        always: bool,
    ) -> anyhow::Result<()> {
        if modifications.is_empty() && !always {
            return Ok(());
        }
        let answered = std::mem::take(&mut self.shared.lock().answered);
        if answered.is_empty() && modifications.is_empty() {
            return Ok(());
        }
        let mut all: Vec<QuerySetModification> = answered
            .into_iter()
            .map(|query_id| QuerySetModification::Remove {
                query_id: QueryId::new(query_id),
            })
            .collect();
        all.append(modifications);
        let base_version = self.query_set_version;
        self.query_set_version += 1;
        let frame = ClientMessage::ModifyQuerySet {
            base_version,
            new_version: self.query_set_version,
            modifications: all,
        };
        self.frames.push_back(Message::text(wire::encode(frame)?));
        Ok(())
    }

    /// Registers the request (so its answer can never beat its entry) and
    /// says what to put on the wire for it, if anything.
    fn prepare(&mut self, command: Command) -> Option<Frame> {
        match command {
            Command::AddQuery {
                query_id,
                path,
                args,
                mut entry,
            } => {
                let mut pending = self.shared.lock();
                if let Some(reason) = &pending.dead {
                    reject_query(entry, reason);
                    return None;
                }
                if let QueryEntry::Once { sent, .. } = &mut entry {
                    *sent = Some(Instant::now());
                }
                pending.queries.insert(query_id, entry);
                Some(Frame::Modify(QuerySetModification::Add(Query {
                    query_id: QueryId::new(query_id),
                    udf_path: path,
                    args,
                    journal: None,
                    component_path: None,
                })))
            }
            Command::RemoveQuery { query_id } => {
                self.shared.lock().queries.remove(&query_id)?;
                Some(Frame::Modify(QuerySetModification::Remove {
                    query_id: QueryId::new(query_id),
                }))
            }
            Command::RemoveAnswered => Some(Frame::RemoveAnswered),
            Command::Mutation { path, args, reply } => {
                let request_id = self.register(reply)?;
                Some(Frame::Message(Box::new(ClientMessage::Mutation {
                    request_id,
                    udf_path: path,
                    args,
                    component_path: None,
                })))
            }
            Command::Action { path, args, reply } => {
                let request_id = self.register(reply)?;
                Some(Frame::Message(Box::new(ClientMessage::Action {
                    request_id,
                    udf_path: path,
                    args,
                    component_path: None,
                })))
            }
        }
    }

    fn register(&mut self, reply: oneshot::Sender<Result<RequestReply, Failed>>) -> Option<u32> {
        let mut pending = self.shared.lock();
        if let Some(reason) = &pending.dead {
            let _ = reply.send(Err(Failed::new(None, CallError::lost(reason))));
            return None;
        }
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        pending.requests.insert(
            request_id,
            RequestEntry {
                reply,
                sent: Instant::now(),
            },
        );
        Some(request_id)
    }
}

/// What one command puts on the wire.
enum Frame {
    Modify(QuerySetModification),
    /// A ModifyQuerySet carrying only the answered queries' removes (if
    /// another change has not carried them already).
    RemoveAnswered,
    /// Boxed: a ClientMessage is several times larger than a modification.
    Message(Box<ClientMessage>),
}

fn reject_query(entry: QueryEntry, reason: &str) {
    match entry {
        QueryEntry::Once { reply, .. } => {
            let _ = reply.send(Err(Failed::new(None, CallError::lost(reason))));
        }
        QueryEntry::Watch { updates } => {
            let _ = updates.send(Err(CallError::lost(reason)));
        }
    }
}

/// A successful mutation whose commit the client has not seen yet.
struct ParkedMutation {
    ts: Timestamp,
    entry: RequestEntry,
    value: JsonValue,
    responded: Instant,
}

struct Reader {
    stream: SplitStream<Ws>,
    shared: Arc<Shared>,
    sender: Arc<Sender>,
    version: StateVersion,
    parked: Vec<ParkedMutation>,
    chunks: ChunkAssembler,
    /// Queries were answered: their removes must go out within
    /// REMOVE_LINGER even if no other query set change carries them. The
    /// reader keeps this timer itself so that answering a query wakes the
    /// caller alone, not the writer as well.
    linger_wanted: bool,
}

impl Reader {
    async fn run(mut self) {
        let mut closed = self.shared.closed.subscribe();
        // Both timers live across messages and are re-armed only when
        // needed: creating a timer per message costs a timer-wheel insert
        // and removal for every frame.
        let mut last_heard = tokio::time::Instant::now();
        let inactivity = tokio::time::sleep(INACTIVITY_LIMIT);
        let linger = tokio::time::sleep(REMOVE_LINGER);
        tokio::pin!(inactivity, linger);
        let mut linger_armed = false;
        let reason = loop {
            if self.linger_wanted && !linger_armed {
                linger
                    .as_mut()
                    .reset(tokio::time::Instant::now() + REMOVE_LINGER);
                linger_armed = true;
            }
            let next = tokio::select! {
                biased;
                _ = closed.wait_for(|r| r.is_some()) => break None,
                next = self.stream.next() => next,
                _ = &mut linger, if linger_armed => {
                    linger_armed = false;
                    self.linger_wanted = false;
                    if !self.shared.lock().answered.is_empty() {
                        let _ = self.sender.enqueue(Command::RemoveAnswered);
                    }
                    continue;
                }
                _ = &mut inactivity => {
                    let silent_until = last_heard + INACTIVITY_LIMIT;
                    if tokio::time::Instant::now() >= silent_until {
                        break Some(format!(
                            "no message from the server for {INACTIVITY_LIMIT:?}"
                        ));
                    }
                    inactivity.as_mut().reset(silent_until);
                    continue;
                }
            };
            last_heard = tokio::time::Instant::now();
            let message = match next {
                None => break Some("the server closed the connection".into()),
                Some(Err(e)) => break Some(format!("the connection failed: {e}")),
                Some(Ok(message)) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => {
                    break Some(format!(
                        "the server closed the connection{}",
                        frame
                            .map(|f| format!(": {} {}", f.code, f.reason))
                            .unwrap_or_default()
                    ));
                }
                Message::Binary(_) => break Some("the server sent a binary frame".into()),
                _ => continue,
            };
            if let Err(reason) = self.handle_text(&text) {
                break Some(reason);
            }
        };
        let reason = reason
            .or_else(|| self.shared.closed.borrow().clone())
            .unwrap_or_else(|| "the connection closed".into());
        for parked in self.parked.drain(..) {
            let _ = parked.entry.reply.send(Err(Failed::new(
                Some(parked.entry.sent),
                CallError::lost(&reason),
            )));
        }
        self.shared.die(reason);
    }

    /// `Err(reason)` ends the session.
    fn handle_text(&mut self, text: &str) -> Result<(), String> {
        let message = wire::decode(text).map_err(|e| format!("undecodable server message: {e}"))?;
        self.handle(message)
    }

    fn handle(&mut self, message: ServerMsg) -> Result<(), String> {
        match message {
            ServerMessage::Transition {
                start_version,
                end_version,
                modifications,
                ..
            } => {
                if start_version != self.version {
                    return Err(format!(
                        "a Transition starts at {start_version:?} but the client is at {:?}",
                        self.version
                    ));
                }
                self.version = end_version;
                self.apply(modifications);
                self.release_visible_mutations();
            }
            ServerMessage::TransitionChunk {
                chunk,
                part_number,
                total_parts,
                transition_id,
            } => {
                let whole = self
                    .chunks
                    .push(transition_id, part_number, total_parts, chunk)
                    .map_err(|e| e.to_string())?;
                if let Some(whole) = whole {
                    return self.handle_text(&whole);
                }
            }
            ServerMessage::MutationResponse {
                request_id,
                result,
                ts,
                ..
            } => {
                let responded = Instant::now();
                let Some(entry) = self.shared.lock().requests.remove(&request_id) else {
                    return Ok(());
                };
                match result {
                    Err(e) => {
                        let _ = entry.reply.send(Err(Failed::new(
                            Some(entry.sent),
                            CallError::Function(e.get_message().to_string()),
                        )));
                    }
                    Ok(value) => match ts {
                        Some(ts) if ts > self.version.ts => self.parked.push(ParkedMutation {
                            ts,
                            entry,
                            value: value.0,
                            responded,
                        }),
                        _ => {
                            let _ = entry.reply.send(Ok(RequestReply {
                                value: value.0,
                                sent: entry.sent,
                                responded,
                                visible: responded,
                            }));
                        }
                    },
                }
            }
            ServerMessage::ActionResponse {
                request_id, result, ..
            } => {
                let responded = Instant::now();
                let Some(entry) = self.shared.lock().requests.remove(&request_id) else {
                    return Ok(());
                };
                let reply = match result {
                    Ok(value) => Ok(RequestReply {
                        value: value.0,
                        sent: entry.sent,
                        responded,
                        visible: responded,
                    }),
                    Err(e) => Err(Failed::new(
                        Some(entry.sent),
                        CallError::Function(e.get_message().to_string()),
                    )),
                };
                let _ = entry.reply.send(reply);
            }
            ServerMessage::AuthError { error_message, .. } => {
                return Err(format!(
                    "the server rejected the credentials: {error_message}"
                ));
            }
            ServerMessage::FatalError { error_message } => {
                return Err(format!("the server ended the session: {error_message}"));
            }
            ServerMessage::Ping => {}
        }
        Ok(())
    }

    fn apply(&mut self, modifications: Vec<StateModification<wire::WireValue>>) {
        let mut answered = Vec::new();
        {
            let mut pending = self.shared.lock();
            for modification in modifications {
                let (query_id, update) = match modification {
                    StateModification::QueryUpdated {
                        query_id, value, ..
                    } => (query_id.get_id(), Ok(value.0)),
                    StateModification::QueryFailed {
                        query_id,
                        error_message,
                        ..
                    } => (query_id.get_id(), Err(CallError::Function(error_message))),
                    StateModification::QueryRemoved { .. } => continue,
                };
                let keep = match pending.queries.get(&query_id) {
                    None => continue,
                    Some(QueryEntry::Watch { updates }) => updates.send(update).is_ok(),
                    Some(QueryEntry::Once { .. }) => {
                        if let Some(QueryEntry::Once { reply, sent }) =
                            pending.queries.remove(&query_id)
                        {
                            let sent = sent.unwrap_or_else(Instant::now);
                            let _ = reply.send(
                                update
                                    .map(|value| QueryReply { value, sent })
                                    .map_err(|e| Failed::new(Some(sent), e)),
                            );
                        }
                        answered.push(query_id);
                        continue;
                    }
                };
                if !keep {
                    // The subscriber is gone; its guard's remove will find nothing.
                    pending.queries.remove(&query_id);
                    answered.push(query_id);
                }
            }
        }
        if answered.is_empty() {
            return;
        }
        self.shared.lock().answered.extend(answered);
        self.linger_wanted = true;
    }

    fn release_visible_mutations(&mut self) {
        if self.parked.is_empty() {
            return;
        }
        let now = Instant::now();
        let reached = self.version.ts;
        let mut index = 0;
        while index < self.parked.len() {
            if self.parked[index].ts <= reached {
                let parked = self.parked.swap_remove(index);
                let _ = parked.entry.reply.send(Ok(RequestReply {
                    value: parked.value,
                    sent: parked.entry.sent,
                    responded: parked.responded,
                    visible: now,
                }));
            } else {
                index += 1;
            }
        }
    }
}
