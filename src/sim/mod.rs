//! Embedded Upbit-compatible exchange simulator: REST `/v1` and WebSocket
//! `/websocket/v1[/private]` on loopback, with Binance's public spot market data
//! (`/api/v3/…`, `/stream`, `/ws`) and a USD/KRW rate (`/fx/usd-krw`) on the same port
//! (module `binance`, docs/SIMULATOR.md "Binance"), driven by a seeded market generator
//! ([`market`]) and a paper matching engine ([`matching`]), with Upbit's JWT rules
//! ([`auth`]), rate limits ([`limits`]) and fault injection ([`faults`]). Demo mode, tests
//! and benchmarks point the real client at it.
//!
//! ```text
//! generator task ──step()──► World{Generator, Exchange} ──► public broadcast ──► ws conns
//! REST handlers ──lock──────┘        └─ myOrder/myAsset ──► private broadcast ─┘
//! ```
//!
//! Entry points: [`start`] (in-process, under the caller's `TaskManager`, returns a
//! [`SimHandle`] with the URLs, the demo credentials, [`FaultControl`] and the
//! [`RequestLog`]) and `hoga sim --port P --seed S` ([`run_cli`]).
//!
//! Clock: with `tick_interval > 0` one generated trade per interval, the virtual clock
//! following the wall clock; with `Duration::ZERO` nothing moves until
//! [`SimHandle::step`] / [`SimHandle::set_price`], and a fixed `start_ms` makes every
//! message (timestamps and order ids included) a pure function of the seed unless a state
//! file is kept: then order and trade ids carry a random session, so they never repeat one
//! of an earlier run, and the market resumes from the saved prices.
//!
//! Admin endpoints: `POST /admin/faults` with a [`FaultCommand`]
//! (`{"action":"drop_websockets"}`, `{"action":"rest_delay","ms":200}`,
//! `{"action":"rest_fault","fault":{"kind":"html"},"count":3}`, …) and
//! `POST /admin/price` with `{"market":"KRW-BTC","price":"150000000"}`; `GET
//! /admin/requests` reads the request counters (`{"POST /v1/orders":3,…}`). They move prices
//! and break things, so they are guarded even on loopback: a random token made at start
//! (printed by `hoga sim`, [`SimHandle::admin_token`] in process; fixed by
//! `HOGA_SIM_ADMIN_TOKEN` for a parent process that drives a child) must come as
//! `Authorization: Bearer TOKEN` or `X-Hoga-Admin-Token: TOKEN` (401 otherwise), and a
//! request with an `Origin` header (a browser, another site), a cross-site
//! `Sec-Fetch-Site` or a non-loopback `Host` is refused with 403.
//!
//! Hostile traffic: every route answers only its methods (405), a path + query over
//! 16 kB is refused (414), and the request log is a ring of 10,000 entries of at most
//! 1 kB each with at most 256 per-path counters (unknown paths count as `other`).

pub mod auth;
mod binance;
pub mod faults;
mod history;
pub(crate) mod indicators;
mod keys;
pub mod limits;
pub mod market;
pub mod matching;
pub mod persist;
pub mod pockets;
mod rest;
pub mod script;
mod server;
pub(crate) mod simple;
pub(crate) mod spell;
mod ws;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use secrecy::SecretString;

use crate::exchange::types::Side;
use crate::kernel::TaskManager;

pub use faults::FaultControl;
pub use persist::StateAtStart;
pub use script::Script;

pub use faults::{FaultCommand, FrameFault, RestFault};
pub use server::{
    COUNT_KEYS_MAX, LOG_DETAIL_MAX, LoggedRequest, OTHER_KEY, RequestKind, RequestLog, SimStats,
    SubscriptionInfo, TypeSubscription,
};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The port could not be bound.
    #[error("cannot bind 127.0.0.1:{0}: {1}")]
    Bind(u16, std::io::Error),
    /// The embedded market list is broken.
    #[error(transparent)]
    Markets(#[from] market::MarketError),
    /// The state file ([`SimConfig::state_file`]) exists but cannot be used: the message
    /// names it and says why. It is left as it is.
    #[error("{0}")]
    Account(String),
}

