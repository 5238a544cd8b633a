//! The Kyverno policy model: a `ClusterPolicy` / `Policy` parsed from its YAML
//! value. The main type here is [`Policy`].
//!
//! Rules keep their raw JSON next to the typed view because autogen rewrites
//! rules textually (as Kyverno does) and then parses them again.

use serde_json::{Map, Value};

/// Whether a failed rule blocks admission (`Enforce`) or is only reported (`Audit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAction {
    Audit,
    Enforce,
}

impl FailureAction {
    /// Kyverno accepts `Audit`/`Enforce` in any case (legacy policies use `audit`/`enforce`).
    pub fn parse(text: &str) -> Result<FailureAction, String> {
        match text.to_ascii_lowercase().as_str() {
            "audit" => Ok(FailureAction::Audit),
            "enforce" => Ok(FailureAction::Enforce),
            other => Err(format!(
                "unknown validationFailureAction `{other}` (want Audit or Enforce)"
            )),
        }
    }
}

/// A parsed `ClusterPolicy` or namespaced `Policy`.
///
/// ```
/// use verdict::engine::kyverno::policy::Policy;
/// let doc = serde_json::json!({
///     "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
///     "metadata": {"name": "p"},
///     "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
///              "validate": {"pattern": {"metadata": {"name": "?*"}}}}]}
/// });
/// let policy = Policy::from_value(&doc).unwrap();
/// assert_eq!(policy.rules[0].name, "r");
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    /// Set for a namespaced `Policy`: only resources in that namespace match.
    pub namespace: Option<String>,
    pub annotations: Map<String, Value>,
    /// `spec.validationFailureAction`, `None` when the policy does not say (Kyverno then audits).
    pub validation_failure_action: Option<FailureAction>,
    pub background: bool,
    /// `spec.applyRules: One`: stop after the first rule that applies.
    pub apply_one: bool,
    pub rules: Vec<Rule>,
}

/// One rule of a policy.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// The rule as written (or as rewritten by autogen).
    pub raw: Value,
    pub match_resources: MatchResources,
    pub exclude: Option<MatchResources>,
    /// `preconditions`: an `any`/`all` object or a legacy list.
    pub preconditions: Option<Value>,
    pub context: Vec<ContextEntry>,
    pub kind: RuleKind,
    /// `validate.cel` with `celPreconditions`, compiled when the rule is read.
    pub cel: Option<std::sync::Arc<super::handlers::validate_cel::CelRule>>,
}

/// What a rule does. Only `Validate` rules produce validation results.
#[derive(Debug, Clone)]
pub enum RuleKind {
    Validate(Box<Validation>),
    /// `verifyImages`: judged against the run's registry.
    VerifyImages(Vec<super::verify_images::ImageVerification>),
    /// mutate or generate: not evaluated.
    Other(&'static str),
}

/// `rule.validate`.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub message: Option<String>,
    pub failure_action: Option<FailureAction>,
    pub pattern: Option<Value>,
    pub any_pattern: Option<Value>,
    /// `deny.conditions` (`Value::Null` when `deny` has no conditions).
    pub deny: Option<Value>,
    pub foreach: Option<Vec<ForEach>>,
    /// `podSecurity`, passed as written to the Pod Security handler.
    pub pod_security: Option<Value>,
    /// Set for `manifests` / `assert`, which this engine does not implement.
    pub unsupported: Option<&'static str>,
}

/// One `foreach` entry of a validate rule (possibly nested).
#[derive(Debug, Clone, Default)]
pub struct ForEach {
    pub list: String,
    pub element_scope: Option<bool>,
    pub context: Vec<ContextEntry>,
    pub preconditions: Option<Value>,
    pub pattern: Option<Value>,
    pub any_pattern: Option<Value>,
    pub deny: Option<Value>,
    pub foreach: Option<Vec<ForEach>>,
}

impl ForEach {
    /// The `list` expressions of this entry and its nested entries.
    pub fn lists(&self) -> Vec<String> {
        let mut out = vec![self.list.clone()];
        for inner in self.foreach.iter().flatten() {
            out.extend(inner.lists());
        }
        out
    }
}

/// A `context` entry of a rule or foreach.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    pub name: String,
    pub source: ContextSource,
}

