//! One module per pane. Each knows its tables (as `Rows`) and how to lay itself out.

mod alarms;
mod backups;
mod cluster;
mod db;
pub(crate) mod iam;
pub(super) mod incident;
mod overview;
mod playbooks;
mod regions;
pub use playbooks::ANSWERS;
mod trail;
mod waf;

pub use overview::{OverviewRow, overview_rows};

use super::app::{App, ClusterTab, IamTab, Pane};
use super::data::Data;
use super::table::{self, Rows, TableStyle};
use crate::model::summary::Area;
use crate::model::{Health, Level};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Every table in the console; the discriminant indexes the app's table views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableId {
    Overview,
    Nodes,
    Deployments,
    Pods,
    Hpas,
    Pdbs,
    Events,
    DbMembers,
    WafBlocked,
    Alarms,
    IamUsers,
    IamFindings,
    TrailEvents,
    Playbooks,
    Timeline,
}

impl TableId {
    pub const ALL: [TableId; 15] = [
        TableId::Overview,
        TableId::Nodes,
        TableId::Deployments,
        TableId::Pods,
        TableId::Hpas,
        TableId::Pdbs,
        TableId::Events,
        TableId::DbMembers,
        TableId::WafBlocked,
        TableId::Alarms,
        TableId::IamUsers,
        TableId::IamFindings,
        TableId::TrailEvents,
        TableId::Playbooks,
        TableId::Timeline,
    ];

    pub const CLUSTER: [TableId; 6] = [
        TableId::Nodes,
        TableId::Deployments,
        TableId::Pods,
        TableId::Hpas,
        TableId::Pdbs,
        TableId::Events,
    ];
}

pub fn table_of(pane: Pane, cluster_tab: ClusterTab, iam_tab: IamTab) -> TableId {
    match pane {
        Pane::Overview => TableId::Overview,
        Pane::Cluster => match cluster_tab {
            ClusterTab::Nodes => TableId::Nodes,
            ClusterTab::Deployments => TableId::Deployments,
            ClusterTab::Pods => TableId::Pods,
            ClusterTab::Hpa => TableId::Hpas,
            ClusterTab::Pdb => TableId::Pdbs,
            ClusterTab::Events => TableId::Events,
        },
        Pane::Db => TableId::DbMembers,
        Pane::Waf => TableId::WafBlocked,
        Pane::Alarms => TableId::Alarms,
        Pane::Iam => match iam_tab {
            IamTab::Users => TableId::IamUsers,
            IamTab::Findings => TableId::IamFindings,
        },
        Pane::Trail => TableId::TrailEvents,
        Pane::Playbooks => TableId::Playbooks,
        Pane::Incident => TableId::Timeline,
    }
}

pub fn rows(id: TableId, data: &Data) -> Box<dyn Rows + '_> {
    match id {
        TableId::Overview => Box::new(overview::AreaRows(data)),
        TableId::Nodes => Box::new(cluster::NodeRows(&data.cluster.data.nodes)),
        TableId::Deployments => Box::new(cluster::DeploymentRows(&data.cluster.data.deployments)),
        TableId::Pods => Box::new(cluster::PodRows(&data.cluster.data.pods, data.pod_metrics)),
        TableId::Hpas => Box::new(cluster::HpaRows(&data.cluster.data.hpas)),
        TableId::Pdbs => Box::new(cluster::PdbRows(&data.cluster.data.pdbs)),
        TableId::Events => Box::new(cluster::EventRows(&data.cluster.data.events)),
        TableId::DbMembers => Box::new(db::MemberRows(data)),
        TableId::WafBlocked => Box::new(waf::BlockedRows(&data.waf.data.recent_blocked)),
        TableId::Alarms => Box::new(alarms::AlarmRows(
            &data.alarms.data.alarms,
            data.alarm_history.as_ref(),
        )),
        TableId::IamUsers => Box::new(iam::UserRows(
            &data.iam.data.users,
            data.user_check.as_ref(),
        )),
        TableId::IamFindings => Box::new(iam::FindingRows(&data.findings)),
        TableId::TrailEvents => Box::new(trail::EventRows(&data.trail.data.events)),
        TableId::Playbooks => Box::new(playbooks::PlaybookRows(&data.playbooks)),
        TableId::Timeline => Box::new(incident::TimelineRows(
            data.incident.as_deref().map_or(&[][..], |i| &i.entries[..]),
        )),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    match app.pane {
        Pane::Overview => overview::draw(frame, area, app),
        Pane::Cluster => cluster::draw(frame, area, app),
        Pane::Db => db::draw(frame, area, app),
        Pane::Waf => waf::draw(frame, area, app),
        Pane::Alarms => alarms::draw(frame, area, app),
        Pane::Iam => iam::draw(frame, area, app),
        Pane::Trail => trail::draw(frame, area, app),
        Pane::Playbooks => playbooks::draw(frame, area, app),
        Pane::Incident => incident::draw(frame, area, app),
    }
}

/// Draws the current table of the pane into `area`.
fn draw_table(frame: &mut Frame, area: Rect, app: &App, id: TableId, stale: bool) {
    let style = TableStyle {
        theme: &app.theme,
        stale,
    };
    table::render(
        frame,
        area,
        rows(id, &app.data).as_ref(),
        app.view(id),
        app.now,
        &style,
    );
}

/// A failing source greys its pane and says why, above the last data it had. Returns the
/// area left for the pane and whether it is stale.
fn health_banner(frame: &mut Frame, area: Rect, app: &App, source: Area) -> (Rect, bool) {
    let health: &Health = app.data.health(source);
    let (line, stale) = if let Some(why) = &health.off {
        let text = format!(
            " {} {} — not configured: {why}",
            Level::Off.word(),
            source.title()
        );
        (Line::styled(text, app.theme.muted), false)
    } else if let Some(error) = &health.last_error {
        (failing(app, source, health, error), true)
    } else {
        return (area, false);
    };
    frame.render_widget(Paragraph::new(line), Rect { height: 1, ..area });
    (
        Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1),
            ..area
        },
        stale,
    )
}

fn failing<'a>(app: &App, source: Area, health: &Health, error: &str) -> Line<'a> {
    let since = match health.last_ok {
        Some(t) => format!("last update {} ago", crate::model::age(t, app.now)),
        None => "no data yet".to_string(),
    };
    Line::from(vec![
        Span::styled(" ✗ CRIT ", app.theme.crit),
        Span::styled(
            format!("{} — {since} — {error}", source.title()),
            app.theme.crit,
        ),
    ])
}

/// `Nodes 3 │ Pods 42 │ …` with the current one highlighted.
fn tab_line<'a>(app: &App, tabs: &[(&'a str, usize, bool)]) -> Line<'a> {
    let mut spans = Vec::new();
    for (n, (title, count, current)) in tabs.iter().enumerate() {
        if n > 0 {
            spans.push(Span::styled(" │ ", app.theme.border));
        }
        let style = if *current {
            app.theme.focus
        } else {
            app.theme.accent
        };
        spans.push(Span::styled(format!("{title} {count}"), style));
    }
    Line::from(spans)
}

/// Splits off the first `n` lines of `area`.
fn split_top(area: Rect, n: u16) -> (Rect, Rect) {
    let n = n.min(area.height);
    (
        Rect { height: n, ..area },
        Rect {
            y: area.y + n,
            height: area.height - n,
            ..area
        },
    )
}
