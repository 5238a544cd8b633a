//! How Go prints values. Kyverno stringifies with `json.Marshal` (embedded
//! variables, `to_string`), `fmt.Sprint` (In/AnyIn operands) and
//! `strconv.FormatFloat(f, 'f', -1, 32)` (regex functions), and the exact text
//! decides whether a pattern or a message matches.

use serde_json::{Number, Value};

/// A JSON number from a float, integral values as integers so `3.0` equals `3`.
pub(crate) fn number(value: f64) -> Value {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(value as i64))
    } else {
        Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Shortest decimal digits and exponent of `value` (`digits` × 10^(`exponent` + 1 − len)).
fn shortest_digits(value: f64) -> (String, i32) {
    let text = format!("{:e}", value.abs());
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
}

fn exponent_form(negative: bool, digits: &str, exponent: i32, min_exp_digits: usize) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    out.push_str(&format!("{:0min_exp_digits$}", exponent.unsigned_abs()));
    out
}

fn plain_form(negative: bool, digits: &str, exponent: i32) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    let point = exponent + 1;
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// Go's `%v` for a float64 (`strconv` `'g'`, shortest): `1e+06`, `123456`, `0.5`.
pub(crate) fn format_float_v(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (digits, exponent) = shortest_digits(value);
    if !(-4..6).contains(&exponent) {
        exponent_form(value < 0.0, &digits, exponent, 2)
    } else {
        plain_form(value < 0.0, &digits, exponent)
    }
}

/// Go's `encoding/json` text for a float64: plain between 1e-6 and 1e21, else `1e+21`.
pub(crate) fn format_float_json(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".into();
    }
    let (digits, exponent) = shortest_digits(value);
    let abs = value.abs();
    if !(1e-6..1e21).contains(&abs) {
        exponent_form(value < 0.0, &digits, exponent, 1)
    } else {
        plain_form(value < 0.0, &digits, exponent)
    }
}

/// Kyverno's `ifaceToString`: floats go through `FormatFloat(f, 'f', -1, 32)`.
pub(crate) fn iface_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => {
            let single = n.as_f64()? as f32;
            if !single.is_finite() {
                return Some(if single.is_nan() {
                    "NaN".into()
                } else if single > 0.0 {
                    "+Inf".into()
                } else {
                    "-Inf".into()
                });
            }
            Some(format!("{single}"))
        }
        _ => None,
    }
}

fn number_text(n: &Number, float: fn(f64) -> String) -> String {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() < (1 << 53) {
            return float(i as f64);
        }
    }
    float(n.as_f64().unwrap_or(0.0))
}

/// Go's `fmt.Sprint` of a decoded JSON value (`map[a:1]`, `[x y]`, `<nil>`).
pub(crate) fn sprint(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n, format_float_v),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(sprint).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", sprint(&map[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `json.Marshal` of a decoded JSON value: sorted keys, HTML-safe escapes.
pub(crate) fn marshal(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n, format_float_json)),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json(&map[*key], out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float_v(1e6), "1e+06");
        assert_eq!(format_float_v(123456.0), "123456");
        assert_eq!(format_float_v(123456789.0), "1.23456789e+08");
        assert_eq!(format_float_v(0.5), "0.5");
        assert_eq!(format_float_v(0.00001), "1e-05");
        assert_eq!(format_float_json(1e21), "1e+21");
        assert_eq!(format_float_json(123456789.0), "123456789");
        assert_eq!(format_float_json(0.0000001), "1e-7");
    }

    #[test]
    fn marshal_sorts_and_escapes() {
        assert_eq!(
            marshal(&json!({"b": 1, "a": "<x>"})),
            r#"{"a":"\u003cx\u003e","b":1}"#
        );
        assert_eq!(
            sprint(&json!({"b": [1, "x"], "a": null})),
            "map[a:<nil> b:[1 x]]"
        );
        assert_eq!(iface_to_string(&json!(16777217)), Some("16777216".into()));
    }
}
