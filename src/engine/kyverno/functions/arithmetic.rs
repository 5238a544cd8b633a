//! Kyverno's arithmetic functions: operands are numbers, quantities (`"1Gi"`)
//! or Go durations (`"1h"`), tried in that order, with Kyverno's table of which
//! pairs combine and what type comes out.

use serde_json::Value;

use super::super::quantity::{Format, Quantity};
use super::duration::{format_go_duration, parse_go_duration};
use super::go_text::number;
use super::interpreter::{Args, EvalError};

#[derive(Debug, Clone)]
enum Operand {
    Scalar(f64),
    Quantity(Quantity),
    Duration(i64),
}

fn operand(args: &Args, index: usize) -> Result<Operand, EvalError> {
    let invalid = || EvalError::function(args.name, "invalid operand");
    match args.value(index)? {
        Value::Number(n) => n.as_f64().map(Operand::Scalar).ok_or_else(invalid),
        Value::String(s) => {
            if let Some(q) = Quantity::parse(s) {
                Ok(Operand::Quantity(q))
            } else if let Some(d) = parse_go_duration(s) {
                Ok(Operand::Duration(d))
            } else {
                Err(invalid())
            }
        }
        _ => Err(invalid()),
    }
}

fn operands(args: &Args) -> Result<(Operand, Operand), EvalError> {
    args.arity(2)?;
    Ok((operand(args, 0)?, operand(args, 1)?))
}

fn mismatch(name: &str) -> EvalError {
    EvalError::function(name, "Types mismatch")
}

fn overflow(name: &str) -> EvalError {
    EvalError::function(name, "result out of range")
}

fn zero_division(name: &str) -> EvalError {
    EvalError::function(name, "Zero divisor passed")
}

fn duration_value(nanos: i128, name: &str) -> Result<Value, EvalError> {
    i64::try_from(nanos)
        .map(|n| Value::String(format_go_duration(n)))
        .map_err(|_| overflow(name))
}

fn seconds(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

/// Converts float seconds to Go's `time.Duration(seconds * float64(time.Second))`.
fn duration_from_seconds(secs: f64, name: &str) -> Result<Value, EvalError> {
    let nanos = secs * 1e9;
    if !nanos.is_finite() || nanos.abs() >= 9.2e18 {
        return Err(overflow(name));
    }
    duration_value(nanos as i128, name)
}

fn add_pair(name: &str, left: Operand, right: Operand) -> Result<Value, EvalError> {
    match (left, right) {
        (Operand::Scalar(a), Operand::Scalar(b)) => Ok(number(a + b)),
        (Operand::Quantity(a), Operand::Quantity(b)) => a
            .checked_add(&b)
            .map(|q| Value::String(q.canonical()))
            .ok_or_else(|| overflow(name)),
        (Operand::Duration(a), Operand::Duration(b)) => {
            duration_value(i128::from(a) + i128::from(b), name)
        }
        _ => Err(mismatch(name)),
    }
}

/// `add(a, b)`.
pub(crate) fn add(args: &Args) -> Result<Value, EvalError> {
    let (left, right) = operands(args)?;
    add_pair(args.name, left, right)
}

/// `sum(array)`: Kyverno's replacement of the standard `sum`, folding with `add`.
pub(crate) fn sum(args: &Args) -> Result<Value, EvalError> {
    args.arity(1)?;
    let items = args.array(0).map_err(|_| mismatch(args.name))?;
    let Some((first, rest)) = items.split_first() else {
        return Err(EvalError::function(
            args.name,
            "at least one element in the array is required",
        ));
    };
    let mut acc = first.clone();
    for item in rest {
        let pair = Args {
            name: args.name,
            items: vec![
                super::interpreter::Arg::Value(std::borrow::Cow::Owned(acc)),
                super::interpreter::Arg::Value(std::borrow::Cow::Borrowed(item)),
            ],
        };
        let (left, right) = operands(&pair)?;
        acc = add_pair(args.name, left, right)?;
    }
    Ok(acc)
}

/// `subtract(a, b)`.
pub(crate) fn subtract(args: &Args) -> Result<Value, EvalError> {
    let name = args.name;
    match operands(args)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => Ok(number(a - b)),
        (Operand::Quantity(a), Operand::Quantity(b)) => a
            .checked_sub(&b)
            .map(|q| Value::String(q.canonical()))
            .ok_or_else(|| overflow(name)),
        (Operand::Duration(a), Operand::Duration(b)) => {
            duration_value(i128::from(a) - i128::from(b), name)
        }
        _ => Err(mismatch(name)),
    }
}

