//! The log view over the cluster pane: follows the end of the stream, pauses when scrolled
//! up (counting the lines below), searches with highlighted matches, toggles wrap,
//! timestamps and the previous container, picks the container, writes the buffer to a file.
//! It takes raw keys while open, so its letters do not clash with the pane's bindings.

use super::app::App;
use super::effects::Effect;
use crate::model::inspect::{LogRequest, ObjectKind};
use crate::model::logs::{LogBuffer, LogLimits, LogState, matches};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui_textarea::TextArea;
use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct LogView {
    pub request: LogRequest,
    pub buffer: Arc<Mutex<LogBuffer>>,
    /// The line number at the bottom of the screen while paused; `None` follows the end.
    pub bottom: Option<u64>,
    pub wrap: bool,
    pub timestamps: bool,
    /// The search being typed after `/`.
    pub typing: Option<TextArea<'static>>,
    pub needle: String,
    /// The line of the current match.
    pub current: Option<u64>,
    /// The container picker (`c` on a pod with several): the highlighted one.
    pub picking: Option<usize>,
    /// Rows the last frame had for lines, for paging.
    rows: Cell<u16>,
}

const KEYS: &str = "Esc · / n N · p previous · c container · t time · W wrap · G end · w write";

impl LogView {
    pub fn new(request: LogRequest, limits: LogLimits) -> LogView {
        LogView {
            request,
            buffer: Arc::new(Mutex::new(LogBuffer::new(limits))),
            bottom: None,
            wrap: false,
            timestamps: false,
            typing: None,
            needle: String::new(),
            current: None,
            picking: None,
            rows: Cell::new(20),
        }
    }

    pub fn buffer(&self) -> MutexGuard<'_, LogBuffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `deploy` or `pod`, as `kubectl logs` names them.
    fn kind_word(&self) -> &'static str {
        match self.request.object.kind {
            ObjectKind::Deployment => "deploy",
            _ => "pod",
        }
    }

    /// A file name for `w`: `pod-shop-user-c-previous`.
    fn file_stem(&self) -> String {
        let o = &self.request.object;
        let kind = self.kind_word();
        let mut stem = format!("{kind}-{}-{}", o.namespace, o.name);
        if let Some(c) = &self.request.container {
            stem.push('-');
            stem.push_str(c);
        }
        if self.request.previous {
            stem.push_str("-previous");
        }
        stem
    }

    fn title(&self) -> String {
        let o = &self.request.object;
        let kind = self.kind_word();
        let mut t = format!("logs {kind} {}/{}", o.namespace, o.name);
        let b = self.buffer();
        if let Some(c) = self.request.container.as_ref().or(b.containers.first()) {
            if b.containers.len() > 1 {
                t.push_str(&format!(
                    " · container {c} (c: pick of {})",
                    b.containers.len()
                ));
            } else {
                t.push_str(&format!(" · container {c}"));
            }
        }
        if self.request.previous {
            t.push_str(" · PREVIOUS container");
        }
        t
    }

    fn scroll(&mut self, by: i64) {
        let (first, total) = {
            let b = self.buffer();
            (b.first(), b.total())
        };
        let Some(last) = total.checked_sub(1) else {
            return;
        };
        let now = self.bottom.unwrap_or(last) as i64;
        let floor = (first + u64::from(self.rows.get()).saturating_sub(1)).min(last);
        let next = (now + by).clamp(floor as i64, last as i64) as u64;
        // Back at the last line is following again.
        self.bottom = (next < last).then_some(next);
    }

    fn find(&mut self, forward: bool) {
        let found = {
            let b = self.buffer();
            let from = self
                .current
                .or(self.bottom.map(|n| n + 1))
                .unwrap_or(b.total());
            b.find(&self.needle, from, forward)
        };
        match found {
            Some(n) => {
                self.current = Some(n);
                let last = self.buffer().total().saturating_sub(1);
                let keep_below = u64::from(self.rows.get() / 3);
                let bottom = (n + keep_below).min(last);
                self.bottom = (bottom < last).then_some(bottom);
            }
            None => self.current = None,
        }
    }
}

