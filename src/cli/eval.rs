//! `verdict eval`: judge inputs with policies, conftest style.

use crate::limits::Limits;
use crate::runner::eval::{evaluate, EvalOptions};
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Policy files or directories (Rego, Gatekeeper template + constraint, Kyverno).
    #[arg(long = "policy", required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Input files or directories (manifests, Terraform plans, SBOMs, scan reports).
    #[arg(long = "input", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: EvalFormat,
    /// Append one JSON line per decision to FILE.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Largest input file accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_file_bytes)]
    max_file_size: u64,
    /// Do not check Kubernetes manifests against their schema (for documents
    /// that are not Kubernetes objects but look like them).
    #[arg(long)]
    no_schema: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EvalFormat {
    Human,
    Json,
}

pub fn run(args: EvalArgs) -> Result<u8> {
    let options = EvalOptions {
        limits: Limits { max_file_bytes: args.max_file_size, ..Limits::default() },
        check_schema: !args.no_schema,
    };
    let result = evaluate(&args.policies, &args.inputs, &options);
    let mut out = std::io::stdout().lock();
    match args.format {
        EvalFormat::Human => crate::report::eval::write_human(&result, &mut out)?,
        EvalFormat::Json => crate::report::eval::write_json(&result, &mut out)?,
    }
    if let Some(file) = &args.decision_log {
        crate::report::decision_log::append(&result.verdicts, file).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(result.exit_code())
}
