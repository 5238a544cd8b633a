//! `cargo xtask opa-diff`: every Rego rule and Gatekeeper template of the
//! library and of the shared gatekeeper-library conformance set, on every case,
//! evaluated by verdict and by real OPA; the result sets must agree.
//!
//! Each evaluation is built with verdict's own library code (the engines'
//! `input.review`, `input.parameters`, `data.inventory`, conftest's rules), run
//! in verdict as the engines run it, and run in OPA from the same modules (as
//! written, v0 turned into v1 syntax), data and input.

mod compare;
mod opa;
mod v1;

use anyhow::{Context, Result};
use compare::{canonical, KnownGap, Outcome, Shape};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use verdict::engine::gatekeeper::{self, Constraint, Template};
use verdict::engine::rego::{judging_rules, Program};
use verdict::limits::Limits;

/// One query on one input, with verdict's outcome.
struct Evaluation {
    /// The rule or template (`policies/...`, `gatekeeper-library/...`).
    rule: String,
    /// The input file and case.
    input_label: String,
    program: usize,
    input: Value,
    query: String,
    shape: Shape,
    verdict: Outcome,
}

impl Evaluation {
    fn label(&self) -> String {
        format!("{} :: {}", self.rule, self.input_label)
    }
}

/// The evaluations and the distinct (modules, data) they run on.
#[derive(Default)]
struct Corpus {
    programs: Vec<Value>,
    program_index: HashMap<String, usize>,
    evaluations: Vec<Evaluation>,
    /// Things not evaluated, with the reason.
    skipped: Vec<String>,
}

impl Corpus {
    /// The program for `modules` + `data`, as OPA gets it (v0 modules in v1 syntax).
    fn program(&mut self, modules: &[(String, String)], data: &Value) -> usize {
        let key = format!("{modules:?}{data}");
        if let Some(&index) = self.program_index.get(&key) {
            return index;
        }
        let converted: Result<Vec<Value>> = modules
            .iter()
            .map(|(name, source)| Ok(json!([name, v1::to_v1(name, source)?])))
            .collect();
        let program = match converted {
            Ok(modules) => json!({"modules": modules, "data": data}),
            // An unconvertible module: OPA gets a module that fails to compile with the reason.
            Err(err) => {
                json!({"modules": [["conversion-error.rego", format!("package conversion_error\n# {}\nnot valid rego", err.to_string().replace('\n', " "))]], "data": {}})
            }
        };
        self.programs.push(program);
        self.program_index.insert(key, self.programs.len() - 1);
        self.programs.len() - 1
    }
}

