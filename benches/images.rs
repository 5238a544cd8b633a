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
    let cycles: Vec<Duration> = (0..20)
        .map(|i| {
            let t = Instant::now();
            let spec = ImageSpec {
                repository: format!("registry.example.com/bench/app{i}"),
                tag: "1.0".into(),
                files: [("/app/VERSION".to_string(), format!("{i}"))].into(),
                ..ImageSpec::default()
            };
            let image = build_and_push(&client, &registry.host, &spec).unwrap();
            cosign::sign(&client, &image, &key).unwrap();
            let statement = attest::statement(&image, &attest::predicate_type("slsaprovenance1"), &serde_json::json!({"runDetails": {"builder": {"id": "b"}}}));
            attest::push_attestations(&client, &image, vec![attest::envelope(&statement, &key).unwrap()]).unwrap();
            let location = image.location().unwrap();
            cosign::verify_with(&client, &location, &attestor).unwrap();
            attest::verify_attestations(&client, &location, &attestor, Some("https://slsa.dev/provenance/v1")).unwrap();
            t.elapsed()
        })
        .collect();
    println!("{:<58} {:>12}", "build + push + sign + attest + verify both (median of 20)", ms(median(cycles)));
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
