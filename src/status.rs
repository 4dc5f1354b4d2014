//! `opsdeck status`: one snapshot of every area, as text for people or JSON for scripts.
//! It reads the same `Sources` the console reads and derives its lines as the console does,
//! so every area the console shows (drill or live) is here too, with no second code path.

use crate::audit::Finding;
use crate::model::alarm::AlarmSnapshot;
use crate::model::cluster::ClusterSnapshot;
use crate::model::db::DbSnapshot;
use crate::model::iam::IamSnapshot;
use crate::model::summary::{Area, AreaSummary, ContextHealth};
use crate::model::trail::TrailSnapshot;
use crate::model::waf::WafSnapshot;
use crate::model::{Feed, Health};
use crate::sources::Sources;
use crate::tui::app::Origin;
use crate::tui::data::Data;
use jiff::Timestamp;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct Status {
    pub mode: &'static str,
    pub seed: Option<u64>,
    pub at: Timestamp,
    pub summaries: Vec<AreaSummary>,
    /// Per area, in `Area::ALL` order: what its source had said when the status was taken.
    pub answers: Vec<AreaAnswer>,
    pub findings: Vec<Finding>,
    /// This month's downtime budget per service with an availability target, from the
    /// incident journals (drill budgets in a drill).
    pub budgets: Vec<crate::incident::objectives::Budget>,
    /// Each database's newest good backup against its RPO (and a replica's lag against it).
    pub backups: Vec<crate::model::backup::BackupStatus>,
    /// Each region's Route 53 share, health check and cluster readiness.
    pub regions: Vec<crate::model::region::RegionStatus>,
    /// One line per watched Kubernetes context; empty without live Kubernetes.
    pub contexts: Vec<ContextHealth>,
    pub cluster: ClusterSnapshot,
    pub db: DbSnapshot,
    pub waf: WafSnapshot,
    pub alarms: AlarmSnapshot,
    pub iam: IamSnapshot,
    pub trail: TrailSnapshot,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaAnswer {
    pub area: Area,
    pub state: Answer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ok: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Its whole first answer arrived and nothing in it failed.
    Complete,
    /// Data arrived, but not all of it in time (a list still paging, a report generating).
    Partial,
    /// Data arrived, but a part of the area (or a later read) failed: it is not current.
    Stale,
    /// It answered only with an error.
    Failed,
    /// Nothing arrived before the timeout.
    NoAnswer,
    NotConfigured,
}

impl Answer {
    /// `data`: something arrived, even if only from some of the area's parts (one of two
    /// alarm sources); `silent`: the area had not answered whole when the wait ended.
    fn of(health: &Health, data: bool, silent: bool) -> Answer {
        match (health.off.is_some(), data, &health.last_error) {
            (true, ..) => Answer::NotConfigured,
            (false, true, Some(_)) => Answer::Stale,
            (false, false, Some(_)) => Answer::Failed,
            (false, true, None) if silent => Answer::Partial,
            (false, true, None) => Answer::Complete,
            (false, false, None) => Answer::NoAnswer,
        }
    }

    /// Everything that is configured gave its whole, current answer.
    pub fn settled(self) -> bool {
        matches!(self, Answer::Complete | Answer::NotConfigured)
    }

    pub fn word(self) -> &'static str {
        match self {
            Answer::Complete => "complete",
            Answer::Partial => "partial",
            Answer::Stale => "stale",
            Answer::Failed => "failed",
            Answer::NoAnswer => "no answer",
            Answer::NotConfigured => "not configured",
        }
    }
}

