//! Pure `update` tests: keys and data in, state out, no terminal.

use super::*;
use crate::model::Feed;
use crate::sources::sim::World;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::sync::Arc;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn feed<T>(data: T) -> Arc<Feed<T>> {
    Arc::new(Feed {
        data,
        health: crate::model::Health::ok(now()),
    })
}

pub(in crate::tui) fn app() -> App {
    let world = World::new(7, now());
    let themes = ThemeStore::new(None);
    let theme = themes.load("default").unwrap();
    let playbooks = crate::playbook::catalog::load(None);
    let mut app = App::new(
        Origin::Drill { seed: 7 },
        Data::new(playbooks, now()),
        theme,
        themes,
        Keymap::defaults(),
        now(),
    );
    app.update(Action::Cluster(feed(world.cluster())));
    app.update(Action::Db(feed(world.db())));
    app.update(Action::Waf(feed(world.waf())));
    app.update(Action::Alarms(feed(world.alarms())));
    app.update(Action::Iam(feed(world.iam())));
    app.update(Action::Trail(feed(world.trail())));
    app
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn special(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(key(c));
    }
}

#[test]
fn number_keys_and_tab_switch_panes() {
    let mut app = app();
    assert_eq!(app.pane, Pane::Overview);
    app.handle_key(key('3'));
    assert_eq!(app.pane, Pane::Db);
    app.handle_key(special(KeyCode::Tab));
    assert_eq!(app.pane, Pane::Waf);
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.handle_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.pane, Pane::Cluster);
    app.handle_key(key('9'));
    assert_eq!(app.pane, Pane::Incident);
    app.handle_key(special(KeyCode::Tab));
    assert_eq!(app.pane, Pane::Overview, "tab wraps around");
}

#[test]
fn filter_is_incremental_and_esc_clears_it() {
    let mut app = app();
    app.handle_key(key('2'));
    assert_eq!(app.current_table(), TableId::Pods);
    let all = app.view(TableId::Pods).visible.len();
    app.handle_key(key('/'));
    typed(&mut app, "maria");
    let pods = &app.data.cluster.data.pods;
    let visible = &app.view(TableId::Pods).visible;
    assert_eq!(visible.len(), 3, "three mariadb pods");
    assert!(
        visible
            .iter()
            .all(|&i| pods[i].name.starts_with("mariadb-"))
    );
    app.handle_key(special(KeyCode::Enter));
    assert!(matches!(app.input, Input::Idle));
    assert_eq!(
        app.view(TableId::Pods).filter,
        "maria",
        "Enter keeps the filter"
    );
    // j/k move within the filtered rows only.
    app.handle_key(key('G'));
    assert_eq!(app.view(TableId::Pods).selected, 2);
    app.handle_key(key('q'));
    assert_eq!(
        app.view(TableId::Pods).visible.len(),
        all,
        "q clears the filter first"
    );
    assert_eq!(app.pane, Pane::Cluster);
    app.handle_key(key('q'));
    assert_eq!(app.pane, Pane::Overview);
    app.handle_key(key('q'));
    assert!(app.quit);
}

#[test]
fn filter_survives_new_data() {
    let mut app = app();
    app.handle_key(key('2'));
    app.handle_key(key('/'));
    typed(&mut app, "mariadb-1");
    app.handle_key(special(KeyCode::Enter));
    let mut world = World::new(7, now());
    world.step(120);
    app.update(Action::Cluster(feed(world.cluster())));
    assert_eq!(app.view(TableId::Pods).visible.len(), 1);
}

#[test]
fn selection_moves_and_stays_in_bounds() {
    let mut app = app();
    app.handle_key(key('2'));
    let n = app.view(TableId::Pods).visible.len();
    app.handle_key(key('k'));
    assert_eq!(app.view(TableId::Pods).selected, 0);
    app.handle_key(key('j'));
    app.handle_key(key('j'));
    assert_eq!(app.view(TableId::Pods).selected, 2);
    app.handle_key(key('G'));
    assert_eq!(app.view(TableId::Pods).selected, n - 1);
    app.handle_key(key('j'));
    assert_eq!(app.view(TableId::Pods).selected, n - 1);
    app.handle_key(key('g'));
    assert_eq!(app.view(TableId::Pods).selected, 0);
    app.handle_key(special(KeyCode::PageDown));
    assert!(app.view(TableId::Pods).selected >= 1);
}

