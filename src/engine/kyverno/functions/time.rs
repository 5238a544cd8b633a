//! Kyverno's `time_*` functions. Timestamps are RFC 3339 unless a Go layout
//! (`2006-01-02 15:04`) is given; durations print as Go prints them.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use serde_json::Value;

use super::duration::{format_go_duration, parse_go_duration};
use super::interpreter::{Args, EvalError};

/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
const ZERO_TIME_TO_UNIX: i128 = 62_135_596_800;

pub(crate) fn call(args: &Args) -> Result<Value, EvalError> {
    match args.name {
        "time_now" => {
            args.arity(0)?;
            Ok(Value::String(rfc3339(&chrono::Local::now().fixed_offset())))
        }
        "time_now_utc" => {
            args.arity(0)?;
            Ok(Value::String(rfc3339(&Utc::now().fixed_offset())))
        }
        "time_since" => {
            args.arity(3)?;
            let layout = args.string(0)?;
            let start = parse_layout(args, layout, args.string(1)?)?;
            let end = match args.string(2)? {
                "" => Utc::now().fixed_offset(),
                text => parse_layout(args, layout, text)?,
            };
            Ok(Value::String(difference(&start, &end)))
        }
        "time_to_cron" => {
            args.arity(1)?;
            let t = time_arg(args, 0)?;
            Ok(Value::String(format!(
                "{} {} {} {} {}",
                t.minute(),
                t.hour(),
                t.day(),
                t.month(),
                t.weekday().num_days_from_sunday()
            )))
        }
        "time_add" => {
            args.arity(2)?;
            let t = time_arg(args, 0)?;
            let d = duration_arg(args, 1)?;
            let sum = t
                .checked_add_signed(TimeDelta::nanoseconds(d))
                .ok_or_else(|| EvalError::function(args.name, "time out of range"))?;
            Ok(Value::String(rfc3339(&sum)))
        }
        "time_parse" => {
            args.arity(2)?;
            let layout = args.string(0)?;
            let text = args.string(1)?;
            if layout.parse::<i64>().is_ok() {
                let epoch: i64 = text.parse().map_err(|_| {
                    EvalError::function(args.name, format!("parsing {text:?}: invalid syntax"))
                })?;
                let t = DateTime::from_timestamp(epoch, 0)
                    .ok_or_else(|| EvalError::function(args.name, "time out of range"))?;
                return Ok(Value::String(rfc3339(&t.fixed_offset())));
            }
            Ok(Value::String(rfc3339(&parse_layout(args, layout, text)?)))
        }
        "time_utc" => {
            args.arity(1)?;
            Ok(Value::String(rfc3339(
                &time_arg(args, 0)?.with_timezone(&Utc).fixed_offset(),
            )))
        }
        "time_diff" => {
            args.arity(2)?;
            Ok(Value::String(difference(
                &time_arg(args, 0)?,
                &time_arg(args, 1)?,
            )))
        }
        "time_before" => {
            args.arity(2)?;
            Ok(Value::Bool(time_arg(args, 0)? < time_arg(args, 1)?))
        }
        "time_after" => {
            args.arity(2)?;
            Ok(Value::Bool(time_arg(args, 0)? > time_arg(args, 1)?))
        }
        "time_between" => {
            args.arity(3)?;
            let t = time_arg(args, 0)?;
            Ok(Value::Bool(
                t > time_arg(args, 1)? && t < time_arg(args, 2)?,
            ))
        }
        "time_truncate" => {
            args.arity(2)?;
            let t = time_arg(args, 0)?;
            let d = duration_arg(args, 1)?;
            Ok(Value::String(rfc3339(&truncate(&t, d))))
        }
        _ => Err(EvalError::Invalid {
            reason: format!("unknown function: {}()", args.name),
        }),
    }
}

/// Go's `Format(time.RFC3339)`: whole seconds, `Z` for a zero offset.
fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if t.offset().local_minus_utc() == 0 {
        format!("{base}Z")
    } else {
        format!("{base}{}", t.format("%:z"))
    }
}

fn time_arg(args: &Args, index: usize) -> Result<DateTime<FixedOffset>, EvalError> {
    let text = args.string(index)?;
    DateTime::parse_from_rfc3339(text).map_err(|e| {
        EvalError::function(args.name, format!("parsing time {text:?} as RFC3339: {e}"))
    })
}

fn duration_arg(args: &Args, index: usize) -> Result<i64, EvalError> {
    let text = args.string(index)?;
    parse_go_duration(text)
        .ok_or_else(|| EvalError::function(args.name, format!("time: invalid duration {text:?}")))
}