impl App {
    /// Opens the log view of `request` and starts its stream.
    pub fn open_logs(&mut self, request: LogRequest) {
        let view = LogView::new(request.clone(), self.log_limits);
        self.effects.push(Effect::Logs {
            request,
            buffer: crate::model::inspect::SharedLog(view.buffer.clone()),
        });
        self.logs = Some(view);
    }

    /// Same view, another stream (previous container, another container).
    fn restart_logs(&mut self, request: LogRequest) {
        if let Some(old) = self.logs.take() {
            let mut view = LogView::new(request.clone(), self.log_limits);
            view.wrap = old.wrap;
            view.timestamps = old.timestamps;
            view.needle = old.needle;
            view.rows = old.rows;
            self.effects.push(Effect::Logs {
                request,
                buffer: crate::model::inspect::SharedLog(view.buffer.clone()),
            });
            self.logs = Some(view);
        }
    }

    pub(super) fn log_key(&mut self, ev: KeyEvent) {
        let Some(view) = self.logs.as_mut() else {
            return;
        };
        if let Some(field) = view.typing.as_mut() {
            match ev.code {
                KeyCode::Esc => view.typing = None,
                KeyCode::Enter => {
                    view.needle = field.lines().concat();
                    view.typing = None;
                    view.current = None;
                    view.find(false);
                    if view.current.is_none() && !view.needle.is_empty() {
                        self.message = Some((
                            crate::model::Level::Warn,
                            format!("no line has \"{}\"", view.needle),
                        ));
                    }
                }
                _ => {
                    field.input(ev);
                }
            }
            return;
        }
        if view.picking.is_some() {
            self.pick_key(ev);
            return;
        }
        let page = i64::from(view.rows.get().max(2) - 1);
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match ev.code {
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Esc | KeyCode::Char('q') => {
                self.logs = None;
                self.effects.push(Effect::StopLogs);
            }
            KeyCode::Up | KeyCode::Char('k') => view.scroll(-1),
            KeyCode::Down | KeyCode::Char('j') => view.scroll(1),
            KeyCode::PageUp | KeyCode::Char('b') => view.scroll(-page),
            KeyCode::PageDown | KeyCode::Char('f') | KeyCode::Char(' ') => view.scroll(page),
            KeyCode::Home | KeyCode::Char('g') => view.scroll(i64::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => view.bottom = None,
            KeyCode::Char('/') => {
                let mut field = TextArea::default();
                field.set_cursor_line_style(Style::default());
                view.typing = Some(field);
            }
            KeyCode::Char('n') => view.find(false),
            KeyCode::Char('N') => view.find(true),
            KeyCode::Char('t') => view.timestamps = !view.timestamps,
            KeyCode::Char('W') => view.wrap = !view.wrap,
            KeyCode::Char('p') => {
                let mut request = view.request.clone();
                request.previous = !request.previous;
                self.restart_logs(request);
            }
            KeyCode::Char('c') => {
                let containers = view.buffer().containers.clone();
                if containers.len() > 1 {
                    view.picking = Some(
                        view.request
                            .container
                            .as_ref()
                            .and_then(|c| containers.iter().position(|x| x == c))
                            .unwrap_or(0),
                    );
                } else {
                    self.message =
                        Some((crate::model::Level::Ok, "this pod has one container".into()));
                }
            }
            KeyCode::Char('w') => {
                let text = view.buffer().render(true);
                self.effects.push(Effect::WriteLogs {
                    stem: view.file_stem(),
                    what: view.title().trim_start_matches("logs ").to_string(),
                    text,
                    note: self.data.incident.is_some(),
                });
            }
            _ => {}
        }
    }
}

impl App {
    /// The container picker's keys: move, Enter or the container's number picks, Esc keeps
    /// the stream as it is.
    fn pick_key(&mut self, ev: KeyEvent) {
        let Some(view) = self.logs.as_mut() else {
            return;
        };
        let containers = view.buffer().containers.clone();
        let Some(at) = view.picking else { return };
        let last = containers.len().saturating_sub(1);
        let chosen = match ev.code {
            KeyCode::Up | KeyCode::Char('k') => {
                view.picking = Some(at.saturating_sub(1));
                None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                view.picking = Some((at + 1).min(last));
                None
            }
            KeyCode::Enter => Some(at),
            KeyCode::Char(d @ '1'..='9') => {
                let n = usize::from(d as u8 - b'1');
                (n <= last).then_some(n)
            }
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('c') => {
                view.picking = None;
                None
            }
            _ => None,
        };
        let Some(n) = chosen else { return };
        view.picking = None;
        let name = containers[n].clone();
        let current = view.request.container.as_ref().or(containers.first());
        if current != Some(&name) {
            let mut request = view.request.clone();
            request.container = Some(name);
            self.restart_logs(request);
        }
    }
}

/// The picker over the log view: one row per container, the stream's own marked.
fn picker(frame: &mut Frame, area: Rect, app: &App, view: &LogView, b: &LogBuffer) {
    let Some(at) = view.picking else { return };
    let current = view.request.container.as_ref().or(b.containers.first());
    let lines: Vec<Line> = b
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mark = if Some(c) == current { "●" } else { " " };
            let style = if i == at {
                app.theme.focus
            } else {
                app.theme.text
            };
            Line::styled(format!(" {} {mark} {c}", i + 1), style)
        })
        .collect();
    let width = lines.iter().map(Line::width).max().unwrap_or(0).max(30) as u16 + 4;
    let popup = super::popups::centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border)
        .title(Span::styled(" container ", app.theme.title))
        .title_bottom(Span::styled(" j/k · Enter or 1-9 · Esc ", app.theme.muted));
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", n.div_ceil(1024))
    }
}