/// Access key of the seeded demo account.
pub const DEMO_ACCESS_KEY: &str = "hoga-sim-access-key";
/// Secret key of the seeded demo account.
pub const DEMO_SECRET_KEY: &str = "hoga-sim-secret-key";

/// Benchmark flood: a fixed mix of message types, at a rate or as fast as possible, for a
/// number of messages. Each message carries `"sim_ns"` (Unix nanoseconds at publish) next
/// to its ms `timestamp`, so a receiver can compute latency.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodConfig {
    /// Weight of ticker messages.
    pub ticker: u32,
    /// Weight of trade messages.
    pub trade: u32,
    /// Weight of orderbook messages.
    pub orderbook: u32,
    /// Messages per second; `None` = as fast as the receivers drain them.
    pub rate: Option<u32>,
    /// How many messages in total.
    pub count: u64,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig { ticker: 1, trade: 1, orderbook: 1, rate: None, count: 100_000 }
    }
}

/// Simulator settings.
#[derive(Clone)]
pub struct SimConfig {
    /// Random seed: same seed and start time → same market stream.
    pub seed: u64,
    /// TCP port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Keep only the first N KRW markets of the fixture (BTC/USDT markets always kept).
    pub markets: Option<usize>,
    /// One generated trade (with its ticker, book and candles) per interval, the virtual
    /// clock following the wall clock. `Duration::ZERO` = manual: only
    /// [`SimHandle::step`] advances the market (deterministic tests).
    pub tick_interval: Duration,
    /// Benchmark flood instead of the normal generator.
    pub flood: Option<FloodConfig>,
    /// Virtual clock start (Unix ms); `None` = wall clock at start.
    pub start_ms: Option<i64>,
    /// Virtual time per manual step (ms).
    pub step_ms: i64,
    /// Seconds of trade history generated before the start.
    pub history_secs: i64,
    /// Websocket idle timeout (Upbit: 120 s).
    pub idle_timeout: Duration,
    /// Enforce rate limits.
    pub rate_limits: bool,
    /// 429s in a row before a 418.
    pub strikes_to_block: u32,
    /// First 418 block length.
    pub block_time: Duration,
    /// Demo account access key.
    pub access_key: String,
    /// Demo account secret key.
    pub secret_key: String,
    /// Starting KRW.
    pub krw: Decimal,
    /// Starting coins: (currency, amount, average buy price in KRW).
    pub coins: Vec<(String, Decimal, Decimal)>,
    /// The admin token; `None` = `HOGA_SIM_ADMIN_TOKEN` when set, else random. At least
    /// 16 characters of `[A-Za-z0-9_-]` (a shorter one is replaced by a random one).
    pub admin_token: Option<String>,
    /// Where the demo account (balances, orders and the market's last prices) is kept
    /// across restarts: read at start (in place of `krw` and `coins`; a file that cannot be
    /// read is [`SimError::Account`]) and written after every change ([`persist`]). None:
    /// forgotten on exit.
    pub state_file: Option<std::path::PathBuf>,
    /// Spell the numbers of outgoing messages the many ways Upbit does (`1.16539E8`,
    /// `91200000.0`, `"2.00000000"`…, see [`spell`]), chosen from `seed`; the values never
    /// change. Off only where a test compares the simulator's bytes.
    pub spell_numbers: bool,
    /// Days from the start until the demo key expires (`GET /v1/api_keys`); 0 or less: it
    /// has expired, and every exchange call is refused with `expired_access_key`.
    pub key_days_left: i64,
    /// The demo account gave Upbit's one-time consent for BTC / USDT markets; `false`:
    /// orders there get `403 thirdparty_agreement_required`.
    pub thirdparty_agreed: bool,
    /// Scripted exchange news (a listing, a warning, a caution, an updated notice) on the
    /// virtual clock; `None` = none (the default: tests see a fixed market list).
    pub script: Option<Script>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            port: 0,
            markets: None,
            tick_interval: Duration::from_millis(50),
            flood: None,
            start_ms: None,
            step_ms: 100,
            history_secs: 3600,
            idle_timeout: Duration::from_secs(120),
            rate_limits: true,
            strikes_to_block: 10,
            block_time: Duration::from_secs(5),
            access_key: DEMO_ACCESS_KEY.to_string(),
            secret_key: DEMO_SECRET_KEY.to_string(),
            krw: dec!(10000000),
            coins: vec![
                ("BTC".to_string(), dec!(0.05), dec!(140000000)),
                ("ETH".to_string(), dec!(1.2), dec!(5000000)),
                ("XRP".to_string(), dec!(1500), dec!(3000)),
            ],
            admin_token: None,
            state_file: None,
            spell_numbers: true,
            key_days_left: 300,
            thirdparty_agreed: true,
            script: None,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Everything but the secret key.
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("port", &self.port)
            .field("markets", &self.markets)
            .field("tick_interval", &self.tick_interval)
            .field("flood", &self.flood)
            .field("start_ms", &self.start_ms)
            .field("rate_limits", &self.rate_limits)
            .field("spell_numbers", &self.spell_numbers)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// A running simulator. Dropping it does not stop it; call [`SimHandle::stop`] or cancel
/// the task manager. Clones share the same simulator.
#[derive(Clone)]
pub struct SimHandle {
    /// The bound address (127.0.0.1:P).
    pub addr: SocketAddr,
    /// `http://127.0.0.1:P` (REST paths start with `/v1`).
    pub rest_base: String,
    /// `ws://127.0.0.1:P/websocket/v1`.
    pub ws_public_url: String,
    /// `ws://127.0.0.1:P/websocket/v1/private`.
    pub ws_private_url: String,
    /// The demo account's (access key, secret key).
    pub credentials: (String, SecretString),
    /// Fault switches (also reachable over `POST /admin/faults`).
    pub faults: FaultControl,
    /// Every REST request and websocket message received.
    pub requests: RequestLog,
    shared: Arc<server::Shared>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .field("access_key", &self.credentials.0)
            .finish()
    }
}

