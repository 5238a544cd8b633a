//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) and Go durations
//! (`1h30m`), parsed the way Kyverno's pattern comparisons parse them.
//!
//! The main type here is [`Quantity`]: an exact decimal, so `1Gi`, `1024Mi` and
//! `1073741824` compare equal without floating-point surprises. Pattern
//! comparisons, condition operators and the arithmetic JMESPath functions all
//! parse with it, as Kyverno calls `resource.ParseQuantity` in each.

use std::cmp::Ordering;

/// Largest binary quantity Kubernetes keeps; bigger `Ki`..`Ei` values are clamped.
const BINARY_MAX: &str = "9223372036854775807";
/// Kubernetes rounds every quantity up (away from zero) to a multiple of 10^-9.
const NANO_EXPONENT: i64 = -9;
/// Decimal digits an `int64` always holds; longer numbers take the slow path.
const MAX_INT64_FACTORS: usize = 18;

/// The notation a quantity was written in; arithmetic results keep the left operand's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// An exact resource quantity: `digits × 10^exponent`, with a sign.
///
/// ```
/// use verdict::engine::kyverno::quantity::Quantity;
/// let a = Quantity::parse("1Gi").unwrap();
/// let b = Quantity::parse("1024Mi").unwrap();
/// assert_eq!(a, b);
/// assert!(Quantity::parse("500m").unwrap() < Quantity::parse("1").unwrap());
/// assert!(Quantity::parse("1.2.3").is_none());
/// ```
/// Equality is by value: `1Gi == 1024Mi`.
#[derive(Debug, Clone)]
pub struct Quantity {
    negative: bool,
    /// Most significant first, no leading or trailing zeros; empty means zero.
    digits: Vec<u8>,
    exponent: i64,
    format: Format,
    /// The power of ten as written (`1000` is 1000×10^0, `1k` is 1×10^3):
    /// Kyverno's `divide` keeps the finer of its operands' scales.
    scale: i64,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl Quantity {
    /// Parses a quantity as `k8s.io/apimachinery` `ParseQuantity` does;
    /// `None` for anything it rejects.
    pub fn parse(text: &str) -> Option<Quantity> {
        if text.is_empty() {
            return None;
        }
        if text == "0" {
            return Some(Quantity::zero());
        }
        let parsed = Quantity::parse_value(text)?;
        Some(parsed)
    }

    fn parse_value(text: &str) -> Option<Quantity> {
        let parts = split_quantity(text.as_bytes())?;
        let (base, exponent) = interpret_suffix(parts.suffix)?;
        let mut digits: Vec<u8> = parts
            .num
            .iter()
            .chain(parts.denom.iter())
            .map(|d| d - b'0')
            .collect();
        let denom_len = parts.denom.len() as i32;
        if base == 10 {
            // Kubernetes does this arithmetic in int32 and lets it wrap; the
            // int64 fast path and the inf.Dec slow path wrap differently.
            let scale = exponent.wrapping_sub(denom_len);
            let fast = parts.num.len() + parts.denom.len() <= MAX_INT64_FACTORS && scale >= -9;
            let exponent10 = if fast {
                i64::from(scale)
            } else if parts.value_has_digit {
                -i64::from(denom_len.wrapping_add(exponent.wrapping_neg()))
            } else {
                return None;
            };
            let format = if parts.suffix.len() > 1 {
                Format::DecimalExponent
            } else {
                Format::DecimalSI
            };
            Some(
                Quantity::normalized(parts.negative, digits, exponent10)
                    .round_up_to_nano()
                    .written(format, exponent10),
            )
        } else {
            for _ in 0..exponent {
                double_in_place(&mut digits);
            }
            let value = Quantity::normalized(parts.negative, digits, -i64::from(denom_len))
                .round_up_to_nano();
            let max = Quantity::normalized(
                value.negative,
                BINARY_MAX.bytes().map(|d| d - b'0').collect(),
                0,
            );
            let value = if value.cmp_magnitude(&max) == Ordering::Greater {
                max
            } else {
                value
            };
            Some(value.written(Format::BinarySI, -i64::from(denom_len)))
        }
    }

    fn zero() -> Quantity {
        Quantity {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
            format: Format::DecimalSI,
            scale: 0,
        }
    }

    /// Records the notation and written scale (never finer than nano, where
    /// Kubernetes rounds).
    fn written(mut self, format: Format, scale: i64) -> Quantity {
        self.format = format;
        self.scale = scale.max(NANO_EXPONENT).min(self.exponent_or(scale));
        self
    }

    /// The normalized exponent, or `fallback` for zero (which has no digits).
    fn exponent_or(&self, fallback: i64) -> i64 {
        if self.digits.is_empty() {
            fallback.max(NANO_EXPONENT)
        } else {
            self.exponent
        }
    }

    /// The notation this quantity was written in.
    pub fn format(&self) -> Format {
        self.format
    }

    fn normalized(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Quantity {
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Quantity::zero();
        }
        Quantity {
            negative,
            digits,
            exponent,
            format: Format::DecimalSI,
            scale: exponent,
        }
    }

    fn round_up_to_nano(self) -> Quantity {
        if self.digits.is_empty() || self.exponent >= NANO_EXPONENT {
            return self;
        }
        let dropped = (NANO_EXPONENT - self.exponent) as usize;
        let mut digits = self.digits;
        let keep = digits.len().saturating_sub(dropped);
        let had_fraction = digits[keep..].iter().any(|d| *d != 0);
        digits.truncate(keep);
        if had_fraction {
            increment(&mut digits);
        }
        Quantity::normalized(self.negative, digits, NANO_EXPONENT).written(self.format, self.scale)
    }

    fn cmp_magnitude(&self, other: &Quantity) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let self_order = self.digits.len() as i64 + self.exponent;
        let other_order = other.digits.len() as i64 + other.exponent;
        self_order.cmp(&other_order).then_with(|| {
            let len = self.digits.len().max(other.digits.len());
            (0..len)
                .map(|i| {
                    let a = self.digits.get(i).copied().unwrap_or(0);
                    let b = other.digits.get(i).copied().unwrap_or(0);
                    a.cmp(&b)
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        })
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |q: &Quantity| match (q.digits.is_empty(), q.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if sign(self) < 0 => other.cmp_magnitude(self),
            Ordering::Equal => self.cmp_magnitude(other),
            unequal => unequal,
        }
    }
}

/// Binary suffixes by power of 1024, for canonical output.
const BINARY_SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
/// Arithmetic keeps exponents where aligning two operands cannot overflow an `i128`.
const ARITHMETIC_EXPONENTS: std::ops::RangeInclusive<i32> = -40..=40;

/// Arithmetic for Kyverno's `add`/`subtract`/`multiply`/`divide`/`modulo`
/// (exact within an `i128`; `None` means out of range), with results in
/// Kubernetes' canonical text (`1Gi` + `512Mi` = `1536Mi`).
impl Quantity {
    /// A quantity from a float, as Kyverno does via `ParseQuantity(fmt.Sprintf("%v", f))`.
    pub fn from_f64(value: f64, format: Format) -> Option<Quantity> {
        if !value.is_finite() {
            return None;
        }
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e')?;
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mantissa: i128 = format!("{int_part}{frac_part}").parse().ok()?;
        let exponent = exponent.parse::<i32>().ok()? - frac_part.len() as i32;
        Scaled {
            mantissa,
            exponent,
            format,
        }
        .rounded()
        .map(Scaled::into_quantity)
    }

    pub fn from_integer(value: i128, format: Format) -> Quantity {
        Scaled {
            mantissa: value,
            exponent: 0,
            format,
        }
        .into_quantity()
    }

    pub fn to_f64(&self) -> f64 {
        if self.digits.is_empty() {
            return 0.0;
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{digits}e{}", self.exponent)
            .parse()
            .unwrap_or(f64::NAN)
    }

    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        self.aligned_with(other, i128::checked_add)
    }

    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        self.aligned_with(other, i128::checked_sub)
    }

    /// Combines both mantissas at the finer of the two scales (sums and differences).
    fn aligned_with(
        &self,
        other: &Quantity,
        combine: fn(i128, i128) -> Option<i128>,
    ) -> Option<Quantity> {
        let (a, b) = (self.scaled()?, other.scaled()?);
        let (x, y, exponent) = a.aligned(&b)?;
        Scaled {
            mantissa: combine(x, y)?,
            exponent,
            format: a.format,
        }
        .bounded()
        .map(Scaled::into_quantity)
    }

    /// Exact product with a scalar quantity, keeping this quantity's notation.
    pub fn checked_mul(&self, scalar: &Quantity) -> Option<Quantity> {
        let (a, b) = (self.scaled()?, scalar.scaled()?);
        Scaled {
            mantissa: a.mantissa.checked_mul(b.mantissa)?,
            exponent: a.exponent + b.exponent,
            format: a.format,
        }
        .normalized()
        .rounded()
        .map(Scaled::into_quantity)
    }

    /// Quotient truncated to the finer of the two operands' written scales,
    /// as `inf.Dec.QuoRound(…, RoundDown)` does in Kyverno.
    pub fn checked_div(&self, scalar: &Quantity) -> Option<Quantity> {
        let (a, b) = (self.scaled()?, scalar.scaled()?);
        if b.mantissa == 0 {
            return None;
        }
        let scale = (-a.exponent).max(-b.exponent);
        // result = (ma × 10^(ea + scale)) / (mb × 10^eb), at 10^-scale
        let (mut numerator, mut denominator) = (a.mantissa, b.mantissa);
        let shift = a.exponent + scale - b.exponent;
        if shift >= 0 {
            numerator = numerator.checked_mul(pow10(shift.unsigned_abs())?)?;
        } else {
            denominator = denominator.checked_mul(pow10(shift.unsigned_abs())?)?;
        }
        Scaled {
            mantissa: numerator / denominator,
            exponent: -scale,
            format: a.format,
        }
        .normalized()
        .rounded()
        .map(Scaled::into_quantity)
    }

    /// Kubernetes' canonical text (`Quantity.String()`).
    pub fn canonical(&self) -> String {
        match self.scaled() {
            Some(scaled) => scaled.canonical(),
            None => {
                let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
                let sign = if self.negative { "-" } else { "" };
                format!("{sign}{digits}e{}", self.exponent)
            }
        }
    }

    /// The value at its written scale, when arithmetic can hold it.
    fn scaled(&self) -> Option<Scaled> {
        if self.digits.is_empty() {
            return Some(Scaled {
                mantissa: 0,
                exponent: i32::try_from(self.scale).ok()?,
                format: self.format,
            });
        }
        let exponent = i32::try_from(self.scale).ok()?;
        if !ARITHMETIC_EXPONENTS.contains(&exponent) || self.digits.len() > 38 {
            return None;
        }
        let mut mantissa: i128 = 0;
        for digit in &self.digits {
            mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(*digit))?;
        }
        let padding = u32::try_from(self.exponent - self.scale).ok()?;
        mantissa = mantissa.checked_mul(pow10(padding)?)?;
        if self.negative {
            mantissa = -mantissa;
        }
        Some(Scaled {
            mantissa,
            exponent,
            format: self.format,
        })
    }
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

/// Exactly `mantissa × 10^exponent`, as Kubernetes' `int64Amount`/`inf.Dec` hold it.
#[derive(Debug, Clone, Copy)]
struct Scaled {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

impl Scaled {
    fn into_quantity(self) -> Quantity {
        let digits = self
            .mantissa
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|d| d - b'0')
            .collect();
        Quantity::normalized(self.mantissa < 0, digits, i64::from(self.exponent))
            .written(self.format, i64::from(self.exponent))
    }

