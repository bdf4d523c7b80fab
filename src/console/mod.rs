//! The console: wires the simulator (demo), the feed, the store, trading and the UI
//! together under one task manager, and takes them down in order.
//!
//! ```text
//! sim (demo) ◄── REST/WS ──► feed::FeedManager ──proxies──► market/account pumps ──► store
//!                               ▲                                  │ prices            │
//!                               │                                  ▼                   ▼
//!                        trading::OrderManager     monitor ◄── TickSender          ui::App
//!                               ▲     │ facts         │ exits                         │
//!                               │     ▼               ▼                               │
//!    bus lanes:  trading ── trade::Desk ◄── requests (UI, monitor) ◄──────────────────┤
//!                safety ─── safety (halts, resume, bans, feed, tasks) ◄──────────────┤
//!                config ─── changes (the change gate) ◄────────────────────────────────────┤
//!                command ── selection, acknowledgements, quit ◄───────────────────────┘
//!                logging ── Log pane
//! ```
//!
//! Nothing here draws or trades itself: it connects the parts and translates between
//! their shapes. `event` says what each lane carries.

pub mod changes;
pub mod event;
mod indicator_alerts;
pub mod key_expiry;
pub mod market;
pub mod notices;
pub mod pockets;
pub(crate) mod premium;
pub mod safety;
pub mod sparklines;
pub mod trade;
pub mod venues;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::bus::{Bus, BusConfig};
use crate::cli::Cli;
use crate::config::{Mode, Settings};
use crate::exchange::upbit::rest::{RestClient, RestConfig};
use crate::feed::{FeedConfig, FeedManager};
use crate::kernel::pump::spawn_pump;
use crate::kernel::{self, Deadlines, OnFailure, ShutdownHooks, TaskManager, terminal::TerminalGuard};
use crate::logging::{self, LogOptions};
use crate::notify::notifier::{NotifierConfig, WebhookConfig, spawn_notifier};
use crate::notify::{NotifyKind, NotifyModes};
use crate::store::{StoreConfig, StoreEvent, StoreHandle};
use crate::trading::credentials::{self, ApiKeys, KeySource};
use crate::trading::intent::{TradeIntent, TradeRequest};
use crate::trading::journal::Journal;
use crate::trading::manager::{ManagerConfig, OrderManager};
use crate::trading::mode::{VenueParams, arm_prompt, build_venue, journal_options};
use crate::trading::monitor::{Monitor, MonitorConfig, MonitorDeps, TradingStateHandle};
use crate::trading::paper::PaperConfig;
use crate::trading::risk::RiskLimits;
use crate::ui::sink::{CommandSink, CommandSource};
use crate::ui::{App, ColorSupport, Keymap, UiCommand, UiConfig};

use crate::exchange::VenueId;
use event::AppEvent;
use market::PriceSinks;

/// Where the exchange is, and with which keys.
struct Endpoints {
    rest: RestConfig,
    ws_base: Option<String>,
    keys: Option<ApiKeys>,
    sim: Option<crate::sim::SimHandle>,
    /// Demo: the simulator's Binance REST and websocket bases (the same port as Upbit's:
    /// `http://127.0.0.1:PORT`, `ws://127.0.0.1:PORT`).
    binance_sim: Option<(String, String)>,
}

/// Runs the console until quit or a signal, then shuts down in order. Returns the exit
/// status: 0 after a quit, 1 when a vital task failed for good, 128 + N after signal N
/// (SIGHUP 129, SIGTERM 143).
pub async fn run(cli: &Cli) -> anyhow::Result<std::process::ExitCode> {
    let settings = crate::cli::load_settings(cli)?;
    let mode = settings.general.mode;
    // Live: keys and the arm step happen on the plain terminal, before anything starts.
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let user_keys = credentials::load(&env, credentials::default_credentials_path().as_deref())?;
    let arm = if mode == Mode::Live {
        let stdin = std::io::stdin();
        Some(arm_prompt(stdin.lock(), std::io::stderr(), mode, user_keys.as_ref())?)
    } else {
        None
    };

    let mut log = logging::init(&LogOptions::new(settings.log_dir(), settings.general.log_level.filter()))?;
    tracing::info!(mode = mode.as_str(), "hoga console starting");

    let tasks = TaskManager::new();
    // From here on SIGTERM / SIGHUP / SIGINT shut down in order (and restore the terminal).
    let signals = kernel::shutdown::Signals::register();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let to_bus = bus.clone();
    log.forward_to(move |rec| {
        // Drop-oldest lane: never blocks the logging thread.
        let _ = to_bus.try_publish("log", AppEvent::Log(rec.clone()));
    });

    // The screen first: the status bar (mode, DEMO) is up while the simulator and the
    // feed start behind it, and each pane fills in as its data arrives.
    let store = crate::store::Store::start(&tasks, StoreConfig::default());
    store.send(mode_event(&settings)).await?;
    // The second venue's store, made with the UI's so `:venue binance` can show it; the
    // core fills it (`venues`).
    let venue_store =
        settings.venues.binance_on(mode).then(|| crate::store::Store::start(&tasks, StoreConfig::default()));
    let (commands, cmd_rx) = crate::ui::sink::command_channel(crate::ui::app::COMMAND_CAPACITY);
    let (guard, terminal) =
        TerminalGuard::enter(settings.ui.mouse).context("cannot take over the terminal")?;
    let app = App::new(
        terminal,
        ui_config(&settings, cli),
        Keymap::load_user()?,
        ColorSupport::detect(),
        store.subscribe(),
        commands.clone(),
    );
    let app = match &venue_store {
        Some(v) => app.with_venue_snapshots(v.subscribe()),
        None => app,
    };
    let on_screen = app.on_screen_watch();
    app.spawn(&tasks, crate::ui::app::crossterm_input(&tasks));

    let opts = CoreOptions {
        user_keys,
        arm,
        new_journal: cli.new_journal,
        sim_url: cli.sim_url.clone(),
        journal: cli.journal.clone(),
        data_dir: crate::datadir::default_dir(),
        fresh: cli.fresh,
        on_screen: Some(on_screen),
        venue_store,
    };
    let core = match Core::start_with(&settings, opts, &tasks, bus, (store, commands, cmd_rx)).await {
        Ok(core) => core,
        Err(e) => {
            // Give the terminal back before the error is printed.
            let mut hooks = ShutdownHooks::default();
            hooks.on_restore(guard.restorer());
            kernel::shutdown::shutdown(&tasks, hooks, Deadlines::default(), format!("start failed: {e:#}"))
                .await;
            drop(guard);
            return Err(e);
        }
    };

    let trigger = signals.wait(&tasks).await;
    let mut hooks = ShutdownHooks::default();
    let sim = core.sim;
    hooks.on_close("simulator", async move {
        if let Some(sim) = &sim {
            // The account is saved after every change; this is the last word.
            if let Err(e) = sim.save_state() {
                tracing::warn!(error = %e, "cannot save the demo account at exit");
            }
            sim.stop();
        }
    });
    let log_guard = Arc::new(Mutex::new(log.take_guard()));
    hooks.on_flush(move || drop(log_guard.lock().map(|mut g| g.take())));
    hooks.on_restore(guard.restorer());
    let report = kernel::shutdown::shutdown(&tasks, hooks, Deadlines::default(), trigger.reason).await;
    drop(guard);
    // Not `eprintln!`: after a hang-up stderr is a dead terminal, and it would panic.
    kernel::terminal::report(&format!("hoga: stopped ({})", report.reason));
    Ok(std::process::ExitCode::from(trigger.status))
}