impl SimHandle {
    /// Current subscriptions per websocket connection id.
    pub fn subscriptions(&self) -> BTreeMap<u64, SubscriptionInfo> {
        self.shared.subscriptions()
    }

    /// Scripted price for tests: a trade at `price` (snapped to the tick grid) on
    /// `market` is generated and published now; later generated trades walk on from it and
    /// resting orders it crosses fill.
    pub fn set_price(&self, market: &str, price: Decimal) {
        self.script_trade(market, price, dec!(0.001), Side::Bid);
    }

    /// Forces a trade with the given size and taker side and publishes it; resting orders
    /// it crosses fill.
    pub fn script_trade(&self, market: &str, price: Decimal, volume: Decimal, side: Side) {
        self.shared.scripted(market, price, volume, side);
    }

    /// Advances the generator `n` steps (`step_ms` virtual ms each) and publishes.
    pub fn step(&self, n: usize) {
        for _ in 0..n {
            self.shared.step_world(self.shared.cfg.step_ms);
        }
    }

    /// Virtual clock (Unix ms).
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// Counters (published, lagged, flood progress).
    pub fn stats(&self) -> SimStats {
        self.shared.stats()
    }

    /// What the state file held at start ([`SimConfig::state_file`]).
    pub fn state_at_start(&self) -> &StateAtStart {
        &self.shared.state_at_start
    }

    /// Writes the account to the state file now (it is written after every change
    /// anyway; this is for a last word at shutdown). Without a state file, nothing.
    pub fn save_state(&self) -> std::io::Result<()> {
        self.shared.save_state()
    }

    /// The token `/admin/*` wants (`Authorization: Bearer TOKEN`).
    pub fn admin_token(&self) -> &str {
        self.shared.admin.expose()
    }

    /// Stops the server and its tasks.
    pub fn stop(&self) {
        self.shared.cancel.cancel();
    }
}

