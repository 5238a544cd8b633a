package terraform_guardrails.s3_regulated_bucket_encrypted_test

import data.terraform_guardrails.s3_regulated_bucket_encrypted as rule
import rego.v1

regulated_bucket(extra) := object.union(
	{"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "change": {"actions": ["create"], "after": object.union({"bucket": "b", "tags": {"data_classification": "regulated"}}, extra)}},
	{},
)

sse(algorithm) := {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": algorithm}]}]}

test_inline_aes256_passes if {
	count(rule.deny) == 0 with input as {"resource_changes": [regulated_bucket({"server_side_encryption_configuration": [sse("AES256")]})]}
}

test_separate_kms_resource_passes if {
	encryption := {"address": "aws_s3_bucket_server_side_encryption_configuration.e", "mode": "managed", "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "e", "change": {"actions": ["create"], "after": object.union({"bucket": "b"}, sse("aws:kms"))}}
	count(rule.deny) == 0 with input as {"resource_changes": [regulated_bucket({}), encryption]}
}

test_unencrypted_regulated_bucket_is_denied if {
	rule.deny == {"aws_s3_bucket.b: regulated bucket is not encrypted at rest (sse_algorithm aws:kms, aws:kms:dsse or AES256)"} with input as {"resource_changes": [regulated_bucket({})]}
}

test_unknown_algorithm_is_denied if {
	count(rule.deny) == 1 with input as {"resource_changes": [regulated_bucket({"server_side_encryption_configuration": [sse("rot13")]})]}
}

test_unregulated_bucket_is_not_judged if {
	plain := {"address": "aws_s3_bucket.p", "mode": "managed", "type": "aws_s3_bucket", "name": "p", "change": {"actions": ["create"], "after": {"bucket": "p"}}}
	count(rule.deny) == 0 with input as {"resource_changes": [plain]}
}
