//! The podSecurity handler's entry point: decode the rule and the pod, run the
//! checks, apply exclusions, and describe what is left as Kyverno does.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::checks::{run_checks, CheckFailure, FieldError, Level, Version};
use super::exclude::{apply, control_name, Exclusion};
use super::model::{pod_from_resource, Pod};

/// What a `validate.podSecurity` rule found in one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PssOutcome {
    /// The level as written in the rule (`baseline`, `restricted`, `privileged`).
    pub level: String,
    /// The version as written in the rule (may be empty, meaning latest).
    pub version: String,
    /// Checks that still fail after exclusions; empty means the rule passes.
    pub violations: Vec<PssViolation>,
}

/// One failed Pod Security Standards check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PssViolation {
    /// The control name used in `exclude.controlName`, e.g. `Running as Non-root`.
    pub control: String,
    /// The admission library's check id, e.g. `runAsNonRoot`.
    pub check_id: String,
    /// The admission library's forbidden reason, e.g. `runAsNonRoot != true`.
    pub reason: String,
    /// The admission library's forbidden detail (names containers and values).
    pub detail: String,
    /// Offending fields, with paths relative to the submitted resource kind.
    pub field_errors: Vec<FieldError>,
    /// Images of the containers the detail names (normalised as Kyverno does).
    pub images: Vec<String>,
    /// This check in Kyverno's message format:
    /// `(Forbidden reason: …, field error list: […])`.
    pub message: String,
}

impl PssOutcome {
    /// True when no check fails.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Kyverno's rule message: `Validation rule '<rule>' passed.` or
    /// `Validation rule '<rule>' failed. It violates PodSecurity "<level>:<version>": …`.
    pub fn message(&self, rule_name: &str) -> String {
        if self.passed() {
            return format!("Validation rule '{rule_name}' passed.");
        }
        let checks: String = self.violations.iter().map(|v| v.message.as_str()).collect();
        format!(
            "Validation rule '{rule_name}' failed. It violates PodSecurity \"{}:{}\": {checks}",
            self.level, self.version
        )
    }
}

/// Evaluates a rule's `validate.podSecurity` (`{level, version, exclude}`) against
/// a Pod or a pod-template holder (Deployment, DaemonSet, StatefulSet, ReplicaSet,
/// ReplicationController, Job: `spec.template`; CronJob:
/// `spec.jobTemplate.spec.template`).
///
/// An `Err` is a rule error (bad level/version/exclude, unsupported kind, or a
/// pod field of the wrong type) and must never be read as a pass.
///
/// ```
/// use serde_json::json;
/// use verdict::engine::kyverno::handlers::pss::evaluate;
///
/// let rule = json!({"level": "baseline", "version": "latest"});
/// let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
///     "spec": {"hostNetwork": true, "containers": [{"name": "app", "image": "nginx"}]}});
/// let outcome = evaluate(&rule, &pod).unwrap();
/// assert_eq!(outcome.violations[0].control, "Host Namespaces");
/// assert!(outcome.message("baseline").contains("spec.hostNetwork is forbidden"));
/// ```
pub fn evaluate(pod_security: &Value, resource: &Value) -> Result<PssOutcome, String> {
    evaluate_with_exceptions(pod_security, &[], resource).map(|(outcome, _)| outcome)
}

/// [`evaluate`], then the `podSecurity` excludes of the PolicyExceptions that
/// matched the resource, applied as Kyverno does to what still fails. The flag is
/// true when the rule failed and the exceptions cleared every check: Kyverno then
/// reports the rule as skipped ("rule is skipped due to policy exceptions").
///
/// ```
/// use serde_json::json;
/// use verdict::engine::kyverno::handlers::pss::evaluate_with_exceptions;
///
/// let rule = json!({"level": "baseline"});
/// let pod = json!({"kind": "Pod", "spec": {"hostPID": true, "containers": [{"name": "a", "image": "x"}]}});
/// let exception = json!({"controlName": "Host Namespaces"});
/// let (outcome, exempted) = evaluate_with_exceptions(&rule, &[exception], &pod).unwrap();
/// assert!(outcome.passed() && exempted);
/// ```
pub fn evaluate_with_exceptions(
    pod_security: &Value,
    exception_excludes: &[Value],
    resource: &Value,
) -> Result<(PssOutcome, bool), String> {
    let rule = pod_security
        .as_object()
        .ok_or("validate.podSecurity must be an object")?;
    let text = |key: &str| -> Result<String, String> {
        match rule.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("podSecurity.{key} must be a string, got {other}")),
        }
    };
    let level_text = text("level")?;
    let version_text = text("version")?;
    let level = Level::parse(&level_text)?;
    let version = Version::parse(&version_text)?;
    let exclusions = match rule.get("exclude") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => parse_exclusions(items)?,
        Some(other) => return Err(format!("podSecurity.exclude must be a list, got {other}")),
    };
    let exception_exclusions = parse_exclusions(exception_excludes)?;

    let pod = pod_from_resource(resource)?;
    let mut failures = run_checks(level, version, &pod);
    if !failures.is_empty() && !exclusions.is_empty() {
        failures = apply(level, version, &exclusions, failures, &pod);
    }
    let mut exempted = false;
    if !failures.is_empty() && !exception_exclusions.is_empty() {
        failures = apply(level, version, &exception_exclusions, failures, &pod);
        exempted = failures.is_empty();
    }
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let violations = failures
        .into_iter()
        .map(|(id, failure)| violation(id, failure, kind, &pod))
        .collect();
    let outcome = PssOutcome {
        level: level_text,
        version: version_text,
        violations,
    };
    Ok((outcome, exempted))
}

