//! Kyverno's autogen (v1): rules written for Pods also run on Pod controllers.
//! The main function here is [`compute_rules`], the rule list Kyverno evaluates
//! for a resource of a given kind.
//!
//! As in Kyverno, the generated rule is derived from the original's JSON: the
//! match kinds are replaced by the controllers, patterns are nested under
//! `spec.template` (or `spec.jobTemplate.spec.template` for CronJobs), and
//! `request.object.spec` / `.metadata` references are rewritten textually.
//! Not reproduced: shifting of `$(...)` references inside messages.

use super::matching::contains_kind;
use super::policy::{
    MatchResources, Policy, ResourceDescription, Rule, AUTOGEN_CONTROLLERS_ANNOTATION,
};
use serde_json::{json, Map, Value};

/// Controllers autogen knows, besides `CronJob` which gets its own rule.
const CONTROLLERS: [&str; 6] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];
/// Every controller autogen knows: [`CONTROLLERS`] plus `CronJob`, in Kyverno's order.
fn pod_controllers() -> impl Iterator<Item = &'static str> {
    CONTROLLERS.into_iter().chain(std::iter::once("CronJob"))
}

/// The rules Kyverno evaluates for a resource of `kind`: the policy's own rules
/// (minus any named `autogen-*`), followed by generated rules when `kind` is one
/// of the controllers autogen applies to.
///
/// ```
/// use verdict::engine::kyverno::{autogen::compute_rules, policy::Policy};
/// let policy = Policy::from_value(&serde_json::json!({
///     "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
///     "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
///              "validate": {"pattern": {"spec": {"hostNetwork": false}}}}]}})).unwrap();
/// let names: Vec<_> = compute_rules(&policy, "CronJob").into_iter().map(|r| r.name).collect();
/// assert_eq!(names, ["r", "autogen-cronjob-r"]);
/// ```
pub fn compute_rules(policy: &Policy, kind: &str) -> Vec<Rule> {
    let original = policy.rules.clone();
    if kind.is_empty() {
        return original;
    }
    let Some(controllers) = autogen_controllers(policy) else {
        return original;
    };
    if !controllers.iter().any(|c| c == kind) {
        return original;
    }
    let mut generated = Vec::new();
    for rule in &policy.rules {
        let others = strip_cronjob(kind);
        if let Some(raw) = rule_for_controllers(rule, &others) {
            if let Some(rule) = convert(raw, TargetShape::Template) {
                generated.push(rule);
            }
        }
        if let Some(raw) = cronjob_rule(rule, kind) {
            if let Some(rule) = convert(raw, TargetShape::CronJob) {
                generated.push(rule);
            }
        }
    }
    if generated.is_empty() {
        return original;
    }
    original
        .into_iter()
        .filter(|r| !r.name.starts_with("autogen-"))
        .chain(generated)
        .collect()
}

/// The controllers autogen generates rules for, or `None` when it does not apply.
pub fn autogen_controllers(policy: &Policy) -> Option<Vec<String>> {
    if !can_autogen(policy) {
        return None;
    }
    match policy.annotation(AUTOGEN_CONTROLLERS_ANNOTATION) {
        Some(list) => Some(list.split(',').map(str::to_string).collect()),
        None => Some(pod_controllers().map(str::to_string).collect()),
    }
}

