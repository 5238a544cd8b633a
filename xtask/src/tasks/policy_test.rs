//! `cargo xtask policy-test`: what CI runs on every policy change.

use anyhow::{Context, Result};
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `verdict test` on the project's library exactly as a user does (no PATH):
/// every case, the known-good corpus and every rule's snapshot, fail-closed, with
/// JUnit and JSON reports written even when something fails. Cargo's own progress
/// stays visible, so a cold build is not a silent wait.
pub fn run() -> Result<bool> {
    let root = super::workspace_root();
    let out_dir = root.join("target").join("policy-test");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let junit = out_dir.join("junit.xml");
    let json = out_dir.join("verdicts.json");
    eprintln!("policy-test: building and running `verdict test` (cases, corpus, snapshots)");
    let status = cargo()
        .current_dir(&root)
        .args(["run", "--bin", "verdict", "--", "test"])
        .arg("--report")
        .arg(format!("junit:{}", junit.display()))
        .arg("--report")
        .arg(format!("json:{}", json.display()))
        .status()
        .context("running verdict test")?;

    let ok = status.success();
    eprintln!(
        "policy-test: {} (verdict test: {}); reports: {}, {}",
        if ok { "ok" } else { "FAILED" },
        describe(status),
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
