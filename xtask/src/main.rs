//! Developer tasks: `cargo xtask <command>`.

mod tasks;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the whole library fail-closed (`verdict test`: cases, corpus, snapshots) with JUnit and JSON reports.
    PolicyTest,
    /// Fail any rule whose description lacks What it does / Why is this bad? / Example.
    CheckDocs,
    /// Evaluate every library rule and gatekeeper-library template/test in verdict and in real OPA; fail on an unexplained disagreement.
    OpaDiff,
    /// Write a new rule in audit mode with pass/fail cases and the docs skeleton.
    NewRule {
        /// `<gate>/<rule-id>`
        spec: String,
        #[arg(long, value_enum)]
        lang: tasks::new_rule::Lang,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Commands::PolicyTest => tasks::policy_test::run(),
        Commands::CheckDocs => tasks::check_docs::run(&tasks::workspace_root()),
        Commands::OpaDiff => tasks::opa_diff::run(&tasks::workspace_root()),
        Commands::NewRule { spec, lang } => {
            tasks::new_rule::run(&tasks::workspace_root(), &spec, lang)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
