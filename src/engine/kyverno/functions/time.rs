//! Kyverno's `time_*` functions. Timestamps are RFC 3339 unless a Go layout
//! (`2006-01-02 15:04`) is given; durations print as Go prints them.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, Timelike, Utc};
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
    parse_go_time(RFC3339_LAYOUT, text).map_err(|e| {
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
    let layout = if layout.is_empty() {
        RFC3339_LAYOUT
    } else {
        layout
    };
    parse_go_time(layout, text).map_err(|why| {
        EvalError::function(
            args.name,
            format!("parsing time {text:?} as {layout:?}: {why}"),
        )
    })
}

const RFC3339_LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    ZoneName,
    /// Numeric zone: (accepts `Z`, has colon, has minutes).
    Zone(bool, bool, bool),
    /// Fractional seconds: (digits, fixed width).
    Fraction(usize, bool),
}

/// Go's layout tokens, longest first where they share a prefix.
const CHUNKS: &[(&str, Chunk)] = &[
    ("January", Chunk::LongMonth),
    ("Jan", Chunk::Month),
    ("Monday", Chunk::LongWeekDay),
    ("Mon", Chunk::WeekDay),
    ("MST", Chunk::ZoneName),
    ("2006", Chunk::LongYear),
    ("002", Chunk::ZeroYearDay),
    ("__2", Chunk::UnderYearDay),
    ("_2", Chunk::UnderDay),
    ("01", Chunk::ZeroMonth),
    ("02", Chunk::ZeroDay),
    ("03", Chunk::ZeroHour12),
    ("04", Chunk::ZeroMinute),
    ("05", Chunk::ZeroSecond),
    ("06", Chunk::Year),
    ("15", Chunk::Hour),
    ("1", Chunk::NumMonth),
    ("2", Chunk::Day),
    ("3", Chunk::Hour12),
    ("4", Chunk::Minute),
    ("5", Chunk::Second),
    ("PM", Chunk::Pm),
    ("pm", Chunk::LowerPm),
    ("Z07:00", Chunk::Zone(true, true, true)),
    ("Z0700", Chunk::Zone(true, false, true)),
    ("Z07", Chunk::Zone(true, false, false)),
    ("-07:00", Chunk::Zone(false, true, true)),
    ("-0700", Chunk::Zone(false, false, true)),
    ("-07", Chunk::Zone(false, false, false)),
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The next chunk of `layout`: literal text before it, the chunk, and the rest.
fn next_chunk(layout: &str) -> (&str, Option<(Chunk, &str)>) {
    for (i, c) in layout.char_indices() {
        let rest = &layout[i..];
        if c == '.' || c == ',' {
            let digits = rest[1..]
                .chars()
                .take_while(|d| *d == '0' || *d == '9')
                .count();
            let same = rest[1..]
                .chars()
                .take(digits)
                .all(|d| rest[1..].starts_with(d));
            let after = rest[1 + digits..].chars().next();
            if digits > 0 && same && !after.is_some_and(|a| a.is_ascii_digit()) {
                let fixed = rest[1..].starts_with('0');
                return (
                    &layout[..i],
                    Some((Chunk::Fraction(digits, fixed), &rest[1 + digits..])),
                );
            }
            continue;
        }
        for (token, chunk) in CHUNKS {
            if let Some(after) = rest.strip_prefix(token) {
                return (&layout[..i], Some((*chunk, after)));
            }
        }
    }
    (layout, None)
}

fn take_digits(value: &str, min: usize, max: usize) -> Result<(u32, &str), String> {
    let count = value
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if count < min {
        return Err(format!("cannot parse {value:?}"));
    }
    let number = value[..count]
        .parse()
        .map_err(|_| format!("cannot parse {value:?}"))?;
    Ok((number, &value[count..]))
}

fn take_name<'v>(value: &'v str, names: &[&str], short: bool) -> Result<(usize, &'v str), String> {
    for (i, name) in names.iter().enumerate() {
        let candidate = if short { &name[..3] } else { name };
        if value.len() >= candidate.len()
            && value.is_char_boundary(candidate.len())
            && value[..candidate.len()].eq_ignore_ascii_case(candidate)
        {
            return Ok((i, &value[candidate.len()..]));
        }
    }
    Err(format!("cannot parse {value:?}"))
}

