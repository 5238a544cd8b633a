//! The Pod Security Standards checks, one function per check and version, as the
//! admission library (`k8s.io/pod-security-admission/policy`, Kyverno's fork with
//! field errors) defines them. Each failure carries the admission library's
//! reason and detail text and one field error per offending field, because
//! Kyverno's exclusions work on those field errors.

use std::collections::BTreeSet;

use super::model::{HostHandler, Pod, SeLinuxOptions};

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn parse(level: &str) -> Result<Self, String> {
        match level {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            other => Err(format!(
                "podSecurity.level {other:?} must be one of privileged, baseline, restricted"
            )),
        }
    }
}

/// A policy version: `latest` or `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Latest,
    Minor(u32),
}

impl Version {
    /// Empty means latest, as in Kyverno.
    pub fn parse(version: &str) -> Result<Self, String> {
        if version.is_empty() || version == "latest" {
            return Ok(Version::Latest);
        }
        let bad = || {
            format!("failed to parse pod security api version {version:?}: must be \"latest\" or \"v1.x\"")
        };
        let minor = version.strip_prefix("v1.").ok_or_else(bad)?;
        let well_formed = !minor.is_empty()
            && minor.bytes().all(|b| b.is_ascii_digit())
            && (minor == "0" || !minor.starts_with('0'));
        if !well_formed {
            return Err(bad());
        }
        minor.parse().map(Version::Minor).map_err(|_| bad())
    }

    fn older_than(self, minimum: u32) -> bool {
        match self {
            Version::Latest => false,
            Version::Minor(m) => m < minimum,
        }
    }
}

/// The value a field error reports as forbidden, typed as the Go library types it
/// (exclusion `values` compare against its string forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    None,
    Str(String),
    Bool(bool),
    Int(i64),
    List(Vec<String>),
}

impl BadValue {
    /// The strings Kyverno matches exclusion `values` against; an empty string
    /// counts as no value.
    pub fn strings(&self) -> Vec<String> {
        match self {
            BadValue::None => vec![],
            BadValue::Str(s) if s.is_empty() => vec![],
            BadValue::Str(s) => vec![s.clone()],
            BadValue::Bool(b) => vec![b.to_string()],
            BadValue::Int(i) => vec![i.to_string()],
            BadValue::List(l) => l.clone(),
        }
    }

    /// Go's `%+v` rendering, used in the failure message.
    pub fn render(&self) -> String {
        match self {
            BadValue::None => String::new(),
            BadValue::Str(s) => s.clone(),
            BadValue::Bool(b) => b.to_string(),
            BadValue::Int(i) => i.to_string(),
            BadValue::List(l) => format!("[{}]", l.join(" ")),
        }
    }

    fn is_present(&self) -> bool {
        !matches!(self, BadValue::None) && *self != BadValue::Str(String::new())
    }
}

/// Whether a field had a forbidden value or lacked a required one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Forbidden,
    Required,
}

/// One offending field, e.g. `spec.containers[0].securityContext.privileged`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    pub field: String,
    pub bad_value: BadValue,
}

impl FieldError {
    fn forbidden(field: impl Into<String>, bad_value: BadValue) -> Self {
        FieldError {
            kind: FieldErrorKind::Forbidden,
            field: field.into(),
            bad_value,
        }
    }

    fn required(field: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorKind::Required,
            field: field.into(),
            bad_value: BadValue::None,
        }
    }

    /// Kyverno's rendering in the `field error list` of the message.
    pub fn render(&self) -> String {
        match self.kind {
            FieldErrorKind::Forbidden if self.bad_value.is_present() => format!(
                "{} is forbidden, forbidden values found: {}",
                self.field,
                self.bad_value.render()
            ),
            FieldErrorKind::Forbidden => format!("{}: Forbidden", self.field),
            FieldErrorKind::Required => format!("{}: Required value", self.field),
        }
    }
}

