//! Gatekeeper ConstraintTemplates and Constraints.
