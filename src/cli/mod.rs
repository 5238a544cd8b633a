//! The `verdict` command line: one file per command, wiring only.

mod accept;
mod completions;
mod demote;
mod eval;
mod image;
mod init;
mod new_rule;
mod promote;
mod report;
mod review;
mod test;
mod waivers;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// Policy test harness and conformance suite for Rego, Gatekeeper and Kyverno rules.
#[derive(Debug, Parser)]
#[command(name = "verdict", version, about)]
pub struct Cli {
    /// When to colour the human output; `auto` colours a terminal unless `NO_COLOR` is set.
    #[arg(long, value_enum, global = true, default_value = "auto")]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the library's cases (or external suites under PATH) and check every expectation.
    Test(test::TestArgs),
    /// Evaluate policies against inputs and report the verdicts.
    Eval(eval::EvalArgs),
    /// Accept pending snapshots (`snapshots/<rule>.snap.new`) after reviewing them.
    Accept(accept::AcceptArgs),
    /// Write a new rule (policy in audit mode, docs skeleton, pass and fail cases).
    NewRule(new_rule::NewRuleArgs),
    /// Start a policy project: policies/, cases/, snapshots/, controls, CODEOWNERS, a CI workflow.
    Init(init::InitArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Move rules from audit to enforce when their evidence holds; record it in the ledger.
    Promote(promote::PromoteArgs),
    /// Move a rule back to audit, with the reason, recorded in the ledger.
    Demote(demote::DemoteArgs),
    /// Check or export the timeboxed waivers of `policies/waivers.yaml`.
    Waivers(waivers::WaiversArgs),
    /// Compare verdicts with a git revision: flips, mode changes, ledger, owners who must approve.
    Review(review::ReviewArgs),
    /// Compliance coverage: controls → rules → cases → verdicts (md, html, json); merges shard results.
    Report(report::ReportArgs),
    /// Images in a registry: verify a cosign signature.
    Image(image::ImageArgs),
}

/// Parse the command line and run; clap's own usage errors exit 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let choice = match cli.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    let code = match cli.command {
        Command::Test(args) => test::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Accept(args) => accept::run(args),
        Command::NewRule(args) => new_rule::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run::<Cli>(args),
        Command::Promote(args) => promote::run(args),
        Command::Demote(args) => demote::run(args),
        Command::Waivers(args) => waivers::run(args),
        Command::Review(args) => review::run(args),
        Command::Report(args) => report::run(args),
        Command::Image(args) => image::run(args),
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::exit::USAGE_OR_LOAD)
        }
    }
}

/// The project around the working directory (the nearest directory upward holding `policies/`).
fn project_root() -> anyhow::Result<std::path::PathBuf> {
    let cwd = std::env::current_dir()?;
    crate::library::find_project_root(&cwd).ok_or_else(|| anyhow::anyhow!("no policies/ directory at or above {}", cwd.display()))
}
