//! The failover a DBA runs on the MariaDB cluster, and the outage that calls for it.

use super::{CLUSTER, DbSim, LAG_THRESHOLD_S, Link, MEMBERS, REPOINT_LAG_S, host, name};
use crate::model::db::Role;
use crate::ops::{Mode, OpError, Outcome};

/// ProxySQL's admin interface moves the writer hostgroup to the new primary.
fn proxysql_call(to: usize) -> String {
    format!(
        "SQL proxysql: UPDATE mysql_servers SET hostname='{}' WHERE hostgroup_id=10; \
         LOAD MYSQL SERVERS TO RUNTIME; SAVE MYSQL SERVERS TO DISK",
        host(to)
    )
}

fn check_cluster(cluster: &str) -> Result<(), OpError> {
    if cluster == CLUSTER {
        Ok(())
    } else {
        Err(OpError::NotFound(format!(
            "no database cluster `{cluster}` (the drill has {CLUSTER})"
        )))
    }
}

impl DbSim {
    fn member(&self, cluster: &str, member: &str) -> Result<usize, OpError> {
        check_cluster(cluster)?;
        (0..MEMBERS)
            .find(|&i| name(i) == member)
            .ok_or_else(|| OpError::NotFound(format!("no member {cluster}/{member}")))
    }

    /// The primary stops answering: writes stop, the replicas' IO threads lose it.
    pub fn primary_down(&mut self, cluster: &str) -> Result<(), String> {
        check_cluster(cluster).map_err(|e| e.to_string())?;
        let dead = self.writer;
        self.members[dead].reachable = false;
        let mut frozen: Vec<u64> = Vec::new();
        for i in 0..MEMBERS {
            if !matches!(self.members[i].link, Link::Following { source, .. } if source == dead) {
                continue;
            }
            self.lose_source(i);
            // Replicas never stop at exactly the same transaction: one has received a
            // little more than the other, which is what picking the best one is about.
            while frozen.contains(&self.members[i].pos) && self.members[i].pos > 0 {
                let back = self.chaos.between(1, 3) as u64;
                self.members[i].pos = self.members[i].pos.saturating_sub(back);
            }
            frozen.push(self.members[i].pos);
        }
        Ok(())
    }

    pub fn unfence(&mut self, cluster: &str, member: &str) -> Result<Outcome, OpError> {
        let i = self.member(cluster, member)?;
        if !self.members[i].reachable {
            return Ok(Outcome {
                summary: format!("{member} is unreachable: no fence to lift"),
                calls: Vec::new(),
            });
        }
        self.members[i].read_only = false;
        Ok(Outcome {
            summary: format!("{member}'s fence lifted: read_only=OFF"),
            calls: vec![format!("SQL {member}: SET GLOBAL read_only=OFF")],
        })
    }

    pub fn fence(&mut self, cluster: &str, member: &str) -> Result<Outcome, OpError> {
        let i = self.member(cluster, member)?;
        if !self.members[i].reachable {
            return Ok(Outcome {
                summary: format!("{member} is unreachable: nothing to fence"),
                calls: Vec::new(),
            });
        }
        let was = self.members[i].read_only;
        self.members[i].read_only = true;
        Ok(Outcome {
            summary: if was {
                format!("{member} was already read-only; client connections killed")
            } else {
                format!("{member} fenced: read_only=ON, client connections killed")
            },
            calls: vec![
                format!("SQL {member}: SET GLOBAL read_only=ON"),
                format!(
                    "SQL {member}: KILL CONNECTION for each client thread in \
                     information_schema.PROCESSLIST (user not repl/system)"
                ),
            ],
        })
    }

    pub fn promote(&mut self, cluster: &str, member: &str) -> Result<Outcome, OpError> {
        let i = self.member(cluster, member)?;
        let m = &self.members[i];
        if !m.reachable {
            return Err(OpError::Refused(format!(
                "{member} is unreachable: it cannot be promoted"
            )));
        }
        if let Link::Following { lag, .. } = m.link
            && lag > LAG_THRESHOLD_S
        {
            return Err(OpError::Refused(format!(
                "{member} lags {lag:.1} s, beyond {cluster}'s {LAG_THRESHOLD_S:.1} s threshold"
            )));
        }
        if i == self.writer && self.writable() {
            return Ok(Outcome {
                summary: format!("{member} already is the writable primary"),
                calls: Vec::new(),
            });
        }
        let pos = m.pos;
        // Whatever a more advanced replica received beyond this point the new primary never
        // had: say so, the operator chose it.
        let ahead: Vec<String> = (0..MEMBERS)
            .filter(|&j| j != i && self.members[j].reachable && self.members[j].pos > pos)
            .map(|j| {
                format!(
                    "{} is {} transactions ahead",
                    name(j),
                    self.members[j].pos - pos
                )
            })
            .collect();
        let m = &mut self.members[i];
        m.role = Role::Primary;
        m.read_only = false;
        m.link = Link::None;
        // A dead primary's role is only a memory once another one takes over.
        for other in self.members.iter_mut() {
            if !other.reachable && other.role == Role::Primary {
                other.role = Role::Unknown;
            }
        }
        self.writer = i;
        self.seq = pos;
        self.carry = 0.0;
        self.terms.push((pos + 1, i + 1));
        self.update_positions();
        let mut summary = format!(
            "{member} promoted at GTID {}: read_only=OFF, replication reset; {}",
            self.gtid(pos),
            self.router()
        );
        if !ahead.is_empty() {
            summary.push_str(&format!(
                "; {}: those transactions are lost",
                ahead.join(", ")
            ));
        }
        Ok(Outcome {
            summary,
            calls: vec![
                format!("SQL {member}: STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF"),
                proxysql_call(i),
            ],
        })
    }

