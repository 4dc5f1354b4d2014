//! Executor state machine: every on_failure path, retries, timeouts, waits, confirmations,
//! overrides, abort, read-only, anti-flap and resume — each checked in the journal too.

use super::*;
use crate::incident::desk::{Desk, NewIncident};
use crate::incident::event::{Entry, Severity, Who};
use crate::model::Feed;
use crate::model::alarm::{
    Alarm, AlarmSnapshot, AlarmSource, AlarmState, Severity as AlarmSeverity,
};
use crate::ops::{OpError, Outcome};
use crate::playbook::load::parse;
use async_trait::async_trait;
use jiff::Timestamp;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Scripted results for the executor's calls: the state machine, not a backend, is under test.
struct Scripted {
    calls: Mutex<Vec<Op>>,
    /// Clusters whose anti-flap guard the operator overrode, as told to the backend.
    overrides: Mutex<Vec<String>>,
    /// What the backend's own anti-flap guard says, as if another console had promoted.
    refusal: Mutex<Option<String>>,
    results: Mutex<Vec<Result<(), OpError>>>,
    delay: Duration,
    /// What each preflight was asked, in order.
    preflights: Mutex<Vec<Op>>,
    /// A guard that refuses the operation on this target at preflight.
    guard: Mutex<Option<(String, OpError)>>,
}

impl Scripted {
    /// Answers the calls with `results` in order (then Ok), each after `delay`.
    fn new(results: Vec<Result<(), OpError>>, delay: Duration) -> Scripted {
        Scripted {
            calls: Mutex::new(vec![]),
            overrides: Mutex::new(vec![]),
            refusal: Mutex::new(None),
            results: Mutex::new(results.into_iter().rev().collect()),
            delay,
            preflights: Mutex::new(vec![]),
            guard: Mutex::new(None),
        }
    }
}

#[async_trait]
impl Ops for Scripted {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        assert_eq!(mode, Mode::Apply);
        self.calls.lock().unwrap().push(op.clone());
        tokio::time::sleep(self.delay).await;
        let next = self.results.lock().unwrap().pop().unwrap_or(Ok(()));
        next.map(|()| Outcome {
            summary: format!("did {}", op.target()),
            calls: vec![format!("CALL {op}")],
        })
    }

    fn override_anti_flap(&self, cluster: &str) {
        self.overrides.lock().unwrap().push(cluster.to_string());
    }

    fn anti_flap_refusal(&self, _cluster: &str) -> Option<String> {
        self.refusal.lock().unwrap().clone()
    }

    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        self.preflights.lock().unwrap().push(op.clone());
        match self.guard.lock().unwrap().as_ref() {
            Some((target, e)) if target == op.target() => Err(e.clone()),
            _ => Ok(format!("{} may go ahead", op.target())),
        }
    }
}

/// Time that moves with tokio's (paused) clock.
struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.base + SignedDuration::try_from(self.start.elapsed()).unwrap()
    }
}

struct Harness {
    ctx: Context,
    ops: Arc<Scripted>,
    _dir: tempfile::TempDir,
    /// Polls of the snapshots so far; the alarm turns OK after `ok_after` of them.
    polls: Arc<AtomicUsize>,
}

fn alarm_snapshot(ok: bool) -> AlarmSnapshot {
    AlarmSnapshot {
        alarms: vec![Alarm {
            source: AlarmSource::CloudWatch,
            name: "errors".into(),
            state: if ok {
                AlarmState::Ok
            } else {
                AlarmState::Alarm
            },
            severity: AlarmSeverity::Critical,
            reason: String::new(),
            since: Timestamp::UNIX_EPOCH,
            ..Alarm::default()
        }],
        ..AlarmSnapshot::default()
    }
}

