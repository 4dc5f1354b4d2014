//! The playbooks that ship with opsdeck or sit in the user's `playbooks/` directory.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table};
use crate::incident::event::RunOutcome;
use crate::model::Level;
use crate::playbook::catalog::{Entry, answer_rank};
use crate::playbook::run::{RunView, StepStatus};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub struct PlaybookRows<'a>(pub &'a [Entry]);

impl PlaybookRows<'_> {
    fn answers(&self, i: usize, alarm: &str) -> bool {
        self.0[i]
            .ok()
            .is_some_and(|p| answer_rank(p, alarm).is_some())
    }
}

/// The filter `P` sets: the playbooks that answer this alarm, best match first.
pub const ANSWERS: &str = "answers:";

impl Rows for PlaybookRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn matches(&self, i: usize, needle: &str, now: Timestamp) -> bool {
        match needle.strip_prefix(ANSWERS) {
            Some(alarm) => self.answers(i, alarm),
            None => self
                .cells(i, now)
                .1
                .iter()
                .any(|c| super::super::table::contains_ignore_case(c, needle)),
        }
    }
    fn rank(&self, i: usize, needle: &str) -> usize {
        needle
            .strip_prefix(ANSWERS)
            .and_then(|alarm| answer_rank(self.0[i].ok()?, alarm))
            .unwrap_or(0)
    }
    fn header(&self) -> &'static [&'static str] {
        &["NAME", "SEV", "TITLE"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(22),
            Constraint::Length(5),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let e = &self.0[i];
        match &e.playbook {
            Err(err) => (
                Level::Crit,
                vec![e.name.clone(), "-".into(), format!("✗ {}", err.short())],
            ),
            Ok(p) => (
                Level::Ok,
                vec![e.name.clone(), p.severity.name().into(), p.title.clone()],
            ),
        }
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let e = &self.0[i];
        let mut out = vec![
            ("Playbook", e.name.clone()),
            ("File", e.origin.display().to_string()),
        ];
        match &e.playbook {
            Err(err) => out.push(("Error", err.to_string())),
            Ok(p) => {
                out.push(("Title", p.title.clone()));
                out.push(("Severity", p.severity.name().into()));
                out.push(("Description", p.description.clone()));
                out.push(("Answers", p.answers.join(", ")));
                let steps: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
                out.push(("Steps", steps.join(" → ")));
            }
        }
        out
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some(run) = &app.run else {
        draw_table(frame, area, app, TableId::Playbooks, false);
        return;
    };
    let list = (app.data.playbooks.len() as u16 + 1)
        .min(area.height / 3)
        .max(3);
    let (top, bottom) = super::split_top(area, list);
    draw_table(frame, top, app, TableId::Playbooks, false);
    draw_run(frame, bottom, app, run);
}

/// Every step's state live, with the latest thing it said.
fn draw_run(frame: &mut Frame, area: Rect, app: &App, run: &RunView) {
    let theme = &app.theme;
    let (state, style) = match run.outcome {
        None => ("running — x aborts".to_string(), theme.accent),
        Some(o @ (RunOutcome::Ok | RunOutcome::Declined(_))) => (o.text(), theme.ok),
        Some(o @ RunOutcome::Unmet(_)) => (format!("! {}", o.text()), theme.warn),
        Some(o @ RunOutcome::Failed) => (format!("✗ {}", o.text()), theme.crit),
        Some(o @ RunOutcome::Aborted) => (o.text(), theme.warn),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("run {} {} ", run.run, run.playbook), theme.title),
        Span::styled(state, style),
    ])];
    for s in &run.steps {
        let (mark, style) = match s.status {
            StepStatus::Pending => ("·", theme.muted),
            StepStatus::Running => ("▶", theme.accent),
            StepStatus::Waiting => ("…", theme.accent),
            StepStatus::AwaitingInput => ("?", theme.warn),
            StepStatus::Ok => ("✓", theme.ok),
            StepStatus::Failed => ("✗", theme.crit),
            StepStatus::Skipped => ("-", theme.muted),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} {:<10} ", s.id), style),
            Span::styled(s.what.clone(), theme.text),
        ]));
        if let Some(last) = s.output.last() {
            lines.push(Line::styled(format!("     {last}"), theme.muted));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}
