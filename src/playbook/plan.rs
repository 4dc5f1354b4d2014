//! Dry-run: resolve inputs and targets and show exactly what each step would call. Actions
//! go to the backend in dry-run mode (the API server validates them); checks are evaluated
//! against what the console sees now.

use super::condition::Condition;
use super::load::{Confirm, OnFailure, Playbook, StepKind, op_from};
use super::run::{Context, evaluate, flap_refusal};
use super::template::{self, Vars};
use crate::ops::{Mode, Op};
use serde_json::Value;
use std::fmt::Write;

/// Turns `--input k=v` pairs into typed values, filling defaults.
pub fn inputs(playbook: &Playbook, given: &[(String, String)]) -> Result<Vars, String> {
    let mut vars = Vars::new();
    for (k, v) in given {
        let input = playbook
            .inputs
            .iter()
            .find(|i| &i.name == k)
            .ok_or_else(|| format!("{} has no input `{k}`", playbook.name))?;
        vars.insert(
            k.clone(),
            input
                .accept(&Value::String(v.clone()))
                .map_err(|e| format!("input {k}: {e}"))?,
        );
    }
    for i in &playbook.inputs {
        if !vars.contains_key(&i.name) {
            let default = i.default.clone().ok_or_else(|| {
                format!("input `{}` is required (--input {}=VALUE)", i.name, i.name)
            })?;
            vars.insert(i.name.clone(), default);
        }
    }
    Ok(vars)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub id: String,
    pub what: String,
    pub calls: Vec<String>,
    /// What the check finds now, or why the backend would refuse the call.
    pub note: Option<String>,
    /// What the guards a run checks before its first change say now.
    pub guards: Vec<String>,
}

/// The preflight a run makes for `op`, in words: the anti-flap window for a promotion, then
/// the backend's guards.
async fn guards(ctx: &Context, op: &Op) -> Vec<String> {
    let mut out = Vec::new();
    if let Op::Promote { cluster, .. } = op
        && let Some(why) = flap_refusal(ctx, cluster)
    {
        out.push(format!(
            "✗ guard: {why} — the run asks for an override reason before its first change"
        ));
    }
    out.push(match ctx.ops.preflight(op).await {
        Ok(line) => format!("✓ guard: {line}"),
        Err(e) => format!("✗ guard: {e} — the run would stop before its first change"),
    });
    out
}

/// Every step as it would run now: actions sent to the backend in dry-run mode with the
/// guards a run checks before its first change, checks evaluated on what the console sees.
pub async fn dry_run(ctx: &Context, playbook: &Playbook, mut vars: Vars) -> Vec<Planned> {
    let ops = &*ctx.ops;
    let mut out = Vec::new();
    for step in &playbook.steps {
        let mut planned = Planned {
            id: step.id.clone(),
            what: String::new(),
            calls: vec![],
            note: None,
            guards: vec![],
        };
        let resolve = |v: &Value, vars: &Vars| template::resolve(v, vars);
        match &step.kind {
            StepKind::Action(v) => match resolve(v, &vars).and_then(|v| op_from(&v)) {
                Ok(op) => {
                    planned.what = op.to_string();
                    match ops.apply(&op, Mode::DryRun).await {
                        Ok(o) => {
                            planned.calls = o.calls;
                            planned.note = Some(o.summary);
                        }
                        Err(e) => planned.note = Some(format!("✗ {e}")),
                    }
                    planned.guards = guards(ctx, &op).await;
                }
                Err(e) => planned.note = Some(format!("✗ {e}")),
            },
            StepKind::Check(v) | StepKind::Wait { until: v, .. } => {
                match resolve(v, &vars)
                    .and_then(|v| serde_json::from_value::<Condition>(v).map_err(|e| e.to_string()))
                {
                    Ok(c) => {
                        planned.what = match &step.kind {
                            StepKind::Wait { timeout, every, .. } => {
                                format!("wait ≤ {timeout:#} (every {every:#}): {}", c.describe())
                            }
                            _ => format!("check: {}", c.describe()),
                        };
                        match evaluate(ctx, &c) {
                            Ok(bindings) => {
                                let said: Vec<String> =
                                    bindings.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                                planned.note = Some(if said.is_empty() {
                                    "holds now".into()
                                } else {
                                    format!("now: {}", said.join(", "))
                                });
                                for (k, v) in bindings {
                                    vars.insert(format!("{}.{k}", step.id), Value::String(v));
                                }
                            }
                            Err(why) => planned.note = Some(format!("does not hold now: {why}")),
                        }
                    }
                    Err(e) => planned.note = Some(format!("✗ {e}")),
                }
                // Later steps still show their shape when this check binds nothing now.
                for b in ["member", "old_primary"] {
                    vars.entry(format!("{}.{b}", step.id))
                        .or_insert_with(|| Value::String(format!("<{}.{b}>", step.id)));
                }
            }
            StepKind::Manual(text) => planned.what = format!("manual: {text}"),
        }
        let mut flags = Vec::new();
        match step.confirm {
            Confirm::None => {}
            Confirm::YesNo => flags.push("asks yes/no".to_string()),
            Confirm::TypeTarget => flags.push("asks to type the target".to_string()),
        }
        if step.overridable {
            flags.push("guard: may be overridden with a reason".into());
        }
        match &step.on_failure {
            OnFailure::Abort => {}
            OnFailure::Continue => flags.push("on failure: continue".into()),
            OnFailure::Goto(id) => flags.push(format!("on failure: go to {id}")),
        }
        if let Some(t) = step.timeout {
            flags.push(format!("timeout {t:#}"));
        }
        if step.retries > 0 {
            flags.push(format!("{} retries", step.retries));
        }
        if !flags.is_empty() {
            planned.what = format!("{} [{}]", planned.what, flags.join(", "));
        }
        out.push(planned);
    }
    out
}

pub fn render(playbook: &Playbook, vars: &Vars, steps: &[Planned]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "DRY RUN {} — {} ({})",
        playbook.name,
        playbook.title,
        playbook.severity.name()
    );
    let inputs: Vec<String> = vars
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "inputs: {}",
        if inputs.is_empty() {
            "none".into()
        } else {
            inputs.join(" ")
        }
    );
    for (n, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "{:>2}. {:<10} {}", n + 1, s.id, s.what);
        for c in &s.calls {
            let _ = writeln!(out, "      → {c}");
        }
        if let Some(note) = &s.note {
            let _ = writeln!(out, "      = {note}");
        }
        for g in &s.guards {
            let _ = writeln!(out, "      {g}");
        }
    }
    let _ = writeln!(out, "nothing was changed");
    out
}
