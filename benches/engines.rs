//! `cargo bench --bench engines`: rule evaluations per second over 1 000 generated
//! manifests for each engine, and the harness's overhead against calling regorus
//! directly on the same policy and inputs, measured in the same run; and the
//! whole shared gatekeeper-library `gator verify` set through verdict's suite
//! runner against a baseline written on regorus' own API.
//!
//! A plain `main` (no criterion): each measurement is the median of several timed
//! passes after a warm-up, printed as one table.

use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use verdict::input::Input;
use verdict::library::{compile, load_library, Language, LoadContext, Rule};
use verdict::limits::Limits;

const MANIFESTS: usize = 1_000;
const PASSES: usize = 7;

fn manifests() -> Vec<Input> {
    let kinds = ["Deployment", "StatefulSet", "DaemonSet"];
    (0..MANIFESTS)
        .map(|i| {
            let image = match i % 4 {
                0 => format!("registry.internal.example:5000/team/app-{i}:1.{i}"),
                1 => format!("ghcr.io/example/app-{i}:latest"),
                2 => format!("docker.io/library/nginx@sha256:{:064x}", i),
                _ => format!("quay.io/example/app-{i}"),
            };
            let value = json!({
                "apiVersion": "apps/v1",
                "kind": kinds[i % kinds.len()],
                "metadata": {"name": format!("app-{i}"), "namespace": format!("team-{}", i % 7),
                             "labels": {"app.kubernetes.io/name": format!("app-{i}"), "owner": "team"}},
                "spec": {"selector": {"matchLabels": {"app": format!("app-{i}")}},
                         "template": {"metadata": {"labels": {"app": format!("app-{i}")}},
                                      "spec": {"containers": [{"name": "app", "image": image,
                                                "securityContext": {"privileged": i % 5 == 0, "readOnlyRootFilesystem": true},
                                                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
                                               {"name": "sidecar", "image": "registry.internal.example:5000/proxy:2.1"}],
                                               "initContainers": [{"name": "init", "image": "busybox:1.36"}]}}}
            });
            Input::from_value(format!("bench-{i}.yaml").into(), 0, None, value)
        })
        .collect()
}

/// The library's own Terraform plans (cases and corpus), cycled to `MANIFESTS`
/// inputs: the Terraform rules judge plans only, so manifests would measure the
/// not-applicable shortcut.
fn plans(root: &Path) -> Vec<Input> {
    let mut found: Vec<Input> = walkdir::WalkDir::new(root.join("cases"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tfplan.json"))
        .flat_map(|e| verdict::input::load_file(e.path(), &Limits::default()).expect("library plans load"))
        .collect();
    assert!(!found.is_empty(), "no Terraform plans under cases/");
    let distinct = found.len();
    found = found.into_iter().cycle().take(MANIFESTS).collect();
    eprintln!("{distinct} distinct plans, cycled to {}", found.len());
    found
}

/// Median wall time of `PASSES` runs of `f` after one warm-up run.
fn median(mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[PASSES / 2]
}

fn per_second(evaluations: usize, d: Duration) -> f64 {
    evaluations as f64 / d.as_secs_f64()
}

fn rules_of(rules: &[Rule], language: Language) -> Vec<&Rule> {
    rules.iter().filter(|r| r.language == language).collect()
}

fn bench_library(label: &str, rules: &[&Rule], inputs: &[Input]) {
    if rules.is_empty() {
        println!("{label:<42} (no rules of this language in the library)");
        return;
    }
    let d = median(|| {
        for rule in rules {
            for input in inputs {
                std::hint::black_box(rule.evaluate(input));
            }
        }
    });
    let n = rules.len() * inputs.len();
    println!("{label:<42} {:>3} rules x {} inputs: {:>10.0} evaluations/s ({:.2?} per pass)", rules.len(), inputs.len(), per_second(n, d), d);

    // The same work split over every core, as `verdict test --jobs N` does.
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    if threads > 1 {
        let chunk = inputs.len().div_ceil(threads);
        let d = median(|| {
            std::thread::scope(|scope| {
                for part in inputs.chunks(chunk) {
                    scope.spawn(move || {
                        for rule in rules {
                            for input in part {
                                std::hint::black_box(rule.evaluate(input));
                            }
                        }
                    });
                }
            });
        });
        println!("{:<42} {threads} threads:{:>27.0} evaluations/s ({:.2?} per pass)", "", per_second(n, d), d);
    }
}

/// The same policy and inputs through verdict's Rego engine and through regorus alone.
fn bench_rego_overhead(root: &Path, inputs: &[Input]) {
    let path = root.join("benches/fixtures/bench-no-latest.rego");
    let source = std::fs::read_to_string(&path).expect("bench policy");
    let ctx = LoadContext::default();
    let loaded = compile(Language::Rego, &path, &source, &ctx).expect("bench policy compiles");

    let harness = median(|| {
        for input in inputs {
            std::hint::black_box(loaded.engine.evaluate(input));
        }
    });

    let mut direct_engine = regorus::Engine::new();
    direct_engine.add_policy("bench-no-latest.rego".into(), source.clone()).expect("regorus compiles");
    // regorus prepares a policy on its first evaluation; do it once, so every clone starts
    // prepared, as a careful direct user (and verdict) does.
    direct_engine.eval_query("true".into(), false).expect("prepare");
    let json_inputs: Vec<regorus::Value> =
        inputs.iter().map(|i| regorus::Value::from_json_str(&i.value.to_string()).expect("input")).collect();
    let direct = median(|| {
        for input in &json_inputs {
            let mut engine = direct_engine.clone();
            engine.set_input(input.clone());
            std::hint::black_box(engine.eval_rule("data.bench.deny".into()).expect("eval"));
        }
    });
    // The same, but handing regorus each input as JSON text, as a program reading files does.
    let texts: Vec<String> = inputs.iter().map(|i| i.value.to_string()).collect();
    let direct_text = median(|| {
        for text in &texts {
            let mut engine = direct_engine.clone();
            engine.set_input_json(text).expect("input");
            std::hint::black_box(engine.eval_rule("data.bench.deny".into()).expect("eval"));
        }
    });
    println!("{:<42} {:>10.0} evaluations/s", "rego: regorus directly (pre-parsed input)", per_second(inputs.len(), direct));
    println!("{:<42} {:>10.0} evaluations/s", "rego: regorus directly (JSON text input)", per_second(inputs.len(), direct_text));
    println!("{:<42} {:>10.0} evaluations/s", "rego: verdict engine (same policy)", per_second(inputs.len(), harness));
    println!(
        "{:<42} {:>10.2}x vs pre-parsed, {:.2}x vs JSON text (target <= 1.2x)",
        "rego: harness overhead ratio",
        harness.as_secs_f64() / direct.as_secs_f64(),
        harness.as_secs_f64() / direct_text.as_secs_f64()
    );
}

/// What the machine itself gives on all cores: pure arithmetic, nothing shared.
/// Read the engines' multi-thread figures against this speed-up, not against the core count.
/// The library's Kyverno pattern rules of gate 5 (not its CEL ValidatingPolicy).
fn kyverno_pattern_rules(rules: &[Rule]) -> Vec<&Rule> {
    rules_of(rules, Language::Kyverno)
        .into_iter()
        .filter(|r| r.gate.contains("gate5"))
        .filter(|r| std::fs::read_to_string(&r.path).is_ok_and(|t| !t.contains("kind: ValidatingPolicy")))
        .collect()
}

/// The gate-5 checks as Kyverno ValidatingPolicies (CEL) against the same
/// workloads as the Kyverno pattern rules, in checks per second. The fixture
/// holds the checks as the validations of one policy; a ValidatingPolicy stops
/// at its first failing validation, so each validation becomes a policy of its
/// own here and every check runs on every workload, as each pattern rule does.
/// Both sides are measured alternately, at the `Engine` layer, in one run.
fn bench_cel(root: &Path, pattern_rules: &[&Rule], inputs: &[Input]) {
    let path = root.join("benches/fixtures/bench-gate5.vpol.yaml");
    let source = std::fs::read_to_string(&path).expect("bench policy");
    let policy: Value = serde_yaml_ng::from_str(&source).expect("bench policy is YAML");
    let validations = policy["spec"]["validations"].as_array().cloned().unwrap_or_default();
    let engines: Vec<_> = validations
        .iter()
        .enumerate()
        .map(|(i, validation)| {
            let mut one = policy.clone();
            one["metadata"]["name"] = json!(format!("bench-gate5-{i}"));
            one["spec"]["validations"] = json!([validation]);
            let text = serde_json::to_string_pretty(&one).expect("policy");
            compile(Language::Kyverno, &path, &text, &LoadContext::default()).expect("bench ValidatingPolicy compiles").engine
        })
        .collect();
    // The generated workloads are not hardened: a check that never fails would
    // mean a matcher that skips, not a fast evaluation.
    let fails = engines.iter().filter(|e| e.evaluate(&inputs[0]).name() == "fail").count();
    assert!(fails > 0, "no bench ValidatingPolicy fails the first workload");
    let (mut cel, mut pattern) = (Vec::new(), Vec::new());
    for _ in 0..PASSES {
        let start = Instant::now();
        for engine in &engines {
            for input in inputs {
                std::hint::black_box(engine.evaluate(input));
            }
        }
        cel.push(start.elapsed());
        let start = Instant::now();
        for rule in pattern_rules {
            for input in inputs {
                std::hint::black_box(rule.engine.evaluate(input));
            }
        }
        pattern.push(start.elapsed());
    }
    cel.sort();
    pattern.sort();
    let (cel, pattern) = (cel[PASSES / 2], pattern[PASSES / 2]);
    let cel_rate = per_second(engines.len() * inputs.len(), cel);
    let pattern_rate = per_second(pattern_rules.len() * inputs.len(), pattern);
    println!("{:<42} {} checks x {} inputs: {cel_rate:>10.0} evaluations/s ({cel:.2?} per pass)", "cel: gate-5 as ValidatingPolicies", engines.len(), inputs.len());
    println!("{:<42} {} rules x {} inputs: {pattern_rate:>10.0} evaluations/s ({pattern:.2?} per pass)", "kyverno: gate-5 pattern rules", pattern_rules.len(), inputs.len());
    println!("{:<42} {:>10.2}x (target >= 1.0x)", "cel / kyverno pattern evaluations per second", cel_rate / pattern_rate);
}

fn bench_hardware_scaling() {
    fn spin(n: u64) -> u64 {
        (0..n).fold(0u64, |acc, i| acc.wrapping_mul(6364136223846793005).wrapping_add(i))
    }
    const WORK: u64 = 200_000_000;
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(1) as u64;
    let one = median(|| {
        std::hint::black_box(spin(std::hint::black_box(WORK)));
    });
    let all = median(|| {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(move || std::hint::black_box(spin(std::hint::black_box(WORK / threads))));
            }
        });
    });
    println!(
        "{:<42} {:>10.2}x on {threads} threads (control: independent arithmetic)",
        "hardware parallel speed-up",
        one.as_secs_f64() / all.as_secs_f64()
    );
}

