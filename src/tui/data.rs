//! The latest snapshot of every area, plus what is derived from it once per update
//! (summaries, audit findings) so that drawing never recomputes it.

use crate::audit::{self, Finding};
use crate::incident::state::Incident;
use crate::model::alarm::AlarmSnapshot;
use crate::model::backup::{BackupSnapshot, BackupStatus};
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::summary::{self, Area, AreaSummary, ContextHealth};
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use crate::model::{Feed, Health};
use crate::playbook::catalog::Entry;
use jiff::Timestamp;
use std::collections::BTreeSet;
use std::sync::Arc;

pub struct Data {
    /// The active Kubernetes context.
    pub cluster: Arc<Feed<ClusterSnapshot>>,
    /// One health line per watched context; empty without live Kubernetes.
    pub contexts: Arc<Vec<ContextHealth>>,
    /// Namespaces seen in the active context, for `:ns` completion.
    pub namespaces: BTreeSet<String>,
    pub db: Arc<Feed<DbSnapshot>>,
    pub waf: Arc<Feed<WafSnapshot>>,
    pub alarms: Arc<Feed<AlarmSnapshot>>,
    pub iam: Arc<Feed<IamSnapshot>>,
    pub trail: Arc<Feed<TrailSnapshot>>,
    pub backups: Arc<Feed<BackupSnapshot>>,
    /// Each database's backups judged against its RPO, with the replica lag of the cluster
    /// of the same name; in the order the sources list them.
    pub backup_status: Vec<BackupStatus>,
    /// The clusters' health with their regions', the databases' with their backups' (see
    /// `Health::with_part`): what the area's line and `status` answer with.
    pub cluster_health: Health,
    pub db_health: Health,
    pub regions: Arc<Feed<crate::model::region::RegionSnapshot>>,
    /// Each region judged, in the configured order.
    pub region_status: Vec<crate::model::region::RegionStatus>,
    /// IAM review findings, worst first.
    pub findings: Vec<Finding>,
    /// CloudTrail review findings (coverage and the CIS 4.x monitoring chains).
    pub trail_findings: Vec<Finding>,
    /// In `Area::ALL` order.
    pub summaries: Vec<AreaSummary>,
    pub playbooks: Vec<Entry>,
    /// The open incident, as last journaled.
    pub incident: Option<Box<Incident>>,
    /// The other incidents journaled (timelines dropped): what spent the availability budget.
    pub past: Vec<Incident>,
    /// Whether metrics.k8s.io reports pod usage: the pod table grows CPU/MEM columns.
    pub pod_metrics: bool,
    /// `(cluster, member)` for each row of the DB members table.
    pub db_rows: Vec<(usize, usize)>,
    /// The state history of one alarm `(key, text)`, fetched when its detail opened.
    pub alarm_history: Option<(String, String)>,
    /// The live cross-check of the user whose detail is open (or `loading` for that user).
    pub user_check: Option<crate::model::iam::UserCheck>,
}

impl Data {
    pub fn new(playbooks: Vec<Entry>, now: Timestamp) -> Data {
        let mut data = Data {
            cluster: Arc::default(),
            contexts: Arc::default(),
            namespaces: BTreeSet::new(),
            db: Arc::default(),
            waf: Arc::default(),
            alarms: Arc::default(),
            iam: Arc::default(),
            trail: Arc::default(),
            backups: Arc::default(),
            backup_status: Vec::new(),
            cluster_health: Health::default(),
            db_health: Health::default(),
            regions: Arc::default(),
            region_status: Vec::new(),
            findings: Vec::new(),
            trail_findings: Vec::new(),
            summaries: Area::ALL
                .iter()
                .map(|&area| AreaSummary {
                    area,
                    level: Default::default(),
                    counts: "waiting for data".into(),
                    worst: None,
                })
                .collect(),
            playbooks,
            incident: None,
            past: Vec::new(),
            pod_metrics: false,
            db_rows: Vec::new(),
            alarm_history: None,
            user_check: None,
        };
        data.set_iam(Arc::default(), now);
        data
    }

    /// Every area at once, derived as the console derives it: what `opsdeck status` prints.
    pub fn of(
        snaps: crate::sources::Snapshots,
        contexts: Arc<Vec<ContextHealth>>,
        now: Timestamp,
    ) -> Data {
        let mut data = Data::new(Vec::new(), now);
        data.set_cluster(snaps.cluster);
        data.set_contexts(contexts);
        data.set_db(snaps.db);
        data.set_waf(snaps.waf);
        data.set_alarms(snaps.alarms);
        data.set_iam(snaps.iam, now);
        data.set_trail(snaps.trail, now);
        data.set_backups(snaps.backups);
        data.set_regions(snaps.regions);
        data
    }

    fn summarise(&mut self, area: Area, summary: AreaSummary, health: &Health) {
        if let Some(slot) = self.summaries.iter_mut().find(|s| s.area == area) {
            *slot = summary.with_health(health);
        }
    }

    pub fn summary(&self, area: Area) -> Option<&AreaSummary> {
        self.summaries.iter().find(|s| s.area == area)
    }

    pub fn health(&self, area: Area) -> &Health {
        match area {
            Area::Cluster => &self.cluster_health,
            Area::Db => &self.db_health,
            Area::Waf => &self.waf.health,
            Area::Alarms => &self.alarms.health,
            Area::Iam => &self.iam.health,
            Area::Trail => &self.trail.health,
        }
    }