fn parse_exclusions(items: &[Value]) -> Result<Vec<Exclusion>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| Exclusion::parse(item, i))
        .collect()
}

fn violation(check_id: &str, failure: CheckFailure, kind: &str, pod: &Pod) -> PssViolation {
    let field_errors: Vec<FieldError> = failure
        .errors
        .unwrap_or_default()
        .into_iter()
        .map(|mut e| {
            e.field = field_in_resource(&e.field, kind);
            e
        })
        .collect();
    let rendered: Vec<String> = field_errors.iter().map(FieldError::render).collect();
    let message = format!(
        "(Forbidden reason: {}, field error list: [{}])",
        failure.reason,
        rendered.join(", ")
    );
    PssViolation {
        control: control_name(check_id).to_string(),
        check_id: check_id.to_string(),
        images: images_named_in(&failure.detail, pod),
        reason: failure.reason,
        detail: failure.detail,
        field_errors,
        message,
    }
}

/// Field paths are computed on the pod; report them where they sit in the
/// submitted resource.
fn field_in_resource(field: &str, kind: &str) -> String {
    // (where the pod spec sits, where the metadata the checks read sits)
    let (spec, metadata) = match kind {
        "DaemonSet"
        | "Deployment"
        | "Job"
        | "StatefulSet"
        | "ReplicaSet"
        | "ReplicationController" => ("spec.template.spec", "spec.template.metadata"),
        "CronJob" => (
            "spec.jobTemplate.spec.template.spec",
            "spec.jobTemplate.metadata",
        ),
        _ => return field.to_string(),
    };
    if let Some(rest) = field.strip_prefix("spec") {
        format!("{spec}{rest}")
    } else if let Some(rest) = field.strip_prefix("metadata") {
        format!("{metadata}{rest}")
    } else {
        field.to_string()
    }
}

static CONTAINER_NAMES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"containers?\s*(.*?)\s*must").expect("valid regex"));

/// Kyverno reads the container names back out of the detail text and reports
/// their images (or the bare name when no container has it).
fn images_named_in(detail: &str, pod: &Pod) -> Vec<String> {
    let Some(names) = CONTAINER_NAMES.captures(detail).and_then(|c| c.get(1)) else {
        return vec![];
    };
    let names: String = names
        .as_str()
        .chars()
        .filter(|c| *c != '"' && *c != ' ')
        .collect();
    let spec = pod.spec();
    names
        .split(',')
        .map(|name| {
            [
                &spec.containers,
                &spec.init_containers,
                &spec.ephemeral_containers,
            ]
            .into_iter()
            .flat_map(|list| list.iter().flatten())
            .find(|c| c.name() == name)
            .map(|c| normalized_image(c.image()))
            .unwrap_or_else(|| name.to_string())
        })
        .collect()
}

/// `nginx` → `docker.io/nginx:latest`; a digest wins over a tag.
fn normalized_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let first = path.split('/').next().unwrap_or("");
    let has_registry =
        path.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        path.to_string()
    } else {
        format!("docker.io/{path}")
    };
    match (digest, tag) {
        (Some(d), _) => format!("{full}@{d}"),
        (None, Some(t)) => format!("{full}:{t}"),
        (None, None) => format!("{full}:latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_normalised_like_kyverno() {
        assert_eq!(normalized_image("nginx"), "docker.io/nginx:latest");
        assert_eq!(
            normalized_image("library/nginx:1.25"),
            "docker.io/library/nginx:1.25"
        );
        assert_eq!(
            normalized_image("registry.local:5000/team/app:v1"),
            "registry.local:5000/team/app:v1"
        );
        assert_eq!(
            normalized_image("ghcr.io/a/b:1@sha256:abc"),
            "ghcr.io/a/b@sha256:abc"
        );
        assert_eq!(normalized_image("localhost/app"), "localhost/app:latest");
    }

    #[test]
    fn controller_fields_point_into_the_template() {
        assert_eq!(
            field_in_resource(
                "spec.containers[0].securityContext.privileged",
                "Deployment"
            ),
            "spec.template.spec.containers[0].securityContext.privileged"
        );
        assert_eq!(
            field_in_resource("spec.hostPID", "CronJob"),
            "spec.jobTemplate.spec.template.spec.hostPID"
        );
        assert_eq!(field_in_resource("spec.hostPID", "Pod"), "spec.hostPID");
        assert_eq!(
            field_in_resource("metadata.annotations[a/b]", "Deployment"),
            "spec.template.metadata.annotations[a/b]"
        );
        assert_eq!(
            field_in_resource("metadata.annotations[a/b]", "CronJob"),
            "spec.jobTemplate.metadata.annotations[a/b]"
        );
    }
}
