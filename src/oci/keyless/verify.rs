//! Verification of one keyless signature layer, fail-closed.
//!
//! The checks run in this order, each named by the constant returned on failure.
//! The log entry's time is authenticated (SET) before anything is judged at it:
//! 1. [`CERTIFICATE`]: the leaf annotation holds one PEM certificate.
//! 2. [`BUNDLE`]: the bundle annotation holds cosign's Rekor bundle.
//! 3. [`SET`]: the signed entry timestamp verifies with a transparency-log key of the
//!    trust root, the one whose id the bundle names (valid at the integrated time).
//! 4. [`INTEGRATED_TIME`]: the integrated time lies inside the leaf's validity.
//! 5. [`CHAIN`]: the leaf chains (rustls-webpki path validation, codeSigning EKU) to a CA
//!    of the trust root, at the integrated time, within that CA's `validFor`.
//! 6. [`SCT`]: exactly one embedded SCT, from a CT log key of the root, signed over the
//!    precertificate TBS (the leaf TBS minus the SCT list) and the issuer key hash.
//! 7. [`TLOG_ENTRY`]: the logged body (`hashedrekord` or `dsse` 0.0.1) names this
//!    message's hash, this signature and this certificate.
//! 8. [`IDENTITY`] and 9. [`ISSUER`]: the SAN and the OIDC issuer extension match the policy.
//! 10. [`SIGNATURE`]: the signature verifies over the message with the leaf's key.
//!
//! The chain annotation is not trusted: intermediates come from the trust root only.
//! cosign's layer bundle carries no inclusion proof, so as in cosign the SET is the
//! log's promise checked here; sigstore bundles (with proof and checkpoint) are
//! what [`super::KeylessSigner::bundle_for_artifact`] writes for sigstore-python.

