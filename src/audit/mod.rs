//! The security review: rules over the IAM and CloudTrail snapshots. Each finding names its
//! check, the CIS AWS Foundations Benchmark v5.0.0 control, the customer requirement, the
//! resource (by ARN), what was seen and how to fix it.

pub mod checks;
mod iam;
pub mod monitor;
pub mod policy;
pub mod report;
mod trail;

pub use checks::{Check, Severity};
pub use iam::{ROOT_RECENT_DAYS, SETUP_WINDOW_S, SHARED_LOGIN_IPS, UNUSED_DAYS};

use crate::model::Level;
use crate::model::iam::{IamSnapshot, Mfa};
use crate::model::summary::{Area, AreaSummary};
use crate::model::trail::TrailSnapshot;
use jiff::Timestamp;
use serde::Serialize;

/// Access keys older than this are due for rotation (CIS 1.13).
pub const KEY_MAX_AGE_DAYS: i64 = 90;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `check:resource`, plus the key for key findings: the same problem has the same id in
    /// every review, so two reviews diff cleanly.
    pub id: String,
    pub check: &'static str,
    pub severity: Severity,
    /// CIS AWS Foundations Benchmark v5.0.0 control.
    pub cis: Option<&'static str>,
    /// The customer's requirement this violates, e.g. `SER-CLOUD-005`.
    pub control: &'static str,
    pub resource: String,
    /// The short name the tables show: a user, a trail, `root`, `account`.
    pub subject: String,
    pub message: String,
    pub evidence: String,
    pub remediation: &'static str,
}

impl Finding {
    pub fn new(check: &Check, resource: &str, subject: &str, message: String) -> Finding {
        Finding {
            id: format!("{}:{resource}", check.id),
            check: check.id,
            severity: check.severity,
            cis: check.cis,
            control: check.spec,
            resource: resource.to_string(),
            subject: subject.to_string(),
            message,
            evidence: String::new(),
            remediation: check.remediation,
        }
    }

    pub fn evidence(mut self, evidence: String) -> Finding {
        self.evidence = evidence;
        self
    }

    /// Tells apart two findings of one check on one resource (a user's two keys).
    pub fn qualified(mut self, part: &str) -> Finding {
        self.id = format!("{}#{part}", self.id);
        self
    }

    pub fn level(&self) -> Level {
        self.severity.level()
    }
}

/// Worst first, then by id: a stable order for tables, JSON and diffs.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
}

/// The checks each section the sources read feeds (`Unavailable::section`): when that
/// section could not be read, its checks would judge an empty default, so they are not
/// evaluated at all.
const SECTION_CHECKS: &[(&str, &[&Check])] = &[
    (
        "root",
        &[
            &checks::ROOT_MFA,
            &checks::ROOT_HARDWARE_MFA,
            &checks::ROOT_KEYS,
        ],
    ),
    ("virtual MFA devices", &[&checks::ROOT_HARDWARE_MFA]),
    (
        "password policy",
        &[&checks::PASSWORD_LENGTH, &checks::PASSWORD_REUSE],
    ),
    ("roles", &[&checks::SUPPORT_ROLE]),
    (
        "monitoring",
        &[
            &checks::WATCH_UNAUTHORIZED,
            &checks::WATCH_NO_MFA,
            &checks::WATCH_ROOT,
            &checks::WATCH_POLICY,
            &checks::WATCH_TRAIL,
            &checks::WATCH_AUTH_FAILURES,
        ],
    ),
];

/// A check the review could not run, and the unreadable section (with the AWS action and
/// its answer) that stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotEvaluated {
    pub check: &'static str,
    pub cis: Option<&'static str>,
    pub section: String,
    pub why: String,
}

