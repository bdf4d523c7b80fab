//! The settings types: one struct per section of `config/default.toml`.
//!
//! Every struct denies unknown keys and takes its missing keys from `Default`, which
//! matches the embedded `config/default.toml` (a test keeps the two equal). Range checks
//! live in [`Settings::validate`]; the user-facing text of each rule is in
//! [`expectation`], shared by type errors and range errors so both read the same.

use std::path::PathBuf;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Deserialize;
use tracing::level_filters::LevelFilter;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[general]`
    pub general: GeneralSettings,
    /// `[ui]`
    pub ui: UiSettings,
    /// `[demo]`
    pub demo: DemoSettings,
    /// `[feed]`
    pub feed: FeedSettings,
    /// `[trading]`
    pub trading: TradingSettings,
    /// `[alerts]`
    pub alerts: AlertSettings,
    /// `[bus]`
    pub bus: BusSettings,
    /// `[exchange]`
    pub exchange: ExchangeSettings,
    /// `[venues]`
    pub venues: VenueSettings,
    /// `[premium]`
    pub premium: PremiumSettings,
}

/// `[venues]` — other venues shown beside Upbit, market data only (read-only views and
/// the kimchi premium).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VenueSettings {
    /// Binance spot market data. Unset: on in demo (the simulator serves it), off in paper
    /// and live (it is a second outside connection) until set to true.
    pub binance: Option<bool>,
    /// Binance REST base (empty: `https://api.binance.com`; demo: the simulator).
    pub binance_rest_url: String,
    /// Binance websocket base (empty: `wss://stream.binance.com:9443`; demo: the simulator).
    pub binance_ws_url: String,
}

impl VenueSettings {
    /// Whether Binance is on in `mode`.
    pub fn binance_on(&self, mode: Mode) -> bool {
        self.binance.unwrap_or(mode == Mode::Demo)
    }
}

/// `[premium]` — the USD/KRW reference rate of the kimchi premium. The premium against
/// Upbit's own `KRW-USDT` price needs nothing; this adds the premium against a reference
/// rate (and the USDT premium itself). Off by default: a URL is an outside service. In
/// demo, with neither set, the simulator's rate is used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PremiumSettings {
    /// A fixed rate, KRW per USD (e.g. 1450.5). Wins over the URL.
    pub usd_krw: Option<Decimal>,
    /// A URL answering with the rate: a JSON document, or a bare number.
    pub usd_krw_url: String,
    /// Dotted path to the rate in that JSON (`rates.KRW`); empty: the body is the number.
    pub usd_krw_field: String,
    /// How often the URL is read, in seconds (30..=86400).
    pub refresh_secs: u64,
}

impl Default for PremiumSettings {
    fn default() -> Self {
        PremiumSettings {
            usd_krw: None,
            usd_krw_url: String::new(),
            usd_krw_field: String::new(),
            refresh_secs: 300,
        }
    }
}

/// `[exchange]` — where paper mode reads market data (empty = Upbit). Live always talks
/// to Upbit: keys are never sent anywhere else.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeSettings {
    /// REST base URL ending in `/v1` (e.g. a `hoga sim`: `http://127.0.0.1:7700/v1`).
    pub rest_url: String,
    /// Websocket base URL (`ws://127.0.0.1:7700`; `/websocket/v1` is appended).
    pub ws_url: String,
    /// Which Upbit: Korea (the default) or a regional exchange (paper mode only).
    pub region: Region,
}

/// Upbit's exchanges: the same protocol on other hosts, with other quote currencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// Upbit Korea (`api.upbit.com`, KRW markets).
    #[default]
    Kr,
    /// Upbit Singapore (`sg-api.upbit.com`, SGD markets).
    Sg,
    /// Upbit Indonesia (`id-api.upbit.com`, IDR markets).
    Id,
    /// Upbit Thailand (`th-api.upbit.com`, THB markets).
    Th,
}

/// Where data and orders come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Built-in simulator, paper money.
    #[default]
    Demo,
    /// Real market data, local paper engine.
    Paper,
    /// Real orders.
    Live,
}