/// Where a context entry's value comes from.
#[derive(Debug, Clone)]
pub enum ContextSource {
    Variable {
        value: Option<Value>,
        jmes_path: Option<String>,
        default: Option<Value>,
    },
    /// apiCall, configMap, imageRegistry, globalReference: need a cluster or registry.
    External(&'static str),
}

/// `match` / `exclude`: `any`, `all`, or the legacy direct form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchResources {
    pub any: Vec<ResourceFilter>,
    pub all: Vec<ResourceFilter>,
    /// The legacy form: `resources` (and user info) directly under `match`.
    pub direct: ResourceFilter,
}

impl MatchResources {
    pub fn is_empty(&self) -> bool {
        self.any.is_empty() && self.all.is_empty() && self.direct.is_empty()
    }

    /// Every kind named anywhere in the block, as Kyverno's `GetKinds` does.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds = self.direct.resources.kinds.clone();
        for filter in self.any.iter().chain(&self.all) {
            kinds.extend(filter.resources.kinds.iter().cloned());
        }
        kinds
    }
}

/// One filter: a resource description plus user info.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceFilter {
    pub resources: ResourceDescription,
    pub user_info: UserInfo,
}

impl ResourceFilter {
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.user_info.is_empty()
    }
}

/// `resources:` of a filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceDescription {
    pub kinds: Vec<String>,
    pub name: Option<String>,
    pub names: Vec<String>,
    pub namespaces: Vec<String>,
    pub annotations: Option<Map<String, Value>>,
    pub selector: Option<Value>,
    pub namespace_selector: Option<Value>,
    pub operations: Vec<String>,
}

impl ResourceDescription {
    pub fn is_empty(&self) -> bool {
        self == &ResourceDescription::default()
    }
}

/// `subjects`, `roles`, `clusterRoles` of a filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInfo {
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
    pub subjects: Vec<Subject>,
}

impl UserInfo {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.cluster_roles.is_empty() && self.subjects.is_empty()
    }
}

/// An RBAC subject (`User`, `Group`, `ServiceAccount`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// The annotation naming the controllers autogen writes rules for.
pub const AUTOGEN_CONTROLLERS_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

