#!/usr/bin/env bash
# Make the container path of `--registry auto` work on Debian 12 with rootful
# podman, idempotently:
#   1. installs podman, runc and docker-registry with apt when missing;
#   2. adds a containers.conf drop-in (runc: crun fails on these hybrid cgroups;
#      cgroupfs and file events: no systemd; nofile/nproc ulimits the sandbox
#      allows: it forbids raising hard limits) and leaves other settings alone;
#   3. builds the image localhost/verdict-registry:2 when absent, from Debian's
#      /usr/bin/docker-registry and the libraries ldd names (no image hub here);
#   4. starts `podman system service` on a socket unless it answers already.
# Prints only `export DOCKER_HOST=unix://...` on stdout (and, when it started
# the service, `export VERDICT_PODMAN_SERVICE_PID=N`), so callers `eval` it.
# Progress goes to stderr.
#
# Environment: VERDICT_PODMAN_SOCKET (default /run/verdict/podman.sock),
# VERDICT_REGISTRY_IMAGE (default localhost/verdict-registry:2).
set -euo pipefail

socket="${VERDICT_PODMAN_SOCKET:-/run/verdict/podman.sock}"
image="${VERDICT_REGISTRY_IMAGE:-localhost/verdict-registry:2}"
say() { echo "podman-registry: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "needs root (rootful podman, apt); run it as root"
  exit 1
fi

# 1. Packages.
need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# 2. A drop-in, so the machine's own containers.conf stays as it is.
conf=/etc/containers/containers.conf.d/50-verdict.conf
want='# Written by verdict scripts/podman-registry.sh.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" >"$conf"
  say "wrote $conf"
fi

# 3. The registry image.
if ! podman image exists "$image"; then
  say "building $image from /usr/bin/docker-registry"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/rootfs/bin" "$root/rootfs/etc/docker/registry" "$root/rootfs/var/lib/registry" "$root/rootfs/tmp"
  cp /usr/bin/docker-registry "$root/rootfs/bin/registry"
  # The loader and libraries the binary links (none when it is static).
  for lib in $(ldd /usr/bin/docker-registry 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$root/rootfs$(dirname "$lib")"
    cp -L "$lib" "$root/rootfs$lib"
  done
  cat >"$root/rootfs/etc/docker/registry/config.yml" <<'EOF'
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
EOF
  tar -C "$root/rootfs" -cf "$root/rootfs.tar" .
  podman import -q \
    --change 'ENTRYPOINT ["/bin/registry", "serve", "/etc/docker/registry/config.yml"]' \
    --change 'EXPOSE 5000' \
    "$root/rootfs.tar" "$image" >&2
fi

# 4. The Docker-compatible API on a socket.
answers() { curl -sf --max-time 2 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; }
if ! answers; then
  mkdir -p "$(dirname "$socket")"
  rm -f "$socket"
  log="$(dirname "$socket")/podman-service.log"
  say "starting podman system service on $socket (log: $log)"
  setsid podman system service --time=0 "unix://$socket" </dev/null >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    answers && break
    sleep 0.1
  done
  if ! answers; then
    say "podman system service did not answer on $socket; its log:"
    cat "$log" >&2
    exit 1
  fi
  echo "export VERDICT_PODMAN_SERVICE_PID=$pid"
fi
echo "export DOCKER_HOST=unix://$socket"
