//! Blocking and unblocking addresses in front of ModSecurity: nginx's own `deny` list (the
//! file `[waf] modsecurity_deny_file`, which nginx `include`s), then the configured reload
//! command, then a request from the address to see nginx refuse it where this host can send
//! one. [`ByAcl`] sends each block or unblock to ModSecurity or to AWS WAF by its `acl`.

use super::deny::{self, DenyFile, Entry};
use super::{ACL, ModSec};
use crate::ops::addresses;
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use async_trait::async_trait;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long the reload command may take.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// nginx reloads in the background after `-s reload` returns: how long its new workers may
/// take to answer with the new list.
const SETTLE: Duration = Duration::from_secs(10);
/// Answers in a row that count as the reload having taken: nginx's old workers keep
/// accepting connections with the old list until the master's QUIT reaches them, so the
/// first answer from a new worker proves nothing about the next connection.
const STEADY: u32 = 3;

/// One or more addresses or CIDRs, separated by commas or spaces.
fn entries(text: &str) -> Result<Vec<Entry>, OpError> {
    addresses::parse(text).map_err(OpError::Refused)
}

/// The address a check request is sent from: the host itself, or a network's first host.
fn probe_address(net: Entry) -> IpAddr {
    let prefix = net.prefix_len();
    match net.addr() {
        IpAddr::V4(v4) if prefix < 31 => IpAddr::V4(Ipv4Addr::from(u32::from(v4) + 1)),
        IpAddr::V6(v6) if prefix < 127 => IpAddr::V6(Ipv6Addr::from(u128::from(v6) + 1)),
        other => other,
    }
}

pub struct ModSecOps {
    cfg: ModSec,
    poke: Option<Arc<Notify>>,
}

/// What the reload command did.
struct Reloaded {
    said: String,
}

impl ModSecOps {
    pub fn new(cfg: ModSec) -> ModSecOps {
        ModSecOps { cfg, poke: None }
    }

    /// Re-reads the audit log and deny list once a change is made.
    pub fn poking(mut self, poke: Arc<Notify>) -> ModSecOps {
        self.poke = Some(poke);
        self
    }

    fn argv(&self) -> String {
        self.cfg.reload.join(" ")
    }

    async fn reload(&self) -> Result<Reloaded, String> {
        let Some((program, args)) = self.cfg.reload.split_first() else {
            return Err("no modsecurity_reload in [waf]".into());
        };
        let run = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = match tokio::time::timeout(RELOAD_TIMEOUT, run).await {
            Err(_) => return Err(format!("`{}` did not finish within 30 s", self.argv())),
            Ok(Err(e)) => return Err(format!("`{}` could not be started: {e}", self.argv())),
            Ok(Ok(out)) => out,
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        // nginx says what went wrong on stderr, sometimes with exit status 0.
        let complaint = stderr.lines().find(|l| {
            ["[emerg]", "[alert]", "[crit]", "[error]"]
                .iter()
                .any(|level| l.contains(level))
        });
        let status = out
            .status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
        match (out.status.success(), complaint) {
            (true, None) => Ok(Reloaded {
                said: format!("`{}` exited with {status}", self.argv()),
            }),
            (_, Some(line)) => Err(format!(
                "`{}` exited with {status}: {}",
                self.argv(),
                line.trim()
            )),
            (false, None) => Err(format!(
                "`{}` exited with {status}{}",
                self.argv(),
                match stderr.trim() {
                    "" => String::new(),
                    text => format!(": {}", text.lines().last().unwrap_or(text)),
                }
            )),
        }
    }

    /// The status nginx answers `url` with to a request sent from `from`.
    async fn answer(&self, url: &reqwest::Url, from: IpAddr) -> Result<u16, String> {
        let client = reqwest::Client::builder()
            .local_address(from)
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .get(url.clone())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| crate::diag::root_cause(&e))
    }

