//! Kyverno's x509 library (kyverno/sdk `cel/libs/x509`): `x509.decode(pem)`
//! reads the first PEM block's certificate into the map Kyverno builds from
//! Go's `x509.Certificate`: Go field names, byte fields base64, times
//! RFC 3339, every number a double (Kyverno round-trips the struct through
//! JSON into `map[string]any`), absent lists null, `PublicKey` as `{N, E}`
//! with `N` in decimal. As in Kyverno, only RSA keys are read, and the map
//! has no `Subject` (Kyverno's struct leaves it out).
//!
//! Not built: a `CERTIFICATE REQUEST` block (Kyverno encodes Go's whole
//! `x509.CertificateRequest`) is an error saying so, never a value.

use super::{declare, string_arg};
use crate::engine::cel::library::call;
use crate::engine::cel::{to_cel, Numbers};
use base64::Engine as _;
use cel::objects::Value;
use cel::{DeclarationError, Env};
use serde_json::{json, Map, Value as Json};
use std::net::{Ipv4Addr, Ipv6Addr};
use x509_cert::der::asn1::{BitString, OctetString, UintRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, NameConstraints, SubjectAltName,
};
use x509_cert::name::Name;
use x509_cert::Certificate;

/// Largest PEM input read, so one call stays cheap.
const MAX_PEM_BYTES: usize = 1 << 20;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// Go's `x509.ExtKeyUsage` numbering of the usages it knows; others are dropped.
const EXT_KEY_USAGES: &[(&str, i64)] = &[
    ("2.5.29.37.0", 0),
    ("1.3.6.1.5.5.7.3.1", 1),
    ("1.3.6.1.5.5.7.3.2", 2),
    ("1.3.6.1.5.5.7.3.3", 3),
    ("1.3.6.1.5.5.7.3.4", 4),
    ("1.3.6.1.5.5.7.3.5", 5),
    ("1.3.6.1.5.5.7.3.6", 6),
    ("1.3.6.1.5.5.7.3.7", 7),
    ("1.3.6.1.5.5.7.3.8", 8),
    ("1.3.6.1.5.5.7.3.9", 9),
    ("1.3.6.1.4.1.311.10.3.3", 10),
    ("2.16.840.1.113730.4.1", 11),
    ("1.3.6.1.4.1.311.2.1.22", 12),
    ("1.3.6.1.4.1.311.61.1.1", 13),
];

/// `pkix.Name` fields filled from attributes of these types (when strings).
const NAME_FIELDS: &[(&str, &str, bool)] = &[
    ("2.5.4.6", "Country", true),
    ("2.5.4.10", "Organization", true),
    ("2.5.4.11", "OrganizationalUnit", true),
    ("2.5.4.7", "Locality", true),
    ("2.5.4.8", "Province", true),
    ("2.5.4.9", "StreetAddress", true),
    ("2.5.4.17", "PostalCode", true),
    ("2.5.4.5", "SerialNumber", false),
    ("2.5.4.3", "CommonName", false),
];

fn base64(bytes: &[u8]) -> Json {
    Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn der<T: Encode>(value: &T) -> Result<Json, String> {
    Ok(base64(&value.to_der().map_err(|e| e.to_string())?))
}

fn oid_arcs(oid: &ObjectIdentifier) -> Json {
    Json::Array(oid.arcs().map(|arc| json!(arc)).collect())
}

/// A Go `[]T` as JSON: null when empty (Go leaves the slice nil).
fn list(items: Vec<Json>) -> Json {
    if items.is_empty() {
        Json::Null
    } else {
        Json::Array(items)
    }
}

/// The first PEM block of `text` (`-----BEGIN T-----` ... `-----END T-----`),
/// skipping text around it and header lines, as Go's `pem.Decode` does.
fn first_pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body = &rest[label_end + "-----".len()..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let base64_text: String = body[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_text)
        .ok()?;
    Some((label.to_string(), bytes))
}

/// An RDN value as Go's `parseASN1String` reads it.
fn rdn_string(value: &x509_cert::der::Any) -> Result<String, String> {
    let bytes = value.value();
    let text = match value.tag() {
        Tag::PrintableString | Tag::Utf8String | Tag::Ia5String | Tag::NumericString => {
            String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?
        }
        // T61String is read as ISO 8859-1, each byte one rune.
        Tag::TeletexString => bytes.iter().map(|&b| char::from(b)).collect(),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).map_err(|e| e.to_string())?
        }
        other => {
            return Err(format!(
                "x509: invalid RDN value: unsupported string type: {other}"
            ))
        }
    };
    Ok(text)
}

