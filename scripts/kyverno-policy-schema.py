#!/usr/bin/env python3
"""Regenerate src/engine/kyverno/schema/policy.schema.json.

Usage:
    pip download --no-deps --python-version 3.14 --only-binary=:all: \
        -d /tmp/kyv cloudcoil-models-kyverno==1.19.0.1
    python3 scripts/kyverno-policy-schema.py \
        /tmp/kyv/cloudcoil_models_kyverno-1.19.0.1-py3-none-any.whl

The wheel holds pydantic models generated from the Kyverno CRDs, not the CRD
YAML itself, and needs Python >= 3.14 (and cloudcoil) to import. So the model
sources are read straight from the wheel and walked with `ast`: nothing is
imported, any Python 3.9+ with only the standard library will do.

Mapping (see SOURCE.md):
- a model class becomes an object schema whose properties are the fields'
  Kubernetes names (the pydantic `alias`, else the field name, which is then a
  single lower-case word); fields without a default are `required`;
  `additionalProperties` is false unless the class says `extra='allow'`
  (a CRD object with `x-kubernetes-preserve-unknown-fields`);
- `dict[str, Any]` (what the generator makes of a preserve-unknown-fields
  value such as `pattern`, `anyPattern`, `deny.conditions`, `variable.value`)
  becomes `{}`: anything, including lists and scalars;
- `X | None` accepts null (`type: [T, null]`, `enum: [..., null]`; an
  optional model is a plain `$ref` to a definition typed `[object, null]`,
  and a required one adds `type: object`, so validators report a misspelt
  field as `additionalProperties` rather than one opaque `anyOf` failure);
  `Literal[...]` becomes `enum`; `Field(ge=, le=, max_length=, min_length=,
  pattern=)` become the matching keywords;
- a `RootModel` union whose members share one property set and differ only in
  which field is required (the CRD's `oneOf: [{required: [configMap]}, ...]`
  on context entries) becomes one strict object plus that `oneOf`;
- structurally identical definitions are merged (ClusterPolicy/Policy and
  v1/v2beta1 share most of their tree), descriptions are dropped, and fields
  whose description says "Deprecated" get `"deprecated": true`;
- `metadata` is a loose ObjectMeta (known fields typed, anything else allowed).
"""

import ast
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

PKG = "cloudcoil/models/kyverno/"
MODULES = {"v1": "kyverno.io/v1", "v2beta1": "kyverno.io/v2beta1"}
KINDS = ["ClusterPolicy", "Policy"]
OUT = (Path(__file__).resolve().parent.parent
       / "src" / "engine" / "kyverno" / "schema" / "policy.schema.json")

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "managedFields": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
SCALARS = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "Any": {},
    "AwareDatetime": {"type": "string", "format": "date-time"},
    "ObjectMeta": {"$ref": "#/$defs/ObjectMeta"},
}
DEPRECATED = re.compile(r"(^|[.\n]\s*)Deprecated\b")


