//! `[team]` in config.toml: where the shared journal lives.

use serde::{Deserialize, Deserializer};

/// ```toml
/// [team]
/// journal = "s3://ops-incidents/opsdeck/"   # region and credentials from [aws]
/// retain = { days = 400, mode = "compliance" }   # S3 Object Lock on every entry
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    #[serde(deserialize_with = "location")]
    pub journal: Location,
    /// Every entry is written under S3 Object Lock until this long after it was written, so
    /// not even the account's root can edit or delete it before then (access records are
    /// kept at least a year, SER-CLOUD-006). The bucket must have Object Lock enabled.
    #[serde(default)]
    pub retain: Option<Retain>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retain {
    #[serde(deserialize_with = "days")]
    pub days: u32,
    #[serde(default)]
    pub mode: LockMode,
}

/// S3 Object Lock's two modes: compliance binds everyone; governance lets a principal with
/// `s3:BypassGovernanceRetention` lift it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    #[default]
    Compliance,
    Governance,
}

fn days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    // S3 takes retain-until dates, but a default retention is at most 100 years; a lock
    // longer than that is a typo.
    if (1..=36_500).contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom(format!(
            "{n} is not a number of days between 1 and 36500"
        )))
    }
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

    #[test]
    fn reads_the_object_lock_retention() {
        let cfg: TeamConfig =
            toml::from_str("journal = \"s3://ops-incidents/x\"\nretain = { days = 400 }").unwrap();
        assert_eq!(
            cfg.retain,
            Some(Retain {
                days: 400,
                mode: LockMode::Compliance
            })
        );
        let cfg: TeamConfig = toml::from_str(
            "journal = \"s3://ops-incidents/x\"\nretain = { days = 30, mode = \"governance\" }",
        )
        .unwrap();
        assert_eq!(cfg.retain.unwrap().mode, LockMode::Governance);
        for (text, says) in [
            (
                "retain = { days = 0 }",
                "0 is not a number of days between 1 and 36500",
            ),
            (
                "retain = { days = 400, mode = \"legal\" }",
                "unknown variant `legal`",
            ),
            ("retain = { years = 1 }", "unknown field `years`"),
        ] {
            let err = toml::from_str::<TeamConfig>(&format!(
                "journal = \"s3://ops-incidents/x\"\n{text}"
            ))
            .unwrap_err();
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }
}
