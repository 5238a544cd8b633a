//! `cargo xtask policy-test`: what CI runs on every policy change.

use anyhow::{Context, Result};
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Returns whether everything passed; every step runs even when an earlier one failed,
/// so the reports are always written.
pub fn run() -> Result<bool> {
    let root = super::workspace_root();
    let out_dir = root.join("target").join("policy-test");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    eprintln!("policy-test: snapshot tests (cargo test --test policy)");
    let snapshots = cargo()
        .current_dir(&root)
        .args(["test", "--quiet", "--test", "policy"])
        .status()
        .context("running cargo test")?;

    eprintln!("policy-test: verdict test");
    let junit = out_dir.join("junit.xml");
    let json = out_dir.join("verdicts.json");
    let verdict = cargo()
        .current_dir(&root)
        // No PATH: the project's library, exactly as a user runs it.
        .args(["run", "--quiet", "--bin", "verdict", "--", "test"])
        .arg("--report")
        .arg(format!("junit:{}", junit.display()))
        .arg("--report")
        .arg(format!("json:{}", json.display()))
        .status()
        .context("running verdict test")?;

    let ok = snapshots.success() && verdict.success();
    eprintln!(
        "policy-test: {} (snapshots: {}, verdict test: {}); reports: {}, {}",
        if ok { "ok" } else { "FAILED" },
        describe(snapshots),
        describe(verdict),
        junit.strip_prefix(&root).unwrap_or(&junit).display(),
        json.strip_prefix(&root).unwrap_or(&json).display(),
    );
    Ok(ok)
}

fn describe(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(0) => "ok".to_string(),
        Some(code) => format!("failed, exit {code}"),
        None => "killed".to_string(),
    }
}
