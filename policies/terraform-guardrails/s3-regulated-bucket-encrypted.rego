# METADATA
# title: Regulated S3 buckets are encrypted at rest
# description: |
#   ## What it does
#   Checks every S3 bucket tagged `data_classification = regulated` in a
#   `terraform show -json` plan and fails unless it declares server-side
#   encryption with `aws:kms`, `aws:kms:dsse` or `AES256`: inline
#   `server_side_encryption_configuration` (AWS provider v3) or an
#   `aws_s3_bucket_server_side_encryption_configuration` resource (v4+) whose
#   `bucket` refers to it, linked through the plan's `configuration`
#   references since a new bucket's id is unknown at plan time.
#
#   ## Why is this bad?
#   Regulated data must be encrypted at rest under a key the organisation
#   controls and can audit. Relying on a default that the plan does not show
#   leaves no evidence for auditors and no guard against a changed default.
#
#   ## Example
#   ```hcl
#   resource "aws_s3_bucket" "records" {
#     bucket = "acme-patient-records"
#     tags   = { data_classification = "regulated" }
#   }
#   ```
#
#   Use instead:
#   ```hcl
#   resource "aws_s3_bucket_server_side_encryption_configuration" "records" {
#     bucket = aws_s3_bucket.records.id
#     rule {
#       apply_server_side_encryption_by_default {
#         sse_algorithm     = "aws:kms"
#         kms_master_key_id = aws_kms_key.records.arn
#       }
#     }
#   }
#   ```
#
#   ## How to fix
#   Add an `aws_s3_bucket_server_side_encryption_configuration` (provider v4+)
#   or an inline `server_side_encryption_configuration` block (v3) with
#   `sse_algorithm` `aws:kms`, `aws:kms:dsse` or `AES256`.
#
#   ## References
#   - https://docs.aws.amazon.com/AmazonS3/latest/userguide/serv-side-encryption.html
#   - https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket_server_side_encryption_configuration
#   - CIS AWS Foundations Benchmark 2.1.1
# custom:
#   id: s3-regulated-bucket-encrypted
#   gate: terraform-guardrails
#   input: tfplan
#   mode: enforce
#   severity: high
#   controls:
#     - data-encryption-at-rest
package terraform_guardrails.s3_regulated_bucket_encrypted

import data.lib.terraform as tf
import rego.v1

accepted_algorithms := {"aws:kms", "aws:kms:dsse", "AES256"}

deny contains msg if {
	some bucket in tf.regulated_buckets
	not encrypted(bucket)
	msg := sprintf("%s: regulated bucket is not encrypted at rest (sse_algorithm aws:kms, aws:kms:dsse or AES256)", [bucket.address])
}

# Provider v3: the inline block on the bucket.
encrypted(bucket) if {
	some configuration in bucket.values.server_side_encryption_configuration
	accepted_rule(configuration)
}

# Provider v4+: a separate resource for the bucket.
encrypted(bucket) if {
	some configuration in tf.attached(bucket, "aws_s3_bucket_server_side_encryption_configuration")
	accepted_rule(configuration.values)
}

accepted_rule(configuration) if {
	some sse_rule in configuration.rule
	some by_default in sse_rule.apply_server_side_encryption_by_default
	by_default.sse_algorithm in accepted_algorithms
}
