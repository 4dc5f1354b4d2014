//! `opsdeck incident …`: incidents for scripts and the team's own tooling, through the same
//! journals the console writes (the team journal with `[team]`).

use crate::{Env, UsageError};
use jiff::Timestamp;
use opsdeck::cli::IncidentCmd;
use opsdeck::incident::chain::Verdict;
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Event, Severity};
use opsdeck::incident::report;
use opsdeck::incident::state::{Incident, id_stamp};
use serde::Serialize;
use std::process::ExitCode;

pub fn run(env: &Env, cmd: &IncidentCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        IncidentCmd::List { json } => list(env, *json),
        IncidentCmd::Open {
            title,
            severity,
            recognised,
            reason,
        } => open(env, title, *severity, recognised.as_deref(), reason.clone()),
        IncidentCmd::Note { id, text } => note(env, id, text),
        IncidentCmd::Show { id, json } => show(env, id, *json),
        IncidentCmd::Verify { id } => verify(env, id),
        IncidentCmd::Report { id } => report(env, id.as_deref()),
    }
}

/// The live desk and the drill desk: an id names an incident in one of them.
struct Desks([Desk; 2]);

impl Desks {
    fn open(env: &Env) -> anyhow::Result<Desks> {
        Ok(Desks([env.desk()?, env.drill_desk()?]))
    }

    fn places(&self) -> String {
        format!(
            "{} or {}",
            self.0[0].dir().display(),
            self.0[1].dir().display()
        )
    }

    fn find(&mut self, id: &str) -> Result<&mut Desk, UsageError> {
        let places = self.places();
        self.0
            .iter_mut()
            .find(|d| d.has(id))
            .ok_or_else(|| UsageError(format!("no incident `{id}` in {places}")))
    }

    /// The incident `id` or, without one, the newest incident of either desk.
    fn pick(&mut self, id: Option<&str>) -> Result<(&Desk, Incident), UsageError> {
        let id = match id {
            Some(id) => id.to_string(),
            None => self
                .0
                .iter()
                .filter_map(Desk::latest)
                .max_by(|a, b| id_stamp(a).cmp(id_stamp(b)))
                .ok_or_else(|| UsageError(format!("no incidents in {}", self.places())))?,
        };
        let desk = self.find(&id)?;
        let inc = desk.load(&id).map_err(|e| UsageError(e.to_string()))?;
        Ok((desk, inc))
    }
}

/// One incident as `list --json` and `show --json` print it.
#[derive(Serialize)]
struct Summary {
    id: String,
    title: String,
    severity: Severity,
    state: &'static str,
    drill: Option<String>,
    service: Option<String>,
    alarm: Option<String>,
    commander: String,
    comms: Vec<String>,
    recognised_at: Timestamp,
    deadline: Timestamp,
    recovered_at: Option<Timestamp>,
    resolved_at: Option<Timestamp>,
    /// Whether recovery came by the deadline; absent while it has not come.
    sla_met: Option<bool>,
    entries: usize,
}

impl Summary {
    fn of(env: &Env, inc: &Incident) -> Summary {
        let policy = env.cfg.sla.policy();
        Summary {
            id: inc.id.clone(),
            title: inc.title.clone(),
            severity: inc.severity,
            state: state(inc),
            drill: inc.drill.as_ref().map(|d| d.scenario.clone()),
            service: inc.service.clone(),
            alarm: inc.alarm.clone(),
            commander: inc.commander.clone(),
            comms: inc.comms.clone(),
            recognised_at: inc.recognised_at,
            deadline: policy.deadline(inc.recognised_at),
            recovered_at: report::recovered_at(inc),
            resolved_at: inc.resolved_at,
            sla_met: report::sla_met(inc, &policy).map(|(met, _)| met),
            entries: inc.entries.len(),
        }
    }
}

fn state(inc: &Incident) -> &'static str {
    if inc.resolved_at.is_some() {
        "resolved"
    } else if report::recovered_at(inc).is_some() {
        "recovered"
    } else {
        "open"
    }
}

