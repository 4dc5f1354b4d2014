//! Playbook files → validated plans. Every mistake is reported with file, line, column and
//! field, and one broken playbook never stops the others from loading.

use super::condition::Condition;
use super::schema::{RawInput, RawPlaybook, RawStep};
use super::template::{self, Vars};
use crate::diag::FileError;
use crate::incident::event::Severity;
use crate::ops::Op;
use jiff::SignedDuration;
use serde_json::{Value, json};
use serde_saphyr::{Location, Spanned};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub name: String,
    pub origin: PathBuf,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// Alarm name patterns (`*` wildcards) this playbook answers.
    pub answers: Vec<String>,
    pub inputs: Vec<Input>,
    pub steps: Vec<Step>,
}

impl Playbook {
    /// The inputs that have defaults, with them.
    pub fn defaults(&self) -> super::template::Vars {
        self.inputs
            .iter()
            .filter_map(|i| Some((i.name.clone(), i.default.clone()?)))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    String,
    Int,
    Number,
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub name: String,
    pub kind: InputKind,
    pub default: Option<Value>,
    pub allowed: Vec<Value>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// An `Op` with placeholders, resolved when the step runs.
    Action(Value),
    Check(Value),
    Wait {
        until: Value,
        timeout: SignedDuration,
        every: SignedDuration,
    },
    Manual(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    Abort,
    Continue,
    Goto(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    None,
    YesNo,
    /// The operator types the target's name: for the most dangerous steps.
    TypeTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub description: String,
    pub kind: StepKind,
    pub timeout: Option<SignedDuration>,
    pub retries: u32,
    pub on_failure: OnFailure,
    pub confirm: Confirm,
    /// A no to the confirmation skips this step instead of ending the run.
    pub optional: bool,
    pub overridable: bool,
}

/// Names of `Op` variants as playbooks write them.
pub const OPS: [&str; 20] = [
    "scale",
    "set_hpa_bounds",
    "rollback",
    "restart",
    "cordon",
    "delete_pod",
    "fence",
    "promote",
    "repoint",
    "verify_replication",
    "reboot_with_failover",
    "block_ip",
    "unblock_ip",
    "deactivate_key",
    "key_activity",
    "delete_login_profile",
    "deny_all",
    "reactivate_key",
    "silence",
    "set_region_weight",
];

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, at: &Location, msg: impl Into<String>) -> FileError {
        FileError::at_line(
            self.path,
            self.text,
            at.line() as usize,
            at.column() as usize,
            msg,
        )
    }
}

pub fn parse(name: &str, path: &Path, text: &str) -> Result<Playbook, FileError> {
    let raw: RawPlaybook =
        serde_saphyr::from_str(text).map_err(|e| FileError::from_yaml(path, text, &e))?;
    let cx = Ctx { path, text };
    let severity = Severity::parse(&raw.severity.value).ok_or_else(|| {
        cx.err(
            &raw.severity.referenced,
            format!(
                "severity: `{}` is not sev1, sev2 or sev3",
                raw.severity.value
            ),
        )
    })?;
    let inputs = raw
        .inputs
        .iter()
        .map(|(n, spec)| input(&cx, n, spec))
        .collect::<Result<Vec<_>, _>>()?;
    let steps = steps(&cx, &raw, &inputs)?;
    Ok(Playbook {
        name: name.to_string(),
        origin: path.to_path_buf(),
        title: raw.title,
        description: raw.description.trim().to_string(),
        severity,
        answers: raw.answers.alarms,
        inputs,
        steps,
    })
}

fn input(cx: &Ctx, name: &str, spec: &Spanned<RawInput>) -> Result<Input, FileError> {
    let raw = &spec.value;
    let kind = match raw.kind.value.as_str() {
        "string" => InputKind::String,
        "int" => InputKind::Int,
        "number" => InputKind::Number,
        "bool" => InputKind::Bool,
        other => {
            return Err(cx.err(
                &raw.kind.referenced,
                format!("inputs.{name}.type: unknown type `{other}` (string, int, number, bool)"),
            ));
        }
    };
    let input = Input {
        name: name.to_string(),
        kind,
        default: None,
        allowed: raw.allowed.clone(),
        description: raw.description.clone(),
    };
    let default = match &raw.default {
        Some(d) => Some(
            input
                .accept(&d.value)
                .map_err(|m| cx.err(&d.referenced, format!("inputs.{name}.default: {m}")))?,
        ),
        None => None,
    };
    Ok(Input { default, ..input })
}

impl Input {
    /// Checks a value (from the file or the command line) against the type and allowed values.
    pub fn accept(&self, v: &Value) -> Result<Value, String> {
        let value = match (self.kind, v) {
            (InputKind::String, Value::String(_)) => v.clone(),
            (InputKind::String, Value::Number(n)) => Value::String(n.to_string()),
            (InputKind::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
            (InputKind::Int, Value::String(s)) => {
                json!(
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("`{s}` is not a whole number"))?
                )
            }
            (InputKind::Number, Value::Number(_)) => v.clone(),
            (InputKind::Number, Value::String(s)) => {
                json!(
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("`{s}` is not a number"))?
                )
            }
            (InputKind::Bool, Value::Bool(_)) => v.clone(),
            (InputKind::Bool, Value::String(s)) => match s.as_str() {
                "true" | "yes" => json!(true),
                "false" | "no" => json!(false),
                _ => return Err(format!("`{s}` is not true or false")),
            },
            (kind, other) => return Err(format!("{other} is not a {kind:?}").to_lowercase()),
        };
        if !self.allowed.is_empty() && !self.allowed.contains(&value) {
            let allowed: Vec<String> = self.allowed.iter().map(Value::to_string).collect();
            return Err(format!("{value} is not one of {}", allowed.join(", ")));
        }
        Ok(value)
    }

