//! Audit → enforce with a record, driven through the binary on a copy of
//! `tests/fixtures/lifecycle/project` (a Kyverno rule and a Rego rule with
//! cases, accepted snapshots and a corpus): every refusal reason of `promote`,
//! the native mode flip and the ledger, `demote`, and waivers in `test`,
//! `eval`, `waivers check` and `waivers export`.

use rstest::rstest;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn verdict(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdict")).args(args).current_dir(cwd).env("CI", "true").env_remove("INSTA_UPDATE").output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A fresh copy of the fixture project.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lifecycle/project"), dir.path());
    dir
}

/// A fresh copy of the repository's own `parts` (`policies`, `cases`, ...).
fn repository_copy(parts: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for part in parts {
        copy_tree(&repo.join(part), &dir.path().join(part));
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().filter_map(Result::ok) {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn date_in(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
}

fn waiver(rule: &str, target: &str, expires: &str) -> String {
    format!("  - rule: {rule}\n    target: {target}\n    owner: platform@example.com\n    reason: legacy workload\n    ticket: SEC-7\n    expires: {expires}\n")
}

const PRIVILEGED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: agent\n  namespace: legacy\nspec:\n  containers:\n    - name: agent\n      image: registry.example.com/agent:2.0.0\n      securityContext:\n        privileged: true\n";

#[test]
fn promote_flips_the_native_field_and_records_the_evidence_then_demote_reverses_it() {
    let dir = project();
    let root = dir.path();
    let policy = root.join("policies/gate/privileged.yaml");
    let before = std::fs::read_to_string(&policy).unwrap();

    let out = verdict(&["promote", "privileged"], root);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = std::fs::read_to_string(&policy).unwrap();
    let changed: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed, [("  validationFailureAction: Audit", "  validationFailureAction: Enforce")], "only the mode line changes");

    let ledger = verdict::lifecycle::read_ledger(&root.join("policies/promotions.yaml"), &Default::default()).unwrap();
    assert_eq!(ledger.len(), 1);
    let entry = &ledger[0];
    assert_eq!((entry.rule.as_str(), entry.from, entry.to), ("privileged", verdict::verdict::Mode::Audit, verdict::verdict::Mode::Enforce));
    let snapshot = std::fs::read(root.join("snapshots/privileged.snap")).unwrap();
    assert_eq!(entry.snapshot_sha256, format!("{:x}", Sha256::digest(snapshot)));
    assert_eq!((entry.cases.pass, entry.cases.fail), (1, 1));
    assert_eq!((entry.corpus.documents, entry.corpus.false_positives), (1, 0));
    assert_eq!(entry.date, date_in(0));

    let test = verdict(&["test"], root);
    assert_eq!(test.status.code(), Some(0), "the promoted rule still passes its accepted snapshot: {}", text(&test));

    let again = verdict(&["promote", "privileged"], root);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already in enforce"), "{}", text(&again));

    assert_eq!(verdict(&["demote", "privileged"], root).status.code(), Some(2), "a demotion needs --reason");
    let down = verdict(&["demote", "privileged", "--reason", "blocks the node agent"], root);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), before);
    let ledger = verdict::lifecycle::read_ledger(&root.join("policies/promotions.yaml"), &Default::default()).unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[1].reason.as_deref(), Some("blocks the node agent"));

    let rego = verdict(&["promote", "private-acl"], root);
    assert_eq!(rego.status.code(), Some(0), "{}", text(&rego));
    assert!(std::fs::read_to_string(root.join("policies/gate/private-acl.rego")).unwrap().contains("#   mode: enforce\n"));
}

