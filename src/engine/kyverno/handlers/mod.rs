//! One handler per kind of validate rule.
pub mod pss;
pub mod resource;