impl Status {
    /// What `sources` hold now; `silent` are the areas that had not answered whole when
    /// the wait for them ended (see `Sources::settled`).
    pub fn of(sources: &Sources, origin: &Origin, silent: &[Area], at: Timestamp) -> Status {
        let snaps = sources.snapshots();
        let contexts = sources.contexts.borrow().clone();
        let data = Data::of(snaps, contexts.clone(), at);
        let arrived = |area| match area {
            Area::Cluster => arrived(&data.cluster) || arrived(&data.regions),
            Area::Db => arrived(&data.db) || arrived(&data.backups),
            Area::Waf => arrived(&data.waf),
            Area::Alarms => arrived(&data.alarms),
            Area::Iam => arrived(&data.iam),
            Area::Trail => arrived(&data.trail),
        };
        let answers = Area::ALL
            .iter()
            .map(|&area| {
                let health = data.health(area);
                let mut answer = AreaAnswer {
                    area,
                    state: Answer::of(health, arrived(area), silent.contains(&area)),
                    last_ok: health.last_ok,
                    error: health.last_error.clone(),
                };
                if area == Area::Cluster {
                    worst_context(&mut answer, &contexts);
                }
                answer
            })
            .collect();
        let mut findings = data.findings.clone();
        findings.extend(data.trail_findings.iter().cloned());
        crate::audit::sort(&mut findings);
        let (mode, seed) = match origin {
            Origin::Drill { seed } => ("drill", Some(*seed)),
            Origin::Live { .. } => ("live", None),
        };
        Status {
            mode,
            seed,
            at,
            summaries: data.summaries.clone(),
            answers,
            findings,
            budgets: Vec::new(),
            backups: data.backup_status.clone(),
            regions: data.region_status.clone(),
            contexts: contexts.to_vec(),
            cluster: data.cluster.data.clone(),
            db: data.db.data.clone(),
            waf: data.waf.data.clone(),
            alarms: data.alarms.data.clone(),
            iam: data.iam.data.clone(),
            trail: data.trail.data.clone(),
        }
    }

    /// Every configured area gave its whole, current answer: the exit code is 0.
    pub fn settled(&self) -> bool {
        self.answers.iter().all(|a| a.state.settled())
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
        for b in &self.budgets {
            let _ = writeln!(out, "{} {:<4} {b}", b.level().marker(), b.level().word());
        }
        for b in &self.backups {
            let _ = writeln!(
                out,
                "{} {:<4} {} {}",
                b.level.marker(),
                b.level.word(),
                b.database,
                b.line()
            );
            for p in &b.problems {
                let _ = writeln!(out, "{:15}└ {p}", "");
            }
        }
        for r in &self.regions {
            let _ = writeln!(
                out,
                "{} {:<4} region {} {}",
                r.level.marker(),
                r.level.word(),
                r.region,
                r.line
            );
            for p in &r.problems {
                let _ = writeln!(out, "{:15}└ {p}", "");
            }
        }
        let unsettled: Vec<String> = self
            .answers
            .iter()
            .filter(|a| !a.state.settled())
            .map(|a| format!("{} {}", a.area.title(), a.state.word()))
            .collect();
        if !unsettled.is_empty() {
            let _ = writeln!(out, "not current: {}", unsettled.join(", "));
        }
        out
    }

    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}

/// Data came: a success, or a part of the area while another part failed.
fn arrived<T: Default + PartialEq>(feed: &Feed<T>) -> bool {
    feed.health.last_ok.is_some() || feed.data != T::default()
}