/// Go's `pkix.Name` filled from an RDN sequence (`FillFromRDNSequence`).
fn pkix_name(name: &Name) -> Result<Json, String> {
    let mut fields: Map<String, Json> = NAME_FIELDS
        .iter()
        .map(|(_, field, is_list)| {
            let empty = if *is_list { Json::Null } else { json!("") };
            (field.to_string(), empty)
        })
        .collect();
    let mut names = Vec::new();
    for rdn in name.0.iter() {
        for attribute in rdn.0.iter() {
            let value = rdn_string(&attribute.value)?;
            names.push(json!({"Type": oid_arcs(&attribute.oid), "Value": value}));
            let oid = attribute.oid.to_string();
            if let Some((_, field, is_list)) = NAME_FIELDS.iter().find(|(o, _, _)| *o == oid) {
                let slot = fields.get_mut(*field).expect("every field is set above");
                if *is_list {
                    match slot {
                        Json::Array(items) => items.push(json!(value)),
                        _ => *slot = json!([value]),
                    }
                } else {
                    *slot = json!(value);
                }
            }
        }
    }
    fields.insert("Names".into(), list(names));
    fields.insert("ExtraNames".into(), Json::Null);
    Ok(Json::Object(fields))
}

/// An IP as Go's `net.IP` prints it (an IPv4-mapped address in dotted form).
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            })
        }
        _ => None,
    }
}

/// `N` (decimal) and `E` of a PKCS #1 RSA public key.
fn rsa_public_key(key: &BitString) -> Result<Json, String> {
    let failed = |_| "failed to parse subject public key info".to_string();
    let mut reader = SliceReader::new(key.raw_bytes()).map_err(failed)?;
    let (n, e) = reader
        .sequence(|r| Ok((UintRef::decode(r)?, UintRef::decode(r)?)))
        .map_err(failed)?;
    let exponent = e
        .as_bytes()
        .iter()
        .try_fold(0i64, |acc, &b| {
            acc.checked_mul(256).map(|v| v + i64::from(b))
        })
        .ok_or("failed to parse subject public key info")?;
    Ok(json!({
        "N": num_bigint::BigUint::from_bytes_be(n.as_bytes()).to_string(),
        "E": exponent,
    }))
}

/// Go's `big.Int.Int64()` of a DER INTEGER: the low 64 bits, signed.
fn serial_int64(bytes: &[u8]) -> i64 {
    let value = num_bigint::BigInt::from_signed_bytes_be(bytes);
    let low = value.magnitude().iter_u64_digits().next().unwrap_or(0) as i64;
    if value.sign() == num_bigint::Sign::Minus {
        low.wrapping_neg()
    } else {
        low
    }
}

fn decode_ext<'a, T: Decode<'a>>(value: &'a OctetString, what: &str) -> Result<T, String> {
    T::from_der(value.as_bytes()).map_err(|e| format!("x509: invalid {what} extension: {e}"))
}

fn ia5(name: &GeneralName) -> Option<(u8, String)> {
    match name {
        GeneralName::Rfc822Name(s) => Some((1, s.to_string())),
        GeneralName::DnsName(s) => Some((2, s.to_string())),
        GeneralName::UniformResourceIdentifier(s) => Some((6, s.to_string())),
        _ => None,
    }
}

