//! The playbook file format as written, before validation. Values that errors must point at
//! keep their place in the file.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub severity: Spanned<String>,
    #[serde(default)]
    pub answers: RawAnswers,
    #[serde(default)]
    pub inputs: BTreeMap<String, Spanned<RawInput>>,
    pub steps: Vec<Spanned<RawStep>>,
}

/// Which alarms this playbook answers, so an alarm can offer it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnswers {
    #[serde(default)]
    pub alarms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub default: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    pub allowed: Vec<serde_json::Value>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub action: Option<Spanned<serde_json::Value>>,
    pub check: Option<Spanned<serde_json::Value>>,
    pub wait: Option<Spanned<RawWait>>,
    pub manual: Option<String>,
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub retries: u32,
    pub on_failure: Option<Spanned<serde_json::Value>>,
    pub confirm: Option<Spanned<String>>,
    /// Declining the step's confirmation skips it (journaled) and the run goes on.
    #[serde(default)]
    pub optional: bool,
    /// A failed check may be overridden by the operator with a reason (journaled).
    #[serde(default, rename = "override")]
    pub overridable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWait {
    pub until: Spanned<serde_json::Value>,
    pub timeout: Spanned<String>,
    pub every: Option<Spanned<String>>,
}