use super::tlog::{parse_pae, set_payload};
use super::{sha256, KeylessIdentity, KeylessPolicy, TrustRoot, B64, OID_ISSUER_V1, OID_ISSUER_V2};
use super::{BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION};
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey as _;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::collections::BTreeMap;
use x509_cert::der::{self, Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::sct::{HashAlgorithm, SignatureAlgorithm, SignedCertificateTimestampList};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

pub const CERTIFICATE: &str = "certificate";
pub const BUNDLE: &str = "bundle";
pub const SET: &str = "set";
pub const INTEGRATED_TIME: &str = "integrated-time";
pub const CHAIN: &str = "chain";
pub const SCT: &str = "sct";
pub const TLOG_ENTRY: &str = "tlog-entry";
pub const IDENTITY: &str = "identity";
pub const ISSUER: &str = "issuer";
pub const SIGNATURE: &str = "signature";

/// DER value bytes of id-kp-codeSigning (1.3.6.1.5.5.7.3.3), as webpki wants it.
const CODE_SIGNING_OID_BYTES: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
const SCT_LIST_OID: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
const SAN_OID: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.17");

type Failure = (&'static str, String);

#[derive(serde::Deserialize)]
struct CosignBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: BundlePayload,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundlePayload {
    body: String,
    integrated_time: i64,
    log_index: u64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Verify one signature layer: `message` is what was signed (simple-signing payload, or
/// a DSSE PAE), `signature_der` the raw signature, `annotations` the layer's annotations.
/// `Err((check, reason))` names the first failed check (see the module doc).
pub fn verify_layer(
    trust: &TrustRoot,
    policy: &KeylessPolicy,
    message: &[u8],
    signature_der: &[u8],
    annotations: &BTreeMap<String, String>,
) -> Result<KeylessIdentity, Failure> {
    let fail = |check: &'static str| move |reason: String| (check, reason);

    // 1. certificate
    let pem = annotations.get(CERTIFICATE_ANNOTATION).ok_or((CERTIFICATE, format!("no {CERTIFICATE_ANNOTATION} annotation")))?;
    let (label, leaf_der) = der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| (CERTIFICATE, format!("not PEM: {e}")))?;
    if label != "CERTIFICATE" {
        return Err((CERTIFICATE, format!("PEM label is {label}, not CERTIFICATE")));
    }
    let leaf = Certificate::from_der(&leaf_der).map_err(|e| (CERTIFICATE, format!("not an X.509 certificate: {e}")))?;

    // 2. bundle
    let bundle_text = annotations.get(BUNDLE_ANNOTATION).ok_or((BUNDLE, format!("no {BUNDLE_ANNOTATION} annotation: the signature was not logged")))?;
    let bundle: CosignBundle = serde_json::from_str(bundle_text).map_err(|e| (BUNDLE, format!("not a cosign bundle: {e}")))?;
    let body = B64.decode(&bundle.payload.body).map_err(|e| (BUNDLE, format!("body is not base64: {e}")))?;
    let set = B64.decode(&bundle.set).map_err(|e| (BUNDLE, format!("SignedEntryTimestamp is not base64: {e}")))?;
    let log_id: [u8; 32] = hex::decode(&bundle.payload.log_id)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or((BUNDLE, "logID is not 32 hex bytes".to_string()))?;
    let time = bundle.payload.integrated_time;

    // 3. set
    let log = trust.tlogs.iter().find(|k| k.log_id == log_id).ok_or((SET, "the entry was logged by a transparency log the trust root does not hold".to_string()))?;
    if !log.valid_for.contains(time) {
        return Err((SET, "the log's key was not valid when the entry was logged".to_string()));
    }
    verify_p256(&log.spki_der, &set_payload(&body, time, &log_id, bundle.payload.log_index), &set).map_err(fail(SET))?;

    // 4. integrated-time
    let validity = &leaf.tbs_certificate.validity;
    let (not_before, not_after) = (validity.not_before.to_unix_duration().as_secs() as i64, validity.not_after.to_unix_duration().as_secs() as i64);
    // Relative wording only: verdicts are snapshotted, and these times change every run.
    if time < not_before {
        return Err((INTEGRATED_TIME, "the signature was logged before the certificate was valid".to_string()));
    }
    if time > not_after {
        return Err((INTEGRATED_TIME, "the signature was logged after the certificate had expired".to_string()));
    }

    // 5. chain
    let issuer_spki = verify_chain(trust, &leaf_der, time).map_err(fail(CHAIN))?;

    // 6. sct
    verify_sct(trust, &leaf, &issuer_spki).map_err(fail(SCT))?;

    // 7. tlog-entry
    verify_entry(&body, message, signature_der, &leaf_der).map_err(fail(TLOG_ENTRY))?;

    // 8, 9. identity, issuer
    let identity = KeylessIdentity { subject: subject(&leaf).map_err(fail(IDENTITY))?, issuer: oidc_issuer(&leaf).map_err(fail(ISSUER))? };
    if !policy.subject.matches(&identity.subject) {
        return Err((IDENTITY, format!("certificate identity {:?} does not match {}", identity.subject, policy.subject)));
    }
    if !policy.issuer.matches(&identity.issuer) {
        return Err((ISSUER, format!("certificate issuer {:?} does not match {}", identity.issuer, policy.issuer)));
    }

    // 10. signature
    let leaf_cert = CertificateDer::from(leaf_der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_cert).map_err(|e| (SIGNATURE, format!("{e:?}")))?;
    // The leaf's curve picks the hash (P-256/SHA-256, P-384/SHA-384), as Fulcio keys do.
    let verified = match ee.verify_signature(webpki::aws_lc_rs::ECDSA_P256_SHA256, message, signature_der) {
        Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => ee.verify_signature(webpki::aws_lc_rs::ECDSA_P384_SHA384, message, signature_der),
        other => other,
    };
    verified.map_err(|e| (SIGNATURE, format!("does not verify with the certificate's key: {e:?}")))?;
    Ok(identity)
}

/// ECDSA P-256 / SHA-256 over `message` with a DER SubjectPublicKeyInfo: the key
/// type of Rekor and CT log keys.
fn verify_p256(spki_der: &[u8], message: &[u8], signature_der: &[u8]) -> Result<(), String> {
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der).map_err(|e| format!("log key is not ECDSA P-256: {e}"))?;
    let signature = p256::ecdsa::Signature::from_der(signature_der).map_err(|e| format!("signature is not DER ECDSA: {e}"))?;
    key.verify(message, &signature).map_err(|_| "signature does not verify with the log key".to_string())
}

/// Path-validate the leaf at `time` against each CA of the root; the issuer's SPKI on success.
fn verify_chain(trust: &TrustRoot, leaf_der: &[u8], time: i64) -> Result<Vec<u8>, String> {
    let leaf = CertificateDer::from(leaf_der);
    let ee = webpki::EndEntityCert::try_from(&leaf).map_err(|e| format!("leaf: {e:?}"))?;
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(time.max(0) as u64));
    let mut errors = Vec::new();
    for ca in trust.authorities.iter() {
        if !ca.valid_for.contains(time) {
            errors.push("CA not valid at the integrated time".to_string());
            continue;
        }
        let (root, intermediates) = ca.chain.split_last().expect("chains are non-empty");
        let root = CertificateDer::from(root.as_slice());
        let anchor = match webpki::anchor_from_trusted_cert(&root) {
            Ok(anchor) => anchor,
            Err(e) => {
                errors.push(format!("root: {e:?}"));
                continue;
            }
        };
        let intermediates: Vec<CertificateDer<'_>> = intermediates.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
        let anchors = [anchor];
        let usage = webpki::KeyUsage::required(CODE_SIGNING_OID_BYTES);
        match ee.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, &intermediates, at, usage, None, None) {
            Ok(path) => {
                let spki = match path.intermediate_certificates().next() {
                    Some(issuer) => issuer.subject_public_key_info(),
                    None => webpki::spki_for_anchor(path.anchor()),
                };
                return Ok(spki.as_ref().to_vec());
            }
            Err(e) => errors.push(format!("{e:?}")),
        }
    }
    Err(format!("does not chain to a CA of the trust root: {}", errors.join("; ")))
}