/// What the core needs besides the settings.
#[derive(Default)]
pub struct CoreOptions {
    /// Keys from the environment or the credentials file (paper and live).
    pub user_keys: Option<ApiKeys>,
    /// Live only: the result of the arm step.
    pub arm: Option<crate::trading::mode::LiveArm>,
    /// Live only: allow a new, empty journal.
    pub new_journal: bool,
    /// Demo only (`--sim`): an already-running simulator to trade on instead of the
    /// embedded one.
    pub sim_url: Option<String>,
    /// `--journal`: the journal file instead of the mode's default.
    pub journal: Option<PathBuf>,
    /// The data directory: the journals, and in demo mode the demo account, live there
    /// (see [`crate::datadir`]). None: paper and live use the default one, and a demo
    /// session is kept in memory only (tests).
    pub data_dir: Option<PathBuf>,
    /// `--fresh` (demo): move the kept demo session aside and start a new one.
    pub fresh: bool,
    /// The markets the UI's markets table shows ([`crate::ui::App::on_screen_watch`]):
    /// their day lines (sparkline, 24 h high and low) are read. None: none are.
    pub on_screen: Option<watch::Receiver<Vec<crate::exchange::types::MarketId>>>,
    /// The store of the second venue's market data (`[venues]`), made with the UI's so the
    /// screen can switch to it (`:venue binance`). None: the core makes its own when the
    /// venue is on.
    pub venue_store: Option<StoreHandle>,
}

/// Everything but the terminal: the exchange (or the simulator), the feed, the store,
/// trading and the command router, running under `tasks`. The UI attaches to it with
/// [`Core::store`] (snapshots) and [`Core::commands`] (what the keys ask for); tests
/// attach a headless UI the same way.
pub struct Core {
    /// The store the panes draw from.
    pub store: StoreHandle,
    /// The UI's commands, forwarded onto the bus (each to its lane).
    pub commands: CommandSink,
    /// The bus (tests and tools follow envelopes on it).
    pub bus: Bus<AppEvent>,
    /// The embedded simulator (demo mode).
    pub sim: Option<crate::sim::SimHandle>,
    /// The second venue's market-data store (Binance), when `[venues]` turns it on.
    pub venue_store: Option<StoreHandle>,
}

/// The store and the UI's command channel, made before the core so the screen can be up
/// while the core starts.
pub(crate) type UiLink = (StoreHandle, CommandSink, CommandSource);

impl Core {
    /// Starts the core under `tasks`, with `bus` as the event bus (its dispatcher is
    /// started here), and a store of its own.
    pub async fn start(
        settings: &Settings,
        opts: CoreOptions,
        tasks: &TaskManager,
        bus: Bus<AppEvent>,
    ) -> anyhow::Result<Core> {
        let store = crate::store::Store::start(tasks, StoreConfig::default());
        store.send(mode_event(settings)).await?;
        let (commands, cmd_rx) = crate::ui::sink::command_channel(crate::ui::app::COMMAND_CAPACITY);
        Core::start_with(settings, opts, tasks, bus, (store, commands, cmd_rx)).await
    }