fn list(env: &Env, json: bool) -> anyhow::Result<ExitCode> {
    let desks = Desks::open(env)?;
    let mut all: Vec<Summary> = desks
        .0
        .iter()
        .flat_map(Desk::incidents)
        .map(|inc| Summary::of(env, &inc))
        .collect();
    all.sort_by(|a, b| id_stamp(&b.id).cmp(id_stamp(&a.id)));
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no incidents in {}", desks.places());
    }
    for s in &all {
        println!(
            "{:<28} {:<4} {:<9} recognised {}  deadline {}  {}{}",
            s.id,
            s.severity.name(),
            s.state,
            s.recognised_at.strftime("%Y-%m-%d %H:%M"),
            s.deadline.strftime("%H:%M"),
            s.title,
            s.drill
                .as_ref()
                .map(|d| format!("  (drill {d})"))
                .unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn open(
    env: &Env,
    title: &str,
    severity: Severity,
    recognised: Option<&str>,
    reason: Option<String>,
) -> anyhow::Result<ExitCode> {
    if title.trim().is_empty() {
        return Err(UsageError("--title: an incident needs a title".into()).into());
    }
    let now = Timestamp::now();
    let recognised = match recognised {
        Some(text) => opsdeck::tui::forms::when(text, now)
            .map_err(|e| UsageError(format!("--recognised: {e}")))?
            .map(|t| (t, reason.unwrap_or_default())),
        None => None,
    };
    let mut desk = env.desk()?;
    let new = NewIncident {
        title: title.trim().to_string(),
        severity,
        alarm: None,
        detected_at: None,
        recognised,
        drill: None,
    };
    let inc = desk
        .open_incident(new, now)
        .map_err(|e| UsageError(e.to_string()))?;
    println!("{}", inc.id);
    Ok(ExitCode::SUCCESS)
}

fn note(env: &Env, id: &str, text: &str) -> anyhow::Result<ExitCode> {
    if text.trim().is_empty() {
        return Err(UsageError("the note is empty".into()).into());
    }
    let mut desks = Desks::open(env)?;
    let desk = desks.find(id)?;
    let entry = desk.append_to(
        id,
        Event::Note {
            text: text.trim().to_string(),
        },
        Timestamp::now(),
    )?;
    eprintln!("noted in {id} as entry {}", entry.seq);
    Ok(ExitCode::SUCCESS)
}

/// One timeline line as `show --json` prints it.
#[derive(Serialize)]
struct Line<'a> {
    seq: u64,
    at: Timestamp,
    who: String,
    what: String,
    event: &'a Event,
}

fn show(env: &Env, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let mut desks = Desks::open(env)?;
    let (_, inc) = desks.pick(Some(id))?;
    let summary = Summary::of(env, &inc);
    let lines: Vec<Line> = inc
        .entries
        .iter()
        .map(|e| Line {
            seq: e.seq,
            at: e.at,
            who: e.who.to_string(),
            what: report::timeline_text(&e.event).unwrap_or_else(|| details(&e.event)),
            event: &e.event,
        })
        .collect();
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            incident: Summary,
            timeline: Vec<Line<'a>>,
        }
        let shown = Shown {
            incident: summary,
            timeline: lines,
        };
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}  {} · {} · {}",
        summary.id,
        summary.title,
        summary.severity.name(),
        summary.state
    );
    println!(
        "recognised {} · deadline {} · commander {}{}",
        summary.recognised_at.strftime("%Y-%m-%d %H:%M:%S"),
        summary.deadline.strftime("%H:%M:%S"),
        summary.commander,
        if summary.comms.is_empty() {
            String::new()
        } else {
            format!(" · comms {}", summary.comms.join(", "))
        }
    );
    for l in &lines {
        println!("{}  {:<24} {}", l.at.strftime("%H:%M:%S"), l.who, l.what);
    }
    Ok(ExitCode::SUCCESS)
}

/// The report's own sections, which its timeline leaves out.
fn details(event: &Event) -> String {
    match event {
        Event::Cause { text } => format!("cause: {text}"),
        Event::Impact { text } => format!("impact: {text}"),
        Event::Prevention { text } => format!("prevention: {text}"),
        Event::Report { path, is_final } => format!(
            "{} report written to {path}",
            if *is_final { "final" } else { "draft" }
        ),
        other => format!("{other:?}"),
    }
}

fn verify(env: &Env, id: &str) -> anyhow::Result<ExitCode> {
    let mut desks = Desks::open(env)?;
    let desk = desks.find(id)?;
    let verdict: Verdict = desk.verify(id)?;
    println!("{id}: {}", verdict.summary());
    Ok(if verdict.verified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report of incident `id`, or of the newest incident, live or drill.
fn report(env: &Env, id: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut desks = Desks::open(env)?;
    let (desk, inc) = desks.pick(id)?;
    let policy = env.cfg.sla.policy();
    let want_final = inc.prevention.is_some() && !inc.is_open();
    let services = env.services(inc.drill.is_some());
    let path =
        report::write(&inc, &policy, &services, desk.dir(), want_final).map_err(UsageError)?;
    print!("{}", std::fs::read_to_string(&path)?);
    eprintln!("written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
