//! `Ops` for the drill: playbooks act on the simulated world through the same trait the
//! live backends implement.

use super::World;
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

pub struct SimOps {
    world: Arc<Mutex<World>>,
}

impl SimOps {
    pub fn new(world: Arc<Mutex<World>>) -> Self {
        SimOps { world }
    }
}

#[async_trait]
impl Ops for SimOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let mut world = self
            .world
            .lock()
            .map_err(|_| OpError::Failed("the drill world is unusable: a step panicked".into()))?;
        match mode {
            Mode::Apply => world.run_op(op, mode),
            Mode::DryRun => {
                // The same code on a copy: a dry-run validates exactly what a run would and
                // cannot change the world by construction.
                let mut scratch = world.clone();
                drop(world);
                let planned = scratch.run_op(op, mode)?;
                Ok(Outcome {
                    summary: format!("dry-run: would {op}; nothing changed"),
                    calls: planned.calls,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sim::Fault;
    use jiff::Timestamp;

    fn shared() -> (Arc<Mutex<World>>, SimOps) {
        let start: Timestamp = "2025-11-22T01:00:00Z".parse().unwrap();
        let world = Arc::new(Mutex::new(World::new(42, start)));
        (world.clone(), SimOps::new(world))
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    /// Everything a snapshot can show, for before/after comparisons.
    fn everything(world: &Arc<Mutex<World>>) -> impl PartialEq + std::fmt::Debug {
        let w = world.lock().unwrap();
        (
            w.now(),
            w.cluster(),
            w.db(),
            w.waf(),
            w.alarms(),
            w.iam(),
            w.trail(),
        )
    }

    fn ops_worth_trying(world: &Arc<Mutex<World>>) -> Vec<Op> {
        let w = world.lock().unwrap();
        let cluster = w.cluster();
        let iam = w.iam();
        let key = iam
            .users
            .iter()
            .find(|u| u.name == "lee.jihoon")
            .and_then(|u| u.oldest_active_key())
            .map(|k| k.id_suffix.clone())
            .unwrap();
        let (ns, pod) = cluster
            .pods
            .iter()
            .find(|p| p.name.starts_with("user-"))
            .map(|p| (p.namespace.clone(), p.name.clone()))
            .unwrap();
        vec![
            Op::Scale {
                namespace: s("shop"),
                deployment: s("user"),
                replicas: 12,
            },
            Op::SetHpaBounds {
                namespace: s("shop"),
                hpa: s("user"),
                min: Some(4),
                max: Some(20),
                context: None,
            },
            Op::Rollback {
                namespace: s("shop"),
                deployment: s("user"),
                revision: None,
            },
            Op::Restart {
                namespace: s("shop"),
                deployment: s("admin"),
            },
            Op::Cordon {
                node: cluster.nodes[0].name.clone(),
                cordon: true,
            },
            Op::DeletePod { namespace: ns, pod },
            Op::Fence {
                cluster: s("shop-mariadb"),
                member: s("mariadb-0"),
            },
            Op::Promote {
                cluster: s("shop-mariadb"),
                member: s("mariadb-2"),
            },
            Op::Repoint {
                cluster: s("shop-mariadb"),
                primary: s("mariadb-2"),
            },
            Op::VerifyReplication {
                cluster: s("shop-mariadb"),
            },
            Op::BlockIp {
                acl: s("shop-web-acl"),
                ip: s("203.0.113.77"),
            },
            Op::DeactivateKey {
                user: s("lee.jihoon"),
                key_suffix: key,
            },
        ]
    }

    #[tokio::test]
    async fn a_dry_run_changes_nothing_and_shows_the_drills_calls() {
        let (world, ops) = shared();
        world.lock().unwrap().step(60);
        for op in ops_worth_trying(&world) {
            let before = everything(&world);
            let out = ops.apply(&op, Mode::DryRun).await.unwrap();
            assert_eq!(before, everything(&world), "{op} changed the world");
            assert!(!out.calls.is_empty(), "{op}");
            assert!(out.calls.iter().all(|c| c.ends_with(" (drill)")), "{out:?}");
            assert!(
                out.summary.starts_with("dry-run: would "),
                "{}",
                out.summary
            );
            // The same op applied does change it, and says what it did.
            let applied = ops.apply(&op, Mode::Apply).await.unwrap();
            assert_eq!(applied.calls, out.calls, "{op}");
            assert!(!applied.summary.starts_with("dry-run"));
        }
    }

    #[tokio::test]
    async fn calls_mirror_the_live_backends() {
        let (world, ops) = shared();
        let scale = Op::Scale {
            namespace: s("shop"),
            deployment: s("user"),
            replicas: 12,
        };
        assert_eq!(
            ops.apply(&scale, Mode::DryRun).await.unwrap().calls,
            [r#"PATCH apps/v1 shop/deployments/user/scale {"spec":{"replicas":12}} (drill)"#]
        );
        world
            .lock()
            .unwrap()
            .inject(&Fault::PrimaryDown {
                cluster: s("shop-mariadb"),
            })
            .unwrap();
        let promote = Op::Promote {
            cluster: s("shop-mariadb"),
            member: s("mariadb-1"),
        };
        let calls = ops.apply(&promote, Mode::DryRun).await.unwrap().calls;
        assert_eq!(
            calls[0],
            "SQL mariadb-1: STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF (drill)"
        );
        // Before the promote, a re-point is only planned in a dry-run, refused when applied.
        let repoint = Op::Repoint {
            cluster: s("shop-mariadb"),
            primary: s("mariadb-1"),
        };
        assert!(ops.apply(&repoint, Mode::DryRun).await.is_ok());
        assert!(matches!(
            ops.apply(&repoint, Mode::Apply).await,
            Err(OpError::Refused(m)) if m.contains("promote it first")
        ));
        let verify = Op::VerifyReplication {
            cluster: s("shop-mariadb"),
        };
        assert!(ops.apply(&verify, Mode::DryRun).await.is_ok());
        assert!(matches!(
            ops.apply(&verify, Mode::Apply).await,
            Err(OpError::Failed(m)) if m.contains("mariadb-0 is unreachable")
        ));
    }

    #[tokio::test]
    async fn unknown_targets_are_not_found_in_either_mode() {
        let (_world, ops) = shared();
        let cases = [
            (
                Op::Scale {
                    namespace: s("shop"),
                    deployment: s("checkout"),
                    replicas: 2,
                },
                "no deployment shop/checkout",
            ),
            (
                Op::SetHpaBounds {
                    namespace: s("shop"),
                    hpa: s("proxysql"),
                    min: None,
                    max: Some(4),
                    context: None,
                },
                "no hpa shop/proxysql",
            ),
            (
                Op::Rollback {
                    namespace: s("shop"),
                    deployment: s("user"),
                    revision: Some(3),
                },
                "shop/user has no revision 3 (history: 13)",
            ),
            (
                Op::Cordon {
                    node: s("ip-10-9-9-9"),
                    cordon: true,
                },
                "no node ip-10-9-9-9",
            ),
            (
                Op::DeletePod {
                    namespace: s("shop"),
                    pod: s("user-nope"),
                },
                "no pod shop/user-nope",
            ),
            (
                Op::Promote {
                    cluster: s("orders-pg"),
                    member: s("pg-1"),
                },
                "no database cluster `orders-pg`",
            ),
            (
                Op::Fence {
                    cluster: s("shop-mariadb"),
                    member: s("mariadb-7"),
                },
                "no member shop-mariadb/mariadb-7",
            ),
            (
                Op::BlockIp {
                    acl: s("other-acl"),
                    ip: s("203.0.113.9"),
                },
                "no web ACL `other-acl`",
            ),
            (
                Op::DeactivateKey {
                    user: s("nobody"),
                    key_suffix: s("ABCD"),
                },
                "no IAM user `nobody`",
            ),
            (
                Op::DeactivateKey {
                    user: s("lee.jihoon"),
                    key_suffix: s("ZZZZ"),
                },
                "lee.jihoon has no access key …ZZZZ",
            ),
        ];
        for (op, why) in cases {
            for mode in [Mode::DryRun, Mode::Apply] {
                match ops.apply(&op, mode).await {
                    Err(OpError::NotFound(m)) => assert!(m.contains(why), "{m} vs {why}"),
                    other => panic!("{op} ({mode:?}): {other:?}"),
                }
            }
        }
    }

    #[tokio::test]
    async fn unsafe_promotions_are_refused_with_the_numbers() {
        let (world, ops) = shared();
        world.lock().unwrap().db.set_lag(2, 7.3);
        let promote = |member: &str| Op::Promote {
            cluster: s("shop-mariadb"),
            member: member.into(),
        };
        for mode in [Mode::DryRun, Mode::Apply] {
            match ops.apply(&promote("mariadb-2"), mode).await {
                Err(OpError::Refused(m)) => assert_eq!(
                    m,
                    "mariadb-2 lags 7.3 s, beyond shop-mariadb's 5.0 s threshold"
                ),
                other => panic!("{other:?}"),
            }
        }
        world
            .lock()
            .unwrap()
            .inject(&Fault::PrimaryDown {
                cluster: s("shop-mariadb"),
            })
            .unwrap();
        assert!(matches!(
            ops.apply(&promote("mariadb-0"), Mode::Apply).await,
            Err(OpError::Refused(m)) if m.contains("unreachable")
        ));
        let bad_bounds = Op::SetHpaBounds {
            namespace: s("shop"),
            hpa: s("user"),
            min: Some(12),
            max: Some(8),
            context: None,
        };
        assert!(matches!(
            ops.apply(&bad_bounds, Mode::DryRun).await,
            Err(OpError::Refused(_))
        ));
        let not_an_ip = Op::BlockIp {
            acl: s("shop-web-acl"),
            ip: s("203.0.113.9, 10.0.0.1/8"),
        };
        assert!(matches!(
            ops.apply(&not_an_ip, Mode::Apply).await,
            Err(OpError::Refused(m)) if m.contains("address 2 of 2: `10.0.0.1/8` has bits set past /8")
        ));
    }

    #[tokio::test]
    async fn what_the_drill_lacks_is_unsupported() {
        let (_world, ops) = shared();
        let rds = Op::RebootWithFailover {
            cluster: s("shop-mariadb"),
        };
        assert_eq!(
            ops.apply(&rds, Mode::DryRun).await,
            Err(OpError::Unsupported(s("the drill world has no RDS")))
        );
        let silence = Op::Silence {
            alert: s("KubePodRestartsHigh"),
            minutes: 30,
        };
        assert!(matches!(
            ops.apply(&silence, Mode::Apply).await,
            Err(OpError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn a_poisoned_world_fails_instead_of_panicking() {
        let (world, ops) = shared();
        let w = world.clone();
        let _ = std::thread::spawn(move || {
            let _guard = w.lock().unwrap();
            panic!("a step went wrong (deliberately, for this test)");
        })
        .join();
        let op = Op::VerifyReplication {
            cluster: s("shop-mariadb"),
        };
        assert!(matches!(
            ops.apply(&op, Mode::DryRun).await,
            Err(OpError::Failed(_))
        ));
    }
}
