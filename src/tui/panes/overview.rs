//! One health line per area, with its worst current problem, and under Cluster one line per
//! watched Kubernetes context.

use super::super::app::App;
use super::super::data::Data;
use super::super::table::Rows;
use super::TableId;
use crate::model::cluster::scope;
use crate::model::summary::{Area, AreaSummary, ContextHealth};
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// What a line of the overview table stands for: an area, or (live, under Cluster) one
/// watched Kubernetes context, so Enter on it shows that context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverviewRow {
    Area(Area),
    Context(usize),
}

/// The overview's rows in screen order.
pub fn overview_rows(data: &Data) -> impl Iterator<Item = OverviewRow> + '_ {
    Area::ALL.iter().flat_map(move |&area| {
        let contexts = if area == Area::Cluster {
            data.contexts.len()
        } else {
            0
        };
        std::iter::once(OverviewRow::Area(area)).chain((0..contexts).map(OverviewRow::Context))
    })
}

pub struct AreaRows<'a>(pub &'a Data);

impl Rows for AreaRows<'_> {
    fn len(&self) -> usize {
        overview_rows(self.0).count()
    }
    fn header(&self) -> &'static [&'static str] {
        &["AREA", "STATE"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[Constraint::Length(8), Constraint::Fill(1)]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        match overview_rows(self.0).nth(i) {
            Some(OverviewRow::Area(area)) => match self.0.summary(area) {
                Some(s) => (s.level, vec![area.title().to_string(), s.counts.clone()]),
                None => (Level::Ok, vec![]),
            },
            Some(OverviewRow::Context(c)) => match self.0.contexts.get(c) {
                Some(c) => (
                    c.level,
                    vec![c.context.clone(), scope(&c.context, c.namespace.as_deref())],
                ),
                None => (Level::Ok, vec![]),
            },
            None => (Level::Ok, vec![]),
        }
    }
    fn detail(&self, _i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        vec![]
    }
}

/// Terminal width from which a context line also names its worst problem.
const WIDE: u16 = 100;

/// Above the first context: the columns of the context lines, which fit 80 terminal columns.
fn context_header(app: &App) -> Line<'static> {
    Line::styled(
        format!(
            "{:7}{:<14} {:<10} {:>5} {:>7} {:>9} {:>9} {:>7}",
            "", "CONTEXT", "NAMESPACE", "NODES", "DEPLOYS", "NOT READY", "CRASHLOOP", "HPA MAX"
        ),
        app.theme.muted,
    )
}

/// One watched Kubernetes context (`▸` marks the active one); a context that is failing or
/// still loading says so on a line of its own.
fn context_lines(
    lines: &mut Vec<Line<'static>>,
    app: &App,
    c: &ContextHealth,
    selected: bool,
    width: u16,
) {
    let theme = &app.theme;
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
            format!("{:<14}", c.context),
            if selected { theme.focus } else { theme.title },
        ),
        Span::styled(
            format!(" {:<10} ", c.namespace.as_deref().unwrap_or("all")),
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

fn area_lines(lines: &mut Vec<Line<'static>>, app: &App, s: &AreaSummary, selected: bool) {
    let theme = &app.theme;
    let level = theme.level(s.level);
    lines.push(Line::from(vec![
        Span::styled(
            format!("{} {:<4} ", s.level.marker(), s.level.word()),
            level,
        ),
        Span::styled(
            format!(" {:<7} ", s.area.title()),
            if selected { theme.focus } else { theme.title },
        ),
        Span::styled(format!(" {}", s.counts), theme.text),
    ]));
    lines.push(match &s.worst {
        Some(w) => Line::styled(format!("{:15}└ {w}", ""), level),
        None => Line::styled(format!("{:15}└ no problems", ""), theme.muted),
    });
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let selected = app.view(TableId::Overview).selected_row();
    let mut lines = Vec::new();
    for (i, row) in overview_rows(&app.data).enumerate() {
        let selected = selected == Some(i);
        match row {
            OverviewRow::Area(a) => {
                if let Some(s) = app.data.summary(a) {
                    area_lines(&mut lines, app, s, selected);
                }
                // Under DB, each database's backups against its RPO: one line each, so
                // the question "how much would a restore lose" is answered at a glance.
                // Under Cluster, each region's traffic, health check and readiness: can
                // the other region take the load right now.
                if a == Area::Cluster {
                    lines.extend(super::regions::lines(app, 7));
                }
                if a == Area::Db {
                    lines.extend(
                        app.data
                            .backup_status
                            .iter()
                            .map(|b| super::backups::status_line(app, b, 7)),
                    );
                }
            }
            OverviewRow::Context(c) => {
                if c == 0 {
                    lines.push(context_header(app));
                }
                if let Some(health) = app.data.contexts.get(c) {
                    context_lines(&mut lines, app, health, selected, area.width);
                }
            }
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
    let what = if app.data.contexts.is_empty() {
        "area"
    } else {
        "area or context"
    };
    lines.push(Line::styled(
        format!(
            " {} playbooks ready · Enter opens the selected {what} · {} for help",
            app.data.playbooks.len(),
            app.keymap.keys_of(super::super::action::Command::Help)
        ),
        theme.muted,
    ));
    frame.render_widget(Paragraph::new(lines), area);
}
