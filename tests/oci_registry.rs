//! How `--registry auto` provides the throwaway registry, against the real
//! thing: the container path (testcontainers in the engine of `DOCKER_HOST`;
//! `.ci/run` starts podman with `scripts/podman-registry.sh`) and the process
//! path (Debian's `docker-registry`), which one `auto` takes, what it says when
//! it has neither, and that nothing outlives verdict: not after drop, not after
//! Ctrl-C, not after SIGKILL. Without an engine or a binary a test says
//! SKIPPED, and fails under `CI=true`.
//!
//! Cases that need a verdict process to die run this binary again as a child
//! (the ignored `helper` test), which starts a registry and waits to be killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use verdict::oci::engine::Endpoint;
use verdict::oci::{build_and_push, cosign, ImageSpec, Registry, RegistryClient, IMAGE_HINT, INSTALL_HINT};

fn skip_or_fail(what: &str) {
    if std::env::var("CI").is_ok() {
        panic!("CI=true but {what}");
    }
    eprintln!("SKIPPED: {what}");
}

/// The engine of `DOCKER_HOST` when it answers.
fn engine() -> Option<Endpoint> {
    match Endpoint::from_env() {
        Some(engine) if engine.answers() => Some(engine),
        Some(engine) => {
            skip_or_fail(&format!("no container engine answers at {engine} (run `{IMAGE_HINT}` and export its DOCKER_HOST)"));
            None
        }
        None => {
            skip_or_fail("DOCKER_HOST names a scheme verdict does not speak");
            None
        }
    }
}

fn process_registry() -> Option<Registry> {
    match Registry::start() {
        Ok(registry) => Some(registry),
        Err(e) => {
            skip_or_fail(&e);
            None
        }
    }
}

fn answers_v2(host: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(host) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes());
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// Whether anything accepts connections on `host` (a slow answer still counts).
fn listening(host: &str) -> bool {
    std::net::TcpStream::connect(host).is_ok()
}

fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pushes, signs and verifies one image: the registry really serves.
fn push_sign_verify(registry: &Registry) {
    let client = RegistryClient::new(true).unwrap();
    let spec = ImageSpec { repository: "shop/web".into(), tag: "1.0".into(), files: [("/v".to_string(), "1".to_string())].into(), ..Default::default() };
    let image = build_and_push(&client, &registry.host, &spec).unwrap();
    let key = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oci/signer.key")).unwrap();
    let key = cosign::signing_key_from_pem(&key).unwrap();
    cosign::sign(&client, &image, &key).unwrap();
    let verified = cosign::verify(&client, &image.tagged, key.verifying_key());
    assert!(verified.is_ok(), "{verified:?}");
}

/// A child copy of this binary running `helper`; killed (SIGKILL) when dropped.
struct Helper {
    child: Child,
    /// The helper's one line: `READY kind host [container-id]` or `ERROR message`.
    line: String,
}

impl Helper {
    fn start(mode: &str, env: &[(&str, &str)]) -> Helper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["helper", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("VERDICT_REGISTRY_HELPER", mode)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // libtest prints `test helper ... ` on the same line before the helper's words.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let said = loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break String::new();
            }
            if let Some(at) = line.find("READY ").or_else(|| line.find("ERROR ")) {
                break line[at..].trim().to_string();
            }
        };
        Helper { child, line: said }
    }

    fn field(&self, n: usize) -> &str {
        self.line.split(' ').nth(n).unwrap_or_else(|| panic!("helper said {:?}", self.line))
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
    }

    fn wait(&mut self, within: Duration) {
        let child = &mut self.child;
        eventually("the helper exits", within, || child.try_wait().unwrap().is_some());
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "helper: run by the other tests of this file in a child process"]
fn helper() {
    let Ok(mode) = std::env::var("VERDICT_REGISTRY_HELPER") else { return };
    let started = match mode.as_str() {
        "auto" => Registry::auto(),
        "container" => Registry::start_container(),
        _ => Registry::start(),
    };
    match started {
        Ok(registry) => {
            println!("READY {} {} {}", registry.kind(), registry.host, registry.container_id().unwrap_or("-"));
            // Bounded: the test kills it long before.
            std::thread::sleep(Duration::from_secs(60));
        }
        Err(e) => println!("ERROR {e}"),
    }
}

