//! The throwaway Fulcio: a root and an intermediate CA, and short-lived leaf
//! certificates shaped like Fulcio's (empty subject, critical SAN, OIDC issuer
//! extensions, one embedded precertificate SCT from the CT log key).

use super::{now_secs, sha256, OID_ISSUER_V1, OID_ISSUER_V2};
use x509_cert::der;
use der::asn1::{BitString, Ia5String, OctetString, UtcTime};
use der::{Decode, Encode};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::sct::{
    DigitallySigned, HashAlgorithm, LogId, SerializedSct, SignatureAlgorithm, SignatureAndHashAlgorithm, SignedCertificateTimestamp,
    SignedCertificateTimestampList, Version as SctVersion,
};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity as CertValidity};
use x509_cert::{Certificate, TbsCertificate};

/// ecdsa-with-SHA256: every certificate here is signed by a P-256 key.
pub(crate) const ECDSA_SHA256: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-kp-codeSigning, the one extended key usage Fulcio leaves carry.
pub(crate) const CODE_SIGNING: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// A fresh P-256 key from the OS RNG.
pub(crate) fn new_key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

/// DER SubjectPublicKeyInfo of a key: what log ids and key ids hash.
pub(crate) fn spki_der(key: &SigningKey) -> Vec<u8> {
    key.verifying_key().to_public_key_der().expect("a P-256 key encodes").into_vec()
}

/// A CA certificate with its private key.
pub(crate) struct CaCert {
    pub key: SigningKey,
    pub der: Vec<u8>,
    pub cert: Certificate,
}

impl CaCert {
    pub fn pem(&self) -> String {
        pem(&self.der)
    }
}

pub(crate) fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).expect("PEM encoding of DER cannot fail")
}

fn serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01; // positive and no leading zero byte
    SerialNumber::new(&bytes).expect("16 bytes is a valid serial")
}

fn time(unix: u64) -> Result<Time, String> {
    UtcTime::from_unix_duration(Duration::from_secs(unix)).map(Time::UtcTime).map_err(|e| format!("certificate time: {e}"))
}

fn spki(key: &SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_der(&spki_der(key)).expect("own SPKI decodes")
}

/// Subject key id as RFC 5280 method 1 suggests (here SHA-256, truncated), so AKI links resolve.
fn key_id(key: &SigningKey) -> OctetString {
    let bits = key.verifying_key().to_encoded_point(false);
    OctetString::new(&sha256(bits.as_bytes())[..20]).expect("20 bytes")
}

fn ext<T: AsExtension>(value: &T, subject: &Name) -> Result<Extension, String> {
    value.to_extension(subject, &[]).map_err(|e| format!("extension: {e}"))
}

/// EKU as Fulcio marks it: not critical (sigstore-python rejects a critical one).
fn eku() -> Result<Extension, String> {
    let mut extension = ext(&ExtendedKeyUsage(vec![CODE_SIGNING]), &Name::default())?;
    extension.critical = false;
    Ok(extension)
}

fn raw_ext(oid: &str, critical: bool, value: Vec<u8>) -> Result<Extension, String> {
    Ok(Extension {
        extn_id: der::oid::ObjectIdentifier::new(oid).map_err(|e| e.to_string())?,
        critical,
        extn_value: OctetString::new(value).map_err(|e| e.to_string())?,
    })
}

/// Sign `tbs` with `key` into a certificate.
pub(crate) fn sign_tbs(tbs: TbsCertificate, key: &SigningKey) -> Result<(Certificate, Vec<u8>), String> {
    let tbs_der = tbs.to_der().map_err(|e| format!("TBS encoding: {e}"))?;
    let signature: Signature = key.sign(&tbs_der);
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: AlgorithmIdentifierOwned { oid: ECDSA_SHA256, parameters: None },
        signature: BitString::from_bytes(signature.to_der().as_bytes()).map_err(|e| e.to_string())?,
    };
    let der = cert.to_der().map_err(|e| format!("certificate encoding: {e}"))?;
    Ok((cert, der))
}

fn tbs(issuer: &Name, subject: Name, key: &SigningKey, not_before: u64, not_after: u64, extensions: Vec<Extension>) -> Result<TbsCertificate, String> {
    Ok(TbsCertificate {
        version: x509_cert::Version::V3,
        serial_number: serial(),
        signature: AlgorithmIdentifierOwned { oid: ECDSA_SHA256, parameters: None },
        issuer: issuer.clone(),
        validity: CertValidity { not_before: time(not_before)?, not_after: time(not_after)? },
        subject,
        subject_public_key_info: spki(key),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    })
}

const DAY: u64 = 24 * 3600;

/// A self-signed root valid from a day ago for ten years.
pub(crate) fn root(name: &str) -> Result<CaCert, String> {
    let key = new_key();
    let subject = Name::from_str(&format!("CN={name},O=verdict")).map_err(|e| e.to_string())?;
    let now = now_secs();
    let extensions = vec![
        ext(&BasicConstraints { ca: true, path_len_constraint: None }, &subject)?,
        ext(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), &subject)?,
        ext(&SubjectKeyIdentifier(key_id(&key)), &subject)?,
    ];
    let tbs = tbs(&subject, subject.clone(), &key, now - DAY, now + 3650 * DAY, extensions)?;
    let (cert, der) = sign_tbs(tbs, &key)?;
    Ok(CaCert { key, der, cert })
}

