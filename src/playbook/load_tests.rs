//! The malformed-playbook corpus: every mistake gets an exact message with its place, and
//! nothing panics.

use super::*;

const OK_STEP: &str = "steps:\n  - id: a\n    manual: check the dashboard\n";

fn head(rest: &str) -> String {
    format!("title: T\nseverity: sev2\n{rest}")
}

fn error(text: &str) -> String {
    match parse("t", Path::new("t.yaml"), text) {
        Ok(_) => "OK".into(),
        Err(e) => format!("{}:{}: {}", e.line, e.col, e.message),
    }
}

/// (what is wrong, the file, the exact error)
fn corpus() -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("empty file", String::new(), "1:1: unexpected end of input"),
        (
            "not a mapping",
            "- a\n- b\n".into(),
            "1:1: expected mapping start",
        ),
        (
            "unclosed flow",
            "title: [x\n".into(),
            "1:8: expected string scalar",
        ),
        (
            "missing title",
            format!("severity: sev1\n{OK_STEP}"),
            "2:1: missing field `title`",
        ),
        ("missing steps", head(""), "2:1: missing field `steps`"),
        (
            "no steps",
            head("steps: []\n"),
            "3:1: steps: a playbook needs at least one step",
        ),
        (
            "unknown top-level field",
            head(&format!("owner: me\n{OK_STEP}")),
            "3:1: unknown field `owner`, expected one of title, description, severity, answers, inputs, steps",
        ),
        (
            "bad severity",
            format!("title: T\nseverity: critical\n{OK_STEP}"),
            "2:11: severity: `critical` is not sev1, sev2 or sev3",
        ),
        (
            "unknown input type",
            head(&format!("inputs:\n  n: {{ type: integer }}\n{OK_STEP}")),
            "4:14: inputs.n.type: unknown type `integer` (string, int, number, bool)",
        ),
        (
            "default of the wrong type",
            head(&format!(
                "inputs:\n  n: {{ type: int, default: many }}\n{OK_STEP}"
            )),
            "4:28: inputs.n.default: `many` is not a whole number",
        ),
        (
            "default not allowed",
            head(&format!(
                "inputs:\n  env: {{ type: string, default: dev, allowed: [stg, prod] }}\n{OK_STEP}"
            )),
            "4:33: inputs.env.default: \"dev\" is not one of \"stg\", \"prod\"",
        ),
        (
            "unknown input field",
            head(&format!("inputs:\n  n: {{ type: int, min: 1 }}\n{OK_STEP}")),
            "4:19: unknown field `min`, expected one of type, default, allowed, description",
        ),
        (
            "step without id",
            head("steps:\n  - manual: x\n"),
            "4:5: missing field `id`",
        ),
        (
            "step with no kind",
            head("steps:\n  - id: a\n"),
            "4:5: steps.a: needs exactly one of action, check, wait or manual",
        ),
        (
            "step with two kinds",
            head("steps:\n  - id: a\n    manual: x\n    check: { waf_calm: {} }\n"),
            "4:5: steps.a: needs exactly one of action, check, wait or manual",
        ),
        (
            "duplicate step id",
            head("steps:\n  - id: a\n    manual: x\n  - id: a\n    manual: y\n"),
            "6:9: steps: id `a` is used twice",
        ),
        (
            "unknown step field",
            head("steps:\n  - id: a\n    manual: x\n    when: always\n"),
            "6:5: unknown field `when`, expected one of id, description, action, check, wait, manual, timeout, retries, on_failure, confirm, optional, override",
        ),
        (
            "unknown op",
            head("steps:\n  - id: a\n    action: { explode: { pod: x } }\n"),
            "5:13: steps.a.action: unknown operation `explode` (known: scale, set_hpa_bounds, rollback, restart, cordon, delete_pod, fence, promote, repoint, verify_replication, reboot_with_failover, block_ip, unblock_ip, deactivate_key, key_activity, delete_login_profile, deny_all, reactivate_key, silence, set_region_weight)",
        ),
        (
            "two ops in one action",
            head(
                "steps:\n  - id: a\n    action: { restart: { namespace: a, deployment: b }, cordon: { node: n, cordon: true } }\n",
            ),
            "5:13: steps.a.action: an action is one operation, like `scale: {namespace: shop, deployment: user, replicas: 5}`",
        ),
        (
            "op args not a mapping",
            head("steps:\n  - id: a\n    action: { restart: now }\n"),
            "5:13: steps.a.action: `restart` needs its arguments as a mapping",
        ),
        (
            "op missing field",
            head(
                "steps:\n  - id: a\n    action: { scale: { namespace: shop, deployment: user } }\n",
            ),
            "5:13: steps.a.action: scale: missing field `replicas`",
        ),
        (
            "op unknown field",
            head(
                "steps:\n  - id: a\n    action: { scale: { namespace: shop, deployment: user, replicas: 3, force: true } }\n",
            ),
            "5:13: steps.a.action: scale: unknown field `force`, expected one of `namespace`, `deployment`, `replicas`",
        ),
        (
            "op field of the wrong type",
            head(
                "steps:\n  - id: a\n    action: { scale: { namespace: shop, deployment: user, replicas: lots } }\n",
            ),
            "5:13: steps.a.action: scale: invalid type: string \"lots\", expected u32",
        ),
        (
            "input never defined",
            head(
                "steps:\n  - id: a\n    action: { restart: { namespace: shop, deployment: \"{{app}}\" } }\n",
            ),
            "5:13: steps.a.action: input never defined: `app`",
        ),
        (
            "binding of no earlier check",
            head(
                "steps:\n  - id: a\n    action: { promote: { cluster: c, member: \"{{pick.member}}\" } }\n",
            ),
            "5:13: steps.a.action: no earlier check step binds `pick.member`",
        ),
        (
            "binding of a later check",
            head(
                "steps:\n  - id: a\n    action: { promote: { cluster: c, member: \"{{b.member}}\" } }\n  - id: b\n    check: { best_replica: { cluster: c, max_lag_s: 5 } }\n",
            ),
            "5:13: steps.a.action: no earlier check step binds `b.member`",
        ),
        (
            "unknown condition",
            head("steps:\n  - id: a\n    check: { db_happy: { cluster: c } }\n"),
            "5:12: steps.a.check: unknown variant `db_happy`, expected one of `all`, `any`, `not`, `deployment_ready`, `hpa_not_at_max`, `pods_healthy`, `nodes_ready`, `writable_primary`, `primary_fenced`, `replicas_following`, `best_replica`, `alarm_ok`, `alarm_firing`, `waf_calm`, `waf_stops`, `key_inactive`, `trail_logging`, `region_healthy`, `region_weighted`, `region_headroom`, `region_writable`, `region_drained`, `saved_weight`",
        ),
        (
            "condition missing field",
            head("steps:\n  - id: a\n    check: { deployment_ready: { namespace: shop } }\n"),
            "5:12: steps.a.check: missing field `deployment`",
        ),
        (
            "bad wait timeout",
            head("steps:\n  - id: a\n    wait: { until: { waf_calm: {} }, timeout: soon }\n"),
            "5:47: steps.a.wait.timeout: `soon` is not a duration like 30s, 2m or 1h",
        ),
        (
            "negative poll interval",
            head(
                "steps:\n  - id: a\n    wait: { until: { waf_calm: {} }, timeout: 1m, every: -5s }\n",
            ),
            "5:58: steps.a.wait.every: `-5s` is not a duration like 30s, 2m or 1h",
        ),
        (
            "wait without timeout",
            head("steps:\n  - id: a\n    wait: { until: { waf_calm: {} } }\n"),
            "5:13: missing field `timeout`",
        ),
        (
            "bad step timeout",
            head("steps:\n  - id: a\n    manual: x\n    timeout: 0s\n"),
            "6:14: steps.a.timeout: `0s` is not a duration like 30s, 2m or 1h",
        ),
        (
            "negative retries",
            head("steps:\n  - id: a\n    manual: x\n    retries: -1\n"),
            "6:14: invalid u32",
        ),
        (
            "goto to a missing step",
            head("steps:\n  - id: a\n    manual: x\n    on_failure: { goto: z }\n"),
            "6:17: steps.a.on_failure: goto to missing step `z`",
        ),
        (
            "bad on_failure",
            head("steps:\n  - id: a\n    manual: x\n    on_failure: retry\n"),
            "6:17: steps.a.on_failure: `retry` is not abort, continue or {goto: STEP}",
        ),
        (
            "bad confirm",
            head("steps:\n  - id: a\n    manual: x\n    confirm: maybe\n"),
            "6:14: steps.a.confirm: `maybe` is not none, yes-no or type-target",
        ),
        (
            "type-target without an action",
            head("steps:\n  - id: a\n    manual: x\n    confirm: type-target\n"),
            "4:5: steps.a.confirm: type-target needs an action step (it has the target)",
        ),
        (
            "tab indentation",
            "title: T\n\tseverity: sev1\n".into(),
            "1:8: while scanning a plain scalar, found a tab",
        ),
        (
            "binary junk",
            "\u{0}\u{1}\u{2}".into(),
            "1:1: unexpected character: `\\u{0}'",
        ),
    ]
}

