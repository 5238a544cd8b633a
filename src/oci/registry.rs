//! The throwaway registry: one per run, on 127.0.0.1, gone when dropped.
//!
//! `--registry auto` ([`Registry::auto`]) takes, in order: a Docker-compatible
//! container engine that answers (`DOCKER_HOST`, else the default socket), in
//! which testcontainers runs the registry image on the host network bound to
//! 127.0.0.1 (the image is built locally by `scripts/podman-registry.sh`; no
//! image hub is reachable); else the CNCF distribution binary (`registry`, or
//! Debian's `docker-registry`) as a child process; else an error saying how to
//! get one. Both listen on an ephemeral port and keep their store in a place
//! that goes with them, and both wait until `/v2/` answers. `--registry URL`
//! uses one that is already running ([`Registry::external`]).
//!
//! Cleanup: on drop the child is killed or the container removed; a child also
//! dies with the thread that started it (`PR_SET_PDEATHSIG`), which lives as
//! long as the `Registry`, so a killed verdict leaves no registry running; a
//! container is removed on SIGINT/SIGTERM by testcontainers' watchdog, and a
//! container left by a run killed outright is removed by the next container
//! start.

use super::engine::{Endpoint, OWNER_LABEL};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use testcontainers::{runners::SyncRunner, Container, GenericImage, ImageExt};

/// How long a started registry may take to answer `/v2/`.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The binaries tried, in order, for a registry process.
pub const BINARIES: [&str; 2] = ["registry", "docker-registry"];

/// The one command that gets a registry binary on Debian.
pub const INSTALL_HINT: &str = "apt-get install docker-registry";

/// The image the container path runs, unless `VERDICT_REGISTRY_IMAGE` names another.
/// Where the container keeps blobs: a tmpfs mount, gone with the container.
const CONTAINER_STORE: &str = "/var/lib/verdict-registry";

pub const DEFAULT_IMAGE: &str = "localhost/verdict-registry:2";

/// What builds [`DEFAULT_IMAGE`] and starts a podman engine.
pub const IMAGE_HINT: &str = "scripts/podman-registry.sh";

/// A registry the run can push to, by `host:port`.
pub struct Registry {
    /// `host:port`, as image references name it.
    pub host: String,
    /// Whether it speaks plain HTTP (a local throwaway one does).
    pub insecure: bool,
    backend: Backend,
}

enum Backend {
    External,
    Process {
        child: Child,
        /// The thread that spawned the child; the child's death signal fires
        /// when it ends, so it lives until the registry is dropped.
        keeper: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
        _store: tempfile::TempDir,
    },
    /// Boxed: a container handle is much larger than the other variants.
    Container(Box<Container<GenericImage>>),
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("host", &self.host).field("insecure", &self.insecure).field("kind", &self.kind()).finish()
    }
}

impl Registry {
    /// An existing registry, from `--registry URL` (`http://host:port` or `host:port`).
    pub fn external(url: &str) -> Registry {
        let insecure = !url.starts_with("https://");
        let host = url.trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/').to_string();
        Registry { host, insecure, backend: Backend::External }
    }

    /// `--registry auto`: a container when an engine answers, else a process,
    /// else an error naming both ways to get one.
    pub fn auto() -> Result<Registry, String> {
        if Endpoint::from_env().is_some_and(|e| e.answers()) {
            // An engine without the registry image (no hub to pull from) still leaves
            // the process path; only when both fail is it an error, naming both causes.
            return Registry::start_container().or_else(|container| Registry::start().map_err(|process| format!("{container}; and {process}")));
        }
        Registry::start().map_err(|e| format!("{e}; or start a container engine (for podman: `{IMAGE_HINT}`)"))
    }

