//! Audit → enforce with a record. The main entry points here are [`promote`]
//! and [`demote`] (evidence, the native mode flip, the ledger entry in
//! `policies/promotions.yaml`) and [`read_waivers`] (timeboxed exceptions that
//! turn a failure into `waived`, never into a pass). Nothing here knows which
//! language a rule is written in: the runner supplies the evidence and
//! [`crate::library::set_mode`] the edit.

mod codeowners;
mod controls;
mod export;
mod files;
mod ledger;
mod promote;
mod review;
mod waivers;

pub use codeowners::CodeOwners;
pub use controls::{read_controls, Control};
pub use export::{export, Export, ExportFormat};
pub use ledger::{append, read_ledger, CaseCounts, CorpusCounts, Promotion};
pub use promote::{assess, assess_in, demote, promote, promote_each, LifecycleError, Readiness};
pub use review::{markdown, review, Approval, Direction, Flip, Review, RuleReview};
pub use waivers::{apply, read_waivers, today, Target, Waiver, WaiverStatus, EXPIRY_WARNING_DAYS};
