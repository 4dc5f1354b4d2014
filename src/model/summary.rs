//! One health line per area: what the overview shows and `opsdeck status` prints.

use super::alarm::AlarmSnapshot;
use super::cluster::ClusterSnapshot;
use super::db::{DbSnapshot, Role};
use super::trail::TrailSnapshot;
use super::waf::WafSnapshot;
use super::{Feed, Health, Level};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Cluster,
    Db,
    Waf,
    Alarms,
    Iam,
    Trail,
}

impl Area {
    pub const ALL: [Area; 6] = [
        Area::Cluster,
        Area::Db,
        Area::Waf,
        Area::Alarms,
        Area::Iam,
        Area::Trail,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Area::Cluster => "Cluster",
            Area::Db => "DB",
            Area::Waf => "WAF",
            Area::Alarms => "Alarms",
            Area::Iam => "IAM",
            Area::Trail => "Trail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaSummary {
    pub area: Area,
    pub level: Level,
    pub counts: String,
    /// The worst current problem, if there is one.
    pub worst: Option<String>,
}

impl AreaSummary {
    /// A failing source is itself the worst problem of its area; an unconfigured one has no
    /// counts worth showing.
    pub fn with_health(mut self, health: &Health) -> Self {
        if let Some(why) = &health.off {
            self.level = Level::Off;
            self.counts = "not configured".into();
            self.worst = Some(why.clone());
        } else if let Some(err) = &health.last_error {
            self.level = Level::Crit;
            self.worst = Some(err.clone());
        }
        self
    }
}

/// `1 replica`, `2 replicas`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Keeps the first of the worst problems seen so far.
#[derive(Default)]
struct Worst {
    level: Level,
    text: Option<String>,
}

impl Worst {
    fn offer(&mut self, level: Level, text: impl FnOnce() -> String) {
        if level > self.level || (level > Level::Ok && self.text.is_none()) {
            self.level = level;
            self.text = Some(text());
        }
    }

    fn finish(self, area: Area, counts: String) -> AreaSummary {
        AreaSummary {
            area,
            level: self.level,
            counts,
            worst: self.text,
        }
    }
}

pub fn cluster(snap: &ClusterSnapshot) -> AreaSummary {
    let mut worst = Worst::default();
    let ready_nodes = snap.nodes.iter().filter(|n| n.ready).count();
    for n in &snap.nodes {
        worst.offer(n.level(), || format!("node {} {}", n.name, n.status()));
    }
    let pods = snap.pod_tally();
    if let Some(p) = pods.worst().and_then(|(_, ns, name)| snap.pod(ns, name)) {
        worst.offer(p.level(), || {
            format!(
                "pod {}/{} {} ({} restarts)",
                p.namespace,
                p.name,
                p.status(),
                p.restarts
            )
        });
    }
    for d in &snap.deployments {
        worst.offer(d.level(), || {
            format!(
                "deploy {}/{} {}/{} ready",
                d.namespace, d.name, d.ready, d.desired
            )
        });
    }
    for h in &snap.hpas {
        worst.offer(h.level(), || {
            format!("hpa {}/{} at max ({})", h.namespace, h.name, h.max)
        });
    }
    let counts = format!(
        "{ready_nodes}/{} nodes · {}/{} pods running · {} unhealthy",
        snap.nodes.len(),
        pods.running,
        pods.pods,
        pods.unhealthy
    );
    worst.finish(Area::Cluster, counts)
}

/// One watched Kubernetes context, as its overview line shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContextHealth {
    pub context: String,
    pub namespace: Option<String>,
    /// The context the cluster pane shows and operations go to.
    pub active: bool,
    pub level: Level,
    pub nodes_ready: usize,
    pub nodes: usize,
    pub deployments_available: usize,
    pub deployments: usize,
    pub pods_not_ready: usize,
    pub crashlooping: usize,
    pub hpas_at_max: usize,
    /// Sections whose first list has not arrived: the counts are not yet the cluster's.
    pub loading: bool,
    pub last_ok: Option<Timestamp>,
    pub error: Option<String>,
    pub worst: Option<String>,
}

/// The health line of one context from its latest feed.
pub fn context_health(feed: &Feed<ClusterSnapshot>, active: bool) -> ContextHealth {
    let snap = &feed.data;
    let summary = cluster(snap).with_health(&feed.health);
    let pods = snap.pod_tally();
    ContextHealth {
        context: snap.context.clone(),
        namespace: snap.namespace.clone(),
        active,
        level: summary.level,
        nodes_ready: snap.nodes.iter().filter(|n| n.ready).count(),
        nodes: snap.nodes.len(),
        deployments_available: snap
            .deployments
            .iter()
            .filter(|d| d.available >= d.desired)
            .count(),
        deployments: snap.deployments.len(),
        pods_not_ready: pods.not_ready,
        crashlooping: pods.crashlooping,
        hpas_at_max: snap.hpas.iter().filter(|h| h.at_max()).count(),
        loading: !snap.loading.is_empty(),
        last_ok: feed.health.last_ok,
        error: feed.health.last_error.clone(),
        worst: summary.worst,
    }
}

