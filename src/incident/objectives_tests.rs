use super::*;
use crate::incident::event::{DrillTag, Entry, Event, Milestone, Who};
use crate::incident::state::Incident;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn services() -> Services {
    Services {
        list: vec![
            Service {
                name: "billing".into(),
                availability: Some(99.9),
                rto: Some(SignedDuration::from_mins(30)),
            },
            Service {
                name: "mall".into(),
                availability: Some(99.0),
                rto: None,
            },
            Service {
                name: "live-commerce".into(),
                availability: None,
                rto: Some(SignedDuration::from_hours(3)),
            },
        ],
        ..Services::default()
    }
}

/// An incident of `service` recognised at `from` and recovered at `to` (open without one).
fn incident(service: &str, severity: Severity, from: &str, to: Option<&str>) -> Incident {
    let who = Who {
        user: "oncall".into(),
        from: None,
    };
    let mut entries = vec![
        Entry {
            seq: 1,
            at: ts(from),
            who: who.clone(),
            event: Event::Opened {
                id: format!("INC-{from}"),
                title: "down".into(),
                severity,
                detected_at: None,
                recognised_at: ts(from),
                recognised_reason: None,
                alarm: None,
                drill: None,
            },
        },
        Entry {
            seq: 2,
            at: ts(from),
            who: who.clone(),
            event: Event::Service {
                service: service.into(),
            },
        },
    ];
    if let Some(to) = to {
        entries.push(Entry {
            seq: 3,
            at: ts(to),
            who,
            event: Event::Milestone {
                milestone: Milestone::Mitigated,
            },
        });
    }
    Incident::replay(&entries).unwrap()
}

#[test]
fn allowances_match_the_customers_documents() {
    assert_eq!(short(allowance(99.0)), "7h 18m 18s");
    assert_eq!(short(allowance(99.9)), "43m 49s");
    assert_eq!(allowance(99.9), SignedDuration::from_secs(2629));
}

#[test]
fn overlapping_incidents_count_once_and_months_are_clipped() {
    let s = services();
    let incidents = vec![
        // Across the November/December boundary: only the 30 December minutes count.
        incident(
            "billing",
            Severity::Sev1,
            "2026-11-30T23:30:00Z",
            Some("2026-12-01T00:30:00Z"),
        ),
        // Two overlapping incidents: 10:00–10:20 and 10:10–10:40 make 40 minutes, not 50.
        incident(
            "billing",
            Severity::Sev2,
            "2026-12-02T10:00:00Z",
            Some("2026-12-02T10:20:00Z"),
        ),
        incident(
            "billing",
            Severity::Sev1,
            "2026-12-02T10:10:00Z",
            Some("2026-12-02T10:40:00Z"),
        ),
        // Sev3 does not spend the budget.
        incident(
            "billing",
            Severity::Sev3,
            "2026-12-03T10:00:00Z",
            Some("2026-12-03T12:00:00Z"),
        ),
        // Another service.
        incident(
            "mall",
            Severity::Sev2,
            "2026-12-03T10:00:00Z",
            Some("2026-12-03T12:00:00Z"),
        ),
    ];
    let now = ts("2026-12-05T00:00:00Z");
    let month = s.month(&incidents, now, false);
    assert_eq!(month.len(), 2, "live-commerce has no availability target");
    let billing = &month[0];
    assert_eq!(
        (billing.month.as_str(), billing.used, billing.incidents),
        ("2026-12", SignedDuration::from_mins(70), 3)
    );
    assert_eq!(billing.level(), crate::model::Level::Crit);
    assert_eq!(
        billing.to_string(),
        "budget billing 99.9 %: 1h 10m 0s of 43m 49s used this month · OVER by 26m 11s"
    );
    let mall = &month[1];
    assert_eq!(mall.used, SignedDuration::from_hours(2));
    assert_eq!(mall.level(), crate::model::Level::Ok);
    assert_eq!(
        mall.to_string(),
        "budget mall 99 %: 2h 0m 0s of 7h 18m 18s used this month · 5h 18m 18s left"
    );

    // In November the boundary incident's first 30 minutes count, nothing of December's.
    let nov = s.month(&incidents, ts("2026-11-30T23:59:59Z"), false);
    assert_eq!(nov[0].used, SignedDuration::from_secs(29 * 60 + 59));
    assert_eq!(nov[0].month, "2026-11");

    // A configurable severity list: with sev1 only, the sev2 10:00–10:20 drops out.
    let sev1 = Services {
        severities: vec![Severity::Sev1],
        ..services()
    };
    assert_eq!(
        sev1.month(&incidents, now, false)[0].used,
        SignedDuration::from_mins(60)
    );
}

