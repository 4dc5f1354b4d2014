//! The regions as the overview shows them under Cluster: one line per region, `seoul
//! weight 50 (50 %) · health ✓ · ttl 60 s · nodes 3/3 …`, coloured by its level, and under
//! a troubled one its worst problem.

use super::super::app::App;
use ratatui::text::{Line, Span};

pub fn lines(app: &App, indent: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut out = Vec::new();
    for r in &app.data.region_status {
        let level = theme.level(r.level);
        out.push(Line::from(vec![
            Span::raw(" ".repeat(indent)),
            Span::styled(format!("{} ", r.level.marker()), level),
            Span::styled(format!("{:<10} ", r.region), theme.title),
            Span::styled(r.line.clone(), level),
        ]));
        if let Some(p) = r.problems.first() {
            out.push(Line::styled(
                format!("{:w$}└ {p}", "", w = indent + 2),
                level,
            ));
        }
    }
    out
}
