//! Sources: each publishes the latest snapshot of its area through a `watch` channel, so a
//! slow screen never makes anything queue up. The drill world publishes all six areas.

#[cfg(feature = "live")]
pub mod alarms;
#[cfg(feature = "live")]
pub mod alertmanager;
#[cfg(feature = "live")]
pub mod aws;
#[cfg(feature = "live")]
pub mod backup;
pub mod credential_report;
#[cfg(feature = "live")]
pub mod db;
pub mod drill;
#[cfg(feature = "live")]
pub mod kube;
#[cfg(feature = "live")]
pub mod modsec;
#[cfg(feature = "live")]
pub mod region;
pub mod sim;

use crate::model::alarm::{Alarm, AlarmSnapshot};
use crate::model::backup::BackupSnapshot;
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::region::RegionSnapshot;
use crate::model::summary::{Area, ContextHealth};
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use crate::model::{Feed, Health};
use futures::FutureExt;
use jiff::Timestamp;
use std::sync::Arc;
use tokio::sync::watch;

pub type Rx<T> = watch::Receiver<Arc<Feed<T>>>;
pub type Tx<T> = watch::Sender<Arc<Feed<T>>>;

/// One health line per watched Kubernetes context (empty without live Kubernetes); each
/// line carries its own health, so the list as a whole has none.
pub type ContextsRx = watch::Receiver<Arc<Vec<ContextHealth>>>;
pub type ContextsTx = watch::Sender<Arc<Vec<ContextHealth>>>;

/// What `:ctx` and `:ns` ask of the live Kubernetes feeds. The drill world has one cluster
/// and no such control.
#[async_trait::async_trait]
pub trait ClusterControl: Send + Sync {
    /// Makes `context` the one the cluster pane shows and operations go to, connecting to it
    /// first when it is not watched yet. Returns what to tell the user.
    async fn use_context(&self, context: &str) -> Result<String, String>;
    /// Watches `namespace` (all of them for `None`) in the active context, in place of what
    /// it watched before.
    fn use_namespace(&self, namespace: Option<String>) -> Result<String, String>;
}

/// Logs, describe-style detail and YAML of one object, fetched when the user asks: the live
/// active context, or the drill world.
#[async_trait::async_trait]
pub trait Inspect: Send + Sync {
    /// Starts following the log into `sink`; it stops when the handle is dropped.
    fn logs(
        &self,
        request: crate::model::inspect::LogRequest,
        sink: crate::model::inspect::LogSink,
    ) -> crate::model::inspect::LogHandle;
    /// `kubectl describe`'s first part: label, value pairs.
    async fn describe(
        &self,
        object: &crate::model::inspect::ObjectRef,
    ) -> Result<Vec<(String, String)>, String>;
    /// The object as YAML, without `managedFields`.
    async fn yaml(&self, object: &crate::model::inspect::ObjectRef) -> Result<String, String>;
}

/// A change the alarm pane's keys ask for, carried out by the live alarm sources.
#[derive(Debug, Clone, PartialEq)]
pub enum AlarmChange {
    /// Alertmanager: a silence of `matchers` (`name="value"` …) for `minutes`.
    Silence {
        alarm: Box<Alarm>,
        matchers: String,
        minutes: u32,
        comment: String,
    },
    /// Alertmanager: the karma-style ack, a silence of [`ACK_MINUTES`] saying who is on it.
    Ack { alarm: Box<Alarm> },
    /// Alertmanager: expire the silences that hold the alert.
    Expire { alarm: Box<Alarm> },
    /// CloudWatch: DisableAlarmActions / EnableAlarmActions.
    Actions { alarm: Box<Alarm>, enabled: bool },
}

/// How long `a` (ack) silences an alert, as karma's acknowledgement does.
pub const ACK_MINUTES: u32 = 15;

/// What was done, for the message line and the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub said: String,
    pub event: crate::incident::event::Event,
}

