//! Each check of `verify_layer`, made to fail on its own.

use super::verify::{BUNDLE, CERTIFICATE, CHAIN, IDENTITY, INTEGRATED_TIME, ISSUER, SCT, SET, SIGNATURE, TLOG_ENTRY};
use super::*;
use x509_cert::der::{Decode, Encode};

const WHO: &str = "dev@example.com";
const ISS: &str = "https://accounts.example.com";
const PAYLOAD: &[u8] = br#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}"#;

fn exact(subject: &str, issuer: &str) -> KeylessPolicy {
    KeylessPolicy { subject: Matcher::Exact(subject.into()), issuer: Matcher::Exact(issuer.into()) }
}

fn setup() -> (TrustMaterial, TrustRoot) {
    let material = TrustMaterial::generate().unwrap();
    let root = TrustRoot::from_json(&material.trusted_root_json()).unwrap();
    (material, root)
}

fn check(root: &TrustRoot, policy: &KeylessPolicy, message: &[u8], layer: &SignedLayer) -> Result<KeylessIdentity, (&'static str, String)> {
    verify_layer(root, policy, message, &B64.decode(&layer.signature_b64).unwrap(), &layer.annotations)
}

fn failed_check(result: Result<KeylessIdentity, (&'static str, String)>) -> &'static str {
    match result {
        Ok(identity) => panic!("verified, but should not have: {identity:?}"),
        Err((check, _)) => check,
    }
}

/// Rewrite the cosign bundle annotation of `layer` through `edit`.
fn edit_bundle(layer: &mut SignedLayer, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut bundle: serde_json::Value = serde_json::from_str(&layer.annotations[BUNDLE_ANNOTATION]).unwrap();
    edit(&mut bundle);
    layer.annotations.insert(BUNDLE_ANNOTATION.into(), bundle.to_string());
}

#[test]
fn a_signed_payload_verifies_and_names_the_signer() {
    let (material, root) = setup();
    let signer = material.issue(WHO, ISS, Validity::Current).unwrap();
    let layer = signer.sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    assert_eq!(layer.annotations.len(), 3);
    assert!(layer.annotations[CHAIN_ANNOTATION].matches("BEGIN CERTIFICATE").count() == 2);
    let identity = check(&root, &exact(WHO, ISS), PAYLOAD, &layer).unwrap();
    assert_eq!(identity, KeylessIdentity { subject: WHO.into(), issuer: ISS.into() });
    assert_eq!(serde_json::to_value(&identity).unwrap(), serde_json::json!({"subject": WHO, "issuer": ISS}));
}

#[test]
fn a_dsse_attestation_verifies_and_a_changed_payload_does_not() {
    let (material, root) = setup();
    let signer = material.issue("https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main", ISS, Validity::Current).unwrap();
    let message = tlog::pae("application/vnd.in-toto+json", br#"{"_type":"https://in-toto.io/Statement/v1"}"#);
    let layer = signer.sign(&message, EntryKind::Dsse).unwrap();
    let policy = KeylessPolicy { subject: Matcher::Regex(regex::Regex::new("^https://github.com/org/").unwrap()), issuer: Matcher::Exact(ISS.into()) };
    let identity = check(&root, &policy, &message, &layer).unwrap();
    assert!(identity.subject.starts_with("https://github.com/org/repo/"));
    let body: serde_json::Value = serde_json::from_str(&layer.annotations[BUNDLE_ANNOTATION]).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&B64.decode(body["Payload"]["body"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!((body["kind"].as_str(), body["apiVersion"].as_str()), (Some("dsse"), Some("0.0.1")));

    let other = tlog::pae("application/vnd.in-toto+json", br#"{"_type":"forged"}"#);
    assert_eq!(failed_check(check(&root, &policy, &other, &layer)), TLOG_ENTRY);
    // A DSSE layer is not a plain payload signature either.
    assert_eq!(failed_check(check(&root, &policy, b"not a PAE", &layer)), TLOG_ENTRY);
}

#[test]
fn missing_annotations_fail_the_certificate_or_bundle_check() {
    let (material, root) = setup();
    let layer = material.issue(WHO, ISS, Validity::Current).unwrap().sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    let mut no_cert = layer.clone();
    no_cert.annotations.remove(CERTIFICATE_ANNOTATION);
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &no_cert)), CERTIFICATE);
    let mut no_bundle = layer.clone();
    no_bundle.annotations.remove(BUNDLE_ANNOTATION);
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &no_bundle)), BUNDLE);
    let mut garbage = layer;
    garbage.annotations.insert(BUNDLE_ANNOTATION.into(), "{\"Payload\":{}}".into());
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &garbage)), BUNDLE);
}

