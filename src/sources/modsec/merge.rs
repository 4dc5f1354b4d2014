//! One WAF area fed by two sources, AWS WAF and ModSecurity: each publishes into its own
//! channel and this merges the latest of both into the area's, so the pane, the overview
//! and `status --json` see every web ACL, the summed rates and one list of who is blocked.

use super::tally::{RECENT, TOP};
use crate::model::waf::{Count, Passed, RatePoint, WafSnapshot};
use crate::model::{Feed, Health};
use crate::sources::{Rx, Tx};
use std::collections::HashMap;
use std::sync::Arc;

fn counts(parts: &[&WafSnapshot], pick: impl Fn(&WafSnapshot) -> &[Count]) -> Vec<Count> {
    let mut sum: HashMap<&str, u64> = HashMap::new();
    for p in parts {
        for c in pick(p) {
            *sum.entry(&c.key).or_default() += c.count;
        }
    }
    let mut out: Vec<Count> = sum
        .into_iter()
        .map(|(k, n)| Count {
            key: k.to_string(),
            count: n,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out.truncate(TOP);
    out
}

/// Both series end at the current minute: summed from the newest point back.
fn rates(parts: &[&WafSnapshot]) -> Vec<RatePoint> {
    let len = parts.iter().map(|p| p.rates.len()).max().unwrap_or(0);
    let mut out = vec![RatePoint::default(); len];
    for p in parts {
        let skip = len - p.rates.len();
        for (slot, point) in out[skip..].iter_mut().zip(&p.rates) {
            slot.allowed += point.allowed;
            slot.blocked += point.blocked;
            slot.counted += point.counted;
        }
    }
    out
}

/// The area as both parts have it; `None` until each has answered once, so nothing judges
/// the WAF by half of it.
pub fn merge(parts: &[Arc<Feed<WafSnapshot>>]) -> Option<Feed<WafSnapshot>> {
    if parts.iter().any(|p| !p.health.answered()) {
        return None;
    }
    let live: Vec<&Feed<WafSnapshot>> = parts.iter().map(Arc::as_ref).collect();
    let snaps: Vec<&WafSnapshot> = live.iter().map(|f| &f.data).collect();
    let mut recent: Vec<_> = snaps
        .iter()
        .flat_map(|s| s.recent_blocked.iter().cloned())
        .collect();
    recent.sort_by_key(|b| std::cmp::Reverse(b.time));
    recent.truncate(RECENT);
    let errors: Vec<&str> = live
        .iter()
        .filter_map(|f| f.health.last_error.as_deref())
        .collect();
    let offs: Vec<&str> = live
        .iter()
        .filter_map(|f| f.health.off.as_deref())
        .collect();
    let health = Health {
        // As fresh as its stalest part.
        last_ok: live.iter().filter_map(|f| f.health.last_ok).min(),
        last_error: (!errors.is_empty()).then(|| errors.join("; ")),
        off: (offs.len() == live.len()).then(|| offs.join("; ")),
    };
    Some(Feed {
        data: WafSnapshot {
            acls: snaps.iter().flat_map(|s| s.acls.iter().cloned()).collect(),
            rates: rates(&snaps),
            top_ips: counts(&snaps, |s| &s.top_ips),
            top_rules: counts(&snaps, |s| &s.top_rules),
            recent_blocked: recent,
            requests_from: Some(
                snaps
                    .iter()
                    .filter_map(|s| s.requests_from.as_deref())
                    .collect::<Vec<_>>()
                    .join(" + "),
            )
            .filter(|f| !f.is_empty()),
            passed: snaps
                .iter()
                .map(|s| s.passed)
                .reduce(Passed::and)
                .unwrap_or_default(),
        },
        health,
    })
}

/// Publishes the merge of `parts` into `tx` whenever one of them changes.
pub fn spawn(parts: Vec<Rx<WafSnapshot>>, tx: Tx<WafSnapshot>) {
    tokio::spawn(async move {
        let mut parts = parts;
        loop {
            let latest: Vec<_> = parts
                .iter_mut()
                .map(|p| p.borrow_and_update().clone())
                .collect();
            if let Some(feed) = merge(&latest) {
                tx.send_if_modified(|current| {
                    if **current == feed {
                        return false;
                    }
                    *current = Arc::new(feed);
                    true
                });
            }
            let changes = parts.iter_mut().map(|p| Box::pin(p.changed()));
            let (done, _, _) = futures::future::select_all(changes).await;
            if done.is_err() || tx.is_closed() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waf::{BlockedRequest, WebAcl};
    use jiff::Timestamp;

    fn part(acl: &str, ip: &str, at: i64, rates: &[u64], passed: Passed) -> Arc<Feed<WafSnapshot>> {
        let time = Timestamp::from_second(at).unwrap();
        Arc::new(Feed {
            data: WafSnapshot {
                acls: vec![WebAcl {
                    name: acl.into(),
                    scope: "s".into(),
                    default_action: "Allow".into(),
                    rules: vec![],
                }],
                rates: rates
                    .iter()
                    .map(|&b| RatePoint {
                        allowed: 1,
                        blocked: b,
                        counted: 0,
                    })
                    .collect(),
                top_ips: vec![Count {
                    key: ip.into(),
                    count: 2,
                }],
                top_rules: vec![],
                recent_blocked: vec![BlockedRequest {
                    time,
                    client_ip: ip.into(),
                    country: "-".into(),
                    method: "GET".into(),
                    uri: "/".into(),
                    rule: "r".into(),
                }],
                requests_from: None,
                passed,
            },
            health: Health::ok(time),
        })
    }

    #[test]
    fn both_sources_show_side_by_side_and_their_counts_add_up() {
        let aws = part(
            "shop-web-acl",
            "203.0.113.7",
            100,
            &[1, 2, 3],
            Passed::Allowed,
        );
        let modsec = part(
            "modsecurity",
            "203.0.113.7",
            200,
            &[10, 20],
            Passed::Flagged,
        );
        assert!(
            merge(&[aws.clone(), Arc::default()]).is_none(),
            "one is silent"
        );
        let both = merge(&[aws.clone(), modsec]).unwrap();
        let names: Vec<&str> = both.data.acls.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["shop-web-acl", "modsecurity"]);
        let blocked: Vec<u64> = both.data.rates.iter().map(|p| p.blocked).collect();
        assert_eq!(blocked, [1, 12, 23], "aligned on the newest minute");
        assert_eq!(both.data.top_ips[0].count, 4);
        assert_eq!(
            both.data.passed,
            Passed::Mixed,
            "AWS's allowed plus ModSecurity's flagged is neither"
        );
        assert_eq!(both.data.recent_blocked[0].time.as_second(), 200);
        assert_eq!(both.health.last_ok.unwrap().as_second(), 100);
        let mut failing = (*aws).clone();
        failing.health.last_error = Some("us-east-1: throttled".into());
        let stale = merge(&[Arc::new(failing), Arc::default()]);
        assert!(stale.is_none());
        let mut broken = Feed::<WafSnapshot>::default();
        broken.health.last_error = Some("audit log /x: no such file".into());
        let half = merge(&[aws, Arc::new(broken)]).unwrap();
        assert_eq!(
            half.health.last_error.as_deref(),
            Some("audit log /x: no such file")
        );
        assert_eq!(half.data.acls.len(), 1, "the healthy part still shows");
    }
}
