//! `verdict init`: start a policy project.

use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to create the project in; default: the working directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

pub fn run(args: InitArgs) -> Result<u8> {
    for file in crate::scaffold::init(&args.dir)? {
        eprintln!("wrote {}", args.dir.join(file).display());
    }
    eprintln!("next: `verdict test` in {}", args.dir.display());
    Ok(crate::exit::OK)
}
