//! CloudWatch alarms and Alertmanager alerts over the world, one per alert rule in the
//! customer's designs (SPEC §2), each with a state derived from what the world is doing.

use super::{Sec, at};
use crate::model::alarm::{Alarm, AlarmSnapshot, AlarmSource, AlarmState, Severity};
use jiff::Timestamp;

const MIN: Sec = 60;
const HOUR: Sec = 3600;
const DAY: Sec = 86_400;

/// What the alarms look at, gathered from the world at each evaluation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signals {
    pub error_pct: f64,
    pub resp_s: f64,
    pub restarts: u32,
    /// `namespace/name` of the pod the restart count belongs to.
    pub restart_pod: String,
    pub node_cpu: f64,
    pub node_mem: f64,
    pub nodes: usize,
    pub not_ready_node: Option<String>,
    /// The worst replica lag; `None` when replication is broken.
    pub max_lag: Option<f64>,
    pub lag_threshold: f64,
    pub waf_surge: Option<(u64, u64)>,
    /// Blocked requests in the last complete minute.
    pub waf_blocked: u64,
    /// The member ProxySQL writes to, when it is unreachable.
    pub writer_down: Option<String>,
    /// Deployments whose HPA is at its max, with the max.
    pub hpas_at_max: Vec<(&'static str, u32)>,
    /// Calls with a leaked key within the alarm's window, and whose key from where.
    pub intrusions: u32,
    pub intruder: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy)]
