//! libpq `key=value` connection strings, as found in `primary_conninfo`: parsed so a
//! re-point changes host and port and keeps everything else (user, password, options)
//! without opsdeck ever needing to know the replication password.

/// `host=a port=5432 password='x y'` → pairs in order. `None` if malformed.
pub fn parse(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                    chars.next();
                }
            }
        }
        pairs.push((key, value));
    }
}

/// Pairs back to text, quoting every value so spaces and quotes survive.
pub fn format(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sets `key`, replacing an existing value or appending.
pub fn set(pairs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => pairs.push((key.to_string(), value.to_string())),
    }
}

/// The same text with the password value replaced, for dry-runs and the journal.
pub fn redacted(pairs: &[(String, String)]) -> String {
    let shown: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            if k == "password" {
                (k.clone(), "***".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    format(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_changes_only_host_and_port() {
        let mut pairs =
            parse("user=repl password='p w\\'x' host=10.0.0.1 port=5432 sslmode = prefer").unwrap();
        assert_eq!(pairs[1], ("password".into(), "p w'x".into()));
        assert_eq!(pairs[4], ("sslmode".into(), "prefer".into()));
        set(&mut pairs, "host", "10.0.0.2");
        set(&mut pairs, "port", "5433");
        let text = format(&pairs);
        assert_eq!(parse(&text).unwrap(), pairs);
        assert!(text.contains("host='10.0.0.2'"));
        let shown = redacted(&pairs);
        assert!(!shown.contains("p w"), "{shown}");
        assert!(shown.contains("password='***'"));
    }

    #[test]
    fn malformed_text_is_none() {
        assert!(parse("host").is_none());
        assert!(parse("host='unterminated").is_none());
        assert_eq!(parse("  ").unwrap(), vec![]);
    }
}