/// Every `suite.yaml` of the shared gatekeeper-library snapshot, sorted.
fn gatekeeper_suites(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "suite.yaml")
        .map(walkdir::DirEntry::into_path)
        .collect();
    found.sort();
    found
}

/// Every YAML document of `path` as JSON values (empty documents dropped).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// `input.review` for a bare object, built by hand as Gatekeeper's target builds it.
fn bare_review(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let mut review = json!({"uid": "", "kind": {"group": group, "version": version, "kind": object["kind"]},
                            "resource": {"group": "", "version": "", "resource": ""},
                            "operation": "", "userInfo": {}, "object": object});
    for field in ["name", "namespace"] {
        if let Some(v) = object["metadata"][field].as_str().filter(|v| !v.is_empty()) {
            review[field] = json!(v);
        }
    }
    review
}

/// `data.inventory` laid out by (namespace,) group-version, kind and name.
fn inventory_document(objects: &[Value]) -> Value {
    let mut data = json!({"inventory": {"cluster": {}, "namespace": {}}});
    for o in objects {
        let (gv, kind, name) = (o["apiVersion"].as_str().unwrap_or(""), o["kind"].as_str().unwrap_or(""), o["metadata"]["name"].as_str().unwrap_or(""));
        let slot = match o["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()) {
            Some(ns) => &mut data["inventory"]["namespace"][ns],
            None => &mut data["inventory"]["cluster"],
        };
        slot[gv][kind][name] = o.clone();
    }
    data
}

