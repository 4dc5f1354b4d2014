//! The incident journal: one append-only JSON Lines file per incident. Every entry is written
//! and fsync'd before the thing it records takes effect, so after a dropped SSH session, a
//! kill -9 or a power cut the console replays exactly what happened.

use super::chain::{self, Link, Verdict};
use super::event::{Entry, Event, Who};
use jiff::Timestamp;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    /// The hash of the last line, which the next entry names.
    last: Option<String>,
}

/// Something replay noticed and worked around; shown to the user, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWarning {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ReplayWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("journal {}: {source}", path.display())]
pub struct JournalError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl Journal {
    /// Creates a new journal; refuses to overwrite an existing one.
    pub fn create(path: &Path) -> Result<Journal, JournalError> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        sync_dir(path);
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            next_seq: 1,
            last: None,
        })
    }

    /// Reads every entry, then reopens the file for appending. A torn last line (the write
    /// never completed, so what it recorded never took effect) is cut off and reported.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Entry>, Vec<ReplayWarning>), JournalError> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        let Replayed {
            entries,
            warnings,
            good_len,
            last,
        } = replay(path).map_err(err)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(err)?;
        if file.metadata().map_err(err)?.len() != good_len {
            file.set_len(good_len).map_err(err)?;
            file.sync_all().map_err(err)?;
        }
        file.seek(SeekFrom::End(0)).map_err(err)?;
        // Saturating: a damaged or hand-edited journal may end at seq `u64::MAX`.
        let next_seq = entries.last().map_or(1, |e| e.seq.saturating_add(1));
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                next_seq,
                last,
            },
            entries,
            warnings,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one entry and waits until it is on disk.
    pub fn append(
        &mut self,
        at: Timestamp,
        who: &Who,
        event: Event,
    ) -> Result<Entry, JournalError> {
        let entry = Entry {
            seq: self.next_seq,
            at,
            who: who.clone(),
            prev: self.last.clone(),
            event,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| JournalError {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        let hash = chain::digest(&line);
        line.push(b'\n');
        let err = |source| JournalError {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(err)?;
        self.file.sync_data().map_err(err)?;
        self.next_seq = self.next_seq.saturating_add(1);
        self.last = Some(hash);
        Ok(entry)
    }
}

/// Reads a journal without opening it for writing (reports, history look-ups).
pub fn read(path: &Path) -> Result<(Vec<Entry>, Vec<ReplayWarning>), JournalError> {
    replay(path)
        .map(|r| (r.entries, r.warnings))
        .map_err(|source| JournalError {
            path: path.to_path_buf(),
            source,
        })
}

/// Checks the journal's hash chain line by line; an unreadable line is a break too.
pub fn verify(path: &Path) -> Result<Verdict, JournalError> {
    let err = |source| JournalError {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read(path).map_err(err)?;
    let lines: Vec<(usize, &[u8], Option<Entry>)> = text
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l, serde_json::from_slice::<Entry>(l).ok()))
        .collect();
    let mut verdict = chain::verify(lines.iter().map(|(n, body, e)| Link {
        place: format!("line {n}"),
        body,
        prev: e.as_ref().and_then(|e| e.prev.as_deref()),
    }));
    for (n, _, e) in &lines {
        if e.is_none() {
            verdict
                .breaks
                .push(format!("line {n}: not a journal entry"));
        }
    }
    Ok(verdict)
}

struct Replayed {
    entries: Vec<Entry>,
    warnings: Vec<ReplayWarning>,
    /// The length of the file up to the end of the last good line.
    good_len: u64,
    /// The hash of the last good line.
    last: Option<String>,
}

fn replay(path: &Path) -> io::Result<Replayed> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let (mut offset, mut good_len) = (0u64, 0u64);
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut last = None;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        offset += n as u64;
        // Only the last line can lack its newline: the write that was cut short.
        let complete = buf.ends_with(b"\n");
        match (complete, serde_json::from_slice::<Entry>(&buf)) {
            (true, Ok(entry)) => {
                entries.push(entry);
                good_len = offset;
                last = Some(chain::digest(&buf[..buf.len() - 1]));
            }
            (false, _) => warnings.push(ReplayWarning {
                line: line_no,
                message: "torn last entry (the console was killed while writing it); ignored"
                    .into(),
            }),
            (true, Err(e)) => {
                // A damaged line in the middle: keep everything around it.
                warnings.push(ReplayWarning {
                    line: line_no,
                    message: format!("unreadable entry skipped: {e}"),
                });
                good_len = offset;
                last = Some(chain::digest(&buf[..buf.len() - 1]));
            }
        }
    }
    Ok(Replayed {
        entries,
        warnings,
        good_len,
        last,
    })
}