#[test]
fn a_tampered_set_body_time_or_index_fails_the_set_check() {
    let (material, root) = setup();
    let layer = material.issue(WHO, ISS, Validity::Current).unwrap().sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    let policy = exact(WHO, ISS);
    let mut bad_set = layer.clone();
    edit_bundle(&mut bad_set, |b| {
        let mut set = B64.decode(b["SignedEntryTimestamp"].as_str().unwrap()).unwrap();
        let last = set.len() - 1;
        set[last] ^= 1;
        b["SignedEntryTimestamp"] = B64.encode(set).into();
    });
    assert_eq!(failed_check(check(&root, &policy, PAYLOAD, &bad_set)), SET);
    // The SET covers the body: an entry rewritten to name another message fails here.
    let mut bad_body = layer.clone();
    edit_bundle(&mut bad_body, |b| {
        let forged = tlog::hashedrekord_body(b"other", b"sig", "pem");
        b["Payload"]["body"] = B64.encode(forged).into();
    });
    assert_eq!(failed_check(check(&root, &policy, PAYLOAD, &bad_body)), SET);
    let mut bad_time = layer.clone();
    edit_bundle(&mut bad_time, |b| b["Payload"]["integratedTime"] = (b["Payload"]["integratedTime"].as_i64().unwrap() - 1).into());
    assert_eq!(failed_check(check(&root, &policy, PAYLOAD, &bad_time)), SET);
    let mut bad_index = layer;
    edit_bundle(&mut bad_index, |b| b["Payload"]["logIndex"] = 7.into());
    assert_eq!(failed_check(check(&root, &policy, PAYLOAD, &bad_index)), SET);
}

#[test]
fn another_material_entirely_fails_at_its_unknown_log() {
    let (_, root) = setup();
    let stranger = TrustMaterial::generate().unwrap();
    let layer = stranger.issue(WHO, ISS, Validity::Current).unwrap().sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &layer)), SET);
}

#[test]
fn a_certificate_from_an_untrusted_ca_fails_the_chain_check() {
    let (material, root) = setup();
    let stranger = TrustMaterial::generate().unwrap();
    // The stranger's CA issues the certificate; the entry is logged in the trusted log,
    // so everything before the chain check passes.
    let foreign = stranger.issue(WHO, ISS, Validity::Current).unwrap();
    let signer = KeylessSigner { log: material.log.clone(), ..foreign };
    let layer = signer.sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    let (check_name, reason) = check(&root, &exact(WHO, ISS), PAYLOAD, &layer).unwrap_err();
    assert_eq!(check_name, CHAIN, "{reason}");
    // Sending the stranger's chain along does not help: intermediates come from the root only.
    assert!(layer.annotations[CHAIN_ANNOTATION].contains(&stranger.intermediate.pem()));
}

#[test]
fn a_ca_outside_its_valid_for_window_fails_the_chain_check() {
    let (material, _) = setup();
    let mut json: serde_json::Value = serde_json::from_str(&material.trusted_root_json()).unwrap();
    json["certificateAuthorities"][0]["validFor"]["end"] = "2001-01-01T00:00:00Z".into();
    let root = TrustRoot::from_json(&json.to_string()).unwrap();
    let layer = material.issue(WHO, ISS, Validity::Current).unwrap().sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &layer)), CHAIN);
}

