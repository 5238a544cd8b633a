//! The validate handler for `pattern`, `anyPattern`, `deny` and `foreach`, as
//! Kyverno's `validate_resource.go`. The main type here is [`Validator`]: one
//! level of a rule (the rule itself, or one `foreach` element), evaluated
//! against a JSON context.

use crate::engine::kyverno::engine::{RuleResponse, RuleStatus};
use crate::engine::kyverno::policy::{ContextEntry, ForEach};
use crate::engine::kyverno::rule::{load_context_entries, substitute_message, RuleScope};
use crate::engine::kyverno::validate::{match_pattern, PatternErrorKind};
use crate::engine::kyverno::{conditions, variables};
use serde_json::{json, Map, Value};

/// What one level of a validate rule checks.
#[derive(Debug, Clone, Copy)]
pub struct Validator<'a> {
    pub scope: &'a RuleScope<'a>,
    pub context: &'a [ContextEntry],
    pub preconditions: Option<&'a Value>,
    pub pattern: Option<&'a Value>,
    pub any_pattern: Option<&'a Value>,
    pub deny: Option<&'a Value>,
    pub foreach: Option<&'a [ForEach]>,
    /// 0 for the rule itself, n for elements of the n-th nested foreach.
    pub nesting: usize,
}

impl<'a> Validator<'a> {
    /// The validator for the rule's own `validate` block (context and
    /// preconditions of the rule have already been handled by the caller).
    pub fn for_rule(scope: &'a RuleScope<'a>) -> Validator<'a> {
        let v = scope.validation;
        Validator {
            scope,
            context: &[],
            preconditions: None,
            pattern: v.pattern.as_ref(),
            any_pattern: v.any_pattern.as_ref(),
            deny: v.deny.as_ref(),
            foreach: v.foreach.as_deref(),
            nesting: 0,
        }
    }

    fn for_each(scope: &'a RuleScope<'a>, fe: &'a ForEach, nesting: usize) -> Validator<'a> {
        Validator {
            scope,
            context: &fe.context,
            preconditions: fe.preconditions.as_ref(),
            pattern: fe.pattern.as_ref(),
            any_pattern: fe.any_pattern.as_ref(),
            deny: fe.deny.as_ref(),
            foreach: fe.foreach.as_deref(),
            nesting,
        }
    }

    /// Evaluate this level. `None` means Kyverno reports nothing (e.g. a foreach
    /// whose lists yielded no element).
    pub fn validate(&self, ctx: &mut Value, element: Option<&Value>) -> Option<RuleResponse> {
        let name = &self.scope.name;
        let deferred = match load_context_entries(self.context, ctx, self.scope.values) {
            Ok(deferred) => deferred,
            Err(e) => {
                let message = format!("failed to load context: {e}");
                return Some(RuleResponse::new(name, RuleStatus::Error, message));
            }
        };
        let load_error = |e: String| {
            Some(RuleResponse::new(
                name,
                RuleStatus::Error,
                format!("failed to load context: {e}"),
            ))
        };
        if let Some(e) = self.preconditions.and_then(|p| deferred.used_in(p)) {
            return load_error(e);
        }
        if let Some(pre) = self.preconditions {
            match conditions::evaluate_conditions(pre, ctx) {
                Err(e) => {
                    return Some(RuleResponse::new(
                        name,
                        RuleStatus::Error,
                        format!("failed to evaluate preconditions: {e}"),
                    ));
                }
                Ok(false) => {
                    return Some(RuleResponse::new(
                        name,
                        RuleStatus::Skip,
                        "preconditions not met",
                    ))
                }
                Ok(true) => {}
            }
        }
        let body = [self.deny, self.pattern, self.any_pattern]
            .into_iter()
            .flatten();
        let message = self.scope.validation.message.clone().map(Value::String);
        if let Some(e) = body
            .chain(message.as_ref())
            .find_map(|doc| deferred.used_in(doc))
        {
            return load_error(e);
        }
        let lists: Vec<String> = self
            .foreach
            .iter()
            .flat_map(|l| l.iter())
            .flat_map(ForEach::lists)
            .collect();
        if let Some(e) = deferred.used_in_expressions(lists.iter().map(String::as_str)) {
            return load_error(e);
        }
        if let Some(deny) = self.deny {
            Some(self.validate_deny(deny, ctx))
        } else if self.pattern.is_some() || self.any_pattern.is_some() {
            let target = match element {
                Some(e) => e.clone(),
                None => {
                    if self.scope.operation == "DELETE" {
                        return None;
                    }
                    ctx.pointer("/request/object")
                        .cloned()
                        .unwrap_or(Value::Null)
                }
            };
            Some(self.validate_patterns(ctx, &target))
        } else if let Some(list) = self.foreach {
            self.validate_foreach(list, ctx, element)
        } else {
            None
        }
    }

    fn validate_deny(&self, conditions: &Value, ctx: &Value) -> RuleResponse {
        let name = &self.scope.name;
        match conditions::evaluate_conditions(conditions, ctx) {
            Err(e) => RuleResponse::new(
                name,
                RuleStatus::Error,
                format!("failed to check deny conditions: {e}"),
            ),
            Ok(false) => RuleResponse::new(
                name,
                RuleStatus::Pass,
                format!("validation rule '{name}' passed."),
            ),
            Ok(true) => {
                let message = match self
                    .scope
                    .validation
                    .message
                    .as_deref()
                    .filter(|m| !m.is_empty())
                {
                    None => format!("validation error: rule {name} failed"),
                    Some(m) => substitute_message(m, ctx).unwrap_or_default(),
                };
                RuleResponse::new(name, RuleStatus::Fail, message)
            }
        }
    }

    fn validate_patterns(&self, ctx: &Value, target: &Value) -> RuleResponse {
        let name = &self.scope.name;
        if let Some(pattern) = self.pattern {
            let pattern = match variables::substitute_all_with_resource(pattern, ctx, Some(target))
            {
                Ok(p) => p,
                Err(e) => {
                    return RuleResponse::new(
                        name,
                        RuleStatus::Error,
                        format!("variable substitution failed: {e}"),
                    )
                }
            };
            return match match_pattern(target, &pattern) {
                Ok(()) => RuleResponse::new(
                    name,
                    RuleStatus::Pass,
                    format!("validation rule '{name}' passed."),
                ),
                Err(pe) if pe.kind == PatternErrorKind::Skip => {
                    RuleResponse::new(name, RuleStatus::Skip, pe.message)
                }
                Err(pe) if pe.path.is_empty() => RuleResponse::new(
                    name,
                    RuleStatus::Error,
                    self.error_message(ctx, &pe.message, ""),
                ),
                Err(pe) => RuleResponse::new(
                    name,
                    RuleStatus::Fail,
                    self.error_message(ctx, &pe.message, &pe.path),
                ),
            };
        }
        let Some(any_pattern) = self.any_pattern else {
            return RuleResponse::new(
                name,
                RuleStatus::Pass,
                self.scope.validation.message.clone().unwrap_or_default(),
            );
        };
        let patterns = match variables::substitute_all_with_resource(any_pattern, ctx, Some(target))
        {
            Ok(Value::Array(p)) => p,
            Ok(_) => {
                return RuleResponse::new(
                    name,
                    RuleStatus::Error,
                    "failed to deserialize anyPattern, expected type array",
                )
            }
            Err(e) => {
                return RuleResponse::new(
                    name,
                    RuleStatus::Error,
                    format!("variable substitution failed: {e}"),
                )
            }
        };
        let mut failed = Vec::new();
        let mut skipped = Vec::new();
        for (idx, pattern) in patterns.iter().enumerate() {
            match match_pattern(target, pattern) {
                Ok(()) => {
                    return RuleResponse::new(
                        name,
                        RuleStatus::Pass,
                        format!("validation rule '{name}' anyPattern[{idx}] passed."),
                    );
                }
                Err(pe) if pe.kind == PatternErrorKind::Skip => {
                    skipped.push(format!("rule {name}[{idx}] skipped: {}", pe.message))
                }
                Err(pe) if pe.path.is_empty() => {
                    failed.push(format!("rule {name}[{idx}] failed: {}", pe.message))
                }
                Err(pe) => failed.push(format!("rule {name}[{idx}] failed at path {}", pe.path)),
            }
        }
        if !failed.is_empty() {
            RuleResponse::new(
                name,
                RuleStatus::Fail,
                self.any_pattern_message(ctx, &failed.join(" ")),
            )
        } else if !skipped.is_empty() {
            RuleResponse::new(name, RuleStatus::Skip, skipped.join(" "))
        } else {
            RuleResponse::new(
                name,
                RuleStatus::Pass,
                self.scope.validation.message.clone().unwrap_or_default(),
            )
        }
    }

    /// The rule's own `validate.message`, when it has a non-empty one.
    fn rule_message(&self) -> Option<&str> {
        self.scope.validation.message.as_deref().filter(|m| !m.is_empty())
    }

    /// Kyverno's `buildErrorMessage`.
    fn error_message(&self, ctx: &Value, err: &str, path: &str) -> String {
        let name = &self.scope.name;
        let Some(message) = self.rule_message() else {
            return if path.is_empty() {
                format!("validation error: rule {name} execution error: {err}")
            } else {
                format!("validation error: rule {name} failed at path {path}")
            };
        };
        match substitute_message(message, ctx) {
            Err(_) => format!("validation error: variables substitution error in rule {name} execution error: {err}"),
            Ok(mut msg) => {
                if !msg.ends_with('.') {
                    msg.push('.');
                }
                if path.is_empty() {
                    format!("validation error: {msg} rule {name} execution error: {err}")
                } else {
                    format!("validation error: {msg} rule {name} failed at path {path}")
                }
            }
        }
    }

    /// Kyverno's `buildAnyPatternErrorMessage`.
    fn any_pattern_message(&self, ctx: &Value, errors: &str) -> String {
        let name = &self.scope.name;
        let Some(message) = self.rule_message() else {
            return format!("validation error: {errors}");
        };
        match substitute_message(message, ctx) {
            Err(_) => format!("validation error: variables substitution error in rule {name} execution error: {errors}"),
            Ok(msg) if msg.ends_with('.') => format!("validation error: {msg} {errors}"),
            Ok(msg) => format!("validation error: {msg}. {errors}"),
        }
    }

    fn validate_foreach(
        &self,
        list: &[ForEach],
        ctx: &Value,
        element: Option<&Value>,
    ) -> Option<RuleResponse> {
        let name = &self.scope.name;
        let mut applied = 0;
        let mut list_error: Option<String> = None;
        for fe in list {
            let elements = match variables::query(&fe.list, ctx) {
                Ok(Value::Array(items)) => items,
                Ok(other) => vec![other],
                Err(e) => {
                    let e = e.to_string();
                    if !e.contains("Unknown key") {
                        list_error = Some(e);
                    }
                    continue;
                }
            };
            let (resp, count) = self.validate_elements(fe, &elements, ctx, element);
            if resp.status != RuleStatus::Pass {
                return Some(resp);
            }
            applied += count;
        }
        if applied == 0 {
            return list_error.map(|e| {
                RuleResponse::new(
                    name,
                    RuleStatus::Error,
                    format!("failed to evaluate list: {e}"),
                )
            });
        }
        Some(RuleResponse::new(name, RuleStatus::Pass, "rule passed"))
    }

    /// `outer` is the element a scoped outer foreach already selected; Kyverno keeps it for inner levels.
    fn validate_elements(
        &self,
        fe: &ForEach,
        elements: &[Value],
        ctx: &Value,
        outer: Option<&Value>,
    ) -> (RuleResponse, usize) {
        let name = &self.scope.name;
        let mut applied = 0;
        for (index, element) in elements.iter().enumerate() {
            if element.is_null() {
                continue;
            }
            let mut element_ctx = ctx.clone();
            add_element(&mut element_ctx, element, index, self.nesting);
            let scoped = match fe.element_scope {
                Some(true) if !element.is_object() => {
                    let msg = "failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps";
                    return (RuleResponse::new(name, RuleStatus::Error, msg), applied);
                }
                Some(scoped) => scoped,
                None => element.is_object(),
            };
            let child = Validator::for_each(self.scope, fe, self.nesting + 1);
            let Some(resp) = child.validate(&mut element_ctx, scoped.then_some(element).or(outer))
            else {
                continue;
            };
            match resp.status {
                RuleStatus::Skip => continue,
                RuleStatus::Pass => applied += 1,
                RuleStatus::Error if resp.message.contains("failed to evaluate preconditions") => {
                    continue
                }
                status => {
                    let message = format!("validation failure: {}", resp.message);
                    return (RuleResponse::new(name, status, message), applied);
                }
            }
        }
        (RuleResponse::new(name, RuleStatus::Pass, ""), applied)
    }
}

/// `element`, `elementIndex` and their nesting-numbered twins, at the top of the context.
fn add_element(ctx: &mut Value, element: &Value, index: usize, nesting: usize) {
    if !ctx.is_object() {
        *ctx = Value::Object(Map::new());
    }
    let obj = ctx.as_object_mut().expect("context is an object");
    obj.insert("element".into(), element.clone());
    obj.insert(format!("element{nesting}"), element.clone());
    obj.insert("elementIndex".into(), json!(index));
    obj.insert(format!("elementIndex{nesting}"), json!(index));
}
