//! `verdict review --base REF`: the verdict diff and the owners who must approve it.

use crate::limits::Limits;
use anyhow::{anyhow, Result};

#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The git revision the change is compared with (the pull request's base).
    #[arg(long)]
    base: String,
    #[arg(long, value_enum, default_value = "md")]
    format: ReviewFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReviewFormat {
    /// Markdown, for a pull-request comment.
    Md,
    Json,
}

pub fn run(args: ReviewArgs) -> Result<u8> {
    let root = super::project_root()?;
    let review = crate::lifecycle::review(&root, &args.base, &Limits::default()).map_err(|e| anyhow!(e))?;
    match args.format {
        ReviewFormat::Md => print!("{}", crate::lifecycle::markdown(&review)),
        ReviewFormat::Json => println!("{}", serde_json::to_string_pretty(&review)?),
    }
    Ok(review.exit_code())
}
