//! [`Rule`] and the types engine modules return when they compile a policy file.

use crate::engine::Engine;
use crate::input::Input;
use crate::verdict::{Mode, Verdict};
use std::path::PathBuf;
use std::sync::Arc;

/// The language a rule is written in. Only `library` and reports' labels look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rego,
    Gatekeeper,
    Kyverno,
    /// Kubernetes ValidatingAdmissionPolicy with its bindings.
    Vap,
}

/// Metadata an engine module reads from a policy's native place
/// (`# METADATA`, template annotations, `policies.kyverno.io/*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleHeader {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `None` when the policy does not say; the library then reports a load error.
    pub mode: Option<Mode>,
    pub severity: Option<String>,
    pub controls: Vec<String>,
}

impl RuleHeader {
    /// The control ids of a comma-separated annotation (`verdict.dev/controls`).
    ///
    /// ```
    /// use verdict::library::RuleHeader;
    /// assert_eq!(RuleHeader::controls_of(" a, ,b "), ["a", "b"]);
    /// ```
    pub fn controls_of(list: &str) -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// One rule of the library, compiled and ready.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    /// The directory under `policies/` (`gate4-admission`, ...).
    pub gate: String,
    pub mode: Mode,
    pub severity: Option<String>,
    pub controls: Vec<String>,
    pub language: Language,
    pub path: PathBuf,
    pub engine: Arc<dyn Engine>,
    /// The waivers of `policies/waivers.yaml` that name this rule.
    pub waivers: Arc<[crate::lifecycle::Waiver]>,
}

impl Rule {
    /// Judge one input document; a failure a waiver in force covers is marked waived.
    pub fn evaluate(&self, input: &Input) -> Verdict {
        let mut verdict = Verdict::new(&self.id, input, self.engine.evaluate(input), self.mode);
        // Only failures can be waived: passes never read the clock.
        if !self.waivers.is_empty() && matches!(verdict.outcome, crate::verdict::Outcome::Fail { .. }) {
            crate::lifecycle::apply(&self.waivers, &mut verdict, input, crate::lifecycle::today());
        }
        verdict
    }
}

/// What every engine module's `load` function returns for one policy file.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub header: RuleHeader,
    pub engine: Arc<dyn Engine>,
}

/// Shared context for compiling policy files.
#[derive(Debug, Clone, Default)]
pub struct LoadContext {
    pub limits: crate::limits::Limits,
    /// Rego library modules (`policies/lib/**/*.rego`) made available to every Rego rule.
    pub rego_libs: Vec<(PathBuf, String)>,
}
