//! What the console runs against: the drill world, or the live systems named in the config.
//! Either way the rest of the console sees the same sources, operations and clock.

use crate::Env;
use opsdeck::incident::clock::{Clock, SystemClock};
use opsdeck::model::backup::BackupSnapshot;
use opsdeck::model::summary::Area;
use opsdeck::model::waf::WafSnapshot;
use opsdeck::ops::route::Router;
use opsdeck::ops::{Ops, ReadOnly};
use opsdeck::sources::alarms::LiveAlarms;
use opsdeck::sources::alertmanager::Alertmanager;
use opsdeck::sources::aws::Aws;
use opsdeck::sources::backup::BackupReader;
use opsdeck::sources::drill::WorldClock;
use opsdeck::sources::modsec::{self, ModSec};
use opsdeck::sources::sim::{SimOps, World};
use opsdeck::sources::{
    AlarmControl, ClusterControl, IamProbe, Inspect, Publishers, Sources, Tx, aws, backup, db,
    kube, publish_error, publish_off,
};
use opsdeck::tui::app::Origin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The credential report takes AWS a while and changes slowly; trails and events less so.
const IAM_EVERY: Duration = Duration::from_secs(300);
const TRAIL_EVERY: Duration = Duration::from_secs(60);
/// Web ACLs change by hand, rarely; a block or unblock re-polls at once.
const WAF_EVERY: Duration = Duration::from_secs(60);
/// The audit log is a local file: read often, so a blocked attack shows within a second.
const MODSEC_EVERY: Duration = Duration::from_secs(1);

pub struct Backend {
    pub origin: Origin,
    pub sources: Sources,
    pub ops: Arc<dyn Ops>,
    pub clock: Arc<dyn Clock>,
    /// The drill world, when it is one.
    pub world: Option<Arc<Mutex<World>>>,
    /// `:ctx` and `:ns`: the live Kubernetes contexts, whose watchers run as long as this does.
    pub clusters: Option<Arc<dyn ClusterControl>>,
    /// The kubeconfig's context names, for `:ctx` completion.
    pub contexts: Vec<String>,
    /// Silences and CloudWatch actions from the alarm pane; none in a drill.
    pub alarms: Option<Arc<dyn AlarmControl>>,
    /// The IAM detail's live cross-check; none in a drill or without [aws].
    pub iam: Option<Arc<dyn IamProbe>>,
    /// Pod logs, describe and YAML: the active context, or the drill world.
    pub inspect: Option<Arc<dyn Inspect>>,
}

/// The operations, behind the read-only guard when the console is read-only.
pub fn guard(env: &Env, ops: impl Ops + 'static) -> Arc<dyn Ops> {
    match env.read_only() {
        Some(reason) => Arc::new(ReadOnly { inner: ops, reason }),
        None => Arc::new(ops),
    }
}

pub fn drill(env: &Env, speed: u32, start: jiff::Timestamp) -> Backend {
    let world = Arc::new(Mutex::new(World::new(env.seed, start)));
    Backend {
        origin: Origin::Drill { seed: env.seed },
        sources: opsdeck::sources::drill::spawn(world.clone(), speed),
        ops: guard(env, SimOps::new(world.clone())),
        clock: Arc::new(WorldClock(world.clone())),
        inspect: Some(Arc::new(opsdeck::sources::sim::inspect::SimInspect {
            world: world.clone(),
        })),
        world: Some(world),
        contexts: Vec::new(),
        clusters: None,
        alarms: None,
        iam: None,
    }
}

/// Areas nobody configured say so, instead of looking empty or healthy.
fn not_configured(p: &Publishers, area: Area, hint: &str) {
    let why = hint.to_string();
    match area {
        Area::Cluster => publish_off(&p.cluster, why),
        Area::Db => publish_off(&p.db, why),
        Area::Waf => publish_off(&p.waf, why),
        Area::Alarms => publish_off(&p.alarms, why),
        Area::Iam => publish_off(&p.iam, why),
        Area::Trail => publish_off(&p.trail, why),
    }
}

