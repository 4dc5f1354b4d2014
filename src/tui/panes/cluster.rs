//! Cluster pane: nodes, deployments, pods, HPAs, PDBs and warning events as sections.

use super::super::app::{App, ClusterTab};
use super::super::table::Rows;
use super::{draw_table, health_banner, split_top, tab_line};
use crate::model::cluster::{DeploymentRow, EventRow, HpaRow, NodeRow, PdbRow, PodRow, Rollout};
use crate::model::rows::Rows as ModelRows;
use crate::model::summary::Area;
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

fn pct(v: Option<u8>) -> String {
    v.map_or_else(|| "-".into(), |p| format!("{p}%"))
}

pub struct NodeRows<'a>(pub &'a [NodeRow]);

impl Rows for NodeRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["NAME", "ZONE", "STATUS", "CPU", "MEM", "AGE"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Fill(2),
            Constraint::Length(16),
            Constraint::Fill(1),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(4),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let n = &self.0[i];
        (
            n.level(),
            vec![
                n.name.clone(),
                n.zone.clone(),
                n.status(),
                pct(n.cpu_pct),
                pct(n.mem_pct),
                age(n.created, now),
            ],
        )
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let n = &self.0[i];
        vec![
            ("Node", n.name.clone()),
            ("Zone", n.zone.clone()),
            ("Status", n.status()),
            ("Cordoned", n.cordoned.to_string()),
            (
                "Pressure",
                if n.pressure.is_empty() {
                    "none".into()
                } else {
                    n.pressure.join(", ")
                },
            ),
            ("CPU", pct(n.cpu_pct)),
            ("Memory", pct(n.mem_pct)),
            ("Age", age(n.created, now)),
        ]
    }
}

pub struct DeploymentRows<'a>(pub &'a [DeploymentRow]);

fn rollout_word(r: Rollout) -> &'static str {
    match r {
        Rollout::Complete => "complete",
        Rollout::Progressing => "progressing",
        Rollout::Stalled => "STALLED",
    }
}

impl Rows for DeploymentRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &[
            "NAMESPACE",
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAIL",
            "REV",
            "ROLLOUT",
            "IMAGE",
        ]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(11),
            Constraint::Fill(1),
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Length(5),
            Constraint::Length(4),
            Constraint::Length(11),
            Constraint::Fill(2),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let d = &self.0[i];
        (
            d.level(),
            vec![
                d.namespace.clone(),
                d.name.clone(),
                format!("{}/{}", d.ready, d.desired),
                d.updated.to_string(),
                d.available.to_string(),
                d.revision.to_string(),
                rollout_word(d.rollout).into(),
                d.image.clone(),
            ],
        )
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let d = &self.0[i];
        vec![
            ("Deployment", format!("{}/{}", d.namespace, d.name)),
            (
                "Replicas",
                format!(
                    "{} desired, {} ready, {} updated, {} available",
                    d.desired, d.ready, d.updated, d.available
                ),
            ),
            ("Revision", d.revision.to_string()),
            ("Rollout", rollout_word(d.rollout).into()),
            ("Image", d.image.clone()),
        ]
    }
}

/// Pods; with `metrics` (metrics.k8s.io is served) CPU and memory columns appear.
pub struct PodRows<'a>(pub &'a ModelRows<PodRow>, pub bool);

const POD_WIDTHS: [Constraint; 7] = [
    Constraint::Length(11),
    Constraint::Fill(1),
    Constraint::Length(5),
    Constraint::Length(16),
    Constraint::Length(3),
    Constraint::Length(4),
    Constraint::Length(12),
];

const POD_WIDTHS_METRICS: [Constraint; 9] = [
    Constraint::Length(11),
    Constraint::Fill(1),
    Constraint::Length(5),
    Constraint::Length(16),
    Constraint::Length(3),
    Constraint::Length(4),
    Constraint::Length(12),
    Constraint::Length(5),
    Constraint::Length(6),
];

/// `250m`, `1.5` cores.
fn cpu(millis: Option<u32>) -> String {
    match millis {
        None => "-".into(),
        Some(m) if m < 1000 => format!("{m}m"),
        Some(m) => format!("{:.1}", f64::from(m) / 1000.0),
    }
}

