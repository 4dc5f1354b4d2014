//! The pod that keeps falling over. Every real cluster has one, and it gives the restart
//! alarm something to do: bad spells of frequent crashes, then long calm ones.

use super::{ClusterSim, PodState};
use crate::sources::sim::Sec;
use std::collections::VecDeque;

/// How far back the restart history reaches: the alarm looks at ten minutes.
const HISTORY: Sec = 600;
/// The kubelet forgets the back-off once a container has run this long.
const BACKOFF_RESET: Sec = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spell {
    Bad { until: Sec },
    Calm { until: Sec },
}

#[derive(Debug, Clone)]
pub(crate) struct Flaky {
    pub pod: String,
    pub spell: Spell,
    pub next_crash: Option<Sec>,
    /// Crashes in a row without a long enough run in between.
    pub streak: u32,
    /// Restart times, oldest first.
    pub history: VecDeque<Sec>,
}

pub(super) fn tick(c: &mut ClusterSim, t: Sec) {
    let f = &mut c.flaky;
    match f.spell {
        Spell::Bad { until } if t >= until => {
            f.spell = Spell::Calm {
                until: t + c.dice.between(2700, 7200),
            };
            f.next_crash = None;
        }
        Spell::Calm { until } if t >= until => {
            f.spell = Spell::Bad {
                until: t + c.dice.between(360, 720),
            };
        }
        _ => {}
    }
    while f.history.front().is_some_and(|&r| t - r >= HISTORY) {
        f.history.pop_front();
    }
    let bad = matches!(f.spell, Spell::Bad { .. });
    let Some(i) = c.pods.iter().position(|p| p.name == f.pod) else {
        return;
    };
    if c.pods[i].state != PodState::Ready {
        return;
    }
    match f.next_crash {
        None if bad => f.next_crash = Some(t + c.dice.between(40, 100)),
        Some(when) if t >= when => {
            let recent = c.last_restart().is_some_and(|r| t - r < BACKOFF_RESET);
            let f = &mut c.flaky;
            f.streak = if recent { f.streak + 1 } else { 1 };
            f.next_crash = None;
            f.history.push_back(t);
            // 10 s, doubling; capped low so the pod is back within a minute.
            let backoff = 10 << f.streak.saturating_sub(1).min(2);
            c.crash_pod(i, t, backoff);
        }
        _ => {}
    }
}
