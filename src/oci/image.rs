//! Small deterministic OCI images, built in memory from a spec and pushed: the
//! same spec always gives the same digest, so snapshots can name it.

use super::client::{sha256, RegistryClient, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};
use super::cosign::{error, Location, VerifyFailure};
use oci_client::Reference;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// What to build: a repository and tag, some files, some labels, and optionally
/// several platforms (then the tag names a multi-arch index).
///
/// A repository whose first part names a registry (`registry.example.com/shop/web`)
/// is mirrored on the run's registry under that name, and signatures name it as
/// written; a bare path (`shop/web`) lives on the run's registry itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    pub repository: String,
    #[serde(default = "latest")]
    pub tag: String,
    /// Path in the image → text content.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `os/arch` pairs (`linux/amd64`); empty for a single-platform image.
    #[serde(default)]
    pub platforms: Vec<String>,
}

fn latest() -> String {
    "latest".to_string()
}

/// An image now in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// `host/path`: where it is pushed and fetched.
    pub repository: String,
    /// The repository as signatures name it: the spec's when mirrored, else `repository`.
    pub identity: String,
    /// `host/path:tag`.
    pub tagged: String,
    /// Manifest (or index) digest.
    pub digest: String,
}

impl PushedImage {
    /// `host/path@digest`.
    pub fn by_digest(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }

    /// Where to fetch it by digest, and the name its signatures carry.
    pub fn location(&self) -> Result<Location, VerifyFailure> {
        let fetch = self.by_digest().parse().map_err(|e| error("reference", format!("{}: {e}", self.by_digest())))?;
        Ok(Location { fetch, identity: self.identity.clone() })
    }
}

/// Whether a reference's first part names a registry rather than a path (as Docker decides).
pub fn names_registry(reference: &str) -> bool {
    reference.split_once('/').is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost")
}

/// The path on the run's registry (`host`) that mirrors `repository`; a registry's
/// port colon becomes `-` to stay a valid path.
pub fn mirror_path(host: &str, repository: &str) -> String {
    if names_registry(repository) {
        let (registry, path) = repository.split_once('/').unwrap_or((repository, ""));
        format!("{host}/{}/{path}", registry.replace(':', "-"))
    } else {
        format!("{host}/{repository}")
    }
}

/// Where the run's registry at `host` serves `image` (`registry.example.com/shop/web:1`,
/// by tag or digest), and the repository its signatures must name.
pub fn mirror_location(host: &str, image: &str) -> Result<Location, VerifyFailure> {
    let (named, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = named.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match named[last..].rfind(':') {
        Some(i) => (&named[..last + i], Some(&named[last + i + 1..])),
        None => (named, None),
    };
    let qualified = if names_registry(repository) { repository.to_string() } else { format!("docker.io/{repository}") };
    let mut fetch = mirror_path(host, &qualified);
    match (tag, digest) {
        (_, Some(d)) => fetch.push_str(&format!("@{d}")),
        (Some(t), None) => fetch.push_str(&format!(":{t}")),
        (None, None) => fetch.push_str(":latest"),
    }
    let fetch = fetch.parse().map_err(|e| error("reference", format!("{image}: {e}")))?;
    Ok(Location { fetch, identity: qualified })
}

/// The layer: a tar of the spec's files (sorted, owned by root, mtime 0), gzip-compressed.
fn layer(spec: &ImageSpec) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, content) in &spec.files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, path.trim_start_matches('/'), content.as_bytes()).map_err(|e| e.to_string())?;
    }
    let tar = tar.into_inner().map_err(|e| e.to_string())?;
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).map_err(|e| e.to_string())?;
    let gz = gz.finish().map_err(|e| e.to_string())?;
    Ok((tar, gz))
}

/// Build the image of `spec` and push it to `host` by tag; returns where it is.
pub fn build_and_push(client: &RegistryClient, host: &str, spec: &ImageSpec) -> Result<PushedImage, String> {
    let repository = mirror_path(host, &spec.repository);
    let identity = if names_registry(&spec.repository) { spec.repository.clone() } else { repository.clone() };
    let tagged = format!("{repository}:{}", spec.tag);
    let reference: Reference = tagged.parse().map_err(|e| format!("{tagged}: {e}"))?;
    let (tar, gz) = layer(spec)?;
    client.push_blob(&reference, gz.clone())?;
    let single = |os: &str, arch: &str| -> Result<(Vec<u8>, String), String> {
        let config = serde_json::to_vec(&json!({
            "architecture": arch,
            "os": os,
            "config": {"Labels": spec.labels},
            "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
        }))
        .map_err(|e| e.to_string())?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(&config), "size": config.len()},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": sha256(&gz), "size": gz.len()}],
        }))
        .map_err(|e| e.to_string())?;
        client.push_blob(&reference, config)?;
        let digest = sha256(&manifest);
        Ok((manifest, digest))
    };
    if spec.platforms.is_empty() {
        let (manifest, _) = single("linux", "amd64")?;
        let digest = client.push_manifest(&reference, manifest, OCI_MANIFEST)?;
        return Ok(PushedImage { repository, identity, tagged, digest });
    }
    let mut entries = Vec::new();
    for platform in &spec.platforms {
        let (os, arch) = platform.split_once('/').ok_or_else(|| format!("platform `{platform}` is not os/arch"))?;
        let (manifest, digest) = single(os, arch)?;
        let by_digest: Reference = format!("{repository}@{digest}").parse().map_err(|e| format!("{e}"))?;
        client.push_manifest(&by_digest, manifest.clone(), OCI_MANIFEST)?;
        entries.push(json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(), "platform": {"os": os, "architecture": arch}}));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})).map_err(|e| e.to_string())?;
    let digest = client.push_manifest(&reference, index, OCI_INDEX)?;
    Ok(PushedImage { repository, identity, tagged, digest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_spec_gives_the_same_layer() {
        let spec = ImageSpec {
            repository: "r".into(),
            tag: "1".into(),
            files: [("/app/b.txt".to_string(), "b".to_string()), ("/app/a.txt".to_string(), "a".to_string())].into(),
            labels: BTreeMap::new(),
            platforms: Vec::new(),
        };
        let (tar1, gz1) = layer(&spec).unwrap();
        let (tar2, gz2) = layer(&spec).unwrap();
        assert_eq!((sha256(&tar1), sha256(&gz1)), (sha256(&tar2), sha256(&gz2)));
        let names: Vec<String> = tar::Archive::new(&tar1[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["app/a.txt", "app/b.txt"]);
    }
}

#[cfg(test)]
mod mirror_tests {
    use super::*;

    #[test]
    fn mirrored_images_keep_their_name_as_identity() {
        let l = mirror_location("127.0.0.1:5000", "registry.example.com/shop/web:1.4").unwrap();
        assert_eq!(l.fetch.whole(), "127.0.0.1:5000/registry.example.com/shop/web:1.4");
        assert_eq!(l.identity, "registry.example.com/shop/web");
        let l = mirror_location("127.0.0.1:5000", "registry.internal:5000/batch/report@sha256:ab").unwrap_err();
        assert_eq!(l.check, "reference", "a digest that is not 64 hex digits is refused");
        let l = mirror_location("127.0.0.1:5000", "nginx").unwrap();
        assert_eq!((l.fetch.whole().as_str(), l.identity.as_str()), ("127.0.0.1:5000/docker.io/nginx:latest", "docker.io/nginx"));
        assert_eq!(mirror_path("h:1", "registry.internal:5000/batch/report"), "h:1/registry.internal-5000/batch/report");
        assert_eq!(mirror_path("h:1", "shop/web"), "h:1/shop/web");
    }
}