    /// Starts the core on a store and command channel the UI already holds.
    pub async fn start_with(
        settings: &Settings,
        opts: CoreOptions,
        tasks: &TaskManager,
        bus: Bus<AppEvent>,
        (store, commands, cmd_rx): UiLink,
    ) -> anyhow::Result<Core> {
        let mode = settings.general.mode;
        let to_bus = bus.clone();
        tasks.set_event_sink(move |ev| {
            let _ = to_bus.try_publish("kernel", AppEvent::Safety(event::SafetyEvent::Task(ev)));
        });

        subscribe_log(&bus, &store);
        // The journal first: in demo mode it says whether this console keeps the session
        // (another console may hold it), which the simulator needs to know.
        let demo = DemoFiles::new(mode, &opts);
        if opts.fresh {
            anyhow::ensure!(
                mode == Mode::Demo,
                "--fresh applies to demo mode only (mode in use: {})",
                mode.as_str()
            );
            let said = demo.start_afresh()?;
            store.send(StoreEvent::Alert { time: chrono::Utc::now(), message: said }).await?;
        }
        let (journal, keeps_demo) = match demo.journal() {
            Some(path) => {
                let j = Journal::open(&path, &start_journal_options(mode, true)).with_context(|| {
                    format!("demo mode: cannot open the demo journal ({} moves the demo session aside and starts a new one)", "hoga --demo --fresh")
                })?;
                if j.is_read_only() {
                    // Another console runs the kept session: this one trades on, as demo
                    // always could, on an account and a journal of its own in memory.
                    let said = "another console holds the demo session: this one's account and journal are forgotten on exit";
                    tracing::warn!("{said}");
                    store.send(StoreEvent::Alert { time: chrono::Utc::now(), message: said.into() }).await?;
                    (Arc::new(Mutex::new(Journal::in_memory()?)), false)
                } else {
                    (Arc::new(Mutex::new(j)), true)
                }
            }
            None => (
                open_journal(mode, opts.new_journal, opts.journal.as_deref(), opts.data_dir.as_deref())?,
                false,
            ),
        };
        let state_file = demo.account().filter(|_| keeps_demo);
        let ep = endpoints(settings, tasks, opts.user_keys, opts.sim_url.as_deref(), state_file).await?;
        if let Some(sim) = &ep.sim
            && keeps_demo
        {
            // Orders and rules back from the last session are news for the status bar
            // (a stop still armed is what the trader must know), not only for the log.
            if let Some(news) = tell_demo_session(sim.state_at_start(), &journal, &demo) {
                store.send(StoreEvent::Alert { time: chrono::Utc::now(), message: news }).await?;
            }
        }

        // Market data: a public client (no keys needed) and the feed.
        let creds = ep.keys.as_ref().map(ApiKeys::to_credentials);
        let market_rest = Arc::new(RestClient::new(ep.rest.clone(), creds.clone())?);
        // Paper mode trades locally, but a key (when there is one) still brings the
        // exchange's notices, which come on the private stream only.
        let private_stream = creds.is_some();
        let mut feed_config = FeedConfig::new(market_rest.clone(), creds);
        if let Some(base) = &ep.ws_base {
            feed_config = feed_config.with_ws_base(base);
        }
        venues::timing(&mut feed_config, settings);
        // Upbit's indicator streams: any key will do (no permission), so paper mode uses
        // its keys too; without one the chart's indicators are computed locally only.
        let indicator_pump = crate::indicators::stream::PumpConfig {
            url: crate::indicators::stream::info_url(&feed_config.ws_private_url),
            credentials: ep.keys.as_ref().map(ApiKeys::to_credentials),
            ws: feed_config.ws.clone(),
        };
        let feed = FeedManager::start(feed_config, tasks);

        // Trading: venue, journal, order manager, monitor, notifier.
        let venue = build_venue(
            mode,
            VenueParams {
                rest: ep.rest.clone(),
                keys: ep.keys.clone(),
                paper: PaperConfig { fee_rate: settings.trading.fee_rate, ..PaperConfig::default() },
                arm: opts.arm,
            },
        )?;
        let manager_config =
            ManagerConfig { risk: risk_limits(&settings.trading), ..ManagerConfig::default() };
        let prices = manager_config.prices.clone();
        let (manager, order_events) =
            OrderManager::start_shared(tasks, manager_config, journal.clone(), venue.venue.clone())?;
        let notifier = spawn_notifier(
            tasks,
            NotifierConfig {
                modes: NotifyModes::from_settings(&settings.alerts),
                webhook: match &settings.alerts.webhook_url {
                    Some(url) => Some(WebhookConfig::new(url)?),
                    None => None,
                },
                ..NotifierConfig::default()
            },
            BellOnly,
        )?;
        let trading = TradingStateHandle::new();
        let trading_settings = Arc::new(Mutex::new(settings.trading.clone()));
        tasks.set_event_sink(safety::task_event_sink(bus.clone(), trading.clone()));
        let (monitor, monitor_actions) = Monitor::spawn(
            tasks,
            // The monitor reads the per-order cap and `protective_exit_over_cap` as `:set`
            // changes them (the same settings the change gate applies).
            MonitorConfig { exits: Some(trading_settings.clone()), ..MonitorConfig::default() },
            MonitorDeps { journal: Some(journal), notify: notifier.sender(), trading: trading.clone() },
        )?;
        let desk = wire_trading(
            tasks,
            &bus,
            TradingParts {
                manager: manager.clone(),
                events: order_events,
                monitor: monitor.clone(),
                actions: monitor_actions,
                notify: notifier.sender(),
                store: store.clone(),
                trading: trading.clone(),
            },
        );
        safety::spawn_watch(
            tasks,
            bus.clone(),
            venue.rest.clone().map(|r| r as Arc<dyn crate::exchange::rest::RestApi>),
            Some(feed.clone()),
            Duration::from_secs(1),
        );
        changes::start(
            &bus,
            store.clone(),
            changes::Appliers {
                in_flight: desk.in_flight.clone(),
                manager: manager.clone(),
                paper: venue.paper.clone(),
                trading: trading_settings,
            },
        );
        spawn_flash(tasks, notifier.flash(), store.clone());
        if let Some(rest) = &venue.rest
            && mode == Mode::Live
        {
            // Live: a key without a needed permission is reported (and trading HALTED)
            // now, not at the first order (docs/RELIABILITY.md case 39).
            let btc = crate::exchange::types::MarketId::new("KRW-BTC");
            safety::spawn_key_probe(tasks, bus.clone(), rest.clone(), btc);
        }
        // Pockets: which one the key trades, the others' balances, `:transfer`.
        pockets::start(tasks, &bus, venue.rest.clone().filter(|_| venue.paper.is_none()), store.clone());
        if let Some(rest) = &venue.rest {
            // Keys last a year and cannot be renewed: the days left are shown, and alerted.
            key_expiry::spawn(tasks, rest.clone(), store.clone(), notifier.sender(), mode == Mode::Live);
        }

        // Market panes and the account.
        let (upbit_route, selection_rx, chart_rx) = venues::Route::new(settings.ui.orderbook_levels as u16);
        let (paper_fills, paper_rx) = tokio::sync::mpsc::unbounded_channel();
        let to_manager = manager.clone();
        spawn_pump(tasks, "console", "paper-fills", paper_rx, move |order| {
            let manager = to_manager.clone();
            async move { Ok(manager.apply_venue_update(order).await?) }
        });
        let sinks =
            PriceSinks { board: prices, monitor: monitor.ticks(), paper: venue.paper.clone(), paper_fills };
        let notices = notices::NoticeSinks {
            store: store.clone(),
            notify: notifier.sender(),
            categories: settings.alerts.announcements.clone(),
            market_mode: settings.alerts.market_event,
            refresh: Arc::new(tokio::sync::Notify::new()),
        };
        let upbit = VenueId::Upbit;
        let market_api: Arc<dyn crate::exchange::rest::RestApi> = market_rest.clone();
        market::spawn_markets(
            tasks,
            upbit,
            &feed,
            market_api.clone(),
            store.clone(),
            Some(sinks.clone()),
            Some(notices.clone()),
        );
        notices::spawn_notices(tasks, &feed, private_stream, notices);
        market::spawn_orderbook(tasks, upbit, &feed, store.clone(), selection_rx.clone(), Some(sinks));
        market::spawn_grouped_orderbook(tasks, &feed, store.clone(), selection_rx.clone());
        market::spawn_trades(tasks, upbit, &feed, market_api.clone(), store.clone(), selection_rx.clone());
        // Indicator alerts watch their own series, whatever the chart shows.
        indicator_alerts::spawn(tasks, &feed, monitor.clone(), indicator_pump.clone());
        crate::indicators::stream::spawn(tasks, indicator_pump, store.clone(), selection_rx.clone());
        market::spawn_chart(tasks, upbit, &feed, store.clone(), selection_rx.clone(), chart_rx);

        // The second venue (Binance): market data only, in a store of its own; none of its
        // prices reach trading (no price sinks), and safety watches Upbit's feed alone.
        let second = venues::start_binance(
            settings,
            tasks,
            ep.binance_sim.as_ref(),
            opts.venue_store.clone(),
            opts.on_screen.clone(),
        )
        .await?;
        if let Some(on_screen) = opts.on_screen.clone() {
            // With a second venue on screen too, Upbit's reader asks for Upbit's markets only.
            let on_screen = match &second {
                Some(_) => venues::listed_only(tasks, upbit, store.clone(), on_screen),
                None => on_screen,
            };
            sparklines::spawn(tasks, &feed, store.clone(), on_screen, sparklines::SparkConfig::default());
        }
        let mut probes = vec![venues::Probe {
            venue: upbit,
            feed: feed.clone(),
            rest: std::iter::once(market_api.clone())
                .chain(venue.rest.clone().map(|r| r as Arc<dyn crate::exchange::rest::RestApi>))
                .collect(),
            weight: None,
            store: store.subscribe(),
        }];
        let mut off = Vec::new();
        match &second {
            Some(b) => probes.push(venues::Probe {
                venue: b.link.venue,
                feed: b.link.feed.clone(),
                rest: vec![b.link.rest.clone()],
                weight: Some(b.weight.clone()),
                store: b.link.store.subscribe(),
            }),
            None => off.push(VenueId::Binance),
        }
        venues::spawn_table(tasks, store.clone(), probes, off);
        // The premium engine reads both venues here (`second.link`: Binance's feed, REST
        // client and store; `store`: Upbit's).
        // The venue the screen shows: the command lane switches it, the premium line follows it.
        let shown = venues::Shown::default();
        if let Some(b) = &second {
            let links = premium::PremiumLinks {
                upbit: feed.clone(),
                upbit_rest: market_api.clone(),
                binance: b.link.feed.clone(),
                binance_rest: b.link.rest.clone(),
                store: store.clone(),
                monitor: monitor.clone(),
                selection: selection_rx.clone(),
                shown: shown.subscribe(),
                binance_selection: b.route.selection.subscribe(),
            };
            premium::spawn(tasks, links, settings);
        }
        trade::spawn_account(
            tasks,
            &feed,
            venue.rest.clone(),
            venue.paper.clone(),
            (manager.clone(), monitor.clone()),
            store.clone(),
        );
        market::spawn_system(tasks, &feed, store.clone(), bus.clone(), selection_rx);

        // The Command lane: the UI's requests that are neither trading, safety nor config.
        let binance_on = second.is_some();
        let venue_store = second.as_ref().map(|b| b.link.store.clone());
        let commands_handler = Commands {
            routes: venues::Routes { upbit: upbit_route, binance: second.map(|b| b.route), shown },
            store: store.clone(),
            tasks: tasks.clone(),
        };
        bus.subscribe(
            "console-commands",
            |env| matches!(env.payload, AppEvent::Ui(_)),
            move |env| {
                let handler = commands_handler.clone();
                async move {
                    if let AppEvent::Ui(cmd) = &env.payload {
                        handler.handle(cmd).await;
                    }
                    Ok(())
                }
            },
        );
        bus.spawn_dispatcher(tasks);
        spawn_command_forwarder(tasks, cmd_rx, bus.clone(), desk.in_flight.clone(), binance_on);
        Ok(Core { store, commands, bus, sim: ep.sim, venue_store })
    }
}

