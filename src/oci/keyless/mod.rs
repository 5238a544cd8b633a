//! Keyless (Fulcio/Rekor-style) signatures, fully offline.
//!
//! Real keyless signing asks Fulcio for a ten-minute certificate naming an OIDC
//! identity and logs the signature in Rekor. A policy test harness must not reach
//! either, so each run makes its own: [`TrustMaterial::generate`] creates a
//! throwaway root and intermediate CA, a CT log key and a transparency-log key
//! (all ECDSA P-256, private halves only in memory) and writes them as a sigstore
//! `trusted_root.json`. [`TrustMaterial::issue`] gives a [`KeylessSigner`] whose
//! [`KeylessSigner::sign`] returns what cosign puts in an OCI signature layer and
//! whose [`KeylessSigner::bundle_for_artifact`] (and `bundle_for_dsse`) return a
//! sigstore bundle v0.3 that sigstore-python verifies against that root.
//!
//! [`verify_layer`] checks one signature layer fail-closed, every link, and names
//! the first check that fails (see [`verify`] for the order).
//!
//! Crate choice. The `sigstore` crate (0.15) was evaluated: with features
//! `sigstore-trust-root,rustls-tls` it builds here without openssl, but adds
//! about 66 crates to verdict's tree (a second RustCrypto generation — p256 0.14,
//! der 0.8, x509-cert 0.3 — plus `tough` for TUF),
//! but what it would give is thin for this module: its offline trust root
//! (`SigstoreTrustRoot::from_trusted_root_json_unchecked`) keeps the parsed root
//! private and flattens every CA chain into one list of certificates, losing
//! which is the root and each CA's validity window; its bundle verifier does not
//! check the inclusion proof, checkpoint or SET, and its cosign path not the
//! SCT, so those checks would be written here anyway; its signing path calls
//! Fulcio and Rekor over the network, which a harness must not.
//! So this module uses the crate the sigstore project publishes for exactly the
//! formats, `sigstore_protobuf_specs` (what `sigstore` itself uses, +11 crates):
//! `trusted_root.json` and bundles are (de)serialised through its types.
//! Certificates are built and read with RustCrypto's `x509-cert` (same `der`/
//! `spki`/`p256` generation verdict already uses); chain building and path
//! validation are `rustls-webpki`'s (already in the tree through rustls).
//! The tlog, SET, checkpoint, Merkle proof and SCT code is here, written from
//! RFC 6962/9162, C2SP tlog-checkpoint and Rekor's entry formats.

mod ca;
mod tlog;
mod trust_root;
pub mod verify;

pub use tlog::pae;
pub use trust_root::TrustRoot;
pub use verify::verify_layer;

use base64::Engine as _;
use p256::ecdsa::SigningKey;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use trust_root::Window;

/// Annotation holding the leaf certificate (PEM) of a keyless signature layer.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding the intermediate and root (PEM) of a keyless signature layer.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Annotation holding cosign's Rekor bundle (SET + entry) of a signature layer.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Fulcio's OIDC issuer extension, raw bytes (deprecated form, still what most verifiers read).
pub(crate) const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
/// Fulcio's OIDC issuer extension, DER UTF8String.
pub(crate) const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// Base URL of the throwaway log in `trusted_root.json`; `.invalid` never resolves.
pub const TLOG_URL: &str = "https://rekor.verdict.invalid";
/// Base URL of the throwaway CT log in `trusted_root.json`.
pub const CTLOG_URL: &str = "https://ctfe.verdict.invalid";

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// RFC 8785 canonical JSON for the values used here (ASCII keys, integers,
/// strings): keys sorted, no whitespace. serde_json alone keeps insertion order
/// (verdict enables `preserve_order`), so keys are sorted explicitly.
pub(crate) fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let fields: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical_json(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Whether an issued certificate is valid now or already expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// notBefore a minute ago, notAfter in ten minutes (Fulcio's lifetime).
    Current,
    /// Valid for ten minutes that ended fifty minutes ago: any log entry made now lies outside it.
    Expired,
}

/// What the transparency log records for a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `.sig` layers: the message is the simple-signing payload; Rekor `hashedrekord` 0.0.1.
    HashedRekord,
    /// `.att` layers: the message is a DSSE envelope's PAE; Rekor `dsse` 0.0.1 (not cosign's
    /// older `intoto` 0.0.2: `dsse` is what current cosign and sigstore clients write and check).
    Dsse,
}

