//! `*.image.yaml` cases, driven through the binary as CI does: each case builds,
//! signs, attests and tampers with an image in a real throwaway registry, and a
//! Kyverno `verifyImages` rule and a Rego rule over image facts judge it. Every
//! tampered image must fail naming the check that caught it, never pass.
//! Without a registry binary the tests say SKIPPED, and fail under `CI=true`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/project")
}

fn registry_available() -> bool {
    let found = verdict::oci::BINARIES.iter().any(|b| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(b).is_file()))
    });
    if !found {
        assert!(std::env::var("CI").is_err(), "CI=true but no registry binary: .ci/run installs docker-registry");
        eprintln!("SKIPPED: no registry binary (apt-get install docker-registry)");
    }
    found
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verdict")).args(["test", ".", "--format", "json"]).args(args).current_dir(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), doc, stderr)
}

fn row<'a>(doc: &'a Value, test: &str) -> &'a Value {
    doc["results"].as_array().unwrap().iter().find(|r| r["test"] == test).unwrap_or_else(|| panic!("no row {test} in {doc:#}"))
}

fn messages(row: &Value) -> String {
    row["messages"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect::<Vec<_>>().join(" | ")
}

#[test]
fn every_image_case_meets_its_expectation_and_each_tampering_names_its_check() {
    if !registry_available() {
        return;
    }
    let (code, doc, stderr) = run(&project(), &[]);
    let failed: Vec<&Value> = doc["results"].as_array().unwrap().iter().filter(|r| r["ok"] != true && r["suite"] != "cases/_corpus").collect();
    assert!(failed.is_empty(), "{failed:#?}\n{stderr}");
    // The fixture has no corpus, so those rows are skipped and the run is not green.
    assert_eq!(code, Some(0), "{stderr}");

    let expect = [
        ("fail-unsigned.image.yaml", "signature manifest: no signature for sha256:"),
        ("fail-other-key.image.yaml", ".attestors[0].entries[0].keys: signature: does not verify with the given key"),
        ("fail-retag-after-sign.image.yaml", "signature manifest: no signature"),
        ("fail-corrupt-signature.image.yaml", "signature: does not verify"),
        ("fail-signature-for-other-digest.image.yaml", "payload digest: the signature covers sha256:"),
        ("fail-resigned-with-other-key.image.yaml", "signature: does not verify"),
        ("fail-no-provenance.image.yaml", "attestation manifest: no attestations"),
        ("fail-wrong-builder.image.yaml", "the image was built by another builder"),
        ("fail-wrong-repository.image.yaml", "the image was built from another repository"),
        ("fail-wrong-predicate-type.image.yaml", "predicate type: no verified attestation of type https://slsa.dev/provenance/v1 (verified: https://spdx.dev/Document)"),
        ("fail-corrupt-attestation.image.yaml", "attestation signature: does not verify"),
        ("fail-attestation-for-other-digest.image.yaml", "attestation subject: the statement is about"),
        ("fail-critical.image.yaml", "critical CVE-2024-3094 in xz-utils"),
        ("fail-unsigned-scan.image.yaml", "no verified vulnerability scan"),
    ];
    for (test, needle) in expect {
        let r = row(&doc, test);
        assert_eq!(r["actual"], "fail", "{test}: {r:#}");
        assert!(messages(r).contains(needle), "{test}: want {needle:?} in {}", messages(r));
    }
    for test in ["pass-signed.image.yaml", "pass-by-digest-after-retag.image.yaml", "pass-clean.image.yaml"] {
        assert_eq!(row(&doc, test)["actual"], "pass", "{test}");
    }
    // Messages name images as manifests do, never the throwaway registry's address.
    assert!(!messages(row(&doc, "fail-unsigned.image.yaml")).contains("127.0.0.1"));
}

#[test]
fn image_cases_without_a_registry_are_errors_with_the_install_command() {
    if !registry_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&project(), dir.path());
    // A registry URL where nothing listens: every image case is an error, none passes.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, doc, _) = run(dir.path(), &["--registry", &format!("http://127.0.0.1:{port}"), "--filter", "verify-signed"]);
    assert_eq!(code, Some(1));
    let cases: Vec<&Value> = doc["results"].as_array().unwrap().iter().filter(|r| r["suite"] == "cases/verify-signed").collect();
    assert!(cases.len() >= 14);
    for r in cases {
        assert_eq!(r["actual"], "error", "{r:#}");
        assert!(messages(r).contains("pushing the image"), "{}", messages(r));
    }

    // No container engine and no registry binary on PATH: the error says how to get one.
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["test", ".", "--format", "json", "--filter", "no-critical-cves"])
        .current_dir(dir.path())
        .env("PATH", "/nonexistent")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = row(&doc, "pass-clean.image.yaml");
    assert_eq!(r["actual"], "error");
    assert!(messages(r).contains(verdict::oci::INSTALL_HINT), "{}", messages(r));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
