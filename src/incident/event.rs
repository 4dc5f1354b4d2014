//! What the journal records: one `Entry` per line, each saying who did what and when.

use crate::ops::Op;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub at: Timestamp,
    pub who: Who,
    /// SHA-256 (hex) of the previous line of the journal: a deleted or edited entry breaks
    /// the chain. Absent on the first entry and in journals written before the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

/// The person at the keyboard: `$USER`, and where their SSH session comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Who {
    pub fn from_env() -> Who {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let from = std::env::var("SSH_CLIENT")
            .ok()
            .and_then(|c| c.split_whitespace().next().map(str::to_string));
        Who { user, from }
    }
}

impl Who {
    /// Where the entry was written from and by which team console: the team journal adds
    /// `console ID` to `from` (see `team::book`), after the SSH client's address if any.
    fn parts(&self) -> (Option<&str>, Option<&str>) {
        let Some(from) = self.from.as_deref() else {
            return (None, None);
        };
        match from.rsplit_once("console ") {
            Some((rest, console)) => {
                let address = rest.trim_end_matches([',', ' ']);
                ((!address.is_empty()).then_some(address), Some(console))
            }
            None => (Some(from), None),
        }
    }

    /// The team console that wrote the entry (`kim@bastion-kr.1f2e`), if it came through
    /// the team journal.
    pub fn console(&self) -> Option<&str> {
        self.parts().1
    }

