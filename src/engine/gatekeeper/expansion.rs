//! Gatekeeper `ExpansionTemplate`s (`expansion.gatekeeper.sh`): a workload such
//! as a Deployment is expanded into the resource it would create (its Pod), so
//! Constraints written for Pods also judge the workloads that make them.
//!
//! Follows Gatekeeper's expansion system as `gator verify` runs it: the
//! resultant is the workload's `templateSource` field with the `generatedGVK`,
//! the workload's namespace, the name `<workload>-<kind>` (lower case) and an
//! owner reference to the workload; resultants are expanded again (CronJob →
//! Job → Pod), and templates that form a cycle are an error. Mutators, which
//! Gatekeeper applies to resultants, are not read: `gator verify` accepts only
//! ExpansionTemplates in a suite's `expansion` file.

use super::constraint::Action;
use super::review::GroupVersionKind;
use crate::error::LoadError;
use crate::schema::EmbeddedSchema;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::LazyLock;

static SCHEMA: LazyLock<EmbeddedSchema> = LazyLock::new(|| {
    EmbeddedSchema::compile(include_str!("schema/expansion-template.schema.json"))
});

/// The API group whose `ExpansionTemplate` kind this module reads.
pub const EXPANSION_GROUP: &str = "expansion.gatekeeper.sh";

/// Gatekeeper's guard against runaway expansion chains.
const MAX_DEPTH: usize = 30;

/// One group/version/kind triple, compared exactly (Gatekeeper allows no globs here).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gvk {
    group: String,
    version: String,
    kind: String,
}

impl std::fmt::Display for Gvk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}, Kind={}", self.group, self.version, self.kind)
    }
}

/// `spec.applyTo[]`: the workloads a template expands, as lists whose product is matched.
#[derive(Debug, Clone, Default)]
struct ApplyTo {
    groups: Vec<String>,
    versions: Vec<String>,
    kinds: Vec<String>,
}

impl ApplyTo {
    fn matches(&self, gvk: &Gvk) -> bool {
        self.groups.contains(&gvk.group)
            && self.versions.contains(&gvk.version)
            && self.kinds.contains(&gvk.kind)
    }
}

/// One ExpansionTemplate, validated as Gatekeeper validates it on upsert.
#[derive(Debug, Clone)]
pub struct ExpansionTemplate {
    pub name: String,
    apply_to: Vec<ApplyTo>,
    /// `spec.templateSource` split on `.` (`spec.template` → `["spec", "template"]`).
    source: Vec<String>,
    generated: Gvk,
    /// `spec.enforcementAction`: replaces the Constraint's action on the resultant's violations.
    pub enforcement_action: Option<Action>,
}

