//! The list of calls an operation made or would make, as shown in a dry-run and written to
//! the journal. Nothing secret is ever pushed here: callers pass redacted text.

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Calls(pub Vec<String>);

impl Calls {
    pub fn sql(&mut self, member: &str, sql: &str) {
        self.0.push(format!("SQL {member}: {sql}"));
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.0.push(text.into());
    }
}
