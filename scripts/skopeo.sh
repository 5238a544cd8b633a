#!/usr/bin/env bash
# Provide a skopeo that reads and writes sigstore signatures, for
# tests/oci_interop.rs, without installing anything system-wide.
#
# Debian 12's skopeo (1.9) has sigstore compiled out; Debian 13's (1.18) has it.
# This fetches skopeo and the libraries it links from the trixie suite with a
# private apt state (own sources list, lists, cache and an empty dpkg status),
# unpacks them with dpkg-deb -x into one tree, and writes a wrapper that runs
# skopeo through that tree's own loader (trixie's glibc is newer than the
# machine's). The mirror is the one the machine's own apt sources name.
# Idempotent: a wrapper that already answers --version is kept.
#
# Prints `export VERDICT_SKOPEO=<wrapper>` on stdout; progress on stderr.
# Environment: VERDICT_SKOPEO_DIR (default ~/.cache/verdict/skopeo).
set -euo pipefail

dir="${VERDICT_SKOPEO_DIR:-$HOME/.cache/verdict/skopeo}"
wrapper="$dir/skopeo"
say() { echo "skopeo.sh: $*" >&2; }

if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  echo "export VERDICT_SKOPEO=$wrapper"
  exit 0
fi

# The machine's Debian mirror, from deb822 sources or a one-line sources.list.
mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [ -z "$mirror" ]; then
  mirror="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)"
fi
if [ -z "$mirror" ]; then
  say "found no Debian mirror in /etc/apt/sources.list{,.d}"
  exit 1
fi

apt="$dir/apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/preferences.d"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt/sources.list"
: >"$apt/status"
opts=(
  -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
  -o "Dir::Etc::Preferences=$apt/preferences" -o "Dir::Etc::PreferencesParts=$apt/preferences.d"
  -o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
  -o "Dir::Cache=$apt" -o "Dir::Cache::Archives=$apt/archives"
  -o "APT::Architecture=amd64" -o "APT::Architectures=amd64" -o "APT::Sandbox::User=root"
)
say "reading trixie's package lists from $mirror"
apt-get "${opts[@]}" -qq update >&2

# skopeo and the closure of its library dependencies (lib*: the rest, such as
# containers-common or gpg, are configuration and programs it does not link).
want=(skopeo)
seen=" "
while [ ${#want[@]} -gt 0 ]; do
  pkg="${want[0]}"
  want=("${want[@]:1}")
  case "$seen" in *" $pkg "*) continue ;; esac
  seen="$seen$pkg "
  for dep in $(apt-cache "${opts[@]}" show --no-all-versions "$pkg" | awk -F': ' '/^(Pre-)?Depends:/ {print $2}' |
    tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//; s/ //g' | grep '^lib' || true); do
    want+=("$dep")
  done
done
say "fetching${seen% }"
(cd "$apt/archives" && apt-get "${opts[@]}" -qq download $seen >&2)

tree="$dir/root"
rm -rf "$tree"
mkdir -p "$tree"
for deb in "$apt"/archives/*.deb; do
  dpkg-deb -x "$deb" "$tree"
done
loader="$(find "$tree" -name 'ld-linux-x86-64.so.2' \( -type f -o -type l \) | head -n1)"
if [ -z "$loader" ] || [ ! -x "$tree/usr/bin/skopeo" ]; then
  say "the unpacked tree has no loader or no usr/bin/skopeo"
  exit 1
fi
cat >"$wrapper" <<EOF
#!/bin/sh
# Debian 13's skopeo with its own libraries (written by scripts/skopeo.sh).
exec "$loader" --library-path "$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu" "$tree/usr/bin/skopeo" "\$@"
EOF
chmod +x "$wrapper"
rm -rf "$apt/lists" "$apt/archives"
say "$("$wrapper" --version)"
echo "export VERDICT_SKOPEO=$wrapper"
