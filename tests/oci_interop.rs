//! verdict and skopeo read each other's sigstore (cosign-format) signatures,
//! against a real throwaway registry (`Registry::auto`): a signature skopeo
//! writes verifies with `verdict image verify` and `cosign::verify`, and
//! skopeo's `sigstoreSigned` policy accepts an image verdict signed and rejects
//! an unsigned one and one signed with another key.
//!
//! skopeo is Debian 13's (1.18; Debian 12's has sigstore compiled out), made by
//! `scripts/skopeo.sh`, found through `VERDICT_SKOPEO` (else that script's
//! default place). Without it, or without a registry, a test says SKIPPED, and
//! fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use verdict::oci::{build_and_push, cosign, ImageSpec, PushedImage, Registry, RegistryClient};

fn skip_or_fail(what: &str) {
    if std::env::var("CI").is_ok() {
        panic!("CI=true but {what}");
    }
    eprintln!("SKIPPED: {what}");
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci").join(name)
}

/// A skopeo with sigstore support, run with its own policy and registries.d
/// (`use-sigstore-attachments`, needed to read signatures as well as write them).
struct Skopeo {
    binary: PathBuf,
    dir: tempfile::TempDir,
}

impl Skopeo {
    fn find() -> Option<Skopeo> {
        let binary = std::env::var_os("VERDICT_SKOPEO")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/verdict/skopeo/skopeo")))
            .filter(|path| path.is_file());
        let Some(binary) = binary else {
            skip_or_fail("no skopeo: run scripts/skopeo.sh and export the VERDICT_SKOPEO it prints");
            return None;
        };
        let help = Command::new(&binary).args(["copy", "--help"]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        if !help.contains("--sign-by-sigstore-private-key") {
            skip_or_fail(&format!("{} has no sigstore support (Debian 12's has it compiled out; scripts/skopeo.sh fetches Debian 13's)", binary.display()));
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("registries.d")).unwrap();
        std::fs::write(dir.path().join("registries.d/default.yaml"), "default-docker:\n  use-sigstore-attachments: true\n").unwrap();
        std::fs::write(dir.path().join("accept-anything.json"), r#"{"default": [{"type": "insecureAcceptAnything"}]}"#).unwrap();
        Some(Skopeo { binary, dir })
    }

    /// A file in this skopeo's scratch directory.
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `skopeo --policy POLICY --registries.d ... ARGS`.
    fn run(&self, policy: &str, args: &[&str]) -> Output {
        Command::new(&self.binary)
            .arg("--policy")
            .arg(policy)
            .arg("--registries.d")
            .arg(self.path("registries.d"))
            .args(args)
            .output()
            .unwrap()
    }
}

fn ok(output: &Output) -> bool {
    if !output.status.success() {
        eprintln!("skopeo: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    output.status.success()
}

fn registry() -> Option<Registry> {
    match Registry::auto() {
        Ok(registry) => {
            eprintln!("registry: {} on {}", registry.kind(), registry.host);
            Some(registry)
        }
        Err(e) => {
            skip_or_fail(&e);
            None
        }
    }
}

fn push(client: &RegistryClient, registry: &Registry, repository: &str, content: &str) -> PushedImage {
    let spec = ImageSpec { repository: repository.into(), tag: "1".into(), files: [("/app/version.txt".to_string(), content.to_string())].into(), ..Default::default() };
    build_and_push(client, &registry.host, &spec).unwrap()
}

/// `verdict image verify REF --key KEY --insecure-registry`: exit code and JSON.
fn verdict_verify(reference: &str, key: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["image", "verify", reference, "--insecure-registry", "--key"])
        .arg(key)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

#[test]
fn a_signature_skopeo_writes_verifies_with_verdict() {
    let Some(skopeo) = Skopeo::find() else { return };
    let Some(registry) = registry() else { return };
    let client = RegistryClient::new(true).unwrap();
    let host = &registry.host;
    push(&client, &registry, "interop/source", "source 1");

    // skopeo's own key pair: an ENCRYPTED COSIGN PRIVATE KEY and a PUBLIC KEY.
    let passphrase = skopeo.path("passphrase");
    std::fs::write(&passphrase, "verdict-interop").unwrap();
    let accept = skopeo.path("accept-anything.json");
    assert!(ok(&skopeo.run(&accept, &["generate-sigstore-key", "--output-prefix", &skopeo.path("skopeo-key"), "--passphrase-file", &passphrase])));
    let private_path = skopeo.path("skopeo-key.private");
    let private = std::fs::read_to_string(&private_path).unwrap();
    let public = PathBuf::from(skopeo.path("skopeo-key.pub"));
    assert!(private.contains("ENCRYPTED COSIGN PRIVATE KEY"), "{private}");
    // verdict opens skopeo's private key, and it is the pair of skopeo's public key.
    let opened = cosign::signing_key_from_cosign_pem(&private, b"verdict-interop").unwrap();
    let public_key = cosign::verifying_key_from_pem(&std::fs::read_to_string(&public).unwrap()).unwrap();
    assert_eq!(opened.verifying_key(), &public_key);

    // Copied with a signature, and copied without one.
    let source = format!("docker://{host}/interop/source:1");
    let signed = format!("{host}/interop/skopeo-signed:1");
    let unsigned = format!("{host}/interop/skopeo-unsigned:1");
    let tls = ["--src-tls-verify=false", "--dest-tls-verify=false"];
    let sign_args = ["--sign-by-sigstore-private-key", &private_path, "--sign-passphrase-file", &passphrase];
    let destination = format!("docker://{signed}");
    assert!(ok(&skopeo.run(&accept, &[&["copy"], &tls[..], &sign_args[..], &[&source, &destination]].concat())));
    let destination = format!("docker://{unsigned}");
    assert!(ok(&skopeo.run(&accept, &[&["copy"], &tls[..], &[&source, &destination]].concat())));

    // The verdict binary: skopeo's payload names `repo:tag`, verdict matches the repository.
    let (code, doc) = verdict_verify(&signed, &public);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["result"]["identity"], signed.as_str(), "skopeo's identity carries the tag: {doc:#}");
    let digest = doc["result"]["digest"].as_str().unwrap().to_string();
    assert_eq!(verdict_verify(&format!("{host}/interop/skopeo-signed@{digest}"), &public).0, Some(0));
    let (code, doc) = verdict_verify(&unsigned, &public);
    assert_eq!((code, doc["failure"]["check"].as_str()), (Some(1), Some("signature manifest")), "{doc:#}");
    let (code, doc) = verdict_verify(&signed, &fixture("other.pub"));
    assert_eq!((code, doc["failure"]["check"].as_str()), (Some(1), Some("signature")), "{doc:#}");

    // The library call.
    let verified = cosign::verify(&client, &signed, &public_key);
    assert_eq!(verified.map(|v| v.digest), Ok(digest), "cosign::verify of skopeo's signature");
    assert!(cosign::verify(&client, &unsigned, &public_key).is_err());
}

#[test]
fn skopeo_accepts_what_verdict_signs_and_rejects_unsigned_and_other_keys() {
    let Some(skopeo) = Skopeo::find() else { return };
    let Some(registry) = registry() else { return };
    let client = RegistryClient::new(true).unwrap();
    let host = &registry.host;
    let key = |name: &str| cosign::signing_key_from_pem(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();

    let signed = push(&client, &registry, "interop/verdict-signed", "signed");
    cosign::sign(&client, &signed, &key("signer.key")).unwrap();
    let unsigned = push(&client, &registry, "interop/verdict-unsigned", "unsigned");
    let other = push(&client, &registry, "interop/verdict-other-key", "other");
    cosign::sign(&client, &other, &key("other.key")).unwrap();

    // Only images of this registry signed by verdict's signer key, for their repository.
    let policy = skopeo.path("require-signer.json");
    let requirement = serde_json::json!([{"type": "sigstoreSigned", "keyPath": fixture("signer.pub"), "signedIdentity": {"type": "matchRepository"}}]);
    let document = serde_json::json!({"default": [{"type": "reject"}], "transports": {"docker": {host.as_str(): requirement}}});
    std::fs::write(&policy, serde_json::to_vec_pretty(&document).unwrap()).unwrap();

    let pull = |image: &PushedImage, name: &str| {
        let destination = format!("dir:{}", skopeo.path(name));
        skopeo.run(&policy, &["copy", "--src-tls-verify=false", &format!("docker://{}", image.tagged), &destination])
    };
    assert!(ok(&pull(&signed, "out-signed")), "skopeo accepts the image verdict signed");
    assert!(ok(&pull(&signed, "out-signed-again")), "and again (the policy is not consumed)");
    let refused = pull(&unsigned, "out-unsigned");
    assert!(!refused.status.success(), "skopeo rejects the unsigned image");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature"), "{}", String::from_utf8_lossy(&refused.stderr));
    let refused = pull(&other, "out-other");
    assert!(!refused.status.success(), "skopeo rejects the image signed with another key");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature"), "{}", String::from_utf8_lossy(&refused.stderr));
}
