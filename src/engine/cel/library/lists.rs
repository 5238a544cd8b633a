//! Kubernetes' lists library: `isSorted`, `sum`, `min`, `max`, `indexOf`,
//! `lastIndexOf` on lists (k8s.io/apiserver/pkg/cel/library/lists.go).

use super::{list, member, op};
use cel::common::types::{DYN_TYPE, LIST_TYPE};
use cel::{DeclarationError, Env, Value};
use std::cmp::Ordering;

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    member(
        env,
        "isSorted",
        LIST_TYPE,
        vec![],
        op!("isSorted", is_sorted),
    )?;
    member(env, "sum", LIST_TYPE, vec![], op!("sum", sum))?;
    member(
        env,
        "min",
        LIST_TYPE,
        vec![],
        op!("min", |a| extreme(a, Ordering::Less, "min")),
    )?;
    member(
        env,
        "max",
        LIST_TYPE,
        vec![],
        op!("max", |a| extreme(a, Ordering::Greater, "max")),
    )?;
    member(
        env,
        "indexOf",
        LIST_TYPE,
        vec![DYN_TYPE],
        op!("indexOf", index_of),
    )?;
    member(
        env,
        "lastIndexOf",
        LIST_TYPE,
        vec![DYN_TYPE],
        op!("lastIndexOf", last_index_of),
    )
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    a.partial_cmp(b)
        .ok_or_else(|| format!("cannot compare {a:?} with {b:?}"))
}

fn is_sorted(args: &[Value]) -> Result<Value, String> {
    let items = list(args, 0)?;
    for pair in items.windows(2) {
        if compare(&pair[0], &pair[1])? == Ordering::Greater {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn sum(args: &[Value]) -> Result<Value, String> {
    let items = list(args, 0)?;
    let Some(first) = items.first() else {
        return Ok(Value::Int(0));
    };
    let mut total = first.clone();
    for item in &items[1..] {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => {
                Value::Int(a.checked_add(*b).ok_or("integer overflow")?)
            }
            (Value::UInt(a), Value::UInt(b)) => {
                Value::UInt(a.checked_add(*b).ok_or("unsigned integer overflow")?)
            }
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (Value::Duration(a), Value::Duration(b)) => {
                Value::Duration(a.checked_add(b).ok_or("duration overflow")?)
            }
            (a, b) => return Err(format!("cannot add {a:?} and {b:?}")),
        };
    }
    match total {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Duration(_) => Ok(total),
        other => Err(format!("cannot sum {other:?}")),
    }
}

fn extreme(args: &[Value], wanted: Ordering, name: &str) -> Result<Value, String> {
    let items = list(args, 0)?;
    let mut best = items
        .first()
        .ok_or_else(|| format!("{name} called on empty list"))?;
    for item in &items[1..] {
        if compare(item, best)? == wanted {
            best = item;
        }
    }
    Ok(best.clone())
}

fn index_of(args: &[Value]) -> Result<Value, String> {
    let items = list(args, 0)?;
    Ok(Value::Int(
        items
            .iter()
            .position(|i| i == &args[1])
            .map_or(-1, |p| p as i64),
    ))
}

fn last_index_of(args: &[Value]) -> Result<Value, String> {
    let items = list(args, 0)?;
    Ok(Value::Int(
        items
            .iter()
            .rposition(|i| i == &args[1])
            .map_or(-1, |p| p as i64),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};

    #[test]
    fn lists_library() {
        holds("[1, 2, 2, 3].isSorted() && ![2, 1].isSorted() && ['a', 'b'].isSorted()");
        holds("[1, 2, 3].sum() == 6 && [1.5, 2.5].sum() == 4.0 && [].sum() == 0");
        holds("[3, 1, 2].min() == 1 && [3, 1, 2].max() == 3 && ['b', 'a'].min() == 'a'");
        holds("[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2 && [1].indexOf(5) == -1");
        holds("'abcabc'.indexOf('c') == 2 && 'abcabc'.lastIndexOf('c') == 5");
        fails("[].min() == 1", "min called on empty list");
        fails("[1, 'a'].sum() == 1", "cannot add");
    }
}
