//! `cargo xtask new-rule <gate>/<rule-id> --lang rego|kyverno|gatekeeper|vpol|vap`: the three
//! files of a new rule, in audit mode, with the documentation skeleton (the same
//! scaffold as `verdict new-rule`).

use anyhow::Result;
use std::path::Path;
pub use verdict::scaffold::Lang;

pub fn run(root: &Path, spec: &str, lang: Lang) -> Result<bool> {
    for file in verdict::scaffold::new_rule(root, spec, lang)? {
        eprintln!("new-rule: wrote {}", file.display());
    }
    eprintln!(
        "new-rule: fill in the condition and the docs, then `cargo xtask check-docs` and `cargo xtask policy-test` \
         (it writes snapshots/<rule-id>.snap.new), then `cargo insta review` or `cargo run -- accept <rule-id>`"
    );
    Ok(true)
}
