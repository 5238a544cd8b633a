# METADATA
# title: TODO one-line title
# description: |
#   ## What it does
#   TODO
#
#   ## Why is this bad?
#   TODO
#
#   ## Example
#   A plan with `acl = "public-read"` fails.
#
#   Use instead: `acl = "private"`.
#
#   ## How to fix
#   TODO
# custom:
#   id: RULE_ID
#   input: tfplan
#   mode: audit
#   severity: medium
#   controls: []
package RULE_PACKAGE

import rego.v1

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket_acl"
	rc.change.after.acl == "public-read"
	msg := sprintf("%s: TODO explain the failure", [rc.address])
}