/// `512Mi`, `1.5Gi`.
fn mem(bytes: Option<u64>) -> String {
    const MI: u64 = 1 << 20;
    match bytes {
        None => "-".into(),
        Some(b) if b < 1024 * MI => format!("{}Mi", b / MI),
        Some(b) => format!("{:.1}Gi", b as f64 / (1024 * MI) as f64),
    }
}

impl Rows for PodRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        if self.1 {
            &[
                "NAMESPACE",
                "NAME",
                "READY",
                "STATUS",
                "RS",
                "AGE",
                "NODE",
                "CPU",
                "MEM",
            ]
        } else {
            &["NAMESPACE", "NAME", "READY", "STATUS", "RS", "AGE", "NODE"]
        }
    }
    fn widths(&self) -> &'static [Constraint] {
        if self.1 {
            &POD_WIDTHS_METRICS
        } else {
            &POD_WIDTHS
        }
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let p = &self.0[i];
        let mut cells = vec![
            p.namespace.clone(),
            p.name.clone(),
            format!("{}/{}", p.ready_containers, p.total_containers),
            p.status().to_string(),
            p.restarts.to_string(),
            age(p.created, now),
            // The short host name; the detail view has the full one.
            p.node.split('.').next().unwrap_or_default().to_string(),
        ];
        if self.1 {
            cells.push(cpu(p.cpu_millis));
            cells.push(mem(p.memory_bytes));
        }
        (p.level(), cells)
    }
    fn matches(&self, i: usize, needle: &str, _now: Timestamp) -> bool {
        // Hot path with 10,000 pods: only the columns people filter by, no row allocation.
        let p = &self.0[i];
        use super::super::table::contains_ignore_case as has;
        has(&p.name, needle)
            || has(&p.namespace, needle)
            || has(p.status(), needle)
            || has(&p.node, needle)
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let p = &self.0[i];
        let mut out = vec![
            ("Pod", format!("{}/{}", p.namespace, p.name)),
            ("Status", p.status().to_string()),
            ("Phase", format!("{:?}", p.phase)),
            (
                "Containers ready",
                format!("{}/{}", p.ready_containers, p.total_containers),
            ),
            ("Restarts", p.restarts.to_string()),
        ];
        // Usage only where metrics.k8s.io reports it, like the table's columns.
        if self.1 {
            out.push(("CPU", cpu(p.cpu_millis)));
            out.push(("Memory", mem(p.memory_bytes)));
        }
        out.extend([
            (
                "Waiting reason",
                p.waiting_reason.clone().unwrap_or_else(|| "-".into()),
            ),
            ("Node", p.node.clone()),
            ("Age", age(p.created, now)),
        ]);
        out
    }
}

pub struct HpaRows<'a>(pub &'a [HpaRow]);

impl Rows for HpaRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &[
            "NAMESPACE",
            "NAME",
            "TARGETS (cur/target)",
            "MIN",
            "MAX",
            "REPLICAS",
            "NOTE",
        ]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(10),
            Constraint::Length(12),
            Constraint::Fill(2),
            Constraint::Length(3),
            Constraint::Length(3),
            Constraint::Length(8),
            Constraint::Fill(1),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let h = &self.0[i];
        let note = if h.at_max() { "! at max" } else { "" };
        (
            h.level(),
            vec![
                h.namespace.clone(),
                h.name.clone(),
                h.targets(),
                h.min.to_string(),
                h.max.to_string(),
                format!("{}→{}", h.current, h.desired),
                note.into(),
            ],
        )
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let h = &self.0[i];
        vec![
            ("HPA", format!("{}/{}", h.namespace, h.name)),
            ("Scales", h.target.clone()),
            ("Bounds", format!("min {} max {}", h.min, h.max)),
            (
                "Replicas",
                format!("current {} desired {}", h.current, h.desired),
            ),
            ("Metrics", h.targets()),
            ("At max", h.at_max().to_string()),
        ]
    }
}

pub struct PdbRows<'a>(pub &'a [PdbRow]);

