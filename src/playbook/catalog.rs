//! The list of playbooks: the ones shipped in the binary, overridden by name by files in the
//! user's `playbooks/` directory. A file that cannot be read is listed with its error.

use include_dir::{Dir, include_dir};
use serde::Deserialize;
use std::path::{Path, PathBuf};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/playbooks");

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    /// `playbooks/x.yaml` for shipped ones, the full path for the user's.
    pub origin: PathBuf,
    pub title: String,
    pub severity: String,
    pub description: String,
    pub error: Option<String>,
}

/// The part of a playbook the list needs.
#[derive(Debug, Deserialize)]
struct Header {
    title: String,
    #[serde(default)]
    description: String,
    severity: String,
}

pub fn load(user_dir: Option<&Path>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = EMBEDDED
        .files()
        .filter_map(|f| {
            let name = yaml_stem(f.path())?;
            Some(entry(
                name,
                Path::new("playbooks").join(f.path()),
                f.contents_utf8().unwrap_or_default(),
            ))
        })
        .collect();
    if let Some(dir) = user_dir
        && let Ok(read) = std::fs::read_dir(dir)
    {
        for path in read.flatten().map(|e| e.path()) {
            let Some(name) = yaml_stem(&path) else {
                continue;
            };
            let user = match std::fs::read_to_string(&path) {
                Ok(text) => entry(name, path.clone(), &text),
                Err(e) => Entry {
                    error: Some(format!("cannot read: {e}")),
                    ..blank(name, path.clone())
                },
            };
            entries.retain(|e| e.name != user.name);
            entries.push(user);
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

fn yaml_stem(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?;
    if ext != "yaml" && ext != "yml" {
        return None;
    }
    path.file_stem()?.to_str().map(str::to_string)
}

fn blank(name: String, origin: PathBuf) -> Entry {
    Entry {
        name,
        origin,
        title: String::new(),
        severity: String::new(),
        description: String::new(),
        error: None,
    }
}

fn entry(name: String, origin: PathBuf, text: &str) -> Entry {
    match serde_saphyr::from_str::<Header>(text) {
        Ok(h) => Entry {
            title: h.title,
            severity: h.severity,
            description: h.description.trim().to_string(),
            ..blank(name, origin)
        },
        Err(e) => {
            let error = Some(format!("{}: {}", origin.display(), e));
            Entry {
                error,
                ..blank(name, origin)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_the_required_playbooks() {
        let names: Vec<String> = load(None).into_iter().map(|e| e.name).collect();
        for want in [
            "deactivate-access-key",
            "failover-mariadb",
            "failover-postgres",
            "restart",
            "rollback",
            "scale",
            "waf-block-ip",
        ] {
            assert!(
                names.contains(&want.to_string()),
                "{want} missing from {names:?}"
            );
        }
        assert!(
            load(None)
                .iter()
                .all(|e| e.error.is_none() && !e.title.is_empty())
        );
    }

    #[test]
    fn user_files_override_and_broken_ones_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("scale.yaml"),
            "title: Our scale\nseverity: sev3\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "title: [unclosed\n").unwrap();
        let entries = load(Some(dir.path()));
        let scale = entries.iter().find(|e| e.name == "scale").unwrap();
        assert_eq!(scale.title, "Our scale");
        let broken = entries.iter().find(|e| e.name == "broken").unwrap();
        let err = broken.error.as_deref().unwrap();
        assert!(err.contains("broken.yaml"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }
}
