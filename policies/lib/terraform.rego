# Helpers for rules judging `terraform show -json` plans (the plan is `input`).
#
# A plan says what each resource will look like after apply
# (`resource_changes[].change.after`), but attributes computed by the provider,
# such as a new bucket's `id`, are unknown (`after_unknown`). Resources that
# refer to a bucket by its id are therefore linked through the `configuration`
# section, whose expressions keep the references the author wrote
# (`aws_s3_bucket.logs.id`), including across module boundaries (module outputs
# and module input variables).
package lib.terraform

import rego.v1

# Managed resources that exist after apply: everything but pure deletions.
resources contains resource if {
	some rc in input.resource_changes
	rc.mode == "managed"
	not rc.change.actions == ["delete"]
	module_path := strip_indices(object.get(rc, "module_address", ""))
	resource := {
		"address": rc.address,
		"type": rc.type,
		"module": module_path,
		"config_address": qualified(module_path, sprintf("%s.%s", [rc.type, rc.name])),
		"index": object.get(rc, "index", null),
		"values": object.get(rc.change, "after", {}),
		"unknown": object.get(rc.change, "after_unknown", {}),
	}
}

# Resources of one type.
of_type(resource_type) := {r | some r in resources; r.type == resource_type}

# S3 buckets tagged `data_classification = regulated` (in `tags`, or in
# `tags_all`, which also carries the provider's `default_tags`).
regulated_buckets contains bucket if {
	some bucket in of_type("aws_s3_bucket")
	regulated(bucket.values)
}

regulated(values) if lower(object.get(values, ["tags", "data_classification"], "")) == "regulated"

regulated(values) if lower(object.get(values, ["tags_all", "data_classification"], "")) == "regulated"

# Resources of `resource_type` whose `bucket` argument designates `bucket`.
attached(bucket, resource_type) := {r |
	some r in of_type(resource_type)
	designates(r, bucket)
}

# By reference in the configuration: works while the bucket id is unknown.
# A reference to one instance (`aws_s3_bucket.this["alpha"]`) designates only
# that instance; a reference without a static key designates them all.
designates(r, bucket) if {
	some target in bucket_references(r)
	target.address == bucket.config_address
	target.index in {null, bucket.index}
}

# By a known bucket name, as when the name is a literal in both resources.
designates(r, bucket) if {
	name := r.values.bucket
	is_string(name)
	name in {bucket.values.bucket, object.get(bucket.values, "id", null)}
}

# Bucket instances ({address, index}) that the `bucket` argument of `r`
# refers to: directly, through a child module's output, through the module's
# input variable set by the parent, or through `each.value` of a `for_each`
# over buckets.
bucket_references(r) := {target |
	some target in all_references(r)
	not narrowed(target, all_references(r))
}

all_references(r) := {target |
	some ref in argument_references(r, "bucket")
	some target in resolve(r, ref)
}

# Terraform lists `aws_s3_bucket.this["alpha"]` and then `aws_s3_bucket.this`:
# the keyed reference is the one that says which instance.
narrowed(target, targets) if {
	target.index == null
	some other in targets
	other.address == target.address
	other.index != null
}

argument_references(r, argument) := refs if {
	some cr in config_module(r.module).resources
	qualified(r.module, cr.address) == r.config_address
	refs := object.get(cr, ["expressions", argument, "references"], [])
}

for_each_references(r) := refs if {
	some cr in config_module(r.module).resources
	qualified(r.module, cr.address) == r.config_address
	refs := object.get(cr, ["for_each_expression", "references"], [])
}

# `aws_s3_bucket.logs.id` in module M → `M.aws_s3_bucket.logs`.
resolve(r, ref) := {bucket_instance(r.module, ref)} if startswith(ref, "aws_s3_bucket.")

# `module.lake.bucket_id` in M → the bucket that output refers to inside M.module.lake.
resolve(r, ref) := {bucket_instance(child, inner) |
	parts := split(ref, ".")
	count(parts) >= 3
	child := qualified(r.module, sprintf("module.%s", [strip_indices(parts[1])]))
	output := object.get(config_module(child), ["outputs", parts[2], "expression", "references"], [])
	some inner in output
	startswith(inner, "aws_s3_bucket.")
} if startswith(ref, "module.")

# `var.bucket_id` in module M → what the parent passed for it, resolved there.
resolve(r, ref) := {bucket_instance(parent, outer) |
	r.module != ""
	parts := split(ref, ".")
	steps := split(r.module, ".")
	parent := concat(".", array.slice(steps, 0, count(steps) - 2))
	call := steps[count(steps) - 1]
	passed := object.get(config_module(parent), ["module_calls", call, "expressions", parts[1], "references"], [])
	some outer in passed
	startswith(outer, "aws_s3_bucket.")
} if startswith(ref, "var.")

# `each.value.id` with `for_each = aws_s3_bucket.this` → the instance with the same key.
resolve(r, ref) := {{"address": instance.address, "index": r.index} |
	some source in for_each_references(r)
	startswith(source, "aws_s3_bucket.")
	instance := bucket_instance(r.module, source)
} if startswith(ref, "each.value")

# `aws_s3_bucket.this["alpha"].id` in M → {address: M.aws_s3_bucket.this, index: "alpha"}.
bucket_instance(module_path, ref) := {"address": qualified(module_path, sprintf("aws_s3_bucket.%s", [match[1]])), "index": static_index(match[3])} if {
	match := regex.find_all_string_submatch_n(`^aws_s3_bucket\.([A-Za-z0-9_-]+)(\[([^\]]*)\])?`, ref, 1)[0]
}

# A literal instance key (`0`, `"alpha"`); `count.index` and the like are not static.
static_index(text) := json.unmarshal(text) if json.is_valid(text)

static_index(text) := null if not json.is_valid(text)

# The configuration block of a module path (`""` is the root module).
config_module(module_path) := input.configuration.root_module if module_path == ""

config_module(module_path) := object.get(input.configuration.root_module, config_path(module_path), {}) if module_path != ""

# `module.a.module.b` → ["module_calls", "a", "module", "module_calls", "b", "module"].
config_path(module_path) := [step |
	names := [name | some i, name in split(module_path, "."); i % 2 == 1]
	some name in names
	some step in ["module_calls", name, "module"]
]

qualified(module_path, address) := address if module_path == ""

qualified(module_path, address) := sprintf("%s.%s", [module_path, address]) if module_path != ""

# `module.a["x"].module.b[0]` → `module.a.module.b`.
strip_indices(address) := regex.replace(address, `\[[^\]]*\]`, "")