#[test]
fn a_tampered_certificate_fails_the_chain_check() {
    let (material, root) = setup();
    let signer = material.issue(WHO, ISS, Validity::Current).unwrap();
    // Same length, other issuer: parses, but the CA's signature no longer covers it.
    let mut der = signer.leaf_der.clone();
    let at = der.windows(ISS.len()).position(|w| w == ISS.as_bytes()).unwrap();
    der[at + 8] = b'X';
    let forged = KeylessSigner { leaf_pem: ca::pem(&der), leaf_der: der, ..signer };
    let layer = forged.sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &layer)), CHAIN);
}

#[test]
fn an_expired_certificate_fails_the_integrated_time_check() {
    let (material, root) = setup();
    let signer = material.issue(WHO, ISS, Validity::Expired).unwrap();
    let layer = signer.sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    let (check_name, reason) = check(&root, &exact(WHO, ISS), PAYLOAD, &layer).unwrap_err();
    assert_eq!(check_name, INTEGRATED_TIME, "{reason}");
    // Moving the claimed time back into the validity breaks the SET instead.
    let mut backdated = layer.clone();
    edit_bundle(&mut backdated, |b| b["Payload"]["integratedTime"] = (now_secs() as i64 - 3300).into());
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &backdated)), SET);
    // And without a log entry an expired certificate has nothing to stand on.
    let mut unlogged = layer;
    unlogged.annotations.remove(BUNDLE_ANNOTATION);
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &unlogged)), BUNDLE);
}

#[test]
fn a_missing_foreign_or_forged_sct_fails_the_sct_check() {
    let (material, root) = setup();
    let policy = exact(WHO, ISS);
    let no_sct = material.issue_with(WHO, ISS, Validity::Current, None, None).unwrap();
    let other_log = ca::new_key();
    let foreign_sct = material.issue_with(WHO, ISS, Validity::Current, Some(&other_log), None).unwrap();
    let forged_sct = material.issue_with(WHO, ISS, Validity::Current, Some(&material.ct_key), Some(b"some other TBS")).unwrap();
    for (what, signer) in [("no SCT", no_sct), ("SCT from a log not in the root", foreign_sct), ("SCT over other bytes", forged_sct)] {
        let layer = signer.sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
        let (check_name, reason) = check(&root, &policy, PAYLOAD, &layer).unwrap_err();
        assert_eq!(check_name, SCT, "{what}: {reason}");
    }
}

#[test]
fn an_entry_for_another_message_signature_or_certificate_fails_the_entry_check() {
    let (material, root) = setup();
    let policy = exact(WHO, ISS);
    let signer = material.issue(WHO, ISS, Validity::Current).unwrap();
    let layer = signer.sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    // Another message under the same, validly logged, entry.
    assert_eq!(failed_check(check(&root, &policy, b"{\"other\":1}", &layer)), TLOG_ENTRY);
    // Another signature than the logged one (same key; RFC 6979 ECDSA is deterministic,
    // so it has to be over another message to differ).
    let second = signer.sign(b"{\"other\":2}", EntryKind::HashedRekord).unwrap();
    let mut swapped = layer.clone();
    swapped.signature_b64 = second.signature_b64.clone();
    assert_eq!(failed_check(check(&root, &policy, PAYLOAD, &swapped)), TLOG_ENTRY);
    // Another certificate of the same CA than the logged one.
    let colleague = material.issue(WHO, ISS, Validity::Current).unwrap();
    let mut recerted = layer;
    recerted.annotations.insert(CERTIFICATE_ANNOTATION.into(), colleague.certificate_pem().to_string());
    assert_eq!(failed_check(check(&root, &policy, PAYLOAD, &recerted)), TLOG_ENTRY);
}