/// What the alarm pane asks of the live alarm sources (silences, CloudWatch actions,
/// history). The drill world has none.
#[async_trait::async_trait]
pub trait AlarmControl: Send + Sync {
    async fn change(&self, change: AlarmChange) -> Result<Done, String>;
    /// Every silence of every Alertmanager, as text to read.
    async fn silences(&self) -> Result<String, String>;
    /// The alarm's recent state changes, as text; or why the source cannot say.
    async fn history(&self, alarm: &Alarm) -> String;
}

/// Asks IAM about one user right now (ListMFADevices, ListAccessKeys, GetAccessKeyLastUsed,
/// GetLoginProfile), for the detail view's cross-check against the credential report.
#[async_trait::async_trait]
pub trait IamProbe: Send + Sync {
    async fn check_user(&self, user: &crate::model::iam::IamUser) -> crate::model::iam::UserCheck;
}

/// The receiving ends the console listens to.
#[derive(Clone)]
pub struct Sources {
    /// The active Kubernetes context (the drill world's cluster in a drill).
    pub cluster: Rx<ClusterSnapshot>,
    pub contexts: ContextsRx,
    pub db: Rx<DbSnapshot>,
    pub waf: Rx<WafSnapshot>,
    pub alarms: Rx<AlarmSnapshot>,
    pub iam: Rx<IamSnapshot>,
    pub trail: Rx<TrailSnapshot>,
    /// Backup freshness; shown with the databases.
    pub backups: Rx<BackupSnapshot>,
    /// The regions' traffic and health; shown with the clusters.
    pub regions: Rx<RegionSnapshot>,
}

/// The latest value of every area at one moment, for checks and conditions.
#[derive(Clone, Default)]
pub struct Snapshots {
    pub cluster: Arc<Feed<ClusterSnapshot>>,
    pub db: Arc<Feed<DbSnapshot>>,
    pub waf: Arc<Feed<WafSnapshot>>,
    pub alarms: Arc<Feed<AlarmSnapshot>>,
    pub iam: Arc<Feed<IamSnapshot>>,
    pub trail: Arc<Feed<TrailSnapshot>>,
    pub backups: Arc<Feed<BackupSnapshot>>,
    pub regions: Arc<Feed<RegionSnapshot>>,
}

/// Whether a snapshot is its source's whole answer rather than the first part of it: the
/// first pages of a Kubernetes list, IAM users before the credential report.
pub trait Whole {
    fn whole(&self) -> bool {
        true
    }
}

impl Whole for DbSnapshot {}
impl Whole for WafSnapshot {}
impl Whole for AlarmSnapshot {}
impl Whole for TrailSnapshot {}
impl Whole for BackupSnapshot {}
impl Whole for RegionSnapshot {}

impl Whole for ClusterSnapshot {
    fn whole(&self) -> bool {
        self.loading.is_empty()
    }
}

impl Whole for IamSnapshot {
    fn whole(&self) -> bool {
        !matches!(
            self.report,
            crate::model::iam::ReportState::Generating { .. }
        )
    }
}

/// The source has said all it will say for now: its whole answer, an error, or that
/// nothing feeds it.
fn answered_whole<T: Whole>(feed: &Feed<T>) -> bool {
    let h = &feed.health;
    h.off.is_some() || h.last_error.is_some() || (h.last_ok.is_some() && feed.data.whole())
}

