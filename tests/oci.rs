//! Key-based cosign signatures against a real throwaway registry (Debian's
//! `docker-registry`, started by the test): what verifies, and each way an image
//! fails to verify, named by the check that fails; a registry that is down or
//! hangs is an error, never a pass. Without a registry binary the tests say
//! SKIPPED, and fail under `CI=true` (where `.ci/run` installs one).

use std::path::PathBuf;
use std::process::{Command, Output};
use verdict::oci::{build_and_push, cosign, ImageSpec, PushedImage, Registry, RegistryClient};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci").join(name)
}

fn registry() -> Option<Registry> {
    match Registry::start() {
        Ok(r) => Some(r),
        Err(e) if std::env::var("CI").is_err() => {
            eprintln!("SKIPPED: {e}");
            None
        }
        Err(e) => panic!("CI=true but no registry could be started: {e}"),
    }
}

fn key(name: &str) -> p256::ecdsa::SigningKey {
    cosign::signing_key_from_pem(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn image(client: &RegistryClient, registry: &Registry, repository: &str, tag: &str, content: &str) -> PushedImage {
    let spec = ImageSpec {
        repository: repository.into(),
        tag: tag.into(),
        files: [("/app/version.txt".to_string(), content.to_string())].into(),
        labels: [("org.opencontainers.image.source".to_string(), "https://example.com/shop".to_string())].into(),
        ..ImageSpec::default()
    };
    build_and_push(client, &registry.host, &spec).unwrap()
}

fn verify(reference: &str, public_key: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["image", "verify", reference, "--key", fixture(public_key).to_str().unwrap(), "--insecure-registry"])
        .args(extra)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

fn failed_check(doc: &serde_json::Value) -> &str {
    doc["failure"]["check"].as_str().unwrap_or_default()
}

#[test]
fn signed_images_verify_and_every_tampering_fails_its_check() {
    let Some(registry) = registry() else { return };
    let client = RegistryClient::new(true).unwrap();
    let signer = key("signer.key");

    // Signed with the key: verifies by tag and by digest, naming the repository it signed.
    let web = image(&client, &registry, "shop/web", "1.0", "web 1.0");
    cosign::sign(&client, &web, &signer).unwrap();
    let (code, doc) = verify(&web.tagged, "signer.pub", &[]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["result"]["digest"], web.digest.as_str());
    assert_eq!(doc["result"]["identity"], web.repository.as_str());
    assert_eq!(verify(&web.by_digest(), "signer.pub", &[]).0, Some(0));
    // Deterministic: the same spec pushed elsewhere has the same digest.
    assert_eq!(image(&client, &registry, "shop/web-copy", "1.0", "web 1.0").digest, web.digest);

    // Signed with another key.
    let (code, doc) = verify(&web.tagged, "other.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "signature"), "{doc:#}");

    // Unsigned.
    let api = image(&client, &registry, "shop/api", "2.0", "api 2.0");
    let (code, doc) = verify(&api.tagged, "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "signature manifest"), "{doc:#}");

    // Corrupted signature bytes.
    let worker = image(&client, &registry, "shop/worker", "3.0", "worker 3.0");
    let payload = cosign::payload(&worker.repository, &worker.digest);
    cosign::push_signature(&client, &worker, &payload, "MEUCIQDcorruptedcorruptedcorruptedAAAAAAAAAAAAAAAAAAAAAAAAAA==").unwrap();
    let (code, doc) = verify(&worker.tagged, "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "signature"), "{doc:#}");

    // A valid signature, but over another digest, placed at this image's signature tag.
    let cron = image(&client, &registry, "shop/cron", "4.0", "cron 4.0");
    cosign::sign_payload(&client, &cron, &cosign::payload(&cron.repository, &web.digest), &signer).unwrap();
    let (code, doc) = verify(&cron.tagged, "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "payload digest"), "{doc:#}");

    // A signature naming another repository.
    let jobs = image(&client, &registry, "shop/jobs", "5.0", "jobs 5.0");
    cosign::sign_payload(&client, &jobs, &cosign::payload("evil.example/shop/jobs", &jobs.digest), &signer).unwrap();
    let (code, doc) = verify(&jobs.tagged, "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "payload identity"), "{doc:#}");

    // The tag moved after signing: the new content has no signature.
    image(&client, &registry, "shop/web", "1.0", "web 1.0, rebuilt");
    let (code, doc) = verify(&web.tagged, "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "signature manifest"), "{doc:#}");
    assert_eq!(verify(&web.by_digest(), "signer.pub", &[]).0, Some(0), "the signed digest still verifies");
}

#[test]
fn a_registry_that_is_down_or_hangs_is_an_error_never_a_pass() {
    // Down: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, doc) = verify(&format!("127.0.0.1:{port}/shop/web:1.0"), "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(2), "resolve"), "{doc:#}");

    // Hangs: accepts connections and never answers; the call is cut at the timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    });
    let started = std::time::Instant::now();
    let (code, doc) = verify(&format!("{host}/shop/web:1.0"), "signer.pub", &["--timeout", "1"]);
    assert_eq!((code, failed_check(&doc)), (Some(2), "resolve"), "{doc:#}");
    assert!(doc["failure"]["reason"].as_str().unwrap().contains("did not answer"), "{doc:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(held);
}

#[test]
fn the_registry_process_is_gone_after_drop() {
    let Some(registry) = registry() else { return };
    let host = registry.host.clone();
    assert!(std::net::TcpStream::connect(&host).is_ok());
    drop(registry);
    assert!(std::net::TcpStream::connect(&host).is_err(), "nothing listens on {host} any more");
}

/// A hostile registry on loopback: answers `/v2/` and then, per request path,
/// whatever the test says (status and body).
fn hostile_registry(answer: impl Fn(&str) -> (u16, &'static str, Vec<u8>) + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, media_type, body) = if path == "/v2/" { (200, "application/json", b"{}".to_vec()) } else { answer(&path) };
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\nDocker-Content-Digest: {}\r\nConnection: close\r\n\r\n",
                body.len(),
                verdict::oci::sha256(&body)
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    host
}

#[test]
fn a_registry_that_answers_500_or_serves_a_wrong_blob_is_an_error() {
    let host = hostile_registry(|_| (500, "text/plain", b"internal error".to_vec()));
    let (code, doc) = verify(&format!("{host}/shop/web:1.0"), "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(2), "resolve"), "{doc:#}");

    // The image and its signature manifest are served; the payload blob is not what its digest says.
    let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":2},"layers":[]}"#.to_vec();
    let image_digest = verdict::oci::sha256(&image);
    let payload = cosign::payload("x/shop/web", &image_digest);
    let payload_digest = verdict::oci::sha256(&payload);
    let wanted = payload_digest.clone();
    let signature = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:00", "size": 2},
        "layers": [{"mediaType": cosign::SIMPLE_SIGNING, "digest": payload_digest, "size": payload.len(),
                    "annotations": {cosign::SIGNATURE_ANNOTATION: "AAAA"}}],
    }))
    .unwrap();
    let host = hostile_registry(move |path| {
        if path.ends_with("/manifests/1.0") {
            (200, "application/vnd.oci.image.manifest.v1+json", image.clone())
        } else if path.contains("/manifests/sha256-") {
            (200, "application/vnd.oci.image.manifest.v1+json", signature.clone())
        } else if path.contains("/blobs/") {
            (200, "application/octet-stream", b"{\"not\": \"the payload\"}".to_vec())
        } else {
            (404, "application/json", br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}"#.to_vec())
        }
    });
    let (code, doc) = verify(&format!("{host}/shop/web:1.0"), "signer.pub", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(2), "payload"), "{doc:#}");
    // oci-client checks the digest before verdict does; either way the mismatch is named.
    let reason = doc["failure"]["reason"].as_str().unwrap();
    assert!(reason.contains(&wanted) && (reason.contains("got sha256:") || reason.contains("served content with digest")), "{doc:#}");
}

fn verify_keyless(reference: &str, trust_root: &std::path::Path, identity: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["image", "verify", reference, "--insecure-registry", "--trust-root", trust_root.to_str().unwrap()])
        .args(["--certificate-identity", identity, "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"])
        .args(extra)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

#[test]
fn keyless_signatures_and_attestations_verify_from_the_command_line_against_a_trust_root_file() {
    use verdict::oci::{attest, keyless};
    let Some(registry) = registry() else { return };
    let client = RegistryClient::new(true).unwrap();
    let material = keyless::TrustMaterial::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, material.trusted_root_json()).unwrap();
    let pipeline = "https://github.com/acme/shop/.github/workflows/release.yaml@refs/heads/main";
    let signer = material.issue(pipeline, "https://token.actions.githubusercontent.com", keyless::Validity::Current).unwrap();

    let web = image(&client, &registry, "shop/web", "1.0", "web 1.0");
    cosign::sign(&client, &web, &signer).unwrap();
    let statement = attest::statement(&web, "https://slsa.dev/provenance/v1", &serde_json::json!({"runDetails": {"builder": {"id": "https://builder.example"}}}));
    attest::push_attestations(&client, &web, vec![attest::envelope(&statement, &signer).unwrap()]).unwrap();

    let (code, doc) = verify_keyless(&web.tagged, &root, pipeline, &["--attestation", "slsaprovenance1"]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["result"]["signer"]["keyless"]["subject"], pipeline);
    assert_eq!(doc["attestations"][0]["predicate"]["runDetails"]["builder"]["id"], "https://builder.example");

    // Another identity, an issuer regexp that does not match, another trust root, a missing attestation type.
    let (code, doc) = verify_keyless(&web.tagged, &root, "dana@acme.example", &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "identity"), "{doc:#}");
    let other = dir.path().join("other_root.json");
    std::fs::write(&other, keyless::TrustMaterial::generate().unwrap().trusted_root_json()).unwrap();
    let (code, doc) = verify_keyless(&web.tagged, &other, pipeline, &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "set"), "{doc:#}");
    let (code, doc) = verify_keyless(&web.tagged, &root, pipeline, &["--attestation", "cyclonedx"]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "predicate type"), "{doc:#}");
    // A key-signed image has no certificate to check.
    let api = image(&client, &registry, "shop/api", "2.0", "api 2.0");
    cosign::sign(&client, &api, &key("signer.key")).unwrap();
    let (code, doc) = verify_keyless(&api.tagged, &root, pipeline, &[]);
    assert_eq!((code, failed_check(&doc)), (Some(1), "certificate"), "{doc:#}");
}

#[test]
fn a_multi_arch_index_is_signed_and_verified_as_one() {
    let Some(registry) = registry() else { return };
    let client = RegistryClient::new(true).unwrap();
    let spec = ImageSpec { repository: "shop/multi".into(), tag: "1.0".into(), platforms: vec!["linux/amd64".into(), "linux/arm64".into()], ..ImageSpec::default() };
    let index = build_and_push(&client, &registry.host, &spec).unwrap();
    let reference: oci_client::Reference = index.tagged.parse().unwrap();
    let (body, digest) = client.manifest(&reference).unwrap().unwrap();
    assert_eq!(digest, index.digest);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(doc["manifests"].as_array().unwrap().len(), 2);
    cosign::sign(&client, &index, &key("signer.key")).unwrap();
    assert_eq!(verify(&index.tagged, "signer.pub", &[]).0, Some(0));
}
