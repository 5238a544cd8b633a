//! `verdict waivers export`: the same waivers as the admission controllers'
//! own exception objects, so admission and CI judge alike. Kyverno gets one
//! `PolicyException` per waiver: `kyverno.io/v2` for a ClusterPolicy's rules,
//! `policies.kyverno.io/v1beta1` (CEL `matchConditions`) for a
//! ValidatingPolicy; neither CRD has an expiry or a description field, so the
//! owner, ticket, reason and expiry ride in `verdict.dev/*` annotations and
//! `verdict waivers check` is what expires them. Gatekeeper has no exception
//! object, so each Constraint gets the namespaces to exclude, with the waivers'
//! expiry in annotations. What a target cannot express is listed, never dropped.

use super::waivers::{Target, Waiver};
use crate::library::{Language, Library};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The export's documents, and the waivers it could not express (with why).
#[derive(Debug, Default)]
pub struct Export {
    pub documents: Vec<Value>,
    pub not_exported: Vec<String>,
}

/// Which admission controller to export for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Kyverno,
    Gatekeeper,
}

/// Export the library's waivers of rules written for `format`'s controller;
/// `namespace` is where Kyverno PolicyExceptions live.
pub fn export(library: &Library, format: ExportFormat, namespace: &str) -> Export {
    let mut out = Export::default();
    let wanted = match format {
        ExportFormat::Kyverno => Language::Kyverno,
        ExportFormat::Gatekeeper => Language::Gatekeeper,
    };
    let mut excluded: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (index, w) in library.waivers.iter().enumerate() {
        let Some(rule) = library.rule(&w.rule) else {
            out.not_exported.push(format!("{}: no such rule", w.label()));
            continue;
        };
        if rule.language != wanted {
            continue;
        }
        let document = std::fs::read_to_string(library.root.join(&rule.path))
            .ok()
            .and_then(|text| crate::input::load_str(&rule.path, &text, &Default::default()).ok())
            .map(|docs| docs.into_iter().map(|d| d.value).collect::<Vec<_>>())
            .unwrap_or_default();
        match format {
            ExportFormat::Kyverno => match kyverno_exception(w, index, namespace, document.first()) {
                Ok(doc) => out.documents.push(doc),
                Err(why) => out.not_exported.push(format!("{}: {why}", w.label())),
            },
            ExportFormat::Gatekeeper => match &w.target {
                Target::Namespace(ns) => {
                    let kind = document.get(1).and_then(|c| c["kind"].as_str()).unwrap_or_default().to_string();
                    let entry = excluded.entry(format!("{kind}/{}", w.rule)).or_default();
                    entry.0.push(ns.clone());
                    entry.1.push(format!("{} until {} (owner {}, {})", ns, w.expires, w.owner, w.ticket));
                }
                other => out.not_exported.push(format!(
                    "{}: a Gatekeeper Constraint can exclude namespaces only, not a {} target",
                    w.label(),
                    match other {
                        Target::Resource(_) => "resource",
                        Target::Image(_) => "image",
                        Target::Address(_) => "Terraform address",
                        Target::Namespace(_) => unreachable!(),
                    }
                )),
            },
        }
    }
    for (key, (namespaces, notes)) in excluded {
        let (kind, name) = key.split_once('/').unwrap_or_default();
        out.documents.push(json!({
            "apiVersion": "constraints.gatekeeper.sh/v1beta1",
            "kind": kind,
            "metadata": {"name": name, "annotations": {"verdict.dev/waivers": notes.join("; ")}},
            "spec": {"match": {"excludedNamespaces": namespaces}},
        }));
    }
    out
}

