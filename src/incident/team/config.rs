//! `[team]` in config.toml: where the shared journal lives.

use serde::{Deserialize, Deserializer};

/// ```toml
/// [team]
/// journal = "s3://ops-incidents/opsdeck/"   # region and credentials from [aws]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    #[serde(deserialize_with = "location")]
    pub journal: Location,
}

/// An S3 bucket and the key prefix under it, normalised to end in `/` (or be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    pub fn parse(text: &str) -> Result<Location, String> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{text}` is not an S3 location like s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(format!(
                "`{bucket}` in `{text}` is not an S3 bucket name (3-63 lowercase letters, digits, `-`, `.`)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        Ok(Location {
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// The same bucket, one level further down: drills keep their own team journal.
    pub fn under(&self, name: &str) -> Location {
        Location {
            bucket: self.bucket.clone(),
            prefix: format!("{}{name}/", self.prefix),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

fn location<'de, D: Deserializer<'de>>(d: D) -> Result<Location, D::Error> {
    Location::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bucket_and_prefix() {
        let l = Location::parse("s3://ops-incidents/opsdeck/prod").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("ops-incidents", "opsdeck/prod/")
        );
        assert_eq!(Location::parse("s3://ops-incidents").unwrap().prefix, "");
        assert_eq!(l.under("drill").prefix, "opsdeck/prod/drill/");
        assert_eq!(l.to_string(), "s3://ops-incidents/opsdeck/prod/");
    }

    #[test]
    fn refuses_what_is_not_an_s3_location() {
        for (text, says) in [
            ("ops-incidents/x", "is not an S3 location"),
            ("s3://Ops_Incidents/x", "is not an S3 bucket name"),
            ("s3:///x", "is not an S3 bucket name"),
        ] {
            assert!(Location::parse(text).unwrap_err().contains(says), "{text}");
        }
        let err = toml::from_str::<TeamConfig>("journal = \"http://x\"").unwrap_err();
        assert!(err.to_string().contains("is not an S3 location"), "{err}");
    }
}
