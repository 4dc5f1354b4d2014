//! The terminal console: state (`app`), drawing (`draw`, `panes`, `popups`) and the loop that
//! joins keys, data and signals.

pub mod action;
mod alarm_ui;
pub mod app;
mod backup_journal;
mod cluster_scope;
pub mod commands;
pub mod data;
pub mod draw;
pub mod effects;
pub mod forms;
mod incident_ui;
mod inspect_ui;
pub mod keymap;
pub mod log_view;
pub mod panes;
pub mod popups;
mod region_journal;
pub mod runtime;
pub mod table;
mod team_ui;
pub mod terminal;
pub mod theme;
mod wrap;

use crate::sources::Sources;
use action::Action;
use app::App;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use runtime::Runtime;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

/// At most ~60 frames per second, and none at all while nothing changes.
const FRAME: Duration = Duration::from_millis(16);

macro_rules! take {
    ($rx:expr) => {
        $rx.borrow_and_update().clone()
    };
}

/// Applies an action and carries out whatever it asked for.
fn step(app: &mut App, runtime: &mut Runtime, action: Action) {
    app.update(action);
    for effect in std::mem::take(&mut app.effects) {
        runtime.apply(effect);
    }
}

pub async fn run(
    mut app: App,
    mut sources: Sources,
    mut runtime: Runtime,
    mut results: mpsc::UnboundedReceiver<Action>,
) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let (mut terminal, _guard) = terminal::enter()?;
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut dirty = true;
    let log_wake = runtime.log_wake.clone();
    let mut last_draw: Option<Instant> = None;
    while !app.quit {
        let due = last_draw.map_or_else(Instant::now, |t| t + FRAME);
        if dirty && due <= Instant::now() {
            terminal.draw(|f| draw::draw(f, &app))?;
            dirty = false;
            last_draw = Some(Instant::now());
        }
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    if let Some(action) = app.key_action(key) {
                        step(&mut app, &mut runtime, action);
                    }
                    dirty = true;
                }
                Some(Ok(Event::Resize(..))) => {
                    app.update(Action::Resize);
                    dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Ok(()) = sources.cluster.changed() => { app.update(Action::Cluster(take!(sources.cluster))); dirty = true; }
            Ok(()) = sources.contexts.changed() => { app.update(Action::Contexts(take!(sources.contexts))); dirty = true; }
            Ok(()) = sources.db.changed() => { app.update(Action::Db(take!(sources.db))); dirty = true; }
            Ok(()) = sources.waf.changed() => { app.update(Action::Waf(take!(sources.waf))); dirty = true; }
            Ok(()) = sources.alarms.changed() => { app.update(Action::Alarms(take!(sources.alarms))); dirty = true; }
            Ok(()) = sources.iam.changed() => { app.update(Action::Iam(take!(sources.iam))); dirty = true; }
            Ok(()) = sources.trail.changed() => { app.update(Action::Trail(take!(sources.trail))); dirty = true; }
            Ok(()) = sources.backups.changed() => { app.update(Action::Backups(take!(sources.backups))); dirty = true; }
            Ok(()) = sources.regions.changed() => { app.update(Action::Regions(take!(sources.regions))); dirty = true; }
            Some(action) = results.recv() => { step(&mut app, &mut runtime, action); dirty = true; }
            () = log_wake.notified() => dirty = true,
            _ = clock.tick(), if app.needs_tick() => {
                let now = runtime.parts.clock.now();
                step(&mut app, &mut runtime, Action::Tick(now));
                dirty = true;
            }
            _ = tokio::time::sleep_until(due), if dirty => {}
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    Ok(())
}

/// Feeds the sources' current values into a fresh app, so the first frame is complete.
pub fn prime(app: &mut App, sources: &mut Sources) {
    app.update(Action::Cluster(take!(sources.cluster)));
    app.update(Action::Contexts(take!(sources.contexts)));
    app.update(Action::Db(take!(sources.db)));
    app.update(Action::Waf(take!(sources.waf)));
    app.update(Action::Alarms(take!(sources.alarms)));
    app.update(Action::Iam(take!(sources.iam)));
    app.update(Action::Trail(take!(sources.trail)));
    app.update(Action::Backups(take!(sources.backups)));
    app.update(Action::Regions(take!(sources.regions)));
}
