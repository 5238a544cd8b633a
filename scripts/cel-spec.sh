#!/usr/bin/env bash
# Provide the cel-spec conformance test data for tests/conformance_cel_spec.rs.
#
# The npm package @bufbuild/cel-spec (Apache-2.0) ships cel-spec's conformance
# suite (the simple tests of cel-spec's textproto files) as a JavaScript module.
# This fetches the pinned version with `npm pack`, checks its sha256, unpacks it
# and has node write the module's `tests` object as plain JSON, which the Rust
# test reads. Idempotent: an existing JSON file of the pinned version is kept.
#
# Prints `export VERDICT_CEL_SPEC=<conformance.json>` on stdout; progress on stderr.
# Environment: VERDICT_CEL_SPEC_DIR (default ~/.cache/verdict/cel-spec).
set -euo pipefail

version=0.6.1
sha256=37e4b203f5ca5192db73a6095d129fb5e58a262a89309ba32e1840e7a80270e1
dir="${VERDICT_CEL_SPEC_DIR:-$HOME/.cache/verdict/cel-spec}/$version"
json="$dir/conformance.json"
say() { echo "cel-spec.sh: $*" >&2; }

if [ -s "$json" ]; then
  echo "export VERDICT_CEL_SPEC=$json"
  exit 0
fi
for tool in npm node; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is missing (apt-get install nodejs npm)"; exit 1; }
done

mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
say "fetching @bufbuild/cel-spec@$version"
(cd "$work" && npm pack --silent "@bufbuild/cel-spec@$version" >/dev/null)
tarball="$work/bufbuild-cel-spec-$version.tgz"
actual="$(sha256sum "$tarball" | cut -d' ' -f1)"
if [ "$actual" != "$sha256" ]; then
  say "sha256 $actual, expected the pinned $sha256"
  exit 1
fi
tar -xzf "$tarball" -C "$work"
node -e '
  const [module, out] = process.argv.slice(1);
  import(module).then((m) => require("fs").writeFileSync(out, JSON.stringify(m.tests)));
' "$work/package/dist/esm/testdata/conformance.js" "$json.tmp"
mv "$json.tmp" "$json"
say "wrote $json"
echo "export VERDICT_CEL_SPEC=$json"