    fn bounded(self) -> Option<Scaled> {
        if self.mantissa != 0 && !ARITHMETIC_EXPONENTS.contains(&self.exponent) {
            return None;
        }
        Some(self)
    }

    /// Rounded away from zero to nano, as Kubernetes does, then bounded.
    fn rounded(mut self) -> Option<Scaled> {
        let nano = NANO_EXPONENT as i32;
        if self.exponent < nano {
            let shift = (nano - self.exponent).unsigned_abs();
            match pow10(shift) {
                Some(divisor) => {
                    let (quotient, remainder) = (self.mantissa / divisor, self.mantissa % divisor);
                    self.mantissa = quotient + remainder.signum();
                }
                None => self.mantissa = self.mantissa.signum(),
            }
            self.exponent = nano;
        }
        self.bounded()
    }

    fn normalized(mut self) -> Scaled {
        if self.mantissa == 0 {
            self.exponent = 0;
            return self;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        self
    }

    fn aligned(&self, other: &Scaled) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let a = self
            .mantissa
            .checked_mul(pow10((self.exponent - exponent).unsigned_abs())?)?;
        let b = other
            .mantissa
            .checked_mul(pow10((other.exponent - exponent).unsigned_abs())?)?;
        Some((a, b, exponent))
    }

    fn as_integer(&self) -> Option<i128> {
        if self.exponent >= 0 {
            self.mantissa
                .checked_mul(pow10(self.exponent.unsigned_abs())?)
        } else {
            let divisor = pow10(self.exponent.unsigned_abs())?;
            (self.mantissa % divisor == 0).then(|| self.mantissa / divisor)
        }
    }

