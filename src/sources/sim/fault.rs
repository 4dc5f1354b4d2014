//! The incidents a drill scenario injects into the world (SPEC §3, drill mode). Each one
//! changes what the world does from then on, and each can be fixed with the ops a playbook
//! runs; nothing heals by itself.

use super::{World, iam};
use serde::{Deserialize, Serialize};

/// Written in scenario files as `primary_down: { cluster: shop-mariadb }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The MariaDB primary stops answering; replicas keep what they had received.
    PrimaryDown { cluster: String },
    /// A live-commerce event: `factor` times the load on `shop/<deployment>`.
    TrafficSpike { deployment: String, factor: f64 },
    /// A new revision whose build fails `error_pct` % of its requests.
    BadDeploy { deployment: String, error_pct: f64 },
    /// SQLi/XSS probes from `ips`, `per_min` requests a minute between them.
    WafFlood { ips: Vec<String>, per_min: u32 },
    /// Every node of `zone` stops answering.
    AzOutage { zone: String },
    /// The user's oldest active access key is used from `from_ip`.
    LeakedKey { user: String, from_ip: String },
    /// The region's Route 53 health check fails while it still takes its share of traffic.
    RegionOutage { region: String },
}

impl World {
    /// Starts `fault` now. Fails, changing nothing, when it names something the world does
    /// not have.
    pub fn inject(&mut self, fault: &Fault) -> Result<(), String> {
        let t = self.t;
        match fault {
            Fault::PrimaryDown { cluster } => self.db.primary_down(cluster),
            Fault::TrafficSpike { deployment, factor } => self.cluster.spike(deployment, *factor),
            Fault::BadDeploy {
                deployment,
                error_pct,
            } => self.cluster.bad_deploy(deployment, *error_pct, t),
            Fault::WafFlood { ips, per_min } => {
                // Validate on a copy: a bad address halfway must not leave half a flood.
                let mut waf = self.waf.clone();
                waf.flood(ips, *per_min)?;
                self.waf = waf;
                Ok(())
            }
            Fault::AzOutage { zone } => self.cluster.az_outage(zone),
            Fault::RegionOutage { region } => self.regions.outage(region),
            Fault::LeakedKey { user, from_ip } => {
                let key = iam::leak_target(&self.iam, user)?;
                if from_ip.parse::<std::net::IpAddr>().is_err() {
                    return Err(format!("not an IP address: `{from_ip}`"));
                }
                self.trail.intrude(self.seed, t, user, from_ip, &key);
                Ok(())
            }
        }
    }

    /// One second of whoever holds a leaked key, and what their calls change in IAM.
    pub(super) fn intruder_tick(&mut self, t: super::Sec) {
        let Some(i) = self.trail.intruder() else {
            return;
        };
        let active = iam::key_active(&self.iam, &i.user, &i.key);
        let keys = iam::key_count(&self.iam, &i.user);
        if let Some(hit) = self.trail.intruder_tick(t, self.start, active, keys) {
            iam::touch(&mut self.iam, &hit.event);
            iam::intruded(&mut self.iam, &hit.event, hit.new_key);
        }
    }
}
