//! Command-line interface.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "Keyboard-driven ops console for incidents: cluster, databases, WAF, alarms, IAM, CloudTrail and the recovery SLA"
)]
pub struct Cli {
    /// Seed of the drill world: the same seed replays the same world.
    #[arg(long, global = true, value_name = "N")]
    pub seed: Option<u64>,

    /// Colour theme: default, light, high-contrast, mono, or one in <config dir>/themes.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Config file to use instead of <config dir>/config.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print one snapshot of every area (drill or live) and exit.
    Status {
        /// Machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}