/// Each way a rule can fall short, applied to a fresh copy, and the reason promote gives.
#[rstest]
#[case::no_fail_case("privileged", &[("rm", "cases/privileged/fail-privileged.yaml", "")], "no fail-* case that fails")]
#[case::no_pass_case("privileged", &[("rm", "cases/privileged/pass-unprivileged.yaml", "")], "no passing pass-* case")]
#[case::wrong_expectation("privileged", &[("write", "cases/privileged/pass-privileged.yaml", PRIVILEGED_POD)], "pass-privileged.yaml: expected pass, got fail")]
#[case::error_verdict("privileged", &[("write", "cases/privileged/fail-broken.yaml", "kind: [unclosed\n")], "fail-broken.yaml: error verdict")]
#[case::broken_image_case("privileged", &[("write", "cases/privileged/pass-signed.image.yaml", "image: {}\n")], "pass-signed.image.yaml: error verdict: cases/privileged/pass-signed.image.yaml: not an image case: missing field `repository`")]
#[case::no_snapshot("privileged", &[("rm", "snapshots/privileged.snap", "")], "no accepted snapshot")]
#[case::changed_snapshot("privileged", &[("append", "snapshots/privileged.snap", "- case: extra\n")], "snapshot changed")]
#[case::pending_snapshot("privileged", &[("write", "snapshots/privileged.snap.new", "pending\n")], "a pending snapshot is not accepted")]
#[case::false_positive("privileged", &[("write", "cases/_corpus/agent.yaml", PRIVILEGED_POD)], "1 false positive(s) on the known-good corpus")]
#[case::no_corpus_document("private-acl", &[("rm", "cases/_corpus/private-bucket.tfplan.json", "")], "holds no document the rule applies to")]
#[case::expired_waiver("privileged", &[("waiver", "{namespace: legacy}", "-3")], "expired 3 day(s) ago")]
fn promote_refuses_with_the_reason(#[case] rule: &str, #[case] changes: &[(&str, &str, &str)], #[case] reason: &str) {
    let dir = project();
    let root = dir.path();
    for (op, path, content) in changes {
        match *op {
            "rm" => std::fs::remove_file(root.join(path)).unwrap(),
            "write" => std::fs::write(root.join(path), content).unwrap(),
            "append" => {
                let mut text = std::fs::read_to_string(root.join(path)).unwrap();
                text.push_str(content);
                std::fs::write(root.join(path), text).unwrap();
            }
            "waiver" => {
                let expires = date_in(content.parse().unwrap());
                std::fs::write(root.join("policies/waivers.yaml"), format!("waivers:\n{}", waiver(rule, path, &expires))).unwrap();
            }
            _ => unreachable!(),
        }
    }
    let policy = std::fs::read_dir(root.join("policies/gate")).unwrap().count();
    let out = verdict(&["promote", rule], root);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("{rule} stays in audit")), "{}", text(&out));
    assert!(text(&out).contains(reason), "want `{reason}` in:\n{}", text(&out));
    assert!(!root.join("policies/promotions.yaml").exists(), "a refusal records nothing");
    assert_eq!(std::fs::read_dir(root.join("policies/gate")).unwrap().count(), policy);
}

