//! Somebody else holding a user's access key: the usual first minutes of an account
//! takeover (look around, persist, escalate, cover tracks), then helping themselves, until
//! the key stops working.

use super::{REGION, TrailSim, event};
use crate::model::trail::TrailEvent;
use crate::sources::sim::dice::Dice;
use crate::sources::sim::{Sec, at};
use jiff::Timestamp;

/// The opening moves, each with the seconds since the previous one.
const SCRIPT: [(&str, Sec); 5] = [
    ("GetCallerIdentity", 10),
    ("ListUsers", 20),
    ("CreateAccessKey", 20),
    ("StopLogging", 25),
    ("AttachUserPolicy", 20),
];
/// What they do afterwards, now and then.
const LOOT: [&str; 5] = [
    "ListBuckets",
    "GetObject",
    "DescribeInstances",
    "GetSecretValue",
    "ListUsers",
];
/// The alarm counts the intruder's calls over this window: its evaluation period.
pub(crate) const WINDOW: Sec = 300;
/// IAM allows two access keys per user.
const KEYS_PER_USER: usize = 2;
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

#[derive(Debug, Clone)]
pub(crate) struct Intruder {
    pub user: String,
    pub ip: String,
    /// Suffix of the leaked key: the one they use throughout.
    pub key: String,
    next_at: Sec,
    step: usize,
    dice: Dice,
    /// The key stopped working and they moved on.
    gone: bool,
}

/// One call the intruder made, and the access key it created if that call did.
pub(crate) struct Intrusion {
    pub event: TrailEvent,
    pub new_key: Option<String>,
}

impl TrailSim {
    pub fn intrude(&mut self, seed: u64, t: Sec, user: &str, ip: &str, key: &str) {
        self.intruder = Some(Intruder {
            user: user.into(),
            ip: ip.into(),
            key: key.into(),
            next_at: t + SCRIPT[0].1,
            step: 0,
            dice: Dice::new(seed, 7),
            gone: false,
        });
    }

    pub fn intruder(&self) -> Option<&Intruder> {
        self.intruder.as_ref()
    }

    /// One second of the intruder. `key_active` is whether the leaked key still works;
    /// `keys` how many keys the user has. A refused key ends the story: requests signed
    /// with an inactive key fail authentication and CloudTrail records none of them.
    pub fn intruder_tick(
        &mut self,
        t: Sec,
        start: Timestamp,
        key_active: bool,
        keys: usize,
    ) -> Option<Intrusion> {
        while self.intrusions.front().is_some_and(|&s| t - s >= WINDOW) {
            self.intrusions.pop_front();
        }
        let i = self.intruder.as_mut()?;
        if !key_active {
            i.gone = true;
        }
        if i.gone || t < i.next_at {
            return None;
        }
        let name = match SCRIPT.get(i.step) {
            Some((name, _)) => *name,
            None => LOOT[i.dice.below(LOOT.len())],
        };
        i.step += 1;
        i.next_at = t + match SCRIPT.get(i.step) {
            Some((_, after)) => *after,
            None => i.dice.between(45, 120),
        };
        let mut e = event(at(start, t), &i.user, name, &i.ip);
        e.region = REGION.into();
        let mut new_key = None;
        match name {
            "CreateAccessKey" if keys >= KEYS_PER_USER => {
                e.error = Some(format!(
                    "LimitExceeded: Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}"
                ));
            }
            "CreateAccessKey" => new_key = Some(i.dice.token(KEY_ALPHABET, 4)),
            "StopLogging" => self.logging = false,
            _ => {}
        }
        self.intrusions.push_back(t);
        self.events.push_front(e.clone());
        self.events.truncate(super::KEEP);
        Some(Intrusion { event: e, new_key })
    }

    /// The intruder's calls within the alarm's window.
    pub fn intrusions(&self) -> u32 {
        self.intrusions.len() as u32
    }
}
