//! The executor: runs a playbook's typed steps in order with guards, confirmations,
//! retries, timeouts, `on_failure` paths and abort. Every transition is journaled (and
//! fsync'd) before it takes effect; progress is published for the screen.

use super::condition::{Bindings, Condition};
use super::load::{Confirm, OnFailure, Playbook, Step, StepKind, op_from};
use super::template::{self, Vars};
use crate::incident::clock::Clock;
use crate::incident::desk::Desk;
use crate::incident::event::{Event, RunOutcome};
use crate::ops::{Mode, Op, OpError, Ops};
use crate::sources::Snapshots;
use jiff::SignedDuration;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Everything a run needs from the outside world.
#[derive(Clone)]
pub struct Context {
    pub ops: Arc<dyn Ops>,
    pub snapshots: Arc<dyn Fn() -> Snapshots + Send + Sync>,
    pub desk: Arc<Mutex<Desk>>,
    pub clock: Arc<dyn Clock>,
    /// Why mutating steps are forbidden (`--read-only`, a read-only context), if they are.
    pub read_only: Option<String>,
    /// A cluster failed over more recently than this is not failed over again unless the
    /// operator overrides with a reason.
    pub anti_flap: SignedDuration,
    /// Simulated seconds per real second (drills): polling sleeps that much less.
    pub speed: u32,
}

/// A question for the operator; the run waits for the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Yes or no before a step takes effect. `optional`: no skips the step, else it stops
    /// the run.
    Confirm {
        step: String,
        what: String,
        optional: bool,
    },
    /// Type `target` exactly to go ahead.
    TypeTarget {
        step: String,
        what: String,
        target: String,
        optional: bool,
    },
    /// A checklist item: done (yes) or not (no).
    Manual { step: String, text: String },
    /// A guard failed; a reason overrides it (and is journaled), no stops here.
    Override { step: String, why: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Text(String),
}

pub struct Ask {
    pub prompt: Prompt,
    pub reply: oneshot::Sender<Answer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    Running,
    Waiting,
    AwaitingInput,
    Ok,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub id: String,
    pub what: String,
    pub status: StepStatus,
    pub output: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub playbook: String,
    pub run: u32,
    pub steps: Vec<StepView>,
    pub outcome: Option<RunOutcome>,
}

/// Handles the caller keeps: progress to show, questions to answer, and the abort switch.
pub struct Channels {
    pub progress: watch::Sender<RunView>,
    pub asks: mpsc::Sender<Ask>,
    pub abort: watch::Receiver<bool>,
}

/// What each kind of step does, in words, with the values `vars` has and the other
/// placeholders as written. A value only a run can know (a number from an input without a
/// default) leaves the step in its written form.
pub fn describe(step: &Step, vars: &Vars) -> String {
    typed(step, vars).unwrap_or_else(|_| match &step.kind {
        StepKind::Action(v) => compact(v),
        StepKind::Check(v) => format!("check: {}", compact(v)),
        StepKind::Wait { until, timeout, .. } => format!("wait ≤ {timeout:#}: {}", compact(until)),
        StepKind::Manual(text) => format!("manual: {text}"),
    })
}

/// The step in the words of its operation or condition, or why `vars` cannot make one.
pub fn typed(step: &Step, vars: &Vars) -> Result<String, String> {
    let known = |v: &Value| template::resolve_known(v, vars);
    let condition =
        |v: &Value| serde_json::from_value::<Condition>(known(v)).map_err(|e| e.to_string());
    Ok(match &step.kind {
        StepKind::Action(v) => op_from(&known(v))?.to_string(),
        StepKind::Check(v) => format!("check: {}", condition(v)?.describe()),
        StepKind::Wait { until, timeout, .. } => {
            format!("wait ≤ {timeout:#}: {}", condition(until)?.describe())
        }
        StepKind::Manual(text) => format!("manual: {text}"),
    })
}

