//! Deployment revisions and rolling updates: what `kubectl rollout undo` and
//! `kubectl rollout restart` act on, and how a bad build reaches the pods.

use super::{ClusterSim, PodState, Workload};
use crate::model::cluster::Rollout;
use crate::sources::sim::Sec;
use crate::sources::sim::dice::KUBE_ALPHABET;

/// `revisionHistoryLimit`'s default: older ReplicaSets are garbage-collected.
const HISTORY_LIMIT: usize = 10;
/// `progressDeadlineSeconds`' default: a rollout this slow is reported as stalled.
const PROGRESS_DEADLINE: Sec = 600;

/// One earlier pod template of a Deployment, as its ReplicaSet remembers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Revision {
    pub revision: u64,
    pub image: String,
    pub hash: String,
    pub error_pct: f64,
}

impl Revision {
    /// The revision before the one the drill opens on, so an undo has somewhere to go.
    pub fn before(name: &str, image: &str, revision: u64) -> Vec<Revision> {
        if revision < 2 {
            return Vec::new();
        }
        vec![Revision {
            revision: revision - 1,
            image: bump_tag(image, -1),
            hash: template_hash(name, revision - 1),
            error_pct: 0.0,
        }]
    }
}

/// A pod-template-hash for a template the drill makes up. Derived, not drawn, so a rollout
/// does not move any random stream.
pub(super) fn template_hash(name: &str, revision: u64) -> String {
    // FNV-1a: small, stable across platforms and releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes().chain(revision.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let n = KUBE_ALPHABET.len() as u64;
    (0..10)
        .map(|_| {
            let c = KUBE_ALPHABET[(h % n) as usize];
            h /= n;
            char::from(c)
        })
        .collect()
}

/// The image with the last number of its tag moved by `delta` (`user:1.14.2` → `user:1.14.3`),
/// never below zero; an image without a numeric tag stays as it is.
pub(super) fn bump_tag(image: &str, delta: i64) -> String {
    let tag_at = image.rfind(':').filter(|&c| !image[c..].contains('/'));
    let Some(colon) = tag_at else {
        return image.to_string();
    };
    let tag = &image[colon + 1..];
    let Some(end) = tag.rfind(|c: char| c.is_ascii_digit()).map(|i| i + 1) else {
        return image.to_string();
    };
    let start = tag[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let Ok(n) = tag[start..end].parse::<i64>() else {
        return image.to_string();
    };
    let n = n.saturating_add(delta).max(0);
    format!("{}:{}{n}{}", &image[..colon], &tag[..start], &tag[end..])
}

pub(super) fn status(w: &Workload, t: Sec) -> Rollout {
    match w.rolling_since {
        None => Rollout::Complete,
        Some(since) if t - since > PROGRESS_DEADLINE => Rollout::Stalled,
        Some(_) => Rollout::Progressing,
    }
}

impl ClusterSim {
    /// Starts a rollout of workload `w` to a new template; the current one joins the history.
    pub(super) fn roll_out(&mut self, w: usize, next: Revision, t: Sec) {
        let wl = &mut self.workloads[w];
        let current = Revision {
            revision: wl.revision,
            image: std::mem::replace(&mut wl.image, next.image),
            hash: std::mem::replace(&mut wl.hash, next.hash),
            error_pct: wl.error_pct,
        };
        // A template rolled back to becomes the newest revision; it is no longer history.
        wl.history.retain(|r| r.hash != wl.hash);
        wl.history.push(current);
        if wl.history.len() > HISTORY_LIMIT {
            wl.history.remove(0);
        }
        wl.revision = next.revision;
        wl.error_pct = next.error_pct;
        wl.rolling_since = Some(t);
        let replicas = wl.replicas;
        super::autoscale::scale(self, w, replicas, t);
    }

    /// Old pods go as new ones become ready, so capacity never drops below the desired count
    /// (the effect of `maxUnavailable: 0`).
    pub(super) fn advance_rollouts(&mut self) {
        for w in 0..self.workloads.len() {
            if self.workloads[w].rolling_since.is_none() {
                continue;
            }
            let (hash, replicas) = (&self.workloads[w].hash, self.workloads[w].replicas);
            let new_ready = self
                .pods
                .iter()
                .filter(|p| {
                    p.workload == w
                        && &p.hash == hash
                        && p.state == PodState::Ready
                        && self.on_ready_node(p)
                })
                .count() as u32;
            let old: Vec<usize> = (0..self.pods.len())
                .filter(|&i| self.pods[i].workload == w && &self.pods[i].hash != hash)
                .collect();
            let excess = (new_ready as usize + old.len()).saturating_sub(replicas as usize);
            // Highest index first, so the ones still to remove keep their place.
            for &i in old.iter().take(excess).rev() {
                self.pods.remove(i);
            }
            if old.len() <= excess && new_ready >= replicas {
                self.workloads[w].rolling_since = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_move_by_their_last_number() {
        let ecr = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/user:1.14.2";
        assert_eq!(
            bump_tag(ecr, 1),
            "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/user:1.14.3"
        );
        assert_eq!(
            bump_tag("grafana/grafana:11.1.4", -1),
            "grafana/grafana:11.1.3"
        );
        assert_eq!(
            bump_tag("x/coredns:v1.11.1-eksbuild.9", 1),
            "x/coredns:v1.11.1-eksbuild.10"
        );
        assert_eq!(bump_tag("admin:1.9.0", -1), "admin:1.9.0");
        assert_eq!(bump_tag("localhost:5000/app", 1), "localhost:5000/app");
        assert_eq!(bump_tag("app:latest", 1), "app:latest");
    }

    #[test]
    fn template_hashes_are_stable_and_distinct() {
        let a = template_hash("user", 15);
        assert_eq!(a, template_hash("user", 15));
        assert_ne!(a, template_hash("user", 16));
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|b| KUBE_ALPHABET.contains(&b)));
    }
}
