//! The post-incident report [CIR-CLOUD-002]: cause, actions taken and prevention, with the
//! SLA verdict and, for drills, the score. Markdown, from the journal alone.

use super::clock::{SlaPolicy, hms};
use super::event::{Event, Milestone, Role};
use super::objectives::{Services, short};
use super::state::Incident;
use jiff::{SignedDuration, Timestamp};
use std::fmt::Write;

/// How a drill went, from the moment the fault was injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    pub to_acknowledge: Option<SignedDuration>,
    pub to_mitigate: Option<SignedDuration>,
    pub to_recover: Option<SignedDuration>,
    pub sla_met: Option<bool>,
    pub first_notice: Option<SignedDuration>,
    pub overridden: usize,
}

/// When recovery happened: the world's own condition in a drill, else the mitigation.
pub fn recovered_at(inc: &Incident) -> Option<Timestamp> {
    inc.recovered_at.or(inc.mitigated_at).or(inc.resolved_at)
}

/// `Some(true)` if recovered by the deadline, `Some(false)` if not, `None` while it is open.
pub fn sla_met(inc: &Incident, policy: &SlaPolicy) -> Option<(bool, SignedDuration)> {
    let at = recovered_at(inc)?;
    let margin = policy.deadline(inc.recognised_at).duration_since(at);
    Some((!margin.is_negative(), margin))
}

