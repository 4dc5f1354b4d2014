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

    /// Kubernetes context to connect to (from KUBECONFIG); goes live on that cluster.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Forbid every mutating step (dry-runs still work): for reviewers.
    #[arg(long, global = true)]
    pub read_only: bool,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Print one snapshot of every area (drill or live) and exit: 0 when every configured
    /// area answered in full, 1 when one did not (the snapshot is printed either way).
    Status {
        /// Machine-readable JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How long to wait for each area's first complete answer.
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        timeout: crate::config::Span,
    },
    /// Start a drill scenario in the console; without a name, list the scenarios.
    Drill {
        scenario: Option<String>,
        /// Simulated seconds per real second.
        #[arg(long, value_name = "N", default_value_t = 1)]
        speed: u32,
    },
    /// List, show and run playbooks.
    Playbook {
        #[command(subcommand)]
        cmd: PlaybookCmd,
    },
    /// Security review of the AWS account (IAM and CloudTrail, CIS v5.0.0): the drill
    /// world's when [aws] is not configured.
    Audit {
        #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
        format: AuditFormat,
        /// Exit with 3 when a finding at or above this severity exists.
        #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
        fail_on: Option<crate::audit::Severity>,
        /// Write the report to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// A region to read CloudTrail in (instead of [aws] regions); repeat for more.
        #[arg(long = "region", value_name = "R")]
        regions: Vec<String>,
    },
    /// Incident reports.
    Incident {
        #[command(subcommand)]
        cmd: IncidentCmd,
    },
    /// Print the shell completion script: `opsdeck completions bash > /etc/bash_completion.d/opsdeck`.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (`opsdeck man | man -l -`), or write one page per subcommand to DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Md,
}

fn parse_severity(text: &str) -> Result<crate::audit::Severity, String> {
    crate::audit::Severity::parse(text)
        .ok_or_else(|| format!("`{text}` is not one of critical, high, medium, low"))
}

#[derive(Debug, Subcommand)]
pub enum PlaybookCmd {
    /// Every playbook, with load errors.
    List,
    /// A playbook's steps.
    Show { name: String },
    /// Run a playbook against the live systems the config names (or, with none, the drill
    /// world), answering its questions on stdin, one line each.
    Run {
        name: String,
        /// Print exactly what each step would call and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// An input value, `name=value`; repeat for more.
        #[arg(long = "input", value_name = "K=V", value_parser = parse_input)]
        inputs: Vec<(String, String)>,
        /// Answer every yes/no confirmation with yes. Typed targets, checklist items and
        /// override reasons are still read from stdin.
        #[arg(long)]
        yes: bool,
        /// Run on the built-in drill world even when the config names live systems.
        #[arg(long)]
        drill: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentCmd {
    /// Every incident, live and drill, newest first (the team's with `[team]`).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Open a live incident and print its id; the SLA clock starts at the recognition time.
    Open {
        #[arg(long)]
        title: String,
        #[arg(long, value_enum)]
        severity: crate::incident::event::Severity,
        /// When it was recognised, if earlier than now: HH:MM (UTC), -20m or RFC 3339.
        #[arg(
            long,
            value_name = "TIME",
            requires = "reason",
            allow_hyphen_values = true
        )]
        recognised: Option<String>,
        /// Why the recognition time is earlier than now (journaled with it).
        #[arg(long, value_name = "R", requires = "recognised")]
        reason: Option<String>,
    },
    /// Add a note to an incident's timeline.
    Note { id: String, text: String },
    /// An incident's state and timeline: who did what, from which console.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Check the journal's hash chain: exit 0 when it verifies, 1 when an entry was edited,
    /// deleted or inserted (each break is listed).
    Verify { id: String },
    /// Write the post-incident report (Markdown) and print it; the latest incident by default.
    Report { id: Option<String> },
}

fn parse_input(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not name=value"))
}

/// The completion script for `shell`, covering every subcommand and option.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "opsdeck", out);
}

/// The manual page of `opsdeck` itself, listing every subcommand.
pub fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(out)
}

/// One page per command and subcommand (`opsdeck.1`, `opsdeck-playbook-run.1`, …) in `dir`.
pub fn man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), dir)
}
