//! The ModSecurity half of the WAF area against a real nginx + ModSecurity 3 + OWASP CRS
//! 3.3.4 on loopback: SQLi and XSS probes blocked with their CRS rule ids, block-ip and its
//! rollback through the shipped playbooks making nginx refuse and serve 127.0.0.2 again, a
//! rotated audit log losing nothing, and a deleted one read as a staleness line.

mod nginxsupport;
mod runsupport;

use nginxsupport::Nginx;
use opsdeck::incident::event::Severity;
use opsdeck::incident::report::timeline_text;
use opsdeck::model::summary::Area;
use opsdeck::model::waf::{Passed, RuleKind, WafSnapshot};
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::sources::Publishers;
use opsdeck::sources::modsec::ops::{ByAcl, ModSecOps};
use opsdeck::sources::modsec::{self, ACL, ModSec, Reader};
use runsupport::{desk_with_incident, run_shipped, wall_context};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SQLI: &str = "/?id=1'%20OR%20'1'='1";
const XSS: &str = "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
const ATTACKER: [u8; 4] = [127, 0, 0, 2];

fn cfg(nginx: &Nginx) -> ModSec {
    ModSec {
        audit_log: nginx.audit_log(),
        deny_file: Some(nginx.deny_file()),
        reload: nginx.reload_argv(),
        check_url: Some(nginx.url().parse().unwrap()),
    }
}