fn verify_sct(trust: &TrustRoot, leaf: &Certificate, issuer_spki: &[u8]) -> Result<(), String> {
    let extensions = leaf.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let lists: Vec<_> = extensions.iter().filter(|e| e.extn_id == SCT_LIST_OID).collect();
    let [list] = lists.as_slice() else {
        return Err(format!("{} SCT list extensions, want one", lists.len()));
    };
    let list = SignedCertificateTimestampList::from_der(list.extn_value.as_bytes()).map_err(|e| format!("SCT list: {e}"))?;
    let scts = list.parse_timestamps().map_err(|e| format!("SCT list: {e:?}"))?;
    let [sct] = scts.as_slice() else {
        return Err(format!("{} SCTs, want exactly one", scts.len()));
    };
    let sct = sct.parse_timestamp().map_err(|e| format!("SCT: {e:?}"))?;
    if sct.signature.algorithm.hash != HashAlgorithm::Sha256 || sct.signature.algorithm.signature != SignatureAlgorithm::Ecdsa {
        return Err("SCT is not ECDSA with SHA-256".into());
    }
    let log = trust.ctlogs.iter().find(|k| k.log_id == sct.log_id.key_id).ok_or_else(|| "the SCT comes from a CT log the trust root does not hold".to_string())?;
    // What the log signed: the precertificate TBS, i.e. this TBS without the SCT list.
    let mut tbs = leaf.tbs_certificate.clone();
    tbs.extensions = Some(extensions.iter().filter(|e| e.extn_id != SCT_LIST_OID).cloned().collect());
    let precert_tbs = tbs.to_der().map_err(|e| format!("TBS: {e}"))?;
    let mut signed = super::ca::sct_signed_data(sct.timestamp, &sha256(issuer_spki), &precert_tbs);
    let extension_bytes = sct.extensions.as_slice();
    signed.truncate(signed.len() - 2);
    signed.extend_from_slice(&(extension_bytes.len() as u16).to_be_bytes());
    signed.extend_from_slice(extension_bytes);
    verify_p256(&log.spki_der, &signed, sct.signature.signature.as_slice()).map_err(|e| format!("SCT: {e}"))
}

