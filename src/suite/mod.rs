//! External suite formats: gator `suite.yaml`, `kyverno-test.yaml`, Rego `test_` rules.
pub mod gator;
pub mod kyverno_test;
pub mod rego_test;
