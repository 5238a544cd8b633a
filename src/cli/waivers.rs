//! `verdict waivers check | export`: the state of `policies/waivers.yaml`.

use crate::limits::Limits;
use crate::runner::{self, CaseRunOptions};
use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct WaiversArgs {
    #[command(subcommand)]
    command: WaiversCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WaiversCommand {
    /// List every waiver with its expiry and what it covered in a run of the library;
    /// exit 1 on an expired waiver or one naming no rule.
    Check,
    /// Write the waivers as Kyverno PolicyExceptions or Gatekeeper exclusions (YAML).
    Export {
        #[arg(long, value_enum)]
        format: crate::lifecycle::ExportFormat,
        /// Namespace of the Kyverno PolicyExceptions.
        #[arg(long, default_value = "kyverno")]
        namespace: String,
    },
}

pub fn run(args: WaiversArgs) -> Result<u8> {
    let root = super::project_root()?;
    let library = crate::library::load_library(&root, &Limits::default());
    if let Some(e) = library.errors.iter().find(|e| e.path.ends_with("waivers.yaml")) {
        bail!("{e}");
    }
    match args.command {
        WaiversCommand::Check => {
            let options = CaseRunOptions { snapshots: None, ..CaseRunOptions::default() };
            let summary = runner::run_library(&library, &options, |_| {});
            let today = crate::lifecycle::today();
            for w in &library.waivers {
                let label = w.label();
                let covered = summary.verdicts.iter().filter(|v| v.waiver.as_deref() == Some(label.as_str())).count();
                let status = match w.status(today) {
                    crate::lifecycle::WaiverStatus::Active { days_left } => format!("active, {days_left} days left"),
                    crate::lifecycle::WaiverStatus::Expiring { days_left } => format!("EXPIRING in {days_left} days"),
                    crate::lifecycle::WaiverStatus::Expired { days_ago } => format!("EXPIRED {days_ago} days ago"),
                };
                println!("{label}: {status} (expires {}), owner {}, covered {covered} failure(s)", w.expires, w.owner);
            }
            let problems: Vec<_> = summary.results.iter().filter(|r| r.suite == "policies/waivers.yaml").collect();
            for r in &problems {
                println!("FAIL {}", r.messages.join("; "));
            }
            for w in summary.warnings.iter().filter(|w| w.starts_with("waiver ")) {
                println!("warning: {w}");
            }
            println!("{} waivers, {} failing", library.waivers.len(), problems.len());
            Ok(if problems.is_empty() { crate::exit::OK } else { crate::exit::EXPECTATION_FAILED })
        }
        WaiversCommand::Export { format, namespace } => {
            let export = crate::lifecycle::export(&library, format, &namespace);
            let mut out = String::new();
            for doc in &export.documents {
                out.push_str("---\n");
                out.push_str(&serde_yaml_ng::to_string(doc)?);
            }
            print!("{out}");
            for skipped in &export.not_exported {
                eprintln!("not exported: {skipped}");
            }
            Ok(if export.not_exported.is_empty() { crate::exit::OK } else { crate::exit::EXPECTATION_FAILED })
        }
    }
}
