//! Kyverno rule orchestration, driven by `tests/engine/kyverno/{match,autogen,foreach,deny,rule,policy}*.yaml`.
//!
//! Each file may hold a file-wide `policy` and has `cases: [{note, policy?, ...}]`:
//! - `resource` (+ optional `context: {operation, oldResource, namespaceLabels,
//!   userInfo, roles, clusterRoles, values, ruleValues: {rule: {var: value}},
//!   numbers: cluster | kyverno-cli, paramResources: [objects]}`) and
//!   `want: [{rule, status}]`: every response of [`apply_policy_with_rule_values`], in order; `status` is `pass`, `fail`, `warn`,
//!   `error`, `skip`, or `excluded` for a rule Kyverno would not report at all.
//!   `message` in a `want` entry, when given, must be contained in the response message.
//! - `want_error: text`: [`Policy::from_value`] fails with a message containing `text`.
//! - `library: text` (a policy file) with `want_load: {id, mode, title, severity,
//!   controls}` checks the header of [`load`]; with `resource` + `want_outcome`
//!   (`pass`, `fail`, `error`, `warn`, `not-applicable`) the `Engine` verdict;
//!   with `want_load_error: text` [`load`] fails with an error containing `text`.

mod support;

use rstest::rstest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use verdict::engine::cel::Numbers;
use verdict::engine::kyverno::engine::{apply_policy_with_rule_values, load, ResourceContext};
use verdict::engine::kyverno::policy::Policy;
use verdict::input::Input;
use verdict::library::LoadContext;

#[rstest]
fn kyverno_rules(
    #[files("tests/engine/kyverno/match*.yaml")]
    #[files("tests/engine/kyverno/autogen*.yaml")]
    #[files("tests/engine/kyverno/foreach*.yaml")]
    #[files("tests/engine/kyverno/deny*.yaml")]
    #[files("tests/engine/kyverno/rule*.yaml")]
    #[files("tests/engine/kyverno/policy*.yaml")]
    path: PathBuf,
) {
    support::run_yaml_cases(&path, |file, case| run_case(&path, file, case));
}

fn run_case(path: &Path, file: &Value, case: &Value) -> Result<(), String> {
    if let Some(library) = case.get("library") {
        return run_library_case(path, library.as_str().ok_or("library must be text")?, case);
    }
    let policy_doc = case
        .get("policy")
        .or_else(|| file.get("policy"))
        .ok_or("no policy")?;
    let parsed = Policy::from_value(policy_doc);
    if let Some(want) = case.get("want_error") {
        let want = want.as_str().ok_or("want_error must be text")?;
        return match parsed {
            Ok(_) => Err(format!("policy loaded, want error containing `{want}`")),
            Err(e) if e.contains(want) => Ok(()),
            Err(e) => Err(format!("error `{e}` does not contain `{want}`")),
        };
    }
    let policy = parsed.map_err(|e| format!("policy does not load: {e}"))?;
    let ctx = resource_context(case)?;
    let rule_values: BTreeMap<String, Map<String, Value>> = case["context"]["ruleValues"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let got = apply_policy_with_rule_values(&policy, &ctx, &rule_values);
    let want = case["want"].as_array().ok_or("no `want` list")?;
    let got_rows: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.rule.clone(),
                if r.reported {
                    r.status.as_str().to_string()
                } else {
                    "excluded".to_string()
                },
            )
        })
        .collect();
    let want_rows: Vec<(String, String)> = want
        .iter()
        .map(|w| {
            (
                w["rule"].as_str().unwrap_or("").to_string(),
                w["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    if got_rows != want_rows {
        let messages: Vec<&str> = got.iter().map(|r| r.message.as_str()).collect();
        return Err(format!(
            "got {got_rows:?}, want {want_rows:?}; messages {messages:?}"
        ));
    }
    for (w, g) in want.iter().zip(&got) {
        if let Some(message) = w["message"].as_str() {
            if !g.message.contains(message) {
                return Err(format!(
                    "rule {}: message `{}` does not contain `{message}`",
                    g.rule, g.message
                ));
            }
        }
    }
    Ok(())
}

fn resource_context(case: &Value) -> Result<ResourceContext, String> {
    let resource = case.get("resource").cloned().ok_or("no resource")?;
    let c = &case["context"];
    let strings = |key: &str| -> Vec<String> {
        c[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(ResourceContext {
        resource,
        old_resource: c.get("oldResource").cloned(),
        operation: c["operation"].as_str().unwrap_or("CREATE").to_string(),
        namespace_labels: c["namespaceLabels"].as_object().cloned(),
        user_info: c.get("userInfo").cloned(),
        roles: strings("roles"),
        cluster_roles: strings("clusterRoles"),
        values: c["values"].as_object().cloned().unwrap_or_else(Map::new),
        images: None,
        numbers: match c["numbers"].as_str() {
            None | Some("cluster") => Numbers::Cluster,
            Some("kyverno-cli") => Numbers::KyvernoCli,
            Some(other) => return Err(format!("unknown numbers `{other}` (want cluster or kyverno-cli)")),
        },
        param_resources: std::sync::Arc::new(c["paramResources"].as_array().cloned().unwrap_or_default()),
        ..Default::default()
    })
}

fn run_library_case(path: &Path, text: &str, case: &Value) -> Result<(), String> {
    let loaded = load(path, text, &LoadContext::default());
    if let Some(want) = case.get("want_load_error") {
        let want = want.as_str().ok_or("want_load_error must be text")?;
        return match loaded {
            Ok(_) => Err(format!("policy loaded, want a load error containing `{want}`")),
            Err(e) if e.to_string().contains(want) => Ok(()),
            Err(e) => Err(format!("error `{e}` does not contain `{want}`")),
        };
    }
    let loaded = loaded.map_err(|e| e.to_string())?;
    if let Some(want) = case.get("want_load") {
        let h = &loaded.header;
        let got = serde_json::json!({
            "id": h.id, "title": h.title, "severity": h.severity,
            "mode": h.mode.map(|m| m.to_string()), "controls": h.controls,
        });
        for (key, value) in want.as_object().ok_or("want_load must be a map")? {
            if &got[key] != value {
                return Err(format!("header {key}: got {}, want {value}", got[key]));
            }
        }
    }
    if let Some(want) = case.get("want_outcome") {
        let input = Input::from_value(
            path.to_path_buf(),
            0,
            None,
            case.get("resource").cloned().ok_or("no resource")?,
        );
        let outcome = loaded.engine.evaluate(&input);
        if outcome.name() != want.as_str().unwrap_or("") {
            return Err(format!("outcome {outcome:?}, want {want}"));
        }
    }
    Ok(())
}
