//! Orchestration of one run: validate everything, connect, seed, prepare
//! the scenarios, drive load, tick intervals (progress, exporters, partial
//! flushes), then write the final files and the report.
//!
//! Exit codes: 0 passed; 1 thresholds or error budget failed; 2 invalid
//! input (nothing started); 3 the run could not complete (backend failed,
//! interrupted, setup failed) but files marked partial were written.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use results_format::{
    BackendInfo, HISTOGRAMS_FILE, HLOG_FILE, HistogramsFile, Outcome, RUN_FILE, RunInfo, RunStatus,
    SCHEMA_VERSION, WorkloadInfo, write_json_atomic,
};

use crate::cli::{Cli, OutputFormat};
use crate::engine::{self, StopSignal, Window};
use crate::export::prometheus;
use crate::export::statsd::StatsdSender;
use crate::recorder::{INTERVAL, Recorder, hlog::HlogWriter};
use crate::run_env::{RunEnv, SeedProgress};
use crate::scenario::{MetricSink, Scenario};
use crate::workload::model::{ScenarioSpec, Workload};
use crate::workload::parse::{LoadedWorkload, load_workload};
use crate::{host, progress, report, scenarios, thresholds};

pub const EXIT_PASSED: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID_INPUT: i32 = 2;
pub const EXIT_INCOMPLETE: i32 = 3;

/// Partial results are rewritten this often (in intervals)...
const FLUSH_EVERY_INTERVALS: u32 = 5;
/// ...and, once the run is long enough that `histograms.json` is large
/// (each flush rewrites every interval so far), this often.
const FLUSH_EVERY_INTERVALS_LATER: u32 = 30;
const FLUSH_SLOWS_DOWN_AFTER: u32 = 300;

fn flush_due(closed: u32) -> bool {
    let every = if closed < FLUSH_SLOWS_DOWN_AFTER {
        FLUSH_EVERY_INTERVALS
    } else {
        FLUSH_EVERY_INTERVALS_LATER
    };
    closed % every == 0
}
/// The backend is declared dead after this many failed health checks in a row.
const HEALTH_FAILURES_TO_FAIL: u32 = 3;
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(2);
/// `--once` gives up on scenarios that take longer than this.
const ONCE_LIMIT: Duration = Duration::from_secs(120);

/// Everything checked before anything starts.
struct Plan {
    loaded: LoadedWorkload,
    workload_path: PathBuf,
    url: String,
    admin_key: String,
    duration: Duration,
    warmup: Duration,
    drain: Duration,
    seed: u64,
    output: PathBuf,
}

fn invalid(message: impl std::fmt::Display) -> i32 {
    eprintln!("load-generator: {message}");
    EXIT_INVALID_INPUT
}

fn plan(cli: &Cli) -> Result<Plan, i32> {
    let loaded = load_workload(&cli.workload).map_err(invalid)?;
    let workload = &loaded.workload;
    let seconds = |flag: &str, value: f64, min_exclusive: bool| -> Result<Duration, i32> {
        let ok = value.is_finite()
            && if min_exclusive {
                value > 0.0
            } else {
                value >= 0.0
            };
        if ok && value < 1e9 {
            Ok(Duration::from_secs_f64(value))
        } else {
            Err(invalid(format!(
                "--{flag} {value}: must be a number of seconds{}",
                if min_exclusive { " > 0" } else { " >= 0" }
            )))
        }
    };
    let duration = match (cli.duration, workload.duration) {
        (Some(d), _) => seconds("duration", d, true)?,
        (None, Some(d)) => d,
        (None, None) => Duration::from_secs(60),
    };
    let warmup = seconds("warmup", cli.warmup, false)?;
    let drain = seconds("drain", cli.drain, false)?;
    let url = cli.existing_instance_url.clone().ok_or_else(|| {
        invalid("no backend: pass --existing-instance-url URL or set CONVEX_SELF_HOSTED_URL")
    })?;
    let url = url.trim_end_matches('/').to_string();
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(invalid(format!(
                "--existing-instance-url {}: expected an http:// or https:// URL",
                host::sanitize_url(&url)
            )));
        }
    }
    let needs_cloud = workload
        .scenarios
        .iter()
        .any(|s| s.spec == ScenarioSpec::CloudBackup);
    if needs_cloud && (cli.provision_host.is_none() || cli.access_token.is_none()) {
        return Err(invalid(format!(
            "{}: CloudBackup needs --provision-host and an access token (CONVEX_ACCESS_TOKEN)",
            cli.workload.display()
        )));
    }
    if cli.existing_instance_admin_key.is_none() && !cli.quiet {
        eprintln!(
            "load-generator: warning: no admin key (--existing-instance-admin-key or CONVEX_SELF_HOSTED_ADMIN_KEY); setup mutations and admin-only scenarios will fail"
        );
    }
    let output = cli.output.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!(
            "{}-{}",
            Utc::now().format("%Y%m%dT%H%M%SZ"),
            workload.name
        ))
    });
    std::fs::create_dir_all(&output).map_err(|e| {
        invalid(format!(
            "--output {}: cannot create the folder: {e}",
            output.display()
        ))
    })?;
    Ok(Plan {
        workload_path: cli.workload.clone(),
        url,
        admin_key: cli.existing_instance_admin_key.clone().unwrap_or_default(),
        duration,
        warmup,
        drain,
        seed: cli.seed.unwrap_or_else(rand::random),
        output,
        loaded,
    })
}