/// Waits until `rx`'s source has answered whole once, for at most `within`.
async fn answered<T: Whole>(mut rx: Rx<T>, within: std::time::Duration) -> bool {
    tokio::time::timeout(within, rx.wait_for(|f| answered_whole(f)))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Every watched context has listed everything once or failed (none without Kubernetes).
async fn contexts_answered(mut rx: ContextsRx, within: std::time::Duration) -> bool {
    let all = |lines: &Arc<Vec<ContextHealth>>| {
        lines
            .iter()
            .all(|c| c.error.is_some() || (c.last_ok.is_some() && !c.loading))
    };
    tokio::time::timeout(within, rx.wait_for(all))
        .await
        .is_ok_and(|r| r.is_ok())
}

impl Sources {
    /// Waits until every area has answered whole once, for at most `within`, so that a
    /// command acting once (a playbook run, `opsdeck status`) never judges the systems by
    /// tables that are empty or half only because nothing more arrived yet. Returns the
    /// areas still silent then.
    pub async fn settled(&self, within: std::time::Duration) -> Vec<Area> {
        // The regions are shown, and judged, with the clusters.
        let cluster = futures::future::join3(
            answered(self.cluster.clone(), within),
            contexts_answered(self.contexts.clone(), within),
            answered(self.regions.clone(), within),
        )
        .map(|(active, all, regions)| active && all && regions);
        let waits = [
            (Area::Cluster, cluster.boxed()),
            // The backups are shown, and judged, with the databases.
            (
                Area::Db,
                futures::future::join(
                    answered(self.db.clone(), within),
                    answered(self.backups.clone(), within),
                )
                .map(|(db, backups)| db && backups)
                .boxed(),
            ),
            (Area::Waf, answered(self.waf.clone(), within).boxed()),
            (Area::Alarms, answered(self.alarms.clone(), within).boxed()),
            (Area::Iam, answered(self.iam.clone(), within).boxed()),
            (Area::Trail, answered(self.trail.clone(), within).boxed()),
        ];
        let (areas, futures): (Vec<Area>, Vec<_>) = waits.into_iter().unzip();
        let done = futures::future::join_all(futures).await;
        areas
            .into_iter()
            .zip(done)
            .filter(|(_, ok)| !ok)
            .map(|(a, _)| a)
            .collect()
    }

    pub fn snapshots(&self) -> Snapshots {
        Snapshots {
            cluster: self.cluster.borrow().clone(),
            db: self.db.borrow().clone(),
            waf: self.waf.borrow().clone(),
            alarms: self.alarms.borrow().clone(),
            iam: self.iam.borrow().clone(),
            trail: self.trail.borrow().clone(),
            backups: self.backups.borrow().clone(),
            regions: self.regions.borrow().clone(),
        }
    }
}

/// The sending ends a backend publishes through.
pub struct Publishers {
    pub cluster: Tx<ClusterSnapshot>,
    pub contexts: ContextsTx,
    pub db: Tx<DbSnapshot>,
    pub waf: Tx<WafSnapshot>,
    pub alarms: Tx<AlarmSnapshot>,
    pub iam: Tx<IamSnapshot>,
    pub trail: Tx<TrailSnapshot>,
    pub backups: Tx<BackupSnapshot>,
    pub regions: Tx<RegionSnapshot>,
}

impl Publishers {
    pub fn channels() -> (Publishers, Sources) {
        let (cluster, cluster_rx) = watch::channel(Arc::default());
        let (contexts, contexts_rx) = watch::channel(Arc::default());
        let (db, db_rx) = watch::channel(Arc::default());
        let (waf, waf_rx) = watch::channel(Arc::default());
        let (alarms, alarms_rx) = watch::channel(Arc::default());
        let (iam, iam_rx) = watch::channel(Arc::default());
        let (trail, trail_rx) = watch::channel(Arc::default());
        let (backups, backups_rx) = watch::channel(Arc::default());
        let (regions, regions_rx) = watch::channel(Arc::default());
        (
            Publishers {
                cluster,
                contexts,
                db,
                waf,
                alarms,
                iam,
                trail,
                backups,
                regions,
            },
            Sources {
                cluster: cluster_rx,
                contexts: contexts_rx,
                db: db_rx,
                waf: waf_rx,
                alarms: alarms_rx,
                iam: iam_rx,
                trail: trail_rx,
                backups: backups_rx,
                regions: regions_rx,
            },
        )
    }

    /// True once the console has gone away and nobody listens any more.
    pub fn is_closed(&self) -> bool {
        self.cluster.is_closed()
    }
}

/// Publishes `data` only if it differs from what receivers already have, so an unchanged
/// area never wakes the screen. The first answer is always published, even when it is
/// empty: "nothing there" is news, "nothing heard yet" is not.
pub fn publish<T: PartialEq>(tx: &Tx<T>, data: T, at: Timestamp) {
    tx.send_if_modified(|current| {
        let heard = current.health.last_ok.is_some();
        if heard && current.data == data && !current.health.is_failing() {
            return false;
        }
        *current = Arc::new(Feed {
            data,
            health: Health::ok(at),
        });
        true
    });
}

/// Publishes what `read` answers at once and then every `every` (only what changed), until
/// nobody listens: the loop of sources that need no nudge between polls.
pub fn poll<T, F, Fut>(tx: Tx<T>, every: std::time::Duration, mut read: F)
where
    T: PartialEq + Send + Sync + 'static,
    F: FnMut(Timestamp) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    tokio::spawn(async move {
        while !tx.is_closed() {
            let now = Timestamp::now();
            let data = read(now).await;
            publish(&tx, data, now);
            tokio::time::sleep(every).await;
        }
    });
}

