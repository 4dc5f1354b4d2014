//! The non-interactive subcommands: drills list, playbooks, incident reports, the audit.

use crate::{Env, UsageError};
use jiff::Timestamp;
use opsdeck::audit::Severity;
use opsdeck::audit::report::AuditReport;
use opsdeck::cli::{AuditFormat, PlaybookCmd};
use opsdeck::drill;
use opsdeck::incident::report;
use opsdeck::model::iam::IamSnapshot;
use opsdeck::model::trail::TrailSnapshot;
use opsdeck::playbook::load::Playbook;
use opsdeck::playbook::run::{self, Answer, Ask, Channels, Context, Prompt, RunView};
use opsdeck::playbook::{plan, run::describe};
use opsdeck::sources::aws::cloudtrail::TrailReader;
use opsdeck::sources::aws::iam::{self as live_iam, IamReader};
use opsdeck::sources::aws::{Aws, AwsConfig};
use opsdeck::sources::drill::WorldClock;
use opsdeck::sources::sim::World;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

pub fn list_drills() -> anyhow::Result<ExitCode> {
    for s in drill::scenarios() {
        match s {
            Ok(s) => println!("{:<20} {:<5} {}", s.name, s.severity.name(), s.title),
            Err(e) => println!("✗ {e}"),
        }
    }
    println!("\nstart one with: opsdeck drill NAME [--speed N] [--seed N]");
    Ok(ExitCode::SUCCESS)
}

fn find(env: &Env, name: &str) -> anyhow::Result<Playbook> {
    let entries = env.playbooks();
    match entries.iter().find(|e| e.name == name) {
        Some(e) => e
            .playbook
            .clone()
            .map_err(|err| UsageError(err.to_string()).into()),
        None => {
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            Err(UsageError(format!(
                "no playbook `{name}` (available: {})",
                names.join(", ")
            ))
            .into())
        }
    }
}