    /// How this registry was provided: `"container"`, `"process"` or `"external"`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::External => "external",
            Backend::Process { .. } => "process",
            Backend::Container(_) => "container",
        }
    }

    /// The container's id on the container path (to find it in the engine).
    pub fn container_id(&self) -> Option<&str> {
        match &self.backend {
            Backend::Container(container) => Some(container.id()),
            _ => None,
        }
    }

    /// Run the registry image ([`DEFAULT_IMAGE`], or `VERDICT_REGISTRY_IMAGE`)
    /// in the container engine of `DOCKER_HOST` (else the default socket).
    pub fn start_container() -> Result<Registry, String> {
        let image = std::env::var("VERDICT_REGISTRY_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_string());
        let engine = Endpoint::from_env().ok_or("DOCKER_HOST names a scheme verdict does not speak (use unix:// or tcp://)")?;
        if !engine.answers() {
            return Err(format!("no container engine answers at {engine}; for podman run `{IMAGE_HINT}` and export the DOCKER_HOST it prints"));
        }
        if !engine.has_image(&image)? {
            return Err(format!("the container engine at {engine} has no image {image}: build it with `{IMAGE_HINT}` (no image hub is reachable, so it is not pulled)"));
        }
        engine.remove_orphans();
        let (name, tag) = split_image(&image);
        let host = format!("127.0.0.1:{}", free_port()?);
        // The host network, bound to loopback: podman 4.3 reports no HostIp for
        // mapped ports, and this keeps all traffic on 127.0.0.1. Set on the host
        // config: testcontainers' `with_network("host")` asks podman to create a
        // network named "host", which it refuses.
        let container = GenericImage::new(name, tag)
            .with_host_config_modifier(|config| {
                config.network_mode = Some("host".into());
                // In memory, as the process path's store: the registry syncs every blob.
                config.tmpfs = Some([(CONTAINER_STORE.to_string(), "rw".to_string())].into());
            })
            .with_env_var("REGISTRY_HTTP_ADDR", &host)
            .with_env_var("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", CONTAINER_STORE)
            .with_label(OWNER_LABEL, std::process::id().to_string())
            .start()
            .map_err(|e| format!("starting {image} in the container engine at {engine}: {e}"))?;
        let mut registry = Registry { host, insecure: true, backend: Backend::Container(Box::new(container)) };
        registry.wait_ready()?;
        Ok(registry)
    }

    /// Start a registry binary found on `PATH`, or say how to get one.
    pub fn start() -> Result<Registry, String> {
        let binary = registry_binary().ok_or_else(|| format!("no container registry: neither `registry` nor `docker-registry` is on PATH; install one with `{INSTALL_HINT}`, or pass --registry URL"))?;
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
        let (child, keeper) = spawn_tied(&binary, &config)?;
        let mut registry = Registry { host, insecure: true, backend: Backend::Process { child, keeper: Some(keeper), _store: store } };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Backend::Process { child, .. } = &mut self.backend {
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
        if let Backend::Process { child, keeper, .. } = &mut self.backend {
            let _ = child.kill();
            let _ = child.wait();
            if let Some((stop, thread)) = keeper.take() {
                drop(stop);
                let _ = thread.join();
            }
        }
        // A container is removed by its own drop.
    }
}

/// The first of [`BINARIES`] on `PATH` (what the process path runs).
pub fn registry_binary() -> Option<PathBuf> {
    BINARIES.iter().find_map(|b| which(b))
}

/// Spawn `binary serve config` from a thread that lives until the returned
/// sender is dropped, with `PR_SET_PDEATHSIG` so the child gets SIGKILL when
/// that thread (and so verdict, killed or not) goes away.
#[allow(clippy::type_complexity)]
fn spawn_tied(binary: &std::path::Path, config: &std::path::Path) -> Result<(Child, (mpsc::Sender<()>, std::thread::JoinHandle<()>)), String> {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(binary);
    command.arg("serve").arg(config).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (spawned_tx, spawned_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let name = binary.display().to_string();
    let thread = std::thread::Builder::new()
        .name("verdict-registry".into())
        .spawn(move || {
            let _ = spawned_tx.send(command.spawn().map_err(|e| format!("{name}: {e}")));
            // Returns when the sender is dropped.
            let _ = stop_rx.recv();
        })
        .map_err(|e| e.to_string())?;
    let child = spawned_rx.recv().map_err(|e| e.to_string())??;
    Ok((child, (stop_tx, thread)))
}

/// `name:tag` → (`name`, `tag`); the tag is `latest` when none is given.
fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
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

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn image_names_split_at_the_tag_not_at_a_registry_port() {
        assert_eq!(split_image("localhost/verdict-registry:2"), ("localhost/verdict-registry", "2"));
        assert_eq!(split_image("localhost:5000/registry"), ("localhost:5000/registry", "latest"));
        assert_eq!(split_image("registry"), ("registry", "latest"));
    }
}