/// The certificate as Kyverno's map (see the module doc).
fn certificate(der_bytes: &[u8]) -> Result<Json, String> {
    let cert = Certificate::from_der(der_bytes)
        .map_err(|e| format!("x509: malformed certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let spki = &tbs.subject_public_key_info;
    // Go (1.23 on) refuses a negative serial number.
    if tbs
        .serial_number
        .as_bytes()
        .first()
        .is_some_and(|b| b & 0x80 != 0)
    {
        return Err("x509: negative serial number".into());
    }
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err("certificate should use rsa algorithm".into());
    }
    let time = |t: &x509_cert::time::Time| {
        let seconds = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        chrono::DateTime::from_timestamp(seconds, 0)
            .map(|d| json!(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
            .unwrap_or(Json::Null)
    };
    let mut out = json!({
        "Raw": base64(der_bytes),
        "RawTBSCertificate": der(tbs)?,
        "RawSubjectPublicKeyInfo": der(spki)?,
        "RawSubject": der(&tbs.subject)?,
        "RawIssuer": der(&tbs.issuer)?,
        "Signature": base64(cert.signature.raw_bytes()),
        "PublicKeyAlgorithm": 1,
        "PublicKey": rsa_public_key(&spki.subject_public_key)?,
        "SerialNumber": serial_int64(tbs.serial_number.as_bytes()),
        "Issuer": pkix_name(&tbs.issuer)?,
        "NotBefore": time(&tbs.validity.not_before),
        "NotAfter": time(&tbs.validity.not_after),
        "KeyUsage": 0,
        "ExtraExtensions": null,
        "BasicConstraintsValid": false,
        "IsCA": false,
        "MaxPathLen": 0,
        "MaxPathLenZero": false,
        "AuthorityKeyId": null,
        "PermittedDNSDomainsCritical": false,
    });
    let mut extensions = Vec::new();
    let mut lists: std::collections::BTreeMap<&str, Vec<Json>> = [
        "ExtKeyUsage",
        "OCSPServer",
        "IssuingCertificateURL",
        "DNSNames",
        "EmailAddresses",
        "IPAddresses",
        "PermittedDNSDomains",
        "ExcludedDNSDomains",
        "PermittedIPRanges",
        "ExcludedIPRanges",
        "PermittedEmailAddresses",
        "ExcludedEmailAddresses",
        "PermittedURIDomains",
        "ExcludedURIDomains",
        "CRLDistributionPoints",
        "PolicyIdentifiers",
    ]
    .into_iter()
    .map(|k| (k, Vec::new()))
    .collect();
    let mut push = |key: &'static str, value: Json| lists.entry(key).or_default().push(value);
    for ext in tbs.extensions.iter().flatten() {
        extensions.push(json!({
            "Id": oid_arcs(&ext.extn_id),
            "Critical": ext.critical,
            "Value": base64(ext.extn_value.as_bytes()),
        }));
        match ext.extn_id.to_string().as_str() {
            "2.5.29.15" => {
                let bits: BitString = decode_ext(&ext.extn_value, "key usage")?;
                let bytes = bits.raw_bytes();
                let usage = (0..9).fold(0i64, |acc, i| {
                    let set = bytes.get(i / 8).is_some_and(|b| b >> (7 - i % 8) & 1 == 1);
                    if set {
                        acc | 1 << i
                    } else {
                        acc
                    }
                });
                out["KeyUsage"] = json!(usage);
            }
            "2.5.29.19" => {
                let constraints: BasicConstraints =
                    decode_ext(&ext.extn_value, "basic constraints")?;
                let max = constraints.path_len_constraint.map_or(-1, i64::from);
                out["BasicConstraintsValid"] = json!(true);
                out["IsCA"] = json!(constraints.ca);
                out["MaxPathLen"] = json!(max);
                out["MaxPathLenZero"] = json!(max == 0);
            }
            "2.5.29.37" => {
                let usages: ExtendedKeyUsage = decode_ext(&ext.extn_value, "extended key usage")?;
                for oid in usages.0 {
                    let oid = oid.to_string();
                    if let Some((_, n)) = EXT_KEY_USAGES.iter().find(|(o, _)| *o == oid) {
                        push("ExtKeyUsage", json!(n));
                    }
                }
            }
            "2.5.29.35" => {
                let id: AuthorityKeyIdentifier =
                    decode_ext(&ext.extn_value, "authority key identifier")?;
                if let Some(key) = id.key_identifier {
                    out["AuthorityKeyId"] = base64(key.as_bytes());
                }
            }
            "1.3.6.1.5.5.7.1.1" => {
                let access: AuthorityInfoAccessSyntax =
                    decode_ext(&ext.extn_value, "authority information access")?;
                for description in access.0 {
                    let Some((6, uri)) = ia5(&description.access_location) else {
                        continue;
                    };
                    if description.access_method == OCSP {
                        push("OCSPServer", json!(uri));
                    } else if description.access_method == CA_ISSUERS {
                        push("IssuingCertificateURL", json!(uri));
                    }
                }
            }
            "2.5.29.17" => {
                let names: SubjectAltName =
                    decode_ext(&ext.extn_value, "subject alternative name")?;
                for name in &names.0 {
                    match (name, ia5(name)) {
                        (_, Some((1, email))) => push("EmailAddresses", json!(email)),
                        (_, Some((2, dns))) => push("DNSNames", json!(dns)),
                        (GeneralName::IpAddress(ip), _) => {
                            let bytes = ip.as_bytes();
                            let ip = ip_text(bytes).ok_or_else(|| {
                                format!("x509: cannot parse IP address of length {}", bytes.len())
                            })?;
                            push("IPAddresses", json!(ip));
                        }
                        _ => {}
                    }
                }
            }
            "2.5.29.30" => {
                let constraints: NameConstraints = decode_ext(&ext.extn_value, "name constraints")?;
                out["PermittedDNSDomainsCritical"] = json!(ext.critical);
                for (subtrees, side) in [
                    (constraints.permitted_subtrees, "Permitted"),
                    (constraints.excluded_subtrees, "Excluded"),
                ] {
                    for subtree in subtrees.into_iter().flatten() {
                        let key = |what: &str| -> &'static str {
                            match (side, what) {
                                ("Permitted", "DNS") => "PermittedDNSDomains",
                                ("Permitted", "IP") => "PermittedIPRanges",
                                ("Permitted", "Email") => "PermittedEmailAddresses",
                                ("Permitted", _) => "PermittedURIDomains",
                                (_, "DNS") => "ExcludedDNSDomains",
                                (_, "IP") => "ExcludedIPRanges",
                                (_, "Email") => "ExcludedEmailAddresses",
                                _ => "ExcludedURIDomains",
                            }
                        };
                        match (&subtree.base, ia5(&subtree.base)) {
                            (_, Some((1, email))) => push(key("Email"), json!(email)),
                            (_, Some((2, dns))) => push(key("DNS"), json!(dns)),
                            (_, Some((_, uri))) => push(key("URI"), json!(uri)),
                            (GeneralName::IpAddress(range), _) => {
                                let bytes = range.as_bytes();
                                let half = bytes.len() / 2;
                                let ip = (bytes.len() == 8 || bytes.len() == 32)
                                    .then(|| ip_text(&bytes[..half]))
                                    .flatten()
                                    .ok_or_else(|| {
                                        format!(
                                            "x509: IP constraint contained value of length {}",
                                            bytes.len()
                                        )
                                    })?;
                                push(key("IP"), json!({"IP": ip, "Mask": base64(&bytes[half..])}));
                            }
                            _ => {}
                        }
                    }
                }
            }
            "2.5.29.31" => {
                let points: CrlDistributionPoints =
                    decode_ext(&ext.extn_value, "CRL distribution points")?;
                for point in points.0 {
                    if let Some(DistributionPointName::FullName(names)) = point.distribution_point {
                        for name in &names {
                            if let Some((6, uri)) = ia5(name) {
                                push("CRLDistributionPoints", json!(uri));
                            }
                        }
                    }
                }
            }
            "2.5.29.32" => {
                let policies: CertificatePolicies =
                    decode_ext(&ext.extn_value, "certificate policies")?;
                for policy in policies.0 {
                    push("PolicyIdentifiers", oid_arcs(&policy.policy_identifier));
                }
            }
            _ => {}
        }
    }
    out["Extensions"] = list(extensions);
    for (key, items) in lists {
        out[key] = list(items);
    }
    Ok(out)
}

/// `x509.decode(pem)`: see the module doc.
fn decode(args: &[Value]) -> Result<Value, String> {
    let text = string_arg(args, 0)?;
    if text.len() > MAX_PEM_BYTES {
        return Err(format!(
            "input of {} bytes is over the limit of {MAX_PEM_BYTES}",
            text.len()
        ));
    }
    let (label, bytes) = first_pem_block(&text).ok_or("failed to decode PEM block")?;
    let decoded = match label.as_str() {
        "CERTIFICATE" => certificate(&bytes)?,
        "CERTIFICATE REQUEST" => {
            return Err("a CERTIFICATE REQUEST block is not decoded by verdict yet".into())
        }
        _ => return Err("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".into()),
    };
    Ok(to_cel(&decoded, Numbers::KyvernoCli))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "x509.decode", &[1], |a| call("x509.decode", a, decode))
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    const RSA_CA: &str = include_str!("../../../../../tests/engine/kyverno/vpol/x509/rsa-ca.pem");
    const EC: &str = include_str!("../../../../../tests/engine/kyverno/vpol/x509/ec.pem");
    const REQUEST: &str =
        include_str!("../../../../../tests/engine/kyverno/vpol/x509/rsa-request.pem");

    /// `x509.decode(pem)` spelled as a CEL string literal.
    fn decode(pem: &str) -> String {
        format!("x509.decode('{}')", pem.replace('\n', "\\n"))
    }

    /// `condition` over `c`, the decoded `pem`.
    fn holds(pem: &str, condition: &str) {
        let source = format!("cel.bind(c, {}, {condition})", decode(pem));
        assert_eq!(
            eval(&source, None).unwrap(),
            cel::Value::Bool(true),
            "{condition}"
        );
    }

    #[test]
    fn a_certificate_reads_as_kyverno_maps_it() {
        // openssl's own reading of the fixture, in Go's numbering.
        for condition in [
            "c.PublicKeyAlgorithm == 1.0 && c.PublicKey.E == 65537.0",
            "c.PublicKey.N.startsWith('29320784891752077870') && c.PublicKey.N.endsWith('13230199773481062257')",
            // Serial 0x0102030405060708090a: Go's Int64 keeps the low 64 bits.
            "c.SerialNumber == 217304205466536202.0",
            "c.Issuer.CommonName == 'verdict-test-ca' && c.Issuer.Country == ['DE', 'FR'] && c.Issuer.SerialNumber == ''",
            "c.Issuer.Names[0] == {'Type': [2.0, 5.0, 4.0, 6.0], 'Value': 'DE'} && size(c.Issuer.Names) == 6 && c.Issuer.ExtraNames == null",
            "c.NotBefore == '2026-12-06T15:00:28Z' && c.NotAfter == '2036-12-03T15:00:28Z'",
            "c.KeyUsage == 97.0 && c.ExtKeyUsage == [1.0, 2.0]",
            "c.BasicConstraintsValid && c.IsCA && c.MaxPathLen == 0.0 && c.MaxPathLenZero",
            "c.DNSNames == ['app.example.com', '*.app.example.com'] && c.EmailAddresses == ['ops@example.com']",
            "c.IPAddresses == ['10.0.0.1', '2001:db8::1']",
            "c.OCSPServer == ['http://ocsp.example.com'] && c.IssuingCertificateURL == ['http://ca.example.com/ca.crt']",
            "c.CRLDistributionPoints == ['http://crl.example.com/ca.crl']",
            "c.PolicyIdentifiers == [[2.0, 23.0, 140.0, 1.0, 2.0, 1.0], [1.0, 3.0, 6.0, 1.0, 4.0, 1.0, 99999.0, 1.0]]",
            "c.PermittedDNSDomainsCritical && c.PermittedDNSDomains == ['.example.com'] && c.ExcludedDNSDomains == null",
            "c.PermittedIPRanges == [{'IP': '10.0.0.0', 'Mask': '/wAAAA=='}] && c.ExcludedEmailAddresses == ['.evil.example']",
            "c.AuthorityKeyId == null && c.ExtraExtensions == null",
            "c.Extensions[0].Id == [2.0, 5.0, 29.0, 19.0] && c.Extensions[0].Critical && size(c.Extensions) == 9",
            "c.Raw.startsWith('MII') && c.RawIssuer == c.RawSubject && size(c.Signature) == 344",
            "!has(c.Subject)",
        ] {
            holds(RSA_CA, condition);
        }
    }

    #[test]
    fn serial_numbers_keep_go_int64_low_bits() {
        assert_eq!(super::serial_int64(&[0]), 0);
        assert_eq!(super::serial_int64(&[0x00, 0xff]), 255);
        assert_eq!(
            super::serial_int64(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            0x030405060708090a
        );
        assert_eq!(
            super::serial_int64(&[0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            -1
        );
    }

    #[test]
    fn text_around_the_block_is_skipped() {
        holds(&format!("leading text\n{RSA_CA}trailing"), "c.IsCA");
    }

    #[test]
    fn what_cannot_be_read_is_an_error() {
        for (pem, want) in [
            ("not a valid PEM", "failed to decode PEM block"),
            (EC, "certificate should use rsa algorithm"),
            (REQUEST, "CERTIFICATE REQUEST block is not decoded"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "neither contains a CERTIFICATE",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "x509: malformed certificate",
            ),
        ] {
            let error = eval(&format!("{} == null", decode(pem)), None).unwrap_err();
            assert!(
                error.contains("x509.decode") && error.contains(want),
                "{error}"
            );
        }
    }
}