/// What the Trading and Safety lanes' handlers work with.
pub struct TradingParts {
    /// The order manager.
    pub manager: crate::trading::manager::OrderManagerHandle,
    /// The order manager's facts.
    pub events: tokio::sync::mpsc::Receiver<crate::trading::manager::OrderEvent>,
    /// The monitor.
    pub monitor: crate::trading::monitor::MonitorHandle,
    /// The monitor's exits.
    pub actions: tokio::sync::mpsc::Receiver<crate::trading::monitor::MonitorAction>,
    /// The notifier (fills).
    pub notify: crate::notify::NotifySender,
    /// The store.
    pub store: StoreHandle,
    /// The trading state the Safety lane drives.
    pub trading: TradingStateHandle,
}

/// The Trading and Safety lanes' handlers and the loops that feed them: the desk
/// (requests, replies, the manager's facts), the manager's facts and the monitor's exits
/// onto the Trading lane, the Monitor pane's rows and the trading state, and the safety
/// handler. The caller starts the bus's workers.
pub fn wire_trading(tasks: &TaskManager, bus: &Bus<AppEvent>, parts: TradingParts) -> trade::Desk {
    let TradingParts { manager, events, monitor, actions, notify, store, trading } = parts;
    let desk = trade::Desk::new(
        bus.clone(),
        manager.clone(),
        monitor.clone(),
        store.clone(),
        notify,
        trading.clone(),
    );
    desk.subscribe(bus);
    trade::spawn_order_events(tasks, events, bus.clone(), desk.chains.clone());
    trade::spawn_monitor_actions(tasks, actions, bus.clone(), desk.bridge.clone(), desk.in_flight.clone());
    trade::spawn_views(tasks, monitor, store.clone(), trading.clone(), manager);
    safety::subscribe(bus, store, trading);
    desk
}

/// The status bar's mode and exchange, known from the settings alone.
fn mode_event(settings: &Settings) -> StoreEvent {
    let (mode, exchange) = match settings.general.mode {
        Mode::Demo => (crate::store::Mode::Demo, "Upbit (simulator)"),
        Mode::Paper => {
            (crate::store::Mode::Paper, crate::exchange::upbit::region_name(settings.exchange.region))
        }
        Mode::Live => (crate::store::Mode::Live, "Upbit"),
    };
    StoreEvent::ModeSet { mode, exchange: exchange.into() }
}

