//! Everything the console can be asked to do. Keys map to these names; `update` applies them.

use crate::incident::state::Incident;
use crate::model::alarm::AlarmSnapshot;
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::summary::ContextHealth;
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use crate::model::{Feed, Level};
use crate::playbook::run::{Prompt, RunView};
use crossterm::event::KeyEvent;
use jiff::Timestamp;
use std::sync::Arc;

/// A command a key can be bound to. The names are what the keymap file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Quit,
    Back,
    Help,
    CommandLine,
    Filter,
    NextPane,
    PrevPane,
    Pane(u8),
    NextTab,
    PrevTab,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    /// Open an incident from the selected alarm, or a new one by hand.
    NewIncident,
    Acknowledge,
    Mitigate,
    Resolve,
    BreachNotice,
    DryRun,
    RunPlaybook,
    /// Stop the running playbook (or settle an interrupted one).
    Abort,
    /// Show the playbooks that answer the selected alarm.
    PlaybookForAlarm,
    /// Silence the selected alert (Alertmanager) or disable its actions (CloudWatch).
    Silence,
    /// List the Alertmanagers' silences.
    Silences,
    /// Expire the selected alert's silences, or enable a CloudWatch alarm's actions again.
    Unsilence,
    /// The selected pod's (or Deployment's pods') log.
    Logs,
    /// The selected pod, node or Deployment as YAML.
    Yaml,
}

impl Command {
    pub const ALL: [Command; 39] = [
        Command::Quit,
        Command::Back,
        Command::Help,
        Command::CommandLine,
        Command::Filter,
        Command::NextPane,
        Command::PrevPane,
        Command::Pane(1),
        Command::Pane(2),
        Command::Pane(3),
        Command::Pane(4),
        Command::Pane(5),
        Command::Pane(6),
        Command::Pane(7),
        Command::Pane(8),
        Command::Pane(9),
        Command::NextTab,
        Command::PrevTab,
        Command::Up,
        Command::Down,
        Command::PageUp,
        Command::PageDown,
        Command::Top,
        Command::Bottom,
        Command::Open,
        Command::NewIncident,
        Command::Acknowledge,
        Command::Mitigate,
        Command::Resolve,
        Command::BreachNotice,
        Command::DryRun,
        Command::RunPlaybook,
        Command::Abort,
        Command::PlaybookForAlarm,
        Command::Silence,
        Command::Silences,
        Command::Unsilence,
        Command::Logs,
        Command::Yaml,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::Back => "back",
            Command::Help => "help",
            Command::CommandLine => "command_line",
            Command::Filter => "filter",
            Command::NextPane => "next_pane",
            Command::PrevPane => "prev_pane",
            Command::Pane(1) => "pane_overview",
            Command::Pane(2) => "pane_cluster",
            Command::Pane(3) => "pane_db",
            Command::Pane(4) => "pane_waf",
            Command::Pane(5) => "pane_alarms",
            Command::Pane(6) => "pane_iam",
            Command::Pane(7) => "pane_trail",
            Command::Pane(8) => "pane_playbooks",
            Command::Pane(_) => "pane_incident",
            Command::NextTab => "next_tab",
            Command::PrevTab => "prev_tab",
            Command::Up => "up",
            Command::Down => "down",
            Command::PageUp => "page_up",
            Command::PageDown => "page_down",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::Open => "open",
            Command::NewIncident => "new_incident",
            Command::Acknowledge => "acknowledge",
            Command::Mitigate => "mitigate",
            Command::Resolve => "resolve",
            Command::BreachNotice => "breach_notice",
            Command::DryRun => "dry_run",
            Command::RunPlaybook => "run_playbook",
            Command::Abort => "abort",
            Command::PlaybookForAlarm => "playbook_for_alarm",
            Command::Silence => "silence",
            Command::Silences => "silences",
            Command::Unsilence => "unsilence",
            Command::Logs => "logs",
            Command::Yaml => "yaml",
        }
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The help line for this command.
    pub fn describe(self) -> &'static str {
        match self {
            Command::Quit => "quit opsdeck",
            Command::Back => "back: close popup, clear filter, overview, quit",
            Command::Help => "show this help",
            Command::CommandLine => "command line (Tab completes)",
            Command::Filter => "filter the current table as you type",
            Command::NextPane => "next pane",
            Command::PrevPane => "previous pane",
            Command::Pane(1) => "overview",
            Command::Pane(2) => "cluster: nodes, deploys, pods, HPA, PDB, events",
            Command::Pane(3) => "database replication",
            Command::Pane(4) => "WAF: rules, rates, blocked requests",
            Command::Pane(5) => "alarms",
            Command::Pane(6) => "IAM users and findings",
            Command::Pane(7) => "CloudTrail",
            Command::Pane(8) => "playbooks",
            Command::Pane(_) => "incident: SLA clock, milestones, timeline",
            Command::NextTab => "next section of the pane",
            Command::PrevTab => "previous section of the pane",
            Command::Up => "move up",
            Command::Down => "move down",
            Command::PageUp => "page up",
            Command::PageDown => "page down",
            Command::Top => "first row",
            Command::Bottom => "last row",
            Command::Open => "open detail (on the overview: go to the area)",
            Command::NewIncident => "open an incident (from the selected alarm)",
            Command::Acknowledge => {
                "incident: acknowledged (on a live Alertmanager alert: ack it, a 15 min silence)"
            }
            Command::Mitigate => "incident: mitigated",
            Command::Resolve => "incident: resolve (cause, prevention, report)",
            Command::BreachNotice => "incident: breach notice (reason, plan, ETA)",
            Command::DryRun => "playbook: dry-run the selected one",
            Command::RunPlaybook => "playbook: run (or resume an interrupted run)",
            Command::Abort => "playbook: abort the run",
            Command::PlaybookForAlarm => "alarm: playbooks that answer it, best match first",
            Command::Silence => "alarm: silence it (CloudWatch: disable its actions)",
            Command::Silences => "alarm: list the Alertmanagers' silences",
            Command::Unsilence => "alarm: expire its silences (CloudWatch: enable its actions)",
            Command::Logs => "cluster: logs of the selected pod (or Deployment's pods)",
            Command::Yaml => "cluster: the selected pod, node or Deployment as YAML",
        }
    }
}

