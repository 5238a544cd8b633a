//! Real OPA: Go OPA 1.20 embedded in the PyPI wheel `opa-golib-python-bindings`
//! (Apache-2.0), provisioned once into `~/.cache/verdict/opa/<version>/` and
//! driven by `xtask/opa_diff.py`, one Python process for the whole batch.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The pinned wheel: its version and the sha256 of the manylinux x86_64 build.
pub const BINDINGS_VERSION: &str = "0.4.4";
const WHEEL_SHA256: &str = "d411c901e14b8c7c3023e23e4a944f4cf429c1d31baf80e959e57d11efbfd24a";

/// The directory holding `opa_bindings/`, downloading and unpacking the
/// pinned wheel when it is not there yet.
pub fn bindings_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let dir = Path::new(&home)
        .join(".cache/verdict/opa")
        .join(BINDINGS_VERSION);
    if dir.join("opa_bindings/__init__.py").is_file() {
        return Ok(dir);
    }
    eprintln!(
        "opa-diff: provisioning opa-golib-python-bindings {BINDINGS_VERSION} into {}",
        dir.display()
    );
    let staging = dir.with_extension("download");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    // The wheel declares Python 3.14 but is a ctypes wrapper that runs on 3.11.
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--python-version",
            "3.14",
        ])
        .args([
            "--only-binary=:all:",
            &format!("opa-golib-python-bindings=={BINDINGS_VERSION}"),
            "-d",
        ])
        .arg(&staging)
        .status()
        .context("running python3 -m pip download")?;
    if !status.success() {
        bail!("pip download of opa-golib-python-bindings {BINDINGS_VERSION} failed ({status})");
    }
    let wheel = std::fs::read_dir(&staging)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("pip downloaded no wheel")?;
    let digest = hex::encode(Sha256::digest(std::fs::read(&wheel)?));
    if digest != WHEEL_SHA256 {
        bail!(
            "{}: sha256 {digest}, expected the pinned {WHEEL_SHA256}",
            wheel.display()
        );
    }
    let unpacked = staging.join("unpacked");
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked)
        .status()
        .context("unpacking the wheel")?;
    if !status.success() {
        bail!("unpacking {} failed", wheel.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&unpacked, &dir)?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(dir)
}

/// Evaluate `batch` (see `xtask/opa_diff.py`) in OPA; one result per evaluation.
pub fn evaluate(driver: &Path, bindings: &Path, batch: &Value) -> Result<Vec<Value>> {
    let mut child = Command::new("python3")
        .arg(driver)
        .arg(bindings)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting python3 for the OPA driver")?;
    let mut stdin = child.stdin.take().context("driver stdin")?;
    let text = serde_json::to_vec(batch)?;
    let writer = std::thread::spawn(move || stdin.write_all(&text));
    let output = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to the OPA driver panicked"))??;
    if !output.status.success() {
        bail!("the OPA driver failed ({})", output.status);
    }
    let results: Vec<Value> =
        serde_json::from_slice(&output.stdout).context("reading the OPA driver's output")?;
    Ok(results)
}
