//! Kubernetes resource quantities (`500m`, `1Gi`, `2e3`) with exact decimal
//! arithmetic, enough for Kyverno's `add`/`subtract`/`multiply`/`divide`/`modulo`
//! and for comparing quantities in conditions. Results print in Kubernetes'
//! canonical form (`1Gi` + `512Mi` = `1536Mi`).

use std::cmp::Ordering;

/// The notation a quantity was written in; results keep the left operand's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// Exactly `mantissa` × 10^`exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quantity {
    mantissa: i128,
    exponent: i32,
    pub format: Format,
}

const BINARY: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DECIMAL: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];
/// Quantities are held to nanoscale, as Kubernetes rounds them on parse.
const MIN_EXPONENT: i32 = -9;
const MAX_DIGITS: usize = 30;

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

impl Quantity {
    /// Parses Kubernetes' quantity syntax; `None` where `resource.ParseQuantity` errors.
    pub fn parse(text: &str) -> Option<Quantity> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, mut rest) = rest.split_at(int_len);
        let mut frac_part = "";
        if let Some(after) = rest.strip_prefix('.') {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after[..frac_len];
            rest = &after[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > MAX_DIGITS {
            return None;
        }
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut exponent = -(frac_part.len() as i32);
        let format;
        if let Some((_, power)) = BINARY.iter().find(|(s, _)| *s == rest) {
            format = Format::BinarySI;
            mantissa = mantissa.checked_mul(1024i128.checked_pow(*power)?)?;
        } else if let Some((_, power)) = DECIMAL.iter().find(|(s, _)| *s == rest) {
            format = Format::DecimalSI;
            exponent += power;
        } else if let Some(exp) = rest.strip_prefix(['e', 'E']) {
            let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || body.len() > 4 {
                return None;
            }
            format = Format::DecimalExponent;
            exponent += exp.parse::<i32>().ok()?;
        } else {
            return None;
        }
        if negative {
            mantissa = -mantissa;
        }
        let mut q = Quantity {
            mantissa,
            exponent,
            format,
        };
        q.round_to_nano();
        q.bound()
    }

    /// A quantity from a float, as Kyverno does via `ParseQuantity(fmt.Sprintf("%v", f))`.
    pub fn from_f64(value: f64, format: Format) -> Option<Quantity> {
        if !value.is_finite() {
            return None;
        }
        let text = format!("{:e}", value);
        let (mantissa, exp) = text.split_once('e')?;
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: i128 = format!("{int_part}{frac_part}").parse().ok()?;
        let exponent = exp.parse::<i32>().ok()? - frac_part.len() as i32;
        let mut q = Quantity {
            mantissa: digits,
            exponent,
            format,
        };
        q.round_to_nano();
        q.bound()
    }

    fn bound(self) -> Option<Quantity> {
        // Keep exponents where aligning two quantities cannot overflow.
        if self.mantissa != 0 && !(-40..=40).contains(&self.exponent) {
            return None;
        }
        Some(self)
    }

    fn round_to_nano(&mut self) {
        if self.exponent < MIN_EXPONENT {
            let shift = (MIN_EXPONENT - self.exponent) as u32;
            let Some(divisor) = pow10(shift) else {
                self.mantissa = self.mantissa.signum();
                self.exponent = MIN_EXPONENT;
                return;
            };
            let (quotient, remainder) = (self.mantissa / divisor, self.mantissa % divisor);
            // Kubernetes rounds away from zero here.
            self.mantissa = quotient + remainder.signum();
            self.exponent = MIN_EXPONENT;
        }
    }

    fn aligned(self, other: Quantity) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let a = self
            .mantissa
            .checked_mul(pow10((self.exponent - exponent) as u32)?)?;
        let b = other
            .mantissa
            .checked_mul(pow10((other.exponent - exponent) as u32)?)?;
        Some((a, b, exponent))
    }

    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Exact comparison; falls back to floats only when alignment would overflow.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        match self.aligned(*other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .to_f64()
                .partial_cmp(&other.to_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        let (a, b, exponent) = self.aligned(other)?;
        Some(Quantity {
            mantissa: a.checked_add(b)?,
            exponent,
            format: self.format,
        })
    }

    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        let (a, b, exponent) = self.aligned(other)?;
        Some(Quantity {
            mantissa: a.checked_sub(b)?,
            exponent,
            format: self.format,
        })
    }

    /// Exact product with a scalar quantity, keeping this quantity's notation.
    pub fn checked_mul(self, scalar: Quantity) -> Option<Quantity> {
        let mut q = Quantity {
            mantissa: self.mantissa.checked_mul(scalar.mantissa)?,
            exponent: self.exponent + scalar.exponent,
            format: self.format,
        };
        q.normalize();
        q.round_to_nano();
        q.bound()
    }

    /// Quotient truncated to the finer of the two operands' decimal places,
    /// as `inf.Dec.QuoRound(…, RoundDown)` does in Kyverno.
    pub fn checked_div(self, scalar: Quantity) -> Option<Quantity> {
        if scalar.mantissa == 0 {
            return None;
        }
        let scale = (-self.exponent).max(-scalar.exponent);
        // result = floor(a / b) at 10^-scale: (ma * 10^(ea + scale)) / (mb * 10^eb)
        let mut numerator = self.mantissa;
        let mut denominator = scalar.mantissa;
        let shift = self.exponent + scale - scalar.exponent;
        if shift >= 0 {
            numerator = numerator.checked_mul(pow10(shift as u32)?)?;
        } else {
            denominator = denominator.checked_mul(pow10((-shift) as u32)?)?;
        }
        let mut q = Quantity {
            mantissa: numerator / denominator,
            exponent: -scale,
            format: self.format,
        };
        q.normalize();
        q.round_to_nano();
        q.bound()
    }

    /// The integer value, when this quantity has no fractional part.
    pub fn as_integer(&self) -> Option<i128> {
        if self.exponent >= 0 {
            self.mantissa.checked_mul(pow10(self.exponent as u32)?)
        } else {
            let divisor = pow10((-self.exponent) as u32)?;
            (self.mantissa % divisor == 0).then(|| self.mantissa / divisor)
        }
    }

    pub fn from_integer(value: i128, format: Format) -> Quantity {
        Quantity {
            mantissa: value,
            exponent: 0,
            format,
        }
    }

    fn normalize(&mut self) {
        if self.mantissa == 0 {
            self.exponent = 0;
            return;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
    }

    /// Kubernetes' canonical text (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".into();
        }
        let mut format = self.format;
        if format == Format::BinarySI {
            let small = self.cmp_value(&Quantity::from_integer(1024, Format::DecimalSI))
                == Ordering::Less
                && self.cmp_value(&Quantity::from_integer(-1024, Format::DecimalSI))
                    == Ordering::Greater;
            match self.as_integer() {
                Some(mut value) if !small => {
                    let mut power = 0;
                    while power < BINARY.len() && value % 1024 == 0 {
                        value /= 1024;
                        power += 1;
                    }
                    let suffix = if power == 0 { "" } else { BINARY[power - 1].0 };
                    return format!("{value}{suffix}");
                }
                _ => format = Format::DecimalSI,
            }
        }
        let mut q = *self;
        q.normalize();
        let (mut mantissa, mut exponent) = (q.mantissa, q.exponent);
        match exponent.rem_euclid(3) {
            1 => {
                mantissa *= 10;
                exponent -= 1;
            }
            2 => {
                mantissa *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            Format::DecimalSI => match DECIMAL.iter().find(|(_, e)| *e == exponent) {
                Some((s, _)) => (*s).to_string(),
                None => format!("e{exponent}"),
            },
            _ if exponent == 0 => String::new(),
            _ => format!("e{exponent}"),
        };
        format!("{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn canonical_forms() {
        for (input, canonical) in [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("2e3", "2e3"),
            ("512", "512"),
            ("0", "0"),
            ("1.5Ki", "1536"),
            ("0.5Ki", "512"),
        ] {
            assert_eq!(q(input).canonical(), canonical, "{input}");
        }
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            q("1Gi").checked_add(q("512Mi")).unwrap().canonical(),
            "1536Mi"
        );
        assert_eq!(q("1").checked_sub(q("250m")).unwrap().canonical(), "750m");
        assert_eq!(
            q("1Gi").checked_div(q("3")).unwrap().canonical(),
            "357913941"
        );
        assert_eq!(
            q("250m")
                .checked_mul(Quantity::from_f64(4.0, Format::DecimalSI).unwrap())
                .unwrap()
                .canonical(),
            "1"
        );
        assert_eq!(q("1Gi").cmp_value(&q("1024Mi")), Ordering::Equal);
        assert_eq!(q("500m").cmp_value(&q("1")), Ordering::Less);
    }

    #[test]
    fn rejects_non_quantities() {
        for text in ["", "abc", "1s", "1h", "Gi", "1.2.3", "--1", "1e"] {
            assert!(Quantity::parse(text).is_none(), "{text}");
        }
    }
}
