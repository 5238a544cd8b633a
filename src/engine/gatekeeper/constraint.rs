//! Constraints (`constraints.gatekeeper.sh/v1beta1`): a template kind plus
//! parameters, a match block and an enforcement action.

use super::matching::Match;
use crate::error::LoadError;
use crate::verdict::Mode;
use serde_json::Value;
use std::path::Path;

/// The enforcement point of the admission webhook, whose action `scoped` uses.
pub const WEBHOOK_ENFORCEMENT_POINT: &str = "validation.gatekeeper.sh";

/// What Gatekeeper does with a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deny,
    Warn,
    Dryrun,
}

impl Action {
    pub(crate) fn parse(s: &str) -> Option<Action> {
        match s.to_ascii_lowercase().as_str() {
            "deny" => Some(Action::Deny),
            "warn" => Some(Action::Warn),
            "dryrun" => Some(Action::Dryrun),
            _ => None,
        }
    }

    /// `deny` blocks (enforce); `warn` and `dryrun` only report (audit).
    pub fn mode(self) -> Mode {
        match self {
            Action::Deny => Mode::Enforce,
            Action::Warn | Action::Dryrun => Mode::Audit,
        }
    }
}

/// `spec.enforcementAction`, with `scoped` resolved per enforcement point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnforcementAction {
    Plain(Action),
    /// `scoped`: each action lists the enforcement points (or `*`) it applies to.
    Scoped(Vec<(Action, Vec<String>)>),
}

impl EnforcementAction {
    /// The strictest action that applies at `point`, `None` when none does.
    pub fn action_at(&self, point: &str) -> Option<Action> {
        match self {
            EnforcementAction::Plain(a) => Some(*a),
            EnforcementAction::Scoped(actions) => {
                let applies = |points: &Vec<String>| points.iter().any(|p| p == "*" || p == point);
                let found: Vec<Action> = actions
                    .iter()
                    .filter(|(_, p)| applies(p))
                    .map(|(a, _)| *a)
                    .collect();
                [Action::Deny, Action::Warn, Action::Dryrun]
                    .into_iter()
                    .find(|a| found.contains(a))
            }
        }
    }

    /// The mode at the admission webhook; a scoped action that skips the webhook never blocks there.
    pub fn mode(&self) -> Mode {
        self.action_at(WEBHOOK_ENFORCEMENT_POINT)
            .map_or(Mode::Audit, Action::mode)
    }
}

/// One Constraint, ready to be reviewed against objects.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// The template kind it instantiates (`K8sRequiredLabels`).
    pub kind: String,
    pub name: String,
    /// `spec.parameters`, `{}` when absent (as the Gatekeeper Rego driver defaults it).
    pub parameters: Value,
    pub enforcement_action: EnforcementAction,
    pub matcher: Match,
    /// The whole object: `params` of a `K8sNativeValidation` template's variables.
    pub object: Value,
}

impl Constraint {
    /// Read a Constraint object; `path` names the file in errors.
    pub fn from_value(value: &Value, path: &Path) -> Result<Constraint, LoadError> {
        let err = |m: String| LoadError::new(path, m);
        let api_version = value["apiVersion"].as_str().unwrap_or("");
        if !api_version.starts_with("constraints.gatekeeper.sh/") {
            return Err(err(format!(
                "expected a Constraint (apiVersion constraints.gatekeeper.sh/v1beta1), found apiVersion {api_version:?}"
            )));
        }
        let kind = value["kind"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| err("Constraint has no kind".into()))?;
        let name = value["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| err(format!("{kind} Constraint has no metadata.name")))?;
        let at = |m: String| err(format!("Constraint {name}: {m}"));
        let spec = &value["spec"];
        let parameters = match &spec["parameters"] {
            Value::Null => Value::Object(Default::default()),
            p => p.clone(),
        };
        let enforcement_action = parse_enforcement_action(spec).map_err(at)?;
        let matcher = Match::from_value(spec.get("match")).map_err(at)?;
        Ok(Constraint {
            kind: kind.to_string(),
            name: name.to_string(),
            parameters,
            enforcement_action,
            matcher,
            object: value.clone(),
        })
    }
}

fn parse_enforcement_action(spec: &Value) -> Result<EnforcementAction, String> {
    let raw = match &spec["enforcementAction"] {
        Value::Null => return Ok(EnforcementAction::Plain(Action::Deny)),
        Value::String(s) if s.is_empty() => return Ok(EnforcementAction::Plain(Action::Deny)),
        Value::String(s) => s.as_str(),
        other => {
            return Err(format!(
                "spec.enforcementAction must be a string, found {other}"
            ))
        }
    };
    if raw.eq_ignore_ascii_case("scoped") {
        let list = spec["scopedEnforcementActions"]
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or("enforcementAction scoped needs a non-empty spec.scopedEnforcementActions")?;
        let mut actions = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            let action = entry["action"]
                .as_str()
                .and_then(Action::parse)
                .ok_or_else(|| {
                    format!(
                        "spec.scopedEnforcementActions[{i}].action must be deny, warn or dryrun"
                    )
                })?;
            let points = entry["enforcementPoints"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            actions.push((action, points));
        }
        return Ok(EnforcementAction::Scoped(actions));
    }
    Action::parse(raw)
        .map(EnforcementAction::Plain)
        .ok_or_else(|| {
            format!("spec.enforcementAction {raw:?} is not deny, warn, dryrun or scoped")
        })
}
