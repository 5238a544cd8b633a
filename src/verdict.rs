//! The [`Verdict`] type and fail-closed aggregation.
//!
//! Build verdicts with the constructors on [`Outcome`]; "not applicable" is its
//! own variant and never inferred from a message.

use serde::{Deserialize, Serialize};

/// Whether a failing rule blocks (enforce) or only reports (audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Audit,
    Enforce,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        })
    }
}

/// What one rule said about one input document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// `warnings` are what warn-only rules said of the same input: a failure
    /// does not hide them (conftest prints both).
    Fail {
        messages: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The rule could not be evaluated. Never counts as a pass.
    Error { reason: String },
    /// The rule reported but asked not to block (conftest `warn`, Kyverno `warn`).
    Warn { messages: Vec<String> },
    Skip { reason: String },
    NotApplicable,
}

impl Outcome {
    pub fn pass() -> Self {
        Outcome::Pass
    }
    pub fn fail(messages: Vec<String>) -> Self {
        Outcome::Fail { messages, warnings: Vec::new() }
    }
    /// A failure reported together with the warnings raised beside it.
    ///
    /// ```
    /// use verdict::verdict::Outcome;
    /// let outcome = Outcome::fail_with_warnings(vec!["denied".into()], vec!["no owner".into()]);
    /// assert_eq!(outcome.messages(), vec!["denied", "warning: no owner"]);
    /// assert!(outcome.blocks());
    /// ```
    pub fn fail_with_warnings(messages: Vec<String>, warnings: Vec<String>) -> Self {
        Outcome::Fail { messages, warnings }
    }
    pub fn warn(messages: Vec<String>) -> Self {
        Outcome::Warn { messages }
    }
    pub fn error(reason: impl Into<String>) -> Self {
        Outcome::Error { reason: reason.into() }
    }
    pub fn skip(reason: impl Into<String>) -> Self {
        Outcome::Skip { reason: reason.into() }
    }
    pub fn not_applicable() -> Self {
        Outcome::NotApplicable
    }

    /// Short lowercase name used in reports and JSON (`pass`, `fail`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail { .. } => "fail",
            Outcome::Error { .. } => "error",
            Outcome::Warn { .. } => "warn",
            Outcome::Skip { .. } => "skip",
            Outcome::NotApplicable => "not-applicable",
        }
    }

    /// Messages of a failure (then its warnings, marked `warning: `), or the
    /// reason of an error or skip.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Outcome::Fail { messages, warnings } => {
                messages.iter().cloned().chain(warnings.iter().map(|w| format!("warning: {w}"))).collect()
            }
            Outcome::Warn { messages } => messages.clone(),
            Outcome::Error { reason } | Outcome::Skip { reason } => vec![reason.clone()],
            _ => Vec::new(),
        }
    }

    /// Fail-closed: an error blocks exactly like a failure.
    pub fn blocks(&self) -> bool {
        matches!(self, Outcome::Fail { .. } | Outcome::Error { .. })
    }
}

/// One rule's judgement of one input document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub rule: String,
    /// Input id: the file path (relative where possible) plus `#n` for the n-th document.
    pub input: String,
    /// `kind/namespace/name` for Kubernetes objects, a short description otherwise.
    pub resource: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
    /// The judged document's digest, for the decision log.
    #[serde(skip)]
    pub input_digest: String,
}

impl Verdict {
    pub fn new(rule: &str, input: &crate::input::Input, outcome: Outcome, mode: Mode) -> Self {
        Verdict {
            rule: rule.to_string(),
            input: input.id.clone(),
            resource: input.resource.clone(),
            outcome,
            mode,
            waiver: None,
            input_digest: input.digest.clone(),
        }
    }

    /// Fail-closed: a failing or erroring enforce rule blocks; audit never does.
    /// So does an enforce rule that applied but could not judge (`skip`: an image
    /// rule with no registry to look at the image): unjudged is not allowed.
    pub fn blocks(&self) -> bool {
        self.mode == Mode::Enforce && self.waiver.is_none() && (self.outcome.blocks() || matches!(self.outcome, Outcome::Skip { .. }))
    }
}

/// True when any verdict blocks.
pub fn any_blocks<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> bool {
    verdicts.into_iter().any(Verdict::blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(outcome: Outcome, mode: Mode) -> Verdict {
        Verdict { rule: "r".into(), input: "in.yaml#0".into(), resource: "Pod/ns/p".into(), outcome, mode, waiver: None, input_digest: String::new() }
    }

    #[test]
    fn an_unjudged_enforce_rule_blocks_and_an_unjudged_audit_rule_does_not() {
        assert!(verdict(Outcome::skip("no registry"), Mode::Enforce).blocks());
        assert!(!verdict(Outcome::skip("no registry"), Mode::Audit).blocks());
        assert!(!verdict(Outcome::not_applicable(), Mode::Enforce).blocks());
        assert!(!verdict(Outcome::pass(), Mode::Enforce).blocks());
        let mut waived = verdict(Outcome::skip("no registry"), Mode::Enforce);
        waived.waiver = Some("w".into());
        assert!(!waived.blocks());
    }
}
