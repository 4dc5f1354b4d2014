//! Plain data: what every source publishes and every pane shows. No I/O, no terminal.

pub mod alarm;
pub mod backup;
pub mod cluster;
pub mod db;
pub mod iam;
pub mod inspect;
pub mod logs;
pub mod rows;
pub mod summary;
pub mod tally;
pub mod trail;
pub mod waf;

use jiff::Timestamp;
use serde::Serialize;

/// How bad something is. Ordered so that `max()` picks the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Not configured here: neither healthy nor failing, and never marked as trouble.
    Off,
    #[default]
    Ok,
    Warn,
    Crit,
}

impl Level {
    /// A marker that still reads on a monochrome terminal.
    pub fn marker(self) -> &'static str {
        match self {
            Level::Off => "-",
            Level::Ok => "✓",
            Level::Warn => "!",
            Level::Crit => "✗",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Crit => "CRIT",
        }
    }
}

/// Whether a source is keeping up: the view greys a pane whose source failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub last_ok: Option<Timestamp>,
    pub last_error: Option<String>,
    /// What to configure so that something feeds this area; set, the area is off, not failing.
    pub off: Option<String>,
}

impl Health {
    pub fn ok(at: Timestamp) -> Self {
        Health {
            last_ok: Some(at),
            last_error: None,
            off: None,
        }
    }

    pub fn is_failing(&self) -> bool {
        self.last_error.is_some()
    }

    /// The source has said something: data, an error, or that nothing feeds it.
    pub fn answered(&self) -> bool {
        self.last_ok.is_some() || self.last_error.is_some() || self.off.is_some()
    }

    /// An area with a part shown inside it (the backups in the databases' area): on when
    /// either is on, current only as far as both are, failing when either fails. The part's
    /// error is named by `part`.
    pub fn with_part(&self, part: &str, other: &Health) -> Health {
        match (&self.off, &other.off) {
            (_, Some(_)) => self.clone(),
            (Some(_), None) => Health {
                last_error: other.last_error.as_ref().map(|e| format!("{part}: {e}")),
                ..other.clone()
            },
            (None, None) => Health {
                last_ok: match (self.last_ok, other.last_ok) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
                last_error: match (&self.last_error, &other.last_error) {
                    (Some(a), Some(b)) => Some(format!("{a}; {part}: {b}")),
                    (Some(a), None) => Some(a.clone()),
                    (None, Some(b)) => Some(format!("{part}: {b}")),
                    (None, None) => None,
                },
                off: None,
            },
        }
    }
}

/// The latest value of one source together with its health.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Feed<T> {
    pub data: T,
    pub health: Health,
}

/// Compact age like kubectl prints it: `45s`, `12m`, `3h`, `160d`.
pub fn age(since: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(since.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Whole days between two instants (negative spans count as zero).
pub fn days_between(since: Timestamp, now: Timestamp) -> i64 {
    (now.as_second() - since.as_second()).max(0) / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let at = |s: i64| Timestamp::from_second(1_000_000 - s).unwrap();
        assert_eq!(age(at(5), now), "5s");
        assert_eq!(age(at(600), now), "10m");
        assert_eq!(age(at(3 * 3600), now), "3h");
        assert_eq!(age(at(160 * 86_400), now), "160d");
        assert_eq!(age(Timestamp::from_second(2_000_000).unwrap(), now), "0s");
    }

    #[test]
    fn worst_level_wins() {
        assert_eq!(
            [Level::Ok, Level::Crit, Level::Warn].into_iter().max(),
            Some(Level::Crit)
        );
    }

    #[test]
    fn a_part_makes_its_area_on_failing_and_only_as_current_as_both() {
        let t = |s: i64| Timestamp::from_second(s).unwrap();
        let off = Health {
            off: Some("configure it".into()),
            ..Health::default()
        };
        let ok = |at| Health::ok(t(at));
        let failing = Health {
            last_ok: Some(t(5)),
            last_error: Some("AccessDenied".into()),
            off: None,
        };
        assert_eq!(ok(10).with_part("backups", &off), ok(10));
        assert_eq!(
            off.with_part("backups", &failing).last_error.as_deref(),
            Some("backups: AccessDenied")
        );
        assert_eq!(off.with_part("backups", &ok(3)), ok(3));
        let both = ok(10).with_part("backups", &failing);
        assert_eq!(both.last_ok, Some(t(5)), "as current as the older");
        assert_eq!(both.last_error.as_deref(), Some("backups: AccessDenied"));
        let both = failing.with_part("backups", &failing);
        assert_eq!(
            both.last_error.as_deref(),
            Some("AccessDenied; backups: AccessDenied")
        );
    }
}
