//! Kyverno's CEL libraries that an offline run can serve (kyverno/sdk
//! `cel/libs`): `resource.Get`/`resource.List` and `image.GetMetadata` from a
//! mocked context (a kyverno-test's `context` file), `parseServiceAccount`,
//! `time.now`, `json.unmarshal`/`json.marshal`, `yaml.parse`, `math.round`
//! and `sha256` (also `hash.sha256`). `http.*` and `globalContext.Get` compile but every call is
//! an error naming the function: verdict makes no network or cluster calls,
//! and a policy that needs one must never pass by accident.
//!
//! cel-rust functions are plain `fn` pointers with no access to the
//! evaluation, so the mocked context reaches them through a thread-local set
//! around one policy evaluation ([`with_context`]).

use crate::engine::cel::match_constraints::{resource_for_kind, PluralGuess};
use crate::engine::cel::library::{call, global};
use crate::engine::cel::{to_cel, Numbers};
use cel::common::types::DYN_TYPE;
use cel::objects::{Key, Map, Value};
use cel::{DeclarationError, Env};
use serde_json::Value as Json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// What a kyverno-test's `context` file mocks: cluster objects and image metadata.
#[derive(Debug, Clone, Default)]
pub struct MockContext {
    /// Full objects `resource.Get`/`resource.List` return.
    pub resources: Vec<Json>,
    /// `spec.images[]` entries, looked up by their exact `image` string.
    pub images: Vec<Json>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Arc<MockContext>>> = const { RefCell::new(None) };
}

/// Runs `f` with `context` visible to the library functions of this thread.
pub fn with_context<T>(context: Option<Arc<MockContext>>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<MockContext>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CONTEXT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CONTEXT.with(|c| c.replace(context));
    let _restore = Restore(previous);
    f()
}

fn current() -> Option<Arc<MockContext>> {
    CONTEXT.with(|c| c.borrow().clone())
}

fn string_arg(args: &[Value], n: usize) -> Result<String, String> {
    match args.get(n) {
        Some(Value::String(s)) => Ok(s.to_string()),
        other => Err(format!("argument {n} must be a string, got {other:?}")),
    }
}

/// Context objects of `apiVersion` + `resource` (plural) in `namespace` (any when empty).
fn objects(args: &[Value], what: &str) -> Result<Vec<Json>, String> {
    let api_version = string_arg(args, 0)?;
    let resource = string_arg(args, 1)?;
    let namespace = string_arg(args, 2)?;
    let Some(context) = current() else {
        return Err(format!(
            "failed to {what} resource: no context file mocks cluster resources (verdict makes no cluster calls)"
        ));
    };
    Ok(context
        .resources
        .iter()
        .filter(|r| {
            r["apiVersion"].as_str() == Some(api_version.as_str())
                && resource_for_kind(r["kind"].as_str().unwrap_or(""), PluralGuess::English) == resource
                && (namespace.is_empty()
                    || r["metadata"]["namespace"].as_str().unwrap_or("") == namespace)
        })
        .cloned()
        .collect())
}

/// `resource.List(apiVersion, resource, namespace[, labels])`: `{items: [...]}`.
/// Like Kyverno's fake provider, the label selector is not applied.
fn resource_list(args: &[Value]) -> Result<Value, String> {
    let items = objects(args, "list")?;
    Ok(to_cel(
        &serde_json::json!({ "items": items }),
        Numbers::Cluster,
    ))
}

/// `resource.Get(apiVersion, resource, namespace, name)`: the object, or an error when absent.
fn resource_get(args: &[Value]) -> Result<Value, String> {
    let name = string_arg(args, 3)?;
    objects(args, "get")?
        .into_iter()
        .find(|r| r["metadata"]["name"].as_str() == Some(name.as_str()))
        .map(|r| to_cel(&r, Numbers::Cluster))
        .ok_or_else(|| {
            format!(
                "failed to get resource: {} {} {}/{name} not found",
                string_arg(args, 0).unwrap_or_default(),
                string_arg(args, 1).unwrap_or_default(),
                string_arg(args, 2).unwrap_or_default()
            )
        })
}

/// `image.GetMetadata(ref)`: the context file's entry for exactly that image string.
fn image_metadata(args: &[Value]) -> Result<Value, String> {
    let image = string_arg(args, 0)?;
    let context = current().ok_or_else(|| {
        format!("failed to get image metadata for {image}: no context file mocks images (verdict makes no registry calls)")
    })?;
    context
        .images
        .iter()
        .find(|i| i["image"].as_str() == Some(image.as_str()))
        .map(|i| to_cel(i, Numbers::Cluster))
        .ok_or_else(|| format!("failed to get image metadata for {image}: not in the context file"))
}

