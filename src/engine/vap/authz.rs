//! Kubernetes' authz library (k8s.io/apiserver `pkg/cel/library/authz.go`)
//! served by the RBAC objects a case gives ([`super::rbac`]): `authorizer`
//! is the request's user, `authorizer.requestResource` the request's own
//! group, resource, subresource, namespace and name. Without any RBAC object
//! neither is bound, and a policy that reads them gets an error verdict
//! ([`NOT_OFFLINE`]): no RBAC must never read as "denied everything".
//!
//! - The chain is the API server's: a `system:masters` member is allowed
//!   (its privileged-group authorizer), then RBAC decides or has no opinion.
//! - RBAC never errs, so `errored()` is false and `error()` empty; its
//!   reason names the binding and role that allowed, or the roles it could
//!   not find.
//! - `fieldSelector`/`labelSelector` are kept and, as by RBAC, ignored.

use super::rbac::{Rbac, Request, User};
use crate::engine::cel::library::{member, op, opaque, text};
use cel::common::types::{Type, STRING_TYPE};
use cel::objects::Opaque;
use cel::{DeclarationError, Env, Value};
use std::sync::Arc;

/// The message of a policy that reads `authorizer` when the case gives no RBAC.
pub const NOT_OFFLINE: &str =
    "`authorizer` needs the cluster's RBAC: give the Roles, ClusterRoles, \
     RoleBindings and ClusterRoleBindings in the case's `_inventory.yaml`";

/// The group every member of which the API server allows everything.
const PRIVILEGED_GROUP: &str = "system:masters";

const AUTHORIZER: &str = "kubernetes.authorization.Authorizer";
const PATH_CHECK: &str = "kubernetes.authorization.PathCheck";
const GROUP_CHECK: &str = "kubernetes.authorization.GroupCheck";
const RESOURCE_CHECK: &str = "kubernetes.authorization.ResourceCheck";
const DECISION: &str = "kubernetes.authorization.Decision";

/// `authorizer`: who asks, and the RBAC that answers.
#[derive(Debug, Clone)]
struct Authorizer {
    rbac: Arc<Rbac>,
    user: User,
}

impl PartialEq for Authorizer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.rbac, &other.rbac) && self.user == other.user
    }
}
impl Eq for Authorizer {}