/// A throwaway Fulcio + CT log + Rekor for one run.
pub struct TrustMaterial {
    root: ca::CaCert,
    intermediate: ca::CaCert,
    ct_key: SigningKey,
    log: Arc<tlog::Log>,
}

impl TrustMaterial {
    /// Create fresh keys and CA certificates.
    pub fn generate() -> Result<TrustMaterial, String> {
        let root = ca::root("verdict throwaway root")?;
        let intermediate = ca::intermediate(&root, "verdict throwaway intermediate")?;
        Ok(TrustMaterial { root, intermediate, ct_key: ca::new_key(), log: Arc::new(tlog::Log::new()) })
    }

    /// sigstore `trusted_root.json` trusting this material and nothing else.
    pub fn trusted_root_json(&self) -> String {
        let not_before = self.root.cert.tbs_certificate.validity.not_before.to_unix_duration().as_secs() as i64;
        let valid = Window { start: Some(not_before), end: None };
        trust_root::document(
            &[self.intermediate.der.clone(), self.root.der.clone()],
            valid,
            trust_root::log_instance(TLOG_URL, &ca::spki_der(&self.log.key), valid),
            trust_root::log_instance(CTLOG_URL, &ca::spki_der(&self.ct_key), valid),
        )
    }

    /// A short-lived leaf for `identity` (email SAN when it has '@' and no scheme,
    /// else URI SAN) from OIDC issuer `issuer`, with a fresh P-256 key.
    pub fn issue(&self, identity: &str, issuer: &str, validity: Validity) -> Result<KeylessSigner, String> {
        self.issue_with(identity, issuer, validity, Some(&self.ct_key), None)
    }

    /// [`TrustMaterial::issue`] with the SCT varied (tests: none, another log's, a forged one).
    pub(crate) fn issue_with(&self, identity: &str, issuer: &str, validity: Validity, ct_key: Option<&SigningKey>, sct_over: Option<&[u8]>) -> Result<KeylessSigner, String> {
        let now = now_secs();
        let (not_before, not_after) = match validity {
            Validity::Current => (now - 60, now + 600),
            Validity::Expired => (now - 3600, now - 3000),
        };
        let key = ca::new_key();
        let spec = ca::LeafSpec { identity, issuer, not_before, not_after, ct_key, sct_over };
        let (_, leaf_der) = ca::leaf(&self.intermediate, &key, &spec)?;
        Ok(KeylessSigner {
            key,
            leaf_pem: ca::pem(&leaf_der),
            leaf_der,
            chain_pem: format!("{}{}", self.intermediate.pem(), self.root.pem()),
            log: self.log.clone(),
        })
    }
}

/// A leaf certificate, its key, and the log it records signatures in.
pub struct KeylessSigner {
    key: SigningKey,
    leaf_der: Vec<u8>,
    leaf_pem: String,
    chain_pem: String,
    log: Arc<tlog::Log>,
}

/// The base64 DER signature and the annotations of one cosign signature layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedLayer {
    pub signature_b64: String,
    pub annotations: BTreeMap<String, String>,
}

