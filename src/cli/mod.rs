//! The `verdict` command line: one file per command, wiring only.

mod accept;
mod completions;
mod eval;
mod init;
mod new_rule;
mod test;

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
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::exit::USAGE_OR_LOAD)
        }
    }
}
