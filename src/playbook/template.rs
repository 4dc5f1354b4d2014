//! `{{name}}` placeholders in step arguments. A string that is exactly one placeholder takes
//! the value's type (so `replicas: "{{replicas}}"` becomes a number); placeholders inside
//! longer strings are spliced in as text.

use serde_json::Value;
use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, Value>;

/// Every placeholder name used in `v`.
pub fn names(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(v, &mut |s| {
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start..].find("}}") else {
                break;
            };
            out.push(rest[start + 2..start + end].trim().to_string());
            rest = &rest[start + end + 2..];
        }
    });
    out
}

fn walk(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| walk(i, f)),
        Value::Object(map) => map.values().for_each(|i| walk(i, f)),
        _ => {}
    }
}

/// Replaces every placeholder; an unknown name is an error naming it.
pub fn resolve(v: &Value, vars: &Vars) -> Result<Value, String> {
    walk_resolve(v, vars, false)
}

/// Replaces the placeholders `vars` has and leaves the others as written, to describe a
/// step before every value is known.
pub fn resolve_known(v: &Value, vars: &Vars) -> Value {
    walk_resolve(v, vars, true).unwrap_or_else(|_| v.clone())
}

fn walk_resolve(v: &Value, vars: &Vars, keep_unknown: bool) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => resolve_str(s, vars, keep_unknown)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| walk_resolve(i, vars, keep_unknown))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, i)| Ok((k.clone(), walk_resolve(i, vars, keep_unknown)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup(name: &str, vars: &Vars, keep_unknown: bool) -> Result<Value, String> {
    match vars.get(name) {
        Some(v) => Ok(v.clone()),
        None if keep_unknown => Ok(Value::String(format!("{{{{{name}}}}}"))),
        None => Err(format!("`{{{{{name}}}}}` has no value")),
    }
}

fn resolve_str(s: &str, vars: &Vars, keep_unknown: bool) -> Result<Value, String> {
    let trimmed = s.trim();
    if trimmed.starts_with("{{") && trimmed.ends_with("}}") && trimmed.matches("{{").count() == 1 {
        return lookup(trimmed[2..trimmed.len() - 2].trim(), vars, keep_unknown);
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        match lookup(rest[start + 2..start + end].trim(), vars, keep_unknown)? {
            Value::String(v) => out.push_str(&v),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_placeholders_keep_their_type() {
        let vars = Vars::from([("n".into(), json!(12)), ("ns".into(), json!("shop"))]);
        let v = json!({"replicas": "{{n}}", "where": "{{ns}}/user", "list": ["{{ ns }}"]});
        assert_eq!(
            resolve(&v, &vars).unwrap(),
            json!({"replicas": 12, "where": "shop/user", "list": ["shop"]})
        );
        assert_eq!(names(&v), ["ns", "n", "ns"]);
        assert_eq!(
            resolve(&json!("{{x}}"), &vars).unwrap_err(),
            "`{{x}}` has no value"
        );
        assert_eq!(
            resolve_known(
                &json!({"a": "{{n}}", "b": "{{x}}", "c": "{{x}}/{{ns}}"}),
                &vars
            ),
            json!({"a": 12, "b": "{{x}}", "c": "{{x}}/shop"})
        );
    }
}
