//! `policies/waivers.yaml`: timeboxed, owned exceptions. A waiver covers one
//! rule on one target (namespace, resource, image or Terraform address, each a
//! glob); a failure it covers is reported as `waived`, never as a pass. An
//! expired waiver covers nothing and fails the run; one expiring within
//! [`EXPIRY_WARNING_DAYS`] warns; one that matched nothing warns as stale.

use super::files::{read_checked, WAIVERS};
use crate::error::LoadError;
use crate::input::{Input, InputKind};
use crate::limits::Limits;
use crate::verdict::{Outcome, Verdict};
use chrono::NaiveDate;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// Days before expiry from which a waiver is reported as expiring.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// What a waiver covers: exactly one of these, as a glob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `metadata.namespace` of a Kubernetes object.
    Namespace(String),
    /// `Kind/namespace/name` (or `Kind/name` when cluster-scoped).
    Resource(String),
    /// Any container image the object names.
    Image(String),
    /// A Terraform resource address (`module.logs.aws_s3_bucket.this`).
    Address(String),
}

impl Target {
    fn pattern(&self) -> &str {
        match self {
            Target::Namespace(p) | Target::Resource(p) | Target::Image(p) | Target::Address(p) => p,
        }
    }

    fn field(&self) -> &'static str {
        match self {
            Target::Namespace(_) => "namespace",
            Target::Resource(_) => "resource",
            Target::Image(_) => "image",
            Target::Address(_) => "address",
        }
    }
}

/// One entry of `policies/waivers.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub rule: String,
    pub target: Target,
    pub owner: String,
    pub reason: String,
    pub ticket: String,
    /// Last day the waiver holds (`YYYY-MM-DD`, inclusive).
    pub expires: String,
}

/// Where a waiver stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum WaiverStatus {
    Active { days_left: i64 },
    Expiring { days_left: i64 },
    Expired { days_ago: i64 },
}

impl Waiver {
    /// How reports name it: `rule[namespace=legacy-*] (SEC-1)`.
    pub fn label(&self) -> String {
        format!("{}[{}={}] ({})", self.rule, self.target.field(), self.target.pattern(), self.ticket)
    }

    /// The expiry date; the schema has checked its shape, the calendar is checked here.
    pub fn expires_on(&self) -> Result<NaiveDate, String> {
        NaiveDate::parse_from_str(&self.expires, "%Y-%m-%d").map_err(|e| format!("waiver {}: expires {:?}: {e}", self.label(), self.expires))
    }

    /// Status on `today` (the expiry day itself is still covered).
    ///
    /// ```
    /// use verdict::lifecycle::{Target, Waiver, WaiverStatus};
    /// let w = Waiver { rule: "r".into(), target: Target::Namespace("legacy".into()), owner: "o".into(),
    ///                  reason: "x".into(), ticket: "T-1".into(), expires: "2027-01-10".into() };
    /// let day = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    /// assert_eq!(w.status(day("2026-12-01")), WaiverStatus::Active { days_left: 40 });
    /// assert_eq!(w.status(day("2027-01-10")), WaiverStatus::Expiring { days_left: 0 });
    /// assert_eq!(w.status(day("2027-01-12")), WaiverStatus::Expired { days_ago: 2 });
    /// ```
    pub fn status(&self, today: NaiveDate) -> WaiverStatus {
        let Ok(expires) = self.expires_on() else {
            return WaiverStatus::Expired { days_ago: 0 };
        };
        let days_left = (expires - today).num_days();
        if days_left < 0 {
            WaiverStatus::Expired { days_ago: -days_left }
        } else if days_left <= EXPIRY_WARNING_DAYS {
            WaiverStatus::Expiring { days_left }
        } else {
            WaiverStatus::Active { days_left }
        }
    }

    /// Whether this waiver covers `outcome` of its rule on `input`: only a
    /// failure is ever waived (an error stays an error).
    pub fn covers(&self, rule: &str, input: &Input, outcome: &Outcome) -> bool {
        let Outcome::Fail { messages, .. } = outcome else { return false };
        if self.rule != rule {
            return false;
        }
        let Ok(glob) = Glob::new(self.target.pattern()) else { return false };
        let glob = glob.compile_matcher();
        match &self.target {
            Target::Namespace(_) => {
                input.kind == InputKind::Manifest && input.value["metadata"]["namespace"].as_str().is_some_and(|ns| glob.is_match(ns))
            }
            Target::Resource(_) => input.kind == InputKind::Manifest && glob.is_match(&input.resource),
            Target::Image(_) => {
                // Every failure must be about a waived image: each message names one, or,
                // when the messages name no image at all, every image of the object is waived.
                let images = images_of(&input.value);
                let names_any = messages.iter().any(|m| images.iter().any(|i| m.contains(i.as_str())));
                !images.is_empty()
                    && if names_any {
                        messages.iter().all(|m| names_matching_image(m, &images, &glob))
                    } else {
                        images.iter().all(|i| glob.is_match(i))
                    }
            }
            Target::Address(_) => {
                input.kind == InputKind::TerraformPlan && {
                    let addresses = addresses_of(&input.value);
                    !messages.is_empty() && messages.iter().all(|m| addresses.iter().any(|a| m.contains(a.as_str()) && glob.is_match(a)))
                }
            }
        }
    }
}

