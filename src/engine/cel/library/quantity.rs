//! Kubernetes' quantity library: `quantity`, `isQuantity` and the Quantity
//! methods (k8s.io/apiserver/pkg/cel/library/quantity.go). A quantity is kept
//! exactly as `digits × 10^exponent` (binary suffixes multiplied out), so
//! `quantity('1Gi') == quantity('1073741824')` and comparisons are exact.

use super::{global, member, op, opaque, text};
use cel::common::types::{Type, INT_TYPE, STRING_TYPE};
use cel::objects::Opaque;
use cel::{DeclarationError, Env, Value};
use std::cmp::Ordering;
use std::sync::Arc;

const TYPE_NAME: &str = "kubernetes.Quantity";

/// `digits × 10^exponent`, normalised (no trailing zero digits; zero has exponent 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    digits: i128,
    exponent: i32,
}

impl Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

impl Quantity {
    fn new(mut digits: i128, mut exponent: i32) -> Quantity {
        if digits == 0 {
            return Quantity {
                digits: 0,
                exponent: 0,
            };
        }
        while digits % 10 == 0 {
            digits /= 10;
            exponent += 1;
        }
        Quantity { digits, exponent }
    }

    /// Parses Kubernetes' quantity syntax: a signed decimal number and an
    /// optional suffix (`Ki`..`Ei`, `n`, `u`, `m`, `k`, `M`..`E`, or `e<int>`).
    fn parse(s: &str) -> Result<Quantity, String> {
        let invalid = || {
            format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTPE]*[-+]?[0-9]*)$': {s:?}")
        };
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (negative, number) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let all_digits = format!("{whole}{fraction}");
        let significant = all_digits.trim_start_matches('0');
        // Trailing zeros go to the exponent, so `50000000G` needs 2 digits, not 8.
        let trimmed = significant.trim_end_matches('0');
        let mut exponent = (significant.len() - trimmed.len()) as i32 - fraction.len() as i32;
        if trimmed.len() > 38 {
            return Err(format!(
                "quantity {s:?} has more than 38 significant digits"
            ));
        }
        let mut digits: i128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().map_err(|_| invalid())?
        };
        let binary = |power: u32| 1024_i128.pow(power);
        match suffix {
            "" => {}
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let power = "KMGTPE".find(&suffix[..1]).expect("listed") as u32 + 1;
                digits = digits
                    .checked_mul(binary(power))
                    .ok_or_else(|| format!("quantity {s:?} is too large"))?;
            }
            "n" => exponent -= 9,
            "u" => exponent -= 6,
            "m" => exponent -= 3,
            "k" => exponent += 3,
            "M" => exponent += 6,
            "G" => exponent += 9,
            "T" => exponent += 12,
            "P" => exponent += 15,
            "E" => exponent += 18,
            other => {
                let power = other.strip_prefix(['e', 'E']).ok_or_else(invalid)?;
                let power: i32 = power.parse().map_err(|_| invalid())?;
                if power.abs() > 100 {
                    return Err(format!("quantity {s:?} is out of range"));
                }
                exponent += power;
            }
        }
        Ok(Quantity::new(
            if negative { -digits } else { digits },
            exponent,
        ))
    }

    fn from_int(i: i64) -> Quantity {
        Quantity::new(i as i128, 0)
    }

    fn as_f64(self) -> f64 {
        self.digits as f64 * 10f64.powi(self.exponent)
    }

    /// Both as digits over one exponent, or `None` when that overflows.
    fn aligned(self, other: Quantity) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let scale = |q: Quantity| {
            10i128
                .checked_pow((q.exponent - exponent) as u32)
                .and_then(|p| q.digits.checked_mul(p))
        };
        Some((scale(self)?, scale(other)?, exponent))
    }

    fn compare(self, other: Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn add(self, other: Quantity) -> Result<Quantity, String> {
        let (a, b, exponent) = self.aligned(other).ok_or("quantity overflow")?;
        Ok(Quantity::new(
            a.checked_add(b).ok_or("quantity overflow")?,
            exponent,
        ))
    }

    fn as_integer(self) -> Option<i64> {
        if self.exponent < 0 {
            return None;
        }
        let value = self
            .digits
            .checked_mul(10i128.checked_pow(self.exponent as u32)?)?;
        i64::try_from(value).ok()
    }
}

fn quantity_type() -> Type {
    Type::new_opaque_type(TYPE_NAME)
}

fn arg(args: &[Value], n: usize) -> Result<Quantity, String> {
    opaque::<Quantity>(args, n, "quantity")
}

fn other(args: &[Value]) -> Result<Quantity, String> {
    match args.get(1) {
        Some(Value::Int(i)) => Ok(Quantity::from_int(*i)),
        _ => arg(args, 1),
    }
}

