//! The live alarm area: CloudWatch alarms of every `[aws]` region and the alerts of every
//! `[[alertmanagers]]` entry, merged into one list, polled and published only when
//! something changed; and the changes the alarm pane's keys make (silences, CloudWatch
//! actions), journaled with who made them.
//!
//! ```toml
//! [alarms]
//! cloudwatch_every = "30s"      # CloudWatch has no push to a console
//! alertmanager_every = "10s"
//! critical = ["*-critical", "*Down*"]   # severity of untagged CloudWatch alarms by name
//! info = ["*-info"]                     # (a `severity` tag wins; anything else: warning)
//! ```

use super::alertmanager::{self, Alertmanager, NewSilence, parse_matchers};
use super::aws::cloudwatch::{self, CloudWatchAlarms, SeverityNames};
use super::aws::{Aws, Kind};
use super::{ACK_MINUTES, AlarmChange, AlarmControl, Done, Tx, publish_partial};
use crate::config::Span;
use crate::incident::event::Event;
use crate::model::alarm::{Alarm, AlarmSnapshot, AlarmSource, Matcher, SourceStatus};
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsConfig {
    pub cloudwatch_every: Option<Span>,
    pub alertmanager_every: Option<Span>,
    #[serde(default)]
    pub critical: Vec<String>,
    #[serde(default)]
    pub info: Vec<String>,
}

impl AlarmsConfig {
    fn every(span: Option<Span>, default: u64) -> Duration {
        span.and_then(|s| s.0.try_into().ok())
            .unwrap_or(Duration::from_secs(default))
    }
}

/// One source's last answer: kept when a later poll fails, so the pane still shows it.
struct Part {
    name: String,
    alarms: Vec<Alarm>,
    problem: Option<String>,
    /// The problem means this part's data is old (an outage), not that a call is refused.
    outage: bool,
    last_ok: Option<Timestamp>,
}

impl Part {
    fn new(name: String) -> Part {
        Part {
            name,
            alarms: Vec::new(),
            problem: None,
            outage: false,
            last_ok: None,
        }
    }

    fn answered(&mut self, alarms: Vec<Alarm>, note: Option<String>, at: Timestamp) {
        self.alarms = alarms;
        self.problem = note;
        self.outage = false;
        self.last_ok = Some(at);
    }

    fn failed(&mut self, problem: String, outage: bool) {
        self.problem = Some(problem);
        self.outage = outage;
        if !outage {
            // Refused, not down: there is nothing old to keep showing.
            self.alarms.clear();
        }
    }
}

/// The live alarm sources and what each last said.
pub struct LiveAlarms {
    aws: Result<(Aws, CloudWatchAlarms), String>,
    ams: Vec<Alertmanager>,
    cloudwatch: Vec<Part>,
    alertmanagers: Vec<Part>,
    cloudwatch_every: Duration,
    alertmanager_every: Duration,
}

impl LiveAlarms {
    /// `aws` is `None` without `[aws]`; `Some(Err)` when it could not be set up (no region).
    pub fn new(
        aws: Option<Result<Aws, String>>,
        ams: Vec<Alertmanager>,
        cfg: &AlarmsConfig,
    ) -> LiveAlarms {
        let names = SeverityNames {
            critical: cfg.critical.clone(),
            info: cfg.info.clone(),
        };
        let (aws, cloudwatch) = match aws {
            None => (Err(String::new()), Vec::new()),
            Some(Err(e)) => {
                let mut part = Part::new("cloudwatch".into());
                part.failed(e.clone(), true);
                (Err(e), vec![part])
            }
            Some(Ok(aws)) => {
                let parts = aws
                    .regions()
                    .map(|r| Part::new(format!("cloudwatch {r}")))
                    .collect();
                let cw = CloudWatchAlarms::new(&aws, names);
                (Ok((aws, cw)), parts)
            }
        };
        let alertmanagers = ams
            .iter()
            .map(|a| Part::new(format!("alertmanager {}", a.name())))
            .collect();
        LiveAlarms {
            aws,
            ams,
            cloudwatch,
            alertmanagers,
            cloudwatch_every: AlarmsConfig::every(cfg.cloudwatch_every, 30),
            alertmanager_every: AlarmsConfig::every(cfg.alertmanager_every, 10),
        }
    }

