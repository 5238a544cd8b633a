//! Kubernetes' authz library declared, never served: a policy that asks
//! `authorizer` loads (its expressions compile), and every evaluation that
//! reaches it is an error naming `authorizer`, since verdict has no cluster
//! RBAC to ask offline. The variable is never bound, so evaluation fails on
//! `authorizer` itself before any of these functions runs; they fail too.

use crate::engine::cel::library::{member, op};
use cel::common::types::{DYN_TYPE, STRING_TYPE};
use cel::{DeclarationError, Env};

/// The message every call and every reference ends with.
pub const NOT_OFFLINE: &str =
    "`authorizer` needs the cluster's RBAC, which verdict does not have offline";

/// Declare the library's functions (`group`, `resource`, `check`, `allowed`, ...) on `env`.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    for name in [
        "group",
        "resource",
        "subresource",
        "namespace",
        "name",
        "check",
        "path",
        "fieldSelector",
        "labelSelector",
    ] {
        member(
            env,
            name,
            DYN_TYPE,
            vec![STRING_TYPE],
            op!("authorizer", |_| Err(NOT_OFFLINE.to_string())),
        )?;
    }
    member(
        env,
        "serviceAccount",
        DYN_TYPE,
        vec![STRING_TYPE, STRING_TYPE],
        op!("authorizer", |_| Err(NOT_OFFLINE.to_string())),
    )?;
    for name in ["allowed", "reason", "errored", "error"] {
        member(
            env,
            name,
            DYN_TYPE,
            vec![],
            op!("authorizer", |_| Err(NOT_OFFLINE.to_string())),
        )?;
    }
    Ok(())
}
