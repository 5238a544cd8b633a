//! Kubernetes JSON Schema validation of fixture manifests.
