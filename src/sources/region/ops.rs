//! The weight change of `region-evacuate` and `region-restore`: read the record set,
//! UPSERT it with the new weight (everything else as it was), wait until Route 53 says the
//! change is INSYNC, then one record TTL so resolvers drop the old answer.

use super::RegionReader;
use super::route53;
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

pub struct RegionOps {
    reader: Arc<RegionReader>,
    /// Between GetChange polls; tests make it short.
    pub poll: Duration,
    /// Longest wait for one record TTL (a record with a day's TTL does not hold a run up
    /// for a day: the outcome says how much of it was waited).
    pub ttl_cap: Duration,
}

impl RegionOps {
    pub fn new(reader: Arc<RegionReader>) -> RegionOps {
        RegionOps {
            reader,
            poll: Duration::from_secs(2),
            ttl_cap: Duration::from_secs(300),
        }
    }
}

#[async_trait]
impl Ops for RegionOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let Op::SetRegionWeight {
            region,
            weight,
            previous,
        } = op
        else {
            return Err(OpError::Unsupported(format!("{op}: not a Route 53 change")));
        };
        let cfg = self.reader.config(region).ok_or_else(|| {
            let known: Vec<&str> = self
                .reader
                .regions
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            OpError::NotFound(format!(
                "no region `{region}` in [[regions]] (configured: {})",
                known.join(", ")
            ))
        })?;
        let aws = self.reader.aws().map_err(OpError::Unsupported)?;
        let miss = |m: route53::Miss| match m {
            route53::Miss::NotFound(s) => OpError::NotFound(format!("region {region}: {s}")),
            route53::Miss::Aws(s) => OpError::Failed(format!("region {region}: {s}")),
        };
        let zone = self.reader.zone_id(&cfg.route53.zone).await.map_err(miss)?;
        let current = route53::record_set(aws, &zone, &cfg.route53)
            .await
            .map_err(miss)?;
        let Some(now) = current.weight() else {
            return Err(OpError::Unsupported(format!(
                "region {region}: record set {} {} is not weighted ({}): weights do not apply",
                current.name(),
                cfg.route53.set_identifier,
                match route53::routing(&current) {
                    crate::model::region::Routing::Failover(role) => format!("failover {role}"),
                    _ => "simple routing".into(),
                }
            )));
        };
        if let Some(p) = previous
            && i64::from(*p) != now
        {
            return Err(OpError::Refused(format!(
                "region {region}'s weight is {now} now, not the {p} this run read: someone \
                 changed it since; look again before moving traffic"
            )));
        }
        let batch_line = route53::batch_text(&zone, &current, *weight);
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!(
                    "would set the weight of region {region} from {now} to {weight}, then wait \
                     for INSYNC and one TTL ({} s)",
                    current.ttl().unwrap_or(0)
                ),
                calls: vec![batch_line],
            });
        }
        let batch = route53::upsert(&current, *weight).map_err(OpError::Failed)?;
        let id = route53::change(aws, &zone, batch)
            .await
            .map_err(|e| OpError::Failed(format!("region {region}: {}", e.line())))?;
        let mut polls = 0u32;
        loop {
            polls += 1;
            match route53::in_sync(aws, &id).await {
                Ok(true) => break,
                Ok(false) => tokio::time::sleep(self.poll).await,
                Err(e) => {
                    return Err(OpError::Failed(format!(
                        "region {region}: weight changed (change {id}) but its state is \
                         unknown: {}",
                        e.line()
                    )));
                }
            }
        }
        let ttl = Duration::from_secs(u64::try_from(current.ttl().unwrap_or(0)).unwrap_or(0));
        let waited = ttl.min(self.ttl_cap);
        tokio::time::sleep(waited).await;
        Ok(Outcome {
            summary: format!(
                "weight of region {region} {now} → {weight}: change {id} INSYNC, waited {} s \
                 (one TTL{})",
                waited.as_secs(),
                if waited < ttl { ", capped" } else { "" }
            ),
            calls: vec![
                batch_line,
                format!("GetChange {id} → INSYNC after {polls} poll(s)"),
            ],
        })
    }
}
