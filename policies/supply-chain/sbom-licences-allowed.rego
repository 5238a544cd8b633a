# METADATA
# title: Every component in the image's signed SBOM has an allowed licence
# description: |
#   ## What it does
#   Reads the CycloneDX SBOMs attached to the image as attestations
#   (`https://cyclonedx.org/bom`) that the release pipeline signed, and fails
#   for each component whose licence is missing or not on the allow-list
#   (permissive licences and the weak copyleft MPL-2.0 / LGPL). An SPDX
#   expression passes when one side of an `OR`, or every side of an `AND`, is
#   allowed. It also fails when no signed SBOM is attached.
#
#   ## Why is this bad?
#   Shipping a component under a strong copyleft licence (GPL, AGPL) or under no
#   known licence at all is a legal risk the release should not take silently;
#   the SBOM is the evidence, so it must be the one the pipeline signed.
#
#   ## Example
#   A component `{"name": "readline", "licenses": [{"license": {"id": "GPL-3.0-only"}}]}`.
#
#   Use instead: a component under an allowed licence, or legal's sign-off
#   recorded as a waiver with an expiry date.
#
#   ## How to fix
#   Replace the component, or ask legal to approve its licence and record the
#   approval as a waiver (or add the licence to the allow-list in review).
#
#   ## References
#   - https://cyclonedx.org/docs/1.5/json/#components_items_licenses
#   - https://spdx.org/licenses/
#   - NIST SP 800-218 PW.4
# custom:
#   id: sbom-licences-allowed
#   gate: supply-chain
#   input: image
#   mode: enforce
#   severity: medium
#   controls:
#     - supply-chain-sbom
package supply_chain.sbom_licences_allowed

import data.lib.supply_chain as sc
import rego.v1

allowed := {
	"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib", "0BSD",
	"PostgreSQL", "Python-2.0", "Unicode-3.0", "MPL-2.0", "LGPL-2.1-only",
	"LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later",
}

deny contains msg if {
	count(sc.pipeline_predicates(sc.sbom_type)) == 0
	msg := sprintf("%s: no SBOM signed by the release pipeline, so its licences are unknown", [input.image])
}

deny contains msg if {
	some component in components
	count(licences(component)) == 0
	msg := sprintf("%s: component %s %s declares no licence", [input.image, component.name, object.get(component, "version", "")])
}

deny contains msg if {
	some component in components
	some licence in licences(component)
	not acceptable(licence)
	msg := sprintf("%s: component %s %s is licensed %s, which is not on the allow-list", [input.image, component.name, object.get(component, "version", ""), licence])
}

components contains component if {
	some sbom in sc.pipeline_predicates(sc.sbom_type)
	some component in object.get(sbom, "components", [])
}

# Each licence entry as an id, a name or an SPDX expression.
licences(component) := {text |
	some entry in object.get(component, "licenses", [])
	text := licence_text(entry)
}

licence_text(entry) := entry.license.id

licence_text(entry) := entry.license.name if not entry.license.id

licence_text(entry) := entry.expression

acceptable(licence) if allowed[licence]

# An SPDX expression: one alternative of an OR, or the whole expression, is a
# licence or an AND of licences that are all allowed. Written without
# recursion, which OPA rejects.
acceptable(expression) if {
	contains(expression, " OR ")
	some side in split(expression, " OR ")
	conjunction_acceptable(trim_space(trim(side, "()")))
}

acceptable(expression) if {
	not contains(expression, " OR ")
	conjunction_acceptable(expression)
}

conjunction_acceptable(licence) if allowed[licence]

conjunction_acceptable(expression) if {
	contains(expression, " AND ")
	every side in split(expression, " AND ") {
		allowed[trim_space(trim(side, "()"))]
	}
}
