//! The public face of the Kyverno engine: [`apply_policy`] (what the
//! kyverno-test suite runner calls) and [`KyvernoRule`], the library's
//! [`Engine`] for one Kyverno policy file.

use super::policy::{FailureAction, MatchResources, Policy, RuleKind};
use super::rule::evaluate_policy;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::input::inventory::{Inventory, InventoryCache};
use crate::input::Input;
use crate::library::{LoadContext, LoadedRule, RuleHeader};
use crate::verdict::{Mode, Outcome};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One admission request to evaluate a policy against.
#[derive(Debug, Clone, Default)]
pub struct ResourceContext {
    pub resource: Value,
    /// The old object for `UPDATE`; defaults to the resource itself, as the Kyverno CLI does.
    pub old_resource: Option<Value>,
    /// `CREATE` (the default when empty), `UPDATE`, `DELETE`.
    pub operation: String,
    /// Labels of the resource's namespace, for `namespaceSelector`.
    pub namespace_labels: Option<Map<String, Value>>,
    /// `{username, groups, ...}` of the requester.
    pub user_info: Option<Value>,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
    /// Variable overrides (`request.operation`, a context entry name, any dotted path).
    pub values: Map<String, Value>,
    /// The run's registry, where `verifyImages` rules verify the resource's images.
    pub images: Option<Arc<crate::oci::ImageGate>>,
    /// How the resource's numbers reach CEL (`validate.cel`): as the API server
    /// reads them, or as Kyverno's CLI does (every number a double).
    pub numbers: crate::engine::cel::Numbers,
    /// Objects a CEL rule's `paramRef` may select (a kyverno-test's `paramResources`).
    pub param_resources: Arc<Vec<Value>>,
    /// PolicyExceptions that may lift a rule (a kyverno-test's `exceptions`).
    pub exceptions: Arc<Vec<super::exception::PolicyException>>,
}

impl ResourceContext {
    /// A `CREATE` request for `resource` with nothing else known.
    pub fn new(resource: Value) -> ResourceContext {
        ResourceContext {
            resource,
            operation: "CREATE".to_string(),
            ..Default::default()
        }
    }
}

/// Kyverno's rule result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleStatus {
    Pass,
    Fail,
    /// Never produced by validate rules today; kept so callers match Kyverno's statuses.
    Warn,
    Error,
    Skip,
}

impl RuleStatus {
    /// The lowercase name kyverno-test files use.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Warn => "warn",
            RuleStatus::Error => "error",
            RuleStatus::Skip => "skip",
        }
    }
}

/// The result of one rule for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResponse {
    /// The rule name as Kyverno reports it (`autogen-<rule>` for generated rules).
    pub rule: String,
    pub status: RuleStatus,
    pub message: String,
    /// False when Kyverno would report nothing for this rule (the resource did
    /// not match, or a foreach found no element); `status` is then `Skip`.
    pub reported: bool,
}

impl RuleResponse {
    pub fn new(rule: &str, status: RuleStatus, message: impl Into<String>) -> RuleResponse {
        RuleResponse {
            rule: rule.to_string(),
            status,
            message: message.into(),
            reported: true,
        }
    }

    /// A skip Kyverno does not report (no rule response at all).
    pub fn unreported(rule: &str, message: impl Into<String>) -> RuleResponse {
        RuleResponse {
            rule: rule.to_string(),
            status: RuleStatus::Skip,
            message: message.into(),
            reported: false,
        }
    }
}

/// Apply every validate rule of `policy` (including autogen rules) to one
/// resource: one response per effective rule, in Kyverno's order; rules whose
/// match/exclude do not select the resource give an unreported `Skip`.
///
/// ```
/// use verdict::engine::kyverno::{engine::{apply_policy, ResourceContext}, policy::Policy};
/// let policy = Policy::from_value(&serde_json::json!({
///     "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
///     "spec": {"rules": [{"name": "no-default-ns", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
///              "validate": {"deny": {"conditions": {"any": [
///                  {"key": "{{request.object.metadata.namespace}}", "operator": "Equals", "value": "default"}]}}}}]}})).unwrap();
/// let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}});
/// let responses = apply_policy(&policy, &ResourceContext::new(cm));
/// assert_eq!(responses[0].status.as_str(), "fail");
/// ```
pub fn apply_policy(policy: &Policy, ctx: &ResourceContext) -> Vec<RuleResponse> {
    evaluate_policy(policy, ctx, &BTreeMap::new())
}

