//! An injection flood from a handful of addresses, and the IP set that ends it.

use super::{CLIENTS, IP_SET_RULE, MAX_FLOOD_IPS, RATE_RULE, RULES, WafSim};
use crate::ops::{OpError, Outcome, addresses};
use crate::sources::sim::Sec;
use ipnet::IpNet;
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
    addresses::parse_one(ip)
        .ok()
        .filter(|n| n.prefix_len() == n.max_prefix_len())
        .map(|n| n.addr())
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
        let nets = target(acl, ip)?;
        let new: Vec<IpNet> = nets
            .iter()
            .copied()
            .filter(|n| !self.ip_set.contains(n))
            .collect();
        let get = format!("wafv2 GetIPSet Name={IP_SET_NAME} Scope=REGIONAL");
        if new.is_empty() {
            return Ok(Outcome {
                summary: format!("{} already in {IP_SET_NAME}", addresses::join(&nets)),
                calls: vec![get],
            });
        }
        let before = addresses::join(&self.ip_set);
        self.ip_set.extend(&new);
        let calls = vec![
            get,
            format!(
                "wafv2 UpdateIPSet Name={IP_SET_NAME} Scope=REGIONAL LockToken=<from GetIPSet> \
                 Addresses before=[{before}] after=[{}]",
                addresses::join(&self.ip_set)
            ),
        ];
        Ok(Outcome {
            summary: format!(
                "added {} to {IP_SET_NAME} ({} addresses), blocked by rule {} of {ACL}",
                addresses::join(&new),
                self.ip_set.len(),
                RULES[IP_SET_RULE].name
            ),
            calls,
        })
    }
    /// The rollback of [`WafSim::block_ip`].
    pub fn unblock_ip(&mut self, acl: &str, ip: &str) -> Result<Outcome, OpError> {
        let nets = target(acl, ip)?;
        let mut calls = vec![format!("wafv2 GetIPSet Name={IP_SET_NAME} Scope=REGIONAL")];
        let gone: Vec<IpNet> = nets
            .iter()
            .copied()
            .filter(|n| self.ip_set.contains(n))
            .collect();
        if gone.is_empty() {
            return Ok(Outcome {
                summary: format!("{} not in {IP_SET_NAME}", addresses::join(&nets)),
                calls,
            });
        }
        let before = addresses::join(&self.ip_set);
        self.ip_set.retain(|n| !gone.contains(n));
        calls.push(format!(
            "wafv2 UpdateIPSet Name={IP_SET_NAME} Scope=REGIONAL LockToken=<from GetIPSet> \
             Addresses before=[{before}] after=[{}]",
            addresses::join(&self.ip_set)
        ));
        Ok(Outcome {
            summary: format!(
                "removed {} from {IP_SET_NAME} ({} addresses)",
                addresses::join(&gone),
                self.ip_set.len()
            ),
            calls,
        })
    }
}

/// The drill ACL's entries for `ip`, canonical.
fn target(acl: &str, ip: &str) -> Result<Vec<IpNet>, OpError> {
    if acl != ACL {
        return Err(OpError::NotFound(format!(
            "no web ACL `{acl}` (the drill has {ACL})"
        )));
    }
    addresses::parse(ip).map_err(OpError::Refused)
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
