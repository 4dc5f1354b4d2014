//! A pod's (or a Deployment's pods') log lines as the log view keeps them: a ring buffer
//! bounded by line count and by bytes, so an hour of a chatty pod never grows the process.

use jiff::Timestamp;
use std::collections::VecDeque;
use std::mem::size_of;

/// The retained lines' bounds, `[logs]` in config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogLimits {
    pub max_lines: usize,
    /// Bytes of text plus per-line bookkeeping, as [`LogBuffer::bytes`] counts them.
    pub max_bytes: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_lines: 20_000,
            max_bytes: 8 << 20,
        }
    }
}

/// One line of output. `source` indexes [`LogBuffer::sources`] (the pod, for merged logs).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: Option<Timestamp>,
    pub source: u16,
    pub text: Box<str>,
}

impl LogLine {
    /// What a line costs the buffer: its text and its slot.
    fn cost(&self) -> usize {
        self.text.len() + size_of::<LogLine>()
    }
}

/// Where the stream stands, for the view's status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    Connecting,
    Following,
    /// The connection dropped; the stream resumes from the last line's time.
    Reconnecting(String),
    /// The stream is over for good (previous container read, pod deleted); the text says why.
    Ended(String),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct LogBuffer {
    limits: LogLimits,
    lines: VecDeque<LogLine>,
    bytes: usize,
    /// Lines ever pushed; the first retained line's number is `total - lines.len()`.
    total: u64,
    dropped_bytes: u64,
    /// Pods (or `pod/container`) the lines came from, for the merge prefix.
    pub sources: Vec<String>,
    /// The pod's containers, for the picker; filled by the stream once it knows them.
    pub containers: Vec<String>,
    pub state: LogState,
}

impl LogBuffer {
    pub fn new(limits: LogLimits) -> LogBuffer {
        LogBuffer {
            limits: LogLimits {
                max_lines: limits.max_lines.max(1),
                max_bytes: limits.max_bytes.max(1),
            },
            lines: VecDeque::new(),
            bytes: 0,
            total: 0,
            dropped_bytes: 0,
            sources: Vec::new(),
            containers: Vec::new(),
            state: LogState::Connecting,
        }
    }

    pub fn limits(&self) -> LogLimits {
        self.limits
    }

    /// The index of `name` in `sources`, added when new.
    pub fn source(&mut self, name: &str) -> u16 {
        match self.sources.iter().position(|s| s == name) {
            Some(i) => i as u16,
            None => {
                self.sources.push(name.to_string());
                (self.sources.len() - 1) as u16
            }
        }
    }

