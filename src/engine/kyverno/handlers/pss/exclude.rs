//! Kyverno's `podSecurity.exclude`: exempting a control, optionally only for
//! containers whose image matches, only for one restricted field, and only for
//! some values.
//!
//! Kyverno does this by re-running the checks on a reduced pod (the pod with one
//! bare container for a pod-level exclusion, or only the matching containers for
//! a container-level one) and striking, for each field error found there, one
//! field error of the same wildcarded field (and, for container fields, the same
//! container name) from the full pod's results. A check left with no field
//! errors passes. The quirks of that scheme are kept on purpose, since policies
//! are written against it (e.g. a pod-level Seccomp exclusion also strikes one
//! "container must set seccompProfile" error, because the bare container lacks it).

use serde_json::Value;

use super::checks::{run_checks, CheckFailure, Level, Version};
use super::model::{Container, ContainerKind, Pod};
use crate::engine::kyverno::wildcards::matches as wildcard_match;

/// One entry of `podSecurity.exclude`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    pub control_name: String,
    pub images: Vec<String>,
    pub restricted_field: String,
    pub values: Vec<String>,
}

/// Control names Kyverno accepts, with the check ids each one covers.
const CONTROLS: &[(&str, &[&str])] = &[
    ("HostProcess", &["windowsHostProcess"]),
    ("Host Namespaces", &["hostNamespaces"]),
    ("Privileged Containers", &["privileged"]),
    (
        "Capabilities",
        &["capabilities_baseline", "capabilities_restricted"],
    ),
    ("HostPath Volumes", &["hostPathVolumes"]),
    ("Host Ports", &["hostPorts"]),
    ("AppArmor", &["appArmorProfile"]),
    ("SELinux", &["seLinuxOptions"]),
    ("/proc Mount Type", &["procMount"]),
    (
        "Seccomp",
        &["seccompProfile_baseline", "seccompProfile_restricted"],
    ),
    ("Sysctls", &["sysctls"]),
    ("Volume Types", &["restrictedVolumes"]),
    ("Privilege Escalation", &["allowPrivilegeEscalation"]),
    ("Running as Non-root", &["runAsNonRoot"]),
    ("Running as Non-root user", &["runAsUser"]),
];

/// Controls that only exist per container, so an exclusion must name images.
const CONTAINER_LEVEL_CONTROLS: &[&str] = &[
    "Capabilities",
    "Privileged Containers",
    "Host Ports",
    "/proc Mount Type",
    "Privilege Escalation",
];

/// Controls that only exist on the pod, so an exclusion must not name images.
const POD_LEVEL_CONTROLS: &[&str] = &[
    "Host Namespaces",
    "HostPath Volumes",
    "Sysctls",
    "Volume Types",
];

/// The Pod Security Standards control name a check id belongs to. The probe and
/// lifecycle host check has no Kyverno control (it cannot be excluded).
pub fn control_name(check_id: &str) -> &'static str {
    CONTROLS
        .iter()
        .find(|(_, ids)| ids.contains(&check_id))
        .map(|(name, _)| *name)
        .unwrap_or(match check_id {
            "hostProbesAndHostLifecycle" => "Host Probes / Lifecycle Hooks",
            _ => "",
        })
}

fn check_ids(control: &str) -> &'static [&'static str] {
    CONTROLS
        .iter()
        .find(|(name, _)| *name == control)
        .map(|(_, ids)| *ids)
        .unwrap_or(&[])
}