/// Publishes what every part of an area last had while some parts fail: the data stays on
/// screen, and the error says which parts it is stale for. Without errors it is `publish`.
pub fn publish_partial<T: PartialEq>(tx: &Tx<T>, data: T, at: Timestamp, errors: &[String]) {
    if errors.is_empty() {
        return publish(tx, data, at);
    }
    tx.send_if_modified(|current| {
        let health = Health {
            last_ok: current.health.last_ok,
            last_error: Some(errors.join("; ")),
            off: None,
        };
        if current.data == data && current.health == health {
            return false;
        }
        *current = Arc::new(Feed { data, health });
        true
    });
}

/// Keeps the last good data on screen and records why the source is failing.
pub fn publish_error<T: Clone>(tx: &Tx<T>, error: String) {
    tx.send_modify(|current| {
        let health = Health {
            last_ok: current.health.last_ok,
            last_error: Some(error),
            off: None,
        };
        *current = Arc::new(Feed {
            data: current.data.clone(),
            health,
        });
    });
}

/// An area nothing feeds, because nobody configured it: shown as off, never as failing.
pub fn publish_off<T: Clone + Default>(tx: &Tx<T>, why: String) {
    tx.send_replace(Arc::new(Feed {
        data: T::default(),
        health: Health {
            off: Some(why),
            ..Health::default()
        },
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unchanged_data_does_not_wake_receivers() {
        let (tx, mut rx) = watch::channel(Arc::<Feed<u32>>::default());
        let t0 = Timestamp::UNIX_EPOCH;
        publish(&tx, 5, t0);
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        publish(&tx, 5, t0);
        assert!(!rx.has_changed().unwrap());
        publish(&tx, 6, t0);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().data, 6);
    }

    #[tokio::test]
    async fn settled_waits_for_every_area_to_answer_once() {
        let (p, s) = Publishers::channels();
        publish_off(&p.cluster, "add [kube]".into());
        publish_off(&p.waf, "x".into());
        publish_off(&p.alarms, "x".into());
        publish_off(&p.iam, "x".into());
        publish(&p.trail, TrailSnapshot::default(), Timestamp::UNIX_EPOCH);
        publish_off(&p.backups, "x".into());
        publish_off(&p.regions, "x".into());
        let quick = std::time::Duration::from_millis(50);
        assert_eq!(
            s.settled(quick).await,
            [Area::Db],
            "the database has not answered"
        );
        let db = p.db.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            publish_error(&db, "connection refused".into());
        });
        assert!(
            s.settled(std::time::Duration::from_secs(5))
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_error_keeps_the_last_data() {
        let (tx, rx) = watch::channel(Arc::<Feed<u32>>::default());
        publish(&tx, 5, Timestamp::UNIX_EPOCH);
        publish_error(&tx, "connection refused".into());
        let feed = rx.borrow().clone();
        assert_eq!(feed.data, 5);
        assert_eq!(feed.health.last_ok, Some(Timestamp::UNIX_EPOCH));
        assert_eq!(
            feed.health.last_error.as_deref(),
            Some("connection refused")
        );
        publish(&tx, 5, Timestamp::UNIX_EPOCH);
        assert!(
            !rx.borrow().health.is_failing(),
            "recovery clears the error"
        );
    }
}