fn scale_quantity(q: Quantity, factor: f64, name: &str) -> Result<Value, EvalError> {
    let scalar = Quantity::from_f64(factor, Format::DecimalSI).ok_or_else(|| overflow(name))?;
    q.checked_mul(&scalar)
        .map(|p| Value::String(p.canonical()))
        .ok_or_else(|| overflow(name))
}

/// `multiply(a, b)`.
pub(crate) fn multiply(args: &Args) -> Result<Value, EvalError> {
    let name = args.name;
    match operands(args)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => Ok(number(a * b)),
        (Operand::Quantity(q), Operand::Scalar(s)) | (Operand::Scalar(s), Operand::Quantity(q)) => {
            scale_quantity(q, s, name)
        }
        (Operand::Duration(d), Operand::Scalar(s)) | (Operand::Scalar(s), Operand::Duration(d)) => {
            duration_from_seconds(seconds(d) * s, name)
        }
        _ => Err(mismatch(name)),
    }
}

/// `divide(a, b)`.
pub(crate) fn divide(args: &Args) -> Result<Value, EvalError> {
    let name = args.name;
    match operands(args)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => {
            if b == 0.0 {
                return Err(zero_division(name));
            }
            Ok(number(a / b))
        }
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let divisor = b.to_f64();
            if divisor == 0.0 {
                return Err(zero_division(name));
            }
            Ok(number(a.to_f64() / divisor))
        }
        (Operand::Quantity(q), Operand::Scalar(s)) => {
            if s == 0.0 {
                return Err(zero_division(name));
            }
            let scalar = Quantity::from_f64(s, Format::DecimalSI).ok_or_else(|| overflow(name))?;
            q.checked_div(&scalar)
                .map(|r| Value::String(r.canonical()))
                .ok_or_else(|| overflow(name))
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if b == 0 {
                return Err(zero_division(name));
            }
            Ok(number(seconds(a) / seconds(b)))
        }
        (Operand::Duration(d), Operand::Scalar(s)) => {
            if s == 0.0 {
                return Err(zero_division(name));
            }
            duration_from_seconds(seconds(d) / s, name)
        }
        _ => Err(mismatch(name)),
    }
}

fn whole(value: f64, name: &str) -> Result<i64, EvalError> {
    let truncated = value as i64;
    if truncated as f64 != value {
        return Err(EvalError::function(
            name,
            "Non-integer argument(s) passed for modulo",
        ));
    }
    Ok(truncated)
}

/// `modulo(a, b)`.
pub(crate) fn modulo(args: &Args) -> Result<Value, EvalError> {
    let name = args.name;
    match operands(args)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => {
            let (a, b) = (whole(a, name)?, whole(b, name)?);
            if b == 0 {
                return Err(zero_division(name));
            }
            Ok(number(a.wrapping_rem(b) as f64))
        }
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let (x, y) = (whole(a.to_f64(), name)?, whole(b.to_f64(), name)?);
            if y == 0 {
                return Err(zero_division(name));
            }
            Ok(Value::String(
                Quantity::from_integer(i128::from(x.wrapping_rem(y)), a.format()).canonical(),
            ))
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if b == 0 {
                return Err(zero_division(name));
            }
            duration_value(i128::from(a.wrapping_rem(b)), name)
        }
        _ => Err(mismatch(name)),
    }
}

/// `round(number, digits)`.
pub(crate) fn round(args: &Args) -> Result<Value, EvalError> {
    args.arity(2)?;
    let value = args.number(0)?;
    let digits = args.number(1)?;
    if digits.fract() != 0.0 || !digits.is_finite() {
        return Err(EvalError::function(
            args.name,
            "Non-integer argument(s) passed for round off",
        ));
    }
    if digits < 0.0 {
        return Err(EvalError::function(
            args.name,
            format!("2 argument is out of bounds ({digits})"),
        ));
    }
    let shift = 10f64.powi(digits.min(400.0) as i32);
    // Go's math.Round rounds half away from zero, as f64::round does.
    Ok(number((value * shift).round() / shift))
}