/// The checks `unavailable` sections keep from being evaluated, in check order.
pub fn not_evaluated(unavailable: &[crate::model::iam::Unavailable]) -> Vec<NotEvaluated> {
    let mut out: Vec<NotEvaluated> = Vec::new();
    for u in unavailable {
        for (_, list) in SECTION_CHECKS.iter().filter(|(s, _)| *s == u.section) {
            for c in *list {
                if !out.iter().any(|n| n.check == c.id) {
                    out.push(NotEvaluated {
                        check: c.id,
                        cis: c.cis,
                        section: u.section.clone(),
                        why: u.why.clone(),
                    });
                }
            }
        }
    }
    let order = |id: &str| checks::ALL.iter().position(|c| c.id == id);
    out.sort_by_key(|n| order(n.check));
    out
}

/// Drops what an unreadable section's checks said about its empty default, then sorts.
fn settle(mut out: Vec<Finding>, unavailable: &[crate::model::iam::Unavailable]) -> Vec<Finding> {
    let skipped = not_evaluated(unavailable);
    out.retain(|f| !skipped.iter().any(|n| n.check == f.check));
    sort(&mut out);
    out
}

/// IAM findings; CloudTrail's sign-ins feed the shared-account check.
pub fn iam_findings(snap: &IamSnapshot, trail: &TrailSnapshot, now: Timestamp) -> Vec<Finding> {
    settle(iam::findings(snap, trail, now), &snap.unavailable)
}

pub fn trail_findings(snap: &TrailSnapshot, account: &str, now: Timestamp) -> Vec<Finding> {
    settle(trail::findings(snap, account, now), &snap.unavailable)
}

/// The whole review, as `opsdeck audit` reports it.
pub fn review(iam: &IamSnapshot, trail: &TrailSnapshot, now: Timestamp) -> Vec<Finding> {
    let mut out = iam_findings(iam, trail, now);
    out.extend(trail_findings(trail, &iam.account_id, now));
    sort(&mut out);
    out
}

/// A finding for each database whose backups breach its RPO (or that has none): what a
/// restore would lose is more than the customer agreed to.
pub fn backup_findings(statuses: &[crate::model::backup::BackupStatus]) -> Vec<Finding> {
    let mut out: Vec<Finding> = statuses
        .iter()
        .filter(|b| b.breached())
        .map(|b| {
            let evidence = match (&b.source, b.newest) {
                (Some(source), Some(at)) => format!("newest good backup {at} from {source}"),
                _ => "no good backup in any source".to_string(),
            };
            Finding::new(
                &checks::BACKUP_RPO,
                &b.database,
                &b.database,
                b.problems.join("; "),
            )
            .evidence(evidence)
        })
        .collect();
    sort(&mut out);
    out
}

fn worst(findings: &[Finding]) -> Level {
    findings
        .iter()
        .map(Finding::level)
        .max()
        .unwrap_or(Level::Ok)
}

pub fn iam_summary(snap: &IamSnapshot, findings: &[Finding]) -> AreaSummary {
    let without_mfa = snap.users.iter().filter(|u| u.mfa == Mfa::None).count();
    AreaSummary {
        area: Area::Iam,
        level: worst(findings),
        counts: format!(
            "{} users · {without_mfa} without MFA · {} findings",
            snap.users.len(),
            findings.len()
        ),
        worst: findings
            .first()
            .map(|f| format!("{}: {}", f.subject, f.message)),
    }
}

/// The trail's own health line, made worse by its review findings.
pub fn trail_summary(snap: &TrailSnapshot, findings: &[Finding]) -> AreaSummary {
    let mut s = crate::model::summary::trail(snap);
    if let Some(f) = findings.first()
        && f.level() > s.level
    {
        s.level = f.level();
        s.worst = Some(format!("{}: {}", f.subject, f.message));
    }
    // A burst says more than its single denials, which are each only a warning.
    if let Some(b) = crate::model::trail::denial_bursts(&snap.events).first()
        && s.level <= Level::Warn
    {
        s.level = Level::Warn;
        s.worst = Some(format!("{} refused {} times in 10 min", b.user, b.count));
    }
    if !findings.is_empty() {
        s.counts = format!("{} · {} findings", s.counts, findings.len());
    }
    s
}