/// A failed check, before exclusions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub reason: String,
    pub detail: String,
    /// `None` for checks that report no field errors (and so cannot be excluded
    /// field by field).
    pub errors: Option<Vec<FieldError>>,
}

type CheckFn = fn(&Pod) -> Option<CheckFailure>;

/// One check of the standard, with its implementations by minimum version.
pub(crate) struct Check {
    pub id: &'static str,
    pub level: Level,
    versions: &'static [(u32, CheckFn)],
}

impl Check {
    /// Kyverno's version selection: the newest implementation not newer than
    /// `version`, but the oldest one when `version` predates them all (Kyverno
    /// never skips a check for being too new, unlike the admission plugin).
    pub fn implementation(&self, version: Version) -> CheckFn {
        let mut selected = self.versions[0];
        for next in &self.versions[1..] {
            if !version.older_than(next.0) && selected.0 < next.0 {
                selected = *next;
            }
        }
        selected.1
    }
}

/// Every check, in the admission library's registration order.
pub(crate) static CHECKS: &[Check] = &[
    Check {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        versions: &[
            (8, allow_privilege_escalation_1_8),
            (25, allow_privilege_escalation_1_25),
        ],
    },
    Check {
        id: "appArmorProfile",
        level: Level::Baseline,
        versions: &[(0, app_armor_profile)],
    },
    Check {
        id: "capabilities_baseline",
        level: Level::Baseline,
        versions: &[(0, capabilities_baseline)],
    },
    Check {
        id: "capabilities_restricted",
        level: Level::Restricted,
        versions: &[
            (22, capabilities_restricted_1_22),
            (25, capabilities_restricted_1_25),
        ],
    },
    Check {
        id: "hostNamespaces",
        level: Level::Baseline,
        versions: &[(0, host_namespaces)],
    },
    Check {
        id: "hostPathVolumes",
        level: Level::Baseline,
        versions: &[(0, host_path_volumes)],
    },
    Check {
        id: "hostPorts",
        level: Level::Baseline,
        versions: &[(0, host_ports)],
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        versions: &[(34, host_probes_and_lifecycle)],
    },
    Check {
        id: "privileged",
        level: Level::Baseline,
        versions: &[(0, privileged)],
    },
    Check {
        id: "procMount",
        level: Level::Baseline,
        versions: &[(0, proc_mount)],
    },
    Check {
        id: "restrictedVolumes",
        level: Level::Restricted,
        versions: &[(0, restricted_volumes)],
    },
    Check {
        id: "runAsNonRoot",
        level: Level::Restricted,
        versions: &[(0, run_as_non_root)],
    },
    Check {
        id: "runAsUser",
        level: Level::Restricted,
        versions: &[(23, run_as_user)],
    },
    Check {
        id: "seLinuxOptions",
        level: Level::Baseline,
        versions: &[(0, se_linux_options_1_0), (31, se_linux_options_1_31)],
    },
    Check {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        versions: &[
            (0, seccomp_baseline_annotations),
            (19, seccomp_baseline_1_19),
        ],
    },
    Check {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        versions: &[(19, seccomp_restricted_1_19), (25, seccomp_restricted_1_25)],
    },
    Check {
        id: "sysctls",
        level: Level::Baseline,
        versions: &[
            (0, sysctls_1_0),
            (27, sysctls_1_27),
            (29, sysctls_1_29),
            (32, sysctls_1_32),
        ],
    },
    Check {
        id: "windowsHostProcess",
        level: Level::Baseline,
        versions: &[(0, windows_host_process)],
    },
];

