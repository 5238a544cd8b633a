//! `*.image.yaml` cases: an image to build, how it is signed and attested, how
//! it is tampered with afterwards, and the objects that name it. Materialising a
//! case pushes all of that to the run's registry and gives the documents to judge:
//! the objects (with the image reference filled in) and the image's verified facts.
//!
//! ```yaml
//! image: {repository: registry.example.com/shop/web, tag: "1.4.2", files: {/app/VERSION: "1.4.2"}}
//! sign: [{key: ../_keys/pipeline.key}]
//! attest: [{type: slsaprovenance1, predicate: {...}}]
//! tamper: [retag-after-sign]
//! reference: digest            # how the objects name the image: tag (default) or digest
//! objects: [...]               # `{{image}}` stands for the image; default: one Pod
//! ```

use super::attest::{envelope, predicate_type, push_attestations, statement};
use super::cosign::{self, LayerSigner};
use super::gate::ImageGate;
use super::keyless::Validity;
use super::image::{build_and_push, ImageSpec, PushedImage};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One `*.image.yaml` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCase {
    pub image: ImageSpec,
    #[serde(default)]
    pub sign: Vec<SignerSpec>,
    #[serde(default)]
    pub attest: Vec<AttestationSpec>,
    #[serde(default)]
    pub tamper: Vec<Tamper>,
    #[serde(default)]
    pub reference: ReferenceStyle,
    #[serde(default)]
    pub objects: Vec<Value>,
}

/// Who signs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum SignerSpec {
    /// A PEM private key, relative to the case file (cosign's encrypted format reads
    /// `COSIGN_PASSWORD`).
    Key(PathBuf),
    /// A short-lived certificate from the run's throwaway Fulcio-like CA, logged in
    /// its throwaway transparency log.
    Keyless(KeylessSpec),
}

/// A keyless signer: the certificate's identity (email or URI) and OIDC issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeylessSpec {
    pub identity: String,
    pub issuer: String,
    /// The certificate had expired when the signature was logged.
    #[serde(default)]
    pub expired: bool,
    /// `untrusted`: the certificate comes from a CA outside the run's trust root.
    #[serde(default)]
    pub ca: CaChoice,
}

/// Which CA issues a keyless certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaChoice {
    #[default]
    Trusted,
    Untrusted,
}

/// One attestation: a predicate type (cosign's short names work) and the predicate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationSpec {
    #[serde(rename = "type")]
    pub predicate_type: String,
    pub predicate: Value,
    /// Who signs it; the first of `sign` when absent.
    #[serde(default)]
    pub signer: Option<SignerSpec>,
}

/// What happens to the image after it is signed and attested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// Another build is pushed to the same tag: the tag no longer names what was signed.
    RetagAfterSign,
    /// The signature bytes are altered.
    CorruptSignature,
    /// The signature is replaced by a valid one from a key nobody trusts.
    ResignWithOtherKey,
    /// A valid signature of another image's digest is placed at this image's signature tag.
    SignatureForOtherDigest,
    /// The attestation's statement is altered after signing.
    CorruptAttestation,
    /// A valid attestation whose statement is about another digest.
    AttestationForOtherDigest,
}

/// How the objects name the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceStyle {
    #[default]
    Tag,
    Digest,
}

/// What a materialised case gives the runner.
#[derive(Debug, Clone)]
pub struct Materialised {
    /// The image as the objects name it.
    pub reference: String,
    pub digest: String,
    /// The objects, `{{image}}` filled in.
    pub objects: Vec<Value>,
}

