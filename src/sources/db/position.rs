//! Replication positions: PostgreSQL LSNs and MariaDB GTID lists, parsed so replicas can be
//! ordered by how much of the primary's history they hold.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// `16/B374D848` → byte position in the WAL.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    if hi > u32::MAX as u64 || lo > u32::MAX as u64 {
        return None;
    }
    Some((hi << 32) | lo)
}

/// A MariaDB GTID position: the last sequence number per replication domain. The server id
/// in the middle does not order transactions, so it is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPos(pub BTreeMap<u32, u64>);

impl GtidPos {
    /// `0-1-100,1-2-7`; empty text is the empty position. `None` if malformed.
    pub fn parse(text: &str) -> Option<GtidPos> {
        let mut map = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split('-');
            let domain = fields.next()?.parse::<u32>().ok()?;
            let _server = fields.next()?.parse::<u32>().ok()?;
            let seq = fields.next()?.parse::<u64>().ok()?;
            if fields.next().is_some() {
                return None;
            }
            let slot = map.entry(domain).or_insert(0);
            *slot = (*slot).max(seq);
        }
        Some(GtidPos(map))
    }

    /// Transactions in `ahead` that `self` has not got, summed over domains.
    pub fn behind(&self, ahead: &GtidPos) -> u64 {
        ahead
            .0
            .iter()
            .map(|(d, &seq)| seq.saturating_sub(self.0.get(d).copied().unwrap_or(0)))
            .sum()
    }

    /// True when `self` holds everything `other` holds.
    pub fn covers(&self, other: &GtidPos) -> bool {
        self.behind(other) == 0
    }

    /// Most advanced first: dominance per domain, then (for positions that diverged in
    /// different domains) the total, so the order is still total.
    pub fn cmp_advance(&self, other: &GtidPos) -> Ordering {
        match (self.covers(other), other.covers(self)) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.total().cmp(&other.total()),
        }
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_parse_as_byte_positions() {
        assert_eq!(parse_lsn("0/3000060"), Some(0x3000060));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374D848));
        assert_eq!(parse_lsn("nope"), None);
        assert_eq!(parse_lsn("1/100000000"), None);
    }

    #[test]
    fn gtid_positions_order_by_domain() {
        let a = GtidPos::parse("0-1-100").unwrap();
        let b = GtidPos::parse("0-2-98").unwrap();
        assert_eq!(a.cmp_advance(&b), Ordering::Greater);
        assert_eq!(b.behind(&a), 2);
        let multi = GtidPos::parse("0-1-100, 1-3-5").unwrap();
        assert_eq!(multi.cmp_advance(&a), Ordering::Greater);
        assert_eq!(a.behind(&multi), 5);
        assert_eq!(GtidPos::parse("").unwrap(), GtidPos::default());
        assert!(GtidPos::parse("0-1").is_none());
        assert!(GtidPos::parse("0-1-2-3").is_none());
    }
}
