//! A table that renders only the rows on screen. Filtering happens when the filter or the
//! data changes (in `update`), never while drawing, so a frame costs the same for 100 rows
//! as for 10,000.

use super::theme::Theme;
use crate::model::Level;
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell as TableCell, Paragraph, Row, Table};
use std::cell::Cell;

/// What a pane's table knows how to show.
pub trait Rows {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn header(&self) -> &'static [&'static str];
    fn widths(&self) -> &'static [Constraint];
    /// The row's level (drives the marker and colour) and its cells after the marker.
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>);
    /// Label/value pairs for the detail popup.
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)>;

    fn matches(&self, i: usize, needle: &str, now: Timestamp) -> bool {
        self.cells(i, now)
            .1
            .iter()
            .any(|c| contains_ignore_case(c, needle))
    }

    /// How well a row that matches `needle` matches it: rows are shown best first. The
    /// default keeps the data's order.
    fn rank(&self, _i: usize, _needle: &str) -> usize {
        0
    }
}

pub fn contains_ignore_case(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

/// Selection, scroll position and filter of one table.
#[derive(Debug, Default, Clone)]
pub struct TableView {
    pub filter: String,
    /// Indices into the data of the rows that pass the filter.
    pub visible: Vec<usize>,
    /// Position within `visible`.
    pub selected: usize,
    /// Scroll offset and page height are only known while drawing.
    offset: Cell<usize>,
    page: Cell<usize>,
}

impl TableView {
    pub fn refresh(&mut self, rows: &dyn Rows, now: Timestamp) {
        let needle = self.filter.to_lowercase();
        self.visible = (0..rows.len())
            .filter(|&i| needle.is_empty() || rows.matches(i, &needle, now))
            .collect();
        if !needle.is_empty() {
            self.visible
                .sort_by_key(|&i| std::cmp::Reverse(rows.rank(i, &needle)));
        }
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    pub fn selected_row(&self) -> Option<usize> {
        self.visible.get(self.selected).copied()
    }

    pub fn page(&self) -> usize {
        self.page.get().max(1)
    }

    pub fn move_by(&mut self, delta: isize) {
        let last = self.visible.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    pub fn top(&mut self) {
        self.selected = 0;
    }

    pub fn bottom(&mut self) {
        self.selected = self.visible.len().saturating_sub(1);
    }

    /// The first row to show so that the selection stays in view, scrolling as little as
    /// possible (like a pager, not re-centring on every move).
    fn scroll(&self, height: usize) -> usize {
        let mut offset = self.offset.get();
        if self.selected < offset {
            offset = self.selected;
        } else if height > 0 && self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        offset = offset.min(self.visible.len().saturating_sub(height));
        self.offset.set(offset);
        self.page.set(height);
        offset
    }
}

pub struct TableStyle<'a> {
    pub theme: &'a Theme,
    /// A failing source: everything muted.
    pub stale: bool,
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    rows: &dyn Rows,
    view: &TableView,
    now: Timestamp,
    style: &TableStyle,
) {
    let theme = style.theme;
    if view.visible.is_empty() {
        let msg = if view.filter.is_empty() {
            "(nothing here)".to_string()
        } else {
            format!("(no rows match /{})", view.filter)
        };
        let header = Line::from(rows.header().join("  ")).style(theme.title);
        frame.render_widget(
            Paragraph::new(vec![header, Line::styled(msg, theme.muted)]),
            area,
        );
        return;
    }
    let height = area.height.saturating_sub(1) as usize;
    let offset = view.scroll(height);
    let end = (offset + height).min(view.visible.len());
    let body = view.visible[offset..end].iter().enumerate().map(|(n, &i)| {
        let (level, cells) = rows.cells(i, now);
        let (marker_style, text_style) = if offset + n == view.selected {
            (theme.focus, theme.focus)
        } else if style.stale {
            (theme.muted, theme.muted)
        } else if level == Level::Ok {
            (theme.ok, theme.text)
        } else {
            (theme.level(level), theme.level(level))
        };
        let marker = TableCell::from(Span::styled(level.marker(), marker_style));
        Row::new(
            std::iter::once(marker).chain(
                cells
                    .into_iter()
                    .map(|c| TableCell::from(c).style(text_style)),
            ),
        )
        .style(if offset + n == view.selected {
            theme.focus
        } else {
            Style::default()
        })
    });
    let mut widths = Vec::with_capacity(rows.widths().len() + 1);
    widths.push(Constraint::Length(1));
    widths.extend_from_slice(rows.widths());
    let header =
        Row::new(std::iter::once("").chain(rows.header().iter().copied())).style(theme.title);
    let table = Table::new(body, widths)
        .header(header)
        .column_spacing(1)
        .style(Style::default());
    frame.render_widget(table, area);
}