/// Reads until `done` holds of the snapshot (nginx writes the audit record as the request
/// ends), for at most 10 s.
fn read_until(reader: &mut Reader, what: &str, done: impl Fn(&WafSnapshot) -> bool) -> WafSnapshot {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let read = reader.read(jiff::Timestamp::now());
        if done(&read.snapshot) {
            return read.snapshot;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {:#?} {:?}",
            read.snapshot.recent_blocked,
            read.errors
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqli_and_xss_are_blocked_and_show_with_their_crs_rules() {
    let nginx = Nginx::start();
    let mut reader = Reader::new(cfg(&nginx));
    assert_eq!(nginx.status("/?id=1").await, 200, "a clean request passes");
    assert_eq!(nginx.status(SQLI).await, 403);
    assert_eq!(nginx.status(XSS).await, 403);
    let snap = read_until(&mut reader, "two blocked", |s| s.recent_blocked.len() == 2);
    let acl = &snap.acls[0];
    assert_eq!(
        (acl.name.as_str(), acl.default_action.as_str()),
        (ACL, "Allow")
    );
    let crs = acl.rules.iter().find(|r| r.name == "OWASP CRS").unwrap();
    assert_eq!(crs.action, "Block", "SecRuleEngine On");
    assert!(
        matches!(&crs.kind, RuleKind::Managed { vendor, version: Some(v), .. } if vendor == "OWASP" && v == "3.3.4"),
        "{crs:?}"
    );
    let deny = acl
        .rules
        .iter()
        .find(|r| r.name == modsec::DENY_RULE)
        .unwrap();
    assert!(matches!(
        deny.kind,
        RuleKind::IpSet {
            addresses: Some(0),
            ..
        }
    ));
    let xss = &snap.recent_blocked[0];
    let sqli = &snap.recent_blocked[1];
    assert_eq!(
        (sqli.client_ip.as_str(), sqli.uri.as_str()),
        ("127.0.0.1", SQLI)
    );
    assert!(
        sqli.rule
            .starts_with("942100 SQL Injection Attack Detected via libinjection"),
        "{}",
        sqli.rule
    );
    assert!(sqli.rule.contains("949110 score"), "{}", sqli.rule);
    assert!(
        xss.rule
            .starts_with("941100 XSS Attack Detected via libinjection"),
        "{}",
        xss.rule
    );
    let rules: Vec<&str> = snap.top_rules.iter().map(|c| c.key.as_str()).collect();
    for id in ["949110", "942100", "941100"] {
        assert!(rules.contains(&id), "{id} in {rules:?}");
    }
    assert_eq!(snap.top_rules[0].key, "949110");
    assert_eq!(snap.top_rules[0].count, 2, "both hit the anomaly block");
    assert_eq!(
        (snap.top_ips[0].key.as_str(), snap.top_ips[0].count),
        ("127.0.0.1", 2)
    );
    let blocked: u64 = snap.rates.iter().map(|p| p.blocked).sum();
    assert_eq!(blocked, 2);
    assert_eq!(snap.rates.len(), 60, "one point a minute for the hour");
    // The clean request passed but is not in the RelevantOnly audit log: what the log
    // counts as let through is the flagged requests only, and says so.
    let passed: u64 = snap.rates.iter().map(|p| p.allowed).sum();
    assert_eq!(passed, 0, "the clean request is not in the audit log");
    assert_eq!(snap.passed, Passed::Flagged);
}

#[tokio::test(flavor = "multi_thread")]
async fn block_ip_makes_nginx_refuse_the_address_and_unblock_serves_it_again() {
    let nginx = Nginx::start();
    let attacker = IpAddr::from(ATTACKER);
    assert_eq!(nginx.status_from(attacker, "/").await, 200);
    let ops: Arc<dyn Ops> = Arc::new(ByAcl {
        modsec: Arc::new(ModSecOps::new(cfg(&nginx))),
        aws: None,
    });
    let block = Op::BlockIp {
        acl: ACL.into(),
        ip: "127.0.0.2".into(),
    };
    let dry = ops.apply(&block, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|c| c.ends_with("before=[] after=[deny 127.0.0.2;]")),
        "{:#?}",
        dry.calls
    );
    assert_eq!(
        std::fs::read_to_string(nginx.deny_file()).unwrap(),
        "",
        "a dry run changes nothing"
    );
    assert_eq!(nginx.status_from(attacker, "/").await, 200);

    // The console's ModSecurity source, so the playbook's verify step sees nginx's answers.
    let (publishers, sources) = Publishers::channels();
    modsec::spawn(
        cfg(&nginx),
        publishers.waf.clone(),
        Duration::from_millis(200),
        Arc::new(tokio::sync::Notify::new()),
    );
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_with_incident(
        dir.path(),
        "injection probes from 127.0.0.2",
        Severity::Sev2,
    );
    let ctx = wall_context(Area::Waf, ops.clone(), sources.clone(), desk);
    run_shipped(
        &ctx,
        "waf-block-ip",
        &[("ip", "127.0.0.2"), ("acl", ACL)],
        &[],
    )
    .await;
    assert_eq!(
        nginx.status_from(attacker, "/").await,
        403,
        "nginx refuses the attacker"
    );
    assert_eq!(nginx.status("/").await, 200, "and serves everyone else");
    assert_eq!(
        std::fs::read_to_string(nginx.deny_file()).unwrap(),
        "deny 127.0.0.2;\n"
    );
    let mut reader = Reader::new(cfg(&nginx));
    let snap = read_until(&mut reader, "the refused request", |s| {
        s.recent_blocked.iter().any(|b| b.client_ip == "127.0.0.2")
    });
    let refused = snap
        .recent_blocked
        .iter()
        .find(|b| b.client_ip == "127.0.0.2")
        .unwrap();
    assert_eq!(refused.rule, modsec::DENY_RULE);
    assert!(matches!(
        snap.acls[0].rules[0].kind,
        RuleKind::IpSet {
            addresses: Some(1),
            ..
        }
    ));

    run_shipped(
        &ctx,
        "waf-unblock-ip",
        &[("ip", "127.0.0.2"), ("acl", ACL)],
        &[],
    )
    .await;
    assert_eq!(
        nginx.status_from(attacker, "/").await,
        200,
        "the rollback serves it again"
    );
    assert_eq!(std::fs::read_to_string(nginx.deny_file()).unwrap(), "");

    let said: Vec<String> = {
        let desk = ctx.desk.lock().unwrap();
        desk.active()
            .unwrap()
            .entries
            .iter()
            .filter_map(|e| timeline_text(&e.event))
            .collect()
    };
    let said = said.join("\n");
    let file = nginx.deny_file().display().to_string();
    assert!(
        said.contains(&format!(
            "added `deny 127.0.0.2;` to {file} (1 entries), reloaded nginx (`{}` exited with \
             status 0); verified: nginx answers 403 to 127.0.0.2 (3 requests in a row)",
            nginx.reload_argv().join(" ")
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "removed `deny 127.0.0.2;` from {file} (0 entries)"
        )) && said.contains("verified: nginx answers 200 to 127.0.0.2 again (3 requests in a row)"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_reload_puts_the_list_back_and_says_so() {
    let nginx = Nginx::start();
    std::fs::write(nginx.deny_file(), "# kept by hand\ndeny 192.0.2.0/24;\n").unwrap();
    let mut broken = cfg(&nginx);
    let last = broken.reload.len() - 1;
    broken.reload[last] = "relaod".into();
    let ops = ModSecOps::new(broken);
    let err = ops
        .apply(
            &Op::BlockIp {
                acl: ACL.into(),
                ip: "127.0.0.2".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_err();
    let OpError::Failed(why) = &err else {
        panic!("{err:?}")
    };
    assert!(
        why.starts_with("reload failed, so nginx still enforces the old list: `/usr/sbin/nginx -p"),
        "{why}"
    );
    assert!(why.contains("exited with status 1"), "{why}");
    assert!(why.contains("was put back as it was"), "{why}");
    assert_eq!(
        std::fs::read_to_string(nginx.deny_file()).unwrap(),
        "# kept by hand\ndeny 192.0.2.0/24;\n"
    );
    assert_eq!(nginx.status_from(IpAddr::from(ATTACKER), "/").await, 200);
    let bad = ops
        .apply(
            &Op::BlockIp {
                acl: ACL.into(),
                ip: "127.0.0.2/8".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("bits set past /8"), "{bad}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_audit_log_loses_and_repeats_nothing() {
    let nginx = Nginx::start();
    let mut reader = Reader::new(cfg(&nginx));
    let probe = |n: usize| format!("{SQLI}&n={n}");
    let mut sent = 0;
    for _ in 0..3 {
        assert_eq!(nginx.status(&probe(sent)).await, 403);
        sent += 1;
    }
    read_until(&mut reader, "before the rotation", |s| {
        s.recent_blocked.len() == 3
    });
    std::fs::rename(nginx.audit_log(), nginx.path("logs/modsec_audit.json.1")).unwrap();
    nginx.signal("reopen");
    // libmodsecurity does not reopen: these land in the renamed file.
    for _ in 0..3 {
        assert_eq!(nginx.status(&probe(sent)).await, 403);
        sent += 1;
    }
    read_until(&mut reader, "after the reopen", |s| {
        s.recent_blocked.len() == 6
    });
    assert_eq!(
        nginxsupport::lines(&nginx.path("logs/modsec_audit.json.1")),
        6
    );
    nginx.restart();
    for _ in 0..3 {
        assert_eq!(nginx.status(&probe(sent)).await, 403);
        sent += 1;
    }
    let snap = read_until(&mut reader, "after the restart", |s| {
        s.recent_blocked.len() >= 9
    });
    assert_eq!(
        nginxsupport::lines(&nginx.audit_log()),
        3,
        "the new file took over"
    );
    let mut uris: Vec<&str> = snap.recent_blocked.iter().map(|b| b.uri.as_str()).collect();
    uris.sort_unstable();
    let mut want: Vec<String> = (0..sent).map(probe).collect();
    want.sort_unstable();
    assert_eq!(uris, want, "each record exactly once");
    let blocked: u64 = snap.rates.iter().map(|p| p.blocked).sum();
    assert_eq!(blocked, 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_or_unreadable_audit_log_is_a_staleness_line() {
    let nginx = Nginx::start();
    let (publishers, sources) = Publishers::channels();
    let poke = Arc::new(tokio::sync::Notify::new());
    modsec::spawn(
        cfg(&nginx),
        publishers.waf.clone(),
        Duration::from_millis(100),
        poke,
    );
    assert_eq!(nginx.status(SQLI).await, 403);
    let mut rx = sources.waf.clone();
    let wait = |rx: &mut opsdeck::sources::Rx<WafSnapshot>,
                what: &'static str,
                f: fn(&opsdeck::model::Feed<WafSnapshot>) -> bool| {
        let mut rx = rx.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|feed| f(feed)))
                .await
                .unwrap_or_else(|_| panic!("{what}"))
                .unwrap()
                .clone()
        }
    };
    wait(&mut rx, "the first block", |f| {
        f.data.recent_blocked.len() == 1
    })
    .await;
    std::fs::remove_file(nginx.audit_log()).unwrap();
    let stale = wait(&mut rx, "a staleness line", |f| f.health.is_failing()).await;
    assert_eq!(
        stale.health.last_error.as_deref(),
        Some(format!("audit log {}: no such file", nginx.audit_log().display()).as_str())
    );
    assert_eq!(stale.data.acls[0].name, ACL, "the pane keeps what it had");
    // nginx still writes to the deleted file it holds open, and so it is still read.
    assert_eq!(nginx.status(XSS).await, 403);
    let later = wait(&mut rx, "the block after the deletion", |f| {
        f.data.recent_blocked.len() == 2
    })
    .await;
    assert!(later.health.is_failing());
    std::fs::create_dir(nginx.audit_log()).unwrap();
    let unreadable = wait(&mut rx, "an unreadable log", |f| {
        f.health
            .last_error
            .as_deref()
            .is_some_and(|e| !e.ends_with("no such file"))
    })
    .await;
    let e = unreadable.health.last_error.clone().unwrap();
    assert!(
        e.starts_with(&format!("audit log {}: ", nginx.audit_log().display())),
        "{e}"
    );
    drop(publishers);
}

/// The audit record the parse bench (benches/waf_log.rs) reads: one SQLi probe as this
/// nginx + ModSecurity 3 + CRS writes it. `OPSDECK_CAPTURE=1` writes it anew; otherwise the
/// test checks the saved one still has every field a fresh record has, so the bench parses
/// what ModSecurity writes today.
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/modsec_audit_record.json"
);

/// Every object key path of a JSON value (`transaction.messages[].details.ruleId`).
fn shape(v: &serde_json::Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let path = format!("{at}.{k}");
                out.insert(path.clone());
                shape(v, &path, out);
            }
        }
        serde_json::Value::Array(a) => {
            for v in a {
                shape(v, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bench_fixture_is_a_record_as_modsecurity_writes_it() {
    let nginx = Nginx::start();
    assert_eq!(nginx.status(SQLI).await, 403);
    let mut reader = Reader::new(cfg(&nginx));
    read_until(&mut reader, "the probe logged", |s| {
        s.recent_blocked.len() == 1
    });
    let fresh = std::fs::read_to_string(nginx.audit_log()).unwrap();
    let fresh = fresh.lines().last().unwrap();
    if std::env::var_os("OPSDECK_CAPTURE").is_some() {
        std::fs::write(FIXTURE, format!("{fresh}\n")).unwrap();
    }
    let saved =
        std::fs::read_to_string(FIXTURE).expect("the fixture (OPSDECK_CAPTURE=1 writes it)");
    let tz = jiff::tz::TimeZone::system();
    let record = modsec::record::AuditRecord::parse(saved.trim_end().as_bytes(), &tz).unwrap();
    assert_eq!(record.status, 403);
    assert!(
        record.messages.iter().any(|m| m.rule == "942100"),
        "{:?}",
        record.messages
    );
    let (mut had, mut has) = Default::default();
    shape(&serde_json::from_str(fresh).unwrap(), "", &mut has);
    shape(&serde_json::from_str(&saved).unwrap(), "", &mut had);
    let missing: Vec<&String> = has.difference(&had).collect();
    assert!(missing.is_empty(), "the fixture lacks {missing:?}");
}