    /// Whether nginx refuses (403) or serves requests from each entry, as `block` wants,
    /// waiting for the reload to take. Says what was seen, or why it could not be seen.
    async fn check(&self, list: &[Entry], block: bool) -> Result<String, String> {
        let Some(url) = &self.cfg.check_url else {
            return Ok("nginx's answer not checked: no modsecurity_check_url in [waf]".into());
        };
        let mut said = Vec::new();
        for &entry in list {
            let from = probe_address(entry);
            // Only an address of this host can send a request: bind it to find out.
            if std::net::TcpListener::bind((from, 0)).is_err() {
                said.push(format!(
                    "nginx's answer to {from} not checked: not an address of this host"
                ));
                continue;
            }
            let deadline = tokio::time::Instant::now() + SETTLE;
            let mut in_a_row = 0;
            let last = loop {
                let got = self.answer(url, from).await;
                let wanted = matches!(&got, Ok(403) if block)
                    || matches!(&got, Ok(s) if !block && *s != 403);
                in_a_row = if wanted { in_a_row + 1 } else { 0 };
                if in_a_row == STEADY || tokio::time::Instant::now() >= deadline {
                    break got;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            let status = last.map_err(|e| format!("{url} from {from}: {e}"))?;
            match (in_a_row, block) {
                (STEADY, true) => said.push(format!(
                    "verified: nginx answers 403 to {from} ({STEADY} requests in a row)"
                )),
                (STEADY, false) => said.push(format!(
                    "verified: nginx answers {status} to {from} again ({STEADY} requests in a row)"
                )),
                (0, _) => {
                    return Err(format!(
                        "nginx still answers {status} to {from} ({url}) {} s after the reload",
                        SETTLE.as_secs()
                    ));
                }
                (n, _) => {
                    return Err(format!(
                        "nginx's answers to {from} ({url}) still changed between old and new \
                         list {} s after the reload ({status} only {n} times in a row)",
                        SETTLE.as_secs()
                    ));
                }
            }
        }
        Ok(said.join("; "))
    }

    async fn change(&self, ip: &str, block: bool, mode: Mode) -> Result<Outcome, OpError> {
        let list = entries(ip)?;
        let Some(file) = &self.cfg.deny_file else {
            return Err(OpError::Unsupported(format!(
                "web ACL {ACL}: no modsecurity_deny_file in [waf], so there is no deny list \
                 to write"
            )));
        };
        let shown: Vec<String> = list.iter().map(|&e| deny::line(e)).collect();
        let shown = shown.join(" ");
        let before = DenyFile::read(file).map_err(OpError::Failed)?;
        let after = list.iter().fold(
            before.clone(),
            |d, &e| {
                if block { d.with(e) } else { d.without(e) }
            },
        );
        let write = format!(
            "write {} before={} after={}",
            file.display(),
            before.shown(),
            after.shown()
        );
        if before == after {
            return Ok(Outcome {
                summary: format!(
                    "{shown} {} in {}; nothing to change",
                    if block { "is already" } else { "is not" },
                    file.display()
                ),
                calls: vec![format!("read {}", file.display())],
            });
        }
        let mut calls = vec![write, format!("run {}", self.argv())];
        if let Some(url) = &self.cfg.check_url {
            calls.push(format!(
                "GET {url} from the address, expecting {}",
                if block { "403" } else { "no 403" }
            ));
        }
        let verb = if block { "add" } else { "remove" };
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!(
                    "dry-run: would {verb} `{shown}` {} {} ({} → {} entries) and run `{}`",
                    if block { "to" } else { "from" },
                    file.display(),
                    before.entries().len(),
                    after.entries().len(),
                    self.argv()
                ),
                calls,
            });
        }
        after.write(file).map_err(OpError::Failed)?;
        let reloaded = match self.reload().await {
            Ok(r) => r,
            Err(why) => {
                // nginx kept its old list: the file is put back to match what it enforces.
                let put_back = match before.write(file) {
                    Ok(()) => format!("{} was put back as it was", file.display()),
                    Err(e) => format!("and putting the old list back failed: {e}"),
                };
                return Err(OpError::Failed(format!(
                    "reload failed, so nginx still enforces the old list: {why}; {put_back}"
                )));
            }
        };
        let now = DenyFile::read(file).map_err(OpError::Failed)?;
        if list.iter().any(|&e| now.holds(e) != block) {
            return Err(OpError::Failed(format!(
                "{} does not {} `{shown}` after the write",
                file.display(),
                if block { "hold" } else { "leave out" }
            )));
        }
        if let Some(p) = &self.poke {
            p.notify_one();
        }
        let checked = self.check(&list, block).await.map_err(|e| {
            OpError::Failed(format!(
                "{} `{shown}` {} {} and {}, but {e}",
                if block { "added" } else { "removed" },
                if block { "to" } else { "from" },
                file.display(),
                reloaded.said
            ))
        })?;
        Ok(Outcome {
            summary: format!(
                "{} `{shown}` {} {} ({} entries), {}; {checked}",
                if block { "added" } else { "removed" },
                if block { "to" } else { "from" },
                file.display(),
                now.entries().len(),
                format_args!("reloaded nginx ({})", reloaded.said)
            ),
            calls,
        })
    }
}

fn acl_of(op: &Op) -> Option<&str> {
    match op {
        Op::BlockIp { acl, .. } | Op::UnblockIp { acl, .. } => Some(acl),
        _ => None,
    }
}

#[async_trait]
impl Ops for ModSecOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        match op {
            Op::BlockIp { acl, ip } if acl == ACL => self.change(ip, true, mode).await,
            Op::UnblockIp { acl, ip } if acl == ACL => self.change(ip, false, mode).await,
            Op::BlockIp { acl, .. } | Op::UnblockIp { acl, .. } => Err(OpError::NotFound(format!(
                "no web ACL `{acl}` (the ModSecurity one is `{ACL}`)"
            ))),
            other => Err(OpError::Unsupported(format!(
                "{other}: not a WAF operation"
            ))),
        }
    }
}