/// `end - start` as Go's `Sub`, which saturates at the duration limits.
fn difference(start: &DateTime<FixedOffset>, end: &DateTime<FixedOffset>) -> String {
    let nanos = |t: &DateTime<FixedOffset>| {
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    };
    let delta = (nanos(end) - nanos(start)).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    format_go_duration(delta as i64)
}

/// Go's `Truncate`: rounds down to a multiple of `d` since Go's zero time, in UTC terms.
fn truncate(t: &DateTime<FixedOffset>, d: i64) -> DateTime<FixedOffset> {
    if d <= 0 {
        return *t;
    }
    let since_zero = (i128::from(t.timestamp()) + ZERO_TIME_TO_UNIX) * 1_000_000_000
        + i128::from(t.timestamp_subsec_nanos());
    let remainder = since_zero.rem_euclid(i128::from(d));
    t.checked_sub_signed(TimeDelta::nanoseconds(remainder as i64))
        .unwrap_or(*t)
}

/// Parses `text` with a Go reference-time layout.
fn parse_layout(args: &Args, layout: &str, text: &str) -> Result<DateTime<FixedOffset>, EvalError> {
    let failed = |why: String| {
        EvalError::function(
            args.name,
            format!("parsing time {text:?} as {layout:?}: {why}"),
        )
    };
    if layout.is_empty() || layout == "2006-01-02T15:04:05Z07:00" {
        return DateTime::parse_from_rfc3339(text).map_err(|e| failed(e.to_string()));
    }
    let converted = go_layout_to_chrono(layout).map_err(failed)?;
    if converted.has_zone {
        return DateTime::parse_from_str(text, &converted.format)
            .map_err(|e| failed(e.to_string()));
    }
    if converted.has_time {
        return NaiveDateTime::parse_from_str(text, &converted.format)
            .map(|t| t.and_utc().fixed_offset())
            .map_err(|e| failed(e.to_string()));
    }
    NaiveDate::parse_from_str(text, &converted.format)
        .map_err(|e| failed(e.to_string()))
        .and_then(|d| {
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().fixed_offset())
                .ok_or_else(|| failed("invalid date".into()))
        })
}

struct Converted {
    format: String,
    has_zone: bool,
    has_time: bool,
}

/// Translates Go layout tokens to chrono's `strftime` items.
fn go_layout_to_chrono(layout: &str) -> Result<Converted, String> {
    // Longest tokens first, as Go's layout scanner prefers them.
    const TOKENS: &[(&str, &str, bool, bool)] = &[
        ("January", "%B", false, false),
        ("Monday", "%A", false, false),
        ("2006", "%Y", false, false),
        ("Z07:00", "%#z", true, false),
        ("-07:00", "%:z", true, false),
        ("Z0700", "%#z", true, false),
        ("-0700", "%z", true, false),
        ("Z07", "%#z", true, false),
        ("-07", "%#z", true, false),
        (".000000000", "%.9f", false, true),
        (".000000", "%.6f", false, true),
        (".000", "%.3f", false, true),
        (".999999999", "%.f", false, true),
        (".999999", "%.f", false, true),
        (".999", "%.f", false, true),
        ("Jan", "%b", false, false),
        ("Mon", "%a", false, false),
        // Go gives an unknown zone abbreviation a zero offset; chrono skips the name.
        ("MST", "%Z", false, false),
        ("002", "%j", false, false),
        ("__2", "%j", false, false),
        ("_2", "%e", false, false),
        ("01", "%m", false, false),
        ("02", "%d", false, false),
        ("03", "%I", false, true),
        ("04", "%M", false, true),
        ("05", "%S", false, true),
        ("06", "%y", false, false),
        ("15", "%H", false, true),
        ("PM", "%p", false, true),
        ("pm", "%P", false, true),
        ("1", "%m", false, false),
        ("2", "%d", false, false),
        ("3", "%I", false, true),
        ("4", "%M", false, true),
        ("5", "%S", false, true),
    ];
    let mut format = String::new();
    let (mut has_zone, mut has_time) = (false, false);
    let mut rest = layout;
    'scan: while !rest.is_empty() {
        for (token, item, zone, time) in TOKENS {
            if rest.starts_with(token) {
                format.push_str(item);
                has_zone |= zone;
                has_time |= time;
                rest = &rest[token.len()..];
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '%' {
            format.push_str("%%");
        } else {
            format.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(Converted {
        format,
        has_zone,
        has_time,
    })
}
