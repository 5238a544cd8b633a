//! Key-based signatures in cosign's format, so cosign, skopeo and
//! policy-controller read what verdict writes, and verdict reads theirs.
//!
//! A signature of manifest `sha256:<hex>` lives at the tag `sha256-<hex>.sig` of
//! the same repository: an OCI image manifest whose layers are simple-signing
//! payloads (`application/vnd.dev.cosign.simplesigning.v1+json`), each carrying
//! its base64 DER ECDSA-P256-SHA256 signature in the annotation
//! `dev.cosignproject.cosign/signature`. Verification checks, in order, and
//! names the first check that fails: the image resolves; a signature manifest
//! exists; each payload blob hashes to its descriptor; the payload names this
//! digest and this repository; the signature verifies with the key.

use super::client::{sha256, RegistryClient, OCI_CONFIG, OCI_MANIFEST};
use super::image::PushedImage;
use base64::Engine as _;
use oci_client::Reference;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Annotation holding the signature of a payload layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// A signing key from PEM: PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, P-256.
/// cosign's encrypted keys need [`signing_key_from_cosign_pem`] and the password.
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, String> {
    if pem.contains("ENCRYPTED COSIGN PRIVATE KEY") || pem.contains("ENCRYPTED SIGSTORE PRIVATE KEY") {
        return signing_key_from_cosign_pem(pem, std::env::var("COSIGN_PASSWORD").unwrap_or_default().as_bytes());
    }
    SigningKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem).map(SigningKey::from))
        .map_err(|e| format!("not a P-256 private key in PEM: {e}"))
}

/// A key in cosign's encrypted format (`ENCRYPTED COSIGN PRIVATE KEY` or
/// `ENCRYPTED SIGSTORE PRIVATE KEY`): base64 JSON holding scrypt parameters and
/// salt, a nacl/secretbox nonce, and the sealed PKCS#8 DER key.
pub fn signing_key_from_cosign_pem(pem: &str, password: &[u8]) -> Result<SigningKey, String> {
    #[derive(serde::Deserialize)]
    struct Kdf {
        name: String,
        params: KdfParams,
        salt: String,
    }
    #[derive(serde::Deserialize)]
    struct KdfParams {
        #[serde(rename = "N")]
        n: u64,
        r: u32,
        p: u32,
    }
    #[derive(serde::Deserialize)]
    struct Cipher {
        name: String,
        nonce: String,
    }
    #[derive(serde::Deserialize)]
    struct Sealed {
        kdf: Kdf,
        cipher: Cipher,
        ciphertext: String,
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----") && !l.trim().is_empty()).map(str::trim).collect();
    let json = b64.decode(body).map_err(|e| format!("encrypted key: not base64: {e}"))?;
    let sealed: Sealed = serde_json::from_slice(&json).map_err(|e| format!("encrypted key: {e}"))?;
    if sealed.kdf.name != "scrypt" || sealed.cipher.name != "nacl/secretbox" {
        return Err(format!("encrypted key: unsupported {} / {}", sealed.kdf.name, sealed.cipher.name));
    }
    let n = sealed.kdf.params.n;
    if !n.is_power_of_two() || n > 1 << 20 {
        return Err(format!("encrypted key: scrypt N={n} is not a power of two up to 2^20"));
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, sealed.kdf.params.r, sealed.kdf.params.p, 32)
        .map_err(|e| format!("encrypted key: scrypt parameters: {e}"))?;
    let salt = b64.decode(&sealed.kdf.salt).map_err(|e| format!("encrypted key: salt: {e}"))?;
    let mut secret = [0u8; 32];
    scrypt::scrypt(password, &salt, &params, &mut secret).map_err(|e| format!("encrypted key: scrypt: {e}"))?;
    use crypto_secretbox::aead::{Aead, KeyInit};
    let nonce = b64.decode(&sealed.cipher.nonce).map_err(|e| format!("encrypted key: nonce: {e}"))?;
    if nonce.len() != 24 {
        return Err("encrypted key: the nonce is not 24 bytes".into());
    }
    let ciphertext = b64.decode(&sealed.ciphertext).map_err(|e| format!("encrypted key: ciphertext: {e}"))?;
    let der = crypto_secretbox::XSalsa20Poly1305::new(&secret.into())
        .decrypt(crypto_secretbox::Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| "encrypted key: wrong password, or the key is corrupt".to_string())?;
    SigningKey::from_pkcs8_der(&der).map_err(|e| format!("encrypted key: not a P-256 PKCS#8 key: {e}"))
}

/// A verification key from a `PUBLIC KEY` PEM (P-256).
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| format!("not a P-256 public key in PEM: {e}"))
}

