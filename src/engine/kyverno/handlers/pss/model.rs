//! The slice of a Pod that the Pod Security Standards read, typed the way Kyverno
//! decodes it (`corev1.Pod`): a field of the wrong JSON type is an error, an
//! absent or `null` field is "unset", unknown fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A pod as the checks see it: the pod template's metadata and spec.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Pod {
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
    #[serde(default)]
    pub spec: Option<PodSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ObjectMeta {
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpec {
    #[serde(default)]
    pub host_network: Option<bool>,
    #[serde(default, rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(default, rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    #[serde(default)]
    pub security_context: Option<PodSecurityContext>,
    #[serde(default)]
    pub init_containers: Option<Vec<Container>>,
    #[serde(default)]
    pub containers: Option<Vec<Container>>,
    #[serde(default)]
    pub ephemeral_containers: Option<Vec<Container>>,
    #[serde(skip)]
    pub volumes: Option<Vec<Volume>>,
    #[serde(default)]
    pub os: Option<PodOs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PodOs {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSecurityContext {
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default)]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(default)]
    pub seccomp_profile: Option<ProfileType>,
    #[serde(default)]
    pub app_armor_profile: Option<ProfileType>,
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
    #[serde(default)]
    pub sysctls: Option<Vec<Sysctl>>,
}

/// Containers, init containers and ephemeral containers share these fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub security_context: Option<SecurityContext>,
    #[serde(default)]
    pub ports: Option<Vec<ContainerPort>>,
    #[serde(default)]
    pub liveness_probe: Option<HostHandler>,
    #[serde(default)]
    pub readiness_probe: Option<HostHandler>,
    #[serde(default)]
    pub startup_probe: Option<HostHandler>,
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
}

impl Container {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    pub fn image(&self) -> &str {
        self.image.as_deref().unwrap_or("")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecurityContext {
    #[serde(default)]
    pub privileged: Option<bool>,
    #[serde(default)]
    pub allow_privilege_escalation: Option<bool>,
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub proc_mount: Option<String>,
    #[serde(default)]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(default)]
    pub seccomp_profile: Option<ProfileType>,
    #[serde(default)]
    pub app_armor_profile: Option<ProfileType>,
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Capabilities {
    #[serde(default, deserialize_with = "strings_allowing_null")]
    pub add: Option<Vec<String>>,
    #[serde(default, deserialize_with = "strings_allowing_null")]
    pub drop: Option<Vec<String>>,
}

/// Go decodes a `null` list item into a string as the empty string.
fn strings_allowing_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    let items = Option::<Vec<Option<String>>>::deserialize(d)?;
    Ok(items.map(|list| list.into_iter().map(Option::unwrap_or_default).collect()))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SeLinuxOptions {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
}

/// `seccompProfile` and `appArmorProfile`: only `type` matters; in Go it is a
/// plain string, so an object without `type` has the empty type.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProfileType {
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
}

impl ProfileType {
    pub fn kind(&self) -> &str {
        self.type_.as_deref().unwrap_or("")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WindowsOptions {
    #[serde(default)]
    pub host_process: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Sysctl {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    #[serde(default)]
    pub host_port: Option<i32>,
}

/// A probe or lifecycle handler: only the `host` of `httpGet` / `tcpSocket` matters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HostHandler {
    #[serde(default)]
    pub http_get: Option<HostField>,
    #[serde(default)]
    pub tcp_socket: Option<HostField>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct HostField {
    #[serde(default)]
    pub host: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Lifecycle {
    #[serde(default)]
    pub post_start: Option<HostHandler>,
    #[serde(default)]
    pub pre_stop: Option<HostHandler>,
}

/// A volume as the volume checks see it: its name, which source keys are set
/// (non-null), and the hostPath path. Read by hand rather than through serde,
/// so an arbitrarily deep volume source is never walked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Volume {
    pub name: String,
    pub sources: Vec<String>,
    pub host_path: Option<String>,
}

impl Volume {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn has_source(&self, key: &str) -> bool {
        self.sources.iter().any(|s| s == key)
    }

    fn from_value(value: &Value, index: usize) -> Result<Self, String> {
        let at = format!("spec.volumes[{index}]");
        let obj = value
            .as_object()
            .ok_or_else(|| format!("{at} must be an object"))?;
        let name = match obj.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("{at}.name must be a string, got {other}")),
        };
        let sources = obj
            .iter()
            .filter(|(k, v)| k.as_str() != "name" && !v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        let host_path = match obj.get("hostPath") {
            None | Some(Value::Null) => None,
            Some(Value::Object(h)) => match h.get("path") {
                None | Some(Value::Null) => Some(String::new()),
                Some(Value::String(p)) => Some(p.clone()),
                Some(other) => {
                    return Err(format!("{at}.hostPath.path must be a string, got {other}"))
                }
            },
            Some(other) => return Err(format!("{at}.hostPath must be an object, got {other}")),
        };
        Ok(Volume {
            name,
            sources,
            host_path,
        })
    }
}

fn volumes_from_value(spec: &Value) -> Result<Option<Vec<Volume>>, String> {
    match spec.get("volumes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| Volume::from_value(v, i))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("spec.volumes must be a list, got {other}")),
    }
}

/// Which kind of container list a container came from, in visiting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

impl ContainerKind {
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }

    pub fn from_field(field: &str) -> Option<Self> {
        match field {
            "initContainers" => Some(ContainerKind::Init),
            "containers" => Some(ContainerKind::Regular),
            "ephemeralContainers" => Some(ContainerKind::Ephemeral),
            _ => None,
        }
    }
}

impl Pod {
    pub fn spec(&self) -> &PodSpec {
        static EMPTY: PodSpec = PodSpec {
            host_network: None,
            host_pid: None,
            host_ipc: None,
            security_context: None,
            init_containers: None,
            containers: None,
            ephemeral_containers: None,
            volumes: None,
            os: None,
        };
        self.spec.as_ref().unwrap_or(&EMPTY)
    }