/// The WAF's operations when ModSecurity is configured: a block or unblock naming the
/// ModSecurity ACL goes to it, any other to AWS WAF (when `[aws]` is configured).
pub struct ByAcl {
    pub modsec: Arc<dyn Ops>,
    pub aws: Option<Arc<dyn Ops>>,
}

#[async_trait]
impl Ops for ByAcl {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        match (acl_of(op), &self.aws) {
            (Some(ACL), _) | (_, None) => self.modsec.apply(op, mode).await,
            (_, Some(aws)) => aws.apply(op, mode).await,
        }
    }

    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        match (acl_of(op), &self.aws) {
            (Some(ACL), _) | (_, None) => self.modsec.preflight(op).await,
            (_, Some(aws)) => aws.preflight(op).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);

    #[async_trait]
    impl Ops for Named {
        async fn apply(&self, _op: &Op, _mode: Mode) -> Result<Outcome, OpError> {
            Ok(Outcome {
                summary: self.0.into(),
                calls: vec![],
            })
        }
    }

    /// An HTTP server answering each connection with the next status of `script` (then the
    /// last one), counting the connections: nginx in the middle of a reload, where an old
    /// worker and a new one both accept.
    async fn scripted(
        script: &'static [u16],
    ) -> (reqwest::Url, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let status = script[n.min(script.len() - 1)];
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        (url.parse().unwrap(), served)
    }

    fn checking(url: reqwest::Url) -> ModSecOps {
        ModSecOps::new(ModSec {
            audit_log: "/nonexistent".into(),
            deny_file: None,
            reload: Vec::new(),
            check_url: Some(url),
        })
    }

    #[tokio::test]
    async fn one_answer_from_a_new_worker_is_not_a_verified_reload() {
        use std::sync::atomic::Ordering;
        let here: Entry = "127.0.0.1/32".parse().unwrap();
        // The new worker refuses, the old one still serves, then only the new one answers.
        let (url, served) = scripted(&[200, 403, 200, 403, 403, 403]).await;
        let said = checking(url).check(&[here], true).await.unwrap();
        assert_eq!(
            said,
            "verified: nginx answers 403 to 127.0.0.1 (3 requests in a row)"
        );
        assert_eq!(served.load(Ordering::SeqCst), 6);

        let (url, served) = scripted(&[403, 200, 403, 200, 200, 200]).await;
        let said = checking(url).check(&[here], false).await.unwrap();
        assert_eq!(
            said,
            "verified: nginx answers 200 to 127.0.0.1 again (3 requests in a row)"
        );
        assert_eq!(served.load(Ordering::SeqCst), 6);
    }

    fn block(acl: &str) -> Op {
        Op::BlockIp {
            acl: acl.into(),
            ip: "192.0.2.1".into(),
        }
    }

    #[tokio::test]
    async fn each_block_goes_to_the_acl_it_names() {
        let both = ByAcl {
            modsec: Arc::new(Named("modsec")),
            aws: Some(Arc::new(Named("aws"))),
        };
        let said = |o: Result<Outcome, OpError>| o.unwrap().summary;
        assert_eq!(said(both.apply(&block(ACL), Mode::DryRun).await), "modsec");
        assert_eq!(
            said(both.apply(&block("shop-web-acl"), Mode::DryRun).await),
            "aws"
        );
        let alone = ByAcl {
            modsec: Arc::new(ModSecOps::new(ModSec {
                audit_log: "/nonexistent".into(),
                deny_file: None,
                reload: Vec::new(),
                check_url: None,
            })),
            aws: None,
        };
        assert_eq!(
            alone
                .apply(&block("shop-web-acl"), Mode::DryRun)
                .await
                .unwrap_err()
                .to_string(),
            "not found: no web ACL `shop-web-acl` (the ModSecurity one is `modsecurity`)"
        );
        assert_eq!(
            alone
                .apply(&block(ACL), Mode::DryRun)
                .await
                .unwrap_err()
                .to_string(),
            "not available here: web ACL modsecurity: no modsecurity_deny_file in [waf], so \
             there is no deny list to write"
        );
    }

    #[test]
    fn lists_of_addresses_and_their_probes() {
        let got = entries("203.0.113.7, 198.51.100.0/24 2001:db8::/64").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(probe_address(got[0]).to_string(), "203.0.113.7");
        assert_eq!(probe_address(got[1]).to_string(), "198.51.100.1");
        assert_eq!(probe_address(got[2]).to_string(), "2001:db8::1");
        assert!(entries(" , ").is_err());
        assert!(entries("203.0.113.7, nope").is_err());
    }
}