/// Run the differential check; `Ok(false)` when a disagreement is not explained.
pub fn run(root: &Path) -> Result<bool> {
    let started = std::time::Instant::now();
    let known_path = root.join("xtask/opa-diff.known");
    let known = match std::fs::read_to_string(&known_path) {
        Ok(text) => compare::parse_known(&text)?,
        Err(_) => Vec::new(),
    };
    let limits = Limits::default();
    let mut corpus = Corpus::default();
    library_rego(root, &limits, &mut corpus)?;
    library_gatekeeper(root, &limits, &mut corpus)?;
    rego_engine_cases(root, &limits, &mut corpus)?;
    let shared = root.join("../shared/conformance/gatekeeper-library");
    if shared.is_dir() {
        gatekeeper_suites(&shared, &limits, &mut corpus)?;
        rego_unit_tests(
            &shared.join("src"),
            "gatekeeper-library",
            &limits,
            &mut corpus,
        )?;
    } else if std::env::var("CI").as_deref() == Ok("true") {
        anyhow::bail!(
            "{} is missing: the conformance set is part of the check under CI=true",
            shared.display()
        );
    } else {
        eprintln!(
            "opa-diff: {} not found; checking the library only",
            shared.display()
        );
    }

    let bindings = opa::bindings_dir()?;
    let batch = json!({
        "programs": corpus.programs,
        "evaluations": corpus.evaluations.iter().map(|e| json!({"program": e.program, "input": e.input, "query": e.query})).collect::<Vec<_>>(),
    });
    let results = opa::evaluate(&root.join("xtask/opa_diff.py"), &bindings, &batch)?;
    anyhow::ensure!(
        results.len() == corpus.evaluations.len(),
        "the OPA driver returned {} results for {} evaluations",
        results.len(),
        corpus.evaluations.len()
    );

    let mut tally = Tally::default();
    let mut used_gaps = vec![false; known.len()];
    for (evaluation, result) in corpus.evaluations.iter().zip(&results) {
        let opa = opa_outcome(result, evaluation.shape);
        tally.record(evaluation, &opa, &known, &mut used_gaps);
    }
    for skipped in &corpus.skipped {
        println!("opa-diff: not evaluated: {skipped}");
    }
    for (gap, used) in known.iter().zip(&used_gaps) {
        if !used {
            println!(
                "opa-diff: stale allow-list entry (nothing matched it): {}",
                gap.label
            );
        }
    }
    let total = corpus.evaluations.len();
    println!(
        "opa-diff: {} agreements / {total} evaluations ({} both error, {} not comparable: OPA's strict builtin errors, {} known gaps, {} unexplained disagreements; {} programs, {:.1}s)",
        tally.agreements,
        tally.both_error,
        tally.strict_builtin,
        tally.known,
        tally.unexplained,
        corpus.programs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(tally.unexplained == 0)
}

#[derive(Default)]
struct Tally {
    agreements: usize,
    both_error: usize,
    strict_builtin: usize,
    known: usize,
    unexplained: usize,
}

impl Tally {
    fn record(
        &mut self,
        evaluation: &Evaluation,
        opa: &Outcome,
        known: &[KnownGap],
        used: &mut [bool],
    ) {
        match (&evaluation.verdict, opa) {
            (Outcome::Value(a), Outcome::Value(b)) if a == b => self.agreements += 1,
            (Outcome::Error(mine), Outcome::Error(theirs)) => {
                self.agreements += 1;
                self.both_error += 1;
                println!(
                    "opa-diff: both error: {}\n    OPA:     {}\n    verdict: {}",
                    evaluation.label(),
                    shorten(theirs),
                    shorten(mine)
                );
            }
            // The embedded OPA runs with strict builtin errors; Gatekeeper and
            // `opa test` do not (an erroring builtin call is undefined there).
            (Outcome::Value(_), Outcome::Error(e)) if is_builtin_error(e) => {
                self.strict_builtin += 1;
                println!("opa-diff: not comparable (OPA strict builtin error): {}\n    OPA:     {e}\n    verdict: {}", evaluation.label(), show(&evaluation.verdict));
            }
            _ => {
                let label = evaluation.label();
                if let Some(i) = known.iter().position(|g| label.starts_with(&g.label)) {
                    used[i] = true;
                    self.known += 1;
                    println!("opa-diff: known gap: {label} ({})", known[i].reason);
                } else {
                    self.unexplained += 1;
                    println!(
                        "opa-diff: DISAGREEMENT {label}\n    query:   {}\n    input:   {}\n    OPA:     {}\n    verdict: {}",
                        evaluation.query,
                        shorten(&evaluation.input.to_string()),
                        show(opa),
                        show(&evaluation.verdict)
                    );
                }
            }
        }
    }
}

fn is_builtin_error(message: &str) -> bool {
    message.contains("eval_type_error") || message.contains("eval_builtin_error")
}

fn show(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Value(v) => shorten(v),
        Outcome::Error(e) => format!("error: {}", shorten(e)),
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 600;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn opa_outcome(result: &Value, shape: Shape) -> Outcome {
    if let Some(error) = result.get("error") {
        return Outcome::Error(error.as_str().unwrap_or_default().to_string());
    }
    Outcome::Value(canonical(result.get("value"), shape))
}

fn verdict_outcome(result: Result<Option<Value>, String>, shape: Shape) -> Outcome {
    match result {
        Ok(value) => Outcome::Value(canonical(value.as_ref(), shape)),
        Err(e) => Outcome::Error(e),
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// Case files of a rule, and the known-good corpus: documents a rule judges.
fn case_files(root: &Path, rule_id: &str) -> Vec<PathBuf> {
    let is_case = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !name.starts_with('_')
            && !name.ends_with(".image.yaml")
            && [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| name.ends_with(ext))
    };
    let mut files: Vec<PathBuf> = files_under(&root.join("cases").join(rule_id))
        .into_iter()
        .filter(is_case)
        .collect();
    files.extend(
        files_under(&root.join("cases/_corpus"))
            .into_iter()
            .filter(is_case),
    );
    files
}

/// The library's conftest-style Rego rules (with `policies/lib`) on their cases
/// and the corpus, and the library's own `*_test.rego` unit tests.
fn library_rego(root: &Path, limits: &Limits, corpus: &mut Corpus) -> Result<()> {
    let policies = root.join("policies");
    let libs: Vec<(String, String)> = files_under(&policies.join("lib"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .map(|p| Ok((relative(root, &p), std::fs::read_to_string(&p)?)))
        .collect::<Result<_>>()?;
    for path in files_under(&policies) {
        let name = relative(root, &path);
        if !name.ends_with(".rego")
            || name.ends_with("_test.rego")
            || path.starts_with(policies.join("lib"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let mut modules = vec![(name.clone(), text.clone())];
        modules.extend(libs.iter().cloned());
        let data = data_file(&path)?;
        let program = match Program::new(&modules, data.clone(), limits) {
            Ok(program) => program,
            Err(err) => {
                corpus
                    .skipped
                    .push(format!("{name}: verdict cannot compile it: {err}"));
                continue;
            }
        };
        let rules = judging_rules(&program, &name, &text);
        let entry_points: Vec<&str> = rules.iter().map(|r| r.path.as_str()).collect();
        // The loader refuses a rule calling an unknown function, as OPA's compiler does.
        let load_error = program
            .check_calls(&entry_points)
            .err()
            .map(|e| e.to_string());
        let rule_id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let index = corpus.program(&modules, data.as_ref().unwrap_or(&json!({})));
        for file in case_files(root, &rule_id) {
            let inputs = match verdict::input::load_file(&file, limits) {
                Ok(inputs) => inputs,
                Err(err) => {
                    corpus
                        .skipped
                        .push(format!("{}: {err}", relative(root, &file)));
                    continue;
                }
            };
            for input in inputs {
                for rule in &rules {
                    let result = match &load_error {
                        Some(err) => Err(err.clone()),
                        None => program
                            .eval_rule(&rule.path, &input.value)
                            .map_err(|e| e.to_string()),
                    };
                    corpus.evaluations.push(Evaluation {
                        rule: format!("{name} {}", rule.name),
                        input_label: format!("{}#{}", relative(root, &file), input.index),
                        program: index,
                        input: input.value.clone(),
                        query: rule.path.clone(),
                        shape: Shape::Set,
                        verdict: verdict_outcome(result, Shape::Set),
                    });
                }
            }
        }
    }
    rego_unit_tests(&policies, "policies", limits, corpus)?;
    // The library's tests run against the rule beside them and policies/lib.
    let _ = libs;
    Ok(())
}

/// The Rego engine's behaviour cases (`tests/engine/rego/*.yaml`): each
/// policy's `rule`, or its conftest rules, on the case's input. Cases marked
/// `skip_opa` (v0 syntax OPA 1.x cannot parse, and the like) and policies that
/// do not compile (cases about load errors) are left out.
fn rego_engine_cases(root: &Path, limits: &Limits, corpus: &mut Corpus) -> Result<()> {
    for path in files_under(&root.join("tests/engine/rego")) {
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let suite: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| path.display().to_string())?;
        for (i, case) in suite["cases"].as_array().into_iter().flatten().enumerate() {
            let (Some(policy), false) = (case["policy"].as_str(), case.get("skip_opa").is_some())
            else {
                continue;
            };
            let file = case["file"].as_str().unwrap_or("policy.rego").to_string();
            let mut modules = vec![(file.clone(), policy.to_string())];
            for (j, lib) in case["libs"].as_array().into_iter().flatten().enumerate() {
                modules.push((
                    format!("lib/lib{j}.rego"),
                    lib.as_str().unwrap_or_default().to_string(),
                ));
            }
            for lib in case["lib_files"].as_array().into_iter().flatten() {
                let lib = lib.as_str().unwrap_or_default();
                modules.push((lib.to_string(), std::fs::read_to_string(root.join(lib))?));
            }
            let data = case.get("data").cloned();
            let Ok(program) = Program::new(&modules, data.clone(), limits) else {
                continue;
            };
            let queries: Vec<(String, Shape)> = match case["rule"].as_str() {
                Some(rule) => vec![(rule.to_string(), Shape::Value)],
                None => judging_rules(&program, &file, policy)
                    .into_iter()
                    .map(|r| (r.path, Shape::Set))
                    .collect(),
            };
            let input = case.get("input").cloned().unwrap_or(json!({}));
            let index = corpus.program(&modules, data.as_ref().unwrap_or(&json!({})));
            let entry_points: Vec<&str> = queries.iter().map(|(q, _)| q.as_str()).collect();
            let load_error = program
                .check_calls(&entry_points)
                .err()
                .map(|e| e.to_string());
            for (query, shape) in queries {
                let result = match &load_error {
                    Some(err) => Err(err.clone()),
                    None => program.eval_rule(&query, &input).map_err(|e| e.to_string()),
                };
                corpus.evaluations.push(Evaluation {
                    rule: format!(
                        "{} case {i} ({})",
                        relative(root, &path),
                        case["note"].as_str().unwrap_or("")
                    ),
                    input_label: query.clone(),
                    program: index,
                    input: input.clone(),
                    query,
                    shape,
                    verdict: verdict_outcome(result, shape),
                });
            }
        }
    }
    Ok(())
}

/// `<stem>.data.json` beside a policy, as the Rego loader reads it.
fn data_file(policy: &Path) -> Result<Option<Value>> {
    let data = policy.with_extension("data.json");
    if !data.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&data)?;
    Ok(Some(
        serde_json::from_str(&text).with_context(|| data.display().to_string())?,
    ))
}

/// Every `test_*` rule of every `*_test.rego` under `dir`, with the other Rego
/// files of its directory (and, under `policies/`, `policies/lib`).
fn rego_unit_tests(dir: &Path, prefix: &str, limits: &Limits, corpus: &mut Corpus) -> Result<()> {
    let test_name = regex::Regex::new(r"(?m)^(test_[A-Za-z0-9_]*)\b").expect("valid regex");
    let lib_dir = dir.join("lib");
    for path in files_under(dir) {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !file_name.ends_with("_test.rego") {
            continue;
        }
        let parent = path.parent().expect("a file has a parent");
        let mut module_files: Vec<PathBuf> = std::fs::read_dir(parent)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rego"))
            .filter(|p| *p == path || !p.to_string_lossy().ends_with("_test.rego"))
            .collect();
        if prefix == "policies" {
            module_files.extend(
                files_under(&lib_dir)
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "rego")),
            );
        }
        module_files.sort();
        let modules: Vec<(String, String)> = module_files
            .iter()
            .map(|p| {
                Ok((
                    format!("{prefix}/{}", relative(dir, p)),
                    std::fs::read_to_string(p)?,
                ))
            })
            .collect::<Result<_>>()?;
        let label = format!("{prefix}/{}", relative(dir, &path));
        let program = match Program::new(&modules, None, limits) {
            Ok(program) => program,
            Err(err) => {
                corpus
                    .skipped
                    .push(format!("{label}: verdict cannot compile it: {err}"));
                continue;
            }
        };
        let text = std::fs::read_to_string(&path)?;
        let Some((_, package)) = program.packages().into_iter().find(|(f, _)| *f == label) else {
            continue;
        };
        let mut names: Vec<&str> = test_name
            .captures_iter(&text)
            .filter_map(|c| c.get(1))
            .map(|m| m.as_str())
            .collect();
        names.sort();
        names.dedup();
        let index = corpus.program(&modules, &json!({}));
        for name in names {
            let query = format!("{package}.{name}");
            let result = program
                .eval_rule(&query, &json!({}))
                .map_err(|e| e.to_string());
            corpus.evaluations.push(Evaluation {
                rule: format!("{label} {name}"),
                input_label: "(test rule)".to_string(),
                program: index,
                input: json!({}),
                query,
                shape: Shape::Value,
                verdict: verdict_outcome(result, Shape::Value),
            });
        }
    }
    Ok(())
}

/// The library's Gatekeeper rules (template + Constraint in one file) on their
/// cases (with `_inventory.yaml`) and the corpus.
fn library_gatekeeper(root: &Path, limits: &Limits, corpus: &mut Corpus) -> Result<()> {
    for path in files_under(&root.join("policies")) {
        let name = relative(root, &path);
        if !name.ends_with(".yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        if !text.contains("kind: ConstraintTemplate") {
            continue;
        }
        let (template, constraint) =
            match template_and_constraint(&path, &text, &path, &text, limits) {
                Ok(pair) => pair,
                Err(err) => {
                    corpus.skipped.push(format!("{name}: {err}"));
                    continue;
                }
            };
        let rule_id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let inventory_file = root
            .join("cases")
            .join(rule_id)
            .join(gatekeeper::INVENTORY_FILE);
        let inventory = if inventory_file.is_file() {
            objects(&inventory_file, limits)?
        } else {
            Vec::new()
        };
        for file in case_files(root, rule_id) {
            let Ok(inputs) = verdict::input::load_file(&file, limits) else {
                continue;
            };
            // The engine judges manifests only; other documents are not applicable.
            for input in inputs
                .into_iter()
                .filter(|i| i.kind == verdict::input::InputKind::Manifest)
            {
                let label = format!("{}#{}", relative(root, &file), input.index);
                review(
                    corpus,
                    &name,
                    &label,
                    &template,
                    &constraint,
                    &input.value,
                    &inventory,
                );
            }
        }
    }
    Ok(())
}

/// Every test case of every gator suite under `dir`.
fn gatekeeper_suites(dir: &Path, limits: &Limits, corpus: &mut Corpus) -> Result<()> {
    for suite_path in files_under(dir) {
        if suite_path.file_name().and_then(|n| n.to_str()) != Some("suite.yaml") {
            continue;
        }
        let suite_dir = suite_path.parent().expect("a file has a parent");
        let suite: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&suite_path)?)
            .with_context(|| suite_path.display().to_string())?;
        let suite_label = format!("gatekeeper-library/{}", relative(dir, suite_dir));
        for test in suite["tests"].as_array().into_iter().flatten() {
            let test_label = format!("{suite_label} {}", test["name"].as_str().unwrap_or("?"));
            let template_path = suite_dir.join(test["template"].as_str().unwrap_or_default());
            let constraint_path = suite_dir.join(test["constraint"].as_str().unwrap_or_default());
            let loaded = std::fs::read_to_string(&template_path)
                .and_then(|t| Ok((t, std::fs::read_to_string(&constraint_path)?)))
                .map_err(anyhow::Error::from)
                .and_then(|(t, c)| {
                    template_and_constraint(&template_path, &t, &constraint_path, &c, limits)
                });
            let (template, constraint) = match loaded {
                Ok(pair) => pair,
                Err(err) => {
                    corpus.skipped.push(format!("{test_label}: {err}"));
                    continue;
                }
            };
            for case in test["cases"].as_array().into_iter().flatten() {
                let case_label = format!(
                    "{} / {}",
                    relative(
                        dir,
                        &suite_dir.join(case["object"].as_str().unwrap_or_default())
                    ),
                    case["name"].as_str().unwrap_or("?")
                );
                let mut inventory = Vec::new();
                for file in case["inventory"].as_array().into_iter().flatten() {
                    inventory.extend(objects(
                        &suite_dir.join(file.as_str().unwrap_or_default()),
                        limits,
                    )?);
                }
                let object_path = suite_dir.join(case["object"].as_str().unwrap_or_default());
                let Ok(objects) = objects(&object_path, limits) else {
                    corpus.skipped.push(format!(
                        "{test_label}: {case_label}: cannot read the object"
                    ));
                    continue;
                };
                for object in objects {
                    review(
                        corpus,
                        &test_label,
                        &case_label,
                        &template,
                        &constraint,
                        &object,
                        &inventory,
                    );
                }
            }
        }
    }
    Ok(())
}

/// Load the ConstraintTemplate of one file and the Constraint of another (or the same).
fn template_and_constraint(
    template_path: &Path,
    template_text: &str,
    constraint_path: &Path,
    constraint_text: &str,
    limits: &Limits,
) -> Result<(Template, Constraint)> {
    let docs = gatekeeper::parse_documents(template_path, template_text, limits)?;
    let doc = docs
        .iter()
        .find(|d| d.value["kind"].as_str() == Some("ConstraintTemplate"))
        .context("no ConstraintTemplate")?;
    let template = gatekeeper::load_template(template_path, template_text, doc, limits)?;
    let docs = gatekeeper::parse_documents(constraint_path, constraint_text, limits)?;
    let doc = docs
        .iter()
        .find(|d| d.value["kind"].as_str() == Some(template.kind.as_str()))
        .with_context(|| format!("no Constraint of kind {}", template.kind))?;
    let constraint = gatekeeper::load_constraint(constraint_path, constraint_text, doc)?;
    Ok((template, constraint))
}

fn objects(path: &Path, limits: &Limits) -> Result<Vec<Value>> {
    Ok(verdict::input::load_file(path, limits)?
        .into_iter()
        .map(|i| i.value)
        .collect())
}

/// Review `object` (a bare object or an AdmissionReview) as the engine does,
/// and queue the same evaluation for OPA; objects the Constraint does not select
/// are left out (no Rego runs for them).
fn review(
    corpus: &mut Corpus,
    rule: &str,
    input_label: &str,
    template: &Template,
    constraint: &Constraint,
    object: &Value,
    inventory: &[Value],
) {
    let is_review = object["kind"].as_str() == Some("AdmissionReview")
        && object["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("admission.k8s.io/"));
    let (evaluation, outcome) = if is_review {
        let request = &object["request"];
        (
            template.rego_evaluation_for_request(constraint, request, inventory),
            template.review_request(constraint, request, inventory),
        )
    } else {
        (
            template.rego_evaluation(constraint, object, inventory),
            template.review(constraint, object, inventory),
        )
    };
    let evaluation = match evaluation {
        Ok(Some(evaluation)) => evaluation,
        Ok(None) => return,
        Err(err) => {
            corpus
                .skipped
                .push(format!("{rule} :: {input_label}: {err}"));
            return;
        }
    };
    let verdict = match outcome {
        Ok(gatekeeper::ReviewOutcome::Violations(violations)) => Outcome::Value(canonical(
            Some(&Value::Array(
                violations
                    .into_iter()
                    .map(|v| json!({"msg": v.message, "details": v.details}))
                    .collect(),
            )),
            Shape::Violations,
        )),
        Ok(gatekeeper::ReviewOutcome::NotMatched) => {
            Outcome::Error("verdict did not match the object".to_string())
        }
        Err(err) => Outcome::Error(err.to_string()),
    };
    let index = corpus.program(&evaluation.modules, &evaluation.data);
    corpus.evaluations.push(Evaluation {
        rule: rule.to_string(),
        input_label: input_label.to_string(),
        program: index,
        input: evaluation.input,
        query: evaluation.query,
        shape: Shape::Violations,
        verdict,
    });
}