/// The Rego of a template's first target: `code[].engine: Rego` first, else `rego`; and its libs.
fn template_rego(template: &Value) -> Option<(String, Vec<String>, bool)> {
    let target = &template["spec"]["targets"][0];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
    };
    if let Some(code) = target["code"].as_array().and_then(|c| c.iter().find(|e| e["engine"] == "Rego")) {
        let source = &code["source"];
        return Some((source["rego"].as_str()?.to_string(), strings(&source["libs"]), source["version"] == "v1"));
    }
    let rego = target["rego"].as_str().filter(|r| !r.trim().is_empty())?;
    Some((rego.to_string(), strings(&target["libs"]), false))
}

/// One suite the way a direct regorus user would run it: compile each distinct
/// template once (prepared by a first query), then per case clone the engine, add the
/// inventory as data, set the input and evaluate `violation`. No match semantics: every
/// case object is evaluated. Returns the number of evaluations.
fn raw_regorus_suite(suite: &Path, compiled: &mut std::collections::HashMap<std::path::PathBuf, Option<(regorus::Engine, String)>>) -> usize {
    let dir = suite.parent().unwrap();
    let doc = yaml_documents(suite).remove(0);
    let mut evaluations = 0;
    for test in doc["tests"].as_array().into_iter().flatten() {
        let template_path = dir.join(test["template"].as_str().unwrap_or(""));
        let entry = compiled.entry(template_path.clone()).or_insert_with(|| {
            let template = yaml_documents(&template_path).into_iter().find(|d| d["kind"] == "ConstraintTemplate")?;
            let (rego, libs, v1) = template_rego(&template)?;
            let package = rego.lines().find_map(|l| l.trim().strip_prefix("package "))?.trim().to_string();
            let compile = |v0: bool| -> Option<regorus::Engine> {
                let mut engine = regorus::Engine::new();
                engine.set_rego_v0(v0);
                engine.add_policy("template.rego".into(), rego.clone()).ok()?;
                for (i, lib) in libs.iter().enumerate() {
                    engine.add_policy(format!("lib{i}.rego"), lib.clone()).ok()?;
                }
                engine.eval_query("true".into(), false).ok()?;
                Some(engine)
            };
            let engine = compile(!v1).or_else(|| compile(v1))?;
            Some((engine, format!("data.{package}.violation")))
        });
        let Some((engine, rule)) = entry.as_ref() else { continue };
        if test["invalid"] == true {
            continue;
        }
        let constraint = yaml_documents(&dir.join(test["constraint"].as_str().unwrap_or("")))
            .into_iter()
            .find(|d| d["apiVersion"].as_str().is_some_and(|a| a.starts_with("constraints.gatekeeper.sh/")))
            .expect("constraint");
        let parameters = match &constraint["spec"]["parameters"] {
            Value::Null => json!({}),
            p => p.clone(),
        };
        for case in test["cases"].as_array().into_iter().flatten() {
            let object = yaml_documents(&dir.join(case["object"].as_str().unwrap_or(""))).remove(0);
            let review = if object["kind"] == "AdmissionReview" { object["request"].clone() } else { bare_review(&object) };
            let inventory: Vec<Value> = case["inventory"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|f| yaml_documents(&dir.join(f.as_str().unwrap_or(""))))
                .collect();
            let mut engine = engine.clone();
            if !inventory.is_empty() {
                let data = regorus::Value::from_json_str(&inventory_document(&inventory).to_string()).expect("data");
                engine.add_data(data).expect("add data");
            }
            let input = json!({"review": review, "parameters": parameters});
            engine.set_input(regorus::Value::from_json_str(&input.to_string()).expect("input"));
            // An evaluation error is a result too (verdict reports it); the time is what counts here.
            let _ = std::hint::black_box(engine.eval_rule(rule.clone()));
            evaluations += 1;
        }
    }
    evaluations
}

