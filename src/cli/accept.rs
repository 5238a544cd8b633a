//! `verdict accept`: turn pending snapshots (`snapshots/*.snap.new`) into accepted ones.

use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct AcceptArgs {
    /// Rule ids to accept; default: every pending snapshot.
    rules: Vec<String>,
}

pub fn run(args: AcceptArgs) -> Result<u8> {
    let cwd = std::env::current_dir()?;
    let Some(root) = crate::library::find_project_root(&cwd) else {
        bail!("no policies/ directory at or above {}", cwd.display());
    };
    let accepted = crate::snapshot::accept_pending(&root.join("snapshots"), &args.rules)?;
    for file in &accepted {
        eprintln!("accepted {}", file.strip_prefix(&root).unwrap_or(file).display());
    }
    if accepted.is_empty() {
        eprintln!("no pending snapshots{}", if args.rules.is_empty() { String::new() } else { format!(" for {}", args.rules.join(", ")) });
        return Ok(if args.rules.is_empty() { crate::exit::OK } else { crate::exit::USAGE_OR_LOAD });
    }
    Ok(crate::exit::OK)
}
