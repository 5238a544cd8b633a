#!/usr/bin/env python3
"""Regenerate the Kubernetes JSON Schemas embedded in src/input/kubernetes-schemas/.

Usage:
    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    python3 scripts/k8s_schemas.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl v1.37.0

Reads the `-local-strict` flavour (every object schema has
`additionalProperties: false`) for one Kubernetes version, keeps only the kinds
fixture manifests use and the definitions they reach, and drops what does not
affect validation (descriptions, `x-kubernetes-*` annotations) so the embedded
data stays small. See SOURCE.md for the one semantic rewrite (nullable `oneOf`).
"""

import json
import sys
import zipfile
from pathlib import Path

# Kinds a policy library judges; adding a fixture of another built-in kind
# fails closed until its kind is added here and this script is re-run.
KINDS = [
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
    "ReplicationController", "Job", "CronJob", "Namespace", "Service",
    "ConfigMap", "Secret", "ServiceAccount", "Ingress", "NetworkPolicy",
    "PersistentVolumeClaim", "PersistentVolume", "Role", "ClusterRole",
    "RoleBinding", "ClusterRoleBinding", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "StorageClass", "LimitRange", "ResourceQuota",
]

OUT = Path(__file__).resolve().parent.parent / "src" / "input" / "kubernetes-schemas"
DEFS_ID = "https://kubernetes.io/api/_definitions.json"


def ref_target(ref):
    # Kind files say "/api/_definitions.json#/$defs/X", definitions say "#/$defs/X".
    _, _, frag = ref.partition("#/$defs/")
    if not frag:
        raise SystemExit(f"unexpected $ref {ref!r}")
    return frag


def refs_in(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield ref_target(value)
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def simplify(node, in_properties=False):
    """Drop annotations; turn oneOf-of-plain-types into one union type."""
    if isinstance(node, list):
        return [simplify(v) for v in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        # Keys here are field names (a field may be called "description").
        return {k: simplify(v) for k, v in node.items()}
    out = {}
    for key, value in node.items():
        if key in ("description", "$schema", "$id") or key.startswith("x-kubernetes-"):
            continue
        if key == "$ref":
            out[key] = "#/$defs/" + ref_target(value)
        else:
            out[key] = simplify(value, in_properties=key in ("properties", "patternProperties", "$defs"))
    branches = out.get("oneOf")
    if branches and all(isinstance(b, dict) and set(b) == {"type"} for b in branches):
        # IntOrString and Quantity: oneOf [string|null, integer|null] rejects
        # null because both branches match; a union type says what is meant.
        types = []
        for b in branches:
            for t in b["type"] if isinstance(b["type"], list) else [b["type"]]:
                if t not in types:
                    types.append(t)
        del out["oneOf"]
        out["type"] = types
    return out


def main():
    wheel, version = sys.argv[1], sys.argv[2]
    base = f"kubernetes_validate/kubernetes-json-schema/{version}-local-strict/"
    with zipfile.ZipFile(wheel) as zf:
        defs = json.loads(zf.read(base + "_definitions.json"))["$defs"]

    builtin_groups = set()
    roots = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            builtin_groups.add(gvk["group"])
        gvks = schema.get("x-kubernetes-group-version-kind", [])
        if len(gvks) == 1 and gvks[0]["kind"] in KINDS:
            g, v, k = gvks[0]["group"], gvks[0]["version"], gvks[0]["kind"]
            api_version = f"{g}/{v}" if g else v
            roots.setdefault(api_version, {})[k] = name

    found = {k for by_kind in roots.values() for k in by_kind}
    missing = sorted(set(KINDS) - found)
    if missing:
        raise SystemExit(f"{version} has no schema for {missing}")

    keep, todo = set(), [n for by_kind in roots.values() for n in by_kind.values()]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(refs_in(defs[name]))

    pruned = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": DEFS_ID,
        "$defs": {name: simplify(defs[name]) for name in sorted(keep)},
    }
    index = {
        "kubernetes": version,
        "source": "kubernetes-validate " + Path(wheel).name,
        "kinds": {av: dict(sorted(ks.items())) for av, ks in sorted(roots.items())},
        "builtinGroups": sorted(g for g in builtin_groups if g),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "definitions.json").write_text(json.dumps(pruned, separators=(",", ":"), sort_keys=True) + "\n")
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"{len(keep)} definitions, {sum(len(k) for k in roots.values())} kinds,",
          f"{(OUT / 'definitions.json').stat().st_size} bytes")


if __name__ == "__main__":
    main()