    pub fn annotations(&self) -> impl Iterator<Item = (&String, &String)> {
        self.metadata
            .iter()
            .filter_map(|m| m.annotations.as_ref())
            .flat_map(|a| a.iter())
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    /// Containers in the order the admission library visits them (init,
    /// regular, ephemeral), each with its field path `spec.<list>[<i>]`.
    pub fn containers(&self) -> Vec<(String, &Container)> {
        let spec = self.spec();
        let mut out = Vec::new();
        for (kind, list) in [
            (ContainerKind::Init, &spec.init_containers),
            (ContainerKind::Regular, &spec.containers),
            (ContainerKind::Ephemeral, &spec.ephemeral_containers),
        ] {
            for (i, c) in list.iter().flatten().enumerate() {
                out.push((format!("spec.{}[{i}]", kind.field()), c));
            }
        }
        out
    }

    pub fn container_at(&self, kind: ContainerKind, index: usize) -> Option<&Container> {
        let spec = self.spec();
        let list = match kind {
            ContainerKind::Init => &spec.init_containers,
            ContainerKind::Regular => &spec.containers,
            ContainerKind::Ephemeral => &spec.ephemeral_containers,
        };
        list.as_ref().and_then(|l| l.get(index))
    }

    pub fn pod_security_context(&self) -> Option<&PodSecurityContext> {
        self.spec().security_context.as_ref()
    }

    pub fn is_windows(&self) -> bool {
        self.spec()
            .os
            .as_ref()
            .and_then(|o| o.name.as_deref())
            .is_some_and(|n| n == "windows")
    }
}

/// Where the pod template sits in each kind Kyverno's podSecurity handler accepts.
/// A CronJob takes its metadata from `spec.jobTemplate.metadata`, as Kyverno does.
pub(crate) fn pod_from_resource(resource: &Value) -> Result<Pod, String> {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let (metadata, spec) = match kind {
        "Pod" => (resource.get("metadata"), resource.get("spec")),
        "DaemonSet" | "Deployment" | "Job" | "StatefulSet" | "ReplicaSet"
        | "ReplicationController" => {
            let template = resource.pointer("/spec/template");
            (
                template.and_then(|t| t.get("metadata")),
                template.and_then(|t| t.get("spec")),
            )
        }
        "CronJob" => (
            resource.pointer("/spec/jobTemplate/metadata"),
            resource.pointer("/spec/jobTemplate/spec/template/spec"),
        ),
        other => {
            return Err(format!(
                "podSecurity cannot evaluate a resource of kind {other:?}: could not find correct resource type"
            ))
        }
    };
    let decode_error =
        |what: &str, e: serde_json::Error| format!("Error while getting new resource: {what}: {e}");
    // Decoding from `&Value` skips unknown fields without walking them.
    let metadata = match metadata {
        Some(m) => Option::<ObjectMeta>::deserialize(m).map_err(|e| decode_error("metadata", e))?,
        None => None,
    };
    let spec = match spec {
        Some(raw) => {
            match Option::<PodSpec>::deserialize(raw).map_err(|e| decode_error("pod spec", e))? {
                Some(mut spec) => {
                    spec.volumes = volumes_from_value(raw)
                        .map_err(|e| format!("Error while getting new resource: {e}"))?;
                    Some(spec)
                }
                None => None,
            }
        }
        None => None,
    };
    Ok(Pod { metadata, spec })
}
