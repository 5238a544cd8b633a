//! The `images` context variable: every container image of a Pod or Pod
//! controller, parsed as Kyverno does. The main function here is [`image_infos`].

use serde_json::{json, Map, Value};

/// Kyverno's default registry, added to images that name none.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// The parts of one image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub registry: String,
    pub path: String,
    pub name: String,
    pub tag: String,
    pub digest: String,
}

impl ImageInfo {
    /// Parse an image reference; `docker.io` and tag `latest` are the defaults.
    ///
    /// ```
    /// use verdict::engine::kyverno::images::ImageInfo;
    /// let i = ImageInfo::parse("nginx").unwrap();
    /// assert_eq!((i.registry.as_str(), i.path.as_str(), i.tag.as_str()), ("docker.io", "nginx", "latest"));
    /// let i = ImageInfo::parse("ghcr.io/org/app:1.2@sha256:abcd").unwrap();
    /// assert_eq!((i.name.as_str(), i.tag.as_str(), i.digest.as_str()), ("app", "1.2", "sha256:abcd"));
    /// ```
    pub fn parse(image: &str) -> Result<ImageInfo, String> {
        let image = image.trim();
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, d.to_string()),
            None => (image, String::new()),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (named, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                rest[last_slash + i + 1..].to_string(),
            ),
            None => (rest, String::new()),
        };
        let (registry, path) = match named.split_once('/') {
            Some((first, tail))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.to_lowercase() != first =>
            {
                (first.to_string(), tail.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), named.to_string()),
        };
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
                })
        };
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(format!("invalid image reference `{image}`"));
        }
        if !tag.is_empty()
            && !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(format!("invalid tag in image reference `{image}`"));
        }
        if !digest.is_empty() && !digest.contains(':') {
            return Err(format!("invalid digest in image reference `{image}`"));
        }
        let tag = if tag.is_empty() && digest.is_empty() {
            "latest".to_string()
        } else {
            tag
        };
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        Ok(ImageInfo {
            registry,
            path,
            name,
            tag,
            digest,
        })
    }

    /// `registry/path@digest`, else `registry/path:tag`.
    pub fn reference(&self) -> String {
        if self.digest.is_empty() {
            format!("{}/{}:{}", self.registry, self.path, self.tag)
        } else {
            format!("{}/{}@{}", self.registry, self.path, self.digest)
        }
    }

    fn to_value(&self, pointer: &str) -> Value {
        let mut m = Map::new();
        m.insert("registry".into(), json!(self.registry));
        m.insert("name".into(), json!(self.name));
        m.insert("path".into(), json!(self.path));
        if !self.tag.is_empty() {
            m.insert("tag".into(), json!(self.tag));
        }
        if !self.digest.is_empty() {
            m.insert("digest".into(), json!(self.digest));
        }
        m.insert("reference".into(), json!(self.reference()));
        m.insert(
            "referenceWithTag".into(),
            json!(format!("{}/{}:{}", self.registry, self.path, self.tag)),
        );
        m.insert("jsonPointer".into(), json!(pointer));
        Value::Object(m)
    }
}

/// `{containers: {<name>: info}, initContainers: ..., ephemeralContainers: ...}`
/// for Pods and Pod controllers; `None` for other kinds or when no image is set.
/// Unparseable images are left out.
pub fn image_infos(resource: &Value) -> Option<Value> {
    let spec_path: &[&str] = match resource["kind"].as_str()? {
        "Pod" => &["spec"],
        "DaemonSet"
        | "Deployment"
        | "ReplicaSet"
        | "ReplicationController"
        | "StatefulSet"
        | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    };
    let mut spec = resource;
    for key in spec_path {
        spec = spec.get(key)?;
    }
    let mut out = Map::new();
    for kind in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(containers) = spec.get(kind).and_then(Value::as_array) else {
            continue;
        };
        let mut infos = Map::new();
        for (i, c) in containers.iter().enumerate() {
            let (Some(name), Some(image)) = (c["name"].as_str(), c["image"].as_str()) else {
                continue;
            };
            if image.trim().is_empty() {
                continue;
            }
            if let Ok(info) = ImageInfo::parse(image) {
                let pointer = format!("/{}/{kind}/{i}/image", spec_path.join("/"));
                infos.insert(name.to_string(), info.to_value(&pointer));
            }
        }
        if !infos.is_empty() {
            out.insert(kind.to_string(), Value::Object(infos));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_detection() {
        assert_eq!(
            ImageInfo::parse("localhost:5000/app").unwrap().registry,
            "localhost:5000"
        );
        assert_eq!(
            ImageInfo::parse("library/nginx:1").unwrap().registry,
            "docker.io"
        );
        assert_eq!(
            ImageInfo::parse("library/nginx:1").unwrap().path,
            "library/nginx"
        );
        assert!(ImageInfo::parse("Nginx").is_err());
    }

    #[test]
    fn controller_images() {
        let d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "busybox:1.0"}]}}}});
        let infos = image_infos(&d).unwrap();
        assert_eq!(infos["containers"]["a"]["tag"], "1.0");
        assert_eq!(
            infos["containers"]["a"]["reference"],
            "docker.io/busybox:1.0"
        );
    }
}
