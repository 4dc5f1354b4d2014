use anyhow::Context;
use clap::Parser;
use jiff::Timestamp;
use opsdeck::cli::{Cli, Cmd};
use opsdeck::config::{self, Config, ConfigError, Paths};
use opsdeck::playbook::catalog;
use opsdeck::sources::{drill, sim::World};
use opsdeck::status::Status;
use opsdeck::tui::{
    self, app::App, app::Origin, data::Data, keymap::Keymap, theme::ThemeError, theme::ThemeStore,
};
use std::process::ExitCode;

/// Seed of the drill world when neither `--seed` nor the config names one.
const DEFAULT_SEED: u64 = 42;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opsdeck: {e:#}");
            // Mistakes in what the user wrote (config, theme) are usage errors, like clap's.
            if e.downcast_ref::<ConfigError>().is_some() || e.downcast_ref::<ThemeError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::discover(cli.config.as_deref())?;
    let cfg = config::load(&paths.config_file, cli.config.is_some())?.unwrap_or_default();
    let seed = cli.seed.or(cfg.drill.seed).unwrap_or(DEFAULT_SEED);
    let world = World::new(seed, Timestamp::now());
    match cli.command {
        Some(Cmd::Status { json }) => {
            let status = Status::of_drill(&world, seed);
            if json {
                println!("{}", status.json()?);
            } else {
                print!("{}", status.text());
            }
            Ok(())
        }
        None => console(&cli, &cfg, &paths, world, seed),
    }
}

fn console(cli: &Cli, cfg: &Config, paths: &Paths, world: World, seed: u64) -> anyhow::Result<()> {
    let themes = ThemeStore::new(Some(paths.themes_dir()));
    let theme = themes.load(&theme_name(cli, cfg))?;
    let (keymap, problems) = Keymap::load(&paths.keymap_file());
    init_logging(paths);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let now = world.now();
        let playbooks = catalog::load(Some(&paths.config_dir.join("playbooks")));
        let mut app = App::new(
            Origin::Drill { seed },
            Data::new(playbooks, now),
            theme,
            themes,
            keymap,
            now,
        );
        app.problems = problems;
        let world = std::sync::Arc::new(std::sync::Mutex::new(world));
        let mut sources = drill::spawn(world, cfg.drill.speed.unwrap_or(1));
        tui::prime(&mut app, &mut sources);
        tracing::info!(seed, "console started on the drill world");
        tui::run(app, sources).await
    })?;
    // Background tasks (the drill world) end with the process; nothing else holds state.
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
