//! Attestations in cosign's format: in-toto statements in DSSE envelopes, one
//! layer each, in the manifest at the tag `sha256-<hex>.att` of the image's
//! repository. The envelope carries the signature (over DSSE's pre-authentication
//! encoding, so the payload type is signed too); the layer's annotations carry
//! the predicate type and, for keyless, the certificate and log bundle.
//!
//! Verification checks, in order, naming the first check that fails: the image
//! resolves; an attestation manifest exists; each envelope blob hashes to its
//! descriptor; the envelope holds an in-toto statement; its signature verifies
//! with the attestor; the statement's subject is this digest; a statement of the
//! wanted predicate type is among the verified ones.

use super::client::{sha256, RegistryClient};
use super::cosign::{annotations_of, error, fail, push_attachment, Attestor, Location, LayerSigner, Signed, SignerIdentity, VerifyFailure};
use super::image::PushedImage;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Media type of an attestation layer.
pub const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The statement type cosign writes.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v0.1";

/// cosign's `--type` short names and the predicate types they stand for.
pub const PREDICATE_TYPES: [(&str, &str); 5] = [
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
];

/// The predicate type a short name (or a full URI) stands for.
pub fn predicate_type(name: &str) -> String {
    PREDICATE_TYPES.iter().find(|(short, _)| *short == name).map_or(name, |(_, uri)| uri).to_string()
}

/// DSSE's pre-authentication encoding: what the envelope's signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// An in-toto statement about `image` (its signature identity and digest).
pub fn statement(image: &PushedImage, predicate_type: &str, predicate: &Value) -> Value {
    json!({
        "_type": STATEMENT_TYPE,
        "predicateType": predicate_type,
        "subject": [{"name": image.identity, "digest": {"sha256": image.digest.trim_start_matches("sha256:")}}],
        "predicate": predicate,
    })
}

/// A signed envelope for `statement` and the layer annotations to store with it.
pub fn envelope(statement: &Value, signer: &dyn LayerSigner) -> Result<(Vec<u8>, BTreeMap<String, String>), String> {
    let payload = serde_json::to_vec(statement).map_err(|e| e.to_string())?;
    let signed = signer.sign_layer(&pae(IN_TOTO, &payload), Signed::Envelope)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = serde_json::to_vec(&json!({
        "payloadType": IN_TOTO,
        "payload": b64.encode(&payload),
        "signatures": [{"keyid": "", "sig": signed.signature_b64}],
    }))
    .map_err(|e| e.to_string())?;
    let mut annotations = signed.annotations;
    // cosign leaves the signature annotation empty on attestations: the envelope holds it.
    annotations.insert(super::cosign::SIGNATURE_ANNOTATION.to_string(), String::new());
    if let Some(t) = statement["predicateType"].as_str() {
        annotations.insert("predicateType".to_string(), t.to_string());
    }
    Ok((body, annotations))
}

/// Attach signed attestations to `image`: one layer per `(envelope, annotations)`,
/// all in one `.att` manifest as cosign keeps them.
pub fn push_attestations(client: &RegistryClient, image: &PushedImage, envelopes: Vec<(Vec<u8>, BTreeMap<String, String>)>) -> Result<(), String> {
    let tag = format!("{}.att", image.digest.replace(':', "-"));
    push_attachment(client, &image.repository, &tag, envelopes.into_iter().map(|(body, annotations)| (DSSE_LAYER, body, annotations)).collect())
}

/// One attestation that passed every check.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifiedStatement {
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Value,
    pub signer: SignerIdentity,
}

