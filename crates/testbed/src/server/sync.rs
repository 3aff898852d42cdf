//! One sync WebSocket session: the query set, versions, and the ordering of
//! transitions and responses the official clients rely on.
//!
//! The session loop owns the state; a writer task owns the socket's send
//! half (so a stall fault holds responses without blocking requests).
//! Mutations and actions run as spawned tasks; responses go out as they
//! finish. A session whose own mutation has committed but not yet been
//! answered defers transitions until it sends that MutationResponse, so
//! the response always precedes the Transition that reflects it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use convex_sync_types::types::{ErrorPayload, LogLinesMessage};
use convex_sync_types::{
    AuthenticationToken, ClientMessage, QueryId, QuerySetModification, ServerMessage,
    StateModification, StateVersion, Timestamp,
};
use futures_util::stream::{FuturesUnordered, SplitSink};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::faults::{FaultKind, INJECTED_FAULT};
use crate::functions::{FnError, FunctionKind, args_object};
use crate::runtime::{FnOutcome, Runtime};
use crate::stats::Counters;
use crate::store::now_nanos;
use crate::subscriptions::{SessionSignal, SubKey};

/// Idle connections get a Ping this often (the npm client reconnects after
/// 60 s of silence).
const PING_INTERVAL: Duration = Duration::from_secs(5);

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

enum Outgoing {
    Server(ServerMessage<Value>),
    Close(String),
}

/// Why a session ends early.
enum Fatal {
    /// The client broke the protocol: FatalError, then close.
    Protocol(String),
    /// Authentication failed: AuthError, then close.
    Auth(ServerMessage<Value>),
}

struct SubscribedQuery {
    /// The function's canonical path, or why it cannot run.
    resolved: Result<&'static str, FnError>,
    args: crate::functions::Args,
}

type Response = (u32, FnOutcome);

struct Session {
    id: u64,
    rt: Arc<Runtime>,
    out: mpsc::UnboundedSender<Outgoing>,
    signal: Arc<SessionSignal>,
    version: StateVersion,
    queries: HashMap<u32, SubscribedQuery>,
    client_clock_skew: Option<i64>,
    last_sent: Instant,
    /// Mutations of this session that committed but are not answered yet.
    unanswered_commits: Arc<AtomicUsize>,
    /// Authenticated with this instance's admin key (system functions
    /// such as `_system/frontend/latestExport` need it).
    admin: bool,
}

pub async fn run(rt: Arc<Runtime>, socket: WebSocket) {
    Counters::add(&rt.counters.connections_opened, 1);
    Counters::add(&rt.counters.connections_active, 1);
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let signal = Arc::new(SessionSignal::default());
    rt.store
        .subscriptions
        .lock()
        .add_session(id, signal.clone());
    let mut drop_signal = rt.faults.drop_signal();
    drop_signal.borrow_and_update();

    let (sink, mut stream) = socket.split();
    let (out, out_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(rt.clone(), sink, out_rx));
    let mut session = Session {
        id,
        rt: rt.clone(),
        out,
        signal: signal.clone(),
        version: StateVersion::initial(),
        queries: HashMap::new(),
        client_clock_skew: None,
        last_sent: Instant::now(),
        unanswered_commits: Arc::new(AtomicUsize::new(0)),
        admin: false,
    };
    let mut mutations: FuturesUnordered<JoinHandle<Response>> = FuturesUnordered::new();
    let mut actions: FuturesUnordered<JoinHandle<Response>> = FuturesUnordered::new();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let mut abrupt = false;

    loop {
        let result = tokio::select! {
            _ = drop_signal.changed() => {
                abrupt = true;
                break;
            }
            frame = stream.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(text))) => {
                    session.handle_text(text.as_str(), &mut mutations, &mut actions).await
                }
                Some(Ok(Message::Binary(_))) => Err(Fatal::Protocol(
                    "Binary frames are not part of the sync protocol; send JSON text frames".into(),
                )),
                Some(Ok(_)) => Ok(()),
            },
            Some(done) = mutations.next(), if !mutations.is_empty() => {
                session.mutation_done(done).await;
                Ok(())
            }
            Some(done) = actions.next(), if !actions.is_empty() => {
                session.action_done(done);
                Ok(())
            }
            _ = signal.notify.notified() => {
                // Otherwise the answer to our own mutation is imminent and
                // its `mutation_done` advances.
                if session.unanswered_commits.load(Ordering::Acquire) == 0 {
                    session.advance(Vec::new(), Vec::new(), None, None, 0).await;
                }
                Ok(())
            }
            _ = ping.tick() => {
                // Slack for timer granularity: the tick and `last_sent` are
                // measured from nearly the same instant.
                if session.last_sent.elapsed() + Duration::from_millis(50) >= PING_INTERVAL {
                    session.send(ServerMessage::Ping);
                }
                Ok(())
            }
        };
        match result {
            Ok(()) => {}
            Err(Fatal::Protocol(message)) => {
                session.send(ServerMessage::FatalError {
                    error_message: message.clone(),
                });
                let _ = session.out.send(Outgoing::Close(message));
                break;
            }
            Err(Fatal::Auth(message)) => {
                session.send(message);
                let _ = session.out.send(Outgoing::Close("AuthError".into()));
                break;
            }
        }
    }

    rt.store.subscriptions.lock().remove_session(id);
    // Requests already running finish on their own (a mutation still
    // commits), as on a real backend; their responses are discarded.
    drop((mutations, actions));
    let Session { out, .. } = session;
    drop(out);
    if abrupt {
        writer.abort();
    } else {
        let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    }
    rt.counters
        .connections_active
        .fetch_sub(1, Ordering::Relaxed);
}

