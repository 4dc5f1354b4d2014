//! The playbooks that ship with opsdeck or sit in the user's `playbooks/` directory.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table};
use crate::model::Level;
use crate::playbook::catalog::Entry;
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

pub struct PlaybookRows<'a>(pub &'a [Entry]);

impl Rows for PlaybookRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
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
    draw_table(frame, area, app, TableId::Playbooks, false);
}
