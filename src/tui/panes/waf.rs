//! WAF: the web ACL's rules, allowed vs blocked over the last hour, who is blocked and why.

use super::super::app::App;
use super::super::table::Rows;
use super::{TableId, draw_table, health_banner, split_top};
use crate::model::summary::Area;
use crate::model::waf::{BlockedRequest, Count};
use crate::model::{Level, age};
use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table};

pub struct BlockedRows<'a>(pub &'a [BlockedRequest]);

impl Rows for BlockedRows<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn header(&self) -> &'static [&'static str] {
        &["AGE", "CLIENT IP", "CC", "REQUEST", "RULE"]
    }
    fn widths(&self) -> &'static [Constraint] {
        &[
            Constraint::Length(4),
            Constraint::Length(15),
            Constraint::Length(2),
            Constraint::Fill(3),
            Constraint::Fill(2),
        ]
    }
    fn cells(&self, i: usize, now: Timestamp) -> (Level, Vec<String>) {
        let r = &self.0[i];
        (
            Level::Ok,
            vec![
                age(r.time, now),
                r.client_ip.clone(),
                r.country.clone(),
                format!("{} {}", r.method, r.uri),
                r.rule.clone(),
            ],
        )
    }
    fn detail(&self, i: usize, now: Timestamp) -> Vec<(&'static str, String)> {
        let r = &self.0[i];
        vec![
            ("Time", format!("{} ({} ago)", r.time, age(r.time, now))),
            ("Client IP", r.client_ip.clone()),
            ("Country", r.country.clone()),
            ("Request", format!("{} {}", r.method, r.uri)),
            ("Blocked by", r.rule.clone()),
        ]
    }
}

fn counts<'a>(title: &'a str, items: &'a [Count], rows: usize, app: &App) -> Vec<Line<'a>> {
    let mut lines = vec![Line::styled(title, app.theme.title)];
    lines.extend(
        items
            .iter()
            .take(rows)
            .map(|c| Line::from(format!("{:>6} {}", c.count, c.key))),
    );
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (area, stale) = health_banner(frame, area, app, Area::Waf);
    let theme = &app.theme;
    let waf = &app.data.waf.data;
    let mut rows: Vec<Row> = Vec::new();
    for acl in &waf.acls {
        rows.push(Row::new([
            Cell::from(Span::styled(acl.name.clone(), theme.title)),
            Cell::from(Span::styled(
                format!("{} · default {}", acl.scope, acl.default_action),
                theme.muted,
            )),
        ]));
        for r in &acl.rules {
            rows.push(Row::new([
                Cell::from(Span::styled(
                    format!("{:>3} {}", r.priority, r.name),
                    theme.text,
                )),
                Cell::from(Line::from(vec![
                    Span::styled(format!("{:<6} ", r.action), theme.accent),
                    Span::styled(r.describe(), theme.muted),
                    Span::styled(
                        r.blocked
                            .map(|n| format!(" · {n} blocked/h"))
                            .unwrap_or_default(),
                        theme.warn,
                    ),
                ])),
            ]));
        }
    }
    if waf.acls.is_empty() {
        rows.push(Row::new([Cell::from(Span::styled(
            "! no web ACL protects this site",
            theme.warn,
        ))]));
    }
    let (top, rest) = split_top(area, rows.len() as u16);
    frame.render_widget(
        Table::new(rows, [Constraint::Length(41), Constraint::Fill(1)]),
        top,
    );

    let (rates, rest) = split_top(rest, 2);
    draw_rates(frame, rates, app);

    let (tops, table) = split_top(rest, 5);
    let (tops, source) = split_top(tops, 4);
    if let Some(from) = &waf.requests_from {
        frame.render_widget(
            Paragraph::new(Line::styled(format!("requests from {from}"), theme.muted)),
            source,
        );
    }
    let [ips, rules] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(tops);
    frame.render_widget(
        Paragraph::new(counts("Top blocked IPs", &waf.top_ips, 3, app)),
        ips,
    );
    frame.render_widget(
        Paragraph::new(counts("Top blocking rules", &waf.top_rules, 3, app)),
        rules,
    );
    draw_table(frame, table, app, TableId::WafBlocked, stale);
}

/// Two sparklines over the same minutes: allowed on top, blocked below, with the last values.
fn draw_rates(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let waf = &app.data.waf.data;
    if waf.rates.is_empty() {
        // Live AWS WAF has its ACLs but no request metrics yet: no rate rather than 0/min.
        frame.render_widget(
            Paragraph::new(Line::styled("request rates: not read", theme.muted)),
            area,
        );
        return;
    }
    let last = waf.rates.last().copied().unwrap_or_default();
    let surge = waf.surge();
    let passed = waf.passed.label();
    // "allowed" fits the drill's column; the longer words take what they need.
    let label_width = 24.max(passed.len() as u16 + 13);
    let [labels, graphs] =
        Layout::horizontal([Constraint::Length(label_width), Constraint::Fill(1)]).areas(area);
    let blocked_style: Style = if surge.is_some() {
        theme.crit
    } else {
        theme.warn
    };
    let blocked_label = match surge {
        Some(_) => format!("✗ SURGE {:>6}/min", last.blocked),
        None => format!("blocked {:>7}/min", last.blocked),
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(format!("{passed} {:>7}/min", last.allowed), theme.ok),
            Line::styled(blocked_label, blocked_style),
        ]),
        labels,
    );
    // Only as many minutes as there are columns: the newest at the right edge.
    let width = graphs.width as usize;
    let start = waf.rates.len().saturating_sub(width);
    let allowed: Vec<u64> = waf.rates[start..].iter().map(|p| p.allowed).collect();
    let blocked: Vec<u64> = waf.rates[start..].iter().map(|p| p.blocked).collect();
    let (a, b) = split_top(graphs, 1);
    frame.render_widget(Sparkline::default().data(&allowed).style(theme.ok), a);
    frame.render_widget(Sparkline::default().data(&blocked).style(blocked_style), b);
}
