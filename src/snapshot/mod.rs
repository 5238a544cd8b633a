//! Rule snapshots: every verdict of a rule's cases, recorded in
//! `snapshots/<rule-id>.snap` and reviewed like code. The main function here is
//! [`check`]; the file format is insta's, so `cargo insta review` works on what
//! verdict writes and verdict reads what insta wrote.

mod check;
mod file;
mod yaml;

pub use check::{accept_pending, check, orphans, rows, SnapshotCheck, SnapshotStatus, UpdateMode};
pub use file::{accepted_path, body, file_text, parse_body, pending_path};
pub use yaml::to_yaml;