/// [`apply_policy`] with per-rule variable values (a kyverno-test values file's
/// `policies[].rules[].values`), keyed by rule name as reported
/// (`autogen-<rule>` for generated rules). Kyverno adds them to that rule's
/// context only, so two rules may give one variable different values.
pub fn apply_policy_with_rule_values(
    policy: &Policy,
    ctx: &ResourceContext,
    rule_values: &BTreeMap<String, Map<String, Value>>,
) -> Vec<RuleResponse> {
    evaluate_policy(policy, ctx, rule_values)
}

/// One Kyverno policy file of the library, compiled.
#[derive(Debug, Clone)]
pub struct KyvernoRule {
    policy: Policy,
    /// Some `match` / `exclude` reads namespace labels, so each input's
    /// Namespace is looked up in the inventory beside it.
    needs_namespace_labels: bool,
    inventories: Arc<InventoryCache>,
}

/// Load a library policy file holding one `ClusterPolicy` or `Policy` (or a
/// `ValidatingPolicy` or `NamespacedValidatingPolicy`, handed to [`super::vpol::load`] once read).
pub fn load(path: &Path, text: &str, ctx: &LoadContext) -> Result<LoadedRule, LoadError> {
    let docs = crate::input::load_str(path, text, &ctx.limits)?;
    let mut policies = docs.into_iter().filter(|d| !d.value.is_null());
    let doc = policies
        .next()
        .ok_or_else(|| LoadError::new(path, "no Kyverno policy in file"))?;
    if policies.next().is_some() {
        return Err(LoadError::new(
            path,
            "a library policy file must hold exactly one Kyverno policy",
        ));
    }
    if matches!(doc.value["kind"].as_str(), Some("ValidatingPolicy" | super::vpol::NAMESPACED_KIND)) {
        return super::vpol::load(path, &doc, ctx);
    }
    super::strict::check_policy(&doc.value, path, Some(text), doc.line)?;
    let policy = Policy::from_value(&doc.value).map_err(|e| match doc.line {
        Some(line) => LoadError::at_line(path, line, e),
        None => LoadError::new(path, e),
    })?;
    let annotation = |key: &str| policy.annotation(key).unwrap_or("").trim().to_string();
    let actions: Vec<FailureAction> = policy
        .rules
        .iter()
        .flat_map(|r| match &r.kind {
            RuleKind::Validate(v) => v.failure_action.into_iter().collect::<Vec<_>>(),
            RuleKind::VerifyImages(checks) => checks.iter().filter_map(|c| c.failure_action).collect(),
            RuleKind::Other(_) => Vec::new(),
        })
        .chain(policy.validation_failure_action)
        .collect();
    let mode = if actions.contains(&FailureAction::Enforce) {
        Some(Mode::Enforce)
    } else if actions.is_empty() {
        None
    } else {
        Some(Mode::Audit)
    };
    let header = RuleHeader {
        id: policy.name.clone(),
        title: annotation("policies.kyverno.io/title"),
        description: annotation("policies.kyverno.io/description"),
        mode,
        severity: Some(annotation("policies.kyverno.io/severity")).filter(|s| !s.is_empty()),
        controls: RuleHeader::controls_of(&annotation("verdict.dev/controls")),
    };
    let needs_namespace_labels = policy.rules.iter().any(|rule| {
        uses_namespace_selector(&rule.match_resources)
            || rule.exclude.as_ref().is_some_and(uses_namespace_selector)
    });
    Ok(LoadedRule {
        header,
        engine: Arc::new(KyvernoRule {
            policy,
            needs_namespace_labels,
            inventories: Arc::new(InventoryCache::new(ctx.limits)),
        }),
    })
}