pub fn score(inc: &Incident, policy: &SlaPolicy) -> Option<Score> {
    let fault_at = inc.drill.as_ref()?.fault_at;
    let since = |t: Option<Timestamp>| t.map(|t| t.duration_since(fault_at));
    Some(Score {
        to_acknowledge: since(inc.acknowledged_at),
        to_mitigate: since(inc.mitigated_at),
        to_recover: since(inc.recovered_at),
        sla_met: sla_met(inc, policy).map(|(met, _)| met),
        first_notice: inc
            .notices
            .first()
            .map(|n| n.at.duration_since(inc.recognised_at)),
        overridden: inc.overrides,
    })
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or_else(
        || "—".into(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn dur(d: Option<SignedDuration>) -> String {
    d.map_or_else(|| "—".into(), hms)
}

/// One line of Markdown table text: pipes and newlines in user text must not break the table.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders the report. A final report needs prevention measures; without them it is a draft.
pub fn render(
    inc: &Incident,
    policy: &SlaPolicy,
    services: &Services,
    want_final: bool,
) -> Result<String, String> {
    let prevention = inc.prevention.as_deref().filter(|p| !p.trim().is_empty());
    if want_final && prevention.is_none() {
        return Err(format!(
            "{}: a final report needs prevention measures (enter them when resolving)",
            inc.id
        ));
    }
    let mut out = String::new();
    let kind = if inc.drill.is_some() {
        "Drill report"
    } else {
        "Post-incident report"
    };
    let _ = writeln!(out, "# {kind}: {}\n", inc.title);
    if !want_final {
        let _ = writeln!(
            out,
            "> DRAFT — not final until prevention measures are entered.\n"
        );
    }
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Incident | {} |", inc.id);
    let target = inc.severity.response_target();
    let _ = writeln!(
        out,
        "| Severity | {} (respond within {}) |",
        inc.severity.name(),
        hms(target)
    );
    if let Some(a) = &inc.alarm {
        let _ = writeln!(out, "| Alarm | {} |", cell(a));
    }
    let _ = writeln!(out, "| Detected | {} |", when(inc.detected_at));
    let reason = inc
        .recognised_reason
        .as_ref()
        .map(|r| format!(" — dated back: {}", cell(r)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "| Recognised | {}{reason} |",
        when(Some(inc.recognised_at))
    );
    let start = inc.detected_at.unwrap_or(inc.recognised_at);
    let response = inc.acknowledged_at.map(|t| {
        let took = t.duration_since(start);
        let verdict = if took <= target {
            "within target"
        } else {
            "LATE"
        };
        format!(" ({} after detection, {verdict})", hms(took))
    });
    let _ = writeln!(
        out,
        "| Acknowledged | {}{} |",
        when(inc.acknowledged_at),
        response.unwrap_or_default()
    );
    let _ = writeln!(out, "| Mitigated | {} |", when(inc.mitigated_at));
    let _ = writeln!(out, "| Resolved | {} |", when(inc.resolved_at));
    let deadline = policy.deadline(inc.recognised_at);
    let sla = match sla_met(inc, policy) {
        Some((true, margin)) => format!("**met**, recovered {} before the deadline", hms(margin)),
        Some((false, margin)) => format!("**missed** by {}", hms(margin)),
        None => "open".into(),
    };
    let _ = writeln!(
        out,
        "| Recovery SLA | {} from recognition, deadline {}: {sla} |",
        hms(policy.length),
        when(Some(deadline))
    );
    objectives(&mut out, inc, services);
    let _ = writeln!(out, "| Breach notices | {} |", inc.notices.len());
    let _ = writeln!(out, "| Commander | {} |", cell(&inc.commander));
    if !inc.merged.is_empty() {
        let _ = writeln!(out, "| Merged in | {} |", inc.merged.join(", "));
    }
    if let Some(v) = &inc.integrity {
        let _ = writeln!(out, "| Journal integrity | {} |", cell(v));
    }

    if let Some(s) = score(inc, policy) {
        let _ = writeln!(out, "\n## Drill score\n\n| measure | value |\n|---|---|");
        let _ = writeln!(out, "| Time to acknowledge | {} |", dur(s.to_acknowledge));
        let _ = writeln!(out, "| Time to mitigate | {} |", dur(s.to_mitigate));
        let _ = writeln!(out, "| Time to recover | {} |", dur(s.to_recover));
        let met = match s.sla_met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "open",
        };
        let _ = writeln!(out, "| SLA met | {met} |");
        let _ = writeln!(
            out,
            "| First breach notice after recognition | {} |",
            dur(s.first_notice)
        );
        let _ = writeln!(out, "| Steps overridden | {} |", s.overridden);
    }
    let _ = writeln!(out, "\n## Summary\n\n{}", inc.title);
    let _ = writeln!(
        out,
        "\n## Impact\n\n{}",
        inc.impact.as_deref().unwrap_or("Not recorded.")
    );
    let _ = writeln!(
        out,
        "\n## Cause\n\n{}",
        inc.cause.as_deref().unwrap_or("Not recorded.")
    );

    let _ = writeln!(
        out,
        "\n## Timeline\n\n| time (UTC) | who | what |\n|---|---|---|"
    );
    for e in &inc.entries {
        if let Some(text) = timeline_text(&e.event) {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                e.at.strftime("%H:%M:%S"),
                cell(&e.who.to_string()),
                cell(&text)
            );
        }
    }

    let _ = writeln!(
        out,
        "\n## Actions taken\n\n| started (UTC) | who | playbook | step | result |\n|---|---|---|---|---|"
    );
    for run in &inc.runs {
        if let Some((at, step, why)) = &run.refused {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                at.strftime("%H:%M:%S"),
                cell(&run.who),
                run.playbook,
                cell(step),
                cell(&format!("REFUSED before any change: {why}"))
            );
        }
        for s in &run.steps {
            let result = match &s.finished {
                Some((true, r)) => format!("ok: {r}"),
                Some((false, r)) => format!("FAILED: {r}"),
                None => "interrupted".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                s.started.strftime("%H:%M:%S"),
                cell(&s.who),
                run.playbook,
                cell(&s.detail),
                cell(&result)
            );
        }
    }
    if inc.runs.is_empty() {
        let _ = writeln!(out, "| — | — | — | no playbook was run | — |");
    }

    for n in &inc.notices {
        let _ = writeln!(
            out,
            "\n### Breach notice {} ({})\n\n- Reason: {}\n- Plan: {}\n- Expected completion: {}\n- Delivered: {}",
            n.n,
            when(Some(n.at)),
            n.reason,
            n.plan,
            when(Some(n.eta)),
            match &n.last_attempt {
                Some(None) => "yes".to_string(),
                Some(Some(e)) => format!("NO — {e}"),
                None => "not yet".into(),
            }
        );
    }

    let _ = writeln!(
        out,
        "\n## Prevention\n\n{}",
        prevention.unwrap_or("Not entered yet.")
    );

    Ok(out)
}

/// The service's RTO verdict and what this incident spent of its monthly budget.
fn objectives(out: &mut String, inc: &Incident, services: &Services) {
    if let Some(service) = &inc.service {
        let _ = writeln!(out, "| Service | {} |", cell(service));
    }
    if let Some((rto, met)) = services.rto_met(inc) {
        let verdict = match met {
            Some((true, margin)) => format!("**met**, recovered {} before it", hms(margin)),
            Some((false, margin)) => format!("**missed** by {}", hms(margin)),
            None => "open".into(),
        };
        let _ = writeln!(
            out,
            "| Recovery time objective | {} from recognition, deadline {}: {verdict} |",
            hms(rto),
            when(inc.recognised_at.saturating_add(rto).ok())
        );
    }
    let Some(spend) = recovered_at(inc).and_then(|at| services.spent_by(inc, at)) else {
        if let Some(service) = inc.service.as_deref().and_then(|s| services.find(s))
            && service.availability.is_some()
        {
            let why = if services.severities.contains(&inc.severity) {
                "open: still spending"
            } else {
                "not counted at this severity"
            };
            let _ = writeln!(out, "| Availability budget | {why} |");
        }
        return;
    };
    let _ = writeln!(
        out,
        "| Availability budget | {} % allows {} of downtime a month: this incident used {} ({:.1} % of the month's budget) |",
        spend.availability,
        short(spend.allowance),
        short(spend.used),
        spend.percent()
    );
}

pub fn timeline_text(event: &Event) -> Option<String> {
    Some(match event {
        Event::Opened {
            title, severity, ..
        } => format!("incident opened: {title} ({})", severity.name()),
        Event::Milestone { milestone } => match milestone {
            Milestone::Acknowledged => "acknowledged".into(),
            Milestone::Mitigated => "mitigated".into(),
            Milestone::Resolved => "resolved".into(),
        },
        Event::Note { text } => format!("note: {text}"),
        Event::Service { service } => format!("service: {service}"),
        Event::Alarm {
            name,
            state,
            reason,
        } => format!("alarm {name} → {state}: {reason}"),
        Event::Trail {
            user,
            call,
            source_ip,
            risk,
        } => format!("cloudtrail {risk}: {user} {call} from {source_ip}"),
        Event::Backup { database, problem } => {
            format!("backups of {database} past the RPO: {problem}")
        }
        Event::Region { region, problem } => format!("region {region} CRIT: {problem}"),
        Event::AlarmChange {
            action,
            target,
            detail,
            principal,
        } => match principal {
            Some(p) => format!("{action} {target}: {detail} (as {p})"),
            None => format!("{action} {target}: {detail}"),
        },
        Event::RunStarted { playbook, .. } => format!("playbook {playbook} started"),
        Event::StepStarted { step, detail, .. } => format!("step {step}: {detail}"),
        Event::StepFinished {
            step, ok, result, ..
        } => {
            format!(
                "step {step} {}: {result}",
                if *ok { "ok" } else { "FAILED" }
            )
        }
        Event::Override { step, reason, .. } => format!("guard overridden at {step}: {reason}"),
        Event::Refused { step, why, .. } => {
            format!("step {step} refused before any change: {why}")
        }
        Event::Declined { step, why, .. } => format!("step {step} declined, skipped: {why}"),
        Event::RunFinished { outcome, .. } => format!("playbook {}", outcome.text()),
        Event::Notice { n, .. } => format!("breach notice {n} written"),
        Event::NoticeSent { n, channel, error } => match error {
            None => format!("breach notice {n} sent via {channel}"),
            Some(e) => format!("breach notice {n} NOT sent via {channel}: {e}"),
        },
        Event::Recovered { condition } => format!("recovered: {condition}"),
        Event::Role {
            role: Role::Commander,
            user,
        } => format!("{user} is now the incident commander"),
        Event::Role {
            role: Role::Comms,
            user,
        } => format!("{user} is now on comms"),
        Event::Merged {
            from,
            recognised_at,
            ..
        } => format!(
            "{from} merged into this incident; recognition {}",
            recognised_at.strftime("%H:%M:%S")
        ),
        Event::Cause { .. }
        | Event::Impact { .. }
        | Event::Prevention { .. }
        | Event::Report { .. } => return None,
    })
}

/// Writes the report next to the journals: `<id>.md`.
pub fn write(
    inc: &Incident,
    policy: &SlaPolicy,
    services: &Services,
    dir: &std::path::Path,
    want_final: bool,
) -> Result<std::path::PathBuf, String> {
    let text = render(inc, policy, services, want_final)?;
    let path = dir.join(format!("{}.md", inc.id));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
