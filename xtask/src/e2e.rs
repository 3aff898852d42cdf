//! `cargo xtask e2e` (also the last step of `cargo xtask test`): the whole
//! pipeline for real — bench on the testbed, the run folder, the report in
//! headless Chromium, a bench against a `--url` deployment with a known
//! key, compare, publish, and a search of every produced file for that key.
//!
//! Artifacts (screenshots, run folders, site) stay in `target/e2e/`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};
use xshell::{Shell, cmd};

use crate::bench::{self, BenchArgs};
use crate::bootstrap::Verdict;
use crate::testbed_process::Testbed;

const BROWSER_TESTS: &str = "xtask/browser-tests";

pub fn run(sh: &Shell) -> anyhow::Result<()> {
    let root = crate::project_root();
    let base = root.join("target/e2e");
    let _ = std::fs::remove_dir_all(&base);
    let results = base.join("results");
    let artifacts = base.join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let mut passed = 0;

    // 1. The README's main command: bench on the testbed.
    bench::run(sh, &bench_args(&results, None))?;
    let first = single_new_run(&results, &[])?;
    for file in [
        "run.json",
        "histograms.json",
        "latencies.hlog",
        "report.html",
    ] {
        ensure!(
            first.join(file).is_file(),
            "{}: {file} missing",
            first.display()
        );
    }
    let report = crate::report::render_to_folder(&first)?;
    browser_check(sh, &report, &artifacts.join("report.png"), 4)?;
    println!("e2e ok: bench on the testbed -> run folder -> report -> Chromium");
    passed += 1;

    // 2. Against a URL, with a key we know, then look for it everywhere.
    let key = format!("e2e-secret-{:016x}", rand::random::<u64>());
    let testbed = Testbed::start(&root.join("target/release/testbed"), &key)?;
    let mut args = bench_args(&results, Some(testbed.url.clone()));
    args.admin_key = Some(key.clone());
    bench::run(sh, &args)?;
    drop(testbed);
    let second = single_new_run(&results, std::slice::from_ref(&first))?;
    println!("e2e ok: bench --url against a deployment");
    passed += 1;

    // 3. A +30 % query latency fault on a real testbed: judged slower on
    // the query metric, and no mutation judged slower.
    let (clean, faulty) = fault_pair(sh, &root, &base.join("fault-results"), &key)?;
    let c =
        crate::compare::compare_folders(&clean, &faulty, crate::bootstrap::DEFAULT_NOISE, false)?;
    print!("{}", crate::compare::terminal_table(&c));
    let query = "RunFunction/query (query_index:queryMessages)";
    let query_verdict = c
        .metrics
        .iter()
        .find(|m| m.label == query)
        .map(|m| m.verdict)
        .with_context(|| format!("{query} missing from the comparison"))?;
    ensure!(
        query_verdict == Verdict::Slower,
        "{query}: +30 % latency judged {query_verdict:?}"
    );
    for m in &c.metrics {
        if m.a.metric.key.scenario == "RunFunction" && m.a.metric.key.name == "mutation" {
            ensure!(
                m.verdict != Verdict::Slower,
                "{}: judged slower without a fault",
                m.label
            );
        }
    }
    println!("e2e ok: a +30 % query fault on the testbed is judged slower there, mutations not");
    passed += 1;

    let comparison =
        crate::compare::compare_folders(&first, &second, crate::bootstrap::DEFAULT_NOISE, false)?;
    let page = crate::compare::write_page(&comparison, &base)?;
    browser_check(sh, &page, &artifacts.join("compare.png"), 3)?;
    println!("e2e ok: compare of two testbed runs -> Chromium");
    passed += 1;

    let site = base.join("site");
    let index = crate::publish::publish(&results, &site)?;
    browser_check(sh, &index, &artifacts.join("site.png"), 3)?;
    println!("e2e ok: publish -> Chromium");
    passed += 1;

    let leaks = files_containing(&[results.as_path(), site.as_path(), base.as_path()], &key)?;
    ensure!(leaks.is_empty(), "the admin key leaked into: {leaks:?}");
    println!("e2e ok: the admin key appears in no run folder, report or site file");
    passed += 1;

    println!(
        "e2e: {passed} passed, 0 failed (artifacts in {})",
        artifacts.display()
    );
    Ok(())
}

/// Two runs against one testbed: queries delayed by 20 ms, then by 26 ms.
fn fault_pair(
    sh: &Shell,
    root: &Path,
    results: &Path,
    key: &str,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let testbed = Testbed::start(&root.join("target/release/testbed"), key)?;
    let mut runs = Vec::new();
    for delay_ms in [20, 26] {
        set_query_latency(&testbed.url, key, delay_ms)?;
        let mut args = bench_args(results, Some(testbed.url.clone()));
        args.admin_key = Some(key.to_string());
        args.duration = 6;
        args.label = Some(format!("query latency fault {delay_ms} ms"));
        bench::run(sh, &args)?;
        runs.push(single_new_run(results, &runs)?);
    }
    Ok((runs[0].clone(), runs[1].clone()))
}

fn set_query_latency(url: &str, key: &str, delay_ms: u32) -> anyhow::Result<()> {
    eprintln!("$ POST {url}/_testbed/faults latency.query.fixed_ms={delay_ms}");
    let response = reqwest::blocking::Client::new()
        .post(format!("{url}/_testbed/faults"))
        .header("Authorization", format!("Convex {key}"))
        .json(&serde_json::json!({ "latency": { "query": { "fixed_ms": delay_ms } } }))
        .send()?;
    ensure!(
        response.status().is_success(),
        "setting the fault failed: HTTP {}",
        response.status()
    );
    Ok(())
}

fn bench_args(results: &Path, url: Option<String>) -> BenchArgs {
    BenchArgs {
        workload: "smoke".into(),
        url,
        admin_key: None,
        duration: 5,
        label: Some("e2e".into()),
        skip_deploy: true,
        open: false,
        results: results.to_path_buf(),
    }
}

/// The one run folder in `results` that is not in `known`.
fn single_new_run(results: &Path, known: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let new: Vec<PathBuf> = std::fs::read_dir(results)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(results_format::RUN_FILE).is_file() && !known.contains(p))
        .collect();
    match new.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "expected one new run folder in {}, found {new:?}",
            results.display()
        ),
    }
}

/// Opens `page` in headless Chromium via the browser-tests harness.
pub fn browser_check(
    sh: &Shell,
    page: &Path,
    screenshot: &Path,
    min_charts: usize,
) -> anyhow::Result<()> {
    let dir = crate::project_root().join(BROWSER_TESTS);
    if !dir.join("node_modules").is_dir() {
        let _d = sh.push_dir(&dir);
        cmd!(sh, "npm ci --no-audit --no-fund").run()?;
    }
    let script = dir.join("check.mjs");
    let min = min_charts.to_string();
    cmd!(sh, "node {script} {page} {screenshot} {min}")
        .run()
        .with_context(|| format!("{}: browser check failed", page.display()))?;
    Ok(())
}

/// Every file under `dirs` whose bytes contain `needle`.
fn files_containing(dirs: &[&Path], needle: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    let mut seen = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        } else if path.is_file() {
            seen += 1;
            let bytes = std::fs::read(&path)?;
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path);
            }
        }
    }
    ensure!(seen > 0, "no files to search for the key");
    found.sort();
    found.dedup();
    Ok(found)
}
