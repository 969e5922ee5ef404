//! The inventory as CSV and JSON (being written).