    pub fn any_failing(&self) -> bool {
        Area::ALL.iter().any(|a| self.health(*a).is_failing())
    }

    pub fn set_cluster(&mut self, feed: Arc<Feed<ClusterSnapshot>>) {
        let pods = feed.data.pod_tally();
        self.pod_metrics = pods.measured > 0;
        if feed.data.context != self.cluster.data.context {
            self.namespaces.clear();
        }
        let seen = feed.data.namespace.iter();
        let seen = seen
            .chain(feed.data.deployments.iter().map(|d| &d.namespace))
            .chain(pods.namespaces.keys());
        for ns in seen {
            // Checked first: thousands of pods share a handful of namespaces.
            if !self.namespaces.contains(ns) {
                self.namespaces.insert(ns.clone());
            }
        }
        self.cluster = feed;
        self.summarise_cluster();
    }

    pub fn set_contexts(&mut self, lines: Arc<Vec<ContextHealth>>) {
        self.contexts = lines;
        self.summarise_cluster();
    }

    pub fn set_regions(&mut self, feed: Arc<Feed<crate::model::region::RegionSnapshot>>) {
        self.region_status = feed.data.status();
        self.regions = feed;
        self.summarise_cluster();
    }

    /// The active context's summary, made worse by any other watched context that is worse:
    /// trouble in a region nobody is looking at still marks the Cluster tab. A region whose
    /// traffic goes to a failing health check does too.
    fn summarise_cluster(&mut self) {
        let mut s = summary::cluster(&self.cluster.data);
        for c in self.contexts.iter().filter(|c| !c.active) {
            if c.level > s.level {
                s.level = c.level;
                let what = c.worst.as_deref().unwrap_or(c.level.word());
                s.worst = Some(format!("context {}: {what}", c.context));
            }
        }
        for r in &self.region_status {
            if r.level > s.level {
                s.level = r.level;
                let what = r.problems.first().map_or(r.level.word(), String::as_str);
                s.worst = Some(format!("region {}: {what}", r.region));
            }
        }
        let health = self
            .cluster
            .health
            .with_part("regions", &self.regions.health);
        self.summarise(Area::Cluster, s, &health);
        self.cluster_health = health;
    }

    pub fn set_db(&mut self, feed: Arc<Feed<DbSnapshot>>) {
        self.db_rows = feed
            .data
            .clusters
            .iter()
            .enumerate()
            .flat_map(|(c, cluster)| (0..cluster.members.len()).map(move |m| (c, m)))
            .collect();
        self.db = feed;
        self.summarise_db();
    }

    pub fn set_backups(&mut self, feed: Arc<Feed<BackupSnapshot>>) {
        self.backups = feed;
        self.summarise_db();
    }

    /// The replication summary, made worse by a database whose backups are worse: a stale
    /// backup is a database problem even while replication is fine.
    fn summarise_db(&mut self) {
        self.backup_status = self.backups.data.assess(&self.db.data);
        let mut s = summary::db(&self.db.data);
        for b in &self.backup_status {
            if b.level > s.level {
                s.level = b.level;
                let what = b.problems.first().map_or(b.level.word(), String::as_str);
                s.worst = Some(format!("{}: {what}", b.database));
            }
        }
        let health = self.db.health.with_part("backups", &self.backups.health);
        if self.db.health.off.is_some() && health.off.is_none() {
            // Only backups are watched: the area is on, for them.
            s.counts = format!(
                "backups of {}",
                summary::plural(self.backup_status.len(), "database")
            );
        }
        self.summarise(Area::Db, s, &health);
        self.db_health = health;
    }

    pub fn set_waf(&mut self, feed: Arc<Feed<WafSnapshot>>) {
        self.summarise(Area::Waf, summary::waf(&feed.data), &feed.health);
        self.waf = feed;
    }

    pub fn set_alarms(&mut self, feed: Arc<Feed<AlarmSnapshot>>) {
        self.summarise(Area::Alarms, summary::alarms(&feed.data), &feed.health);
        self.alarms = feed;
    }

    pub fn set_iam(&mut self, feed: Arc<Feed<IamSnapshot>>, now: Timestamp) {
        self.iam = feed;
        self.review(now);
    }

    pub fn set_trail(&mut self, feed: Arc<Feed<TrailSnapshot>>, now: Timestamp) {
        self.trail = feed;
        self.review(now);
    }

    /// The two areas' findings read each other (sign-ins feed the shared-account check, the
    /// trail's account id comes from IAM), so either update re-runs both.
    fn review(&mut self, now: Timestamp) {
        // An account never read has no findings: its empty snapshot is not an empty account.
        self.findings = match self.iam.health.last_ok {
            Some(_) => audit::iam_findings(&self.iam.data, &self.trail.data, now),
            None => Vec::new(),
        };
        self.trail_findings = match self.trail.health.last_ok {
            Some(_) => audit::trail_findings(&self.trail.data, &self.iam.data.account_id, now),
            None => Vec::new(),
        };
        let (iam, trail) = (self.iam.clone(), self.trail.clone());
        let summary = audit::iam_summary(&iam.data, &self.findings);
        self.summarise(Area::Iam, summary, &iam.health);
        let summary = audit::trail_summary(&trail.data, &self.trail_findings);
        self.summarise(Area::Trail, summary, &trail.health);
    }
}
