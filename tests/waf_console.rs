//! The real binary in live mode on moto's wafv2 and CloudWatch Logs, through a pseudo-terminal:
//! the WAF pane shows the emulated web ACL and the clients its (real-format) WAF log records
//! say were blocked, `waf-block-ip` is offered with them pre-filled, its dry run changes
//! nothing, the run adds them to moto's IP set, `waf-unblock-ip` takes them out again, and
//! the incident timeline has both runs. moto's IP set is read through the SDK, not the screen.

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;
mod support;
mod wafsupport;

use alarmsupport::aws_config;
use moto::{AWS_SECRET, Moto};
use opsdeck::sources::aws::Aws;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::Console;
use wafsupport::{addresses, put_records, seed, waf_logging, waf_record};

const ATTACKERS: &str = "203.0.113.7, 198.51.100.9";

/// Waits up to `patience` for `pred`: a run waits for the WAF's next poll, which is slower
/// than a screen redraw.
fn wait_long(c: &Console, what: &str, patience: Duration, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let screen = c.screen();
        if pred(&screen) {
            return screen;
        }
        assert!(
            start.elapsed() < patience,
            "screen never showed {what}:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_waf_pane_offers_the_attackers_and_block_then_unblock_change_motos_ip_set() {
    let m = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = aws_config("opsdeck-test", &["ap-northeast-2"]);
    let aws: Aws = rt.block_on(alarmsupport::aws(&m.url, &m.credentials_file, &cfg));
    let set = rt.block_on(seed(&aws));
    let now = jiff::Timestamp::now().as_millisecond();
    let probes = [
        (9000, "203.0.113.7", "AWS-AWSManagedRulesCommonRuleSet"),
        (8000, "198.51.100.9", "rate-limit-100"),
        (7000, "203.0.113.7", "AWS-AWSManagedRulesCommonRuleSet"),
        (6000, "198.51.100.9", "rate-limit-100"),
        (5000, "203.0.113.7", "AWS-AWSManagedRulesCommonRuleSet"),
    ];
    let records: Vec<String> = probes
        .iter()
        .map(|&(ago, ip, rule)| waf_record(now - ago, ip, "BLOCK", rule))
        .collect();
    rt.block_on(waf_logging(&aws, &records));
    let before = rt.block_on(addresses(&aws, &set));
    assert_eq!(before, ["192.0.2.0/24"]);

    // moto enforces no WAF: while the attackers are in the set, write what WAF logs of their
    // next requests (stopped by the IP-set rule), as the real service would.
    let stop = Arc::new(AtomicBool::new(false));
    let attacker = {
        let (aws, set, stop) = (aws.clone(), set.clone(), stop.clone());
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let now = addresses(&aws, &set).await;
                if now.contains(&"203.0.113.7/32".to_string()) {
                    let ms = jiff::Timestamp::now().as_millisecond();
                    let blocked: Vec<String> = ["203.0.113.7", "198.51.100.9"]
                        .iter()
                        .map(|ip| waf_record(ms, ip, "BLOCK", "blocked-ips"))
                        .collect();
                    put_records(&aws, &blocked).await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    let mut c = Console::builder()
        .config_file("config.toml", "[aws]\nregions = [\"ap-northeast-2\"]\n")
        .env("AWS_ENDPOINT_URL", &m.url)
        .env("AWS_ACCESS_KEY_ID", "AKIAOPSDECKTEST0001")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .size(160, 48)
        .start();
    c.wait_for("LIVE");
    c.press("4");
    let pane = c.wait_until("the emulated ACL and its blocked clients", |s| {
        s.contains("shop-web-acl") && s.contains("203.0.113.7") && s.contains("198.51.100.9")
    });
    assert!(pane.contains("blocked-ips"), "{pane}");
    assert!(
        pane.contains("requests from WAF logs aws-waf-logs-shop"),
        "{pane}"
    );

    c.press(":incident new\r");
    c.wait_for("open incident");
    c.press("injection probes on the shop\r\r\r\r");
    c.wait_for("SLA OK");

    // The dry run: offered the attackers, changes nothing.
    c.press("8");
    c.press("/waf-block\r");
    c.press("p");
    let form = c.wait_for("dry-run waf-block-ip");
    assert!(
        form.contains(ATTACKERS),
        "pre-filled with the attackers:\n{form}"
    );
    c.press("\r\r");
    let dry = c.wait_for(
        "dry-run: would add 203.0.113.7/32, 198.51.100.9/32 to blocked-ips-v4 (1 → 3 addresses)",
    );
    assert!(
        dry.contains("before=[192.0.2.0/24] after=[192.0.2.0/24, 203.0.113.7/32,"),
        "{dry}"
    );
    assert!(dry.contains("nothing was changed"), "{dry}");
    assert_eq!(
        rt.block_on(addresses(&aws, &set)),
        before,
        "the dry run changed nothing"
    );

    // The run: in moto's set, then verified by the requests WAF now stops.
    c.press("\x1b");
    c.press("r");
    let form = c.wait_for("run waf-block-ip");
    assert!(form.contains(ATTACKERS), "{form}");
    c.press("\r\r");
    c.wait_for("confirm step block");
    c.press("y");
    wait_long(&c, "the block finished", Duration::from_secs(150), |s| {
        s.contains("run 1 waf-block-ip finished ok")
    });
    assert_eq!(
        rt.block_on(addresses(&aws, &set)),
        ["192.0.2.0/24", "198.51.100.9/32", "203.0.113.7/32"]
    );
    stop.store(true, Ordering::Relaxed);
    rt.block_on(attacker).unwrap();

    // The rollback.
    c.press("\x1b");
    c.press("8");
    c.press("/waf-unblock\r");
    c.press("r");
    c.wait_for("run waf-unblock-ip");
    // The fields are acl (shop-web-acl, its default), then ip.
    c.press("\r");
    c.press(&format!("{ATTACKERS}\r"));
    c.wait_for("shop-web-acl: type `203.0.113.7, 198.51.100.9`");
    c.press(&format!("{ATTACKERS}\r"));
    wait_long(&c, "the unblock finished", Duration::from_secs(60), |s| {
        s.contains("run 2 waf-unblock-ip finished ok")
    });
    assert_eq!(
        rt.block_on(addresses(&aws, &set)),
        before,
        "the rollback restores the set"
    );

    c.press("\x1b");
    c.press("9");
    let timeline = c.wait_until("both runs on the timeline", |s| {
        s.contains("added 203.0.113.7/32, 198.51.100.9/32 to blocked-ips-v4")
            && s.contains("removed 203.0.113.7/32, 198.51.100.9/32 from blocked-ips-v4")
    });
    assert!(timeline.contains("waf-block-ip"), "{timeline}");
    assert!(timeline.contains("waf-unblock-ip"), "{timeline}");

    c.press("\x03");
    assert!(c.wait_exit().success());
}
