//! The hash chain over a journal: every entry names the SHA-256 of the entry before it, so
//! an entry deleted, edited or slipped in later shows as a broken link.

use sha2::{Digest, Sha256};

/// The hex SHA-256 of one entry as stored (a journal line without its newline, an object's
/// body).
pub fn digest(body: &[u8]) -> String {
    format!("{:x}", Sha256::digest(body))
}

/// One stored entry, as the chain sees it.
pub struct Link<'a> {
    /// Where it is, for the message: `line 7`, `entry 000000000012`.
    pub place: String,
    pub body: &'a [u8],
    /// The hash it names for its predecessor.
    pub prev: Option<&'a str>,
}

/// What checking a chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub entries: usize,
    /// Every broken link, where and why; empty means the chain verified.
    pub breaks: Vec<String>,
}

impl Verdict {
    pub fn verified(&self) -> bool {
        self.breaks.is_empty()
    }

    /// One line for the report and `incident verify`.
    pub fn summary(&self) -> String {
        if self.verified() {
            format!(
                "hash chain verified: {} entries, each naming the SHA-256 of the one before",
                self.entries
            )
        } else {
            format!(
                "hash chain BROKEN ({} of {} entries): {}",
                self.breaks.len(),
                self.entries,
                self.breaks.join("; ")
            )
        }
    }
}

/// Checks every link: the first entry names nothing, each later one its predecessor's hash.
pub fn verify<'a>(links: impl IntoIterator<Item = Link<'a>>) -> Verdict {
    let mut breaks = Vec::new();
    let mut before: Option<String> = None;
    let mut entries = 0;
    for link in links {
        entries += 1;
        match (&before, link.prev) {
            (None, None) => {}
            (None, Some(_)) => breaks.push(format!(
                "{}: names a predecessor, but it is the first entry (entries before it are missing)",
                link.place
            )),
            (Some(_), None) => breaks.push(format!(
                "{}: names no predecessor (inserted, or written without the chain)",
                link.place
            )),
            (Some(want), Some(got)) if want != got => breaks.push(format!(
                "{}: the entry before it is not the one it was written after (edited or deleted)",
                link.place
            )),
            (Some(_), Some(_)) => {}
        }
        before = Some(digest(link.body));
    }
    Verdict { entries, breaks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(bodies: &[&str]) -> Vec<(String, Option<String>)> {
        let mut prev = None;
        bodies
            .iter()
            .map(|b| {
                let out = (b.to_string(), prev.clone());
                prev = Some(digest(b.as_bytes()));
                out
            })
            .collect()
    }

    fn check(links: &[(String, Option<String>)]) -> Verdict {
        verify(links.iter().enumerate().map(|(i, (b, p))| Link {
            place: format!("line {}", i + 1),
            body: b.as_bytes(),
            prev: p.as_deref(),
        }))
    }

    #[test]
    fn digest_is_sha256() {
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_intact_chain_verifies_and_any_edit_or_deletion_breaks_it() {
        let good = chain(&["a", "b", "c", "d"]);
        assert!(check(&good).verified());
        assert!(check(&good).summary().starts_with("hash chain verified: 4"));

        let mut edited = good.clone();
        edited[1].0 = "B".into();
        let v = check(&edited);
        assert_eq!(v.breaks.len(), 1, "{v:?}");
        assert!(v.breaks[0].starts_with("line 3:"), "{v:?}");

        let mut deleted = good.clone();
        deleted.remove(2);
        assert!(check(&deleted).breaks[0].starts_with("line 3:"));

        let first_gone = good[1..].to_vec();
        assert!(check(&first_gone).breaks[0].contains("first entry"));

        let mut unchained = good;
        unchained[2].1 = None;
        assert!(check(&unchained).breaks[0].contains("names no predecessor"));
    }
}