/// Demo starts the simulator (or uses the one at `--sim`) and trades on its demo account;
/// paper and live talk to Upbit (paper without keys on the order path).
async fn endpoints(
    settings: &Settings,
    tasks: &TaskManager,
    user_keys: Option<ApiKeys>,
    sim_url: Option<&str>,
    state_file: Option<PathBuf>,
) -> anyhow::Result<Endpoints> {
    if let Some(url) = sim_url {
        anyhow::ensure!(
            settings.general.mode == Mode::Demo,
            "--sim applies to demo mode only (mode in use: {}); add --demo",
            settings.general.mode.as_str()
        );
        return external_sim(url);
    }
    match settings.general.mode {
        Mode::Demo => {
            let sim = crate::sim::start(
                crate::sim::SimConfig {
                    seed: settings.demo.seed,
                    markets: Some(settings.demo.markets as usize),
                    tick_interval: Duration::from_secs(1) / settings.demo.rate.max(1),
                    state_file,
                    // A listing, a warning, a caution and an updated notice in the first
                    // minutes, as a real session has now and then.
                    script: Some(crate::sim::Script::demo()),
                    ..crate::sim::SimConfig::default()
                },
                tasks,
            )
            .await
            .map_err(|e| match e {
                // The kept demo account cannot be read: the way out is in the error, as for
                // a demo journal that is not a journal.
                crate::sim::SimError::Account(why) => anyhow::anyhow!(
                    "demo mode: the demo account cannot be read: {why}; it is left as it is. `hoga --demo --fresh` moves the demo session (account and journal) aside, nothing deleted, and starts a new one"
                ),
                e => anyhow::Error::new(e).context("cannot start the demo simulator"),
            })?;
            let (access, secret) = &sim.credentials;
            let keys = ApiKeys::new(access.clone(), secret.expose_secret().to_string(), KeySource::Env);
            Ok(Endpoints {
                rest: RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() },
                ws_base: Some(sim.ws_public_url.trim_end_matches("/websocket/v1").to_string()),
                keys: Some(keys),
                binance_sim: Some((sim.rest_base.clone(), format!("ws://{}", sim.addr))),
                sim: Some(sim),
            })
        }
        Mode::Paper | Mode::Live => {
            let x = &settings.exchange;
            if x.rest_url.is_empty() && x.region != crate::config::Region::Kr {
                // A regional Upbit: the same protocol, other quote currencies. Market data
                // only: hoga's limits, P&L, paper account and tick table are KRW.
                let (rest, ws) = crate::exchange::upbit::hosts(x.region);
                let name = crate::exchange::upbit::region_name(x.region);
                anyhow::ensure!(
                    settings.general.mode == Mode::Paper,
                    "[exchange] region: {name} is for paper mode only (market data): hoga's order limits, P&L and tick table are in KRW, so live trading stays on Upbit Korea (region = \"kr\")"
                );
                tracing::warn!(
                    rest,
                    ws,
                    "paper mode on {name}: market data only; the paper account, limits and P&L are in KRW"
                );
                return Ok(Endpoints {
                    rest: RestConfig { base_url: rest.to_string(), ..RestConfig::default() },
                    ws_base: Some(ws.to_string()),
                    keys: None,
                    sim: None,
                    binance_sim: None,
                });
            }
            if x.rest_url.is_empty() {
                return Ok(Endpoints {
                    rest: RestConfig::default(),
                    ws_base: None,
                    keys: user_keys,
                    sim: None,
                    binance_sim: None,
                });
            }
            // Another server: market data only, and keys never leave for it.
            anyhow::ensure!(
                !x.ws_url.is_empty(),
                "[exchange] rest_url is set but ws_url is empty: set both, or neither for Upbit"
            );
            anyhow::ensure!(
                settings.general.mode == Mode::Paper,
                "[exchange] rest_url / ws_url apply to paper mode only: live trading always talks to Upbit"
            );
            tracing::info!(rest = %x.rest_url, ws = %x.ws_url, "paper mode on another Upbit-protocol server");
            Ok(Endpoints {
                rest: RestConfig { base_url: x.rest_url.clone(), ..RestConfig::default() },
                ws_base: Some(x.ws_url.clone()),
                keys: None,
                sim: None,
                binance_sim: None,
            })
        }
    }
}

/// Demo on an already-running `hoga sim` (`--sim URL`): REST at `URL/v1`, websockets at
/// `ws://…/websocket/v1`, and the simulator's fixed demo account. The URL must be plain
/// `http` on loopback (the simulator only listens there), so the demo keys can never be
/// sent anywhere else, Upbit included.
fn external_sim(url: &str) -> anyhow::Result<Endpoints> {
    let base = url.trim_end_matches('/');
    let hostport = base.strip_prefix("http://").with_context(|| {
        format!("--sim {url}: want the simulator's http:// URL, e.g. http://127.0.0.1:9000")
    })?;
    let host = match hostport.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    anyhow::ensure!(
        matches!(host, "127.0.0.1" | "localhost" | "[::1]") && !hostport.contains('/'),
        "--sim {url}: the simulator runs on loopback only; want http://127.0.0.1:PORT"
    );
    tracing::info!(sim = %base, "demo mode on an external simulator");
    let keys = ApiKeys::new(crate::sim::DEMO_ACCESS_KEY, crate::sim::DEMO_SECRET_KEY, KeySource::Env);
    Ok(Endpoints {
        rest: RestConfig { base_url: format!("{base}/v1"), ..RestConfig::default() },
        ws_base: Some(format!("ws://{hostport}")),
        keys: Some(keys),
        sim: None,
        binance_sim: Some((base.to_string(), format!("ws://{hostport}"))),
    })
}