impl Mode {
    /// Lower-case name, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Demo => "demo",
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }

    /// Upper-case badge (`DEMO` / `PAPER` / `LIVE`), always visible in the status bar.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Demo => "DEMO",
            Mode::Paper => "PAPER",
            Mode::Live => "LIVE",
        }
    }
}

/// Log verbosity.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    #[default]
    Info,
    /// Problems that were handled.
    Warn,
    /// Problems that were not.
    Error,
}

impl LogLevel {
    /// Lower-case name, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// Upper-case label (Log pane).
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    /// The next stricter filter, wrapping from Error back to Trace.
    pub fn next(self) -> LogLevel {
        match self {
            LogLevel::Trace => LogLevel::Debug,
            LogLevel::Debug => LogLevel::Info,
            LogLevel::Info => LogLevel::Warn,
            LogLevel::Warn => LogLevel::Error,
            LogLevel::Error => LogLevel::Trace,
        }
    }

    /// The level of a tracing event.
    pub fn of(level: tracing::Level) -> LogLevel {
        match level {
            tracing::Level::TRACE => LogLevel::Trace,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::ERROR => LogLevel::Error,
        }
    }

    /// As a tracing filter.
    pub fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Trace => LevelFilter::TRACE,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error => LevelFilter::ERROR,
        }
    }
}

/// `[general]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneralSettings {
    /// demo / paper / live.
    pub mode: Mode,
    /// Log level of the file.
    pub(crate) log_level: LogLevel,
    /// Log directory; `None` means the XDG state directory. A missing directory is
    /// created 0700; an existing one is never chmod'ed, and one writable by group or others
    /// (`/tmp`, `/var/tmp`) is refused with a message naming it and its mode: anyone could
    /// plant a file or link there under the name of tomorrow's log.
    pub log_dir: Option<PathBuf>,
}

/// Names shown next to market codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MarketNames {
    /// 한글 이름.
    #[default]
    Korean,
    /// English names.
    English,
}

/// `[ui]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSettings {
    /// Theme name.
    pub theme: String,
    /// Frame rate cap.
    pub fps: u32,
    /// Korean or English market names.
    pub(crate) market_names: MarketNames,
    /// Order book levels per side (5, 15 or 30: Upbit's book sizes past one level).
    pub(crate) orderbook_levels: u32,
    /// Starting layout name.
    pub layout: String,
    /// Which colours mean rise / bid and fall / ask, in every pane.
    pub colors: ColorConvention,
    /// Capture the mouse: click to focus and select, wheel to scroll.
    pub mouse: bool,
    /// The tape highlights a print whose notional is at least this many times the median
    /// notional of the market's recent prints.
    pub large_trade_multiple: Decimal,
    /// Tint the markets rows by their 24 h change at start (`H` toggles it).
    pub heatmap: bool,
}

/// Which colours mean up and down, buy and sell — one convention in every pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorConvention {
    /// Upbit's: a rise and the bid side red, a fall and the ask side blue.
    #[default]
    Korean,
    /// A rise and the bid side green, a fall and the ask side red.
    Western,
}

impl ColorConvention {
    /// `korean` / `western`, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ColorConvention::Korean => "korean",
            ColorConvention::Western => "western",
        }
    }
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            theme: "dark".into(),
            fps: 30,
            market_names: MarketNames::Korean,
            orderbook_levels: 15,
            layout: "default".into(),
            colors: ColorConvention::Korean,
            mouse: true,
            large_trade_multiple: dec!(5),
            heatmap: false,
        }
    }
}

/// `[demo]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoSettings {
    /// Generator seed.
    pub seed: u64,
    /// Number of simulated markets.
    pub markets: u32,
    /// Simulated trades per second across all markets (each also moves its market's
    /// ticker, order book and candles).
    pub rate: u32,
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings { seed: 42, markets: 20, rate: 20 }
    }
}

/// `[feed]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedSettings {
    /// Seconds without data before reconnecting.
    pub(crate) idle_timeout_secs: u64,
    /// Subscription-change debounce.
    pub(crate) debounce_ms: u64,
    /// Seconds a released subscription is kept.
    pub(crate) grace_period_secs: u64,
    /// Milliseconds the public stream waits after a light burst before reading again, so a
    /// busy stream wakes the console once per gather instead of once per message.
    pub read_gather_ms: u64,
}