/// Starts the simulator on 127.0.0.1 under `tasks`.
pub async fn start(config: SimConfig, tasks: &TaskManager) -> Result<SimHandle, SimError> {
    let (shared, addr) = server::start(config, tasks).await?;
    Ok(SimHandle {
        addr,
        rest_base: format!("http://{addr}"),
        ws_public_url: format!("ws://{addr}/websocket/v1"),
        ws_private_url: format!("ws://{addr}/websocket/v1/private"),
        credentials: (shared.cfg.access_key.clone(), SecretString::from(shared.cfg.secret_key.clone())),
        faults: shared.faults.clone(),
        requests: shared.log.clone(),
        shared,
    })
}

/// `hoga sim` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep only the first N KRW markets.
    #[arg(long)]
    pub markets: Option<usize>,
    /// Milliseconds between generated trades (0 = frozen market).
    #[arg(long, default_value_t = 50)]
    pub(crate) tick_ms: u64,
    /// Benchmark flood: publish this many messages (stamped with `sim_ns`) once a
    /// websocket client has subscribed, instead of the normal generator.
    #[arg(long, value_name = "COUNT")]
    pub flood: Option<u64>,
    /// Flood rate in messages per second (0 = as fast as the clients drain).
    #[arg(long, default_value_t = 0, value_name = "PER_SEC")]
    pub flood_rate: u32,
    /// Flood mix as ticker:trade:orderbook weights.
    #[arg(long, default_value = "1:1:1", value_name = "T:TR:OB")]
    pub(crate) flood_mix: String,
    /// Turn Upbit's rate limits off (benchmarks).
    #[arg(long)]
    pub(crate) no_rate_limits: bool,
    /// Write every number in serde's plain spelling (by default numbers are spelled the
    /// many ways Upbit writes them: `1.16539E8`, `91200000.0`, `"2.00000000"`).
    #[arg(long)]
    pub(crate) plain_numbers: bool,
    /// Serve nothing: run the market generator for this many virtual hours (a trade per
    /// --tick-ms, as the server does) and print how KRW-BTC moved against its
    /// calibration (docs/SIMULATOR.md).
    #[arg(long, value_name = "HOURS")]
    pub(crate) calibration: Option<f64>,
}

/// Parses `ticker:trade:orderbook` weights (`1:1:1`).
fn parse_mix(s: &str) -> anyhow::Result<(u32, u32, u32)> {
    let parts: Vec<u32> = s
        .split(':')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("bad --flood-mix {s:?}: {e}"))?;
    match parts.as_slice() {
        [t, tr, ob] if t + tr + ob > 0 => Ok((*t, *tr, *ob)),
        _ => anyhow::bail!("bad --flood-mix {s:?}: want three weights like 1:1:1, not all zero"),
    }
}