#[test]
fn identity_and_issuer_must_match_exactly_or_by_regexp() {
    let (material, root) = setup();
    let layer = material.issue(WHO, ISS, Validity::Current).unwrap().sign(PAYLOAD, EntryKind::HashedRekord).unwrap();
    let re = |s: &str| Matcher::Regex(regex::Regex::new(s).unwrap());
    let cases = [
        (Matcher::Exact("other@example.com".into()), Matcher::Exact(ISS.into()), Some(IDENTITY)),
        (Matcher::Exact(WHO.into()), Matcher::Exact("https://token.actions.githubusercontent.com".into()), Some(ISSUER)),
        (re(r"^[a-z]+@example\.com$"), Matcher::Exact(ISS.into()), None),
        (re(r"@example\.org$"), Matcher::Exact(ISS.into()), Some(IDENTITY)),
        (Matcher::Exact(WHO.into()), re(r"^https://accounts\.example\.com$"), None),
        (Matcher::Exact(WHO.into()), re(r"^https://accounts\.example\.org$"), Some(ISSUER)),
        // Exact is exact: a prefix of the identity is not it.
        (Matcher::Exact("dev@example".into()), Matcher::Exact(ISS.into()), Some(IDENTITY)),
    ];
    for (subject, issuer, want) in cases {
        let label = format!("{subject} / {issuer}");
        let got = check(&root, &KeylessPolicy { subject, issuer }, PAYLOAD, &layer);
        assert_eq!(got.as_ref().err().map(|e| e.0), want, "{label}: {got:?}");
    }
}

#[test]
fn a_logged_but_invalid_signature_fails_the_signature_check() {
    let (material, root) = setup();
    let signer = material.issue(WHO, ISS, Validity::Current).unwrap();
    // Log a signature made by another key, so the entry matches but the key does not.
    let bogus = tlog::sign_der(&ca::new_key(), PAYLOAD);
    let logged = signer.log_signature(PAYLOAD, &bogus, EntryKind::HashedRekord).unwrap();
    let layer = signer.layer(&bogus, &logged);
    assert_eq!(failed_check(check(&root, &exact(WHO, ISS), PAYLOAD, &layer)), SIGNATURE);
}

#[test]
fn leaves_look_like_fulcio_leaves() {
    let (material, _) = setup();
    let email = material.issue(WHO, ISS, Validity::Current).unwrap();
    let cert = x509_cert::Certificate::from_der(&email.leaf_der).unwrap();
    let exts = cert.tbs_certificate.extensions.clone().unwrap();
    let by_oid = |oid: &str| exts.iter().find(|e| e.extn_id.to_string() == oid).unwrap_or_else(|| panic!("no {oid}"));
    assert!(by_oid("2.5.29.15").critical, "keyUsage critical");
    assert!(by_oid("2.5.29.17").critical, "SAN critical");
    assert!(!by_oid("2.5.29.37").critical);
    assert_eq!(by_oid(OID_ISSUER_V1).extn_value.as_bytes(), ISS.as_bytes());
    assert_eq!(by_oid(OID_ISSUER_V2).extn_value.as_bytes(), x509_cert::der::asn1::Utf8StringRef::new(ISS).unwrap().to_der().unwrap());
    by_oid("1.3.6.1.4.1.11129.2.4.2");
    assert!(cert.tbs_certificate.subject.0.is_empty());
    let life = cert.tbs_certificate.validity.not_after.to_unix_duration() - cert.tbs_certificate.validity.not_before.to_unix_duration();
    assert!(life.as_secs() <= 660);
    // An identity with '@' and a scheme is a URI, like Fulcio's.
    let uri = material.issue("mailto:dev@example.com", ISS, Validity::Current).unwrap();
    let cert = x509_cert::Certificate::from_der(&uri.leaf_der).unwrap();
    let san = cert.tbs_certificate.extensions.unwrap().into_iter().find(|e| e.extn_id.to_string() == "2.5.29.17").unwrap();
    assert_eq!(san.extn_value.as_bytes()[2], 0x86, "URI GeneralName tag");
}

