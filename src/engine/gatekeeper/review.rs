//! Reviewing one object against one Constraint, as `gator verify` does:
//! `input.review` is the AdmissionRequest Gatekeeper builds from a bare object,
//! `input.parameters` the Constraint's parameters, `data.inventory` the
//! inventory objects laid out by namespace / group-version / kind / name.

use super::constraint::{Action, Constraint, WEBHOOK_ENFORCEMENT_POINT};
use super::matching::{Candidate, Source};
use super::template::{Template, TemplateEngine};
use serde_json::{json, Map, Value};

/// One `violation[{"msg": ..., "details": ...}]` result.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub message: String,
    /// `details`, `{}` when the template gives none.
    pub details: Value,
    /// The Constraint that produced it.
    pub constraint: String,
    /// The action at the admission webhook; `None` when a scoped action skips it.
    pub action: Option<Action>,
}

/// The result of reviewing one object.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewOutcome {
    /// The Constraint's `spec.match` does not select the object.
    NotMatched,
    /// Matched; an empty list means the object is allowed.
    Violations(Vec<Violation>),
}

/// The object could not be reviewed (bad object, matching or Rego error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReviewError {
    pub message: String,
}

fn review_error(message: impl Into<String>) -> ReviewError {
    ReviewError {
        message: message.into(),
    }
}

/// One Rego evaluation of a review, as verdict runs it: the template's modules
/// (as written), the data document, `input` and the rule queried.
#[derive(Debug, Clone, PartialEq)]
pub struct RegoEvaluation {
    /// (label, source) per module: the template's Rego, then its libs.
    pub modules: Vec<(String, String)>,
    pub data: Value,
    pub input: Value,
    /// `data.<package>.violation`.
    pub query: String,
}

/// `input` (`review` + `parameters`) and, with inventory objects, the data document.
fn rego_input(
    constraint: &Constraint,
    review: Value,
    inventory: &[Value],
) -> Result<(Value, Option<Value>), ReviewError> {
    // Built by moving the review in: `json!` would serialize (deep-copy) it.
    let mut fields = Map::new();
    fields.insert("review".to_string(), review);
    fields.insert("parameters".to_string(), constraint.parameters.clone());
    let input = Value::Object(fields);
    let data = if inventory.is_empty() {
        None
    } else {
        Some(inventory_data(inventory)?)
    };
    Ok((input, data))
}

