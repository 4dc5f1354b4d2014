//! The list of playbooks: the ones shipped in the binary, overridden by name by files in the
//! user's `playbooks/` directory. A file that cannot be read is listed with its error.

use super::load::{Playbook, parse};
use crate::diag::FileError;
use include_dir::{Dir, include_dir};
use std::path::{Path, PathBuf};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/playbooks");

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    /// `playbooks/x.yaml` for shipped ones, the full path for the user's.
    pub origin: PathBuf,
    pub playbook: Result<Playbook, FileError>,
}

impl Entry {
    pub fn ok(&self) -> Option<&Playbook> {
        self.playbook.as_ref().ok()
    }
}

/// Shipped playbooks, then the user's (replacing shipped ones of the same name).
pub fn load(user_dir: Option<&Path>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = EMBEDDED
        .files()
        .filter_map(|f| {
            let name = yaml_stem(f.path())?;
            let origin = Path::new("playbooks").join(f.path());
            let playbook = parse(&name, &origin, f.contents_utf8().unwrap_or_default());
            Some(Entry {
                name,
                origin,
                playbook,
            })
        })
        .collect();
    if let Some(dir) = user_dir
        && let Ok(read) = std::fs::read_dir(dir)
    {
        for path in read.flatten().map(|e| e.path()) {
            let Some(name) = yaml_stem(&path) else {
                continue;
            };
            let playbook = match std::fs::read_to_string(&path) {
                Ok(text) => parse(&name, &path, &text),
                Err(e) => Err(FileError::at(&path, "", 0, format!("cannot read: {e}"))),
            };
            entries.retain(|e| e.name != name);
            entries.push(Entry {
                name,
                origin: path,
                playbook,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// The shipped playbook `name`, exactly as the binary carries it, if it loads.
pub fn shipped(name: &str) -> Option<Playbook> {
    load(None)
        .into_iter()
        .find(|e| e.name == name)
        .and_then(|e| e.playbook.ok())
}

/// Playbooks whose `answers` patterns match an alarm name.
pub fn answering<'a>(entries: &'a [Entry], alarm: &str) -> Vec<&'a Playbook> {
    let mut found: Vec<(usize, &Playbook)> = entries
        .iter()
        .filter_map(Entry::ok)
        .filter_map(|p| Some((answer_rank(p, alarm)?, p)))
        .collect();
    // Stable: equally specific playbooks keep the catalog's order.
    found.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    found.into_iter().map(|(_, p)| p).collect()
}

/// How well `p` answers `alarm`: its most specific matching pattern; `None` if none matches.
pub fn answer_rank(p: &Playbook, alarm: &str) -> Option<usize> {
    p.answers
        .iter()
        .filter(|pat| glob(pat, alarm))
        .map(|pat| specificity(pat))
        .max()
}

/// How much of the alarm name a pattern pins down: an exact name beats any wildcard, and a
/// longer literal part beats a shorter one (`MariaDB*Primary*` before `*Primary*`).
fn specificity(pattern: &str) -> usize {
    let literal = pattern.chars().filter(|c| *c != '*').count();
    if pattern.contains('*') {
        literal
    } else {
        usize::MAX
    }
}

/// `*` matches any run of characters; everything else literally, ignoring case.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_lowercase(), text.to_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    let mut rest = t.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

fn yaml_stem(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?;
    if ext != "yaml" && ext != "yml" {
        return None;
    }
    path.file_stem()?.to_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_the_required_playbooks_and_all_of_them_load() {
        let entries = load(None);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        for want in [
            "deactivate-access-key",
            "failover-mariadb",
            "failover-postgres",
            "restart",
            "rollback",
            "scale",
            "switchover-mariadb",
            "switchover-postgres",
            "waf-block-ip",
            "waf-unblock-ip",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        for e in &entries {
            assert!(
                e.playbook.is_ok(),
                "{}: {}",
                e.name,
                e.playbook.as_ref().unwrap_err()
            );
        }
    }

    #[test]
    fn user_files_override_and_broken_ones_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let scale = "title: Our scale\nseverity: sev3\nsteps:\n  - id: a\n    manual: do it\n";
        std::fs::write(dir.path().join("scale.yaml"), scale).unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "title: [unclosed\n").unwrap();
        let entries = load(Some(dir.path()));
        let scale = entries.iter().find(|e| e.name == "scale").unwrap();
        assert_eq!(scale.ok().unwrap().title, "Our scale");
        let broken = entries.iter().find(|e| e.name == "broken").unwrap();
        let err = broken.playbook.as_ref().unwrap_err();
        assert_eq!((err.line, err.col), (1, 8));
        assert!(err.path.ends_with("broken.yaml"));
        assert!(
            entries
                .iter()
                .filter(|e| e.name != "broken")
                .all(|e| e.playbook.is_ok())
        );
    }

    #[test]
    fn alarms_find_their_playbooks() {
        let entries = load(None);
        let names = |alarm| {
            answering(&entries, alarm)
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
        };
        assert!(names("MariaDBPrimaryDown").contains(&"failover-mariadb".to_string()));
        assert!(names("nothing-matches-this").is_empty());
        // Both failovers answer it (`*ReplicaLag*`), but `Postgres*Primary*` pins more of
        // the name: best match first, although failover-mariadb comes first in the catalog.
        assert_eq!(
            names("PostgresPrimaryReplicaLag"),
            ["failover-postgres", "failover-mariadb"]
        );
        assert!(specificity("KubeNodeNotReady") > specificity("KubeNodeNotReady*"));
        assert!(glob("*HpaAtMax*", "shop-user-HPAATMAX"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b", "ab-not"));
    }

    #[test]
    fn every_shipped_step_renders_in_words_with_its_playbooks_defaults() {
        let entries = load(None);
        assert!(entries.len() >= 10, "the shipped catalogue");
        for e in &entries {
            let p = e.ok().unwrap_or_else(|| panic!("{} loads", e.name));
            let defaults = p.defaults();
            for s in &p.steps {
                let words = match crate::playbook::run::typed(s, &defaults) {
                    Ok(words) => words,
                    // A number only a check of the run binds (a weight) cannot be typed
                    // before the run; the step then reads as written.
                    Err(err) if err.contains("{{") => {
                        let written = crate::playbook::run::describe(s, &defaults);
                        assert!(written.contains("{{"), "{} {}: {written}", p.name, s.id);
                        continue;
                    }
                    Err(err) => panic!("{} step {}: {err}", p.name, s.id),
                };
                assert!(
                    !words.contains("invalid type"),
                    "{} {}: {words}",
                    p.name,
                    s.id
                );
            }
        }
        let failover = entries
            .iter()
            .find(|e| e.name == "failover-mariadb")
            .unwrap();
        let p = failover.ok().unwrap();
        assert_eq!(
            crate::playbook::run::describe(&p.steps[0], &p.defaults()),
            "check: pick replica of shop-mariadb (auto) lagging ≤ 5s"
        );
    }
}