/// The order journal (orders, fills, rules, alerts), shared by the order manager and the
/// monitor: the `--journal` file, else the mode's own file in the data directory
/// (`journal.sqlite` live, `journal-paper.sqlite` paper; a kept demo session passes its
/// `journal-demo.sqlite` as `path_flag`), whose lock stops a second console from trading
/// it. A demo session that is not kept (`--sim` without `--journal`, tests) has its
/// journal in memory.
fn open_journal(
    mode: Mode,
    allow_fresh_live: bool,
    path_flag: Option<&std::path::Path>,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<crate::trading::monitor::SharedJournal> {
    let journal = if let Some(path) = path_flag {
        Journal::open(path, &start_journal_options(mode, allow_fresh_live || mode != Mode::Live))
            .with_context(|| {
                format!("{} mode: cannot open the journal {} (--journal)", mode.as_str(), path.display())
            })?
    } else if mode == Mode::Demo {
        Journal::in_memory()?
    } else {
        let dir = match data_dir {
            Some(dir) => dir.to_path_buf(),
            None => crate::datadir::default_dir().context("no home directory for the order journal")?,
        };
        let path = journal_file(mode, &dir);
        // Journal::open creates a missing data directory 0700 and leaves an existing one
        // alone; its errors name the path, the mode and (only when the file is missing or
        // corrupt in live mode) the real --new-journal flag.
        Journal::open(&path, &start_journal_options(mode, allow_fresh_live || mode != Mode::Live))
            .with_context(|| format!("{} mode: cannot open the order journal", mode.as_str()))?
    };
    Ok(Arc::new(Mutex::new(journal)))
}

/// How long a starting console waits for a journal lock another instance holds: one
/// that is exiting (a restart right after a quit or a SIGHUP) lets go well within it.
/// Only then is the lock taken as held for good: paper and live refuse to trade, a second
/// demo console trades an account of its own.
pub const JOURNAL_LOCK_WAIT: Duration = Duration::from_secs(3);

/// The mode's journal options for opening its journal at start ([`JOURNAL_LOCK_WAIT`]).
fn start_journal_options(mode: Mode, allow_fresh: bool) -> crate::trading::journal::JournalOptions {
    crate::trading::journal::JournalOptions {
        lock_wait: JOURNAL_LOCK_WAIT,
        ..journal_options(mode, allow_fresh)
    }
}

/// The live journal's file name in the data directory.
const JOURNAL_LIVE: &str = "journal.sqlite";
/// The paper journal's file name in the data directory.
const JOURNAL_PAPER: &str = "journal-paper.sqlite";
/// The demo journal's file name in the data directory.
pub const JOURNAL_DEMO: &str = "journal-demo.sqlite";
/// The demo account's file name in the data directory.
pub const DEMO_ACCOUNT: &str = "demo-account.json";
/// Where `--fresh` moves a demo session it sets aside, under the data directory.
pub const DEMO_SESSIONS: &str = "demo-sessions";

/// A mode's own journal in the data directory `dir` (what `hoga journal` exports for the
/// mode): live's is the one `hoga journal` always exported; paper and demo keep their own
/// beside it so their orders never mix with real ones.
pub(crate) fn journal_file(mode: Mode, dir: &std::path::Path) -> PathBuf {
    dir.join(match mode {
        Mode::Live => JOURNAL_LIVE,
        Mode::Paper => JOURNAL_PAPER,
        Mode::Demo => JOURNAL_DEMO,
    })
}

/// The files of a kept demo session: the embedded simulator's demo account and the demo
/// journal, in the data directory. Kept when the console runs the embedded simulator
/// with its own journal (not `--sim`, not `--journal`) and has a data directory.
struct DemoFiles {
    dir: Option<PathBuf>,
}

impl DemoFiles {
    fn new(mode: Mode, opts: &CoreOptions) -> DemoFiles {
        let kept = mode == Mode::Demo && opts.sim_url.is_none() && opts.journal.is_none();
        DemoFiles { dir: opts.data_dir.clone().filter(|_| kept) }
    }

    fn journal(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| journal_file(Mode::Demo, d))
    }

    fn account(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(DEMO_ACCOUNT))
    }

    /// `--fresh`: moves the kept session (the account, the journal and SQLite's files
    /// beside it) into `demo-sessions/<UTC time>/` and says where. Refused while another
    /// console holds the session. Returns what to say on the status bar.
    fn start_afresh(&self) -> anyhow::Result<String> {
        let (Some(dir), Some(journal)) = (&self.dir, self.journal()) else {
            anyhow::bail!(
                "--fresh: this demo session is not kept (it runs on --sim or --journal), so there is nothing to start afresh"
            );
        };
        if journal.exists() {
            // Its lock says whether another console runs the session; a corrupt journal
            // is one more reason to start afresh, and is moved aside with the rest.
            match Journal::open(&journal, &start_journal_options(Mode::Demo, true)) {
                Ok(j) => anyhow::ensure!(
                    !j.is_read_only(),
                    "--fresh: another hoga console is running the demo session ({}); quit it first",
                    journal.display()
                ),
                Err(crate::trading::journal::JournalError::Corrupt { .. }) => {}
                Err(e) => return Err(e).context("--fresh: cannot open the demo journal"),
            }
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let to = dir.join(DEMO_SESSIONS).join(&stamp);
        let mut moved = Vec::new();
        for name in [DEMO_ACCOUNT, JOURNAL_DEMO, "journal-demo.sqlite-wal", "journal-demo.sqlite-shm"] {
            let from = dir.join(name);
            if from.symlink_metadata().is_err() {
                continue;
            }
            crate::datadir::create_dir(&to)
                .with_context(|| format!("--fresh: cannot create {}", to.display()))?;
            std::fs::rename(&from, to.join(name))
                .with_context(|| format!("--fresh: cannot move {} to {}", from.display(), to.display()))?;
            moved.push(name);
        }
        if moved.is_empty() {
            tracing::info!("--fresh: no demo session was kept yet; a new one starts");
            return Ok("new demo session (none was kept before)".into());
        }
        let at = crate::config::display_path(&to);
        tracing::info!(
            "--fresh: a new demo session starts; the previous one ({}) is kept in {at}",
            moved.join(", ")
        );
        Ok(format!("new demo session; the previous one is kept in {at}"))
    }
}

