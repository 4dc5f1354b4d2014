//! Incidents: the SLA clock, the journal that survives a dropped session, the timeline and
//! the post-incident report.

pub mod clock;
pub mod desk;
pub mod event;
pub mod journal;
pub mod notify;
pub mod objectives;
pub mod report;
pub mod state;
