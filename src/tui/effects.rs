//! What `update` asks the outside world to do. The app stays pure: it queues effects, the
//! runtime carries them out and reports back with actions.

use crate::incident::desk::NewIncident;
use crate::incident::event::{Event, Milestone};
use crate::playbook::run::Answer;
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    OpenIncident(NewIncident),
    Milestone(Milestone),
    /// Journal a note, cause, impact or prevention.
    Record(Event),
    /// Write, journal and send a breach notice.
    Notice {
        reason: String,
        plan: String,
        eta: Timestamp,
    },
    /// Resolve with what the report needs, then write the report.
    Resolve {
        cause: String,
        impact: String,
        prevention: String,
    },
    DryRun {
        playbook: String,
        inputs: Vec<(String, String)>,
    },
    Run {
        playbook: String,
        inputs: Vec<(String, String)>,
        start: usize,
    },
    Answer(Answer),
    Abort,
    /// Start a drill scenario (or list them).
    Drill(Option<String>),
    /// Show and operate on this kubeconfig context (`:ctx`).
    UseContext(String),
    /// Watch this namespace of the active context, or all of them (`:ns`).
    UseNamespace(Option<String>),
    /// Mark an interrupted run as settled (aborted) without running it again.
    SettleInterrupted {
        run: u32,
    },
    /// Silence, ack, expire, CloudWatch actions off or on: through the live alarm sources.
    AlarmChange(crate::sources::AlarmChange),
    /// List the silences in a popup.
    Silences,
    /// Fetch the alarm's state history for its detail view.
    AlarmHistory(Box<crate::model::alarm::Alarm>),
    /// Ask IAM about the user whose detail is open, to compare with the credential report.
    CheckUser(Box<crate::model::iam::IamUser>),
    /// Follow this log into the view's buffer, in place of any stream before.
    Logs {
        request: crate::model::inspect::LogRequest,
        buffer: crate::model::inspect::SharedLog,
    },
    StopLogs,
    /// Write the log view's lines to a file in the data dir, and note it on the timeline.
    WriteLogs {
        stem: String,
        /// `pod shop/x · container app`, for the note.
        what: String,
        text: String,
        note: bool,
    },
    /// Fetch the describe-style detail of the object whose detail opens.
    Describe(crate::model::inspect::ObjectRef),
    /// Fetch the object as YAML, shown in a text popup.
    Yaml(crate::model::inspect::ObjectRef),
    /// Merge incident `other` into `keep` (opened twice while the consoles were partitioned).
    Merge {
        keep: String,
        other: String,
    },
}
