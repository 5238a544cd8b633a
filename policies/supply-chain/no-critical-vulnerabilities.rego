# METADATA
# title: No critical vulnerability in the image's signed scan
# description: |
#   ## What it does
#   Reads the vulnerability scans attached to the image as cosign `vuln`
#   attestations (`https://cosign.sigstore.dev/attestation/vuln/v1`, a Trivy
#   report in `scanner.result`) that the release pipeline signed, and fails when
#   any finding is `CRITICAL`, or when there is no such scan at all.
#
#   ## Why is this bad?
#   A critical finding is one an attacker can usually reach remotely and
#   without credentials. The scan must be signed by the pipeline: an unsigned or
#   foreign scan report proves nothing about the image it sits beside.
#
#   ## Example
#   An image whose signed scan lists `CVE-2024-3094` (xz-utils backdoor,
#   severity CRITICAL).
#
#   Use instead: rebuild on a fixed base image, or, when the finding does not
#   apply, record a waiver for the image in `policies/waivers.yaml` with an
#   owner, a ticket and an expiry date.
#
#   ## How to fix
#   Update the affected package or base image and release again; the release
#   workflow attaches a fresh signed scan. If the finding does not apply, record
#   a waiver with an owner, a ticket and an expiry date.
#
#   ## References
#   - https://github.com/sigstore/cosign/blob/main/specs/COSIGN_VULN_ATTESTATION_SPEC.md
#   - NIST SP 800-218 PW.4, RV.1
# custom:
#   id: no-critical-vulnerabilities
#   gate: supply-chain
#   input: image
#   mode: enforce
#   severity: critical
#   controls:
#     - supply-chain-sbom
package supply_chain.no_critical_vulnerabilities

import data.lib.supply_chain as sc
import rego.v1

deny contains msg if {
	count(sc.pipeline_predicates(sc.scan_type)) == 0
	msg := sprintf("%s: no vulnerability scan signed by the release pipeline", [input.image])
}

deny contains msg if {
	some scan in sc.pipeline_predicates(sc.scan_type)
	some result in scan.scanner.result.Results
	some finding in result.Vulnerabilities
	upper(finding.Severity) == "CRITICAL"
	msg := sprintf("%s: critical vulnerability %s in %s %s", [input.image, finding.VulnerabilityID, finding.PkgName, object.get(finding, "InstalledVersion", "")])
}