/// `best_replica cluster={{cluster}} max_lag_s={{max_lag_s}}`: a step as written.
fn compact(v: &Value) -> String {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, inner)| match inner {
                Value::Object(_) => format!("{k} {}", compact(inner)),
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

enum Failure {
    Aborted,
    Failed(String),
    /// A guard refused a step before the run changed anything (journaled): the run stops
    /// there, whatever the current step's `on_failure` says.
    Refused,
}

struct Runner<'a> {
    ctx: &'a Context,
    playbook: &'a Playbook,
    ch: &'a mut Channels,
    run: u32,
    vars: Vars,
    view: RunView,
    /// Action steps whose guards were checked before the run's first change.
    checked: Vec<bool>,
    /// Steps that failed and were passed over (`on_failure: continue`).
    unmet: u32,
    /// Optional steps the operator said no to.
    declined: u32,
    /// The actions that took effect, in order, for undoing them after a later refusal.
    done: Vec<(usize, Op)>,
    /// The last action failed without acting: the backend refused it.
    refused_now: bool,
}

/// Runs `playbook` from step `start` (0, or where an interrupted run stopped).
pub async fn execute(
    ctx: &Context,
    playbook: &Playbook,
    inputs: Vars,
    start: usize,
    ch: &mut Channels,
) -> RunOutcome {
    let run = ctx.desk.lock().map_or(1, |d| d.next_run_number());
    let view = RunView {
        playbook: playbook.name.clone(),
        run,
        steps: playbook
            .steps
            .iter()
            .enumerate()
            .map(|(n, s)| StepView {
                id: s.id.clone(),
                what: describe(s, &inputs),
                status: if n < start {
                    StepStatus::Skipped
                } else {
                    StepStatus::Pending
                },
                output: vec![],
            })
            .collect(),
        outcome: None,
    };
    let mut r = Runner {
        ctx,
        playbook,
        ch,
        run,
        vars: inputs,
        view,
        checked: vec![false; playbook.steps.len()],
        unmet: 0,
        declined: 0,
        done: Vec::new(),
        refused_now: false,
    };
    let outcome = r.go(start).await;
    r.view.outcome = Some(outcome);
    r.publish();
    outcome
}

/// Runs `playbook` from its first step with `answer` replying to every question, for a
/// script, drill or test that stands in for the operator. Returns the outcome, the final
/// view, and every question asked, in order.
pub async fn execute_answering(
    ctx: &Context,
    playbook: &Playbook,
    inputs: Vars,
    answer: impl Fn(&Prompt) -> Answer + Send + 'static,
) -> (RunOutcome, RunView, Vec<Prompt>) {
    let (progress, view) = watch::channel(RunView {
        playbook: playbook.name.clone(),
        run: 0,
        steps: vec![],
        outcome: None,
    });
    let (asks, mut ask_rx) = mpsc::channel::<Ask>(1);
    // Kept until the run ends: a dropped abort switch reads as an abort.
    let (_abort_tx, abort) = watch::channel(false);
    let answerer = tokio::spawn(async move {
        let mut asked = Vec::new();
        while let Some(ask) = ask_rx.recv().await {
            let _ = ask.reply.send(answer(&ask.prompt));
            asked.push(ask.prompt);
        }
        asked
    });
    let mut ch = Channels {
        progress,
        asks,
        abort,
    };
    let outcome = execute(ctx, playbook, inputs, 0, &mut ch).await;
    drop(ch);
    let asked = answerer.await.unwrap_or_default();
    let view = view.borrow().clone();
    (outcome, view, asked)
}

