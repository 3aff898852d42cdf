//! Reading and validating workload files. Every problem is reported with the
//! file, the line and column, the field (as a path such as
//! `scenarios[2].rate`) and what would have been accepted. All problems in
//! a file are collected, so one run of the generator shows them all.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::model::*;
use super::spanned_json::{self, Json, Pos, Spanned};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    /// Path of the field, e.g. `scenarios[0].fn_type`; empty for the document.
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let field = if p.field.is_empty() {
                String::new()
            } else {
                format!(" field `{}`:", p.field)
            };
            write!(
                f,
                "{}:{}:{}:{} {}",
                self.file, p.pos.line, p.pos.column, field, p.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for WorkloadError {}

/// A workload as read from disk: the validated model and what `run.json`
/// records about its source.
#[derive(Debug, Clone)]
pub struct LoadedWorkload {
    pub workload: Workload,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The document as plain JSON.
    pub content: serde_json::Value,
}

pub fn load_workload(path: &Path) -> Result<LoadedWorkload, WorkloadError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| WorkloadError {
        file: file.clone(),
        problems: vec![Problem {
            pos: Pos { line: 0, column: 0 },
            field: String::new(),
            message: format!("cannot read the workload file: {e}"),
        }],
    })?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| WorkloadError {
        file: file.clone(),
        problems: vec![Problem {
            pos: Pos { line: 1, column: 1 },
            field: String::new(),
            message: "the workload file is not valid UTF-8".into(),
        }],
    })?;
    let (workload, content) = parse_workload(&file, &text)?;
    Ok(LoadedWorkload {
        workload,
        sha256: hex::encode(Sha256::digest(&bytes)),
        content,
    })
}

/// Parses and validates workload text; `file` only names it in errors.
pub fn parse_workload(
    file: &str,
    text: &str,
) -> Result<(Workload, serde_json::Value), WorkloadError> {
    let doc = spanned_json::parse(text).map_err(|e| WorkloadError {
        file: file.to_string(),
        problems: vec![Problem {
            pos: e.pos,
            field: String::new(),
            message: format!("invalid JSON: {}", e.message),
        }],
    })?;
    let mut checker = Checker::default();
    let workload = checker.workload(&doc);
    match workload {
        Some(w) if checker.problems.is_empty() => Ok((w, doc.to_value())),
        _ => Err(WorkloadError {
            file: file.to_string(),
            problems: checker.problems,
        }),
    }
}

const TOP_FIELDS: &[&str] = &[
    "name",
    "scenarios",
    "num_rows",
    "num_vector_rows",
    "thresholds",
    "duration_secs",
];

pub const SCENARIO_KINDS: &[&str] = &[
    "RunFunction",
    "RunHttpAction",
    "ObserveInsert",
    "Search",
    "VectorSearch",
    "ManyIntersections",
    "HoldSubscriptions",
    "SnapshotExport",
    "CloudBackup",
];

/// Fields every scenario accepts: its name, the mode and the extensions.
const COMMON_SCENARIO_FIELDS: &[&str] = &[
    "name",
    "rate",
    "benchmark",
    "arrival",
    "stages",
    "timeout_ms",
    "connections",
    "max_in_flight",
    "max_queued",
];

fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "RunFunction" => &["path", "fn_type", "args", "transport"],
        "RunHttpAction" => &["path", "method"],
        "ObserveInsert" => &["search_indexes"],
        "ManyIntersections" => &["num_subscriptions"],
        "HoldSubscriptions" => &[
            "num_subscriptions",
            "hold_duration_secs",
            "invalidation_interval_secs",
            "num_invalidations",
        ],
        _ => &[],
    }
}

const FN_TYPES: &[&str] = &["query", "mutation", "action"];
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const ARRIVALS: &[&str] = &["constant", "poisson"];
const TRANSPORTS: &[&str] = &["ws", "http"];
const THRESHOLD_FIELDS: &[&str] = &["metric", "statistic", "below", "above"];
const STAGE_FIELDS: &[&str] = &["duration_secs", "rate"];
const STATISTICS_HELP: &str =
    "p50_ms, p90_ms, p99_ms, p99.9_ms (any pNN[.N]_ms), mean_ms, max_ms, error_rate, achieved_rate";