/// Makes the new file's directory entry durable too.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Who {
        Who {
            user: "kim".into(),
            from: Some("203.0.113.9".into()),
        }
    }

    fn note(text: &str) -> Event {
        Event::Note { text: text.into() }
    }

    #[test]
    fn appends_and_replays_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("INC-1.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("one"))
            .unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("two"))
            .unwrap();
        drop(j);
        let (mut j, entries, warnings) = Journal::open(&path).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            j.append(Timestamp::UNIX_EPOCH, &who(), note("three"))
                .unwrap()
                .seq,
            3
        );
        assert!(Journal::create(&path).is_err(), "never overwrites");
    }

    #[test]
    fn a_torn_last_line_is_reported_cut_and_nothing_earlier_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("INC-2.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("kept"))
            .unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":2,"at":"1970-01-01T00:00:00Z","who":{"us"#)
            .unwrap();
        drop(f);
        let (mut j, entries, warnings) = Journal::open(&path).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .to_string()
                .starts_with("line 2: torn last entry"),
            "{}",
            warnings[0]
        );
        j.append(Timestamp::UNIX_EPOCH, &who(), note("after"))
            .unwrap();
        let (_, entries, warnings) = Journal::open(&path).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].event, note("after"));
    }

    #[test]
    fn a_last_seq_of_u64_max_neither_panics_nor_loses_entries() {
        // The journal_replay fuzz target panicked on this: `seq + 1` overflowed in `open`.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("INC-4.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"seq":18446744073709551615,"at":"2026-03-01T10:00:00Z","#,
                r#""who":{"user":"k"},"event":"note","text":"x"}"#,
                "\n"
            ),
        )
        .unwrap();
        let (mut j, entries, warnings) = Journal::open(&path).unwrap();
        assert_eq!((entries.len(), warnings.len()), (1, 0));
        j.append(Timestamp::UNIX_EPOCH, &who(), note("a")).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("b")).unwrap();
        let (after, _) = read(&path).unwrap();
        assert_eq!(after.len(), 3);
        assert_eq!(after[0], entries[0]);
    }

    #[test]
    fn the_chain_verifies_across_reopening_and_catches_an_edit_or_a_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("INC-5.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("a")).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("b")).unwrap();
        drop(j);
        let (mut j, _, _) = Journal::open(&path).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("c")).unwrap();
        let v = verify(&path).unwrap();
        assert!(v.verified(), "{v:?}");
        assert_eq!(v.entries, 3);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"text\":\"b\"", "\"text\":\"B\"")).unwrap();
        let v = verify(&path).unwrap();
        assert_eq!(v.breaks.len(), 1, "{v:?}");
        assert!(v.breaks[0].starts_with("line 3:"), "{v:?}");

        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(verify(&path).unwrap().breaks[0].starts_with("line 2:"));
    }

    #[test]
    fn a_damaged_middle_line_is_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("INC-3.jsonl");
        let mut j = Journal::create(&path).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("a")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"garbage\n").unwrap();
        drop(f);
        let (mut j, _, _) = Journal::open(&path).unwrap();
        j.append(Timestamp::UNIX_EPOCH, &who(), note("b")).unwrap();
        let (_, entries, warnings) = Journal::open(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(warnings[0].line, 2);
    }
}