/// Group, version and kind of an object, from `apiVersion` and `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl GroupVersionKind {
    /// Parse as `schema.ParseGroupVersion`: `v1` has the empty (core) group.
    pub fn of(object: &Value) -> Result<GroupVersionKind, ReviewError> {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let kind = object["kind"].as_str().unwrap_or("");
        let (group, version) = match api_version.split_once('/') {
            None => ("", api_version),
            Some((g, v)) if !v.contains('/') => (g, v),
            _ => {
                return Err(review_error(format!(
                    "apiVersion {api_version:?} is not group/version"
                )))
            }
        };
        let name = object["metadata"]["name"].as_str().unwrap_or("");
        if version.is_empty() {
            return Err(review_error(format!("resource {name:?} has no version")));
        }
        if kind.is_empty() {
            return Err(review_error(format!("resource {name:?} has no kind")));
        }
        Ok(GroupVersionKind {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        })
    }

    /// `apps/v1`, or `v1` for the core group: the key `data.inventory` uses.
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `input.review` for a bare object, as Gatekeeper's target builds it for gator
/// (an `admission/v1` AdmissionRequest serialised with its `omitempty` rules):
/// no operation, no user, no old object.
pub fn admission_review(object: &Value) -> Result<Value, ReviewError> {
    let gvk = GroupVersionKind::of(object)?;
    let mut review = Map::new();
    review.insert("uid".into(), json!(""));
    review.insert(
        "kind".into(),
        json!({"group": gvk.group, "version": gvk.version, "kind": gvk.kind}),
    );
    review.insert(
        "resource".into(),
        json!({"group": "", "version": "", "resource": ""}),
    );
    if let Some(name) = object["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
    {
        review.insert("name".into(), json!(name));
    }
    if let Some(ns) = object["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
    {
        review.insert("namespace".into(), json!(ns));
    }
    review.insert("operation".into(), json!(""));
    review.insert("userInfo".into(), json!({}));
    review.insert("object".into(), object.clone());
    Ok(Value::Object(review))
}

/// The data document with no inventory objects: Gatekeeper always creates `data.inventory`.
pub fn empty_inventory() -> Value {
    json!({"inventory": {}})
}

/// `{"inventory": {"cluster": {gv: {kind: {name: obj}}}, "namespace": {ns: {gv: {kind: {name: obj}}}}}}`.
pub fn inventory_data(inventory: &[Value]) -> Result<Value, ReviewError> {
    let mut cluster = Map::new();
    let mut namespaced = Map::new();
    for object in inventory {
        let gvk = GroupVersionKind::of(object)
            .map_err(|e| review_error(format!("inventory object: {e}")))?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let slot = match object["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
        {
            None => &mut cluster,
            Some(ns) => namespaced
                .entry(ns.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("object"),
        };
        let by_gv = slot.entry(gvk.group_version()).or_insert_with(|| json!({}));
        let by_kind = by_gv
            .as_object_mut()
            .expect("object")
            .entry(gvk.kind.clone())
            .or_insert_with(|| json!({}));
        by_kind
            .as_object_mut()
            .expect("object")
            .insert(name, object.clone());
    }
    // Moved in, not through `json!`, which would serialize (deep-copy) every object again.
    let mut inventory = Map::new();
    inventory.insert("cluster".to_string(), Value::Object(cluster));
    inventory.insert("namespace".to_string(), Value::Object(namespaced));
    let mut data = Map::new();
    data.insert("inventory".to_string(), Value::Object(inventory));
    Ok(Value::Object(data))
}

/// The Namespace object named `name` in the inventory.
pub fn find_namespace<'a>(inventory: &'a [Value], name: &str) -> Option<&'a Value> {
    inventory.iter().find(|o| {
        o["apiVersion"].as_str() == Some("v1")
            && o["kind"].as_str() == Some("Namespace")
            && o["metadata"]["name"].as_str() == Some(name)
    })
}

impl Template {
    /// Whether `constraint` selects `object`; an unknown Namespace under a
    /// namespaceSelector is an error, as in Gatekeeper.
    pub fn matches(
        &self,
        constraint: &Constraint,
        object: &Value,
        inventory: &[Value],
    ) -> Result<bool, ReviewError> {
        self.matches_from(constraint, object, inventory, Source::Original)
    }

    fn matches_from(
        &self,
        constraint: &Constraint,
        object: &Value,
        inventory: &[Value],
        source: Source,
    ) -> Result<bool, ReviewError> {
        self.check_kind(constraint)?;
        let gvk = GroupVersionKind::of(object)?;
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .and_then(|ns| find_namespace(inventory, ns));
        let candidate = Candidate {
            object,
            group: &gvk.group,
            kind: &gvk.kind,
            namespace,
            source,
        };
        constraint
            .matcher
            .matches(&candidate)
            .map_err(|e| review_error(format!("Constraint {}: {e}", constraint.name)))
    }

    /// Match, then evaluate the template's `violation` rule for `object`.
    ///
    /// ```
    /// use verdict::engine::gatekeeper::{Constraint, ReviewOutcome, Template};
    /// use serde_json::json;
    /// use std::path::Path;
    /// let template = Template::from_value(&json!({
    ///   "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
    ///   "metadata": {"name": "k8sdenyname"},
    ///   "spec": {"crd": {"spec": {"names": {"kind": "K8sDenyName"}}},
    ///            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego":
    ///              "package k8sdenyname\nviolation[{\"msg\": msg}] {\n  input.review.object.metadata.name == input.parameters.name\n  msg := \"name not allowed\"\n}"}]}}),
    ///   Path::new("t.yaml")).unwrap();
    /// let constraint = Constraint::from_value(&json!({
    ///   "apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sDenyName",
    ///   "metadata": {"name": "no-bad"}, "spec": {"parameters": {"name": "bad"}}}),
    ///   Path::new("c.yaml")).unwrap();
    /// let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": "default"}});
    /// let ReviewOutcome::Violations(v) = template.review(&constraint, &pod, &[]).unwrap() else { panic!() };
    /// assert_eq!(v[0].message, "name not allowed");
    /// ```
    pub fn review(
        &self,
        constraint: &Constraint,
        object: &Value,
        inventory: &[Value],
    ) -> Result<ReviewOutcome, ReviewError> {
        if !self.matches(constraint, object, inventory)? {
            return Ok(ReviewOutcome::NotMatched);
        }
        self.violations(constraint, admission_review(object)?, inventory)
    }

    /// [`Template::review`] for an object an `ExpansionTemplate` generated from a
    /// workload: it matches Constraints whose `spec.match.source` is `All` or `Generated`.
    pub fn review_generated(
        &self,
        constraint: &Constraint,
        object: &Value,
        inventory: &[Value],
    ) -> Result<ReviewOutcome, ReviewError> {
        if !self.matches_from(constraint, object, inventory, Source::Generated)? {
            return Ok(ReviewOutcome::NotMatched);
        }
        self.violations(constraint, admission_review(object)?, inventory)
    }

    /// Review an `AdmissionRequest` (the `request` of an AdmissionReview, as
    /// gator accepts): `input.review` is the request itself; the Constraint
    /// matches if it selects `object` or `oldObject`, and a DELETE carrying only
    /// `oldObject` is reviewed with it as `object`, as Gatekeeper's webhook does.
    pub fn review_request(
        &self,
        constraint: &Constraint,
        request: &Value,
        inventory: &[Value],
    ) -> Result<ReviewOutcome, ReviewError> {
        match self.matched_request(constraint, request, inventory)? {
            None => Ok(ReviewOutcome::NotMatched),
            Some(request) => self.violations(constraint, request, inventory),
        }
    }

    /// The request as `input.review` when the Constraint selects it (`object`,
    /// or `oldObject` standing in for a DELETE's missing `object`).
    fn matched_request(
        &self,
        constraint: &Constraint,
        request: &Value,
        inventory: &[Value],
    ) -> Result<Option<Value>, ReviewError> {
        self.check_kind(constraint)?;
        let mut request = request
            .as_object()
            .cloned()
            .ok_or_else(|| review_error("the AdmissionRequest is not an object"))?;
        let present = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
        if !present(request.get("object")) && !present(request.get("oldObject")) {
            return Err(review_error(
                "the AdmissionRequest has neither object nor oldObject to review",
            ));
        }
        if request.get("operation").and_then(Value::as_str) == Some("DELETE")
            && !present(request.get("object"))
        {
            let old = request["oldObject"].clone();
            request.insert("object".into(), old);
        }
        let namespace = request
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .and_then(|ns| find_namespace(inventory, ns));
        let mut matched = false;
        for object in [request.get("object"), request.get("oldObject")]
            .into_iter()
            .flatten()
        {
            if object.is_null() {
                continue;
            }
            let gvk = GroupVersionKind::of(object)?;
            let namespace = namespace.or_else(|| {
                object["metadata"]["namespace"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .and_then(|ns| find_namespace(inventory, ns))
            });
            let candidate = Candidate {
                object,
                group: &gvk.group,
                kind: &gvk.kind,
                namespace,
                source: Source::Original,
            };
            if constraint
                .matcher
                .matches(&candidate)
                .map_err(|e| review_error(format!("Constraint {}: {e}", constraint.name)))?
            {
                matched = true;
                break;
            }
        }
        Ok(matched.then_some(Value::Object(request)))
    }

    /// What [`Template::review`] hands to Rego for `object`, or `None` when the
    /// Constraint does not select it: for checking the same evaluation in
    /// another Rego engine (`cargo xtask opa-diff` runs it in OPA).
    pub fn rego_evaluation(
        &self,
        constraint: &Constraint,
        object: &Value,
        inventory: &[Value],
    ) -> Result<Option<RegoEvaluation>, ReviewError> {
        if !self.matches(constraint, object, inventory)? {
            return Ok(None);
        }
        self.evaluation(constraint, admission_review(object)?, inventory)
            .map(Some)
    }

    /// As [`Template::rego_evaluation`], for an AdmissionRequest ([`Template::review_request`]).
    pub fn rego_evaluation_for_request(
        &self,
        constraint: &Constraint,
        request: &Value,
        inventory: &[Value],
    ) -> Result<Option<RegoEvaluation>, ReviewError> {
        self.check_kind(constraint)?;
        match self.matched_request(constraint, request, inventory)? {
            None => Ok(None),
            Some(review) => self.evaluation(constraint, review, inventory).map(Some),
        }
    }

    fn evaluation(
        &self,
        constraint: &Constraint,
        review: Value,
        inventory: &[Value],
    ) -> Result<RegoEvaluation, ReviewError> {
        let program = self.rego_program()?;
        let (input, data) = rego_input(constraint, review, inventory)?;
        Ok(RegoEvaluation {
            modules: program.modules().to_vec(),
            data: data.unwrap_or_else(empty_inventory),
            input,
            query: self.entrypoint.clone(),
        })
    }

    /// The Rego program the review runs, an error when the template reviews with CEL.
    fn rego_program(&self) -> Result<&super::rego_program::RegoProgram, ReviewError> {
        match (&self.program, self.engine) {
            (Some(program), TemplateEngine::Rego) => Ok(program),
            _ => Err(review_error(format!(
                "{}: template {} reviews with {}, not Rego",
                self.path.display(),
                self.name,
                self.engine
            ))),
        }
    }

    /// The violations for an already built `input.review`, from the engine
    /// the template reviews with.
    fn violations(
        &self,
        constraint: &Constraint,
        review: Value,
        inventory: &[Value],
    ) -> Result<ReviewOutcome, ReviewError> {
        let action = constraint
            .enforcement_action
            .action_at(WEBHOOK_ENFORCEMENT_POINT);
        let violation = |message: String, details: Value| Violation {
            message,
            details,
            constraint: constraint.name.clone(),
            action,
        };
        if self.engine == TemplateEngine::Cel {
            let program = self.cel.as_ref().ok_or_else(|| {
                review_error(format!("{}: template {} has no K8sNativeValidation code", self.path.display(), self.name))
            })?;
            let namespace = review["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .and_then(|ns| find_namespace(inventory, ns));
            let mut violations: Vec<Violation> = program
                .violations(&review, &constraint.object, namespace)
                .into_iter()
                .map(|m| violation(m, json!({})))
                .collect();
            violations.sort_by(|a, b| a.message.cmp(&b.message));
            return Ok(ReviewOutcome::Violations(violations));
        }
        let program = self.rego_program()?;
        let (input, data) = rego_input(constraint, review, inventory)?;
        let result = program
            .eval_rule(&self.entrypoint, &input, data.as_ref())
            .map_err(|e| {
                review_error(format!(
                    "{}: Rego evaluation failed: {e}",
                    self.path.display()
                ))
            })?;
        let items = match result {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            other => {
                return Err(review_error(format!(
                    "{}: violation is not a set: {other}",
                    self.path.display()
                )))
            }
        };
        let mut violations = Vec::with_capacity(items.len());
        for item in items {
            let message = item["msg"].as_str().ok_or_else(|| {
                review_error(format!(
                    "{}: a violation has no string \"msg\": {item}",
                    self.path.display()
                ))
            })?;
            let details = match &item["details"] {
                Value::Null => json!({}),
                d => d.clone(),
            };
            violations.push(violation(message.to_string(), details));
        }
        violations.sort_by(|a, b| a.message.cmp(&b.message));
        Ok(ReviewOutcome::Violations(violations))
    }

    fn check_kind(&self, constraint: &Constraint) -> Result<(), ReviewError> {
        if constraint.kind != self.kind {
            return Err(review_error(format!(
                "Constraint {} is of kind {}, but template {} defines kind {}",
                constraint.name, constraint.kind, self.name, self.kind
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use std::path::Path;
    use std::time::{Duration, Instant};

    #[test]
    fn a_runaway_template_is_stopped_by_the_time_limit() {
        let template = serde_json::json!({
            "apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
            "metadata": {"name": "k8sslow"},
            "spec": {"crd": {"spec": {"names": {"kind": "K8sSlow"}}},
                     "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego":
                        "package k8sslow\nviolation[{\"msg\": \"slow\"}] {\n  n := input.review.object.spec.n\n  count([x | x := numbers.range(1, n)[_]; y := numbers.range(1, n)[_]; x < y]) < 0\n}"}]}});
        let limits = Limits {
            eval_timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let template =
            Template::from_value_with_limits(&template, Path::new("slow.yaml"), &limits).unwrap();
        let constraint = Constraint::from_value(
            &serde_json::json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sSlow", "metadata": {"name": "slow"}}),
            Path::new("slow.yaml"),
        )
        .unwrap();
        let object = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"}, "spec": {"n": 100000}});
        let started = Instant::now();
        let err = template.review(&constraint, &object, &[]).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(err.message.contains("slow.yaml"), "{}", err.message);
        assert!(err.message.contains("time limit"), "{}", err.message);
    }
}