fn verify_entry(body: &[u8], message: &[u8], signature_der: &[u8], leaf_der: &[u8]) -> Result<(), String> {
    let entry: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let text = |pointer: &str| entry.pointer(pointer).and_then(|v| v.as_str()).ok_or_else(|| format!("body has no {pointer}"));
    let same_cert = |b64_pem: &str| -> Result<(), String> {
        let pem = B64.decode(b64_pem).map_err(|_| "logged certificate is not base64".to_string())?;
        let (_, der) = der::pem::decode_vec(&pem).map_err(|_| "logged certificate is not PEM".to_string())?;
        if der != leaf_der {
            return Err("logged certificate is not this certificate".into());
        }
        Ok(())
    };
    let same_signature = |b64: &str| -> Result<(), String> {
        if B64.decode(b64).ok().as_deref() != Some(signature_der) {
            return Err("logged signature is not this signature".into());
        }
        Ok(())
    };
    match (text("/kind")?, text("/apiVersion")?) {
        ("hashedrekord", "0.0.1") => {
            if text("/spec/data/hash/algorithm")? != "sha256" || text("/spec/data/hash/value")? != hex::encode(sha256(message)) {
                return Err("logged hash is not this message's SHA-256".into());
            }
            same_signature(text("/spec/signature/content")?)?;
            same_cert(text("/spec/signature/publicKey/content")?)
        }
        ("dsse", "0.0.1") => {
            let (_, payload) = parse_pae(message)?;
            if text("/spec/payloadHash/algorithm")? != "sha256" || text("/spec/payloadHash/value")? != hex::encode(sha256(payload)) {
                return Err("logged payload hash is not this payload's SHA-256".into());
            }
            let signatures = entry.pointer("/spec/signatures").and_then(|v| v.as_array()).ok_or("body has no /spec/signatures")?;
            let [signature] = signatures.as_slice() else {
                return Err(format!("{} logged signatures, want one", signatures.len()));
            };
            same_signature(signature.get("signature").and_then(|v| v.as_str()).ok_or("logged signature missing")?)?;
            same_cert(signature.get("verifier").and_then(|v| v.as_str()).ok_or("logged verifier missing")?)
        }
        (kind, version) => Err(format!("unsupported entry kind {kind} {version}")),
    }
}

/// The certificate identity: its first email or URI SAN.
fn subject(leaf: &Certificate) -> Result<String, String> {
    let extensions = leaf.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let san = extensions.iter().find(|e| e.extn_id == SAN_OID).ok_or("certificate has no SAN")?;
    let names = SubjectAltName::from_der(san.extn_value.as_bytes()).map_err(|e| format!("SAN: {e}"))?;
    names
        .0
        .iter()
        .find_map(|name| match name {
            GeneralName::Rfc822Name(s) | GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
            _ => None,
        })
        .ok_or_else(|| "SAN has no email or URI".to_string())
}

/// The OIDC issuer: extension .1.8 (UTF8String) or the older raw .1.1; when both are there they must agree.
fn oidc_issuer(leaf: &Certificate) -> Result<String, String> {
    let extensions = leaf.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let find = |oid: &str| extensions.iter().find(|e| e.extn_id.to_string() == oid).map(|e| e.extn_value.as_bytes());
    let v1 = find(OID_ISSUER_V1).map(|raw| String::from_utf8(raw.to_vec()).map_err(|_| "issuer (1.1) is not UTF-8".to_string())).transpose()?;
    let v2 = find(OID_ISSUER_V2)
        .map(|raw| der::asn1::Utf8StringRef::from_der(raw).map(|s| s.as_str().to_string()).map_err(|e| format!("issuer (1.8): {e}")))
        .transpose()?;
    match (v1, v2) {
        (Some(a), Some(b)) if a != b => Err(format!("issuer extensions disagree: {a:?} and {b:?}")),
        (_, Some(issuer)) | (Some(issuer), None) => Ok(issuer),
        (None, None) => Err("certificate has no OIDC issuer extension".into()),
    }
}