impl Default for FeedSettings {
    fn default() -> Self {
        FeedSettings { idle_timeout_secs: 30, debounce_ms: 50, grace_period_secs: 10, read_gather_ms: 2 }
    }
}

/// `[trading]` — money is `Decimal` (TOML numbers or strings both work).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TradingSettings {
    /// Fee fraction per fill.
    pub fee_rate: Decimal,
    /// Largest order total, KRW.
    pub max_notional_per_order: Decimal,
    /// Orders per minute.
    pub max_orders_per_minute: u32,
    /// Open orders at once.
    pub max_open_orders: u32,
    /// Fat-finger band, percent.
    pub(crate) price_band_pct: Decimal,
    /// Daily realized loss limit, KRW.
    pub daily_loss_limit: Decimal,
    /// Cancel open orders when exiting.
    pub(crate) cancel_open_orders_on_exit: bool,
    /// What a protection rule's exit does when it is larger than `max_notional_per_order`.
    pub protective_exit_over_cap: ProtectiveExitOverCap,
}

/// What a protective exit (a stop, take-profit, trailing stop or OCO firing) does when it
/// is larger than `max_notional_per_order`: a visible, configured choice, shown before a
/// rule arms and when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtectiveExitOverCap {
    /// Split into market sells each within the cap, sent one after another.
    #[default]
    Slice,
    /// One market sell past the cap, with the reason recorded.
    Exceed,
}

impl ProtectiveExitOverCap {
    /// `slice` / `exceed`, as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectiveExitOverCap::Slice => "slice",
            ProtectiveExitOverCap::Exceed => "exceed",
        }
    }
}

impl Default for TradingSettings {
    fn default() -> Self {
        TradingSettings {
            fee_rate: dec!(0.0005),
            max_notional_per_order: dec!(1000000),
            max_orders_per_minute: 30,
            max_open_orders: 20,
            price_band_pct: dec!(5),
            daily_loss_limit: dec!(100000),
            cancel_open_orders_on_exit: false,
            protective_exit_over_cap: ProtectiveExitOverCap::Slice,
        }
    }
}

/// How loudly one kind of alert is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertMode {
    /// Status bar, bell, window title and webhook.
    #[default]
    On,
    /// Status bar only.
    Silent,
    /// Nothing.
    Off,
}

/// `[alerts]`. `Debug` redacts the webhook URL (it carries a token).
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Webhook URL, if any.
    pub(crate) webhook_url: Option<String>,
    /// Price alerts.
    pub price: AlertMode,
    /// Fills.
    pub fill: AlertMode,
    /// Monitor rule fired.
    pub(crate) stop_fired: AlertMode,
    /// Feed degraded.
    pub(crate) feed_degraded: AlertMode,
    /// Order rejected or denied.
    pub(crate) order_rejected: AlertMode,
    /// Critical failure on the bus.
    pub(crate) critical_failure: AlertMode,
    /// A protection rule went stale (prices too old to protect the position).
    pub(crate) rule_stale: AlertMode,
    /// Trading halted (kill switch, blocked key, 418).
    pub(crate) trading_halted: AlertMode,
    /// The TP/SL monitor died (trading is REDUCING until it is back).
    pub(crate) monitor_down: AlertMode,
    /// A market's 유의 / 주의 flags changed, or a market was listed or taken off.
    pub(crate) market_event: AlertMode,
    /// The exchange notice categories that alert (`"all"`, or names such as `"trade"`);
    /// every notice is logged and badges its markets whatever this says.
    pub(crate) announcements: NoticeCategories,
}

/// `alerts.announcements`: the notice categories that alert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct NoticeCategories(pub Vec<String>);

impl Default for NoticeCategories {
    fn default() -> Self {
        NoticeCategories(vec!["all".to_string()])
    }
}

