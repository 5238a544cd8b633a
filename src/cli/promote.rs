//! `verdict promote`: move rules from audit to enforce, with the evidence recorded.

use crate::lifecycle::{self, LifecycleError};
use crate::limits::Limits;
use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// Rule ids to promote.
    #[arg(required_unless_present = "all")]
    rules: Vec<String>,
    /// Promote every audit rule that qualifies; list the others with their reasons.
    #[arg(long, conflicts_with = "rules")]
    all: bool,
}

pub fn run(args: PromoteArgs) -> Result<u8> {
    let root = super::project_root()?;
    let limits = Limits::default();
    let rules = if args.all {
        let library = crate::library::load_library(&root, &limits);
        library.rules.iter().filter(|r| r.mode == crate::verdict::Mode::Audit).map(|r| r.id.clone()).collect()
    } else {
        args.rules
    };
    let mut refused = 0;
    for (rule, outcome) in lifecycle::promote_each(&root, &rules, &limits) {
        match outcome {
            Ok(entry) => eprintln!(
                "promoted {rule}: audit -> enforce ({} pass, {} fail cases; {} corpus documents, 0 false positives); recorded in policies/promotions.yaml",
                entry.cases.pass, entry.cases.fail, entry.corpus.documents
            ),
            Err(e @ LifecycleError::Refused { .. }) => {
                refused += 1;
                eprintln!("{e}");
            }
            Err(LifecycleError::Failed(e)) => bail!(e),
        }
    }
    Ok(if refused > 0 && !args.all { crate::exit::EXPECTATION_FAILED } else { crate::exit::OK })
}
