//! `verdict completions SHELL`: a completion script on standard output.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    shell: clap_complete::Shell,
}

pub fn run<C: clap::CommandFactory>(args: CompletionsArgs) -> Result<u8> {
    let mut command = C::command();
    clap_complete::generate(args.shell, &mut command, "verdict", &mut std::io::stdout());
    Ok(crate::exit::OK)
}
