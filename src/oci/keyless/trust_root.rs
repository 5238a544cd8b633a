//! sigstore's `trusted_root.json`, written from and read into the sigstore
//! project's own protobuf types (`sigstore_protobuf_specs`), so the JSON
//! mapping (camelCase, base64 bytes, RFC 3339 times, enum names) is theirs.

use super::sha256;
use sigstore_protobuf_specs::dev::sigstore::common::v1 as common;
use sigstore_protobuf_specs::dev::sigstore::trustroot::v1 as trustroot;

pub(crate) const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
const MEDIA_TYPE_V02: &str = "application/vnd.dev.sigstore.trustedroot.v0.2+json";

/// A time window in Unix seconds; an open end is `None`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Window {
    pub fn contains(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }

    fn from_proto(range: Option<&common::TimeRange>) -> Window {
        Window { start: range.and_then(|r| r.start.as_ref()).map(|t| t.seconds), end: range.and_then(|r| r.end.as_ref()).map(|t| t.seconds) }
    }

    pub(crate) fn to_proto(self) -> common::TimeRange {
        let ts = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
        common::TimeRange { start: self.start.map(ts), end: self.end.map(ts) }
    }
}

/// One certificate authority: its chain, leaf-most first, root last, and when it may issue.
#[derive(Clone, Debug)]
pub(crate) struct Authority {
    pub chain: Vec<Vec<u8>>,
    pub valid_for: Window,
}

/// One log key (transparency log or CT log): its id is SHA-256 of the DER key, recomputed here.
#[derive(Clone, Debug)]
pub(crate) struct LogKey {
    pub log_id: [u8; 32],
    pub spki_der: Vec<u8>,
    pub valid_for: Window,
}

/// A parsed `trusted_root.json`: the CAs, transparency logs and CT logs to trust.
#[derive(Clone, Debug)]
pub struct TrustRoot {
    pub(crate) authorities: Vec<Authority>,
    pub(crate) tlogs: Vec<LogKey>,
    pub(crate) ctlogs: Vec<LogKey>,
}

impl TrustRoot {
    /// Parse a `trusted_root.json` (media types 0.1 and 0.2). A root without a CA, a
    /// transparency log or a CT log is an error: keyless verification needs all three.
    pub fn from_json(text: &str) -> Result<TrustRoot, String> {
        let root: trustroot::TrustedRoot = serde_json::from_str(text).map_err(|e| format!("trusted root: {e}"))?;
        if root.media_type != MEDIA_TYPE && root.media_type != MEDIA_TYPE_V02 {
            return Err(format!("trusted root: unsupported mediaType {:?}", root.media_type));
        }
        let authorities: Vec<Authority> = root
            .certificate_authorities
            .iter()
            .map(|ca| Authority {
                chain: ca.cert_chain.iter().flat_map(|c| c.certificates.iter()).map(|c| c.raw_bytes.clone()).collect(),
                valid_for: Window::from_proto(ca.valid_for.as_ref()),
            })
            .filter(|ca| !ca.chain.is_empty())
            .collect();
        let keys = |logs: &[trustroot::TransparencyLogInstance]| -> Vec<LogKey> {
            logs.iter()
                .filter_map(|log| {
                    let key = log.public_key.as_ref()?;
                    let spki_der = key.raw_bytes.clone()?;
                    Some(LogKey { log_id: sha256(&spki_der), spki_der, valid_for: Window::from_proto(key.valid_for.as_ref()) })
                })
                .collect()
        };
        let (tlogs, ctlogs) = (keys(&root.tlogs), keys(&root.ctlogs));
        for (what, empty) in [("certificateAuthorities", authorities.is_empty()), ("tlogs", tlogs.is_empty()), ("ctlogs", ctlogs.is_empty())] {
            if empty {
                return Err(format!("trusted root: no usable {what}"));
            }
        }
        Ok(TrustRoot { authorities, tlogs, ctlogs })
    }

    /// [`TrustRoot::from_json`] of a file.
    pub fn from_file(path: &std::path::Path) -> Result<TrustRoot, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("trusted root {}: {e}", path.display()))?;
        TrustRoot::from_json(&text)
    }
}

/// A log instance entry for `trusted_root.json`.
pub(crate) fn log_instance(base_url: &str, spki_der: &[u8], valid_for: Window) -> trustroot::TransparencyLogInstance {
    trustroot::TransparencyLogInstance {
        base_url: base_url.to_string(),
        hash_algorithm: common::HashAlgorithm::Sha2256 as i32,
        public_key: Some(common::PublicKey {
            raw_bytes: Some(spki_der.to_vec()),
            key_details: common::PublicKeyDetails::PkixEcdsaP256Sha256 as i32,
            valid_for: Some(valid_for.to_proto()),
        }),
        log_id: Some(common::LogId { key_id: sha256(spki_der).to_vec() }),
        checkpoint_key_id: None,
        operator: String::new(),
    }
}

/// The whole `trusted_root.json` document.
pub(crate) fn document(chain: &[Vec<u8>], ca_valid: Window, tlog: trustroot::TransparencyLogInstance, ctlog: trustroot::TransparencyLogInstance) -> String {
    let root = trustroot::TrustedRoot {
        media_type: MEDIA_TYPE.to_string(),
        tlogs: vec![tlog],
        certificate_authorities: vec![trustroot::CertificateAuthority {
            subject: Some(common::DistinguishedName { organization: "verdict".into(), common_name: "verdict throwaway fulcio".into() }),
            uri: "https://fulcio.verdict.invalid".into(),
            cert_chain: Some(common::X509CertificateChain {
                certificates: chain.iter().map(|der| common::X509Certificate { raw_bytes: der.clone() }).collect(),
            }),
            valid_for: Some(ca_valid.to_proto()),
            operator: String::new(),
        }],
        ctlogs: vec![ctlog],
        timestamp_authorities: vec![],
    };
    serde_json::to_string_pretty(&root).expect("protobuf types serialise")
}
