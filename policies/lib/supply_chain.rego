# Helpers for rules judging an image's verified facts (`input` is the
# `ImageFacts` document verdict builds for an `*.image.yaml` case: only
# signatures and attestations that verified against the run's trust root
# appear, each with the identity that signed it).
#
# Anyone can obtain a keyless certificate, so a verified signature proves
# nothing until its identity is checked: these helpers keep only what the
# release pipeline signed.
package lib.supply_chain

import rego.v1

# The release workflow of any repository of the organisation, on main or a
# version tag: the subject of the pipeline's keyless certificates.
pipeline_subject := `^https://github\.com/acme/[a-z0-9-]+/\.github/workflows/release\.ya?ml@refs/(heads/main|tags/v[0-9][0-9.]*)$`

# GitHub Actions' OIDC issuer.
pipeline_issuer := "https://token.actions.githubusercontent.com"

provenance_type := "https://slsa.dev/provenance/v1"

sbom_type := "https://cyclonedx.org/bom"

scan_type := "https://cosign.sigstore.dev/attestation/vuln/v1"

# Whether a verified signer is the release pipeline.
by_pipeline(signer) if {
	regex.match(pipeline_subject, signer.keyless.subject)
	signer.keyless.issuer == pipeline_issuer
}

# The predicates of `type` that the release pipeline signed.
pipeline_predicates(type) := [a.predicate |
	some a in object.get(input.attestations, type, [])
	by_pipeline(a.signer)
]
