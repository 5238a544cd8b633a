package terraform_guardrails.sg_no_admin_ingress_from_internet_test

import data.terraform_guardrails.sg_no_admin_ingress_from_internet as rule
import rego.v1

group(ingress) := {"address": "aws_security_group.g", "mode": "managed", "type": "aws_security_group", "name": "g", "change": {"actions": ["create"], "after": {"ingress": ingress}}}

ingress(protocol, from, to, cidrs) := {"protocol": protocol, "from_port": from, "to_port": to, "cidr_blocks": cidrs, "ipv6_cidr_blocks": null}

test_ssh_from_internet_is_denied if {
	rule.deny == {"aws_security_group.g: ingress allows SSH (22) from 0.0.0.0/0"} with input as {"resource_changes": [group([ingress("tcp", 22, 22, ["0.0.0.0/0"])])]}
}

test_ssh_from_office_passes if {
	count(rule.deny) == 0 with input as {"resource_changes": [group([ingress("tcp", 22, 22, ["10.0.0.0/8"])])]}
}

test_https_from_internet_passes if {
	count(rule.deny) == 0 with input as {"resource_changes": [group([ingress("tcp", 443, 443, ["0.0.0.0/0"])])]}
}

test_all_protocols_cover_rdp_and_ssh if {
	count(rule.deny) == 2 with input as {"resource_changes": [group([ingress("-1", 0, 0, ["0.0.0.0/0"])])]}
}

test_rdp_over_udp_on_vpc_rule_is_denied if {
	vpc_rule := {"address": "aws_vpc_security_group_ingress_rule.r", "mode": "managed", "type": "aws_vpc_security_group_ingress_rule", "name": "r", "change": {"actions": ["create"], "after": {"ip_protocol": "udp", "from_port": 3389, "to_port": 3389, "cidr_ipv6": "::/0"}}}
	rule.deny == {"aws_vpc_security_group_ingress_rule.r: ingress allows RDP (3389) from ::/0"} with input as {"resource_changes": [vpc_rule]}
}
