//! `verdict new-rule`: the files of a new rule, in audit mode, with the docs skeleton.

use crate::scaffold::Lang;
use anyhow::{bail, Result};

#[derive(Debug, clap::Args)]
pub struct NewRuleArgs {
    /// `<gate>/<rule-id>`, e.g. `gate5-pod-security/disallow-host-ports`.
    spec: String,
    #[arg(long, value_enum)]
    lang: Lang,
}

pub fn run(args: NewRuleArgs) -> Result<u8> {
    let cwd = std::env::current_dir()?;
    let Some(root) = crate::library::find_project_root(&cwd) else {
        bail!("no policies/ directory at or above {}; start a project with `verdict init`", cwd.display());
    };
    for file in crate::scaffold::new_rule(&root, &args.spec, args.lang)? {
        eprintln!("wrote {}", file.display());
    }
    eprintln!("next: write the condition and the docs, then `verdict test` (it writes the snapshot for review) and `verdict accept`");
    Ok(crate::exit::OK)
}
