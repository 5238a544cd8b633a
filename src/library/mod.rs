//! Discovering the policy library. The main type here is [`Rule`]: one policy
//! file, its native metadata, and its compiled [`Engine`].

mod discover;
mod mode_field;
mod rule;

pub use discover::{compile, detect_language, find_project_root, find_repository_root, is_ledger_file, load_library, read_text, Library};
pub use mode_field::set_mode;
pub use rule::{Language, LoadContext, LoadedRule, Rule, RuleHeader};
