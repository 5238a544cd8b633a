//! `verdict test` on a kyverno-test suite of ValidatingAdmissionPolicy rows
//! (`tests/fixtures/kyverno-test-vap/`), judged as Kyverno's CLI judges them.

mod support;

use std::path::Path;
use support::verdict_json;

#[test]
fn vap_rows_are_judged_as_kyverno_test_judges_them() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (out, doc) = verdict_json(&["test", "tests/fixtures/kyverno-test-vap"], repo);
    // Rows 3, 18 and 19 fail on purpose (see the suite's comments).
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
    let results = doc["results"].as_array().expect("results");
    let got: Vec<(String, String, bool)> = results
        .iter()
        .map(|r| {
            assert!(r["skipped"].is_null(), "no VAP row is skipped: {r:#}");
            (
                r["resource"].as_str().unwrap().to_string(),
                r["actual"].as_str().unwrap().to_string(),
                r["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    let row =
        |resource: &str, actual: &str, ok: bool| (resource.to_string(), actual.to_string(), ok);
    assert_eq!(
        got,
        vec![
            row("Deployment/default/scaled", "pass", true),
            row("Deployment/default/big", "fail", true),
            row("Pod/default/plain", "skip", true),
            row("Pod/default/plain", "skip", false),
            row("Deployment/prod/prod-app", "fail", true),
            row("Deployment/dev/dev-app", "skip", true),
            row("ConfigMap/prod/prod-config", "fail", true),
            row("Deployment/default/mid", "pass", true),
            row("Deployment/default/big", "fail", true),
            row("Deployment/default/big", "pass", true),
            row("Deployment/default/scaled", "pass", true),
            row("Deployment/default/mid", "fail", true),
            row("Deployment/default/mid", "pass", true),
            row("Deployment/default/scaled", "error", true),
            row("Deployment/default/scaled", "error", true),
            row("Pod/default/plain", "skip", true),
            row("Pod/default/plain", "pass", true),
            row("Deployment/default/scaled", "pass", true),
            row("scaled", "error", false),
            row("Deployment/default/scaled", "error", false),
        ]
    );
    let messages = |i: usize| results[i]["messages"].to_string();
    assert!(
        messages(1).contains("at most 3 replicas"),
        "{}",
        messages(1)
    );
    assert!(
        messages(2).contains("counts an excluded resource as a pass"),
        "{}",
        messages(2)
    );
    assert!(
        messages(4).contains("Deployment prod-app in prod has no team label"),
        "{}",
        messages(4)
    );
    assert!(
        messages(8).contains("replicas must be below 4"),
        "{}",
        messages(8)
    );
    assert!(
        messages(11).contains("one of 2 gold limits"),
        "{}",
        messages(11)
    );
    assert!(
        messages(13).contains("Division by zero"),
        "{}",
        messages(13)
    );
    assert!(
        messages(14).contains("no matching overload"),
        "{}",
        messages(14)
    );
    assert!(
        messages(15).contains("match conditions aren't met"),
        "{}",
        messages(15)
    );
    assert!(messages(18).contains("`no-such-vap`"), "{}", messages(18));
    assert!(
        messages(19).contains("is not a rule of ValidatingAdmissionPolicy `max-replicas`"),
        "{}",
        messages(19)
    );
    assert!(
        doc["warnings"].to_string().contains("binding dangling"),
        "{:#}",
        doc["warnings"]
    );
}
