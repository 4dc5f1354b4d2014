//! The deny list nginx includes (`include /etc/nginx/opsdeck-deny.conf;` in a `server` or
//! `http` block): one `deny ADDR;` line per blocked address or CIDR. Lines opsdeck did not
//! write (comments, `allow` lines, someone's hand edits) are kept as they are.

use crate::ops::addresses::parse_one;
use ipnet::IpNet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub type Entry = IpNet;

/// `deny 203.0.113.7;` for a host, `deny 198.51.100.0/24;` for a network, as nginx reads them.
pub fn line(entry: Entry) -> String {
    if entry.prefix_len() == entry.max_prefix_len() {
        format!("deny {};", entry.addr())
    } else {
        format!("deny {entry};")
    }
}

/// The address a `deny` line names, if the line is one.
fn entry_of(text: &str) -> Option<Entry> {
    let rest = text.trim().strip_prefix("deny")?;
    let addr = rest.trim().strip_suffix(';')?.trim();
    parse_one(addr).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DenyFile {
    pub lines: Vec<String>,
}

impl DenyFile {
    /// A file not there yet is an empty list: block-ip creates it.
    pub fn read(path: &Path) -> Result<DenyFile, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(DenyFile {
                lines: text.lines().map(str::to_string).collect(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DenyFile::default()),
            Err(e) => Err(format!("cannot read deny list {}: {e}", path.display())),
        }
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.lines.iter().filter_map(|l| entry_of(l)).collect()
    }

    pub fn holds(&self, entry: Entry) -> bool {
        self.entries().contains(&entry)
    }

    pub fn with(&self, entry: Entry) -> DenyFile {
        let mut lines = self.lines.clone();
        if !self.holds(entry) {
            lines.push(line(entry));
        }
        DenyFile { lines }
    }

    pub fn without(&self, entry: Entry) -> DenyFile {
        DenyFile {
            lines: self
                .lines
                .iter()
                .filter(|l| entry_of(l) != Some(entry))
                .cloned()
                .collect(),
        }
    }

    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }

    /// The `deny` lines, for a dry-run's before and after.
    pub fn shown(&self) -> String {
        let denies: Vec<String> = self.entries().into_iter().map(line).collect();
        format!("[{}]", denies.join(" "))
    }

    /// Replaces the file at once: written beside it, flushed, then renamed over it, so nginx
    /// never reads half a list. The old file's permissions are kept.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let fail = |what: &str, e: std::io::Error| {
            format!("cannot write deny list {} ({what}): {e}", path.display())
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = path.with_file_name(format!(".{name}.opsdeck-{}", std::process::id()));
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(|e| fail("temporary file", e))?;
            file.write_all(self.text().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| fail("write", e))?;
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions())
                .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
            std::fs::set_permissions(&tmp, mode).map_err(|e| fail("permissions", e))?;
            std::fs::rename(&tmp, path).map_err(|e| fail("rename", e))
        })();
        if written.is_err() {
            std::fs::remove_file(&tmp).ok();
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_lines_stay_and_entries_come_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deny.conf");
        std::fs::write(
            &path,
            "# hand-kept\nallow 10.0.0.0/8;\ndeny 192.0.2.0/24;\n",
        )
        .unwrap();
        let file = DenyFile::read(&path).unwrap();
        let ip = parse_one("203.0.113.7").unwrap();
        let v6 = parse_one("2001:db8::/64").unwrap();
        let blocked = file.with(ip).with(v6).with(ip);
        blocked.write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# hand-kept\nallow 10.0.0.0/8;\ndeny 192.0.2.0/24;\ndeny 203.0.113.7;\ndeny 2001:db8::/64;\n"
        );
        let back = DenyFile::read(&path).unwrap().without(ip).without(v6);
        assert_eq!(back, file);
        assert_eq!(back.shown(), "[deny 192.0.2.0/24;]");
        assert!(
            DenyFile::read(&dir.path().join("none"))
                .unwrap()
                .lines
                .is_empty()
        );
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }
}
