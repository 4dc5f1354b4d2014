//! Regions on real parts: moto's Route 53 (a hosted zone with a weighted record set per
//! region, each with a health check) and CloudWatch (the load balancers' RequestCount), and
//! two in-repo Kubernetes API servers watched by the Fleet, one per region's context. The
//! shipped region-evacuate and region-restore playbooks run through the executor.
//!
//! moto always answers GetHealthCheckStatus with a success; a failing check is the one call
//! answered by `HealthProxy` with a recorded response in Route 53's real format (the
//! GetHealthCheckStatus example of the Route 53 API reference, its status text as AWS words
//! a 503). Everything else goes to moto.

mod alarmsupport;
mod kubesupport;
#[path = "dbsupport/moto.rs"]
mod moto;
mod runsupport;

use alarmsupport::{aws, aws_config, forward, read_request};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, RrType,
};
use kubesupport::{KubeServer, fast_tuning, fixtures, kubeconfig_for};
use moto::Moto;
use opsdeck::incident::event::{Event, RunOutcome, Severity};
use opsdeck::model::Level;
use opsdeck::model::summary::Area;
use opsdeck::ops::route::Router;
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::playbook::run::{self, Answer, Context, Prompt};
use opsdeck::playbook::{catalog, plan};
use opsdeck::sources::aws::Aws;
use opsdeck::sources::kube::{ConfigSource, Fleet, KubeConfig};
use opsdeck::sources::region::ops::RegionOps;
use opsdeck::sources::region::{
    ClusterOf, RegionConfig, RegionReader, RequestsMetric, Route53Record,
};
use opsdeck::sources::{Publishers, Sources};
use runsupport::{desk_with_incident, run_shipped};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const RECORD: &str = "shop.example.com.";
const LB_KR: &str = "app/shop-kr/50dc6c495c0c9188";

/// A 503 as Route 53's checkers report it, three checkers of three.
fn failing_status() -> String {
    let obs = |region: &str, ip: &str| {
        format!(
            "<HealthCheckObservation><Region>{region}</Region><IPAddress>{ip}</IPAddress>\
             <StatusReport><Status>Failure: HTTP Status Code 503, Service Unavailable. \
             Resolved IP: 192.0.2.10</Status><CheckedTime>2026-12-03T10:20:31.123Z</CheckedTime>\
             </StatusReport></HealthCheckObservation>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetHealthCheckStatusResponse \
         xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><HealthCheckObservations>{}{}{}\
         </HealthCheckObservations></GetHealthCheckStatusResponse>",
        obs("us-east-1", "15.177.2.1"),
        obs("eu-west-1", "15.177.10.1"),
        obs("ap-southeast-1", "15.177.34.1")
    )
}

/// Forwards to moto, but answers GetHealthCheckStatus of the health checks in `failing`
/// with [`failing_status`].
///
/// moto also reports every change INSYNC at once; `pending(n)` makes the next `n` GetChange
/// answers PENDING, in the GetChange response format of the Route 53 API reference, so the
/// wait for INSYNC is exercised.
struct HealthProxy {
    url: String,
    failing: Arc<Mutex<BTreeSet<String>>>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

fn pending_change(id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetChangeResponse \
         xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeInfo>\
         <Id>/change/{id}</Id><Status>PENDING</Status>\
         <SubmittedAt>2026-12-03T03:12:41.958Z</SubmittedAt></ChangeInfo></GetChangeResponse>"
    )
}

impl HealthProxy {
    fn start(upstream: &str) -> HealthProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let failing = Arc::new(Mutex::new(BTreeSet::<String>::new()));
        let which = failing.clone();
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let still = pending.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(request) = read_request(&mut s) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&request).to_string();
                let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
                let hit = which
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|id| path.ends_with(&format!("/healthcheck/{id}/status")));
                let change = path
                    .split_once("/change/")
                    .map(|(_, id)| id.split('?').next().unwrap_or(id).to_string());
                let held = change.is_some()
                    && still
                        .fetch_update(
                            std::sync::atomic::Ordering::SeqCst,
                            std::sync::atomic::Ordering::SeqCst,
                            |n| n.checked_sub(1),
                        )
                        .is_ok();
                if hit || held {
                    let body = match (&change, held) {
                        (Some(id), true) => pending_change(id),
                        _ => failing_status(),
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
                         x-amzn-RequestId: 2d4b1e2c-1c5f-4f4c-9d0e-3f6b0a1c9e77\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes());
                } else {
                    forward(&upstream, &text, &mut s);
                }
            }
        });
        HealthProxy {
            url,
            failing,
            pending,
        }
    }

    fn pending(&self, answers: usize) {
        self.pending
            .store(answers, std::sync::atomic::Ordering::SeqCst);
    }

    fn fail(&self, id: &str) {
        self.failing.lock().unwrap().insert(id.to_string());
    }

    fn heal(&self, id: &str) {
        self.failing.lock().unwrap().remove(id);
    }
}