/// Runs the simulator standalone until Ctrl-C (or another shutdown trigger).
pub(crate) async fn run_cli(args: SimArgs) -> anyhow::Result<()> {
    if let Some(hours) = args.calibration {
        return calibration_cli(&args, hours);
    }
    let tasks = TaskManager::new();
    let config = SimConfig {
        port: args.port,
        seed: args.seed,
        markets: args.markets,
        tick_interval: Duration::from_millis(args.tick_ms),
        rate_limits: !args.no_rate_limits,
        spell_numbers: !args.plain_numbers,
        script: args.flood.is_none().then(Script::demo),
        flood: match args.flood {
            Some(count) => {
                let (ticker, trade, orderbook) = parse_mix(&args.flood_mix)?;
                let rate = (args.flood_rate > 0).then_some(args.flood_rate);
                Some(FloodConfig { ticker, trade, orderbook, rate, count })
            }
            None => None,
        },
        ..SimConfig::default()
    };
    let sim = start(config, &tasks).await?;
    // The secret key is never printed: it is the built-in demo secret (see the docs).
    let mut banner = format!("hoga sim (seed {}) listening on {}\n", args.seed, sim.addr);
    banner += &format!("  REST        {}/v1\n", sim.rest_base);
    banner += &format!("  WebSocket   {}\n", sim.ws_public_url);
    banner += &format!("  private WS  {}\n", sim.ws_private_url);
    banner += &format!("  Binance     {0}/api/v3  ws://{1}/stream  ws://{1}/ws\n", sim.rest_base, sim.addr);
    banner += &format!("  USD/KRW     GET {}/fx/usd-krw\n", sim.rest_base);
    banner +=
        &format!("  faults      POST {}/admin/faults  (header Authorization: Bearer TOKEN)\n", sim.rest_base);
    banner += &format!("  requests    GET {}/admin/requests  (same header)\n", sim.rest_base);
    banner += &format!("  admin token {}\n", sim.admin_token());
    banner += &format!("  access key  {}\n", sim.credentials.0);
    if let Some(script) = &sim.shared.cfg.script {
        banner += &format!("  news        {script} (announcement, private websocket)\n");
    }
    if let Some(f) = &sim.shared.cfg.flood {
        banner += &format!(
            "  flood       {} messages once a client subscribes (field sim_ns = publish time)\n",
            f.count
        );
    }
    // Not `println!`, which panics when stdout is gone: a reader that went away
    // (`hoga sim | head -1`) ends the command quietly with success, as Unix tools do.
    let written = {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(banner.as_bytes()).and_then(|()| out.flush())
    };
    if let Err(e) = written {
        sim.stop();
        tasks.cancel_all();
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        anyhow::bail!("cannot write to stdout: {e}");
    }
    let reason = crate::kernel::shutdown::wait_for_trigger(&tasks).await;
    sim.stop();
    tasks.cancel_all();
    eprintln!("hoga sim: stopped ({reason})");
    Ok(())
}

