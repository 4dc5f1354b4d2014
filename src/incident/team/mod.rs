//! The team journal: every console configured with the same `[team] journal` sees the same
//! incidents. The store is an object store with conditional writes (S3): each entry is one
//! immutable object, claimed at the next sequence number with `If-None-Match: *`; whoever
//! loses the race reads what won, re-numbers and retries. The store's order is the order.
//!
//! This module is the part that needs no network: the entry format, the claim-and-follow
//! logic over any [`store::Store`], and the location syntax. The S3 store lives with the
//! AWS sources.

pub mod book;
pub mod config;
pub mod follow;
pub mod log;
pub mod presence;
pub mod store;

use super::event::Entry;
use serde::{Deserialize, Serialize};

/// One entry of the team journal, as stored in its object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    /// The store's sequence number: the object's key.
    pub seq: u64,
    /// SHA-256 of the previous object's body; absent on the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// Which console wrote it and the entry's number in that console's local journal: a
    /// retried upload of the same entry is recognised by this pair.
    pub origin: Origin,
    pub incident: String,
    pub entry: Entry,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    pub console: String,
    /// The incident's local journal this entry was first written to.
    pub incident: String,
    pub seq: u64,
}

/// A console's `user@host` without the suffix that tells one user's consoles apart, for
/// narrow places (the timeline's WHO column, the header).
pub fn user_at_host(console: &str) -> &str {
    console.rsplit_once('.').map_or(console, |(name, _)| name)
}

/// The console's name in the team: `user@host` and a suffix kept in the data dir, so two
/// consoles of one user on one bastion are told apart and a restarted console is the same.
pub fn console_id(dir: &std::path::Path, user: &str) -> std::io::Result<String> {
    let file = dir.join("console-id");
    if let Ok(id) = std::fs::read_to_string(&file) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_string());
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let suffix = format!("{:04x}", (nanos ^ std::process::id()) & 0xffff);
    let id = format!("{user}@{host}.{suffix}");
    std::fs::create_dir_all(dir)?;
    std::fs::write(&file, format!("{id}\n"))?;
    Ok(id)
}
