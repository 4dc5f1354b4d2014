//! Popups drawn over the pane: row detail and help.

use super::app::App;
use super::panes::{self, TableId};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

fn frame_block<'a>(app: &App, title: &'a str, footer: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border)
        .title(Span::styled(format!(" {title} "), app.theme.title))
        .title_bottom(Span::styled(format!(" {footer} "), app.theme.muted))
}

pub fn detail(frame: &mut Frame, area: Rect, app: &App, table: TableId) {
    let Some(i) = app.view(table).selected_row() else {
        return;
    };
    let rows = panes::rows(table, &app.data);
    if i >= rows.len() {
        return;
    }
    let pairs = rows.detail(i, app.now);
    let label_width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let lines: Vec<Line> = pairs
        .into_iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:>label_width$}  "), app.theme.muted),
                Span::styled(v, app.theme.text),
            ])
        })
        .collect();
    let popup = centered(
        area,
        area.width.saturating_sub(4).min(100),
        lines.len() as u16 + 2,
    );
    frame.render_widget(Clear, popup);
    let block = frame_block(app, "detail", "Esc close · j/k next row");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}

pub fn help(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let theme = &app.theme;
    let mut lines = Vec::new();
    if !app.problems.is_empty() {
        lines.push(Line::styled(
            "Problems in your files (defaults used instead)",
            theme.warn,
        ));
        for p in &app.problems {
            for text in p.to_string().lines() {
                lines.push(Line::styled(format!("  {text}"), theme.warn));
            }
        }
        lines.push(Line::default());
    }
    lines.push(Line::styled(
        "Keys (from the keymap; override in <config dir>/keymap.toml)",
        theme.title,
    ));
    for (keys, what) in app.keymap.help() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {keys:<18}"), theme.accent),
            Span::styled(what, theme.text),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::styled(
        "Commands (after :, Tab completes)",
        theme.title,
    ));
    lines.push(Line::styled(
        format!("  {}", super::commands::WORDS.join(" ")),
        theme.text,
    ));
    lines.push(Line::styled(
        "  theme NAME   switch colours: default light high-contrast mono",
        theme.text,
    ));
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, area.width.saturating_sub(4).min(90), height);
    let visible = height.saturating_sub(2) as usize;
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    frame.render_widget(Clear, popup);
    let block = frame_block(app, "help", "j/k scroll · Esc close");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        popup,
    );
}
