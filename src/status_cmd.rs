//! `opsdeck status`: the console's own backend, waited on until every area has answered in
//! full (or the timeout has passed), then printed once.

use crate::{Env, backend};
use jiff::SignedDuration;
use opsdeck::status::Status;
use std::process::ExitCode;
use std::time::Duration;

pub fn status(env: &Env, json: bool, timeout: SignedDuration) -> anyhow::Result<ExitCode> {
    let within = Duration::try_from(timeout)?;
    let rt = tokio::runtime::Runtime::new()?;
    let drill = !env.live();
    let desk = if drill { env.drill_desk() } else { env.desk() };
    let mut status = rt.block_on(async {
        let backend = if !drill {
            backend::live(env).await
        } else {
            backend::drill(env, 1, jiff::Timestamp::now())
        };
        let silent = backend.sources.settled(within).await;
        Status::of(
            &backend.sources,
            &backend.origin,
            &silent,
            backend.clock.now(),
        )
    });
    // The snapshot does not depend on the journals: one that cannot be read costs the
    // budgets only, and says so.
    match desk {
        Ok(desk) => {
            status.budgets = env
                .services(drill)
                .month(&desk.incidents(), status.at, drill)
        }
        Err(e) => eprintln!("opsdeck: no downtime budgets: {e:#}"),
    }
    // Watchers and pollers may be mid-request: the answer is printed, nobody waits for them.
    rt.shutdown_background();
    if json {
        println!("{}", status.json()?);
    } else {
        print!("{}", status.text());
    }
    Ok(if status.settled() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
