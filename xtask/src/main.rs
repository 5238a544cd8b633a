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
    /// Run the whole library fail-closed: snapshot tests, then `verdict test` with JUnit and JSON reports.
    PolicyTest,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Commands::PolicyTest => tasks::policy_test::run(),
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