/// An intermediate under `root`, path length 0, codeSigning EKU like Fulcio's.
pub(crate) fn intermediate(root: &CaCert, name: &str) -> Result<CaCert, String> {
    let key = new_key();
    let subject = Name::from_str(&format!("CN={name},O=verdict")).map_err(|e| e.to_string())?;
    let issuer = &root.cert.tbs_certificate.subject;
    let now = now_secs();
    let extensions = vec![
        ext(&BasicConstraints { ca: true, path_len_constraint: Some(0) }, &subject)?,
        ext(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), &subject)?,
        eku()?,
        ext(&SubjectKeyIdentifier(key_id(&key)), &subject)?,
        ext(&AuthorityKeyIdentifier { key_identifier: Some(key_id(&root.key)), authority_cert_issuer: None, authority_cert_serial_number: None }, &subject)?,
    ];
    let tbs = tbs(issuer, subject, &key, now - DAY, now + 3650 * DAY, extensions)?;
    let (cert, der) = sign_tbs(tbs, &root.key)?;
    Ok(CaCert { key, der, cert })
}

/// What a leaf is issued with; tests vary the SCT to reach each failing check.
pub(crate) struct LeafSpec<'a> {
    pub identity: &'a str,
    pub issuer: &'a str,
    pub not_before: u64,
    pub not_after: u64,
    /// CT log key signing the SCT; `None` leaves the SCT extension out.
    pub ct_key: Option<&'a SigningKey>,
    /// Sign the SCT over these bytes instead of the real precertificate TBS (a forged SCT).
    pub sct_over: Option<&'a [u8]>,
}

/// Whether `identity` starts with a URI scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").
fn has_scheme(identity: &str) -> bool {
    identity.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic()) && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// A Fulcio-shaped leaf for `key`, issued by `ca`.
pub(crate) fn leaf(ca: &CaCert, key: &SigningKey, spec: &LeafSpec<'_>) -> Result<(Certificate, Vec<u8>), String> {
    let subject = Name::default();
    let san = if spec.identity.contains('@') && !has_scheme(spec.identity) {
        GeneralName::Rfc822Name(Ia5String::new(spec.identity).map_err(|e| format!("identity is not IA5: {e}"))?)
    } else {
        GeneralName::UniformResourceIdentifier(Ia5String::new(spec.identity).map_err(|e| format!("identity is not IA5: {e}"))?)
    };
    let mut san_ext = ext(&SubjectAltName(vec![san]), &subject)?;
    san_ext.critical = true; // the subject is empty (RFC 5280 4.2.1.6)
    let issuer_v2 = der::asn1::Utf8StringRef::new(spec.issuer).map_err(|e| e.to_string())?.to_der().map_err(|e| e.to_string())?;
    let mut extensions = vec![
        ext(&KeyUsage(KeyUsages::DigitalSignature.into()), &subject)?,
        eku()?,
        ext(&SubjectKeyIdentifier(key_id(key)), &subject)?,
        ext(&AuthorityKeyIdentifier { key_identifier: Some(key_id(&ca.key)), authority_cert_issuer: None, authority_cert_serial_number: None }, &subject)?,
        san_ext,
        raw_ext(OID_ISSUER_V1, false, spec.issuer.as_bytes().to_vec())?,
        raw_ext(OID_ISSUER_V2, false, issuer_v2)?,
    ];
    let mut tbs = tbs(&ca.cert.tbs_certificate.subject, subject, key, spec.not_before, spec.not_after, extensions.clone())?;
    if let Some(ct_key) = spec.ct_key {
        // The precertificate's TBS is this TBS without the SCT list (and without the
        // poison extension, which the final certificate never had): what a CT log signs.
        let precert_tbs = tbs.to_der().map_err(|e| e.to_string())?;
        let issuer_key_hash = sha256(&ca.cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| e.to_string())?);
        let sct = sign_sct(ct_key, spec.sct_over.unwrap_or(&precert_tbs), &issuer_key_hash, now_secs() * 1000)?;
        extensions.push(ext(&sct, &tbs.subject)?);
        tbs.extensions = Some(extensions);
    }
    sign_tbs(tbs, &ca.key)
}

/// RFC 6962 3.2 `digitally-signed` input of a precert_entry SCT with no extensions.
pub(crate) fn sct_signed_data(timestamp_ms: u64, issuer_key_hash: &[u8; 32], precert_tbs: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8, 0u8]; // sct_version v1, signature_type certificate_timestamp
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    let len = precert_tbs.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]); // opaque TBSCertificate<1..2^24-1>
    out.extend_from_slice(precert_tbs);
    out.extend_from_slice(&0u16.to_be_bytes()); // CtExtensions, empty
    out
}

fn sign_sct(ct_key: &SigningKey, precert_tbs: &[u8], issuer_key_hash: &[u8; 32], timestamp_ms: u64) -> Result<SignedCertificateTimestampList, String> {
    let signature: Signature = ct_key.sign(&sct_signed_data(timestamp_ms, issuer_key_hash, precert_tbs));
    let sct = SignedCertificateTimestamp {
        version: SctVersion::V1,
        log_id: LogId { key_id: sha256(&spki_der(ct_key)) },
        timestamp: timestamp_ms,
        extensions: tls_codec::TlsByteVecU16::new(vec![]),
        signature: DigitallySigned {
            algorithm: SignatureAndHashAlgorithm { hash: HashAlgorithm::Sha256, signature: SignatureAlgorithm::Ecdsa },
            signature: tls_codec::TlsByteVecU16::new(signature.to_der().as_bytes().to_vec()),
        },
    };
    let serialized = SerializedSct::new(sct).map_err(|e| format!("SCT encoding: {e:?}"))?;
    SignedCertificateTimestampList::new(&[serialized]).map_err(|e| format!("SCT list encoding: {e:?}"))
}
