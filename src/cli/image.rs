//! `verdict image verify`: check an image's cosign signature (key or keyless) and,
//! optionally, one of its attestations, in a registry.

use crate::oci::keyless::{KeylessPolicy, Matcher, TrustRoot};
use crate::oci::{attest, cosign, RegistryClient};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImageCommand {
    /// Verify REF's signature; prints JSON; exit 0 verified, 1 not verified, 2 could not check.
    Verify {
        /// The image, by tag or digest (`host:port/repo:tag`).
        reference: String,
        /// The signer's public key (PEM).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Keyless: the certificate identity that must have signed (email or URI).
        #[arg(long, conflicts_with = "key")]
        certificate_identity: Option<String>,
        /// Keyless: a regular expression the certificate identity must match.
        #[arg(long, conflicts_with_all = ["key", "certificate_identity"])]
        certificate_identity_regexp: Option<String>,
        /// Keyless: the OIDC issuer of the certificate.
        #[arg(long)]
        certificate_oidc_issuer: Option<String>,
        /// Keyless: a regular expression the OIDC issuer must match.
        #[arg(long, conflicts_with = "certificate_oidc_issuer")]
        certificate_oidc_issuer_regexp: Option<String>,
        /// Keyless: the trust root (sigstore `trusted_root.json`) holding the CAs,
        /// transparency logs and CT logs to trust.
        #[arg(long, value_name = "FILE")]
        trust_root: Option<PathBuf>,
        /// Also require a verified attestation of this predicate type (cosign's short
        /// names work: slsaprovenance1, cyclonedx, vuln); its predicates are printed.
        #[arg(long, value_name = "TYPE")]
        attestation: Option<String>,
        /// Talk plain HTTP to the registry.
        #[arg(long)]
        insecure_registry: bool,
        /// Longest any one registry call may take, in seconds.
        #[arg(long, default_value_t = crate::oci::CALL_TIMEOUT.as_secs())]
        timeout: u64,
    },
}

pub fn run(args: ImageArgs) -> Result<u8> {
    match args.command {
        ImageCommand::Verify {
            reference,
            key,
            certificate_identity,
            certificate_identity_regexp,
            certificate_oidc_issuer,
            certificate_oidc_issuer_regexp,
            trust_root,
            attestation,
            insecure_registry,
            timeout,
        } => {
            let attestor: Box<dyn cosign::Attestor> = match key {
                Some(key) => {
                    let pem = std::fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?;
                    Box::new(cosign::KeyAttestor(cosign::verifying_key_from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?))
                }
                None => {
                    let matcher = |exact: Option<String>, pattern: Option<String>, what: &str| -> Result<Matcher> {
                        match (exact, pattern) {
                            (Some(e), _) => Ok(Matcher::Exact(e)),
                            (None, Some(p)) => Ok(Matcher::Regex(regex::Regex::new(&p).with_context(|| format!("--{what}-regexp"))?)),
                            (None, None) => bail!("--key PEM, or keyless: --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp] and --trust-root"),
                        }
                    };
                    let subject = matcher(certificate_identity, certificate_identity_regexp, "certificate-identity")?;
                    let issuer = matcher(certificate_oidc_issuer, certificate_oidc_issuer_regexp, "certificate-oidc-issuer")?;
                    let Some(root) = trust_root else { bail!("keyless verification needs --trust-root FILE (a sigstore trusted_root.json)") };
                    let trust = TrustRoot::from_file(&root).map_err(|e| anyhow::anyhow!("{}: {e}", root.display()))?;
                    Box::new(cosign::KeylessAttestor { policy: KeylessPolicy { subject, issuer }, trust: std::sync::Arc::new(trust) })
                }
            };
            let attestor = attestor.as_ref();
            let client = RegistryClient::with_timeout(insecure_registry, Duration::from_secs(timeout)).map_err(anyhow::Error::msg)?;
            let checked = cosign::Location::direct(&reference).and_then(|location| {
                let verified = cosign::verify_with(&client, &location, attestor)?;
                let statements = match &attestation {
                    Some(kind) => attest::verify_attestations(&client, &location, attestor, Some(&attest::predicate_type(kind)))?,
                    None => Vec::new(),
                };
                Ok((verified, statements))
            });
            let (doc, code) = match checked {
                Ok((verified, statements)) => (serde_json::json!({"verified": true, "result": verified, "attestations": statements}), crate::exit::OK),
                Err(failure) => {
                    let code = if failure.error { crate::exit::USAGE_OR_LOAD } else { crate::exit::EXPECTATION_FAILED };
                    (serde_json::json!({"verified": false, "image": reference, "failure": failure}), code)
                }
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(code)
        }
    }
}
