//! `cargo bench --bench engines`: rule evaluations per second over 1 000 generated
//! manifests for each engine, and the harness's overhead against calling regorus
//! directly on the same policy and inputs, measured in the same run.
//!
//! A plain `main` (no criterion): each measurement is the median of several timed
//! passes after a warm-up, printed as one table.

use serde_json::json;
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

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inputs = manifests();
    let library = load_library(root, &Limits::default());
    for e in &library.errors {
        eprintln!("library load error: {e}");
    }
    println!("verdict engine benchmarks ({} cores available)", std::thread::available_parallelism().map(usize::from).unwrap_or(1));
    bench_hardware_scaling();
    bench_library("gatekeeper: gate-4 library rules", &rules_of(&library.rules, Language::Gatekeeper), &inputs);
    bench_library("kyverno: gate-5 library rules", &rules_of(&library.rules, Language::Kyverno), &inputs);
    bench_library("rego: terraform rules (on plans)", &rules_of(&library.rules, Language::Rego), &plans(root));
    bench_rego_overhead(root, &inputs);
}