/// The status line: stream state, follow or paused, what is kept and what was dropped.
fn status_line(app: &App, view: &LogView, b: &LogBuffer) -> Line<'static> {
    let theme = &app.theme;
    let mut spans = Vec::new();
    let (word, style) = match &b.state {
        LogState::Connecting => ("connecting…".to_string(), theme.muted),
        LogState::Following if view.request.previous => ("read".to_string(), theme.ok),
        LogState::Following => ("● following".to_string(), theme.ok),
        LogState::Reconnecting(why) => (format!("↻ reconnecting: {why}"), theme.warn),
        LogState::Ended(why) => (format!("■ {why}"), theme.warn),
        LogState::Failed(why) => (format!("✗ {why}"), theme.crit),
    };
    spans.push(Span::styled(word, style));
    if let Some(bottom) = view.bottom {
        let below = b.total().saturating_sub(bottom + 1);
        spans.push(Span::styled(
            format!(" · PAUSED: {below} new lines below (G follows)"),
            theme.warn,
        ));
    }
    let (dropped, dropped_bytes) = b.dropped();
    spans.push(Span::styled(
        format!(
            " · {} lines, {} kept",
            b.len(),
            human_bytes(b.bytes() as u64)
        ),
        theme.muted,
    ));
    if dropped > 0 {
        spans.push(Span::styled(
            format!(
                " · {dropped} older lines ({}) dropped",
                human_bytes(dropped_bytes)
            ),
            theme.warn,
        ));
    }
    if !view.needle.is_empty() {
        spans.push(Span::styled(format!(" · /{}", view.needle), theme.accent));
    }
    Line::from(spans)
}