/// A failure message is about a waived image when it names one the glob matches.
fn names_matching_image(message: &str, images: &[String], glob: &GlobMatcher) -> bool {
    images.iter().any(|i| glob.is_match(i) && message.contains(i.as_str()))
}

/// Every string under an `image` key (containers, init and ephemeral containers, pod templates).
fn images_of(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    match (k.as_str(), child) {
                        ("image", Value::String(s)) => found.push(s.clone()),
                        _ => stack.push(child),
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// The resource addresses a Terraform plan changes.
fn addresses_of(plan: &Value) -> Vec<String> {
    plan["resource_changes"]
        .as_array()
        .map(|changes| changes.iter().filter_map(|c| c["address"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct WaiversFile {
    waivers: Option<Vec<Waiver>>,
}

/// Read `policies/waivers.yaml` (no file: no waivers). Schema and calendar
/// errors are load errors naming the line.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("waivers.yaml");
/// std::fs::write(&path, "waivers:\n  - rule: r\n    target: {namespace: legacy}\n    owner: o\n    reason: x\n    ticket: T-1\n    expires: 2027-02-30\n").unwrap();
/// let err = verdict::lifecycle::read_waivers(&path, &Default::default()).unwrap_err();
/// assert!(err.message.contains("2027-02-30"), "{}", err.message);
/// ```
pub fn read_waivers(path: &Path, limits: &Limits) -> Result<Vec<Waiver>, LoadError> {
    let file: Option<WaiversFile> = read_checked(path, &WAIVERS, "waivers.yaml", limits)?;
    let waivers = file.and_then(|f| f.waivers).unwrap_or_default();
    for w in &waivers {
        w.expires_on().map_err(|e| LoadError::new(path, e))?;
        Glob::new(w.target.pattern()).map_err(|e| LoadError::new(path, format!("waiver {}: {e}", w.label())))?;
    }
    Ok(waivers)
}

/// Mark `verdict` as waived when a waiver in force on `today` covers it.
pub fn apply(waivers: &[Waiver], verdict: &mut Verdict, input: &Input, today: NaiveDate) {
    // Only a failure can be waived; everything else costs nothing here.
    if verdict.waiver.is_some() || !matches!(verdict.outcome, Outcome::Fail { .. }) {
        return;
    }
    if let Some(w) = waivers
        .iter()
        .find(|w| w.covers(&verdict.rule, input, &verdict.outcome) && !matches!(w.status(today), WaiverStatus::Expired { .. }))
    {
        verdict.waiver = Some(w.label());
    }
}

/// Today, as waivers count days (UTC).
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn waiver(target: Target) -> Waiver {
        Waiver { rule: "r".into(), target, owner: "o".into(), reason: "x".into(), ticket: "T-1".into(), expires: "2099-01-01".into() }
    }

    fn input(value: Value) -> Input {
        Input::from_value(PathBuf::from("x.yaml"), 0, None, value)
    }

    #[test]
    fn targets_match_their_field_by_glob() {
        let pod = input(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "legacy-a"},
            "spec": {"containers": [{"name": "c", "image": "old.example.com/web:1"}]}}));
        let fail = Outcome::fail(vec!["old.example.com/web:1 is not allowed".into()]);
        assert!(waiver(Target::Namespace("legacy-*".into())).covers("r", &pod, &fail));
        assert!(!waiver(Target::Namespace("prod".into())).covers("r", &pod, &fail));
        assert!(waiver(Target::Resource("Pod/legacy-*/web".into())).covers("r", &pod, &fail));
        assert!(waiver(Target::Image("old.example.com/*".into())).covers("r", &pod, &fail));
        assert!(!waiver(Target::Namespace("legacy-*".into())).covers("other-rule", &pod, &fail));
        assert!(!waiver(Target::Namespace("legacy-*".into())).covers("r", &pod, &Outcome::error("boom")), "errors are never waived");
        assert!(!waiver(Target::Namespace("legacy-*".into())).covers("r", &pod, &Outcome::pass()));
    }

    #[test]
    fn an_address_waiver_covers_a_plan_only_when_every_failure_names_a_waived_address() {
        let plan = input(serde_json::json!({"format_version": "1.2", "resource_changes": [
            {"address": "aws_s3_bucket.logs"}, {"address": "aws_s3_bucket.data"}]}));
        let w = waiver(Target::Address("aws_s3_bucket.logs".into()));
        assert!(w.covers("r", &plan, &Outcome::fail(vec!["aws_s3_bucket.logs: public".into()])));
        assert!(!w.covers("r", &plan, &Outcome::fail(vec!["aws_s3_bucket.logs: public".into(), "aws_s3_bucket.data: public".into()])));
    }

    #[test]
    fn an_expired_waiver_covers_nothing() {
        let pod = input(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "legacy"}}));
        let mut w = waiver(Target::Namespace("legacy".into()));
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let mut v = Verdict::new("r", &pod, Outcome::fail(vec!["no".into()]), crate::verdict::Mode::Enforce);
        w.expires = "2026-12-05".into();
        apply(std::slice::from_ref(&w), &mut v, &pod, day);
        assert_eq!(v.waiver, None);
        assert!(v.blocks());
        w.expires = "2026-12-06".into();
        apply(&[w], &mut v, &pod, day);
        assert!(v.waiver.is_some() && !v.blocks());
    }
}
