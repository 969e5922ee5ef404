//! The lifecycle rules, natively.
