# METADATA
# title: No SSH or RDP from the internet
# description: |
#   ## What it does
#   Checks a `terraform show -json` plan for security group ingress that
#   admits the whole internet (`0.0.0.0/0` or `::/0`) on an administrative
#   port: SSH (22) or RDP (3389). It reads inline `ingress` blocks of
#   `aws_security_group`, `aws_security_group_rule` of type `ingress`, and
#   `aws_vpc_security_group_ingress_rule`. A port range counts when it covers
#   the port (`0-65535`, `20-25`); protocol `-1` (`all`) covers every port.
#   Resources being deleted are ignored.
#
#   ## Why is this bad?
#   SSH and RDP open to the internet are scanned and brute-forced within
#   minutes of creation, and a weak or leaked credential becomes a foothold
#   in the network.
#
#   ## Example
#   ```hcl
#   resource "aws_security_group_rule" "ssh" {
#     type              = "ingress"
#     security_group_id = aws_security_group.bastion.id
#     protocol          = "tcp"
#     from_port         = 22
#     to_port           = 22
#     cidr_blocks       = ["0.0.0.0/0"]
#   }
#   ```
#
#   Use instead:
#   ```hcl
#   resource "aws_security_group_rule" "ssh" {
#     type              = "ingress"
#     security_group_id = aws_security_group.bastion.id
#     protocol          = "tcp"
#     from_port         = 22
#     to_port           = 22
#     cidr_blocks       = ["10.20.0.0/16"] # the VPN range
#   }
#   ```
#
#   ## How to fix
#   Restrict the source to a known range (VPN, office, bastion security
#   group), or remove the rule and use AWS Systems Manager Session Manager.
#
#   ## References
#   - https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
#   - https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager.html
#   - CIS AWS Foundations Benchmark 5.2, 5.3
# custom:
#   id: sg-no-admin-ingress-from-internet
#   gate: terraform-guardrails
#   input: tfplan
#   mode: enforce
#   severity: high
#   controls:
#     - network-admin-ports-restricted
package terraform_guardrails.sg_no_admin_ingress_from_internet

import data.lib.terraform as tf
import rego.v1

admin_ports := {22: "SSH", 3389: "RDP"}

# Inline ingress blocks of a security group.
deny contains msg if {
	some group in tf.of_type("aws_security_group")
	some ingress in group.values.ingress
	some cidr in array.concat(list_attribute(ingress, "cidr_blocks"), list_attribute(ingress, "ipv6_cidr_blocks"))
	some port, service in admin_ports
	open_to_internet(cidr, ingress.protocol, ingress.from_port, ingress.to_port, port)
	msg := sprintf("%s: ingress allows %s (%d) from %s", [group.address, service, port, cidr])
}

# Standalone rules of type ingress.
deny contains msg if {
	some rule in tf.of_type("aws_security_group_rule")
	rule.values.type == "ingress"
	some cidr in array.concat(list_attribute(rule.values, "cidr_blocks"), list_attribute(rule.values, "ipv6_cidr_blocks"))
	some port, service in admin_ports
	open_to_internet(cidr, rule.values.protocol, rule.values.from_port, rule.values.to_port, port)
	msg := sprintf("%s: ingress allows %s (%d) from %s", [rule.address, service, port, cidr])
}

# The VPC ingress rule resource (one CIDR per rule).
deny contains msg if {
	some rule in tf.of_type("aws_vpc_security_group_ingress_rule")
	some cidr in [object.get(rule.values, "cidr_ipv4", null), object.get(rule.values, "cidr_ipv6", null)]
	some port, service in admin_ports
	open_to_internet(cidr, rule.values.ip_protocol, rule.values.from_port, rule.values.to_port, port)
	msg := sprintf("%s: ingress allows %s (%d) from %s", [rule.address, service, port, cidr])
}

open_to_internet(cidr, protocol, from_port, to_port, port) if {
	internet(cidr)
	covers(protocol, from_port, to_port, port)
}

# Any prefix of length 0: `0.0.0.0/0`, `::/0`, `::0/0`.
internet(cidr) if {
	is_string(cidr)
	endswith(trim_space(cidr), "/0")
}

covers(protocol, _, _, _) if lower(format_int_protocol(protocol)) in {"-1", "all"}

covers(protocol, from_port, to_port, port) if {
	lower(format_int_protocol(protocol)) in {"tcp", "6"}
	from_port <= port
	port <= to_port
}

# RDP also listens on UDP.
covers(protocol, from_port, to_port, 3389) if {
	lower(format_int_protocol(protocol)) in {"udp", "17"}
	from_port <= 3389
	3389 <= to_port
}

# Protocols are strings in the AWS provider, but numbers slip in from variables.
format_int_protocol(protocol) := protocol if is_string(protocol)

format_int_protocol(protocol) := format_int(protocol, 10) if is_number(protocol)

# A list attribute that may be null or absent.
list_attribute(values, name) := values[name] if is_array(values[name])

list_attribute(values, name) := [] if not is_array(object.get(values, name, null))