/// A context that could not even be set up (no such context, a broken kubeconfig): its
/// line says why instead of disappearing.
pub fn context_failed(
    context: &str,
    namespace: Option<&str>,
    active: bool,
    error: String,
) -> ContextHealth {
    ContextHealth {
        context: context.to_string(),
        namespace: namespace.map(str::to_string),
        active,
        level: Level::Crit,
        error: Some(error),
        ..ContextHealth::default()
    }
}

pub fn db(snap: &DbSnapshot) -> AreaSummary {
    let mut worst = Worst::default();
    let (mut members, mut replicas) = (0, 0);
    for c in &snap.clusters {
        let primaries = c
            .members
            .iter()
            .filter(|m| m.role == Role::Primary && m.reachable)
            .count();
        // A primary named while it cannot answer is the problem to say, with its evidence.
        let named = c
            .members
            .iter()
            .find(|m| m.role == Role::Primary && !m.reachable && m.role_from.is_some());
        match named {
            Some(m) if primaries == 0 => worst.offer(Level::Crit, || {
                format!(
                    "{}: primary {} unreachable ({})",
                    c.name,
                    m.name,
                    m.role_from.as_deref().unwrap_or_default()
                )
            }),
            _ if primaries != 1 => worst.offer(Level::Crit, || {
                format!("{}: {primaries} writable primaries", c.name)
            }),
            _ => {}
        }
        for m in &c.members {
            members += 1;
            if m.role == Role::Replica {
                replicas += 1;
            }
            let (level, word) = m.status(c.lag_threshold_s);
            worst.offer(level, || {
                format!("{}/{} {word} (lag {})", c.name, m.name, m.lag_text())
            });
        }
    }
    let counts = format!(
        "{} · {} · {}",
        plural(snap.clusters.len(), "cluster"),
        plural(members, "member"),
        plural(replicas, "replica")
    );
    worst.finish(Area::Db, counts)
}

pub fn waf(snap: &WafSnapshot) -> AreaSummary {
    let mut worst = Worst::default();
    let last = snap.rates.last().copied().unwrap_or_default();
    if let Some((now, median)) = snap.surge() {
        worst.offer(Level::Crit, || {
            format!("blocked surge {now}/min (median {median})")
        });
    }
    if snap.acls.is_empty() {
        worst.offer(Level::Warn, || "no web ACL".into());
    }
    let rules: usize = snap.acls.iter().map(|a| a.rules.len()).sum();
    let rates = if snap.rates.is_empty() {
        "rates not read".to_string()
    } else {
        format!(
            "{}/min {} · {}/min blocked",
            last.allowed,
            snap.passed.label(),
            last.blocked
        )
    };
    let counts = format!(
        "{} · {} · {rates}",
        plural(snap.acls.len(), "ACL"),
        plural(rules, "rule"),
    );
    worst.finish(Area::Waf, counts)
}

pub fn alarms(snap: &AlarmSnapshot) -> AreaSummary {
    let mut worst = Worst::default();
    for a in &snap.alarms {
        worst.offer(a.level(), || format!("{} {}", a.name, a.state.word()));
    }
    let firing = snap.firing().count();
    let counts = format!("{firing} firing · {} total", snap.alarms.len());
    worst.finish(Area::Alarms, counts)
}

/// The alarm area as a script sees it: sources that failed are trouble, with their line.
pub fn alarms_of_sources(snap: &AlarmSnapshot, failing: &[String]) -> AreaSummary {
    let mut s = alarms(snap);
    if let Some(first) = failing.first() {
        s.level = s.level.max(Level::Crit);
        s.worst = Some(first.clone());
    }
    s
}

