//! `verdict demote`: move a rule back to audit, with the reason recorded.

use crate::lifecycle::{self, LifecycleError};
use crate::limits::Limits;
use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct DemoteArgs {
    /// The rule id.
    rule: String,
    /// Why it goes back to audit (kept in policies/promotions.yaml).
    #[arg(long)]
    reason: String,
}

pub fn run(args: DemoteArgs) -> Result<u8> {
    let root = super::project_root()?;
    match lifecycle::demote(&root, &args.rule, &args.reason, &Limits::default()) {
        Ok(_) => {
            eprintln!("demoted {}: enforce -> audit; recorded in policies/promotions.yaml", args.rule);
            Ok(crate::exit::OK)
        }
        Err(e @ LifecycleError::Refused { .. }) => {
            eprintln!("{e}");
            Ok(crate::exit::EXPECTATION_FAILED)
        }
        Err(LifecycleError::Failed(e)) => bail!(e),
    }
}
