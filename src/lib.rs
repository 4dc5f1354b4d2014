//! opsdeck: a keyboard-driven terminal console for incident work.
//!
//! Data flows one way: sources → model → view, and view → action → runner → sources.

pub mod audit;
pub mod cli;
pub mod config;
pub mod diag;
pub mod drill;
pub mod incident;
pub mod model;
pub mod ops;
pub mod playbook;
pub mod sources;
pub mod status;
pub mod tui;
