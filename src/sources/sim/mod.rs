//! The drill world: a deterministic simulation of the shopping mall on EKS (SPEC §1) that
//! publishes the same snapshots the live sources do.
//!
//! Time moves in whole seconds and every second is simulated, so a world stepped 600 s at
//! once equals one stepped a second at a time. Each part draws from its own random stream,
//! seeded from the world's seed; what faults do draws from streams of their own, so a world
//! nobody injects anything into stays exactly the one the drill has always opened on.
//!
//! Scenarios `inject` a `Fault`; operators fix it with the same `Op`s the live backends run,
//! through `SimOps` (or `World::run_op`).

mod alarms;
mod backup;
mod cluster;
mod control;
mod db;
mod dice;
mod fault;
mod iam;
pub mod inspect;
mod large;
mod ops;
mod region;
mod traffic;
mod trail;
mod waf;

pub use fault::Fault;
pub use large::large_cluster;
pub use ops::SimOps;

use crate::model::alarm::AlarmSnapshot;
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use jiff::{SignedDuration, Timestamp};

/// Simulated seconds relative to the world's start; negative is history.
pub(crate) type Sec = i64;

/// The instant `s` seconds after `start`, pinned to the representable range.
pub(crate) fn at(start: Timestamp, s: Sec) -> Timestamp {
    let bound = if s < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    };
    start
        .saturating_add(SignedDuration::from_secs(s))
        .unwrap_or(bound)
}

/// The drill world's services and the numbers their customers' documents set: the shopping
/// mall promises 99 %; billing 99.9 % and a 30-minute RTO. The live-commerce launch's
/// documents set no numbers; the drill holds its active-active regions to billing's.
pub fn services() -> Vec<crate::incident::objectives::Service> {
    use crate::incident::objectives::Service;
    vec![
        Service {
            name: "shop".into(),
            availability: Some(99.0),
            rto: None,
        },
        Service {
            name: "billing".into(),
            availability: Some(99.9),
            rto: Some(SignedDuration::from_mins(30)),
        },
        Service {
            name: "live-commerce".into(),
            availability: Some(99.9),
            rto: Some(SignedDuration::from_mins(30)),
        },
    ]
}

/// How often the alarms are evaluated, in simulated seconds.
const ALARM_PERIOD: Sec = 10;

#[derive(Debug, Clone)]
pub struct World {
    seed: u64,
    start: Timestamp,
    start_abs: i64,
    /// Seconds simulated since `start`.
    t: Sec,
    app: traffic::AppMetrics,
    cluster: cluster::ClusterSim,
    db: db::DbSim,
    waf: waf::WafSim,
    alarms: alarms::AlarmSim,
    iam: IamSnapshot,
    trail: trail::TrailSim,
    regions: region::RegionSim,
}

impl World {
    pub fn new(seed: u64, start: Timestamp) -> World {
        let start_abs = start.as_second();
        let app = traffic::AppMetrics::new(seed);
        let cluster = cluster::ClusterSim::new(seed, start_abs);
        let db = db::DbSim::new(seed);
        let waf = waf::WafSim::new(seed, start_abs);
        let trail = trail::TrailSim::new(seed, start);
        let mut iam = iam::build(seed, start);
        for e in trail.history() {
            iam::touch(&mut iam, e);
        }
        // Whatever fires as the drill opens has been firing since the last restart before it.
        let fired_at = cluster.last_restart().unwrap_or(0);
        let alarms =
            alarms::AlarmSim::new(&signals(0, &app, &cluster, &db, &waf, &trail), fired_at);
        World {
            seed,
            start,
            start_abs,
            t: 0,
            app,
            cluster,
            db,
            waf,
            alarms,
            iam,
            trail,
            regions: region::RegionSim::new(),
        }
    }

    pub fn now(&self) -> Timestamp {
        at(self.start, self.t)
    }

    /// Advance simulated time by `secs` seconds, deterministically.
    pub fn step(&mut self, secs: u32) {
        for _ in 0..secs {
            self.tick();
        }
    }

    fn tick(&mut self) {
        self.t += 1;
        let t = self.t;
        let abs = self.start_abs + t;
        let rpm = traffic::base_rpm(abs);
        self.cluster.tick(t, rpm);
        // The ALB's metrics move every ten seconds; the strain is only worth reading then.
        if t.rem_euclid(traffic::PERIOD) == 0 {
            let strain = traffic::Strain {
                error_pct: self.cluster.bad_build_errors() + self.db.write_errors(),
                overload: self.cluster.overload(),
            };
            self.app.tick(t, rpm, self.cluster.degraded(), strain);
        }
        self.db.tick(rpm);
        self.waf.tick(t, abs, rpm * self.cluster.front_load());
        if let Some(e) = self.trail.tick(t, self.start) {
            iam::touch(&mut self.iam, e);
        }
        self.intruder_tick(t);
        if t.rem_euclid(ALARM_PERIOD) == 0 {
            let signals = signals(
                t,
                &self.app,
                &self.cluster,
                &self.db,
                &self.waf,
                &self.trail,
            );
            self.alarms.evaluate(t, &signals);
        }
    }

    pub fn cluster(&self) -> ClusterSnapshot {
        self.cluster.snapshot(self.start, self.t)
    }

    pub fn db(&self) -> DbSnapshot {
        self.db.snapshot()
    }

    pub fn waf(&self) -> WafSnapshot {
        self.waf.snapshot(self.start)
    }

    /// Already sorted with `AlarmSnapshot::sort`.
    pub fn alarms(&self) -> AlarmSnapshot {
        self.alarms.snapshot(self.start)
    }

    pub fn iam(&self) -> IamSnapshot {
        self.iam.clone()
    }

    pub fn trail(&self) -> TrailSnapshot {
        self.trail.snapshot()
    }

    pub fn backups(&self) -> crate::model::backup::BackupSnapshot {
        backup::snapshot(self.start, self.t)
    }

    /// The two regions, once a scenario that names one has shown them; none before.
    pub fn regions(&self) -> crate::model::region::RegionSnapshot {
        if !self.regions_shown() {
            return Default::default();
        }
        let rpm = traffic::base_rpm(self.start_abs + self.t);
        self.regions
            .snapshot(self.now(), self.t, rpm, &self.cluster())
    }

    fn regions_shown(&self) -> bool {
        self.regions.shown()
    }

    /// A scenario about regions shows them from its start.
    pub fn show_regions(&mut self) {
        self.regions.show();
    }
}

/// What the alarms look at, read off the world at second `t`.
fn signals(
    t: Sec,
    app: &traffic::AppMetrics,
    cluster: &cluster::ClusterSim,
    db: &db::DbSim,
    waf: &waf::WafSim,
    trail: &trail::TrailSim,
) -> alarms::Signals {
    let (restarts, restart_pod) = cluster.restarts_within(t, 600);
    let (node_cpu, node_mem) = cluster.max_node_usage();
    alarms::Signals {
        error_pct: app.error_pct,
        resp_s: app.resp_s,
        restarts,
        restart_pod,
        node_cpu,
        node_mem,
        nodes: cluster.node_count(),
        not_ready_node: cluster.first_not_ready_node().map(String::from),
        max_lag: db.max_lag(),
        lag_threshold: db.lag_threshold(),
        waf_surge: waf.surge(),
        waf_blocked: waf.last_blocked(),
        writer_down: db.writer_down(),
        hpas_at_max: cluster.hpas_at_max(),
        intrusions: trail.intrusions(),
        intruder: trail.intruder().map(|i| (i.user.clone(), i.ip.clone())),
    }
}

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod tests;