impl KeylessSigner {
    /// The leaf certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.leaf_pem
    }

    /// Sign `message` (ECDSA P-256, SHA-256), log it, and return the signature with
    /// cosign's certificate, chain and bundle annotations. `entry` says what is logged:
    /// see [`EntryKind`]; for [`EntryKind::Dsse`] the message must be a DSSE PAE.
    pub fn sign(&self, message: &[u8], entry: EntryKind) -> Result<SignedLayer, String> {
        let signature = tlog::sign_der(&self.key, message);
        let logged = self.log_signature(message, &signature, entry)?;
        Ok(self.layer(&signature, &logged))
    }

    /// The layer cosign writes for `signature` logged as `logged`.
    fn layer(&self, signature: &[u8], logged: &tlog::LoggedEntry) -> SignedLayer {
        let bundle = serde_json::json!({
            "SignedEntryTimestamp": B64.encode(&logged.set),
            "Payload": {
                "body": B64.encode(&logged.body),
                "integratedTime": logged.integrated_time,
                "logIndex": logged.log_index,
                "logID": hex::encode(logged.log_id),
            },
        });
        let annotations = BTreeMap::from([
            (CERTIFICATE_ANNOTATION.to_string(), self.leaf_pem.clone()),
            (CHAIN_ANNOTATION.to_string(), self.chain_pem.clone()),
            (BUNDLE_ANNOTATION.to_string(), bundle.to_string()),
        ]);
        SignedLayer { signature_b64: B64.encode(signature), annotations }
    }

    fn log_signature(&self, message: &[u8], signature: &[u8], entry: EntryKind) -> Result<tlog::LoggedEntry, String> {
        let body = match entry {
            EntryKind::HashedRekord => tlog::hashedrekord_body(message, signature, &self.leaf_pem),
            EntryKind::Dsse => tlog::dsse_body(message, signature, &self.leaf_pem)?,
        };
        Ok(self.log.append(body, now_secs() as i64))
    }

    /// A sigstore bundle v0.3 (JSON) signing `artifact`: message signature, leaf
    /// certificate, and one `hashedrekord` tlog entry with inclusion proof,
    /// signed checkpoint and inclusion promise (SET).
    pub fn bundle_for_artifact(&self, artifact: &[u8]) -> Result<String, String> {
        use sigstore_protobuf_specs::dev::sigstore::{bundle::v1 as bundle, common::v1 as common};
        let signature = tlog::sign_der(&self.key, artifact);
        let logged = self.log_signature(artifact, &signature, EntryKind::HashedRekord)?;
        let content = bundle::bundle::Content::MessageSignature(common::MessageSignature {
            message_digest: Some(common::HashOutput { algorithm: common::HashAlgorithm::Sha2256 as i32, digest: sha256(artifact).to_vec() }),
            signature,
        });
        self.sigstore_bundle(&logged, "hashedrekord", content)
    }

    /// A sigstore bundle v0.3 (JSON) holding a DSSE envelope of `payload`, logged as
    /// `dsse` 0.0.1: the same entry a `.att` layer gets, in a form sigstore-python checks.
    pub fn bundle_for_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<String, String> {
        use sigstore_protobuf_specs::dev::sigstore::bundle::v1 as bundle;
        use sigstore_protobuf_specs::io::intoto;
        let message = tlog::pae(payload_type, payload);
        let signature = tlog::sign_der(&self.key, &message);
        let logged = self.log_signature(&message, &signature, EntryKind::Dsse)?;
        let content = bundle::bundle::Content::DsseEnvelope(intoto::Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_string(),
            signatures: vec![intoto::Signature { sig: signature, keyid: String::new() }],
        });
        self.sigstore_bundle(&logged, "dsse", content)
    }

    fn sigstore_bundle(
        &self,
        logged: &tlog::LoggedEntry,
        kind: &str,
        content: sigstore_protobuf_specs::dev::sigstore::bundle::v1::bundle::Content,
    ) -> Result<String, String> {
        use sigstore_protobuf_specs::dev::sigstore::{bundle::v1 as bundle, common::v1 as common, rekor::v1 as rekor};
        let entry = rekor::TransparencyLogEntry {
            log_index: logged.log_index as i64,
            log_id: Some(common::LogId { key_id: logged.log_id.to_vec() }),
            kind_version: Some(rekor::KindVersion { kind: kind.into(), version: "0.0.1".into() }),
            integrated_time: logged.integrated_time,
            inclusion_promise: Some(rekor::InclusionPromise { signed_entry_timestamp: logged.set.clone() }),
            inclusion_proof: Some(rekor::InclusionProof {
                log_index: logged.log_index as i64,
                root_hash: logged.root_hash.to_vec(),
                tree_size: logged.tree_size as i64,
                hashes: logged.proof.iter().map(|h| h.to_vec()).collect(),
                checkpoint: Some(rekor::Checkpoint { envelope: logged.checkpoint.clone() }),
            }),
            canonicalized_body: logged.body.clone(),
        };
        let value = bundle::Bundle {
            media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            verification_material: Some(bundle::VerificationMaterial {
                tlog_entries: vec![entry],
                timestamp_verification_data: None,
                content: Some(bundle::verification_material::Content::Certificate(common::X509Certificate { raw_bytes: self.leaf_der.clone() })),
            }),
            content: Some(content),
        };
        serde_json::to_string(&value).map_err(|e| format!("bundle: {e}"))
    }
}

/// A Kyverno keyless matcher: `subject`/`issuer` compare exactly; `subjectRegExp`/
/// `issuerRegExp` are unanchored like Go's `MatchString` (write `^…$` to anchor).
#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(expected) => expected == value,
            Matcher::Regex(re) => re.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(re) => write!(f, "/{}/", re.as_str()),
        }
    }
}

/// Who must have signed: the certificate identity (SAN) and its OIDC issuer.
#[derive(Clone, Debug)]
pub struct KeylessPolicy {
    pub subject: Matcher,
    pub issuer: Matcher,
}

/// The verified signer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeylessIdentity {
    pub subject: String,
    pub issuer: String,
}

#[cfg(test)]
mod tests;