fn one_of(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

type Fields = [(String, Pos, Spanned)];

fn get<'a>(fields: &'a Fields, name: &str) -> Option<&'a Spanned> {
    fields.iter().find(|(k, _, _)| k == name).map(|(_, _, v)| v)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, pos: Pos, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            pos,
            field: field.into(),
            message: message.into(),
        });
    }

    fn object<'a>(&mut self, value: &'a Spanned, path: &str) -> Option<&'a Fields> {
        match &value.value {
            Json::Object(fields) => Some(fields),
            other => {
                self.problem(
                    value.pos,
                    path,
                    format!("expected an object, found {}", other.type_name()),
                );
                None
            }
        }
    }

    fn reject_unknown(&mut self, fields: &Fields, path: &str, accepted: &[&str], context: &str) {
        for (key, pos, _) in fields {
            if !accepted.contains(&key.as_str()) {
                self.problem(
                    *pos,
                    join(path, key),
                    format!(
                        "unknown field{context}; accepted fields: {}",
                        one_of(accepted)
                    ),
                );
            }
        }
    }

    fn string(&mut self, value: &Spanned, path: &str) -> Option<String> {
        match &value.value {
            Json::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Json::String(_) => {
                self.problem(value.pos, path, "must not be empty");
                None
            }
            other => {
                self.problem(
                    value.pos,
                    path,
                    format!("expected a string, found {}", other.type_name()),
                );
                None
            }
        }
    }

    fn required<'a>(
        &mut self,
        fields: &'a Fields,
        object_pos: Pos,
        path: &str,
        name: &str,
        what: &str,
    ) -> Option<&'a Spanned> {
        let found = get(fields, name);
        if found.is_none() {
            self.problem(
                object_pos,
                join(path, name),
                format!("missing required field ({what})"),
            );
        }
        found
    }

    /// A required, non-empty string field.
    fn required_string(
        &mut self,
        fields: &Fields,
        object_pos: Pos,
        path: &str,
        name: &str,
        what: &str,
    ) -> Option<String> {
        let value = self.required(fields, object_pos, path, name, what)?;
        self.string(value, &join(path, name))
    }

    /// A required field that must be one of `accepted`.
    fn required_choice(
        &mut self,
        fields: &Fields,
        object_pos: Pos,
        path: &str,
        name: &str,
        accepted: &[&str],
    ) -> Option<String> {
        let what = format!("one of {}", one_of(accepted));
        let value = self.required(fields, object_pos, path, name, &what)?;
        self.choice(value, &join(path, name), accepted)
    }

    fn choice(&mut self, value: &Spanned, path: &str, accepted: &[&str]) -> Option<String> {
        let s = self.string(value, path)?;
        if accepted.contains(&s.as_str()) {
            Some(s)
        } else {
            self.problem(
                value.pos,
                path,
                format!(
                    "`{s}` is not accepted; expected one of {}",
                    one_of(accepted)
                ),
            );
            None
        }
    }

    fn number(&mut self, value: &Spanned, path: &str) -> Option<f64> {
        match &value.value {
            Json::Number(n) => n.as_f64().filter(|f| f.is_finite()).or_else(|| {
                self.problem(value.pos, path, "number out of range");
                None
            }),
            other => {
                self.problem(
                    value.pos,
                    path,
                    format!("expected a number, found {}", other.type_name()),
                );
                None
            }
        }
    }

    fn positive_number(&mut self, value: &Spanned, path: &str) -> Option<f64> {
        let n = self.number(value, path)?;
        if n > 0.0 {
            Some(n)
        } else {
            self.problem(
                value.pos,
                path,
                format!("must be greater than 0, found {n}"),
            );
            None
        }
    }

    /// A whole number in `min..=max`.
    fn integer(&mut self, value: &Spanned, path: &str, min: u64, max: u64) -> Option<u64> {
        let n = match &value.value {
            Json::Number(n) => n.as_u64(),
            other => {
                self.problem(
                    value.pos,
                    path,
                    format!("expected a whole number, found {}", other.type_name()),
                );
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let shown = match &value.value {
                    Json::Number(n) => n.to_string(),
                    _ => unreachable!(),
                };
                self.problem(
                    value.pos,
                    path,
                    format!("expected a whole number from {min} to {max}, found {shown}"),
                );
                None
            }
        }
    }

    fn opt_integer(
        &mut self,
        fields: &Fields,
        path: &str,
        name: &str,
        min: u64,
        max: u64,
    ) -> Option<Option<u64>> {
        match get(fields, name) {
            None => Some(None),
            Some(v) => self.integer(v, &join(path, name), min, max).map(Some),
        }
    }

    fn workload(&mut self, doc: &Spanned) -> Option<Workload> {
        let fields = self.object(doc, "")?;
        self.reject_unknown(fields, "", TOP_FIELDS, " in the workload");
        let name =
            self.required_string(fields, doc.pos, "", "name", "the workload's name, a string");
        let scenarios = self
            .required(
                fields,
                doc.pos,
                "",
                "scenarios",
                "a non-empty array of scenarios",
            )
            .and_then(|v| self.scenarios(v));
        let num_rows = self
            .opt_integer(fields, "", "num_rows", 0, 100_000_000)
            .map(|n| n.unwrap_or(DEFAULT_NUM_ROWS));
        let num_vector_rows = self
            .opt_integer(fields, "", "num_vector_rows", 0, 100_000_000)
            .map(|n| n.unwrap_or(0));
        let duration = match get(fields, "duration_secs") {
            None => Some(None),
            Some(v) => self
                .positive_number(v, "duration_secs")
                .map(|s| Some(Duration::from_secs_f64(s))),
        };
        let thresholds = match get(fields, "thresholds") {
            None => Some(Vec::new()),
            Some(v) => self.thresholds(v),
        };
        Some(Workload {
            name: name?,
            scenarios: scenarios?,
            num_rows: num_rows?,
            num_vector_rows: num_vector_rows?,
            thresholds: thresholds?,
            duration: duration?,
        })
    }

    fn scenarios(&mut self, value: &Spanned) -> Option<Vec<ScenarioConfig>> {
        let Json::Array(items) = &value.value else {
            self.problem(
                value.pos,
                "scenarios",
                format!("expected an array, found {}", value.value.type_name()),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(value.pos, "scenarios", "must list at least one scenario");
            return None;
        }
        self.each(items, "scenarios", Self::scenario)
    }

    /// Parses every item of an array (so each one's problems are reported),
    /// then yields them all, or `None` when any failed.
    fn each<T>(
        &mut self,
        items: &[Spanned],
        path: &str,
        mut parse: impl FnMut(&mut Self, &Spanned, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let parsed: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse(self, item, &format!("{path}[{i}]")))
            .collect();
        parsed.into_iter().collect()
    }

    fn scenario(&mut self, value: &Spanned, path: &str) -> Option<ScenarioConfig> {
        let fields = self.object(value, path)?;
        let kind_value = self.required(
            fields,
            value.pos,
            path,
            "name",
            &format!("the scenario kind, one of {}", one_of(SCENARIO_KINDS)),
        )?;
        let kind = self.choice(kind_value, &join(path, "name"), SCENARIO_KINDS)?;
        let accepted: Vec<&str> = COMMON_SCENARIO_FIELDS
            .iter()
            .chain(kind_fields(&kind))
            .copied()
            .collect();
        self.reject_unknown(fields, path, &accepted, &format!(" for {kind}"));
        let spec = self.spec(&kind, fields, value.pos, path);
        let mode = self.mode(fields, value.pos, path);
        let options = self.options(fields, path, &mode);
        Some(ScenarioConfig {
            spec: spec?,
            mode: mode?,
            options: options?,
        })
    }

    fn spec(&mut self, kind: &str, fields: &Fields, pos: Pos, path: &str) -> Option<ScenarioSpec> {
        let p = |name: &str| join(path, name);
        Some(match kind {
            "RunFunction" => {
                let fn_path = self.required_string(
                    fields,
                    pos,
                    path,
                    "path",
                    "the function path, e.g. `query_index:queryMessages`",
                );
                let fn_type = self
                    .required_choice(fields, pos, path, "fn_type", FN_TYPES)
                    .map(|t| match t.as_str() {
                        "query" => FunctionType::Query,
                        "mutation" => FunctionType::Mutation,
                        _ => FunctionType::Action,
                    });
                let args = match get(fields, "args") {
                    None => Some(None),
                    Some(v) => match v.to_value() {
                        serde_json::Value::Object(map) => Some(Some(map)),
                        _ => {
                            self.problem(
                                v.pos,
                                p("args"),
                                format!(
                                    "expected an object of arguments, found {}",
                                    v.value.type_name()
                                ),
                            );
                            None
                        }
                    },
                };
                ScenarioSpec::RunFunction {
                    path: fn_path?,
                    fn_type: fn_type?,
                    args: args?,
                }
            }
            "RunHttpAction" => {
                let http_path = self.required_string(
                    fields,
                    pos,
                    path,
                    "path",
                    "the route under the site URL, e.g. `basic`",
                );
                let method = self.required_choice(fields, pos, path, "method", HTTP_METHODS);
                ScenarioSpec::RunHttpAction {
                    path: http_path?.trim_start_matches('/').to_string(),
                    method: method?,
                }
            }
            "ObserveInsert" => {
                let search_indexes = match get(fields, "search_indexes") {
                    None => Some(false),
                    Some(Spanned {
                        value: Json::Bool(b),
                        ..
                    }) => Some(*b),
                    Some(v) => {
                        self.problem(
                            v.pos,
                            p("search_indexes"),
                            format!("expected `true` or `false`, found {}", v.value.type_name()),
                        );
                        None
                    }
                };
                ScenarioSpec::ObserveInsert {
                    search_indexes: search_indexes?,
                }
            }
            "Search" => ScenarioSpec::Search,
            "VectorSearch" => ScenarioSpec::VectorSearch,
            "SnapshotExport" => ScenarioSpec::SnapshotExport,
            "CloudBackup" => ScenarioSpec::CloudBackup,
            "ManyIntersections" => {
                let n = self
                    .required(
                        fields,
                        pos,
                        path,
                        "num_subscriptions",
                        "a whole number >= 1",
                    )
                    .and_then(|v| self.integer(v, &p("num_subscriptions"), 1, 1_000_000));
                ScenarioSpec::ManyIntersections {
                    num_subscriptions: n? as u32,
                }
            }
            "HoldSubscriptions" => {
                let n = self
                    .required(
                        fields,
                        pos,
                        path,
                        "num_subscriptions",
                        "a whole number >= 1",
                    )
                    .and_then(|v| self.integer(v, &p("num_subscriptions"), 1, 1_000_000));
                let hold = self
                    .required(
                        fields,
                        pos,
                        path,
                        "hold_duration_secs",
                        "a whole number of seconds >= 1",
                    )
                    .and_then(|v| self.integer(v, &p("hold_duration_secs"), 1, 86_400 * 7));
                let interval =
                    self.opt_integer(fields, path, "invalidation_interval_secs", 1, 86_400 * 7);
                let count = self.opt_integer(fields, path, "num_invalidations", 0, 1_000_000);
                ScenarioSpec::HoldSubscriptions {
                    num_subscriptions: n? as u32,
                    hold_duration_secs: hold?,
                    invalidation_interval_secs: interval?,
                    num_invalidations: count?.map(|c| c as u32),
                }
            }
            _ => unreachable!("kind was checked against SCENARIO_KINDS"),
        })
    }

    fn mode(&mut self, fields: &Fields, pos: Pos, path: &str) -> Option<Mode> {
        let rate = get(fields, "rate");
        let benchmark = get(fields, "benchmark");
        match (rate, benchmark) {
            (None, None) => {
                self.problem(
                    pos,
                    join(path, "rate"),
                    "missing mode: give exactly one of `rate` (requests/s, open loop) or `benchmark` (closed-loop workers)",
                );
                None
            }
            (Some(_), Some(b)) => {
                self.problem(
                    b.pos,
                    join(path, "benchmark"),
                    "`rate` and `benchmark` are both set: give exactly one of them",
                );
                None
            }
            (None, Some(b)) => {
                for open_loop_only in ["arrival", "stages", "max_in_flight", "max_queued"] {
                    if let Some(v) = get(fields, open_loop_only) {
                        self.problem(
                            v.pos,
                            join(path, open_loop_only),
                            "applies to open-loop scenarios (`rate`) only, not `benchmark`",
                        );
                    }
                }
                let workers = self.integer(b, &join(path, "benchmark"), 1, 100_000)?;
                Some(Mode::Benchmark {
                    workers: workers as u32,
                })
            }
            (Some(r), None) => {
                // With stages the load may ramp up from nothing.
                let rate = if get(fields, "stages").is_some() {
                    self.number(r, &join(path, "rate")).and_then(|n| {
                        if n >= 0.0 {
                            Some(n)
                        } else {
                            self.problem(
                                r.pos,
                                join(path, "rate"),
                                format!("must be 0 or more (with `stages`), found {n}"),
                            );
                            None
                        }
                    })
                } else {
                    self.positive_number(r, &join(path, "rate"))
                };
                let arrival = match get(fields, "arrival") {
                    None => Some(Arrival::Constant),
                    Some(v) => self.choice(v, &join(path, "arrival"), ARRIVALS).map(|a| {
                        if a == "poisson" {
                            Arrival::Poisson
                        } else {
                            Arrival::Constant
                        }
                    }),
                };
                let stages = match get(fields, "stages") {
                    None => Some(Vec::new()),
                    Some(v) => self.stages(v, &join(path, "stages")),
                };
                Some(Mode::Rate {
                    rate: rate?,
                    arrival: arrival?,
                    stages: stages?,
                })
            }
        }
    }

    fn stages(&mut self, value: &Spanned, path: &str) -> Option<Vec<Stage>> {
        let Json::Array(items) = &value.value else {
            self.problem(
                value.pos,
                path,
                format!(
                    "expected an array of {{duration_secs, rate}}, found {}",
                    value.value.type_name()
                ),
            );
            return None;
        };
        self.each(items, path, Self::stage)
    }

    fn stage(&mut self, item: &Spanned, path: &str) -> Option<Stage> {
        let fields = self.object(item, path)?;
        self.reject_unknown(fields, path, STAGE_FIELDS, " in a stage");
        let duration = self
            .required(fields, item.pos, path, "duration_secs", "seconds > 0")
            .and_then(|v| self.positive_number(v, &join(path, "duration_secs")));
        let rate = self
            .required(
                fields,
                item.pos,
                path,
                "rate",
                "the rate reached at the stage's end, >= 0",
            )
            .and_then(|v| {
                let r = self.number(v, &join(path, "rate"))?;
                if r < 0.0 {
                    self.problem(
                        v.pos,
                        join(path, "rate"),
                        format!("must be 0 or more, found {r}"),
                    );
                    return None;
                }
                Some(r)
            });
        Some(Stage {
            duration: Duration::from_secs_f64(duration?),
            target_rate: rate?,
        })
    }

    fn options(
        &mut self,
        fields: &Fields,
        path: &str,
        mode: &Option<Mode>,
    ) -> Option<ScenarioOptions> {
        let _ = mode;
        let timeout = self
            .opt_integer(fields, path, "timeout_ms", 1, 86_400_000)
            .map(|t| t.map(Duration::from_millis));
        let transport = match get(fields, "transport") {
            None => Some(Transport::WebSocket),
            Some(v) => self
                .choice(v, &join(path, "transport"), TRANSPORTS)
                .map(|t| {
                    if t == "http" {
                        Transport::Http
                    } else {
                        Transport::WebSocket
                    }
                }),
        };
        let connections = self.opt_integer(fields, path, "connections", 1, 10_000);
        let max_in_flight = self.opt_integer(fields, path, "max_in_flight", 1, 1_000_000);
        let max_queued = self.opt_integer(fields, path, "max_queued", 0, 100_000_000);
        Some(ScenarioOptions {
            timeout: timeout?,
            transport: transport?,
            connections: connections?.map(|c| c as u32),
            max_in_flight: max_in_flight?.map(|c| c as u32),
            max_queued: max_queued?.map(|c| c as u32),
        })
    }

    fn thresholds(&mut self, value: &Spanned) -> Option<Vec<Threshold>> {
        let Json::Array(items) = &value.value else {
            self.problem(
                value.pos,
                "thresholds",
                format!("expected an array, found {}", value.value.type_name()),
            );
            return None;
        };
        self.each(items, "thresholds", Self::threshold)
    }

    fn threshold(&mut self, item: &Spanned, path: &str) -> Option<Threshold> {
        let fields = self.object(item, path)?;
        self.reject_unknown(fields, path, THRESHOLD_FIELDS, " in a threshold");
        let metric = self.required_string(
            fields,
            item.pos,
            path,
            "metric",
            "`Scenario/name`, `Scenario/name/path` or `*`",
        );
        let statistic = self
            .required(fields, item.pos, path, "statistic", STATISTICS_HELP)
            .and_then(|v| {
                let s = self.string(v, &join(path, "statistic"))?;
                let parsed = parse_statistic(&s);
                if parsed.is_none() {
                    self.problem(
                        v.pos,
                        join(path, "statistic"),
                        format!("`{s}` is not accepted; expected one of {STATISTICS_HELP}"),
                    );
                }
                parsed
            });
        let limit = match (get(fields, "below"), get(fields, "above")) {
            (Some(v), None) => self
                .number(v, &join(path, "below"))
                .map(|n| (Comparison::LessThan, n)),
            (None, Some(v)) => self
                .number(v, &join(path, "above"))
                .map(|n| (Comparison::GreaterThan, n)),
            (Some(_), Some(v)) => {
                self.problem(
                    v.pos,
                    join(path, "above"),
                    "give exactly one of `below` or `above`, not both",
                );
                None
            }
            (None, None) => {
                self.problem(
                    item.pos,
                    join(path, "below"),
                    "missing limit: give exactly one of `below` or `above`",
                );
                None
            }
        };
        let (comparison, limit) = limit?;
        Some(Threshold {
            metric: metric?,
            statistic: statistic?,
            comparison,
            limit,
        })
    }
}