/// Says in the log what a kept demo session brought back at start: `demo session resumed
/// (2 open orders, 1 rule, 0 alerts)`, or that it is new. Returns what the status bar
/// should say too: a resumed session with orders, rules or alerts.
fn tell_demo_session(
    at_start: &crate::sim::StateAtStart,
    journal: &crate::trading::monitor::SharedJournal,
    demo: &DemoFiles,
) -> Option<String> {
    use crate::sim::StateAtStart;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let (rules, alerts) = match journal.lock() {
        Ok(j) => (j.load_rules().map_or(0, |r| r.len()), j.load_alerts().map_or(0, |a| a.len())),
        Err(_) => (0, 0),
    };
    let dir = demo.dir.as_deref().map(crate::config::display_path).unwrap_or_default();
    match at_start {
        StateAtStart::Resumed { open_orders } => {
            let what = format!(
                "demo session resumed ({}, {}, {})",
                count(*open_orders, "open order"),
                count(rules, "rule"),
                count(alerts, "alert"),
            );
            tracing::info!("{what} from {dir}; --fresh starts a new one");
            (open_orders + rules + alerts > 0).then_some(what)
        }
        StateAtStart::Fresh => {
            tracing::info!("new demo session, kept in {dir} across restarts; --fresh starts a new one");
            None
        }
        StateAtStart::NotKept => None,
    }
}

/// The risk gate's limits from `[trading]` (at start, and after a `:set`).
pub(crate) fn risk_limits(s: &crate::config::TradingSettings) -> RiskLimits {
    // Zero in the config means "no limit" for the optional limits.
    let positive = |d: rust_decimal::Decimal| (d > rust_decimal::Decimal::ZERO).then_some(d);
    RiskLimits {
        max_notional_per_order: positive(s.max_notional_per_order),
        max_orders_per_minute: s.max_orders_per_minute,
        max_open_orders: s.max_open_orders as usize,
        price_band: positive(s.price_band_pct / rust_decimal::Decimal::ONE_HUNDRED),
        daily_loss_limit: positive(s.daily_loss_limit),
    }
}

/// The UI settings, and where the UI keeps its state (see [`crate::ui::persist`]).
fn ui_config(s: &Settings, cli: &Cli) -> UiConfig {
    let data_dir = crate::datadir::default_dir();
    // Every `[ui]` key through one mapping: the console once built its own and left out
    // `market_names` (names were Korean whatever it said) and `orderbook_levels`.
    let from_file = UiConfig::from_settings(&s.ui, data_dir.as_ref().map(|d| d.join("favorites.txt")));
    UiConfig {
        state_dir: data_dir,
        theme_from_flag: cli.theme.is_some(),
        price_band_pct: (s.trading.price_band_pct > rust_decimal::Decimal::ZERO)
            .then_some(s.trading.price_band_pct),
        exits: crate::trading::rules::ExitPolicy::from_settings(&s.trading),
        ..from_file
    }
}

/// The UI's commands onto the bus, each to its lane. Trading, Safety and Config commands
/// travel on the UI's urgent channel, in the order typed, with a loop of their own, so a
/// kill switch never waits behind a flood of selections, and wait for room on their lane
/// rather than being dropped; the Command lane's loop drops what its full lane refuses.
///
/// While the screen shows a venue hoga does not trade on, a new order or rule is refused
/// here with a reply, whatever the UI let through (cancels and the kill switch pass).
fn spawn_command_forwarder(
    tasks: &TaskManager,
    source: CommandSource,
    bus: Bus<AppEvent>,
    in_flight: Arc<trade::InFlightBook>,
    binance_on: bool,
) {
    let CommandSource { urgent, other } = source;
    let to_bus = bus.clone();
    let shown = venues::Shown::default();
    let follows = shown.clone();
    spawn_pump(tasks, "console", "commands-urgent", urgent, move |cmd| {
        let bus = to_bus.clone();
        let refused = match &cmd {
            UiCommand::Trade(req) => venues::refusal(shown.get(), req),
            _ => None,
        };
        if refused.is_none()
            && let UiCommand::Trade(TradeRequest { intent: TradeIntent::Place { .. }, .. }) = &cmd
        {
            // Counted before it is on the lane: a config change forwarded next (the same
            // channel, in the order typed) finds this order in flight.
            in_flight.queued();
        }
        async move {
            match refused {
                Some(reply) => {
                    bus.publish("console", AppEvent::Reply(reply)).await?;
                    Ok(())
                }
                None => forward(&bus, cmd).await,
            }
        }
    });
    spawn_pump(tasks, "console", "commands", other, move |cmd| {
        venues::follow_shown(&follows, binance_on, &cmd);
        let bus = bus.clone();
        async move { forward(&bus, cmd).await }
    });
}