async fn write_loop(
    rt: Arc<Runtime>,
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(outgoing) = rx.recv().await {
        rt.faults.hold_response().await;
        let message = match outgoing {
            Outgoing::Server(mut message) => {
                if let Ok(ts) = Timestamp::try_from(now_nanos()) {
                    message.inject_server_ts(ts);
                }
                Message::Text(super::wire::encode(message).into())
            }
            Outgoing::Close(reason) => {
                let reason = truncate_reason(&reason);
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: 1011,
                        reason: reason.into(),
                    })))
                    .await;
                return;
            }
        };
        if sink.feed(message).await.is_err() {
            return;
        }
        if rx.is_empty() && sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.flush().await;
}

/// A close reason must fit in 123 bytes.
fn truncate_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

fn ts_of(ts: u64) -> Timestamp {
    Timestamp::try_from(ts).unwrap_or(Timestamp::MAX)
}

fn error_payload(error: FnError) -> ErrorPayload<Value> {
    match error.data {
        Some(data) => ErrorPayload::ErrorData {
            message: error.message,
            data,
        },
        None => ErrorPayload::Message(error.message),
    }
}

fn query_failed(query_id: u32, error: FnError, log_lines: Vec<String>) -> StateModification<Value> {
    StateModification::QueryFailed {
        query_id: QueryId::new(query_id),
        error_message: error.message,
        log_lines: LogLinesMessage(log_lines),
        journal: None,
        error_data: error.data,
    }
}

impl Session {
    fn send(&mut self, message: ServerMessage<Value>) {
        self.last_sent = Instant::now();
        let _ = self.out.send(Outgoing::Server(message));
    }

