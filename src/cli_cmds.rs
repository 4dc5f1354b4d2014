//! The non-interactive subcommands: drills list, playbooks, the audit.

use crate::{Env, UsageError};
use jiff::Timestamp;
use opsdeck::audit::Severity;
use opsdeck::audit::report::AuditReport;
use opsdeck::cli::{AuditFormat, PlaybookCmd};
use opsdeck::drill;
use opsdeck::incident::event::RunOutcome;
use opsdeck::incident::team::follow;
use opsdeck::model::iam::IamSnapshot;
use opsdeck::model::trail::TrailSnapshot;
use opsdeck::playbook::load::Playbook;
use opsdeck::playbook::run::{self, Answer, Ask, Channels, Context, Prompt, RunView};
use opsdeck::playbook::{plan, run::describe};
use opsdeck::sources::aws::cloudtrail::TrailReader;
use opsdeck::sources::aws::iam::{self as live_iam, IamReader};
use opsdeck::sources::aws::{Aws, AwsConfig};
use opsdeck::sources::sim::World;
use opsdeck::tui::app::Origin;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
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
            let defaults = p.defaults();
            if !defaults.is_empty() {
                println!("\nsteps, with the inputs' defaults:");
            }
            for (n, s) in p.steps.iter().enumerate() {
                println!("{:>2}. {:<10} {}", n + 1, s.id, describe(s, &defaults));
            }
            Ok(ExitCode::SUCCESS)
        }
        PlaybookCmd::Run {
            name,
            dry_run,
            inputs,
            yes,
            drill,
        } => {
            let p = find(env, name)?;
            let vars = plan::inputs(&p, inputs).map_err(UsageError)?;
            let rt = tokio::runtime::Runtime::new()?;
            let how = How {
                dry_run: *dry_run,
                yes: *yes,
                drill: *drill || !env.live(),
            };
            rt.block_on(run_playbook(env, &p, vars, how))
        }
    }
}

struct How {
    dry_run: bool,
    yes: bool,
    /// On the drill world, with its own journal.
    drill: bool,
}

/// How long a command-line run waits for the live sources' first answers.
const FIRST_ANSWERS: Duration = Duration::from_secs(15);