    /// Asks the sources (CloudWatch only when `cloudwatch` is due) and returns the merged
    /// list with the lines of the parts whose data is old.
    pub async fn round(&mut self, cloudwatch: bool) -> (AlarmSnapshot, Vec<String>) {
        let now = Timestamp::now();
        let ams = futures::future::join_all(self.ams.iter().map(Alertmanager::alerts));
        let cw = async {
            match (&mut self.aws, cloudwatch) {
                (Ok((aws, cw)), true) => Some(cw.poll(aws).await),
                _ => None,
            }
        };
        let (ams, cw) = futures::join!(ams, cw);
        for (part, answer) in self.alertmanagers.iter_mut().zip(ams) {
            match answer {
                Ok(alerts) => part.answered(alerts, None, now),
                Err(e) => part.failed(e, true),
            }
        }
        for (part, poll) in self.cloudwatch.iter_mut().zip(cw.into_iter().flatten()) {
            match poll.alarms {
                Ok(alarms) => part.answered(alarms, poll.note, now),
                Err(e) => {
                    let outage = !matches!(e.kind, Kind::AccessDenied | Kind::Unsupported);
                    part.failed(e.to_string(), outage);
                }
            }
        }
        self.snapshot()
    }

    fn snapshot(&self) -> (AlarmSnapshot, Vec<String>) {
        let mut alarms: Vec<Alarm> = self
            .cloudwatch
            .iter()
            .flat_map(|p| p.alarms.iter().cloned())
            .collect();
        alarms.extend(alertmanager::merge(
            self.alertmanagers.iter().map(|p| p.alarms.clone()),
        ));
        let parts = self.cloudwatch.iter().chain(&self.alertmanagers);
        let outages = parts
            .clone()
            .filter(|p| p.outage)
            .filter_map(|p| Some(format!("{}: {}", p.name, p.problem.as_ref()?)))
            .collect();
        let sources = parts
            .map(|p| SourceStatus {
                name: p.name.clone(),
                alarms: p.alarms.len(),
                problem: p.problem.clone(),
                last_ok: p.last_ok,
            })
            .collect();
        let mut snap = AlarmSnapshot { alarms, sources };
        snap.sort();
        (snap, outages)
    }

    /// The changes the pane's keys make, sharing the sources' clients; `poke` makes the feed
    /// poll at once, so a new silence shows on the next frame rather than in 30 s.
    pub fn control(&self, poke: Arc<Notify>) -> LiveAlarmControl {
        LiveAlarmControl {
            aws: self.aws.as_ref().ok().map(|(aws, _)| aws.clone()),
            ams: self.ams.clone(),
            poke,
            created_by: created_by(),
        }
    }

    /// Polls until the console goes away: Alertmanager every `alertmanager_every`,
    /// CloudWatch every `cloudwatch_every`, both at once when poked.
    pub fn spawn(
        mut self,
        tx: Tx<AlarmSnapshot>,
        poke: Arc<Notify>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut next_cloudwatch = tokio::time::Instant::now();
            loop {
                let now = tokio::time::Instant::now();
                let due = now >= next_cloudwatch;
                if due {
                    next_cloudwatch = now + self.cloudwatch_every;
                }
                let (snap, outages) = self.round(due).await;
                // One failing source is the banner itself; several get a line each below it.
                let banner = match outages.len() {
                    0 | 1 => outages,
                    n => vec![format!("{n} alarm sources failing")],
                };
                publish_partial(&tx, snap, Timestamp::now(), &banner);
                if tx.is_closed() {
                    return;
                }
                let wake = if self.ams.is_empty() {
                    next_cloudwatch
                } else {
                    next_cloudwatch.min(tokio::time::Instant::now() + self.alertmanager_every)
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = poke.notified() => next_cloudwatch = tokio::time::Instant::now(),
                }
            }
        })
    }
}

/// `user@host`, as Alertmanager's `createdBy` and the journal name whoever silenced.
fn created_by() -> String {
    let who = crate::incident::event::Who::from_env();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{host}", who.user)
}

pub struct LiveAlarmControl {
    aws: Option<Aws>,
    ams: Vec<Alertmanager>,
    poke: Arc<Notify>,
    created_by: String,
}