/// The shared gatekeeper-library set (33 suites, 210 assertions) through verdict's gator
/// runner, as `verdict test` runs it (strict reading, schema checks, matching, expansion),
/// and through the raw regorus baseline above, in the same run.
fn bench_gatekeeper_library(root: &Path) {
    let library = root.join("../shared/conformance/gatekeeper-library/library");
    let suites = gatekeeper_suites(&library);
    if suites.is_empty() {
        println!("{:<42} (skipped: no suites under {})", "gatekeeper-library suites", library.display());
        return;
    }
    // The Rego path only: the baseline evaluates Rego (a template's CEL path is a second run).
    let options = verdict::suite::gator::SuiteOptions {
        engine: Some(verdict::engine::gatekeeper::TemplateEngine::Rego),
        ..Default::default()
    };
    let mut assertions = 0;
    let mut evaluations = 0;
    let mut run_verdict = || {
        assertions = 0;
        for suite in &suites {
            let report = verdict::suite::gator::run_suite(suite, &options).expect("suite loads");
            assertions += report.results.len();
            std::hint::black_box(report);
        }
    };
    let mut run_raw = || {
        let mut compiled = std::collections::HashMap::new();
        evaluations = suites.iter().map(|s| raw_regorus_suite(s, &mut compiled)).sum();
    };
    // Interleaved, so that both see the same load on a shared machine; wall time and
    // this thread's CPU time, whose ratio is the steadier one when other work runs.
    run_verdict();
    run_raw();
    let (mut verdict_wall, mut verdict_cpu, mut raw_wall, mut raw_cpu) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 * PASSES {
        let (wall, cpu) = timed(&mut run_verdict);
        verdict_wall.push(wall);
        verdict_cpu.push(cpu);
        let (wall, cpu) = timed(&mut run_raw);
        raw_wall.push(wall);
        raw_cpu.push(cpu);
    }
    let mid = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (verdict_wall, verdict_cpu, raw_wall, raw_cpu) = (mid(verdict_wall), mid(verdict_cpu), mid(raw_wall), mid(raw_cpu));
    println!(
        "{:<42} {} suites, {assertions} assertion rows: {verdict_wall:.2?} per pass ({verdict_cpu:.2?} CPU)",
        "gatekeeper-library: verdict (gator runner)",
        suites.len(),
    );
    println!(
        "{:<42} {evaluations} case evaluations: {raw_wall:.2?} per pass ({raw_cpu:.2?} CPU)",
        "gatekeeper-library: regorus directly",
    );
    println!(
        "{:<42} {:>10.2}x CPU, {:.2}x wall (target <= 1.3x); {:.0} vs {:.0} case evaluations/s (CPU)",
        "gatekeeper-library: verdict / regorus",
        verdict_cpu.as_secs_f64() / raw_cpu.as_secs_f64(),
        verdict_wall.as_secs_f64() / raw_wall.as_secs_f64(),
        per_second(evaluations, verdict_cpu),
        per_second(evaluations, raw_cpu)
    );
}