/// Does any filter of the block select by namespace labels? (Kyverno's CLI
/// asks the same before it looks namespace labels up.)
fn uses_namespace_selector(block: &MatchResources) -> bool {
    std::iter::once(&block.direct)
        .chain(&block.any)
        .chain(&block.all)
        .any(|filter| filter.resources.namespace_selector.is_some())
}

impl KyvernoRule {
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The labels of `input`'s Namespace in `inventory`.
    ///
    /// Without an inventory the labels are unknown and left empty (the
    /// engine's behaviour when given none). With one, a Namespace it does
    /// not list is an error, as `kyverno apply` / `kyverno test` fail when
    /// the values file lacks a resource's namespace labels; like them,
    /// `default` may be left out and then has no labels.
    fn namespace_labels(
        &self,
        input: &Input,
        inventory: &Inventory,
    ) -> Result<Option<Map<String, Value>>, String> {
        if input.value["kind"] == "Namespace" {
            // Matching reads a Namespace's own labels.
            return Ok(None);
        }
        let namespace = input.value["metadata"]["namespace"].as_str().unwrap_or("");
        if let Some(labels) = inventory.namespace_labels(namespace) {
            return Ok(Some(labels.clone()));
        }
        let Some(file) = inventory.path() else {
            return Ok(None);
        };
        if namespace == "default" {
            return Ok(Some(Map::new()));
        }
        let which = if namespace.is_empty() {
            "has no metadata.namespace".to_string()
        } else {
            format!(
                "is in Namespace {namespace:?}, which {} does not list",
                file.display()
            )
        };
        Err(format!(
            "{}: namespaceSelector needs the labels of {}'s Namespace, but it {which}",
            self.policy.name, input.resource
        ))
    }
}

impl Engine for KyvernoRule {
    fn evaluate(&self, input: &Input) -> Outcome {
        // Kyverno admits Kubernetes objects only: plans, SBOMs and image facts are not its input.
        if input.kind != crate::input::InputKind::Manifest {
            return Outcome::not_applicable();
        }
        // Read even when no selector needs it: a broken inventory beside a
        // case is an error, never silently ignored.
        let inventory = match self.inventories.for_input(input) {
            Ok(inventory) => inventory,
            Err(e) => return Outcome::error(format!("inventory: {e}")),
        };
        let mut context = ResourceContext::new(input.value.clone());
        context.images = input.images.clone();
        if self.needs_namespace_labels {
            match self.namespace_labels(input, &inventory) {
                Ok(labels) => context.namespace_labels = labels,
                Err(reason) => return Outcome::error(reason),
            }
        }
        let responses = apply_policy(&self.policy, &context);
        let with = |status: RuleStatus| -> Vec<String> {
            responses
                .iter()
                .filter(|r| r.status == status)
                .map(|r| format!("{}: {}", r.rule, r.message))
                .collect()
        };
        let failures = with(RuleStatus::Fail);
        let errors = with(RuleStatus::Error);
        // An error outranks a failure: both block, but a failure would hide the
        // broken rule from whoever reads the verdict.
        if !errors.is_empty() {
            let policy = &self.policy.name;
            let mut reasons: Vec<String> = errors.iter().map(|e| format!("policy {policy}, rule {e}")).collect();
            reasons.extend(failures.iter().map(|f| format!("(also failed) {f}")));
            return Outcome::error(reasons.join("; "));
        }
        if !failures.is_empty() {
            return Outcome::fail(failures);
        }
        let warnings = with(RuleStatus::Warn);
        if !warnings.is_empty() {
            return Outcome::warn(warnings);
        }
        if responses.iter().any(|r| r.status == RuleStatus::Pass) {
            Outcome::pass()
        } else if let Some(skip) = responses.iter().find(|r| r.reported && r.message.starts_with(super::verify_images::NO_REGISTRY)) {
            // An image rule that could not look at the image: visibly skipped, never a pass.
            Outcome::Skip { reason: format!("{}: {}", skip.rule, skip.message) }
        } else {
            Outcome::not_applicable()
        }
    }
}