impl NoticeCategories {
    /// Whether a notice of `category` alerts. `"all"` takes in categories this version
    /// does not know yet.
    pub fn alerts(&self, category: &str) -> bool {
        self.0.iter().any(|c| c == "all" || c == category)
    }
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("webhook_url", &self.webhook_url.as_ref().map(|_| "<redacted>"))
            .field("price", &self.price)
            .field("fill", &self.fill)
            .field("stop_fired", &self.stop_fired)
            .field("feed_degraded", &self.feed_degraded)
            .field("order_rejected", &self.order_rejected)
            .field("critical_failure", &self.critical_failure)
            .field("rule_stale", &self.rule_stale)
            .field("trading_halted", &self.trading_halted)
            .field("monitor_down", &self.monitor_down)
            .field("market_event", &self.market_event)
            .field("announcements", &self.announcements)
            .finish()
    }
}

/// `[bus]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSettings {
    /// Backoff unit, ms.
    pub(crate) retry_backoff_ms: u64,
    /// Attempts before a critical failure.
    pub max_attempts: u32,
    /// Trace ring size.
    pub(crate) trace_capacity: usize,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings { retry_backoff_ms: 2000, max_attempts: 3, trace_capacity: 256 }
    }
}

/// What a key accepts, in words, for error messages (`expected …`).
pub(crate) fn expectation(path: &str) -> Option<&'static str> {
    Some(match path {
        "general.mode" => r#"one of "demo", "paper", "live""#,
        "general.log_level" => r#"one of "trace", "debug", "info", "warn", "error""#,
        "general.log_dir" => "a directory path (string)",
        "ui.theme" => r#"one of "dark", "light", "high-contrast", "mono""#,
        "ui.fps" => "an integer 1..=120",
        "ui.market_names" => r#""korean" or "english""#,
        "ui.orderbook_levels" => "5, 15 or 30",
        "ui.layout" => "a layout name (non-empty string)",
        "ui.colors" => {
            r#""korean" (rise and bid red, fall and ask blue) or "western" (rise and bid green, fall and ask red)"#
        }
        "ui.mouse" => "true or false",
        "ui.large_trade_multiple" => "a decimal greater than 1 (5 = five times the median print)",
        "ui.heatmap" => "true or false",
        "demo.seed" => "a non-negative integer",
        "demo.markets" => "an integer 1..=200",
        "demo.rate" => "an integer 1..=1000000 (trades per second)",
        "feed.idle_timeout_secs" => "an integer 5..=110 (seconds; Upbit cuts idle sockets at 120)",
        "feed.debounce_ms" => "an integer 0..=5000",
        "feed.grace_period_secs" => "an integer 0..=3600",
        "feed.read_gather_ms" => "an integer 0..=10 (milliseconds)",
        "trading.fee_rate" => "a decimal 0..=0.01 (0.0005 = 0.05 %)",
        "trading.max_notional_per_order" => "a positive decimal amount of KRW",
        "trading.max_orders_per_minute" => "an integer 1..=600",
        "trading.max_open_orders" => "an integer 1..=1000",
        "trading.price_band_pct" => "a decimal percentage, more than 0 and at most 100",
        "trading.daily_loss_limit" => "a positive decimal amount of KRW",
        "trading.cancel_open_orders_on_exit" => "true or false",
        "trading.protective_exit_over_cap" => r#""slice" or "exceed""#,
        "alerts.webhook_url" => "an http:// or https:// URL",
        "exchange.rest_url" => "empty (Upbit) or an http:// or https:// URL ending in /v1",
        "exchange.ws_url" => "empty (Upbit) or a ws:// or wss:// URL",
        "exchange.region" => r#""kr" (Korea), "sg" (Singapore), "id" (Indonesia) or "th" (Thailand)"#,
        "alerts.price"
        | "alerts.fill"
        | "alerts.stop_fired"
        | "alerts.feed_degraded"
        | "alerts.order_rejected"
        | "alerts.critical_failure"
        | "alerts.rule_stale"
        | "alerts.trading_halted"
        | "alerts.monitor_down"
        | "alerts.market_event" => r#"one of "on", "silent", "off""#,
        "alerts.announcements" => {
            r#"a list of notice categories: "all", or any of "notice", "trade", "wallet", "maintenance", "digital_asset", "nft", "service", "event", "note", "trading", "airdrop", "feature", "disclosure" ([] = none)"#
        }
        "venues.binance" => "true or false (unset: on in demo, off in paper and live)",
        "venues.binance_rest_url" => {
            "an http:// or https:// URL, set together with binance_ws_url (both empty: Binance itself)"
        }
        "venues.binance_ws_url" => {
            "empty (Binance) or a ws:// or wss:// URL, set together with binance_rest_url"
        }
        "premium.usd_krw" => "KRW per USD, from 100 to 100000 (e.g. 1450.5)",
        "premium.usd_krw_url" => "empty (off) or an http:// or https:// URL",
        "premium.usd_krw_field" => {
            r#"a dotted path into the URL's JSON ("rates.KRW"), or empty for a bare number"#
        }
        "premium.refresh_secs" => "an integer 30..=86400 (seconds)",
        "bus.retry_backoff_ms" => "an integer 1..=60000",
        "bus.max_attempts" => "an integer 1..=10",
        "bus.trace_capacity" => "an integer 1..=100000",
        _ => return None,
    })
}

