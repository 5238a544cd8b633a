//! The Docker-compatible container engine `--registry auto` may use: where it
//! listens (`DOCKER_HOST`, else the default socket) and a few plain HTTP/1.0
//! calls on its API (ping, image present, container present, remove), so that
//! deciding whether to take the container path costs one short round trip and
//! no client library start-up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// The socket a Docker engine listens on when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Label put on every registry container verdict starts; its value is the
/// starting process's pid, so a later run can remove what a killed run left.
pub const OWNER_LABEL: &str = "dev.verdict.registry.pid";

/// How long one engine call may take: an engine that does not answer in this
/// time is treated as absent.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the engine's API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl Endpoint {
    /// From `DOCKER_HOST` (`unix://PATH` or `tcp://HOST:PORT`), else the default
    /// socket. `None` for a scheme verdict does not speak (ssh, npipe, https).
    pub fn from_env() -> Option<Endpoint> {
        match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => Endpoint::parse(&host),
            _ => Some(Endpoint::Unix(DEFAULT_SOCKET.into())),
        }
    }

    /// Parse a `DOCKER_HOST` value.
    pub fn parse(host: &str) -> Option<Endpoint> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Some(Endpoint::Unix(path.into()));
        }
        host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")).map(|addr| Endpoint::Tcp(addr.trim_end_matches('/').to_string()))
    }

    /// Whether the engine answers `GET /_ping`.
    pub fn answers(&self) -> bool {
        matches!(self.call("GET", "/_ping"), Ok((200, _)))
    }

    /// Whether the engine holds `image` (`name:tag`) locally.
    pub fn has_image(&self, image: &str) -> Result<bool, String> {
        match self.call("GET", &format!("/images/{image}/json"))? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (status, body) => Err(format!("the container engine answered {status} for image {image}: {}", String::from_utf8_lossy(&body))),
        }
    }

    /// Whether a container with this id (or name) exists, running or not.
    pub fn has_container(&self, id: &str) -> Result<bool, String> {
        match self.call("GET", &format!("/containers/{id}/json"))? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (status, body) => Err(format!("the container engine answered {status} for container {id}: {}", String::from_utf8_lossy(&body))),
        }
    }

    /// Remove registry containers left by verdict processes that no longer
    /// exist (killed before their drop or signal handler ran). Best effort.
    pub fn remove_orphans(&self) {
        // filters={"label":["dev.verdict.registry.pid"]}, URL-encoded.
        let Ok((200, body)) = self.call("GET", "/containers/json?all=true&filters=%7B%22label%22%3A%5B%22dev.verdict.registry.pid%22%5D%7D") else {
            return;
        };
        let Ok(serde_json::Value::Array(containers)) = serde_json::from_slice(&body) else { return };
        for container in containers {
            let (Some(id), Some(pid)) = (container["Id"].as_str(), container["Labels"][OWNER_LABEL].as_str()) else { continue };
            if !PathBuf::from("/proc").join(pid).exists() {
                let _ = self.call("DELETE", &format!("/containers/{id}?force=true&v=true"));
            }
        }
    }

    /// One HTTP/1.0 call (the engine closes the connection after answering, so
    /// the body is everything after the head). Returns status and body.
    fn call(&self, method: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
        let request = format!("{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
        let mut response = Vec::new();
        let io = |e: std::io::Error| format!("container engine at {self}: {e}");
        match self {
            Endpoint::Unix(path) => {
                let mut stream = UnixStream::connect(path).map_err(io)?;
                stream.set_read_timeout(Some(CALL_TIMEOUT)).map_err(io)?;
                stream.set_write_timeout(Some(CALL_TIMEOUT)).map_err(io)?;
                stream.write_all(request.as_bytes()).map_err(io)?;
                stream.read_to_end(&mut response).map_err(io)?;
            }
            Endpoint::Tcp(addr) => {
                let addr = std::net::ToSocketAddrs::to_socket_addrs(addr.as_str()).map_err(io)?.next().ok_or_else(|| format!("{addr}: no address"))?;
                let mut stream = TcpStream::connect_timeout(&addr, CALL_TIMEOUT).map_err(io)?;
                stream.set_read_timeout(Some(CALL_TIMEOUT)).map_err(io)?;
                stream.set_write_timeout(Some(CALL_TIMEOUT)).map_err(io)?;
                stream.write_all(request.as_bytes()).map_err(io)?;
                stream.read_to_end(&mut response).map_err(io)?;
            }
        }
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("container engine at {self}: no HTTP answer"))?;
        let head = String::from_utf8_lossy(&response[..split]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("container engine at {self}: bad status line {:?}", head.lines().next()))?;
        Ok((status, response[split + 4..].to_vec()))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_values_are_read_as_docker_reads_them() {
        assert_eq!(Endpoint::parse("unix:///run/x.sock"), Some(Endpoint::Unix("/run/x.sock".into())));
        assert_eq!(Endpoint::parse("tcp://127.0.0.1:2375"), Some(Endpoint::Tcp("127.0.0.1:2375".into())));
        assert_eq!(Endpoint::parse("ssh://me@host"), None);
    }

    #[test]
    fn a_socket_nobody_listens_on_does_not_answer() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Endpoint::Unix(dir.path().join("none.sock")).answers());
    }

    #[test]
    fn an_engine_is_read_from_its_http_answer() {
        // A one-shot fake engine on a unix socket: answers 200 with a body.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 256];
            let n = stream.read(&mut request).unwrap();
            assert!(request[..n].starts_with(b"GET /_ping HTTP/1.0\r\n"));
            stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK").unwrap();
        });
        assert!(Endpoint::Unix(path).answers());
        server.join().unwrap();
    }
}