/// What the run knows about itself; turned into `run.json` at each flush.
struct RunState {
    info: RunInfo,
}

impl RunState {
    fn set_status(&mut self, status: RunStatus, reason: Option<String>) {
        // The first reason to stop is the one reported.
        if self.info.outcome.status == RunStatus::Running
            || self.info.outcome.status == RunStatus::Completed
        {
            self.info.outcome.status = status;
            self.info.outcome.partial = status.is_partial();
            self.info.outcome.reason = reason;
        }
    }
}

fn write_files(dir: &Path, run: &RunInfo, histograms: &HistogramsFile) -> Result<(), String> {
    write_json_atomic(&dir.join(HISTOGRAMS_FILE), histograms).map_err(|e| e.to_string())?;
    write_json_atomic(&dir.join(RUN_FILE), run).map_err(|e| e.to_string())
}

pub async fn run(cli: Cli) -> i32 {
    let plan = match plan(&cli) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let recorder = Arc::new(Recorder::new());
    let metrics_addr = match cli.metrics_addr {
        Some(addr) => match prometheus::serve(addr, recorder.clone()).await {
            Ok(bound) => Some(bound),
            Err(e) => return invalid(format!("--metrics-addr {addr}: {e}")),
        },
        None => None,
    };
    let statsd = match cli.statsd_addr {
        Some(addr) => match StatsdSender::new(addr, &plan.loaded.workload.name) {
            Ok(s) => Some(s),
            Err(e) => return invalid(format!("--statsd-addr {addr}: {e}")),
        },
        None => None,
    };
    let show_progress = progress::enabled(cli.quiet);
    if let (Some(addr), false) = (metrics_addr, cli.quiet) {
        eprintln!("Prometheus metrics on http://{addr}/metrics");
    }

    let client = reqwest::Client::new();
    let version = host::backend_version(&client, &plan.url).await;
    let now = Utc::now();
    let mut state = RunState {
        info: RunInfo {
            schema_version: SCHEMA_VERSION,
            run_id: uuid::Uuid::new_v4().to_string(),
            label: cli.label.clone(),
            workload: WorkloadInfo {
                name: plan.loaded.workload.name.clone(),
                source: Some(plan.workload_path.display().to_string()),
                sha256: plan.loaded.sha256.clone(),
                content: plan.loaded.content.clone(),
            },
            backend: BackendInfo {
                url: host::sanitize_url(&plan.url),
                version: version.as_ref().ok().cloned(),
                kind: host::backend_kind(version.as_ref().ok().map(String::as_str)),
            },
            generator: host::generator_info(),
            host: host::host_info(),
            started_at: now,
            ended_at: None,
            duration_secs: 0.0,
            planned_duration_secs: (!cli.once).then_some(plan.duration.as_secs_f64()),
            warmup_secs: plan.warmup.as_secs_f64(),
            seed: Some(plan.seed),
            outcome: Outcome {
                status: RunStatus::Running,
                partial: true,
                reason: None,
                thresholds: vec![],
                error_budget: None,
                passed: false,
            },
        },
    };
    if let Err(e) = &version {
        state.set_status(
            RunStatus::BackendFailed,
            Some(format!("backend did not answer GET /version: {e}")),
        );
        return finish(&cli, &plan, state, &recorder, Duration::ZERO).await;
    }
    if let Err(e) = write_files(
        &plan.output,
        &state.info,
        &recorder.histograms_file(Duration::ZERO),
    ) {
        return invalid(format!("--output {}: {e}", plan.output.display()));
    }

    let stop = StopSignal::new();
    let stop_reason: Arc<Mutex<Option<(RunStatus, String)>>> = Arc::default();
    spawn_signal_handler(stop.clone(), stop_reason.clone());

    let env = RunEnv {
        url: plan.url.clone(),
        admin_key: plan.admin_key.clone(),
        site_url: cli.site_url.clone(),
        sink: recorder.clone() as Arc<dyn MetricSink>,
        seed: plan.seed,
        provision_host: cli.provision_host.clone(),
        access_token: cli.access_token.clone(),
    };

    // Setup, interruptible.
    let setup = async {
        seed_with_progress(&env, &plan.loaded.workload, cli.quiet).await?;
        let scenarios = build_scenarios(&plan.loaded.workload, &env)?;
        futures_util::future::try_join_all(scenarios.iter().map(|s| s.clone().prepare())).await?;
        anyhow::Ok(scenarios)
    };
    let scenarios = tokio::select! {
        result = setup => match result {
            Ok(s) => s,
            Err(e) => {
                state.set_status(RunStatus::Failed, Some(format!("setup failed: {e:#}")));
                return finish(&cli, &plan, state, &recorder, Duration::ZERO).await;
            }
        },
        _ = stop.stopped() => {
            let (status, reason) = stop_reason.lock().unwrap().clone().unwrap_or((RunStatus::Interrupted, "interrupted".into()));
            state.set_status(status, Some(format!("{reason} during setup")));
            return finish(&cli, &plan, state, &recorder, Duration::ZERO).await;
        }
    };

    let health = spawn_health_monitor(
        client.clone(),
        plan.url.clone(),
        stop.clone(),
        stop_reason.clone(),
    );
    let measured = if cli.once {
        run_once(&scenarios, &recorder, &plan, &stop, &mut state).await
    } else {
        run_load(
            &cli,
            &plan,
            &scenarios,
            &recorder,
            &stop,
            &mut state,
            statsd,
            show_progress,
        )
        .await
    };
    health.abort();
    if let Some((status, reason)) = stop_reason.lock().unwrap().clone() {
        state.set_status(status, Some(reason));
    }
    state.set_status(RunStatus::Completed, None);
    finish(&cli, &plan, state, &recorder, measured).await
}