impl LiveAlarmControl {
    /// The Alertmanager a row came from (the first, for a row an HA pair both report).
    fn alertmanager(&self, alarm: &Alarm) -> Result<&Alertmanager, String> {
        let first = alarm.origin.split(',').next().unwrap_or_default();
        self.ams
            .iter()
            .find(|a| a.name() == first)
            .ok_or_else(|| format!("{}: no live Alertmanager `{first}` holds it", alarm.name))
    }

    fn aws(&self) -> Result<&Aws, String> {
        self.aws
            .as_ref()
            .ok_or_else(|| "no live CloudWatch: add [aws] to the config".to_string())
    }

    /// Who AWS will see acting, for the journal; asked once, and an unknown principal
    /// does not stop the change (the journal then says so).
    async fn principal(&self, aws: &Aws) -> String {
        match aws.principal().await {
            Ok(p) => p.arn,
            Err(e) => format!("unknown ({e})"),
        }
    }

    async fn silence(
        &self,
        action: &str,
        alarm: &Alarm,
        matchers: &str,
        minutes: u32,
        comment: &str,
    ) -> Result<Done, String> {
        let am = self.alertmanager(alarm)?;
        if comment.trim().is_empty() {
            return Err("a silence needs a comment: why, and who is on it".into());
        }
        let now = Timestamp::now();
        let silence = NewSilence {
            matchers: parse_matchers(matchers)?,
            starts_at: now,
            ends_at: now + SignedDuration::from_mins(i64::from(minutes)),
            created_by: self.created_by.clone(),
            comment: comment.trim().to_string(),
        };
        let id = am.create_silence(&silence).await?;
        let shown: Vec<String> = silence.matchers.iter().map(|m| m.to_string()).collect();
        Ok(Done {
            said: format!(
                "{} silenced on {} for {minutes} min (silence {id}): journaled",
                alarm.name,
                am.name()
            ),
            event: Event::AlarmChange {
                action: action.into(),
                target: format!("{} on {}", alarm.name, am.name()),
                detail: format!(
                    "silence {id} {} until {}: {}",
                    shown.join(" "),
                    silence.ends_at,
                    silence.comment
                ),
                principal: Some(self.created_by.clone()),
            },
        })
    }

    async fn expire(&self, alarm: &Alarm) -> Result<Done, String> {
        let am = self.alertmanager(alarm)?;
        if alarm.silenced_by.is_empty() {
            return Err(format!("{} is not silenced", alarm.name));
        }
        for id in &alarm.silenced_by {
            am.expire_silence(id).await?;
        }
        let ids = alarm.silenced_by.join(", ");
        Ok(Done {
            said: format!("silence {ids} of {} expired: journaled", alarm.name),
            event: Event::AlarmChange {
                action: "expire silence".into(),
                target: format!("{} on {}", alarm.name, am.name()),
                detail: format!("silence {ids} expired"),
                principal: Some(self.created_by.clone()),
            },
        })
    }

    async fn set_actions(&self, alarm: &Alarm, enabled: bool) -> Result<Done, String> {
        let aws = self.aws()?;
        let principal = self.principal(aws).await;
        cloudwatch::set_actions(aws, &alarm.origin, &alarm.name, enabled)
            .await
            .map_err(|e| e.to_string())?;
        let (action, said) = if enabled {
            (
                "enable actions",
                format!("{}: actions enabled again: journaled", alarm.name),
            )
        } else {
            (
                "disable actions",
                format!(
                    "{}: actions disabled (no notifications) — u on it enables them again: journaled",
                    alarm.name
                ),
            )
        };
        let call = if enabled {
            "cloudwatch:EnableAlarmActions"
        } else {
            "cloudwatch:DisableAlarmActions"
        };
        Ok(Done {
            said,
            event: Event::AlarmChange {
                action: action.into(),
                target: format!("{} in {}", alarm.name, alarm.origin),
                detail: format!("{call} AlarmNames={} by {}", alarm.name, self.created_by),
                principal: Some(principal),
            },
        })
    }
}

