//! The command line: global flags and subcommands (clap derive), and [`run`], which main
//! calls inside the one runtime.
//!
//! Secrets are never command-line arguments (they would show in `ps` and shell history):
//! API keys come from the environment or a 0600 credentials file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, LoadOptions, LogLevel, Mode, Settings};

/// hoga — a keyboard trading console for the Upbit exchange.
#[derive(Debug, Parser)]
#[command(name = "hoga", version, about)]
pub struct Cli {
    /// Config file to use instead of ~/.config/hoga/config.toml.
    #[arg(long, global = true, value_name = "FILE", env = "HOGA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Colour theme (overrides `theme` in `[ui]`).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Log level of the log file (overrides `log_level` in `[general]`).
    #[arg(long, global = true, value_name = "LEVEL", value_enum)]
    pub(crate) log_level: Option<LogLevel>,
    /// Demo mode with the built-in demo preset (simulated exchange, paper money).
    #[arg(long, global = true, conflicts_with = "mode")]
    pub demo: bool,
    /// Seed of the demo market generator (overrides `seed` in `[demo]`).
    #[arg(long, global = true, value_name = "N")]
    pub seed: Option<u64>,
    /// Where data and orders come from (overrides `mode` in `[general]`).
    #[arg(long, global = true, value_name = "MODE", value_enum)]
    pub mode: Option<Mode>,
    /// Live mode: allow starting with a new, empty order journal. Without it, a missing or
    /// unreadable journal stops live trading (it is what reconciliation relies on).
    #[arg(long, global = true)]
    pub(crate) new_journal: bool,
    /// Demo mode: start a new demo session. The kept one (the demo account's balances and
    /// orders, the demo journal with its rules and alerts) is moved to
    /// `demo-sessions/<UTC time>/` in the data directory, not deleted.
    #[arg(long)]
    pub(crate) fresh: bool,
    /// Demo mode against an already-running `hoga sim` at this loopback URL (for example
    /// `http://127.0.0.1:9000`) instead of the embedded simulator. The console trades on the
    /// simulator's built-in demo account (`sim::DEMO_ACCESS_KEY`), so a console restarted
    /// against the same simulator finds the orders it left there.
    #[arg(long = "sim", value_name = "URL")]
    pub(crate) sim_url: Option<String>,
    /// The order journal file to use instead of the mode's own in the data directory
    /// (with `--sim`, demo's is in memory otherwise). A demo session on it is not the one
    /// kept across restarts: the embedded simulator's account then starts afresh.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// What to do; without one, hoga starts the console.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands. New ones (sim, stream, journal) are added as variants here and a match
/// arm in [`run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, print or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the embedded exchange simulator until Ctrl-C: Upbit's protocol and Binance's
    /// public spot market data on one port, and a USD/KRW rate (`/fx/usd-krw`).
    Sim(crate::sim::SimArgs),
    /// Export the order journal (orders, then fills) as CSV or JSON.
    Journal(crate::trading::journal::JournalArgs),
    /// Stream normalized market events from a websocket as JSON lines.
    Stream(crate::feed::stream_cli::StreamArgs),
}

/// `hoga config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print where the config file and the logs are.
    Path,
    /// Print the built-in default configuration (every key, commented).
    Default,
    /// Check a config file (default: the user's config file); exit 1 naming the first
    /// problem.
    Check {
        /// The file to check.
        file: Option<PathBuf>,
    },
}

/// The global flags one subcommand reads, each with the help it has there (None: its
/// usual help).
type GlobalsRead = &'static [(&'static str, Option<&'static str>)];

/// The global flags a subcommand reads, by subcommand; its help hides the others (clap
/// lists every global flag under every subcommand, promising effects they do not have).
/// A subcommand not named here shows them all. A flag read there with a meaning of its own
/// says so in that help.
const SUBCOMMAND_GLOBALS: [(&str, GlobalsRead); 4] = [
    ("config", &[("config", None)]),
    ("sim", &[]),
    (
        "journal",
        &[
            ("config", None),
            ("demo", Some("Export the demo journal (journal-demo.sqlite in the data directory)")),
            ("mode", Some("Export this mode's journal (default: the mode in use)")),
        ],
    ),
    (
        "stream",
        &[
            ("demo", Some("Stream from an embedded simulator instead of --url")),
            ("seed", Some("Seed of the --demo simulator's market generator")),
        ],
    ),
];