/// The tag a signature of `digest` lives at.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// cosign's simple-signing payload for `digest` in `repository`.
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .expect("a JSON literal serialises")
}

/// A signature as cosign stores it in a layer: the base64 signature (in the
/// layer's annotation for `.sig`, in the DSSE envelope for `.att`) and any other
/// annotations the signer adds (a keyless signer's certificate, chain and log bundle).
pub use super::keyless::SignedLayer;

/// What a layer's signature covers, which decides the log entry a keyless signer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// A simple-signing payload (`.sig`).
    Payload,
    /// A DSSE envelope's pre-authentication encoding (`.att`).
    Envelope,
}

/// Something that signs layers: a key here, a short-lived certificate for keyless.
pub trait LayerSigner: Send + Sync {
    fn sign_layer(&self, message: &[u8], what: Signed) -> Result<SignedLayer, String>;
}

impl LayerSigner for super::keyless::KeylessSigner {
    fn sign_layer(&self, message: &[u8], what: Signed) -> Result<SignedLayer, String> {
        let entry = match what {
            Signed::Payload => super::keyless::EntryKind::HashedRekord,
            Signed::Envelope => super::keyless::EntryKind::Dsse,
        };
        self.sign(message, entry)
    }
}

impl LayerSigner for SigningKey {
    fn sign_layer(&self, message: &[u8], _what: Signed) -> Result<SignedLayer, String> {
        let signature: Signature = self.sign(message);
        Ok(SignedLayer {
            signature_b64: base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes()),
            annotations: BTreeMap::new(),
        })
    }
}

/// Sign `image` with `signer`, pushing the signature manifest next to it.
pub fn sign(client: &RegistryClient, image: &PushedImage, signer: &dyn LayerSigner) -> Result<(), String> {
    sign_payload(client, image, &payload(&image.identity, &image.digest), signer)
}

/// Push a signature of `payload` for `image` (tests tamper with the payload this way).
pub fn sign_payload(client: &RegistryClient, image: &PushedImage, payload: &[u8], signer: &dyn LayerSigner) -> Result<(), String> {
    let layer = signer.sign_layer(payload, Signed::Payload)?;
    push_signature_layer(client, image, payload, &layer)
}

/// Push a signature manifest for `image` holding `payload` and the given signature annotation.
pub fn push_signature(client: &RegistryClient, image: &PushedImage, payload: &[u8], signature_b64: &str) -> Result<(), String> {
    push_signature_layer(client, image, payload, &SignedLayer { signature_b64: signature_b64.to_string(), annotations: BTreeMap::new() })
}

/// Push a signature manifest for `image` holding one payload layer signed as `layer` says.
pub fn push_signature_layer(client: &RegistryClient, image: &PushedImage, payload: &[u8], layer: &SignedLayer) -> Result<(), String> {
    let mut annotations = layer.annotations.clone();
    annotations.insert(SIGNATURE_ANNOTATION.to_string(), layer.signature_b64.clone());
    let tag = signature_tag(&image.digest);
    push_attachment(client, &image.repository, &tag, vec![(SIMPLE_SIGNING, payload.to_vec(), annotations)])
}