    async fn handle_text(
        &mut self,
        text: &str,
        mutations: &mut FuturesUnordered<JoinHandle<Response>>,
        actions: &mut FuturesUnordered<JoinHandle<Response>>,
    ) -> Result<(), Fatal> {
        let json: Value = serde_json::from_str(text)
            .map_err(|e| Fatal::Protocol(format!("Received a frame that is not JSON: {e}")))?;
        let message = ClientMessage::try_from(json)
            .map_err(|e| Fatal::Protocol(format!("Received an invalid client message: {e:#}")))?;
        match message {
            ClientMessage::Connect { client_ts, .. } => {
                if let Some(client_ts) = client_ts {
                    let server_ms = (now_nanos() / 1_000_000) as i64;
                    self.client_clock_skew = Some(client_ts as i64 - server_ms);
                }
            }
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications,
            } => {
                if base_version != self.version.query_set {
                    return Err(Fatal::Protocol(format!(
                        "Base version {base_version} passed up doesn't match the current version {}",
                        self.version.query_set
                    )));
                }
                if new_version <= base_version {
                    return Err(Fatal::Protocol(format!(
                        "New query set version {new_version} must be greater than the base version {base_version}"
                    )));
                }
                let mut removed = Vec::new();
                let mut added = Vec::new();
                for modification in modifications {
                    match modification {
                        QuerySetModification::Add(query) => {
                            let query_id = query.query_id.get_id();
                            if self.queries.contains_key(&query_id) {
                                return Err(Fatal::Protocol(format!(
                                    "Query id {query_id} was added twice"
                                )));
                            }
                            let path = query.udf_path.to_string();
                            let subscribed = self.resolve_query(&path, query.args.get());
                            self.queries.insert(query_id, subscribed);
                            added.push(query_id);
                        }
                        QuerySetModification::Remove { query_id } => {
                            let query_id = query_id.get_id();
                            if self.queries.remove(&query_id).is_none() {
                                return Err(Fatal::Protocol(format!(
                                    "Query id {query_id} was removed but is not in the query set"
                                )));
                            }
                            self.rt.store.subscriptions.lock().unregister(SubKey {
                                session: self.id,
                                query: query_id,
                            });
                            removed.push(StateModification::QueryRemoved {
                                query_id: QueryId::new(query_id),
                            });
                        }
                    }
                }
                self.advance(removed, added, Some(new_version), None, 0)
                    .await;
            }
            ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
                ..
            } => {
                let rt = self.rt.clone();
                let path = udf_path.to_string();
                let args = args.get().to_string();
                let unanswered = self.unanswered_commits.clone();
                mutations.push(tokio::spawn(async move {
                    let on_commit = move |_ts: u64| {
                        unanswered.fetch_add(1, Ordering::AcqRel);
                    };
                    let outcome = match parse_args(&args) {
                        Ok(args) => {
                            rt.run_mutation_observed(&path, args, Some(&on_commit))
                                .await
                        }
                        Err(error) => Err(error.into()),
                    };
                    (request_id, outcome)
                }));
            }
            ClientMessage::Action {
                request_id,
                udf_path,
                args,
                ..
            } => {
                let rt = self.rt.clone();
                let path = udf_path.to_string();
                let args = args.get().to_string();
                actions.push(tokio::spawn(async move {
                    let outcome = match parse_args(&args) {
                        Ok(args) => rt.run_action(&path, args).await,
                        Err(error) => Err(error.into()),
                    };
                    (request_id, outcome)
                }));
            }
            ClientMessage::Authenticate {
                base_version,
                token,
            } => {
                if base_version != self.version.identity {
                    return Err(Fatal::Protocol(format!(
                        "Authenticate base version {base_version} doesn't match the current identity version {}",
                        self.version.identity
                    )));
                }
                if let AuthenticationToken::Admin(key, _) = &token
                    && key != &self.rt.admin_key
                {
                    return Err(Fatal::Auth(ServerMessage::AuthError {
                        error_message: "The provided admin key was invalid for this instance"
                            .into(),
                        base_version: Some(base_version),
                        auth_update_attempted: Some(true),
                    }));
                }
                // User JWTs are accepted without verification: no benchmark
                // function reads the identity.
                self.admin = matches!(token, AuthenticationToken::Admin(..));
                self.advance(Vec::new(), Vec::new(), None, Some(base_version + 1), 0)
                    .await;
            }
            ClientMessage::Event(_) => {}
        }
        Ok(())
    }

    fn resolve_query(&self, path: &str, raw_args: &str) -> SubscribedQuery {
        let args = match parse_args(raw_args) {
            Ok(args) => args,
            Err(error) => {
                return SubscribedQuery {
                    resolved: Err(error),
                    args: Default::default(),
                };
            }
        };
        if crate::functions::is_system_path(path) && !self.admin {
            return SubscribedQuery {
                resolved: Err(crate::functions::FnError::plain(
                    crate::functions::system_needs_admin(path),
                )),
                args,
            };
        }
        let resolved = self
            .rt
            .resolve(path, FunctionKind::Query, &args)
            .map(|def| def.path);
        SubscribedQuery { resolved, args }
    }

    /// Moves the client to the store's current timestamp: runs `added`
    /// queries and every query a commit invalidated, all against one
    /// snapshot, and sends the Transition. Sends nothing when nothing
    /// changed, unless the client must reach `min_ts`.
    async fn advance(
        &mut self,
        mut modifications: Vec<StateModification<Value>>,
        added: Vec<u32>,
        new_query_set: Option<u32>,
        new_identity: Option<u32>,
        min_ts: u64,
    ) {
        let rt = self.rt.clone();
        if !added.is_empty() || self.signal.has_dirty() {
            if let Some(delay) = rt.faults.latency(FaultKind::Query) {
                tokio::time::sleep(delay).await;
            }
        }
        let state = rt.store.read();
        let dirty = self.signal.take_dirty();
        let mut to_run: Vec<u32> = added;
        let mut seen: HashSet<u32> = to_run.iter().copied().collect();
        let mut reruns = 0;
        for query_id in dirty {
            if self.queries.contains_key(&query_id) && seen.insert(query_id) {
                to_run.push(query_id);
                reruns += 1;
            }
        }
        Counters::add(&rt.counters.subscription_reruns, reruns);
        let mut read_sets = Vec::with_capacity(to_run.len());
        for query_id in to_run {
            let query = &self.queries[&query_id];
            let path = match &query.resolved {
                Ok(path) => *path,
                Err(error) => {
                    modifications.push(query_failed(query_id, error.clone(), Vec::new()));
                    continue;
                }
            };
            let def = rt.registry.get(path).expect("resolved paths exist");
            let mut run = rt.execute_query(&state, def, &query.args);
            // An injected failure still keeps the read set, so the next
            // commit in its ranges re-runs the query (which may succeed).
            if rt.faults.inject_error(FaultKind::Query) {
                run.result = Err(FnError::plain(INJECTED_FAULT));
            }
            read_sets.push((query_id, run.reads));
            modifications.push(match run.result {
                Ok(value) => StateModification::QueryUpdated {
                    query_id: QueryId::new(query_id),
                    value,
                    log_lines: LogLinesMessage(run.log_lines),
                    journal: None,
                },
                Err(error) => query_failed(query_id, error, run.log_lines),
            });
        }
        if !read_sets.is_empty() {
            let mut subscriptions = rt.store.subscriptions.lock();
            for (query_id, reads) in &read_sets {
                subscriptions.register(
                    SubKey {
                        session: self.id,
                        query: *query_id,
                    },
                    reads,
                );
            }
        }
        let ts = state.ts;
        drop(state);

        let end_version = StateVersion {
            query_set: new_query_set.unwrap_or(self.version.query_set),
            identity: new_identity.unwrap_or(self.version.identity),
            ts: ts_of(ts),
        };
        let needed = !modifications.is_empty()
            || end_version.query_set != self.version.query_set
            || end_version.identity != self.version.identity
            || min_ts > u64::from(self.version.ts);
        if !needed {
            return;
        }
        let transition = ServerMessage::Transition {
            start_version: self.version,
            end_version,
            modifications,
            client_clock_skew: self.client_clock_skew,
            server_ts: None,
        };
        self.version = end_version;
        self.send(transition);
    }

    async fn mutation_done(&mut self, done: Result<Response, tokio::task::JoinError>) {
        let Ok((request_id, outcome)) = done else {
            return;
        };
        let (result, ts, log_lines) = match outcome {
            Ok(success) => (Ok(success.value), success.ts, success.log_lines),
            Err(failure) => (Err(error_payload(failure.error)), None, failure.log_lines),
        };
        self.send(ServerMessage::MutationResponse {
            request_id,
            result,
            ts: ts.map(ts_of),
            log_lines: LogLinesMessage(log_lines),
        });
        if ts.is_some() {
            self.unanswered_commits.fetch_sub(1, Ordering::AcqRel);
        }
        // Also runs queries invalidated while transitions were deferred.
        // The official clients complete a successful mutation only on a
        // Transition received after its response; a read-only mutation's
        // ts can equal the version already sent, so one is forced then (its
        // end version may equal its start version).
        let min_ts = ts.map_or(0, |ts| ts.max(u64::from(self.version.ts) + 1));
        self.advance(Vec::new(), Vec::new(), None, None, min_ts)
            .await;
    }

    fn action_done(&mut self, done: Result<Response, tokio::task::JoinError>) {
        let Ok((request_id, outcome)) = done else {
            return;
        };
        let (result, log_lines) = match outcome {
            Ok(success) => (Ok(success.value), success.log_lines),
            Err(failure) => (Err(error_payload(failure.error)), failure.log_lines),
        };
        self.send(ServerMessage::ActionResponse {
            request_id,
            result,
            log_lines: LogLinesMessage(log_lines),
        });
    }
}

/// Sync messages carry args as a JSON array holding one object.
fn parse_args(raw: &str) -> Result<crate::functions::Args, FnError> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| FnError::plain(format!("Function arguments are not valid JSON: {e}")))?;
    args_object(value).map_err(FnError::plain)
}
