//! Backup freshness as the DB pane, the overview and a member's detail show it: one line
//! per database, `newest backup 42 min ago · RPO 1 h ✓`, coloured by how close it is to the
//! RPO, and under it what is wrong.

use super::super::app::App;
use super::super::data::Data;
use crate::model::backup::{BackupStatus, span_text};
use ratatui::text::{Line, Span};

/// The line of one database, indented by `indent` columns: it fits 80 columns with a
/// database name of up to 14 characters.
pub fn status_line(app: &App, b: &BackupStatus, indent: usize) -> Line<'static> {
    let theme = &app.theme;
    Line::from(vec![
        Span::raw(" ".repeat(indent)),
        Span::styled(format!("{:<14} ", b.database), theme.title),
        Span::styled(b.line(), theme.level(b.level)),
    ])
}

/// Every database's line, each followed by its worst problem when it has one.
pub fn lines(app: &App, indent: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for b in &app.data.backup_status {
        out.push(status_line(app, b, indent));
        if let Some(p) = b.problems.first() {
            out.push(Line::styled(
                format!("{:w$}└ {p}", "", w = indent + 2),
                app.theme.level(b.level),
            ));
        }
    }
    out
}

/// A member's detail: its database's backup line, and each source's newest backup (and a
/// newer attempt that failed, or why the source could not be read).
pub fn detail(data: &Data, database: &str) -> Vec<(&'static str, String)> {
    let Some(status) = data.backup_status.iter().find(|b| b.database == database) else {
        return Vec::new();
    };
    let mut rows = vec![("Backups", status.line())];
    let now = data.backups.data.checked;
    let ago = |at: jiff::Timestamp| {
        now.map_or_else(String::new, |n| {
            format!(" ({} ago)", span_text(n.as_second() - at.as_second()))
        })
    };
    let sources = data
        .backups
        .data
        .databases
        .iter()
        .filter(|d| d.database == database)
        .flat_map(|d| d.sources.iter());
    for s in sources {
        let newest = match (&s.error, &s.newest_good) {
            (Some(e), _) => format!("cannot read: {e}"),
            (None, Some(b)) => format!("{}{}", b.name, ago(b.at)),
            (None, None) => "no backup".into(),
        };
        rows.push(("Source", format!("{}: {newest}", s.location)));
        if let Some(a) = &s.newest_attempt {
            rows.push((
                "  newer attempt",
                format!(
                    "{}{}: {}",
                    a.name,
                    ago(a.at),
                    a.failed.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    rows.extend(status.problems.iter().map(|p| ("  problem", p.clone())));
    rows
}
