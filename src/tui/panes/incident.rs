//! The incident: its SLA clock, milestones, notices and runs on top, the timeline below.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table, split_top};
use crate::incident::clock::{Stage, hms};
use crate::incident::event::Entry;
use crate::incident::report::timeline_text;
use crate::model::Level;
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Most recent first: in the middle of an incident the latest entry matters most.
pub struct TimelineRows<'a>(pub &'a [Entry]);

impl TimelineRows<'_> {
    fn entry(&self, i: usize) -> &Entry {
        &self.0[self.0.len() - 1 - i]
    }
}

impl Rows for TimelineRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["TIME", "WHO", "WHAT"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(8),
            Constraint::Length(16),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let e = self.entry(i);
        let text = timeline_text(&e.event).unwrap_or_else(|| "report details entered".into());
        let level = if text.contains("FAILED")
            || text.contains("NOT sent")
            || text.contains("overridden")
        {
            Level::Warn
        } else {
            Level::Ok
        };
        (
            level,
            vec![e.at.strftime("%H:%M:%S").to_string(), e.who.short(), text],
        )
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let e = self.entry(i);
        vec![
            ("Entry", e.seq.to_string()),
            ("Time", e.at.to_string()),
            ("Who", e.who.to_string()),
            ("What", timeline_text(&e.event).unwrap_or_default()),
            (
                "Journal",
                serde_json::to_string(&e.event).unwrap_or_default(),
            ),
        ]
    }
}

fn at(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "—".into(), |t| t.strftime("%H:%M:%S").to_string())
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let Some(inc) = app.data.incident.as_deref() else {
        let key = app
            .keymap
            .keys_of(super::super::action::Command::NewIncident);
        let mut lines = vec![
            Line::styled("○ No open incident.", theme.ok),
            Line::styled(
                format!(
                    "  {key} on an alarm (pane 5) opens one from it; :incident new opens one by hand."
                ),
                theme.muted,
            ),
            Line::styled(
                "  The SLA clock starts at recognition and shows in the header of every screen.",
                theme.muted,
            ),
        ];
        lines.extend(budget_lines(app, None));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    };
    let mut clocks = Vec::new();
    for c in app.countdowns() {
        if !clocks.is_empty() {
            clocks.push(Span::styled(" · ", theme.muted));
        }
        clocks.push(Span::styled(
            c.to_string(),
            stage_style(app, c.status.stage),
        ));
        clocks.push(Span::styled(
            format!(" until {} UTC", c.status.deadline.strftime("%H:%M:%S")),
            theme.muted,
        ));
    }
    let start = inc.detected_at.unwrap_or(inc.recognised_at);
    let target = inc.severity.response_target();
    let response = match inc.acknowledged_at {
        Some(t) if t.duration_since(start) <= target => {
            Span::styled(format!("✓ acknowledged {}", at(Some(t))), theme.ok)
        }
        Some(t) => Span::styled(format!("! acknowledged {} (late)", at(Some(t))), theme.warn),
        None if app.now.duration_since(start) > target => Span::styled(
            format!("✗ not acknowledged (target {})", hms(target)),
            theme.crit,
        ),
        None => Span::styled(
            format!(
                "! acknowledge within {}",
                hms(target - app.now.duration_since(start))
            ),
            theme.warn,
        ),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", inc.id), theme.title),
            Span::styled(format!("{} ", inc.severity.name()), theme.crit),
            Span::styled(inc.title.clone(), theme.text),
        ]),
        Line::from(clocks),
        Line::from(vec![
            Span::styled(
                format!(
                    "detected {} · recognised {} · ",
                    at(inc.detected_at),
                    at(Some(inc.recognised_at))
                ),
                theme.muted,
            ),
            response,
        ]),
        Line::styled(
            format!(
                "mitigated {} · recovered {} · notices {} ({} sent)",
                at(inc.mitigated_at),
                at(inc.recovered_at),
                inc.notices.len(),
                inc.notices.iter().filter(|n| n.sent()).count()
            ),
            theme.muted,
        ),
    ];
    if app.team.is_some() {
        let mut roles = format!("commander {}", inc.commander);
        if !inc.comms.is_empty() {
            roles.push_str(&format!(" · comms {}", inc.comms.join(", ")));
        }
        if !inc.merged.is_empty() {
            roles.push_str(&format!(" · merged in {}", inc.merged.join(", ")));
        }
        if let Some(team) = app.team.as_ref().filter(|t| !t.others.is_empty()) {
            roles.push_str(&format!(" · with {}", team.others.join(", ")));
        }
        lines.push(Line::styled(
            format!("{roles} · :role comms · :handover USER"),
            theme.muted,
        ));
    }
    // The header says since when; the why is here, where there is room for it.
    if let Some((_, why)) = app.team.as_ref().and_then(|t| t.unreachable.as_ref()) {
        lines.push(Line::styled(format!("✗ team journal: {why}"), theme.crit));
    }
    for n in &inc.notices {
        if let Some((at, who)) = &n.sent {
            lines.push(Line::styled(
                format!(
                    "✓ breach notice {} sent {} by {who}",
                    n.n,
                    at.strftime("%H:%M:%S")
                ),
                theme.ok,
            ));
        }
    }
    for run in app.runs_elsewhere() {
        lines.push(Line::styled(format!("▶ {run}"), theme.accent));
    }
    if inc.service.is_none() && !app.services.list.is_empty() {
        lines.push(Line::styled(
            ":service NAME tags the service hit: its RTO and budget apply",
            theme.muted,
        ));
    }
    lines.extend(budget_lines(app, inc.service.as_deref()));
    // A run another console of the team is still running is not interrupted.
    for run in inc
        .runs
        .iter()
        .filter(|r| r.interrupted_at().is_some() && !app.elsewhere(r))
    {
        let step = run
            .interrupted_at()
            .map(|s| s.step.clone())
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(
                "! run {} {} interrupted at {step} — verify, then r resume or x abort",
                run.run, run.playbook
            ),
            theme.warn,
        ));
    }
    let keys = |c| {
        app.keymap
            .keys_of(c)
            .split(", ")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    use super::super::action::Command as C;
    lines.push(Line::styled(
        format!(
            "{} acknowledged · {} mitigated · {} breach notice · {} resolve · :note TEXT",
            keys(C::Acknowledge),
            keys(C::Mitigate),
            keys(C::BreachNotice),
            keys(C::Resolve)
        ),
        theme.muted,
    ));
    let (top, body) = split_top(area, lines.len() as u16);
    frame.render_widget(Paragraph::new(lines), top);
    draw_table(frame, body, app, TableId::Timeline, false);
}

pub fn stage_style(app: &App, stage: Stage) -> ratatui::style::Style {
    match stage {
        Stage::Ok => app.theme.ok,
        Stage::Warn => app.theme.warn,
        Stage::Breached => app.theme.crit,
    }
}

/// This month's availability budgets, the incident's own service first.
fn budget_lines(app: &App, service: Option<&str>) -> Vec<Line<'static>> {
    let mut budgets = app.budgets();
    budgets.sort_by_key(|b| Some(b.service.as_str()) != service);
    budgets
        .into_iter()
        .map(|b| {
            let style = match b.level() {
                Level::Ok => app.theme.ok,
                Level::Warn => app.theme.warn,
                _ => app.theme.crit,
            };
            Line::styled(b.to_string(), style)
        })
        .collect()
}