/// Must run inside the tokio runtime: the sources are tasks on it.
pub async fn live(env: &Env) -> Backend {
    let (publishers, sources) = Publishers::channels();
    let mut router = Router::default();
    let mut what = Vec::new();
    let dbs = env.cfg.databases.clone();
    if dbs.is_empty() {
        not_configured(&publishers, Area::Db, "add [[databases]] to the config");
    } else {
        what.push(
            dbs.iter()
                .map(|d| d.name.clone())
                .collect::<Vec<_>>()
                .join(","),
        );
        let promotions = env.paths.data_dir.join("db-promotions.json");
        let poke = Arc::new(tokio::sync::Notify::new());
        let ops = db::DbOps::new(dbs.clone())
            .remembering(promotions)
            .naming_from(env.db_roles())
            .poking(poke.clone());
        router = router.route(Area::Db, Arc::new(ops));
        let every = Duration::from_secs(5);
        db::spawn(dbs, env.db_roles(), publishers.db.clone(), every, poke);
    }
    let mut clusters: Option<Arc<kube::Fleet>> = None;
    let mut iam: Option<Arc<dyn IamProbe>> = None;
    match &env.cfg.kube {
        None => not_configured(&publishers, Area::Cluster, "add [kube] to the config"),
        Some(kc) => {
            let fleet = Arc::new(
                kube::Fleet::start(
                    kube::ConfigSource::Default,
                    kc.clone(),
                    kube::Tuning::default(),
                    publishers.cluster.clone(),
                    publishers.contexts.clone(),
                )
                .await,
            );
            what.push(match kc.contexts.as_slice() {
                [] => kube::current_context(),
                many => many.join(","),
            });
            router = router.route(Area::Cluster, fleet.clone());
            clusters = Some(fleet);
        }
    }
    let modsec = ModSec::from_config(&env.cfg.waf);
    let (aws_waf, modsec_waf) = waf_senders(&publishers, modsec.is_some() && env.cfg.aws.is_some());
    let mut aws_waf_ops: Option<Arc<dyn Ops>> = None;
    match &env.cfg.aws {
        None => {
            for area in [Area::Iam, Area::Trail] {
                not_configured(&publishers, area, "add [aws] to the config");
            }
            if modsec.is_none() {
                not_configured(
                    &publishers,
                    Area::Waf,
                    "add [aws] or [waf] modsecurity_audit_log to the config",
                );
            }
        }
        Some(cfg) => match aws::Aws::load(cfg).await {
            Ok(aws) => {
                what.push(format!("aws {}", aws.profile().unwrap_or("default")));
                aws::iam::spawn(aws.clone(), publishers.iam.clone(), IAM_EVERY);
                aws::cloudtrail::spawn(aws.clone(), publishers.trail.clone(), TRAIL_EVERY);
                iam = Some(Arc::new(aws::iam::IamReader::new(&aws)));
                let poke = Arc::new(tokio::sync::Notify::new());
                let reader = aws::wafv2::WafReader::new(&aws).configured(&env.cfg.waf);
                aws::wafv2::spawn(reader, aws_waf.clone(), WAF_EVERY, poke.clone());
                aws_waf_ops = Some(Arc::new(aws::wafv2::WafOps::new(aws.clone()).poking(poke)));
                let keys = aws::keys::KeyOps::new(aws).updating(publishers.iam.clone());
                router = router.route(Area::Iam, Arc::new(keys));
            }
            Err(why) => {
                publish_error(&publishers.iam, why.clone());
                publish_error(&publishers.trail, why.clone());
                publish_error(&aws_waf, why);
            }
        },
    }
    match modsec {
        Some(cfg) => {
            what.push(modsec::ACL.into());
            let poke = Arc::new(tokio::sync::Notify::new());
            modsec::spawn(cfg.clone(), modsec_waf, MODSEC_EVERY, poke.clone());
            let ops = modsec::ops::ModSecOps::new(cfg).poking(poke);
            let by_acl = modsec::ops::ByAcl {
                modsec: Arc::new(ops),
                aws: aws_waf_ops,
            };
            router = router.route(Area::Waf, Arc::new(by_acl));
        }
        None => {
            if let Some(ops) = aws_waf_ops {
                router = router.route(Area::Waf, ops);
            }
        }
    }
    let alarms = match live_alarms(env).await {
        None => {
            not_configured(
                &publishers,
                Area::Alarms,
                "add [aws] (CloudWatch) or [[alertmanagers]] to the config",
            );
            None
        }
        Some(live) => {
            what.push("alarms".into());
            let poke = Arc::new(tokio::sync::Notify::new());
            let control = Arc::new(live.control(poke.clone()));
            live.spawn(publishers.alarms.clone(), poke);
            router = router.route(Area::Alarms, control.clone());
            Some(control as Arc<dyn AlarmControl>)
        }
    };
    if live_backups(env, publishers.backups.clone()).await {
        what.push("backups".into());
    }
    if let Some(ops) = live_regions(env, publishers.regions.clone(), clusters.clone()).await {
        what.push("regions".into());
        router = router.regions(ops);
    }
    // The senders live as long as the console: dropping them would end every source.
    std::mem::forget(publishers);
    Backend {
        origin: Origin::Live {
            what: what.join(" · "),
        },
        sources,
        ops: guard(env, router),
        clock: Arc::new(SystemClock),
        world: None,
        contexts: clusters
            .as_ref()
            .map_or_else(Vec::new, |_| kube::context_names()),
        inspect: clusters.clone().map(|f| f as Arc<dyn Inspect>),
        clusters: clusters.map(|f| f as Arc<dyn ClusterControl>),
        alarms,
        iam,
    }
}

