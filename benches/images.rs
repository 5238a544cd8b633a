//! `cargo bench --bench images`: the image gates' costs on this machine. Registry
//! start to ready; one image built, pushed, signed, attested and verified (signature
//! and attestation); and whole runs: the library's cases (registry start included)
//! and the image-case fixture project of `tests/images.rs`.
//!
//! A plain `main`: each figure is the median of several timed passes. Needs a
//! registry binary (`apt-get install docker-registry`).

use std::path::Path;
use std::time::{Duration, Instant};
use verdict::oci::{attest, build_and_push, cosign, ImageSpec, Registry, RegistryClient};
use verdict::runner::{run_library, CaseRunOptions};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let starts: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let registry = Registry::start().expect("a registry binary (apt-get install docker-registry)");
            let d = t.elapsed();
            drop(registry);
            d
        })
        .collect();
    println!("{:<58} {:>12}", "registry start to ready (process, median of 5)", ms(median(starts)));

    let registry = Registry::start().unwrap();
    let client = RegistryClient::new(true).unwrap();
    let key = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let attestor = cosign::KeyAttestor(*key.verifying_key());
    let material = verdict::oci::keyless::TrustMaterial::generate().unwrap();
    let trust = std::sync::Arc::new(verdict::oci::keyless::TrustRoot::from_json(&material.trusted_root_json()).unwrap());
    let identity = "https://github.com/acme/shop/.github/workflows/release.yaml@refs/heads/main";
    let issuer = "https://token.actions.githubusercontent.com";
    let keyless_attestor = cosign::KeylessAttestor {
        policy: verdict::oci::keyless::KeylessPolicy {
            subject: verdict::oci::keyless::Matcher::Exact(identity.into()),
            issuer: verdict::oci::keyless::Matcher::Exact(issuer.into()),
        },
        trust,
    };
    let mut n = 0;
    let mut image = |client: &RegistryClient| {
        n += 1;
        let spec = ImageSpec {
            repository: format!("registry.example.com/bench/app{n}"),
            tag: "1.0".into(),
            files: [("/app/VERSION".to_string(), format!("{n}"))].into(),
            ..ImageSpec::default()
        };
        build_and_push(client, &registry.host, &spec).unwrap()
    };
    let timed = |f: &mut dyn FnMut()| -> Duration {
        let samples = (0..20)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        median(samples)
    };
    let key_cycle = timed(&mut || {
        let pushed = image(&client);
        cosign::sign(&client, &pushed, &key).unwrap();
        cosign::verify_with(&client, &pushed.location().unwrap(), &attestor).unwrap();
    });
    println!("{:<58} {:>12}", "build + push + sign (key) + verify (median of 20)", ms(key_cycle));
    let keyless_cycle = timed(&mut || {
        let pushed = image(&client);
        let signer = material.issue(identity, issuer, verdict::oci::keyless::Validity::Current).unwrap();
        cosign::sign(&client, &pushed, &signer).unwrap();
        cosign::verify_with(&client, &pushed.location().unwrap(), &keyless_attestor).unwrap();
    });
    println!("{:<58} {:>12}", "build + push + sign (keyless: cert + log) + verify", ms(keyless_cycle));
    let attest_cycle = timed(&mut || {
        let pushed = image(&client);
        let statement = attest::statement(&pushed, &attest::predicate_type("slsaprovenance1"), &serde_json::json!({"runDetails": {"builder": {"id": "b"}}}));
        attest::push_attestations(&client, &pushed, vec![attest::envelope(&statement, &key).unwrap()]).unwrap();
        attest::verify_attestations(&client, &pushed.location().unwrap(), &attestor, Some("https://slsa.dev/provenance/v1")).unwrap();
    });
    println!("{:<58} {:>12}", "build + push + attest (key) + verify the attestation", ms(attest_cycle));
    drop(registry);

    for (label, root) in [
        ("library: every rule's cases (registry start included)", Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()),
        ("image fixture project: 18 image cases", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/project")),
    ] {
        let library = verdict::library::load_library(&root, &verdict::limits::Limits::default());
        let runs: Vec<(Duration, usize)> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let summary = run_library(&library, &CaseRunOptions::default(), |_| {});
                let images = summary.results.iter().filter(|r| r.test.ends_with(".image.yaml")).count();
                assert!(summary.results.iter().all(|r| r.ok || r.skipped.is_some()), "{label}: a case failed");
                (t.elapsed(), images)
            })
            .collect();
        let images = runs[0].1;
        println!("{:<58} {:>12}  ({images} image cases, 2 threads)", label, ms(median(runs.into_iter().map(|r| r.0).collect())));
    }
}
