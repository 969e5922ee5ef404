//! Expiry reminders as iCalendar (being written).
