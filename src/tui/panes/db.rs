//! Database replication: each cluster's topology and every member's replication state.

use super::super::app::App;
use super::super::data::Data;
use super::super::table::Rows;
use super::{TableId, draw_table, health_banner, split_top};
use crate::model::Level;
use crate::model::db::{DbCluster, DbMember, Role};
use crate::model::summary::Area;
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub struct MemberRows<'a>(pub &'a Data);

impl MemberRows<'_> {
    fn get(&self, i: usize) -> (&DbCluster, &DbMember) {
        let (c, m) = self.0.db_rows[i];
        let cluster = &self.0.db.data.clusters[c];
        (cluster, &cluster.members[m])
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "-",
    }
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Primary => "primary",
        Role::Replica => "replica",
        Role::Unknown => "?",
    }
}

/// The role with where it comes from when the member could not say it itself.
fn role_text(m: &DbMember) -> String {
    match &m.role_from {
        Some(from) => format!("{} (unreachable; {from})", role_word(m.role)),
        None => role_word(m.role).into(),
    }
}

impl Rows for MemberRows<'_> {
    fn len(&self) -> usize {
        self.0.db_rows.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &[
            "MEMBER",
            "ROLE",
            "STATUS",
            "RO",
            "IO/SQL",
            "LAG",
            "POSITION",
            "LAST ERROR",
        ]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(17),
            Constraint::Length(3),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Fill(1),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let (c, m) = self.get(i);
        let (level, word) = m.status(c.lag_threshold_s);
        let threads = match m.role {
            Role::Primary => "-".to_string(),
            _ => format!("{}/{}", yes_no(m.io_running), yes_no(m.sql_running)),
        };
        (
            level,
            vec![
                m.name.clone(),
                role_word(m.role).into(),
                word.into(),
                yes_no(m.read_only).into(),
                threads,
                m.lag_text(),
                m.position.clone().unwrap_or_else(|| "-".into()),
                m.last_error.clone().unwrap_or_default(),
            ],
        )
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let (c, m) = self.get(i);
        let (_, word) = m.status(c.lag_threshold_s);
        vec![
            ("Cluster", format!("{} ({})", c.name, c.engine.name())),
            ("Member", m.name.clone()),
            ("Endpoint", m.endpoint.clone()),
            ("Role", role_text(m)),
            ("Status", word.into()),
            ("Reachable", m.reachable.to_string()),
            ("read_only", yes_no(m.read_only).into()),
            ("IO / receiver", yes_no(m.io_running).into()),
            ("SQL / replay", yes_no(m.sql_running).into()),
            (
                "Lag",
                format!("{} (threshold {:.1}s)", m.lag_text(), c.lag_threshold_s),
            ),
            (
                "Lag bytes",
                m.lag_bytes.map_or_else(|| "-".into(), |b| b.to_string()),
            ),
            ("Position", m.position.clone().unwrap_or_else(|| "-".into())),
            (
                "Last error",
                m.last_error.clone().unwrap_or_else(|| "none".into()),
            ),
        ]
        .into_iter()
        .chain(super::backups::detail(self.0, &c.name))
        .collect()
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Db);
    let theme = &app.theme;
    let clusters = &app.data.db.data.clusters;
    let mut lines: Vec<Line> = Vec::new();
    for c in clusters {
        let primary = c
            .members
            .iter()
            .find(|m| m.role == Role::Primary && m.reachable);
        let named = c
            .members
            .iter()
            .find(|m| m.role == Role::Primary && !m.reachable);
        let replicas: Vec<&str> = c
            .members
            .iter()
            .filter(|m| m.role == Role::Replica)
            .map(|m| m.name.as_str())
            .collect();
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", c.name), theme.title),
            Span::styled(format!("{} · ", c.engine.name()), theme.accent),
            match (primary, named) {
                (Some(p), _) => Span::styled(
                    format!("primary {} → replicas {}", p.name, replicas.join(", ")),
                    theme.text,
                ),
                (None, Some(n)) => Span::styled(
                    format!(
                        "✗ CRIT primary {} unreachable → replicas {}",
                        n.name,
                        replicas.join(", ")
                    ),
                    theme.crit,
                ),
                (None, None) => Span::styled("✗ CRIT no reachable primary".to_string(), theme.crit),
            },
        ]));
        let router = c
            .router
            .as_ref()
            .map(|r| format!("{r} · "))
            .unwrap_or_default();
        // Where the unreachable primary's role comes from, first: it is what the failover
        // will fence.
        let named = named
            .filter(|_| primary.is_none())
            .and_then(|n| n.role_from.as_ref())
            .map(|from| format!("{from} · "))
            .unwrap_or_default();
        lines.push(Line::styled(
            format!("  {named}{router}lag threshold {:.1}s", c.lag_threshold_s),
            theme.muted,
        ));
    }
    lines.extend(super::backups::lines(app, 0));
    let (top, body) = split_top(area, lines.len() as u16 + 1);
    frame.render_widget(Paragraph::new(lines), top);
    draw_table(frame, body, app, TableId::DbMembers, stale);
}
