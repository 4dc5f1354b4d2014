//! Carries out what `update` asks for: journal writes, playbook runs and dry-runs, breach
//! notices, reports. Results come back to the loop as actions.

use super::action::Action;
use super::effects::Effect;
use crate::drill::Drill;
use crate::incident::clock::{Clock, SlaPolicy};
use crate::incident::desk::Desk;
use crate::incident::event::{DrillTag, Event, Milestone, RunOutcome};
use crate::incident::notify::{self, Attempt, Channel, Notice};
use crate::incident::objectives::Services;
use crate::incident::report;
use crate::incident::team::follow::Round;
use crate::model::Level;
use crate::ops::Ops;
use crate::playbook::catalog::Entry;
use crate::playbook::run::{self, Answer, Ask, Channels, Context, RunView};
use crate::playbook::{load::Playbook, plan};
use crate::sources::sim::World;
use crate::sources::{AlarmControl, ClusterControl, Sources};
use jiff::SignedDuration;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

pub struct Runtime {
    pub parts: Parts,
    /// The drill in progress, whose tag (and service) go on the incident opened for it.
    drill: Option<(DrillTag, Option<String>)>,
    drill_task: Option<tokio::task::JoinHandle<()>>,
    tx: mpsc::UnboundedSender<Action>,
    notices: mpsc::UnboundedSender<Attempt>,
    abort: Option<watch::Sender<bool>>,
    /// The log view's stream; dropping it stops it.
    log_stream: Option<crate::model::inspect::LogHandle>,
    /// Woken when log lines arrive, so the loop redraws.
    pub log_wake: Arc<tokio::sync::Notify>,
    pending: Arc<Mutex<Option<oneshot::Sender<Answer>>>>,
}

/// What the runtime needs that the app does not have.
pub struct Parts {
    pub desk: Arc<Mutex<Desk>>,
    pub ops: Arc<dyn Ops>,
    pub sources: Sources,
    pub clock: Arc<dyn Clock>,
    pub sla: SlaPolicy,
    pub services: Services,
    pub channels: Vec<Channel>,
    pub read_only: Option<String>,
    pub anti_flap: SignedDuration,
    pub speed: u32,
    pub playbooks: Vec<Entry>,
    pub world: Option<(Arc<Mutex<World>>, u64)>,
    /// The live Kubernetes contexts behind `:ctx` and `:ns`; none in a drill.
    pub clusters: Option<Arc<dyn ClusterControl>>,
    /// Silences and CloudWatch actions; none in a drill.
    pub alarms: Option<Arc<dyn AlarmControl>>,
    /// The live IAM cross-check of a user's detail; none in a drill.
    pub iam: Option<Arc<dyn crate::sources::IamProbe>>,
    /// Logs, describe and YAML: the live active context, or the drill world.
    pub inspect: Option<Arc<dyn crate::sources::Inspect>>,
    /// Where `w` in the log view writes (the data dir's `logs/`).
    pub log_dir: std::path::PathBuf,
    /// With `[team]`: the running follower's rounds (`follow::spawn`).
    pub team: Option<mpsc::UnboundedReceiver<Round>>,
}

impl Runtime {
    /// The runtime, and the stream of actions it produces for the loop.
    pub fn new(mut p: Parts) -> (Runtime, mpsc::UnboundedReceiver<Action>) {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(rounds) = p.team.take() {
            follow_team(rounds, p.desk.clone(), tx.clone());
        }
        let (notices, mut attempts) = mpsc::unbounded_channel::<Attempt>();
        let rt = Runtime {
            parts: p,
            drill: None,
            drill_task: None,
            tx: tx.clone(),
            notices,
            abort: None,
            log_stream: None,
            log_wake: Arc::new(tokio::sync::Notify::new()),
            pending: Arc::new(Mutex::new(None)),
        };
        // Every delivery attempt of a breach notice is journaled, failures included.
        let (desk, clock, out) = (rt.parts.desk.clone(), rt.parts.clock.clone(), tx);
        tokio::spawn(async move {
            while let Some(a) = attempts.recv().await {
                let level = if a.error.is_some() {
                    Level::Crit
                } else {
                    Level::Ok
                };
                let said = match &a.error {
                    None => format!("breach notice {} sent via {}", a.n, a.channel),
                    Some(e) => format!(
                        "breach notice {} NOT sent via {}: {e} — retrying",
                        a.n, a.channel
                    ),
                };
                let event = Event::NoticeSent {
                    n: a.n,
                    channel: a.channel,
                    error: a.error,
                };
                record(&desk, &*clock, &out, event);
                let _ = out.send(Action::Say(level, said));
            }
        });
        (rt, rx)
    }