/// One input to `App::update`: a bound command, a raw key for a text field, or new data.
#[derive(Debug, Clone)]
pub enum Action {
    Command(Command),
    /// A key that no binding claimed, delivered while a text field has focus.
    Key(KeyEvent),
    /// A line typed at the `:` prompt.
    Run(String),
    Tick(Timestamp),
    Resize,
    Cluster(Arc<Feed<ClusterSnapshot>>),
    /// The health line of every watched Kubernetes context.
    Contexts(Arc<Vec<ContextHealth>>),
    Db(Arc<Feed<DbSnapshot>>),
    Waf(Arc<Feed<WafSnapshot>>),
    Alarms(Arc<Feed<AlarmSnapshot>>),
    Iam(Arc<Feed<IamSnapshot>>),
    Trail(Arc<Feed<TrailSnapshot>>),
    Backups(Arc<Feed<crate::model::backup::BackupSnapshot>>),
    Regions(Arc<Feed<crate::model::region::RegionSnapshot>>),
    /// The open incident as the journal now tells it (`None` once resolved).
    Incident(Option<Box<Incident>>),
    /// Every incident but the open one, for the availability budget.
    Past(Vec<Incident>),
    /// How the team journal is doing and who else is here (`[team]` only).
    Team(Box<crate::incident::team::follow::TeamStatus>),
    /// Incidents opened twice for one alarm, as (survivor, other): `:merge` merges the first.
    MergeOffers(Vec<(String, String)>),
    /// Progress of the running (or last) playbook.
    Progress(RunView),
    /// The running playbook asks the operator something.
    Ask(Prompt),
    /// Text to read in a popup: a dry-run, a report.
    Show {
        title: String,
        text: String,
    },
    /// A result to show in the footer.
    Say(Level, String),
    /// The state history of the alarm with this key, for its detail view.
    /// The live answer for the user whose detail is open.
    UserChecked(Box<crate::model::iam::UserCheck>),
    AlarmHistory {
        key: String,
        text: String,
    },
    /// The describe-style detail of the object whose detail is open.
    Described {
        object: crate::model::inspect::ObjectRef,
        pairs: Result<Vec<(String, String)>, String>,
    },
}
