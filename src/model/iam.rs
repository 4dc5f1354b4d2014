//! IAM users and the account's credential posture.

use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IamSnapshot {
    pub account_id: String,
    pub root: RootAccount,
    pub password_policy: Option<PasswordPolicy>,
    pub users: Vec<IamUser>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RootAccount {
    pub mfa: bool,
    pub access_keys: u8,
    pub last_used: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PasswordPolicy {
    pub min_length: u8,
    pub require_symbols: bool,
    pub max_age_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mfa {
    None,
    Virtual,
    Hardware,
}

impl Mfa {
    pub fn word(self) -> &'static str {
        match self {
            Mfa::None => "none",
            Mfa::Virtual => "virtual",
            Mfa::Hardware => "hardware",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessKey {
    /// Only the last four characters are kept: the console never holds a whole key id.
    pub id_suffix: String,
    pub active: bool,
    pub created: Timestamp,
    pub last_used: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IamUser {
    pub name: String,
    pub groups: Vec<String>,
    pub mfa: Mfa,
    pub console_access: bool,
    pub password_changed: Option<Timestamp>,
    pub access_keys: Vec<AccessKey>,
    pub last_activity: Option<Timestamp>,
    pub admin: bool,
    pub created: Timestamp,
}

impl IamUser {
    /// The oldest active access key, which is the one a rotation policy cares about.
    pub fn oldest_active_key(&self) -> Option<&AccessKey> {
        self.access_keys
            .iter()
            .filter(|k| k.active)
            .min_by_key(|k| k.created)
    }
}