/// `parseServiceAccount(username)`: `{Name, Namespace}` (Kyverno's Go field
/// names), empty unless `system:serviceaccount:<namespace>:<name>`.
fn parse_service_account(args: &[Value]) -> Result<Value, String> {
    let username = string_arg(args, 0)?;
    let (namespace, name) = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'))
        .unwrap_or(("", ""));
    let mut map = HashMap::new();
    map.insert(
        Key::String(Arc::new("Name".into())),
        Value::String(Arc::new(name.into())),
    );
    map.insert(
        Key::String(Arc::new("Namespace".into())),
        Value::String(Arc::new(namespace.into())),
    );
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

/// What `json.unmarshal` and `yaml.parse` accept, so a policy cannot make one
/// evaluation parse an unbounded document.
const MAX_PARSED_BYTES: usize = 1 << 20;

fn parse_input(args: &[Value], what: &str) -> Result<String, String> {
    let text = string_arg(args, 0)?;
    if text.len() > MAX_PARSED_BYTES {
        return Err(format!(
            "{what}: input of {} bytes is over the limit of {MAX_PARSED_BYTES}",
            text.len()
        ));
    }
    Ok(text)
}

/// `json.unmarshal(text)`: Go's `json.Unmarshal` into `any`, so every number is a double.
fn json_unmarshal(args: &[Value]) -> Result<Value, String> {
    let text = parse_input(args, "json.unmarshal")?;
    let value: Json = serde_json::from_str(&text).map_err(|e| format!("json.unmarshal: {e}"))?;
    Ok(to_cel(&value, Numbers::KyvernoCli))
}

/// `json.marshal(value)`: compact JSON with keys sorted, as Go's `json.Marshal`
/// writes maps (Go also escapes `<`, `>`, `&`; verdict does not).
fn json_marshal(args: &[Value]) -> Result<Value, String> {
    let value = args.first().ok_or("json.marshal takes one argument")?;
    let json = crate::engine::cel::to_json(value).map_err(|e| format!("json.marshal: {}", e.0))?;
    let text = serde_json::to_string(&json).map_err(|e| format!("json.marshal: {e}"))?;
    Ok(Value::String(Arc::new(text)))
}

/// `yaml.parse(text)`: YAML read as JSON (numbers doubles, as Kyverno's decoding gives them).
fn yaml_parse(args: &[Value]) -> Result<Value, String> {
    let text = parse_input(args, "yaml.parse")?;
    let value: Json = serde_yaml_ng::from_str(&text).map_err(|e| format!("yaml.parse: {e}"))?;
    Ok(to_cel(&value, Numbers::KyvernoCli))
}

/// `math.round(value, precision)`: rounded half away from zero at `precision` decimals.
fn math_round(args: &[Value]) -> Result<Value, String> {
    let value = match args.first() {
        Some(Value::Float(f)) => *f,
        Some(Value::Int(i)) => *i as f64,
        Some(Value::UInt(u)) => *u as f64,
        other => {
            return Err(format!(
                "math.round: argument 0 must be a number, got {other:?}"
            ))
        }
    };
    let precision = match args.get(1) {
        Some(Value::Int(i)) => *i,
        other => {
            return Err(format!(
                "math.round: argument 1 must be an int, got {other:?}"
            ))
        }
    };
    let shift =
        10f64.powi(i32::try_from(precision).map_err(|_| "math.round: precision out of range")?);
    Ok(Value::Float((value * shift).round() / shift))
}

/// `sha256(text)`: the lower-case hex SHA-256 of the text's bytes.
fn sha256(args: &[Value]) -> Result<Value, String> {
    use sha2::Digest;
    let text = string_arg(args, 0)?;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Value::String(Arc::new(hex)))
}

fn time_now(_: &[Value]) -> Result<Value, String> {
    Ok(Value::Timestamp(chrono::Utc::now().fixed_offset()))
}

/// Declares `name` with each arity in `arities`, every argument `dyn`.
fn declare(
    env: &mut Env,
    name: &str,
    arities: &[usize],
    op: cel::common::functions::Function,
) -> Result<(), DeclarationError> {
    for &arity in arities {
        global(env, name, (0..arity).map(|_| DYN_TYPE).collect(), op)?;
    }
    Ok(())
}