/// One log line with its time and pod prefix as toggled, search matches highlighted.
fn line<'a>(app: &App, view: &LogView, b: &LogBuffer, n: u64) -> Line<'a> {
    let theme = &app.theme;
    let Some(l) = b.get(n) else {
        return Line::default();
    };
    let mut spans = Vec::new();
    if view.timestamps
        && let Some(at) = l.at
    {
        spans.push(Span::styled(format!("{at} "), theme.muted));
    }
    if b.sources.len() > 1 {
        spans.push(Span::styled(
            format!("[{}] ", b.sources[usize::from(l.source)]),
            theme.accent,
        ));
    }
    let text: &str = &l.text;
    let hit = theme.accent.add_modifier(Modifier::REVERSED);
    let current = view.current == Some(n);
    let base = if current {
        theme.text.add_modifier(Modifier::BOLD)
    } else {
        theme.text
    };
    let mut at = 0;
    for (s, e) in matches(text, &view.needle) {
        spans.push(Span::styled(text[at..s].to_string(), base));
        spans.push(Span::styled(text[s..e].to_string(), hit));
        at = e;
    }
    spans.push(Span::styled(text[at..].to_string(), base));
    Line::from(spans)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &LogView) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border)
        .title(Span::styled(format!(" {} ", view.title()), app.theme.title))
        .title_bottom(Span::styled(format!(" {KEYS} "), app.theme.muted));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let b = view.buffer();
    let status_text = status_line(app, view, &b);
    // A long reason (a 403's message) wraps onto a second row rather than being cut.
    let status_rows = if status_text.width() > usize::from(inner.width) {
        2
    } else {
        1
    };
    let [status, body, search] = Layout::vertical([
        Constraint::Length(status_rows),
        Constraint::Fill(1),
        Constraint::Length(u16::from(view.typing.is_some())),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(status_text).wrap(Wrap { trim: false }),
        status,
    );
    view.rows.set(body.height);
    if let Some(field) = &view.typing {
        let [label, input] =
            Layout::horizontal([Constraint::Length(1), Constraint::Fill(1)]).areas(search);
        frame.render_widget(Paragraph::new("/"), label);
        frame.render_widget(field, input);
    }
    let Some(last) = b.total().checked_sub(1) else {
        let empty = match &b.state {
            LogState::Connecting => "waiting for the first line…",
            _ => "no lines",
        };
        frame.render_widget(Paragraph::new(Span::styled(empty, app.theme.muted)), body);
        picker(frame, area, app, view, &b);
        return;
    };
    let bottom = view.bottom.unwrap_or(last).min(last);
    let width = usize::from(body.width.max(1));
    // From the bottom line up until the rows are full (a wrapped line takes several).
    let mut lines = Vec::new();
    let mut used = 0usize;
    let mut n = bottom;
    loop {
        if n < b.first() || used >= usize::from(body.height) {
            break;
        }
        let l = line(app, view, &b, n);
        used += if view.wrap {
            l.width().max(1).div_ceil(width)
        } else {
            1
        };
        lines.push(l);
        if n == 0 {
            break;
        }
        n -= 1;
    }
    lines.reverse();
    // An overfull wrapped top line is cut at the top, so the bottom line stays in view.
    let overflow = used.saturating_sub(usize::from(body.height)) as u16;
    let mut paragraph = Paragraph::new(lines).scroll((overflow, 0));
    if view.wrap {
        paragraph = paragraph.wrap(Wrap { trim: false });
    }
    frame.render_widget(paragraph, body);
    picker(frame, area, app, view, &b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::inspect::ObjectRef;

    fn view(lines: usize) -> LogView {
        let v = LogView::new(
            LogRequest {
                object: ObjectRef {
                    kind: ObjectKind::Pod,
                    namespace: "shop".into(),
                    name: "user-c".into(),
                },
                container: None,
                previous: false,
            },
            LogLimits::default(),
        );
        for i in 0..lines {
            v.buffer().push_raw(0, &format!("line {i}"));
        }
        v
    }

    #[test]
    fn scrolling_up_pauses_and_the_end_follows_again() {
        let mut v = view(100);
        v.rows.set(10);
        v.scroll(-5);
        assert_eq!(v.bottom, Some(94));
        v.scroll(-1000);
        assert_eq!(v.bottom, Some(9), "the first screen stays full");
        v.scroll(1000);
        assert_eq!(v.bottom, None);
    }

    #[test]
    fn search_goes_to_the_latest_match_then_older_ones() {
        let mut v = view(100);
        v.needle = "line 5".into();
        v.find(false);
        assert_eq!(v.current, Some(59));
        v.find(false);
        assert_eq!(v.current, Some(58));
        v.find(true);
        assert_eq!(v.current, Some(59));
        assert!(v.bottom.is_some(), "a match up the log pauses the follow");
    }
}