class Module:
    def __init__(self, name, source):
        self.name = name
        self.classes = {n.name: n for n in ast.parse(source).body
                        if isinstance(n, ast.ClassDef)}

    def ref(self, cls):
        return {"$ref": f"#/$defs/{self.name}.{cls}"}

    # -- annotations -------------------------------------------------------

    def type_schema(self, node):
        """Schema of a type annotation, or (schema, nullable) via union()."""
        schema, nullable = self.union(node)
        return nullable_of(schema) if nullable else schema

    def union(self, node):
        members = flatten_union(node)
        nullable = any(is_none(m) for m in members)
        rest = [m for m in members if not is_none(m)]
        if len(rest) == 1:
            return self.single(rest[0]), nullable
        names = [m.id for m in rest if isinstance(m, ast.Name)]
        if len(names) == len(rest) and all(n in self.classes for n in names):
            return self.merged_variants(names), nullable
        return {"anyOf": [self.single(m) for m in rest]}, nullable

    def single(self, node):
        if isinstance(node, ast.Name):
            if node.id in SCALARS:
                return dict(SCALARS[node.id])
            if node.id in self.classes:
                return self.ref(node.id)
            raise SystemExit(f"{self.name}: unknown type {node.id}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.type_schema(ast.parse(node.value, mode="eval").body)
        if isinstance(node, ast.Subscript):
            head = ast.unparse(node.value)
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if head == "list":
                return {"type": "array", "items": self.type_schema(args[0])}
            if head == "dict":
                if ast.unparse(args[0]) != "str":
                    raise SystemExit(f"{self.name}: dict key {ast.unparse(args[0])}")
                if ast.unparse(args[1]) == "Any":
                    # x-kubernetes-preserve-unknown-fields: any JSON value.
                    return {}
                return {"type": "object", "additionalProperties": self.type_schema(args[1])}
            if head == "Literal":
                values = [ast.literal_eval(a) for a in args]
                return {"const": values[0]} if len(values) == 1 else {"enum": values}
            if head == "Annotated":
                schema = self.type_schema(args[0])
                for extra in args[1:]:
                    apply_field(schema, field_kwargs(extra), self.name)
                return schema
        raise SystemExit(f"{self.name}: cannot map annotation {ast.unparse(node)}")

    # -- classes -----------------------------------------------------------

    def fields(self, cls):
        """(k8s name, annotation, required, deprecated) of each model field."""
        body = self.classes[cls].body
        out = []
        for i, st in enumerate(body):
            if not isinstance(st, ast.AnnAssign) or not isinstance(st.target, ast.Name):
                continue
            ann = st.annotation
            if ast.unparse(ann).startswith("ClassVar"):
                continue
            alias = None
            if isinstance(ann, ast.Subscript) and ast.unparse(ann.value) == "Annotated":
                for extra in ann.slice.elts[1:]:
                    alias = field_kwargs(extra).get("alias", alias)
            name = alias or st.target.id
            if alias is None and ("_" in name or name != name.lower()):
                raise SystemExit(f"{self.name}.{cls}.{name}: no alias for a non-k8s name")
            doc = ""
            if i + 1 < len(body) and isinstance(body[i + 1], ast.Expr) \
                    and isinstance(body[i + 1].value, ast.Constant):
                doc = str(body[i + 1].value.value)
            out.append((name, ann, st.value is None, bool(DEPRECATED.search(doc))))
        return out

    def extra_allowed(self, cls):
        for st in self.classes[cls].body:
            if isinstance(st, ast.Assign) and any(
                    getattr(t, "id", None) == "model_config" for t in st.targets):
                extra = field_kwargs(st.value).get("extra")
                if extra not in (None, "allow", "forbid", "ignore"):
                    raise SystemExit(f"{cls}: model_config extra={extra!r}")
                return extra == "allow"
        return False

    def root_of(self, cls):
        """The RootModel[...] type argument of a class, if it is one."""
        for base in self.classes[cls].bases:
            if isinstance(base, ast.Subscript) and ast.unparse(base.value) == "RootModel":
                return base.slice
        return None

    def class_schema(self, cls):
        root = self.root_of(cls)
        if root is not None:
            return self.type_schema(root)
        props, required = {}, []
        for name, ann, req, deprecated in self.fields(cls):
            schema = self.type_schema(ann)
            if deprecated:
                schema = dict(schema, deprecated=True)
            props[name] = schema
            if req:
                required.append(name)
        out = {"type": "object", "properties": props}
        if required:
            out["required"] = required
        out["additionalProperties"] = self.extra_allowed(cls)
        return out

    def merged_variants(self, names):
        """One object + oneOf-required when variants differ only in `required`."""
        variants = [self.class_schema(n) for n in names]
        strip = [strip_required(v) for v in variants]
        if all(s == strip[0] for s in strip) and all("required" in v for v in variants):
            common = set.intersection(*(set(v["required"]) for v in variants))
            base = dict(strip[0])
            # Optional (nullable) form of each field: from a variant that does
            # not require it.
            base["properties"] = {
                p: next((v["properties"][p] for v in variants if p not in v["required"]),
                        variants[0]["properties"][p])
                for p in variants[0]["properties"]}
            if common:
                base["required"] = [r for r in variants[0]["required"] if r in common]
            base["oneOf"] = [{"required": [r for r in v["required"] if r not in common]}
                             for v in variants]
            return base
        return {"oneOf": [self.ref(n) for n in names]}


def strip_required(schema):
    props = {k: strip_null(v) for k, v in schema["properties"].items()}
    return {k: (props if k == "properties" else v)
            for k, v in schema.items() if k != "required"}


def strip_null(schema):
    """A property schema without its null alternative (variants mark the one
    field they require as non-nullable, the others as optional)."""
    if list(schema) == ["anyOf"] and {"type": "null"} in schema["anyOf"]:
        rest = [s for s in schema["anyOf"] if s != {"type": "null"}]
        return rest[0] if len(rest) == 1 else {"anyOf": rest}
    if isinstance(schema.get("type"), list) and "null" in schema["type"]:
        types = [t for t in schema["type"] if t != "null"]
        return dict(schema, type=types[0] if len(types) == 1 else types)
    if "enum" in schema and None in schema["enum"]:
        return dict(schema, enum=[v for v in schema["enum"] if v is not None])
    return schema


def flatten_union(node):
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return flatten_union(node.left) + flatten_union(node.right)
    return [node]


def is_none(node):
    return isinstance(node, ast.Constant) and node.value is None


def nullable_of(schema):
    if schema == {}:
        return schema
    if "const" in schema:
        return {"enum": [schema["const"], None]}
    if "$ref" in schema or "anyOf" in schema or "oneOf" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in schema:
        return dict(schema, enum=schema["enum"] + [None])
    if isinstance(schema.get("type"), str):
        return dict(schema, type=[schema["type"], "null"])
    raise SystemExit(f"cannot make nullable: {schema}")


def field_kwargs(node):
    if not (isinstance(node, ast.Call) and ast.unparse(node.func) in ("Field", "ConfigDict")):
        raise SystemExit(f"unexpected Annotated extra {ast.unparse(node)}")
    if node.args:
        raise SystemExit(f"positional Field argument in {ast.unparse(node)}")
    return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


def apply_field(schema, kwargs, where):
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    for key, value in kwargs.items():
        if key in ("alias", "description", "default"):
            continue
        if key in ("max_length", "min_length"):
            kind = "Items" if "array" in types else "Length"
            schema[("max" if key == "max_length" else "min") + kind] = value
        elif key in ("ge", "le", "gt", "lt"):
            schema[{"ge": "minimum", "le": "maximum",
                    "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}[key]] = value
        elif key == "pattern":
            schema["pattern"] = value
        else:
            raise SystemExit(f"{where}: unsupported Field({key}=...)")


# -- nullable references ------------------------------------------------------

def lift_null(defs):
    """Turn `anyOf: [{$ref: X}, {type: null}]` into a plain `$ref` to an X that
    accepts null itself (`type: [object, null]`); references that must not be
    null get a sibling `type: object`.

    Same meaning, but a validator reports an unknown field inside X as an
    `additionalProperties` error at that object, instead of one opaque `anyOf`
    failure (the Rust `jsonschema` crate reports only the latter)."""
    def target(node):
        if set(node) <= {"anyOf", "deprecated"} and len(node.get("anyOf", ())) == 2 \
                and node["anyOf"][1] == {"type": "null"} and list(node["anyOf"][0]) == ["$ref"]:
            return node["anyOf"][0]["$ref"][len("#/$defs/"):]
        return None

    nullable = set()

    def scan(node):
        if isinstance(node, dict):
            t = target(node)
            if t is not None:
                nullable.add(t)
            for v in node.values():
                scan(v)
        elif isinstance(node, list):
            for v in node:
                scan(v)

    scan(defs)
    nullable = {n for n in nullable if defs[n].get("type") == "object" and "oneOf" not in defs[n]}

    def rewrite(node):
        if isinstance(node, dict):
            t = target(node)
            if t in nullable:
                return dict({k: v for k, v in node.items() if k != "anyOf"},
                            **node["anyOf"][0])
            if set(node) <= {"$ref", "deprecated"} and "$ref" in node \
                    and node["$ref"][len("#/$defs/"):] in nullable:
                return dict(node, type="object")
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    out = {}
    for name, schema in defs.items():
        schema = rewrite(schema)
        if name in nullable:
            schema = dict(schema, type=["object", "null"])
        out[name] = schema
    return out


# -- merging identical definitions ---------------------------------------------

def refs_in(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v[len("#/$defs/"):]
            else:
                yield from refs_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs_in(v)


def rewrite_refs(node, rep):
    if isinstance(node, dict):
        return {k: ("#/$defs/" + rep.get(v[len("#/$defs/"):], v[len("#/$defs/"):])
                    if k == "$ref" else rewrite_refs(v, rep))
                for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite_refs(v, rep) for v in node]
    return node


def preference(name):
    module, _, cls = name.partition(".")
    return (module != "v1", "Status" in cls, not cls.startswith("ClusterPolicy"),
            len(cls), name)


def merge_identical(defs, roots):
    rep = {n: n for n in defs}
    while True:
        groups = {}
        for name, schema in defs.items():
            key = json.dumps(rewrite_refs(schema, rep), sort_keys=True)
            groups.setdefault(key, []).append(name)
        new = {}
        for members in groups.values():
            best = min(members, key=preference)
            for m in members:
                new[m] = best
        if new == rep:
            break
        rep = new
    for r in roots:  # document roots keep their own names
        rep[r] = r
    merged = {}
    for name in defs:
        if rep[name] == name:
            merged[name] = rewrite_refs(defs[name], rep)
    # Drop what is no longer reachable from the roots.
    keep, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in keep:
            continue
        keep.add(n)
        todo.extend(refs_in(merged[n]))
    return {n: merged[n] for n in sorted(keep)}


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    wheel = Path(sys.argv[1])
    with zipfile.ZipFile(wheel) as zf:
        sources = {m: zf.read(f"{PKG}{m}.py").decode() for m in MODULES}
    defs, roots = {"ObjectMeta": OBJECT_META}, ["ObjectMeta"]
    for mod_name, api_version in MODULES.items():
        mod = Module(mod_name, sources[mod_name])
        # Every class reachable from the two kinds, by name.
        todo, seen = list(KINDS), set()
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            schema = mod.class_schema(cls)
            defs[f"{mod_name}.{cls}"] = schema
            todo.extend(r.partition(".")[2] for r in refs_in(schema)
                        if r.startswith(mod_name + "."))
        for kind in KINDS:
            doc = defs[f"{mod_name}.{kind}"]
            if doc["properties"]["apiVersion"].get("const") != api_version \
                    or doc["properties"]["kind"].get("const") != kind:
                raise SystemExit(f"{mod_name}.{kind}: unexpected apiVersion/kind")
            doc["required"] = ["apiVersion", "kind"] + [
                r for r in doc.get("required", []) if r not in ("apiVersion", "kind")]
            roots.append(f"{mod_name}.{kind}")
    defs = lift_null(merge_identical(defs, roots))

    branches = []
    for mod_name, api_version in MODULES.items():
        for kind in KINDS:
            branches.append({
                "if": {"properties": {"apiVersion": {"const": api_version},
                                      "kind": {"const": kind}},
                       "required": ["apiVersion", "kind"]},
                "then": {"$ref": f"#/$defs/{mod_name}.{kind}"},
            })
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Kyverno ClusterPolicy and Policy (kyverno.io/v1, kyverno.io/v2beta1), strict",
        "$comment": f"Generated by scripts/kyverno-policy-schema.py from {wheel.name} "
                    f"(sha256 {digest}); see SOURCE.md. Do not edit.",
        "type": "object",
        "required": ["apiVersion", "kind", "spec"],
        "properties": {
            "apiVersion": {"enum": list(MODULES.values())},
            "kind": {"enum": KINDS},
        },
        "allOf": branches,
        "$defs": defs,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{len(defs)} definitions, {OUT.stat().st_size} bytes -> {OUT}")


if __name__ == "__main__":
    main()
