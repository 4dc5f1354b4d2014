//! The whole screen: header, pane tabs, the current pane, the footer and any popup.
//! Drawing reads the app and nothing else: no I/O, no state changes.

use super::app::{App, Input, Origin, Pane};
use super::panes;
use super::popups;
use crate::incident::clock::Stage;
use crate::model::Level;
use crate::model::summary::Area;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, app: &App) {
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app);
    draw_tabs(frame, tabs, app);
    panes::draw(frame, body, app);
    draw_footer(frame, footer, app);
    if let Some(view) = &app.logs {
        super::log_view::draw(frame, body, app, view);
    }
    if let Some(table) = app.detail {
        popups::detail(frame, body, app, table);
    }
    if let Some((title, text, scroll)) = &app.plan {
        popups::text(frame, body, app, title, text, *scroll);
    }
    if let Some(scroll) = app.help {
        popups::help(frame, body, app, scroll);
    }
    if let Some(prompt) = &app.prompt {
        popups::prompt(frame, body, app, prompt);
    }
    if let Some(form) = &app.form {
        popups::form(frame, body, app, form);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut left = vec![Span::styled(" opsdeck ", theme.title)];
    match &app.origin {
        Origin::Live { what } => {
            left.push(Span::styled(" LIVE ", theme.title));
            left.push(Span::styled(format!(" {what} "), theme.muted));
        }
        Origin::Drill { seed } => {
            left.push(Span::styled(" DRILL ", theme.banner));
            left.push(Span::styled(format!(" seed {seed} "), theme.muted));
        }
    }
    let cluster = &app.data.cluster.data;
    let context = (!cluster.context.is_empty()).then_some(left.len());
    if context.is_some() {
        left.push(Span::styled(
            format!(" ctx {}", cluster.scope()),
            theme.accent,
        ));
    }
    if let Some(reason) = &app.read_only {
        left.push(Span::styled(" READ-ONLY ", theme.warn));
        left.push(Span::styled(format!("({reason})"), theme.muted));
    }
    let run = app
        .runs_elsewhere()
        .first()
        .map(|run| (left.len(), Span::styled(format!(" ▶ {run}"), theme.accent)));
    if let Some((_, span)) = &run {
        left.push(span.clone());
    }
    let team = app.team.as_ref().and_then(|t| {
        let style = if t.unreachable.is_some() || t.broken.is_some() {
            theme.warn
        } else {
            theme.accent
        };
        let warns = t.unreachable.is_some() || t.broken.is_some();
        Some((left.len(), team_lines(t)?, style, warns))
    });
    if let Some((_, lines, style, _)) = &team {
        left.push(Span::styled(format!(" {}", lines[0]), *style));
    }
    let right = sla_line(app);
    let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let too_wide = |left: &[Span]| width(left) + right.width() + 1 > usize::from(area.width);
    // Short of room, the namespace goes first: the cluster pane's title has it too; then
    // the team line is shortened and another console's run (the incident pane has it) goes.
    if let Some(i) = context
        && width(&left) + right.width() > usize::from(area.width)
    {
        left[i] = Span::styled(format!(" ctx {}", cluster.context), theme.accent);
    }
    if let Some((i, _)) = run
        && too_wide(&left)
    {
        left[i] = Span::raw("");
    }
    if let Some((i, lines, style, warns)) = team {
        for line in &lines[1..] {
            if !too_wide(&left) {
                break;
            }
            left[i] = Span::styled(format!(" {line}"), style);
        }
        // A journal that is not being shared matters more than the context's name.
        if let Some(c) = context
            && warns
            && too_wide(&left)
        {
            left[c] = Span::raw("");
        }
    }
    let [l, r] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right.width() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    frame.render_widget(Paragraph::new(right), r);
}

/// The header's team line, then ever shorter forms of it for narrow terminals (console
/// names without their suffix, then fewer words); `None` when there is nothing to say.
fn team_lines(t: &crate::incident::team::follow::TeamStatus) -> Option<Vec<String>> {
    let line = t.line()?;
    let short = if t.broken.is_some() {
        vec!["team journal damaged".into(), "journal damaged".into()]
    } else if t.unreachable.is_some() {
        vec![
            format!("team S3 unreachable, {} waiting", t.waiting),
            format!("S3 ✗ {} waiting", t.waiting),
        ]
    } else {
        let names = |f: fn(&str) -> &str| {
            t.others
                .iter()
                .map(|o| f(o))
                .collect::<Vec<&str>>()
                .join(", ")
        };
        vec![
            format!("with {}", names(crate::incident::team::user_at_host)),
            format!(
                "with {}",
                names(|o| o.split_once('@').map_or(o, |(u, _)| u))
            ),
            format!("+{}", t.others.len()),
        ]
    };
    Some(std::iter::once(line).chain(short).collect())
}