/// A waiver turns a failure into `waived` in test, eval, the decision log and
/// `waivers check`; expired ones fail; expiring and stale ones warn; export writes
/// Kyverno PolicyExceptions with their expiry.
#[test]
fn waivers_are_reported_as_waived_never_as_pass() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("cases/_corpus/agent.yaml"), PRIVILEGED_POD).unwrap();
    let waivers = root.join("policies/waivers.yaml");
    std::fs::write(&waivers, format!("waivers:\n{}{}", waiver("privileged", "{namespace: legacy}", &date_in(60)), waiver("private-acl", "{address: aws_s3_bucket_acl.old}", &date_in(5)))).unwrap();

    let out = verdict(&["test", "--format", "json"], root);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let corpus = doc["results"].as_array().unwrap().iter().find(|r| r["rule"] == "privileged" && r["test"] == "known-good corpus").unwrap();
    assert_eq!(corpus["actual"], "waived", "{corpus:#}");
    assert!(corpus["messages"][0].as_str().unwrap().contains("waived by privileged[namespace=legacy] (SEC-7)"));
    let human = text(&verdict(&["test"], root));
    assert!(human.contains("waiver private-acl[address=aws_s3_bucket_acl.old] (SEC-7) (owner platform@example.com) expires in 5 day(s)"), "{human}");
    assert!(human.contains("waiver private-acl[address=aws_s3_bucket_acl.old] (SEC-7) is stale"), "{human}");

    let log = root.join("decisions.jsonl");
    let eval = verdict(&["eval", "--policy", "policies/gate/privileged.yaml", "--input", "cases/_corpus/agent.yaml", "--decision-log", log.to_str().unwrap()], root);
    assert!(text(&eval).contains("WAIVED [audit] privileged"), "{}", text(&eval));
    let line: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!((line["outcome"].as_str(), line["waiver"].as_str()), (Some("waived"), Some("privileged[namespace=legacy] (SEC-7)")));

    let test_log = root.join("target/test-decisions.jsonl");
    assert_eq!(verdict(&["test", "--decision-log", test_log.to_str().unwrap()], root).status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&test_log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let waived = lines.iter().find(|l| l["outcome"] == "waived").expect("the waived corpus decision is logged");
    assert_eq!(waived["input"], "cases/_corpus/agent.yaml#0");
    assert!(waived["input_digest"].as_str().unwrap().starts_with("sha256:") && waived["decision_id"].as_str().unwrap().len() == 36, "{waived:#}");
    let ids: std::collections::BTreeSet<&str> = lines.iter().map(|l| l["decision_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), lines.len(), "decision ids are unique");

    let check = verdict(&["waivers", "check"], root);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(text(&check).contains("privileged[namespace=legacy] (SEC-7): active, 60 days left"), "{}", text(&check));
    assert!(text(&check).contains("covered 1 failure(s)"), "{}", text(&check));

    let export = verdict(&["waivers", "export", "--format", "kyverno"], root);
    let docs: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_slice(&export.stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 1, "{}", text(&export));
    assert_eq!(docs[0]["kind"], "PolicyException");
    assert_eq!(docs[0]["metadata"]["annotations"]["verdict.dev/expires"], date_in(60));
    verdict::engine::kyverno::exception::PolicyException::from_value(&docs[0], Path::new("export.yaml"), None, None)
        .expect("the export is a PolicyException Kyverno's CRD admits");
    assert_eq!(docs[0]["spec"]["match"]["any"][0]["resources"]["namespaces"][0], "legacy");
    assert!(docs[0]["spec"]["exceptions"][0]["ruleNames"].as_array().unwrap().iter().any(|r| r == "autogen-privileged-containers"));

    // Expired: the failure is no longer covered, and the run fails on the waiver itself.
    std::fs::write(&waivers, format!("waivers:\n{}", waiver("privileged", "{namespace: legacy}", &date_in(-1)))).unwrap();
    let expired = verdict(&["test", "--format", "json"], root);
    assert_eq!(expired.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&expired.stdout).unwrap();
    let row = doc["results"].as_array().unwrap().iter().find(|r| r["suite"] == "policies/waivers.yaml").expect("waiver row");
    assert_eq!(row["actual"], "expired");
    assert_eq!(verdict(&["waivers", "check"], root).status.code(), Some(1));
    assert_eq!(verdict(&["eval", "--policy", "policies/gate/privileged.yaml", "--input", "cases/_corpus/agent.yaml"], root).status.code(), Some(2));
}

/// The ledger, waiver and control files are checked against their schemas on every load.
#[rstest]
#[case("waivers.yaml", "waivers:\n  - rule: privileged\n    target: {namespace: legacy}\n    owner: o\n    reason: r\n    ticket: T\n    expires: 2099-01-01\n    approved: yes\n", "/waivers/0/approved: unknown field")]
#[case("waivers.yaml", "waivers:\n  - rule: privileged\n    target: {namespace: legacy, image: x}\n    owner: o\n    reason: r\n    ticket: T\n    expires: 2099-01-01\n", "/waivers/0/target")]
#[case("promotions.yaml", "promotions:\n  - rule: privileged\n    from: audit\n    to: enforced\n", "promotions.yaml does not match its schema")]
#[case("controls.yaml", "controls:\n  - id: workload-least-privilege\n    titel: x\n", "did you mean `title`?")]
fn bad_lifecycle_files_are_load_errors(#[case] file: &str, #[case] content: &str, #[case] want: &str) {
    let dir = project();
    std::fs::write(dir.path().join("policies").join(file), content).unwrap();
    let out = verdict(&["test"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(want), "want `{want}` in {}", text(&out));
}

/// A git repository holding the fixture project and a CODEOWNERS, committed.
fn repository() -> tempfile::TempDir {
    let dir = project();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(
        root.join(".github/CODEOWNERS"),
        "* @org/maintainers\n/policies/ @org/policy-owners\n/policies/gate/*.rego @org/policy-owners @org/cloud\n",
    )
    .unwrap();
    for args in [&["init", "-q"][..], &["add", "-A"], &["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base"]] {
        assert!(Command::new("git").args(args).current_dir(root).status().unwrap().success());
    }
    dir
}

fn review_json(root: &Path) -> (Option<i32>, serde_json::Value) {
    let out = verdict(&["review", "--base", "HEAD", "--format", "json"], root);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    (out.status.code(), doc)
}

fn rule<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["rules"].as_array().unwrap().iter().find(|r| r["rule"] == id).unwrap()
}

#[test]
fn review_reports_flips_mode_changes_the_ledger_and_owners() {
    // No change: nothing to approve, exit 0.
    let dir = repository();
    let root = dir.path();
    let (code, doc) = review_json(root);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["approvers"].as_array().unwrap().len(), 0);

    // Loosening the Kyverno rule: its fail case now passes; policy owners must approve.
    let policy = root.join("policies/gate/privileged.yaml");
    let original = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, original.replace("=(privileged): \"false\"", "=(privileged): \"?*\"")).unwrap();
    let (code, doc) = review_json(root);
    assert_eq!(code, Some(1), "a loosening fails the review: {doc:#}");
    let flips = rule(&doc, "privileged")["flips"].as_array().unwrap().clone();
    assert_eq!(flips.len(), 1, "{flips:#?}");
    assert_eq!((flips[0]["input"].as_str(), flips[0]["direction"].as_str()), (Some("cases/privileged/fail-privileged.yaml#0"), Some("looser")));
    assert_eq!(doc["approvers"], serde_json::json!(["@org/policy-owners"]));
    std::fs::write(&policy, &original).unwrap();

    // Tightening the Rego rule: its pass case and the corpus plan now fail; cloud must approve too.
    let rego = root.join("policies/gate/private-acl.rego");
    let rego_text = std::fs::read_to_string(&rego).unwrap();
    std::fs::write(&rego, rego_text.replace("rc.change.after.acl == \"public-read\"", "rc.change.after.acl != \"nothing\"")).unwrap();
    let (code, doc) = review_json(root);
    assert_eq!(code, Some(0), "stricter only: {doc:#}");
    let stricter: Vec<&str> = rule(&doc, "private-acl")["flips"].as_array().unwrap().iter().map(|f| f["input"].as_str().unwrap()).collect();
    assert_eq!(stricter, ["cases/_corpus/private-bucket.tfplan.json#0", "cases/private-acl/pass-private.tfplan.json#0"]);
    assert_eq!(doc["approvers"], serde_json::json!(["@org/cloud", "@org/policy-owners"]));
    std::fs::write(&rego, &rego_text).unwrap();

    // A promotion by hand has no ledger entry: exit 1. Through verdict promote it is recorded.
    std::fs::write(&policy, original.replace("validationFailureAction: Audit", "validationFailureAction: Enforce")).unwrap();
    let (code, doc) = review_json(root);
    assert_eq!(code, Some(1));
    assert_eq!(rule(&doc, "privileged")["ledger_entry"], false);
    std::fs::write(&policy, &original).unwrap();
    assert_eq!(verdict(&["promote", "privileged"], root).status.code(), Some(0));
    let (code, doc) = review_json(root);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!((rule(&doc, "privileged")["base_mode"].as_str(), rule(&doc, "privileged")["head_mode"].as_str()), (Some("audit"), Some("enforce")));
    assert_eq!(rule(&doc, "privileged")["ledger_entry"], true);
    let md = text(&verdict(&["review", "--base", "HEAD"], root));
    assert!(md.contains("| `privileged` | changed | audit → enforce | recorded | 0 | 0 |"), "{md}");

    // A removed audit rule is listed; it loosens nothing that blocked.
    std::fs::rename(root.join("policies/gate/private-acl.rego"), root.join("private-acl.rego.bak")).unwrap();
    let (code, doc) = review_json(root);
    assert_eq!(rule(&doc, "private-acl")["change"], "removed");
    assert_eq!(code, Some(0), "removing an audit rule loosens nothing that blocked: {doc:#}");
    std::fs::rename(root.join("private-acl.rego.bak"), root.join("policies/gate/private-acl.rego")).unwrap();

    // A policy file nobody owns makes the review an error.
    std::fs::write(root.join(".github/CODEOWNERS"), "/cases/ @org/maintainers\n").unwrap();
    for args in [&["add", "-A"][..], &["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "drop owners"]] {
        assert!(Command::new("git").args(args).current_dir(root).status().unwrap().success());
    }
    let (code, doc) = review_json(root);
    assert_eq!(code, Some(2));
    assert!(doc["errors"].to_string().contains("policies/gate/privileged.yaml: no owner in .github/CODEOWNERS"), "{doc:#}");
}

/// `verdict report` on the fixture library: the figures follow from its two rules,
/// one promoted and one waived, in Markdown and JSON, and the HTML page shows the
/// same figures when headless Chromium renders it.
#[test]
fn report_figures_on_a_small_library() {
    let dir = project();
    let root = dir.path();
    assert_eq!(verdict(&["promote", "privileged"], root).status.code(), Some(0));
    std::fs::write(root.join("policies/waivers.yaml"), format!("waivers:\n{}", waiver("private-acl", "{address: aws_s3_bucket_acl.old}", &date_in(30)))).unwrap();
    let mut controls = std::fs::read_to_string(root.join("policies/controls.yaml")).unwrap();
    controls.push_str("  - id: images-signed\n    title: Images are signed\n    references: [\"SLSA v1.0 Build L2\"]\n");
    std::fs::write(root.join("policies/controls.yaml"), controls).unwrap();

    let json = verdict(&["report", "--format", "json"], root);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let h = &doc["headline"];
    assert_eq!((h["controls"].as_u64(), h["controls_enforced"].as_u64()), (Some(3), Some(1)), "{h:#}");
    assert_eq!((h["rules_enforce"].as_u64(), h["rules_audit"].as_u64()), (Some(1), Some(1)));
    assert_eq!(h["uncovered_controls"], serde_json::json!(["images-signed"]));
    let status = |id: &str| doc["controls"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["status"].clone();
    assert_eq!((status("workload-least-privilege"), status("data-not-public")), (serde_json::json!("enforced"), serde_json::json!("audit-only")));
    let privileged = doc["rules"].as_array().unwrap().iter().find(|r| r["id"] == "privileged").unwrap();
    assert_eq!(privileged["enforced_since"], date_in(0));
    let acl = doc["rules"].as_array().unwrap().iter().find(|r| r["id"] == "private-acl").unwrap();
    assert_eq!(acl["waivers"][0]["expires"], date_in(30));
    assert_eq!(acl["promotion_refusals"], serde_json::json!([]), "the audit rule qualifies for enforce");
    assert!(privileged.get("promotion_refusals").is_none(), "an enforced rule has no refusals");

    let md = String::from_utf8(verdict(&["report"], root).stdout).unwrap();
    assert!(md.contains("**1 of 3 controls** are enforced"), "{md}");
    assert!(md.contains("Controls no rule implements: images-signed."), "{md}");

    // Shards: two partitions merged give the same figures as one run.
    let mut shards = Vec::new();
    for n in 1..=2 {
        let file = root.join(format!("shard-{n}.json"));
        verdict(&["test", "--partition", &format!("hash:{n}/2"), "--format", "json", "--output", file.to_str().unwrap(), "--allow-empty"], root);
        shards.push(file.to_string_lossy().into_owned());
    }
    let mut args = vec!["report", "--format", "json", "--results"];
    args.extend(shards.iter().map(String::as_str));
    let merged: serde_json::Value = serde_json::from_slice(&verdict(&args, root).stdout).unwrap();
    assert_eq!(merged["headline"]["results"], doc["headline"]["results"], "merged shards count every result once");
    assert_eq!(merged["headline"]["controls_enforced"], h["controls_enforced"]);

    let page = root.join("report.html");
    assert_eq!(verdict(&["report", "--format", "html", "--output", page.to_str().unwrap()], root).status.code(), Some(0));
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success())) else {
        assert!(std::env::var("CI").is_err(), "CI=true but chromium is not installed (.ci/run installs Debian's chromium)");
        eprintln!("SKIPPED: chromium not installed; the HTML page was not rendered");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-component-update"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<b id=\"controls-enforced\">1 of 3</b>"), "rendered page lacks the headline figure:\n{dom}");
    assert!(dom.contains("<b id=\"rules-enforce\">1</b>") && dom.contains("<b id=\"rules-audit\">1</b>"), "{dom}");
    assert!(dom.contains(&format!("{}: audit → enforce", date_in(0))), "the promotion history is on the page: {dom}");
    assert!(dom.contains(&format!("until {}", date_in(30))), "the waiver's expiry is on the page");
}

