//! `verdict waivers export`: the same waivers as the admission controllers'
//! own exception objects, so admission and CI judge alike. Kyverno gets one
//! `PolicyException` per waiver, with `expiresAt`; Gatekeeper has no exception
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
        "metadata": {
            "name": format!("{}-waiver-{}", w.rule, index + 1),
            "namespace": namespace,
            "annotations": {
                "verdict.dev/owner": w.owner,
                "verdict.dev/ticket": w.ticket,
                "verdict.dev/expires": w.expires,
            },
        },
        "spec": {
            "description": format!("{} ({}, owner {})", w.reason, w.ticket, w.owner),
            "expiresAt": format!("{}T23:59:59Z", w.expires),
            "exceptions": [{"policyName": w.rule, "ruleNames": rules}],
            "match": {"any": [{"resources": resources}]},
        },
    }))
}