fn wrap(q: Quantity) -> Value {
    Value::Opaque(Arc::new(q))
}

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(quantity_type())?;
    let q = quantity_type;
    global(
        env,
        "quantity",
        vec![STRING_TYPE],
        op!("quantity", |a| Ok(wrap(Quantity::parse(text(a, 0)?)?))),
    )?;
    global(
        env,
        "isQuantity",
        vec![STRING_TYPE],
        op!("isQuantity", |a| Ok(Value::Bool(
            Quantity::parse(text(a, 0)?).is_ok()
        ))),
    )?;
    // Kubernetes declares `sign` as a global overload, and documents it as a method: both work.
    global(
        env,
        "sign",
        vec![q()],
        op!("sign", |a| Ok(
            Value::Int(arg(a, 0)?.digits.signum() as i64)
        )),
    )?;
    member(
        env,
        "sign",
        q(),
        vec![],
        op!("sign", |a| Ok(
            Value::Int(arg(a, 0)?.digits.signum() as i64)
        )),
    )?;
    member(
        env,
        "isInteger",
        q(),
        vec![],
        op!("isInteger", |a| Ok(Value::Bool(
            arg(a, 0)?.as_integer().is_some()
        ))),
    )?;
    member(
        env,
        "asInteger",
        q(),
        vec![],
        op!("asInteger", |a| {
            arg(a, 0)?
                .as_integer()
                .map(Value::Int)
                .ok_or_else(|| "cannot convert value to integer".to_string())
        }),
    )?;
    member(
        env,
        "asApproximateFloat",
        q(),
        vec![],
        op!("asApproximateFloat", |a| Ok(Value::Float(
            arg(a, 0)?.as_f64()
        ))),
    )?;
    for rhs in [q as fn() -> Type, || INT_TYPE] {
        member(
            env,
            "add",
            q(),
            vec![rhs()],
            op!("add", |a| Ok(wrap(arg(a, 0)?.add(other(a)?)?))),
        )?;
        member(
            env,
            "sub",
            q(),
            vec![rhs()],
            op!("sub", |a| {
                let rhs = other(a)?;
                Ok(wrap(arg(a, 0)?.add(Quantity {
                    digits: -rhs.digits,
                    exponent: rhs.exponent,
                })?))
            }),
        )?;
    }
    member(
        env,
        "compareTo",
        q(),
        vec![q()],
        op!("compareTo", |a| Ok(Value::Int(
            arg(a, 0)?.compare(arg(a, 1)?) as i64
        ))),
    )?;
    member(
        env,
        "isGreaterThan",
        q(),
        vec![q()],
        op!("isGreaterThan", |a| Ok(Value::Bool(
            arg(a, 0)?.compare(arg(a, 1)?) == Ordering::Greater
        ))),
    )?;
    member(
        env,
        "isLessThan",
        q(),
        vec![q()],
        op!("isLessThan", |a| Ok(Value::Bool(
            arg(a, 0)?.compare(arg(a, 1)?) == Ordering::Less
        ))),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, holds};
    use super::Quantity;

    #[test]
    fn parses_kubernetes_suffixes() {
        assert_eq!(
            Quantity::parse("1Gi").unwrap(),
            Quantity::parse("1073741824").unwrap()
        );
        assert_eq!(
            Quantity::parse("500m").unwrap(),
            Quantity::parse("0.5").unwrap()
        );
        assert_eq!(
            Quantity::parse("1.5k").unwrap(),
            Quantity::parse("1500").unwrap()
        );
        assert_eq!(
            Quantity::parse("1e3").unwrap(),
            Quantity::parse("1k").unwrap()
        );
        for bad in ["", "abc", "1.2.3", "1Qi", "--1", "1 Gi"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn quantity_library() {
        // The examples of Kubernetes' quantity library documentation.
        holds("isQuantity('1.3G') && isQuantity('1.3Gi') && !isQuantity('1,3G') && isQuantity('10000k')");
        holds("!isQuantity('200K') && !isQuantity('Three') && !isQuantity('Mi')");
        holds("quantity('50000000G').isInteger() && quantity('50k').isInteger() && !quantity('9999999999999999999999999999999999999G').isInteger()");
        holds("quantity('50k').asInteger() == 50000 && quantity('50k').sub(20000).asApproximateFloat() == 30000.0");
        holds("quantity('50k').add(20) == quantity('50020') && quantity('50k').sub(20000) == quantity('30k')");
        holds("quantity('50k').add(20).sub(quantity('100k')).sub(-50000) == quantity('20')");
        holds("quantity('200M').compareTo(quantity('0.2G')) == 0 && quantity('50M').compareTo(quantity('50Mi')) == -1");
        holds("quantity('50Mi').compareTo(quantity('50M')) == 1 && quantity('150Mi').isGreaterThan(quantity('100Mi'))");
        holds("!quantity('50Mi').isGreaterThan(quantity('100Mi')) && quantity('50M').isLessThan(quantity('100M'))");
        holds("quantity('-5').sign() == -1 && sign(quantity('0')) == 0 && quantity('1Gi') == quantity('1024Mi')");
        holds("quantity('1').isInteger() && !quantity('500m').isInteger() && quantity('1.5').asApproximateFloat() == 1.5");
        fails(
            "quantity('9999999999999999999999999999999999999G').asInteger() == 0",
            "cannot convert value to integer",
        );
        fails(
            "quantity('500m').asInteger() == 0",
            "cannot convert value to integer",
        );
        fails(
            "quantity('Three') == quantity('1')",
            "quantities must match",
        );
    }
}
