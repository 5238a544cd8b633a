//! Every CEL expression of the upstream CEL policies in
//! `../shared/conformance/` (Kyverno `*-cel`/`*-vpol` ClusterPolicies and
//! ValidatingPolicies, gatekeeper-library `K8sNativeValidation` templates)
//! compiles in `CelEnv::kubernetes()`, except for calls to the Kyverno
//! libraries a policy kind adds later (listed in `KIND_LIBRARIES`), which must
//! fail naming that function, never silently. Each compiles in its field's
//! role, so the load-time result-type check rejects none of them.

mod support;

use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use verdict::engine::cel::{CelEnv, CelError, ResultType};

/// Functions of Kyverno's CEL libraries, registered by the Kyverno policy
/// kinds through `CelEnv::builder()`, not by the core environment.
const KIND_LIBRARIES: &[&str] = &[
    "resource.",
    "image.",
    "http.",
    "globalContext.",
    "imagedata.",
    "json.",
    "yaml.",
    "x509.",
    "time.",
    "parseImageReference",
    "parseServiceAccount",
    "GetMetadata",
    "Get",
    "List",
    "Post",
    "Fetch",
];
/// Expression counts of the pinned snapshot: fewer means files went unread.
const KYVERNO_EXPRESSIONS: usize = 302;
const GATEKEEPER_EXPRESSIONS: usize = 123;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

fn main() {
    support::conformance_main(
        "cel_policy_expressions_compile",
        "CEL policy",
        &root(),
        compile_all,
    );
}

/// Every `expression`/`messageExpression`/`valueExpression` string under
/// `node`, with the result types its field allows (empty: any), as the
/// upstream compilers check them: a condition (`validations`,
/// `validate.cel.expressions`, `matchConditions`, `celPreconditions`) is a
/// bool, a message a string, an audit annotation a string or null, a
/// variable anything; and the `variables` (name, expression) beside it.
fn expressions(node: &Json, list: &str, variables: &[(String, String)], out: &mut Vec<Found>) {
    match node {
        Json::Object(map) => {
            let mut variables = variables.to_vec();
            for item in map.get("variables").and_then(Json::as_array).into_iter().flatten() {
                if let (Some(name), Some(expression)) = (item["name"].as_str(), item["expression"].as_str()) {
                    variables.push((name.to_string(), expression.to_string()));
                }
            }
            for (key, value) in map {
                let wanted: &'static [ResultType] = match (key.as_str(), list) {
                    ("expression", "variables") => &[],
                    ("expression", _) => &[ResultType::Bool],
                    ("messageExpression", _) => &[ResultType::String],
                    ("valueExpression", _) => &[ResultType::String, ResultType::Null],
                    _ => {
                        expressions(value, key, &variables, out);
                        continue;
                    }
                };
                match value {
                    Json::String(source) => out.push(Found {
                        source: source.clone(),
                        wanted,
                        variables: variables.clone(),
                    }),
                    _ => expressions(value, key, &variables, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| expressions(i, list, variables, out)),
        _ => {}
    }
}

/// One expression of an upstream policy, in its field's role.
struct Found {
    source: String,
    wanted: &'static [ResultType],
    /// The policy's variables in scope, in order.
    variables: Vec<(String, String)>,
}

fn documents(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_yaml_ng::Deserializer::from_str(&text)
        .filter_map(|d| Json::deserialize(d).ok())
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml")
        })
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort();
    files
}

fn kyverno_expressions(root: &Path) -> Vec<(String, Found)> {
    let mut found = Vec::new();
    for file in yaml_files(&root.join("kyverno-policies-cel")) {
        for doc in documents(&file) {
            if matches!(
                doc["kind"].as_str(),
                Some("ClusterPolicy" | "Policy" | "ValidatingPolicy")
            ) {
                let mut exprs = Vec::new();
                expressions(&doc["spec"], "", &[], &mut exprs);
                found.extend(exprs.into_iter().map(|e| (file.display().to_string(), e)));
            }
        }
    }
    found
}

fn gatekeeper_expressions(root: &Path) -> Vec<(String, Found)> {
    let mut found = Vec::new();
    for file in yaml_files(&root.join("gatekeeper-library/library"))
        .into_iter()
        .filter(|f| f.ends_with("template.yaml"))
    {
        for doc in documents(&file) {
            for target in doc["spec"]["targets"].as_array().into_iter().flatten() {
                for code in target["code"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["engine"] == "K8sNativeValidation")
                {
                    let mut exprs = Vec::new();
                    expressions(&code["source"], "", &[], &mut exprs);
                    found.extend(exprs.into_iter().map(|e| (file.display().to_string(), e)));
                }
            }
        }
    }
    found
}

fn compile_all() -> Result<(), libtest_mimic::Failed> {
    let env = CelEnv::kubernetes();
    let root = root();
    let kyverno = kyverno_expressions(&root);
    let gatekeeper = gatekeeper_expressions(&root);
    let mut problems = String::new();
    let mut later: BTreeMap<String, usize> = BTreeMap::new();
    let mut typed = 0;
    for (file, found) in kyverno.iter().chain(&gatekeeper) {
        // The result type is checked in the field's role, with the policy's
        // variables typed: an upstream policy the upstream checker accepts
        // must not be rejected here.
        let mut variables = Vec::new();
        for (name, source) in &found.variables {
            if let Ok(expression) = env.compile_with_variables(source, &[], &variables) {
                variables.push((name.clone(), expression));
            }
        }
        let source = &found.source;
        match env.compile_with_variables(source, found.wanted, &variables) {
            Ok(expression) => {
                if expression.result_type() != ResultType::Dyn {
                    typed += 1;
                }
            }
            Err(CelError::UnknownFunction { function, .. })
                if KIND_LIBRARIES
                    .iter()
                    .any(|l| function.starts_with(l) || function == l.trim_end_matches('.')) =>
            {
                *later.entry(function).or_default() += 1;
            }
            Err(e) => writeln!(problems, "{file}: {e}").unwrap(),
        }
    }
    println!(
        "{} Kyverno and {} Gatekeeper expressions, {typed} of a type known at load; calls left to the policy kinds' libraries: {later:?}",
        kyverno.len(),
        gatekeeper.len()
    );
    if kyverno.len() != KYVERNO_EXPRESSIONS || gatekeeper.len() != GATEKEEPER_EXPRESSIONS {
        writeln!(problems, "found {} Kyverno and {} Gatekeeper expressions, the pinned snapshot has {KYVERNO_EXPRESSIONS} and {GATEKEEPER_EXPRESSIONS}", kyverno.len(), gatekeeper.len()).unwrap();
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.into())
    }
}