impl Exclusion {
    /// Reads and validates one `exclude` entry as Kyverno's policy validation does.
    pub fn parse(value: &Value, index: usize) -> Result<Self, String> {
        let at = format!("podSecurity.exclude[{index}]");
        let obj = value
            .as_object()
            .ok_or_else(|| format!("{at} must be an object"))?;
        let string = |key: &str| -> Result<String, String> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!("{at}.{key} must be a string, got {other}")),
            }
        };
        let strings = |key: &str| -> Result<Vec<String>, String> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{at}.{key} must list strings"))
                    })
                    .collect(),
                Some(other) => Err(format!("{at}.{key} must be a list of strings, got {other}")),
            }
        };
        let exclusion = Exclusion {
            control_name: string("controlName")?,
            images: strings("images")?,
            restricted_field: string("restrictedField")?,
            values: strings("values")?,
        };
        if check_ids(&exclusion.control_name).is_empty() {
            return Err(format!(
                "{at}.controlName {:?} is not a Pod Security Standards control (one of {})",
                exclusion.control_name,
                CONTROLS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if CONTAINER_LEVEL_CONTROLS.contains(&exclusion.control_name.as_str())
            && exclusion.images.is_empty()
        {
            return Err(format!(
                "{at}.controlName {:?}: exclude.images must be specified for the container level control",
                exclusion.control_name
            ));
        }
        if POD_LEVEL_CONTROLS.contains(&exclusion.control_name.as_str())
            && !exclusion.images.is_empty()
        {
            return Err(format!(
                "{at}.controlName {:?}: exclude.images must not be specified for the pod level control",
                exclusion.control_name
            ));
        }
        if !exclusion.restricted_field.is_empty() && exclusion.values.is_empty() {
            return Err(format!(
                "{at}.values is required when restrictedField is set"
            ));
        }
        if exclusion.restricted_field.is_empty() && !exclusion.values.is_empty() {
            return Err(format!(
                "{at}.restrictedField is required when values are set"
            ));
        }
        Ok(exclusion)
    }
}

/// Applies the exclusions in order to the failed checks of `pod`.
pub(crate) fn apply(
    level: Level,
    version: Version,
    exclusions: &[Exclusion],
    mut failures: Vec<(&'static str, CheckFailure)>,
    pod: &Pod,
) -> Vec<(&'static str, CheckFailure)> {
    for exclusion in exclusions {
        if exclusion.images.is_empty() {
            let reduced = pod_level_probe(pod);
            let found = run_checks(level, version, &reduced);
            strike(&mut failures, &found, exclusion, pod, None);
        } else {
            let matching = matching_containers(pod, &exclusion.images);
            let found = run_checks(level, version, &matching);
            strike(&mut failures, &found, exclusion, pod, Some(&matching));
        }
    }
    failures
}

/// The pod with its containers replaced by one bare container named `fake`.
fn pod_level_probe(pod: &Pod) -> Pod {
    let mut reduced = pod.clone();
    let spec = reduced.spec.get_or_insert_with(Default::default);
    spec.containers = Some(vec![Container {
        name: Some("fake".into()),
        ..Default::default()
    }]);
    spec.init_containers = None;
    spec.ephemeral_containers = None;
    reduced
}

/// A pod holding only the containers whose image matches; it has no pod-level
/// fields at all, as in Kyverno.
fn matching_containers(pod: &Pod, images: &[String]) -> Pod {
    let spec = pod.spec();
    let keep = |list: &Option<Vec<Container>>| -> Option<Vec<Container>> {
        let kept: Vec<Container> = list
            .iter()
            .flatten()
            .filter(|c| images.iter().any(|p| wildcard_match(p, c.image())))
            .cloned()
            .collect();
        (!kept.is_empty()).then_some(kept)
    };
    let mut matching = Pod::default();
    let reduced = matching.spec.get_or_insert_with(Default::default);
    reduced.containers = keep(&spec.containers);
    reduced.init_containers = keep(&spec.init_containers);
    reduced.ephemeral_containers = keep(&spec.ephemeral_containers);
    matching
}

/// A field path with every run of digits replaced by `*`, plus, when it names a
/// container, which list and index.
fn parse_field(field: &str) -> (String, Option<(ContainerKind, usize)>) {
    let mut wildcarded = String::with_capacity(field.len());
    let mut first_index = None;
    let mut chars = field.char_indices().peekable();
    while let Some((start, ch)) = chars.next() {
        if ch.is_ascii_digit() {
            let mut end = start + 1;
            while let Some(&(i, c)) = chars.peek() {
                if !c.is_ascii_digit() {
                    break;
                }
                end = i + 1;
                chars.next();
            }
            if first_index.is_none() {
                first_index = field[start..end].parse::<usize>().ok();
            }
            wildcarded.push('*');
        } else {
            wildcarded.push(ch);
        }
    }
    let second_word = field
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .nth(1)
        .and_then(ContainerKind::from_field);
    let container = second_word.zip(first_index);
    (wildcarded, container)
}

fn strike(
    failures: &mut Vec<(&'static str, CheckFailure)>,
    found: &[(&'static str, CheckFailure)],
    exclusion: &Exclusion,
    pod: &Pod,
    matching: Option<&Pod>,
) {
    let ids = check_ids(&exclusion.control_name);
    for (found_id, found_failure) in found.iter().filter(|(id, _)| ids.contains(id)) {
        let Some(found_errors) = &found_failure.errors else {
            continue;
        };
        for found_error in found_errors {
            let (field, container) = match matching {
                Some(_) => parse_field(&found_error.field),
                None => (parse_field(&found_error.field).0, None),
            };
            let excluded_name = container
                .and_then(|(kind, i)| matching.and_then(|m| m.container_at(kind, i)))
                .map(|c| c.name().to_string())
                .unwrap_or_default();
            if !exclusion.restricted_field.is_empty() && exclusion.restricted_field != field {
                continue;
            }
            let values_allowed = exclusion.values.is_empty()
                || found_error
                    .bad_value
                    .strings()
                    .iter()
                    .all(|v| exclusion.values.iter().any(|p| wildcard_match(p, v)));
            if !values_allowed {
                continue;
            }
            let Some(position) = failures.iter().position(|(id, _)| id == found_id) else {
                continue;
            };
            let Some(errors) = failures[position].1.errors.as_mut() else {
                continue;
            };
            let hit = errors.iter().position(|candidate| {
                let (candidate_field, candidate_container) = parse_field(&candidate.field);
                match (matching, candidate_container) {
                    (Some(_), Some((kind, i))) => {
                        let name = pod.container_at(kind, i).map(|c| c.name()).unwrap_or("");
                        candidate_field == field && name == excluded_name
                    }
                    _ => candidate_field == field,
                }
            });
            if let Some(hit) = hit {
                // Kyverno removes by swapping in the last error; keep its order.
                errors.swap_remove(hit);
                if errors.is_empty() {
                    failures.remove(position);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_kyverno() {
        assert!(wildcard_match(
            "ghcr.io/kyverno/test-nginx*",
            "ghcr.io/kyverno/test-nginx:1.2"
        ));
        assert!(wildcard_match("redis*", "redis"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("ngin?", "nginx"));
        assert!(!wildcard_match("ngin?", "ngin"));
        assert!(!wildcard_match("nginx", "nginx:latest"));
        assert!(wildcard_match("*:latest", "docker.io/nginx:latest"));
    }

    #[test]
    fn fields_are_wildcarded_and_containers_located() {
        assert_eq!(
            parse_field("spec.initContainers[2].ports[10].hostPort"),
            (
                "spec.initContainers[*].ports[*].hostPort".to_string(),
                Some((ContainerKind::Init, 2))
            )
        );
        assert_eq!(
            parse_field("spec.volumes[0].hostPath"),
            ("spec.volumes[*].hostPath".to_string(), None)
        );
        assert_eq!(
            parse_field("metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]")
                .1,
            None
        );
    }
}
