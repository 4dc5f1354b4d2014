//! Popups drawn over the pane: row detail and help.

use super::app::App;
use super::forms::Form;
use super::panes::{self, TableId};
use crate::playbook::run::Prompt;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use std::cell::Cell;

/// How far a popup taller than the screen is scrolled; each frame records how far it can go
/// and how many rows a page is, so the keys never scroll past the end.
#[derive(Debug, Default)]
pub struct PopupScroll {
    at: usize,
    max: Cell<usize>,
    page: Cell<usize>,
}

impl PopupScroll {
    pub fn by(&mut self, pages: isize) {
        let step = pages * self.page.get().max(1) as isize;
        self.at = self.at.saturating_add_signed(step).min(self.max.get());
    }

    pub fn top(&mut self) {
        self.at = 0;
    }

    pub fn bottom(&mut self) {
        self.at = self.max.get();
    }

    /// The first line to show, given what fits this frame.
    fn frame(&self, lines: usize, visible: usize) -> usize {
        let max = lines.saturating_sub(visible);
        self.max.set(max);
        self.page.set(visible.saturating_sub(1));
        self.at.min(max)
    }
}

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
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
    let mut pairs: Vec<(String, String)> = rows
        .detail(i, app.now)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    // Pods, nodes and Deployments: what `kubectl describe` puts first, and their events.
    if let Some((object, described)) = &app.described {
        match described {
            Ok(more) => pairs.extend(more.iter().cloned()),
            Err(why) => pairs.push(("Describe".into(), why.clone())),
        }
        let events = app.events_of(object);
        if events.is_empty() {
            pairs.push((
                "Events".into(),
                "none among the watched Warning events".into(),
            ));
        }
        for e in events.into_iter().take(5) {
            pairs.push((
                format!("Event {}", crate::model::age(e.last_seen, app.now)),
                format!("{} ×{}: {}", e.reason, e.count, e.message),
            ));
        }
    }
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
    let width = area.width.saturating_sub(4).min(100);
    // Long values wrap: the popup grows by the lines they wrap onto, and scrolls when it
    // would not fit (a pod's containers and events at 80×24).
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let height: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let popup = centered(area, width, u16::try_from(height + 2).unwrap_or(u16::MAX));
    let visible = usize::from(popup.height.saturating_sub(2));
    let first = app.detail_scroll.frame(height, visible);
    let footer = if height > visible {
        let below = height - visible - first;
        format!("Esc close · j/k row · pgup/pgdn scroll ({below} more ↓) · y YAML · l logs")
    } else {
        "Esc close · j/k next row · y YAML · l logs".to_string()
    };
    frame.render_widget(Clear, popup);
    let block = frame_block(app, "detail", &footer);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(first).unwrap_or(u16::MAX), 0)),
        popup,
    );
}

/// Everything help shows: problems in the user's files first, then keys, then commands.
pub fn help_lines(app: &App) -> Vec<Line<'static>> {
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
    lines
}

pub fn help(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let lines = help_lines(app);
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

/// Scrollable text, such as a dry-run.
pub fn text(frame: &mut Frame, area: Rect, app: &App, title: &str, text: &str, scroll: usize) {
    let width = area.width.saturating_sub(2);
    let lines: Vec<Line> = super::wrap::wrap(text, width.saturating_sub(2) as usize)
        .into_iter()
        .map(|l| Line::styled(l, app.theme.text))
        .collect();
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, width, height);
    let visible = height.saturating_sub(2) as usize;
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    frame.render_widget(Clear, popup);
    let block = frame_block(app, title, "j/k scroll · Esc close");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        popup,
    );
}

/// A yes/no question from the running playbook.
pub fn prompt(frame: &mut Frame, area: Rect, app: &App, prompt: &Prompt) {
    let mut no = " no (stops the run)";
    let (title, text) = match prompt {
        Prompt::Confirm {
            step,
            what,
            optional,
        } => {
            if *optional {
                no = " no (skips this optional step)";
            }
            (format!("confirm step {step}"), format!("{what}?"))
        }
        Prompt::Manual { step, text } => {
            (format!("checklist step {step}"), format!("{text} — done?"))
        }
        Prompt::TypeTarget { what, .. } | Prompt::Override { why: what, .. } => {
            ("question".into(), what.clone())
        }
    };
    let lines = vec![
        Line::styled(text, app.theme.warn),
        Line::default(),
        Line::from(vec![
            Span::styled("y", app.theme.accent),
            Span::styled(" yes   ", app.theme.muted),
            Span::styled("n", app.theme.accent),
            Span::styled(no, app.theme.muted),
        ]),
    ];
    let popup = centered(area, area.width.saturating_sub(4).min(90), 6);
    frame.render_widget(Clear, popup);
    let block = frame_block(app, &title, "y / n");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}

pub fn form(frame: &mut Frame, area: Rect, app: &App, form: &Form) {
    let theme = &app.theme;
    let width = area.width.saturating_sub(4).min(100);
    let height =
        (form.fields.len() as u16 * 2 + 3 + u16::from(form.error.is_some())).min(area.height);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = frame_block(
        app,
        &form.title,
        "Tab next · Enter next/submit · Esc cancel",
    );
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let label_width = form.fields.iter().map(|f| f.label.len()).max().unwrap_or(0) as u16 + 2;
    for (i, f) in form.fields.iter().enumerate() {
        let y = inner.y + i as u16 * 2;
        if y + 1 >= inner.y + inner.height {
            break;
        }
        let focused = i == form.focus;
        let label = Rect {
            x: inner.x,
            y,
            width: label_width,
            height: 1,
        };
        let input = Rect {
            x: inner.x + label_width,
            y,
            width: inner.width.saturating_sub(label_width),
            height: 1,
        };
        let hint = Rect {
            x: inner.x + label_width,
            y: y + 1,
            width: inner.width.saturating_sub(label_width),
            height: 1,
        };
        let style = if focused { theme.focus } else { theme.title };
        frame.render_widget(
            Paragraph::new(Span::styled(format!("{}:", f.label), style)),
            label,
        );
        frame.render_widget(&f.text, input);
        frame.render_widget(
            Paragraph::new(Span::styled(f.hint.clone(), theme.muted)),
            hint,
        );
    }
    if let Some(err) = &form.error {
        let y = inner.y + inner.height.saturating_sub(1);
        frame.render_widget(
            Paragraph::new(Span::styled(format!("✗ {err}"), theme.crit)),
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
    }
}