    /// A stand-in of the right type, to check step arguments at load time.
    fn sample(&self) -> Value {
        self.default
            .clone()
            .or_else(|| self.allowed.first().cloned())
            .unwrap_or(match self.kind {
                InputKind::String => json!("x"),
                InputKind::Int => json!(1),
                InputKind::Number => json!(1.0),
                InputKind::Bool => json!(true),
            })
    }
}

fn duration(cx: &Ctx, field: &str, s: &Spanned<String>) -> Result<SignedDuration, FileError> {
    match s.value.parse::<SignedDuration>() {
        Ok(d) if d.is_positive() => Ok(d),
        _ => Err(cx.err(
            &s.referenced,
            format!(
                "{field}: `{}` is not a duration like 30s, 2m or 1h",
                s.value
            ),
        )),
    }
}

fn steps(cx: &Ctx, raw: &RawPlaybook, inputs: &[Input]) -> Result<Vec<Step>, FileError> {
    if raw.steps.is_empty() {
        let at = cx.text.find("steps").unwrap_or(0);
        return Err(FileError::at(
            cx.path,
            cx.text,
            at,
            "steps: a playbook needs at least one step",
        ));
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut checks: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for s in &raw.steps {
        let step = step(cx, &s.value, inputs, &checks, &s.referenced)?;
        let id = &s.value.id;
        if !seen.insert(id.value.clone()) {
            return Err(cx.err(
                &id.referenced,
                format!("steps: id `{}` is used twice", id.value),
            ));
        }
        if matches!(step.kind, StepKind::Check(_)) {
            checks.insert(step.id.clone());
        }
        out.push(step);
    }
    // Gotos may jump forward, so they are checked once every id is known.
    for s in &raw.steps {
        if let Some(f) = &s.value.on_failure
            && let Some(target) = f.value.get("goto").and_then(Value::as_str)
            && !seen.contains(target)
        {
            return Err(cx.err(
                &f.referenced,
                format!(
                    "steps.{}.on_failure: goto to missing step `{target}`",
                    s.value.id.value
                ),
            ));
        }
    }
    Ok(out)
}

fn step(
    cx: &Ctx,
    raw: &RawStep,
    inputs: &[Input],
    checks: &BTreeSet<String>,
    at: &Location,
) -> Result<Step, FileError> {
    let id = raw.id.value.clone();
    let field = |f: &str| format!("steps.{id}.{f}");
    let kinds = [
        raw.action.is_some(),
        raw.check.is_some(),
        raw.wait.is_some(),
        raw.manual.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(cx.err(
            at,
            format!("steps.{id}: needs exactly one of action, check, wait or manual"),
        ));
    }
    // Values every placeholder could take: inputs, and what earlier checks bind.
    let mut vars: Vars = inputs
        .iter()
        .map(|i| (i.name.clone(), i.sample()))
        .collect();
    for c in checks {
        for (b, sample) in BINDINGS {
            vars.insert(format!("{c}.{b}"), json!(sample));
        }
    }
    let placeholders = |v: &Spanned<Value>, f: &str| -> Result<Value, FileError> {
        for name in template::names(&v.value) {
            if !vars.contains_key(&name) {
                let what = if name.contains('.') {
                    "no earlier check step binds"
                } else {
                    "input never defined:"
                };
                return Err(cx.err(&v.referenced, format!("{}: {what} `{name}`", field(f))));
            }
        }
        template::resolve(&v.value, &vars)
            .map_err(|e| cx.err(&v.referenced, format!("{}: {e}", field(f))))
    };
    let kind = if let Some(a) = &raw.action {
        let sample = placeholders(a, "action")?;
        op_from(&sample).map_err(|e| cx.err(&a.referenced, format!("{}: {e}", field("action"))))?;
        StepKind::Action(a.value.clone())
    } else if let Some(c) = &raw.check {
        let sample = placeholders(c, "check")?;
        serde_json::from_value::<Condition>(sample)
            .map_err(|e| cx.err(&c.referenced, format!("{}: {e}", field("check"))))?;
        StepKind::Check(c.value.clone())
    } else if let Some(w) = &raw.wait {
        let sample = placeholders(&w.value.until, "wait.until")?;
        serde_json::from_value::<Condition>(sample).map_err(|e| {
            cx.err(
                &w.value.until.referenced,
                format!("{}: {e}", field("wait.until")),
            )
        })?;
        let timeout = duration(cx, &field("wait.timeout"), &w.value.timeout)?;
        let every = match &w.value.every {
            Some(e) => duration(cx, &field("wait.every"), e)?,
            None => SignedDuration::from_secs(5),
        };
        StepKind::Wait {
            until: w.value.until.value.clone(),
            timeout,
            every,
        }
    } else {
        StepKind::Manual(raw.manual.clone().unwrap_or_default())
    };
    let timeout = raw
        .timeout
        .as_ref()
        .map(|t| duration(cx, &field("timeout"), t))
        .transpose()?;
    let on_failure = match &raw.on_failure {
        None => OnFailure::Abort,
        Some(f) => match &f.value {
            Value::String(s) if s == "abort" => OnFailure::Abort,
            Value::String(s) if s == "continue" => OnFailure::Continue,
            Value::Object(m) if m.len() == 1 && m.get("goto").is_some_and(Value::is_string) => {
                OnFailure::Goto(m["goto"].as_str().unwrap_or_default().to_string())
            }
            other => {
                let shown = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string);
                return Err(cx.err(
                    &f.referenced,
                    format!(
                        "{}: `{shown}` is not abort, continue or {{goto: STEP}}",
                        field("on_failure")
                    ),
                ));
            }
        },
    };
    let confirm = match raw.confirm.as_ref().map(|c| (c, c.value.as_str())) {
        None | Some((_, "none")) => Confirm::None,
        Some((_, "yes-no")) => Confirm::YesNo,
        Some((_, "type-target")) => Confirm::TypeTarget,
        Some((c, other)) => {
            return Err(cx.err(
                &c.referenced,
                format!(
                    "{}: `{other}` is not none, yes-no or type-target",
                    field("confirm")
                ),
            ));
        }
    };
    if raw.optional && confirm == Confirm::None {
        return Err(cx.err(
            at,
            format!(
                "{}: an optional step needs a confirmation (the operator's no skips it)",
                field("optional")
            ),
        ));
    }
    if confirm == Confirm::TypeTarget && raw.action.is_none() {
        return Err(cx.err(
            at,
            format!(
                "{}: type-target needs an action step (it has the target)",
                field("confirm")
            ),
        ));
    }
    Ok(Step {
        id,
        description: raw.description.clone(),
        kind,
        timeout,
        retries: raw.retries,
        on_failure,
        confirm,
        optional: raw.optional,
        overridable: raw.overridable,
    })
}

/// `{scale: {...}}` as written in a playbook → the `Op` it names.
/// What checks may bind, with a value of the right shape for validating the steps that use
/// it (a weight must read as a number).
const BINDINGS: [(&str, &str); 10] = [
    ("member", "x"),
    ("old_primary", "x"),
    ("context", "x"),
    ("region", "x"),
    ("weight", "0"),
    ("run", "1"),
    ("share", "x"),
    ("headroom", "x"),
    ("database", "x"),
    ("requests", "x"),
];

pub fn op_from(v: &Value) -> Result<Op, String> {
    let Some((name, args)) = v
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err("an action is one operation, like `scale: {namespace: shop, deployment: user, replicas: 5}`".into());
    };
    if !OPS.contains(&name.as_str()) {
        return Err(format!(
            "unknown operation `{name}` (known: {})",
            OPS.join(", ")
        ));
    }
    let mut obj = args
        .as_object()
        .cloned()
        .ok_or_else(|| format!("`{name}` needs its arguments as a mapping"))?;
    obj.insert("op".into(), json!(name));
    serde_json::from_value(Value::Object(obj)).map_err(|e| format!("{name}: {e}"))
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