#[test]
fn every_malformed_playbook_gets_its_exact_error() {
    let cases = corpus();
    assert!(cases.len() >= 30);
    let mut wrong = Vec::new();
    for (what, text, want) in &cases {
        let got = error(text);
        if got != *want {
            wrong.push(format!("{what}:\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_good_playbook_resolves_everything() {
    let text = head(
        "answers: { alarms: [\"*Lag*\"] }\ninputs:\n  n: { type: int, default: 3 }\nsteps:\n  - id: pick\n    check: { best_replica: { cluster: c, max_lag_s: 5 } }\n    override: true\n  - id: go\n    action: { promote: { cluster: c, member: \"{{pick.member}}\" } }\n    confirm: type-target\n    on_failure: { goto: done }\n  - id: done\n    wait: { until: { replicas_following: { cluster: c } }, timeout: 2m, every: 1s }\n",
    );
    let p = parse("t", Path::new("t.yaml"), &text).unwrap();
    assert_eq!(p.severity, Severity::Sev2);
    assert_eq!(p.steps.len(), 3);
    assert!(p.steps[0].overridable);
    assert_eq!(p.steps[1].confirm, Confirm::TypeTarget);
    assert_eq!(p.steps[1].on_failure, OnFailure::Goto("done".into()));
    assert!(
        matches!(p.steps[2].kind, StepKind::Wait { timeout, every, .. } if timeout == SignedDuration::from_mins(2) && every == SignedDuration::from_secs(1))
    );
    assert_eq!(p.inputs[0].default, Some(json!(3)));
}

#[test]
fn inputs_accept_command_line_text() {
    let input = Input {
        name: "n".into(),
        kind: InputKind::Int,
        default: None,
        allowed: vec![],
        description: String::new(),
    };
    assert_eq!(input.accept(&json!("12")).unwrap(), json!(12));
    assert_eq!(
        input.accept(&json!("x")).unwrap_err(),
        "`x` is not a whole number"
    );
    let env = Input {
        kind: InputKind::String,
        allowed: vec![json!("stg"), json!("prod")],
        ..input
    };
    assert_eq!(
        env.accept(&json!("dev")).unwrap_err(),
        "\"dev\" is not one of \"stg\", \"prod\""
    );
}
