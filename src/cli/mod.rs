//! The `verdict` command line: one file per command, wiring only.

mod accept;
mod eval;
mod test;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Policy test harness and conformance suite for Rego, Gatekeeper and Kyverno rules.
#[derive(Debug, Parser)]
#[command(name = "verdict", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the library's cases (or external suites under PATH) and check every expectation.
    Test(test::TestArgs),
    /// Evaluate policies against inputs and report the verdicts.
    Eval(eval::EvalArgs),
    /// Accept pending snapshots (`snapshots/<rule>.snap.new`) after reviewing them.
    Accept(accept::AcceptArgs),
}

/// Parse the command line and run; clap's own usage errors exit 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Test(args) => test::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Accept(args) => accept::run(args),
    };
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::exit::USAGE_OR_LOAD)
        }
    }
}