async fn seed_with_progress(env: &RunEnv, workload: &Workload, quiet: bool) -> anyhow::Result<()> {
    if workload.num_rows == 0 && workload.num_vector_rows == 0 {
        return Ok(());
    }
    let bar = (!quiet && progress::enabled(false)).then(|| {
        let bar = indicatif::ProgressBar::new(workload.num_rows + workload.num_vector_rows);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "seeding {msg:<12} [{bar:30}] {pos}/{len} rows",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar
    });
    let messages_total = workload.num_rows;
    let last_logged = Mutex::new(Instant::now());
    let shown = bar.clone();
    // `seed` takes a `'static` callback, so it owns what it uses.
    let report = move |p: SeedProgress| {
        let overall = if p.table == "messages" {
            p.done
        } else {
            messages_total + p.done
        };
        if let Some(bar) = &shown {
            bar.set_message(p.table);
            bar.set_position(overall);
        } else if !quiet {
            let mut last = last_logged.lock().unwrap();
            if last.elapsed() >= Duration::from_secs(2) || p.done == p.total {
                *last = Instant::now();
                eprintln!("seeding {}: {}/{} rows", p.table, p.done, p.total);
            }
        }
    };
    let result =
        scenarios::setup::seed(env, workload.num_rows, workload.num_vector_rows, &report).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

fn build_scenarios(workload: &Workload, env: &RunEnv) -> anyhow::Result<Vec<Arc<dyn Scenario>>> {
    workload
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, config)| {
            scenarios::build(config, env)
                .map_err(|e| e.context(format!("scenarios[{i}] ({})", config.spec.kind_name())))
        })
        .collect()
}

