//! verdict: one harness for Rego, Gatekeeper and Kyverno policy libraries.
//!
//! Data flows top to bottom: [`library`] discovers rules, [`input`] loads what
//! they judge, an [`engine`] evaluates, [`runner`] collects [`verdict::Verdict`]s
//! and [`report`] writes them. Nothing below `engine` knows the policy language.

pub mod engine;
pub mod error;
pub mod exit;
pub mod input;
pub mod library;
pub mod lifecycle;
pub mod limits;
pub mod oci;
pub mod report;
pub mod runner;
pub mod scaffold;
pub mod schema;
pub mod snapshot;
pub mod suite;
pub mod verdict;
pub mod cli;