/// Runs the checks of `level` at `version`; failed checks in registry order.
/// Like Kyverno, restricted runs the baseline checks too (no overrides), and
/// privileged runs none.
pub(crate) fn run_checks(
    level: Level,
    version: Version,
    pod: &Pod,
) -> Vec<(&'static str, CheckFailure)> {
    let wanted = |check: &Check| match level {
        Level::Privileged => false,
        Level::Baseline => check.level == Level::Baseline,
        Level::Restricted => true,
    };
    CHECKS
        .iter()
        .filter(|c| wanted(c))
        .filter_map(|c| c.implementation(version)(pod).map(|f| (c.id, f)))
        .collect()
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 {
        singular
    } else {
        plural
    }
}

fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    quoted.join(", ")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Go's `%q` for annotation values in details.
fn go_quote(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}

fn failure(
    reason: impl Into<String>,
    detail: impl Into<String>,
    errors: Vec<FieldError>,
) -> Option<CheckFailure> {
    Some(CheckFailure {
        reason: reason.into(),
        detail: detail.into(),
        errors: Some(errors),
    })
}

// ---- baseline ----

fn privileged(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for (path, c) in pod.containers() {
        if c.security_context.as_ref().and_then(|s| s.privileged) == Some(true) {
            names.push(c.name().to_string());
            errors.push(FieldError::forbidden(
                format!("{path}.securityContext.privileged"),
                BadValue::Bool(true),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    failure(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&names)
        ),
        errors,
    )
}

fn host_namespaces(pod: &Pod) -> Option<CheckFailure> {
    let spec = pod.spec();
    let mut data = Vec::new();
    let mut errors = Vec::new();
    for (set, field) in [
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
        (spec.host_ipc, "hostIPC"),
    ] {
        if set == Some(true) {
            data.push(format!("{field}=true"));
            errors.push(FieldError::forbidden(
                format!("spec.{field}"),
                BadValue::Bool(true),
            ));
        }
    }
    if data.is_empty() {
        return None;
    }
    failure("host namespaces", data.join(", "), errors)
}

fn host_path_volumes(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for (i, volume) in pod.spec().volumes.iter().flatten().enumerate() {
        if let Some(path) = &volume.host_path {
            names.push(volume.name().to_string());
            errors.push(FieldError::forbidden(
                format!("spec.volumes[{i}].hostPath"),
                BadValue::Str(path.to_string()),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    failure(
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
        errors,
    )
}

fn host_ports(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut ports = BTreeSet::new();
    let mut errors = Vec::new();
    for (path, c) in pod.containers() {
        let mut bad = false;
        for (i, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port != 0 {
                bad = true;
                ports.insert(host_port.to_string());
                errors.push(FieldError::forbidden(
                    format!("{path}.ports[{i}].hostPort"),
                    BadValue::Int(host_port.into()),
                ));
            }
        }
        if bad {
            names.push(c.name().to_string());
        }
    }
    if names.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    failure(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&names),
            pluralize("uses", "use", names.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
        errors,
    )
}

fn host_probes_and_lifecycle(pod: &Pod) -> Option<CheckFailure> {
    fn hosts(handler: Option<&HostHandler>, into: &mut BTreeSet<String>) -> bool {
        let mut found = false;
        if let Some(h) = handler {
            for host in [&h.http_get, &h.tcp_socket]
                .into_iter()
                .flatten()
                .filter_map(|f| f.host.as_deref())
            {
                if !host.is_empty() {
                    into.insert(host.to_string());
                    found = true;
                }
            }
        }
        found
    }
    let mut names = BTreeSet::new();
    let mut forbidden = BTreeSet::new();
    for (_, c) in pod.containers() {
        let lifecycle = c.lifecycle.as_ref();
        let handlers = [
            c.liveness_probe.as_ref(),
            c.readiness_probe.as_ref(),
            c.startup_probe.as_ref(),
            lifecycle.and_then(|l| l.post_start.as_ref()),
            lifecycle.and_then(|l| l.pre_stop.as_ref()),
        ];
        for handler in handlers {
            if hosts(handler, &mut forbidden) {
                names.insert(c.name().to_string());
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let names: Vec<String> = names.into_iter().collect();
    Some(CheckFailure {
        reason: "probe or lifecycle host".into(),
        detail: format!(
            "{} {} {} {}",
            containers_phrase(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                forbidden.len()
            ),
            join_quote(&forbidden)
        ),
        errors: None,
    })
}

fn windows_host_process(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut container_errors = Vec::new();
    for (path, c) in pod.containers() {
        let set = c
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref())
            .and_then(|w| w.host_process);
        if set == Some(true) {
            names.push(c.name().to_string());
            container_errors.push(FieldError::forbidden(
                format!("{path}.securityContext.windowsOptions.hostProcess"),
                BadValue::Bool(true),
            ));
        }
    }
    let mut setters = Vec::new();
    let mut errors = Vec::new();
    let pod_set = pod
        .pod_security_context()
        .and_then(|s| s.windows_options.as_ref())
        .and_then(|w| w.host_process);
    if pod_set == Some(true) {
        setters.push("pod".to_string());
        errors.push(FieldError::forbidden(
            "spec.securityContext.windowsOptions.hostProcess",
            BadValue::Bool(true),
        ));
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
        errors.extend(container_errors);
    }
    if setters.is_empty() {
        return None;
    }
    failure(
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
        errors,
    )
}

const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut all_forbidden = BTreeSet::new();
    let mut errors = Vec::new();
    for (path, c) in pod.containers() {
        let Some(caps) = c
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref())
        else {
            continue;
        };
        let forbidden: BTreeSet<String> = caps
            .add
            .iter()
            .flatten()
            .filter(|cap| !BASELINE_CAPABILITIES.contains(&cap.as_str()))
            .cloned()
            .collect();
        if !forbidden.is_empty() {
            all_forbidden.extend(forbidden.iter().cloned());
            names.push(c.name().to_string());
            errors.push(FieldError::forbidden(
                format!("{path}.securityContext.capabilities.add"),
                BadValue::List(forbidden.into_iter().collect()),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    failure(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&names),
            join_quote(&all_forbidden)
        ),
        errors,
    )
}

fn proc_mount(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut errors = Vec::new();
    for (path, c) in pod.containers() {
        if let Some(mount) = c
            .security_context
            .as_ref()
            .and_then(|s| s.proc_mount.as_ref())
        {
            if mount != "Default" {
                names.push(c.name().to_string());
                types.insert(mount.clone());
                errors.push(FieldError::forbidden(
                    format!("{path}.securityContext.procMount"),
                    BadValue::Str(mount.clone()),
                ));
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    failure(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&names),
            join_quote(&types)
        ),
        errors,
    )
}

const SELINUX_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn se_linux_options_1_0(pod: &Pod) -> Option<CheckFailure> {
    se_linux_options(pod, SELINUX_TYPES_1_0)
}

fn se_linux_options_1_31(pod: &Pod) -> Option<CheckFailure> {
    se_linux_options(pod, SELINUX_TYPES_1_31)
}

fn se_linux_options(pod: &Pod, allowed_types: &[&str]) -> Option<CheckFailure> {
    let mut bad_types = BTreeSet::new();
    let mut set_user = false;
    let mut set_role = false;
    // Field errors for one seLinuxOptions block; `prefix` is the securityContext path.
    let mut judge =
        |options: &SeLinuxOptions, prefix: &str, errors: &mut Vec<FieldError>| -> bool {
            let mut valid = true;
            let kind = options.type_.as_deref().unwrap_or("");
            if !allowed_types.contains(&kind) {
                valid = false;
                bad_types.insert(kind.to_string());
                errors.push(FieldError::forbidden(
                    format!("{prefix}.seLinuxOptions.type"),
                    BadValue::Str(kind.to_string()),
                ));
            }
            for (value, field, flag) in [
                (&options.user, "user", &mut set_user),
                (&options.role, "role", &mut set_role),
            ] {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    valid = false;
                    *flag = true;
                    errors.push(FieldError::forbidden(
                        format!("{prefix}.seLinuxOptions.{field}"),
                        BadValue::Str(v.to_string()),
                    ));
                }
            }
            valid
        };
    let mut setters = Vec::new();
    let mut errors = Vec::new();
    if let Some(options) = pod
        .pod_security_context()
        .and_then(|s| s.se_linux_options.as_ref())
    {
        let mut pod_errors = Vec::new();
        if !judge(options, "spec.securityContext", &mut pod_errors) {
            setters.push("pod".to_string());
            errors.extend(pod_errors);
        }
    }
    let mut names = Vec::new();
    let mut container_errors = Vec::new();
    for (path, c) in pod.containers() {
        if let Some(options) = c
            .security_context
            .as_ref()
            .and_then(|s| s.se_linux_options.as_ref())
        {
            if !judge(
                options,
                &format!("{path}.securityContext"),
                &mut container_errors,
            ) {
                names.push(c.name().to_string());
            }
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
        errors.extend(container_errors);
    }
    if setters.is_empty() {
        return None;
    }
    let mut bad_data = Vec::new();
    if !bad_types.is_empty() {
        bad_data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&bad_types)
        ));
    }
    if set_user {
        bad_data.push("user may not be set".to_string());
    }
    if set_role {
        bad_data.push("role may not be set".to_string());
    }
    failure(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            bad_data.join("; ")
        ),
        errors,
    )
}

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn app_armor_profile(pod: &Pod) -> Option<CheckFailure> {
    let allowed_type = |t: &str| t == "RuntimeDefault" || t == "Localhost";
    let mut setters = Vec::new();
    let mut errors = Vec::new();
    let mut bad_values = BTreeSet::new();
    if let Some(profile) = pod
        .pod_security_context()
        .and_then(|s| s.app_armor_profile.as_ref())
    {
        if !allowed_type(profile.kind()) {
            setters.push("pod".to_string());
            errors.push(FieldError::forbidden(
                "spec.securityContext.appArmorProfile.type",
                BadValue::Str(profile.kind().to_string()),
            ));
            bad_values.insert(profile.kind().to_string());
        }
    }
    let mut names = Vec::new();
    let mut container_errors = Vec::new();
    for (path, c) in pod.containers() {
        if let Some(profile) = c
            .security_context
            .as_ref()
            .and_then(|s| s.app_armor_profile.as_ref())
        {
            if !allowed_type(profile.kind()) {
                names.push(c.name().to_string());
                container_errors.push(FieldError::forbidden(
                    format!("{path}.securityContext.appArmorProfile.type"),
                    BadValue::Str(profile.kind().to_string()),
                ));
                bad_values.insert(profile.kind().to_string());
            }
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
        errors.extend(container_errors);
    }
    let mut bad_value_list: Vec<String> = bad_values.into_iter().collect();
    let mut annotations = Vec::new();
    for (key, value) in pod.annotations() {
        let allowed =
            value.is_empty() || value == "runtime/default" || value.starts_with("localhost/");
        if key.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed {
            annotations.push(format!("{key}={}", go_quote(value)));
            errors.push(FieldError::forbidden(
                format!("metadata.annotations[{key}]"),
                BadValue::Str(value.clone()),
            ));
        }
    }
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        bad_value_list.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    failure(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad_value_list.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&bad_value_list)
        ),
        errors,
    )
}

fn valid_seccomp(kind: &str) -> bool {
    kind == "RuntimeDefault" || kind == "Localhost"
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// Before v1.19 seccomp was set by alpha annotations.
fn seccomp_baseline_annotations(pod: &Pod) -> Option<CheckFailure> {
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let mut forbidden = std::collections::BTreeMap::<String, Vec<FieldError>>::new();
    let mut judge = |key: &str| {
        if let Some(value) = pod.annotation(key) {
            if !valid(value) {
                forbidden
                    .entry(format!("{key}={}", go_quote(value)))
                    .or_default()
                    .push(FieldError::forbidden(
                        format!("metadata.annotations[{key}]"),
                        BadValue::Str(value.to_string()),
                    ));
            }
        }
    };
    judge(SECCOMP_POD_ANNOTATION);
    for (_, c) in pod.containers() {
        judge(&format!(
            "{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}",
            c.name()
        ));
    }
    if forbidden.is_empty() {
        return None;
    }
    let values: Vec<String> = forbidden.keys().cloned().collect();
    failure(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", values.len()),
            values.join(", ")
        ),
        forbidden.into_values().flatten().collect(),
    )
}

fn seccomp_baseline_1_19(pod: &Pod) -> Option<CheckFailure> {
    let mut setters = Vec::new();
    let mut errors = Vec::new();
    let mut bad_values = BTreeSet::new();
    if let Some(profile) = pod
        .pod_security_context()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        if !valid_seccomp(profile.kind()) {
            setters.push("pod".to_string());
            errors.push(FieldError::forbidden(
                "spec.securityContext.seccompProfile.type",
                BadValue::Str(profile.kind().to_string()),
            ));
            bad_values.insert(profile.kind().to_string());
        }
    }
    let mut names = Vec::new();
    let mut container_errors = Vec::new();
    for (path, c) in pod.containers() {
        if let Some(profile) = c
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
        {
            if !valid_seccomp(profile.kind()) {
                names.push(c.name().to_string());
                container_errors.push(FieldError::forbidden(
                    format!("{path}.securityContext.seccompProfile.type"),
                    BadValue::Str(profile.kind().to_string()),
                ));
                bad_values.insert(profile.kind().to_string());
            }
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
        errors.extend(container_errors);
    }
    if setters.is_empty() {
        return None;
    }
    failure(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&bad_values)
        ),
        errors,
    )
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_ADDED_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_ADDED_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_ADDED_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

fn sysctls_1_0(pod: &Pod) -> Option<CheckFailure> {
    sysctls(pod, &[SYSCTLS_1_0])
}

fn sysctls_1_27(pod: &Pod) -> Option<CheckFailure> {
    sysctls(pod, &[SYSCTLS_1_0, SYSCTLS_ADDED_1_27])
}

fn sysctls_1_29(pod: &Pod) -> Option<CheckFailure> {
    sysctls(pod, &[SYSCTLS_1_0, SYSCTLS_ADDED_1_27, SYSCTLS_ADDED_1_29])
}

fn sysctls_1_32(pod: &Pod) -> Option<CheckFailure> {
    sysctls(
        pod,
        &[
            SYSCTLS_1_0,
            SYSCTLS_ADDED_1_27,
            SYSCTLS_ADDED_1_29,
            SYSCTLS_ADDED_1_32,
        ],
    )
}

fn sysctls(pod: &Pod, allowed: &[&[&str]]) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut errors = Vec::new();
    let list = pod.pod_security_context().and_then(|s| s.sysctls.as_ref());
    for (i, sysctl) in list.into_iter().flatten().enumerate() {
        let name = sysctl.name.as_deref().unwrap_or("");
        if !allowed.iter().any(|set| set.contains(&name)) {
            names.push(name.to_string());
            errors.push(FieldError::forbidden(
                format!("spec.securityContext.sysctls[{i}].name"),
                BadValue::Str(name.to_string()),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    failure("forbidden sysctls", names.join(", "), errors)
}

// ---- restricted ----

fn allow_privilege_escalation_1_8(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for (path, c) in pod.containers() {
        let field = format!("{path}.securityContext.allowPrivilegeEscalation");
        let error = match &c.security_context {
            None => Some(FieldError::required(field)),
            Some(sc) => match sc.allow_privilege_escalation {
                None => Some(FieldError::forbidden(field, BadValue::Str("nil".into()))),
                Some(true) => Some(FieldError::forbidden(field, BadValue::Bool(true))),
                Some(false) => None,
            },
        };
        if let Some(error) = error {
            names.push(c.name().to_string());
            errors.push(error);
        }
    }
    if names.is_empty() {
        return None;
    }
    failure(
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&names)
        ),
        errors,
    )
}

/// From v1.25 Windows pods (`spec.os.name: windows`) are exempt.
fn allow_privilege_escalation_1_25(pod: &Pod) -> Option<CheckFailure> {
    if pod.is_windows() {
        return None;
    }
    allow_privilege_escalation_1_8(pod)
}

fn capabilities_restricted_1_22(pod: &Pod) -> Option<CheckFailure> {
    let mut missing_drop_all = Vec::new();
    let mut missing_errors = Vec::new();
    let mut adding = Vec::new();
    let mut adding_errors = Vec::new();
    let mut all_forbidden = BTreeSet::new();
    for (path, c) in pod.containers() {
        let drop_field = format!("{path}.securityContext.capabilities.drop");
        let Some(caps) = c
            .security_context
            .as_ref()
            .and_then(|s| s.capabilities.as_ref())
        else {
            missing_drop_all.push(c.name().to_string());
            missing_errors.push(FieldError::required(drop_field));
            continue;
        };
        let drop = caps.drop.as_deref().unwrap_or(&[]);
        if !drop.iter().any(|d| d == "ALL") {
            missing_drop_all.push(c.name().to_string());
            if drop.is_empty() {
                missing_errors.push(FieldError::required(drop_field));
            } else {
                let dropped: BTreeSet<String> = drop.iter().cloned().collect();
                missing_errors.push(FieldError::forbidden(
                    drop_field,
                    BadValue::List(dropped.into_iter().collect()),
                ));
            }
        }
        let forbidden: BTreeSet<String> = caps
            .add
            .iter()
            .flatten()
            .filter(|a| *a != "NET_BIND_SERVICE")
            .cloned()
            .collect();
        if !forbidden.is_empty() {
            all_forbidden.extend(forbidden.iter().cloned());
            adding.push(c.name().to_string());
            adding_errors.push(FieldError::forbidden(
                format!("{path}.securityContext.capabilities.add"),
                BadValue::List(forbidden.into_iter().collect()),
            ));
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&all_forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    missing_errors.extend(adding_errors);
    failure(
        "unrestricted capabilities",
        details.join("; "),
        missing_errors,
    )
}

fn capabilities_restricted_1_25(pod: &Pod) -> Option<CheckFailure> {
    if pod.is_windows() {
        return None;
    }
    capabilities_restricted_1_22(pod)
}

const ALLOWED_VOLUME_SOURCES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Restricted volume sources, in the order the admission library tests them.
const RESTRICTED_VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

fn restricted_volumes(pod: &Pod) -> Option<CheckFailure> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, volume) in pod.spec().volumes.iter().flatten().enumerate() {
        if ALLOWED_VOLUME_SOURCES.iter().any(|s| volume.has_source(s)) {
            continue;
        }
        // A volume with no source the library knows is "unknown", and forbidden.
        let kind = RESTRICTED_VOLUME_SOURCES
            .iter()
            .find(|s| volume.has_source(s))
            .copied()
            .unwrap_or("unknown");
        types.insert(kind);
        names.push(volume.name().to_string());
        errors.push(FieldError::forbidden(
            format!("spec.volumes[{i}].{kind}"),
            BadValue::None,
        ));
    }
    if names.is_empty() {
        return None;
    }
    failure(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
        errors,
    )
}

fn run_as_non_root(pod: &Pod) -> Option<CheckFailure> {
    let mut setters = Vec::new();
    let mut setter_errors = Vec::new();
    let mut pod_non_root = false;
    match pod.pod_security_context().and_then(|s| s.run_as_non_root) {
        Some(false) => {
            setters.push("pod".to_string());
            setter_errors.push(FieldError::forbidden(
                "spec.securityContext.runAsNonRoot",
                BadValue::Bool(false),
            ));
        }
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut explicit_errors = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_errors = Vec::new();
    for (path, c) in pod.containers() {
        let field = format!("{path}.securityContext.runAsNonRoot");
        match c.security_context.as_ref().and_then(|s| s.run_as_non_root) {
            Some(false) => {
                explicit.push(c.name().to_string());
                explicit_errors.push(FieldError::forbidden(field, BadValue::Bool(false)));
            }
            Some(true) => {}
            None if !pod_non_root => {
                implicit.push(c.name().to_string());
                implicit_errors.push(FieldError::required(field));
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
        setter_errors.extend(explicit_errors);
    }
    let mut details = Vec::new();
    if !setters.is_empty() {
        details.push(format!(
            "{} must not set securityContext.runAsNonRoot=false",
            setters.join(" and ")
        ));
    }
    if !implicit.is_empty() {
        details.push(format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        ));
    }
    if details.is_empty() {
        return None;
    }
    setter_errors.extend(implicit_errors);
    failure("runAsNonRoot != true", details.join("\n"), setter_errors)
}

fn run_as_user(pod: &Pod) -> Option<CheckFailure> {
    let mut setters = Vec::new();
    let mut errors = Vec::new();
    if pod.pod_security_context().and_then(|s| s.run_as_user) == Some(0) {
        setters.push("pod".to_string());
        errors.push(FieldError::forbidden(
            "spec.securityContext.runAsUser",
            BadValue::Int(0),
        ));
    }
    let mut names = Vec::new();
    for (path, c) in pod.containers() {
        if c.security_context.as_ref().and_then(|s| s.run_as_user) == Some(0) {
            names.push(c.name().to_string());
            errors.push(FieldError::forbidden(
                format!("{path}.securityContext.runAsUser"),
                BadValue::Int(0),
            ));
        }
    }
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    if setters.is_empty() {
        return None;
    }
    failure(
        "runAsUser=0",
        format!("{} must not set runAsUser=0", setters.join(" and ")),
        errors,
    )
}

fn seccomp_restricted_1_19(pod: &Pod) -> Option<CheckFailure> {
    let mut setters = Vec::new();
    let mut setter_errors = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(profile) = pod
        .pod_security_context()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        if valid_seccomp(profile.kind()) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            setter_errors.push(FieldError::forbidden(
                "spec.securityContext.seccompProfile.type",
                BadValue::Str(profile.kind().to_string()),
            ));
            bad_values.insert(profile.kind().to_string());
        }
    }
    let mut explicit = Vec::new();
    let mut explicit_errors = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_errors = Vec::new();
    for (path, c) in pod.containers() {
        let field = format!("{path}.securityContext.seccompProfile.type");
        match c
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
        {
            Some(profile) if !valid_seccomp(profile.kind()) => {
                explicit.push(c.name().to_string());
                explicit_errors.push(FieldError::forbidden(
                    field,
                    BadValue::Str(profile.kind().to_string()),
                ));
                bad_values.insert(profile.kind().to_string());
            }
            Some(_) => {}
            None if !pod_set => {
                implicit.push(c.name().to_string());
                implicit_errors.push(FieldError::required(field));
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
        setter_errors.extend(explicit_errors);
    }
    // Explicitly bad values are reported alone; containers that merely lack a
    // profile only show up when nothing set a bad one.
    if !setters.is_empty() {
        return failure(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&bad_values)
            ),
            setter_errors,
        );
    }
    if !implicit.is_empty() {
        return failure(
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
            implicit_errors,
        );
    }
    None
}

fn seccomp_restricted_1_25(pod: &Pod) -> Option<CheckFailure> {
    if pod.is_windows() {
        return None;
    }
    seccomp_restricted_1_19(pod)
}
