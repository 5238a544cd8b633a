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
/// variable anything.
fn expressions(node: &Json, list: &str, out: &mut Vec<(String, &'static [ResultType])>) {
    match node {
        Json::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expression", Json::String(s)) => {
                        let wanted: &'static [ResultType] = match list {
                            "variables" => &[],
                            _ => &[ResultType::Bool],
                        };
                        out.push((s.clone(), wanted))
                    }
                    ("messageExpression", Json::String(s)) => {
                        out.push((s.clone(), &[ResultType::String]))
                    }
                    ("valueExpression", Json::String(s)) => {
                        out.push((s.clone(), &[ResultType::String, ResultType::Null]))
                    }
                    _ => expressions(value, key, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| expressions(i, list, out)),
        _ => {}
    }
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

fn kyverno_expressions(root: &Path) -> Vec<(String, String, &'static [ResultType])> {
    let mut found = Vec::new();
    for file in yaml_files(&root.join("kyverno-policies-cel")) {
        for doc in documents(&file) {
            if matches!(
                doc["kind"].as_str(),
                Some("ClusterPolicy" | "Policy" | "ValidatingPolicy")
            ) {
                let mut exprs = Vec::new();
                expressions(&doc["spec"], "", &mut exprs);
                found.extend(exprs.into_iter().map(|(e, w)| (file.display().to_string(), e, w)));
            }
        }
    }
    found
}

fn gatekeeper_expressions(root: &Path) -> Vec<(String, String, &'static [ResultType])> {
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
                    expressions(&code["source"], "", &mut exprs);
                    found.extend(exprs.into_iter().map(|(e, w)| (file.display().to_string(), e, w)));
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
    for (file, source, wanted) in kyverno.iter().chain(&gatekeeper) {
        // The result type is checked in the field's role: an upstream policy the
        // upstream checker accepts must not be rejected here.
        match env.compile_as(source, wanted) {
            Ok(_) => {
                if env.result_type(source).is_ok_and(|t| t != ResultType::Dyn) {
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
