//! Logs, describe and YAML in the drill world, made from its pods as the cluster pane shows
//! them: a serving pod logs its requests as the world's clock runs, a crash-looping one has
//! a previous container that died, and a pod the world removes ends its stream.

use super::World;
use crate::model::cluster::{PodPhase, PodRow};
use crate::model::inspect::{LogHandle, LogRequest, LogSink, ObjectKind, ObjectRef};
use crate::model::logs::{LogLine, LogState};
use jiff::Timestamp;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct SimInspect {
    pub world: Arc<Mutex<World>>,
}

/// Seconds between two request lines of one pod.
const EVERY: i64 = 3;
/// The drill starts with this much of each pod's log.
const BACKLOG: i64 = 600;

fn lock(world: &Mutex<World>) -> std::sync::MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|p| p.into_inner())
}

/// A cheap, stable mix of the pod's name and the second, for varied but repeatable lines.
fn mix(name: &str, sec: i64) -> u64 {
    name.bytes()
        .fold(sec as u64 ^ 0x9e37_79b9_7f4a_7c15, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

fn request_line(pod: &PodRow, sec: i64) -> String {
    let h = mix(&pod.name, sec);
    let paths = [
        "/api/products",
        "/api/cart",
        "/api/users/me",
        "/api/orders",
        "/healthz",
    ];
    let path = paths[(h % paths.len() as u64) as usize];
    let ms = 3 + h % 90;
    if h.is_multiple_of(41) {
        format!(
            "WARN {path} slow upstream: proxysql.shop.svc:6033 took {}ms",
            400 + h % 900
        )
    } else {
        format!("INFO GET {path} 200 {ms}ms")
    }
}

fn startup(pod: &PodRow) -> Vec<String> {
    vec![
        format!("INFO starting {} on :8080", pod.name),
        "INFO connected to proxysql.shop.svc:6033".to_string(),
    ]
}

/// What the container that crashed wrote before it died.
fn crash(pod: &PodRow) -> Vec<String> {
    let mut lines = startup(pod);
    lines.push("WARN heap at 486Mi of 512Mi limit".into());
    lines.push("ERROR cache warm-up: allocating 128Mi for the product index".into());
    lines.push("fatal error: runtime: out of memory".into());
    lines
}

/// The drill's pods run one container named after their workload: `user` for
/// `user-7d9c8f6b5-x2x4q` (a ReplicaSet's hash, then the pod's suffix), `kube-proxy` for
/// `kube-proxy-6k5rj`, `mariadb` for `mariadb-0`.
fn container_of(pod: &str) -> &str {
    let Some((rest, _suffix)) = pod.rsplit_once('-') else {
        return pod;
    };
    match rest.rsplit_once('-') {
        Some((workload, hash)) if (8..=10).contains(&hash.len()) => workload,
        _ => rest,
    }
}

fn pods_of(world: &World, object: &ObjectRef) -> Vec<PodRow> {
    let prefix = format!("{}-", object.name);
    world
        .cluster()
        .pods
        .into_iter()
        .filter(|p| p.namespace == object.namespace)
        .filter(|p| match object.kind {
            ObjectKind::Deployment => p.name.starts_with(&prefix),
            _ => p.name == object.name,
        })
        .collect()
}

fn push(sink: &LogSink, source: u16, at: Timestamp, text: String) {
    sink.with(|b| {
        b.push(LogLine {
            at: Some(at),
            source,
            text: text.into(),
        })
    });
}

async fn follow(world: Arc<Mutex<World>>, request: LogRequest, sink: LogSink) {
    let (pods, now) = {
        let w = lock(&world);
        (pods_of(&w, &request.object), w.now())
    };
    if pods.is_empty() {
        let why = format!("no {} in the drill world", request.object);
        return sink.with(|b| b.state = LogState::Failed(why));
    }
    let sources: Vec<u16> = pods
        .iter()
        .map(|p| sink.with(|b| b.source(&p.name)))
        .collect();
    sink.with(|b| b.containers = vec![container_of(&pods[0].name).to_string()]);
    if request.previous {
        for (pod, source) in pods.iter().zip(&sources) {
            if pod.restarts == 0 {
                let why = format!(
                    "previous terminated container in pod \"{}\" not found: it never restarted",
                    pod.name
                );
                return sink.with(|b| b.state = LogState::Failed(why));
            }
            let lines = crash(pod);
            let n = lines.len() as i64;
            for (i, text) in lines.into_iter().enumerate() {
                let at = now - jiff::SignedDuration::from_secs(30 + n - i as i64);
                push(&sink, *source, at, text);
            }
        }
        let why = "end of the previous container's log".to_string();
        return sink.with(|b| b.state = LogState::Ended(why));
    }
    let mut last = now.as_second() - BACKLOG;
    for (pod, source) in pods.iter().zip(&sources) {
        let born = pod.created.as_second().max(last);
        for (i, text) in startup(pod).into_iter().enumerate() {
            push(
                &sink,
                *source,
                Timestamp::from_second(born + i as i64).unwrap_or(now),
                text,
            );
        }
    }
    sink.with(|b| b.state = LogState::Following);
    loop {
        let (alive, now) = {
            let w = lock(&world);
            (pods_of(&w, &request.object), w.now().as_second())
        };
        for (pod, source) in pods.iter().zip(&sources) {
            let Some(row) = alive.iter().find(|p| p.name == pod.name) else {
                continue;
            };
            // A crash-looping container writes nothing between its restarts.
            if row.waiting_reason.is_some() || row.phase != PodPhase::Running {
                continue;
            }
            for sec in (last + 1..=now).filter(|s| s % EVERY == 0) {
                let at = Timestamp::from_second(sec).unwrap_or(Timestamp::UNIX_EPOCH);
                push(&sink, *source, at, request_line(row, sec));
            }
        }
        last = now;
        if !pods.iter().any(|p| alive.iter().any(|a| a.name == p.name)) {
            let why = format!("{} is gone: the drill world removed it", request.object);
            return sink.with(|b| b.state = LogState::Ended(why));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[async_trait::async_trait]
impl crate::sources::Inspect for SimInspect {
    fn logs(&self, request: LogRequest, sink: LogSink) -> LogHandle {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(follow(self.world.clone(), request, sink));
        Box::new(tasks)
    }

    async fn describe(&self, object: &ObjectRef) -> Result<Vec<(String, String)>, String> {
        let w = lock(&self.world);
        match object.kind {
            ObjectKind::Pod => {
                let pod = pods_of(&w, object)
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("{object} is gone"))?;
                let mut out = vec![(
                    "Condition Ready".to_string(),
                    if pod.ready_containers == pod.total_containers {
                        "True".to_string()
                    } else {
                        "False (ContainersNotReady)".to_string()
                    },
                )];
                out.push(("Container".into(), container_of(&pod.name).to_string()));
                out.push((
                    "  State".into(),
                    match &pod.waiting_reason {
                        Some(r) => format!("Waiting: {r}"),
                        None => format!("{:?}", pod.phase),
                    },
                ));
                if pod.restarts > 0 {
                    out.push((
                        "  Last state".into(),
                        "Terminated: OOMKilled, exit code 137".into(),
                    ));
                }
                out.push(("  Requests".into(), "cpu 250m, memory 256Mi".into()));
                out.push(("  Limits".into(), "memory 512Mi".into()));
                Ok(out)
            }
            _ => Ok(vec![(
                "Describe".into(),
                "the drill world keeps only what the table shows for this kind".into(),
            )]),
        }
    }

    async fn yaml(&self, object: &ObjectRef) -> Result<String, String> {
        let w = lock(&self.world);
        let snap = w.cluster();
        let value = match object.kind {
            ObjectKind::Pod => snap
                .pods
                .iter()
                .find(|p| p.namespace == object.namespace && p.name == object.name)
                .map(|p| serde_json::to_value(p).unwrap_or_default()),
            ObjectKind::Node => snap
                .nodes
                .iter()
                .find(|n| n.name == object.name)
                .map(|n| serde_json::to_value(n).unwrap_or_default()),
            ObjectKind::Deployment => snap
                .deployments
                .iter()
                .find(|d| d.namespace == object.namespace && d.name == object.name)
                .map(|d| serde_json::to_value(d).unwrap_or_default()),
        }
        .ok_or_else(|| format!("{object} is gone"))?;
        let header = format!("# {object} in the drill world (its table row)\n");
        serde_saphyr::to_string(&value)
            .map(|y| header + &y)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_named_after_the_workload() {
        assert_eq!(container_of("user-sg9xwz82x-vvrvh"), "user");
        assert_eq!(container_of("kube-proxy-6k5rj"), "kube-proxy");
        assert_eq!(container_of("mariadb-0"), "mariadb");
    }

    #[tokio::test]
    async fn a_restarted_pod_has_a_previous_log_and_a_serving_one_follows_the_clock() {
        let world = Arc::new(Mutex::new(World::new(
            42,
            Timestamp::from_second(1_800_000_000).unwrap(),
        )));
        let pods = lock(&world).cluster().pods;
        let crashed = pods
            .iter()
            .find(|p| p.restarts > 0)
            .expect("a restarted pod")
            .clone();
        let inspect = SimInspect {
            world: world.clone(),
        };
        let sink = LogSink {
            buffer: Arc::new(Mutex::new(crate::model::logs::LogBuffer::new(
                Default::default(),
            ))),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let object = ObjectRef {
            kind: ObjectKind::Pod,
            namespace: crashed.namespace.clone(),
            name: crashed.name.clone(),
        };
        let _h = crate::sources::Inspect::logs(
            &inspect,
            LogRequest {
                object: object.clone(),
                container: None,
                previous: true,
            },
            sink.clone(),
        );
        while !matches!(sink.read(|b| b.state.clone()), LogState::Ended(_)) {
            sink.wake.notified().await;
        }
        assert_eq!(
            sink.read(|b| b.iter().last().map(|l| l.text.to_string()))
                .as_deref(),
            Some("fatal error: runtime: out of memory")
        );
        let serving = pods
            .iter()
            .find(|p| p.restarts == 0 && p.waiting_reason.is_none() && p.phase == PodPhase::Running)
            .unwrap()
            .clone();
        let sink = LogSink {
            buffer: Arc::new(Mutex::new(crate::model::logs::LogBuffer::new(
                Default::default(),
            ))),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let object = ObjectRef {
            kind: ObjectKind::Pod,
            namespace: serving.namespace.clone(),
            name: serving.name.clone(),
        };
        let _h = crate::sources::Inspect::logs(
            &inspect,
            LogRequest {
                object,
                container: None,
                previous: false,
            },
            sink.clone(),
        );
        while sink.read(|b| b.state != LogState::Following) {
            sink.wake.notified().await;
        }
        let before = sink.read(|b| b.total());
        lock(&world).step(30);
        while sink.read(|b| b.total()) == before {
            sink.wake.notified().await;
        }
        assert!(sink.read(|b| {
            b.iter()
                .last()
                .is_some_and(|l| l.text.starts_with("INFO GET ") || l.text.starts_with("WARN "))
        }));
    }
}
