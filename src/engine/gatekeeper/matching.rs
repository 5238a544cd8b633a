//! `spec.match` of a Constraint, with Gatekeeper's semantics
//! (gatekeeper `pkg/mutation/match/match.go`): every field that is set must
//! match, an unset field matches everything.

use serde_json::{Map, Value};

/// Why a `spec.match` block could not be read.
pub type MatchError = String;

/// A prefix/suffix glob as Gatekeeper's `util.Wildcard`: `kube-*`, `*-system`, `*mid*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard(pub String);

impl Wildcard {
    /// Whether `candidate` matches; only a leading and/or trailing `*` is special.
    pub fn matches(&self, candidate: &str) -> bool {
        let w = self.0.as_str();
        let leading = w.starts_with('*');
        let trailing = w.len() > 1 && w.ends_with('*') || (w == "*");
        match (leading, trailing) {
            (true, true) => candidate.contains(w.trim_start_matches('*').trim_end_matches('*')),
            (true, false) => candidate.ends_with(&w[1..]),
            (false, true) => candidate.starts_with(&w[..w.len() - 1]),
            (false, false) => w == candidate,
        }
    }
}

/// One `kinds` entry: empty lists and `*` match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindSelector {
    pub api_groups: Vec<String>,
    pub kinds: Vec<String>,
}

/// A Kubernetes label selector (`matchLabels` + `matchExpressions`), ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: Vec<(String, String)>,
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// The label selector operators Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Parse and validate as `metav1.LabelSelectorAsSelector` does: `In`/`NotIn`
    /// need values, `Exists`/`DoesNotExist` must have none.
    pub fn from_value(value: &Value, field: &str) -> Result<LabelSelector, MatchError> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("{field} must be an object"))?;
        let mut selector = LabelSelector::default();
        if let Some(labels) = obj.get("matchLabels").filter(|v| !v.is_null()) {
            let labels = labels
                .as_object()
                .ok_or_else(|| format!("{field}.matchLabels must be an object"))?;
            for (k, v) in labels {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("{field}.matchLabels.{k} must be a string"))?;
                selector.match_labels.push((k.clone(), v.to_string()));
            }
        }
        if let Some(exprs) = obj.get("matchExpressions").filter(|v| !v.is_null()) {
            let exprs = exprs
                .as_array()
                .ok_or_else(|| format!("{field}.matchExpressions must be a list"))?;
            for (i, expr) in exprs.iter().enumerate() {
                let at = format!("{field}.matchExpressions[{i}]");
                let key = expr["key"]
                    .as_str()
                    .ok_or_else(|| format!("{at}.key must be a string"))?;
                let operator = match expr["operator"].as_str() {
                    Some("In") => Operator::In,
                    Some("NotIn") => Operator::NotIn,
                    Some("Exists") => Operator::Exists,
                    Some("DoesNotExist") => Operator::DoesNotExist,
                    other => {
                        return Err(format!(
                            "{at}.operator: {other:?} is not In, NotIn, Exists or DoesNotExist"
                        ))
                    }
                };
                let values = string_list(&expr["values"], &format!("{at}.values"))?;
                match operator {
                    Operator::In | Operator::NotIn if values.is_empty() => {
                        return Err(format!(
                            "{at}: values must be non-empty for operator {operator:?}"
                        ))
                    }
                    Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                        return Err(format!(
                            "{at}: values must be empty for operator {operator:?}"
                        ))
                    }
                    _ => {}
                }
                selector.match_expressions.push(Requirement {
                    key: key.to_string(),
                    operator,
                    values,
                });
            }
        }
        Ok(selector)
    }

    /// Whether `labels` (an object's `metadata.labels`, possibly missing) satisfy the selector.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.match_labels
            .iter()
            .all(|(k, v)| get(k) == Some(v.as_str()))
            && self.match_expressions.iter().all(|r| match r.operator {
                Operator::In => get(&r.key).is_some_and(|v| r.values.iter().any(|x| x == v)),
                Operator::NotIn => get(&r.key).is_none_or(|v| r.values.iter().all(|x| x != v)),
                Operator::Exists => get(&r.key).is_some(),
                Operator::DoesNotExist => get(&r.key).is_none(),
            })
    }
}