pub fn playbook(env: &Env, cmd: &PlaybookCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PlaybookCmd::List => {
            let mut broken = false;
            for e in env.playbooks() {
                match &e.playbook {
                    Ok(p) => println!("{:<24} {:<5} {}", e.name, p.severity.name(), p.title),
                    Err(err) => {
                        broken = true;
                        println!("{:<24} ✗     {}", e.name, err.short());
                    }
                }
            }
            Ok(if broken {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        PlaybookCmd::Show { name } => {
            let p = find(env, name)?;
            println!(
                "{} — {} ({})\n\n{}\n",
                p.name,
                p.title,
                p.severity.name(),
                p.description
            );
            if !p.answers.is_empty() {
                println!("answers alarms: {}\n", p.answers.join(", "));
            }
            for i in &p.inputs {
                let default = i
                    .default
                    .as_ref()
                    .map(|d| format!(" (default {d})"))
                    .unwrap_or_else(|| " (required)".into());
                println!("input {}: {:?}{default} {}", i.name, i.kind, i.description);
            }
            for (n, s) in p.steps.iter().enumerate() {
                println!("{:>2}. {:<10} {}", n + 1, s.id, describe(s));
            }
            Ok(ExitCode::SUCCESS)
        }
        PlaybookCmd::Run {
            name,
            dry_run,
            inputs,
        } => {
            let p = find(env, name)?;
            let vars = plan::inputs(&p, inputs).map_err(UsageError)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(run_playbook(env, &p, vars, *dry_run))
        }
    }
}

async fn run_playbook(
    env: &Env,
    p: &Playbook,
    vars: opsdeck::playbook::template::Vars,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let world = Arc::new(Mutex::new(World::new(env.seed, Timestamp::now())));
    let sources = opsdeck::sources::drill::spawn(world.clone(), 1);
    let ops = crate::backend::guard(env, opsdeck::sources::sim::SimOps::new(world.clone()));
    if dry_run {
        let steps = plan::dry_run(&*ops, &sources.snapshots(), p, vars.clone()).await;
        print!("{}", plan::render(p, &vars, &steps));
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = Context {
        ops,
        snapshots: Arc::new(move || sources.snapshots()),
        desk: Arc::new(Mutex::new(env.desk()?)),
        clock: Arc::new(WorldClock(world)),
        read_only: env.read_only(),
        anti_flap: env.cfg.safety.anti_flap(),
        speed: 1,
    };
    let (progress, mut progress_rx) = watch::channel(RunView {
        playbook: p.name.clone(),
        run: 0,
        steps: vec![],
        outcome: None,
    });
    let (asks, mut ask_rx) = mpsc::channel::<Ask>(1);
    let (_abort, abort) = watch::channel(false);
    tokio::spawn(async move {
        let mut said = 0;
        while progress_rx.changed().await.is_ok() {
            let view = progress_rx.borrow_and_update().clone();
            let lines: Vec<String> = view
                .steps
                .iter()
                .flat_map(|s| s.output.iter().map(move |o| format!("{}: {o}", s.id)))
                .collect();
            for l in lines.iter().skip(said) {
                println!("  {l}");
            }
            said = lines.len();
        }
    });
    // Questions are answered on stdin, one line each, so a script can drive a run.
    tokio::spawn(async move {
        while let Some(ask) = ask_rx.recv().await {
            let question = match &ask.prompt {
                Prompt::Confirm { what, .. } => format!("{what}? [y/N] "),
                Prompt::Manual { text, .. } => format!("{text} — done? [y/N] "),
                Prompt::TypeTarget { what, target, .. } => {
                    format!("{what}: type `{target}` to confirm: ")
                }
                Prompt::Override { why, .. } => {
                    format!("guard failed: {why}\nreason to override (empty stops): ")
                }
            };
            let line = tokio::task::spawn_blocking(move || {
                print!("{question}");
                let _ = std::io::stdout().flush();
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map(|_| line.trim().to_string())
                    .unwrap_or_default()
            })
            .await
            .unwrap_or_default();
            let answer = match &ask.prompt {
                Prompt::Confirm { .. } | Prompt::Manual { .. } => {
                    if line.eq_ignore_ascii_case("y") || line.eq_ignore_ascii_case("yes") {
                        Answer::Yes
                    } else {
                        Answer::No
                    }
                }
                _ => Answer::Text(line),
            };
            let _ = ask.reply.send(answer);
        }
    });
    let mut ch = Channels {
        progress,
        asks,
        abort,
    };
    let outcome = run::execute(&ctx, p, vars, 0, &mut ch).await;
    println!("{} {outcome:?}", p.name);
    Ok(if outcome == opsdeck::incident::event::RunOutcome::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn report(env: &Env, id: Option<&str>) -> anyhow::Result<ExitCode> {
    let desk = env.desk()?;
    let id = match id {
        Some(id) => id.to_string(),
        None => desk
            .latest()
            .ok_or_else(|| UsageError(format!("no incidents in {}", desk.dir().display())))?,
    };
    let inc = desk.load(&id).map_err(|e| UsageError(e.to_string()))?;
    let policy = env.cfg.sla.policy();
    let want_final = inc.prevention.is_some() && !inc.is_open();
    let path = report::write(&inc, &policy, desk.dir(), want_final).map_err(UsageError)?;
    print!("{}", std::fs::read_to_string(&path)?);
    eprintln!("written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Exit code of `opsdeck audit` when findings at or above `--fail-on` exist.
const FINDINGS_EXIT: u8 = 3;

pub fn audit(
    env: &Env,
    format: AuditFormat,
    fail_on: Option<Severity>,
    output: Option<&Path>,
    regions: &[String],
) -> anyhow::Result<ExitCode> {
    let report = match &env.cfg.aws {
        Some(cfg) => {
            let mut cfg = cfg.clone();
            if !regions.is_empty() {
                // Through [aws]'s own parser, so a bad name reads the same as in the config.
                let given: AwsConfig =
                    serde_json::from_value(serde_json::json!({ "regions": regions }))
                        .map_err(|e| UsageError(format!("--region: {e}")))?;
                cfg.regions = given.regions;
            }
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(live_review(&cfg))?
        }
        None if !regions.is_empty() => {
            return Err(UsageError(
                "--region needs [aws] in the config (without it the audit reviews the drill world)"
                    .into(),
            )
            .into());
        }
        None => {
            let world = World::new(env.seed, Timestamp::now());
            AuditReport::new("drill", &world.iam(), &world.trail(), world.now())
        }
    };
    let text = match format {
        AuditFormat::Table => report.table(),
        AuditFormat::Json => report.json()? + "\n",
        AuditFormat::Md => report.markdown(),
    };
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("writing the audit to {}: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(match fail_on {
        Some(level) if report.at_or_above(level) > 0 => {
            eprintln!(
                "opsdeck audit: {} findings at or above {}",
                report.at_or_above(level),
                level.word()
            );
            ExitCode::from(FINDINGS_EXIT)
        }
        _ => ExitCode::SUCCESS,
    })
}

async fn live_review(cfg: &AwsConfig) -> anyhow::Result<AuditReport> {
    let (iam, trail) = read_security(cfg).await?;
    Ok(AuditReport::new("live", &iam, &trail, Timestamp::now()))
}

/// Reads IAM and CloudTrail once, waiting for the credential report: `opsdeck audit` and
/// `opsdeck status` report the first complete snapshot of each.
pub async fn read_security(cfg: &AwsConfig) -> anyhow::Result<(IamSnapshot, TrailSnapshot)> {
    let aws = Aws::load(cfg).await.map_err(|e| anyhow::anyhow!(e))?;
    let iam = IamReader::new(&aws);
    let trail = TrailReader::new(&aws);
    let (iam, trail) = tokio::join!(live_iam::read(&iam, |_| {}), trail.read());
    let iam = iam.map_err(|e| anyhow::anyhow!("IAM: {e}"))?;
    let trail = trail.map_err(|e| anyhow::anyhow!("CloudTrail: {e}"))?;
    Ok((iam, trail))
}
