//! What `BlockIp` / `UnblockIp` take in their `ip` field: one or more IPv4/IPv6 addresses or
//! CIDRs, separated by commas or spaces. Every backend (AWS WAF, ModSecurity, the drill)
//! parses the field here, so a journal entry means the same thing wherever it is replayed.

use ipnet::IpNet;
use std::net::IpAddr;

/// The entries of an `ip` field, canonical (`203.0.113.7` → `203.0.113.7/32`, IPv6
/// lower-case and zero-compressed), in the order given, each once.
pub fn parse(text: &str) -> Result<Vec<IpNet>, String> {
    let words: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Err("no address given: write one or more IPv4/IPv6 addresses or CIDRs".into());
    }
    let mut nets: Vec<IpNet> = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let net = parse_one(word).map_err(|e| {
            if words.len() > 1 {
                format!("address {} of {}: {e}", i + 1, words.len())
            } else {
                e
            }
        })?;
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    Ok(nets)
}

/// One address or CIDR. Host bits beyond the prefix are refused rather than silently
/// cleared: `203.0.113.7/24` is more likely a typo than a wish to block 256 addresses, and
/// AWS WAF rejects it.
pub fn parse_one(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address or CIDR"))?;
    let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(format!(
                    "`{text}`: the prefix length must be 1 to {max} for an {} address",
                    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
                ));
            }
        },
    };
    let net = IpNet::new(ip, prefix).map_err(|e| format!("`{text}`: {e}"))?;
    if net.trunc() != net {
        return Err(format!(
            "`{text}` has bits set past /{prefix}: write the network address {}",
            net.trunc()
        ));
    }
    Ok(net)
}

/// The canonical text of `nets`, as a journal or an outcome shows them.
pub fn join(nets: &[IpNet]) -> String {
    nets.iter()
        .map(IpNet::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `entries` (as an IP set or deny file spells them, any case or compression) hold `net`
/// exactly. Entries that do not parse never match.
pub fn holds<S: AsRef<str>>(entries: &[S], net: IpNet) -> bool {
    entries
        .iter()
        .any(|e| parse_one(e.as_ref()).ok() == Some(net))
}

/// Some entry of `nets` covers the single address `ip`.
pub fn covers(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &str) -> Vec<String> {
        parse(t).unwrap().iter().map(IpNet::to_string).collect()
    }

    #[test]
    fn addresses_and_cidrs_of_both_families_become_canonical() {
        assert_eq!(texts("203.0.113.7"), ["203.0.113.7/32"]);
        assert_eq!(texts(" 198.51.100.0/24 "), ["198.51.100.0/24"]);
        assert_eq!(texts("2001:DB8::1"), ["2001:db8::1/128"]);
        assert_eq!(texts("2001:db8:0:0::/64"), ["2001:db8::/64"]);
        assert_eq!(
            texts("203.0.113.7, 2001:db8::1  198.51.100.0/24,,203.0.113.7/32"),
            ["203.0.113.7/32", "2001:db8::1/128", "198.51.100.0/24"],
            "commas or spaces, each address once, in the order given"
        );
    }

    #[test]
    fn garbage_is_refused_naming_the_word_and_its_place() {
        for (bad, says) in [
            ("", "no address given"),
            (" , ", "no address given"),
            ("203.0.113", "`203.0.113` is not an IPv4 or IPv6 address"),
            ("example.com", "not an IPv4 or IPv6 address"),
            ("203.0.113.7/33", "1 to 32 for an IPv4"),
            ("203.0.113.7/0", "1 to 32 for an IPv4"),
            ("203.0.113.7/x", "1 to 32 for an IPv4"),
            ("2001:db8::/129", "1 to 128 for an IPv6"),
            (
                "203.0.113.7/24",
                "bits set past /24: write the network address 203.0.113.0/24",
            ),
            ("2001:db8::1/64", "bits set past /64"),
            ("203.0.113.7, 10.0.0.300", "address 2 of 2: `10.0.0.300`"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn sets_hold_entries_however_spelled_and_cover_addresses() {
        let one = parse_one("2001:db8::1").unwrap();
        assert!(holds(&["2001:0DB8:0000::0001/128"], one));
        assert!(!holds(&["junk", "2001:db8::2/128"], one));
        let half = parse_one("203.0.113.0/25").unwrap();
        assert!(
            !holds(&["203.0.113.0/24"], half),
            "exact entries, not cover"
        );
        let nets = parse("198.51.100.0/24 2001:db8::/32").unwrap();
        assert!(covers(&nets, "198.51.100.200".parse().unwrap()));
        assert!(covers(&nets, "2001:db8:1::5".parse().unwrap()));
        assert!(!covers(&nets, "198.51.101.1".parse().unwrap()));
        assert_eq!(join(&nets), "198.51.100.0/24, 2001:db8::/32");
    }
}