/// Push an attachment manifest (`.sig` or `.att`) at `tag` of `repository`: one layer per
/// `(media type, blob, annotations)`, config as cosign writes it.
pub fn push_attachment(
    client: &RegistryClient,
    repository: &str,
    tag: &str,
    layers: Vec<(&str, Vec<u8>, BTreeMap<String, String>)>,
) -> Result<(), String> {
    let reference: Reference = format!("{repository}:{tag}").parse().map_err(|e| format!("{e}"))?;
    let config = serde_json::to_vec(&json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(_, blob, _)| sha256(blob)).collect::<Vec<_>>()},
    }))
    .map_err(|e| e.to_string())?;
    let descriptors: Vec<Value> = layers
        .iter()
        .map(|(media_type, blob, annotations)| json!({"mediaType": media_type, "digest": sha256(blob), "size": blob.len(), "annotations": annotations}))
        .collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(&config), "size": config.len()},
        "layers": descriptors,
    }))
    .map_err(|e| e.to_string())?;
    for (_, blob, _) in layers {
        client.push_blob(&reference, blob)?;
    }
    client.push_blob(&reference, config)?;
    client.push_manifest(&reference, manifest, OCI_MANIFEST)?;
    Ok(())
}

/// Who signed, as far as verification established it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerIdentity {
    /// A key, named by the `sha256:` of its DER public key.
    Key { key: String },
    /// A keyless certificate's subject (email or URI) and OIDC issuer.
    Keyless { subject: String, issuer: String },
}

/// Checks one layer's signature: a public key, or a keyless identity and trust root.
pub trait Attestor: Send + Sync {
    /// `message` is what was signed, `signature` the raw signature bytes, `annotations` the layer's.
    fn check(&self, message: &[u8], signature: &[u8], annotations: &BTreeMap<String, String>) -> Result<SignerIdentity, VerifyFailure>;
}

/// A keyless attestor: the certificate must chain to `trust` and name an identity
/// and issuer `policy` accepts, with every log link verified (see [`super::keyless::verify`]).
#[derive(Debug, Clone)]
pub struct KeylessAttestor {
    pub policy: super::keyless::KeylessPolicy,
    pub trust: std::sync::Arc<super::keyless::TrustRoot>,
}

impl Attestor for KeylessAttestor {
    fn check(&self, message: &[u8], signature: &[u8], annotations: &BTreeMap<String, String>) -> Result<SignerIdentity, VerifyFailure> {
        super::keyless::verify_layer(&self.trust, &self.policy, message, signature, annotations)
            .map(|id| SignerIdentity::Keyless { subject: id.subject, issuer: id.issuer })
            .map_err(|(check, reason)| fail(check, reason))
    }
}

/// An attestor holding one public key.
#[derive(Debug, Clone)]
pub struct KeyAttestor(pub VerifyingKey);

impl KeyAttestor {
    /// `sha256:` of the key's DER SubjectPublicKeyInfo: how facts and messages name it.
    pub fn fingerprint(&self) -> String {
        use p256::pkcs8::EncodePublicKey;
        self.0.to_public_key_der().map(|d| sha256(d.as_bytes())).unwrap_or_default()
    }
}

impl Attestor for KeyAttestor {
    fn check(&self, message: &[u8], signature: &[u8], _annotations: &BTreeMap<String, String>) -> Result<SignerIdentity, VerifyFailure> {
        let signature = Signature::from_der(signature).map_err(|e| fail("signature", format!("not a DER ECDSA signature: {e}")))?;
        self.0.verify(message, &signature).map_err(|_| fail("signature", "does not verify with the given key"))?;
        Ok(SignerIdentity::Key { key: self.fingerprint() })
    }
}

/// A verified image: what was checked and who signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    pub image: String,
    pub digest: String,
    /// The payload's `docker-reference`.
    pub identity: String,
    pub signer: SignerIdentity,
    pub signatures_checked: usize,
}

/// Why an image did not verify: the check that failed, and whether that is a
/// verdict on the image (`fail`) or a failure to reach a verdict (`error`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{check}: {reason}")]
pub struct VerifyFailure {
    pub check: &'static str,
    pub reason: String,
    /// The registry or the input could not be read: an error, never a pass.
    pub error: bool,
}

pub(crate) fn fail(check: &'static str, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure { check, reason: reason.into(), error: false }
}