/// A playbook's `silence` step: every Alertmanager silences `alertname="ALERT"`, so the
/// alert stays quiet whichever member of an HA pair routes it.
#[async_trait::async_trait]
impl Ops for LiveAlarmControl {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let Op::Silence { alert, minutes } = op else {
            return Err(OpError::Unsupported(format!(
                "{op}: not an alarm operation"
            )));
        };
        if self.ams.is_empty() {
            return Err(OpError::Unsupported(format!(
                "{op}: no Alertmanager is configured ([[alertmanagers]])"
            )));
        }
        let matcher = Matcher {
            name: "alertname".into(),
            value: alert.clone(),
            is_regex: false,
            is_equal: true,
        };
        let calls: Vec<String> = self
            .ams
            .iter()
            .map(|am| {
                format!(
                    "POST {}/api/v2/silences {matcher} for {minutes} min by {}",
                    am.cfg.url, self.created_by
                )
            })
            .collect();
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!("would silence {alert} for {minutes} min"),
                calls,
            });
        }
        let now = Timestamp::now();
        let silence = NewSilence {
            matchers: vec![matcher],
            starts_at: now,
            ends_at: now + SignedDuration::from_mins(i64::from(*minutes)),
            created_by: self.created_by.clone(),
            comment: format!("playbook step: {op}"),
        };
        let mut ids = Vec::new();
        for am in &self.ams {
            let id = am.create_silence(&silence).await.map_err(OpError::Failed)?;
            ids.push(format!("{} {id}", am.name()));
        }
        self.poke.notify_one();
        Ok(Outcome {
            summary: format!("{alert} silenced for {minutes} min ({})", ids.join(", ")),
            calls,
        })
    }
}

#[async_trait::async_trait]
impl AlarmControl for LiveAlarmControl {
    async fn change(&self, change: AlarmChange) -> Result<Done, String> {
        let done = match &change {
            AlarmChange::Silence {
                alarm,
                matchers,
                minutes,
                comment,
            } => {
                self.silence("silence", alarm, matchers, *minutes, comment)
                    .await
            }
            AlarmChange::Ack { alarm } => {
                let comment = format!("ack: {} is on it (opsdeck)", self.created_by);
                self.silence(
                    "ack",
                    alarm,
                    &alarm.silence_matchers(),
                    ACK_MINUTES,
                    &comment,
                )
                .await
            }
            AlarmChange::Expire { alarm } => self.expire(alarm).await,
            AlarmChange::Actions { alarm, enabled } => self.set_actions(alarm, *enabled).await,
        };
        if done.is_ok() {
            self.poke.notify_one();
        }
        done
    }

    async fn silences(&self) -> Result<String, String> {
        if self.ams.is_empty() {
            return Err("no Alertmanager is configured ([[alertmanagers]])".into());
        }
        let mut out = String::new();
        for am in &self.ams {
            let _ = writeln!(out, "{}", am.name());
            match am.silences().await {
                Err(e) => {
                    let _ = writeln!(out, "  {e}");
                }
                Ok(list) => {
                    let live: Vec<_> = list
                        .iter()
                        .filter(|s| s.status.state != "expired")
                        .collect();
                    if live.is_empty() {
                        let _ = writeln!(out, "  no active or pending silences");
                    }
                    for s in live {
                        let m: Vec<String> = s.matchers.iter().map(|m| m.to_string()).collect();
                        let _ = writeln!(
                            out,
                            "  {} {} until {} by {}\n    {}\n    {}",
                            s.id,
                            s.status.state,
                            s.ends_at,
                            s.created_by,
                            m.join(" "),
                            s.comment
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    async fn history(&self, alarm: &Alarm) -> String {
        match alarm.source {
            AlarmSource::Alertmanager => {
                "Alertmanager keeps no state history; the generator URL shows the rule's graph"
                    .into()
            }
            AlarmSource::CloudWatch => {
                let Ok(aws) = self.aws() else {
                    return "no live CloudWatch".into();
                };
                match cloudwatch::history(aws, &alarm.origin, &alarm.name, Timestamp::now()).await {
                    Ok(items) if items.is_empty() => "no state changes in the last 24 h".into(),
                    Ok(items) => items
                        .iter()
                        .map(|(t, s)| format!("{t} {s}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    Err(e) if e.kind == Kind::Unsupported => {
                        "history: not supported by this endpoint (DescribeAlarmHistory)".into()
                    }
                    Err(e) => format!("history: {e}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_part_shows_nothing_old_and_an_outage_keeps_its_data() {
        let mut part = Part::new("cloudwatch us-east-1".into());
        part.answered(vec![Alarm::default()], None, Timestamp::UNIX_EPOCH);
        part.failed("cannot reach".into(), true);
        assert_eq!(part.alarms.len(), 1);
        part.failed("forbidden".into(), false);
        assert!(part.alarms.is_empty());
    }
}
