//! Runnable incident procedures kept as YAML files.

pub mod catalog;
