//! Operations on the drill world: the same `Op`s the live backends run, done to the
//! simulation, with the calls a live backend would make.

use super::World;
use crate::ops::{Mode, Op, OpError, Outcome};

/// Marks every call as the drill's, so a journal never passes one off as real.
const DRILL: &str = " (drill)";

impl World {
    /// Runs `op` against the world. `mode` only relaxes the checks on state that earlier
    /// steps of a playbook establish (a re-point target not yet promoted, replication not
    /// yet healthy); callers wanting a dry-run run it on a copy (see `SimOps`).
    pub fn run_op(&mut self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let t = self.t;
        let mut out = match op {
            Op::Scale {
                namespace,
                deployment,
                replicas,
            } => self.cluster.scale(namespace, deployment, *replicas, t),
            Op::SetHpaBounds {
                namespace,
                hpa,
                min,
                max,
                context,
            } => match context.as_deref() {
                None | Some(super::cluster::CONTEXT) => {
                    self.cluster.set_hpa_bounds(namespace, hpa, *min, *max)
                }
                Some(other) => self
                    .regions
                    .set_hpa_bounds(other, namespace, hpa, *min, *max, mode),
            },
            Op::Rollback {
                namespace,
                deployment,
                revision,
            } => self.cluster.rollback(namespace, deployment, *revision, t),
            Op::Restart {
                namespace,
                deployment,
            } => {
                let now = self.now().to_string();
                self.cluster.restart(namespace, deployment, t, &now)
            }
            Op::Cordon { node, cordon } => self.cluster.cordon(node, *cordon),
            Op::DeletePod { namespace, pod } => self.cluster.delete_pod(namespace, pod, t),
            Op::Fence { cluster, member } => self.db.fence(cluster, member),
            Op::Unfence { cluster, member } => self.db.unfence(cluster, member),
            Op::Promote { cluster, member } => self.db.promote(cluster, member),
            Op::Repoint { cluster, primary } => self.db.repoint(cluster, primary, mode),
            Op::VerifyReplication { cluster } => self.db.verify(cluster, mode),
            Op::RebootWithFailover { .. } => {
                Err(OpError::Unsupported("the drill world has no RDS".into()))
            }
            Op::BlockIp { acl, ip } => self.waf.block_ip(acl, ip),
            Op::UnblockIp { acl, ip } => self.waf.unblock_ip(acl, ip),
            Op::DeactivateKey { user, key_suffix } => {
                super::iam::deactivate(&mut self.iam, user, key_suffix)
            }
            Op::KeyActivity {
                user,
                key_suffix,
                hours,
            } => {
                let since = self.now().as_second() - i64::from(*hours) * 3600;
                let events: Vec<_> = self
                    .trail
                    .history()
                    .filter(|e| &e.user == user && e.time.as_second() >= since)
                    .filter(|e| e.event_name != "ConsoleLogin")
                    .cloned()
                    .collect();
                Ok(super::iam::activity(user, key_suffix, *hours, &events))
            }
            Op::DeleteLoginProfile { user } => super::iam::delete_login(&mut self.iam, user),
            Op::DenyAll { user } => super::iam::deny_all(&self.iam, user),
            Op::ReactivateKey {
                user, key_suffix, ..
            } => super::iam::reactivate(&mut self.iam, user, key_suffix),
            Op::SetRegionWeight {
                region,
                weight,
                previous,
            } => self.regions.set_weight(region, *weight, *previous, t, mode),
            Op::Silence { .. } => Err(OpError::Unsupported(
                "the drill world has no Alertmanager to hold silences".into(),
            )),
        }?;
        for call in &mut out.calls {
            call.push_str(DRILL);
        }
        Ok(out)
    }
}