enum Rule {
    ErrorRate,
    ResponseTime,
    PodRestarts,
    NodeCpu,
    NodeMemory,
    ReplicaLag,
    WafSurge,
    NodeNotReady,
    PrimaryDown,
    /// The HPA of the named `shop` Deployment.
    HpaAtMax(&'static str),
    TrailIntrusion,
}

struct Def {
    rule: Rule,
    name: &'static str,
    source: AlarmSource,
    severity: Severity,
    /// How long the condition must hold before the alarm fires.
    hold: Sec,
    /// When it fires, in words: `above 5% for 5 min`.
    threshold: &'static str,
    /// How long ago a quiet alarm last changed state when the drill opens.
    quiet_for: Sec,
}

const fn def(
    rule: Rule,
    name: &'static str,
    source: AlarmSource,
    severity: Severity,
    hold: Sec,
    threshold: &'static str,
    quiet_for: Sec,
) -> Def {
    Def {
        rule,
        name,
        source,
        severity,
        hold,
        threshold,
        quiet_for,
    }
}

use AlarmSource::{Alertmanager as Am, CloudWatch as Cw};
use Severity::{Critical, Warning};

/// The first `BASE` alarms are always listed. The others belong to the drill's scenarios and
/// join the list the first time their condition holds, as a new Alertmanager alert does, so
/// the list the drill opens on is the one operators know.
const BASE: usize = 8;

const DEFS: [Def; 12] = [
    def(
        Rule::ErrorRate,
        "shop-alb-5xx-rate-high",
        Cw,
        Critical,
        5 * MIN,
        "above 5% for 5 min",
        3 * DAY + 4 * HOUR,
    ),
    def(
        Rule::ResponseTime,
        "shop-alb-response-time-high",
        Cw,
        Warning,
        5 * MIN,
        "above 3 s for 5 min",
        9 * DAY,
    ),
    def(
        Rule::PodRestarts,
        "KubePodRestartsHigh",
        Am,
        Warning,
        0,
        "above 5",
        2 * HOUR,
    ),
    def(
        Rule::NodeCpu,
        "eks-node-cpu-high",
        Cw,
        Warning,
        10 * MIN,
        "above 85% for 10 min",
        26 * HOUR,
    ),
    def(
        Rule::NodeMemory,
        "eks-node-memory-high",
        Cw,
        Warning,
        5 * MIN,
        "above 90% for 5 min",
        14 * DAY,
    ),
    def(
        Rule::ReplicaLag,
        "MariaDBReplicationLag",
        Am,
        Critical,
        MIN,
        "above 5 s for 1 min",
        5 * DAY + 2 * HOUR,
    ),
    def(
        Rule::WafSurge,
        "shop-waf-blocked-requests-surge",
        Cw,
        Warning,
        0,
        "above 3× the hour's median",
        31 * HOUR,
    ),
    def(
        Rule::NodeNotReady,
        "KubeNodeNotReady",
        Am,
        Critical,
        MIN,
        "when one is NotReady for 1 min",
        12 * DAY,
    ),
    def(
        Rule::PrimaryDown,
        "MariaDBPrimaryDown",
        Am,
        Critical,
        30,
        "when the writer is unreachable for 30 s",
        0,
    ),
    def(
        Rule::HpaAtMax("user"),
        "shop-user-hpa-at-max",
        Cw,
        Warning,
        2 * MIN,
        "at its max for 2 min",
        0,
    ),
    def(
        Rule::HpaAtMax("admin"),
        "shop-admin-hpa-at-max",
        Cw,
        Warning,
        2 * MIN,
        "at its max for 2 min",
        0,
    ),
    def(
        Rule::TrailIntrusion,
        "CloudTrailUnauthorizedActivity",
        Cw,
        Critical,
        0,
        "above 0 calls from unknown addresses in 5 min",
        0,
    ),
];

impl Rule {
    /// Whether the condition holds, and the observed value in words.
    fn check(self, s: &Signals) -> (bool, String) {
        match self {
            Rule::ErrorRate => (s.error_pct > 5.0, format!("5xx rate {:.1}%", s.error_pct)),
            Rule::ResponseTime => (s.resp_s > 3.0, format!("avg response {:.2} s", s.resp_s)),
            Rule::PodRestarts => (
                s.restarts > 5,
                format!("{}: {} restarts in 10 min", s.restart_pod, s.restarts),
            ),
            Rule::NodeCpu => (
                s.node_cpu > 85.0,
                format!("busiest node CPU {:.0}%", s.node_cpu),
            ),
            Rule::NodeMemory => (
                s.node_mem > 90.0,
                format!("busiest node memory {:.0}%", s.node_mem),
            ),
            Rule::ReplicaLag => match s.max_lag {
                Some(lag) => (lag > s.lag_threshold, format!("replica lag {lag:.1} s")),
                None => (true, "replication broken".into()),
            },
            Rule::WafSurge => match s.waf_surge {
                Some((now, median)) => (true, format!("blocked {now}/min, median {median}/min")),
                None => (false, format!("blocked {}/min", s.waf_blocked)),
            },
            Rule::NodeNotReady => match &s.not_ready_node {
                Some(node) => (true, format!("node {node} NotReady")),
                None => (false, format!("all {} nodes Ready", s.nodes)),
            },
            Rule::PrimaryDown => match &s.writer_down {
                Some(m) => (true, format!("writer {m} unreachable")),
                None => (false, "writer reachable".into()),
            },
            Rule::HpaAtMax(name) => match s.hpas_at_max.iter().find(|(d, _)| *d == name) {
                Some((_, max)) => (true, format!("hpa shop/{name} at its max {max}")),
                None => (false, format!("hpa shop/{name} below its max")),
            },
            Rule::TrailIntrusion => match (s.intrusions, &s.intruder) {
                (0, _) => (false, "no calls from unknown addresses in 5 min".into()),
                (n, Some((user, ip))) => {
                    (true, format!("{} by {user} from {ip} in 5 min", calls(n)))
                }
                (n, None) => (
                    true,
                    format!("{} from unknown addresses in 5 min", calls(n)),
                ),
            },
        }
    }
}

fn calls(n: u32) -> String {
    if n == 1 {
        "1 call".into()
    } else {
        format!("{n} calls")
    }
}

#[derive(Debug, Clone)]
struct Slot {
    state: AlarmState,
    since: Sec,
    /// When the condition started to hold, while it does.
    breach_since: Option<Sec>,
    reason: String,
    listed: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AlarmSim {
    slots: Vec<Slot>,
}

/// The same words whatever the state, which the state column already tells.
fn reason(d: &Def, value: &str) -> String {
    format!("{value} (alarm {})", d.threshold)
}

impl AlarmSim {
    /// The alarms as the drill finds them; one firing already must have fired at `fired_at`.
    pub fn new(s: &Signals, fired_at: Sec) -> AlarmSim {
        let slots = DEFS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (breach, value) = d.rule.check(s);
                Slot {
                    state: if breach {
                        AlarmState::Alarm
                    } else {
                        AlarmState::Ok
                    },
                    since: if breach { fired_at } else { -d.quiet_for },
                    breach_since: breach.then_some(fired_at - d.hold),
                    reason: reason(d, &value),
                    listed: i < BASE || breach,
                }
            })
            .collect();
        AlarmSim { slots }
    }

