//! CloudTrail: is every API call recorded, and which recent events are risky.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table, health_banner, split_top};
use crate::model::summary::Area;
use crate::model::trail::TrailEvent;
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub struct EventRows<'a>(pub &'a [TrailEvent]);

impl Rows for EventRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["AGE", "USER", "EVENT", "SOURCE IP", "RISK"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(4),
            Constraint::Length(14),
            Constraint::Fill(1),
            Constraint::Length(15),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let e = &self.0[i];
        let (level, risk) = e.risk().unwrap_or((Level::Ok, ""));
        (
            level,
            vec![
                age(e.time, now),
                e.user.clone(),
                e.event_name.clone(),
                e.source_ip.clone(),
                risk.into(),
            ],
        )
    }
    fn matches(&self, i: usize, needle: &str, now: Timestamp) -> bool {
        self.0[i].matches_query(needle, now)
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let e = &self.0[i];
        vec![
            ("Event", e.event_name.clone()),
            ("User", e.user.clone()),
            ("Time", format!("{} ({} ago)", e.time, age(e.time, now))),
            ("Source IP", e.source_ip.clone()),
            ("Region", e.region.clone()),
            (
                "MFA used",
                e.mfa_used.map_or_else(|| "-".into(), |m| m.to_string()),
            ),
            ("Error", e.error.clone().unwrap_or_else(|| "none".into())),
            (
                "Risk",
                e.risk()
                    .map_or_else(|| "none".into(), |(_, r)| r.to_string()),
            ),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Trail);
    let theme = &app.theme;
    let trails = &app.data.trail.data.trails;
    let mut lines: Vec<Line> = trails
        .iter()
        .map(|t| {
            let problems = t.problems();
            let flag = |on: bool, word: &str| {
                let (style, mark) = if on {
                    (theme.ok, "✓")
                } else {
                    (theme.crit, "✗")
                };
                Span::styled(format!("{mark} {word}  "), style)
            };
            let mut spans = vec![
                Span::styled(format!("{} ", t.name), theme.title),
                flag(t.logging, "logging"),
                flag(t.multi_region, "multi-region"),
                flag(t.log_file_validation, "log file validation"),
            ];
            if problems.is_empty() {
                spans.push(Span::styled(format!("→ s3://{}", t.bucket), theme.muted));
            }
            Line::from(spans)
        })
        .collect();
    if trails.is_empty() {
        lines.push(Line::styled(
            "✗ CRIT no trail: API calls in this account are not recorded",
            theme.crit,
        ));
    }
    let monitoring = &app.data.trail.data.monitoring;
    if !monitoring.is_empty() {
        let missing: Vec<&str> = monitoring
            .iter()
            .filter(|m| m.missing.is_some())
            .map(|m| m.watch.title())
            .collect();
        let text = format!(
            "CIS 4.x monitoring {}/{} complete{}",
            monitoring.len() - missing.len(),
            monitoring.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!(" · not watched: {}", missing.join(", "))
            }
        );
        let style = if missing.is_empty() {
            theme.ok
        } else {
            theme.warn
        };
        lines.push(Line::styled(text, style));
    }
    let bursts = crate::model::trail::denial_bursts(&app.data.trail.data.events);
    if !bursts.is_empty() {
        let named: Vec<String> = bursts
            .iter()
            .map(|b| format!("{} {}× ({} ago)", b.user, b.count, age(b.last, app.now)))
            .collect();
        lines.push(Line::styled(
            format!(
                "! AccessDenied bursts (≥{} in {} min): {}",
                crate::model::trail::BURST_DENIALS,
                crate::model::trail::BURST_WINDOW_S / 60,
                named.join(", ")
            ),
            theme.warn,
        ));
    }
    if let Some(f) = app.data.trail_findings.first() {
        lines.push(Line::styled(
            format!(
                "{} findings · worst: {} {}",
                app.data.trail_findings.len(),
                f.subject,
                f.message
            ),
            theme.level(f.level()),
        ));
    }
    lines.extend(super::iam::unavailable_line(
        app,
        &app.data.trail.data.unavailable,
    ));
    let (top, body) = split_top(area, lines.len() as u16 + 1);
    frame.render_widget(Paragraph::new(lines), top);
    draw_table(frame, body, app, TableId::TrailEvents, stale);
}
