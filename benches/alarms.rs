//! 10,000 alerts from two Alertmanagers (an HA pair reporting most of them twice) merged,
//! sorted and drawn: the alarm pane must cost what the screen shows, not what the
//! Alertmanagers hold.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use opsdeck::model::Feed;
use opsdeck::model::alarm::{Alarm, AlarmSnapshot, AlarmSource, AlarmState, Severity};
use opsdeck::sources::alertmanager::merge;
use opsdeck::tui::action::{Action, Command};
use opsdeck::tui::app::{App, Origin};
use opsdeck::tui::data::Data;
use opsdeck::tui::draw::draw;
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::ThemeStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::BTreeMap;
use std::sync::Arc;

const ALERTS: usize = 10_000;

fn alert(i: usize, origin: &str, now: Timestamp) -> Alarm {
    let severity = match i % 10 {
        0 => Severity::Critical,
        1..=6 => Severity::Warning,
        _ => Severity::Info,
    };
    Alarm {
        source: AlarmSource::Alertmanager,
        name: format!("KubePodCrashLooping-{}", i % 97),
        state: AlarmState::Alarm,
        severity,
        reason: format!("pod shop/user-{i} restarted 7 times in 10 min"),
        since: now - jiff::SignedDuration::from_secs((i * 37 % 86_400) as i64),
        origin: origin.into(),
        key: format!("{i:016x}"),
        labels: BTreeMap::from([
            ("alertname".to_string(), "KubePodCrashLooping".to_string()),
            ("namespace".to_string(), "shop".to_string()),
            ("pod".to_string(), format!("user-{i}")),
            ("severity".to_string(), severity.word().to_string()),
        ]),
        silenced_by: if i.is_multiple_of(13) {
            vec![format!("silence-{i}")]
        } else {
            vec![]
        },
        ..Alarm::default()
    }
}

/// What the two members report: a holds the first three quarters, b the last three.
fn lists(now: Timestamp) -> [Vec<Alarm>; 2] {
    [
        (0..ALERTS * 3 / 4).map(|i| alert(i, "am-a", now)).collect(),
        (ALERTS / 4..ALERTS)
            .map(|i| alert(i, "am-b", now))
            .collect(),
    ]
}

fn merged(now: Timestamp) -> AlarmSnapshot {
    let mut snap = AlarmSnapshot {
        alarms: merge(lists(now)),
        ..AlarmSnapshot::default()
    };
    snap.sort();
    snap
}

fn merge_and_sort(c: &mut Criterion) {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let raw = lists(now);
    assert_eq!(merged(now).alarms.len(), ALERTS);
    c.bench_function("alarms_merge_sort_10000_from_two_alertmanagers", |b| {
        b.iter(|| {
            let mut snap = AlarmSnapshot {
                alarms: merge(raw.clone()),
                ..AlarmSnapshot::default()
            };
            snap.sort();
            snap
        });
    });
}

fn app(now: Timestamp) -> App {
    let themes = ThemeStore::new(None);
    let theme = themes.load("default").unwrap();
    let mut app = App::new(
        Origin::Live {
            what: "alarms".into(),
        },
        Data::new(vec![], now),
        theme,
        themes,
        Keymap::defaults(),
        now,
    );
    app.update(Action::Alarms(Arc::new(Feed {
        data: merged(now),
        health: Default::default(),
    })));
    app.update(Action::Command(Command::Pane(5)));
    app.update(Action::Command(Command::Bottom));
    app
}

fn render(c: &mut Criterion) {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let app = app(now);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("alarms_pane_160x48_10000_alerts", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, &app)).unwrap();
        });
    });
}

/// A new snapshot arriving: filter and selection are re-applied to all 10,000 rows.
fn update(c: &mut Criterion) {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let mut app = app(now);
    let feed = Arc::new(Feed {
        data: merged(now),
        health: Default::default(),
    });
    c.bench_function("alarms_update_10000_alerts", |b| {
        b.iter(|| app.update(Action::Alarms(feed.clone())));
    });
}

criterion_group!(benches, merge_and_sort, render, update);
criterion_main!(benches);
