//! Runnable incident procedures kept as YAML files: loaded and validated, shown as a
//! dry-run, and executed step by step with every transition journaled.

pub mod catalog;
pub mod condition;
pub mod load;
pub mod plan;
mod region_checks;
pub mod run;
pub mod schema;
pub mod template;
