//! `verifyImages` rules: every container image of the resource that an entry's
//! `imageReferences` select is verified in the run's registry, its signature
//! against the `attestors` and its `attestations` (predicate type, attestors,
//! `conditions` over the predicate) as Kyverno's cosign verifier does.
//!
//! Parsed at load, so a bad key or an unsupported attestor is a load error or an
//! error verdict, never a pass. Where this differs from Kyverno, fail-closed:
//! - Without a registry (a plain manifest file) the rule is skipped with the
//!   reason, as `kyverno apply` skips image rules without registry access.
//! - A `keys` attestor must say `rekor: {ignoreTlog: true}`: checking a key
//!   signature's Rekor entry is not built, so without it the verdict is an error.
//! - `keyless` attestors are verified against the run's throwaway trust root, which
//!   stands in for Sigstore's public-good instance (and for a policy's own `roots`,
//!   `rekor.pubkey`, `ctlog.pubkey`): tests can only sign under a CA they hold. The
//!   log entry and SCT are always checked, even with `ignoreTlog`/`ignoreSCT`.
//! - `certificates`, `repository`, Notary and SigstoreBundle types are an error
//!   verdict naming what is not built.
//! - `required` only matters to Kyverno's admission annotations; a failed
//!   verification fails whatever it says. `mutateDigest` (default true) stands for
//!   the digest Kyverno would write, so `verifyDigest` fails only a tag reference
//!   when `mutateDigest: false`.

use super::conditions::evaluate_conditions_detailed;
use super::engine::{ResourceContext, RuleResponse, RuleStatus};
use super::images::{image_infos, ImageInfo};
use super::policy::FailureAction;
use super::wildcards;
use crate::oci::cosign::{Attestor, KeyAttestor, KeylessAttestor, VerifyFailure};
use crate::oci::keyless::{KeylessPolicy, Matcher, TrustRoot};
use crate::oci::ImageGate;
use std::sync::Arc;
use serde_json::Value;

/// Message prefix of the skip given when the run has no registry for the resource.
pub const NO_REGISTRY: &str = "image verification needs the run's registry";

/// One entry of `verifyImages`.
#[derive(Debug, Clone)]
pub struct ImageVerification {
    image_references: Vec<String>,
    skip_image_references: Vec<String>,
    attestors: Vec<AttestorSet>,
    attestations: Vec<AttestationCheck>,
    verify_digest: bool,
    mutate_digest: bool,
    pub failure_action: Option<FailureAction>,
    /// Set when the entry asks for something this engine does not build.
    unsupported: Option<String>,
}