impl Policy {
    /// Parse a `ClusterPolicy` or `Policy` (`kyverno.io/v1`, `v2beta1`).
    pub fn from_value(doc: &Value) -> Result<Policy, String> {
        let api_version = doc["apiVersion"].as_str().unwrap_or("");
        let kind = doc["kind"].as_str().unwrap_or("");
        if !api_version.starts_with("kyverno.io/") {
            return Err(format!("not a Kyverno policy: apiVersion `{api_version}`"));
        }
        let namespaced = match kind {
            "ClusterPolicy" => false,
            "Policy" => true,
            other => {
                return Err(format!(
                    "unsupported Kyverno kind `{other}` (want ClusterPolicy or Policy)"
                ))
            }
        };
        let metadata = &doc["metadata"];
        let name = metadata["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or("policy has no metadata.name")?;
        let namespace = if namespaced {
            Some(
                metadata["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string(),
            )
        } else {
            None
        };
        let annotations = metadata["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let spec = &doc["spec"];
        let validation_failure_action = match spec.get("validationFailureAction") {
            None | Some(Value::Null) => None,
            Some(v) => Some(FailureAction::parse(
                v.as_str()
                    .ok_or("spec.validationFailureAction must be a string")?,
            )?),
        };
        let background = spec["background"].as_bool().unwrap_or(true);
        let apply_one = spec["applyRules"].as_str() == Some("One");
        let rules = match spec.get("rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(Rule::from_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("policy `{name}`: {e}"))?,
            Some(_) => return Err("spec.rules must be a list".into()),
        };
        if rules.is_empty() {
            return Err(format!("policy `{name}` has no rules"));
        }
        Ok(Policy {
            name: name.to_string(),
            namespace,
            annotations,
            validation_failure_action,
            background,
            apply_one,
            rules,
        })
    }

    /// A string annotation of the policy, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).and_then(Value::as_str)
    }
}

impl Rule {
    /// Parse one entry of `spec.rules`.
    pub fn from_value(raw: &Value) -> Result<Rule, String> {
        let name = raw["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or("rule has no name")?
            .to_string();
        let at = |what: &str| format!("rule `{name}`: {what}");
        let match_resources = match raw.get("match") {
            Some(m) if !m.is_null() => parse_match(m).map_err(|e| at(&format!("match: {e}")))?,
            _ => MatchResources::default(),
        };
        let exclude = match raw.get("exclude") {
            Some(m) if !m.is_null() => {
                Some(parse_match(m).map_err(|e| at(&format!("exclude: {e}")))?)
            }
            _ => None,
        };
        let preconditions = raw.get("preconditions").filter(|p| !p.is_null()).cloned();
        let context = parse_context(raw.get("context")).map_err(|e| at(&e))?;
        let kind = if let Some(validate) = raw.get("validate").filter(|v| !v.is_null()) {
            RuleKind::Validate(Box::new(
                parse_validation(validate).map_err(|e| at(&format!("validate: {e}")))?,
            ))
        } else if raw.get("mutate").is_some() {
            RuleKind::Other("mutate")
        } else if raw.get("generate").is_some() {
            RuleKind::Other("generate")
        } else if let Some(list) = raw.get("verifyImages").filter(|v| !v.is_null()) {
            RuleKind::VerifyImages(super::verify_images::parse(list).map_err(|e| at(&e))?)
        } else {
            return Err(at("has none of validate, mutate, generate, verifyImages"));
        };
        let cel = super::handlers::validate_cel::CelRule::compile(raw)
            .map_err(|e| at(&e))?
            .map(std::sync::Arc::new);
        Ok(Rule {
            cel,
            name,
            raw: raw.clone(),
            match_resources,
            exclude,
            preconditions,
            context,
            kind,
        })
    }

    /// The validate part, when this is a validate rule.
    pub fn validation(&self) -> Option<&Validation> {
        match &self.kind {
            RuleKind::Validate(v) => Some(v),
            RuleKind::VerifyImages(_) | RuleKind::Other(_) => None,
        }
    }
}

fn parse_validation(v: &Value) -> Result<Validation, String> {
    let obj = v.as_object().ok_or("must be an object")?;
    let message = match obj.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("message must be a string".into()),
    };
    let failure_action = match obj.get("failureAction") {
        None | Some(Value::Null) => None,
        Some(v) => Some(FailureAction::parse(
            v.as_str().ok_or("failureAction must be a string")?,
        )?),
    };
    let any_pattern = obj.get("anyPattern").filter(|p| !p.is_null()).cloned();
    if let Some(p) = &any_pattern {
        if !p.is_array() {
            return Err("anyPattern must be a list".into());
        }
    }
    let unsupported = if obj.contains_key("manifests") {
        Some("validate.manifests")
    } else if obj.contains_key("assert") {
        Some("validate.assert")
    } else {
        None
    };
    Ok(Validation {
        message,
        failure_action,
        pattern: obj.get("pattern").filter(|p| !p.is_null()).cloned(),
        any_pattern,
        deny: parse_deny(obj.get("deny"))?,
        foreach: parse_foreach_list(obj.get("foreach"))?,
        pod_security: obj.get("podSecurity").filter(|p| !p.is_null()).cloned(),
        unsupported,
    })
}

fn parse_deny(deny: Option<&Value>) -> Result<Option<Value>, String> {
    match deny {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(d)) => Ok(Some(d.get("conditions").cloned().unwrap_or(Value::Null))),
        Some(_) => Err("deny must be an object".into()),
    }
}

fn parse_foreach_list(v: Option<&Value>) -> Result<Option<Vec<ForEach>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(parse_foreach)
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err("foreach must be a list".into()),
    }
}

fn parse_foreach(v: &Value) -> Result<ForEach, String> {
    let obj = v.as_object().ok_or("foreach entry must be an object")?;
    let list = obj
        .get("list")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let element_scope = match obj.get("elementScope") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err("foreach.elementScope must be a boolean".into()),
    };
    Ok(ForEach {
        list,
        element_scope,
        context: parse_context(obj.get("context"))?,
        preconditions: obj.get("preconditions").filter(|p| !p.is_null()).cloned(),
        pattern: obj.get("pattern").filter(|p| !p.is_null()).cloned(),
        any_pattern: obj.get("anyPattern").filter(|p| !p.is_null()).cloned(),
        deny: parse_deny(obj.get("deny"))?,
        foreach: parse_foreach_list(obj.get("foreach"))?,
    })
}