    pub fn push(&mut self, line: LogLine) {
        self.bytes += line.cost();
        self.total += 1;
        self.lines.push_back(line);
        while self.lines.len() > self.limits.max_lines
            || (self.bytes > self.limits.max_bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.cost();
                self.dropped_bytes += old.cost() as u64;
            }
        }
    }

    /// Splits `kubectl logs --timestamps` output into its time and text.
    pub fn push_raw(&mut self, source: u16, raw: &str) {
        let (at, text) = split_timestamp(raw);
        self.push(LogLine {
            at,
            source,
            text: text.into(),
        });
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes the retained lines cost (text and slots), what `max_bytes` bounds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Lines pushed out by the limits, and what they cost.
    pub fn dropped(&self) -> (u64, u64) {
        (self.total - self.lines.len() as u64, self.dropped_bytes)
    }

    /// The number of the first retained line (lines are numbered from 0 as they arrive).
    pub fn first(&self) -> u64 {
        self.total - self.lines.len() as u64
    }

    /// Line number `n`, if still retained.
    pub fn get(&self, n: u64) -> Option<&LogLine> {
        let i = n.checked_sub(self.first())?;
        self.lines.get(usize::try_from(i).ok()?)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// The next line after line `from` (before it, going back) whose text contains `needle`,
    /// ignoring case; wraps around the retained lines. A `from` past the end searches back
    /// from the last line.
    pub fn find(&self, needle: &str, from: u64, forward: bool) -> Option<u64> {
        if needle.is_empty() || self.lines.is_empty() {
            return None;
        }
        let first = self.first() as i64;
        let n = self.lines.len() as i64;
        let at = from as i64 - first;
        // From outside the retained lines, the search starts at the near end.
        let start = match (0..n).contains(&at) {
            true => at,
            false if forward => -1,
            false => n,
        };
        (1..=n)
            .map(|step| (start + if forward { step } else { -step }).rem_euclid(n) as u64)
            .find(|&i| contains_ignore_case(&self.lines[i as usize].text, needle))
            .map(|i| first as u64 + i)
    }

    /// The text as `w` writes it: one line each, with time and pod prefix when known.
    pub fn render(&self, with_time: bool) -> String {
        let mut out = String::new();
        for line in &self.lines {
            if with_time && let Some(at) = line.at {
                out.push_str(&at.to_string());
                out.push(' ');
            }
            if self.sources.len() > 1 {
                out.push('[');
                out.push_str(&self.sources[usize::from(line.source)]);
                out.push_str("] ");
            }
            out.push_str(&line.text);
            out.push('\n');
        }
        out
    }
}

/// `2026-01-01T00:00:00.123456789Z text` → the time and `text`; a line without one keeps it all.
pub fn split_timestamp(raw: &str) -> (Option<Timestamp>, &str) {
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    match raw.split_once(' ') {
        Some((head, text)) if head.ends_with('Z') || head.contains('+') => match head.parse() {
            Ok(at) => (Some(at), text),
            Err(_) => (None, raw),
        },
        _ => (None, raw),
    }
}

/// Where `needle` occurs in `hay`, ignoring ASCII case: byte ranges, for highlighting.
pub fn matches(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if needle.is_empty() {
        return out;
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut i = 0;
    while i + n.len() <= h.len() {
        if h[i..i + n.len()].eq_ignore_ascii_case(n)
            && hay.is_char_boundary(i)
            && hay.is_char_boundary(i + n.len())
        {
            out.push((i, i + n.len()));
            i += n.len();
        } else {
            i += 1;
        }
    }
    out
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(max_lines: usize, max_bytes: usize) -> LogBuffer {
        LogBuffer::new(LogLimits {
            max_lines,
            max_bytes,
        })
    }

    #[test]
    fn lines_beyond_the_line_limit_are_dropped_oldest_first() {
        let mut b = buffer(3, usize::MAX);
        for i in 0..5 {
            b.push_raw(0, &format!("line {i}"));
        }
        let texts: Vec<&str> = b.iter().map(|l| &*l.text).collect();
        assert_eq!(texts, ["line 2", "line 3", "line 4"]);
        assert_eq!(b.dropped().0, 2);
        assert_eq!(b.first(), 2);
        assert_eq!(b.get(2).map(|l| &*l.text), Some("line 2"));
        assert!(b.get(1).is_none());
    }

    #[test]
    fn bytes_are_bounded_too() {
        let slot = size_of::<LogLine>();
        let mut b = buffer(1000, 3 * (slot + 10));
        for i in 0..10 {
            b.push_raw(0, &format!("{i:010}"));
        }
        assert_eq!(b.len(), 3);
        assert!(b.bytes() <= 3 * (slot + 10));
        assert_eq!(b.dropped(), (7, 7 * (slot + 10) as u64));
    }

    #[test]
    fn timestamps_are_split_off() {
        let (at, text) = split_timestamp("2026-01-01T00:00:01.5Z started on :8080");
        assert_eq!(at, Some("2026-01-01T00:00:01.5Z".parse().unwrap()));
        assert_eq!(text, "started on :8080");
        assert_eq!(split_timestamp("no time here"), (None, "no time here"));
    }

    #[test]
    fn find_wraps_both_ways_and_ignores_case() {
        let mut b = buffer(100, usize::MAX);
        for t in ["a ERROR", "b", "c error", "d"] {
            b.push_raw(0, t);
        }
        assert_eq!(b.find("error", 0, true), Some(2));
        assert_eq!(b.find("error", 2, true), Some(0));
        assert_eq!(b.find("error", 0, false), Some(2));
        assert_eq!(b.find("nope", 0, true), None);
        assert_eq!(
            b.find("error", 4, false),
            Some(2),
            "from past the end: the last line first"
        );
        assert_eq!(matches("Error and error", "ERROR"), [(0, 5), (10, 15)]);
    }

    #[test]
    fn merged_logs_render_with_the_pod_prefix() {
        let mut b = buffer(100, usize::MAX);
        let (x, y) = (b.source("user-1"), b.source("user-2"));
        b.push_raw(x, "2026-01-01T00:00:00Z one");
        b.push_raw(y, "two");
        assert_eq!(
            b.render(true),
            "2026-01-01T00:00:00Z [user-1] one\n[user-2] two\n"
        );
        assert_eq!(b.render(false), "[user-1] one\n[user-2] two\n");
    }
}