/// Read a case from its parsed document.
pub fn parse(value: &Value) -> Result<ImageCase, String> {
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

/// Push `case` (read from `file`) to the gate's registry: build, sign, attest, tamper.
pub fn materialise(gate: &ImageGate, file: &Path, case: &ImageCase) -> Result<Materialised, String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let client = gate.client();
    let signers: Vec<Box<dyn LayerSigner>> = case.sign.iter().map(|s| signer(gate, dir, s)).collect::<Result<_, _>>()?;
    let image = build_and_push(client, gate.host(), &case.image)?;
    for s in &signers {
        cosign::sign(client, &image, s.as_ref())?;
    }
    let mut envelopes = Vec::new();
    for a in &case.attest {
        let own;
        let signer: &dyn LayerSigner = match (&a.signer, signers.first()) {
            (Some(spec), _) => {
                own = signer(gate, dir, spec)?;
                own.as_ref()
            }
            (None, Some(first)) => first.as_ref(),
            (None, None) => return Err("an attestation needs a signer: add `sign:` or the attestation's `signer:`".into()),
        };
        let subject = if case.tamper.contains(&Tamper::AttestationForOtherDigest) { other_image(gate, case)? } else { image.clone() };
        let statement = statement(&subject, &predicate_type(&a.predicate_type), &a.predicate);
        let (mut body, annotations) = envelope(&statement, signer)?;
        if case.tamper.contains(&Tamper::CorruptAttestation) {
            body = corrupt_envelope(&body)?;
        }
        envelopes.push((body, annotations));
    }
    if !envelopes.is_empty() {
        push_attestations(client, &image, envelopes)?;
    }
    for t in &case.tamper {
        match t {
            Tamper::RetagAfterSign => {
                let mut rebuilt = case.image.clone();
                rebuilt.files.insert("/.verdict-retagged".into(), "a different build under the same tag".into());
                build_and_push(client, gate.host(), &rebuilt)?;
            }
            Tamper::CorruptSignature => {
                let first = signers.first().ok_or("corrupt-signature needs `sign:`")?;
                let mut layer = first.sign_layer(&cosign::payload(&image.identity, &image.digest), cosign::Signed::Payload)?;
                layer.signature_b64 = flip_base64(&layer.signature_b64)?;
                cosign::push_signature_layer(client, &image, &cosign::payload(&image.identity, &image.digest), &layer)?;
            }
            Tamper::ResignWithOtherKey => {
                let stranger = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
                cosign::sign(client, &image, &stranger)?;
            }
            Tamper::SignatureForOtherDigest => {
                let first = signers.first().ok_or("signature-for-other-digest needs `sign:`")?;
                let other = other_image(gate, case)?;
                cosign::sign_payload(client, &image, &cosign::payload(&image.identity, &other.digest), first.as_ref())?;
            }
            Tamper::CorruptAttestation | Tamper::AttestationForOtherDigest => {}
        }
    }
    let reference = match case.reference {
        ReferenceStyle::Tag => format!("{}:{}", image.identity, case.image.tag),
        ReferenceStyle::Digest => format!("{}@{}", image.identity, image.digest),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".image.yaml").to_string())
        .unwrap_or_else(|| "image-case".into());
    let objects = if case.objects.is_empty() { vec![default_pod(&name)] } else { case.objects.clone() };
    let objects = objects.into_iter().map(|o| fill(o, &reference)).collect();
    Ok(Materialised { reference, digest: image.digest, objects })
}

fn signer(gate: &ImageGate, dir: &Path, spec: &SignerSpec) -> Result<Box<dyn LayerSigner>, String> {
    match spec {
        SignerSpec::Keyless(k) => {
            let material = match k.ca {
                CaChoice::Trusted => gate.material(),
                CaChoice::Untrusted => gate.stranger()?,
            };
            let validity = if k.expired { Validity::Expired } else { Validity::Current };
            Ok(Box::new(material.issue(&k.identity, &k.issuer, validity)?))
        }
        SignerSpec::Key(path) => {
            let path = dir.join(path);
            let pem = std::fs::read_to_string(&path).map_err(|e| format!("key {}: {e}", path.display()))?;
            Ok(Box::new(cosign::signing_key_from_pem(&pem).map_err(|e| format!("key {}: {e}", path.display()))?))
        }
    }
}

/// Another build of the case's image (pushed under a side tag), for signatures over the wrong digest.
fn other_image(gate: &ImageGate, case: &ImageCase) -> Result<PushedImage, String> {
    let mut other = case.image.clone();
    other.tag = format!("{}-other", other.tag);
    other.files.insert("/.verdict-other".into(), "another build".into());
    build_and_push(gate.client(), gate.host(), &other)
}

fn flip_base64(b64: &str) -> Result<String, String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(b64).map_err(|e| e.to_string())?;
    let last = bytes.len().saturating_sub(1);
    if let Some(b) = bytes.get_mut(last) {
        *b ^= 0x01;
    }
    Ok(engine.encode(bytes))
}

/// The envelope with its statement altered and its signature kept.
fn corrupt_envelope(body: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut envelope: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut statement: Value = serde_json::from_slice(&engine.decode(envelope["payload"].as_str().unwrap_or_default()).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    statement["predicate"]["verdict.dev/tampered"] = json!(true);
    envelope["payload"] = json!(engine.encode(serde_json::to_vec(&statement).map_err(|e| e.to_string())?));
    serde_json::to_vec(&envelope).map_err(|e| e.to_string())
}

fn default_pod(name: &str) -> Value {
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name.trim_matches('-'), "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "{{image}}"}]},
    })
}

/// Every string `{{image}}` (spaces allowed inside the braces) becomes `reference`.
fn fill(value: Value, reference: &str) -> Value {
    match value {
        Value::String(s) if s.replace(' ', "") == "{{image}}" => Value::String(reference.to_string()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| fill(v, reference)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, fill(v, reference))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_get_the_reference_and_a_default_pod_is_valid_kubernetes() {
        let pod = fill(default_pod("pass-Signed_by.pipeline"), "registry.example.com/shop/web:1");
        assert_eq!(pod["metadata"]["name"], "pass-signed-by-pipeline");
        assert_eq!(pod["spec"]["containers"][0]["image"], "registry.example.com/shop/web:1");
        let case = parse(&json!({"image": {"repository": "r/x"}, "tamper": ["retag-after-sign"], "sign": [{"key": "k.pem"}]})).unwrap();
        assert_eq!(case.tamper, [Tamper::RetagAfterSign]);
        let typo = parse(&json!({"image": {"repository": "r/x"}, "tamper": ["retag-after-sing"]})).unwrap_err();
        assert!(typo.contains("retag-after-sing"), "{typo}");
        let unknown = parse(&json!({"image": {"repository": "r/x"}, "signs": []})).unwrap_err();
        assert!(unknown.contains("signs"), "{unknown}");
    }
}
