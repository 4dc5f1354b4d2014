//! Drills: scenario files inject faults into the drill world at given times, name the alarms
//! that should fire, and define recovery as a condition on the world's state. The same
//! playbooks fix them through the same `Ops`; the report carries the score.

use crate::diag::FileError;
use crate::incident::event::{DrillTag, Severity};
use crate::playbook::condition::Condition;
use crate::sources::Snapshots;
use crate::sources::sim::Fault;
use crate::sources::sim::World;
use include_dir::{Dir, include_dir};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use std::path::Path;

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/playbooks/drills");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    title: String,
    #[serde(default)]
    description: String,
    severity: String,
    /// The service it hits: its RTO and availability budget apply.
    #[serde(default)]
    service: Option<String>,
    faults: Vec<RawFault>,
    #[serde(default)]
    alarms: Vec<String>,
    #[serde(default)]
    playbooks: Vec<String>,
    recovered_when: Condition,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at: String,
    fault: Fault,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub service: Option<String>,
    /// Faults with their time after the drill starts, in order.
    pub faults: Vec<(SignedDuration, Fault)>,
    /// Alarms that should fire: what the trainees are expected to notice.
    pub alarms: Vec<String>,
    /// Playbooks that fix it, as a hint.
    pub playbooks: Vec<String>,
    pub recovered_when: Condition,
}

pub fn parse(name: &str, path: &Path, text: &str) -> Result<Scenario, FileError> {
    let raw: RawScenario =
        serde_saphyr::from_str(text).map_err(|e| FileError::from_yaml(path, text, &e))?;
    let err = |m: String| FileError::at(path, text, text.find("faults").unwrap_or(0), m);
    let severity = Severity::parse(&raw.severity).ok_or_else(|| {
        err(format!(
            "severity: `{}` is not sev1, sev2 or sev3",
            raw.severity
        ))
    })?;
    let mut faults = Vec::new();
    for f in raw.faults {
        let at =
            f.at.parse::<SignedDuration>()
                .map_err(|_| err(format!("faults.at: `{}` is not a duration like 1m", f.at)))?;
        faults.push((at, f.fault));
    }
    if faults.is_empty() {
        return Err(err("faults: a drill needs at least one fault".into()));
    }
    faults.sort_by_key(|(at, _)| *at);
    Ok(Scenario {
        name: name.into(),
        title: raw.title,
        description: raw.description.trim().into(),
        severity,
        service: raw.service,
        faults,
        alarms: raw.alarms,
        playbooks: raw.playbooks,
        recovered_when: raw.recovered_when,
    })
}

/// The shipped scenarios, by name.
pub fn scenarios() -> Vec<Result<Scenario, FileError>> {
    let mut out: Vec<_> = EMBEDDED
        .files()
        .filter_map(|f| {
            let name = f.path().file_stem()?.to_str()?.to_string();
            let path = Path::new("playbooks/drills").join(f.path());
            Some(parse(&name, &path, f.contents_utf8().unwrap_or_default()))
        })
        .collect();
    out.sort_by_key(|s| s.as_ref().map(|s| s.name.clone()).unwrap_or_default());
    out
}

pub fn find(name: &str) -> Result<Scenario, String> {
    let all = scenarios();
    let names: Vec<String> = all
        .iter()
        .filter_map(|s| s.as_ref().ok().map(|s| s.name.clone()))
        .collect();
    let is = |s: &Result<Scenario, FileError>| match s {
        Ok(s) => s.name == name,
        Err(e) => e.path.file_stem().is_some_and(|stem| stem == name),
    };
    match all.into_iter().find(is) {
        Some(found) => found.map_err(|e| e.to_string()),
        None => Err(format!(
            "no drill `{name}` (available: {})",
            names.join(", ")
        )),
    }
}

/// A drill in progress: which faults are in, and whether the world has recovered.
#[derive(Debug, Clone)]
pub struct Drill {
    pub scenario: Scenario,
    pub seed: u64,
    pub started: Timestamp,
    injected: usize,
    /// Recovery only counts once the faults have visibly broken the world.
    broken_seen: bool,
    pub recovered_at: Option<Timestamp>,
}

impl Drill {
    pub fn new(scenario: Scenario, seed: u64, started: Timestamp) -> Drill {
        Drill {
            scenario,
            seed,
            started,
            injected: 0,
            broken_seen: false,
            recovered_at: None,
        }
    }

    /// When the first fault goes in: the drill's clock starts there.
    pub fn fault_at(&self) -> Timestamp {
        let first = self
            .scenario
            .faults
            .first()
            .map_or(SignedDuration::ZERO, |(at, _)| *at);
        self.started.saturating_add(first).unwrap_or(self.started)
    }

    pub fn tag(&self) -> DrillTag {
        DrillTag {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            fault_at: self.fault_at(),
        }
    }

    /// Injects the faults that are due; returns what went in (or failed to).
    pub fn tick(&mut self, world: &mut World) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        if self.injected == 0
            && self
                .scenario
                .faults
                .iter()
                .any(|(_, f)| matches!(f, Fault::RegionOutage { .. }))
        {
            world.show_regions();
        }
        while let Some((at, fault)) = self.scenario.faults.get(self.injected) {
            if world.now() < self.started.saturating_add(*at).unwrap_or(self.started) {
                break;
            }
            out.push(
                world
                    .inject(fault)
                    .map(|()| format!("{fault:?}"))
                    .map_err(|e| format!("{fault:?}: {e}")),
            );
            self.injected += 1;
        }
        out
    }

    pub fn all_injected(&self) -> bool {
        self.injected == self.scenario.faults.len()
    }

    /// True the first time the recovery condition holds after every fault is in and the
    /// condition has been seen failing.
    pub fn check(&mut self, now: &Snapshots, at: Timestamp) -> bool {
        if self.recovered_at.is_some() || !self.all_injected() {
            return false;
        }
        let holds = self.scenario.recovered_when.eval(now).is_ok();
        if !holds {
            self.broken_seen = true;
        } else if self.broken_seen {
            self.recovered_at = Some(at);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests;
