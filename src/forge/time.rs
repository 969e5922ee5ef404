//! Time as the forge sees it: whole seconds since the Unix epoch, passed in by the caller
//! (`js_sys::Date::now()` in the browser, `SystemTime` natively) and formatted for X.509 and Graph.

use std::time::Duration;

use der::DateTime;

use super::Error;

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The current time from the operating system. Not for `wasm32-unknown-unknown`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn now() -> Self {
        Self(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// From JavaScript's `Date.now()` (milliseconds).
    pub fn from_millis(ms: f64) -> Self {
        Self((ms.max(0.0) / 1000.0) as u64)
    }

    /// This time moved by `seconds` (negative moves back).
    pub fn add_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add_signed(seconds))
    }

    /// As a calendar date and time (fails after year 9999).
    pub fn date_time(self) -> Result<DateTime, Error> {
        DateTime::from_unix_duration(Duration::from_secs(self.0)).map_err(Error::from)
    }

    /// ISO 8601 / RFC 3339 in UTC with a `Z`, the form Graph's `startDateTime`/`endDateTime` take.
    pub fn rfc3339(self) -> Result<String, Error> {
        let t = self.date_time()?;
        Ok(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        ))
    }
}