/// Which objects a Constraint applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    pub kinds: Vec<KindSelector>,
    /// `*` (or unset), `Cluster` or `Namespaced`; anything else matches all, as Gatekeeper does.
    pub scope: Option<String>,
    pub namespaces: Vec<Wildcard>,
    pub excluded_namespaces: Vec<Wildcard>,
    pub label_selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
    pub name: Option<Wildcard>,
    /// `spec.match.source`: which objects the Constraint sees; unset is `All`.
    pub source: Source,
}

/// Where a reviewed object comes from: written by the user, or generated from a
/// workload by an `ExpansionTemplate` (Gatekeeper's `Original` / `Generated`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// `spec.match.source: All` (the default) selects both.
    #[default]
    All,
    Original,
    Generated,
}

impl Source {
    fn parse(value: Option<String>) -> Result<Source, MatchError> {
        match value.as_deref() {
            None | Some("") | Some("All") => Ok(Source::All),
            Some("Original") => Ok(Source::Original),
            Some("Generated") => Ok(Source::Generated),
            Some(other) => Err(format!(
                "invalid spec.match.source {other:?}: Gatekeeper accepts All, Original or Generated"
            )),
        }
    }
}

/// What matching knows about the object under review.
pub struct Candidate<'a> {
    pub object: &'a Value,
    pub group: &'a str,
    pub kind: &'a str,
    /// The object's Namespace, looked up in the inventory, when it has one.
    pub namespace: Option<&'a Value>,
    /// `Original` or `Generated` (never `All`).
    pub source: Source,
}

