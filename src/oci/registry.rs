//! The throwaway registry: one per run, on 127.0.0.1, gone when dropped.
//!
//! `--registry auto` starts the CNCF distribution binary (`registry`, or
//! Debian's `docker-registry`) as a child process with an ephemeral port and a
//! temporary store, and waits until `/v2/` answers; `--registry URL` uses one
//! that is already running. The container-engine path (testcontainers) of
//! DESIGN.md is not built yet.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started registry may take to answer `/v2/`.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The binaries tried, in order, for a registry process.
pub const BINARIES: [&str; 2] = ["registry", "docker-registry"];

/// The one command that gets a registry binary on Debian.
pub const INSTALL_HINT: &str = "apt-get install docker-registry";

/// A registry the run can push to, by `host:port`.
#[derive(Debug)]
pub struct Registry {
    /// `host:port`, as image references name it.
    pub host: String,
    /// Whether it speaks plain HTTP (a local throwaway one does).
    pub insecure: bool,
    child: Option<Child>,
    _store: Option<tempfile::TempDir>,
}

impl Registry {
    /// An existing registry, from `--registry URL` (`http://host:port` or `host:port`).
    pub fn external(url: &str) -> Registry {
        let insecure = !url.starts_with("https://");
        let host = url.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/').to_string();
        Registry { host, insecure, child: None, _store: None }
    }

    /// Start a registry binary found on `PATH`, or say how to get one.
    pub fn start() -> Result<Registry, String> {
        let binary = BINARIES
            .iter()
            .find_map(|b| which(b))
            .ok_or_else(|| format!("no container registry: neither `registry` nor `docker-registry` is on PATH; install one with `{INSTALL_HINT}`, or pass --registry URL"))?;
        let store = throwaway_store()?;
        let port = free_port()?;
        let host = format!("127.0.0.1:{port}");
        let config = store.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
                store.path().join("data").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let mut registry = Registry { host, insecure: true, child: Some(child), _store: Some(store) };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = stderr.read_to_string(&mut err);
                    }
                    return Err(format!("the registry exited ({status}) before answering: {}", err.trim()));
                }
            }
            if probe(&self.host) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("the registry on {} did not answer /v2/ within {READY_WITHIN:?}", self.host))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `GET /v2/` on `host` answers 200.
fn probe(host: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// A temporary directory for the registry's blobs: in memory (`/dev/shm`) when the
/// machine has it, since the registry syncs every blob and a disk makes each push
/// ~10× slower; else the system temp directory.
fn throwaway_store() -> Result<tempfile::TempDir, String> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("verdict-registry-");
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = builder.tempdir_in(shm) {
            return Ok(dir);
        }
    }
    builder.tempdir().map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
}
