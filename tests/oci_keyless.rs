//! Keyless signatures checked by an independent verifier: sigstore-python (PyPI
//! `sigstore` 4.5) verifies, fully offline, a bundle verdict made against the
//! `trusted_root.json` of verdict's throwaway CA and logs, and rejects a wrong
//! identity, a wrong issuer, another artifact, an expired certificate, a
//! stranger's root and a tampered SET; the same for a DSSE bundle (`dsse` 0.0.1,
//! the entry `.att` layers get). sigstore-python lives in a venv under the target dir, made
//! once. When it cannot be installed the test says SKIPPED, and fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;
use verdict::oci::keyless::{verify_layer, EntryKind, KeylessPolicy, Matcher, TrustMaterial, TrustRoot, Validity};

const WHO: &str = "release@example.com";
const ISS: &str = "https://accounts.example.com";

/// The venv's python with sigstore 4.5 importable, made on first use.
fn sigstore_python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON.get_or_init(install).clone()
}

fn install() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("sigstore-venv");
    let python = venv.join("bin/python");
    let ready = || Command::new(&python).args(["-c", "import sigstore, sys; sys.exit(0 if sigstore.__version__.startswith('4.5') else 1)"]).output().is_ok_and(|o| o.status.success());
    if ready() {
        return Ok(python);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
        }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "sigstore==4.5.*"]))?;
    if ready() {
        Ok(python)
    } else {
        Err("sigstore 4.5 is not importable after pip install".into())
    }
}

/// Verdict of sigstore-python on `bundle` for `artifact`: Ok(()) or its error text.
fn python_verify(python: &Path, root: &Path, bundle: &str, artifact: &[u8], identity: &str, issuer: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let (bundle_path, artifact_path) = (dir.path().join("artifact.sigstore.json"), dir.path().join("artifact"));
    std::fs::write(&bundle_path, bundle).unwrap();
    std::fs::write(&artifact_path, artifact).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci/keyless/verify_bundle.py");
    let out = Command::new(python).arg(script).arg(root).arg(&bundle_path).arg(&artifact_path).args([identity, issuer]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match out.status.code() {
        Some(0) if stdout == "OK" => Ok(()),
        Some(1) if stdout.starts_with("FAILED") => Err(stdout),
        _ => panic!("verify_bundle.py crashed ({:?}): {stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr)),
    }
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    eprintln!("timing: {label}: {:.1} ms", start.elapsed().as_secs_f64() * 1000.0);
    value
}

#[test]
fn sigstore_python_verifies_verdicts_keyless_bundles_offline() {
    let material = timed("generate trust material", || TrustMaterial::generate().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("trusted_root.json");
    std::fs::write(&root_path, material.trusted_root_json()).unwrap();
    let signer = timed("issue leaf", || material.issue(WHO, ISS, Validity::Current).unwrap());
    // Earlier entries, so the inclusion proof of the bundle under test has several hashes.
    for i in 0..6 {
        signer.bundle_for_artifact(format!("earlier artifact {i}").as_bytes()).unwrap();
    }
    let artifact = b"verdict keyless artifact\n";
    let bundle = timed("bundle_for_artifact", || signer.bundle_for_artifact(artifact).unwrap());

    // verdict's own verifier on the same material, for the timings and as a cross-check.
    let trust = TrustRoot::from_file(&root_path).unwrap();
    let policy = KeylessPolicy { subject: Matcher::Exact(WHO.into()), issuer: Matcher::Exact(ISS.into()) };
    let layer = timed("sign (hashedrekord layer)", || signer.sign(artifact, EntryKind::HashedRekord).unwrap());
    let signature = base64_decode(&layer.signature_b64);
    let identity = timed("verify_layer", || verify_layer(&trust, &policy, artifact, &signature, &layer.annotations)).unwrap();
    assert_eq!((identity.subject.as_str(), identity.issuer.as_str()), (WHO, ISS));

    let python = match sigstore_python() {
        Ok(python) => python,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true but sigstore-python could not be installed: {e}"),
        Err(e) => {
            // Straight to stderr: libtest captures print macros of passing tests, and this must show.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "SKIPPED: sigstore-python is not available, the independent check did not run: {e}");
            return;
        }
    };

    let start = Instant::now();
    python_verify(&python, &root_path, &bundle, artifact, WHO, ISS).expect("sigstore-python accepts the bundle");
    eprintln!("timing: sigstore-python verify (process incl. imports): {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);

    let rejected = |what: &str, result: Result<(), String>, want: &str| {
        let error = result.expect_err(&format!("sigstore-python accepted {what}"));
        assert!(error.contains(want), "{what}: sigstore-python failed, but not as expected ({want}): {error}");
        eprintln!("sigstore-python rejects {what}: {error}");
    };
    rejected("another identity", python_verify(&python, &root_path, &bundle, artifact, "someone@example.com", ISS), "SANs do not match");
    rejected("another issuer", python_verify(&python, &root_path, &bundle, artifact, WHO, "https://token.actions.githubusercontent.com"), "OIDCIssuer does not match");
    rejected("another artifact", python_verify(&python, &root_path, &bundle, b"another artifact", WHO, ISS), "digest mismatch");

    let expired = material.issue(WHO, ISS, Validity::Expired).unwrap().bundle_for_artifact(artifact).unwrap();
    rejected("an expired certificate", python_verify(&python, &root_path, &expired, artifact, WHO, ISS), "certificate chain");

    let stranger = TrustMaterial::generate().unwrap();
    let stranger_root = dir.path().join("stranger_root.json");
    std::fs::write(&stranger_root, stranger.trusted_root_json()).unwrap();
    rejected("a root that is not the signer's", python_verify(&python, &stranger_root, &bundle, artifact, WHO, ISS), "certificate chain");

    let tampered = tamper_set(&bundle);
    rejected("a tampered SET", python_verify(&python, &root_path, &tampered, artifact, WHO, ISS), "SET");

    // The `dsse` 0.0.1 entry `.att` layers get, checked the same way.
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://example.com/verdict"}"#;
    let dsse = signer.bundle_for_dsse("application/vnd.in-toto+json", statement).unwrap();
    python_verify(&python, &root_path, &dsse, statement, WHO, ISS).expect("sigstore-python accepts the DSSE bundle");
    rejected("a DSSE bundle for another identity", python_verify(&python, &root_path, &dsse, statement, "someone@example.com", ISS), "SANs do not match");
    let mut forged: serde_json::Value = serde_json::from_str(&dsse).unwrap();
    forged["dsseEnvelope"]["payload"] = base64_encode(br#"{"_type":"forged"}"#).into();
    rejected("a DSSE envelope with another payload", python_verify(&python, &root_path, &forged.to_string(), br#"{"_type":"forged"}"#, WHO, ISS), "FAILED");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// The bundle with one bit of its signed entry timestamp flipped.
fn tamper_set(bundle: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut json: serde_json::Value = serde_json::from_str(bundle).unwrap();
    let promise = &mut json["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"];
    let mut set = b64.decode(promise.as_str().unwrap()).unwrap();
    let last = set.len() - 1;
    set[last] ^= 1;
    *promise = b64.encode(set).into();
    json.to_string()
}
