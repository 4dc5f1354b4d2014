//! `opsdeck audit`'s output: JSON with a versioned schema (`schemas/audit-v1.json`), the
//! Markdown review document, and a plain table for a terminal.

use super::{Finding, Severity};
use crate::model::iam::{IamSnapshot, ReportState, Unavailable};
use crate::model::trail::TrailSnapshot;
use jiff::Timestamp;
use serde::Serialize;
use std::fmt::Write;

/// Bumped on any change a consumer could notice; `schemas/audit-v<major>.json` describes it.
pub const SCHEMA_VERSION: &str = "1.1";

#[derive(Debug, Clone, Serialize)]
pub struct CredentialReportInfo {
    pub state: &'static str,
    pub generated_at: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub total: usize,
}

impl Counts {
    fn of(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            *match f.severity {
                Severity::Critical => &mut c.critical,
                Severity::High => &mut c.high,
                Severity::Medium => &mut c.medium,
                Severity::Low => &mut c.low,
            } += 1;
            c.total += 1;
        }
        c
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RiskyEvent {
    pub time: Timestamp,
    pub user: String,
    pub event: String,
    pub source_ip: String,
    pub region: String,
    pub risk: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub schema_version: &'static str,
    pub tool: &'static str,
    pub tool_version: &'static str,
    /// `live` or `drill`.
    pub mode: &'static str,
    pub account_id: String,
    pub generated_at: Timestamp,
    pub regions: Vec<String>,
    pub credential_report: CredentialReportInfo,
    pub summary: Counts,
    pub findings: Vec<Finding>,
    pub risky_events: Vec<RiskyEvent>,
    /// What could not be read, so an absent finding is not read as a pass.
    pub unavailable: Vec<Unavailable>,
    /// The checks those sections kept from running: neither passed nor failed.
    pub not_evaluated: Vec<super::NotEvaluated>,
}

/// `3 h 40 m`, `2 d 4 h`, `12 m`, `40 s`.
pub fn span_words(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} m", s / 60),
        s if s < 86_400 => format!("{} h {} m", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

impl AuditReport {
    pub fn new(
        mode: &'static str,
        iam: &IamSnapshot,
        trail: &TrailSnapshot,
        now: Timestamp,
    ) -> AuditReport {
        let findings = super::review(iam, trail, now);
        let summary = Counts::of(&findings);
        let credential_report = match &iam.report {
            ReportState::Complete { generated } => CredentialReportInfo {
                state: "complete",
                generated_at: Some(*generated),
                age_seconds: Some(now.as_second() - generated.as_second()),
                detail: None,
            },
            ReportState::Generating { attempts } => CredentialReportInfo {
                state: "generating",
                generated_at: None,
                age_seconds: None,
                detail: Some(format!("not ready after {attempts} tries")),
            },
            ReportState::Failed { why } => CredentialReportInfo {
                state: "failed",
                generated_at: None,
                age_seconds: None,
                detail: Some(why.clone()),
            },
            ReportState::None => CredentialReportInfo {
                state: "none",
                generated_at: None,
                age_seconds: None,
                detail: None,
            },
        };
        let mut risky_events: Vec<RiskyEvent> = trail
            .events
            .iter()
            .filter_map(|e| {
                e.risk().map(|(_, why)| RiskyEvent {
                    time: e.time,
                    user: e.user.clone(),
                    event: e.event_name.clone(),
                    source_ip: e.source_ip.clone(),
                    region: e.region.clone(),
                    risk: why,
                })
            })
            .collect();
        risky_events.extend(
            crate::model::trail::denial_bursts(&trail.events)
                .into_iter()
                .map(|b| RiskyEvent {
                    time: b.last,
                    user: b.user,
                    event: format!("{} refused calls since {}", b.count, b.first),
                    source_ip: String::new(),
                    region: String::new(),
                    risk: "burst of access denied",
                }),
        );
        risky_events.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.user.cmp(&b.user))
                .then_with(|| a.event.cmp(&b.event))
        });
        let mut unavailable = iam.unavailable.clone();
        unavailable.extend(trail.unavailable.iter().cloned());
        let not_evaluated = super::not_evaluated(&unavailable);
        AuditReport {
            schema_version: SCHEMA_VERSION,
            tool: "opsdeck",
            tool_version: env!("CARGO_PKG_VERSION"),
            mode,
            account_id: iam.account_id.clone(),
            generated_at: now,
            regions: trail.regions.clone(),
            credential_report,
            summary,
            findings,
            risky_events,
            unavailable,
            not_evaluated,
        }
    }

    /// Adds the RPO breaches of `backups` to the findings (and the counts).
    pub fn with_backups(mut self, backups: &[crate::model::backup::BackupStatus]) -> AuditReport {
        self.findings.extend(super::backup_findings(backups));
        super::sort(&mut self.findings);
        self.summary = Counts::of(&self.findings);
        self
    }

    /// Findings at or above `level`: what makes `--fail-on` exit with 3.
    pub fn at_or_above(&self, level: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity >= level).count()
    }

    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    fn report_line(&self) -> String {
        let c = &self.credential_report;
        match (c.generated_at, c.age_seconds) {
            (Some(at), Some(age)) => format!("generated {at} ({} old)", span_words(age)),
            _ => match &c.detail {
                Some(d) => format!("{}: {d}", c.state),
                None => c.state.to_string(),
            },
        }
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "opsdeck audit — account {} — {} — {}",
            self.account_id,
            self.mode.to_uppercase(),
            self.generated_at
        );
        let _ = writeln!(out, "credential report: {}", self.report_line());
        let s = &self.summary;
        let _ = writeln!(
            out,
            "{} findings: {} critical, {} high, {} medium, {} low\n",
            s.total, s.critical, s.high, s.medium, s.low
        );
        let _ = writeln!(
            out,
            "{:<8} {:<5} {:<14} {:<20} FINDING",
            "SEVERITY", "CIS", "SPEC", "SUBJECT"
        );
        for f in &self.findings {
            let _ = writeln!(
                out,
                "{:<8} {:<5} {:<14} {:<20} {}",
                f.severity.word(),
                f.cis.unwrap_or("-"),
                f.control,
                f.subject,
                f.message
            );
        }
        for u in &self.unavailable {
            let _ = writeln!(out, "not checked: {}: {}", u.section, u.why);
        }
        for n in &self.not_evaluated {
            let _ = writeln!(
                out,
                "not evaluated: {} (CIS {}): {} unreadable",
                n.check,
                n.cis.unwrap_or("-"),
                n.section
            );
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Security review — AWS account {}\n", self.account_id);
        let _ = writeln!(
            out,
            "Generated {} by opsdeck {} ({}). Regions: {}. Credential report: {}.\n",
            self.generated_at,
            self.tool_version,
            self.mode,
            if self.regions.is_empty() {
                "-".to_string()
            } else {
                self.regions.join(", ")
            },
            self.report_line()
        );
        let _ = writeln!(out, "## Summary\n");
        let _ = writeln!(out, "| Severity | Findings |\n|---|---|");
        let s = &self.summary;
        for (sev, n) in [
            ("critical", s.critical),
            ("high", s.high),
            ("medium", s.medium),
            ("low", s.low),
            ("**total**", s.total),
        ] {
            let _ = writeln!(out, "| {sev} | {n} |");
        }
        let _ = writeln!(
            out,
            "\n| # | Severity | CIS v5.0.0 | Requirement | Check | Resource | Finding |\n|---|---|---|---|---|---|---|"
        );
        for (n, f) in self.findings.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | `{}` | `{}` | {} |",
                n + 1,
                f.severity.word(),
                f.cis.unwrap_or("-"),
                f.control,
                f.check,
                f.resource,
                cell(&f.message)
            );
        }
        let _ = writeln!(out, "\n## Findings\n");
        for (n, f) in self.findings.iter().enumerate() {
            let _ = writeln!(
                out,
                "### {}. {} — {}: {}\n",
                n + 1,
                f.severity.word().to_uppercase(),
                f.subject,
                f.message
            );
            let cis = f
                .cis
                .map_or_else(|| "no CIS control".into(), |c| format!("CIS {c}"));
            let _ = writeln!(out, "- **Check:** `{}` ({cis}, {})", f.check, f.control);
            let _ = writeln!(out, "- **Resource:** `{}`", f.resource);
            let _ = writeln!(out, "- **Evidence:** {}", f.evidence);
            let _ = writeln!(out, "- **Remediation:** {}", f.remediation);
            let _ = writeln!(out, "- **Id:** `{}`\n", f.id);
        }
        if !self.risky_events.is_empty() {
            let _ = writeln!(
                out,
                "## Risky CloudTrail events\n\n| Time | User | Event | Source IP | Region | Why |\n|---|---|---|---|---|---|"
            );
            for e in &self.risky_events {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    e.time,
                    cell(&e.user),
                    e.event,
                    e.source_ip,
                    e.region,
                    e.risk
                );
            }
            out.push('\n');
        }
        if !self.unavailable.is_empty() {
            let _ = writeln!(out, "## Not checked\n");
            for u in &self.unavailable {
                let _ = writeln!(out, "- {}: {}", u.section, cell(&u.why));
            }
            out.push('\n');
        }
        if !self.not_evaluated.is_empty() {
            let _ = writeln!(
                out,
                "## Not evaluated\n\nNeither passed nor failed: the section each needs could not be read.\n\n| Check | CIS v5.0.0 | Section | Why |\n|---|---|---|---|"
            );
            for n in &self.not_evaluated {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} |",
                    n.check,
                    n.cis.unwrap_or("-"),
                    n.section,
                    cell(&n.why)
                );
            }
            out.push('\n');
        }
        out
    }
}

