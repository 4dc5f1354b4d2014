//! A whole drill through the real binary, as a trainee does it: the primary database dies,
//! the incident is opened from the alarm, failover-mariadb runs with the member's name typed
//! to confirm, the world recovers, the incident is resolved with prevention measures, and the
//! report says the SLA was met, carries the score and what the incident spent of the shop's
//! availability budget.

mod support;

use support::Console;

/// The member the confirmation asks for: "type `mariadb-2` to confirm".
fn asked_target(screen: &str) -> String {
    let at = screen.find("type `").expect("no type-to-confirm question") + "type `".len();
    screen[at..].split('`').next().unwrap().to_string()
}

#[test]
fn db_primary_down_drill_from_alarm_to_report() {
    let mut c = Console::builder()
        .arg("drill")
        .arg("db-primary-down")
        .arg("--speed")
        .arg("10")
        .size(110, 34)
        .start();
    c.wait_for("DRILL");
    c.press("5");
    c.wait_until("the primary-down alarm firing", |s| {
        s.lines()
            .any(|l| l.contains("ALARM ") && l.contains("critical MariaDBPrimaryDown"))
    });
    // The critical alarm sorts first, so it is the selected row.
    c.press("i");
    c.wait_for("open incident");
    c.press("\r\r\r\r");
    c.wait_for("SLA OK");
    c.press("a");
    c.wait_for("acknowledged: journaled");
    c.press("P");
    c.wait_for("answered by failover-mariadb");
    c.press("r");
    c.wait_for("run failover-mariadb");
    c.press("\r\r\r");
    c.wait_for("fence shop-mariadb/mariadb-0 (no more writes)?");
    c.press("y");
    let screen = c.wait_for("to confirm");
    let member = asked_target(&screen);
    assert!(
        member.starts_with("mariadb-") && member != "mariadb-0",
        "{member}"
    );
    c.press(&format!("{member}\r"));
    c.wait_for("finished ok");
    c.wait_for("the world has recovered");

    c.press("9");
    // The recovered stamp is a clock time, so match its shape and not its first digit.
    let pane = c.wait_until("the incident recovered at a time", |s| {
        s.split("recovered ").skip(1).any(|rest| {
            let stamp = rest.as_bytes();
            stamp.len() >= 8
                && stamp[2] == b':'
                && stamp[5] == b':'
                && stamp[..2].iter().all(u8::is_ascii_digit)
        })
    });
    // The scenario hits the shop: its 99 % budget is on the incident pane, being spent.
    assert!(
        pane.contains("budget shop 99 %:") && pane.contains("of 7h 18m 18s used this month"),
        "{pane}"
    );
    c.press("R");
    c.wait_for("resolve incident");
    c.press("EBS volume of mariadb-0 failed\r4 minutes of checkout errors\rEBS health alarm; monthly failover drill\r");
    let report = c.wait_for("Drill report");
    assert!(report.contains("resolved; report"), "{report}");

    // Drills journal apart from the live systems' incidents.
    assert!(
        !c.data_dir().join("incidents").exists(),
        "nothing in the live journal"
    );
    let dir = c.data_dir().join("drill").join("incidents");
    let md = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .expect("report file");
    let text = std::fs::read_to_string(md).unwrap();
    assert!(text.contains("**met**"), "{text}");
    assert!(text.contains("## Drill score"), "{text}");
    assert!(text.contains("| SLA met | yes |"), "{text}");
    assert!(text.contains("| Service | shop |"), "{text}");
    assert!(
        text.contains("| Availability budget | 99 % allows 7h 18m 18s of downtime a month: this incident used "),
        "{text}"
    );
    assert!(
        text.contains("EBS health alarm; monthly failover drill"),
        "{text}"
    );
    assert!(
        text.contains(&format!("promote shop-mariadb/{member} to primary")),
        "{text}"
    );
    assert!(text.contains("oncall"), "who is recorded: {text}");

    c.press("\x1b");
    c.press("\x03");
    assert!(c.wait_exit().success());
    assert!(!c.alternate_screen());
}

#[test]
fn a_killed_console_comes_back_with_the_incident_its_deadline_and_the_interrupted_run() {
    let home = tempfile::tempdir().unwrap();
    let soak = "title: Restart and soak\nseverity: sev3\nsteps:\n  - id: restart\n    action: { restart: { namespace: shop, deployment: admin } }\n  - id: soak\n    wait: { until: { alarm_firing: { name: NeverFires } }, timeout: 1h, every: 5s }\n";
    let mut c = Console::builder()
        .config_file("playbooks/soak.yaml", soak)
        .size(100, 30)
        .start_at(home.path());
    c.wait_for("DRILL");
    c.press(":incident new\r");
    c.wait_for("open incident");
    c.press("Checkout slow\r\r\r\r");
    c.wait_for("SLA OK");
    c.press("9");
    let before = c.wait_for("until");
    let deadline = before
        .lines()
        .find(|l| l.contains("until"))
        .unwrap()
        .split("until")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    c.press("8/soak\rr");
    c.wait_for("waiting:");
    let kill = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(c.pid().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    c.wait_exit();
    drop(c);

    let mut again = Console::builder().size(100, 30).start_at(home.path());
    again.wait_for("SLA OK");
    again.press("9");
    let after = again.wait_for("interrupted at soak");
    assert!(
        after.contains(&format!("until {deadline}")),
        "deadline moved:\n{after}"
    );
    assert!(after.contains("Checkout slow"));
    // Settle the interrupted run: it is journaled as aborted and no longer offered.
    again.press("x");
    again.wait_until("the interrupted run settled", |s| {
        !s.contains("interrupted at soak")
    });
    again.press("\x03");
    assert!(again.wait_exit().success());
}
