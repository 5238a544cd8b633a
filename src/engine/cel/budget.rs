//! The runtime budget: a bound on comprehension iterations (and concatenated
//! sizes) per evaluation.
//!
//! cel-rust has no cost limit or cancellation. Every comprehension (the
//! `all`/`exists`/`exists_one`/`map`/`filter` macros and their two-variable
//! forms) iterates over its `iter_range`, so after parsing, verdict wraps each
//! `iter_range` in a call to [`CHARGE`], an overload that adds the range's size
//! to a per-thread counter and fails once it passes the limit. The charge is
//! made before the loop starts, so a nested loop over 100 000 elements stops
//! after at most `limit` inner iterations; a loop that stops early
//! (`exists`) is still charged its whole range, as Kubernetes' cost estimate is.
//! No AST shape the crate optimises (`@result && x`, `@result + [x]`) changes.
//!
//! Concatenation needs no loop to grow (`cel.bind(a, s + s, cel.bind(b, a + a, ...))`
//! doubles per level), so every `+` outside a macro's accumulator is charged
//! the size of its result too (a string's length, a list's or map's size;
//! a number has no size and costs nothing).

use cel::common::ast::{operators::ADD, CallExpr, Expr};
use cel::common::value::CowVal;
use cel::{ExecutionError, IdedExpr};
use std::cell::Cell;

/// The function name of the charge; `@` keeps it out of reach of expressions.
pub(crate) const CHARGE: &str = "@verdict_charge";

/// What a budget failure's function error says, to tell it from other errors.
pub(crate) const EXHAUSTED: &str = "comprehension budget exhausted";

thread_local! {
    /// (iterations charged, limit) of the evaluation running on this thread.
    static BUDGET: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Runs `f` with a fresh budget of `limit` iterations, restoring the outer one
/// after (a custom function may evaluate another expression).
pub(crate) fn with_budget<T>(limit: u64, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<(u64, u64)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|b| b.replace(Some((0, limit)))));
    f()
}

/// The overload behind [`CHARGE`]: passes its argument through after charging its size.
pub(crate) fn charge<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let range = args
        .pop()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let size = range
        .as_sizer()
        .map(|s| (*s.size().inner()).max(0) as u64)
        .unwrap_or(0);
    let exhausted = BUDGET.with(|b| match b.get() {
        Some((used, limit)) => {
            let used = used.saturating_add(size);
            b.set(Some((used, limit)));
            used > limit
        }
        None => false,
    });
    if exhausted {
        Err(ExecutionError::function_error(CHARGE, EXHAUSTED))
    } else {
        Ok(range)
    }
}

/// Wraps the range of every comprehension in `expr` in a [`CHARGE`] call.
pub(crate) fn instrument(expr: &mut IdedExpr) {
    match &mut expr.expr {
        Expr::Comprehension(c) => {
            for child in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                instrument(child);
            }
            let range = std::mem::take(&mut c.iter_range);
            c.iter_range = IdedExpr {
                id: range.id,
                expr: Expr::Call(CallExpr {
                    func_name: CHARGE.to_string(),
                    target: None,
                    args: vec![range],
                }),
            };
        }
        Expr::Call(call) => {
            if let Some(target) = call.target.as_deref_mut() {
                instrument(target);
            }
            call.args.iter_mut().for_each(instrument);
            // `a + a` doubles a string or list: nested, it grows exponentially
            // without any loop, so a concatenation is charged its result's size.
            // A macro's accumulator step (`@result + [x]`) is charged by its range.
            let accumulates = matches!(call.args.first().map(|a| &a.expr), Some(Expr::Ident(n)) if n.starts_with('@'));
            if call.func_name == ADD && !accumulates {
                let sum = std::mem::take(expr);
                *expr = IdedExpr {
                    id: sum.id,
                    expr: Expr::Call(CallExpr {
                        func_name: CHARGE.to_string(),
                        target: None,
                        args: vec![sum],
                    }),
                };
            }
        }
        Expr::Select(select) => instrument(&mut select.operand),
        Expr::List(list) => list.elements.iter_mut().for_each(instrument),
        Expr::Map(map) => map
            .entries
            .iter_mut()
            .for_each(|e| instrument_entry(&mut e.expr)),
        Expr::Struct(s) => s
            .entries
            .iter_mut()
            .for_each(|e| instrument_entry(&mut e.expr)),
        _ => {}
    }
}

fn instrument_entry(entry: &mut cel::common::ast::EntryExpr) {
    match entry {
        cel::common::ast::EntryExpr::MapEntry(e) => {
            instrument(&mut e.key);
            instrument(&mut e.value);
        }
        cel::common::ast::EntryExpr::StructField(f) => instrument(&mut f.value),
    }
}
