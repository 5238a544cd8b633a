//! Two-variable comprehensions (cel-go's `ext.TwoVarComprehensions`, enabled
//! by Kubernetes from 1.33): `all`, `exists`, `existsOne`, `transformList`,
//! `transformMap` and `transformMapEntry` with an index or key and a value.
//!
//! cel-rust 0.15 evaluates one-variable comprehensions only, so each macro
//! here rewrites `r.f(k, v, ...)` into a one-variable comprehension over
//! `@verdict_entries(r)` (the `[index, value]` pairs of a list, the
//! `[key, value]` pairs of a map), binding `k` and `v` from each pair with
//! `cel.bind`'s expansion. Maps are built with `@verdict_map_insert`.

use super::{global, op};
use cel::common::ast::{operators, CallExpr, ComprehensionExpr, Expr, ListExpr, LiteralValue};
use cel::common::types::DYN_TYPE;
use cel::objects::{Key, Map};
use cel::parser::{Macro, MacroExprHelper};
use cel::{DeclarationError, Env, IdedExpr, ParseError, Value};
use std::collections::HashMap;
use std::sync::Arc;

const ENTRIES: &str = "@verdict_entries";
const MAP_INSERT: &str = "@verdict_map_insert";
const ENTRY: &str = "@__entry__";
const RESULT: &str = "@result";

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    global(
        env,
        ENTRIES,
        vec![DYN_TYPE],
        op!("@verdict_entries", entries),
    )?;
    global(
        env,
        MAP_INSERT,
        vec![DYN_TYPE, DYN_TYPE, DYN_TYPE],
        op!("@verdict_map_insert", map_insert),
    )?;
    global(
        env,
        MAP_INSERT,
        vec![DYN_TYPE, DYN_TYPE],
        op!("@verdict_map_insert", map_merge),
    )?;
    for (name, kind) in [
        ("all", Kind::All),
        ("exists", Kind::Exists),
        ("existsOne", Kind::ExistsOne),
    ] {
        env.add_macro(Macro::receiver(name, 3, move |h, t, a| {
            expand(h, t, a, kind)
        }))?;
    }
    for (name, kind) in [
        ("transformList", Kind::List),
        ("transformMap", Kind::Map),
        ("transformMapEntry", Kind::MapEntry),
    ] {
        env.add_macro(Macro::receiver(name, 3, move |h, t, a| {
            expand(h, t, a, kind)
        }))?;
        env.add_macro(Macro::receiver(name, 4, move |h, t, a| {
            expand(h, t, a, kind)
        }))?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    All,
    Exists,
    ExistsOne,
    List,
    Map,
    MapEntry,
}

fn entries(args: &[Value]) -> Result<Value, String> {
    let pair = |k: Value, v: &Value| Value::List(Arc::new(vec![k, v.clone()]));
    let pairs: Vec<Value> = match &args[0] {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| pair(Value::Int(i as i64), v))
            .collect(),
        Value::Map(map) => map
            .map
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    Key::Int(i) => Value::Int(*i),
                    Key::Uint(u) => Value::UInt(*u),
                    Key::Bool(b) => Value::Bool(*b),
                    Key::String(s) => Value::String(s.clone()),
                };
                pair(key, v)
            })
            .collect(),
        other => {
            return Err(format!(
                "two-variable comprehensions range over lists and maps, got {}",
                other.type_of()
            ))
        }
    };
    Ok(Value::List(Arc::new(pairs)))
}

fn key_of(value: &Value) -> Result<Key, String> {
    Ok(match value {
        Value::Int(i) => Key::Int(*i),
        Value::UInt(u) => Key::Uint(*u),
        Value::Bool(b) => Key::Bool(*b),
        Value::String(s) => Key::String(s.clone()),
        other => {
            return Err(format!(
                "a map key must be int, uint, bool or string, got {}",
                other.type_of()
            ))
        }
    })
}

