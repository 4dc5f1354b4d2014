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
        match &e.error {
            Some(err) => (
                Level::Crit,
                vec![e.name.clone(), "-".into(), format!("✗ {err}")],
            ),
            None => (
                Level::Ok,
                vec![e.name.clone(), e.severity.clone(), e.title.clone()],
            ),
        }
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let e = &self.0[i];
        let mut out = vec![
            ("Playbook", e.name.clone()),
            ("File", e.origin.display().to_string()),
        ];
        match &e.error {
            Some(err) => out.push(("Error", err.clone())),
            None => {
                out.push(("Title", e.title.clone()));
                out.push(("Severity", e.severity.clone()));
                out.push(("Description", e.description.clone()));
            }
        }
        out
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    draw_table(frame, area, app, TableId::Playbooks, false);
}
