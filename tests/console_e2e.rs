//! The real binary in a pseudo-terminal: what a person sees, what the keys do, and that the
//! terminal is handed back clean however the console ends.

mod support;

use support::{Console, colour_codes};

#[test]
fn a_new_user_finds_every_pane_filters_reads_help_and_quits_cleanly() {
    let mut c = Console::builder().arg("--seed").arg("7").start();
    let screen = c.wait_for("1 Home");
    assert!(screen.contains("DRILL"), "{screen}");
    assert!(screen.contains("no active incident"), "{screen}");
    for area in ["Cluster", "DB", "WAF", "Alarms", "IAM", "Trail"] {
        assert!(screen.contains(area), "overview lacks {area}:\n{screen}");
    }

    c.press("2");
    c.wait_for("READY STATUS");
    c.press("/mariadb\r");
    let filtered = c.wait_for("/mariadb (3 rows)");
    assert!(filtered.contains("mariadb-2"), "{filtered}");
    assert!(!filtered.contains("kube-system"), "{filtered}");

    for (key, marker) in [
        ("3", "POSITION"),
        ("4", "Top blocked IPs"),
        ("5", "SEVERITY"),
        ("6", "MFA"),
        ("7", "multi-region"),
        ("8", "failover-mariadb"),
        ("9", "No open incident"),
    ] {
        c.press(key);
        c.wait_for(marker);
    }

    c.press("?");
    c.wait_for("Keys (from the keymap");
    c.press("\x1b");
    c.wait_until("help closed", |s| !s.contains("Keys (from the keymap"));

    c.press(":theme mono\r");
    c.wait_for("theme mono");

    // Back out: playbooks → overview → quit.
    c.press("q");
    c.wait_for("└");
    c.press("q");
    let status = c.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(!c.alternate_screen(), "alternate screen still active");
    assert!(!c.cursor_hidden(), "cursor still hidden");
}

#[test]
fn no_color_means_no_colour_codes_at_all() {
    let mut c = Console::builder().env("NO_COLOR", "1").start();
    c.wait_for("DRILL");
    c.press("2");
    c.wait_for("READY STATUS");
    c.press("\x03");
    c.wait_exit();
    let codes = colour_codes(&c.raw_output());
    assert!(
        codes.is_empty(),
        "colour escape codes under NO_COLOR: {codes:?}"
    );
    // The default theme does colour the same screen, so the check above can fail.
    let mut coloured = Console::builder().start();
    coloured.wait_for("DRILL");
    coloured.press("\x03");
    coloured.wait_exit();
    assert!(!colour_codes(&coloured.raw_output()).is_empty());
}

#[test]
fn a_dropped_ssh_session_ends_the_console_and_restores_the_terminal() {
    for signal in ["HUP", "TERM"] {
        let mut c = Console::builder().start();
        c.wait_for("DRILL");
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(c.pid().to_string())
            .status();
        assert!(status.unwrap().success());
        c.wait_exit();
        assert!(
            !c.alternate_screen(),
            "SIG{signal}: alternate screen still active"
        );
        assert!(!c.cursor_hidden(), "SIG{signal}: cursor still hidden");
    }
}

#[test]
fn a_bad_keymap_entry_is_shown_with_its_line_and_the_default_still_works() {
    let mut c = Console::builder()
        .config_file("keymap.toml", "down = [\"n\"]\nqiut = [\"x\"]\n")
        .start();
    c.wait_for("keymap.toml:2:1: unknown command `qiut`; default keys kept");
    c.press("2");
    c.wait_for("READY STATUS");
    c.press("?");
    c.wait_for("qiut");
    c.press("\x1b");
    c.press("\x03");
    assert!(c.wait_exit().success());
}

#[test]
fn large_terminal_shows_the_same_console() {
    let mut c = Console::builder().size(160, 48).start();
    let screen = c.wait_for("1 Overview");
    assert!(screen.contains("DRILL"));
    c.press("2");
    c.wait_for("READY STATUS");
    c.press("\x03");
    assert!(c.wait_exit().success());
}