fn map_of(value: &Value) -> Result<&HashMap<Key, Value>, String> {
    match value {
        Value::Map(m) => Ok(&m.map),
        other => Err(format!("want a map, got {}", other.type_of())),
    }
}

fn map_insert(args: &[Value]) -> Result<Value, String> {
    let mut map = map_of(&args[0])?.clone();
    let key = key_of(&args[1])?;
    if map.insert(key, args[2].clone()).is_some() {
        return Err(format!("insert failed: key {:?} already exists", args[1]));
    }
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

fn map_merge(args: &[Value]) -> Result<Value, String> {
    let mut map = map_of(&args[0])?.clone();
    for (k, v) in map_of(&args[1])? {
        if map.insert(k.clone(), v.clone()).is_some() {
            return Err(format!("insert failed: key {k:?} already exists"));
        }
    }
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

fn ident(h: &mut MacroExprHelper<'_>, name: &str) -> IdedExpr {
    h.next_expr(Expr::Ident(name.to_string()))
}

fn call(h: &mut MacroExprHelper<'_>, name: &str, args: Vec<IdedExpr>) -> IdedExpr {
    h.next_expr(Expr::Call(CallExpr {
        func_name: name.to_string(),
        target: None,
        args,
    }))
}

fn literal(h: &mut MacroExprHelper<'_>, value: LiteralValue) -> IdedExpr {
    h.next_expr(Expr::Literal(value))
}

/// `body` with `name` bound to `init`: `cel.bind`'s comprehension.
fn bind(h: &mut MacroExprHelper<'_>, name: &str, init: IdedExpr, body: IdedExpr) -> IdedExpr {
    let bind = ComprehensionExpr {
        iter_range: h.next_expr(Expr::List(ListExpr::new(Vec::new()))),
        iter_var: "#unused".to_string(),
        iter_var2: None,
        accu_var: name.to_string(),
        accu_init: init,
        loop_cond: literal(h, LiteralValue::Boolean(false.into())),
        loop_step: ident(h, name),
        result: body,
    };
    h.next_expr(Expr::Comprehension(Box::new(bind)))
}

fn name_of(h: &MacroExprHelper<'_>, e: &IdedExpr) -> Result<String, ParseError> {
    match &e.expr {
        Expr::Ident(name) => Ok(name.clone()),
        _ => Err(h.new_error(e.id, "argument must be a simple name")),
    }
}

fn expand(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    kind: Kind,
) -> Result<Option<IdedExpr>, ParseError> {
    let first = name_of(h, &args[0])?;
    let second = name_of(h, &args[1])?;
    if first == second {
        return Err(h.new_error(args[1].id, "duplicate variable name"));
    }
    let range = target.take().expect("a receiver macro has a target");
    let mut rest: Vec<IdedExpr> = args.drain(2..).collect();
    // Binds `first` and `second` from the pair, around `body`.
    let with_vars = |h: &mut MacroExprHelper<'_>, body: IdedExpr| {
        let (e0, e1) = (ident(h, ENTRY), ident(h, ENTRY));
        let (zero, one) = (
            literal(h, LiteralValue::Int(0.into())),
            literal(h, LiteralValue::Int(1.into())),
        );
        let key = call(h, operators::INDEX, vec![e0, zero]);
        let value = call(h, operators::INDEX, vec![e1, one]);
        let inner = bind(h, &second, value, body);
        bind(h, &first, key, inner)
    };
    let filter = if rest.len() == 2 {
        Some(rest.remove(0))
    } else {
        None
    };
    let body = rest.remove(0);
    let accu = |h: &mut MacroExprHelper<'_>| ident(h, RESULT);
    let (init, cond, step, result) = match kind {
        Kind::All | Kind::Exists => {
            let all = matches!(kind, Kind::All);
            let init = literal(h, LiteralValue::Boolean(all.into()));
            let a = accu(h);
            let cond_arg = if all {
                a
            } else {
                call(h, operators::LOGICAL_NOT, vec![a])
            };
            let cond = call(h, operators::NOT_STRICTLY_FALSE, vec![cond_arg]);
            let predicate = with_vars(h, body);
            let a = accu(h);
            let step = call(
                h,
                if all {
                    operators::LOGICAL_AND
                } else {
                    operators::LOGICAL_OR
                },
                vec![a, predicate],
            );
            (init, cond, step, accu(h))
        }
        Kind::ExistsOne => {
            let init = literal(h, LiteralValue::Int(0.into()));
            let cond = literal(h, LiteralValue::Boolean(true.into()));
            let predicate = with_vars(h, body);
            let (a, one) = (accu(h), literal(h, LiteralValue::Int(1.into())));
            let plus = call(h, operators::ADD, vec![a, one]);
            let a = accu(h);
            let step = call(h, operators::CONDITIONAL, vec![predicate, plus, a]);
            let (a, one) = (accu(h), literal(h, LiteralValue::Int(1.into())));
            (init, cond, step, call(h, operators::EQUALS, vec![a, one]))
        }
        Kind::List | Kind::Map | Kind::MapEntry => {
            let init = match kind {
                Kind::List => h.next_expr(Expr::List(ListExpr::new(Vec::new()))),
                _ => h.next_expr(Expr::Map(Default::default())),
            };
            let cond = literal(h, LiteralValue::Boolean(true.into()));
            let a = accu(h);
            let grown = match kind {
                Kind::List => {
                    let item = with_vars(h, body);
                    let item = h.next_expr(Expr::List(ListExpr::new(vec![item])));
                    call(h, operators::ADD, vec![a, item])
                }
                Kind::Map => {
                    let key = ident(h, &first);
                    let inner = call(h, MAP_INSERT, vec![a, key, body]);
                    with_vars(h, inner)
                }
                _ => {
                    let inner = call(h, MAP_INSERT, vec![a, body]);
                    with_vars(h, inner)
                }
            };
            let step = match filter {
                Some(filter) => {
                    let keep = with_vars(h, filter);
                    let a = accu(h);
                    call(h, operators::CONDITIONAL, vec![keep, grown, a])
                }
                None => grown,
            };
            (init, cond, step, accu(h))
        }
    };
    let iter_range = call(h, ENTRIES, vec![range]);
    let comprehension = ComprehensionExpr {
        iter_range,
        iter_var: ENTRY.to_string(),
        iter_var2: None,
        accu_var: RESULT.to_string(),
        accu_init: init,
        loop_cond: cond,
        loop_step: step,
        result,
    };
    Ok(Some(
        h.next_expr(Expr::Comprehension(Box::new(comprehension))),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};

    #[test]
    fn two_variable_comprehensions() {
        holds("[10, 20].all(i, v, v == (i + 1) * 10) && !['a', 'b'].all(i, v, i == 0)");
        holds("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2) && !{'a': 1}.exists(k, v, v > 1)");
        holds("{'a': 1, 'b': 2}.existsOne(k, v, v > 1) && ![1, 1].existsOne(i, v, v == 1)");
        holds("[1, 2, 3].transformList(i, v, i * v) == [0, 2, 6] && [1, 2, 3].transformList(i, v, v > 1, v) == [2, 3]");
        holds("{'a': 1, 'b': 2}.transformMap(k, v, v * 10) == {'a': 10, 'b': 20}");
        holds("{'a': 1, 'b': 2}.transformMap(k, v, v > 1, k + '!') == {'b': 'b!'} && ['x'].transformMap(i, v, v) == {0: 'x'}");
        holds("{'a': 1}.transformMapEntry(k, v, {v: k}) == {1: 'a'}");
        holds("[[1, 2], [3]].all(i, l, l.all(j, x, x > 0)) && [1].all(x, x == 1)");
        fails(
            "{'a': 1, 'b': 1}.transformMapEntry(k, v, {v: k}) == {}",
            "already exists",
        );
        fails("1.all(i, v, true)", "range over lists and maps");
    }
}