/// Kyverno's `CanAutoGen`: no rule may select by name, selector or annotations,
/// or mix Pod with other kinds, and some rule must name Pod or a controller.
fn can_autogen(policy: &Policy) -> bool {
    let mut needed = false;
    for rule in &policy.rules {
        if rule.raw.get("generate").is_some() {
            return false;
        }
        if let Some(mutate) = rule.raw.get("mutate") {
            let json6902 = |m: &Value| {
                m.get("patchesJson6902")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            if json6902(mutate)
                || mutate["foreach"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(json6902))
            {
                return false;
            }
        }
        let blocks = std::iter::once(&rule.match_resources)
            .chain(rule.exclude.as_ref())
            .flat_map(descriptions);
        for rd in blocks {
            let mixes_pod = rd.kinds.len() > 1 && contains_kind(&rd.kinds, "Pod");
            if rd.name.is_some()
                || !rd.names.is_empty()
                || rd.selector.is_some()
                || rd.annotations.is_some()
                || mixes_pod
            {
                return false;
            }
            needed |= rd
                .kinds
                .iter()
                .any(|k| k == "Pod" || pod_controllers().any(|c| c == k));
        }
    }
    needed
}

fn descriptions(m: &MatchResources) -> impl Iterator<Item = &ResourceDescription> {
    std::iter::once(&m.direct.resources).chain(m.any.iter().chain(&m.all).map(|f| &f.resources))
}

fn strip_cronjob(controllers: &str) -> String {
    let mut kinds: Vec<&str> = controllers.split(',').filter(|c| *c != "CronJob").collect();
    kinds.sort_unstable();
    kinds.join(",")
}

fn sorted_kinds(controllers: &str) -> Vec<String> {
    let mut kinds: Vec<String> = controllers.split(',').map(str::to_string).collect();
    kinds.sort();
    kinds
}

fn gvk_of(kind: &str) -> String {
    match kind {
        "DaemonSet" | "Deployment" | "StatefulSet" | "ReplicaSet" => format!("apps/v1/{kind}"),
        "Job" | "CronJob" => format!("batch/v1/{kind}"),
        "ReplicationController" | "Pod" => format!("v1/{kind}"),
        other => other.to_string(),
    }
}

fn autogen_name(prefix: &str, name: &str) -> String {
    let mut full = format!("{prefix}-{name}");
    if full.len() > 63 {
        let mut cut = 63;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        full.truncate(cut);
    }
    full
}

/// The `autogen-<rule>` rule (before reference rewriting), as Kyverno's `generateRuleForControllers`.
fn rule_for_controllers(rule: &Rule, controllers: &str) -> Option<Value> {
    if rule.name.starts_with("autogen-") || controllers.is_empty() {
        return None;
    }
    let match_kinds = rule.match_resources.kinds();
    let exclude_kinds = rule
        .exclude
        .as_ref()
        .map(MatchResources::kinds)
        .unwrap_or_default();
    if !contains_kind(&match_kinds, "Pod")
        || (!exclude_kinds.is_empty() && !contains_kind(&exclude_kinds, "Pod"))
    {
        return None;
    }
    let controllers = if controllers == "all" {
        CONTROLLERS.join(",")
    } else {
        let validated: Vec<String> = sorted_kinds(controllers)
            .into_iter()
            .filter(|c| CONTROLLERS.contains(&c.as_str()))
            .collect();
        if validated.is_empty() {
            controllers.to_string()
        } else {
            validated.join(",")
        }
    };
    let kinds = sorted_kinds(&controllers);
    generate_rule(
        &autogen_name("autogen", &rule.name),
        &rule.raw,
        "template",
        &kinds,
        |filter, kinds| {
            let has_pod = filter["resources"]["kinds"]
                .as_array()
                .map(|k| {
                    k.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .is_some_and(|k| contains_kind(&k, "Pod"));
            if has_pod {
                set_filter_kinds(filter, kinds);
            }
        },
    )
}

/// The `autogen-cronjob-<rule>` rule, built on top of the controllers rule as Kyverno does.
fn cronjob_rule(rule: &Rule, controllers: &str) -> Option<Value> {
    if !controllers.contains("CronJob") && !controllers.contains("all") {
        return None;
    }
    let base = rule_for_controllers(rule, controllers)?;
    let kinds = vec!["CronJob".to_string()];
    generate_rule(
        &autogen_name("autogen-cronjob", &rule.name),
        &base,
        "jobTemplate",
        &kinds,
        set_filter_kinds,
    )
}

fn set_filter_kinds(filter: &mut Value, kinds: &[String]) {
    let gvks: Vec<Value> = kinds.iter().map(|k| Value::String(gvk_of(k))).collect();
    if let Some(obj) = filter.as_object_mut() {
        let resources = obj
            .entry("resources")
            .or_insert_with(|| Value::Object(Map::new()));
        if !resources.is_object() {
            *resources = Value::Object(Map::new());
        }
        resources["kinds"] = Value::Array(gvks);
    }
}

fn generate_rule(
    name: &str,
    raw: &Value,
    template_key: &str,
    kinds: &[String],
    rewrite_filter: impl Fn(&mut Value, &[String]),
) -> Option<Value> {
    let mut rule = raw.as_object()?.clone();
    rule.insert("name".into(), Value::String(name.to_string()));
    let rewrite_block = |block: &mut Value, exclude: bool| {
        for key in ["any", "all"] {
            if let Some(filters) = block
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .filter(|f| !f.is_empty())
            {
                filters.iter_mut().for_each(|f| rewrite_filter(f, kinds));
                return;
            }
        }
        let has_kinds = block["resources"]["kinds"]
            .as_array()
            .is_some_and(|k| !k.is_empty());
        if !exclude || has_kinds {
            set_filter_kinds(block, kinds);
        }
    };
    if let Some(m) = rule.get_mut("match") {
        rewrite_block(m, false);
    } else {
        let mut m = json!({});
        rewrite_block(&mut m, false);
        rule.insert("match".into(), m);
    }
    if let Some(ex) = rule.get_mut("exclude").filter(|e| e.is_object()) {
        rewrite_block(ex, true);
    }
    if rule.contains_key("verifyImages") && !rule.contains_key("validate") {
        // Images are read from any Pod controller's template as they are: only the match changes.
        return Some(Value::Object(rule));
    }
    let validate = rule.get("validate")?.as_object()?.clone();
    let wrap = |p: &Value| json!({"spec": {template_key: p}});
    let mut new_validate = Map::new();
    for key in [
        "message",
        "failureAction",
        "failureActionOverrides",
        "allowExistingViolations",
    ] {
        if let Some(v) = validate.get(key) {
            new_validate.insert(key.into(), v.clone());
        }
    }
    if let Some(p) = validate.get("pattern").filter(|p| !p.is_null()) {
        new_validate.insert("pattern".into(), wrap(p));
    } else if let Some(d) = validate.get("deny").filter(|d| !d.is_null()) {
        new_validate.insert("deny".into(), d.clone());
    } else if let Some(ps) = validate.get("podSecurity").filter(|p| !p.is_null()) {
        let mut kept = Map::new();
        for key in ["level", "version", "exclude"] {
            if let Some(v) = ps.get(key) {
                kept.insert(key.into(), v.clone());
            }
        }
        new_validate.insert("podSecurity".into(), Value::Object(kept));
    } else if let Some(any) = validate.get("anyPattern").and_then(Value::as_array) {
        new_validate.insert(
            "anyPattern".into(),
            Value::Array(any.iter().map(wrap).collect()),
        );
    } else if let Some(fe) = validate
        .get("foreach")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
    {
        new_validate.insert("foreach".into(), Value::Array(fe.clone()));
    } else if validate.contains_key("cel") {
        return Some(Value::Object(rule));
    } else {
        return None;
    }
    rule.insert("validate".into(), Value::Object(new_validate));
    Some(Value::Object(rule))
}

#[derive(Clone, Copy)]
enum TargetShape {
    Template,
    CronJob,
}

/// Rewrite `request.(old)object.spec/metadata` references as Kyverno's `updateFields`, then parse.
fn convert(raw: Value, shape: TargetShape) -> Option<Rule> {
    let replacements: [(&str, &str); 4] = match shape {
        TargetShape::Template => [
            ("request.object.spec", "request.object.spec.template.spec"),
            (
                "request.oldObject.spec",
                "request.oldObject.spec.template.spec",
            ),
            (
                "request.object.metadata",
                "request.object.spec.template.metadata",
            ),
            (
                "request.oldObject.metadata",
                "request.oldObject.spec.template.metadata",
            ),
        ],
        TargetShape::CronJob => [
            (
                "request.object.spec",
                "request.object.spec.jobTemplate.spec.template.spec",
            ),
            (
                "request.oldObject.spec",
                "request.oldObject.spec.jobTemplate.spec.template.spec",
            ),
            (
                "request.object.metadata",
                "request.object.spec.jobTemplate.spec.template.metadata",
            ),
            (
                "request.oldObject.metadata",
                "request.oldObject.spec.jobTemplate.spec.template.metadata",
            ),
        ],
    };
    // CEL rules name the objects `object` / `oldObject` (Kyverno's `podCELReplacementRules`).
    let cel_replacements: Vec<(String, String)> = replacements
        .iter()
        .map(|(from, to)| (from["request.".len()..].to_string(), to["request.".len()..].to_string()))
        .collect();
    let is_cel = raw["validate"].get("cel").is_some_and(|c| !c.is_null());
    let replacements: Vec<(&str, &str)> = if is_cel {
        cel_replacements.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect()
    } else {
        replacements.to_vec()
    };
    let mut text = serde_json::to_string(&raw).ok()?;
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    let rewritten: Value = serde_json::from_str(&text).ok()?;
    Rule::from_value(&rewritten).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(annotations: Value, rules: Value) -> Policy {
        Policy::from_value(
            &json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p", "annotations": annotations}, "spec": {"rules": rules}}),
        )
        .unwrap()
    }

    #[test]
    fn pattern_is_nested_and_kinds_replaced() {
        let p = policy(
            json!({}),
            json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "m {{request.object.metadata.name}}", "pattern": {"spec": {"x": 1}}}}]),
        );
        let rules = compute_rules(&p, "Deployment");
        assert_eq!(rules.len(), 2);
        let gen = &rules[1];
        assert_eq!(gen.name, "autogen-r");
        assert_eq!(
            gen.match_resources.any[0].resources.kinds,
            vec!["apps/v1/Deployment"]
        );
        let v = gen.validation().unwrap();
        assert_eq!(
            v.pattern,
            Some(json!({"spec": {"template": {"spec": {"x": 1}}}}))
        );
        assert_eq!(
            v.message.as_deref(),
            Some("m {{request.object.spec.template.metadata.name}}")
        );
        assert_eq!(compute_rules(&p, "Pod").len(), 1);
    }

    #[test]
    fn cronjob_rule_nests_twice() {
        let p = policy(
            json!({}),
            json!([{"name": "r", "match": {"resources": {"kinds": ["Pod"]}},
            "validate": {"deny": {"conditions": {"any": [{"key": "{{request.object.spec.x}}", "operator": "Equals", "value": 1}]}}}}]),
        );
        let rules = compute_rules(&p, "CronJob");
        assert_eq!(rules[1].name, "autogen-cronjob-r");
        assert_eq!(
            rules[1].match_resources.direct.resources.kinds,
            vec!["batch/v1/CronJob"]
        );
        let deny = rules[1].validation().unwrap().deny.clone().unwrap();
        assert_eq!(
            deny["any"][0]["key"],
            "{{request.object.spec.jobTemplate.spec.template.spec.x}}"
        );
    }

    #[test]
    fn annotation_limits_controllers_and_selectors_disable() {
        let rules = json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {}}}]);
        let p = policy(
            json!({AUTOGEN_CONTROLLERS_ANNOTATION: "Deployment"}),
            rules.clone(),
        );
        assert_eq!(compute_rules(&p, "StatefulSet").len(), 1);
        assert_eq!(compute_rules(&p, "Deployment").len(), 2);
        let p = policy(json!({AUTOGEN_CONTROLLERS_ANNOTATION: "none"}), rules);
        assert_eq!(compute_rules(&p, "Deployment").len(), 1);
        let p = policy(
            json!({}),
            json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}}}]}, "validate": {"pattern": {}}}]),
        );
        assert_eq!(compute_rules(&p, "Deployment").len(), 1);
    }
}