    fn canonical(self) -> String {
        if self.mantissa == 0 {
            return "0".into();
        }
        let mut format = self.format;
        if format == Format::BinarySI {
            let small = self.as_integer().is_none_or(|v| v.abs() < 1024);
            match self.as_integer() {
                Some(mut value) if !small => {
                    let mut power = 0;
                    while power < BINARY_SUFFIXES.len() && value % 1024 == 0 {
                        value /= 1024;
                        power += 1;
                    }
                    let suffix = if power == 0 {
                        ""
                    } else {
                        BINARY_SUFFIXES[power - 1]
                    };
                    return format!("{value}{suffix}");
                }
                _ => format = Format::DecimalSI,
            }
        }
        let Scaled {
            mut mantissa,
            mut exponent,
            ..
        } = self.normalized();
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
            Format::DecimalSI => match interpret_decimal_exponent(exponent) {
                Some(suffix) => suffix.to_string(),
                None => format!("e{exponent}"),
            },
            _ if exponent == 0 => String::new(),
            _ => format!("e{exponent}"),
        };
        format!("{mantissa}{suffix}")
    }
}

/// The SI suffix for a power of ten, if there is one.
fn interpret_decimal_exponent(exponent: i32) -> Option<&'static str> {
    [
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
    ]
    .into_iter()
    .find(|(_, e)| *e == exponent)
    .map(|(suffix, _)| suffix)
}