pub(crate) fn error(check: &'static str, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure { check, reason: reason.into(), error: true }
}

/// Where an image is fetched from and the name its signatures must carry. They
/// differ when the run's registry mirrors another (`registry.example.com/shop/web`
/// served as `127.0.0.1:5000/registry.example.com/shop/web`): signatures name the
/// image as the world knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The reference to fetch, by tag or digest.
    pub fetch: Reference,
    /// The repository signatures must name (`registry/path`, no tag).
    pub identity: String,
}

impl Location {
    /// An image fetched from where its name says.
    pub fn direct(image: &str) -> Result<Location, VerifyFailure> {
        let fetch: Reference = image.parse().map_err(|e| error("reference", format!("{image}: {e}")))?;
        let identity = format!("{}/{}", fetch.resolve_registry(), fetch.repository());
        Ok(Location { fetch, identity })
    }

    fn repository(&self) -> String {
        format!("{}/{}", self.fetch.resolve_registry(), self.fetch.repository())
    }

    /// The manifest digest the reference resolves to now.
    pub fn resolve(&self, client: &RegistryClient) -> Result<String, VerifyFailure> {
        let (_, digest) = client
            .manifest(&self.fetch)
            .map_err(|e| error("resolve", e))?
            .ok_or_else(|| fail("resolve", format!("{} does not exist", self.identity)))?;
        Ok(digest)
    }

    /// The attachment manifest (`.sig` / `.att`) of `digest`, or `None` when there is none.
    pub(crate) fn attachment(&self, client: &RegistryClient, digest: &str, suffix: &str, check: &'static str) -> Result<Option<(Reference, Value)>, VerifyFailure> {
        let tag = format!("{}.{suffix}", digest.replace(':', "-"));
        let reference: Reference = format!("{}:{tag}", self.repository()).parse().map_err(|e| error("reference", format!("{e}")))?;
        let Some((body, _)) = client.manifest(&reference).map_err(|e| error(check, e))? else { return Ok(None) };
        let manifest: Value = serde_json::from_slice(&body).map_err(|e| fail(check, format!("not JSON: {e}")))?;
        Ok(Some((reference, manifest)))
    }
}