/// Where the AWS and ModSecurity parts of the WAF area publish: the area's own sender when
/// at most one is configured, else one each, merged into it.
fn waf_senders(p: &Publishers, both: bool) -> (Tx<WafSnapshot>, Tx<WafSnapshot>) {
    if !both {
        return (p.waf.clone(), p.waf.clone());
    }
    let (aws, aws_rx) = tokio::sync::watch::channel(Arc::default());
    let (modsec, modsec_rx) = tokio::sync::watch::channel(Arc::default());
    modsec::merge::spawn(vec![aws_rx, modsec_rx], p.waf.clone());
    (aws, modsec)
}

/// Starts the backup poller for `[recovery]`'s databases, or says the area is off. RDS and
/// S3 sources use the shared AWS clients; each Velero context gets its own client.
async fn live_backups(env: &Env, tx: Tx<BackupSnapshot>) -> bool {
    let dbs = env.cfg.recovery.databases.clone();
    if dbs.is_empty() {
        publish_off(
            &tx,
            "add [recovery] with [[recovery.databases]] to the config".into(),
        );
        return false;
    }
    let reader = BackupReader::connect(dbs, env.cfg.aws.as_ref()).await;
    backup::spawn(reader, tx, backup::EVERY);
    true
}

/// Starts the regions poller for `[[regions]]` and returns their weight changes, or says the
/// regions are off. Each region's cluster is read from the Fleet's feed of its context.
async fn live_regions(
    env: &Env,
    tx: Tx<opsdeck::model::region::RegionSnapshot>,
    fleet: Option<Arc<kube::Fleet>>,
) -> Option<Arc<dyn Ops>> {
    let regions = env.cfg.regions.clone();
    if regions.is_empty() {
        publish_off(&tx, "add [[regions]] to the config".into());
        return None;
    }
    let aws = match env.cfg.aws.as_ref() {
        Some(cfg) => aws::Aws::load(cfg).await,
        None => Err("Route 53 is read through [aws]: add it to the config".into()),
    };
    let clusters: opsdeck::sources::region::ClusterOf =
        Arc::new(move |context: &str| fleet.as_ref()?.context_feed(context));
    let reader = Arc::new(opsdeck::sources::region::RegionReader::new(
        regions, aws, clusters,
    ));
    opsdeck::sources::region::spawn(reader.clone(), tx, opsdeck::sources::region::EVERY);
    Some(Arc::new(opsdeck::sources::region::ops::RegionOps::new(
        reader,
    )))
}

/// The alarm sources the config names (`[aws]` for CloudWatch, `[[alertmanagers]]`), or
/// `None` when it names neither.
pub async fn live_alarms(env: &Env) -> Option<LiveAlarms> {
    let aws = match &env.cfg.aws {
        Some(cfg) => Some(Aws::load(cfg).await),
        None => None,
    };
    if aws.is_none() && env.cfg.alertmanagers.is_empty() {
        return None;
    }
    let ams = env
        .cfg
        .alertmanagers
        .iter()
        .cloned()
        .map(Alertmanager::new)
        .collect();
    Some(LiveAlarms::new(aws, ams, &env.cfg.alarms))
}