    /// Makes every other reachable member replicate from `primary` and routes writes to it.
    /// A dry-run skips the check that `primary` is already writable: the playbook's promote
    /// step before it is what makes it so.
    pub fn repoint(
        &mut self,
        cluster: &str,
        primary: &str,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        let i = self.member(cluster, primary)?;
        let p = &self.members[i];
        let writable = p.reachable && p.role == Role::Primary && !p.read_only;
        if mode == Mode::Apply && !writable {
            return Err(OpError::Refused(format!(
                "{primary} is not a writable primary: promote it first"
            )));
        }
        let (mut calls, mut done, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
        for j in (0..MEMBERS).filter(|&j| j != i) {
            let m = &mut self.members[j];
            if !m.reachable {
                left_out.push(name(j));
                continue;
            }
            if matches!(m.link, Link::Following { source, .. } if source == i) {
                done.push(format!("{} already replicates from {primary}", name(j)));
                continue;
            }
            calls.push(format!(
                "SQL {}: STOP SLAVE; SET GLOBAL read_only=ON; CHANGE MASTER TO \
                 MASTER_HOST='{}', MASTER_PORT=3306, MASTER_USE_GTID=slave_pos; START SLAVE",
                name(j),
                host(i)
            ));
            m.role = Role::Replica;
            m.read_only = true;
            m.link = Link::Following {
                source: i,
                lag: REPOINT_LAG_S,
            };
            done.push(format!("{} now replicates from {primary}", name(j)));
        }
        calls.push(proxysql_call(i));
        self.writer = i;
        self.update_positions();
        if !left_out.is_empty() {
            done.push(format!("{} unreachable, left out", left_out.join(", ")));
        }
        done.push(self.router());
        Ok(Outcome {
            summary: done.join("; "),
            calls,
        })
    }

    /// Writes a marker on the primary and checks every reachable replica follows it within
    /// the threshold. A dry-run only says what it would run.
    pub fn verify(&mut self, cluster: &str, mode: Mode) -> Result<Outcome, OpError> {
        check_cluster(cluster)?;
        let w = self.writer;
        let marker = self.gtid(self.seq + 1);
        let replicas: Vec<usize> = (0..MEMBERS)
            .filter(|&j| j != w && self.members[j].reachable)
            .collect();
        let mut calls = vec![format!(
            "SQL {}: REPLACE INTO opsdeck.heartbeat (id, ts) VALUES (1, NOW(6))",
            name(w)
        )];
        calls.extend(
            replicas
                .iter()
                .map(|&j| format!("SQL {}: SELECT MASTER_GTID_WAIT('{marker}', 30)", name(j))),
        );
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!("would write {marker} on {} and wait for it", name(w)),
                calls,
            });
        }
        if !self.writable() {
            let why = if self.members[w].reachable {
                "is read-only"
            } else {
                "is unreachable"
            };
            return Err(OpError::Failed(format!(
                "{cluster}: the writer {} {why}",
                name(w)
            )));
        }
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for &j in &replicas {
            match &self.members[j].link {
                Link::Following { source, lag } if *source == w && *lag <= LAG_THRESHOLD_S => {
                    seen.push(format!("{} ({lag:.1} s)", name(j)));
                }
                Link::Following { source, lag } if *source == w => problems.push(format!(
                    "{} lags {lag:.1} s > {LAG_THRESHOLD_S:.1} s",
                    name(j)
                )),
                Link::Following { source, .. } | Link::Stopped { source, .. } if *source != w => {
                    problems.push(format!(
                        "{} replicates from {}, not {}",
                        name(j),
                        name(*source),
                        name(w)
                    ));
                }
                Link::Stopped { error, .. } => {
                    problems.push(format!("{}: IO thread stopped: {error}", name(j)));
                }
                _ => problems.push(format!("{} does not replicate", name(j))),
            }
        }
        if !problems.is_empty() {
            return Err(OpError::Failed(format!(
                "{cluster}: {}",
                problems.join("; ")
            )));
        }
        // The marker is a real transaction.
        self.seq += 1;
        self.update_positions();
        let summary = if seen.is_empty() {
            format!("{marker} written on {}; no replicas to wait for", name(w))
        } else {
            format!(
                "{marker} written on {} and seen on {}",
                name(w),
                seen.join(", ")
            )
        };
        Ok(Outcome { summary, calls })
    }

    /// Pushes a replica's lag past the threshold, for refusal tests.
    #[cfg(test)]
    pub fn set_lag(&mut self, member: usize, to: f64) {
        if let Link::Following { lag, .. } = &mut self.members[member].link {
            *lag = to;
        }
    }
}
