//! Arbitrary bytes as an incident journal: replaying must never panic, and appending after a
//! replay must never lose an entry that the replay read.
#![no_main]

use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use opsdeck::incident::event::{Event, Who};
use opsdeck::incident::journal::{self, Journal};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One scratch file per fuzzing process. `append` fsyncs, so scripts/fuzz-smoke points TMPDIR
/// at tmpfs.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("opsdeck-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir.join("INC-fuzz.jsonl")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write scratch journal");

    let read = journal::read(path);
    let (mut j, before, _warnings) = match Journal::open(path) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let (read_entries, read_warnings) = read.expect("read failed where open succeeded");
    assert_eq!(read_entries, before, "read and open disagree");
    for w in &read_warnings {
        let _ = w.to_string();
    }

    let who = Who {
        user: "fuzz".into(),
        from: None,
    };
    let appended = j
        .append(
            Timestamp::UNIX_EPOCH,
            &who,
            Event::Note {
                text: "after replay".into(),
            },
        )
        .expect("append after replay");
    drop(j);

    let (after, _) = journal::read(path).expect("read after append");
    assert!(
        after.len() == before.len() + 1,
        "{} entries before the append, {} after",
        before.len(),
        after.len()
    );
    assert_eq!(
        after[..before.len()],
        before[..],
        "an earlier entry was lost"
    );
    assert_eq!(
        after.last(),
        Some(&appended),
        "the appended entry reads back"
    );
});
