//! `[[regions]]` in config.toml: the regions of an active-active service, each with its
//! Kubernetes context and its record set of a Route 53 record.
//!
//! ```toml
//! [[regions]]
//! name = "seoul"
//! kube_context = "prod-kr"
//! route53 = { zone = "example.com.", record = "shop.example.com", set_identifier = "seoul" }
//! database = "shop-mariadb"        # optional: the [[databases]] cluster taking its writes
//! aws_region = "ap-northeast-2"    # where its metrics are (else [aws]'s first region)
//! requests = { alb = "app/shop-kr/50dc6c495c0c9188" }   # or { waf = "shop-web-acl" }
//! ```

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub struct RegionConfig {
    pub name: String,
    pub kube_context: String,
    pub route53: Route53Record,
    pub database: Option<String>,
    pub aws_region: Option<String>,
    pub requests: Option<RequestsMetric>,
}

/// The record set a region owns: a hosted zone (by ID like `Z0123…` or by name), the
/// record's name and the set identifier of the weighted or failover record set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Record {
    pub zone: String,
    pub record: String,
    pub set_identifier: String,
}

impl Route53Record {
    /// The record's name as Route 53 lists it: lower case, with the trailing dot.
    pub fn fqdn(&self) -> String {
        fqdn(&self.record)
    }
}

pub fn fqdn(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    if lower.ends_with('.') {
        lower
    } else {
        format!("{lower}.")
    }
}

/// The CloudWatch metric that counts the region's requests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RequestsMetric {
    /// `AWS/ApplicationELB RequestCount` of a load balancer (`app/name/id`).
    Alb(String),
    /// `AWS/WAFV2 AllowedRequests` of a regional web ACL (Rule = ALL).
    Waf(String),
}

impl RequestsMetric {
    pub fn describe(&self) -> String {
        match self {
            RequestsMetric::Alb(lb) => format!("AWS/ApplicationELB RequestCount of {lb}"),
            RequestsMetric::Waf(acl) => format!("AWS/WAFV2 AllowedRequests of {acl}"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    name: String,
    kube_context: String,
    route53: Route53Record,
    database: Option<String>,
    #[serde(default, deserialize_with = "aws_region")]
    aws_region: Option<String>,
    requests: Option<RequestsMetric>,
}

fn aws_region<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if !crate::sources::aws::is_region_name(&name) {
        return Err(serde::de::Error::custom(format!(
            "`{name}` is not an AWS region name like ap-northeast-2 or us-east-1"
        )));
    }
    Ok(Some(name))
}

impl<'de> Deserialize<'de> for RegionConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RegionConfig, D::Error> {
        let raw = RawRegion::deserialize(d)?;
        let err = |m: String| serde::de::Error::custom(m);
        let whose = format!("region `{}`", raw.name);
        if raw.name.trim().is_empty() {
            return Err(err("a region needs a name".into()));
        }
        if raw.kube_context.trim().is_empty() {
            return Err(err(format!("{whose}: `kube_context` is empty")));
        }
        let r = &raw.route53;
        for (field, value) in [
            ("zone", &r.zone),
            ("record", &r.record),
            ("set_identifier", &r.set_identifier),
        ] {
            if value.trim().is_empty() {
                return Err(err(format!("{whose}: route53.{field} is empty")));
            }
        }
        Ok(RegionConfig {
            name: raw.name,
            kube_context: raw.kube_context,
            route53: raw.route53,
            database: raw.database,
            aws_region: raw.aws_region,
            requests: raw.requests,
        })
    }
}

/// `[[regions]]`: names and record sets are each used once.
pub fn unique<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RegionConfig>, D::Error> {
    let list = Vec::<RegionConfig>::deserialize(d)?;
    for (i, r) in list.iter().enumerate() {
        if list[..i].iter().any(|o| o.name == r.name) {
            return Err(serde::de::Error::custom(format!(
                "region `{}` is configured twice",
                r.name
            )));
        }
        if let Some(o) = list[..i].iter().find(|o| {
            o.route53.fqdn() == r.route53.fqdn()
                && o.route53.set_identifier == r.route53.set_identifier
        }) {
            return Err(serde::de::Error::custom(format!(
                "regions `{}` and `{}` name the same record set ({} {})",
                o.name,
                r.name,
                r.route53.fqdn(),
                r.route53.set_identifier
            )));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, load};

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, true).map(Option::unwrap)
    }

    const SEOUL: &str = "[[regions]]\nname = \"seoul\"\nkube_context = \"prod-kr\"\n\
        route53 = { zone = \"example.com.\", record = \"Shop.example.com\", set_identifier = \"seoul\" }\n";

    #[test]
    fn reads_each_region_and_its_record_set() {
        let cfg = load_text(&format!(
            "{SEOUL}database = \"shop-mariadb\"\naws_region = \"ap-northeast-2\"\n\
             requests = {{ alb = \"app/shop-kr/1\" }}\n\
             [[regions]]\nname = \"us\"\nkube_context = \"prod-us\"\n\
             route53 = {{ zone = \"Z123\", record = \"shop.example.com.\", set_identifier = \"us\" }}\n\
             requests = {{ waf = \"shop-web-acl\" }}\n"
        ))
        .unwrap();
        let r = &cfg.regions;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].route53.fqdn(), "shop.example.com.");
        assert_eq!(r[0].database.as_deref(), Some("shop-mariadb"));
        assert_eq!(
            r[0].requests,
            Some(super::RequestsMetric::Alb("app/shop-kr/1".into()))
        );
        assert_eq!(r[1].route53.zone, "Z123");
        assert_eq!(
            r[1].requests.as_ref().unwrap().describe(),
            "AWS/WAFV2 AllowedRequests of shop-web-acl"
        );
    }

    #[test]
    fn mistakes_are_located() {
        for (text, says) in [
            (
                format!("{SEOUL}{SEOUL}"),
                "region `seoul` is configured twice".to_string(),
            ),
            (
                "[[regions]]\nname = \"a\"\nkube_context = \"k\"\n\
                 route53 = { zone = \"z\", record = \"r\", set_identifer = \"a\" }\n"
                    .into(),
                "config.toml:4:39: unknown field `set_identifer`".into(),
            ),
            (
                "[[regions]]\nname = \"a\"\nkube_context = \"k\"\n\
                 route53 = { zone = \"z\", record = \"r\" }\n"
                    .into(),
                "config.toml:4:11: missing field `set_identifier`".into(),
            ),
            (
                format!("{SEOUL}aws_region = \"Seoul\"\n"),
                "config.toml:5:14: `Seoul` is not an AWS region name".into(),
            ),
            (
                "[[regions]]\nname = \"a\"\nkube_context = \"\"\n\
                 route53 = { zone = \"z\", record = \"r\", set_identifier = \"a\" }\n"
                    .into(),
                "config.toml:1:1: region `a`: `kube_context` is empty".into(),
            ),
        ] {
            let err = load_text(&text).unwrap_err().to_string();
            assert!(err.contains(&says), "{text}\n{err}");
        }
    }
}