    /// For a narrow column: the console's user@host when there is one, else as displayed.
    pub fn short(&self) -> String {
        match self.console() {
            Some(c) => super::team::user_at_host(c).to_string(),
            None => self.to_string(),
        }
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parts() {
            (Some(address), Some(console)) => {
                write!(f, "{}@{address} (console {console})", self.user)
            }
            (None, Some(console)) => write!(f, "{} (console {console})", self.user),
            (Some(address), None) => write!(f, "{}@{address}", self.user),
            (None, None) => f.write_str(&self.user),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
}

impl Severity {
    /// How soon someone must respond (SPEC §2, billing runbook).
    pub fn response_target(self) -> jiff::SignedDuration {
        match self {
            Severity::Sev1 => jiff::SignedDuration::from_mins(15),
            Severity::Sev2 => jiff::SignedDuration::from_hours(1),
            Severity::Sev3 => jiff::SignedDuration::from_hours(24),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Sev1 => "Sev1",
            Severity::Sev2 => "Sev2",
            Severity::Sev3 => "Sev3",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "sev1" | "1" => Some(Severity::Sev1),
            "sev2" | "2" => Some(Severity::Sev2),
            "sev3" | "3" => Some(Severity::Sev3),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Milestone {
    Acknowledged,
    Mitigated,
    Resolved,
}

/// Which drill this incident belongs to, if it is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillTag {
    pub scenario: String,
    pub seed: u64,
    /// When the scenario's first fault was injected (world time).
    pub fault_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Opened {
        id: String,
        title: String,
        severity: Severity,
        detected_at: Option<Timestamp>,
        recognised_at: Timestamp,
        /// Why recognition is dated earlier than the moment the incident was opened.
        recognised_reason: Option<String>,
        alarm: Option<String>,
        drill: Option<DrillTag>,
    },
    Milestone {
        milestone: Milestone,
    },
    Note {
        text: String,
    },
    /// The service the incident hits: its RTO runs next to the SLA and it spends that
    /// service's availability budget. A later tag replaces an earlier one.
    Service {
        service: String,
    },
    Alarm {
        name: String,
        state: String,
        reason: String,
    },
    /// A risky CloudTrail event that arrived while the incident was open.
    Trail {
        user: String,
        call: String,
        source_ip: String,
        risk: String,
    },
    /// A database's backups broke its RPO while the incident was open: a restore now would
    /// lose more data than the objective allows. Recorded once per breach.
    Backup {
        database: String,
        problem: String,
    },
    /// A region went CRIT while the incident was open: its health check fails while it
    /// still takes traffic. Recorded once per change to CRIT.
    Region {
        region: String,
        problem: String,
    },
    /// A change made to an alarm or alert from the console: a silence, an expired silence,
    /// CloudWatch actions turned off or on.
    AlarmChange {
        /// `silence`, `ack`, `expire silence`, `disable actions`, `enable actions`.
        action: String,
        /// The alarm, where it lives: `HighErrorRate on prod-kr`.
        target: String,
        /// What was done: the silence id, matchers and end; the call made.
        detail: String,
        /// The identity it was done as: the AWS principal, or Alertmanager's `createdBy`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        principal: Option<String>,
    },
    RunStarted {
        run: u32,
        playbook: String,
        inputs: BTreeMap<String, String>,
    },
    StepStarted {
        run: u32,
        step: String,
        detail: String,
        op: Option<Op>,
    },
    StepFinished {
        run: u32,
        step: String,
        ok: bool,
        result: String,
    },
    Override {
        run: u32,
        step: String,
        reason: String,
    },
    /// A guard refused the run's step before the run changed anything.
    Refused {
        run: u32,
        step: String,
        why: String,
    },
    /// The operator said no to an optional step: it was skipped and the run went on.
    Declined {
        run: u32,
        step: String,
        why: String,
    },
    RunFinished {
        run: u32,
        outcome: RunOutcome,
    },
    Notice {
        n: u32,
        reason: String,
        plan: String,
        eta: Timestamp,
    },
    NoticeSent {
        n: u32,
        channel: String,
        error: Option<String>,
    },
    /// The condition that defines recovery held (drills check it against the world).
    Recovered {
        condition: String,
    },
    Cause {
        text: String,
    },
    Impact {
        text: String,
    },
    Prevention {
        text: String,
    },
    /// `:role comms`, `:handover USER`: who commands the incident, who talks to customers.
    Role {
        role: Role,
        user: String,
    },
    /// Two consoles opened an incident for the same thing while partitioned: `from`'s entries
    /// now belong to `into`, and the earlier recognition time holds.
    Merged {
        from: String,
        into: String,
        recognised_at: Timestamp,
    },
    Report {
        path: String,
        #[serde(rename = "final")]
        is_final: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Commander,
    Comms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Ok,
    /// Every step ran, but this many failed and the playbook went on past them
    /// (`on_failure: continue`): never "finished ok".
    Unmet(u32),
    /// Every step the operator kept went ok; this many optional steps were declined.
    Declined(u32),
    Failed,
    Aborted,
}

impl RunOutcome {
    /// The same words on the pane, in the journal's timeline and in the report.
    pub fn text(self) -> String {
        match self {
            RunOutcome::Ok => "finished ok".into(),
            RunOutcome::Unmet(1) => "finished — 1 check not met".into(),
            RunOutcome::Unmet(n) => format!("finished — {n} checks not met"),
            RunOutcome::Declined(1) => "finished ok — 1 optional step declined".into(),
            RunOutcome::Declined(n) => format!("finished ok — {n} optional steps declined"),
            RunOutcome::Failed => "FAILED".into(),
            RunOutcome::Aborted => "aborted".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Who;

    #[test]
    fn a_team_entry_says_who_from_where_and_which_console() {
        let who = |from: Option<&str>| Who {
            user: "kim".into(),
            from: from.map(str::to_string),
        };
        let cases = [
            (None, "kim", "kim"),
            (Some("10.0.0.7"), "kim@10.0.0.7", "kim@10.0.0.7"),
            (
                Some("console kim@bastion-kr.1f2e"),
                "kim (console kim@bastion-kr.1f2e)",
                "kim@bastion-kr",
            ),
            (
                Some("10.0.0.7, console kim@bastion-kr.1f2e"),
                "kim@10.0.0.7 (console kim@bastion-kr.1f2e)",
                "kim@bastion-kr",
            ),
        ];
        for (from, shown, short) in cases {
            assert_eq!(who(from).to_string(), shown);
            assert_eq!(who(from).short(), short);
        }
        assert_eq!(
            who(Some("10.0.0.7, console kim@bastion-kr.1f2e")).console(),
            Some("kim@bastion-kr.1f2e")
        );
    }
}