/// The same backend choice as the console: live when the config names live systems, the drill
/// world otherwise or with `--drill`; the first line says which, so nobody mistakes one for
/// the other.
async fn run_playbook(
    env: &Env,
    p: &Playbook,
    vars: opsdeck::playbook::template::Vars,
    how: How,
) -> anyhow::Result<ExitCode> {
    let (backend, mut desk) = if how.drill {
        let backend = crate::backend::drill(env, 1, Timestamp::now());
        let why = if env.live() {
            "--drill"
        } else {
            "no live systems in the config"
        };
        println!(
            "DRILL (seed {}, {why}): the built-in drill world; nothing real is changed",
            env.seed
        );
        (backend, env.drill_desk()?)
    } else {
        let backend = crate::backend::live(env).await;
        let what = match &backend.origin {
            Origin::Live { what } => what.clone(),
            Origin::Drill { .. } => String::new(),
        };
        println!("LIVE ({what}): changes are real");
        let silent = backend.sources.settled(FIRST_ANSWERS).await;
        for area in silent {
            println!(
                "! {} has not answered within {} s: its checks see nothing yet",
                area.title(),
                FIRST_ANSWERS.as_secs()
            );
        }
        (backend, env.desk()?)
    };
    // With `[team]` the run first catches up with the team's incidents (its guards read
    // them), and its steps go up as they are journaled, so other consoles see it running.
    let follower = env.team_follower(&mut desk, how.drill).await?;
    let dir = desk.dir().to_path_buf();
    let desk = Arc::new(Mutex::new(desk));
    let following = match follower {
        Some(f) => {
            // A dry run changes nothing and is not someone in the incident: no heartbeat.
            let mut f = if how.dry_run { f.absent() } else { f };
            f.round(&desk, Timestamp::now()).await;
            crate::incident_cmd::say_team(&f.status, &dir, false);
            (!how.dry_run).then(|| follow::alongside(f, desk.clone()))
        }
        None => None,
    };
    let sources = backend.sources.clone();
    let ctx = Context {
        ops: backend.ops,
        snapshots: Arc::new(move || sources.snapshots()),
        desk,
        clock: backend.clock,
        read_only: env.read_only(),
        anti_flap: env.cfg.safety.anti_flap(),
        speed: 1,
    };
    if how.dry_run {
        let steps = plan::dry_run(&ctx, p, vars.clone()).await;
        print!("{}", plan::render(p, &vars, &steps));
        return Ok(ExitCode::SUCCESS);
    }

    let (progress, mut progress_rx) = watch::channel(RunView {
        playbook: p.name.clone(),
        run: 0,
        steps: vec![],
        outcome: None,
    });
    let (asks, mut ask_rx) = mpsc::channel::<Ask>(1);
    let (_abort, abort) = watch::channel(false);
    let printer = tokio::spawn(async move {
        // Per step, what was printed: steps gain lines in any order (preflight lines of
        // later steps come first), and a waiting step replaces its line as it polls.
        let mut printed: Vec<Vec<String>> = Vec::new();
        while progress_rx.changed().await.is_ok() {
            let view = progress_rx.borrow_and_update().clone();
            printed.resize(view.steps.len(), Vec::new());
            for (s, seen) in view.steps.iter().zip(printed.iter_mut()) {
                for line in &s.output {
                    if !seen.contains(line) {
                        println!("  {}: {line}", s.id);
                        seen.push(line.clone());
                    }
                }
            }
        }
    });
    let yes = how.yes;
    tokio::spawn(async move {
        while let Some(ask) = ask_rx.recv().await {
            let answer = answer_on_stdin(&ask.prompt, yes).await;
            let _ = ask.reply.send(answer);
        }
    });
    let mut ch = Channels {
        progress,
        asks,
        abort,
    };
    let outcome = run::execute(&ctx, p, vars, 0, &mut ch).await;
    drop(ch);
    let _ = printer.await;
    println!("{}: {}", p.name, outcome.text());
    if let Some(following) = following
        && let Some(f) = following.finish().await
    {
        crate::incident_cmd::say_team(&f.status, &dir, true);
    }
    Ok(
        if matches!(outcome, RunOutcome::Ok | RunOutcome::Declined(_)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// Too short, or a word that answers another kind of question: never taken as a reason to
/// override a guard.
fn not_a_reason(text: &str) -> bool {
    let t = text.trim();
    let word = t.to_ascii_lowercase();
    t.chars().count() < 8 || ["y", "yes", "n", "no", "ok", "override"].contains(&word.as_str())
}

/// Each question names its kind, so a script's answers are matched to the questions they
/// are for; a line meant for one kind is never taken for another.
async fn answer_on_stdin(prompt: &Prompt, yes: bool) -> Answer {
    let question = match prompt {
        Prompt::Confirm {
            what,
            optional: false,
            ..
        } => format!("[yes/no] {what}? [y/N] "),
        Prompt::Confirm {
            what,
            optional: true,
            ..
        } => format!("[yes/no] {what}? (optional: no skips it) [y/N] "),
        Prompt::Manual { text, .. } => format!("[checklist] {text} — done? [y/N] "),
        Prompt::TypeTarget { what, target, .. } => {
            format!("[type the target] {what}: type `{target}` to confirm: ")
        }
        Prompt::Override { why, .. } => format!(
            "[override reason] guard failed: {why}\n  a reason to override it, in words \
             (journaled; empty stops): "
        ),
    };
    if yes && matches!(prompt, Prompt::Confirm { .. }) {
        println!("{question}y (--yes)");
        return Answer::Yes;
    }
    let line = tokio::task::spawn_blocking(move || {
        print!("{question}");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                println!("(no answer: end of input)");
                String::new()
            }
            Ok(_) => line.trim().to_string(),
        }
    })
    .await
    .unwrap_or_default();
    match prompt {
        Prompt::Confirm { .. } | Prompt::Manual { .. } => {
            if line.eq_ignore_ascii_case("y") || line.eq_ignore_ascii_case("yes") {
                Answer::Yes
            } else {
                Answer::No
            }
        }
        Prompt::Override { .. } if line.is_empty() => Answer::No,
        Prompt::Override { .. } if not_a_reason(&line) => {
            println!("  `{line}` is not a reason: the guard stands");
            Answer::No
        }
        _ => Answer::Text(line),
    }
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
            rt.block_on(live_review(&cfg, env.cfg.recovery.databases.clone()))?
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
                .with_backups(&world.backups().assess(&world.db()))
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

/// The security review, plus the RPO breaches of `[recovery]`'s databases (judged on their
/// backups alone: the audit reads no replication).
async fn live_review(
    cfg: &AwsConfig,
    recovery: Vec<opsdeck::sources::backup::RecoveryDb>,
) -> anyhow::Result<AuditReport> {
    let (iam, trail) = read_security(cfg).await?;
    let now = Timestamp::now();
    let report = AuditReport::new("live", &iam, &trail, now);
    if recovery.is_empty() {
        return Ok(report);
    }
    let reader = opsdeck::sources::backup::BackupReader::connect(recovery, Some(cfg)).await;
    let backups = reader.read(now).await;
    Ok(report.with_backups(&backups.assess(&Default::default())))
}

/// Reads IAM and CloudTrail once, waiting for the credential report: `opsdeck audit`
/// reports the first complete snapshot of each.
async fn read_security(cfg: &AwsConfig) -> anyhow::Result<(IamSnapshot, TrailSnapshot)> {
    let aws = Aws::load(cfg).await.map_err(|e| anyhow::anyhow!(e))?;
    let iam = IamReader::new(&aws);
    let trail = TrailReader::new(&aws);
    let (iam, trail) = tokio::join!(live_iam::read(&iam, |_| {}), trail.read());
    let iam = iam.map_err(|e| anyhow::anyhow!("IAM: {e}"))?;
    let trail = trail.map_err(|e| anyhow::anyhow!("CloudTrail: {e}"))?;
    Ok((iam, trail))
}
