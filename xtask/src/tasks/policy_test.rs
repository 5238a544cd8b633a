//! `cargo xtask policy-test`: what CI runs on every policy change.

use anyhow::{Context, Result};
use std::process::Command;
use verdict::oci::{engine::Endpoint, registry_binary, IMAGE_HINT, INSTALL_HINT};

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

    provision_registry();

    let junit = out_dir.join("junit.xml");
    let json = out_dir.join("verdicts.json");
    let coverage = out_dir.join("coverage.xml");
    eprintln!("policy-test: building and running `verdict test` (cases, corpus, snapshots)");
    let status = cargo()
        .current_dir(&root)
        .args(["run", "--bin", "verdict", "--", "test"])
        .arg("--report")
        .arg(format!("junit:{}", junit.display()))
        .arg("--report")
        .arg(format!("json:{}", json.display()))
        // The library's Rego (rules, templates, unit tests) stays at least 90 % line-covered.
        .args(["--coverage-threshold", "90"])
        .arg("--coverage-report")
        .arg(format!("cobertura:{}", coverage.display()))
        // Image cases: a container engine when one answers, else the registry binary.
        .args(["--registry", "auto"])
        .status()
        .context("running verdict test")?;

    let ok = status.success();
    eprintln!(
        "policy-test: {} (verdict test: {}); reports: {}, {}, {}",
        if ok { "ok" } else { "FAILED" },
        describe(status),
        junit.strip_prefix(&root).unwrap_or(&junit).display(),
        json.strip_prefix(&root).unwrap_or(&json).display(),
        coverage.strip_prefix(&root).unwrap_or(&coverage).display(),
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

/// How the image cases get their throwaway registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryPlan {
    /// A container engine answers: verdict starts the registry container itself.
    UseEngine,
    /// `registry` or `docker-registry` is on PATH: verdict starts it.
    UseBinary,
    /// Neither, but apt-get works as root: install Debian's `docker-registry`.
    InstallWithApt,
    /// Neither, and nothing to install with here: say the one command.
    TellInstall,
}

/// The first of engine, binary, apt install, hint that the machine allows.
pub fn plan_registry(engine_answers: bool, binary_on_path: bool, root: bool, apt_get: bool) -> RegistryPlan {
    if engine_answers {
        RegistryPlan::UseEngine
    } else if binary_on_path {
        RegistryPlan::UseBinary
    } else if root && apt_get {
        RegistryPlan::InstallWithApt
    } else {
        RegistryPlan::TellInstall
    }
}

/// Make sure `verdict test --registry auto` finds a registry, saying on stderr
/// what it did. Never fatal: without a registry the image cases themselves fail
/// closed, with verdict's message.
pub fn provision_registry() -> RegistryPlan {
    let engine = Endpoint::from_env().filter(Endpoint::answers);
    let binary = registry_binary();
    let plan = plan_registry(engine.is_some(), binary.is_some(), is_root(), on_path("apt-get"));
    match plan {
        RegistryPlan::UseEngine => eprintln!("policy-test: registry: the container engine at {} answers; verdict runs the registry there", engine.expect("answers")),
        RegistryPlan::UseBinary => eprintln!("policy-test: registry: no container engine answers; verdict starts {}", binary.expect("on PATH").display()),
        RegistryPlan::InstallWithApt => {
            eprintln!("policy-test: registry: no container engine and no registry binary; installing Debian's docker-registry with apt-get");
            let installed = Command::new("apt-get").args(["update", "-qq"]).status().is_ok_and(|s| s.success())
                && Command::new("apt-get")
                    .args(["install", "-y", "-qq", "--no-install-recommends", "docker-registry"])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status()
                    .is_ok_and(|s| s.success());
            if !installed {
                eprintln!("policy-test: registry: apt-get could not install docker-registry; image cases will fail");
            }
        }
        RegistryPlan::TellInstall => eprintln!("policy-test: registry: none for image cases; install one with `{INSTALL_HINT}` (as root), or start a container engine (podman: `{IMAGE_HINT}`)"),
    }
    plan
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_comes_from_engine_then_binary_then_apt_then_a_hint() {
        use RegistryPlan::*;
        assert_eq!(plan_registry(true, true, true, true), UseEngine);
        assert_eq!(plan_registry(true, false, false, false), UseEngine);
        assert_eq!(plan_registry(false, true, true, true), UseBinary);
        assert_eq!(plan_registry(false, false, true, true), InstallWithApt);
        assert_eq!(plan_registry(false, false, false, true), TellInstall, "not root: apt-get cannot install");
        assert_eq!(plan_registry(false, false, true, false), TellInstall, "no apt-get");
    }
}
