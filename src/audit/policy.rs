//! Does a policy document allow every action on every resource (`"*:*"` in the benchmark's
//! words)? IAM hands documents out URL-encoded (GetAccountAuthorizationDetails and
//! GetUserPolicy alike); both forms are read here.

use serde_json::Value;

/// Percent-decoding of the document IAM returns; plain JSON passes through.
pub fn decode(doc: &str) -> String {
    if !doc.contains('%') {
        return doc.to_string();
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// `Err` when the document is not JSON: the caller says so instead of guessing.
pub fn allows_everything(doc: &str) -> Result<bool, String> {
    let doc: Value =
        serde_json::from_str(&decode(doc)).map_err(|e| format!("policy document: {e}"))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => vec![],
    };
    Ok(statements.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Condition").is_none()
            && strings(s.get("Action"))
                .iter()
                .any(|a| *a == "*" || *a == "*:*")
            && strings(s.get("Resource")).contains(&"*")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_star_in_any_spelling() {
        let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert_eq!(allows_everything(admin), Ok(true));
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22*%3A*%22%5D%2C%22Resource%22%3A%5B%22*%22%5D%7D%7D";
        assert_eq!(allows_everything(encoded), Ok(true));
        let narrow = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(allows_everything(narrow), Ok(false));
        let deny = r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
        assert_eq!(allows_everything(deny), Ok(false));
        let scoped =
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(allows_everything(scoped), Ok(false));
        assert!(allows_everything("%7Bnot json").is_err());
    }
}
