//! Alarms: CloudWatch alarms and Alertmanager alerts in one list, the unattended firing
//! ones first; each row says where it comes from.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table, health_banner, split_top};
use crate::model::alarm::Alarm;
use crate::model::summary::Area;
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

/// The alarms, and the history of the one whose detail was opened `(key, text)`.
pub struct AlarmRows<'a>(pub &'a [Alarm], pub Option<&'a (String, String)>);

impl Rows for AlarmRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["STATE", "SEVERITY", "NAME", "SOURCE", "SINCE", "REASON"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Fill(3),
            Constraint::Fill(1),
            Constraint::Length(5),
            Constraint::Fill(3),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let a = &self.0[i];
        let source = if a.origin.is_empty() {
            short_source(a).to_string()
        } else {
            format!("{} {}", short_source(a), a.origin)
        };
        (
            a.level(),
            vec![
                a.state_word().into(),
                a.severity.word().into(),
                a.name.clone(),
                source,
                age(a.since, now),
                a.reason.clone(),
            ],
        )
    }
    fn matches(&self, i: usize, needle: &str, _now: Timestamp) -> bool {
        self.0[i].matches(needle)
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let a = &self.0[i];
        let mut out = vec![
            ("Alarm", a.name.clone()),
            ("Source", format!("{} {}", a.source.word(), a.origin)),
            ("State", a.state_word().into()),
            ("Severity", a.severity.word().into()),
            (
                "Since",
                format!(
                    "{} ({} ago)",
                    a.since.strftime("%Y-%m-%d %H:%M:%SZ"),
                    age(a.since, now)
                ),
            ),
            ("Reason", a.reason.clone()),
        ];
        if let Some(enabled) = a.actions_enabled {
            let text = if enabled {
                "enabled (s disables them)"
            } else {
                "DISABLED: nothing is notified (u enables them)"
            };
            out.push(("Actions", text.into()));
        }
        for (k, v) in &a.facts {
            out.push((k, v.clone()));
        }
        if !a.labels.is_empty() {
            let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(("Labels", labels.join(" ")));
        }
        for (k, v) in &a.annotations {
            out.push(("Annotation", format!("{k}: {v}")));
        }
        if !a.silenced_by.is_empty() {
            out.push(("Silenced by", a.silenced_by.join(", ")));
        }
        if !a.inhibited_by.is_empty() {
            out.push(("Inhibited by", a.inhibited_by.join(", ")));
        }
        if let Some((_, text)) = self.1.filter(|(k, _)| k == a.key()) {
            for (n, line) in text.lines().enumerate() {
                out.push((if n == 0 { "History" } else { "" }, line.to_string()));
            }
        }
        out
    }
}

fn short_source(a: &Alarm) -> &'static str {
    match a.source {
        crate::model::alarm::AlarmSource::CloudWatch => "cw",
        crate::model::alarm::AlarmSource::Alertmanager => "am",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Alarms);
    // A source that refuses a call says so above the list while the others carry on; an
    // outage is already in the banner.
    let banner = app.data.alarms.health.last_error.as_deref().unwrap_or("");
    let problems: Vec<Line> = app
        .data
        .alarms
        .data
        .sources
        .iter()
        .filter_map(|s| {
            let p = s
                .problem
                .as_ref()
                .filter(|p| !banner.contains(p.as_str()))?;
            Some(Line::styled(format!(" ! {}: {p}", s.name), app.theme.warn))
        })
        .collect();
    let (top, rest) = split_top(area, problems.len().min(3) as u16);
    if !problems.is_empty() {
        frame.render_widget(Paragraph::new(problems), top);
    }
    draw_table(frame, rest, app, TableId::Alarms, stale);
}
