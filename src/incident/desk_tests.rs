//! The desk over a real directory: opening, milestones in order, replay after a restart,
//! the change log, and the report from the journal alone.

use super::*;
use crate::incident::clock::SlaPolicy;
use crate::incident::objectives::Services;
use crate::incident::report;
use jiff::SignedDuration;

fn at(mins: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + mins * 60).unwrap()
}

fn who() -> Who {
    Who {
        user: "kim".into(),
        from: Some("198.51.100.4".into()),
    }
}

fn new(title: &str) -> NewIncident {
    NewIncident {
        title: title.into(),
        severity: Severity::Sev1,
        alarm: Some("MariaDBPrimaryDown".into()),
        detected_at: Some(at(-3)),
        recognised: None,
        drill: None,
    }
}

#[test]
fn an_open_incident_comes_back_after_a_restart_with_the_same_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(dir.path(), who()).unwrap();
    let id = desk
        .open_incident(new("db down"), at(0))
        .unwrap()
        .id
        .clone();
    desk.milestone(Milestone::Acknowledged, at(2)).unwrap();
    desk.record(
        Event::Note {
            text: "paged the DBA".into(),
        },
        at(3),
    )
    .unwrap();
    let before = desk.active().unwrap().clone();
    drop(desk);

    let desk = Desk::open(dir.path(), who()).unwrap();
    let after = desk.active().expect("still open after restart");
    assert_eq!(after, &before);
    assert_eq!(after.id, id);
    let policy = SlaPolicy::default();
    assert_eq!(
        policy.deadline(after.recognised_at),
        at(120),
        "wall clock, not uptime"
    );
    assert_eq!(after.entries.len(), 3);
    assert_eq!(after.entries[2].who.to_string(), "kim@198.51.100.4");
}

#[test]
fn only_one_incident_at_a_time_and_resolving_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(dir.path(), who()).unwrap();
    desk.open_incident(new("a"), at(0)).unwrap();
    assert!(matches!(
        desk.open_incident(new("b"), at(1)),
        Err(DeskError::AlreadyOpen(_))
    ));
    desk.milestone(Milestone::Resolved, at(30)).unwrap();
    assert!(desk.active().is_none());
    let reopened = Desk::open(dir.path(), who()).unwrap();
    assert!(
        reopened.active().is_none(),
        "a resolved incident stays resolved"
    );
    let id = reopened.latest().unwrap();
    let inc = reopened.load(&id).unwrap();
    assert_eq!(
        inc.mitigated_at,
        Some(at(30)),
        "resolving implies mitigated"
    );
}

#[test]
fn milestones_stay_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(dir.path(), who()).unwrap();
    desk.open_incident(new("a"), at(0)).unwrap();
    let err = desk
        .milestone(Milestone::Acknowledged, at(-10))
        .unwrap_err()
        .to_string();
    assert!(err.contains("it was detected later"), "{err}");
    desk.milestone(Milestone::Acknowledged, at(5)).unwrap();
    assert!(
        desk.milestone(Milestone::Acknowledged, at(6))
            .unwrap_err()
            .to_string()
            .starts_with("already acknowledged")
    );
    assert!(
        desk.milestone(Milestone::Mitigated, at(4)).is_err(),
        "mitigated before acknowledged"
    );
    desk.milestone(Milestone::Mitigated, at(7)).unwrap();
}

#[test]
fn an_earlier_recognition_needs_a_reason_and_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(dir.path(), who()).unwrap();
    let mut n = new("a");
    n.recognised = Some((at(-2), " ".into()));
    assert!(desk.open_incident(n.clone(), at(0)).is_err());
    n.recognised = Some((at(-5), "x".into()));
    assert!(
        desk.open_incident(n.clone(), at(0))
            .unwrap_err()
            .to_string()
            .contains("is after recognition")
    );
    n.recognised = Some((at(-2), "on-call saw it in Grafana first".into()));
    let inc = desk.open_incident(n, at(0)).unwrap();
    assert_eq!(inc.recognised_at, at(-2));
    assert_eq!(
        inc.recognised_reason.as_deref(),
        Some("on-call saw it in Grafana first")
    );
}

#[test]
fn changes_outside_an_incident_go_to_the_change_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(dir.path(), who()).unwrap();
    desk.record(
        Event::Note {
            text: "scaled user for the sale".into(),
        },
        at(0),
    )
    .unwrap();
    let (entries, _) = crate::incident::journal::read(&dir.path().join("changes.jsonl")).unwrap();
    assert_eq!(entries.len(), 1);
    assert!(Desk::open(dir.path(), who()).unwrap().active().is_none());
}

#[test]
fn the_report_says_whether_the_sla_was_met_and_refuses_final_without_prevention() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(dir.path(), who()).unwrap();
    desk.open_incident(new("db down"), at(0)).unwrap();
    desk.milestone(Milestone::Acknowledged, at(4)).unwrap();
    desk.record(
        Event::Cause {
            text: "EBS volume failure".into(),
        },
        at(50),
    )
    .unwrap();
    desk.milestone(Milestone::Mitigated, at(79)).unwrap();
    let policy = SlaPolicy::default();
    let inc = desk.active().unwrap().clone();
    assert!(
        report::render(&inc, &policy, &Services::default(), true)
            .unwrap_err()
            .contains("needs prevention measures")
    );
    let draft = report::render(&inc, &policy, &Services::default(), false).unwrap();
    assert!(draft.contains("DRAFT"));
    assert!(
        draft.contains("**met**, recovered 0:41:00 before the deadline"),
        "{draft}"
    );
    assert!(
        draft.contains(
            "| Acknowledged | 2027-01-15 08:04:00 UTC (0:07:00 after detection, within target) |"
        ),
        "{draft}"
    );
    desk.record(
        Event::Prevention {
            text: "alarm on EBS burst balance".into(),
        },
        at(90),
    )
    .unwrap();
    let inc = desk.active().unwrap().clone();
    let fin = report::render(&inc, &policy, &Services::default(), true).unwrap();
    assert!(fin.contains("## Prevention\n\nalarm on EBS burst balance"));
    assert!(fin.contains("## Cause\n\nEBS volume failure"));

    let late = SlaPolicy {
        length: SignedDuration::from_mins(60),
        ..policy
    };
    assert!(
        report::render(&inc, &late, &Services::default(), true)
            .unwrap()
            .contains("**missed** by 0:19:00")
    );
}
