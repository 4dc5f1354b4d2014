//! One health line per area, with its worst current problem.

use super::super::app::App;
use super::super::data::Data;
use super::super::table::Rows;
use super::TableId;
use crate::model::summary::Area;
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub struct AreaRows<'a>(pub &'a Data);

impl Rows for AreaRows<'_> {
    fn len(&self) -> usize {
        Area::ALL.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["AREA", "STATE"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[Constraint::Length(8), Constraint::Fill(1)]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        match self.0.summary(Area::ALL[i]) {
            Some(s) => (s.level, vec![s.area.title().to_string(), s.counts.clone()]),
            None => (Level::Ok, vec![]),
        }
    }
    fn detail(&self, _i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        vec![]
    }
}

/// Terminal width from which a context line also names its worst problem.
const WIDE: u16 = 100;

/// One line per watched Kubernetes context (live only), in columns that fit 80 terminal
/// columns; a context that is failing or still loading says so on a line of its own.
fn context_lines(lines: &mut Vec<Line<'static>>, app: &App, width: u16) {
    let theme = &app.theme;
    if app.data.contexts.is_empty() {
        return;
    }
    lines.push(Line::styled(
        format!(
            "{:7}{:<14} {:<10} {:>5} {:>7} {:>9} {:>9} {:>7}",
            "", "CONTEXT", "NAMESPACE", "NODES", "DEPLOYS", "NOT READY", "CRASHLOOP", "HPA MAX"
        ),
        theme.muted,
    ));
    for c in app.data.contexts.iter() {
        let level = theme.level(c.level);
        let counts = if c.last_ok.is_some() {
            format!(
                "{:>5} {:>7} {:>9} {:>9} {:>7}",
                format!("{}/{}", c.nodes_ready, c.nodes),
                format!("{}/{}", c.deployments_available, c.deployments),
                c.pods_not_ready,
                c.crashlooping,
                c.hpas_at_max
            )
        } else {
            String::new()
        };
        let mut line = Line::from(vec![
            Span::styled(
                format!("   {} ", if c.active { "▸" } else { " " }),
                theme.accent,
            ),
            Span::styled(format!("{} ", c.level.marker()), level),
            Span::styled(
                format!("{:<14} ", c.context),
                if c.active { theme.focus } else { theme.title },
            ),
            Span::styled(
                format!("{:<10} ", c.namespace.as_deref().unwrap_or("all")),
                theme.text,
            ),
            Span::styled(counts, theme.text),
        ]);
        // The worst problem fits beside the counts only on a wide terminal.
        if let (Some(worst), true, None) = (&c.worst, width >= WIDE, &c.error) {
            line.push_span(Span::styled(format!("  {worst}"), level));
        }
        lines.push(line);
        let state = match (&c.error, c.last_ok) {
            (Some(e), Some(t)) => Some(format!("last update {} ago — {e}", age(t, app.now))),
            (Some(e), None) => Some(format!("no data yet — {e}")),
            (None, _) if c.loading => Some("loading…".to_string()),
            (None, _) => None,
        };
        if let Some(state) = state {
            lines.push(Line::styled(format!("{:7}└ {state}", ""), level));
        }
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let view = app.view(TableId::Overview);
    let mut lines = Vec::new();
    for (i, a) in Area::ALL.iter().enumerate() {
        let Some(s) = app.data.summary(*a) else {
            continue;
        };
        let selected = view.selected == i;
        let level = theme.level(s.level);
        let name = Span::styled(
            format!(" {:<7} ", a.title()),
            if selected { theme.focus } else { theme.title },
        );
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} {:<4} ", s.level.marker(), s.level.word()),
                level,
            ),
            name,
            Span::styled(format!(" {}", s.counts), theme.text),
        ]));
        let worst = match &s.worst {
            Some(w) => Span::styled(format!("{:15}└ {w}", ""), level),
            None => Span::styled(format!("{:15}└ no problems", ""), theme.muted),
        };
        lines.push(Line::from(worst));
        if *a == Area::Cluster {
            context_lines(&mut lines, app, area.width);
        }
    }
    lines.push(Line::default());
    let firing: Vec<_> = app.data.alarms.data.firing().collect();
    if firing.is_empty() {
        lines.push(Line::styled(" No alarm is firing.", theme.ok));
    } else {
        lines.push(Line::styled(
            format!(" Firing now ({})", firing.len()),
            theme.title,
        ));
    }
    let room = (area.height as usize).saturating_sub(lines.len() + 1);
    for a in firing.iter().take(room) {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {} {:<5}", a.level().marker(), age(a.since, app.now)),
                theme.level(a.level()),
            ),
            Span::styled(format!("{} ", a.name), theme.text),
            Span::styled(a.reason.clone(), theme.muted),
        ]));
    }
    lines.push(Line::styled(
        format!(
            " {} playbooks ready · Enter opens the selected area · {} for help",
            app.data.playbooks.len(),
            app.keymap.keys_of(super::super::action::Command::Help)
        ),
        theme.muted,
    ));
    frame.render_widget(Paragraph::new(lines), area);
}