#[test]
fn sections_cycle_within_the_cluster_pane() {
    let mut app = app();
    app.handle_key(key('2'));
    app.handle_key(key(']'));
    assert_eq!(app.current_table(), TableId::Hpas);
    app.handle_key(special(KeyCode::Right));
    app.handle_key(special(KeyCode::Right));
    app.handle_key(special(KeyCode::Right));
    assert_eq!(app.current_table(), TableId::Nodes, "wraps");
    app.handle_key(key('['));
    assert_eq!(app.current_table(), TableId::Events);
}

#[test]
fn command_line_runs_and_completes() {
    let mut app = app();
    app.handle_key(key(':'));
    typed(&mut app, "hp");
    app.handle_key(special(KeyCode::Tab));
    match &app.input {
        Input::Command { field, .. } => assert_eq!(field.lines().concat(), "hpa"),
        _ => panic!("command line closed"),
    }
    app.handle_key(special(KeyCode::Enter));
    assert_eq!(
        (app.pane, app.current_table()),
        (Pane::Cluster, TableId::Hpas)
    );

    app.update(Action::Run("theme mono".into()));
    assert_eq!(app.theme.name, "mono");
    app.update(Action::Run("theme neon".into()));
    assert_eq!(app.theme.name, "mono", "a bad theme keeps the current one");
    assert!(
        matches!(&app.message, Some((Level::Crit, m)) if m.starts_with("unknown theme `neon`"))
    );

    app.update(Action::Run("bogus".into()));
    assert!(
        matches!(&app.message, Some((Level::Warn, m)) if m.contains("unknown command `bogus`"))
    );
    app.update(Action::Run("q".into()));
    assert!(app.quit);
}

#[test]
fn ctrl_c_quits_even_while_typing() {
    let mut app = app();
    app.handle_key(key('/'));
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn help_and_detail_open_and_close() {
    let mut app = app();
    app.handle_key(key('?'));
    assert_eq!(app.help, Some(0));
    app.handle_key(key('j'));
    assert_eq!(app.help, Some(1));
    app.handle_key(special(KeyCode::Esc));
    assert_eq!(app.help, None);
    assert_eq!(app.pane, Pane::Overview, "Esc closed help only");

    app.handle_key(key('5'));
    app.handle_key(special(KeyCode::Enter));
    assert_eq!(app.detail, Some(TableId::Alarms));
    app.handle_key(key('j'));
    assert_eq!(
        app.detail,
        Some(TableId::Alarms),
        "j moves to the next row's detail"
    );
    assert_eq!(app.view(TableId::Alarms).selected, 1);
    app.handle_key(special(KeyCode::Esc));
    assert_eq!((app.detail, app.pane), (None, Pane::Alarms));
}

#[test]
fn enter_on_the_overview_opens_the_area() {
    let mut app = app();
    app.handle_key(key('j'));
    app.handle_key(key('j'));
    app.handle_key(special(KeyCode::Enter));
    assert_eq!(app.pane, Pane::Waf);
}

#[test]
fn a_failing_source_needs_the_clock_and_marks_its_area() {
    let mut app = app();
    assert!(!app.needs_tick(), "an idle healthy console needs no timer");
    let failing = Arc::new(Feed {
        data: app.data.db.data.clone(),
        health: crate::model::Health {
            last_ok: Some(now()),
            last_error: Some("connection refused".into()),
            off: None,
        },
    });
    app.update(Action::Db(failing));
    assert!(app.needs_tick());
    let db = app.data.summary(crate::model::summary::Area::Db).unwrap();
    assert_eq!(db.level, Level::Crit);
    assert_eq!(db.worst.as_deref(), Some("connection refused"));
    assert_eq!(
        app.view(TableId::DbMembers).visible.len(),
        3,
        "the last data stays"
    );
}

#[test]
fn alarm_state_changes_go_on_the_incident_timeline() {
    let mut app = app();
    let mut world = World::new(7, now());
    let before = world.alarms();
    world
        .inject(&crate::sources::sim::Fault::PrimaryDown {
            cluster: "shop-mariadb".into(),
        })
        .unwrap();
    world.step(120);
    let after = world.alarms();
    let changed: Vec<&str> = after
        .alarms
        .iter()
        .filter(|a| match before.alarms.iter().find(|b| b.name == a.name) {
            Some(b) => b.state != a.state,
            None => a.state == crate::model::alarm::AlarmState::Alarm,
        })
        .map(|a| a.name.as_str())
        .collect();
    assert!(changed.contains(&"MariaDBPrimaryDown"), "{changed:?}");

    // Without an incident nothing is journaled.
    app.update(Action::Alarms(feed(before.clone())));
    app.update(Action::Alarms(feed(after.clone())));
    assert!(app.effects.is_empty());

    let _dir = open_incident(&mut app);
    app.update(Action::Alarms(feed(before)));
    app.effects.clear();
    app.update(Action::Alarms(feed(after.clone())));
    let journaled: Vec<String> = app
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(crate::incident::event::Event::Alarm { name, state, .. }) => {
                Some(format!("{name} {state}"))
            }
            _ => None,
        })
        .collect();
    let firing: Vec<String> = after
        .alarms
        .iter()
        .filter(|a| changed.contains(&a.name.as_str()))
        .map(|a| format!("{} {}", a.name, a.state.word()))
        .collect();
    assert_eq!(journaled, firing);
    assert!(!journaled.is_empty());
}

