//! Passwords in memory, and keeping them out of every string opsdeck shows or writes.

use std::fmt;

/// A password. Debug and Display print `***`; the only way to the text is `expose`, used
/// where a driver needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Removes credentials from a message that came from a driver or a server: the known
/// secrets themselves, `password=…` in a libpq conninfo, and `user:pass@` in a URL DSN.
pub fn scrub(message: &str, secrets: &[&Secret]) -> String {
    let mut out = message.to_string();
    for s in secrets {
        // Very short secrets would blank out ordinary words; they are caught by the
        // patterns below when they appear as a password.
        if s.0.len() >= 4 {
            out = out.replace(&s.0, "***");
        }
    }
    redact_conninfo_passwords(&redact_url_passwords(&out))
}

/// `scheme://user:pass@host` → `scheme://user:***@host`.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// `password=abc` or `password='a b'` → `password=***` (libpq conninfo syntax).
pub fn redact_conninfo_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = find_ascii_case_insensitive(rest, "password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        out.push_str(head);
        out.push_str("***");
        rest = &tail[conninfo_value_len(tail)..];
    }
    out.push_str(rest);
    out
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Length of one conninfo value at the start of `s`: quoted with `\` escapes, or up to
/// whitespace.
fn conninfo_value_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b'\'') {
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'\'' => return i + 1,
                _ => i += 1,
            }
        }
        return bytes.len();
    }
    s.find(|c: char| c.is_whitespace() || c == '\'')
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let s = Secret::new("hunter2-long".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2-long");
    }

    #[test]
    fn scrub_removes_known_secrets_and_password_shapes() {
        let s = Secret::new("hunter2-long".into());
        assert_eq!(
            scrub("auth failed for hunter2-long", &[&s]),
            "auth failed for ***"
        );
        assert_eq!(
            scrub("mysql://app:p4ss@db:3306/x failed", &[]),
            "mysql://app:***@db:3306/x failed"
        );
        assert_eq!(
            scrub("host=a password='x y\\' z' port=5", &[]),
            "host=a password=*** port=5"
        );
        assert_eq!(
            scrub("host=a PASSWORD=abc port=5", &[]),
            "host=a PASSWORD=*** port=5"
        );
        assert_eq!(
            scrub("see https://example.org/x", &[]),
            "see https://example.org/x"
        );
    }
}