#[test]
fn the_trusted_root_names_the_chain_and_both_logs() {
    let (material, root) = setup();
    let json: serde_json::Value = serde_json::from_str(&material.trusted_root_json()).unwrap();
    assert_eq!(json["mediaType"], "application/vnd.dev.sigstore.trustedroot+json;version=0.1");
    assert_eq!(json["certificateAuthorities"][0]["certChain"]["certificates"].as_array().unwrap().len(), 2);
    let log_id = B64.decode(json["tlogs"][0]["logId"]["keyId"].as_str().unwrap()).unwrap();
    assert_eq!(log_id, sha256(&ca::spki_der(&material.log.key)));
    assert_eq!(json["tlogs"][0]["baseUrl"], TLOG_URL);
    assert_eq!(json["ctlogs"][0]["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
    assert_eq!((root.authorities.len(), root.tlogs.len(), root.ctlogs.len()), (1, 1, 1));
    assert_eq!(root.authorities[0].chain[1], material.root.der);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trusted_root.json");
    std::fs::write(&path, material.trusted_root_json()).unwrap();
    assert!(TrustRoot::from_file(&path).is_ok());
    assert!(TrustRoot::from_json("{\"mediaType\":\"application/vnd.dev.sigstore.trustedroot+json;version=0.1\"}").unwrap_err().contains("certificateAuthorities"));
    assert!(TrustRoot::from_json("{}").is_err());
}

#[test]
fn bundles_carry_a_proof_and_checkpoint_that_the_log_key_signed() {
    let (material, _) = setup();
    let signer = material.issue(WHO, ISS, Validity::Current).unwrap();
    for i in 0..5 {
        signer.bundle_for_artifact(format!("warm-up {i}").as_bytes()).unwrap();
    }
    let json: serde_json::Value = serde_json::from_str(&signer.bundle_for_artifact(b"artifact").unwrap()).unwrap();
    assert_eq!(json["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    let entry = &json["verificationMaterial"]["tlogEntries"][0];
    let proof = &entry["inclusionProof"];
    let b64 = |v: &serde_json::Value| B64.decode(v.as_str().unwrap()).unwrap();
    let int = |v: &serde_json::Value| v.as_str().unwrap().parse::<u64>().unwrap(); // int64 is a JSON string in protobuf
    let (index, size) = (int(&proof["logIndex"]), int(&proof["treeSize"]));
    assert_eq!((index, size), (5, 6));
    let hashes: Vec<[u8; 32]> = proof["hashes"].as_array().unwrap().iter().map(|h| b64(h).try_into().unwrap()).collect();
    assert_eq!(hashes.len(), 2);
    let root_hash: [u8; 32] = b64(&proof["rootHash"]).try_into().unwrap();
    let body = b64(&entry["canonicalizedBody"]);
    assert!(tlog::verify_inclusion(&tlog::leaf_hash(&body), index, size, &hashes, &root_hash));
    let checkpoint = tlog::parse_checkpoint(proof["checkpoint"]["envelope"].as_str().unwrap()).unwrap();
    assert_eq!((checkpoint.size, checkpoint.root.as_slice()), (size, &root_hash[..]));
    use p256::ecdsa::signature::Verifier;
    let key = material.log.key.verifying_key();
    key.verify(checkpoint.note.as_bytes(), &p256::ecdsa::Signature::from_der(&checkpoint.signature).unwrap()).unwrap();
    let set = p256::ecdsa::Signature::from_der(&b64(&entry["inclusionPromise"]["signedEntryTimestamp"])).unwrap();
    key.verify(&tlog::set_payload(&body, int(&entry["integratedTime"]) as i64, &material.log.log_id, index), &set).unwrap();
    assert_eq!(b64(&json["verificationMaterial"]["certificate"]["rawBytes"]), signer.leaf_der);
}

#[test]
fn canonical_json_sorts_keys_at_every_level() {
    let v = serde_json::json!({"b": 1, "a": {"d": [{"z": 1, "y": "x"}], "c": "s"}});
    assert_eq!(canonical_json(&v), r#"{"a":{"c":"s","d":[{"y":"x","z":1}]},"b":1}"#);
}
