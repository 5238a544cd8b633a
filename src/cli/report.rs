//! `verdict report`: the compliance coverage report, from a fresh run of the
//! library or from the merged JSON results of `verdict test --partition` shards.

use crate::limits::Limits;
use crate::runner::{self, CaseRunOptions, RunSummary};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value = "md")]
    format: ReportFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// JSON results of `verdict test --format json` (one per shard) to merge instead of running the library.
    #[arg(long = "results", value_name = "FILE", num_args = 1..)]
    results: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Md,
    Html,
    Json,
}

pub fn run(args: ReportArgs) -> Result<u8> {
    let root = super::project_root()?;
    let limits = Limits::default();
    let library = crate::library::load_library(&root, &limits);
    let controls = crate::lifecycle::read_controls(&root.join("policies/controls.yaml"), &limits)?;
    let summary = if args.results.is_empty() {
        let options = CaseRunOptions { snapshots: Some(crate::snapshot::UpdateMode::No), ..CaseRunOptions::default() };
        runner::run_library(&library, &options, |_| {})
    } else {
        let repo = crate::library::find_repository_root(&root);
        let mut merged = RunSummary { load_errors: library.errors.clone(), ..RunSummary::default() };
        for file in &args.results {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            match RunSummary::from_json(&text, &repo) {
                Ok(shard) => merged.merge(shard),
                Err(e) => bail!("{}: {e}", file.display()),
            }
        }
        merged
    };
    let owners = crate::lifecycle::CodeOwners::find(&crate::library::find_repository_root(&root)).map(|(_, o)| o);
    // Rules still in audit: the reasons `verdict promote` would give, for the report.
    let refusals = library
        .rules
        .iter()
        .filter(|r| r.mode == crate::verdict::Mode::Audit)
        .map(|r| {
            let reasons = match crate::lifecycle::assess_in(&library, &r.id, &limits) {
                Ok(readiness) => readiness.refusals,
                Err(e) => vec![e.to_string()],
            };
            (r.id.clone(), reasons)
        })
        .collect();
    let coverage = crate::report::coverage::build(&library, &controls, &summary, owners.as_ref(), &refusals, crate::lifecycle::today());
    let text = match args.format {
        ReportFormat::Md => crate::report::coverage::markdown(&coverage),
        ReportFormat::Html => crate::report::coverage::html(&coverage),
        ReportFormat::Json => serde_json::to_string_pretty(&coverage)? + "\n",
    };
    match &args.output {
        Some(file) => std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?,
        None => print!("{text}"),
    }
    // The report is written either way; the exit code says whether the run behind it held.
    Ok(summary.exit_code())
}
