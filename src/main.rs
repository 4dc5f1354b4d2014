use anyhow::Context as _;
use clap::Parser;
use jiff::Timestamp;
use opsdeck::cli::{Cli, Cmd};
use opsdeck::config::{self, Config, ConfigError, Paths};
use opsdeck::drill::{self, Drill};
use opsdeck::incident::desk::Desk;
use opsdeck::incident::event::Who;
use opsdeck::incident::notify::Channel;
use opsdeck::incident::team::{self, config::Location, follow, follow::Follower};
use opsdeck::playbook::catalog;
use opsdeck::sources::aws::team::S3Store;
use opsdeck::tui::runtime::{Parts, Runtime};
use opsdeck::tui::{
    self, app::App, data::Data, keymap::Keymap, theme::ThemeError, theme::ThemeStore,
};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

mod backend;
mod cli_cmds;
mod incident_cmd;
mod status_cmd;

/// Seed of the drill world when neither `--seed` nor the config names one.
const DEFAULT_SEED: u64 = 42;

/// A mistake in what the user typed or wrote: exit code 2, like clap's usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn main() -> ExitCode {
    // Two TLS crypto providers are linked (ring for Kubernetes, aws-lc-rs for the AWS SDK
    // and webhooks); rustls needs a process default to build any client that names none.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("opsdeck: {e:#}");
            let usage = e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<ThemeError>().is_some()
                || e.downcast_ref::<UsageError>().is_some();
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// What the console and the subcommands share.
pub struct Env {
    pub cli_read_only: bool,
    pub cfg: Config,
    pub paths: Paths,
    pub seed: u64,
}

impl Env {
    pub fn read_only(&self) -> Option<String> {
        if self.cli_read_only {
            Some("--read-only".into())
        } else if self.cfg.safety.read_only {
            Some("safety.read_only in the config".into())
        } else {
            None
        }
    }

    /// Live systems are named in the config; otherwise the console opens the drill world.
    pub fn live(&self) -> bool {
        !self.cfg.databases.is_empty()
            || self.cfg.kube.is_some()
            || self.cfg.aws.is_some()
            || !self.cfg.alertmanagers.is_empty()
            || self.cfg.waf.modsecurity_audit_log.is_some()
    }

    /// The incidents and changes of the live systems: with `[team]`, shared through the team
    /// journal.
    pub fn desk(&self) -> anyhow::Result<Desk> {
        self.open_desk(&self.paths.data_dir.join("incidents"), false)
    }

    /// Drills keep their own journals: a drill's failover of `shop-mariadb` must never be
    /// what the anti-flap guard of a live cluster of that name reads. In a team they keep
    /// their own team journal too (`PREFIX/drill/`), so a drill never joins a live incident.
    pub fn drill_desk(&self) -> anyhow::Result<Desk> {
        self.open_desk(&self.paths.data_dir.join("drill").join("incidents"), true)
    }

    fn open_desk(&self, dir: &std::path::Path, drill: bool) -> anyhow::Result<Desk> {
        let who = Who::from_env();
        if self.team_location(drill).is_none() {
            return Ok(Desk::open(dir, who)?);
        }
        // One console id for the data dir: live and drill desks are the same console.
        let console = team::console_id(&self.paths.data_dir, &who.user).with_context(|| {
            format!(
                "keeping the team console id in {}",
                self.paths.data_dir.display()
            )
        })?;
        Ok(Desk::open_team(dir, who, console)?)
    }

    /// Where the desk's team journal is: `[team] journal`, one level down for drills.
    pub fn team_location(&self, drill: bool) -> Option<Location> {
        let at = &self.cfg.team.as_ref()?.journal;
        Some(if drill { at.under("drill") } else { at.clone() })
    }

    /// The follower of `desk`'s team journal (a desk from [`Env::desk`] or, with `drill`,
    /// [`Env::drill_desk`]); `None` without `[team]`. Region and credentials come from
    /// `[aws]`, else the SDK's default chain; no region anywhere is a config error.
    pub async fn team_follower(
        &self,
        desk: &mut Desk,
        drill: bool,
    ) -> anyhow::Result<Option<Follower<S3Store>>> {
        let Some(location) = self.team_location(drill) else {
            return Ok(None);
        };
        let retain = self.cfg.team.as_ref().and_then(|t| t.retain);
        let follower =
            opsdeck::sources::aws::team::follower(self.cfg.aws.as_ref(), &location, retain, desk)
                .await
                .map_err(|e| UsageError(format!("{}: {e}", self.paths.config_file.display())))?;
        Ok(Some(follower))
    }

    /// The configured services; a drill without any uses the drill world's.
    pub fn services(&self, drill: bool) -> opsdeck::incident::objectives::Services {
        self.cfg.services(|| {
            if drill {
                opsdeck::sources::sim::services()
            } else {
                Vec::new()
            }
        })
    }

    /// The database roles consoles last saw, for naming a primary that is already dead.
    pub fn db_roles(&self) -> opsdeck::sources::db::RoleMemory {
        opsdeck::sources::db::RoleMemory::in_file(self.paths.data_dir.join("db-roles.json"))
    }