fn live_alert(
    name: &str,
    key: &str,
    state: crate::model::alarm::AlarmState,
) -> crate::model::alarm::Alarm {
    crate::model::alarm::Alarm {
        source: crate::model::alarm::AlarmSource::Alertmanager,
        name: name.into(),
        key: key.into(),
        origin: "prod-kr".into(),
        state,
        severity: crate::model::alarm::Severity::Critical,
        labels: std::collections::BTreeMap::from([("alertname".to_string(), name.to_string())]),
        since: now(),
        ..Default::default()
    }
}

fn snapshot(alarms: Vec<crate::model::alarm::Alarm>) -> crate::model::alarm::AlarmSnapshot {
    let mut snap = crate::model::alarm::AlarmSnapshot {
        alarms,
        ..Default::default()
    };
    snap.sort();
    snap
}

#[test]
fn alarm_keys_act_on_live_alerts_and_the_cursor_follows_the_alert() {
    use crate::model::alarm::AlarmState::Alarm as Firing;
    use crate::sources::AlarmChange;
    let mut app = app();
    let (a, b) = (live_alert("A", "fa", Firing), live_alert("B", "fb", Firing));
    app.update(Action::Alarms(feed(snapshot(vec![a.clone(), b.clone()]))));
    app.update(Action::Command(Command::Pane(5)));
    app.update(Action::Command(Command::Down));
    let on = |app: &App| {
        app.view(TableId::Alarms)
            .selected_row()
            .map(|i| app.data.alarms.data.alarms[i].key().to_string())
    };
    assert_eq!(on(&app).as_deref(), Some("fb"));
    // B silenced sorts after A, but the cursor stays on B.
    let mut silenced = b.clone();
    silenced.silenced_by = vec!["s1".into()];
    let mut a_later = a.clone();
    a_later.since = now() + jiff::SignedDuration::from_secs(1);
    app.update(Action::Alarms(feed(snapshot(vec![silenced, a_later]))));
    assert_eq!(on(&app).as_deref(), Some("fb"));

    // `u` on a silenced alert expires its silences; `a` acks; `s` opens the silence form.
    app.update(Action::Command(Command::Unsilence));
    assert!(matches!(
        app.effects.pop(),
        Some(Effect::AlarmChange(AlarmChange::Expire { alarm })) if alarm.key == "fb"
    ));
    app.update(Action::Command(Command::Acknowledge));
    assert!(matches!(
        app.effects.pop(),
        Some(Effect::AlarmChange(AlarmChange::Ack { alarm })) if alarm.key == "fb"
    ));
    app.update(Action::Command(Command::Silence));
    let form = app.form.as_ref().expect("the silence form");
    assert_eq!(form.value(0), r#"alertname="B""#);
    assert_eq!(form.value(1), "2h");
}

#[test]
fn on_the_top_row_the_cursor_stays_on_the_most_urgent_alarm() {
    use crate::model::alarm::AlarmState::{Alarm as Firing, Ok as Quiet};
    let mut app = app();
    let quiet = live_alert("Q", "fq", Quiet);
    app.update(Action::Alarms(feed(snapshot(vec![quiet.clone()]))));
    app.update(Action::Command(Command::Pane(5)));
    app.update(Action::Alarms(feed(snapshot(vec![
        quiet,
        live_alert("F", "ff", Firing),
    ]))));
    let top = app.view(TableId::Alarms).selected_row();
    assert_eq!(
        top.map(|i| app.data.alarms.data.alarms[i].name.as_str()),
        Some("F")
    );
}

#[test]
fn a_drill_alarm_keeps_a_as_the_incident_acknowledgement() {
    let mut app = app();
    app.update(Action::Command(Command::Pane(5)));
    app.update(Action::Command(Command::Acknowledge));
    assert!(
        !app.effects
            .iter()
            .any(|e| matches!(e, Effect::AlarmChange(_))),
        "{:?}",
        app.effects
    );
    app.update(Action::Command(Command::Silence));
    assert!(app.form.is_none());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|(_, m)| m.contains("need a live Alertmanager")),
        "{:?}",
        app.message
    );
}