/// Registers the libraries on a ValidatingPolicy's environment.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "resource.List", &[3, 4], |a| {
        call("resource.List", a, resource_list)
    })?;
    declare(env, "resource.Get", &[4], |a| {
        call("resource.Get", a, resource_get)
    })?;
    declare(env, "image.GetMetadata", &[1], |a| {
        call("image.GetMetadata", a, image_metadata)
    })?;
    declare(env, "parseServiceAccount", &[1], |a| {
        call("parseServiceAccount", a, parse_service_account)
    })?;
    declare(env, "time.now", &[0], |a| call("time.now", a, time_now))?;
    declare(env, "json.unmarshal", &[1], |a| {
        call("json.unmarshal", a, json_unmarshal)
    })?;
    declare(env, "json.marshal", &[1], |a| {
        call("json.marshal", a, json_marshal)
    })?;
    declare(env, "yaml.parse", &[1], |a| {
        call("yaml.parse", a, yaml_parse)
    })?;
    declare(env, "math.round", &[2], |a| {
        call("math.round", a, math_round)
    })?;
    declare(env, "sha256", &[1], |a| call("sha256", a, sha256))?;
    declare(env, "hash.sha256", &[1], |a| call("hash.sha256", a, sha256))?;
    declare(env, "http.Get", &[1, 2], |a| {
        call("http.Get", a, |_| Err(offline("http.Get")))
    })?;
    declare(env, "http.Post", &[2, 3], |a| {
        call("http.Post", a, |_| Err(offline("http.Post")))
    })?;
    declare(env, "http.Client", &[1], |a| {
        call("http.Client", a, |_| Err(offline("http.Client")))
    })?;
    declare(env, "globalContext.Get", &[1, 2], |a| {
        call("globalContext.Get", a, |_| {
            Err(offline("globalContext.Get"))
        })
    })?;
    // `http.Client(caBundle).Get(url)`: declared so such policies load; never
    // reached, since `http.Client` itself fails first.
    for (name, arities) in [("Get", [1, 2]), ("Post", [2, 3])] {
        for arity in arities {
            crate::engine::cel::library::member(
                env,
                name,
                DYN_TYPE,
                (0..arity).map(|_| DYN_TYPE).collect(),
                |a| call("http client", a, |_| Err(offline("an http.Client call"))),
            )?;
        }
    }
    Ok(())
}

fn offline(function: &str) -> String {
    format!("{function} needs a network or cluster call, which verdict never makes offline")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::{Activation, CelEnv};
    use serde_json::json;

    fn env() -> CelEnv {
        CelEnv::builder().extension(register).unwrap().build()
    }

    fn eval(source: &str, context: Option<MockContext>) -> Result<cel::Value, String> {
        let expression = env().compile(source).map_err(|e| e.to_string())?;
        with_context(context.map(Arc::new), || {
            expression.evaluate(&Activation::new())
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn resources_come_from_the_context() {
        let context = MockContext {
            resources: vec![
                json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "h", "namespace": "default"}, "spec": {"maxReplicas": 3}}),
            ],
            images: vec![json!({"image": "nginx:1", "registry": "docker.io"})],
        };
        let list = "size(resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'default').items) == 1";
        assert_eq!(
            eval(list, Some(context.clone())).unwrap(),
            cel::Value::Bool(true)
        );
        let get = "resource.Get('autoscaling/v1', 'horizontalpodautoscalers', 'default', 'h').spec.maxReplicas + 1 == 4";
        assert_eq!(
            eval(get, Some(context.clone())).unwrap(),
            cel::Value::Bool(true)
        );
        let missing = eval(
            "resource.Get('v1', 'configmaps', 'default', 'x') == null",
            Some(context.clone()),
        )
        .unwrap_err();
        assert!(missing.contains("not found"), "{missing}");
        let image = "image.GetMetadata('nginx:1').registry == 'docker.io'";
        assert_eq!(eval(image, Some(context)).unwrap(), cel::Value::Bool(true));
        assert!(eval("image.GetMetadata('nginx:1') == null", None)
            .unwrap_err()
            .contains("no context file"));
    }

    #[test]
    fn service_accounts_parse_to_go_field_names() {
        let ok = "parseServiceAccount('system:serviceaccount:ns:dev').Name == 'dev' && parseServiceAccount('system:serviceaccount:ns:dev').Namespace == 'ns'";
        assert_eq!(eval(ok, None).unwrap(), cel::Value::Bool(true));
        assert_eq!(
            eval("parseServiceAccount('alice').Name == ''", None).unwrap(),
            cel::Value::Bool(true)
        );
    }

    #[test]
    fn encoders_math_and_hashes() {
        for source in [
            "json.unmarshal('{\"a\": [1, 2]}').a[1] == 2.0",
            "json.marshal({'b': 1, 'a': 'x'}) == '{\"a\":\"x\",\"b\":1}'",
            "yaml.parse('a:\\n  b: true').a.b",
            "math.round(2.345, 2) == 2.35 && math.round(-2.5, 0) == -3.0",
            "sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'",
            "hash.sha256('') == sha256('')",
        ] {
            assert_eq!(
                eval(source, None).unwrap(),
                cel::Value::Bool(true),
                "{source}"
            );
        }
        assert!(eval("json.unmarshal('{') == null", None)
            .unwrap_err()
            .contains("json.unmarshal"));
    }

    #[test]
    fn network_functions_compile_and_fail_naming_themselves() {
        for (source, name) in [
            ("http.Get('https://x') == null", "http.Get"),
            ("globalContext.Get('x', '') == null", "globalContext.Get"),
        ] {
            let error = eval(source, None).unwrap_err();
            assert!(
                error.contains(name) && error.contains("never makes"),
                "{error}"
            );
        }
        let client = eval("http.Client('ca').Get('https://x') == null", None).unwrap_err();
        assert!(client.contains("http.Client"), "{client}");
        assert!(eval("time.now() > timestamp('2020-01-01T00:00:00Z')", None).is_ok());
    }
}
