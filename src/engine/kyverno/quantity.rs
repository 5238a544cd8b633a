//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) and Go durations
//! (`1h30m`), parsed the way Kyverno's pattern comparisons parse them.
//!
//! The main type here is [`Quantity`]: an exact decimal, so `1Gi`, `1024Mi` and
//! `1073741824` compare equal without floating-point surprises.

use std::cmp::Ordering;

/// Largest binary quantity Kubernetes keeps; bigger `Ki`..`Ei` values are clamped.
const BINARY_MAX: &str = "9223372036854775807";
/// Kubernetes rounds every quantity up (away from zero) to a multiple of 10^-9.
const NANO_EXPONENT: i64 = -9;
/// Decimal digits an `int64` always holds; longer numbers take the slow path.
const MAX_INT64_FACTORS: usize = 18;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    /// Most significant first, no leading or trailing zeros; empty means zero.
    digits: Vec<u8>,
    exponent: i64,
}

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
            Some(Quantity::normalized(parts.negative, digits, exponent10).round_up_to_nano())
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
            if value.cmp_magnitude(&max) == Ordering::Greater {
                Some(max)
            } else {
                Some(value)
            }
        }
    }

    fn zero() -> Quantity {
        Quantity {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
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
        Quantity::normalized(self.negative, digits, NANO_EXPONENT)
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