    /// The open incident as the journal now has it, for the screen.
    pub fn refresh(&self) {
        send_incident(&self.parts.desk, &self.tx);
        send_past(&self.parts.desk, &self.tx);
    }

    fn say(&self, level: Level, text: impl Into<String>) {
        let _ = self.tx.send(Action::Say(level, text.into()));
    }

    fn record(&self, event: Event) -> bool {
        record(&self.parts.desk, &*self.parts.clock, &self.tx, event)
    }

    pub fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::OpenIncident(mut new) => {
                new.drill = self.drill.as_ref().map(|(tag, _)| tag.clone());
                let opened = self
                    .parts
                    .desk
                    .lock()
                    .map_err(|_| "journal lock poisoned".to_string())
                    .and_then(|mut d| {
                        d.open_incident(new, self.parts.clock.now())
                            .map(|i| i.id.clone())
                            .map_err(|e| e.to_string())
                    });
                match opened {
                    Ok(id) => {
                        if let Some((_, Some(service))) = &self.drill {
                            self.record(Event::Service {
                                service: service.clone(),
                            });
                        }
                        self.say(
                            Level::Ok,
                            format!("incident {id} opened: the SLA clock is running"),
                        )
                    }
                    Err(e) => self.say(Level::Crit, e),
                }
                self.refresh();
            }
            Effect::Milestone(m) => {
                let done = self
                    .parts
                    .desk
                    .lock()
                    .map_err(|_| "journal lock poisoned".to_string())
                    .and_then(|mut d| {
                        d.milestone(m, self.parts.clock.now())
                            .map_err(|e| e.to_string())
                    });
                match done {
                    Ok(_) => self.say(
                        Level::Ok,
                        format!("{}: journaled", crate::incident::state::word(m)),
                    ),
                    Err(e) => self.say(Level::Warn, e),
                }
                self.refresh();
            }
            Effect::Record(event) => {
                self.record(event);
            }
            Effect::Notice { reason, plan, eta } => self.notice(reason, plan, eta),
            Effect::Resolve {
                cause,
                impact,
                prevention,
            } => self.resolve(cause, impact, prevention),
            Effect::DryRun { playbook, inputs } => self.dry_run(&playbook, &inputs),
            Effect::Run {
                playbook,
                inputs,
                start,
            } => self.run(&playbook, &inputs, start),
            Effect::Answer(answer) => {
                if let Some(reply) = self.pending.lock().ok().and_then(|mut p| p.take()) {
                    let _ = reply.send(answer);
                }
            }
            Effect::Abort => {
                if let Some(abort) = &self.abort {
                    let _ = abort.send(true);
                }
            }
            Effect::SettleInterrupted { run } => {
                if self.record(Event::RunFinished {
                    run,
                    outcome: RunOutcome::Aborted,
                }) {
                    self.say(Level::Ok, format!("run {run} marked aborted"));
                }
            }
            Effect::UseContext(name) => self.use_context(name),
            Effect::UseNamespace(namespace) => self.use_namespace(namespace),
            Effect::AlarmChange(change) => self.alarm_change(change),
            Effect::Silences => self.silences(),
            Effect::AlarmHistory(alarm) => self.alarm_history(*alarm),
            Effect::CheckUser(user) => self.check_user(*user),
            Effect::Logs { request, buffer } => self.follow_logs(request, buffer),
            Effect::StopLogs => self.log_stream = None,
            Effect::WriteLogs {
                stem,
                what,
                text,
                note,
            } => self.write_logs(&stem, &what, &text, note),
            Effect::Describe(object) => self.describe(object),
            Effect::Yaml(object) => self.yaml(object),
            Effect::Drill(None) => self.list_drills(),
            Effect::Drill(Some(name)) => self.start_drill(&name),
            Effect::Merge { keep, other } => self.merge(&keep, &other),
        }
    }

    /// `:merge`: the incident opened twice while partitioned becomes one, journaled in the
    /// survivor; every console shows the merged one on its next round.
    fn merge(&self, keep: &str, other: &str) {
        let merged = self
            .parts
            .desk
            .lock()
            .map_err(|_| "journal lock poisoned".to_string())
            .and_then(|mut d| {
                d.merge(keep, other, self.parts.clock.now())
                    .map_err(|e| e.to_string())?;
                Ok(d.merge_offers())
            });
        match merged {
            Ok(offers) => {
                let _ = self.tx.send(Action::MergeOffers(offers));
                self.say(
                    Level::Ok,
                    format!(
                        "{other} merged into {keep}: one incident, the earlier recognition holds"
                    ),
                );
            }
            Err(e) => self.say(Level::Crit, format!("not merged: {e}")),
        }
        self.refresh();
    }

    fn alarm_control(&self) -> Option<Arc<dyn AlarmControl>> {
        if self.parts.alarms.is_none() {
            self.say(
                Level::Warn,
                "no live alarm source: silences need [[alertmanagers]] or [aws] in the config",
            );
        }
        self.parts.alarms.clone()
    }

    /// Off the loop: the change is journaled once the source confirms it, with who did it.
    fn alarm_change(&self, change: crate::sources::AlarmChange) {
        let Some(control) = self.alarm_control() else {
            return;
        };
        let (desk, clock, tx) = (
            self.parts.desk.clone(),
            self.parts.clock.clone(),
            self.tx.clone(),
        );
        tokio::spawn(async move {
            match control.change(change).await {
                Ok(done) => {
                    if record(&desk, &*clock, &tx, done.event) {
                        let _ = tx.send(Action::Say(Level::Ok, done.said));
                    }
                }
                Err(e) => {
                    let _ = tx.send(Action::Say(Level::Crit, e));
                }
            }
        });
    }

    fn silences(&self) {
        let Some(control) = self.alarm_control() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let action = match control.silences().await {
                Ok(text) => Action::Show {
                    title: "silences (u on a silenced alert expires them)".into(),
                    text,
                },
                Err(e) => Action::Say(Level::Warn, e),
            };
            let _ = tx.send(action);
        });
    }

    fn alarm_history(&self, alarm: crate::model::alarm::Alarm) {
        let Some(control) = self.parts.alarms.clone() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let text = control.history(&alarm).await;
            let _ = tx.send(Action::AlarmHistory {
                key: alarm.key().to_string(),
                text,
            });
        });
    }

    fn check_user(&self, user: crate::model::iam::IamUser) {
        let Some(probe) = self.parts.iam.clone() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let check = probe.check_user(&user).await;
            let _ = tx.send(Action::UserChecked(Box::new(check)));
        });
    }

    fn inspect(&self) -> Option<Arc<dyn crate::sources::Inspect>> {
        if self.parts.inspect.is_none() {
            self.say(Level::Warn, super::cluster_scope::NO_KUBE);
        }
        self.parts.inspect.clone()
    }

    fn follow_logs(
        &mut self,
        request: crate::model::inspect::LogRequest,
        buffer: crate::model::inspect::SharedLog,
    ) {
        // The old stream stops before the new one starts.
        self.log_stream = None;
        if let Some(inspect) = self.inspect() {
            let sink = crate::model::inspect::LogSink {
                buffer: buffer.0,
                wake: self.log_wake.clone(),
            };
            self.log_stream = Some(inspect.logs(request, sink));
        }
    }

    /// The file is named for the pod and the time, so writes never overwrite each other.
    fn write_logs(&self, stem: &str, what: &str, text: &str, note: bool) {
        let now = self.parts.clock.now();
        let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
        let path = self.parts.log_dir.join(format!("{stem}-{stamp}.log"));
        let written =
            std::fs::create_dir_all(&self.parts.log_dir).and_then(|()| std::fs::write(&path, text));
        match written {
            Err(e) => self.say(
                Level::Crit,
                format!("logs NOT written to {}: {e}", path.display()),
            ),
            Ok(()) => {
                let lines = text.lines().count();
                let said = format!("wrote {} ({lines} lines of {what})", path.display());
                if note {
                    self.record(Event::Note {
                        text: format!("logs of {what} saved: {}", path.display()),
                    });
                }
                self.say(Level::Ok, said);
            }
        }
    }

    fn describe(&self, object: crate::model::inspect::ObjectRef) {
        let Some(inspect) = self.inspect() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let pairs = inspect.describe(&object).await;
            let _ = tx.send(Action::Described { object, pairs });
        });
    }

    fn yaml(&self, object: crate::model::inspect::ObjectRef) {
        let Some(inspect) = self.inspect() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let action = match inspect.yaml(&object).await {
                Ok(text) => Action::Show {
                    title: format!("{object} as YAML"),
                    text,
                },
                Err(e) => Action::Say(Level::Crit, e),
            };
            let _ = tx.send(action);
        });
    }

    fn clusters(&self) -> Option<Arc<dyn ClusterControl>> {
        if self.parts.clusters.is_none() {
            self.say(Level::Warn, super::cluster_scope::NO_KUBE);
        }
        self.parts.clusters.clone()
    }

    /// Connecting may run a kubeconfig exec plugin: off the loop, reporting when done.
    fn use_context(&self, name: String) {
        let Some(clusters) = self.clusters() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let said = match clusters.use_context(&name).await {
                Ok(text) => Action::Say(Level::Ok, text),
                Err(e) => Action::Say(Level::Crit, e),
            };
            let _ = tx.send(said);
        });
    }

    fn use_namespace(&self, namespace: Option<String>) {
        if let Some(clusters) = self.clusters() {
            match clusters.use_namespace(namespace) {
                Ok(text) => self.say(Level::Ok, text),
                Err(e) => self.say(Level::Crit, e),
            }
        }
    }

    /// The drill picker: every scenario, and how to start one.
    fn list_drills(&self) {
        let mut text = String::new();
        for s in crate::drill::scenarios() {
            match s {
                Ok(s) => text.push_str(&format!(
                    "{:<18} {:<5} {}\n{:24}{}\n\n",
                    s.name,
                    s.severity.name(),
                    s.title,
                    "",
                    s.description
                )),
                Err(e) => text.push_str(&format!("✗ {e}\n\n")),
            }
        }
        text.push_str(":drill NAME starts one (Tab completes): the drill world restarts and the faults follow on schedule.");
        let _ = self.tx.send(Action::Show {
            title: "drills".into(),
            text,
        });
    }

    fn start_drill(&mut self, name: &str) {
        let Some((world, seed)) = self.parts.world.clone() else {
            return self.say(
                Level::Warn,
                "this console is live: drills run on the drill world (opsdeck drill NAME)",
            );
        };
        if let Some(id) = self
            .parts
            .desk
            .lock()
            .ok()
            .and_then(|d| d.active().map(|i| i.id.clone()))
        {
            return self.say(
                Level::Warn,
                format!("incident {id} is open: resolve it before starting a drill"),
            );
        }
        let scenario = match crate::drill::find(name) {
            Ok(s) => s,
            Err(e) => return self.say(Level::Crit, e),
        };
        let start = self.parts.clock.now();
        if let Ok(mut w) = world.lock() {
            *w = World::new(seed, start);
        }
        self.drive(world, Drill::new(scenario, seed, start));
    }

    /// Runs a drill's schedule against the world: faults go in on time, and the moment the
    /// recovery condition holds is journaled.
    pub fn drive(&mut self, world: Arc<Mutex<World>>, mut drill: Drill) {
        if let Some(previous) = self.drill_task.take() {
            previous.abort();
        }
        self.drill = Some((drill.tag(), drill.scenario.service.clone()));
        let (desk, clock, tx) = (
            self.parts.desk.clone(),
            self.parts.clock.clone(),
            self.tx.clone(),
        );
        let _ = tx.send(Action::Say(
            Level::Warn,
            format!("DRILL {}: {}", drill.scenario.name, drill.scenario.title),
        ));
        self.drill_task = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            loop {
                tick.tick().await;
                let (injected, now) = match world.lock() {
                    Ok(mut w) => (drill.tick(&mut w), crate::sources::drill::snapshots_of(&w)),
                    Err(_) => return,
                };
                for r in injected {
                    if let Err(e) = r {
                        let _ = tx.send(Action::Say(
                            Level::Crit,
                            format!("drill fault not injected: {e}"),
                        ));
                    }
                }
                if drill.check(&now, clock.now()) {
                    let condition = drill.scenario.recovered_when.describe();
                    record(
                        &desk,
                        &*clock,
                        &tx,
                        Event::Recovered {
                            condition: condition.clone(),
                        },
                    );
                    let _ = tx.send(Action::Say(
                        Level::Ok,
                        format!(
                            "drill: the world has recovered ({condition}); resolve to get the score"
                        ),
                    ));
                    return;
                }
            }
        }));
    }

    fn playbook(&self, name: &str) -> Option<Playbook> {
        self.parts
            .playbooks
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.ok())
            .cloned()
    }

    fn notice(&mut self, reason: String, plan: String, eta: jiff::Timestamp) {
        let Some(inc) = self
            .parts
            .desk
            .lock()
            .ok()
            .and_then(|d| d.active().cloned())
        else {
            return self.say(Level::Warn, "no open incident");
        };
        let notice = Notice {
            incident: inc.id.clone(),
            title: inc.title.clone(),
            severity: inc.severity.name().into(),
            n: inc.next_notice_number(),
            reason: reason.clone(),
            plan: plan.clone(),
            eta,
            deadline: self.parts.sla.deadline(inc.recognised_at),
        };
        let dir = self
            .parts
            .desk
            .lock()
            .map(|d| d.dir().to_path_buf())
            .unwrap_or_default();
        let file = notice.write(&dir);
        if !self.record(Event::Notice {
            n: notice.n,
            reason,
            plan,
            eta,
        }) {
            return;
        }
        let file = match file {
            Ok(path) => path.display().to_string(),
            Err(e) => format!("(file not written: {e})"),
        };
        if self.parts.channels.is_empty() {
            self.say(
                Level::Warn,
                format!("notice written to {file}: no notify channel configured, send it by hand"),
            );
        } else {
            self.say(Level::Ok, format!("notice written to {file}, sending…"));
            notify::deliver(&self.parts.channels, notice, self.notices.clone());
        }
    }

    fn resolve(&mut self, cause: String, impact: String, prevention: String) {
        let Some(id) = self
            .parts
            .desk
            .lock()
            .ok()
            .and_then(|d| d.active().map(|i| i.id.clone()))
        else {
            return self.say(Level::Warn, "no open incident");
        };
        for event in [
            Event::Cause { text: cause },
            Event::Impact { text: impact },
            Event::Prevention { text: prevention },
        ] {
            if !self.record(event) {
                return;
            }
        }
        let now = self.parts.clock.now();
        let written = self
            .parts
            .desk
            .lock()
            .map_err(|_| "journal lock poisoned".to_string())
            .and_then(|mut d| {
                d.milestone(Milestone::Resolved, now)
                    .map_err(|e| e.to_string())?;
                let inc = d.load(&id).map_err(|e| e.to_string())?;
                let path =
                    report::write(&inc, &self.parts.sla, &self.parts.services, d.dir(), true)?;
                d.append_to(
                    &id,
                    Event::Report {
                        path: path.display().to_string(),
                        is_final: true,
                    },
                    now,
                )
                .map_err(|e| e.to_string())?;
                Ok(path)
            });
        match written {
            Ok(path) => {
                self.say(
                    Level::Ok,
                    format!("{id} resolved; report {}", path.display()),
                );
                // The report is the drill's score card too: show it at once.
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let _ = self.tx.send(Action::Show {
                        title: "report".into(),
                        text,
                    });
                }
            }
            Err(e) => self.say(Level::Crit, e),
        }
        self.refresh();
    }

    fn dry_run(&self, name: &str, given: &[(String, String)]) {
        let Some(playbook) = self.playbook(name) else {
            return self.say(Level::Crit, format!("no loadable playbook {name}"));
        };
        let vars = match plan::inputs(&playbook, given) {
            Ok(v) => v,
            Err(e) => return self.say(Level::Crit, e),
        };
        let (ctx, tx) = (self.context(), self.tx.clone());
        tokio::spawn(async move {
            let steps = plan::dry_run(&ctx, &playbook, vars.clone()).await;
            let text = plan::render(&playbook, &vars, &steps);
            let _ = tx.send(Action::Show {
                title: "dry run".into(),
                text,
            });
        });
    }

    /// What a run (or a dry-run's guards) sees of the console.
    fn context(&self) -> Context {
        let sources = self.parts.sources.clone();
        Context {
            ops: self.parts.ops.clone(),
            snapshots: Arc::new(move || sources.snapshots()),
            desk: self.parts.desk.clone(),
            clock: self.parts.clock.clone(),
            read_only: self.parts.read_only.clone(),
            anti_flap: self.parts.anti_flap,
            speed: self.parts.speed,
        }
    }

    fn run(&mut self, name: &str, given: &[(String, String)], start: usize) {
        let Some(playbook) = self.playbook(name) else {
            return self.say(Level::Crit, format!("no loadable playbook {name}"));
        };
        let vars = match plan::inputs(&playbook, given) {
            Ok(v) => v,
            Err(e) => return self.say(Level::Crit, e),
        };
        let ctx = self.context();
        let (progress, mut progress_rx) = watch::channel(RunView {
            playbook: name.into(),
            run: 0,
            steps: vec![],
            outcome: None,
        });
        let (asks, mut ask_rx) = mpsc::channel::<Ask>(1);
        let (abort_tx, abort) = watch::channel(false);
        self.abort = Some(abort_tx);
        let (tx, desk) = (self.tx.clone(), self.parts.desk.clone());
        tokio::spawn(async move {
            while progress_rx.changed().await.is_ok() {
                let view = progress_rx.borrow_and_update().clone();
                let _ = tx.send(Action::Progress(view));
                send_incident(&desk, &tx);
            }
        });
        let (tx, pending) = (self.tx.clone(), self.pending.clone());
        tokio::spawn(async move {
            while let Some(ask) = ask_rx.recv().await {
                if let Ok(mut slot) = pending.lock() {
                    *slot = Some(ask.reply);
                }
                let _ = tx.send(Action::Ask(ask.prompt));
            }
        });
        tokio::spawn(async move {
            let mut ch = Channels {
                progress,
                asks,
                abort,
            };
            run::execute(&ctx, &playbook, vars, start, &mut ch).await;
        });
    }
}