    pub fn evaluate(&mut self, t: Sec, s: &Signals) {
        for (d, slot) in DEFS.iter().zip(&mut self.slots) {
            let (breach, value) = d.rule.check(s);
            if breach && !slot.listed {
                slot.listed = true;
                slot.since = t;
                slot.reason = reason(d, &value);
            }
            let firing = if breach {
                let since = *slot.breach_since.get_or_insert(t);
                t - since >= d.hold
            } else {
                slot.breach_since = None;
                false
            };
            let state = if firing {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
            // CloudWatch keeps the reason of the last transition; Alertmanager re-renders
            // its annotations at every evaluation.
            if state != slot.state {
                slot.state = state;
                slot.since = t;
                slot.reason = reason(d, &value);
            } else if matches!(d.source, AlarmSource::Alertmanager) {
                slot.reason = reason(d, &value);
            }
        }
    }

    pub fn snapshot(&self, start: Timestamp) -> AlarmSnapshot {
        let mut snap = AlarmSnapshot {
            alarms: DEFS
                .iter()
                .zip(&self.slots)
                .filter(|(_, s)| s.listed)
                .map(|(d, s)| Alarm {
                    source: d.source,
                    name: d.name.into(),
                    state: s.state,
                    severity: d.severity,
                    reason: s.reason.clone(),
                    since: at(start, s.since),
                    ..Alarm::default()
                })
                .collect(),
            ..AlarmSnapshot::default()
        };
        snap.sort();
        snap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calm() -> Signals {
        Signals {
            error_pct: 0.4,
            resp_s: 0.2,
            nodes: 4,
            max_lag: Some(0.5),
            lag_threshold: 5.0,
            ..Signals::default()
        }
    }

    fn state(sim: &AlarmSim, name: &str) -> (AlarmState, Sec) {
        let i = DEFS.iter().position(|d| d.name == name).unwrap();
        (sim.slots[i].state, sim.slots[i].since)
    }

    #[test]
    fn fires_only_after_the_condition_holds_and_records_when() {
        let mut sim = AlarmSim::new(&calm(), 0);
        assert_eq!(
            state(&sim, "shop-alb-5xx-rate-high"),
            (AlarmState::Ok, -(3 * DAY + 4 * HOUR))
        );
        let bad = Signals {
            error_pct: 7.5,
            ..calm()
        };
        for t in (10..=300).step_by(10) {
            sim.evaluate(t, &bad);
        }
        assert_eq!(
            state(&sim, "shop-alb-5xx-rate-high").0,
            AlarmState::Ok,
            "not yet five minutes"
        );
        sim.evaluate(310, &bad);
        assert_eq!(
            state(&sim, "shop-alb-5xx-rate-high"),
            (AlarmState::Alarm, 310)
        );
        sim.evaluate(320, &calm());
        assert_eq!(state(&sim, "shop-alb-5xx-rate-high"), (AlarmState::Ok, 320));
    }

    #[test]
    fn firing_at_the_start_keeps_its_history() {
        let restarting = Signals {
            restarts: 6,
            restart_pod: "shop/admin-x".into(),
            ..calm()
        };
        let sim = AlarmSim::new(&restarting, -120);
        assert_eq!(
            state(&sim, "KubePodRestartsHigh"),
            (AlarmState::Alarm, -120)
        );
        let snap = sim.snapshot(Timestamp::from_second(1_000_000).unwrap());
        assert_eq!(snap.alarms[0].name, "KubePodRestartsHigh");
        assert_eq!(
            snap.alarms[0].reason,
            "shop/admin-x: 6 restarts in 10 min (alarm above 5)"
        );
        assert_eq!(snap.firing().count(), 1);
    }
}