impl ExpansionTemplate {
    /// Read one ExpansionTemplate document (starting at `line` of `text`, for error lines).
    ///
    /// ```
    /// use verdict::engine::gatekeeper::ExpansionTemplate;
    /// let text = "apiVersion: expansion.gatekeeper.sh/v1alpha1\nkind: ExpansionTemplate\nmetadata: {name: pods}\nspec:\n  applyTo: [{groups: [apps], versions: [v1], kinds: [Deployment]}]\n  templateSource: spec.template\n  generatedGVK: {group: '', version: v1, kind: Pod}\n";
    /// let value = serde_yaml_ng::from_str(text).unwrap();
    /// let template = ExpansionTemplate::from_value(&value, "e.yaml".as_ref(), Some(text), 1).unwrap();
    /// assert_eq!(template.name, "pods");
    /// ```
    pub fn from_value(
        value: &Value,
        path: &Path,
        text: Option<&str>,
        line: usize,
    ) -> Result<ExpansionTemplate, LoadError> {
        let is_expansion = value["kind"] == "ExpansionTemplate"
            && value["apiVersion"]
                .as_str()
                .and_then(|v| v.split_once('/'))
                .is_some_and(|(group, _)| group == EXPANSION_GROUP);
        if !is_expansion {
            return Err(LoadError::at_line(
                path,
                line,
                format!(
                    "an expansion file holds only ExpansionTemplates ({EXPANSION_GROUP}), found {} {}",
                    value["apiVersion"].as_str().unwrap_or("?"),
                    value["kind"].as_str().unwrap_or("?")
                ),
            ));
        }
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_string();
        SCHEMA.check(
            value,
            path,
            text,
            Some(line),
            &format!("ExpansionTemplate {name}"),
        )?;
        let fail = |message: String| LoadError::at_line(path, line, message);
        // The checks and their order are Gatekeeper's ValidateTemplate.
        if name.is_empty() {
            return Err(fail("ExpansionTemplate has empty name field".into()));
        }
        if name.len() >= 64 {
            return Err(fail(format!(
                "ExpansionTemplate {name}: name must be less than 64 characters"
            )));
        }
        let spec = &value["spec"];
        let source = spec["templateSource"].as_str().unwrap_or("");
        if source.is_empty() {
            return Err(fail(format!(
                "ExpansionTemplate {name} has empty source field"
            )));
        }
        let gvk = &spec["generatedGVK"];
        let text_of = |v: &Value| v.as_str().unwrap_or("").to_string();
        let generated = Gvk {
            group: text_of(&gvk["group"]),
            version: text_of(&gvk["version"]),
            kind: text_of(&gvk["kind"]),
        };
        if generated.group.is_empty() && generated.version.is_empty() && generated.kind.is_empty() {
            return Err(fail(format!(
                "ExpansionTemplate {name} has empty generatedGVK field"
            )));
        }
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let apply_to: Vec<ApplyTo> = spec["applyTo"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| ApplyTo {
                        groups: list(&e["groups"]),
                        versions: list(&e["versions"]),
                        kinds: list(&e["kinds"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if apply_to.is_empty() {
            return Err(fail(format!(
                "ExpansionTemplate {name} must specify ApplyTo"
            )));
        }
        if apply_to.iter().any(|a| a.matches(&generated)) {
            return Err(fail(format!(
                "ExpansionTemplate {name} generates GVK {generated}, but also applies to that same GVK"
            )));
        }
        let enforcement_action = match spec["enforcementAction"].as_str().unwrap_or("") {
            "" => None,
            raw => Some(Action::parse(raw).ok_or_else(|| {
                fail(format!("ExpansionTemplate {name}: spec.enforcementAction {raw:?} is not deny, warn or dryrun"))
            })?),
        };
        Ok(ExpansionTemplate {
            name,
            apply_to,
            source: source.split('.').map(str::to_string).collect(),
            generated,
            enforcement_action,
        })
    }
}

/// An object generated from a workload, and the template that generated it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resultant {
    pub object: Value,
    /// The ExpansionTemplate's name: violations on the resultant read `[Implied by <name>] <msg>`.
    pub template: String,
    pub enforcement_action: Option<Action>,
}

/// ExpansionTemplates whose outputs feed each other in a loop (Gatekeeper refuses them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ExpansionTemplates form an expansion cycle: {}", .templates.join(" -> "))]
pub struct ExpansionCycle {
    /// The names along the cycle, the first repeated at the end.
    pub templates: Vec<String>,
}

/// A set of ExpansionTemplates that expands workloads.
#[derive(Debug, Clone, Default)]
pub struct Expander {
    templates: Vec<ExpansionTemplate>,
}

impl Expander {
    /// Templates with the same name replace earlier ones, as an upsert does; a set
    /// in which one template's output feeds back into itself is an error.
    pub fn new(templates: Vec<ExpansionTemplate>) -> Result<Expander, ExpansionCycle> {
        let mut kept: Vec<ExpansionTemplate> = Vec::new();
        for template in templates {
            kept.retain(|t| t.name != template.name);
            kept.push(template);
        }
        // An edge a → b: what a generates, b expands.
        let feeds = |a: &ExpansionTemplate, b: &ExpansionTemplate| {
            b.apply_to.iter().any(|x| x.matches(&a.generated))
        };
        if let Some(cycle) = find_cycle(kept.len(), |a, b| feeds(&kept[a], &kept[b])) {
            return Err(ExpansionCycle {
                templates: cycle.iter().map(|&i| kept[i].name.clone()).collect(),
            });
        }
        Ok(Expander { templates: kept })
    }

    /// Every object `workload` expands into, resultants of resultants included
    /// (deepest first, as Gatekeeper lists them); empty when no template applies.
    ///
    /// ```
    /// use verdict::engine::gatekeeper::{Expander, ExpansionTemplate};
    /// use serde_json::json;
    /// let template = ExpansionTemplate::from_value(&json!({
    ///     "apiVersion": "expansion.gatekeeper.sh/v1alpha1", "kind": "ExpansionTemplate",
    ///     "metadata": {"name": "pods"},
    ///     "spec": {"applyTo": [{"groups": ["apps"], "versions": ["v1"], "kinds": ["Deployment"]}],
    ///              "templateSource": "spec.template", "generatedGVK": {"version": "v1", "kind": "Pod"}}}),
    ///     "e.yaml".as_ref(), None, 1).unwrap();
    /// let expander = Expander::new(vec![template]).unwrap();
    /// let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
    ///     "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}});
    /// let pods = expander.expand(&deployment).unwrap();
    /// assert_eq!(pods[0].object["metadata"]["name"], "web-pod");
    /// assert_eq!(pods[0].object["metadata"]["namespace"], "shop");
    /// ```
    pub fn expand(&self, workload: &Value) -> Result<Vec<Resultant>, String> {
        let mut out = Vec::new();
        self.expand_into(workload, 0, &mut out)?;
        Ok(out)
    }

    fn expand_into(
        &self,
        workload: &Value,
        depth: usize,
        out: &mut Vec<Resultant>,
    ) -> Result<(), String> {
        if depth >= MAX_DEPTH {
            return Err(format!("maximum expansion depth of {MAX_DEPTH} reached"));
        }
        let gvk =
            GroupVersionKind::of(workload).map_err(|e| format!("cannot expand resource: {e}"))?;
        let gvk = Gvk {
            group: gvk.group,
            version: gvk.version,
            kind: gvk.kind,
        };
        let mut made = Vec::new();
        for template in self
            .templates
            .iter()
            .filter(|t| t.apply_to.iter().any(|a| a.matches(&gvk)))
        {
            made.push(Resultant {
                object: expand_one(workload, template)?,
                template: template.name.clone(),
                enforcement_action: template.enforcement_action,
            });
        }
        for resultant in &made {
            self.expand_into(&resultant.object, depth + 1, out)?;
        }
        out.extend(made);
        Ok(())
    }
}

/// The resultant of one template on one workload.
fn expand_one(workload: &Value, template: &ExpansionTemplate) -> Result<Value, String> {
    let workload_name = workload["metadata"]["name"].as_str().unwrap_or("");
    let mut field = workload;
    for key in &template.source {
        field = match field.get(key.as_str()) {
            Some(next) => next,
            None => {
                return Err(format!(
                    "could not find source field {:?} in resource {workload_name}",
                    template.source.join(".")
                ))
            }
        };
    }
    let Value::Object(map) = field else {
        return Err(format!(
            "could not extract source field from resource {workload_name}: {} is not an object",
            template.source.join(".")
        ));
    };
    let mut object = Value::Object(map.clone());
    let generated = &template.generated;
    object["apiVersion"] = json!(if generated.group.is_empty() {
        generated.version.clone()
    } else {
        format!("{}/{}", generated.group, generated.version)
    });
    object["kind"] = json!(generated.kind);
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    let metadata = object["metadata"]
        .as_object_mut()
        .expect("metadata is an object");
    match workload["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
    {
        Some(ns) => metadata.insert("namespace".into(), json!(ns)),
        None => metadata.remove("namespace"),
    };
    let suffix = if generated.kind.is_empty() {
        String::new()
    } else {
        format!("-{}", generated.kind)
    };
    metadata.insert(
        "name".into(),
        json!(format!("{workload_name}{suffix}").to_lowercase()),
    );
    let owner = (
        workload["apiVersion"].as_str().unwrap_or(""),
        workload["kind"].as_str().unwrap_or(""),
        workload_name,
    );
    if !owner.0.is_empty() && !owner.1.is_empty() && !owner.2.is_empty() {
        let refs = metadata
            .entry("ownerReferences")
            .or_insert_with(|| json!([]));
        if !refs.is_array() {
            *refs = json!([]);
        }
        let refs = refs.as_array_mut().expect("ownerReferences is a list");
        let present = refs
            .iter()
            .any(|r| r["apiVersion"] == owner.0 && r["kind"] == owner.1 && r["name"] == owner.2);
        if !present {
            refs.push(json!({"apiVersion": owner.0, "kind": owner.1, "name": owner.2, "uid": ""}));
        }
    }
    Ok(object)
}

/// A cycle in the directed graph on `0..n` with edges `edge(a, b)`, as the node list.
fn find_cycle(n: usize, edge: impl Fn(usize, usize) -> bool) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: usize,
        n: usize,
        edge: &dyn Fn(usize, usize) -> bool,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[node] = Mark::Open;
        path.push(node);
        for next in 0..n {
            if !edge(node, next) {
                continue;
            }
            match marks[next] {
                Mark::Open => {
                    let start = path
                        .iter()
                        .position(|&p| p == next)
                        .expect("open nodes are on the path");
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, n, edge, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[node] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; n];
    (0..n).find_map(|start| {
        if marks[start] != Mark::New {
            return None;
        }
        visit(start, n, &edge, &mut marks, &mut Vec::new())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(name: &str, from: (&str, &str, &str), to: (&str, &str, &str)) -> ExpansionTemplate {
        ExpansionTemplate::from_value(
            &json!({"apiVersion": "expansion.gatekeeper.sh/v1beta1", "kind": "ExpansionTemplate",
                    "metadata": {"name": name},
                    "spec": {"applyTo": [{"groups": [from.0], "versions": [from.1], "kinds": [from.2]}],
                             "templateSource": "spec.template",
                             "generatedGVK": {"group": to.0, "version": to.1, "kind": to.2}}}),
            Path::new("e.yaml"),
            None,
            1,
        )
        .unwrap()
    }

    #[test]
    fn a_cronjob_expands_to_its_job_and_the_job_to_its_pod() {
        let expander = Expander::new(vec![
            template(
                "cronjobs",
                ("batch", "v1", "CronJob"),
                ("batch", "v1", "Job"),
            ),
            template("jobs", ("batch", "v1", "Job"), ("", "v1", "Pod")),
        ])
        .unwrap();
        let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "Nightly"},
            "spec": {"template": {"spec": {"template": {"metadata": {"namespace": "ignored"}, "spec": {"containers": []}}}}}});
        let out = expander.expand(&cronjob).unwrap();
        let names: Vec<(&str, &str)> = out
            .iter()
            .map(|r| {
                (
                    r.template.as_str(),
                    r.object["metadata"]["name"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [("jobs", "nightly-job-pod"), ("cronjobs", "nightly-job")]
        );
        // A cluster-scoped parent gives no namespace, whatever the template says.
        assert!(out[0].object["metadata"].get("namespace").is_none());
        assert_eq!(out[0].object["apiVersion"], "v1");
        assert_eq!(
            out[0].object["metadata"]["ownerReferences"],
            json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "nightly-job", "uid": ""}])
        );
    }

    #[test]
    fn templates_feeding_each_other_are_a_cycle() {
        let err = Expander::new(vec![
            template("a", ("apps", "v1", "A"), ("apps", "v1", "B")),
            template("b", ("apps", "v1", "B"), ("apps", "v1", "A")),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("cycle: a -> b -> a"), "{err}");
    }

    #[test]
    fn a_missing_source_field_is_an_error_naming_it() {
        let expander = Expander::new(vec![template(
            "pods",
            ("apps", "v1", "Deployment"),
            ("", "v1", "Pod"),
        )])
        .unwrap();
        let err = expander
            .expand(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}))
            .unwrap_err();
        assert!(
            err.contains("\"spec.template\"") && err.contains("web"),
            "{err}"
        );
    }

    #[test]
    fn invalid_templates_are_rejected_as_gatekeeper_rejects_them() {
        let read = |spec: Value| {
            ExpansionTemplate::from_value(
                &json!({"apiVersion": "expansion.gatekeeper.sh/v1alpha1", "kind": "ExpansionTemplate",
                        "metadata": {"name": "t"}, "spec": spec}),
                Path::new("e.yaml"),
                None,
                1,
            )
            .unwrap_err()
            .message
        };
        let gvk = json!({"version": "v1", "kind": "Pod"});
        let apply = json!([{"groups": ["apps"], "versions": ["v1"], "kinds": ["Deployment"]}]);
        assert!(read(json!({"applyTo": apply, "generatedGVK": gvk})).contains("empty source field"));
        assert!(
            read(json!({"applyTo": apply, "templateSource": "spec.template"}))
                .contains("empty generatedGVK")
        );
        assert!(
            read(json!({"templateSource": "spec.template", "generatedGVK": gvk}))
                .contains("must specify ApplyTo")
        );
        let own = json!([{"groups": [""], "versions": ["v1"], "kinds": ["Pod"]}]);
        assert!(
            read(json!({"applyTo": own, "templateSource": "s", "generatedGVK": gvk}))
                .contains("also applies")
        );
        let typo = read(
            json!({"applyTo": apply, "templateSource": "s", "generatedGVK": gvk, "enforcementActon": "warn"}),
        );
        assert!(typo.contains("did you mean `enforcementAction`"), "{typo}");
    }
}