    pub fn playbooks(&self) -> Vec<catalog::Entry> {
        catalog::load(Some(&self.paths.config_dir.join("playbooks")))
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::discover(cli.config.as_deref())?;
    let mut cfg = config::load(&paths.config_file, cli.config.is_some())?.unwrap_or_default();
    if let Some(context) = &cli.context {
        let kube = cfg.kube.get_or_insert_with(Default::default);
        kube.contexts = vec![context.clone()];
    }
    let seed = cli.seed.or(cfg.drill.seed).unwrap_or(DEFAULT_SEED);
    let env = Env {
        cli_read_only: cli.read_only,
        cfg,
        paths,
        seed,
    };
    match &cli.command {
        Some(Cmd::Status { json, timeout }) => status_cmd::status(&env, *json, timeout.0),
        Some(Cmd::Drill { scenario: None, .. }) => cli_cmds::list_drills(),
        Some(Cmd::Drill {
            scenario: Some(name),
            speed,
        }) => {
            let scenario = drill::find(name).map_err(UsageError)?;
            console(&cli, &env, Some(scenario), *speed).map(|()| ExitCode::SUCCESS)
        }
        Some(Cmd::Playbook { cmd }) => cli_cmds::playbook(&env, cmd),
        Some(Cmd::Audit {
            format,
            fail_on,
            output,
            regions,
        }) => cli_cmds::audit(&env, *format, *fail_on, output.as_deref(), regions),
        Some(Cmd::Incident { cmd }) => incident_cmd::run(&env, cmd),
        Some(Cmd::Completions { shell }) => {
            opsdeck::cli::completions(*shell, &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Man { dir: None }) => {
            opsdeck::cli::man(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Man { dir: Some(dir) }) => {
            opsdeck::cli::man_pages(dir)
                .with_context(|| format!("writing the manual pages to {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            console(&cli, &env, None, env.cfg.drill.speed.unwrap_or(1)).map(|()| ExitCode::SUCCESS)
        }
    }
}

fn console(
    cli: &Cli,
    env: &Env,
    scenario: Option<drill::Scenario>,
    speed: u32,
) -> anyhow::Result<()> {
    let themes = ThemeStore::new(Some(env.paths.themes_dir()));
    let theme = themes.load(&theme_name(cli, &env.cfg))?;
    let (keymap, problems) = Keymap::load(&env.paths.keymap_file());
    let channels = env
        .cfg
        .notify
        .channels
        .iter()
        .map(Channel::from_config)
        .collect::<Result<Vec<_>, _>>()
        .map_err(UsageError)?;
    // A drill always runs on the drill world; the plain console goes live when the config
    // names live systems.
    let live = scenario.is_none() && env.live();
    let mut desk = if live { env.desk()? } else { env.drill_desk()? };
    init_logging(&env.paths);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // Before the screen takes the terminal: a [team] the console cannot use is said plainly.
    let follower = runtime.block_on(env.team_follower(&mut desk, !live))?;
    runtime.block_on(async {
        let start = Timestamp::now();
        let backend = if live {
            backend::live(env).await
        } else {
            backend::drill(env, speed, start)
        };
        let playbooks = env.playbooks();
        let mut app = App::new(
            backend.origin.clone(),
            Data::new(playbooks.clone(), start),
            theme,
            themes,
            keymap,
            start,
        );
        app.problems = problems;
        app.sla = env.cfg.sla.policy();
        let services = env.services(!live);
        app.services = services.clone();
        app.read_only = env.read_only();
        app.kube_contexts = backend.contexts;
        app.log_limits = env.cfg.logs;
        app.user = desk.who().user.clone();
        app.team = follower.as_ref().map(|f| f.status.clone());
        let warnings = desk.warnings.clone();
        let mut sources = backend.sources;
        tui::prime(&mut app, &mut sources);
        let desk = Arc::new(Mutex::new(desk));
        let team = follower.map(|f| follow::spawn(f, desk.clone()));
        let (mut rt, results) = Runtime::new(Parts {
            desk,
            team,
            ops: backend.ops,
            sources: sources.clone(),
            clock: backend.clock,
            sla: env.cfg.sla.policy(),
            services,
            channels,
            read_only: env.read_only(),
            anti_flap: env.cfg.safety.anti_flap(),
            speed,
            playbooks,
            world: backend.world.clone().map(|w| (w, env.seed)),
            clusters: backend.clusters,
            alarms: backend.alarms,
            iam: backend.iam,
            inspect: backend.inspect,
            log_dir: env.paths.data_dir.join("logs"),
        });
        rt.refresh();
        for w in warnings {
            tracing::warn!("journal replay: {w}");
            app.message = Some((opsdeck::model::Level::Warn, format!("journal: {w}")));
        }
        if let (Some(scenario), Some(world)) = (scenario, backend.world) {
            rt.drive(world, Drill::new(scenario, env.seed, start));
        }
        tracing::info!(seed = env.seed, origin = ?app.origin, "console started");
        tui::run(app, sources, rt, results).await
    })?;
    // Background tasks (the drill world) end with the process; the journal is on disk.
    runtime.shutdown_background();
    Ok(())
}

/// `--theme` wins, then `NO_COLOR` (https://no-color.org), then the config file.
fn theme_name(cli: &Cli, cfg: &Config) -> String {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match (&cli.theme, no_color, &cfg.ui.theme) {
        (Some(name), _, _) => name.clone(),
        (None, true, _) => "mono".into(),
        (None, false, Some(name)) => name.clone(),
        (None, false, None) => "default".into(),
    }
}

/// Logs go to a file in the data directory, never to the terminal the console draws on.
fn init_logging(paths: &Paths) {
    let file = std::fs::create_dir_all(&paths.data_dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(paths.data_dir.join("opsdeck.log"))
    });
    match file {
        Ok(file) => {
            let _ = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        }
        Err(e) => eprintln!("opsdeck: no log file in {}: {e}", paths.data_dir.display()),
    }
}
