//! Small deterministic OCI images, built in memory from a spec and pushed: the
//! same spec always gives the same digest, so snapshots can name it.

use super::client::{sha256, RegistryClient, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use oci_client::Reference;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// What to build: a repository and tag on the run's registry, some files, some labels.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Repository path under the registry (`shop/web`).
    pub repository: String,
    #[serde(default = "latest")]
    pub tag: String,
    /// Path in the image → text content.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn latest() -> String {
    "latest".to_string()
}

/// An image now in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// `host/repository` (what a signature's identity names).
    pub repository: String,
    /// `host/repository:tag`.
    pub tagged: String,
    /// Manifest digest.
    pub digest: String,
}

impl PushedImage {
    /// `host/repository@digest`.
    pub fn by_digest(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
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
    let repository = format!("{host}/{}", spec.repository);
    let tagged = format!("{repository}:{}", spec.tag);
    let reference: Reference = tagged.parse().map_err(|e| format!("{tagged}: {e}"))?;
    let (tar, gz) = layer(spec)?;
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
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
    client.push_blob(&reference, gz)?;
    client.push_blob(&reference, config)?;
    let digest = client.push_manifest(&reference, manifest, OCI_MANIFEST)?;
    Ok(PushedImage { repository, tagged, digest })
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
        };
        let (tar1, gz1) = layer(&spec).unwrap();
        let (tar2, gz2) = layer(&spec).unwrap();
        assert_eq!((sha256(&tar1), sha256(&gz1)), (sha256(&tar2), sha256(&gz2)));
        let names: Vec<String> = tar::Archive::new(&tar1[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["app/a.txt", "app/b.txt"]);
    }
}
