//! The run's view of its throwaway registry: where an image named in a manifest
//! is served, how to verify it against a policy's attestors, and the verified
//! facts about it that Rego rules judge. One gate per run, shared by every image
//! case (and by the threads that evaluate them).

use super::attest::{verify_attestations, VerifiedStatement};
use super::cosign::{verify_all, verify_with, Attestor, KeyAttestor, KeylessAttestor, Location, SignerIdentity, Verified, VerifyFailure};
use super::keyless::{KeylessPolicy, Matcher, TrustMaterial, TrustRoot};
use super::image::mirror_location;
use super::{Registry, RegistryClient};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// What the run trusts when it gathers facts for Rego rules: the library's public
/// keys (`policies/keys/*.pub`, named by file stem).
#[derive(Debug, Default)]
pub struct Trust {
    pub keys: Vec<(String, KeyAttestor)>,
}

impl Trust {
    /// The `*.pub` files of `dir` (none when it does not exist); a file that is not a
    /// P-256 public key is an error naming it.
    pub fn from_dir(dir: &Path) -> Result<Trust, String> {
        let mut trust = Trust::default();
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(trust) };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "pub")).collect();
        files.sort();
        for path in files {
            let pem = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let key = super::cosign::verifying_key_from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            trust.keys.push((name, KeyAttestor(key)));
        }
        Ok(trust)
    }
}

/// A registry, a client for it, and the run's trust; scoped to one case, so cases
/// that push the same image name (one signed, one tampered) never see each other's.
#[derive(Clone)]
pub struct ImageGate {
    shared: Arc<Shared>,
    /// `host:port/<scope>`: where this case's images live.
    host: String,
}

struct Shared {
    client: RegistryClient,
    trust: Trust,
    registry: Registry,
    /// The run's throwaway Fulcio-like CA and transparency log: keyless cases sign under it.
    material: TrustMaterial,
    /// The same, parsed back from its `trusted_root.json`: what verification trusts.
    trust_root: Arc<TrustRoot>,
    /// A CA outside the trust root, made on first use (`ca: untrusted` cases).
    stranger: OnceLock<Result<TrustMaterial, String>>,
}

impl std::fmt::Debug for ImageGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageGate").field("host", &self.host).finish()
    }
}

impl ImageGate {
    /// A gate over `registry`, kept alive as long as the gate.
    pub fn new(registry: Registry, trust: Trust) -> Result<ImageGate, String> {
        let client = RegistryClient::new(registry.insecure)?;
        let host = registry.host.clone();
        let material = TrustMaterial::generate()?;
        let trust_root = Arc::new(TrustRoot::from_json(&material.trusted_root_json())?);
        Ok(ImageGate { shared: Arc::new(Shared { client, trust, registry, material, trust_root, stranger: OnceLock::new() }), host })
    }

    /// The run's throwaway CA and log (keyless signing in cases).
    pub fn material(&self) -> &TrustMaterial {
        &self.shared.material
    }

    /// A CA that the run's trust root does not hold.
    pub fn stranger(&self) -> Result<&TrustMaterial, String> {
        self.shared.stranger.get_or_init(TrustMaterial::generate).as_ref().map_err(Clone::clone)
    }

    /// The trust root keyless signatures are verified against: the run's throwaway
    /// one, standing in for Sigstore's public-good instance.
    pub fn trust_root(&self) -> &Arc<TrustRoot> {
        &self.shared.trust_root
    }

    /// The same registry, with images under their own path prefix `scope`.
    pub fn scoped(&self, scope: &str) -> ImageGate {
        ImageGate { shared: self.shared.clone(), host: format!("{}/{scope}", self.shared.registry.host) }
    }

    /// Where this gate's images are pushed: `host:port` plus the scope.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The registry itself (`host:port`), for messages.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    pub fn client(&self) -> &RegistryClient {
        &self.shared.client
    }

    /// Where the registry serves `image` as manifests name it.
    pub fn location(&self, image: &str) -> Result<Location, VerifyFailure> {
        mirror_location(&self.host, image)
    }

    /// Verify `image`'s signature against `attestor`.
    pub fn verify(&self, image: &str, attestor: &dyn Attestor) -> Result<Verified, VerifyFailure> {
        verify_with(self.client(), &self.location(image)?, attestor)
    }

    /// `image`'s attestations that `attestor` verifies (of type `wanted`, when given).
    pub fn attestations(&self, image: &str, attestor: &dyn Attestor, wanted: Option<&str>) -> Result<Vec<VerifiedStatement>, VerifyFailure> {
        verify_attestations(self.client(), &self.location(image)?, attestor, wanted)
    }

    /// What the run can establish about `image` with its trust: who signed it, and
    /// the predicates of its verified attestations, grouped by type, with the SBOM's
    /// components and the scan's vulnerabilities lifted out. Only verified material
    /// appears; what failed is listed under `failures` with the check that failed.
    pub fn facts(&self, image: &str) -> Value {
        let mut facts = json!({
            "apiVersion": FACTS_API_VERSION,
            "kind": FACTS_KIND,
            "image": image,
            "signatures": [],
            "attestations": {},
            "failures": [],
        });
        let resolved = self.location(image).and_then(|l| l.resolve(self.client()).map(|d| (l, d)));
        let (location, digest) = match resolved {
            Ok(found) => found,
            Err(e) => {
                facts["failures"] = json!([e]);
                return facts;
            }
        };
        facts["digest"] = json!(digest);
        let mut signatures = Vec::new();
        let mut failures = Vec::new();
        let mut statements: Vec<(String, VerifiedStatement)> = Vec::new();
        let anyone = KeylessAttestor {
            policy: KeylessPolicy { subject: Matcher::Regex(regex::Regex::new(".*").expect("a valid regex")), issuer: Matcher::Regex(regex::Regex::new(".*").expect("a valid regex")) },
            trust: self.trust_root().clone(),
        };
        // Keyless signatures under the run's trust root, whoever the identity: rules judge it.
        let trusted: Vec<(&str, &dyn Attestor)> = std::iter::once(("sigstore", &anyone as &dyn Attestor))
            .chain(self.shared.trust.keys.iter().map(|(n, a)| (n.as_str(), a as &dyn Attestor)))
            .collect();
        for (name, attestor) in trusted {
            match verify_all(self.client(), &location, attestor) {
                Ok(verified) => signatures.extend(verified.iter().map(|v| signer_fact(Some(name), &v.signer))),
                Err(e) if e.check == "signature manifest" && !e.error => {}
                Err(e) => failures.push(json!({"trusted": name, "check": e.check, "reason": e.reason, "error": e.error})),
            }
            match self.attestations(image, attestor, None) {
                Ok(found) => statements.extend(found.into_iter().map(|s| (name.to_string(), s))),
                Err(e) if e.check == "attestation manifest" && !e.error => {}
                Err(e) => failures.push(json!({"trusted": name, "check": e.check, "reason": e.reason, "error": e.error})),
            }
        }
        let mut by_type = serde_json::Map::new();
        for (name, s) in &statements {
            let entry = by_type.entry(s.predicate_type.clone()).or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(json!({"predicate": s.predicate, "signer": signer_fact(Some(name), &s.signer)}));
            }
        }
        facts["sbom"] = sbom_components(&by_type);
        facts["vulnerabilities"] = vulnerabilities(&by_type);
        facts["signatures"] = json!(signatures);
        facts["attestations"] = Value::Object(by_type);
        facts["failures"] = json!(failures);
        facts
    }
}