/// Every attestation of the image at `location` that `attestor` verifies and
/// whose subject is the image. With `wanted`, at least one must have that
/// predicate type, or the result is a failure naming the types found.
pub fn verify_attestations(
    client: &RegistryClient,
    location: &Location,
    attestor: &dyn Attestor,
    wanted: Option<&str>,
) -> Result<Vec<VerifiedStatement>, VerifyFailure> {
    let digest = location.resolve(client)?;
    let (att_ref, manifest) = location
        .attachment(client, &digest, "att", "attestation manifest")?
        .ok_or_else(|| fail("attestation manifest", format!("no attestations for {digest} (no {}.att tag)", digest.replace(':', "-"))))?;
    let layers: Vec<&Value> = manifest["layers"].as_array().into_iter().flatten().filter(|l| l["mediaType"] == DSSE_LAYER).collect();
    if layers.is_empty() {
        return Err(fail("attestation manifest", "it holds no DSSE envelope"));
    }
    let mut verified = Vec::new();
    let mut last = None;
    for layer in layers {
        match check_envelope(client, &att_ref, layer, &digest, attestor) {
            Ok(statement) => verified.push(statement),
            Err(e) if e.error => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    let Some(wanted) = wanted else {
        return match (verified.is_empty(), last) {
            (true, Some(e)) => Err(e),
            _ => Ok(verified),
        };
    };
    if verified.iter().any(|s| s.predicate_type == wanted) {
        return Ok(verified.into_iter().filter(|s| s.predicate_type == wanted).collect());
    }
    let found: Vec<&str> = verified.iter().map(|s| s.predicate_type.as_str()).collect();
    match last {
        // Something did not verify and nothing of the wanted type did: that failure is the reason.
        Some(e) if found.is_empty() => Err(e),
        _ => Err(fail("predicate type", format!("no verified attestation of type {wanted} (verified: {})", if found.is_empty() { "none".to_string() } else { found.join(", ") }))),
    }
}

fn check_envelope(client: &RegistryClient, att_ref: &oci_client::Reference, layer: &Value, digest: &str, attestor: &dyn Attestor) -> Result<VerifiedStatement, VerifyFailure> {
    let blob_digest = layer["digest"].as_str().ok_or_else(|| fail("attestation", "a layer without digest"))?;
    let body = client.blob(att_ref, blob_digest).map_err(|e| error("attestation", e))?;
    debug_assert_eq!(sha256(&body), blob_digest);
    let envelope: Value = serde_json::from_slice(&body).map_err(|e| fail("attestation", format!("envelope is not JSON: {e}")))?;
    if envelope["payloadType"] != IN_TOTO {
        return Err(fail("attestation", format!("payload type {} is not {IN_TOTO}", envelope["payloadType"])));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(envelope["payload"].as_str().unwrap_or_default()).map_err(|e| fail("attestation", format!("payload is not base64: {e}")))?;
    let signatures = envelope["signatures"].as_array().cloned().unwrap_or_default();
    if signatures.is_empty() {
        return Err(fail("attestation signature", "the envelope holds no signature"));
    }
    let message = pae(IN_TOTO, &payload);
    let annotations = annotations_of(layer);
    let mut last = fail("attestation signature", "no signature verified");
    let mut signer = None;
    for s in &signatures {
        let Ok(der) = b64.decode(s["sig"].as_str().unwrap_or_default()) else {
            last = fail("attestation signature", "a signature that is not base64");
            continue;
        };
        match attestor.check(&message, &der, &annotations) {
            Ok(identity) => {
                signer = Some(identity);
                break;
            }
            Err(e) => last = VerifyFailure { check: if e.check == "signature" { "attestation signature" } else { e.check }, ..e },
        }
    }
    let signer = signer.ok_or(last)?;
    let statement: Value = serde_json::from_slice(&payload).map_err(|e| fail("attestation", format!("statement is not JSON: {e}")))?;
    let hex = digest.trim_start_matches("sha256:");
    let covers = statement["subject"].as_array().into_iter().flatten().any(|s| s["digest"]["sha256"] == hex);
    if !covers {
        return Err(fail("attestation subject", format!("the statement is about {}, not {digest}", statement["subject"])));
    }
    let predicate_type = statement["predicateType"].as_str().unwrap_or_default().to_string();
    Ok(VerifiedStatement { predicate_type, predicate: statement["predicate"].clone(), signer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_follows_the_dsse_spec() {
        // The example from the DSSE protocol description.
        assert_eq!(pae("http://example.com/HelloWorld", b"hello world"), b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec());
    }

    #[test]
    fn short_names_are_cosigns() {
        assert_eq!(predicate_type("slsaprovenance1"), "https://slsa.dev/provenance/v1");
        assert_eq!(predicate_type("https://example.com/custom"), "https://example.com/custom");
    }
}
