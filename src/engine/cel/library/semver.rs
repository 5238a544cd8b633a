//! Kubernetes' semver library: `semver`, `isSemver` (each with an optional
//! `normalize` flag) and the Semver methods
//! (k8s.io/apiserver/pkg/cel/library/semverlib.go), parsed with the `semver`
//! crate (strict SemVer 2.0, as blang/semver's `Parse`).

use super::{global, member, op, opaque, text};
use cel::common::types::{Type, BOOL_TYPE, STRING_TYPE};
use cel::objects::Opaque;
use cel::{DeclarationError, Env, Value};
use std::sync::Arc;

const TYPE_NAME: &str = "kubernetes.Semver";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Semver(semver::Version);

impl Opaque for Semver {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

/// Normalisation as Kubernetes documents it: no `v` prefix, missing minor and
/// patch filled with 0, leading zeros removed.
fn normalize(s: &str) -> Result<String, String> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts: Vec<String> = s.splitn(3, '.').map(str::to_string).collect();
    for part in parts.iter_mut().filter(|p| p.len() > 1) {
        let trimmed = part.trim_start_matches('0');
        *part = if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
            trimmed.to_string()
        } else {
            format!("0{trimmed}")
        };
    }
    if parts.len() < 3 {
        if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
            return Err("short version cannot contain PreRelease/Build meta data".to_string());
        }
        parts.resize(3, "0".to_string());
    }
    Ok(parts.join("."))
}

fn parse(args: &[Value]) -> Result<Semver, String> {
    let s = text(args, 0)?;
    let s = match args.get(1) {
        Some(Value::Bool(true)) => normalize(s)?,
        _ => s.to_string(),
    };
    semver::Version::parse(&s)
        .map(Semver)
        .map_err(|e| format!("invalid semver {s:?}: {e}"))
}

fn arg(args: &[Value], n: usize) -> Result<semver::Version, String> {
    opaque::<Semver>(args, n, "semver").map(|v| v.0)
}

fn compare(args: &[Value]) -> Result<std::cmp::Ordering, String> {
    Ok(arg(args, 0)?.cmp_precedence(&arg(args, 1)?))
}

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let t = || Type::new_opaque_type(TYPE_NAME);
    env.add_type(t())?;
    for args in [vec![STRING_TYPE], vec![STRING_TYPE, BOOL_TYPE]] {
        global(
            env,
            "semver",
            args,
            op!("semver", |a| Ok(Value::Opaque(Arc::new(parse(a)?)))),
        )?;
    }
    for args in [vec![STRING_TYPE], vec![STRING_TYPE, BOOL_TYPE]] {
        global(
            env,
            "isSemver",
            args,
            op!("isSemver", |a| Ok(Value::Bool(parse(a).is_ok()))),
        )?;
    }
    member(
        env,
        "major",
        t(),
        vec![],
        op!("major", |a| Ok(Value::Int(arg(a, 0)?.major as i64))),
    )?;
    member(
        env,
        "minor",
        t(),
        vec![],
        op!("minor", |a| Ok(Value::Int(arg(a, 0)?.minor as i64))),
    )?;
    member(
        env,
        "patch",
        t(),
        vec![],
        op!("patch", |a| Ok(Value::Int(arg(a, 0)?.patch as i64))),
    )?;
    member(
        env,
        "compareTo",
        t(),
        vec![t()],
        op!("compareTo", |a| Ok(Value::Int(compare(a)? as i64))),
    )?;
    member(
        env,
        "isGreaterThan",
        t(),
        vec![t()],
        op!("isGreaterThan", |a| Ok(Value::Bool(compare(a)?.is_gt()))),
    )?;
    member(
        env,
        "isLessThan",
        t(),
        vec![t()],
        op!("isLessThan", |a| Ok(Value::Bool(compare(a)?.is_lt()))),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};

    #[test]
    fn semver_library() {
        // The examples of Kubernetes' semver library documentation, then edge cases.
        holds("isSemver('1.0.0') && isSemver('0.1.0-alpha.1') && !isSemver('hello') && !isSemver('v1.0') && !isSemver('200K')");
        holds("isSemver('v1.0', true) && isSemver('1.0', true) && isSemver('01.01.01', true) && !isSemver('1.0-rc1', true)");
        holds("semver('v1.0.0', true) == semver('1.0.0') && semver('1.0', true) == semver('1.0.0') && semver('01.01.01', true) == semver('1.1.1')");
        holds("semver('1.2.3').major() == 1 && semver('1.2.3').minor() == 2 && semver('1.2.3').patch() == 3");
        holds("semver('1.2.3').compareTo(semver('1.2.3')) == 0 && semver('1.2.3').compareTo(semver('2.0.0')) == -1 && semver('1.2.3').compareTo(semver('0.1.2')) == 1");
        holds("semver('1.0.0-alpha').isLessThan(semver('1.0.0')) && semver('1.0.0+build.1').compareTo(semver('1.0.0')) == 0");
        holds("semver('2.0.0').isGreaterThan(semver('1.9.9')) && !semver('1.0.0').isGreaterThan(semver('1.0.0'))");
        fails("semver('Three') == semver('1.0.0')", "invalid semver");
    }
}
