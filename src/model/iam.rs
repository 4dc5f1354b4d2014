//! IAM users and the account's credential posture.

use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IamSnapshot {
    pub account_id: String,
    pub root: RootAccount,
    pub password_policy: Option<PasswordPolicy>,
    pub users: Vec<IamUser>,
    /// Policies that allow every action on every resource, and who holds them.
    pub admin_policies: Vec<AdminPolicy>,
    /// Roles that hold AWSSupportAccess (CIS 1.16 wants at least one).
    pub support_roles: Vec<String>,
    pub report: ReportState,
    /// Parts of the account this source could not read, and why: the rest still shows.
    pub unavailable: Vec<Unavailable>,
    /// The selected user as IAM answers right now, against the credential report.
    pub live_check: Option<UserCheck>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RootAccount {
    pub mfa: bool,
    /// Known only when the virtual MFA devices could be listed: root MFA that is not a
    /// virtual device is a hardware one.
    pub hardware_mfa: Option<bool>,
    pub access_keys: u8,
    pub last_used: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PasswordPolicy {
    pub min_length: u8,
    pub require_symbols: bool,
    pub max_age_days: Option<u32>,
    /// How many previous passwords cannot be reused; `None` when reuse is not limited.
    pub reuse_prevention: Option<u32>,
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
    /// Empty while only the credential report (which has no key ids) has been read.
    pub id_suffix: String,
    /// The credential report's column for it: `access_key_1_*` or `access_key_2_*`.
    pub slot: u8,
    pub active: bool,
    pub created: Timestamp,
    pub last_used: Option<Timestamp>,
}

impl AccessKey {
    /// `…ABCD` where the key id is known, else the report's `key 1` / `key 2`.
    pub fn label(&self) -> String {
        if self.id_suffix.is_empty() {
            format!("key {}", self.slot)
        } else {
            format!("…{}", self.id_suffix)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IamUser {
    pub name: String,
    pub arn: String,
    pub groups: Vec<String>,
    pub mfa: Mfa,
    pub console_access: bool,
    pub password_changed: Option<Timestamp>,
    pub password_last_used: Option<Timestamp>,
    pub access_keys: Vec<AccessKey>,
    pub last_activity: Option<Timestamp>,
    /// Allowed `*` on `*`, directly or through a group.
    pub admin: bool,
    /// Managed and inline policies attached to the user itself, not through a group.
    pub direct_policies: Vec<String>,
    /// How the user holds the AWS-managed AdministratorAccess: `direct`, or `group NAME`.
    pub administrator_access: Vec<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    AwsManaged,
    CustomerManaged,
    Inline,
}

/// A policy document that allows `*` on `*`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminPolicy {
    pub name: String,
    /// The policy's ARN; for an inline policy, its owner's ARN.
    pub arn: String,
    pub kind: PolicyKind,
    /// `user/NAME`, `group/NAME`, `role/NAME`.
    pub attached_to: Vec<String>,
}

/// Where GenerateCredentialReport / GetCredentialReport got to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReportState {
    /// Not asked for (the drill world has no report).
    #[default]
    None,
    /// AWS is still generating it; users show without their credential columns meanwhile.
    Generating {
        attempts: u32,
    },
    Complete {
        generated: Timestamp,
    },
    Failed {
        why: String,
    },
}

impl ReportState {
    pub fn generated(&self) -> Option<Timestamp> {
        match self {
            ReportState::Complete { generated } => Some(*generated),
            _ => None,
        }
    }
}

/// One section a call could not fill: not implemented by the endpoint, forbidden, failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    pub section: String,
    pub why: String,
}

/// One field of the selected user as the live calls answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedField {
    pub field: String,
    pub report: String,
    pub live: String,
}

impl CheckedField {
    pub fn differs(&self) -> bool {
        self.report != self.live
    }
}

/// ListMFADevices, ListAccessKeys, GetAccessKeyLastUsed and GetLoginProfile for one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserCheck {
    pub user: String,
    pub at: Timestamp,
    pub fields: Vec<CheckedField>,
    /// The last four characters of each key ListAccessKeys lists, in the report's order.
    pub key_suffixes: Vec<String>,
    pub error: Option<String>,
}