fn harness(results: Vec<Result<(), OpError>>, ok_after: usize) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let mut desk = Desk::open(
        dir.path(),
        Who {
            user: "kim".into(),
            from: None,
        },
    )
    .unwrap();
    let new = NewIncident {
        title: "t".into(),
        severity: Severity::Sev1,
        alarm: None,
        detected_at: None,
        recognised: None,
        drill: None,
    };
    desk.open_incident(new, now).unwrap();
    let ops = Arc::new(Scripted::new(results, Duration::ZERO));
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let snapshots = Arc::new(move || {
        let n = p.fetch_add(1, Ordering::SeqCst);
        let world =
            crate::sources::sim::World::new(1, Timestamp::from_second(1_800_000_000).unwrap());
        Snapshots {
            db: Arc::new(Feed {
                data: world.db(),
                health: Default::default(),
            }),
            alarms: Arc::new(Feed {
                data: alarm_snapshot(n >= ok_after),
                health: Default::default(),
            }),
            ..Default::default()
        }
    });
    let ctx = Context {
        ops: ops.clone(),
        snapshots,
        desk: Arc::new(Mutex::new(desk)),
        clock: Arc::new(TokioClock {
            base: now,
            start: tokio::time::Instant::now(),
        }),
        read_only: None,
        anti_flap: SignedDuration::from_mins(30),
        speed: 1,
    };
    Harness {
        ctx,
        ops,
        _dir: dir,
        polls,
    }
}

fn playbook(steps: &str) -> Playbook {
    let text = format!(
        "title: T\nseverity: sev1\ninputs:\n  n: {{ type: int, default: 3 }}\nsteps:\n{steps}"
    );
    parse("t", Path::new("t.yaml"), &text).unwrap()
}

fn action(id: &str, extra: &str) -> String {
    format!(
        "  - id: {id}\n    action: {{ restart: {{ namespace: shop, deployment: {id} }} }}\n{extra}"
    )
}

/// Runs with a script of answers; returns the outcome, the final view and the prompts seen.
async fn run(
    h: &Harness,
    pb: &Playbook,
    start: usize,
    answers: Vec<Answer>,
    abort_after: Option<Duration>,
) -> (RunOutcome, RunView, Vec<Prompt>) {
    let (progress, view_rx) = watch::channel(RunView {
        playbook: String::new(),
        run: 0,
        steps: vec![],
        outcome: None,
    });
    let (asks, mut ask_rx) = mpsc::channel(4);
    let (abort_tx, abort) = watch::channel(false);
    let mut ch = Channels {
        progress,
        asks,
        abort,
    };
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let seen = prompts.clone();
    let answerer = tokio::spawn(async move {
        let mut answers = answers.into_iter();
        while let Some(ask) = ask_rx.recv().await {
            seen.lock().unwrap().push(ask.prompt);
            match answers.next() {
                Some(a) => {
                    let _ = ask.reply.send(a);
                }
                None => std::mem::forget(ask.reply),
            }
        }
    });
    if let Some(after) = abort_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = abort_tx.send(true);
        });
    } else {
        std::mem::forget(abort_tx);
    }
    let vars = pb
        .inputs
        .iter()
        .filter_map(|i| Some((i.name.clone(), i.default.clone()?)))
        .collect();
    let outcome = execute(&h.ctx, pb, vars, start, &mut ch).await;
    drop(ch);
    answerer.abort();
    let view = view_rx.borrow().clone();
    let prompts = prompts.lock().unwrap().clone();
    (outcome, view, prompts)
}

fn journal(h: &Harness) -> Vec<Entry> {
    h.ctx
        .desk
        .lock()
        .unwrap()
        .active()
        .map(|i| i.entries.clone())
        .unwrap_or_default()
}