fn spawn_signal_handler(stop: StopSignal, reason: Arc<Mutex<Option<(RunStatus, String)>>>) {
    tokio::spawn(async move {
        let name = wait_for_signal().await;
        reason
            .lock()
            .unwrap()
            .get_or_insert((RunStatus::Interrupted, format!("interrupted by {name}")));
        stop.stop();
        // A second signal means "now": exit with the partial files as they are.
        let _ = wait_for_signal().await;
        eprintln!("load-generator: second signal, exiting without final files");
        std::process::exit(EXIT_INCOMPLETE);
    });
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}

fn spawn_health_monitor(
    client: reqwest::Client,
    url: String,
    stop: StopSignal,
    reason: Arc<Mutex<Option<(RunStatus, String)>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0;
        loop {
            tokio::time::sleep(HEALTH_CHECK_EVERY).await;
            match host::backend_version(&client, &url).await {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    if failures >= HEALTH_FAILURES_TO_FAIL {
                        reason.lock().unwrap().get_or_insert((
                            RunStatus::BackendFailed,
                            format!("backend stopped answering GET /version ({failures} checks in a row): {e}"),
                        ));
                        stop.stop();
                        return;
                    }
                }
            }
        }
    })
}

/// `--once`: every scenario exactly one iteration, concurrently.
async fn run_once(
    scenarios: &[Arc<dyn Scenario>],
    recorder: &Arc<Recorder>,
    plan: &Plan,
    stop: &StopSignal,
    state: &mut RunState,
) -> Duration {
    let start = Instant::now();
    recorder.start_measurement(start, Utc::now());
    attach_hlog(recorder, plan);
    state.info.started_at = Utc::now();
    let all = futures_util::future::join_all(
        scenarios.iter().map(|s| s.clone().run_once(Instant::now())),
    );
    tokio::select! {
        _ = all => {}
        _ = tokio::time::sleep(ONCE_LIMIT) => {
            state.set_status(RunStatus::Failed, Some(format!("--once: scenarios still running after {} s", ONCE_LIMIT.as_secs())));
        }
        _ = stop.stopped() => {}
    }
    let measured = start.elapsed();
    recorder.close_interval(measured);
    measured
}

