package terraform_guardrails.s3_regulated_bucket_not_public_test

import data.terraform_guardrails.s3_regulated_bucket_not_public as rule
import rego.v1

bucket(values) := {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "change": {"actions": ["create"], "after": object.union({"bucket": "b", "tags": {"data_classification": "regulated"}}, values)}}

block(flags) := {"address": "aws_s3_bucket_public_access_block.b", "mode": "managed", "type": "aws_s3_bucket_public_access_block", "name": "b", "change": {"actions": ["create"], "after": object.union({"bucket": "b"}, flags)}}

all_blocked := {"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}

test_private_bucket_with_full_block_passes if {
	count(rule.deny) == 0 with input as {"resource_changes": [bucket({}), block(all_blocked)]}
}

test_public_read_acl_is_denied if {
	"aws_s3_bucket.b: regulated bucket has the public ACL \"public-read\"" in rule.deny with input as {"resource_changes": [bucket({"acl": "public-read"}), block(all_blocked)]}
}

test_missing_access_block_is_denied if {
	rule.deny == {"aws_s3_bucket.b: regulated bucket has no aws_s3_bucket_public_access_block"} with input as {"resource_changes": [bucket({})]}
}

test_one_flag_off_is_denied if {
	flags := object.union(all_blocked, {"restrict_public_buckets": false})
	rule.deny == {"aws_s3_bucket.b: restrict_public_buckets is not true in aws_s3_bucket_public_access_block.b"} with input as {"resource_changes": [bucket({}), block(flags)]}
}

test_all_users_grant_is_denied if {
	grant := {"uri": "http://acs.amazonaws.com/groups/global/AllUsers", "permissions": ["READ"]}
	count(rule.deny) == 1 with input as {"resource_changes": [bucket({"grant": [grant]}), block(all_blocked)]}
}
