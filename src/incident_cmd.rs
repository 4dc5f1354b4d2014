//! `opsdeck incident …`: incidents for scripts and the team's own tooling, through the same
//! journals the console writes (the team journal with `[team]`).

use crate::{Env, UsageError};
use anyhow::Context as _;
use jiff::Timestamp;
use opsdeck::cli::IncidentCmd;
use opsdeck::incident::chain::Verdict;
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Event, Severity};
use opsdeck::incident::report;
use opsdeck::incident::state::{Incident, id_stamp};
use opsdeck::incident::team::follow::{Follower, TeamStatus};
use opsdeck::incident::team::log;
use opsdeck::sources::aws::team::S3Store;
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Mutex;

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

/// One desk and, with `[team]`, the follower that keeps it in step with the team journal.
struct Shelf {
    desk: Mutex<Desk>,
    follower: Option<Follower<S3Store>>,
    drill: bool,
}

/// The live desk and the drill desk: an id names an incident in one of them. With `[team]`
/// each is brought up to date with the team journal first, and what a command writes is
/// uploaded before it exits (or left waiting, said, for the next opsdeck that reaches it).
struct Desks {
    shelves: [Shelf; 2],
    rt: tokio::runtime::Runtime,
}

impl Desks {
    fn open(env: &Env) -> anyhow::Result<Desks> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let shelf = |mut desk: Desk, drill: bool| -> anyhow::Result<Shelf> {
            let follower = rt
                .block_on(env.team_follower(&mut desk, drill))?
                .map(Follower::absent);
            Ok(Shelf {
                desk: Mutex::new(desk),
                follower,
                drill,
            })
        };
        let shelves = [shelf(env.desk()?, false)?, shelf(env.drill_desk()?, true)?];
        let mut desks = Desks { shelves, rt };
        desks.sync(false);
        Ok(desks)
    }

    /// One round with the team journal per desk: fetch what the others wrote, upload what
    /// this console has waiting. `wrote`: this command has just written, so say what could
    /// not be uploaded.
    fn sync(&mut self, wrote: bool) {
        for shelf in &mut self.shelves {
            let Some(f) = &mut shelf.follower else {
                continue;
            };
            self.rt.block_on(f.round(&shelf.desk, Timestamp::now()));
            say_team(&f.status, lock(&shelf.desk).dir(), wrote);
        }
    }

    fn places(&self) -> String {
        let dir = |s: &Shelf| lock(&s.desk).dir().display().to_string();
        format!("{} or {}", dir(&self.shelves[0]), dir(&self.shelves[1]))
    }

    fn find(&self, id: &str) -> Result<&Shelf, UsageError> {
        self.shelves
            .iter()
            .find(|s| lock(&s.desk).has(id))
            .ok_or_else(|| UsageError(format!("no incident `{id}` in {}", self.places())))
    }

    /// The incident `id` or, without one, the newest incident of either desk.
    fn pick(&self, id: Option<&str>) -> Result<(&Shelf, Incident), UsageError> {
        let id = match id {
            Some(id) => id.to_string(),
            None => self
                .shelves
                .iter()
                .filter_map(|s| lock(&s.desk).latest())
                .max_by(|a, b| id_stamp(a).cmp(id_stamp(b)))
                .ok_or_else(|| UsageError(format!("no incidents in {}", self.places())))?,
        };
        let shelf = self.find(&id)?;
        let inc = lock(&shelf.desk)
            .load(&id)
            .map_err(|e| UsageError(e.to_string()))?;
        Ok((shelf, inc))
    }
}

/// What a command tells its user of the team journal after a round with it (nothing when
/// all went up). `wrote`: the command has written, so say what could not be uploaded.
pub fn say_team(status: &TeamStatus, dir: &std::path::Path, wrote: bool) {
    if let Some(b) = &status.broken {
        eprintln!("opsdeck: team journal {}: {b}", status.location);
    } else if let Some((_, e)) = &status.unreachable {
        eprintln!(
            "opsdeck: team journal {} unreachable ({e}): {}",
            status.location,
            if wrote {
                format!(
                    "{} in {} and go{} up with the next opsdeck that reaches it",
                    match status.waiting {
                        1 => "1 entry waits".to_string(),
                        n => format!("{n} entries wait"),
                    },
                    dir.display(),
                    if status.waiting == 1 { "es" } else { "" }
                )
            } else {
                "working from this console's copy".to_string()
            }
        );
    }
}

/// The desk's lock: nothing here panics while holding it, so a poisoned one is still whole.
fn lock(desk: &Mutex<Desk>) -> std::sync::MutexGuard<'_, Desk> {
    desk.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        .shelves
        .iter()
        .flat_map(|s| lock(&s.desk).incidents())
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
    let mut desks = Desks::open(env)?;
    let new = NewIncident {
        title: title.trim().to_string(),
        severity,
        alarm: None,
        detected_at: None,
        recognised,
        drill: None,
    };
    let id = lock(&desks.shelves[0].desk)
        .open_incident(new, now)
        .map_err(|e| UsageError(e.to_string()))?
        .id
        .clone();
    desks.sync(true);
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

fn note(env: &Env, id: &str, text: &str) -> anyhow::Result<ExitCode> {
    if text.trim().is_empty() {
        return Err(UsageError("the note is empty".into()).into());
    }
    let mut desks = Desks::open(env)?;
    let entry = lock(&desks.find(id)?.desk).append_to(
        id,
        Event::Note {
            text: text.trim().to_string(),
        },
        Timestamp::now(),
    )?;
    desks.sync(true);
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
    let desks = Desks::open(env)?;
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

/// The chain this console holds (its journal, or its copy of the team journal) and, with
/// `[team]`, the team journal as the store has it now: every object read again.
fn verify(env: &Env, id: &str) -> anyhow::Result<ExitCode> {
    let desks = Desks::open(env)?;
    let shelf = desks.find(id)?;
    let mut verdicts: Vec<(String, Verdict)> = vec![];
    if let (Some(f), Some(at)) = (&shelf.follower, env.team_location(shelf.drill)) {
        let (verdict, _) = desks
            .rt
            .block_on(log::audit(f.store(), &at.prefix))
            .map_err(|e| anyhow::anyhow!("reading the team journal {at}: {}", e.0))?;
        verdicts.push((format!("team journal {at}"), verdict));
    }
    let held = lock(&shelf.desk).verify(id)?;
    verdicts.push((format!("{id} as this console holds it"), held));
    for (what, v) in &verdicts {
        println!("{what}: {}", v.summary());
    }
    Ok(if verdicts.iter().all(|(_, v)| v.verified()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report of incident `id`, or of the newest incident, live or drill.
fn report(env: &Env, id: Option<&str>) -> anyhow::Result<ExitCode> {
    let desks = Desks::open(env)?;
    let (shelf, inc) = desks.pick(id)?;
    let desk = lock(&shelf.desk);
    let policy = env.cfg.sla.policy();
    let want_final = inc.prevention.is_some() && !inc.is_open();
    let services = env.services(inc.drill.is_some());
    let path =
        report::write(&inc, &policy, &services, desk.dir(), want_final).map_err(UsageError)?;
    print!("{}", std::fs::read_to_string(&path)?);
    eprintln!("written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