/// Table cells cannot hold a bare `|` or a line break.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The review document of the drill account at a fixed moment.
    #[test]
    fn the_markdown_review_document() {
        let start: Timestamp = "2026-11-22T01:00:00Z".parse().unwrap();
        let world = crate::sources::sim::World::new(42, start);
        let report = AuditReport::new("drill", &world.iam(), &world.trail(), world.now());
        insta::assert_snapshot!(report.markdown());
        let json: serde_json::Value = serde_json::from_str(&report.json().unwrap()).unwrap();
        assert_eq!(json["summary"]["total"], report.findings.len());
        assert_eq!(report.at_or_above(Severity::Critical), 0);
        assert_eq!(report.at_or_above(Severity::Low), report.findings.len());
    }

    #[test]
    fn a_burst_of_access_denied_is_a_risky_event_and_warns_the_trail_tab() {
        let now: Timestamp = "2026-11-22T01:00:00Z".parse().unwrap();
        let denied = |s: i64| crate::model::trail::TrailEvent {
            time: Timestamp::from_second(now.as_second() - s).unwrap(),
            user: "probe".into(),
            event_name: "ListUsers".into(),
            source_ip: "203.0.113.9".into(),
            region: "us-east-1".into(),
            mfa_used: None,
            error: Some("AccessDenied".into()),
            id: None,
            identity_type: Some("IAMUser".into()),
        };
        let healthy = crate::model::trail::Trail {
            name: "org".into(),
            logging: true,
            multi_region: true,
            log_file_validation: true,
            ..Default::default()
        };
        let trail = TrailSnapshot {
            trails: vec![healthy],
            events: (0..5).map(|i| denied(i * 60)).collect(),
            ..TrailSnapshot::default()
        };
        let report = AuditReport::new("drill", &IamSnapshot::default(), &trail, now);
        assert!(
            report
                .risky_events
                .iter()
                .any(|e| e.risk == "burst of access denied" && e.user == "probe"),
            "{:?}",
            report.risky_events
        );
        let summary = crate::audit::trail_summary(&trail, &[]);
        assert_eq!(summary.level, crate::model::Level::Warn);
        assert_eq!(
            summary.worst.as_deref(),
            Some("probe refused 5 times in 10 min")
        );
    }

    /// An RPO breach is a finding of its own check, counted, listed and valid against the
    /// schema; a database merely near its RPO is not.
    #[test]
    fn an_rpo_breach_is_a_finding_in_every_format() {
        use crate::model::backup::{Backup, DatabaseBackups, SourceBackups, SourceKind};
        let start: Timestamp = "2026-11-22T01:00:00Z".parse().unwrap();
        let world = crate::sources::sim::World::new(42, start);
        let now = world.now();
        let dump = |ago: i64| {
            vec![SourceBackups::of(
                SourceKind::S3,
                "s3://dumps/crm/".into(),
                [Backup {
                    name: "crm/a.sql.gz".into(),
                    at: Timestamp::from_second(now.as_second() - ago).unwrap(),
                    size: Some(10),
                    failed: None,
                }],
            )]
        };
        let db = |name: &str, ago| DatabaseBackups {
            database: name.into(),
            rpo_s: 3600,
            sources: dump(ago),
        };
        let statuses = [
            db("crm", 7200).assess(None, now),
            db("mall", 3000).assess(None, now),
        ];
        let before = AuditReport::new("drill", &world.iam(), &world.trail(), now);
        let report = before.clone().with_backups(&statuses);
        assert_eq!(report.summary.total, before.summary.total + 1);
        assert_eq!(report.summary.high, before.summary.high + 1);
        let f = report
            .findings
            .iter()
            .find(|f| f.check == "opsdeck_backup_rpo")
            .unwrap();
        assert_eq!(f.id, "opsdeck_backup_rpo:crm");
        assert_eq!(f.control, "CIR-CLOUD-002");
        assert_eq!(f.message, "newest backup 2 h old, past the RPO 1 h");
        assert!(report.table().contains(
            "high     -     CIR-CLOUD-002  crm                  newest backup 2 h old, past the RPO 1 h"
        ), "{}", report.table());
        assert!(report.markdown().contains("opsdeck_backup_rpo"));
        let json: serde_json::Value = serde_json::from_str(&report.json().unwrap()).unwrap();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/audit-v1.json");
        let index = compiler.compile(path, &mut schemas).unwrap();
        schemas
            .validate(&json, index)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    #[test]
    fn spans_read_like_a_person_says_them() {
        assert_eq!(span_words(40), "40 s");
        assert_eq!(span_words(13_200), "3 h 40 m");
        assert_eq!(span_words(3 * 86_400 + 7200), "3 d 2 h");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