pub fn trail(snap: &TrailSnapshot) -> AreaSummary {
    let mut worst = Worst::default();
    if snap.trails.is_empty() {
        worst.offer(Level::Crit, || "no trail records account activity".into());
    }
    for t in &snap.trails {
        for p in t.problems() {
            let level = if p.contains("OFF") {
                Level::Crit
            } else {
                Level::Warn
            };
            worst.offer(level, || format!("trail {}: {p}", t.name));
        }
    }
    let mut risky = 0;
    for e in &snap.events {
        if let Some((level, why)) = e.risk() {
            risky += 1;
            worst.offer(level, || format!("{why}: {} {}", e.user, e.event_name));
        }
    }
    let logging = snap.trails.iter().filter(|t| t.logging).count();
    let counts = format!(
        "{logging}/{} trails logging · {risky} risky events",
        snap.trails.len()
    );
    worst.finish(Area::Trail, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{DeploymentRow, HpaRow, NodeRow, PodPhase, PodRow, Rollout};

    fn node(ready: bool) -> NodeRow {
        NodeRow {
            name: "n".into(),
            zone: "a".into(),
            ready,
            pressure: vec![],
            cordoned: false,
            cpu_pct: None,
            mem_pct: None,
            created: Timestamp::UNIX_EPOCH,
            allocatable: None,
        }
    }

    fn deployment(desired: u32, available: u32) -> DeploymentRow {
        DeploymentRow {
            namespace: "shop".into(),
            name: "d".into(),
            desired,
            ready: available,
            updated: desired,
            available,
            revision: 1,
            image: "i".into(),
            rollout: Rollout::Complete,
        }
    }

    fn pod(phase: PodPhase, ready: u16, waiting: Option<&str>) -> PodRow {
        PodRow {
            namespace: "shop".into(),
            name: "p".into(),
            phase,
            ready_containers: ready,
            total_containers: 1,
            restarts: 0,
            created: Timestamp::UNIX_EPOCH,
            node: "n".into(),
            waiting_reason: waiting.map(str::to_string),
            cpu_millis: None,
            memory_bytes: None,
        }
    }

    fn hpa(desired: u32, max: u32) -> HpaRow {
        HpaRow {
            namespace: "shop".into(),
            name: "h".into(),
            target: "Deployment/d".into(),
            min: 1,
            max,
            current: desired,
            desired,
            metrics: vec![],
        }
    }

    #[test]
    fn a_context_line_counts_what_an_on_call_engineer_asks_first() {
        let snap = ClusterSnapshot {
            context: "prod-kr".into(),
            namespace: Some("shop".into()),
            nodes: vec![node(true), node(false), node(true)],
            deployments: vec![deployment(3, 3), deployment(2, 1), deployment(0, 0)],
            pods: vec![
                pod(PodPhase::Running, 1, None),
                pod(PodPhase::Running, 0, None),
                pod(PodPhase::Running, 0, Some("CrashLoopBackOff")),
                pod(PodPhase::Pending, 0, Some("ImagePullBackOff")),
                pod(PodPhase::Succeeded, 0, None),
            ]
            .into(),
            hpas: vec![hpa(10, 10), hpa(3, 10)],
            loading: vec!["events".into()],
            ..ClusterSnapshot::default()
        };
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let feed = Feed {
            data: snap,
            health: Health::ok(at),
        };
        let line = context_health(&feed, true);
        assert_eq!(
            (
                line.context.as_str(),
                line.namespace.as_deref(),
                line.active
            ),
            ("prod-kr", Some("shop"), true)
        );
        assert_eq!((line.nodes_ready, line.nodes), (2, 3));
        assert_eq!((line.deployments_available, line.deployments), (2, 3));
        assert_eq!((line.pods_not_ready, line.crashlooping), (3, 1));
        assert_eq!(line.hpas_at_max, 1);
        assert!(line.loading);
        assert_eq!(
            (line.level, line.last_ok, line.error),
            (Level::Crit, Some(at), None)
        );
        assert_eq!(line.worst.as_deref(), Some("node n NotReady"));

        let failing = Feed {
            health: Health {
                last_ok: Some(at),
                last_error: Some("connection refused".into()),
                off: None,
            },
            ..feed
        };
        let line = context_health(&failing, false);
        assert_eq!(line.error.as_deref(), Some("connection refused"));
        assert_eq!(line.worst.as_deref(), Some("connection refused"));
    }

    #[test]
    fn a_named_unreachable_primary_is_the_db_problem_with_its_evidence() {
        use crate::model::db::{DbCluster, DbMember, Engine};
        let mut dead = DbMember::unreachable("my0", "h:1", Role::Primary, "refused".into());
        dead.role_from = Some("named by my1's replication source".into());
        let snap = DbSnapshot {
            clusters: vec![DbCluster {
                name: "shop".into(),
                engine: Engine::MariaDb,
                router: None,
                lag_threshold_s: 5.0,
                members: vec![dead],
            }],
        };
        let s = db(&snap);
        assert_eq!(s.level, Level::Crit);
        assert_eq!(
            s.worst.as_deref(),
            Some("shop: primary my0 unreachable (named by my1's replication source)")
        );
    }
}
