//! The region-outage drill through the real binary: Seoul's health check fails while it
//! takes half the traffic, its region line goes CRIT on the overview, the incident is opened,
//! region-evacuate runs from the Books pane with the failing and the healthy region offered,
//! the world recovers within the SLA, and the report states the RTO and the budget used.

mod support;

use support::Console;

#[test]
fn region_outage_drill_from_crit_line_to_report() {
    let mut c = Console::builder()
        .arg("drill")
        .arg("region-outage")
        .arg("--speed")
        .arg("10")
        .size(120, 40)
        .start();
    c.wait_for("DRILL");
    c.wait_until("seoul's region line CRIT", |s| {
        s.lines()
            .any(|l| l.contains("✗ seoul") && l.contains("weight 50 (50 %) · health ✗"))
    });
    let home = c.wait_for("health check failing while it takes traffic");
    assert!(
        home.lines()
            .any(|l| l.contains("✓ us-east") && l.contains("weight 50 (50 %) · health ✓")),
        "{home}"
    );

    c.press("i");
    c.wait_for("open incident");
    // Title, then sev2 → sev1, then the recognised time and reason left empty.
    c.press("Seoul region failing\t\x7f\x7f\x7f\x7fsev1\r\r\r");
    // The 30-minute RTO runs out before the 2-hour SLA, so it is the countdown shown.
    c.wait_for("RTO OK");

    c.press("8");
    c.wait_for("region-evacuate");
    c.press("/region-evacuate\r");
    c.press("r");
    let form = c.wait_for("run region-evacuate");
    assert!(form.contains("from:          seoul"), "{form}");
    assert!(form.contains("to:            us-east"), "{form}");
    c.press("\r\r\r\r\r\r");
    c.wait_for("in context drill-us-east?");
    c.press("y");
    c.wait_for("type `seoul` to co");
    c.press("seoul\r");
    let run = c.wait_for("finished ok");
    assert!(
        run.contains("headroom = hpa shop/user: 4 replicas × 2.00 (share 50 % → 100 %) = 8 of max"),
        "{run}"
    );
    c.wait_for("the world has recovered");

    c.press("1");
    c.wait_until("seoul drained", |s| {
        s.lines()
            .any(|l| l.contains("! seoul") && l.contains("weight 0 (0 %) · health ✗"))
    });

    c.press("9");
    c.wait_for("budget live-commerce 99.9 %:");
    c.press("R");
    c.wait_for("resolve incident");
    c.press("Seoul's load balancer lost its targets\rhalf the customers got errors for 4 minutes\rhealth-check alarm to on-call; quarterly region drill\r");
    c.wait_for("Drill report");
    // The message line can follow the report's popup by a frame.
    c.wait_for("resolved; report");

    let dir = c.data_dir().join("drill").join("incidents");
    let md = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .expect("report file");
    let text = std::fs::read_to_string(md).unwrap();
    assert!(text.contains("| SLA met | yes |"), "{text}");
    assert!(text.contains("| Service | live-commerce |"), "{text}");
    assert!(
        text.contains("| Recovery time objective | 0:30:00 from recognition, deadline "),
        "{text}"
    );
    assert!(text.contains(": **met**, recovered "), "{text}");
    assert!(
        text.contains(
            "| Availability budget | 99.9 % allows 43m 49s of downtime a month: this incident used "
        ),
        "{text}"
    );
    assert!(
        text.contains("set the Route 53 weight of region seoul to 0 (was 50)"),
        "{text}"
    );

    c.press("\x1b");
    c.press("\x03");
    assert!(c.wait_exit().success());
}