struct QuantityParts<'a> {
    negative: bool,
    num: &'a [u8],
    denom: &'a [u8],
    suffix: &'a [u8],
    /// Whether the signed-number prefix holds a digit; the slow path needs one.
    value_has_digit: bool,
}

/// Splits `[+-]digits[.digits]suffix` the way `parseQuantityString` does,
/// including its quirks (`"+"` and `"."` are zero).
fn split_quantity(text: &[u8]) -> Option<QuantityParts<'_>> {
    let mut pos = 0;
    let mut negative = false;
    match text.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let sign_end = pos;
    while pos < text.len() && text[pos] == b'0' {
        pos += 1;
    }
    let had_zero = pos > sign_end;
    if pos == text.len() {
        return Some(QuantityParts {
            negative,
            num: b"0",
            denom: b"",
            suffix: b"",
            value_has_digit: true,
        });
    }
    let num_start = pos;
    while pos < text.len() && text[pos].is_ascii_digit() {
        pos += 1;
    }
    let num: &[u8] = if pos == num_start {
        b"0"
    } else {
        &text[num_start..pos]
    };
    let mut has_digit = had_zero || pos > num_start;
    let mut denom: &[u8] = b"";
    if pos < text.len() && text[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < text.len() && text[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &text[denom_start..pos];
        has_digit |= !denom.is_empty();
    }
    let suffix_start = pos;
    while pos < text.len() && b"eEinumkKMGTP".contains(&text[pos]) {
        pos += 1;
    }
    if pos < text.len() && (text[pos] == b'-' || text[pos] == b'+') {
        pos += 1;
    }
    while pos < text.len() && text[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < text.len() {
        return None;
    }
    Some(QuantityParts {
        negative,
        num,
        denom,
        suffix: &text[suffix_start..],
        value_has_digit: has_digit,
    })
}

/// Returns (base, exponent) for a suffix, as Kubernetes' suffixer does.
fn interpret_suffix(suffix: &[u8]) -> Option<(u32, i32)> {
    let decimal = match suffix {
        b"n" => Some(-9),
        b"u" => Some(-6),
        b"m" => Some(-3),
        b"" => Some(0),
        b"k" => Some(3),
        b"M" => Some(6),
        b"G" => Some(9),
        b"T" => Some(12),
        b"P" => Some(15),
        b"E" => Some(18),
        _ => None,
    };
    if let Some(exponent) = decimal {
        return Some((10, exponent));
    }
    let binary = match suffix {
        b"Ki" => Some(10),
        b"Mi" => Some(20),
        b"Gi" => Some(30),
        b"Ti" => Some(40),
        b"Pi" => Some(50),
        b"Ei" => Some(60),
        _ => None,
    };
    if let Some(exponent) = binary {
        return Some((2, exponent));
    }
    if suffix.len() > 1 && (suffix[0] == b'e' || suffix[0] == b'E') {
        let rest = std::str::from_utf8(&suffix[1..]).ok()?;
        let parsed = parse_go_int64(rest)?;
        // Go truncates the int64 exponent to int32.
        return Some((10, parsed as i32));
    }
    None
}

/// `strconv.ParseInt(s, 10, 64)`: optional sign, ASCII digits, no overflow.
fn parse_go_int64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

fn double_in_place(digits: &mut Vec<u8>) {
    let mut carry = 0;
    for digit in digits.iter_mut().rev() {
        let doubled = *digit * 2 + carry;
        *digit = doubled % 10;
        carry = doubled / 10;
    }
    if carry > 0 {
        digits.insert(0, carry);
    }
}

fn increment(digits: &mut Vec<u8>) {
    for digit in digits.iter_mut().rev() {
        if *digit == 9 {
            *digit = 0;
        } else {
            *digit += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

/// Parses a Go `time.ParseDuration` string to nanoseconds; `None` where Go errors.
///
/// ```
/// use verdict::engine::kyverno::quantity::parse_duration;
/// assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
/// assert_eq!(parse_duration("-1.5s"), Some(-1_500_000_000));
/// assert_eq!(parse_duration("0"), Some(0));
/// assert_eq!(parse_duration("10"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let mut rest = text.as_bytes();
    let mut negative = false;
    if let Some(&sign) = rest.first() {
        if sign == b'-' || sign == b'+' {
            negative = sign == b'-';
            rest = &rest[1..];
        }
    }
    if rest == b"0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !(rest[0] == b'.' || rest[0].is_ascii_digit()) {
            return None;
        }
        let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut whole: u64 = 0;
        for &b in &rest[..int_len] {
            if whole > LIMIT / 10 {
                return None;
            }
            whole = whole * 10 + u64::from(b - b'0');
            if whole > LIMIT {
                return None;
            }
        }
        rest = &rest[int_len..];
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if rest.first() == Some(&b'.') {
            rest = &rest[1..];
            frac_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let mut overflow = false;
            for &b in &rest[..frac_len] {
                if overflow {
                    continue;
                }
                if fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(b - b'0');
                if next > LIMIT {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            rest = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return None;
        }
        let unit_len = rest
            .iter()
            .take_while(|b| !(**b == b'.' || b.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return None;
        }
        let unit: u64 = match std::str::from_utf8(&rest[..unit_len]).ok()? {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        if whole > LIMIT / unit {
            return None;
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return None;
            }
        }
        total += value;
        if total > LIMIT {
            return None;
        }
    }
    if negative {
        return Some((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return None;
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn equal_spellings_compare_equal() {
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1k"), q("1e3"));
        assert_eq!(q("1k"), q("1E3"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("-0"), q("0"));
        assert_eq!(q("+"), q("0"));
        assert_eq!(q("."), q("0"));
        assert_eq!(q("1.5Ki"), q("1536"));
    }

    #[test]
    fn ordering() {
        assert!(q("100m") < q("1"));
        assert!(q("-2") < q("-1"));
        assert!(q("1Mi") > q("1M"));
        assert!(q("1e100") > q("1e99"));
        assert!(q("1n") > q("0"));
    }

    #[test]
    fn rounds_up_to_nano() {
        assert_eq!(q("0.0000000001"), q("1n"));
        assert_eq!(q("-0.0000000001"), q("-1n"));
        assert_eq!(q("1e-20"), q("1n"));
    }

    #[test]
    fn binary_is_clamped() {
        assert_eq!(q("100000000Ei"), q("9223372036854775807"));
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1ki",
            "1e",
            "1Kii",
            "?*",
            "1 ",
            " 1",
            ".e-20",
            "1e99999999999999999999",
        ] {
            assert!(Quantity::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn bare_signs_and_suffixes_are_zero_as_in_kubernetes() {
        assert_eq!(q("Gi"), q("0"));
        assert_eq!(q("+"), q("0"));
        assert_eq!(q("Gi").format(), Format::BinarySI);
        assert_eq!(q("1e3").format(), Format::DecimalExponent);
        assert_eq!(q("1E").format(), Format::DecimalSI);
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
        let sum = q("1Gi").checked_add(&q("512Mi")).unwrap();
        assert_eq!(sum.canonical(), "1536Mi");
        assert_eq!(q("1").checked_sub(&q("250m")).unwrap().canonical(), "750m");
        assert_eq!(
            q("1Gi").checked_div(&q("3")).unwrap().canonical(),
            "357913941"
        );
        // The written scale decides the quotient's precision: 1000 is not 1k here.
        assert_eq!(q("1000").checked_div(&q("100")).unwrap().canonical(), "10");
        assert_eq!(q("1.0").checked_div(&q("3")).unwrap().canonical(), "300m");
        let four = Quantity::from_f64(4.0, Format::DecimalSI).unwrap();
        assert_eq!(q("250m").checked_mul(&four).unwrap().canonical(), "1");
        assert_eq!(q("1Gi").cmp(&q("1024Mi")), Ordering::Equal);
        assert_eq!(q("1e100").to_f64(), 1e100);
        // Beyond what i128 arithmetic holds is out of range, not wrong.
        assert!(q("1e100").checked_add(&q("1")).is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("1µs"), Some(1_000));
        assert_eq!(parse_duration("2562047h47m16.854775807s"), Some(i64::MAX));
        assert_eq!(parse_duration("-2562047h47m16.854775808s"), Some(i64::MIN));
        assert_eq!(parse_duration("2562047h47m16.854775808s"), None);
        for bad in ["", "1", ".s", "1d", "s", "1h-1m", "+", "-"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