/// The library's CEL rules keep their mode where their kind does (a ValidatingPolicy's
/// and a VAP binding's `validationActions`, a ClusterPolicy's `failureAction`):
/// each promotes on its evidence, still passes its snapshot, and demotes back to the
/// same file.
#[test]
fn the_library_cel_rules_promote_and_demote_in_their_own_fields() {
    let dir = repository_copy(&["policies", "cases", "snapshots"]);
    let root = dir.path();
    let rules = [
        ("disallow-proc-mount", "policies/gate5-pod-security/disallow-proc-mount.yaml", "  validationActions: [Deny, Audit]"),
        ("restrict-sysctls", "policies/gate5-pod-security/restrict-sysctls.yaml", "  validationActions: [Deny, Audit]"),
        ("require-memory-limits", "policies/gate4-admission/require-memory-limits.yaml", "Enforce"),
    ];
    let before: Vec<String> = rules.iter().map(|(_, file, _)| std::fs::read_to_string(root.join(file)).unwrap()).collect();
    let ids: Vec<&str> = rules.iter().map(|(id, _, _)| *id).collect();
    let out = verdict(&[&["promote"], ids.as_slice()].concat(), root);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for ((id, file, want), before) in rules.iter().zip(&before) {
        let after = std::fs::read_to_string(root.join(file)).unwrap();
        let changed: Vec<(&str, &str)> = before.lines().zip(after.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(changed.len(), 1, "{id}: only the mode line changes: {changed:?}");
        assert!(changed[0].1.contains(want), "{id}: {changed:?}");
    }
    let test = verdict(&["test", "--filter", "disallow-proc-mount"], root);
    assert_eq!(test.status.code(), Some(0), "the promoted rule still passes its accepted snapshot: {}", text(&test));
    for ((id, file, _), before) in rules.iter().zip(&before) {
        let down = verdict(&["demote", id, "--reason", "too noisy"], root);
        assert_eq!(down.status.code(), Some(0), "{}", text(&down));
        assert_eq!(&std::fs::read_to_string(root.join(file)).unwrap(), before, "{id}");
    }
}

/// A waiver of a ValidatingPolicy rule exports as a CEL PolicyException whose
/// matchConditions lift the policy exactly where the waiver's glob matches.
#[test]
fn a_validating_policy_waiver_exports_as_a_cel_policy_exception() {
    let dir = repository_copy(&["policies"]);
    let root = dir.path();
    std::fs::write(
        root.join("policies/waivers.yaml"),
        format!("waivers:\n{}{}", waiver("disallow-proc-mount", "{namespace: \"ci-{build,cache}\"}", &date_in(30)),
            waiver("disallow-proc-mount", "{resource: Pod/legacy/agent-*}", &date_in(30))),
    )
    .unwrap();
    let export = verdict(&["waivers", "export", "--format", "kyverno"], root);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export));
    let docs: Vec<serde_json::Value> = serde_yaml_ng::Deserializer::from_slice(&export.stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{}", text(&export));
    let exceptions: Vec<_> = docs
        .iter()
        .map(|d| verdict::engine::kyverno::vpol::CelPolicyException::from_value(d).unwrap_or_else(|e| panic!("{e}: {d:#}")))
        .collect();
    assert!(exceptions.iter().all(|e| e.refers_to("disallow-proc-mount", "ValidatingPolicy")));
    let lifted = |namespace: &str, kind: &str, name: &str| {
        let mut activation = verdict::engine::cel::Activation::new();
        let request = serde_json::json!({"namespace": namespace, "name": name, "kind": {"group": "", "version": "v1", "kind": kind}});
        activation.bind_json("request", &request, verdict::engine::cel::Numbers::Cluster);
        exceptions
            .iter()
            .map(|e| matches!(verdict::engine::kyverno::vpol::exception::excepted(std::slice::from_ref(e), &activation), verdict::engine::kyverno::vpol::exception::Exempted::Yes { .. }))
            .collect::<Vec<bool>>()
    };
    assert_eq!(lifted("ci-cache", "Pod", "x"), [true, false]);
    assert_eq!(lifted("ci-other", "Pod", "x"), [false, false]);
    assert_eq!(lifted("legacy", "Pod", "agent-7"), [false, true]);
    assert_eq!(lifted("legacy", "Deployment", "agent-7"), [false, false]);
}