/// `p99_ms`, `p99.9_ms`, `mean_ms`, `max_ms`, `error_rate`, `achieved_rate`.
pub fn parse_statistic(s: &str) -> Option<Statistic> {
    match s {
        "mean_ms" => return Some(Statistic::MeanMs),
        "max_ms" => return Some(Statistic::MaxMs),
        "error_rate" => return Some(Statistic::ErrorRate),
        "achieved_rate" => return Some(Statistic::AchievedRate),
        _ => {}
    }
    let number = s.strip_prefix('p')?.strip_suffix("_ms")?;
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let tenths = (value * 10.0).round();
    if (tenths / 10.0 - value).abs() > 1e-9 || !(1.0..=1000.0).contains(&tenths) {
        return None;
    }
    Some(Statistic::PercentileMs(tenths as PercentileTenths))
}

/// The name a statistic is written with (inverse of [`parse_statistic`]).
pub fn statistic_name(s: Statistic) -> String {
    match s {
        Statistic::MeanMs => "mean_ms".into(),
        Statistic::MaxMs => "max_ms".into(),
        Statistic::ErrorRate => "error_rate".into(),
        Statistic::AchievedRate => "achieved_rate".into(),
        Statistic::PercentileMs(t) if t % 10 == 0 => format!("p{}_ms", t / 10),
        Statistic::PercentileMs(t) => format!("p{}.{}_ms", t / 10, t % 10),
    }
}