fn parse_context(v: Option<&Value>) -> Result<Vec<ContextEntry>, String> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("context must be a list".into()),
    };
    items
        .iter()
        .map(|item| {
            let name = item["name"].as_str().filter(|n| !n.is_empty()).ok_or("context entry has no name")?.to_string();
            let source = if let Some(var) = item.get("variable").filter(|v| !v.is_null()) {
                ContextSource::Variable {
                    value: var.get("value").filter(|v| !v.is_null()).cloned(),
                    jmes_path: var.get("jmesPath").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
                    default: var.get("default").filter(|v| !v.is_null()).cloned(),
                }
            } else if item.get("apiCall").is_some() {
                ContextSource::External("apiCall")
            } else if item.get("configMap").is_some() {
                ContextSource::External("configMap")
            } else if item.get("imageRegistry").is_some() {
                ContextSource::External("imageRegistry")
            } else if item.get("globalReference").is_some() {
                ContextSource::External("globalReference")
            } else {
                return Err(format!("context entry `{name}` has none of variable, apiCall, configMap, imageRegistry, globalReference"));
            };
            Ok(ContextEntry { name, source })
        })
        .collect()
}

/// A `match` / `exclude` block (also a PolicyException's `match`).
pub(crate) fn parse_match(v: &Value) -> Result<MatchResources, String> {
    let obj = v.as_object().ok_or("must be an object")?;
    let filters = |key: &str| -> Result<Vec<ResourceFilter>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(parse_filter).collect(),
            Some(_) => Err(format!("`{key}` must be a list")),
        }
    };
    Ok(MatchResources {
        any: filters("any")?,
        all: filters("all")?,
        direct: parse_filter(v)?,
    })
}

fn parse_filter(v: &Value) -> Result<ResourceFilter, String> {
    let resources = match v.get("resources") {
        None | Some(Value::Null) => ResourceDescription::default(),
        Some(r) => parse_resources(r)?,
    };
    let subjects = match v.get("subjects") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| Subject {
                kind: s["kind"].as_str().unwrap_or("").to_string(),
                name: s["name"].as_str().unwrap_or("").to_string(),
                namespace: s["namespace"].as_str().unwrap_or("").to_string(),
            })
            .collect(),
        Some(_) => return Err("subjects must be a list".into()),
    };
    Ok(ResourceFilter {
        resources,
        user_info: UserInfo {
            roles: string_list(v.get("roles"), "roles")?,
            cluster_roles: string_list(v.get("clusterRoles"), "clusterRoles")?,
            subjects,
        },
    })
}

fn parse_resources(v: &Value) -> Result<ResourceDescription, String> {
    let obj = v.as_object().ok_or("resources must be an object")?;
    let annotations = match obj.get("annotations") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err("resources.annotations must be a map".into()),
    };
    Ok(ResourceDescription {
        kinds: string_list(obj.get("kinds"), "kinds")?,
        name: obj
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        names: string_list(obj.get("names"), "names")?,
        namespaces: string_list(obj.get("namespaces"), "namespaces")?,
        annotations,
        selector: obj.get("selector").filter(|s| !s.is_null()).cloned(),
        namespace_selector: obj
            .get("namespaceSelector")
            .filter(|s| !s.is_null())
            .cloned(),
        operations: string_list(obj.get("operations"), "operations")?,
    })
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Ok(other.to_string()),
            })
            .collect(),
        Some(_) => Err(format!("{what} must be a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_lowercase_action_and_direct_match() {
        let doc = json!({
            "apiVersion": "kyverno.io/v1", "kind": "Policy",
            "metadata": {"name": "p", "namespace": "team"},
            "spec": {"validationFailureAction": "enforce", "rules": [{
                "name": "r", "match": {"resources": {"kinds": ["Pod"], "names": ["a*"]}},
                "validate": {"deny": {"conditions": {"any": []}}}}]}
        });
        let p = Policy::from_value(&doc).unwrap();
        assert_eq!(p.validation_failure_action, Some(FailureAction::Enforce));
        assert_eq!(p.namespace.as_deref(), Some("team"));
        assert_eq!(
            p.rules[0].match_resources.direct.resources.names,
            vec!["a*"]
        );
        assert!(p.rules[0].validation().unwrap().deny.is_some());
    }

    #[test]
    fn rejects_non_kyverno_documents() {
        assert!(Policy::from_value(&json!({"apiVersion": "v1", "kind": "Pod"})).is_err());
    }
}