/// Wall time and this thread's CPU time of one run of `f`.
fn timed(f: &mut impl FnMut()) -> (Duration, Duration) {
    fn thread_cpu() -> Duration {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    let (wall, cpu) = (Instant::now(), thread_cpu());
    f();
    (wall.elapsed(), thread_cpu() - cpu)
}

fn main() {
    // `cargo bench --bench engines -- NAME` runs only the measurements whose name
    // contains NAME (`gatekeeper-library`, `rego`, ...); `cargo bench` passes `--bench`.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = manifests();
    let library = load_library(root, &Limits::default());
    for e in &library.errors {
        eprintln!("library load error: {e}");
    }
    println!("verdict engine benchmarks ({} cores available)", std::thread::available_parallelism().map(usize::from).unwrap_or(1));
    if wanted("hardware") {
        bench_hardware_scaling();
    }
    if wanted("gatekeeper: gate-4") {
        bench_library("gatekeeper: gate-4 library rules", &rules_of(&library.rules, Language::Gatekeeper), &inputs);
    }
    if wanted("kyverno: gate-5") {
        bench_library("kyverno: gate-5 library rules", &kyverno_pattern_rules(&library.rules), &inputs);
    }
    if wanted("cel") {
        bench_cel(root, &kyverno_pattern_rules(&library.rules), &inputs);
    }
    if wanted("rego: terraform") {
        bench_library("rego: terraform rules (on plans)", &rules_of(&library.rules, Language::Rego), &plans(root));
    }
    if wanted("rego: overhead") {
        bench_rego_overhead(root, &inputs);
    }
    if wanted("gatekeeper-library") {
        bench_gatekeeper_library(root);
    }
}
