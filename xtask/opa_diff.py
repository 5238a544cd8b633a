"""Evaluate a batch of Rego queries in real OPA, for `cargo xtask opa-diff`.

Reads one JSON object on stdin:
  {"programs": [{"modules": [[name, source], ...], "data": {...}}, ...],
   "evaluations": [{"program": index, "input": {...}, "query": "data.pkg.rule"}, ...]}
and writes one JSON array on stdout, one entry per evaluation, in order:
  {"value": ...} | {"undefined": true} | {"error": "..."}

Each program is compiled once (one OpaEngine) and evaluated on all its inputs.
The bindings directory (holding `opa_bindings`) is the first argument.
"""

import json
import sys


def main():
    sys.path.insert(0, sys.argv[1])
    from opa_bindings import OpaEngine, OpaError

    batch = json.load(sys.stdin)
    engines = []
    for program in batch["programs"]:
        engine = OpaEngine()
        try:
            for name, source in program["modules"]:
                engine.add_policy(name, source)
            engine.add_data(program["data"])
            # Compile now, so that a compile error is reported once per program.
            engine.eval_query("true")
            engines.append((engine, None))
        except OpaError as err:
            engines.append((engine, f"compile: {err}"))

    results = []
    for evaluation in batch["evaluations"]:
        engine, compile_error = engines[evaluation["program"]]
        if compile_error is not None:
            results.append({"error": compile_error})
            continue
        try:
            rows = engine.eval_query(f"__opa_diff_value = {evaluation['query']}", evaluation["input"])
        except OpaError as err:
            results.append({"error": str(err)})
            continue
        if not rows:
            results.append({"undefined": True})
        else:
            results.append({"value": rows[0]["__opa_diff_value"]})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