/// `attestors[]`: `count` of `entries` must verify (all when absent).
#[derive(Debug, Clone)]
struct AttestorSet {
    count: Option<usize>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
enum Entry {
    /// Every key of `publicKeys` must verify (several PEM blocks expand to one set).
    Keys(Vec<KeyAttestor>),
    /// A certificate identity and issuer, verified against the run's trust root.
    Keyless(KeylessPolicy),
    Nested(AttestorSet),
    Unsupported(String),
}

#[derive(Debug, Clone)]
struct AttestationCheck {
    predicate_type: String,
    attestors: Vec<AttestorSet>,
    conditions: Vec<Value>,
}

/// Parse a rule's `verifyImages` list.
pub fn parse(list: &Value) -> Result<Vec<ImageVerification>, String> {
    list.as_array().ok_or("verifyImages is not a list")?.iter().enumerate().map(|(i, v)| parse_one(v).map_err(|e| format!("verifyImages[{i}]: {e}"))).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

fn parse_one(v: &Value) -> Result<ImageVerification, String> {
    let mut unsupported = None;
    let mut image_references = strings(&v["imageReferences"]);
    if let Some(image) = v["image"].as_str() {
        image_references.push(image.to_string());
    }
    if image_references.is_empty() {
        return Err("imageReferences is empty".into());
    }
    if let Some(t) = v["type"].as_str().filter(|t| *t != "Cosign") {
        unsupported = Some(format!("type {t}"));
    }
    if v["repository"].as_str().is_some_and(|r| !r.is_empty()) {
        unsupported = Some("`repository` (signatures in another repository)".into());
    }
    if v["key"].as_str().is_some() || v["subject"].as_str().is_some() || v["roots"].as_str().is_some() {
        unsupported = Some("the deprecated key/subject/roots fields (use attestors)".into());
    }
    let attestors = parse_sets(&v["attestors"])?;
    let attestations = v["attestations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let predicate_type = a["type"].as_str().or(a["predicateType"].as_str()).ok_or(format!("attestations[{i}]: no type"))?.to_string();
            let conditions = match &a["conditions"] {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                other => vec![other.clone()],
            };
            Ok(AttestationCheck { predicate_type, attestors: parse_sets(&a["attestors"]).map_err(|e| format!("attestations[{i}].{e}"))?, conditions })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let failure_action = v["failureAction"].as_str().map(FailureAction::parse).transpose()?;
    Ok(ImageVerification {
        image_references,
        skip_image_references: strings(&v["skipImageReferences"]),
        attestors,
        attestations,
        verify_digest: v["verifyDigest"].as_bool().unwrap_or(true),
        mutate_digest: v["mutateDigest"].as_bool().unwrap_or(true),
        failure_action,
        unsupported,
    })
}

fn parse_sets(v: &Value) -> Result<Vec<AttestorSet>, String> {
    v.as_array().into_iter().flatten().enumerate().map(|(i, s)| parse_set(s).map_err(|e| format!("attestors[{i}]{e}"))).collect()
}

fn parse_set(v: &Value) -> Result<AttestorSet, String> {
    let count = v["count"].as_u64().map(|c| c as usize);
    let entries = v["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| parse_entry(e).map_err(|err| format!(".entries[{i}]{err}")))
        .collect::<Result<Vec<_>, String>>()?;
    if entries.is_empty() {
        return Err(": no entries".into());
    }
    Ok(AttestorSet { count, entries })
}

fn parse_entry(v: &Value) -> Result<Entry, String> {
    if let Some(keys) = v.get("keys").filter(|k| !k.is_null()) {
        if keys["kms"].as_str().is_some() || !keys["secret"].is_null() {
            return Ok(Entry::Unsupported("keys from a KMS or a Secret".into()));
        }
        if keys["rekor"]["ignoreTlog"].as_bool() != Some(true) {
            return Ok(Entry::Unsupported("checking a key signature's Rekor entry (set rekor.ignoreTlog: true for offline keys)".into()));
        }
        let pem = keys["publicKeys"].as_str().ok_or(".keys: no publicKeys")?;
        let blocks: Vec<String> = pem.split("-----BEGIN").filter(|b| !b.trim().is_empty()).map(|b| format!("-----BEGIN{b}")).collect();
        let attestors = blocks
            .iter()
            .map(|b| crate::oci::cosign::verifying_key_from_pem(b.trim()).map(KeyAttestor))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!(".keys.publicKeys: {e}"))?;
        if attestors.is_empty() {
            return Err(".keys.publicKeys: no PEM key".into());
        }
        return Ok(Entry::Keys(attestors));
    }
    if let Some(nested) = v.get("attestor").filter(|a| !a.is_null()) {
        return Ok(Entry::Nested(parse_set(nested).map_err(|e| format!(".attestor{e}"))?));
    }
    if let Some(k) = v.get("keyless").filter(|k| !k.is_null()) {
        let matcher = |exact: &str, pattern: &str| -> Result<Option<Matcher>, String> {
            match (k[exact].as_str(), k[pattern].as_str()) {
                (Some(e), _) => Ok(Some(Matcher::Exact(e.to_string()))),
                (None, Some(p)) => regex::Regex::new(p).map(|r| Some(Matcher::Regex(r))).map_err(|e| format!(".keyless.{pattern}: {e}")),
                (None, None) => Ok(None),
            }
        };
        let subject = matcher("subject", "subjectRegExp")?.ok_or(".keyless: no subject or subjectRegExp (any identity could sign)")?;
        let issuer = matcher("issuer", "issuerRegExp")?.ok_or(".keyless: no issuer or issuerRegExp (any OIDC issuer would do)")?;
        return Ok(Entry::Keyless(KeylessPolicy { subject, issuer }));
    }
    if v.get("certificates").is_some_and(|k| !k.is_null()) {
        return Ok(Entry::Unsupported("certificate attestors".into()));
    }
    Err(": none of keys, keyless, certificates, attestor".into())
}

/// Judge one resource: every selected image must verify.
pub fn evaluate(rule: &str, checks: &[ImageVerification], rc: &ResourceContext) -> RuleResponse {
    let Some(infos) = image_infos(&rc.resource) else {
        return RuleResponse::unreported(rule, "no container images");
    };
    let images: Vec<String> = infos
        .as_object()
        .into_iter()
        .flat_map(|kinds| kinds.values())
        .filter_map(Value::as_object)
        .flat_map(|m| m.values())
        .filter_map(|i| i["reference"].as_str().map(str::to_string))
        .collect();
    let mut failures = Vec::new();
    let mut errors = Vec::new();
    let mut verified = 0;
    for check in checks {
        for image in &images {
            let Ok(info) = ImageInfo::parse(image) else { continue };
            let named = info.reference();
            let selected = |patterns: &[String]| patterns.iter().any(|p| wildcards::matches(p, &named) || wildcards::matches(p, &info_with_tag(&info)));
            if !selected(&check.image_references) || selected(&check.skip_image_references) {
                continue;
            }
            if let Some(what) = &check.unsupported {
                errors.push(format!("{named}: {what} is not supported by this engine"));
                continue;
            }
            let Some(gate) = rc.images.as_deref() else {
                return RuleResponse::new(rule, RuleStatus::Skip, format!("{NO_REGISTRY}: {named} comes from a plain manifest; describe the image in an *.image.yaml case"));
            };
            match verify_image(gate, check, &info) {
                Ok(()) => verified += 1,
                Err(Problem::Fail(m)) => failures.push(format!("failed to verify image {named}: {m}")),
                Err(Problem::Error(m)) => errors.push(format!("failed to verify image {named}: {m}")),
            }
        }
    }
    if !errors.is_empty() {
        RuleResponse::new(rule, RuleStatus::Error, errors.join("; "))
    } else if !failures.is_empty() {
        RuleResponse::new(rule, RuleStatus::Fail, failures.join("; "))
    } else if verified > 0 {
        RuleResponse::new(rule, RuleStatus::Pass, "image verified")
    } else {
        RuleResponse::unreported(rule, "no image matched imageReferences")
    }
}

fn info_with_tag(info: &ImageInfo) -> String {
    format!("{}/{}:{}", info.registry, info.path, info.tag)
}

enum Problem {
    Fail(String),
    Error(String),
}

impl From<VerifyFailure> for Problem {
    fn from(f: VerifyFailure) -> Problem {
        if f.error {
            Problem::Error(f.to_string())
        } else {
            Problem::Fail(f.to_string())
        }
    }
}

fn verify_image(gate: &ImageGate, check: &ImageVerification, info: &ImageInfo) -> Result<(), Problem> {
    let image = info.reference();
    if check.verify_digest && !check.mutate_digest && info.digest.is_empty() {
        return Err(Problem::Fail("missing digest (verifyDigest with mutateDigest: false)".into()));
    }
    for (i, set) in check.attestors.iter().enumerate() {
        verify_set(set, &format!(".attestors[{i}]"), gate.trust_root(), &|a: &dyn Attestor| gate.verify(&image, a).map(|_| ()))?;
    }
    for (i, att) in check.attestations.iter().enumerate() {
        let sets = if att.attestors.is_empty() { &check.attestors } else { &att.attestors };
        if sets.is_empty() {
            return Err(Problem::Error(format!(".attestations[{i}]: no attestors to verify {} with", att.predicate_type)));
        }
        for (j, set) in sets.iter().enumerate() {
            let at = format!(".attestations[{i}].attestors[{j}]");
            verify_set(set, &at, gate.trust_root(), &|a: &dyn Attestor| {
                let statements = gate.attestations(&image, a, Some(&att.predicate_type))?;
                // Every verified statement of the type must meet the conditions.
                for s in &statements {
                    for block in &att.conditions {
                        let result = evaluate_conditions_detailed(block, &s.predicate)
                            .map_err(|e| crate::oci::cosign::VerifyFailure { check: "attestation conditions", reason: e.to_string(), error: true })?;
                        if !result.passed {
                            let why = if result.failed_messages.is_empty() { format!("{block}") } else { result.failed_messages.join("; ") };
                            return Err(crate::oci::cosign::VerifyFailure {
                                check: "attestation conditions",
                                reason: format!("{} does not meet the conditions: {why}", att.predicate_type),
                                error: false,
                            });
                        }
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// `count` entries of the set (all when absent) must verify; each failure is named by its path.
fn verify_set(set: &AttestorSet, at: &str, trust: &Arc<TrustRoot>, verify: &dyn Fn(&dyn Attestor) -> Result<(), VerifyFailure>) -> Result<(), Problem> {
    let needed = set.count.unwrap_or(set.entries.len()).min(set.entries.len()).max(1);
    let mut passed = 0;
    let mut reasons = Vec::new();
    for (i, entry) in set.entries.iter().enumerate() {
        let path = format!("{at}.entries[{i}]");
        let outcome: Result<(), Problem> = match entry {
            Entry::Keys(keys) => keys
                .iter()
                .try_for_each(|k| verify(k).map_err(Problem::from))
                .map_err(|p| prefix(p, &format!("{path}.keys"))),
            Entry::Keyless(policy) => verify(&KeylessAttestor { policy: policy.clone(), trust: trust.clone() })
                .map_err(|f| prefix(Problem::from(f), &format!("{path}.keyless"))),
            Entry::Nested(inner) => verify_set(inner, &format!("{path}.attestor"), trust, verify),
            Entry::Unsupported(what) => Err(Problem::Error(format!("{path}: {what} is not supported by this engine"))),
        };
        match outcome {
            Ok(()) => passed += 1,
            Err(Problem::Error(e)) => return Err(Problem::Error(e)),
            Err(Problem::Fail(m)) => reasons.push(m),
        }
        if passed >= needed {
            return Ok(());
        }
    }
    Err(Problem::Fail(format!("{passed} of {} attestors verified, {needed} required: {}", set.entries.len(), reasons.join("; "))))
}

fn prefix(p: Problem, path: &str) -> Problem {
    match p {
        Problem::Fail(m) => Problem::Fail(format!("{path}: {m}")),
        Problem::Error(m) => Problem::Error(format!("{path}: {m}")),
    }
}