impl Authorizer {
    fn decide(&self, request: Request) -> Decision {
        if self.user.groups.iter().any(|g| g == PRIVILEGED_GROUP) {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        let d = self.rbac.authorize(&self.user, &request);
        Decision {
            allowed: d.allowed,
            reason: d.reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PathCheck {
    authorizer: Authorizer,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupCheck {
    authorizer: Authorizer,
    group: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ResourceCheck {
    authorizer: Authorizer,
    group: String,
    resource: String,
    subresource: String,
    namespace: String,
    name: String,
    field_selector: String,
    label_selector: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision {
    allowed: bool,
    reason: String,
}

macro_rules! opaque_type {
    ($t:ty, $name:expr) => {
        impl Opaque for $t {
            fn runtime_type_name(&self) -> &str {
                $name
            }
        }
    };
}
opaque_type!(Authorizer, AUTHORIZER);
opaque_type!(PathCheck, PATH_CHECK);
opaque_type!(GroupCheck, GROUP_CHECK);
opaque_type!(ResourceCheck, RESOURCE_CHECK);
opaque_type!(Decision, DECISION);

fn wrap(value: impl Opaque) -> Value {
    Value::Opaque(Arc::new(value))
}

/// The two values VAP evaluation binds for a request by `user`:
/// (`authorizer`, `authorizer.requestResource`).
///
/// ```
/// use verdict::engine::cel::{Activation, CelEnv};
/// use verdict::engine::vap::authz::bindings;
/// use verdict::engine::vap::rbac::{Rbac, User};
/// let rbac = std::sync::Arc::new(Rbac::default());
/// let user = User { name: "alice".into(), groups: vec![] };
/// let (authorizer, request) = bindings(rbac, user, ["apps", "deployments", "", "shop", "web"]);
/// let mut a = Activation::new();
/// a.bind("authorizer", authorizer);
/// a.bind("authorizer.requestResource", request);
/// let env = CelEnv::builder().extension(verdict::engine::vap::authz::register).unwrap().build();
/// let expr = env.compile("authorizer.requestResource.check('create').allowed()").unwrap();
/// assert!(!expr.eval_bool(&a).unwrap());
/// ```
pub fn bindings(rbac: Arc<Rbac>, user: User, request: [&str; 5]) -> (Value, Value) {
    let [group, resource, subresource, namespace, name] = request;
    let authorizer = Authorizer { rbac, user };
    let request_resource = ResourceCheck {
        authorizer: authorizer.clone(),
        group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
        field_selector: String::new(),
        label_selector: String::new(),
    };
    (wrap(authorizer), wrap(request_resource))
}

/// Declare the library's types and member functions on `env`.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let t = Type::new_opaque_type;
    member(
        env,
        "path",
        t(AUTHORIZER),
        vec![STRING_TYPE],
        op!("path", |a| {
            let path = text(a, 1)?;
            if path.trim().is_empty() {
                return Err("path must not be empty".into());
            }
            Ok(wrap(PathCheck {
                authorizer: authorizer(a)?,
                path: path.into(),
            }))
        }),
    )?;
    member(
        env,
        "group",
        t(AUTHORIZER),
        vec![STRING_TYPE],
        op!("group", |a| {
            Ok(wrap(GroupCheck {
                authorizer: authorizer(a)?,
                group: text(a, 1)?.into(),
            }))
        }),
    )?;
    member(
        env,
        "serviceAccount",
        t(AUTHORIZER),
        vec![STRING_TYPE, STRING_TYPE],
        op!("serviceAccount", |a| {
            let (namespace, name) = (text(a, 1)?, text(a, 2)?);
            if !is_dns_subdomain(name) {
                return Err("Invalid service account name".into());
            }
            if !is_dns_label(namespace) {
                return Err("Invalid service account namespace".into());
            }
            let rbac = authorizer(a)?.rbac;
            Ok(wrap(Authorizer {
                rbac,
                user: User::service_account(namespace, name),
            }))
        }),
    )?;
    member(
        env,
        "resource",
        t(GROUP_CHECK),
        vec![STRING_TYPE],
        op!("resource", |a| {
            let group = opaque::<GroupCheck>(a, 0, "GroupCheck")?;
            let resource = text(a, 1)?;
            if resource.trim().is_empty() {
                return Err("resource must not be empty".into());
            }
            Ok(wrap(ResourceCheck {
                authorizer: group.authorizer,
                group: group.group,
                resource: resource.into(),
                subresource: String::new(),
                namespace: String::new(),
                name: String::new(),
                field_selector: String::new(),
                label_selector: String::new(),
            }))
        }),
    )?;
    member(
        env,
        "subresource",
        t(RESOURCE_CHECK),
        vec![STRING_TYPE],
        op!("subresource", |a| { with(a, |r, s| r.subresource = s) }),
    )?;
    member(
        env,
        "namespace",
        t(RESOURCE_CHECK),
        vec![STRING_TYPE],
        op!("namespace", |a| { with(a, |r, s| r.namespace = s) }),
    )?;
    member(
        env,
        "name",
        t(RESOURCE_CHECK),
        vec![STRING_TYPE],
        op!("name", |a| { with(a, |r, s| r.name = s) }),
    )?;
    member(
        env,
        "fieldSelector",
        t(RESOURCE_CHECK),
        vec![STRING_TYPE],
        op!("fieldSelector", |a| {
            with(a, |r, s| r.field_selector = s)
        }),
    )?;
    member(
        env,
        "labelSelector",
        t(RESOURCE_CHECK),
        vec![STRING_TYPE],
        op!("labelSelector", |a| {
            with(a, |r, s| r.label_selector = s)
        }),
    )?;
    member(
        env,
        "check",
        t(PATH_CHECK),
        vec![STRING_TYPE],
        op!("check", |a| {
            let check = opaque::<PathCheck>(a, 0, "PathCheck")?;
            let request = Request::Path {
                path: check.path,
                verb: text(a, 1)?.into(),
            };
            Ok(wrap(check.authorizer.decide(request)))
        }),
    )?;
    member(
        env,
        "check",
        t(RESOURCE_CHECK),
        vec![STRING_TYPE],
        op!("check", |a| {
            let r = opaque::<ResourceCheck>(a, 0, "ResourceCheck")?;
            let request = Request::Resource {
                group: r.group,
                resource: r.resource,
                subresource: r.subresource,
                namespace: r.namespace,
                name: r.name,
                verb: text(a, 1)?.into(),
            };
            Ok(wrap(r.authorizer.decide(request)))
        }),
    )?;
    member(
        env,
        "allowed",
        t(DECISION),
        vec![],
        op!("allowed", |a| { Ok(Value::Bool(decision(a)?.allowed)) }),
    )?;
    member(
        env,
        "reason",
        t(DECISION),
        vec![],
        op!("reason", |a| {
            Ok(Value::String(Arc::new(decision(a)?.reason)))
        }),
    )?;
    member(
        env,
        "errored",
        t(DECISION),
        vec![],
        op!("errored", |a| { decision(a).map(|_| Value::Bool(false)) }),
    )?;
    member(
        env,
        "error",
        t(DECISION),
        vec![],
        op!("error", |a| {
            decision(a).map(|_| Value::String(Arc::new(String::new())))
        }),
    )?;
    Ok(())
}

fn authorizer(args: &[Value]) -> Result<Authorizer, String> {
    opaque::<Authorizer>(args, 0, "Authorizer")
}

fn decision(args: &[Value]) -> Result<Decision, String> {
    opaque::<Decision>(args, 0, "Decision")
}

/// A copy of the target ResourceCheck with one field set to the string argument.
fn with(args: &[Value], set: fn(&mut ResourceCheck, String)) -> Result<Value, String> {
    let mut check = opaque::<ResourceCheck>(args, 0, "ResourceCheck")?;
    set(&mut check, text(args, 1)?.into());
    Ok(wrap(check))
}

/// RFC 1123 label: at most 63 lowercase alphanumerics or `-`, alphanumeric at both ends.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::{Activation, CelEnv};
    use serde_json::json;

    /// `source` against RBAC where alice may get pods in `shop` and the
    /// service account ci/bot may list deployments everywhere.
    fn eval(user: &str, groups: &[&str], source: &str) -> Result<cel::Value, String> {
        let objects = json!([
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pods", "namespace": "shop"},
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "alice-pods", "namespace": "shop"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pods"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "lister"},
             "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bot-lists"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lister"},
             "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]}
        ]);
        let rbac = Rbac::from_objects(objects.as_array().unwrap().iter().map(|o| ("inv", o)))
            .unwrap()
            .unwrap();
        let user = User {
            name: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let (authorizer, request) = bindings(Arc::new(rbac), user, ["", "pods", "", "shop", "web"]);
        let mut a = Activation::new();
        a.bind("authorizer", authorizer);
        a.bind("authorizer.requestResource", request);
        let env = CelEnv::builder().extension(register).unwrap().build();
        let expr = env.compile(source).map_err(|e| e.to_string())?;
        expr.evaluate(&a).map_err(|e| e.to_string())
    }

    fn holds(user: &str, source: &str) {
        assert_eq!(
            eval(user, &[], source),
            Ok(cel::Value::Bool(true)),
            "{source}"
        );
    }

    #[test]
    fn resource_checks_build_up_the_request() {
        holds(
            "alice",
            "authorizer.group('').resource('pods').namespace('shop').check('get').allowed()",
        );
        holds(
            "alice",
            "!authorizer.group('').resource('pods').namespace('prod').check('get').allowed()",
        );
        holds(
            "alice",
            "!authorizer.group('').resource('pods').check('get').allowed()",
        );
        holds("alice", "authorizer.group('').resource('pods').namespace('shop').name('x').subresource('').check('get').reason() == 'RBAC: allowed by RoleBinding \"alice-pods/shop\" of Role \"pods\" to User \"alice\"'");
        holds("alice", "!authorizer.group('').resource('pods').namespace('shop').subresource('log').check('get').allowed()");
        holds("alice", "authorizer.group('').resource('pods').namespace('shop').labelSelector('app=web').fieldSelector('spec.nodeName=n1').check('get').allowed()");
        holds("alice", "authorizer.requestResource.check('get').allowed() && !authorizer.requestResource.check('delete').allowed()");
        holds("alice", "!authorizer.requestResource.check('delete').errored() && authorizer.requestResource.check('delete').error() == '' && authorizer.requestResource.check('delete').reason() == ''");
    }

    #[test]
    fn service_accounts_and_privileged_groups() {
        holds("alice", "authorizer.serviceAccount('ci', 'bot').group('apps').resource('deployments').check('list').allowed()");
        holds("alice", "!authorizer.serviceAccount('ci', 'bot').group('').resource('pods').namespace('shop').check('get').allowed()");
        holds("system:serviceaccount:ci:bot", "authorizer.group('apps').resource('deployments').namespace('x').check('list').allowed()");
        assert_eq!(
            eval(
                "root",
                &["system:masters"],
                "authorizer.path('/anything').check('delete').allowed()"
            ),
            Ok(cel::Value::Bool(true))
        );
    }

    #[test]
    fn bad_arguments_are_errors_as_kubernetes_makes_them() {
        let err = |source: &str| eval("alice", &[], source).unwrap_err();
        assert!(err("authorizer.serviceAccount('ci', 'Bot').group('').resource('pods').check('get').allowed()").contains("Invalid service account name"));
        assert!(err("authorizer.serviceAccount('c.i', 'bot').group('').resource('pods').check('get').allowed()").contains("Invalid service account namespace"));
        assert!(
            err("authorizer.group('').resource(' ').check('get').allowed()")
                .contains("resource must not be empty")
        );
        assert!(
            err("authorizer.path('').check('get').allowed()").contains("path must not be empty")
        );
        let wrong_target = err("authorizer.check('get').allowed()");
        assert!(wrong_target.contains("check"), "{wrong_target}");
        let wrong_target = err("authorizer.group('').allowed()");
        assert!(wrong_target.contains("allowed"), "{wrong_target}");
    }
}
