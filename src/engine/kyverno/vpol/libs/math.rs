//! Kyverno's math library (kyverno/sdk `cel/libs/math`): `math.round`.

use super::declare;
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};

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

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "math.round", &[2], |a| {
        call("math.round", a, math_round)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::eval;

    #[test]
    fn rounds_half_away_from_zero() {
        let source = "math.round(2.345, 2) == 2.35 && math.round(-2.5, 0) == -3.0";
        assert_eq!(eval(source, None).unwrap(), cel::Value::Bool(true));
        assert!(eval("math.round('x', 1) == 1.0", None).is_err());
    }
}
