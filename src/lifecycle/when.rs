//! Graph's date-times (ISO 8601 in UTC, RFC 3339 profile: `2027-01-31T23:59:59Z`, sometimes with
//! fractional seconds or `+00:00`) as Unix seconds, and back.

use std::time::Duration;

use der::DateTime;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Unix seconds of a Graph date-time; `None` for anything else (an absent or malformed date is
/// shown as unknown, never guessed).
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: u16 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    // The zone: `Z`, or an offset (Graph sends UTC; an offset is honoured all the same).
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z'))
    {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, zone) = rest.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (
            c,
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60),
        )
    } else {
        (rest, 0)
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.splitn(3, ':');
    let hour: u8 = c.next()?.parse().ok()?;
    let minute: u8 = c.next()?.parse().ok()?;
    let second: u8 = c.next().map_or(Some(0), |s| s.parse().ok())?;
    let t = DateTime::new(year, month, day, hour, minute, second).ok()?;
    i64::try_from(t.unix_duration().as_secs())
        .ok()
        .map(|s| s - offset)
}

fn date_time(unix: i64) -> Option<DateTime> {
    DateTime::from_unix_duration(Duration::from_secs(u64::try_from(unix).ok()?)).ok()
}

/// `YYYY-MM-DD` (UTC) of Unix seconds; empty for dates outside 1970–9999.
pub fn day(unix: i64) -> String {
    date_time(unix)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()))
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds; empty outside 1970–9999.
pub fn rfc3339(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .and_then(|u| crate::forge::UnixTime(u).rfc3339().ok())
        .unwrap_or_default()
}

/// Whole days from `now` to `then`, rounded down (so an expiry later today is 0 days left and one
/// an hour ago is -1).
pub fn days_between(now: i64, then: i64) -> i64 {
    (then - now).div_euclid(DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_dates_are_read_in_every_form_graph_writes() {
        let z = parse("2027-01-31T23:59:59Z").expect("a Graph date");
        assert_eq!(rfc3339(z), "2027-01-31T23:59:59Z");
        assert_eq!(parse("2027-01-31T23:59:59.1234567Z"), Some(z));
        assert_eq!(parse("2027-02-01T00:59:59+01:00"), Some(z));
        assert_eq!(parse("2027-01-31T23:59:59"), Some(z));
        assert_eq!(day(z), "2027-01-31");
        for bad in [
            "",
            "2027-01-31",
            "2027-13-01T00:00:00Z",
            "yesterday",
            "2027-01-31T25:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_left_round_down() {
        let now = parse("2026-12-02T12:00:00Z").expect("a Graph date");
        assert_eq!(days_between(now, now + DAY - 1), 0);
        assert_eq!(days_between(now, now + DAY), 1);
        assert_eq!(days_between(now, now - 1), -1);
        assert_eq!(days_between(now, now - 30 * DAY), -30);
    }
}
