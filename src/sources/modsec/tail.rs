//! Following a log file like `tail -F`, for a writer that may never reopen it.
//!
//! libmodsecurity opens its audit log once, in nginx's master process: neither `nginx -s
//! reopen` nor `nginx -s reload` makes it write to a new file (checked with 3.0.9), only a
//! restart does. So after a rename the old file keeps growing while the new one stays
//! empty, and a tail that simply switched to the new name would lose every record after the
//! rotation. This one keeps reading the renamed file as long as it grows and lets it go only
//! once the new file has records of its own (the writer has moved) and the old one has been
//! read to its end. A file shorter than the offset read was truncated (`copytruncate`) and is
//! read again from its start.
//!
//! Memory is bounded: a line longer than [`MAX_LINE`] is skipped to its end (and counted),
//! and one poll reads at most [`POLL_BUDGET`] bytes, the rest on the next.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An audit record carries the response body (part E): a few KiB, rarely more than 1 MiB.
pub const MAX_LINE: usize = 4 << 20;
/// How much one poll reads, so a huge backlog never holds the source for long.
pub const POLL_BUDGET: u64 = 32 << 20;
/// Where a tail that starts on an existing file begins: the last hour is what the pane
/// shows, and reading gigabytes of old records to find it is not worth it.
pub const START_BACKLOG: u64 = 16 << 20;

struct Open {
    file: File,
    id: (u64, u64),
    pos: u64,
    /// The bytes of a line not yet ended.
    partial: Vec<u8>,
    /// True while the rest of an over-long line is being skipped.
    skipping: bool,
}

