//! `Ops` for the drill: playbooks act on the simulated world through the same trait the
//! live backends implement.

use super::World;
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

pub struct SimOps {
    world: Arc<Mutex<World>>,
}

impl SimOps {
    pub fn new(world: Arc<Mutex<World>>) -> Self {
        SimOps { world }
    }
}

#[async_trait]
impl Ops for SimOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let mut world = self
            .world
            .lock()
            .map_err(|_| OpError::Failed("the drill world is unusable: a step panicked".into()))?;
        match mode {
            Mode::Apply => world.run_op(op, mode),
            Mode::DryRun => {
                // The same code on a copy: a dry-run validates exactly what a run would and
                // cannot change the world by construction.
                let mut scratch = world.clone();
                drop(world);
                let planned = scratch.run_op(op, mode)?;
                Ok(Outcome {
                    summary: format!("dry-run: would {op}; nothing changed"),
                    calls: planned.calls,
                })
            }
        }
    }
}
