//! An injection flood from a handful of addresses, and the IP set that ends it.

use super::{CLIENTS, IP_SET_RULE, MAX_FLOOD_IPS, RATE_RULE, RULES, WafSim};
use crate::ops::{OpError, Outcome};
use crate::sources::sim::Sec;
use std::net::IpAddr;

pub(crate) const ACL: &str = "shop-web-acl";
const IP_SET_NAME: &str = "blocked-ips-v4";
/// What an attacker still sends once every request it makes is refused: it moves on.
const TRICKLE: f64 = 0.02;
const COMMON_RULE: usize = 2;
const SQLI_RULE: usize = 4;
/// The XSS probe among the common rule set's requests.
const XSS_REQUEST: usize = 3;
/// The per-IP rate rule's limit, per minute.
const RATE_LIMIT: u32 = 100;
/// Where the flood's new addresses appear to come from, in turn.
const COUNTRIES: [&str; 6] = ["CN", "RU", "BR", "VN", "US", "NL"];

#[derive(Debug, Clone)]
pub(crate) struct Flood {
    clients: Vec<usize>,
    per_min: f64,
}

/// `203.0.113.50` or `203.0.113.50/32`; anything wider is not one client.
fn single_address(ip: &str) -> Option<IpAddr> {
    let (addr, prefix) = match ip.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (ip, None),
    };
    let addr: IpAddr = addr.trim().parse().ok()?;
    let full = match addr {
        IpAddr::V4(_) => "32",
        IpAddr::V6(_) => "128",
    };
    prefix.is_none_or(|p| p == full).then_some(addr)
}

fn cidr(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(_) => format!("{addr}/32"),
        IpAddr::V6(_) => format!("{addr}/128"),
    }
}

impl WafSim {
    fn slot_of(&mut self, ip: &str) -> Result<usize, String> {
        if let Some(i) = CLIENTS.iter().position(|c| c.0 == ip) {
            return Ok(i);
        }
        if let Some(k) = self.extra.iter().position(|c| c.0 == ip) {
            return Ok(CLIENTS.len() + k);
        }
        if self.extra.len() >= MAX_FLOOD_IPS {
            return Err(format!("a flood has at most {MAX_FLOOD_IPS} new addresses"));
        }
        let country = COUNTRIES[self.extra.len() % COUNTRIES.len()];
        self.extra.push((ip.to_string(), country));
        Ok(CLIENTS.len() + self.extra.len() - 1)
    }

    /// SQLi/XSS probes from `ips`, `per_min` requests a minute between them.
    pub fn flood(&mut self, ips: &[String], per_min: u32) -> Result<(), String> {
        if ips.is_empty() || per_min == 0 {
            return Err("a WAF flood needs at least one address and a rate above 0".into());
        }
        let mut clients = Vec::new();
        for ip in ips {
            let addr = single_address(ip).ok_or_else(|| format!("not an IP address: `{ip}`"))?;
            let slot = self.slot_of(&addr.to_string())?;
            if !clients.contains(&slot) {
                clients.push(slot);
            }
        }
        self.flood = Some(Flood {
            clients,
            per_min: f64::from(per_min),
        });
        Ok(())
    }

    pub fn block_ip(&mut self, acl: &str, ip: &str) -> Result<Outcome, OpError> {
        let (plain, entry) = target(acl, ip)?;
        let calls = vec![
            format!("wafv2 GetIPSet Name={IP_SET_NAME} Scope=REGIONAL"),
            format!(
                "wafv2 UpdateIPSet Name={IP_SET_NAME} Scope=REGIONAL Addresses+=[{entry}] \
                 LockToken=<from GetIPSet>"
            ),
        ];
        if self.ip_set.contains(&plain) {
            return Ok(Outcome {
                summary: format!("{entry} is already in {IP_SET_NAME}"),
                calls: calls.into_iter().take(1).collect(),
            });
        }
        self.ip_set.push(plain);
        Ok(Outcome {
            summary: format!(
                "added {entry} to {IP_SET_NAME} ({} addresses), blocked by rule {} of {ACL}",
                self.ip_set.len(),
                RULES[IP_SET_RULE].name
            ),
            calls,
        })
    }
    /// The rollback of [`WafSim::block_ip`].
    pub fn unblock_ip(&mut self, acl: &str, ip: &str) -> Result<Outcome, OpError> {
        let (plain, entry) = target(acl, ip)?;
        let mut calls = vec![format!("wafv2 GetIPSet Name={IP_SET_NAME} Scope=REGIONAL")];
        let Some(at) = self.ip_set.iter().position(|a| *a == plain) else {
            return Ok(Outcome {
                summary: format!("{entry} was not in {IP_SET_NAME}"),
                calls,
            });
        };
        self.ip_set.remove(at);
        calls.push(format!(
            "wafv2 UpdateIPSet Name={IP_SET_NAME} Scope=REGIONAL Addresses-=[{entry}] \
             LockToken=<from GetIPSet>"
        ));
        Ok(Outcome {
            summary: format!(
                "removed {entry} from {IP_SET_NAME} ({} addresses)",
                self.ip_set.len()
            ),
            calls,
        })
    }
}

/// The drill ACL's address for `ip`: as the set keeps it, and as the CIDR WAF writes.
fn target(acl: &str, ip: &str) -> Result<(String, String), OpError> {
    if acl != ACL {
        return Err(OpError::NotFound(format!(
            "no web ACL `{acl}` (the drill has {ACL})"
        )));
    }
    let addr = single_address(ip)
        .ok_or_else(|| OpError::Refused(format!("`{ip}` is not a single IP address")))?;
    let plain = addr.to_string();
    let entry = cidr(addr);
    Ok((plain, entry))
}

/// One second of the flood: each address sends its share, blocked by the first rule that
/// matches it.
pub(super) fn tick(w: &mut WafSim, t: Sec) {
    let Some(flood) = &w.flood else {
        return;
    };
    let per_client = flood.per_min / 60.0 / flood.clients.len().max(1) as f64;
    let clients = flood.clients.clone();
    for client in clients {
        let blocked = w.in_set(client);
        let mean = per_client * if blocked { TRICKLE } else { 1.0 };
        let mean = mean * (0.85 + 0.3 * w.chaos.unit());
        let whole = mean.floor();
        let count = whole as u32 + w.chaos.poisson(mean - whole);
        for _ in 0..count {
            let (rule, request) = if blocked {
                let n = RULES[IP_SET_RULE].requests.len();
                (IP_SET_RULE, w.chaos.below(n))
            } else if w.current.by_client[client] >= RATE_LIMIT {
                let n = RULES[RATE_RULE].requests.len();
                (RATE_RULE, w.chaos.below(n))
            } else if w.chaos.chance(0.6) {
                let n = RULES[SQLI_RULE].requests.len();
                (SQLI_RULE, w.chaos.below(n))
            } else {
                (COMMON_RULE, XSS_REQUEST)
            };
            w.record(t, client, rule, request);
        }
    }
}