/// The values found breaking a rule so far.
struct Rules(Vec<RuleViolation>);

impl Rules {
    /// Notes `value` at `path` unless `ok`.
    fn check(&mut self, ok: bool, path: &'static str, value: impl std::fmt::Display) {
        if !ok {
            self.0.push(RuleViolation { path, value: value.to_string() });
        }
    }
}

/// A rule a value broke: the key's path and the value as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// Dotted key path, e.g. `ui.fps`.
    pub path: &'static str,
    /// The offending value, rendered as TOML.
    pub value: String,
}

impl Settings {
    /// Checks ranges and enumerated values beyond what the types say: the first value
    /// that breaks a rule.
    pub fn validate(&self) -> Result<(), RuleViolation> {
        match self.violations().into_iter().next() {
            Some(v) => Err(v),
            None => Ok(()),
        }
    }

    /// Every value that breaks a rule, in the file's section order (a file with three
    /// bad values is told all three at once).
    pub fn violations(&self) -> Vec<RuleViolation> {
        let mut r = Rules(Vec::new());
        let quoted = |s: &str| format!("{s:?}");
        let (u, d, f, t, b) = (&self.ui, &self.demo, &self.feed, &self.trading, &self.bus);
        r.check(
            crate::ui::theme::Theme::embedded_names().any(|n| n == u.theme),
            "ui.theme",
            quoted(&u.theme),
        );
        r.check((1..=120).contains(&u.fps), "ui.fps", u.fps);
        r.check(matches!(u.orderbook_levels, 5 | 15 | 30), "ui.orderbook_levels", u.orderbook_levels);
        r.check(!u.layout.trim().is_empty(), "ui.layout", quoted(&u.layout));
        r.check(u.large_trade_multiple > Decimal::ONE, "ui.large_trade_multiple", u.large_trade_multiple);
        r.check((1..=200).contains(&d.markets), "demo.markets", d.markets);
        r.check((1..=1_000_000).contains(&d.rate), "demo.rate", d.rate);
        r.check((5..=110).contains(&f.idle_timeout_secs), "feed.idle_timeout_secs", f.idle_timeout_secs);
        r.check(f.debounce_ms <= 5000, "feed.debounce_ms", f.debounce_ms);
        r.check(f.grace_period_secs <= 3600, "feed.grace_period_secs", f.grace_period_secs);
        r.check(f.read_gather_ms <= 10, "feed.read_gather_ms", f.read_gather_ms);
        r.check(t.fee_rate >= Decimal::ZERO && t.fee_rate <= dec!(0.01), "trading.fee_rate", t.fee_rate);
        r.check(
            t.max_notional_per_order > Decimal::ZERO,
            "trading.max_notional_per_order",
            t.max_notional_per_order,
        );
        r.check(
            (1..=600).contains(&t.max_orders_per_minute),
            "trading.max_orders_per_minute",
            t.max_orders_per_minute,
        );
        r.check((1..=1000).contains(&t.max_open_orders), "trading.max_open_orders", t.max_open_orders);
        r.check(
            t.price_band_pct > Decimal::ZERO && t.price_band_pct <= dec!(100),
            "trading.price_band_pct",
            t.price_band_pct,
        );
        r.check(t.daily_loss_limit > Decimal::ZERO, "trading.daily_loss_limit", t.daily_loss_limit);
        if let Some(url) = &self.alerts.webhook_url {
            // The URL is a secret: the error names the key, not the value.
            r.check(
                url.starts_with("https://") || url.starts_with("http://"),
                "alerts.webhook_url",
                "<redacted>",
            );
        }
        for c in &self.alerts.announcements.0 {
            let known = c == "all" || crate::exchange::upbit::announce::CATEGORIES.contains(&c.as_str());
            r.check(known, "alerts.announcements", quoted(c));
        }
        let x = &self.exchange;
        let scheme = |u: &str, a: &str, b: &str| u.is_empty() || u.starts_with(a) || u.starts_with(b);
        r.check(
            scheme(&x.rest_url, "http://", "https://")
                && (x.rest_url.is_empty() || x.rest_url.ends_with("/v1")),
            "exchange.rest_url",
            quoted(&x.rest_url),
        );
        r.check(scheme(&x.ws_url, "ws://", "wss://"), "exchange.ws_url", quoted(&x.ws_url));
        let v = &self.venues;
        r.check(
            scheme(&v.binance_rest_url, "http://", "https://"),
            "venues.binance_rest_url",
            quoted(&v.binance_rest_url),
        );
        r.check(
            scheme(&v.binance_ws_url, "ws://", "wss://"),
            "venues.binance_ws_url",
            quoted(&v.binance_ws_url),
        );
        // One server for both, or Binance for both: half of one and half of the other is
        // a typo, not a setup.
        // The one left empty is named.
        let (missing, set, value) = if v.binance_ws_url.is_empty() {
            ("venues.binance_ws_url", "binance_rest_url", &v.binance_rest_url)
        } else {
            ("venues.binance_rest_url", "binance_ws_url", &v.binance_ws_url)
        };
        r.check(
            v.binance_rest_url.is_empty() == v.binance_ws_url.is_empty(),
            missing,
            format!("\"\" (missing: {set} is {})", quoted(value)),
        );
        let p = &self.premium;
        if let Some(rate) = p.usd_krw {
            let (low, high) = crate::store::premium::USD_KRW_BAND;
            r.check((low..=high).contains(&rate), "premium.usd_krw", rate);
        }
        r.check(scheme(&p.usd_krw_url, "http://", "https://"), "premium.usd_krw_url", quoted(&p.usd_krw_url));
        r.check((30..=86_400).contains(&p.refresh_secs), "premium.refresh_secs", p.refresh_secs);
        r.check((1..=60_000).contains(&b.retry_backoff_ms), "bus.retry_backoff_ms", b.retry_backoff_ms);
        r.check((1..=10).contains(&b.max_attempts), "bus.max_attempts", b.max_attempts);
        r.check((1..=100_000).contains(&b.trace_capacity), "bus.trace_capacity", b.trace_capacity);
        r.0
    }
}

