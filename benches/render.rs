//! Drawing the cluster pane must cost what the screen costs, not what the cluster holds:
//! 10,000 pods should render in about the time 100 do.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use opsdeck::model::Feed;
use opsdeck::sources::sim::large_cluster;
use opsdeck::tui::action::{Action, Command};
use opsdeck::tui::app::{App, Origin};
use opsdeck::tui::data::Data;
use opsdeck::tui::draw::draw;
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::ThemeStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

fn app_with_pods(pods: usize) -> App {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let themes = ThemeStore::new(None);
    let theme = themes.load("default").unwrap();
    let mut app = App::new(
        Origin::Drill { seed: 1 },
        Data::new(vec![], now),
        theme,
        themes,
        Keymap::defaults(),
        now,
    );
    let nodes = (pods / 20).max(3);
    app.update(Action::Cluster(Arc::new(Feed {
        data: large_cluster(nodes, pods, now),
        health: Default::default(),
    })));
    app.update(Action::Command(Command::Pane(2)));
    // At the end, so the visible window is not simply the first rows.
    app.update(Action::Command(Command::Bottom));
    app
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("cluster_pane_160x48");
    for pods in [100, 10_000] {
        let app = app_with_pods(pods);
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(pods), &app, |b, app| {
            b.iter(|| {
                terminal.draw(|f| draw(f, app)).unwrap();
            });
        });
    }
    group.finish();
}

/// One keystroke in the pod filter re-filters every pod: it must stay well under 10 ms.
fn filter_keystroke(c: &mut Criterion) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = app_with_pods(10_000);
    app.update(Action::Command(Command::Filter));
    c.bench_function("filter_keystroke_10000_pods", |b| {
        b.iter(|| {
            app.update(Action::Key(KeyEvent::new(
                KeyCode::Char('u'),
                KeyModifiers::NONE,
            )));
            app.update(Action::Key(KeyEvent::new(
                KeyCode::Backspace,
                KeyModifiers::NONE,
            )));
        });
    });
}

criterion_group!(benches, render, filter_keystroke);
criterion_main!(benches);