/// The incident and its SLA countdown, on every screen: colour and words both carry the
/// stage, so it reads on a monochrome terminal.
fn sla_line(app: &App) -> Line<'static> {
    let theme = &app.theme;
    let Some(inc) = app.data.incident.as_deref() else {
        return Line::styled("○ no active incident ", theme.muted);
    };
    // The countdown that runs out first: the RTO when the service has a shorter one.
    let Some(first) = app.countdowns().into_iter().next() else {
        return Line::default();
    };
    let marker = match first.status.stage {
        Stage::Ok => "●",
        Stage::Warn => "!",
        Stage::Breached => "✗",
    };
    Line::from(vec![
        Span::styled(format!("{} ", inc.severity.name()), theme.title),
        Span::styled(
            format!("{marker} {first} "),
            super::panes::incident::stage_style(app, first.status.stage),
        ),
    ])
}

/// `1 Overview 2 Cluster✓ 3 DB! …`: each area's tab carries its level marker.
fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let level = pane_area(*pane)
            .and_then(|a| app.data.summary(a))
            .map(|s| s.level);
        let style = if *pane == app.pane {
            theme.focus
        } else {
            theme.text
        };
        spans.push(Span::styled(format!("{} ", i + 1), theme.muted));
        // Full titles need about 90 columns; below that every tab still fits, abbreviated.
        let title = if area.width >= 90 {
            pane.title()
        } else {
            pane.short()
        };
        spans.push(Span::styled(title, style));
        if *pane == Pane::Trail && app.trail_news > 0 {
            // New risky events since the pane was last looked at.
            spans.push(Span::styled(
                format!("+{}", app.trail_news.min(99)),
                theme.warn,
            ));
        }
        match level {
            Some(l @ (Level::Warn | Level::Crit)) => {
                spans.push(Span::styled(l.marker(), theme.level(l)))
            }
            _ => spans.push(Span::raw(" ")),
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn pane_area(pane: Pane) -> Option<Area> {
    match pane {
        Pane::Cluster => Some(Area::Cluster),
        Pane::Db => Some(Area::Db),
        Pane::Waf => Some(Area::Waf),
        Pane::Alarms => Some(Area::Alarms),
        Pane::Iam => Some(Area::Iam),
        Pane::Trail => Some(Area::Trail),
        Pane::Overview | Pane::Playbooks | Pane::Incident => None,
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    match &app.input {
        Input::Filter(field) => {
            let [prompt, rest] =
                Layout::horizontal([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
            frame.render_widget(Paragraph::new(Span::styled("/", theme.accent)), prompt);
            frame.render_widget(field, rest);
        }
        Input::Command { field, completion } => {
            let [prompt, text, hint] = Layout::horizontal([
                Constraint::Length(1),
                Constraint::Fill(1),
                Constraint::Fill(2),
            ])
            .areas(area);
            frame.render_widget(Paragraph::new(Span::styled(":", theme.accent)), prompt);
            frame.render_widget(field, text);
            if let Some(c) = completion
                && c.candidates.len() > 1
            {
                frame.render_widget(
                    Paragraph::new(Span::styled(c.candidates.join(" "), theme.muted)),
                    hint,
                );
            }
        }
        Input::Idle => {
            let line = if let Some((level, msg)) = &app.message {
                Line::styled(format!("{} {msg}", level.marker()), theme.level(*level))
            } else if let (Some(first), false) = (app.problems.first(), app.problems_acknowledged) {
                let more = app.problems.len() - 1;
                let tail = if more > 0 {
                    format!(" (+{more} more in help)")
                } else {
                    String::new()
                };
                Line::styled(format!("! {}{tail}", first.short()), theme.warn)
            } else {
                hints(app)
            };
            frame.render_widget(Paragraph::new(line), area);
        }
    }
}

fn hints(app: &App) -> Line<'static> {
    use super::action::Command as C;
    let theme = &app.theme;
    let table = app.current_table();
    let filter = &app.view(table).filter;
    let mut spans = Vec::new();
    if !filter.is_empty() {
        spans.push(Span::styled(format!("/{filter} "), theme.accent));
        spans.push(Span::styled(
            format!("({} rows) ", app.view(table).visible.len()),
            theme.muted,
        ));
    }
    let pairs = [
        (C::Help, "help"),
        (C::CommandLine, "cmd"),
        (C::Filter, "filter"),
        (C::Open, "detail"),
        (C::Back, "back"),
    ];
    for (cmd, word) in pairs {
        let keys = app.keymap.keys_of(cmd);
        let key = keys.split(", ").next().unwrap_or_default().to_string();
        spans.push(Span::styled(key, theme.accent));
        spans.push(Span::styled(format!(" {word}  "), theme.muted));
    }
    Line::from(spans)
}