/// One UI command onto its lane. A Command-lane command refused by a full lane is said on
/// the Log pane (the UI already counted it as sent); every other lane waits for room.
async fn forward(bus: &Bus<AppEvent>, cmd: UiCommand) -> anyhow::Result<()> {
    match bus.publish("ui", AppEvent::from_ui(cmd)).await {
        Ok(_) => Ok(()),
        Err(e @ crate::bus::PublishError::Full { .. }) => {
            tracing::warn!(error = %e, "console command dropped");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The Command lane's handler: the UI's requests that are neither trading, safety nor
/// config.
#[derive(Clone)]
struct Commands {
    /// Each venue's selection and chart wants (the market commands go to the shown one's).
    routes: venues::Routes,
    store: StoreHandle,
    tasks: TaskManager,
}

impl Commands {
    async fn handle(&self, cmd: &UiCommand) {
        let route = self.routes.current();
        let (selection, chart) = (&route.selection, &route.chart);
        match cmd {
            UiCommand::SelectMarket(m) => {
                let m = m.clone();
                selection.send_if_modified(|s| {
                    let changed = s.market.as_ref() != Some(&m);
                    s.market = Some(m);
                    changed
                });
            }
            UiCommand::SetTimeframe(tf) => {
                let tf = *tf;
                selection.send_if_modified(|s| std::mem::replace(&mut s.timeframe, tf) != tf);
            }
            UiCommand::SetDepth(d) => {
                let d = *d;
                selection.send_if_modified(|s| std::mem::replace(&mut s.depth, d) != d);
            }
            UiCommand::SetBookGroup(g) => {
                let g = *g;
                selection.send_if_modified(|s| std::mem::replace(&mut s.group, g) != g);
            }
            UiCommand::ChartReach { market, timeframe, reach } => {
                let r = Some((market.clone(), *timeframe, *reach));
                chart.send_if_modified(|w| std::mem::replace(&mut w.reach, r.clone()) != r);
            }
            UiCommand::ChartCompare(list) => {
                chart.send_if_modified(|w| std::mem::replace(&mut w.compare, list.clone()) != *list);
            }
            UiCommand::AcknowledgeAlerts => {
                let _ = self.store.send(StoreEvent::AlertsAcknowledged).await;
            }
            UiCommand::Quit => self.tasks.request_shutdown("quit from the console"),
            UiCommand::SetVenue(v) => {
                if let Some(why) = self.routes.switch(*v) {
                    let _ = self
                        .store
                        .send(StoreEvent::Alert { time: chrono::Utc::now(), message: why.into() })
                        .await;
                }
            }
            // Other lanes' commands never reach this lane (`AppEvent::from_ui`); favorites
            // are the UI's own file.
            UiCommand::Trade(_)
            | UiCommand::Resume(_)
            | UiCommand::Config(_)
            | UiCommand::SaveFavorites(_) => {}
        }
    }
}

/// Log records from the Logging lane into the store (the Log pane).
fn subscribe_log(bus: &Bus<AppEvent>, store: &StoreHandle) {
    let store = store.clone();
    bus.subscribe(
        "store-log",
        |env| matches!(env.payload, AppEvent::Log(_)),
        move |env| {
            let store = store.clone();
            async move {
                if let AppEvent::Log(rec) = &env.payload {
                    store.try_send(StoreEvent::LogRecord {
                        level: crate::store::LogLevel::of(rec.level),
                        target: rec.target.clone(),
                        message: rec.message.clone(),
                        time: rec.time,
                    });
                }
                Ok(())
            }
        },
    );
}

/// The notifier's latest flash onto the status bar.
fn spawn_flash(
    tasks: &TaskManager,
    flash: watch::Receiver<Option<crate::notify::notifier::Flash>>,
    store: StoreHandle,
) {
    tasks.spawn_supervised("console", "flash", OnFailure::restart(), move |cancel| {
        let store = store.clone();
        let mut flash = flash.clone();
        async move {
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    changed = flash.changed() => if changed.is_err() { return Ok(()) },
                }
                let latest = flash.borrow_and_update().clone();
                // Notices and market flags are in `:alerts` already, one entry per notice
                // (an update replaces it): see `notices`.
                let recorded = |k| matches!(k, NotifyKind::Announcement | NotifyKind::MarketEvent);
                if let Some(f) = latest.filter(|f| !recorded(f.kind)) {
                    // On hoga's own screen the `[hoga]` tag says nothing and takes the
                    // status bar's few columns for the alert.
                    let message =
                        f.text.strip_prefix(crate::notify::TAG).map(str::to_string).unwrap_or(f.text);
                    store.send(StoreEvent::Alert { time: f.at, message }).await?;
                }
            }
        }
    });
}

/// The console's terminal for the notifier: the bell goes out (only while the console owns
/// the terminal); the title is the UI's, which shows alerts itself.
struct BellOnly;

impl crate::notify::notifier::Terminal for BellOnly {
    fn bell(&mut self) {
        if kernel::terminal::is_active() {
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07");
            let _ = out.flush();
        }
    }

    fn set_title(&mut self, _title: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[ui] market_names`, `heatmap` and `orderbook_levels` reach the UI: the names were
    /// Korean and the book 15 levels whatever the settings said.
    #[test]
    fn the_ui_settings_reach_the_markets_table() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from(["hoga"]).expect("no arguments parse");
        let settings = Settings {
            ui: toml::from_str("market_names = \"english\"\nheatmap = true\norderbook_levels = 30")
                .expect("a [ui] table"),
            ..Settings::default()
        };
        let ui = ui_config(&settings, &cli);
        assert_eq!(ui.names, crate::ui::state::NameLanguage::English);
        assert!(ui.heatmap);
        assert_eq!(ui.book_depth, 30, "[ui] orderbook_levels is the book's depth at start");
        assert_eq!(ui_config(&Settings::default(), &cli).book_depth, 15);
        assert_eq!(ui_config(&Settings::default(), &cli).names, crate::ui::state::NameLanguage::Korean);
    }

    /// A regional Upbit is market data for paper mode, from its own hosts; live stays on
    /// Upbit Korea, and no key is sent to a regional host.
    #[tokio::test]
    async fn a_regional_upbit_is_paper_market_data_only() {
        let tasks = TaskManager::new();
        let mut s = Settings::default();
        s.exchange.region = crate::config::Region::Sg;
        s.general.mode = Mode::Paper;
        let keys = || Some(ApiKeys::new("access", "secret", KeySource::Env));
        let ep = endpoints(&s, &tasks, keys(), None, None).await.unwrap();
        assert_eq!(ep.rest.base_url, "https://sg-api.upbit.com/v1");
        assert_eq!(ep.ws_base.as_deref(), Some("wss://sg-api.upbit.com"));
        assert!(ep.keys.is_none());
        assert!(
            matches!(mode_event(&s), StoreEvent::ModeSet { exchange, .. } if exchange == "Upbit Singapore")
        );
        s.general.mode = Mode::Live;
        let e = endpoints(&s, &tasks, keys(), None, None).await.err().unwrap().to_string();
        assert!(e.contains("paper mode only") && e.contains("Upbit Singapore"), "{e}");
    }

    #[test]
    fn sim_flag_takes_a_loopback_simulator_only() {
        let ep = external_sim("http://127.0.0.1:9000/").unwrap();
        assert_eq!(ep.rest.base_url, "http://127.0.0.1:9000/v1");
        assert_eq!(ep.ws_base.as_deref(), Some("ws://127.0.0.1:9000"));
        assert_eq!(ep.keys.as_ref().map(|k| k.masked_access_key()), Some("hoga…-key".to_string()));
        assert!(external_sim("http://localhost:9000").is_ok());
        assert!(external_sim("http://[::1]:9000").is_ok());
        // The demo keys never leave loopback: not for Upbit, not for anything else.
        for url in [
            "https://api.upbit.com",
            "http://api.upbit.com:9000",
            "http://127.0.0.1.example.com:9000",
            "http://127.0.0.1:9000/v1",
            "ws://127.0.0.1:9000",
            "127.0.0.1:9000",
        ] {
            let e = external_sim(url).err().unwrap_or_else(|| panic!("{url} accepted"));
            assert!(e.to_string().contains("--sim"), "{e}");
        }
    }
}
