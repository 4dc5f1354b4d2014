//! Runs the drill world as a source: one simulated step per real second.

use super::sim::World;
use super::{Publishers, Sources, publish};
use std::time::Duration;

fn publish_all(p: &Publishers, world: &World) {
    let at = world.now();
    publish(&p.cluster, world.cluster(), at);
    publish(&p.db, world.db(), at);
    publish(&p.waf, world.waf(), at);
    publish(&p.alarms, world.alarms(), at);
    publish(&p.iam, world.iam(), at);
    publish(&p.trail, world.trail(), at);
}

/// Starts the world on the current tokio runtime. `speed` simulated seconds pass per second.
pub fn spawn(mut world: World, speed: u32) -> Sources {
    let (publishers, sources) = Publishers::channels();
    publish_all(&publishers, &world);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        while !publishers.is_closed() {
            tick.tick().await;
            world.step(speed.max(1));
            publish_all(&publishers, &world);
        }
    });
    sources
}
