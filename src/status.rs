//! `opsdeck status`: one snapshot of every area, as text for people or JSON for scripts.

use crate::audit::{self, Finding};
use crate::model::alarm::AlarmSnapshot;
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::summary::{self, AreaSummary};
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use crate::sources::sim::World;
use jiff::Timestamp;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct Status {
    pub mode: &'static str,
    pub seed: Option<u64>,
    pub at: Timestamp,
    pub summaries: Vec<AreaSummary>,
    pub findings: Vec<Finding>,
    pub cluster: ClusterSnapshot,
    pub db: DbSnapshot,
    pub waf: WafSnapshot,
    pub alarms: AlarmSnapshot,
    pub iam: IamSnapshot,
    pub trail: TrailSnapshot,
}

impl Status {
    pub fn of_drill(world: &World, seed: u64) -> Status {
        let (cluster, db, waf, alarms, iam, trail) = (
            world.cluster(),
            world.db(),
            world.waf(),
            world.alarms(),
            world.iam(),
            world.trail(),
        );
        let iam_findings = audit::iam_findings(&iam, &trail, world.now());
        let trail_findings = audit::trail_findings(&trail, &iam.account_id, world.now());
        let summaries = vec![
            summary::cluster(&cluster),
            summary::db(&db),
            summary::waf(&waf),
            summary::alarms(&alarms),
            audit::iam_summary(&iam, &iam_findings),
            audit::trail_summary(&trail, &trail_findings),
        ];
        let mut findings = iam_findings;
        findings.extend(trail_findings);
        audit::sort(&mut findings);
        Status {
            mode: "drill",
            seed: Some(seed),
            at: world.now(),
            summaries,
            findings,
            cluster,
            db,
            waf,
            alarms,
            iam,
            trail,
        }
    }

    /// Live: what the configured sources report; the rest is marked as not configured.
    /// `alarms` is the alarm sources' first answer with the lines of those that failed.
    pub fn of_live(
        db: DbSnapshot,
        alarms: Option<(AlarmSnapshot, Vec<String>)>,
        at: Timestamp,
    ) -> Status {
        let unconfigured = |area| AreaSummary {
            area,
            level: crate::model::Level::Off,
            counts: "not configured".into(),
            worst: None,
        };
        let summaries = crate::model::summary::Area::ALL
            .iter()
            .map(|&area| match (area, &alarms) {
                (crate::model::summary::Area::Db, _) => summary::db(&db),
                (crate::model::summary::Area::Alarms, Some((snap, failing))) => {
                    summary::alarms_of_sources(snap, failing)
                }
                (other, _) => unconfigured(other),
            })
            .collect();
        Status {
            mode: "live",
            seed: None,
            at,
            summaries,
            findings: vec![],
            cluster: Default::default(),
            db,
            waf: Default::default(),
            alarms: alarms.map(|(a, _)| a).unwrap_or_default(),
            iam: Default::default(),
            trail: Default::default(),
        }
    }

    /// The live IAM and CloudTrail review in place of their "not configured" lines.
    pub fn with_security(
        mut self,
        iam: IamSnapshot,
        trail: TrailSnapshot,
        at: Timestamp,
    ) -> Status {
        let iam_findings = audit::iam_findings(&iam, &trail, at);
        let trail_findings = audit::trail_findings(&trail, &iam.account_id, at);
        for s in &mut self.summaries {
            match s.area {
                crate::model::summary::Area::Iam => *s = audit::iam_summary(&iam, &iam_findings),
                crate::model::summary::Area::Trail => {
                    *s = audit::trail_summary(&trail, &trail_findings)
                }
                _ => {}
            }
        }
        self.findings = iam_findings;
        self.findings.extend(trail_findings);
        audit::sort(&mut self.findings);
        self.iam = iam;
        self.trail = trail;
        self
    }

    /// The live web ACLs in place of the WAF's "not configured" line; `errors` are the
    /// parts that could not be read.
    pub fn with_waf(mut self, waf: WafSnapshot, errors: &[String]) -> Status {
        let mut s = summary::waf(&waf);
        if !errors.is_empty() {
            s.level = if waf.acls.is_empty() {
                s.counts = "failing".into();
                crate::model::Level::Crit
            } else {
                s.level.max(crate::model::Level::Warn)
            };
            s.worst = Some(errors.join("; "));
        }
        for slot in &mut self.summaries {
            if slot.area == crate::model::summary::Area::Waf {
                *slot = s.clone();
            }
        }
        self.waf = waf;
        self
    }

    /// The AWS account could not be read: both areas say why.
    pub fn security_failing(mut self, why: &str) -> Status {
        for s in &mut self.summaries {
            if matches!(
                s.area,
                crate::model::summary::Area::Iam | crate::model::summary::Area::Trail
            ) {
                s.level = crate::model::Level::Crit;
                s.counts = "failing".into();
                s.worst = Some(why.to_string());
            }
        }
        self
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let seed = self.seed.map(|s| format!(" seed {s}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "opsdeck status — {}{seed} — {}",
            self.mode.to_uppercase(),
            self.at
        );
        for s in &self.summaries {
            let _ = writeln!(
                out,
                "{} {:<4} {:<7} {}",
                s.level.marker(),
                s.level.word(),
                s.area.title(),
                s.counts
            );
            if let Some(w) = &s.worst {
                let _ = writeln!(out, "{:15}└ {w}", "");
            }
        }
        out
    }

    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}