impl Open {
    fn new(file: File, id: (u64, u64), pos: u64) -> Open {
        Open {
            file,
            id,
            pos,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// Reads what was appended since the last time, handing each whole line to `line`.
    /// Returns the bytes read.
    fn drain(
        &mut self,
        budget: u64,
        skipped: &mut u64,
        line: &mut impl FnMut(&[u8]),
    ) -> io::Result<u64> {
        let len = self.file.metadata()?.len();
        if len < self.pos {
            // Truncated in place: what is there now was written after the truncation.
            self.pos = 0;
            self.partial.clear();
            self.skipping = false;
        }
        if len == self.pos {
            return Ok(0);
        }
        self.file.seek(SeekFrom::Start(self.pos))?;
        let mut chunk = vec![0u8; 64 << 10];
        let mut read = 0u64;
        while read < budget {
            let n = self.file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            read += n as u64;
            self.pos += n as u64;
            let mut rest = &chunk[..n];
            while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                if self.skipping {
                    self.skipping = false;
                } else if self.partial.len() + end > MAX_LINE {
                    self.partial.clear();
                    *skipped += 1;
                } else if self.partial.is_empty() {
                    line(&rest[..end]);
                } else {
                    self.partial.extend_from_slice(&rest[..end]);
                    line(&self.partial);
                    self.partial.clear();
                }
                rest = &rest[end + 1..];
            }
            if !self.skipping {
                if self.partial.len() + rest.len() > MAX_LINE {
                    self.partial.clear();
                    self.skipping = true;
                    *skipped += 1;
                } else {
                    self.partial.extend_from_slice(rest);
                }
            }
        }
        Ok(read)
    }
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

pub struct Tail {
    path: PathBuf,
    /// The file the name points at (or pointed at last).
    current: Option<Open>,
    /// Renamed away, still read while its writer may be writing to it.
    rotated: Option<Open>,
    started: bool,
    /// Lines longer than [`MAX_LINE`], skipped.
    pub skipped: u64,
}

impl Tail {
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            current: None,
            rotated: None,
            started: false,
            skipped: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands every new whole line to `line`. An error says why the file cannot be read by
    /// its name (missing, unreadable); what could still be read was read.
    pub fn poll(&mut self, mut line: impl FnMut(&[u8])) -> Result<(), String> {
        let mut budget = POLL_BUDGET;
        if let Some(old) = &mut self.rotated {
            budget -= old.drain(budget, &mut self.skipped, &mut line).unwrap_or(0);
        }
        let named = std::fs::metadata(&self.path);
        let first = !self.started;
        self.started = true;
        let meta = match named {
            Ok(meta) => meta,
            Err(e) => {
                // Deleted or not yet there: what the writer still appends to the open file
                // is read all the same.
                if let Some(cur) = &mut self.current {
                    cur.drain(budget, &mut self.skipped, &mut line).ok();
                }
                return Err(self.say(&e));
            }
        };
        let moved = self
            .current
            .as_ref()
            .is_some_and(|c| c.id != identity(&meta));
        if moved {
            // Renamed (or deleted) and recreated: the old file is read to its end now and
            // kept, since its writer may not have moved yet.
            if let Some(mut old) = self.current.take() {
                budget -= old.drain(budget, &mut self.skipped, &mut line).unwrap_or(0);
                if let Some(older) = self.rotated.replace(old) {
                    // A second rotation before the writer left the first: the oldest
                    // has been read to its end above.
                    drop(older);
                }
            }
        }
        if self.current.is_none() {
            let file = File::open(&self.path).map_err(|e| self.say(&e))?;
            let meta = file.metadata().map_err(|e| self.say(&e))?;
            let start = if first {
                // The start of the tail: the recent past only, from a line's beginning.
                meta.len().saturating_sub(START_BACKLOG)
            } else {
                0
            };
            let mut open = Open::new(file, identity(&meta), start);
            if start > 0 {
                open.skipping = true;
            }
            self.current = Some(open);
        }
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        let got = match cur.drain(budget, &mut self.skipped, &mut line) {
            Ok(n) => n,
            Err(e) => return Err(self.say(&e)),
        };
        if got > 0 && self.rotated.is_some() {
            // The writer has moved to the new file: one last read of the old one, then it
            // is let go.
            if let Some(mut old) = self.rotated.take() {
                old.drain(u64::MAX, &mut self.skipped, &mut line).ok();
            }
        }
        Ok(())
    }

    fn say(&self, e: &io::Error) -> String {
        let why = match e.kind() {
            io::ErrorKind::NotFound => "no such file".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        format!("audit log {}: {why}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(tail: &mut Tail) -> (Vec<String>, Result<(), String>) {
        let mut got = Vec::new();
        let r = tail.poll(|l| got.push(String::from_utf8_lossy(l).into_owned()));
        (got, r)
    }

    fn append(path: &Path, text: &str) -> File {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn a_line_is_handed_over_once_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.json");
        let mut tail = Tail::new(&path);
        let (got, r) = lines(&mut tail);
        assert!(got.is_empty());
        assert_eq!(
            r.unwrap_err(),
            format!("audit log {}: no such file", path.display())
        );
        let mut w = append(&path, "one\ntw");
        assert_eq!(lines(&mut tail).0, ["one"]);
        w.write_all(b"o\nthree\n").unwrap();
        assert_eq!(lines(&mut tail).0, ["two", "three"]);
        assert!(lines(&mut tail).0.is_empty(), "nothing is read twice");
    }

    #[test]
    fn a_renamed_file_is_read_until_its_writer_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.json");
        let mut old_writer = append(&path, "a\n");
        let mut tail = Tail::new(&path);
        assert_eq!(lines(&mut tail).0, ["a"]);
        std::fs::rename(&path, dir.path().join("audit.json.1")).unwrap();
        old_writer.write_all(b"b\n").unwrap();
        let (got, r) = lines(&mut tail);
        assert_eq!(got, ["b"]);
        assert!(r.is_err(), "the name is gone for now");
        let mut new_writer = append(&path, "");
        old_writer.write_all(b"c\n").unwrap();
        assert_eq!(lines(&mut tail).0, ["c"], "the writer has not moved yet");
        old_writer.write_all(b"d\n").unwrap();
        new_writer.write_all(b"e\n").unwrap();
        assert_eq!(lines(&mut tail).0, ["d", "e"]);
        old_writer.write_all(b"late\n").unwrap();
        new_writer.write_all(b"f\n").unwrap();
        assert_eq!(lines(&mut tail).0, ["f"], "the old file was let go");
    }

    #[test]
    fn truncation_rereads_from_the_start_and_long_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.json");
        append(&path, "a\nb\n");
        let mut tail = Tail::new(&path);
        assert_eq!(lines(&mut tail).0, ["a", "b"]);
        std::fs::write(&path, "c\n").unwrap();
        assert_eq!(lines(&mut tail).0, ["c"]);
        let long = "x".repeat(MAX_LINE + 10);
        append(&path, &format!("{long}\nd\n"));
        assert_eq!(lines(&mut tail).0, ["d"]);
        assert_eq!(tail.skipped, 1);
    }

    #[test]
    fn an_unreadable_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.json");
        std::fs::create_dir(&path).unwrap();
        let mut tail = Tail::new(&path);
        let err = lines(&mut tail).1.unwrap_err();
        assert!(err.starts_with("audit log "), "{err}");
    }
}