/// What the team's consoles wrote reaches the screen: the header's team line every round
/// that changed it, the incident and the past ones whenever entries arrived, and the merge
/// offers of incidents opened twice while partitioned.
fn follow_team(
    mut rounds: mpsc::UnboundedReceiver<Round>,
    desk: Arc<Mutex<Desk>>,
    tx: mpsc::UnboundedSender<Action>,
) {
    tokio::spawn(async move {
        while let Some(round) = rounds.recv().await {
            if round.changed {
                send_incident(&desk, &tx);
                send_past(&desk, &tx);
                let offers = desk.lock().map(|d| d.merge_offers()).unwrap_or_default();
                let _ = tx.send(Action::MergeOffers(offers));
            }
            if tx.send(Action::Team(Box::new(round.status))).is_err() {
                return;
            }
        }
    });
}

/// The incidents other than the open one, read again when one opens or is resolved.
fn send_past(desk: &Arc<Mutex<Desk>>, tx: &mpsc::UnboundedSender<Action>) {
    let Ok(desk) = desk.lock() else {
        return;
    };
    let active = desk.active().map(|i| i.id.clone());
    let past = desk
        .incidents()
        .into_iter()
        .filter(|i| Some(&i.id) != active.as_ref())
        .map(|mut i| {
            i.entries.clear();
            i
        })
        .collect();
    let _ = tx.send(Action::Past(past));
}

fn send_incident(desk: &Arc<Mutex<Desk>>, tx: &mpsc::UnboundedSender<Action>) {
    let incident = desk
        .lock()
        .ok()
        .and_then(|d| d.active().cloned())
        .map(Box::new);
    let _ = tx.send(Action::Incident(incident));
}

fn record(
    desk: &Arc<Mutex<Desk>>,
    clock: &dyn Clock,
    tx: &mpsc::UnboundedSender<Action>,
    event: Event,
) -> bool {
    let result = desk
        .lock()
        .map_err(|_| "journal lock poisoned".to_string())
        .and_then(|mut d| d.record(event, clock.now()).map_err(|e| e.to_string()));
    send_incident(desk, tx);
    match result {
        Ok(_) => true,
        Err(e) => {
            let _ = tx.send(Action::Say(Level::Crit, format!("not journaled: {e}")));
            false
        }
    }
}
