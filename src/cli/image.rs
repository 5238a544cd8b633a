//! `verdict image verify`: check an image's cosign signature in a registry.

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
        /// Keyless verification (not built yet).
        #[arg(long)]
        certificate_identity: Option<String>,
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
        ImageCommand::Verify { reference, key, certificate_identity, attestation, insecure_registry, timeout } => {
            if certificate_identity.is_some() {
                bail!("keyless verification (--certificate-identity) is not built yet; use --key");
            }
            let Some(key) = key else { bail!("--key PEM is required") };
            let pem = std::fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?;
            let key = cosign::verifying_key_from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
            let client = RegistryClient::with_timeout(insecure_registry, Duration::from_secs(timeout)).map_err(anyhow::Error::msg)?;
            let attestor = cosign::KeyAttestor(key);
            let checked = cosign::Location::direct(&reference).and_then(|location| {
                let verified = cosign::verify_with(&client, &location, &attestor)?;
                let statements = match &attestation {
                    Some(kind) => attest::verify_attestations(&client, &location, &attestor, Some(&attest::predicate_type(kind)))?,
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
