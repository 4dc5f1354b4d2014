//! IAM: users with their MFA and credential state, and the audit findings against them.

use super::super::app::{App, IamTab};
use super::super::table::Rows;
use super::{draw_table, health_banner, split_top, tab_line};
use crate::audit::Finding;
use crate::audit::report::span_words;
use crate::model::iam::{IamUser, Mfa, ReportState, Unavailable, UserCheck};
use crate::model::summary::Area;
use crate::model::{Level, age, days_between};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The users, and the live cross-check of the one whose detail is open.
pub struct UserRows<'a>(pub &'a [IamUser], pub Option<&'a UserCheck>);

impl UserRows<'_> {
    fn level(u: &IamUser, now: Timestamp) -> Level {
        let stale_key = u
            .oldest_active_key()
            .is_some_and(|k| days_between(k.created, now) > crate::audit::KEY_MAX_AGE_DAYS);
        let unused = u
            .last_activity
            .is_some_and(|t| days_between(t, now) > crate::audit::UNUSED_DAYS);
        if u.console_access && u.mfa == Mfa::None {
            Level::Crit
        } else if stale_key || unused || u.mfa == Mfa::None {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

fn ago(t: Option<Timestamp>, now: Timestamp) -> String {
    t.map_or_else(|| "never".into(), |t| age(t, now))
}

impl Rows for UserRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &[
            "USER", "MFA", "CONSOLE", "KEY AGE", "KEY USED", "ACTIVE", "ADMIN", "GROUPS",
        ]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let u = &self.0[i];
        let key = u.oldest_active_key();
        (
            UserRows::level(u, now),
            vec![
                u.name.clone(),
                if u.mfa == Mfa::None {
                    "✗ none".into()
                } else {
                    u.mfa.word().into()
                },
                if u.console_access { "yes" } else { "no" }.into(),
                key.map_or_else(|| "-".into(), |k| age(k.created, now)),
                key.map_or_else(|| "-".into(), |k| ago(k.last_used, now)),
                ago(u.last_activity, now),
                if u.admin { "yes" } else { "" }.into(),
                u.groups.join(","),
            ],
        )
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let u = &self.0[i];
        let mut out = vec![
            ("User", u.name.clone()),
            ("Groups", u.groups.join(", ")),
            ("MFA", u.mfa.word().into()),
            ("Console access", u.console_access.to_string()),
            ("Password changed", ago(u.password_changed, now)),
            ("Last activity", ago(u.last_activity, now)),
            ("Administrator", u.admin.to_string()),
            ("Created", format!("{} ago", age(u.created, now))),
        ];
        let check = self.1.filter(|c| c.user == u.name);
        for k in &u.access_keys {
            // The report has no key ids; the live check's ListAccessKeys does.
            let live = check
                .and_then(|c| c.key_suffixes.get(usize::from(k.slot).saturating_sub(1)))
                .filter(|_| k.id_suffix.is_empty());
            let label = match live {
                Some(suffix) => format!("…{suffix} ({})", k.label()),
                None => k.label(),
            };
            out.push((
                "Access key",
                format!(
                    "{label} {} created {} ago, last used {}",
                    if k.active { "active" } else { "inactive" },
                    age(k.created, now),
                    ago(k.last_used, now)
                ),
            ));
        }
        if let Some(check) = check {
            if let Some(e) = &check.error {
                out.push(("Live check", e.clone()));
            }
            for f in &check.fields {
                let text = if f.differs() {
                    format!("≠ {}: report {}, IAM now {}", f.field, f.report, f.live)
                } else {
                    format!("= {}: {}", f.field, f.live)
                };
                out.push(("Live check", text));
            }
        }
        out
    }
}

pub struct FindingRows<'a>(pub &'a [Finding]);

impl Rows for FindingRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["SEV", "CIS", "SUBJECT", "FINDING"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(14),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let f = &self.0[i];
        (
            f.level(),
            vec![
                short_severity(f).into(),
                f.cis.unwrap_or("-").into(),
                f.subject.clone(),
                f.message.clone(),
            ],
        )
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let f = &self.0[i];
        vec![
            ("Severity", f.severity.word().into()),
            ("Check", f.check.into()),
            ("CIS v5.0.0", f.cis.unwrap_or("none").into()),
            ("Requirement", f.control.into()),
            ("Resource", f.resource.clone()),
            ("Finding", f.message.clone()),
            ("Evidence", f.evidence.clone()),
            ("Remediation", f.remediation.into()),
        ]
    }
}

/// Four columns: `CRIT`, `HIGH`, `MED`, `LOW`.
fn short_severity(f: &Finding) -> &'static str {
    match f.severity {
        crate::audit::Severity::Critical => "CRIT",
        crate::audit::Severity::High => "HIGH",
        crate::audit::Severity::Medium => "MED",
        crate::audit::Severity::Low => "LOW",
    }
}

/// The credential report's state, as the header says it.
fn report_span<'a>(app: &App, report: &ReportState) -> Option<Span<'a>> {
    Some(match report {
        ReportState::None => return None,
        ReportState::Complete { generated } => Span::styled(
            format!(
                "  report {} old",
                span_words(app.now.as_second() - generated.as_second())
            ),
            app.theme.muted,
        ),
        ReportState::Generating { .. } => Span::styled(
            "  ! credential report generating: MFA, keys and passwords follow",
            app.theme.warn,
        ),
        ReportState::Failed { why } => {
            Span::styled(format!("  ✗ no credential report: {why}"), app.theme.crit)
        }
    })
}

/// Sections that could not be read, so that a missing finding is not taken for a pass.
pub fn unavailable_line<'a>(app: &App, unavailable: &[Unavailable]) -> Option<Line<'a>> {
    let first = unavailable.first()?;
    let more = match unavailable.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    Some(Line::styled(
        format!("! not read: {}: {}{more}", first.section, first.why),
        app.theme.warn,
    ))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Iam);
    let iam = &app.data.iam.data;
    let tabs = [
        ("Users", iam.users.len(), app.iam_tab == IamTab::Users),
        (
            "Findings",
            app.data.findings.len(),
            app.iam_tab == IamTab::Findings,
        ),
    ];
    let gaps = unavailable_line(app, &iam.unavailable);
    let (top, body) = split_top(area, 1 + u16::from(gaps.is_some()));
    let mut line = tab_line(app, &tabs);
    line.spans.insert(
        0,
        Span::styled(format!("account {} ", iam.account_id), app.theme.title),
    );
    let root = if iam.root.mfa {
        Span::styled("  root: ✓ MFA", app.theme.ok)
    } else {
        Span::styled("  root: ✗ no MFA", app.theme.crit)
    };
    line.spans.push(root);
    line.spans.extend(report_span(app, &iam.report));
    let lines: Vec<Line> = std::iter::once(line).chain(gaps).collect();
    frame.render_widget(Paragraph::new(lines), top);
    draw_table(frame, body, app, app.current_table(), stale);
}