/// The string annotations of a manifest layer.
pub(crate) fn annotations_of(layer: &Value) -> BTreeMap<String, String> {
    layer["annotations"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// Verify `image` (a tag or digest reference) against `key`.
pub fn verify(client: &RegistryClient, image: &str, key: &VerifyingKey) -> Result<Verified, VerifyFailure> {
    verify_with(client, &Location::direct(image)?, &KeyAttestor(*key))
}

/// Verify the image at `location` against `attestor`: some signature layer must
/// pass every check. A registry that cannot be read is an error; the first check
/// that fails for every layer is the reason.
pub fn verify_with(client: &RegistryClient, location: &Location, attestor: &dyn Attestor) -> Result<Verified, VerifyFailure> {
    check_signatures(client, location, attestor, false).map(|mut verified| verified.remove(0))
}

/// Every signature layer of the image at `location` that `attestor` verifies
/// (facts list each signer); a failure when none does, as for [`verify_with`].
pub fn verify_all(client: &RegistryClient, location: &Location, attestor: &dyn Attestor) -> Result<Vec<Verified>, VerifyFailure> {
    check_signatures(client, location, attestor, true)
}

/// The signature layers that verify, in order: all of them, or up to the first.
/// Never empty when `Ok`.
fn check_signatures(client: &RegistryClient, location: &Location, attestor: &dyn Attestor, all: bool) -> Result<Vec<Verified>, VerifyFailure> {
    let digest = location.resolve(client)?;
    let (sig_ref, manifest) = location
        .attachment(client, &digest, "sig", "signature manifest")?
        .ok_or_else(|| fail("signature manifest", format!("no signature for {digest} (no {} tag)", signature_tag(&digest))))?;
    let layers: Vec<&Value> =
        manifest["layers"].as_array().into_iter().flatten().filter(|l| l["mediaType"] == SIMPLE_SIGNING).collect();
    if layers.is_empty() {
        return Err(fail("signature manifest", "it holds no simple-signing payload"));
    }
    let mut verified = Vec::new();
    let mut last = fail("signature", "no payload verified");
    for layer in &layers {
        match check_layer(client, &sig_ref, layer, &location.identity, &digest, attestor) {
            Ok((identity, signer)) => {
                verified.push(Verified { image: location.fetch.whole(), digest: digest.clone(), identity, signer, signatures_checked: layers.len() });
                if !all {
                    break;
                }
            }
            Err(e) if e.error => return Err(e),
            Err(e) => last = e,
        }
    }
    if verified.is_empty() {
        Err(last)
    } else {
        Ok(verified)
    }
}

fn check_layer(
    client: &RegistryClient,
    sig_ref: &Reference,
    layer: &Value,
    repository: &str,
    digest: &str,
    attestor: &dyn Attestor,
) -> Result<(String, SignerIdentity), VerifyFailure> {
    let blob_digest = layer["digest"].as_str().ok_or_else(|| fail("payload", "a layer without digest"))?;
    let payload = client.blob(sig_ref, blob_digest).map_err(|e| error("payload", e))?;
    let doc: Value = serde_json::from_slice(&payload).map_err(|e| fail("payload", format!("not JSON: {e}")))?;
    if doc["critical"]["type"] != "cosign container image signature" {
        return Err(fail("payload", format!("type {} is not a cosign container image signature", doc["critical"]["type"])));
    }
    let signed_digest = doc["critical"]["image"]["docker-manifest-digest"].as_str().unwrap_or_default();
    if signed_digest != digest {
        return Err(fail("payload digest", format!("the signature covers {signed_digest}, the image is {digest}")));
    }
    // skopeo writes the tag into docker-reference, cosign only the repository: match on the repository.
    let identity = doc["critical"]["identity"]["docker-reference"].as_str().unwrap_or_default().to_string();
    let signed_repository = strip_tag(&identity);
    if signed_repository != repository {
        return Err(fail("payload identity", format!("the signature names {identity}, the image is {repository}")));
    }
    let annotations = annotations_of(layer);
    let encoded = annotations.get(SIGNATURE_ANNOTATION).ok_or_else(|| fail("signature", "no signature annotation"))?;
    let der = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| fail("signature", format!("not base64: {e}")))?;
    let signer = attestor.check(&payload, &der, &annotations)?;
    Ok((identity, signer))
}

/// `host/repo` of `host/repo:tag` or `host/repo@digest` (a port's colon is kept).
fn strip_tag(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rfind(':') {
        Some(i) if !reference[i..].contains('/') => &reference[..i],
        _ => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_match_on_the_repository() {
        assert_eq!(strip_tag("127.0.0.1:5000/shop/web:1.0"), "127.0.0.1:5000/shop/web");
        assert_eq!(strip_tag("127.0.0.1:5000/shop/web"), "127.0.0.1:5000/shop/web");
        assert_eq!(strip_tag("127.0.0.1:5000/shop/web@sha256:ab"), "127.0.0.1:5000/shop/web");
    }

    #[test]
    fn cosign_encrypted_keys_open_with_their_password_only() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci");
        let plain = signing_key_from_pem(&std::fs::read_to_string(dir.join("signer.key")).unwrap()).unwrap();
        let sealed = std::fs::read_to_string(dir.join("signer.cosign.key")).unwrap();
        let opened = signing_key_from_cosign_pem(&sealed, b"verdict-test").unwrap();
        assert_eq!(opened.verifying_key(), plain.verifying_key());
        let wrong = signing_key_from_cosign_pem(&sealed, b"guess").unwrap_err();
        assert!(wrong.contains("wrong password"), "{wrong}");
    }

    #[test]
    fn payloads_are_cosign_shaped() {
        let p: Value = serde_json::from_slice(&payload("r/x", "sha256:ab")).unwrap();
        assert_eq!(p["critical"]["image"]["docker-manifest-digest"], "sha256:ab");
        assert_eq!(signature_tag("sha256:ab"), "sha256-ab.sig");
    }
}
