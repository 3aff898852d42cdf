//! Runs functions: looks them up, validates arguments, applies injected
//! faults, and executes queries in a snapshot and mutations as optimistic
//! transactions retried on conflict. Both transports (HTTP and sync) call
//! in here.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::faults::{FaultKind, Faults, INJECTED_FAULT};
use crate::functions::{ActionCtx, Args, FnError, FunctionDef, FunctionKind, Handler, Registry};
use crate::stats::Counters;
use crate::store::transaction::Transaction;
use crate::store::{ReadRange, Store, StoreState};

/// After this many lost conflicts a mutation gives up (Convex also bounds
/// its retries); with the benchmark set this is never reached in practice.
const MAX_OCC_ATTEMPTS: u32 = 1000;

pub struct Runtime {
    pub store: Store,
    pub registry: Registry,
    pub faults: Faults,
    pub counters: Counters,
    pub admin_key: String,
    pub instance_name: String,
}

#[derive(Debug)]
pub struct FnSuccess {
    pub value: Value,
    pub log_lines: Vec<String>,
    /// Commit timestamp of a mutation.
    pub ts: Option<u64>,
}

#[derive(Debug)]
pub struct FnFailure {
    pub error: FnError,
    pub log_lines: Vec<String>,
}

impl From<FnError> for FnFailure {
    fn from(error: FnError) -> Self {
        FnFailure {
            error,
            log_lines: Vec::new(),
        }
    }
}

pub type FnOutcome = Result<FnSuccess, FnFailure>;

/// One query execution: its result and what it read.
pub struct QueryRun {
    pub result: Result<Value, FnError>,
    pub reads: Vec<ReadRange>,
    pub log_lines: Vec<String>,
}

fn kind_name(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Query => "Query",
        FunctionKind::Mutation => "Mutation",
        FunctionKind::Action => "Action",
    }
}

impl Runtime {
    /// Finds a public function of the expected kind and validates its
    /// arguments.
    pub fn resolve(
        &self,
        path: &str,
        kind: FunctionKind,
        args: &Args,
    ) -> Result<&FunctionDef, FnError> {
        let def = self
            .registry
            .get(path)
            .ok_or_else(|| FnError::not_found(path))?;
        if def.kind() != kind {
            return Err(FnError::plain(format!(
                "Trying to execute {} as {}, but it is defined as {}.",
                def.path,
                kind_name(kind),
                kind_name(def.kind())
            )));
        }
        crate::functions::args::validate(def.args, args)?;
        Ok(def)
    }

    /// Runs a query against a snapshot the caller holds (so a session can
    /// run many queries at one timestamp and register their read sets
    /// before any commit slips in).
    pub fn execute_query(&self, state: &StoreState, def: &FunctionDef, args: &Args) -> QueryRun {
        Counters::add(&self.counters.queries, 1);
        let Handler::Query(handler) = def.handler else {
            return QueryRun {
                result: Err(FnError::plain(format!("{} is not a query", def.path))),
                reads: Vec::new(),
                log_lines: Vec::new(),
            };
        };
        let mut tx = Transaction::new(state, false);
        let result = handler(&mut tx, args);
        let parts = tx.into_parts();
        QueryRun {
            result,
            reads: parts.reads,
            log_lines: parts.log_lines,
        }
    }

    /// A one-shot query (HTTP API).
    pub async fn run_query(&self, path: &str, args: Args) -> FnOutcome {
        let def = self.resolve(path, FunctionKind::Query, &args)?;
        if self.faults.before_execution(FaultKind::Query).await {
            Counters::add(&self.counters.queries, 1);
            return Err(FnError::plain(INJECTED_FAULT).into());
        }
        let run = {
            let state = self.store.read();
            self.execute_query(&state, def, &args)
        };
        match run.result {
            Ok(value) => Ok(FnSuccess {
                value,
                log_lines: run.log_lines,
                ts: None,
            }),
            Err(error) => Err(FnFailure {
                error,
                log_lines: run.log_lines,
            }),
        }
    }

    pub async fn run_mutation(&self, path: &str, args: Args) -> FnOutcome {
        self.run_mutation_observed(path, args, None).await
    }

    /// Like `run_mutation`; `on_commit` runs inside a successful commit.
    pub async fn run_mutation_observed(
        &self,
        path: &str,
        args: Args,
        on_commit: Option<&(dyn Fn(u64) + Send + Sync)>,
    ) -> FnOutcome {
        let def = self.resolve(path, FunctionKind::Mutation, &args)?;
        let Handler::Mutation(handler) = def.handler else {
            unreachable!("resolve checked the kind");
        };
        Counters::add(&self.counters.mutations, 1);
        if self.faults.before_execution(FaultKind::Mutation).await {
            return Err(FnError::plain(INJECTED_FAULT).into());
        }
        for attempt in 0..MAX_OCC_ATTEMPTS {
            let (result, parts) = {
                let state = self.store.read();
                let mut tx = Transaction::new(&state, true);
                let result = handler(&mut tx, &args);
                (result, tx.into_parts())
            };
            let value = match result {
                Ok(value) => value,
                Err(error) => {
                    return Err(FnFailure {
                        error,
                        log_lines: parts.log_lines,
                    });
                }
            };
            // Like a real backend, execution and commit are separate steps:
            // other mutations may commit in between, which is what makes
            // conflicts (and their retries) possible.
            tokio::task::yield_now().await;
            let wrote = !parts.writes.is_empty();
            match self
                .store
                .commit(parts.begin_ts, &parts.reads, parts.writes, on_commit)
            {
                Ok(ts) => {
                    if wrote {
                        Counters::add(&self.counters.commits, 1);
                    }
                    return Ok(FnSuccess {
                        value,
                        log_lines: parts.log_lines,
                        ts: Some(ts),
                    });
                }
                Err(_conflict) => {
                    Counters::add(&self.counters.occ_retries, 1);
                    if attempt > 3 {
                        // Back off a little so a hot row is not a livelock.
                        let jitter = rand::random::<u64>() % (100 * u64::from(attempt.min(50)));
                        tokio::time::sleep(Duration::from_micros(jitter)).await;
                    }
                }
            }
        }
        Err(FnError::plain(format!(
            "Mutation {} lost {MAX_OCC_ATTEMPTS} optimistic concurrency conflicts in a row",
            def.path
        ))
        .into())
    }

    pub async fn run_action(self: &Arc<Self>, path: &str, args: Args) -> FnOutcome {
        let def = self.resolve(path, FunctionKind::Action, &args)?;
        let Handler::Action(handler) = def.handler else {
            unreachable!("resolve checked the kind");
        };
        Counters::add(&self.counters.actions, 1);
        if self.faults.before_execution(FaultKind::Action).await {
            return Err(FnError::plain(INJECTED_FAULT).into());
        }
        let ctx = ActionCtx::new(self.clone());
        let result = handler(ctx.clone(), args).await;
        let log_lines = ctx.take_log_lines();
        match result {
            Ok(value) => Ok(FnSuccess {
                value,
                log_lines,
                ts: None,
            }),
            Err(error) => Err(FnFailure { error, log_lines }),
        }
    }

    pub fn kind_of(&self, path: &str) -> Option<FunctionKind> {
        self.registry.get(path).map(FunctionDef::kind)
    }
}
