//! Benchmark-only crate: see tests/compare.rs.
