//! What a playbook run has in the console, for tests that drive the executor directly: an
//! incident journal with one open incident, and the executor's context over some operations.

#![allow(dead_code)] // each test binary uses a different part of this module

use jiff::SignedDuration;
use opsdeck::incident::clock::{Clock, SystemClock};
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{RunOutcome, Severity, Who};
use opsdeck::model::summary::Area;
use opsdeck::ops::Ops;
use opsdeck::ops::route::Router;
use opsdeck::playbook::run::{self, Answer, Context, Prompt};
use opsdeck::playbook::{catalog, plan};
use opsdeck::sources::Sources;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A journal in `dir` with `title` open, kept by kim@bastion.
pub fn desk_with_incident(dir: &Path, title: &str, severity: Severity) -> Desk {
    let who = Who {
        user: "kim".into(),
        from: Some("bastion".into()),
    };
    let mut desk = Desk::open(&dir.join("incidents"), who).unwrap();
    let incident = NewIncident {
        title: title.into(),
        severity,
        alarm: None,
        detected_at: None,
        recognised: None,
        drill: None,
    };
    desk.open_incident(incident, jiff::Timestamp::now())
        .unwrap();
    desk
}

/// The executor's context: `ops` for `area`, conditions read from `sources`, the
/// console's default anti-flap window, waits `speed` times faster by `clock`.
pub fn context(
    area: Area,
    ops: Arc<dyn Ops>,
    sources: Sources,
    desk: Desk,
    clock: Arc<dyn Clock>,
    speed: u32,
) -> Context {
    Context {
        ops: Arc::new(Router::default().route(area, ops)),
        snapshots: Arc::new(move || sources.snapshots()),
        desk: Arc::new(Mutex::new(desk)),
        clock,
        read_only: None,
        anti_flap: SignedDuration::from_mins(30),
        speed,
    }
}

/// [`context`] at the wall clock's pace.
pub fn wall_context(area: Area, ops: Arc<dyn Ops>, sources: Sources, desk: Desk) -> Context {
    context(area, ops, sources, desk, Arc::new(SystemClock), 1)
}

/// Runs the shipped playbook `name` with `inputs`, typing each target and saying yes to
/// every confirmation but those of the steps in `decline`; the run must end Ok, or ok with
/// those steps declined. Returns what it asked.
pub async fn run_shipped(
    ctx: &Context,
    name: &str,
    inputs: &[(&str, &str)],
    decline: &'static [&'static str],
) -> Vec<Prompt> {
    let playbook = catalog::shipped(name).unwrap_or_else(|| panic!("{name} is shipped"));
    let given: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vars = plan::inputs(&playbook, &given).unwrap();
    let (outcome, view, prompts) = run::execute_answering(ctx, &playbook, vars, |p| match p {
        Prompt::TypeTarget { target, .. } => Answer::Text(target.clone()),
        Prompt::Confirm { step, .. } if decline.contains(&step.as_str()) => Answer::No,
        _ => Answer::Yes,
    })
    .await;
    let declined = prompts
        .iter()
        .filter(|p| matches!(p, Prompt::Confirm { step, .. } if decline.contains(&step.as_str())))
        .count() as u32;
    let want = match declined {
        0 => RunOutcome::Ok,
        n => RunOutcome::Declined(n),
    };
    assert_eq!(outcome, want, "{view:#?}");
    prompts
}