struct World {
    moto: Moto,
    /// Straight to moto: the test's own view of Route 53.
    aws: Aws,
    proxy: HealthProxy,
    zone: String,
    hc_kr: String,
    hc_us: String,
    _kr: KubeServer,
    us: KubeServer,
    sources: Sources,
    ctx: Context,
    ops: Arc<RegionOps>,
    _dir: tempfile::TempDir,
}

async fn health_check(aws: &Aws, name: &str) -> String {
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Https)
        .fully_qualified_domain_name(format!("{name}.shop.example.com"))
        .port(443)
        .resource_path("/healthz")
        .build()
        .unwrap();
    aws.route53("us-east-1")
        .create_health_check()
        .caller_reference(format!("opsdeck-test-{name}"))
        .health_check_config(config)
        .send()
        .await
        .unwrap()
        .health_check()
        .unwrap()
        .id()
        .to_string()
}

fn weighted(set: &str, weight: i64, ip: &str, hc: &str) -> Change {
    Change::builder()
        .action(ChangeAction::Create)
        .resource_record_set(
            ResourceRecordSet::builder()
                .name(RECORD)
                .r#type(RrType::A)
                .set_identifier(set)
                .weight(weight)
                .ttl(1)
                .resource_records(ResourceRecord::builder().value(ip).build().unwrap())
                .health_check_id(hc)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// The weight moto holds for `set` now.
async fn weight(w: &World, set: &str) -> Option<i64> {
    let out = w
        .aws
        .route53("us-east-1")
        .list_resource_record_sets()
        .hosted_zone_id(&w.zone)
        .send()
        .await
        .unwrap();
    out.resource_record_sets()
        .iter()
        .find(|r| r.set_identifier() == Some(set))
        .and_then(|r| r.weight())
}

async fn put_requests(aws: &Aws, lb: &str, at: i64, count: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    aws.cloudwatch("ap-northeast-2")
        .put_metric_data()
        .namespace("AWS/ApplicationELB")
        .metric_data(
            MetricDatum::builder()
                .metric_name("RequestCount")
                .dimensions(Dimension::builder().name("LoadBalancer").value(lb).build())
                .timestamp(aws_smithy_types::DateTime::from_secs(at))
                .value(count)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// `us_max`: the maxReplicas of us-east's HPA shop/user (3 replicas now).
async fn start(us_max: i32) -> World {
    let m = Moto::start();
    let cfg = aws_config("opsdeck-test", &["ap-northeast-2"]);
    let direct = aws(&m.url, &m.credentials_file, &cfg).await;
    let proxy = HealthProxy::start(&m.url);
    let through = aws(&proxy.url, &m.credentials_file, &cfg).await;

    let r53 = direct.route53("us-east-1");
    let zone = r53
        .create_hosted_zone()
        .name("example.com.")
        .caller_reference("opsdeck-test-zone")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let hc_kr = health_check(&direct, "seoul").await;
    let hc_us = health_check(&direct, "us").await;
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(weighted("seoul", 100, "192.0.2.10", &hc_kr))
                .changes(weighted("us", 100, "198.51.100.20", &hc_us))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_second();
    for back in [3, 2, 1] {
        put_requests(&direct, LB_KR, now - back * 60, 1200.0).await;
    }

    let (kr, us) = (KubeServer::start().await, KubeServer::start().await);
    fixtures::shop(&kr);
    for i in 0..3 {
        us.put(&fixtures::node(&format!("us-node-{i}"), "us-east-1a", true));
    }
    us.put(&fixtures::hpa("shop", "user", 2, us_max, 3, 55));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("prod-kr", &kr), ("prod-us", &us)], dir.path());
    let (publishers, sources) = Publishers::channels();
    let fleet = Arc::new(
        Fleet::start(
            ConfigSource::Files(vec![kubeconfig]),
            KubeConfig {
                contexts: vec!["prod-kr".into(), "prod-us".into()],
                ..KubeConfig::default()
            },
            fast_tuning(),
            publishers.cluster.clone(),
            publishers.contexts.clone(),
        )
        .await,
    );
    let region = |name: &str, context: &str, requests: Option<RequestsMetric>| RegionConfig {
        name: name.into(),
        kube_context: context.into(),
        route53: Route53Record {
            zone: "example.com".into(),
            record: "Shop.example.com".into(),
            set_identifier: name.into(),
        },
        database: None,
        aws_region: Some("ap-northeast-2".into()),
        requests,
    };
    let f = fleet.clone();
    let clusters: ClusterOf = Arc::new(move |c: &str| f.context_feed(c));
    let reader = Arc::new(RegionReader::new(
        vec![
            region("seoul", "prod-kr", Some(RequestsMetric::Alb(LB_KR.into()))),
            region("us", "prod-us", None),
        ],
        Ok(through),
        clusters,
    ));
    opsdeck::sources::region::spawn(
        reader.clone(),
        publishers.regions.clone(),
        Duration::from_millis(200),
    );
    std::mem::forget(publishers);
    let mut ops = RegionOps::new(reader);
    ops.poll = Duration::from_millis(50);
    let ops = Arc::new(ops);
    let desk = desk_with_incident(dir.path(), "Seoul failing", Severity::Sev1);
    let snaps = sources.clone();
    let ctx = Context {
        ops: Arc::new(
            Router::default()
                .route(Area::Cluster, fleet)
                .regions(ops.clone()),
        ),
        snapshots: Arc::new(move || snaps.snapshots()),
        desk: Arc::new(Mutex::new(desk)),
        clock: Arc::new(opsdeck::incident::clock::SystemClock),
        read_only: None,
        anti_flap: jiff::SignedDuration::from_mins(30),
        speed: 10,
    };
    let w = World {
        moto: m,
        aws: direct,
        proxy,
        zone,
        hc_kr,
        hc_us,
        _kr: kr,
        us,
        sources,
        ctx,
        ops,
        _dir: dir,
    };
    seen(&w, "both regions with their clusters", |s| {
        s.len() == 2 && !s.iter().any(|r| r.line.contains("not seen"))
    })
    .await;
    w
}

/// Waits (15 s at most) until the regions' statuses satisfy `pred`.
async fn seen(
    w: &World,
    what: &str,
    pred: impl Fn(&[opsdeck::model::region::RegionStatus]) -> bool,
) -> Vec<opsdeck::model::region::RegionStatus> {
    let mut rx = w.sources.regions.clone();
    let wait = rx.wait_for(|f| pred(&f.data.status()));
    match tokio::time::timeout(Duration::from_secs(15), wait).await {
        Ok(Ok(f)) => f.data.status(),
        _ => panic!("{what}: {:#?}", w.sources.regions.borrow().data.status()),
    }
}

async fn run(w: &World, name: &str, inputs: &[(&str, &str)]) -> (RunOutcome, run::RunView) {
    let playbook = catalog::shipped(name).unwrap();
    let given: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vars = plan::inputs(&playbook, &given).unwrap();
    let (outcome, view, _) = run::execute_answering(&w.ctx, &playbook, vars, |p| match p {
        Prompt::TypeTarget { target, .. } => Answer::Text(target.clone()),
        _ => Answer::Yes,
    })
    .await;
    (outcome, view)
}

fn step<'a>(view: &'a run::RunView, id: &str) -> &'a run::StepView {
    view.steps.iter().find(|s| s.id == id).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_region_shows_its_weight_health_check_and_cluster() {
    let w = start(10).await;
    let lines = seen(&w, "read", |s| s.iter().all(|r| r.healthy == Some(true))).await;
    assert_eq!(
        lines[0].line,
        "weight 100 (50 %) · health ✓ · ttl 1 s · nodes 3/3 · 1 pod not ready"
    );
    assert_eq!(
        lines[0].level,
        Level::Warn,
        "prod-kr has a crash-looping pod"
    );
    assert_eq!(
        lines[1].line,
        "weight 100 (50 %) · health ✓ · ttl 1 s · nodes 3/3"
    );
    assert_eq!(lines[1].level, Level::Ok);

    w.proxy.fail(&w.hc_kr);
    let lines = seen(&w, "seoul failing", |s| s[0].level == Level::Crit).await;
    assert_eq!(
        lines[0].problems[0],
        "health check failing while it takes traffic: 3 of 3 checkers fail: Failure: HTTP \
         Status Code 503, Service Unavailable. Resolved IP: 192.0.2.10"
    );
    assert!(lines[0].line.contains("health ✗"), "{}", lines[0].line);
    assert_eq!(lines[1].level, Level::Ok, "the other region is untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn evacuate_moves_exactly_the_named_weight_and_restore_puts_it_back() {
    let w = start(10).await;
    w.proxy.fail(&w.hc_kr);
    seen(&w, "seoul CRIT", |s| s[0].level == Level::Crit).await;
    // The load balancer stops counting requests once resolvers follow the change.
    let (aws, zone) = (w.aws.clone(), w.zone.clone());
    let alb = tokio::spawn(async move {
        loop {
            let out = aws
                .route53("us-east-1")
                .list_resource_record_sets()
                .hosted_zone_id(&zone)
                .send()
                .await
                .unwrap();
            let drained = out
                .resource_record_sets()
                .iter()
                .any(|r| r.set_identifier() == Some("seoul") && r.weight() == Some(0));
            if drained {
                put_requests(&aws, LB_KR, jiff::Timestamp::now().as_second(), 0.0).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Route 53 takes a while to reach every name server: the weight step waits it out.
    w.proxy.pending(2);
    run_shipped(
        &w.ctx,
        "region-evacuate",
        &[("from", "seoul"), ("to", "us"), ("hpa_min", "6")],
        &[],
    )
    .await;
    alb.await.unwrap();
    assert_eq!(weight(&w, "seoul").await, Some(0));
    assert_eq!(
        weight(&w, "us").await,
        Some(100),
        "only the named weight changed"
    );

    let journal: Vec<Event> = w
        .ctx
        .desk
        .lock()
        .unwrap()
        .active()
        .unwrap()
        .entries
        .iter()
        .map(|e| e.event.clone())
        .collect();
    // The step finished only on INSYNC, so it asked past both PENDING answers.
    assert_eq!(
        w.proxy.pending.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the weight step never waited for the change to be INSYNC"
    );
    let ops: Vec<&Op> = journal
        .iter()
        .filter_map(|e| match e {
            Event::StepStarted { op: Some(op), .. } => Some(op),
            _ => None,
        })
        .collect();
    assert_eq!(
        ops,
        [
            &Op::SetHpaBounds {
                namespace: "shop".into(),
                hpa: "user".into(),
                min: Some(6),
                max: None,
                context: Some("prod-us".into()),
            },
            &Op::SetRegionWeight {
                region: "seoul".into(),
                weight: 0,
                previous: Some(100),
            }
        ],
        "the old weight is journaled with the change"
    );
    let finished: Vec<String> = journal
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { step, result, .. } if step == "headroom" => Some(result.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        [
            "headroom = hpa shop/user: 3 replicas × 2.00 (share 50 % → 100 %) = 6 of max 10 \
          (headroom 4)"
        ]
    );

    // Back only once Seoul passes its health check again.
    let (outcome, view) = run(&w, "region-restore", &[]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(
        step(&view, "saved").output,
        ["region = seoul, run = 1, weight = 100"]
    );
    assert!(
        step(&view, "healthy").output[0].starts_with("region seoul is unhealthy: 3 of 3"),
        "{view:#?}"
    );
    assert_eq!(weight(&w, "seoul").await, Some(0));
    w.proxy.heal(&w.hc_kr);
    seen(&w, "seoul healthy", |s| s[0].healthy == Some(true)).await;
    run_shipped(&w.ctx, "region-restore", &[], &[]).await;
    assert_eq!(
        weight(&w, "seoul").await,
        Some(100),
        "the saved weight is back"
    );
    assert_eq!(weight(&w, "us").await, Some(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unhealthy_target_or_no_headroom_refuses_before_any_change() {
    let w = start(5).await;
    let (outcome, view) = run(&w, "region-evacuate", &[("from", "seoul"), ("to", "us")]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(
        step(&view, "headroom").output.last().unwrap(),
        "no headroom in region us: hpa shop/user: 3 replicas × 2.00 (share 50 % → 100 %) = 6 \
         of max 5 (headroom -1)"
    );
    assert_eq!(weight(&w, "seoul").await, Some(100));

    w.proxy.fail(&w.hc_us);
    seen(&w, "us failing", |s| s[1].healthy == Some(false)).await;
    let (outcome, view) = run(&w, "region-evacuate", &[("from", "seoul"), ("to", "us")]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(
        step(&view, "healthy").output.last().unwrap(),
        "region us is unhealthy: 3 of 3 checkers fail: Failure: HTTP Status Code 503, Service \
         Unavailable. Resolved IP: 192.0.2.10"
    );
    assert_eq!(weight(&w, "seoul").await, Some(100));
    assert_eq!(weight(&w, "us").await, Some(100));
    let hpas: kube::Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
        kube::Api::namespaced(w.us.client().await, "shop");
    let hpa = hpas.get("user").await.unwrap();
    assert_eq!(
        hpa.spec.unwrap().min_replicas,
        Some(2),
        "the HPA was not touched"
    );

    // A weight someone changed since the run read it is refused by the preflight.
    let stale = Op::SetRegionWeight {
        region: "seoul".into(),
        weight: 0,
        previous: Some(42),
    };
    assert_eq!(
        w.ops.preflight(&stale).await.unwrap_err(),
        OpError::Refused(
            "region seoul's weight is 100 now, not the 42 this run read: someone changed it \
             since; look again before moving traffic"
                .into()
        )
    );
    // Nothing to restore before an evacuation.
    let (outcome, view) = run(&w, "region-restore", &[]).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(
        step(&view, "saved").output.last().unwrap(),
        "no region-evacuate run in the journal has changed a weight"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_shows_the_change_batch_and_changes_nothing() {
    let w = start(10).await;
    let playbook = catalog::shipped("region-evacuate").unwrap();
    let vars = plan::inputs(
        &playbook,
        &[("from".into(), "seoul".into()), ("to".into(), "us".into())],
    )
    .unwrap();
    let steps = plan::dry_run(&w.ctx, &playbook, vars.clone()).await;
    let text = plan::render(&playbook, &vars, &steps);
    let batch = format!(
        "→ ChangeResourceRecordSets zone {}: UPSERT shop.example.com. A set seoul weight 100 → 0 \
         ttl 1 → 192.0.2.10 health check {}",
        w.zone, w.hc_kr
    );
    assert!(text.contains(&batch), "{text}");
    assert!(
        text.contains("✓ guard: would set the weight of region seoul from 100 to 0"),
        "{text}"
    );
    assert_eq!(weight(&w, "seoul").await, Some(100));
    assert_eq!(weight(&w, "us").await, Some(100));
    let ops = Op::SetRegionWeight {
        region: "seoul".into(),
        weight: 0,
        previous: None,
    };
    assert_eq!(
        w.ops.apply(&ops, Mode::DryRun).await.unwrap().calls,
        [batch.trim_start_matches("→ ").to_string()]
    );
}

/// `opsdeck status --json` with `[[regions]]` reads Route 53 through the console's own
/// backend and lists each region (no `[kube]`: the contexts are not seen).
#[tokio::test(flavor = "multi_thread")]
async fn status_json_lists_each_region() {
    let w = start(10).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dir = h.join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[aws]\nprofile = \"opsdeck-test\"\nregions = [\"ap-northeast-2\"]\n\n\
         [[regions]]\nname = \"seoul\"\nkube_context = \"prod-kr\"\n\
         route53 = { zone = \"example.com.\", record = \"shop.example.com\", set_identifier = \"seoul\" }\n\
         [[regions]]\nname = \"us\"\nkube_context = \"prod-us\"\n\
         route53 = { zone = \"example.com.\", record = \"shop.example.com\", set_identifier = \"us\" }\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["status", "--json"])
        .env_clear()
        .env("HOME", h)
        .env("USER", "oncall")
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("XDG_DATA_HOME", h.join("data"))
        .env("AWS_ENDPOINT_URL", &w.moto.url)
        .env("AWS_SHARED_CREDENTIALS_FILE", &w.moto.credentials_file)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let regions = v["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 2, "{regions:?}");
    assert_eq!(regions[0]["region"], "seoul");
    assert_eq!(
        regions[0]["line"],
        "weight 100 (50 %) · health ✓ · ttl 1 s · context prod-kr not seen"
    );
    assert_eq!(regions[1]["weight"], 100);
    assert_eq!(regions[1]["share"], 0.5);
    assert_eq!(regions[1]["level"], "ok");
}

/// A failover pair reads as its roles, and a weight change refuses it: weights do not apply.
#[tokio::test(flavor = "multi_thread")]
async fn a_failover_record_shows_its_role_and_refuses_a_weight() {
    use aws_sdk_route53::types::ResourceRecordSetFailover;
    let m = Moto::start();
    let cfg = aws_config("opsdeck-test", &["ap-northeast-2"]);
    let aws = aws(&m.url, &m.credentials_file, &cfg).await;
    let r53 = aws.route53("us-east-1");
    let zone = r53
        .create_hosted_zone()
        .name("example.com.")
        .caller_reference("opsdeck-test-failover")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .to_string();
    let hc = health_check(&aws, "primary").await;
    let set = |id: &str, role: ResourceRecordSetFailover, ip: &str| {
        let mut b = ResourceRecordSet::builder()
            .name("api.example.com.")
            .r#type(RrType::A)
            .set_identifier(id)
            .failover(role)
            .ttl(30)
            .resource_records(ResourceRecord::builder().value(ip).build().unwrap());
        if id == "kr" {
            b = b.health_check_id(&hc);
        }
        Change::builder()
            .action(ChangeAction::Create)
            .resource_record_set(b.build().unwrap())
            .build()
            .unwrap()
    };
    r53.change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(set("kr", ResourceRecordSetFailover::Primary, "192.0.2.1"))
                .changes(set("us", ResourceRecordSetFailover::Secondary, "192.0.2.2"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let region = |name: &str| RegionConfig {
        name: name.into(),
        kube_context: format!("prod-{name}"),
        route53: Route53Record {
            zone: zone.clone(),
            record: "api.example.com".into(),
            set_identifier: name.into(),
        },
        database: None,
        aws_region: None,
        requests: None,
    };
    let none: ClusterOf = Arc::new(|_: &str| None);
    let reader = Arc::new(RegionReader::new(
        vec![region("kr"), region("us")],
        Ok(aws),
        none,
    ));
    let snap = reader.read(jiff::Timestamp::now()).await;
    let status = snap.status();
    assert_eq!(
        status[0].line,
        "failover PRIMARY · health ✓ · ttl 30 s · context prod-kr not seen"
    );
    assert_eq!(
        status[1].line,
        "failover SECONDARY · no health check · ttl 30 s · context prod-us not seen"
    );
    let ops = RegionOps::new(reader);
    let err = ops
        .apply(
            &Op::SetRegionWeight {
                region: "kr".into(),
                weight: 0,
                previous: None,
            },
            Mode::DryRun,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OpError::Unsupported(
            "region kr: record set api.example.com. kr is not weighted (failover PRIMARY): \
             weights do not apply"
                .into()
        )
    );
}