#[test]
fn an_alert_that_disappears_while_firing_is_resolved_on_the_timeline() {
    use crate::model::alarm::AlarmState::Alarm as Firing;
    let mut app = app();
    let _dir = open_incident(&mut app);
    app.update(Action::Alarms(feed(snapshot(vec![live_alert(
        "A", "fa", Firing,
    )]))));
    app.effects.clear();
    app.update(Action::Alarms(feed(snapshot(vec![]))));
    let journaled: Vec<String> = app
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(crate::incident::event::Event::Alarm { name, state, .. }) => {
                Some(format!("{name} {state}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(journaled, ["A RESOLVED"]);
}

/// Opens an incident in a journal of its own and shows it to `app`; keep the directory.
fn open_incident(app: &mut App) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = crate::incident::desk::Desk::open(
        dir.path(),
        crate::incident::event::Who {
            user: "kim".into(),
            from: None,
        },
    )
    .unwrap();
    let new = crate::incident::desk::NewIncident {
        title: "t".into(),
        severity: crate::incident::event::Severity::Sev1,
        alarm: None,
        detected_at: None,
        recognised: None,
        drill: None,
    };
    desk.open_incident(new, now()).unwrap();
    app.update(Action::Incident(desk.active().cloned().map(Box::new)));
    dir
}

#[test]
fn new_risky_trail_events_go_on_an_open_incident_timeline_once() {
    let mut app = app();
    let event = |id: &str, name: &str, mins_ago: i64| crate::model::trail::TrailEvent {
        time: now() - jiff::SignedDuration::from_mins(mins_ago),
        user: "alice".into(),
        event_name: name.into(),
        source_ip: "203.0.113.250".into(),
        region: "us-east-1".into(),
        mfa_used: None,
        error: None,
        id: Some(id.into()),
        identity_type: Some("IAMUser".into()),
    };
    let trail = |events: Vec<crate::model::trail::TrailEvent>| {
        Action::Trail(std::sync::Arc::new(crate::model::Feed {
            data: crate::model::trail::TrailSnapshot {
                events,
                ..Default::default()
            },
            health: crate::model::Health::ok(now()),
        }))
    };
    let _dir = open_incident(&mut app);
    // Before the incident was recognised: history, not news.
    app.update(trail(vec![event("old", "StopLogging", 600)]));
    app.effects.clear();
    app.update(trail(vec![
        event("new-2", "DescribeInstances", -1),
        event("new-1", "CreateAccessKey", -2),
        event("old", "StopLogging", 600),
    ]));
    let journaled: Vec<String> = app
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(crate::incident::event::Event::Trail { call, risk, .. }) => {
                Some(format!("{call} {risk}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(journaled, ["CreateAccessKey access key created"]);
    app.effects.clear();
    app.update(trail(vec![event("new-1", "CreateAccessKey", -2)]));
    assert!(app.effects.is_empty(), "an event is journaled once");
}

#[test]
fn a_live_users_detail_asks_iam_and_keeps_only_its_own_answer() {
    let mut app = app();
    let user = |name: &str| crate::model::iam::IamUser {
        name: name.into(),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        groups: vec![],
        mfa: crate::model::iam::Mfa::None,
        console_access: false,
        password_changed: None,
        password_last_used: None,
        access_keys: vec![],
        last_activity: None,
        admin: false,
        direct_policies: vec![],
        administrator_access: vec![],
        created: now(),
    };
    // The report knows alice's keys by column only.
    let report_key = |slot: u8| crate::model::iam::AccessKey {
        id_suffix: String::new(),
        slot,
        active: true,
        created: now(),
        last_used: None,
    };
    let alice = crate::model::iam::IamUser {
        access_keys: vec![report_key(1), report_key(2)],
        ..user("alice")
    };
    let iam = crate::model::iam::IamSnapshot {
        users: vec![alice, user("bob")],
        report: crate::model::iam::ReportState::Complete { generated: now() },
        ..Default::default()
    };
    app.update(Action::Iam(feed(iam)));
    app.update(Action::Command(Command::Pane(6)));
    let keys = |app: &App| -> Vec<String> {
        let rows = crate::tui::panes::iam::UserRows(
            &app.data.iam.data.users,
            app.data.user_check.as_ref(),
        );
        crate::tui::table::Rows::detail(&rows, 0, now())
            .into_iter()
            .filter(|(k, _)| *k == "Access key")
            .map(|(_, v)| v.split(" active").next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(keys(&app), ["key 1", "key 2"], "not #1/#2");
    app.effects.clear();
    app.update(Action::Command(Command::Open));
    assert!(
        matches!(app.effects.as_slice(), [Effect::CheckUser(u)] if u.name == "alice"),
        "{:?}",
        app.effects
    );
    let answer = |name: &str| {
        Action::UserChecked(Box::new(crate::model::iam::UserCheck {
            user: name.into(),
            at: now(),
            fields: vec![crate::model::iam::CheckedField {
                field: "active keys".into(),
                report: "0".into(),
                live: "1".into(),
            }],
            key_suffixes: vec!["5RPI".into(), "Q7ZX".into()],
            error: None,
        }))
    };
    app.update(answer("bob"));
    assert_eq!(
        app.data.user_check.as_ref().map(|c| c.error.clone()),
        Some(Some("asking IAM…".into())),
        "an answer for another user is dropped"
    );
    app.update(answer("alice"));
    let rows =
        crate::tui::panes::iam::UserRows(&app.data.iam.data.users, app.data.user_check.as_ref());
    let detail = crate::tui::table::Rows::detail(&rows, 0, now());
    assert!(
        detail
            .iter()
            .any(|(k, v)| *k == "Live check" && v == "≠ active keys: report 0, IAM now 1"),
        "{detail:?}"
    );
    assert_eq!(
        keys(&app),
        ["…5RPI (key 1)", "…Q7ZX (key 2)"],
        "the live check names the keys"
    );
}

/// The screen as text, as a terminal of `width`×`height` shows it.
fn render(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| crate::tui::draw::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| (0..width).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn new_risky_events_and_denial_bursts_mark_the_trail_tab_and_the_timeline() {
    let mut app = app();
    let denied = |id: usize, mins_ago: i64| crate::model::trail::TrailEvent {
        time: now() - jiff::SignedDuration::from_mins(mins_ago),
        user: "probe".into(),
        event_name: "ListSecrets".into(),
        source_ip: "198.51.100.23".into(),
        region: "us-east-1".into(),
        mfa_used: None,
        error: Some("AccessDenied".into()),
        id: Some(format!("d{id}")),
        identity_type: Some("IAMUser".into()),
    };
    let trail = |events: Vec<crate::model::trail::TrailEvent>| {
        Action::Trail(std::sync::Arc::new(crate::model::Feed {
            data: crate::model::trail::TrailSnapshot {
                events,
                ..Default::default()
            },
            health: crate::model::Health::ok(now()),
        }))
    };
    let _dir = open_incident(&mut app);
    app.update(trail(vec![denied(0, 300)]));
    // Looking at the pane clears the count.
    app.update(Action::Command(Command::Pane(7)));
    app.update(Action::Command(Command::Pane(1)));
    assert_eq!(app.trail_news, 0);
    app.effects.clear();
    let burst: Vec<_> = (1..=5).map(|i| denied(i, -(i as i64))).collect();
    app.update(trail(burst.clone()));
    assert_eq!(app.trail_news, 6, "five refusals and their burst");
    let journaled: Vec<String> = app
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(crate::incident::event::Event::Trail { call, risk, .. }) => {
                Some(format!("{risk}: {call}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(journaled.len(), 6, "{journaled:?}");
    assert!(
        journaled
            .last()
            .unwrap()
            .starts_with("burst of access denied: 5 refused calls since"),
        "{journaled:?}"
    );
    let tabs = render(&mut app, 100, 30);
    assert!(tabs.contains("Trail+6"), "{tabs}");
    app.update(Action::Command(Command::Pane(7)));
    assert_eq!(app.trail_news, 0, "seen");
    let pane = render(&mut app, 100, 30);
    assert!(
        pane.contains("AccessDenied bursts (≥5 in 10 min): probe 5×"),
        "{pane}"
    );
    app.effects.clear();
    app.update(trail(burst));
    assert!(app.effects.is_empty(), "a burst is news once");
}

#[test]
fn l_on_a_pod_opens_its_log_view_whose_keys_restart_write_and_close_the_stream() {
    use crate::model::inspect::ObjectKind;
    let mut app = app();
    app.handle_key(key('2'));
    assert_eq!(app.cluster_tab, ClusterTab::Pods);
    let pod = app.data.cluster.data.pods[app.view(TableId::Pods).selected_row().unwrap()].clone();
    app.handle_key(key('l'));
    let request = match app.effects.as_slice() {
        [Effect::Logs { request, .. }] => request.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (
            request.object.kind,
            request.object.name.as_str(),
            request.previous
        ),
        (ObjectKind::Pod, pod.name.as_str(), false)
    );
    assert!(app.logs.is_some() && app.cluster_tab == ClusterTab::Pods);
    app.effects.clear();
    // Raw keys while the view is open: `p` is not the dry-run binding here.
    app.handle_key(key('p'));
    assert!(
        matches!(app.effects.as_slice(), [Effect::Logs { request, .. }] if request.previous),
        "{:?}",
        app.effects
    );
    app.effects.clear();
    app.logs
        .as_ref()
        .unwrap()
        .buffer()
        .push_raw(0, "2026-01-01T00:00:00Z boom");
    app.handle_key(key('w'));
    match app.effects.as_slice() {
        [
            Effect::WriteLogs {
                stem, text, note, ..
            },
        ] => {
            assert_eq!(
                *stem,
                format!("pod-{}-{}-previous", pod.namespace, pod.name)
            );
            assert_eq!(text, "2026-01-01T00:00:00Z boom\n");
            assert!(!note, "no incident open, no timeline note");
        }
        other => panic!("{other:?}"),
    }
    app.effects.clear();
    app.handle_key(key('q'));
    assert!(app.logs.is_none());
    assert_eq!(app.effects, [Effect::StopLogs]);
    assert_eq!(app.pane, Pane::Cluster, "q closed the view only");
}

#[test]
fn logs_command_finds_the_deployment_and_enter_asks_for_the_describe() {
    use crate::model::inspect::ObjectKind;
    let mut app = app();
    let deploy = app.data.cluster.data.deployments[0].clone();
    app.update(Action::Run(format!("logs deploy/{}", deploy.name)));
    match app.effects.as_slice() {
        [Effect::Logs { request, .. }] => {
            assert_eq!(request.object.kind, ObjectKind::Deployment);
            assert_eq!(request.object.namespace, deploy.namespace);
        }
        other => panic!("{other:?}"),
    }
    app.handle_key(key('q'));
    app.effects.clear();
    app.update(Action::Run("logs nope".into()));
    assert!(app.logs.is_none());
    assert!(
        app.message
            .as_ref()
            .is_some_and(|(_, m)| m.contains("no pod nope"))
    );
    app.handle_key(key('2'));
    app.handle_key(special(KeyCode::Enter));
    let object = match app.effects.as_slice() {
        [Effect::Describe(o)] => o.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(object.kind, ObjectKind::Pod);
    app.update(Action::Described {
        object: object.clone(),
        pairs: Ok(vec![(
            "  Last state".into(),
            "Terminated: OOMKilled".into(),
        )]),
    });
    assert!(matches!(&app.described, Some((o, Ok(p))) if *o == object && p.len() == 1));
    app.handle_key(key('y'));
    assert_eq!(app.effects.last(), Some(&Effect::Yaml(object)));
}

/// `waf-block-ip` opens with the clients the WAF blocked or rate-limited most in the last ten
/// minutes, leaving out those an IP set already stops; another playbook's `ip` does not.
#[test]
fn waf_block_ip_offers_the_top_attackers_pre_filled() {
    use crate::model::waf::{BlockedRequest, RuleKind, WafRule, WafSnapshot, WebAcl};
    let mut a = app();
    let blocked = |secs_ago: i64, ip: &str, rule: &str| BlockedRequest {
        time: now() - jiff::SignedDuration::from_secs(secs_ago),
        client_ip: ip.into(),
        country: "KR".into(),
        method: "GET".into(),
        uri: "/".into(),
        rule: rule.into(),
    };
    a.update(Action::Waf(feed(WafSnapshot {
        acls: vec![WebAcl {
            name: "shop-web-acl".into(),
            rules: vec![WafRule {
                name: "blocked-ips".into(),
                kind: RuleKind::IpSet {
                    set: "blocked-ips-v4".into(),
                    addresses: Some(1),
                },
                ..WafRule::default()
            }],
            ..WebAcl::default()
        }],
        recent_blocked: vec![
            blocked(10, "198.51.100.9", "rate-limit-100"),
            blocked(20, "203.0.113.7", "sqli"),
            blocked(30, "203.0.113.7", "sqli"),
            blocked(40, "192.0.2.1", "blocked-ips"),
            blocked(50, "192.0.2.1", "sqli"),
            // Older than ten minutes: yesterday's attacker is not offered.
            blocked(900, "192.0.2.44", "sqli"),
        ],
        ..WafSnapshot::default()
    })));
    a.go(Pane::Playbooks);
    let pick = |a: &App, name: &str| {
        a.data
            .playbooks
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} is shipped"))
    };
    let block = pick(&a, "waf-block-ip");
    a.select(TableId::Playbooks, block);
    a.start_playbook(true);
    let form = a.form.take().expect("the inputs form");
    let ip = form.fields.iter().position(|f| f.label == "ip").unwrap();
    assert_eq!(form.value(ip), "203.0.113.7, 198.51.100.9");
    let unblock = pick(&a, "waf-unblock-ip");
    a.select(TableId::Playbooks, unblock);
    a.start_playbook(true);
    let form = a.form.take().expect("the inputs form");
    let ip = form.fields.iter().position(|f| f.label == "ip").unwrap();
    assert_eq!(
        form.value(ip),
        "",
        "an unblock is not offered the attackers"
    );
}

#[test]
fn c_in_a_multi_container_pods_logs_picks_the_container_from_a_list() {
    let mut app = app();
    app.handle_key(key('2'));
    app.handle_key(key('l'));
    app.effects.clear();
    app.logs.as_ref().unwrap().buffer().containers =
        vec!["app".into(), "istio-proxy".into(), "log-shipper".into()];
    app.handle_key(key('c'));
    assert!(app.effects.is_empty(), "the picker opens; no stream yet");
    let screen = render(&mut app, 80, 24);
    for row in [" 1 ● app", " 2   istio-proxy", " 3   log-shipper"] {
        assert!(screen.contains(row), "{row:?} in\n{screen}");
    }
    app.handle_key(key('j'));
    app.handle_key(key('j'));
    app.handle_key(special(KeyCode::Enter));
    match app.effects.as_slice() {
        [Effect::Logs { request, .. }] => {
            assert_eq!(request.container.as_deref(), Some("log-shipper"))
        }
        other => panic!("{other:?}"),
    }
    app.effects.clear();
    app.logs.as_ref().unwrap().buffer().containers = vec!["app".into(), "istio-proxy".into()];
    app.handle_key(key('c'));
    app.handle_key(special(KeyCode::Esc));
    assert!(app.effects.is_empty(), "Esc keeps the stream");
    assert!(app.logs.is_some(), "Esc closed the picker, not the view");
    app.handle_key(key('c'));
    app.handle_key(key('2'));
    assert!(
        matches!(app.effects.as_slice(),
            [Effect::Logs { request, .. }] if request.container.as_deref() == Some("istio-proxy")),
        "{:?}",
        app.effects
    );
}

#[test]
fn a_detail_taller_than_the_screen_scrolls_to_its_last_line() {
    let mut app = app();
    app.handle_key(key('2'));
    app.handle_key(special(KeyCode::Enter));
    let object = match app.effects.as_slice() {
        [Effect::Describe(o)] => o.clone(),
        other => panic!("{other:?}"),
    };
    let pairs: Vec<(String, String)> = (0..40)
        .map(|i| (format!("  Line {i}"), format!("value {i}")))
        .collect();
    app.update(Action::Described {
        object,
        pairs: Ok(pairs),
    });
    let first = render(&mut app, 80, 24);
    assert!(
        first.contains("value 0") && !first.contains("value 39"),
        "{first}"
    );
    assert!(
        first.contains("more ↓"),
        "the footer says there is more:\n{first}"
    );
    app.handle_key(special(KeyCode::PageDown));
    let paged = render(&mut app, 80, 24);
    assert!(!paged.contains("value 0 "), "{paged}");
    app.handle_key(special(KeyCode::End));
    let last = render(&mut app, 80, 24);
    assert!(
        last.contains("value 39") && last.contains("(0 more ↓)"),
        "{last}"
    );
    app.handle_key(special(KeyCode::Home));
    assert!(render(&mut app, 80, 24).contains("value 0"));
    app.handle_key(key('j'));
    assert!(app.detail.is_some(), "j moves to the next row, popup open");
    assert!(render(&mut app, 80, 24).contains("Esc close"));
}

#[test]
fn an_rpo_breach_goes_on_the_incident_timeline_once() {
    use crate::incident::event::Event;
    use crate::model::backup::{
        Backup, BackupSnapshot, DatabaseBackups, SourceBackups, SourceKind,
    };
    let backups = |age: i64, checked: i64| BackupSnapshot {
        checked: Some(Timestamp::from_second(now().as_second() + checked).unwrap()),
        databases: vec![DatabaseBackups {
            database: "billing-pg".into(),
            rpo_s: 3600,
            sources: vec![SourceBackups::of(
                SourceKind::S3,
                "s3://billing-dumps/pg_dump/".into(),
                [Backup {
                    name: "pg_dump/b.dump".into(),
                    at: Timestamp::from_second(now().as_second() - age).unwrap(),
                    size: Some(1),
                    failed: None,
                }],
            )],
        }],
    };
    let recorded = |app: &App| -> Vec<String> {
        app.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Record(Event::Backup { database, problem }) => {
                    Some(format!("{database}: {problem}"))
                }
                _ => None,
            })
            .collect()
    };
    let mut app = app();
    // Without an incident nothing is journaled.
    app.update(Action::Backups(feed(backups(3000, 0))));
    app.update(Action::Backups(feed(backups(3000, 700))));
    assert!(recorded(&app).is_empty());

    // An incident opened while the breach stands gets it on its timeline, once.
    let _dir = open_incident(&mut app);
    assert_eq!(
        recorded(&app),
        ["billing-pg: newest backup 1 h 1 min old, past the RPO 1 h"]
    );
    app.effects.clear();
    let again = app.data.incident.clone();
    app.update(Action::Incident(again.clone()));
    assert!(recorded(&app).is_empty(), "the same incident again");
    // After a restart the incident already names the breach.
    let mut named = again.unwrap();
    let mut entry = named.entries[0].clone();
    entry.event = Event::Backup {
        database: "billing-pg".into(),
        problem: "newest backup 1 h 1 min old, past the RPO 1 h".into(),
    };
    named.entries.push(entry);
    app.update(Action::Incident(None));
    app.update(Action::Incident(Some(named)));
    assert!(recorded(&app).is_empty(), "already on the timeline");

    app.update(Action::Backups(feed(backups(3000, 0))));
    app.effects.clear();
    app.update(Action::Backups(feed(backups(3000, 700))));
    assert_eq!(
        recorded(&app),
        ["billing-pg: newest backup 1 h 1 min old, past the RPO 1 h"]
    );
    app.effects.clear();
    app.update(Action::Backups(feed(backups(3000, 760))));
    assert!(
        recorded(&app).is_empty(),
        "the same breach is journaled once"
    );
    assert_eq!(
        app.data
            .summary(crate::model::summary::Area::Db)
            .unwrap()
            .level,
        crate::model::Level::Crit
    );
}

#[test]
fn the_incident_pane_says_why_the_team_journal_cannot_be_reached() {
    let mut app = app();
    let _dir = open_incident(&mut app);
    app.team = Some(crate::incident::team::follow::TeamStatus {
        location: "s3://ops-incidents/opsdeck/".into(),
        unreachable: Some((
            now(),
            "s3://ops-incidents: s3:PutObject: InvalidRequest: Bucket is missing ObjectLockConfiguration".into(),
        )),
        waiting: 2,
        ..Default::default()
    });
    app.go(Pane::Incident);
    let screen = render(&mut app, 200, 40);
    assert!(
        screen.contains("team journal unreachable since"),
        "the header says since when:\n{screen}"
    );
    assert!(
        screen.contains("✗ team journal: s3://ops-incidents: s3:PutObject: InvalidRequest: Bucket is missing ObjectLockConfiguration"),
        "the pane says why:\n{screen}"
    );
}

#[test]
fn the_confirmation_says_what_no_does() {
    use crate::playbook::run::Prompt;
    let mut app = app();
    let ask = |optional| Prompt::Confirm {
        step: "raise-min".into(),
        what: "raise hpa shop/web minReplicas to 6".into(),
        optional,
    };
    app.update(Action::Ask(ask(true)));
    let screen = render(&mut app, 80, 24);
    assert!(
        screen.contains("n no (skips this optional step)"),
        "{screen}"
    );
    app.update(Action::Ask(ask(false)));
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("n no (stops the run)"), "{screen}");
}