#[cfg(test)]
mod venue_and_premium_tests {
    /// `[venues]` and `[premium]`: a bad value is named with its file, key and value, and
    /// a fixed rate in another unit (USD per KRW, KRW per 100 USD) is refused, not used.
    #[test]
    fn bad_venue_and_premium_values_are_named_with_file_key_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoga.toml");
        std::fs::write(&path, "[venues]\nbinance = true\n[premium]\nusd_krw = 1450.5\nrefresh_secs = 60\n")
            .unwrap();
        let ok = crate::config::check_file(&path).unwrap();
        assert_eq!(ok.premium.usd_krw, Some(rust_decimal_macros::dec!(1450.5)));
        for (section, line, key, value) in [
            ("venues", "binance = \"yes\"", "binance", "yes"),
            ("venues", "binance_rest_url = \"not a url\"", "venues.binance_rest_url", "not a url"),
            ("venues", "binance_ws_url = \"https://x\"", "venues.binance_ws_url", "https://x"),
            (
                "venues",
                "binance_ws_url = \"ws://127.0.0.1:1\"",
                "venues.binance_rest_url",
                "missing: binance_ws_url is",
            ),
            (
                "venues",
                "binance_rest_url = \"http://127.0.0.1:1\"",
                "venues.binance_ws_url",
                "missing: binance_rest_url is",
            ),
            ("premium", "usd_krw = -5", "premium.usd_krw", "-5"),
            ("premium", "usd_krw = 0.00069", "premium.usd_krw", "0.00069"),
            ("premium", "usd_krw = 145050", "premium.usd_krw", "145050"),
            ("premium", "usd_krw = \"abc\"", "usd_krw", "abc"),
            ("premium", "usd_krw_url = \"ftp://x\"", "premium.usd_krw_url", "ftp://x"),
            ("premium", "refresh_secs = 0", "premium.refresh_secs", "0"),
        ] {
            std::fs::write(&path, format!("[{section}]\n{line}\n")).unwrap();
            let msg = crate::config::check_file(&path).unwrap_err().to_string();
            assert!(msg.contains("hoga.toml") && msg.contains(key) && msg.contains(value), "{line}: {msg}");
        }
    }
}

