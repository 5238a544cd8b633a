//! Kyverno's time library (kyverno/sdk `cel/libs/time`): `time.now`,
//! `time.truncate` and `time.toCron`.

use super::declare;
use crate::engine::cel::library::call;
use cel::objects::Value;
use cel::{DeclarationError, Env};
use chrono::{DateTime, Datelike, FixedOffset, TimeDelta, Timelike};
use std::sync::Arc;

/// Seconds from Go's zero time (0001-01-01T00:00:00Z) to the Unix epoch:
/// Go's `Time.Truncate` rounds down to a multiple of the duration since the
/// zero time, not since the epoch (it differs for a `7h` duration, say).
const ZERO_TIME_TO_UNIX: i128 = 62_135_596_800;

fn timestamp(args: &[Value], n: usize) -> Result<DateTime<FixedOffset>, String> {
    match args.get(n) {
        Some(Value::Timestamp(t)) => Ok(*t),
        other => Err(format!("argument {n} must be a timestamp, got {other:?}")),
    }
}

fn time_now(_: &[Value]) -> Result<Value, String> {
    Ok(Value::Timestamp(chrono::Utc::now().fixed_offset()))
}

/// `time.truncate(t, d)`: `t` rounded down to a multiple of `d`, as Go's
/// `Time.Truncate` does (`d <= 0` leaves `t` unchanged); the offset is kept.
fn time_truncate(args: &[Value]) -> Result<Value, String> {
    let time = timestamp(args, 0)?;
    let step = match args.get(1) {
        Some(Value::Duration(d)) => d.num_nanoseconds().ok_or("duration out of range")?,
        other => return Err(format!("argument 1 must be a duration, got {other:?}")),
    };
    if step <= 0 {
        return Ok(Value::Timestamp(time));
    }
    let since_zero = (i128::from(time.timestamp()) + ZERO_TIME_TO_UNIX) * 1_000_000_000
        + i128::from(time.timestamp_subsec_nanos());
    let excess = since_zero.rem_euclid(i128::from(step));
    let excess = i64::try_from(excess).map_err(|_| "duration out of range")?;
    Ok(Value::Timestamp(time - TimeDelta::nanoseconds(excess)))
}

/// `time.toCron(t)`: `minute hour day month weekday` of `t` in its own
/// offset, Sunday being 0, as Kyverno builds the string.
fn time_to_cron(args: &[Value]) -> Result<Value, String> {
    let time = timestamp(args, 0)?;
    Ok(Value::String(Arc::new(format!(
        "{} {} {} {} {}",
        time.minute(),
        time.hour(),
        time.day(),
        time.month(),
        time.weekday().num_days_from_sunday()
    ))))
}

/// Registers the library's functions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    declare(env, "time.now", &[0], |a| call("time.now", a, time_now))?;
    declare(env, "time.truncate", &[2], |a| {
        call("time.truncate", a, time_truncate)
    })?;
    declare(env, "time.toCron", &[1], |a| {
        call("time.toCron", a, time_to_cron)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{eval, holds};

    #[test]
    fn now_is_a_timestamp() {
        holds("time.now() > timestamp('2020-01-01T00:00:00Z')");
        holds("time.now() - duration('3h') < time.now()");
    }

    #[test]
    fn truncate_rounds_down_since_go_zero_time() {
        // Kyverno's own case.
        holds("time.truncate(timestamp('2025-01-02T03:45:27Z'), duration('1h')) == timestamp('2025-01-02T03:00:00Z')");
        holds("time.truncate(timestamp('2025-01-02T03:45:27.5Z'), duration('1s')) == timestamp('2025-01-02T03:45:27Z')");
        // 7h multiples count from 0001-01-01 (from the Unix epoch this would be 2025-01-02T00:00).
        holds("time.truncate(timestamp('2025-01-02T03:45:27Z'), duration('7h')) == timestamp('2025-01-01T22:00:00Z')");
        holds("time.truncate(timestamp('2025-01-02T03:45:27Z'), duration('0s')) == timestamp('2025-01-02T03:45:27Z')");
        holds("time.truncate(timestamp('2025-01-02T03:45:27+02:00'), duration('24h')) == timestamp('2025-01-02T00:00:00Z')");
        assert!(
            eval("time.truncate('2025-01-02', duration('1h')) == null", None)
                .unwrap_err()
                .contains("timestamp")
        );
    }

    #[test]
    fn to_cron_reads_the_timestamp_in_its_offset() {
        // Kyverno's own case: a Thursday.
        holds("time.toCron(timestamp('2025-01-02T15:30:00Z')) == '30 15 2 1 4'");
        holds("time.toCron(timestamp('2025-01-05T00:07:00+01:00')) == '7 0 5 1 0'");
        assert!(eval("time.toCron(1) == ''", None)
            .unwrap_err()
            .contains("time.toCron"));
    }
}