impl Match {
    /// Read `spec.match`; a missing block matches everything.
    pub fn from_value(value: Option<&Value>) -> Result<Match, MatchError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Match::default());
        };
        let obj = value.as_object().ok_or("spec.match must be an object")?;
        let mut m = Match::default();
        if let Some(kinds) = obj.get("kinds").filter(|v| !v.is_null()) {
            let kinds = kinds.as_array().ok_or("spec.match.kinds must be a list")?;
            for (i, k) in kinds.iter().enumerate() {
                m.kinds.push(KindSelector {
                    api_groups: string_list(
                        &k["apiGroups"],
                        &format!("spec.match.kinds[{i}].apiGroups"),
                    )?,
                    kinds: string_list(&k["kinds"], &format!("spec.match.kinds[{i}].kinds"))?,
                });
            }
        }
        m.scope = optional_string(obj.get("scope"), "spec.match.scope")?;
        m.namespaces = string_list(
            obj.get("namespaces").unwrap_or(&Value::Null),
            "spec.match.namespaces",
        )?
        .into_iter()
        .map(Wildcard)
        .collect();
        m.excluded_namespaces = string_list(
            obj.get("excludedNamespaces").unwrap_or(&Value::Null),
            "spec.match.excludedNamespaces",
        )?
        .into_iter()
        .map(Wildcard)
        .collect();
        if let Some(sel) = obj.get("labelSelector").filter(|v| !v.is_null()) {
            m.label_selector = Some(LabelSelector::from_value(sel, "spec.match.labelSelector")?);
        }
        if let Some(sel) = obj.get("namespaceSelector").filter(|v| !v.is_null()) {
            m.namespace_selector = Some(LabelSelector::from_value(
                sel,
                "spec.match.namespaceSelector",
            )?);
        }
        m.name = optional_string(obj.get("name"), "spec.match.name")?
            .filter(|n| !n.is_empty())
            .map(Wildcard);
        m.source = Source::parse(optional_string(obj.get("source"), "spec.match.source")?)?;
        Ok(m)
    }

    /// Gatekeeper's `Matches`: all set criteria must hold. An error (a
    /// namespaceSelector on a namespaced object whose Namespace is unknown) is
    /// Gatekeeper's error too, never a silent match or miss.
    pub fn matches(&self, c: &Candidate<'_>) -> Result<bool, MatchError> {
        if self.source != Source::All && self.source != c.source {
            return Ok(false);
        }
        let object_ns = c.object["metadata"]["namespace"].as_str().unwrap_or("");
        let is_namespace = c.kind == "Namespace" && c.group.is_empty();
        let ns_name = c.namespace.and_then(|n| n["metadata"]["name"].as_str());

        let kinds_ok = self.kinds.is_empty()
            || self.kinds.iter().any(|k| {
                (k.kinds.is_empty() || k.kinds.iter().any(|x| x == "*" || x == c.kind))
                    && (k.api_groups.is_empty()
                        || k.api_groups.iter().any(|g| g == "*" || g == c.group))
            });
        if !kinds_ok {
            return Ok(false);
        }

        let has_namespace = !object_ns.is_empty() || c.namespace.is_some();
        let scope_ok = match self.scope.as_deref() {
            Some("Cluster") => is_namespace || !has_namespace,
            Some("Namespaced") => !is_namespace && has_namespace,
            _ => true,
        };
        if !scope_ok {
            return Ok(false);
        }

        // The namespace that namespaces/excludedNamespaces test: a Namespace's
        // own name, else the looked-up Namespace, else the declared one (as gator).
        let effective_ns = if is_namespace {
            c.object["metadata"]["name"].as_str()
        } else if let Some(n) = ns_name {
            Some(n)
        } else if !object_ns.is_empty() {
            Some(object_ns)
        } else {
            None
        };
        if !self.namespaces.is_empty() {
            if let Some(ns) = effective_ns {
                if !self.namespaces.iter().any(|w| w.matches(ns)) {
                    return Ok(false);
                }
            }
        }
        if let Some(ns) = effective_ns {
            if self.excluded_namespaces.iter().any(|w| w.matches(ns)) {
                return Ok(false);
            }
        }

        if let Some(sel) = &self.label_selector {
            if !sel.matches(c.object["metadata"]["labels"].as_object()) {
                return Ok(false);
            }
        }

        if let Some(sel) = &self.namespace_selector {
            if is_namespace {
                if !sel.matches(c.object["metadata"]["labels"].as_object()) {
                    return Ok(false);
                }
            } else if let Some(ns) = c.namespace {
                if !sel.matches(ns["metadata"]["labels"].as_object()) {
                    return Ok(false);
                }
            } else if !object_ns.is_empty() {
                return Err(format!(
                    "namespaceSelector needs Namespace {object_ns:?}, which is not in the inventory"
                ));
            }
            // Cluster-scoped objects other than Namespaces match any namespaceSelector.
        }

        if let Some(name) = &self.name {
            if !name.matches(c.object["metadata"]["name"].as_str().unwrap_or("")) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn string_list(value: &Value, field: &str) -> Result<Vec<String>, MatchError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{field} must hold strings"))
            })
            .collect(),
        _ => Err(format!("{field} must be a list of strings")),
    }
}

fn optional_string(value: Option<&Value>, field: &str) -> Result<Option<String>, MatchError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::Wildcard;

    #[test]
    fn wildcard_globs_only_at_the_ends() {
        let w = |s: &str| Wildcard(s.to_string());
        assert!(w("kube-*").matches("kube-system"));
        assert!(!w("kube-*").matches("my-kube-system"));
        assert!(w("*-system").matches("gatekeeper-system"));
        assert!(!w("*-system").matches("system-x"));
        assert!(w("*ube*").matches("kube-system"));
        assert!(w("*").matches("anything"));
        assert!(w("default").matches("default"));
        assert!(!w("default").matches("default2"));
        assert!(!w("a*b").matches("axb"));
    }
}