#[cfg(test)]
mod several_bad_values_tests {
    /// A file with several values out of range is told every one of them, each on its
    /// own line with file, key and value (only the first was named: fix, rerun, repeat).
    #[test]
    fn every_value_out_of_range_is_named_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoga.toml");
        std::fs::write(&path, "[ui]\nfps = 0\n[premium]\nusd_krw = -5\nrefresh_secs = 0\n").unwrap();
        let msg = crate::config::check_file(&path).unwrap_err().to_string();
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(lines.len(), 3, "{msg}");
        for (line, (key, value)) in
            lines.iter().zip([("ui.fps", "0"), ("premium.usd_krw", "-5"), ("premium.refresh_secs", "0")])
        {
            assert!(line.contains("hoga.toml") && line.contains(&format!("{key} = {value}")), "{line}");
        }
    }
}

#[cfg(test)]
mod large_trade_multiple_tests {
    use rust_decimal_macros::dec;

    /// `[ui] large_trade_multiple`: a multiple of the median print, so it must be more than
    /// 1 (at 1 half the tape would be "large"); a bad value is named with its file and key.
    #[test]
    fn the_large_print_multiple_is_read_and_a_bad_one_refused_with_file_key_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoga.toml");
        std::fs::write(&path, "[ui]\nlarge_trade_multiple = 3.5\n").unwrap();
        assert_eq!(crate::config::check_file(&path).unwrap().ui.large_trade_multiple, dec!(3.5));
        assert_eq!(super::UiSettings::default().large_trade_multiple, dec!(5));
        for bad in ["1", "0.5", "-5", "\"five\""] {
            std::fs::write(&path, format!("[ui]\nlarge_trade_multiple = {bad}\n")).unwrap();
            let msg = crate::config::check_file(&path).unwrap_err().to_string();
            assert!(msg.contains("hoga.toml") && msg.contains("ui.large_trade_multiple"), "{msg}");
            assert!(msg.contains(bad) && msg.contains("greater than 1"), "{msg}");
        }
    }
}

#[cfg(test)]
mod orderbook_levels_tests {
    /// `[ui] orderbook_levels`: Upbit's book sizes 5, 15 and 30 (`d` cycles them); any
    /// other number is refused naming the file, the key, the value and what it takes.
    #[test]
    fn five_fifteen_and_thirty_levels_are_read_and_others_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoga.toml");
        for ok in [5, 15, 30] {
            std::fs::write(&path, format!("[ui]\norderbook_levels = {ok}\n")).unwrap();
            assert_eq!(crate::config::check_file(&path).unwrap().ui.orderbook_levels, ok);
        }
        for bad in ["1", "10", "20", "31"] {
            std::fs::write(&path, format!("[ui]\norderbook_levels = {bad}\n")).unwrap();
            let msg = crate::config::check_file(&path).unwrap_err().to_string();
            assert!(msg.contains("hoga.toml") && msg.contains("ui.orderbook_levels"), "{msg}");
            assert!(msg.contains(bad) && msg.contains("5, 15 or 30"), "{msg}");
        }
    }
}