#[test]
fn an_open_incident_spends_until_now_and_drills_spend_only_drill_budgets() {
    let s = services();
    let mut drill = incident("mall", Severity::Sev1, "2027-01-31T23:00:00Z", None);
    let open = incident("mall", Severity::Sev1, "2027-01-31T23:00:00Z", None);
    drill.drill = Some(DrillTag {
        scenario: "region-outage".into(),
        seed: 1,
        fault_at: ts("2027-01-31T23:00:00Z"),
    });
    let now = ts("2027-01-31T23:45:00Z");
    let live = s.month(&[open.clone(), drill.clone()], now, false);
    assert_eq!(live[1].used, SignedDuration::from_mins(45));
    assert_eq!(live[1].incidents, 1);
    let drills = s.month(&[open.clone(), drill.clone()], now, true);
    assert_eq!(drills[1].used, SignedDuration::from_mins(45));
    assert_eq!(drills[0].used, SignedDuration::ZERO);
    // After midnight a new month starts with the whole budget less what it has run since.
    let feb = s.month(&[open], ts("2027-02-01T00:15:00Z"), false);
    assert_eq!(
        (feb[1].month.as_str(), feb[1].used),
        ("2027-02", SignedDuration::from_mins(15))
    );
}

#[test]
fn rto_runs_next_to_the_sla_and_the_shorter_comes_first() {
    let s = services();
    let sla = SlaPolicy::default();
    let inc = incident("billing", Severity::Sev1, "2026-12-02T10:00:00Z", None);
    let shown: Vec<String> = s
        .countdowns(&sla, &inc, ts("2026-12-02T10:20:00Z"))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["RTO WARN 0:10:00 left", "SLA OK 1:40:00 left"]);
    let long = incident(
        "live-commerce",
        Severity::Sev1,
        "2026-12-02T10:00:00Z",
        None,
    );
    let shown: Vec<String> = s
        .countdowns(&sla, &long, ts("2026-12-02T10:20:00Z"))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["SLA OK 1:40:00 left", "RTO OK 2:40:00 left"]);
    let untagged = incident(
        "nothing-known",
        Severity::Sev1,
        "2026-12-02T10:00:00Z",
        None,
    );
    assert_eq!(
        s.countdowns(&sla, &untagged, ts("2026-12-02T10:20:00Z"))
            .len(),
        1
    );

    let done = incident(
        "billing",
        Severity::Sev1,
        "2026-12-02T10:00:00Z",
        Some("2026-12-02T10:40:00Z"),
    );
    assert_eq!(
        s.rto_met(&done),
        Some((
            SignedDuration::from_mins(30),
            Some((false, SignedDuration::from_mins(-10)))
        ))
    );
    let spend = s.spent_by(&done, ts("2026-12-02T11:00:00Z")).unwrap();
    assert_eq!(spend.used, SignedDuration::from_mins(40));
    assert!(
        (spend.percent() - 91.29).abs() < 0.01,
        "{}",
        spend.percent()
    );
    assert_eq!(
        s.check("payroll").unwrap_err(),
        "unknown service `payroll` (known: billing, mall, live-commerce)"
    );
}

#[test]
fn the_report_states_the_rto_and_the_budget_the_incident_used() {
    let s = services();
    let done = incident(
        "billing",
        Severity::Sev1,
        "2026-12-02T10:00:00Z",
        Some("2026-12-02T10:20:00Z"),
    );
    let text = crate::incident::report::render(&done, &SlaPolicy::default(), &s, false).unwrap();
    assert!(text.contains("| Service | billing |"), "{text}");
    assert!(
        text.contains(
            "| Recovery time objective | 0:30:00 from recognition, deadline 2026-12-02 10:30:00 UTC: **met**, recovered 0:10:00 before it |"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "| Availability budget | 99.9 % allows 43m 49s of downtime a month: this incident used 20m 0s (45.6 % of the month's budget) |"
        ),
        "{text}"
    );
    let minor = incident("billing", Severity::Sev3, "2026-12-02T10:00:00Z", None);
    let text = crate::incident::report::render(&minor, &SlaPolicy::default(), &s, false).unwrap();
    assert!(
        text.contains("| Availability budget | not counted at this severity |"),
        "{text}"
    );
}