impl Rows for PdbRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &[
            "NAMESPACE",
            "NAME",
            "BUDGET",
            "HEALTHY",
            "ALLOWED DISRUPTIONS",
        ]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(10),
            Constraint::Fill(1),
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(19),
        ]
    }
    fn cells(&self, i: usize, _now: Timestamp) -> (Level, Vec<String>) {
        let p = &self.0[i];
        (
            p.level(),
            vec![
                p.namespace.clone(),
                p.name.clone(),
                p.budget.clone(),
                format!("{}/{}", p.current_healthy, p.desired_healthy),
                p.allowed_disruptions.to_string(),
            ],
        )
    }
    fn detail(&self, i: usize, _now: Timestamp) -> Vec<(&'static str, String)> {
        let p = &self.0[i];
        vec![
            ("PDB", format!("{}/{}", p.namespace, p.name)),
            ("Budget", p.budget.clone()),
            (
                "Healthy",
                format!("{} of {} wanted", p.current_healthy, p.desired_healthy),
            ),
            ("Allowed disruptions", p.allowed_disruptions.to_string()),
        ]
    }
}

pub struct EventRows<'a>(pub &'a [EventRow]);

impl Rows for EventRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["AGE", "NAMESPACE", "OBJECT", "REASON", "COUNT", "MESSAGE"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(4),
            Constraint::Length(10),
            Constraint::Fill(2),
            Constraint::Length(16),
            Constraint::Length(5),
            Constraint::Fill(3),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let e = &self.0[i];
        (
            Level::Warn,
            vec![
                age(e.last_seen, now),
                e.namespace.clone(),
                e.object.clone(),
                e.reason.clone(),
                e.count.to_string(),
                e.message.clone(),
            ],
        )
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let e = &self.0[i];
        vec![
            ("Object", format!("{}/{}", e.namespace, e.object)),
            ("Reason", e.reason.clone()),
            ("Count", e.count.to_string()),
            (
                "Last seen",
                format!("{} ago ({})", age(e.last_seen, now), e.last_seen),
            ),
            ("Message", e.message.clone()),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Cluster);
    let snap = &app.data.cluster.data;
    let tab = app.cluster_tab;
    let tabs = [
        ("Nodes", snap.nodes.len(), tab == ClusterTab::Nodes),
        (
            "Deploy",
            snap.deployments.len(),
            tab == ClusterTab::Deployments,
        ),
        ("Pods", snap.pods.len(), tab == ClusterTab::Pods),
        ("HPA", snap.hpas.len(), tab == ClusterTab::Hpa),
        ("PDB", snap.pdbs.len(), tab == ClusterTab::Pdb),
        ("Events", snap.events.len(), tab == ClusterTab::Events),
    ];
    let (top, body) = split_top(area, 1);
    let mut line = tab_line(app, &tabs);
    // First, so that a narrow terminal still shows it: the rows so far are not all of them.
    if let Some(progress) = snap.progress_of(tab.section()) {
        line.spans
            .insert(0, Span::styled(format!("{progress} │ "), app.theme.warn));
    }
    line.spans.insert(
        0,
        Span::styled(format!("{} ", snap.scope()), app.theme.title),
    );
    frame.render_widget(Paragraph::new(line), top);
    draw_table(
        frame,
        body,
        app,
        super::table_of(app.pane, tab, app.iam_tab),
        stale,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::PodPhase;

    fn pod(cpu_millis: Option<u32>, memory_bytes: Option<u64>) -> PodRow {
        PodRow {
            namespace: "shop".into(),
            name: "user-1".into(),
            phase: PodPhase::Running,
            ready_containers: 1,
            total_containers: 1,
            restarts: 0,
            created: Timestamp::UNIX_EPOCH,
            node: "ip-10-0-1-23.ap-northeast-2.compute.internal".into(),
            waiting_reason: None,
            cpu_millis,
            memory_bytes,
        }
    }

    #[test]
    fn usage_columns_appear_only_with_metrics() {
        let with = vec![
            pod(Some(250), Some(512 << 20)),
            pod(Some(1500), Some(3 << 30)),
        ]
        .into();
        let rows = PodRows(&with, true);
        assert_eq!(rows.header().last(), Some(&"MEM"));
        assert_eq!(rows.widths().len(), rows.header().len());
        let (_, cells) = rows.cells(0, Timestamp::UNIX_EPOCH);
        assert_eq!(&cells[6..], ["ip-10-0-1-23", "250m", "512Mi"]);
        let (_, cells) = rows.cells(1, Timestamp::UNIX_EPOCH);
        assert_eq!(&cells[7..], ["1.5", "3.0Gi"]);
        let without = vec![pod(None, None)].into();
        let rows = PodRows(&without, false);
        assert_eq!(rows.header().len(), 7);
        assert_eq!(rows.cells(0, Timestamp::UNIX_EPOCH).1.len(), 7);
    }
}