impl Runner<'_> {
    fn publish(&self) {
        self.ch.progress.send_replace(self.view.clone());
    }

    fn set(&mut self, i: usize, status: StepStatus, line: Option<String>) {
        if let Some(s) = self.view.steps.get_mut(i) {
            s.status = status;
            s.output.extend(line);
        }
        self.publish();
    }

    fn journal(&self, event: Event) -> Result<(), Failure> {
        let mut desk = self
            .ctx
            .desk
            .lock()
            .map_err(|_| Failure::Failed("journal lock poisoned".into()))?;
        desk.record(event, self.ctx.clock.now())
            .map(|_| ())
            .map_err(|e| Failure::Failed(format!("not journaled, so not done: {e}")))
    }

    fn aborted(&self) -> bool {
        *self.ch.abort.borrow()
    }

    async fn ask(&mut self, i: usize, prompt: Prompt) -> Result<Answer, Failure> {
        self.set(i, StepStatus::AwaitingInput, None);
        let (tx, rx) = oneshot::channel();
        if self.ch.asks.send(Ask { prompt, reply: tx }).await.is_err() {
            return Err(Failure::Aborted);
        }
        let mut abort = self.ch.abort.clone();
        tokio::select! {
            answer = rx => answer.map_err(|_| Failure::Aborted),
            _ = abort.wait_for(|a| *a) => Err(Failure::Aborted),
        }
    }

    async fn go(&mut self, start: usize) -> RunOutcome {
        let inputs = self
            .vars
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
        if let Err(f) = self.journal(Event::RunStarted {
            run: self.run,
            playbook: self.playbook.name.clone(),
            inputs,
        }) {
            return self.finish(Err(f), None);
        }
        if let Some(reason) = &self.ctx.read_only
            && let Some((n, s)) = self
                .playbook
                .steps
                .iter()
                .enumerate()
                .skip(start)
                .find(|(_, s)| matches!(s.kind, StepKind::Action(_)))
        {
            let why = format!(
                "read-only ({reason}): step {} would {}",
                s.id,
                describe(s, &self.vars)
            );
            self.set(n, StepStatus::Failed, Some(why.clone()));
            return self.finish(Err(Failure::Failed(why)), None);
        }
        let mut i = start;
        // Gotos can loop; a run never takes more steps than this.
        let mut budget = self.playbook.steps.len() * 10;
        while i < self.playbook.steps.len() {
            if budget == 0 {
                return self.finish(
                    Err(Failure::Failed("too many steps: does a goto loop?".into())),
                    Some(i),
                );
            }
            budget -= 1;
            if self.aborted() {
                return self.finish(Err(Failure::Aborted), Some(i));
            }
            let step = self.playbook.steps[i].clone();
            match self.step(i, &step).await {
                Ok(()) => i += 1,
                Err(Failure::Aborted) => return self.finish(Err(Failure::Aborted), Some(i)),
                Err(Failure::Refused) => return self.finish(Err(Failure::Refused), None),
                Err(Failure::Failed(why)) => match &step.on_failure {
                    OnFailure::Abort => {
                        if self.refused_now {
                            self.undo(i).await;
                        }
                        return self.finish(Err(Failure::Failed(why)), Some(i));
                    }
                    OnFailure::Continue => {
                        self.unmet += 1;
                        i += 1
                    }
                    OnFailure::Goto(id) => {
                        match self.playbook.steps.iter().position(|s| &s.id == id) {
                            Some(to) => i = to,
                            None => {
                                return self.finish(
                                    Err(Failure::Failed(format!("goto to missing step {id}"))),
                                    Some(i),
                                );
                            }
                        }
                    }
                },
            }
        }
        self.finish(Ok(()), None)
    }

    fn finish(&mut self, result: Result<(), Failure>, at: Option<usize>) -> RunOutcome {
        let outcome = match &result {
            Ok(()) if self.unmet > 0 => RunOutcome::Unmet(self.unmet),
            Ok(()) if self.declined > 0 => RunOutcome::Declined(self.declined),
            Ok(()) => RunOutcome::Ok,
            Err(Failure::Aborted) => RunOutcome::Aborted,
            Err(Failure::Failed(_) | Failure::Refused) => RunOutcome::Failed,
        };
        if let Some(i) = at {
            let line = match result {
                Err(Failure::Aborted) => Some("aborted".to_string()),
                _ => None,
            };
            if let Some(s) = self.view.steps.get(i)
                && !matches!(s.status, StepStatus::Failed | StepStatus::Skipped)
            {
                let status = if outcome == RunOutcome::Aborted {
                    StepStatus::Skipped
                } else {
                    StepStatus::Failed
                };
                self.set(i, status, line);
            }
        }
        // Best effort: a journal that cannot be written has already failed the run loudly.
        let _ = self.journal(Event::RunFinished {
            run: self.run,
            outcome,
        });
        outcome
    }

    /// One step, with its confirmation, retries and override.
    async fn step(&mut self, i: usize, step: &Step) -> Result<(), Failure> {
        self.refused_now = false;
        let resolved = self.resolve(&step.kind).map_err(|e| {
            self.set(i, StepStatus::Failed, Some(e.clone()));
            Failure::Failed(e)
        })?;
        let (what, op) = match &resolved {
            Resolved::Action(op) => (op.to_string(), Some(op.clone())),
            Resolved::Check(c) => (format!("check: {}", c.describe()), None),
            Resolved::Wait(c, t, _) => (format!("wait ≤ {t:#}: {}", c.describe()), None),
            Resolved::Manual(text) => (format!("manual: {text}"), None),
        };
        if let Some(s) = self.view.steps.get_mut(i) {
            s.what = what.clone();
        }
        if op.is_some() {
            self.preflight(i).await?;
        }
        if !self.confirm(i, step, &what, op.as_ref()).await? {
            return Ok(());
        }
        self.journal(Event::StepStarted {
            run: self.run,
            step: step.id.clone(),
            detail: what.clone(),
            op: op.clone(),
        })?;
        let mut result = Err(String::new());
        for attempt in 0..=step.retries {
            if attempt > 0 {
                self.set(
                    i,
                    StepStatus::Running,
                    Some(format!("retry {attempt}/{}", step.retries)),
                );
            }
            result = self.attempt(i, step, &resolved).await?;
            if result.is_ok() {
                break;
            }
        }
        match result {
            Ok(msg) => {
                if let Some(op) = op {
                    self.done.push((i, op));
                }
                self.journal(Event::StepFinished {
                    run: self.run,
                    step: step.id.clone(),
                    ok: true,
                    result: msg.clone(),
                })?;
                self.set(i, StepStatus::Ok, Some(msg));
                Ok(())
            }
            Err(why) => {
                self.journal(Event::StepFinished {
                    run: self.run,
                    step: step.id.clone(),
                    ok: false,
                    result: why.clone(),
                })?;
                self.set(i, StepStatus::Failed, Some(why.clone()));
                if step.overridable {
                    return self.override_guard(i, step, why).await;
                }
                Err(Failure::Failed(why))
            }
        }
    }

    async fn override_guard(&mut self, i: usize, step: &Step, why: String) -> Result<(), Failure> {
        match self
            .ask(
                i,
                Prompt::Override {
                    step: step.id.clone(),
                    why: why.clone(),
                },
            )
            .await?
        {
            Answer::Text(reason) if !reason.trim().is_empty() => {
                self.journal(Event::Override {
                    run: self.run,
                    step: step.id.clone(),
                    reason: reason.clone(),
                })?;
                self.set(i, StepStatus::Ok, Some(format!("overridden: {reason}")));
                Ok(())
            }
            _ => Err(Failure::Failed(why)),
        }
    }

    /// Checks the guards of every action from step `from` on that can be resolved now and was
    /// not checked yet, before step `from` changes anything: a refusal then stops the run
    /// with everything as it was. An action that needs a value a later check binds is
    /// checked when it is reached.
    async fn preflight(&mut self, from: usize) -> Result<(), Failure> {
        for j in from..self.playbook.steps.len() {
            let step = self.playbook.steps[j].clone();
            if self.checked[j] || !matches!(step.kind, StepKind::Action(_)) {
                continue;
            }
            let Ok(Resolved::Action(op)) = self.resolve(&step.kind) else {
                continue;
            };
            self.checked[j] = true;
            if let Some(s) = self.view.steps.get_mut(j) {
                s.what = op.to_string();
            }
            match self.check(j, &step, &op).await {
                Ok(()) => {}
                Err(Failure::Failed(why)) => {
                    let line = format!("refused, nothing was changed: {why}");
                    self.journal(Event::Refused {
                        run: self.run,
                        step: step.id.clone(),
                        why,
                    })?;
                    self.set(j, StepStatus::Failed, Some(line));
                    return Err(Failure::Refused);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// One action's guards: the anti-flap window (journal and backend) for a promotion, then
    /// the backend's own. A failed guard of an overridable step asks for a reason; one whose
    /// step goes on after failing is left for the step itself to meet.
    async fn check(&mut self, j: usize, step: &Step, op: &Op) -> Result<(), Failure> {
        if let Op::Promote { cluster, .. } = op {
            self.anti_flap(j, step, cluster).await?;
        }
        match self.ctx.ops.preflight(op).await {
            Ok(line) => {
                self.say(j, format!("preflight: {line}"));
                Ok(())
            }
            Err(e) => {
                let why = e.to_string();
                self.say(j, format!("preflight: {why}"));
                if step.overridable {
                    self.override_guard(j, step, why).await
                } else if matches!(step.on_failure, OnFailure::Abort) {
                    Err(Failure::Failed(why))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Step `at` was refused after earlier steps changed things (a guard only it could
    /// know): puts back what they did, newest first, each journaled — but only when all of
    /// it can be put back, since lifting a fence after a promotion made two primaries.
    async fn undo(&mut self, at: usize) {
        let done = std::mem::take(&mut self.done);
        if done.is_empty() {
            return;
        }
        if let Some((i, op)) = done.iter().find(|(_, op)| op.undo().is_none()) {
            let id = self.playbook.steps[*i].id.clone();
            self.say(
                at,
                format!("not undone: step {id} ({op}) cannot be put back automatically"),
            );
            return;
        }
        for (i, op) in done.iter().rev() {
            let Some(back) = op.undo() else { continue };
            let step = format!("{}.undo", self.playbook.steps[*i].id);
            if self
                .journal(Event::StepStarted {
                    run: self.run,
                    step: step.clone(),
                    detail: back.to_string(),
                    op: Some(back.clone()),
                })
                .is_err()
            {
                return;
            }
            let (ok, line) = match self.ctx.ops.apply(&back, Mode::Apply).await {
                Ok(o) => (true, format!("undone: {}", o.summary)),
                Err(e) => (false, format!("undo failed: {e}")),
            };
            let _ = self.journal(Event::StepFinished {
                run: self.run,
                step,
                ok,
                result: line.clone(),
            });
            self.say(*i, line);
        }
    }

    fn say(&mut self, i: usize, line: String) {
        if let Some(s) = self.view.steps.get_mut(i) {
            s.output.push(line);
        }
        self.publish();
    }

    async fn anti_flap(&mut self, i: usize, step: &Step, cluster: &str) -> Result<(), Failure> {
        let Some(why) = flap_refusal(self.ctx, cluster) else {
            return Ok(());
        };
        self.set(i, StepStatus::Failed, Some(why.clone()));
        self.override_guard(i, step, why).await?;
        // The backend keeps its own anti-flap memory and would refuse the promotion anyway.
        self.ctx.ops.override_anti_flap(cluster);
        Ok(())
    }

    /// Asks for the step's confirmation: `true` goes ahead, `false` skips an optional step
    /// the operator declined (journaled); declining any other step stops the run.
    async fn confirm(
        &mut self,
        i: usize,
        step: &Step,
        what: &str,
        op: Option<&Op>,
    ) -> Result<bool, Failure> {
        let prompt = match (step.confirm, op) {
            (Confirm::None, _) => return Ok(true),
            (Confirm::TypeTarget, Some(op)) => Prompt::TypeTarget {
                step: step.id.clone(),
                what: what.into(),
                target: op.target().into(),
                optional: step.optional,
            },
            _ => Prompt::Confirm {
                step: step.id.clone(),
                what: what.into(),
                optional: step.optional,
            },
        };
        let target = match &prompt {
            Prompt::TypeTarget { target, .. } => Some(target.clone()),
            _ => None,
        };
        let why = match (self.ask(i, prompt).await?, target) {
            (Answer::Yes, None) => return Ok(true),
            (Answer::Text(t), Some(target)) if t.trim() == target => return Ok(true),
            (Answer::Text(t), Some(target)) => {
                format!("typed `{t}`, not `{target}`: not confirmed")
            }
            _ => "not confirmed".to_string(),
        };
        if !step.optional {
            // Saying no stops the run: nothing was done, and it is not a failure to retry.
            self.set(i, StepStatus::Skipped, Some(why));
            return Err(Failure::Aborted);
        }
        self.declined += 1;
        self.journal(Event::Declined {
            run: self.run,
            step: step.id.clone(),
            why: why.clone(),
        })?;
        self.set(
            i,
            StepStatus::Skipped,
            Some(format!("{why}: optional, skipped")),
        );
        Ok(false)
    }

    fn resolve(&self, kind: &StepKind) -> Result<Resolved, String> {
        let cond = |v: &Value| -> Result<Condition, String> {
            serde_json::from_value(template::resolve(v, &self.vars)?).map_err(|e| e.to_string())
        };
        Ok(match kind {
            StepKind::Action(v) => Resolved::Action(op_from(&template::resolve(v, &self.vars)?)?),
            StepKind::Check(v) => Resolved::Check(cond(v)?),
            StepKind::Wait {
                until,
                timeout,
                every,
            } => Resolved::Wait(cond(until)?, *timeout, *every),
            StepKind::Manual(text) => Resolved::Manual(text.clone()),
        })
    }

    /// One try. The outer error is for abort; the inner result is the step's own outcome.
    async fn attempt(
        &mut self,
        i: usize,
        step: &Step,
        r: &Resolved,
    ) -> Result<Result<String, String>, Failure> {
        self.set(i, StepStatus::Running, None);
        let limit = step.timeout.map(|t| real(t, self.ctx.speed));
        match r {
            Resolved::Action(op) => {
                let call = self.ctx.ops.apply(op, Mode::Apply);
                let mut abort = self.ch.abort.clone();
                let outcome = tokio::select! {
                    out = async { match limit { Some(l) => tokio::time::timeout(l, call).await.ok(), None => Some(call.await) } } => out,
                    _ = abort.wait_for(|a| *a) => return Err(Failure::Aborted),
                };
                Ok(match outcome {
                    Some(Ok(o)) => {
                        if let Some(s) = self.view.steps.get_mut(i) {
                            s.output.extend(o.calls.iter().cloned());
                        }
                        Ok(o.summary)
                    }
                    Some(Err(e)) => {
                        // These say the backend did nothing: a later-known guard refused.
                        self.refused_now = matches!(
                            e,
                            OpError::Refused(_) | OpError::Denied(_) | OpError::ReadOnly(_)
                        );
                        Err(e.to_string())
                    }
                    None => Err(format!(
                        "timed out after {:#}",
                        step.timeout.unwrap_or_default()
                    )),
                })
            }
            Resolved::Check(c) => Ok(self.bind(i, evaluate(self.ctx, c), c)),
            Resolved::Wait(c, timeout, every) => self.wait(i, c, *timeout, *every).await,
            Resolved::Manual(text) => match self
                .ask(
                    i,
                    Prompt::Manual {
                        step: step.id.clone(),
                        text: text.clone(),
                    },
                )
                .await?
            {
                Answer::Yes => Ok(Ok("done".into())),
                _ => Ok(Err("not done".into())),
            },
        }
    }

    fn bind(
        &mut self,
        i: usize,
        verdict: Result<Bindings, String>,
        c: &Condition,
    ) -> Result<String, String> {
        let bindings = verdict?;
        let id = self.playbook.steps[i].id.clone();
        let mut said = Vec::new();
        for (k, v) in bindings {
            said.push(format!("{k} = {v}"));
            self.vars.insert(format!("{id}.{k}"), Value::String(v));
        }
        // Later steps read with the values just bound.
        for (s, view) in self
            .playbook
            .steps
            .iter()
            .zip(self.view.steps.iter_mut())
            .skip(i + 1)
        {
            view.what = describe(s, &self.vars);
        }
        Ok(if said.is_empty() {
            format!("holds: {}", c.describe())
        } else {
            said.join(", ")
        })
    }

    async fn wait(
        &mut self,
        i: usize,
        c: &Condition,
        timeout: SignedDuration,
        every: SignedDuration,
    ) -> Result<Result<String, String>, Failure> {
        let deadline = self
            .ctx
            .clock
            .now()
            .saturating_add(timeout)
            .unwrap_or_else(|_| self.ctx.clock.now());
        loop {
            let verdict = evaluate(self.ctx, c);
            match verdict {
                Ok(_) => return Ok(self.bind(i, verdict, c)),
                Err(why) if self.ctx.clock.now() >= deadline => {
                    return Ok(Err(format!("still not after {timeout:#}: {why}")));
                }
                Err(why) => {
                    if let Some(s) = self.view.steps.get_mut(i) {
                        s.output = vec![format!("waiting: {why}")];
                    }
                    self.set(i, StepStatus::Waiting, None);
                }
            }
            let mut abort = self.ch.abort.clone();
            tokio::select! {
                _ = tokio::time::sleep(real(every, self.ctx.speed)) => {}
                _ = abort.wait_for(|a| *a) => return Err(Failure::Aborted),
            }
        }
    }
}

enum Resolved {
    Action(Op),
    Check(Condition),
    Wait(Condition, SignedDuration, SignedDuration),
    Manual(String),
}

/// A condition's verdict now: the journal's for `saved_weight`, the snapshots' for the rest.
pub fn evaluate(ctx: &Context, c: &Condition) -> super::condition::Verdict {
    let Condition::SavedWeight { region } = c else {
        return c.eval(&(ctx.snapshots)());
    };
    let saved = ctx
        .desk
        .lock()
        .map_err(|_| "journal lock poisoned".to_string())?
        .saved_weight(region);
    match saved {
        Some(s) => Ok(Bindings::from([
            ("region".into(), s.region),
            ("weight".into(), s.weight.to_string()),
            ("run".into(), s.run.to_string()),
        ])),
        None if region == "last" => Err(format!(
            "no {} run in the journal has changed a weight",
            crate::incident::desk::EVACUATE
        )),
        None => Err(format!(
            "no {} run in the journal has changed the weight of region {region}",
            crate::incident::desk::EVACUATE
        )),
    }
}

/// Why promoting `cluster` now would flap: a promotion the journal holds inside the window,
/// or one only the backend remembers (another console's).
pub fn flap_refusal(ctx: &Context, cluster: &str) -> Option<String> {
    let last = ctx.desk.lock().ok().and_then(|d| d.last_promotion(cluster));
    let now = ctx.clock.now();
    last.filter(|t| now.duration_since(*t) < ctx.anti_flap)
        .map(|last| {
            format!(
                "{cluster} was failed over at {last}, within the {:#} anti-flap window",
                ctx.anti_flap
            )
        })
        .or_else(|| ctx.ops.anti_flap_refusal(cluster))
}

/// Real time to sleep for a span of (possibly simulated) time.
fn real(d: SignedDuration, speed: u32) -> Duration {
    Duration::try_from(d).unwrap_or_default() / speed.max(1)
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
