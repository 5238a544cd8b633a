//! Go `time.Duration` text: Kyverno parses and prints durations with Go's
//! rules (`1h30m`, `1.5s`, `500ms`), so arithmetic and comparisons must too.

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

/// Parses Go's duration syntax (`[-+]?(\d*(\.\d*)?unit)+`, or a bare `0`) into nanoseconds.
/// Returns `None` where Go's `time.ParseDuration` returns an error (including overflow).
pub fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SECOND,
            "m" => NANOS_PER_MINUTE,
            "h" => NANOS_PER_HOUR,
            _ => return None,
        } as u128;
        rest = &rest[unit_len..];
        let mut whole: u128 = 0;
        for digit in int_part.bytes() {
            whole = whole
                .checked_mul(10)?
                .checked_add(u128::from(digit - b'0'))?;
            if whole > 1 << 63 {
                return None;
            }
        }
        let mut component = whole.checked_mul(unit)?;
        if !frac_part.is_empty() {
            let mut scale: u128 = 1;
            let mut fraction: u128 = 0;
            for digit in frac_part.bytes().take(30) {
                fraction = fraction * 10 + u128::from(digit - b'0');
                scale *= 10;
            }
            component += fraction * unit / scale;
        }
        total = total.checked_add(component)?;
        if total > 1 << 63 {
            return None;
        }
    }
    if negative {
        if total > 1 << 63 {
            return None;
        }
        Some((total as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(total).ok()
    }
}

/// Formats nanoseconds the way Go's `Duration.String` does (`1h0m0s`, `1.5s`, `2µs`, `0s`).
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let negative = nanos < 0;
    let magnitude = nanos.unsigned_abs();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if magnitude < NANOS_PER_SECOND as u64 {
        let (unit, divisor, digits) = if magnitude < NANOS_PER_MICRO as u64 {
            ("ns", 1u64, 0)
        } else if magnitude < NANOS_PER_MILLI as u64 {
            ("\u{b5}s", NANOS_PER_MICRO as u64, 3)
        } else {
            ("ms", NANOS_PER_MILLI as u64, 6)
        };
        out.push_str(&with_fraction(
            magnitude / divisor,
            magnitude % divisor,
            digits,
        ));
        out.push_str(unit);
        return out;
    }
    let hours = magnitude / NANOS_PER_HOUR as u64;
    let minutes = (magnitude / NANOS_PER_MINUTE as u64) % 60;
    let second_nanos = magnitude % NANOS_PER_MINUTE as u64;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&with_fraction(
        second_nanos / NANOS_PER_SECOND as u64,
        second_nanos % NANOS_PER_SECOND as u64,
        9,
    ));
    out.push('s');
    out
}

fn with_fraction(whole: u64, fraction: u64, digits: usize) -> String {
    if fraction == 0 || digits == 0 {
        return whole.to_string();
    }
    let padded = format!("{fraction:0digits$}");
    format!("{whole}.{}", padded.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_go_examples() {
        for (text, nanos, printed) in [
            ("1h", NANOS_PER_HOUR, "1h0m0s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("90m", 90 * NANOS_PER_MINUTE, "1h30m0s"),
            ("-2m3s", -123 * NANOS_PER_SECOND, "-2m3s"),
            ("300ms", 300 * NANOS_PER_MILLI, "300ms"),
            ("2us", 2_000, "2\u{b5}s"),
            (
                "1h1m1.000000001s",
                NANOS_PER_HOUR + NANOS_PER_MINUTE + NANOS_PER_SECOND + 1,
                "1h1m1.000000001s",
            ),
            ("0", 0, "0s"),
        ] {
            assert_eq!(parse_go_duration(text), Some(nanos), "{text}");
            assert_eq!(format_go_duration(nanos), printed, "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for text in [
            "",
            "1",
            "s",
            "1x",
            ".s",
            "-",
            "9999999999999999999h",
            "1.2.3s",
        ] {
            assert_eq!(parse_go_duration(text), None, "{text}");
        }
    }
}
