//! Getting a credential report: GenerateCredentialReport, then GetCredentialReport until it
//! is there, with backoff. AWS answers in several ways that each need their own next step;
//! this is that decision alone, so the driver only makes calls and sleeps.

use jiff::Timestamp;
use std::time::Duration;

/// What GenerateCredentialReport answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Generated {
    /// `STARTED` or `INPROGRESS`.
    Started,
    Complete,
    /// Asked too often: a recent report exists, or one is being written.
    LimitExceeded,
    Failed(String),
}

/// What GetCredentialReport answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Report {
        csv: String,
        generated: Timestamp,
    },
    /// `ReportInProgress`.
    InProgress,
    /// `ReportNotPresent`: never generated (or gone).
    NotPresent,
    /// `ReportExpired`: older than four hours, AWS wants a new one generated.
    Expired,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Generate { after: Duration },
    Get { after: Duration },
    Done { csv: String, generated: Timestamp },
    GiveUp(String),
}

#[derive(Debug, Clone)]
pub struct Poller {
    /// Waits so far; the backoff doubles with each.
    pub waits: u32,
    pub max_waits: u32,
    pub first_wait: Duration,
    pub longest_wait: Duration,
    /// Generations asked for after the first: an expired or missing report asks again,
    /// but not forever.
    regenerations: u32,
}

impl Default for Poller {
    /// About a minute in all: AWS writes a report for thousands of users in seconds.
    fn default() -> Self {
        Poller {
            waits: 0,
            max_waits: 16,
            first_wait: Duration::from_millis(200),
            longest_wait: Duration::from_secs(8),
            regenerations: 0,
        }
    }
}

const MAX_REGENERATIONS: u32 = 2;

impl Poller {
    /// The same backoff from a different first wait (a test's endpoint answers at once).
    pub fn first_wait(self, first_wait: Duration) -> Poller {
        Poller { first_wait, ..self }
    }

    pub fn start(&self) -> Next {
        Next::Generate {
            after: Duration::ZERO,
        }
    }

    fn backoff(&mut self) -> Option<Duration> {
        if self.waits >= self.max_waits {
            return None;
        }
        let wait = self
            .first_wait
            .saturating_mul(1 << self.waits.min(16))
            .min(self.longest_wait);
        self.waits += 1;
        Some(wait)
    }

    fn later(&mut self, next: impl FnOnce(Duration) -> Next) -> Next {
        match self.backoff() {
            Some(after) => next(after),
            None => Next::GiveUp(format!(
                "credential report not ready after {} tries",
                self.waits
            )),
        }
    }

    pub fn on_generate(&mut self, answer: Generated) -> Next {
        match answer {
            Generated::Complete => Next::Get {
                after: Duration::ZERO,
            },
            Generated::Started | Generated::LimitExceeded => {
                self.later(|after| Next::Get { after })
            }
            Generated::Failed(why) => Next::GiveUp(format!("GenerateCredentialReport: {why}")),
        }
    }

    pub fn on_get(&mut self, answer: Got) -> Next {
        match answer {
            Got::Report { csv, generated } => Next::Done { csv, generated },
            Got::InProgress => self.later(|after| Next::Get { after }),
            Got::NotPresent | Got::Expired if self.regenerations < MAX_REGENERATIONS => {
                self.regenerations += 1;
                self.later(|after| Next::Generate { after })
            }
            Got::NotPresent => Next::GiveUp("credential report still not present".into()),
            Got::Expired => Next::GiveUp("credential report keeps expiring".into()),
            Got::Failed(why) => Next::GiveUp(format!("GetCredentialReport: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn report() -> Got {
        Got::Report {
            csv: "user,arn".into(),
            generated: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn started_then_in_progress_then_the_report_with_growing_waits() {
        let mut p = Poller::default();
        assert_eq!(
            p.start(),
            Next::Generate {
                after: Duration::ZERO
            }
        );
        assert_eq!(
            p.on_generate(Generated::Started),
            Next::Get { after: ms(200) }
        );
        assert_eq!(p.on_get(Got::InProgress), Next::Get { after: ms(400) });
        assert_eq!(p.on_get(Got::InProgress), Next::Get { after: ms(800) });
        assert!(matches!(p.on_get(report()), Next::Done { .. }));
    }

    #[test]
    fn a_complete_report_is_fetched_at_once_and_a_limit_waits_for_the_current_one() {
        let mut p = Poller::default();
        assert_eq!(
            p.on_generate(Generated::Complete),
            Next::Get {
                after: Duration::ZERO
            }
        );
        assert_eq!(
            p.on_generate(Generated::LimitExceeded),
            Next::Get { after: ms(200) }
        );
    }

    #[test]
    fn expired_or_missing_reports_are_generated_again_but_not_forever() {
        let mut p = Poller::default();
        assert!(matches!(p.on_get(Got::Expired), Next::Generate { .. }));
        assert!(matches!(p.on_get(Got::NotPresent), Next::Generate { .. }));
        assert_eq!(
            p.on_get(Got::Expired),
            Next::GiveUp("credential report keeps expiring".into())
        );
    }

    #[test]
    fn waits_are_capped_and_counted() {
        let mut p = Poller {
            max_waits: 7,
            ..Poller::default()
        };
        let mut waits = Vec::new();
        while let Next::Get { after } = p.on_get(Got::InProgress) {
            waits.push(after);
        }
        assert_eq!(waits.len(), 7);
        assert_eq!(waits.last(), Some(&Duration::from_secs(8)));
        assert_eq!(
            p.on_get(Got::InProgress),
            Next::GiveUp("credential report not ready after 7 tries".into())
        );
        assert_eq!(
            Poller::default().on_get(Got::Failed("AccessDenied".into())),
            Next::GiveUp("GetCredentialReport: AccessDenied".into())
        );
    }
}
