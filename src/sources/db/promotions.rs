//! When each cluster was last promoted, for `DbOps`' anti-flap guard. Kept in a small JSON
//! state file in the data directory, so a restarted console (or a second one) still refuses
//! a second promotion inside the window.
//!
//! The incident journal records promotions too, but only those a playbook ran, and as they
//! start, not as they succeed: this file holds what `DbOps` itself did.

use jiff::Timestamp;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

type Last = BTreeMap<String, Timestamp>;

pub enum Promotions {
    /// Forgotten with the process: tests and benchmarks.
    Memory(Mutex<Last>),
    File(PathBuf),
}

impl Promotions {
    pub fn in_memory() -> Promotions {
        Promotions::Memory(Mutex::new(Last::new()))
    }

    pub fn in_file(path: PathBuf) -> Promotions {
        Promotions::File(path)
    }

    /// When `cluster` was last promoted. An unreadable file is an error, never "never".
    pub fn last(&self, cluster: &str) -> Result<Option<Timestamp>, String> {
        Ok(self.all()?.get(cluster).copied())
    }

    pub fn record(&self, cluster: &str, at: Timestamp) -> Result<(), String> {
        match self {
            Promotions::Memory(m) => {
                let mut last = m
                    .lock()
                    .map_err(|_| "anti-flap memory poisoned".to_string())?;
                last.insert(cluster.to_string(), at);
                Ok(())
            }
            Promotions::File(path) => {
                let mut last = read(path)?;
                last.insert(cluster.to_string(), at);
                write(path, &last)
            }
        }
    }

    fn all(&self) -> Result<Last, String> {
        match self {
            Promotions::Memory(m) => m
                .lock()
                .map(|l| l.clone())
                .map_err(|_| "anti-flap memory poisoned".to_string()),
            Promotions::File(path) => read(path),
        }
    }
}

fn read(path: &Path) -> Result<Last, String> {
    super::state_file::read(path, "an anti-flap state file")
}

fn write(path: &Path, last: &Last) -> Result<(), String> {
    super::state_file::write(path, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_instance_on_the_same_file_remembers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("db-promotions.json");
        let first = Promotions::in_file(path.clone());
        assert_eq!(first.last("shop").unwrap(), None);
        let at: Timestamp = "2026-11-22T05:00:00Z".parse().unwrap();
        first.record("shop", at).unwrap();
        first
            .record("orders", "2026-11-22T04:00:00Z".parse().unwrap())
            .unwrap();
        let restarted = Promotions::in_file(path.clone());
        assert_eq!(restarted.last("shop").unwrap(), Some(at));
        assert!(restarted.last("orders").unwrap().is_some());
        assert_eq!(restarted.last("other").unwrap(), None);

        std::fs::write(&path, "{ half").unwrap();
        let err = restarted.last("shop").unwrap_err();
        assert!(err.contains("not an anti-flap state file"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn memory_is_per_instance() {
        let m = Promotions::in_memory();
        let at = Timestamp::now();
        m.record("shop", at).unwrap();
        assert_eq!(m.last("shop").unwrap(), Some(at));
        assert_eq!(Promotions::in_memory().last("shop").unwrap(), None);
    }
}