/// A context other than the active one that failed makes the cluster area not current
/// either: a script asking about two regions must not be told both answered.
fn worst_context(answer: &mut AreaAnswer, contexts: &[ContextHealth]) {
    for c in contexts.iter().filter(|c| !c.active) {
        let state = match (&c.error, c.last_ok) {
            (Some(_), Some(_)) => Answer::Stale,
            (Some(_), None) => Answer::Failed,
            (None, None) => Answer::NoAnswer,
            (None, Some(_)) if c.loading => Answer::Partial,
            (None, Some(_)) => continue,
        };
        if answer.state.settled() {
            answer.state = state;
            answer.error = c
                .error
                .as_ref()
                .map(|e| format!("context {}: {e}", c.context));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{Publishers, publish, publish_error, publish_off};

    fn health(ok: bool, err: bool, off: bool) -> Health {
        Health {
            last_ok: ok.then_some(Timestamp::UNIX_EPOCH),
            last_error: err.then(|| "connection refused".into()),
            off: off.then(|| "add [kube]".into()),
        }
    }

    #[test]
    fn each_way_a_source_can_stand_has_its_own_answer() {
        let cases = [
            (health(true, false, false), true, false, Answer::Complete),
            (health(true, false, false), true, true, Answer::Partial),
            (health(true, true, false), true, false, Answer::Stale),
            (health(false, true, false), true, false, Answer::Stale),
            (health(false, true, false), false, false, Answer::Failed),
            (health(false, false, false), false, true, Answer::NoAnswer),
            (
                health(false, false, true),
                false,
                false,
                Answer::NotConfigured,
            ),
        ];
        for (h, data, silent, want) in cases {
            let got = Answer::of(&h, data, silent);
            assert_eq!(got, want, "{h:?} data={data} silent={silent}");
        }
    }

    #[test]
    fn a_failing_area_is_printed_and_unsettles_the_status() {
        let (p, s) = Publishers::channels();
        publish_off(&p.cluster, "add [kube] to the config".into());
        publish_error(&p.db, "orders-pg: connection refused".into());
        publish(&p.waf, WafSnapshot::default(), Timestamp::UNIX_EPOCH);
        publish_off(&p.alarms, "x".into());
        publish_off(&p.iam, "x".into());
        publish_off(&p.trail, "x".into());
        publish_off(&p.backups, "x".into());
        publish_off(&p.regions, "x".into());
        let live = Origin::Live { what: "db".into() };
        let st = Status::of(&s, &live, &[], Timestamp::UNIX_EPOCH);
        assert!(!st.settled());
        let db = &st.answers[1];
        assert_eq!((db.area, db.state), (Area::Db, Answer::Failed));
        assert!(
            st.text().ends_with("not current: DB failed\n"),
            "{}",
            st.text()
        );
        let json: serde_json::Value = serde_json::from_str(&st.json().unwrap()).unwrap();
        assert_eq!(json["answers"][1]["state"], "failed");
        assert_eq!(json["answers"][0]["state"], "not_configured");
        assert_eq!(json["answers"][2]["state"], "complete");
        assert_eq!(json["mode"], "live");
    }

    #[test]
    fn backups_that_cannot_be_read_answer_in_the_databases_line() {
        let (p, s) = Publishers::channels();
        publish_off(&p.cluster, "x".into());
        publish_off(&p.waf, "x".into());
        publish_off(&p.alarms, "x".into());
        publish_off(&p.iam, "x".into());
        publish_off(&p.trail, "x".into());
        publish_off(&p.regions, "x".into());
        let live = Origin::Live { what: "db".into() };
        let at = Timestamp::UNIX_EPOCH;

        // Only [recovery] is configured: the backups alone turn the area on.
        publish_off(&p.db, "add [[databases]]".into());
        publish_error(
            &p.backups,
            "orders: rds:DescribeDBSnapshots: AccessDenied".into(),
        );
        let db = Status::of(&s, &live, &[], at).answers[1].clone();
        assert_eq!(db.state, Answer::Failed);
        assert_eq!(
            db.error.as_deref(),
            Some("backups: orders: rds:DescribeDBSnapshots: AccessDenied")
        );

        // Replication answers, the backups do not: the line is not current.
        publish(&p.db, DbSnapshot::default(), at);
        let st = Status::of(&s, &live, &[], at);
        assert_eq!(st.answers[1].state, Answer::Stale);
        assert!(!st.settled());
        assert!(
            st.text().ends_with("not current: DB stale\n"),
            "{}",
            st.text()
        );

        publish_off(&p.backups, "no [recovery]".into());
        let st = Status::of(&s, &live, &[], at);
        assert_eq!(st.answers[1].state, Answer::Complete);

        // The regions answer in the clusters' line the same way.
        publish_error(
            &p.regions,
            "route53:GetHealthCheckStatus: Throttling".into(),
        );
        let cluster = Status::of(&s, &live, &[], at).answers[0].clone();
        assert_eq!(cluster.state, Answer::Failed);
        assert_eq!(
            cluster.error.as_deref(),
            Some("regions: route53:GetHealthCheckStatus: Throttling")
        );
    }

    #[test]
    fn a_second_context_that_is_down_makes_the_cluster_area_failed() {
        let mut answer = AreaAnswer {
            area: Area::Cluster,
            state: Answer::Complete,
            last_ok: Some(Timestamp::UNIX_EPOCH),
            error: None,
        };
        let up = ContextHealth {
            context: "kr".into(),
            active: true,
            last_ok: Some(Timestamp::UNIX_EPOCH),
            ..Default::default()
        };
        let down = crate::model::summary::context_failed("jp", None, false, "refused".into());
        worst_context(&mut answer, &[up, down]);
        assert_eq!(answer.state, Answer::Failed);
        assert_eq!(answer.error.as_deref(), Some("context jp: refused"));
    }
}