/// `hoga sim --calibration HOURS`: the generator's figures for KRW-BTC over that much
/// virtual time, computed without serving (a virtual hour takes well under a second).
fn calibration_cli(args: &SimArgs, hours: f64) -> anyhow::Result<()> {
    if !(hours.is_finite() && hours > 0.0 && hours <= 24.0 * 31.0) {
        anyhow::bail!("--calibration wants a number of hours above 0 and at most 744, not {hours}");
    }
    let defs = market::load_markets(args.markets)?;
    let start = chrono::Utc::now().timestamp_millis();
    let step = i64::try_from(args.tick_ms.max(1)).unwrap_or(50);
    let report = market::calibration_run(defs, args.seed, start, "KRW-BTC", (hours * 3600.0) as i64, step)
        .ok_or_else(|| anyhow::anyhow!("KRW-BTC is not among the simulated markets"))?;
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(report.render().as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => anyhow::bail!("cannot write to stdout: {e}"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{MarketId, OrderState, Timeframe};
    use crate::exchange::upbit::auth::Credentials;
    use crate::exchange::upbit::rest::{OrderRef, RestClient, RestConfig};
    use crate::exchange::upbit::wire::NewOrderBody;
    use secrecy::ExposeSecret;

    #[test]
    fn flood_mix_parses() {
        assert_eq!(parse_mix("1:2:3").unwrap(), (1, 2, 3));
        assert!(parse_mix("0:0:0").is_err());
        assert!(parse_mix("1:2").is_err());
        assert!(parse_mix("a:b:c").is_err());
    }

    /// hoga's own REST client parses every reply of the simulator (the wire structs are
    /// shared, so this catches shape drift on either side).
    #[tokio::test]
    async fn on_the_wall_clock_timestamps_are_current_after_building_history() {
        let tasks = TaskManager::new();
        // An hour of history takes a while to build (longer in a debug build): the clock
        // must make that time up at its first step instead of staying behind for good.
        let cfg = SimConfig {
            markets: None,
            tick_interval: Duration::from_millis(10),
            history_secs: 3600,
            ..SimConfig::default()
        };
        let sim = start(cfg, &tasks).await.unwrap();
        let first = sim.now_ms();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sim.now_ms() == first {
            assert!(std::time::Instant::now() < deadline, "the generator never stepped");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let behind = chrono::Utc::now().timestamp_millis() - sim.now_ms();
        // One tick (10 ms) plus scheduling; before the fix it was the whole build time
        // (~290 ms for every market in a debug build here).
        assert!(behind < 150, "virtual clock {behind} ms behind the wall clock");
        tasks.cancel_all();
    }

    /// A demo account kept in `path`, on a frozen market (only scripted trades and
    /// `step` move it) at a fixed time: the same market every start, unless resumed.
    fn kept(path: &std::path::Path) -> SimConfig {
        SimConfig {
            markets: Some(5),
            tick_interval: Duration::ZERO,
            start_ms: Some(1_750_000_000_000),
            history_secs: 600,
            state_file: Some(path.to_path_buf()),
            ..SimConfig::default()
        }
    }

    fn client_of(sim: &SimHandle) -> RestClient {
        let creds =
            Credentials::new(sim.credentials.0.clone(), sim.credentials.1.expose_secret().to_string());
        let rc = RestConfig {
            base_url: format!("{}/v1", sim.rest_base),
            read_attempts: 1,
            ..RestConfig::default()
        };
        RestClient::new(rc, Some(creds)).unwrap()
    }

    /// Every id a client keeps of a market buy of 100,000 KRW: the order's uuid and its
    /// trades'.
    async fn market_buy_ids(sim: &SimHandle, identifier: &str) -> Vec<String> {
        let client = client_of(sim);
        let body = NewOrderBody {
            market: "KRW-BTC".into(),
            side: "bid".into(),
            price: Some("100000".into()),
            ord_type: "price".into(),
            identifier: Some(identifier.into()),
            ..NewOrderBody::default()
        };
        let o = client.create_order(&body).await.unwrap();
        let o = client.get_order(&OrderRef::Uuid(o.uuid)).await.unwrap();
        assert!(!o.trades.is_empty(), "{o:?}");
        std::iter::once(o.uuid.clone()).chain(o.trades.iter().map(|t| t.trade_uuid.clone())).collect()
    }

    fn price_of(sim: &SimHandle, market: &str) -> Decimal {
        server::lock(&sim.shared.world).gen_.market(market).unwrap().price
    }

    /// The journal keys fills on the trade uuid: a demo account whose file was lost must
    /// never hand out an id of the last session again (its fills would be dropped as
    /// duplicates). Before, ids were the seed plus a counter that the lost file held.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ids_never_repeat_across_a_lost_account_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let tasks = TaskManager::new();
        let sim = start(kept(&path), &tasks).await.unwrap();
        let first = market_buy_ids(&sim, "one").await;
        sim.stop();
        tasks.cancel_all();
        std::fs::remove_file(&path).unwrap();

        let tasks = TaskManager::new();
        let sim = start(kept(&path), &tasks).await.unwrap();
        assert_eq!(sim.state_at_start(), &StateAtStart::Fresh);
        let second = market_buy_ids(&sim, "two").await;
        for id in &second {
            assert!(!first.contains(id), "{id} handed out again: {first:?} / {second:?}");
        }
        sim.stop();
        tasks.cancel_all();
    }

    /// A state file that cannot be read stops the start, names the file and is left as
    /// it is (before, the account silently started afresh).
    #[tokio::test]
    async fn an_unreadable_account_file_stops_the_start_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let garbage = br#"{"version":1,"holdings":{"KRW":{"balance":"-1e30""#;
        std::fs::write(&path, garbage).unwrap();
        let tasks = TaskManager::new();
        match start(kept(&path), &tasks).await {
            Err(SimError::Account(why)) => {
                assert!(why.contains(&path.display().to_string()), "{why}");
            }
            other => panic!("{:?}", other.map(|s| s.state_at_start().clone())),
        }
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
        tasks.cancel_all();
    }

    /// The market resumes where it was: the first prices after a restart are the saved
    /// ones, not the seed's, and a buy resting 3 % under a market far from the seed's
    /// price is still resting after the restart and a while of trading. Before, prices
    /// jumped back to the seed's and the buy filled at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_market_resumes_from_its_saved_prices_and_a_resting_order_stays_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let tasks = TaskManager::new();
        let sim = start(kept(&path), &tasks).await.unwrap();
        let seed_price = price_of(&sim, "KRW-BTC");
        sim.set_price("KRW-BTC", seed_price * dec!(1.3));
        sim.step(20);
        let last = price_of(&sim, "KRW-BTC");
        let bid = ((last * dec!(0.97)) / dec!(1000)).floor() * dec!(1000);
        assert!(bid > seed_price * dec!(1.1), "{bid} {seed_price}");
        let client = client_of(&sim);
        let body = NewOrderBody {
            market: "KRW-BTC".into(),
            side: "bid".into(),
            volume: Some("0.001".into()),
            price: Some(bid.to_string()),
            ord_type: "limit".into(),
            identifier: Some("resting".into()),
            ..NewOrderBody::default()
        };
        let o = client.create_order(&body).await.unwrap();
        assert_eq!(o.state, OrderState::Wait);
        // What the state file holds is what the market was when the account last changed.
        let saved: BTreeMap<String, Decimal> = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]
            .into_iter()
            .map(|m| (m.to_string(), price_of(&sim, m)))
            .collect();
        sim.stop();
        tasks.cancel_all();

        let tasks = TaskManager::new();
        let sim = start(kept(&path), &tasks).await.unwrap();
        assert_eq!(sim.state_at_start(), &StateAtStart::Resumed { open_orders: 1 });
        for (m, p) in &saved {
            assert_eq!(price_of(&sim, m), *p, "{m}");
        }
        let client = client_of(&sim);
        let book = client.orderbook(&[MarketId::new("KRW-BTC")], 15).await.unwrap();
        let best_ask = book[0].levels[0].ask_price;
        assert!(best_ask > bid, "the book is around the saved price: ask {best_ask}, bid {bid}");
        sim.step(50);
        let o = client.get_order(&OrderRef::Identifier("resting".into())).await.unwrap();
        assert_eq!(o.state, OrderState::Wait, "{o:?}");
        assert!((price_of(&sim, "KRW-BTC") - last).abs() < last * dec!(0.05));
        sim.stop();
        tasks.cancel_all();
    }

    /// 호가 모아보기 end to end: hoga's feed asks the simulator for KRW-BTC grouped by
    /// 10,000 beside the plain book (two `orderbook` objects in one request) and gets
    /// both, each to its own subscriber: the grouped one on the 10,000 grid with its
    /// level, the plain one on the 1,000 tick.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_feed_gets_the_grouped_book_it_asks_for() {
        use crate::feed::{FeedConfig, FeedManager, Strategy};
        let tasks = TaskManager::new();
        let cfg = SimConfig {
            markets: Some(5),
            tick_interval: Duration::from_millis(20),
            history_secs: 60,
            ..SimConfig::default()
        };
        let sim = start(cfg, &tasks).await.unwrap();
        let mut feed_cfg = FeedConfig::new(std::sync::Arc::new(client_of(&sim)), None);
        feed_cfg.ws_public_url = sim.ws_public_url.clone();
        let feed = FeedManager::start(feed_cfg, &tasks);
        let p = feed.proxy("book");
        let btc = MarketId::new("KRW-BTC");
        let mut plain = p.subscribe_orderbook(std::slice::from_ref(&btc), Strategy::Lossless);
        let mut grouped =
            p.subscribe_grouped_orderbook(std::slice::from_ref(&btc), dec!(10000), Strategy::Lossless);
        let wait = Duration::from_secs(20);
        for _ in 0..3 {
            let g =
                tokio::time::timeout(wait, grouped.recv()).await.expect("a grouped book in time").unwrap();
            assert_eq!(g.level, dec!(10000));
            assert!(g.levels.len() > 1, "{g:?}");
            for l in g.levels.iter().filter(|l| !l.bid_price.is_zero() && !l.ask_price.is_zero()) {
                assert!(
                    (l.ask_price % dec!(10000)).is_zero() && (l.bid_price % dec!(10000)).is_zero(),
                    "{l:?}"
                );
            }
            let b = tokio::time::timeout(wait, plain.recv()).await.expect("a plain book in time").unwrap();
            assert!(b.level.is_zero(), "the plain subscriber gets no grouped book: {b:?}");
            assert_eq!(b.levels.len(), 30);
        }
        let sent: Vec<String> =
            sim.requests.entries().into_iter().filter(|r| r.method == "WS").map(|r| r.detail).collect();
        assert!(sent.iter().any(|t| t.contains(r#""level":10000"#)), "{sent:?}");
        // By REST too (`level` in the query); a level the market does not group by is an
        // empty list, as Upbit answers it.
        let client = client_of(&sim);
        let g = client.orderbook_grouped(std::slice::from_ref(&btc), 15, dec!(100000)).await.unwrap();
        assert_eq!(g[0].level, dec!(100000));
        assert!(g[0].levels.iter().all(|l| (l.bid_price % dec!(100000)).is_zero()), "{g:?}");
        assert!(client.orderbook_grouped(std::slice::from_ref(&btc), 15, dec!(7)).await.unwrap().is_empty());
        sim.stop();
        tasks.cancel_all();
    }

    #[tokio::test]
    async fn hoga_rest_client_round_trips_against_the_sim() {
        let tasks = TaskManager::new();
        let cfg = SimConfig {
            markets: Some(5),
            tick_interval: Duration::ZERO,
            history_secs: 600,
            ..SimConfig::default()
        };
        let sim = start(cfg, &tasks).await.unwrap();
        let client = client_of(&sim);
        let btc = MarketId::new("KRW-BTC");

        assert!(client.market_all().await.unwrap().len() >= 5);
        let t = client.tickers(std::slice::from_ref(&btc)).await.unwrap();
        let last = t[0].trade_price;
        assert_eq!(client.orderbook(std::slice::from_ref(&btc), 15).await.unwrap()[0].levels.len(), 15);
        assert_eq!(client.instruments(std::slice::from_ref(&btc)).await.unwrap()[0].tick_size, dec!(1000));
        assert_eq!(client.trades(&btc, 5).await.unwrap().len(), 5);
        assert!(!client.candles(&btc, Timeframe::M1, 3, None).await.unwrap().is_empty());
        assert!(!client.candles(&btc, Timeframe::D1, 3, None).await.unwrap().is_empty());
        assert!(
            client
                .accounts()
                .await
                .unwrap()
                .iter()
                .any(|b| b.currency == "KRW" && b.balance == dec!(10000000))
        );
        client.chance(&btc).await.unwrap();

        let price = ((last / dec!(1000)).floor() * dec!(1000) - dec!(1000000)).to_string();
        let body = NewOrderBody {
            market: "KRW-BTC".into(),
            side: "bid".into(),
            volume: Some("0.001".into()),
            price: Some(price),
            ord_type: "limit".into(),
            identifier: Some("compat-1".into()),
            ..NewOrderBody::default()
        };
        client.orders_test(&body).await.unwrap();
        let o = client.create_order(&body).await.unwrap();
        assert_eq!(o.state, OrderState::Wait);
        let by_id = client.get_order(&OrderRef::Identifier("compat-1".into())).await.unwrap();
        assert_eq!(by_id.uuid, o.uuid);
        assert_eq!(client.open_orders(Some(&btc), &[OrderState::Wait], 1, 100).await.unwrap().len(), 1);
        let c = client.cancel_order(&OrderRef::Uuid(o.uuid.clone())).await.unwrap();
        assert_eq!(c.state, OrderState::Wait);
        assert_eq!(client.closed_orders(Some(&btc), None, None, 100).await.unwrap().len(), 1);
        assert_eq!(sim.requests.count("POST", "/v1/orders"), 1);
        sim.stop();
    }
}
