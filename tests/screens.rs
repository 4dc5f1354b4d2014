//! Full-screen snapshots of every pane at 80×24 and 160×48, from a fixed seed and clock.
//! Review changes with `cargo insta review`.

use jiff::Timestamp;
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Event, Milestone, Severity, Who};
use opsdeck::model::{Feed, Health};
use opsdeck::sources::sim::World;
use opsdeck::tui::action::{Action, Command};
use opsdeck::tui::app::{App, Origin};
use opsdeck::tui::data::Data;
use opsdeck::tui::draw::draw;
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::ThemeStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use std::sync::Arc;

const SEED: u64 = 42;

fn start() -> Timestamp {
    "2026-11-22T03:00:00Z".parse().unwrap()
}

fn app(theme: &str) -> App {
    let mut world = World::new(SEED, start());
    world.step(300);
    let now = world.now();
    let feed = |_| Health::ok(now);
    let themes = ThemeStore::new(None);
    let theme = themes.load(theme).unwrap();
    let playbooks = opsdeck::playbook::catalog::load(None);
    let mut app = App::new(
        Origin::Drill { seed: SEED },
        Data::new(playbooks, now),
        theme,
        themes,
        Keymap::defaults(),
        now,
    );
    app.update(Action::Cluster(Arc::new(Feed {
        data: world.cluster(),
        health: feed(()),
    })));
    app.update(Action::Db(Arc::new(Feed {
        data: world.db(),
        health: feed(()),
    })));
    app.update(Action::Waf(Arc::new(Feed {
        data: world.waf(),
        health: feed(()),
    })));
    app.update(Action::Alarms(Arc::new(Feed {
        data: world.alarms(),
        health: feed(()),
    })));
    app.update(Action::Iam(Arc::new(Feed {
        data: world.iam(),
        health: feed(()),
    })));
    app.update(Action::Trail(Arc::new(Feed {
        data: world.trail(),
        health: feed(()),
    })));
    app.update(Action::Backups(Arc::new(Feed {
        data: world.backups(),
        health: feed(()),
    })));
    app
}