fn events(h: &Harness) -> Vec<String> {
    journal(h)
        .iter()
        .skip(1)
        .map(|e| match &e.event {
            Event::RunStarted { .. } => "run".to_string(),
            Event::StepStarted { step, .. } => format!("start {step}"),
            Event::StepFinished { step, ok, .. } => {
                format!("{} {step}", if *ok { "ok" } else { "fail" })
            }
            Event::Override { step, .. } => format!("override {step}"),
            Event::Refused { step, .. } => format!("refused {step}"),
            Event::RunFinished { outcome, .. } => format!("end {outcome:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

fn statuses(v: &RunView) -> Vec<StepStatus> {
    v.steps.iter().map(|s| s.status).collect()
}

#[tokio::test(start_paused = true)]
async fn a_clean_run_journals_every_step_before_and_after() {
    let h = harness(vec![], 0);
    let pb = playbook(&format!("{}{}", action("a", ""), action("b", "")));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(
        events(&h),
        ["run", "start a", "ok a", "start b", "ok b", "end Ok"]
    );
    assert_eq!(statuses(&view), [StepStatus::Ok, StepStatus::Ok]);
    assert_eq!(
        view.steps[0].output,
        [
            "preflight: a may go ahead",
            "CALL rollout-restart deployment shop/a",
            "did a"
        ]
    );
    assert_eq!(
        view.steps[1].output[0], "preflight: b may go ahead",
        "b's guards were checked before a changed anything"
    );
    let asked: Vec<String> = h
        .ops
        .preflights
        .lock()
        .unwrap()
        .iter()
        .map(|o| o.target().to_string())
        .collect();
    assert_eq!(asked, ["a", "b"], "each action's guards are checked once");
}

#[tokio::test(start_paused = true)]
async fn a_guard_of_a_later_step_refuses_the_run_before_its_first_change() {
    let h = harness(vec![], 0);
    *h.ops.guard.lock().unwrap() = Some(("b".into(), OpError::Refused("b lags 9 s".into())));
    let pb = playbook(&format!(
        "{}{}",
        action(
            "a",
            "    confirm: yes-no
    on_failure: continue
"
        ),
        action("b", "")
    ));
    let (outcome, view, prompts) = run(&h, &pb, 0, vec![Answer::Yes], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(
        h.ops.calls.lock().unwrap().is_empty(),
        "nothing was changed"
    );
    assert!(
        prompts.is_empty(),
        "no confirmation for a run that cannot go ahead"
    );
    assert_eq!(events(&h), ["run", "refused b", "end Failed"]);
    assert_eq!(statuses(&view), [StepStatus::Pending, StepStatus::Failed]);
    assert_eq!(
        view.steps[1].output,
        [
            "preflight: refused: b lags 9 s",
            "refused, nothing was changed: refused: b lags 9 s"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_guard_of_a_step_that_may_fail_is_left_to_that_step() {
    let h = harness(vec![], 0);
    *h.ops.guard.lock().unwrap() = Some(("a".into(), OpError::NotFound("no a".into())));
    let pb = playbook(&format!(
        "{}{}",
        action(
            "a",
            "    on_failure: continue
"
        ),
        action("b", "")
    ));
    let (outcome, _, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok, "the script lets a itself succeed");
    assert_eq!(h.ops.calls.lock().unwrap().len(), 2);
}

fn db_step(id: &str, op: &str, member: &str) -> String {
    format!("  - id: {id}\n    action: {{ {op}: {{ cluster: c, member: {member} }} }}\n")
}

#[tokio::test(start_paused = true)]
async fn a_promotion_refused_after_the_fence_lifts_the_fence_again() {
    let refused = Err(OpError::Refused("m1 now lags 30 s".into()));
    let h = harness(vec![Ok(()), refused], 0);
    let pb = playbook(&format!(
        "{}{}",
        db_step("fence", "fence", "m0"),
        db_step("promote", "promote", "m1")
    ));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    let calls: Vec<String> = h
        .ops
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(Op::to_string)
        .collect();
    assert_eq!(
        calls,
        [
            "fence c/m0 (no more writes)",
            "promote c/m1 to primary",
            "lift the fence on c/m0 (writes again)"
        ]
    );
    assert_eq!(
        events(&h),
        [
            "run",
            "start fence",
            "ok fence",
            "start promote",
            "fail promote",
            "start fence.undo",
            "ok fence.undo",
            "end Failed"
        ]
    );
    assert!(
        view.steps[0].output.iter().any(|l| l == "undone: did m0"),
        "{:?}",
        view.steps[0]
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_is_undone_when_something_before_cannot_be() {
    let refused = Err(OpError::Refused("no".into()));
    let h = harness(vec![Ok(()), Ok(()), refused], 0);
    let pb = playbook(&format!(
        "{}{}{}",
        db_step("fence", "fence", "m0"),
        db_step("promote", "promote", "m1"),
        db_step("again", "promote", "m2")
    ));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(
        h.ops.calls.lock().unwrap().len(),
        3,
        "no unfence after a promotion"
    );
    assert!(
        view.steps[2]
            .output
            .iter()
            .any(|l| l.starts_with("not undone: step promote")),
        "{:?}",
        view.steps[2]
    );
}

#[tokio::test(start_paused = true)]
async fn on_failure_abort_stops_the_run() {
    let h = harness(vec![Err(OpError::Failed("boom".into()))], 0);
    let pb = playbook(&format!("{}{}", action("a", ""), action("b", "")));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(events(&h), ["run", "start a", "fail a", "end Failed"]);
    assert_eq!(statuses(&view), [StepStatus::Failed, StepStatus::Pending]);
    assert_eq!(h.ops.calls.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn on_failure_continue_goes_on() {
    let h = harness(vec![Err(OpError::Failed("boom".into()))], 0);
    let pb = playbook(&format!(
        "{}{}",
        action("a", "    on_failure: continue\n"),
        action("b", "")
    ));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(
        outcome,
        RunOutcome::Unmet(1),
        "a step that failed is never finished ok"
    );
    assert_eq!(
        view.outcome.map(RunOutcome::text).as_deref(),
        Some("finished — 1 check not met")
    );
    assert_eq!(
        events(&h),
        [
            "run",
            "start a",
            "fail a",
            "start b",
            "ok b",
            "end Unmet(1)"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn on_failure_goto_jumps() {
    let h = harness(vec![Err(OpError::Failed("boom".into()))], 0);
    let pb = playbook(&format!(
        "{}{}{}",
        action("a", "    on_failure: { goto: c }\n"),
        action("b", ""),
        action("c", "")
    ));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(
        events(&h),
        ["run", "start a", "fail a", "start c", "ok c", "end Ok"]
    );
    assert_eq!(
        statuses(&view),
        [StepStatus::Failed, StepStatus::Pending, StepStatus::Ok]
    );
}

#[tokio::test(start_paused = true)]
async fn a_goto_loop_is_cut_off() {
    let h = harness(
        (0..100)
            .map(|_| Err(OpError::Failed("boom".into())))
            .collect(),
        0,
    );
    let pb = playbook(&action("a", "    on_failure: { goto: a }\n"));
    let (outcome, _, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(h.ops.calls.lock().unwrap().len(), 10);
}

#[tokio::test(start_paused = true)]
async fn retries_until_it_works() {
    let h = harness(
        vec![
            Err(OpError::Failed("1".into())),
            Err(OpError::Failed("2".into())),
        ],
        0,
    );
    let pb = playbook(&action("a", "    retries: 2\n"));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(h.ops.calls.lock().unwrap().len(), 3);
    assert!(view.steps[0].output.contains(&"retry 2/2".to_string()));
    assert_eq!(
        events(&h),
        ["run", "start a", "ok a", "end Ok"],
        "one step, however many tries"
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_hangs_times_out() {
    let mut h = harness(vec![], 0);
    let slow = Arc::new(Scripted::new(vec![], Duration::from_secs(120)));
    h.ctx.ops = slow;
    let pb = playbook(&action("a", "    timeout: 30s\n"));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(view.steps[0].output.last().unwrap(), "timed out after 30s");
}

#[tokio::test(start_paused = true)]
async fn wait_polls_until_the_condition_holds() {
    let h = harness(vec![], 4);
    let pb = playbook(
        "  - id: w\n    wait: { until: { alarm_ok: { name: errors } }, timeout: 1m, every: 5s }\n",
    );
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(h.polls.load(Ordering::SeqCst), 5);
    assert_eq!(
        view.steps[0].output.last().unwrap(),
        "holds: alarm errors OK"
    );
}

#[tokio::test(start_paused = true)]
async fn wait_gives_up_at_its_timeout() {
    let h = harness(vec![], usize::MAX);
    let pb = playbook(
        "  - id: w\n    wait: { until: { alarm_ok: { name: errors } }, timeout: 20s, every: 5s }\n",
    );
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert_eq!(
        view.steps[0].output.last().unwrap(),
        "still not after 20s: alarm errors is ALARM"
    );
}

#[tokio::test(start_paused = true)]
async fn confirmations_gate_actions() {
    let h = harness(vec![], 0);
    let pb = playbook(&action("a", "    confirm: yes-no\n"));
    let (outcome, _, prompts) = run(&h, &pb, 0, vec![Answer::No], None).await;
    assert_eq!(outcome, RunOutcome::Aborted);
    assert!(
        h.ops.calls.lock().unwrap().is_empty(),
        "nothing done without a yes"
    );
    assert_eq!(
        prompts,
        [Prompt::Confirm {
            step: "a".into(),
            what: "rollout-restart deployment shop/a".into(),
            optional: false,
        }]
    );
    assert_eq!(events(&h), ["run", "end Aborted"]);

    let (outcome, _, _) = run(&h, &pb, 0, vec![Answer::Yes], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
}

#[tokio::test(start_paused = true)]
async fn the_most_dangerous_steps_need_the_target_typed() {
    let h = harness(vec![], 0);
    let pb = playbook(&action("user", "    confirm: type-target\n"));
    let (outcome, view, prompts) = run(&h, &pb, 0, vec![Answer::Text("admin".into())], None).await;
    assert_eq!(outcome, RunOutcome::Aborted);
    assert!(matches!(&prompts[0], Prompt::TypeTarget { target, .. } if target == "user"));
    assert_eq!(
        view.steps[0].output,
        [
            "preflight: user may go ahead",
            "typed `admin`, not `user`: not confirmed"
        ]
    );
    let (outcome, _, _) = run(&h, &pb, 0, vec![Answer::Text("user".into())], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
}

#[tokio::test(start_paused = true)]
async fn manual_steps_wait_for_the_operator() {
    let h = harness(vec![], 0);
    let pb = playbook("  - id: m\n    manual: page the DBA\n");
    let (outcome, _, prompts) = run(&h, &pb, 0, vec![Answer::Yes], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(
        prompts,
        [Prompt::Manual {
            step: "m".into(),
            text: "page the DBA".into()
        }]
    );
    let (outcome, _, _) = run(&h, &pb, 0, vec![Answer::No], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_guard_can_be_overridden_with_a_journaled_reason() {
    let h = harness(vec![], usize::MAX);
    let pb = playbook(&format!(
        "  - id: g\n    check: {{ alarm_ok: {{ name: errors }} }}\n    override: true\n{}",
        action("a", "")
    ));
    let (outcome, _, prompts) = run(
        &h,
        &pb,
        0,
        vec![Answer::Text("customer approved".into())],
        None,
    )
    .await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(
        prompts,
        [Prompt::Override {
            step: "g".into(),
            why: "alarm errors is ALARM".into()
        }]
    );
    assert_eq!(
        events(&h),
        [
            "run",
            "start g",
            "fail g",
            "override g",
            "start a",
            "ok a",
            "end Ok"
        ]
    );
    assert_eq!(h.ctx.desk.lock().unwrap().active().unwrap().overrides, 1);

    let (outcome, _, _) = run(&h, &pb, 0, vec![Answer::No], None).await;
    assert_eq!(outcome, RunOutcome::Failed, "no reason, no override");
}

#[tokio::test(start_paused = true)]
async fn abort_stops_a_wait_at_once() {
    let h = harness(vec![], usize::MAX);
    let pb = playbook(&format!(
        "  - id: w\n    wait: {{ until: {{ alarm_ok: {{ name: errors }} }}, timeout: 1h, every: 5s }}\n{}",
        action("a", "")
    ));
    let (outcome, view, _) = run(&h, &pb, 0, vec![], Some(Duration::from_secs(12))).await;
    assert_eq!(outcome, RunOutcome::Aborted);
    assert!(h.ops.calls.lock().unwrap().is_empty());
    assert_eq!(statuses(&view), [StepStatus::Skipped, StepStatus::Pending]);
    assert_eq!(
        events(&h),
        ["run", "start w", "end Aborted"],
        "the half-done step stays visible as interrupted"
    );
}

#[tokio::test(start_paused = true)]
async fn read_only_refuses_before_anything_runs() {
    let mut h = harness(vec![], 0);
    h.ctx.read_only = Some("--read-only".into());
    let pb = playbook(&format!("  - id: m\n    manual: look\n{}", action("a", "")));
    let (outcome, view, prompts) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(prompts.is_empty());
    assert_eq!(
        view.steps[1].output,
        ["read-only (--read-only): step a would rollout-restart deployment shop/a"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_failover_within_the_window_needs_an_override() {
    let h = harness(vec![], 0);
    let pb = playbook(
        "  - id: p\n    action: { promote: { cluster: shop-mariadb, member: mariadb-1 } }\n",
    );
    let (outcome, _, prompts) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(
        (outcome, prompts.len()),
        (RunOutcome::Ok, 0),
        "the first one is free"
    );
    let (outcome, _, prompts) = run(&h, &pb, 0, vec![Answer::No], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(
        matches!(&prompts[0], Prompt::Override { why, .. } if why.contains("within the 30m anti-flap window")),
        "{prompts:?}"
    );
    let (outcome, _, _) = run(
        &h,
        &pb,
        0,
        vec![Answer::Text("the new primary died too".into())],
        None,
    )
    .await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(h.ops.calls.lock().unwrap().len(), 2);
    assert_eq!(
        *h.ops.overrides.lock().unwrap(),
        ["shop-mariadb"],
        "only the overridden promotion tells the backend, which keeps its own memory"
    );
}

#[tokio::test(start_paused = true)]
async fn a_promotion_only_the_backend_remembers_is_guarded_and_overridable_too() {
    let h = harness(vec![], 0);
    *h.ops.refusal.lock().unwrap() =
        Some("shop-mariadb was promoted 60 s ago, inside its 600 s anti-flap window".into());
    let pb = playbook(
        "  - id: p\n    action: { promote: { cluster: shop-mariadb, member: mariadb-1 } }\n",
    );
    let (outcome, view, prompts) = run(&h, &pb, 0, vec![Answer::No], None).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(
        matches!(&prompts[0], Prompt::Override { why, .. } if why.contains("promoted 60 s ago")),
        "{prompts:?}"
    );
    assert!(h.ops.calls.lock().unwrap().is_empty(), "nothing promoted");
    assert_eq!(view.steps[0].status, StepStatus::Failed);

    let answer = Answer::Text("the other console's primary died too".into());
    let (outcome, _, _) = run(&h, &pb, 0, vec![answer], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(*h.ops.overrides.lock().unwrap(), ["shop-mariadb"]);
    assert_eq!(h.ops.calls.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn resume_starts_at_the_interrupted_step() {
    let h = harness(vec![], 0);
    let pb = playbook(&format!(
        "{}{}{}",
        action("a", ""),
        action("b", ""),
        action("c", "")
    ));
    let (outcome, view, _) = run(&h, &pb, 1, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert_eq!(
        statuses(&view),
        [StepStatus::Skipped, StepStatus::Ok, StepStatus::Ok]
    );
    assert_eq!(
        h.ops
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|o| o.target().to_string())
            .collect::<Vec<_>>(),
        ["b", "c"]
    );
}

#[tokio::test(start_paused = true)]
async fn checks_bind_values_for_later_steps() {
    let h = harness(vec![], 0);
    let pb = playbook(
        "  - id: pick\n    check: { best_replica: { cluster: shop-mariadb, max_lag_s: 5 } }\n  - id: go\n    action: { promote: { cluster: shop-mariadb, member: \"{{pick.member}}\" } }\n",
    );
    let (outcome, view, _) = run(&h, &pb, 0, vec![], None).await;
    assert_eq!(outcome, RunOutcome::Ok);
    let promoted = h.ops.calls.lock().unwrap()[0].clone();
    assert!(
        matches!(&promoted, Op::Promote { member, .. } if member.starts_with("mariadb-")),
        "{promoted:?}"
    );
    assert!(
        view.steps[0].output[0].starts_with("member = mariadb-"),
        "{:?}",
        view.steps[0].output
    );
}

#[tokio::test(start_paused = true)]
async fn declining_an_optional_step_skips_it_and_the_run_goes_on() {
    let h = harness(vec![], 0);
    let pb = playbook(&format!(
        "{}{}{}",
        action("a", "    confirm: yes-no\n    optional: true\n"),
        action("b", "    confirm: yes-no\n    optional: true\n"),
        action("c", "")
    ));
    let (outcome, view, prompts) = run(&h, &pb, 0, vec![Answer::No, Answer::Yes], None).await;
    assert_eq!(
        outcome,
        RunOutcome::Declined(1),
        "ok, and says what was left out"
    );
    assert_eq!(outcome.text(), "finished ok — 1 optional step declined");
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert!(
        prompts
            .iter()
            .all(|p| matches!(p, Prompt::Confirm { optional: true, .. })),
        "the question says no skips the step: {prompts:?}"
    );
    let done: Vec<String> = h
        .ops
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|op| op.target().to_string())
        .collect();
    assert_eq!(done, ["b", "c"], "the declined step did nothing");
    assert_eq!(
        statuses(&view),
        [StepStatus::Skipped, StepStatus::Ok, StepStatus::Ok]
    );
    assert_eq!(
        view.steps[0].output.last().unwrap(),
        "not confirmed: optional, skipped"
    );
    assert_eq!(
        events(&h),
        [
            "run",
            "Declined { run: 1, step: \"a\", why: \"not confirmed\" }",
            "start b",
            "ok b",
            "start c",
            "ok c",
            "end Declined(1)"
        ]
    );
}

#[test]
fn an_optional_step_must_be_confirmed() {
    let text = format!(
        "title: T\nseverity: sev1\nsteps:\n{}",
        action("a", "    optional: true\n")
    );
    let err = parse("t", Path::new("t.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("steps.a.optional: an optional step needs a confirmation"),
        "{err}"
    );
}
