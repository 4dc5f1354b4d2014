//! Who else is in the incident: each console rewrites a small heartbeat object; the others
//! list them (the listing carries each object's time, so no object is read).

use super::store::Listed;
use jiff::{SignedDuration, Timestamp};

/// A console that wrote no heartbeat for this long is gone from the header.
pub const FRESH: SignedDuration = SignedDuration::from_secs(30);

pub fn dir(prefix: &str) -> String {
    format!("{prefix}presence/")
}

pub fn key(prefix: &str, console: &str) -> String {
    format!("{}{console}", dir(prefix))
}

/// The consoles other than `me` seen in the last [`FRESH`], by name.
pub fn others(prefix: &str, listed: &[Listed], me: &str, now: Timestamp) -> Vec<String> {
    let dir = dir(prefix);
    let mut names: Vec<String> = listed
        .iter()
        .filter(|l| now.duration_since(l.modified) <= FRESH)
        .filter_map(|l| l.key.strip_prefix(&dir))
        .filter(|name| *name != me)
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_other_consoles_seen_in_the_last_30_s() {
        let now: Timestamp = "2026-12-02T03:12:00Z".parse().unwrap();
        let at = |s: i64| now.checked_sub(SignedDuration::from_secs(s)).unwrap();
        let listed = [
            Listed {
                key: "t/presence/kim@kr.1".into(),
                modified: at(5),
            },
            Listed {
                key: "t/presence/lee@us.2".into(),
                modified: at(29),
            },
            Listed {
                key: "t/presence/old@us.3".into(),
                modified: at(31),
            },
            Listed {
                key: "t/presence/me@kr.4".into(),
                modified: at(1),
            },
        ];
        assert_eq!(
            others("t/", &listed, "me@kr.4", now),
            ["kim@kr.1", "lee@us.2"]
        );
    }
}