impl Cli {
    /// The command-line grammar, with each subcommand's help listing only the global flags
    /// it reads ([`SUBCOMMAND_GLOBALS`]).
    pub fn command() -> clap::Command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let globals: &[clap::Arg] =
            &cmd.get_arguments().filter(|a| a.is_global_set()).cloned().collect::<Vec<_>>();
        for (name, reads) in SUBCOMMAND_GLOBALS {
            // A subcommand that already has an argument of a global's id keeps the global
            // out; a hidden copy given here does the same, so the flag still parses there
            // (and reaches `Cli`) but its help does not list it.
            cmd = cmd.mut_subcommand(name, |mut sub| {
                for arg in globals {
                    if sub.get_arguments().any(|a| a.get_id() == arg.get_id()) {
                        continue;
                    }
                    match reads.iter().find(|(id, _)| arg.get_id() == *id) {
                        Some((_, Some(help))) => sub = sub.arg(arg.clone().help(*help)),
                        Some((_, None)) => {}
                        None => sub = sub.arg(arg.clone().hide(true)),
                    }
                }
                sub
            });
        }
        cmd
    }

    /// Parses the process's arguments (exits with clap's message on a mistake or `--help`).
    pub fn parse_args() -> Cli {
        let matches = Cli::command().get_matches();
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The load options these flags ask for, reading the process environment.
    pub(crate) fn load_options(&self) -> LoadOptions {
        let mut overrides = toml::Table::new();
        if let Some(theme) = &self.theme {
            config::set_path(&mut overrides, "ui.theme", toml::Value::String(theme.clone()));
        }
        if let Some(level) = self.log_level {
            config::set_path(&mut overrides, "general.log_level", toml::Value::String(level.as_str().into()));
        }
        if let Some(mode) = self.mode {
            config::set_path(&mut overrides, "general.mode", toml::Value::String(mode.as_str().into()));
        }
        if let Some(seed) = self.seed {
            // TOML integers are i64; a larger seed is folded rather than refused.
            config::set_path(
                &mut overrides,
                "demo.seed",
                toml::Value::Integer((seed & i64::MAX as u64) as i64),
            );
        }
        LoadOptions {
            config_file: self.config.clone(),
            skip_user_file: false,
            env: std::env::vars().collect(),
            demo_preset: self.demo,
            overrides,
        }
    }
}

/// Runs what the command line asks for; returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        Some(Command::Config(cmd)) => run_config(cmd, cli.config.as_deref()),
        Some(Command::Sim(args)) => exit_code("hoga sim", crate::sim::run_cli(args.clone()).await),
        Some(Command::Journal(args)) => exit_code("hoga journal", run_journal(&cli, args)),
        Some(Command::Stream(args)) => crate::feed::stream_cli::run(args, cli.demo, cli.seed).await,
        // The console's status: 0 on quit, 1 on a fatal failure, 128 + N on signal N.
        None => crate::console::run(&cli).await.unwrap_or_else(|e| exit_code("hoga", Err(e))),
    }
}

/// Prints an error (with its causes) and turns the outcome into an exit code.
fn exit_code(what: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`: it panics when the terminal has hung up.
            crate::kernel::terminal::report(&format!("{what}: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Prints `text` to stdout. Not `print!`, which panics when stdout is gone: a reader
/// that went away (`hoga config default | head -1`) ends the command quietly with
/// success, as Unix tools do; any other failure (a full disk) is an error.
fn print_out(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            crate::kernel::terminal::report(&format!("hoga: cannot write to stdout: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// `hoga config …`. `given` is `--config FILE` / `HOGA_CONFIG`: the file the console would
/// load, so `path` and `check` speak of it rather than of the default.
fn run_config(cmd: &ConfigCommand, given: Option<&std::path::Path>) -> ExitCode {
    let config_file = || given.map(std::path::Path::to_path_buf).or_else(config::user_config_file);
    match cmd {
        ConfigCommand::Path => {
            let show = |p: Option<PathBuf>| {
                p.map_or_else(|| "(no home directory)".into(), |p| config::display_path(&p))
            };
            let file = config_file();
            let exists = file.as_ref().is_some_and(|p| p.exists());
            let note = if exists { "" } else { " (not present; defaults apply)" };
            let logs = show(config::default_log_dir());
            print_out(&format!("config: {}{note}\nlogs:   {logs}\n", show(file)))
        }
        ConfigCommand::Default => print_out(config::DEFAULT_TOML),
        ConfigCommand::Check { file } => {
            let Some(path) = file.clone().or_else(config_file) else {
                eprintln!("hoga: no config file given and no home directory to find one");
                return ExitCode::FAILURE;
            };
            match config::check_file(&path) {
                Ok(settings) => {
                    // What startup would refuse is not "ok": a shared log directory.
                    if let Some(dir) = &settings.general.log_dir
                        && let Err(e) = crate::logging::file::check_private_dir(dir)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        eprintln!("{}: [general] log_dir = {:?}: {e}", config::display_path(&path), dir);
                        return ExitCode::FAILURE;
                    }
                    print_out(&format!("{}: ok\n", config::display_path(&path)))
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `hoga journal`: exports the `--journal` file, else the journal of the mode the console
/// would run in (`--demo`, `--mode`, the config's `mode`): `journal-demo.sqlite`,
/// `journal-paper.sqlite` or `journal.sqlite` in the data directory.
fn run_journal(cli: &Cli, args: &crate::trading::journal::JournalArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if args.journal.is_some() {
        return crate::trading::journal::run_journal_cli(args, None);
    }
    let mode = load_settings(cli)?.general.mode;
    let dir = crate::datadir::default_dir()
        .context("no home directory to find the journal in; pass --journal FILE")?;
    let file = crate::console::journal_file(mode, &dir);
    crate::trading::journal::run_journal_cli(args, Some((file, mode.as_str())))
}

/// Loads the settings for the console or the kernel.
pub(crate) fn load_settings(cli: &Cli) -> Result<Settings, config::ConfigError> {
    Ok(config::load(&cli.load_options())?.settings)
}