fn kyverno_exception(w: &Waiver, index: usize, namespace: &str, policy: Option<&Value>) -> Result<Value, String> {
    let metadata = json!({
        "name": format!("{}-waiver-{}", w.rule, index + 1),
        "namespace": namespace,
        "annotations": {
            "verdict.dev/owner": w.owner,
            "verdict.dev/ticket": w.ticket,
            "verdict.dev/reason": w.reason,
            "verdict.dev/expires": w.expires,
        },
    });
    if let Some(kind @ ("ValidatingPolicy" | "NamespacedValidatingPolicy")) = policy.and_then(|p| p["kind"].as_str()) {
        return cel_exception(w, metadata, kind);
    }
    let rules: Vec<String> = policy
        .and_then(|p| p["spec"]["rules"].as_array())
        .map(|rules| rules.iter().filter_map(|r| r["name"].as_str()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        // The rules Kyverno generates for pod controllers carry these names.
        .flat_map(|r| [r.to_string(), format!("autogen-{r}"), format!("autogen-cronjob-{r}")])
        .collect();
    if rules.is_empty() {
        return Err("the policy has no rules to except".into());
    }
    let resources = match &w.target {
        Target::Namespace(ns) => json!({"namespaces": [ns]}),
        Target::Resource(r) => {
            let parts: Vec<&str> = r.split('/').collect();
            match parts.as_slice() {
                [kind, ns, name] => json!({"kinds": [kind], "namespaces": [ns], "names": [name]}),
                [kind, name] => json!({"kinds": [kind], "names": [name]}),
                _ => return Err(format!("resource {r:?} is not Kind/namespace/name")),
            }
        }
        Target::Image(_) => return Err("a PolicyException matches resources, not images".into()),
        Target::Address(_) => return Err("a Terraform address is not a Kubernetes resource".into()),
    };
    Ok(json!({
        "apiVersion": "kyverno.io/v2",
        "kind": "PolicyException",
        "metadata": metadata,
        "spec": {
            "exceptions": [{"policyName": w.rule, "ruleNames": rules}],
            "match": {"any": [{"resources": resources}]},
        },
    }))
}

/// A CEL PolicyException lifting a ValidatingPolicy (or a
/// NamespacedValidatingPolicy: Kyverno attaches by name and `kind`) where the
/// request's namespace (or kind, namespace and name) match the waiver's glob.
fn cel_exception(w: &Waiver, metadata: Value, kind: &str) -> Result<Value, String> {
    let matches = |field: &str, glob: &str| format!("{field}.matches('{}')", glob_regex(glob));
    let expression = match &w.target {
        Target::Namespace(ns) => matches("request.namespace", ns),
        Target::Resource(r) => match r.split('/').collect::<Vec<_>>().as_slice() {
            [kind, ns, name] => [matches("request.kind.kind", kind), matches("request.namespace", ns), matches("request.name", name)].join(" && "),
            [kind, name] => [matches("request.kind.kind", kind), matches("request.name", name)].join(" && "),
            _ => return Err(format!("resource {r:?} is not Kind/namespace/name")),
        },
        Target::Image(_) => return Err("a PolicyException lifts a policy for resources; image exceptions (`images`) are not exported".into()),
        Target::Address(_) => return Err("a Terraform address is not a Kubernetes resource".into()),
    };
    Ok(json!({
        "apiVersion": "policies.kyverno.io/v1beta1",
        "kind": "PolicyException",
        "metadata": metadata,
        "spec": {
            "policyRefs": [{"name": w.rule, "kind": kind}],
            "matchConditions": [{"name": "verdict-waiver", "expression": expression}],
        },
    }))
}

/// A waiver glob (`*`, `?`, `[...]`, `{a,b}`; `*` crosses `/`, as the
/// waivers' own matching does) as an anchored RE2 pattern inside a CEL
/// single-quoted string.
fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut in_class = false;
    for c in glob.chars() {
        match c {
            _ if in_class => {
                out.push(c);
                in_class = c != ']';
            }
            '[' => {
                out.push('[');
                in_class = true;
            }
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '{' => out.push_str("(?:"),
            '}' => out.push(')'),
            ',' => out.push('|'),
            '.' | '+' | '(' | ')' | '|' | '^' | '$' | '\\' => {
                out.push_str("\\\\");
                out.push(c);
            }
            '\'' => out.push_str("\\'"),
            _ => out.push(c),
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cel_exceptions_name_the_policy_kind() {
        let waiver = Waiver {
            rule: "team-replicas".into(),
            target: Target::Namespace("team-a".into()),
            owner: "o".into(),
            reason: "r".into(),
            ticket: "t".into(),
            expires: "2099-01-01".into(),
        };
        let policy = json!({"kind": "NamespacedValidatingPolicy", "metadata": {"name": "team-replicas", "namespace": "team-a"}});
        let exception = kyverno_exception(&waiver, 0, "kyverno", Some(&policy)).unwrap();
        assert_eq!(exception["spec"]["policyRefs"], json!([{"name": "team-replicas", "kind": "NamespacedValidatingPolicy"}]));
    }

    #[test]
    fn globs_become_anchored_patterns_that_match_alike() {
        for (glob, yes, no) in [
            ("legacy", "legacy", "legacy-2"),
            ("team-*", "team-a/b", "x-team-a"),
            ("app.v?", "app.v2", "appxv2"),
            ("{prod,stage}-[ab]", "stage-b", "dev-a"),
        ] {
            let pattern = glob_regex(glob).replace("\\\\", "\\");
            let re = regex::Regex::new(&pattern).unwrap();
            assert!(re.is_match(yes) && !re.is_match(no), "{glob} -> {pattern}");
            let globbed = globset::Glob::new(glob).unwrap().compile_matcher();
            assert_eq!((globbed.is_match(yes), globbed.is_match(no)), (true, false), "{glob}");
        }
    }
}
