//! Runs the drill world as a source: one simulated step per real second. The world is
//! shared with `SimOps`, so playbooks change the same world the panes watch.

use super::sim::World;
use super::{Publishers, Sources, publish, publish_error};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything the panes show, taken in one go under the lock.
struct Frame {
    at: jiff::Timestamp,
    cluster: crate::model::cluster::ClusterSnapshot,
    db: crate::model::db::DbSnapshot,
    waf: crate::model::waf::WafSnapshot,
    alarms: crate::model::alarm::AlarmSnapshot,
    iam: crate::model::iam::IamSnapshot,
    trail: crate::model::trail::TrailSnapshot,
    backups: crate::model::backup::BackupSnapshot,
    regions: crate::model::region::RegionSnapshot,
}

impl Frame {
    fn of(world: &World) -> Frame {
        Frame {
            at: world.now(),
            cluster: world.cluster(),
            db: world.db(),
            waf: world.waf(),
            alarms: world.alarms(),
            iam: world.iam(),
            trail: world.trail(),
            backups: world.backups(),
            regions: world.regions(),
        }
    }

    fn publish(self, p: &Publishers) {
        publish(&p.cluster, self.cluster, self.at);
        publish(&p.db, self.db, self.at);
        publish(&p.waf, self.waf, self.at);
        publish(&p.alarms, self.alarms, self.at);
        publish(&p.iam, self.iam, self.at);
        publish(&p.trail, self.trail, self.at);
        publish(&p.backups, self.backups, self.at);
        publish(&p.regions, self.regions, self.at);
    }
}

/// Steps the world by `secs` and takes its snapshots; `None` once a panic poisoned it.
fn step(world: &Mutex<World>, secs: u32) -> Option<Frame> {
    let mut w = world.lock().ok()?;
    w.step(secs);
    Some(Frame::of(&w))
}

/// Greys every pane, keeping the last data on screen.
fn fail_all(p: &Publishers, why: &str) {
    publish_error(&p.cluster, why.into());
    publish_error(&p.db, why.into());
    publish_error(&p.waf, why.into());
    publish_error(&p.alarms, why.into());
    publish_error(&p.iam, why.into());
    publish_error(&p.trail, why.into());
    publish_error(&p.backups, why.into());
    publish_error(&p.regions, why.into());
}

/// Starts the world on the current tokio runtime. `speed` simulated seconds pass per second.
pub fn spawn(world: Arc<Mutex<World>>, speed: u32) -> Sources {
    let (publishers, sources) = Publishers::channels();
    if let Some(frame) = step(&world, 0) {
        frame.publish(&publishers);
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut alive = true;
        while !publishers.is_closed() {
            tick.tick().await;
            if !alive {
                continue;
            }
            // The lock is released before publishing: ops never wait on the screen.
            match step(&world, speed.max(1)) {
                Some(frame) => frame.publish(&publishers),
                None => {
                    alive = false;
                    tracing::error!("the drill world stopped: a panic poisoned it");
                    fail_all(&publishers, "the drill world stopped after a panic");
                }
            }
        }
    });
    sources
}

/// The drill world's own time: incidents in a drill run on it, so `--speed` speeds up the
/// SLA clock too.
pub struct WorldClock(pub Arc<Mutex<World>>);

impl crate::incident::clock::Clock for WorldClock {
    fn now(&self) -> jiff::Timestamp {
        self.0
            .lock()
            .map_or_else(|p| p.into_inner().now(), |w| w.now())
    }
}

/// Every area of the world at this instant, straight from the world (no channel lag).
pub fn snapshots_of(world: &World) -> super::Snapshots {
    fn feed<T>(data: T, at: jiff::Timestamp) -> Arc<crate::model::Feed<T>> {
        Arc::new(crate::model::Feed {
            data,
            health: crate::model::Health::ok(at),
        })
    }
    let at = world.now();
    super::Snapshots {
        cluster: feed(world.cluster(), at),
        db: feed(world.db(), at),
        waf: feed(world.waf(), at),
        alarms: feed(world.alarms(), at),
        iam: feed(world.iam(), at),
        trail: feed(world.trail(), at),
        backups: feed(world.backups(), at),
        regions: feed(world.regions(), at),
    }
}