/// Go's `time.Parse`: weekday names are checked for syntax and otherwise
/// ignored, a missing year is year 0, an unknown zone abbreviation means UTC.
fn parse_go_time(layout: &str, text: &str) -> Result<DateTime<FixedOffset>, String> {
    let (mut year, mut month, mut day, mut year_day) = (0i32, 1u32, 1u32, None::<u32>);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut layout = layout;
    let mut value = text;
    loop {
        let (literal, chunk) = next_chunk(layout);
        value = value
            .strip_prefix(literal)
            .ok_or_else(|| format!("cannot parse {value:?} as {literal:?}"))?;
        let Some((chunk, rest)) = chunk else {
            break;
        };
        layout = rest;
        let after_seconds = matches!(chunk, Chunk::Second | Chunk::ZeroSecond);
        value = match chunk {
            Chunk::LongYear => {
                let (y, v) = take_digits(value, 4, 4)?;
                year = y as i32;
                v
            }
            Chunk::Year => {
                let (y, v) = take_digits(value, 2, 2)?;
                year = if y >= 69 {
                    1900 + y as i32
                } else {
                    2000 + y as i32
                };
                v
            }
            Chunk::LongMonth | Chunk::Month => {
                let (m, v) = take_name(value, &MONTHS, chunk == Chunk::Month)?;
                month = m as u32 + 1;
                v
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                take_name(value, &WEEKDAYS, chunk == Chunk::WeekDay)?.1
            }
            Chunk::NumMonth | Chunk::ZeroMonth => {
                let (m, v) = take_digits(value, if chunk == Chunk::ZeroMonth { 2 } else { 1 }, 2)?;
                month = m;
                v
            }
            Chunk::Day | Chunk::ZeroDay | Chunk::UnderDay => {
                let v = if chunk == Chunk::UnderDay {
                    value.strip_prefix(' ').unwrap_or(value)
                } else {
                    value
                };
                let (d, v) = take_digits(v, if chunk == Chunk::ZeroDay { 2 } else { 1 }, 2)?;
                day = d;
                v
            }
            Chunk::ZeroYearDay | Chunk::UnderYearDay => {
                let v = if chunk == Chunk::UnderYearDay {
                    value.trim_start_matches(' ')
                } else {
                    value
                };
                let (d, v) = take_digits(v, if chunk == Chunk::ZeroYearDay { 3 } else { 1 }, 3)?;
                year_day = Some(d);
                v
            }
            Chunk::Hour => {
                let (h, v) = take_digits(value, 1, 2)?;
                hour = h;
                v
            }
            Chunk::Hour12 | Chunk::ZeroHour12 => {
                let (h, v) = take_digits(value, if chunk == Chunk::ZeroHour12 { 2 } else { 1 }, 2)?;
                if h > 12 {
                    return Err("hour out of range".into());
                }
                hour = h;
                v
            }
            Chunk::Minute | Chunk::ZeroMinute => {
                let (m, v) = take_digits(value, if chunk == Chunk::ZeroMinute { 2 } else { 1 }, 2)?;
                minute = m;
                v
            }
            Chunk::Second | Chunk::ZeroSecond => {
                let (s, v) = take_digits(value, if chunk == Chunk::ZeroSecond { 2 } else { 1 }, 2)?;
                second = s;
                v
            }
            Chunk::Pm | Chunk::LowerPm => {
                let (am, pm_text) = if chunk == Chunk::Pm {
                    ("AM", "PM")
                } else {
                    ("am", "pm")
                };
                if let Some(v) = value.strip_prefix(pm_text) {
                    pm = Some(true);
                    v
                } else if let Some(v) = value.strip_prefix(am) {
                    pm = Some(false);
                    v
                } else {
                    return Err(format!("cannot parse {value:?} as {pm_text:?}"));
                }
            }
            Chunk::ZoneName => {
                let letters = value
                    .bytes()
                    .take(5)
                    .take_while(u8::is_ascii_uppercase)
                    .count();
                if letters < 3 {
                    return Err(format!("cannot parse {value:?} as \"MST\""));
                }
                offset = Some(0);
                &value[letters..]
            }
            Chunk::Zone(accepts_z, colon, minutes) => {
                if accepts_z && value.starts_with('Z') {
                    offset = Some(0);
                    &value[1..]
                } else {
                    let sign = match value.as_bytes().first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(format!("cannot parse {value:?} as a zone offset")),
                    };
                    let (h, mut v) = take_digits(&value[1..], 2, 2)?;
                    let mut m = 0;
                    if minutes {
                        if colon {
                            v = v
                                .strip_prefix(':')
                                .ok_or_else(|| format!("cannot parse {v:?} as \":\""))?;
                        }
                        let (mm, rest) = take_digits(v, 2, 2)?;
                        m = mm;
                        v = rest;
                    }
                    offset = Some(sign * (h as i32 * 3600 + m as i32 * 60));
                    v
                }
            }
            Chunk::Fraction(digits, fixed) => {
                let v = value.strip_prefix(['.', ',']).unwrap_or(value);
                let count = v.bytes().take_while(u8::is_ascii_digit).count();
                if fixed && (count != digits || v.len() == value.len()) {
                    return Err(format!("cannot parse {value:?} as fractional seconds"));
                }
                nanos = fraction_nanos(&v[..count]);
                &v[count..]
            }
        };
        // Go accepts fractional seconds after the seconds field even if the layout has none.
        if after_seconds && !matches!(next_chunk(layout), ("", Some((Chunk::Fraction(..), _)))) {
            if let Some(v) = value.strip_prefix(['.', ',']) {
                let count = v.bytes().take_while(u8::is_ascii_digit).count();
                if count > 0 {
                    nanos = fraction_nanos(&v[..count]);
                    value = &v[count..];
                }
            }
        }
    }
    if !value.is_empty() {
        return Err(format!("extra text: {value:?}"));
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let date = match year_day {
        Some(d) => NaiveDate::from_yo_opt(year, d),
        None => NaiveDate::from_ymd_opt(year, month, day),
    }
    .ok_or("day out of range")?;
    let naive = date
        .and_hms_nano_opt(hour, minute, second, nanos)
        .ok_or("time out of range")?;
    let zone = FixedOffset::east_opt(offset.unwrap_or(0)).ok_or("zone offset out of range")?;
    naive
        .and_local_timezone(zone)
        .single()
        .ok_or_else(|| "invalid local time".to_string())
}

fn fraction_nanos(digits: &str) -> u32 {
    let mut nanos = 0u32;
    for (i, d) in digits.bytes().take(9).enumerate() {
        nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
    }
    nanos
}