fn render(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An incident opened 95 minutes before the screen's clock: the SLA is at WARN.
fn incident() -> Action {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(
        dir.path(),
        Who {
            user: "kim".into(),
            from: Some("198.51.100.4".into()),
        },
    )
    .unwrap();
    let now = start() + jiff::SignedDuration::from_secs(300);
    let opened = now - jiff::SignedDuration::from_mins(95);
    let new = NewIncident {
        title: "Checkout fails: MariaDB primary down".into(),
        severity: Severity::Sev1,
        alarm: Some("MariaDBPrimaryDown".into()),
        detected_at: Some(opened - jiff::SignedDuration::from_mins(2)),
        recognised: None,
        drill: None,
    };
    desk.open_incident(new, opened).unwrap();
    desk.milestone(
        Milestone::Acknowledged,
        opened + jiff::SignedDuration::from_mins(4),
    )
    .unwrap();
    desk.record(
        Event::Note {
            text: "DBA paged".into(),
        },
        opened + jiff::SignedDuration::from_mins(6),
    )
    .unwrap();
    Action::Incident(desk.active().cloned().map(Box::new))
}

/// Every screen the console has: each pane, each section, and the popups.
fn screens() -> Vec<(&'static str, Vec<Action>)> {
    let cmd = |c| Action::Command(c);
    let run = |s: &str| Action::Run(s.to_string());
    vec![
        ("overview", vec![]),
        ("cluster-nodes", vec![run("nodes")]),
        ("cluster-deployments", vec![run("deploy")]),
        ("cluster-pods", vec![run("pods")]),
        ("cluster-hpa", vec![run("hpa")]),
        ("cluster-pdb", vec![run("pdb")]),
        ("cluster-events", vec![run("events")]),
        ("db", vec![cmd(Command::Pane(3))]),
        ("db-detail", vec![cmd(Command::Pane(3)), cmd(Command::Open)]),
        ("waf", vec![cmd(Command::Pane(4))]),
        ("alarms", vec![cmd(Command::Pane(5))]),
        ("iam-users", vec![cmd(Command::Pane(6))]),
        ("iam-findings", vec![run("findings")]),
        ("trail", vec![cmd(Command::Pane(7))]),
        ("playbooks", vec![cmd(Command::Pane(8))]),
        ("incident-none", vec![cmd(Command::Pane(9))]),
        ("incident-open", vec![incident(), cmd(Command::Pane(9))]),
        (
            "incident-header-on-db",
            vec![incident(), cmd(Command::Pane(3))],
        ),
        ("help", vec![cmd(Command::Help)]),
        ("pod-detail", vec![run("pods"), cmd(Command::Open)]),
    ]
}

#[test]
fn every_screen_at_80x24_and_160x48() {
    for (width, height) in [(80, 24), (160, 48)] {
        for (name, actions) in screens() {
            let mut app = app("default");
            for a in actions {
                app.update(a);
            }
            let screen = text(&render(&app, width, height));
            insta::assert_snapshot!(format!("{name}-{width}x{height}"), screen);
        }
    }
}

#[test]
fn mono_screens_carry_no_colour() {
    for (name, actions) in screens() {
        let mut app = app("mono");
        for a in actions {
            app.update(a);
        }
        let buf = render(&app, 80, 24);
        for cell in buf.content() {
            assert!(
                matches!(cell.fg, Color::Reset),
                "{name}: coloured cell {cell:?}"
            );
            assert!(
                matches!(cell.bg, Color::Reset),
                "{name}: coloured cell {cell:?}"
            );
        }
        if name == "overview" {
            insta::assert_snapshot!("overview-mono-80x24", text(&buf));
        }
    }
}

/// The backup lines take the theme's roles: billing's dump, near its RPO in the drill,
/// is drawn in the warn colour, the shop's fresh Velero backup in the ok colour.
#[test]
fn backup_lines_are_coloured_by_how_close_they_are_to_the_rpo() {
    let app = app("default");
    let buf = render(&app, 80, 24);
    let style_of = |needle: &str| {
        let y = (0..buf.area.height)
            .find(|&y| text_of_row(&buf, y).contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{}", text(&buf)));
        let row = text_of_row(&buf, y);
        let x = row.find("newest backup").unwrap();
        let x = row[..x].chars().count() as u16;
        buf[(x, y)].fg
    };
    assert_eq!(style_of("billing-pg"), app.theme.warn.fg.unwrap());
    assert_eq!(style_of("shop-mariadb  "), app.theme.ok.fg.unwrap());
}

#[test]
fn a_failing_source_greys_its_pane_and_keeps_the_data() {
    let mut app = app("default");
    let db = app.data.db.data.clone();
    let last_ok = app
        .now
        .checked_sub(jiff::SignedDuration::from_secs(42))
        .unwrap();
    app.update(Action::Db(Arc::new(Feed {
        data: db,
        health: Health {
            last_ok: Some(last_ok),
            last_error: Some("connection refused".into()),
            off: None,
        },
    })));
    app.update(Action::Command(Command::Pane(3)));
    let buf = render(&app, 80, 24);
    let screen = text(&buf);
    assert!(
        screen.contains("✗ CRIT DB — last update 42s ago — connection refused"),
        "{screen}"
    );
    assert!(
        screen.contains("mariadb-1"),
        "last data still shown:\n{screen}"
    );
    // The member rows are drawn in the muted role, not their usual colours.
    let muted = app.theme.muted.fg.unwrap();
    let row = (0..24)
        .find(|&y| text_of_row(&buf, y).contains("mariadb-1  replica"))
        .unwrap();
    assert_eq!(buf[(5, row)].fg, muted);
}

#[test]
fn an_unconfigured_area_is_off_not_failing() {
    let mut app = app("default");
    app.update(Action::Waf(Arc::new(Feed {
        data: Default::default(),
        health: Health {
            off: Some("add a WAF".into()),
            ..Health::default()
        },
    })));
    let screen = text(&render(&app, 80, 24));
    let lines: Vec<&str> = screen.lines().collect();
    assert!(lines[1].contains("4 WAF  5"), "no trouble mark:\n{screen}");
    assert!(
        screen.contains("- OFF   WAF      not configured\n               └ add a WAF"),
        "{screen}"
    );
    assert!(!app.needs_tick(), "nothing to count up while idle");

    app.update(Action::Command(Command::Pane(4)));
    let buf = render(&app, 80, 24);
    let screen = text(&buf);
    assert!(
        screen.contains(" OFF WAF — not configured: add a WAF"),
        "{screen}"
    );
    let row = (0..24)
        .find(|&y| text_of_row(&buf, y).contains("OFF WAF"))
        .unwrap();
    assert_eq!(buf[(2, row)].fg, app.theme.muted.fg.unwrap());
}

#[test]
fn a_dry_run_wraps_instead_of_cutting_what_it_would_call() {
    let mut app = app("default");
    let call = "STOP SLAVE; SET GLOBAL read_only=ON; CHANGE MASTER TO MASTER_HOST='mariadb-1.mariadb.db.svc', MASTER_PORT=3306, MASTER_USE_GTID=slave_pos; START SLAVE";
    app.update(Action::Show {
        title: "dry run".into(),
        text: format!("DRY RUN x\n 6. repoint\n      → SQL mariadb-0: {call}"),
    });
    let screen = text(&render(&app, 80, 24));
    let shown: String = screen
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(shown.contains(call), "{screen}");
}

fn text_of_row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

#[test]
fn everything_fits_at_80x24_without_overlap() {
    for (name, actions) in screens() {
        let mut app = app("default");
        for a in actions {
            app.update(a);
        }
        let screen = text(&render(&app, 80, 24));
        let lines: Vec<&str> = screen.lines().collect();
        assert!(lines[0].contains("DRILL"), "{name}: header lost:\n{screen}");
        assert!(
            lines[1].contains("9 Incident"),
            "{name}: tabs cut:\n{screen}"
        );
        assert!(lines[23].contains("help"), "{name}: footer lost:\n{screen}");
    }
}

/// ModSecurity's audit log (`SecAuditEngine RelevantOnly`) holds only flagged requests: what
/// it let through is no allowed rate, and the pane and the overview do not call it one.
#[test]
fn modsecurity_passed_requests_read_flagged_not_allowed() {
    let mut app = app("default");
    let mut waf = app.data.waf.data.clone();
    waf.passed = opsdeck::model::waf::Passed::Flagged;
    app.update(Action::Waf(Arc::new(Feed {
        data: waf,
        health: Health::ok(app.now),
    })));
    app.update(Action::Command(Command::Pane(4)));
    let screen = text(&render(&app, 80, 24));
    let rates = screen
        .lines()
        .find(|l| l.contains("/min") && l.contains("passed"))
        .unwrap_or_else(|| panic!("no flagged line:\n{screen}"));
    assert!(rates.contains("flagged, passed "), "{rates}");
    assert!(
        !screen
            .lines()
            .any(|l| l.contains("allowed ") && l.contains("/min")),
        "{screen}"
    );
    insta::assert_snapshot!("waf-modsecurity-80x24", screen);
    app.update(Action::Command(Command::Pane(1)));
    let overview = text(&render(&app, 160, 48));
    assert!(overview.contains("/min flagged, passed · "), "{overview}");
}

/// The region-outage drill's overview: under Cluster, one line per region, Seoul CRIT (its
/// health check fails while it takes half the traffic) with its problem under it, us-east OK.
#[test]
fn the_overview_shows_each_region_under_cluster() {
    let mut app = app("default");
    let mut world = World::new(SEED, start());
    world.show_regions();
    world.step(300);
    world
        .inject(&opsdeck::sources::sim::Fault::RegionOutage {
            region: "seoul".into(),
        })
        .unwrap();
    app.update(Action::Regions(Arc::new(Feed {
        data: world.regions(),
        health: Health::ok(app.now),
    })));
    let screen = text(&render(&app, 80, 24));
    let seoul = screen
        .lines()
        .find(|l| l.contains("seoul") && l.contains("weight"))
        .unwrap_or_else(|| panic!("no seoul line:\n{screen}"));
    assert!(
        seoul.contains("✗ seoul      weight 50 (50 %) · health ✗"),
        "{seoul}"
    );
    assert!(
        screen.contains("└ region seoul: health check failing while it takes traffic"),
        "{screen}"
    );
    insta::assert_snapshot!("overview-regions-80x24", screen);
    let wide = text(&render(&app, 160, 48));
    assert!(
        wide.lines()
            .any(|l| l.contains("✓ us-east    weight 50 (50 %) · health ✓ · ttl 60 s · nodes 3/3")),
        "{wide}"
    );
    insta::assert_snapshot!("overview-regions-160x48", wide);
}