/// `apiVersion` and `kind` of an image facts document (so it is recognised as one).
pub const FACTS_API_VERSION: &str = "verdict.dev/v1alpha1";
pub const FACTS_KIND: &str = "ImageFacts";

fn signer_fact(trusted: Option<&str>, signer: &SignerIdentity) -> Value {
    let mut v = serde_json::to_value(signer).unwrap_or(Value::Null);
    if let (Some(name), Some(map)) = (trusted, v.as_object_mut()) {
        map.insert("trusted".into(), json!(name));
    }
    v
}

/// CycloneDX components (name, version, purl, licence ids or names) from verified SBOMs.
fn sbom_components(by_type: &serde_json::Map<String, Value>) -> Value {
    let mut components = Vec::new();
    for entry in by_type.get("https://cyclonedx.org/bom").and_then(Value::as_array).into_iter().flatten() {
        for c in entry["predicate"]["components"].as_array().into_iter().flatten() {
            let licenses: Vec<Value> = c["licenses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["license"]["id"].as_str().or(l["license"]["name"].as_str()).or(l["expression"].as_str()))
                .map(|s| json!(s))
                .collect();
            components.push(json!({"name": c["name"], "version": c["version"], "purl": c["purl"], "licenses": licenses}));
        }
    }
    json!({"present": by_type.contains_key("https://cyclonedx.org/bom"), "components": components})
}

/// Vulnerabilities (id, severity upper-cased) from verified cosign vulnerability-scan
/// predicates (Trivy-style `scanner.result.Results[].Vulnerabilities[]`).
fn vulnerabilities(by_type: &serde_json::Map<String, Value>) -> Value {
    let mut out = Vec::new();
    for entry in by_type.get("https://cosign.sigstore.dev/attestation/vuln/v1").and_then(Value::as_array).into_iter().flatten() {
        for result in entry["predicate"]["scanner"]["result"]["Results"].as_array().into_iter().flatten() {
            for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
                out.push(json!({
                    "id": v["VulnerabilityID"],
                    "package": v["PkgName"],
                    "severity": v["Severity"].as_str().unwrap_or("UNKNOWN").to_uppercase(),
                }));
            }
        }
    }
    json!(out)
}

/// Which registry a run uses: `--registry auto` or `--registry URL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RegistryChoice {
    /// Start a throwaway one (see [`Registry::auto`]: a container when an engine answers, else a process).
    #[default]
    Auto,
    /// Use the one at this URL.
    Url(String),
}

impl std::str::FromStr for RegistryChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(RegistryChoice::Auto),
            "" => Err("--registry needs `auto` or a URL".into()),
            url => Ok(RegistryChoice::Url(url.to_string())),
        }
    }
}

/// The run's gate, started the first time an image case needs it (a library
/// without image cases never starts a registry); the outcome, good or bad, is
/// shared by every case of the run.
#[derive(Debug)]
pub struct LazyGate {
    choice: RegistryChoice,
    trust_dir: PathBuf,
    cell: OnceLock<Result<ImageGate, String>>,
}

impl LazyGate {
    /// A gate to start on demand, trusting the public keys in `trust_dir`.
    pub fn new(choice: RegistryChoice, trust_dir: PathBuf) -> LazyGate {
        LazyGate { choice, trust_dir, cell: OnceLock::new() }
    }

    /// The gate, started now if it was not yet; the same error for every caller when it cannot be.
    pub fn get(&self) -> Result<&ImageGate, String> {
        self.cell
            .get_or_init(|| {
                let registry = match &self.choice {
                    RegistryChoice::Auto => Registry::auto()?,
                    RegistryChoice::Url(url) => Registry::external(url),
                };
                ImageGate::new(registry, Trust::from_dir(&self.trust_dir)?)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The gate if something started it.
    pub fn started(&self) -> Option<&ImageGate> {
        self.cell.get().and_then(|r| r.as_ref().ok())
    }
}
