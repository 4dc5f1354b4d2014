//! Alarms: CloudWatch alarms and Alertmanager alerts, most urgent first.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table, health_banner};
use crate::model::alarm::{Alarm, AlarmSource};
use crate::model::summary::Area;
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};

pub struct AlarmRows<'a>(pub &'a [Alarm]);

fn source_word(s: AlarmSource) -> &'static str {
    match s {
        AlarmSource::CloudWatch => "cloudwatch",
        AlarmSource::Alertmanager => "alertmanager",
    }
}

impl Rows for AlarmRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["STATE", "SEVERITY", "NAME", "SINCE", "REASON"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Fill(2),
            Constraint::Length(5),
            Constraint::Fill(3),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let a = &self.0[i];
        (
            a.level(),
            vec![
                a.state.word().into(),
                format!("{:?}", a.severity).to_lowercase(),
                a.name.clone(),
                age(a.since, now),
                a.reason.clone(),
            ],
        )
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let a = &self.0[i];
        vec![
            ("Alarm", a.name.clone()),
            ("Source", source_word(a.source).into()),
            ("State", a.state.word().into()),
            ("Severity", format!("{:?}", a.severity).to_lowercase()),
            ("Since", format!("{} ({} ago)", a.since, age(a.since, now))),
            ("Reason", a.reason.clone()),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Alarms);
    draw_table(frame, area, app, TableId::Alarms, stale);
}