fn attach_hlog(recorder: &Recorder, plan: &Plan) {
    let started_at = recorder
        .measurement_start()
        .map_or_else(Utc::now, |(_, at)| at);
    match HlogWriter::create(&plan.output.join(HLOG_FILE), started_at) {
        Ok(writer) => recorder.set_hlog(writer),
        Err(e) => eprintln!(
            "load-generator: cannot write {}: {e}",
            plan.output.join(HLOG_FILE).display()
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_load(
    cli: &Cli,
    plan: &Plan,
    scenarios: &[Arc<dyn Scenario>],
    recorder: &Arc<Recorder>,
    stop: &StopSignal,
    state: &mut RunState,
    statsd: Option<StatsdSender>,
    show_progress: bool,
) -> Duration {
    let load_start = Instant::now() + Duration::from_millis(10);
    let measure_start = load_start + plan.warmup;
    let end = measure_start + plan.duration;
    let window = Window {
        start: load_start,
        end,
        drain: plan.drain,
    };
    // Measurement is armed before any request can start, so a fast first
    // request is never lost; warm-up is excluded by scheduled time.
    let wall_start = Utc::now()
        + chrono::Duration::from_std(measure_start.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
    recorder.start_measurement(measure_start, wall_start);
    state.info.started_at = wall_start;
    let drivers: Vec<_> = plan
        .loaded
        .workload
        .scenarios
        .iter()
        .zip(scenarios)
        .enumerate()
        .map(|(i, (config, scenario))| {
            let scenario = scenario.clone();
            let mode = config.mode.clone();
            let options = config.options.clone();
            let sink = recorder.clone() as Arc<dyn MetricSink>;
            let stop = stop.clone();
            let seed = plan.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            tokio::spawn(async move {
                engine::drive(scenario, &mode, &options, sink, window, stop, seed).await
            })
        })
        .collect();
    let drivers = futures_util::future::join_all(drivers);
    tokio::pin!(drivers);

    // Warm-up: load runs, nothing is kept.
    if !plan.warmup.is_zero() && !cli.quiet {
        eprintln!("warming up for {:.1} s", plan.warmup.as_secs_f64());
    }
    tokio::select! {
        _ = tokio::time::sleep_until(measure_start.into()) => {}
        _ = stop.stopped() => {}
    }
    let measuring = Instant::now() >= measure_start;
    if measuring {
        attach_hlog(recorder, plan);
    }

    // Ticks close intervals until the end (or a stop).
    let mut closed: u32 = 0;
    if measuring {
        loop {
            let next_tick = measure_start + INTERVAL * (closed + 1);
            if next_tick >= end {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(next_tick.into()) => {}
                _ = stop.stopped() => break,
            }
            recorder.close_interval(INTERVAL);
            closed += 1;
            if let Some(s) = &statsd {
                s.send_interval(recorder);
            }
            if show_progress {
                progress::print_line(recorder, next_tick - measure_start, Some(plan.duration));
            }
            if flush_due(closed) {
                state.info.duration_secs = (next_tick - measure_start).as_secs_f64();
                let histograms = recorder.histograms_file(next_tick - measure_start);
                if let Err(e) = write_files(&plan.output, &state.info, &histograms) {
                    eprintln!("load-generator: partial flush failed: {e}");
                }
            }
        }
    }
    // The last, possibly shorter, interval runs to the end (or the stop).
    if measuring {
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = stop.stopped() => {}
        }
    }
    let stopped_at = Instant::now().min(end);
    // Requests still running finish (within the drain period) and count.
    let reports = drivers.await;
    if show_progress {
        progress::finish_line();
    }
    let abandoned: u64 = reports.iter().flatten().map(|r| r.abandoned).sum();
    if abandoned > 0 && !cli.quiet {
        eprintln!(
            "{abandoned} requests still running after the {:.1} s drain were not counted",
            plan.drain.as_secs_f64()
        );
    }
    if !measuring {
        return Duration::ZERO;
    }
    let measured = stopped_at.saturating_duration_since(measure_start);
    let last_length = measured.saturating_sub(INTERVAL * closed);
    recorder.close_interval(if last_length.is_zero() {
        INTERVAL
    } else {
        last_length
    });
    if let Some(s) = &statsd {
        s.send_interval(recorder);
    }
    measured
}

/// Final files, report and exit code.
async fn finish(
    cli: &Cli,
    plan: &Plan,
    mut state: RunState,
    recorder: &Recorder,
    measured: Duration,
) -> i32 {
    let histograms = recorder.histograms_file(measured);
    let info = &mut state.info;
    info.ended_at = Some(Utc::now());
    info.duration_secs = measured.as_secs_f64();
    if info.outcome.status == RunStatus::Running {
        info.outcome.status = RunStatus::Failed;
    }
    info.outcome.partial = info.outcome.status.is_partial();
    info.outcome.thresholds =
        thresholds::evaluate(&plan.loaded.workload.thresholds, &histograms.metrics);
    let budget = thresholds::error_budget(&histograms.metrics, info.duration_secs);
    info.outcome.passed = info.outcome.status == RunStatus::Completed
        && budget.passed
        && info.outcome.thresholds.iter().all(|t| t.passed);
    info.outcome.error_budget = Some(budget);
    if let Some(e) = recorder.hlog_error() {
        eprintln!("load-generator: writing {HLOG_FILE} failed: {e}");
    }
    let written = write_files(&plan.output, info, &histograms);
    match cli.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::json(info, &histograms, &plan.output))
                .expect("serialisable")
        ),
        OutputFormat::Text if !cli.quiet || cli.stats_report => {
            print!("{}", report::text(info, &histograms));
            println!("results: {}", plan.output.display());
        }
        OutputFormat::Text => {}
    }
    if let Err(e) = written {
        eprintln!(
            "load-generator: cannot write results to {}: {e}",
            plan.output.display()
        );
        return EXIT_INCOMPLETE;
    }
    if info.outcome.status != RunStatus::Completed {
        if let Some(reason) = &info.outcome.reason {
            eprintln!("load-generator: run incomplete: {reason}");
        }
        EXIT_INCOMPLETE
    } else if info.outcome.passed {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}
