# METADATA
# title: Regulated S3 buckets are never public
# description: |
#   ## What it does
#   Checks every S3 bucket tagged `data_classification = regulated` in a
#   `terraform show -json` plan and fails when the bucket could become public:
#   a public canned ACL (`public-read`, `public-read-write`,
#   `authenticated-read`) on the bucket itself (AWS provider v3) or in an
#   `aws_s3_bucket_acl` (v4+), a grant to the `AllUsers` or
#   `AuthenticatedUsers` groups, no `aws_s3_bucket_public_access_block` for
#   the bucket, or one whose four flags are not all `true`.
#
#   Resources are linked to their bucket through the plan's `configuration`
#   references (`bucket = aws_s3_bucket.records.id`), since a new bucket's id
#   is unknown at plan time; this includes buckets and blocks in child modules.
#
#   ## Why is this bad?
#   Regulated data (personal, payment or health records) in a public bucket is
#   a breach. A public access block is the account owner's guard against a
#   later ACL or bucket policy opening the bucket, so it must be present and
#   complete on every regulated bucket.
#
#   ## Example
#   ```hcl
#   resource "aws_s3_bucket" "records" {
#     bucket = "acme-patient-records"
#     tags   = { data_classification = "regulated" }
#   }
#   resource "aws_s3_bucket_acl" "records" {
#     bucket = aws_s3_bucket.records.id
#     acl    = "public-read"
#   }
#   ```
#
#   Use instead:
#   ```hcl
#   resource "aws_s3_bucket_acl" "records" {
#     bucket = aws_s3_bucket.records.id
#     acl    = "private"
#   }
#   resource "aws_s3_bucket_public_access_block" "records" {
#     bucket                  = aws_s3_bucket.records.id
#     block_public_acls       = true
#     block_public_policy     = true
#     ignore_public_acls      = true
#     restrict_public_buckets = true
#   }
#   ```
#
#   ## How to fix
#   Use a private ACL (or none, with object ownership `BucketOwnerEnforced`),
#   and add an `aws_s3_bucket_public_access_block` with all four flags `true`
#   whose `bucket` refers to the regulated bucket.
#
#   ## References
#   - https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
#   - https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket_public_access_block
#   - CIS AWS Foundations Benchmark 2.1.4
# custom:
#   id: s3-regulated-bucket-not-public
#   gate: terraform-guardrails
#   input: tfplan
#   mode: enforce
#   severity: critical
#   controls:
#     - data-no-public-access
package terraform_guardrails.s3_regulated_bucket_not_public

import data.lib.terraform as tf
import rego.v1

public_canned_acls := {"public-read", "public-read-write", "authenticated-read"}

public_groups := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

block_flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

deny contains msg if {
	some bucket in tf.regulated_buckets
	bucket.values.acl in public_canned_acls
	msg := sprintf("%s: regulated bucket has the public ACL %q", [bucket.address, bucket.values.acl])
}

deny contains msg if {
	some bucket in tf.regulated_buckets
	some grant in bucket.values.grant
	grant.uri in public_groups
	msg := sprintf("%s: regulated bucket grants access to %s", [bucket.address, grant.uri])
}

deny contains msg if {
	some bucket in tf.regulated_buckets
	some acl_resource in tf.attached(bucket, "aws_s3_bucket_acl")
	acl_resource.values.acl in public_canned_acls
	msg := sprintf("%s: regulated bucket has the public ACL %q (%s)", [bucket.address, acl_resource.values.acl, acl_resource.address])
}

deny contains msg if {
	some bucket in tf.regulated_buckets
	some acl_resource in tf.attached(bucket, "aws_s3_bucket_acl")
	some policy in acl_resource.values.access_control_policy
	some grant in policy.grant
	some grantee in grant.grantee
	grantee.uri in public_groups
	msg := sprintf("%s: regulated bucket grants access to %s (%s)", [bucket.address, grantee.uri, acl_resource.address])
}

deny contains msg if {
	some bucket in tf.regulated_buckets
	count(tf.attached(bucket, "aws_s3_bucket_public_access_block")) == 0
	msg := sprintf("%s: regulated bucket has no aws_s3_bucket_public_access_block", [bucket.address])
}

deny contains msg if {
	some bucket in tf.regulated_buckets
	some block in tf.attached(bucket, "aws_s3_bucket_public_access_block")
	some flag in block_flags
	not block.values[flag] == true
	not object.get(block.unknown, flag, false) == true
	msg := sprintf("%s: %s is not true in %s", [bucket.address, flag, block.address])
}

# A flag computed at apply time cannot be shown to be true: fail closed.
deny contains msg if {
	some bucket in tf.regulated_buckets
	some block in tf.attached(bucket, "aws_s3_bucket_public_access_block")
	some flag in block_flags
	object.get(block.unknown, flag, false) == true
	msg := sprintf("%s: %s of %s is only known after apply, so it cannot be shown to be true", [bucket.address, flag, block.address])
}