#[test]
fn the_process_path_serves_and_is_gone_after_drop() {
    let started = Instant::now();
    let Some(registry) = process_registry() else { return };
    eprintln!("process registry: start to ready in {:?}", started.elapsed());
    assert_eq!(registry.kind(), "process");
    assert_eq!(registry.container_id(), None);
    push_sign_verify(&registry);
    let host = registry.host.clone();
    drop(registry);
    assert!(!listening(&host), "nothing listens on {host} after drop");
}

#[test]
fn a_killed_verdict_leaves_no_registry_process() {
    if process_registry().is_none() {
        return;
    }
    let mut helper = Helper::start("process", &[]);
    assert_eq!(helper.field(1), "process", "{}", helper.line);
    let host = helper.field(2).to_string();
    assert!(answers_v2(&host));
    helper.signal(libc::SIGKILL);
    helper.wait(Duration::from_secs(5));
    eventually("the registry child dies with its parent", Duration::from_secs(5), || !listening(&host));
}

#[test]
fn the_container_path_serves_and_the_container_is_removed_after_drop() {
    let Some(engine) = engine() else { return };
    let started = Instant::now();
    let registry = Registry::start_container().unwrap();
    eprintln!("container registry: start to ready in {:?}", started.elapsed());
    assert_eq!(registry.kind(), "container");
    assert!(registry.host.starts_with("127.0.0.1:"), "{}", registry.host);
    let id = registry.container_id().expect("a container has an id").to_string();
    assert!(engine.has_container(&id).unwrap());
    push_sign_verify(&registry);
    let host = registry.host.clone();
    drop(registry);
    assert!(!engine.has_container(&id).unwrap(), "container {id} is removed on drop");
    assert!(!listening(&host), "nothing listens on {host} after drop");
}

#[test]
fn ctrl_c_removes_the_container() {
    let Some(engine) = engine() else { return };
    let mut helper = Helper::start("container", &[]);
    assert_eq!(helper.field(1), "container", "{}", helper.line);
    let (host, id) = (helper.field(2).to_string(), helper.field(3).to_string());
    assert!(engine.has_container(&id).unwrap());
    helper.signal(libc::SIGINT);
    helper.wait(Duration::from_secs(15));
    assert!(!engine.has_container(&id).unwrap(), "container {id} is removed on SIGINT");
    assert!(!listening(&host));
}

#[test]
fn a_container_left_by_a_killed_verdict_is_removed_by_the_next_start() {
    let Some(engine) = engine() else { return };
    let mut helper = Helper::start("container", &[]);
    let id = helper.field(3).to_string();
    helper.signal(libc::SIGKILL);
    helper.wait(Duration::from_secs(5));
    assert!(engine.has_container(&id).unwrap(), "SIGKILL runs no handler: the container is still there");
    let registry = Registry::start_container().unwrap();
    assert!(!engine.has_container(&id).unwrap(), "the orphan {id} is removed by the next start");
    drop(registry);
}

#[test]
fn auto_takes_the_container_when_an_engine_answers() {
    if engine().is_none() {
        return;
    }
    let registry = Registry::auto().unwrap();
    assert_eq!(registry.kind(), "container");
}

#[test]
fn auto_takes_the_process_when_no_engine_answers() {
    if process_registry().is_none() {
        return;
    }
    let helper = Helper::start("auto", &[("DOCKER_HOST", "unix:///nonexistent/verdict-test.sock")]);
    assert_eq!(helper.field(1), "process", "{}", helper.line);
}

#[test]
fn auto_with_neither_says_how_to_get_one() {
    let helper = Helper::start("auto", &[("DOCKER_HOST", "unix:///nonexistent/verdict-test.sock"), ("PATH", "/nonexistent")]);
    assert!(helper.line.starts_with("ERROR "), "{}", helper.line);
    assert!(helper.line.contains(INSTALL_HINT) && helper.line.contains(IMAGE_HINT), "{}", helper.line);
}

#[test]
fn a_missing_registry_image_says_how_to_build_it() {
    if engine().is_none() {
        return;
    }
    let helper = Helper::start("container", &[("VERDICT_REGISTRY_IMAGE", "localhost/verdict-no-such-image:0")]);
    assert!(helper.line.starts_with("ERROR "), "{}", helper.line);
    assert!(helper.line.contains("localhost/verdict-no-such-image:0") && helper.line.contains(IMAGE_HINT), "{}", helper.line);
}

#[test]
fn external_registries_are_named_as_given() {
    let registry = Registry::external("http://127.0.0.1:5000/");
    assert_eq!((registry.host.as_str(), registry.insecure, registry.kind()), ("127.0.0.1:5000", true, "external"));
    assert!(!Registry::external("https://registry.example").insecure);
}
