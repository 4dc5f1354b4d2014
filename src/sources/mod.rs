//! Sources: each publishes the latest snapshot of its area through a `watch` channel, so a
//! slow screen never makes anything queue up. The drill world publishes all six areas.

#[cfg(feature = "live")]
pub mod aws;
pub mod credential_report;
#[cfg(feature = "live")]
pub mod db;
pub mod drill;
#[cfg(feature = "live")]
pub mod kube;
pub mod sim;

use crate::model::alarm::AlarmSnapshot;
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::summary::ContextHealth;
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use crate::model::{Feed, Health};
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
}

impl Sources {
    pub fn snapshots(&self) -> Snapshots {
        Snapshots {
            cluster: self.cluster.borrow().clone(),
            db: self.db.borrow().clone(),
            waf: self.waf.borrow().clone(),
            alarms: self.alarms.borrow().clone(),
            iam: self.iam.borrow().clone(),
            trail: self.trail.borrow().clone(),
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
        (
            Publishers {
                cluster,
                contexts,
                db,
                waf,
                alarms,
                iam,
                trail,
            },
            Sources {
                cluster: cluster_rx,
                contexts: contexts_rx,
                db: db_rx,
                waf: waf_rx,
                alarms: alarms_rx,
                iam: iam_rx,
                trail: trail_rx,
            },
        )
    }

    /// True once the console has gone away and nobody listens any more.
    pub fn is_closed(&self) -> bool {
        self.cluster.is_closed()
    }
}

/// Publishes `data` only if it differs from what receivers already have, so an unchanged
/// area never wakes the screen.
pub fn publish<T: PartialEq>(tx: &Tx<T>, data: T, at: Timestamp) {
    tx.send_if_modified(|current| {
        if current.data == data && !current.health.is_failing() {
            return false;
        }
        *current = Arc::new(Feed {
            data,
            health: Health::ok(at),
        });
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
