//! The self-hosted WAF: ModSecurity 3 with the OWASP CRS behind nginx. Its JSON audit log
//! (`SecAuditLogFormat JSON`) is tailed like `tail -F` into the same [`WafSnapshot`] the AWS
//! web ACLs fill, as one more web ACL named [`ACL`]; blocking an address writes the deny
//! list nginx includes and reloads nginx ([`ops`]).
//!
//! ```toml
//! [waf]
//! modsecurity_audit_log = "/var/log/nginx/modsec_audit.json"
//! modsecurity_deny_file = "/etc/nginx/opsdeck-deny.conf"   # `include`d in the server block
//! modsecurity_reload = ["nginx", "-s", "reload"]
//! ```

pub mod deny;
pub mod merge;
pub mod ops;
pub mod record;
pub mod tail;
pub mod tally;

use crate::config::WafConfig;
use crate::model::waf::{Passed, RuleKind, WafRule, WafSnapshot, WebAcl};
use crate::sources::Tx;
use deny::DenyFile;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use record::AuditRecord;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tail::Tail;
use tally::Tally;
use tokio::sync::Notify;

/// The name the ModSecurity web ACL goes by in the pane and in `block_ip { acl }`.
pub const ACL: &str = "modsecurity";
/// The deny list's rule, first since nginx refuses those addresses before ModSecurity looks.
pub const DENY_RULE: &str = "opsdeck-deny";

/// What `[waf]` says about ModSecurity.
#[derive(Debug, Clone, PartialEq)]
pub struct ModSec {
    pub audit_log: PathBuf,
    pub deny_file: Option<PathBuf>,
    pub reload: Vec<String>,
    pub check_url: Option<reqwest::Url>,
}

impl ModSec {
    /// `None` when `[waf]` names no audit log.
    pub fn from_config(cfg: &WafConfig) -> Option<ModSec> {
        let audit_log = cfg.modsecurity_audit_log.clone()?;
        let (deny_file, reload) = cfg
            .modsecurity_deny
            .clone()
            .map_or((None, Vec::new()), |(f, a)| (Some(f), a));
        Some(ModSec {
            audit_log,
            deny_file,
            reload,
            check_url: cfg.modsecurity_check_url.clone(),
        })
    }
}

/// Reads what the audit log gained since the last time and sums it up.
pub struct Reader {
    cfg: ModSec,
    tail: Tail,
    tally: Tally,
    /// nginx writes `time_stamp` in its own local time: this machine's, when it runs here.
    tz: TimeZone,
}

/// One read: the snapshot, and why parts of it may be stale.
pub struct Read {
    pub snapshot: WafSnapshot,
    pub errors: Vec<String>,
}

impl Reader {
    pub fn new(cfg: ModSec) -> Reader {
        Reader {
            tail: Tail::new(&cfg.audit_log),
            cfg,
            tally: Tally::default(),
            tz: TimeZone::system(),
        }
    }

    pub fn read(&mut self, now: Timestamp) -> Read {
        let mut errors = Vec::new();
        let (mut good, mut bad, mut last_bad) = (0u64, 0u64, None);
        let (tally, tz) = (&mut self.tally, &self.tz);
        if let Err(e) = self.tail.poll(|line| match AuditRecord::parse(line, tz) {
            Ok(r) => {
                good += 1;
                tally.add(&r);
            }
            Err(e) => {
                bad += 1;
                last_bad = Some(e);
            }
        }) {
            errors.push(e);
        }
        if good == 0 && bad > 0 {
            // Every new line failed: most likely the log is not SecAuditLogFormat JSON.
            errors.push(format!(
                "audit log {}: {bad} lines are not ModSecurity JSON audit records ({})",
                self.tail.path().display(),
                last_bad.unwrap_or_default()
            ));
        }
        self.tally.expire(now);
        let mut rules = Vec::new();
        if let Some(file) = &self.cfg.deny_file {
            let addresses = match DenyFile::read(file) {
                Ok(d) => Some(d.entries().len()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
            rules.push(WafRule {
                name: DENY_RULE.into(),
                priority: 0,
                kind: RuleKind::IpSet {
                    set: file.display().to_string(),
                    addresses,
                },
                action: "Block".into(),
                blocked: None,
            });
        }
        rules.push(WafRule {
            name: "OWASP CRS".into(),
            priority: 1,
            kind: RuleKind::Managed {
                vendor: "OWASP".into(),
                group: "CRS".into(),
                version: self.tally.crs_version.clone(),
                excluded: Vec::new(),
            },
            // DetectionOnly logs what it would block and lets it through.
            action: match self.tally.engine.as_deref() {
                Some("DetectionOnly") => "Count",
                Some("Disabled") => "Off",
                Some(_) => "Block",
                None => "?",
            }
            .into(),
            blocked: None,
        });
        Read {
            snapshot: WafSnapshot {
                acls: vec![WebAcl {
                    name: ACL.into(),
                    scope: "nginx ModSecurity".into(),
                    default_action: "Allow".into(),
                    rules,
                }],
                rates: self.tally.rates(now),
                top_ips: self.tally.top_ips(now),
                top_rules: self.tally.top_rules(now),
                recent_blocked: self.tally.recent(),
                requests_from: Some(format!(
                    "ModSecurity audit log {}",
                    self.cfg.audit_log.display()
                )),
                // nginx's ModSecurity logs only what a rule flagged (RelevantOnly): the
                // requests it let through are those, not the site's traffic.
                passed: Passed::Flagged,
            },
            errors,
        }
    }
}

/// Reads every `every`, or at once when `poke` is notified (after a block or unblock).
pub fn spawn(cfg: ModSec, tx: Tx<WafSnapshot>, every: Duration, poke: Arc<Notify>) {
    tokio::spawn(async move {
        let mut reader = Reader::new(cfg);
        while !tx.is_closed() {
            // File reads and JSON parsing block: off the runtime's threads.
            let Ok((back, read)) = tokio::task::spawn_blocking(move || {
                let read = reader.read(Timestamp::now());
                (reader, read)
            })
            .await
            else {
                return;
            };
            reader = back;
            crate::sources::publish_partial(&tx, read.snapshot, Timestamp::now(), &read.errors);
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = poke.notified() => {}
            }
        }
    });
}
