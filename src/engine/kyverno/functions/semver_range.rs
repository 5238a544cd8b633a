//! Version ranges as `semver_compare` reads them (blang/semver's syntax):
//! `>=1.2.0 <2.0.0 || 3.x`, with `=`, `==`, `!`, `!=`, `<`, `<=`, `>`, `>=`
//! and `x` wildcards.

use std::cmp::Ordering;

use semver::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed range: any of the alternatives, each needing all its comparisons.
#[derive(Debug)]
pub(crate) struct Range {
    alternatives: Vec<Vec<(Op, Version)>>,
}

impl Range {
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|all| {
            all.iter()
                .all(|(op, bound)| holds(*op, precedence(version, bound)))
        })
    }
}

fn holds(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
    }
}

/// Semver precedence: build metadata does not count.
fn precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

fn split_operator(token: &str) -> (&str, &str) {
    let len = token
        .chars()
        .take_while(|c| matches!(c, '<' | '>' | '=' | '!'))
        .count();
    token.split_at(len)
}

fn operator(text: &str) -> Result<Op, String> {
    Ok(match text {
        "" | "=" | "==" => Op::Eq,
        "!" | "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        other => return Err(format!("invalid operator {other:?}")),
    })
}

fn version(text: &str) -> Result<Version, String> {
    Version::parse(text).map_err(|e| format!("invalid version {text:?}: {e}"))
}

/// Expands `1.2.x` / `1.x` comparisons into plain ones, as blang/semver does.
fn expand_wildcard(
    op_text: &str,
    version_text: &str,
    out: &mut Vec<(Op, Version)>,
) -> Result<(), String> {
    let parts: Vec<&str> = version_text.split('.').collect();
    let (flat, bumped) = match parts.as_slice() {
        [major, minor, "x"] if *minor != "x" => {
            let (ma, mi) = (number(major)?, number(minor)?);
            (Version::new(ma, mi, 0), Version::new(ma, mi + 1, 0))
        }
        [major, "x"] | [major, "x", "x"] => {
            let ma = number(major)?;
            (Version::new(ma, 0, 0), Version::new(ma + 1, 0, 0))
        }
        _ => return Err(format!("invalid wildcard version {version_text:?}")),
    };
    match operator(op_text)? {
        Op::Gt => out.push((Op::Ge, bumped)),
        Op::Ge => out.push((Op::Ge, flat)),
        Op::Lt => out.push((Op::Lt, flat)),
        Op::Le => out.push((Op::Lt, bumped)),
        Op::Eq => {
            out.push((Op::Ge, flat));
            out.push((Op::Lt, bumped));
        }
        Op::Ne => {
            // blang/semver ANDs these two, so `!=1.x` matches nothing; kept for parity.
            out.push((Op::Lt, flat));
            out.push((Op::Ge, bumped));
        }
    }
    Ok(())
}

fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("invalid version number {text:?}"))
}

/// Parses a range; errors name the part that does not parse.
pub(crate) fn parse(text: &str) -> Result<Range, String> {
    let mut alternatives = Vec::new();
    for alternative in text.split("||") {
        let mut tokens: Vec<String> = Vec::new();
        let mut pending_operator = String::new();
        for token in alternative.split_whitespace() {
            let (op, rest) = split_operator(token);
            if rest.is_empty() {
                pending_operator.push_str(op);
                continue;
            }
            tokens.push(format!("{pending_operator}{token}"));
            pending_operator.clear();
        }
        if !pending_operator.is_empty() || tokens.is_empty() {
            return Err(format!("could not parse range {text:?}"));
        }
        let mut all = Vec::new();
        for token in &tokens {
            let (op_text, version_text) = split_operator(token);
            if version_text.contains('x')
                && !version_text.contains('-')
                && !version_text.contains('+')
            {
                expand_wildcard(op_text, version_text, &mut all)?;
            } else {
                all.push((operator(op_text)?, version(version_text)?));
            }
        }
        alternatives.push(all);
    }
    Ok(Range { alternatives })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(range: &str, v: &str) -> bool {
        parse(range).unwrap().matches(&Version::parse(v).unwrap())
    }

    #[test]
    fn ranges() {
        assert!(check(">1.0.0 <2.0.0", "1.5.0"));
        assert!(!check(">1.0.0 <2.0.0", "2.0.0"));
        assert!(check("<1.0.0 || >=3.0.0", "3.1.0"));
        assert!(check("1.2.x", "1.2.9"));
        assert!(!check("1.2.x", "1.3.0"));
        assert!(check(">= 1.0.0", "1.0.0"));
        assert!(check("!1.0.0", "1.0.1"));
        assert!(parse("1.0").is_err());
    }
}
