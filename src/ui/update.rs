//! UI state and the pure reducer: `update(&mut UiState, Action, &Snapshot) -> Vec<UiCommand>`.
//!
//! The reducer never does I/O and never writes the store: it changes UI-local state
//! (focus, cursors, inputs) and returns [`UiCommand`]s, requests the app sends out for the
//! feed and trading handlers. That keeps every key's effect unit-testable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use rust_decimal::Decimal;

use super::action::Action;
use super::command_line::{self, CommandLine, History, Parsed};
use super::keymap::Context;
use super::layout::{self, PaneId};
use super::order_form::{self, OrderForm};
use crate::exchange::types::{MarketId, MarketInfo, OrderBook, Price, Side, Timeframe};
use crate::store::{LogLevel, Mode, Snapshot};
use crate::trading::orders::{MarketRules, OrderRequest, ValidOrder, floor_volume, validate};

/// What leaves the UI: requests for the feed, trading and the kernel, sent by the app on
/// a bounded channel. The app handles the UI-local ones itself (theme, layout, favorites)
/// and forwards the rest; see [`UiCommand::is_local`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiCommand {
    /// Show this market: subscribe its ticker, book and trades, release the old ones.
    /// Always followed by a [`UiCommand::SetTimeframe`] with the chart's timeframe.
    SelectMarket(MarketId),
    /// Show this chart timeframe for the selected market: load history, subscribe candles.
    SetTimeframe(Timeframe),
    /// Order book levels per side for the selected market (15 or 30).
    SetDepth(u16),
    /// A trading command line, verbatim without the `:` (`buy 0.01 @ 95000000`,
    /// `sell 50% @ market`, `cancel all`, `stop KRW-BTC -3%`, `tp …`, `trail …`,
    /// `alert …`, `kill`), for `trading::input::parse_command`.
    Trade(String),
    /// Place an order built by the order form or the ladder (already snapped to the tick
    /// grid; trading still validates it and runs the risk gate).
    PlaceOrder {
        /// The request.
        request: OrderRequest,
    },
    /// Cancel one open order (ladder cancel, orders pane).
    CancelOrder {
        /// Market of the order.
        market: MarketId,
        /// Exchange order uuid.
        uuid: String,
    },
    /// Cancel all open orders of one market, or everywhere.
    CancelAll {
        /// Market, or None for all markets.
        market: Option<MarketId>,
    },
    /// Kill switch: trading state HALTED and cancel everything.
    KillSwitch,
    /// The user saw the alerts (store: `AlertsAcknowledged`).
    AcknowledgeAlerts,
    /// Switch theme (UI-local: the app loads it).
    SetTheme(String),
    /// Switch to a named layout (UI-local).
    SetLayout(String),
    /// Save the current layout under a name (forwarded so config can persist it).
    SaveLayout(String),
    /// Favorites changed (UI-local: the app writes the favorites file).
    SaveFavorites(Vec<MarketId>),
    /// Quit the application (already confirmed when something was at stake).
    Quit,
}

impl UiCommand {
    /// Commands the app handles itself instead of sending them out.
    pub fn is_local(&self) -> bool {
        matches!(self, UiCommand::SetTheme(_) | UiCommand::SetLayout(_) | UiCommand::SaveFavorites(_))
    }
}

/// Display language for market names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameLanguage {
    /// 한국어 names.
    #[default]
    Korean,
    /// English names.
    English,
}

/// UI settings that come from the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct UiConfig {
    /// Market data older than this is shown as stale, with its age.
    pub stale_after: Duration,
    /// Trades worth at least this much (quote currency) are highlighted.
    pub large_trade_value: Decimal,
    /// Frames per second cap.
    pub fps: u32,
    /// Where favorites are persisted.
    pub favorites_path: Option<PathBuf>,
    /// Names in the markets list.
    pub names: NameLanguage,
    /// Theme at start.
    pub theme: String,
    /// Layout at start.
    pub layout: String,
    /// Ladder trading: quote amount (KRW) per ladder buy/sell.
    pub ladder_quote: Decimal,
    /// Order book levels per side at start (15 or 30).
    pub book_depth: usize,
    /// Capture the mouse (click to focus, wheel to scroll). Off: tmux keeps selection.
    pub mouse: bool,
}

impl UiConfig {
    /// The UI settings of the config file (`[ui]`), plus where favorites live (the
    /// caller picks the XDG state directory).
    pub fn from_settings(s: &crate::config::settings::UiSettings, favorites_path: Option<PathBuf>) -> Self {
        UiConfig {
            fps: s.fps,
            theme: s.theme.clone(),
            layout: s.layout.clone(),
            names: match s.market_names {
                crate::config::settings::MarketNames::Korean => NameLanguage::Korean,
                crate::config::settings::MarketNames::English => NameLanguage::English,
            },
            book_depth: if s.orderbook_levels == 30 { 30 } else { 15 },
            favorites_path,
            ..UiConfig::default()
        }
    }
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            stale_after: Duration::from_secs(10),
            large_trade_value: Decimal::from(10_000_000),
            fps: 30,
            favorites_path: None,
            names: NameLanguage::Korean,
            theme: "dark".into(),
            layout: "default".into(),
            ladder_quote: Decimal::from(10_000),
            book_depth: 15,
            mouse: false,
        }
    }
}

/// Markets tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarketTab {
    /// KRW market.
    #[default]
    Krw,
    /// BTC market.
    Btc,
    /// USDT market.
    Usdt,
    /// Favorites.
    Favorites,
}

impl MarketTab {
    /// All tabs in order.
    pub const ALL: [MarketTab; 4] = [MarketTab::Krw, MarketTab::Btc, MarketTab::Usdt, MarketTab::Favorites];

    /// Tab label.
    pub fn label(self) -> &'static str {
        match self {
            MarketTab::Krw => "KRW",
            MarketTab::Btc => "BTC",
            MarketTab::Usdt => "USDT",
            MarketTab::Favorites => "★Fav",
        }
    }
}

/// Columns the markets list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortColumn {
    /// Market code.
    Code,
    /// Display name.
    Name,
    /// Last price.
    Price,
    /// Change %.
    Change,
    /// 24 h traded value.
    #[default]
    Value,
    /// Data age.
    Age,
}

impl SortColumn {
    const ALL: [SortColumn; 6] = [
        SortColumn::Code,
        SortColumn::Name,
        SortColumn::Price,
        SortColumn::Change,
        SortColumn::Value,
        SortColumn::Age,
    ];

    /// Column label.
    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Code => "code",
            SortColumn::Name => "name",
            SortColumn::Price => "price",
            SortColumn::Change => "chg",
            SortColumn::Value => "value",
            SortColumn::Age => "age",
        }
    }
}

/// The markets list's view state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketsView {
    /// Active tab.
    pub tab: MarketTab,
    /// Sort column.
    pub sort: SortColumn,
    /// Sort ascending instead of the column's natural order.
    pub ascending: bool,
    /// Cursor row.
    pub cursor: usize,
    /// Search input is active.
    pub searching: bool,
    /// Search text (kept after Enter as a filter).
    pub query: String,
}

/// A modal overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlay {
    /// None.
    #[default]
    None,
    /// Key help, scrolled.
    Help {
        /// First row shown.
        scroll: usize,
    },
    /// "Quit with open orders / armed rules? y/N".
    ConfirmQuit,
    /// Live mode: confirm `UiState::pending_order` (default No).
    ConfirmOrder,
    /// Ctrl-Z while rules are armed: "Suspend? armed rules will not fire while stopped.
    /// y/N" (a stopped process watches nothing).
    ConfirmSuspend,
}

/// A one-line message on the bottom line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Text.
    pub text: String,
    /// Shown in the error style.
    pub error: bool,
}

/// How long the first press of the kill switch waits for its confirming second press.
pub const KILL_CONFIRM_WINDOW: Duration = Duration::from_secs(2);

/// Everything the UI owns (domain state lives in the store's snapshot).
#[derive(Debug, Clone)]
pub struct UiState {
    /// Monotonic "now" of the frame (ages are measured against it).
    pub now: Instant,
    /// Wall-clock "now" of the frame (the KST clock).
    pub wall: DateTime<Utc>,
    /// Terminal size of the last frame (focus cycling needs the visible panes).
    pub area: Rect,
    /// Settings.
    pub config: UiConfig,
    /// Layout name.
    pub layout: String,
    /// Focused pane.
    pub focus: PaneId,
    /// Maximised pane.
    pub maximized: Option<PaneId>,
    /// Hidden panes.
    pub hidden: BTreeSet<PaneId>,
    /// Theme name in use.
    pub theme: String,
    /// Selected market.
    pub market: Option<MarketId>,
    /// Chart timeframe.
    pub timeframe: Timeframe,
    /// Markets list view.
    pub markets: MarketsView,
    /// Favorite markets.
    pub favorites: BTreeSet<MarketId>,
    /// Order book levels per side (15 or 30).
    pub book_depth: usize,
    /// Ladder cursor row (0 = top ask row).
    pub book_cursor: usize,
    /// Cursor in the orders pane's open orders.
    pub orders_cursor: usize,
    /// Cursor row in the portfolio pane (one row per balance).
    pub portfolio_cursor: usize,
    /// Minimum level in the log pane.
    pub log_level: LogLevel,
    /// Scroll offsets of list panes.
    pub scroll: BTreeMap<PaneId, usize>,
    /// Modal overlay.
    pub overlay: Overlay,
    /// Open command line.
    pub command_line: Option<CommandLine>,
    /// Command-line history.
    pub history: History,
    /// Bottom-line message.
    pub message: Option<Message>,
    /// Help rows (context, action, keys) from the live keymap.
    pub help: Vec<(String, String, String)>,
    /// Key hints for the bottom line, from the live keymap.
    pub hints: String,
    /// Set once quitting was decided.
    pub quit: bool,
    /// Set when suspending (Ctrl-Z) was confirmed; the app stops the process and clears it.
    pub suspend: bool,
    /// The open order entry form.
    pub form: Option<OrderForm>,
    /// When the kill switch was pressed once: a second press (or the key held down, which
    /// repeats) within [`KILL_CONFIRM_WINDOW`] fires it, so a stray key cannot halt trading.
    pub kill_armed_at: Option<Instant>,
    /// An order waiting for the live-mode confirmation.
    pub pending_order: Option<ValidOrder>,
}

impl UiState {
    /// Fresh state with the given settings.
    pub fn new(config: UiConfig) -> Self {
        let depth = config.book_depth;
        UiState {
            now: Instant::now(),
            wall: Utc::now(),
            area: Rect::new(0, 0, 120, 40),
            layout: config.layout.clone(),
            theme: config.theme.clone(),
            config,
            focus: PaneId::Markets,
            maximized: None,
            hidden: BTreeSet::new(),
            market: None,
            timeframe: Timeframe::M1,
            markets: MarketsView::default(),
            favorites: BTreeSet::new(),
            book_depth: depth,
            book_cursor: depth,
            orders_cursor: 0,
            portfolio_cursor: 0,
            log_level: LogLevel::Info,
            scroll: BTreeMap::new(),
            overlay: Overlay::None,
            command_line: None,
            history: History::default(),
            message: None,
            kill_armed_at: None,
            help: Vec::new(),
            hints: String::new(),
            quit: false,
            suspend: false,
            form: None,
            pending_order: None,
        }
    }

    /// The keymap context for the next key.
    pub fn context(&self) -> Context {
        if matches!(self.overlay, Overlay::ConfirmQuit | Overlay::ConfirmOrder | Overlay::ConfirmSuspend) {
            Context::Dialog
        } else if self.command_line.is_some() {
            Context::CommandLine
        } else if self.form.is_some() {
            Context::Form
        } else if self.markets.searching {
            Context::Search
        } else {
            match self.focus {
                PaneId::Markets => Context::Markets,
                PaneId::Orderbook => Context::Orderbook,
                PaneId::Chart => Context::Chart,
                PaneId::Log => Context::Log,
                PaneId::Orders => Context::Orders,
                PaneId::Portfolio => Context::Portfolio,
                _ => Context::Global,
            }
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), error: false });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), error: true });
    }
}

/// The display name of a market in the configured language.
pub fn display_name(info: &MarketInfo, lang: NameLanguage) -> &str {
    match lang {
        NameLanguage::Korean => &info.korean_name,
        NameLanguage::English => &info.english_name,
    }
}

/// Rows of the markets list in display order: tab, search filter and sort applied.
pub fn visible_markets<'a>(ui: &UiState, snap: &'a Snapshot) -> Vec<&'a MarketInfo> {
    let q = ui.markets.query.to_lowercase();
    let rows: Vec<&MarketInfo> = snap
        .market
        .markets
        .iter()
        .filter(|m| match ui.markets.tab {
            MarketTab::Krw => m.market.quote() == "KRW",
            MarketTab::Btc => m.market.quote() == "BTC",
            MarketTab::Usdt => m.market.quote() == "USDT",
            MarketTab::Favorites => ui.favorites.contains(&m.market),
        })
        .filter(|m| {
            q.is_empty()
                || m.market.as_str().to_lowercase().contains(&q)
                || m.korean_name.to_lowercase().contains(&q)
                || m.english_name.to_lowercase().contains(&q)
        })
        .collect();
    let tickers = &snap.market.tickers;
    let now = ui.now;
    let lang = ui.config.names;
    // Each row's ticker is looked up once, not twice per comparison: the list is sorted
    // for every frame and Upbit lists a few hundred markets.
    let mut keyed: Vec<_> = rows.iter().map(|m| (*m, tickers.get(&m.market))).collect();
    // Natural order: text ascending, numbers descending (biggest first), age ascending.
    keyed.sort_by(|&(a, ta), &(b, tb)| {
        let num = |f: fn(&crate::exchange::types::Ticker) -> Decimal| {
            let x = ta.map(|t| f(&t.value)).unwrap_or(Decimal::MIN);
            let y = tb.map(|t| f(&t.value)).unwrap_or(Decimal::MIN);
            y.cmp(&x)
        };
        let ord = match ui.markets.sort {
            SortColumn::Code => a.market.cmp(&b.market),
            SortColumn::Name => display_name(a, lang).cmp(display_name(b, lang)),
            SortColumn::Price => num(|t| t.trade_price),
            SortColumn::Change => num(|t| t.signed_change_rate),
            SortColumn::Value => num(|t| t.acc_trade_price_24h),
            SortColumn::Age => {
                let age = |t: Option<&std::sync::Arc<crate::store::Stamped<_>>>| {
                    t.map(|t| t.age(now)).unwrap_or(Duration::MAX)
                };
                age(ta).cmp(&age(tb))
            }
        };
        let ord = if ui.markets.ascending { ord.reverse() } else { ord };
        ord.then_with(|| a.market.cmp(&b.market))
    });
    let mut rows: Vec<&MarketInfo> = keyed.into_iter().map(|(m, _)| m).collect();
    if !q.is_empty() {
        // What was typed exactly comes first (`eth` → KRW-ETH before Ethereum Classic),
        // then codes starting with it; the column order holds within each group.
        let rank = |m: &MarketInfo| {
            let base = m.market.base().to_lowercase();
            if base == q || m.korean_name.to_lowercase() == q || m.english_name.to_lowercase() == q {
                0
            } else if base.starts_with(&q) {
                1
            } else {
                2
            }
        };
        rows.sort_by_key(|m| rank(m));
    }
    rows
}

/// The price and side of ladder row `row` (asks on top, worst first; then bids).
pub fn ladder_level(book: &OrderBook, depth: usize, row: usize) -> Option<(Side, Price)> {
    let depth = depth.min(book.levels.len());
    if row < depth {
        book.levels.get(depth - 1 - row).map(|l| (Side::Ask, l.ask_price))
    } else {
        book.levels.get(row - depth).map(|l| (Side::Bid, l.bid_price))
    }
    .filter(|(_, p)| !p.is_zero())
}

fn move_cursor(cur: usize, len: usize, action: Action, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match action {
        Action::Up => cur.saturating_sub(1),
        Action::Down => (cur + 1).min(last),
        Action::PageUp => cur.saturating_sub(page),
        Action::PageDown => (cur + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => cur,
    }
    .min(last)
}

fn select_market(ui: &mut UiState, m: MarketId) -> Vec<UiCommand> {
    if ui.market.as_ref() == Some(&m) {
        return Vec::new();
    }
    ui.market = Some(m.clone());
    ui.book_cursor = ui.book_depth;
    vec![UiCommand::SelectMarket(m.clone()), UiCommand::SetTimeframe(ui.timeframe)]
}

fn set_timeframe(ui: &mut UiState, tf: Timeframe) -> Vec<UiCommand> {
    ui.timeframe = tf;
    vec![UiCommand::SetTimeframe(tf)]
}

fn request_quit(ui: &mut UiState, snap: &Snapshot) -> Vec<UiCommand> {
    if snap.account.something_to_lose() {
        ui.overlay = Overlay::ConfirmQuit;
        Vec::new()
    } else {
        ui.quit = true;
        vec![UiCommand::Quit]
    }
}

/// Sends a validated manual order, or in live mode opens the confirmation (default No).
fn send_or_confirm(ui: &mut UiState, snap: &Snapshot, valid: ValidOrder) -> Vec<UiCommand> {
    if snap.account.mode == Mode::Live {
        ui.pending_order = Some(valid);
        ui.overlay = Overlay::ConfirmOrder;
        return Vec::new();
    }
    let r = &valid.request;
    ui.info(format!(
        "sent {} {} {} @ {}",
        r.side.label(),
        r.volume.map(|v| v.normalize().to_string()).unwrap_or_default(),
        r.market,
        r.price.map(|p| p.normalize().to_string()).unwrap_or_else(|| "market".into())
    ));
    vec![UiCommand::PlaceOrder { request: valid.request }]
}

/// Called when a new snapshot arrives: picks a first market once the list is known.
pub fn on_snapshot(ui: &mut UiState, snap: &Snapshot) -> Vec<UiCommand> {
    if ui.market.is_some() || snap.market.markets.is_empty() {
        return Vec::new();
    }
    // The first market shown is the exchange's main one when it is listed: the list's own
    // first row depends on which tickers happened to arrive first.
    let btc = MarketId::new(DEFAULT_MARKET);
    let m = if snap.market.info(&btc).is_some() {
        Some(btc)
    } else {
        visible_markets(ui, snap).first().map(|m| m.market.clone())
    };
    match m {
        Some(m) => select_market(ui, m),
        None => Vec::new(),
    }
}

/// The market selected at start when the exchange lists it.
pub const DEFAULT_MARKET: &str = "KRW-BTC";

/// Candidates for command-line completion at word `index` after `verb`.
pub fn completions(snap: &Snapshot, index: usize, verb: &str) -> Vec<String> {
    match (index, verb) {
        (0, _) => command_line::VERBS.iter().map(|s| s.to_string()).collect(),
        (1, "market" | "m" | "stop" | "tp" | "trail" | "alert") => {
            snap.market.markets.iter().map(|m| m.market.to_string()).collect()
        }
        (1, "tf") => Timeframe::ALL.iter().map(|t| t.label().to_string()).collect(),
        (1, "theme") => super::theme::Theme::embedded_names().map(str::to_string).collect(),
        (1, "layout") => layout::LAYOUTS.iter().map(|s| s.to_string()).chain(["save".to_string()]).collect(),
        (1, "cancel") => vec!["all".into()],
        _ => Vec::new(),
    }
}

fn run_command_line(ui: &mut UiState, snap: &Snapshot, line: &str) -> Vec<UiCommand> {
    ui.history.push(line.trim());
    match command_line::parse(line) {
        Parsed::Market(m) => {
            if snap.market.markets.is_empty() || snap.market.info(&m).is_some() {
                select_market(ui, m)
            } else {
                ui.error(format!("unknown market {m}"));
                Vec::new()
            }
        }
        Parsed::Timeframe(tf) => set_timeframe(ui, tf),
        Parsed::Theme(name) => {
            ui.theme = name.clone();
            vec![UiCommand::SetTheme(name)]
        }
        Parsed::Layout(name) => {
            if layout::preset(&name, ui.area).is_some() {
                ui.layout = name.clone();
                ui.maximized = None;
                ui.hidden.clear();
                fix_focus(ui);
                vec![UiCommand::SetLayout(name)]
            } else {
                ui.error(format!("unknown layout {name:?} (known: {})", layout::LAYOUTS.join(", ")));
                Vec::new()
            }
        }
        Parsed::Quit => request_quit(ui, snap),
        Parsed::Help => {
            ui.overlay = Overlay::Help { scroll: 0 };
            Vec::new()
        }
        Parsed::Ack => vec![UiCommand::AcknowledgeAlerts],
        Parsed::Forward(UiCommand::Trade(text)) if snap.account.mode == Mode::Live => {
            live_trade_line(ui, snap, text)
        }
        Parsed::Forward(UiCommand::Trade(text)) => forward_trade_line(ui, text),
        Parsed::Forward(c) => {
            ui.info(format!("sent: {line}"));
            vec![c]
        }
        Parsed::Error(e) => {
            if !e.is_empty() {
                ui.error(e);
            }
            Vec::new()
        }
    }
}

/// A trading line typed in live mode. An order (`:buy`, `:sell`) is sized and validated
/// here from the snapshot and goes through the same confirmation as the form and the
/// ladder (default No); what is confirmed is the exact request sent. Other trading verbs
/// (cancel, stop, alert, kill…) pass through as text.
fn live_trade_line(ui: &mut UiState, snap: &Snapshot, text: String) -> Vec<UiCommand> {
    use crate::trading::input::{TradeCommand, parse_command};
    match parse_command(&text) {
        Ok(TradeCommand::Order(input)) => match order_form::preview_input(&input, ui.market.as_ref(), snap) {
            Ok(valid) => send_or_confirm(ui, snap, valid),
            Err(e) => {
                ui.error(format!(":{text}: {e} (not sent)"));
                Vec::new()
            }
        },
        _ => forward_trade_line(ui, text),
    }
}

/// A trading line passed to the trading side as text. A line the trading parser refuses
/// is said to be refused here, not "sent" (the trading side would only refuse it again,
/// as an alert).
fn forward_trade_line(ui: &mut UiState, text: String) -> Vec<UiCommand> {
    match crate::trading::input::parse_command(&text) {
        Ok(_) => {
            ui.info(format!("sent: {text}"));
            vec![UiCommand::Trade(text)]
        }
        Err(e) => {
            ui.error(format!(":{text}: {e} (not sent)"));
            Vec::new()
        }
    }
}

/// Keeps the focus on a visible pane.
fn fix_focus(ui: &mut UiState) {
    let visible = layout::visible_panes(ui, ui.area);
    if !visible.contains(&ui.focus)
        && let Some(p) = visible.first()
    {
        ui.focus = *p;
    }
}

fn cycle_focus(ui: &mut UiState, forward: bool) {
    let visible = layout::visible_panes(ui, ui.area);
    if visible.is_empty() {
        return;
    }
    let i = visible.iter().position(|p| *p == ui.focus).unwrap_or(0);
    let n = visible.len();
    ui.focus = visible[if forward { (i + 1) % n } else { (i + n - 1) % n }];
}

fn favorites_command(ui: &UiState) -> UiCommand {
    UiCommand::SaveFavorites(ui.favorites.iter().cloned().collect())
}

/// The market of the coin under the portfolio cursor (`KRW-BTC` for a BTC balance), or
/// the selected market when the portfolio is empty. Cash has nothing to protect.
fn protect_market(ui: &UiState, snap: &Snapshot) -> Option<MarketId> {
    let balances = &snap.account.balances;
    if balances.is_empty() {
        return ui.market.clone();
    }
    balances.get(ui.portfolio_cursor.min(balances.len() - 1))?.market()
}

/// The reducer: applies one action to the UI state, returns the commands it implies.
pub fn update(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    // Modal states first: they swallow every key.
    match ui.overlay {
        Overlay::ConfirmSuspend => {
            match action {
                Action::Confirm => {
                    ui.overlay = Overlay::None;
                    ui.suspend = true;
                }
                Action::Deny | Action::Back => ui.overlay = Overlay::None,
                _ => {}
            }
            return Vec::new();
        }
        Overlay::ConfirmQuit => {
            match action {
                Action::Confirm => {
                    ui.overlay = Overlay::None;
                    ui.quit = true;
                    return vec![UiCommand::Quit];
                }
                Action::Deny | Action::Back => ui.overlay = Overlay::None,
                _ => {}
            }
            return Vec::new();
        }
        Overlay::ConfirmOrder => {
            match action {
                Action::Confirm => {
                    ui.overlay = Overlay::None;
                    if let Some(v) = ui.pending_order.take() {
                        ui.info(format!("sent {} {}", v.request.side.label(), v.request.market));
                        return vec![UiCommand::PlaceOrder { request: v.request }];
                    }
                }
                Action::Deny | Action::Back | Action::Submit => {
                    ui.overlay = Overlay::None;
                    ui.pending_order = None;
                    ui.info("order not sent");
                }
                _ => {}
            }
            return Vec::new();
        }
        Overlay::Help { scroll } => {
            let max = ui.help.len().saturating_sub(1);
            ui.overlay = match action {
                Action::Help | Action::Back | Action::Quit => Overlay::None,
                Action::Up => Overlay::Help { scroll: scroll.saturating_sub(1) },
                Action::Down => Overlay::Help { scroll: (scroll + 1).min(max) },
                Action::PageUp => Overlay::Help { scroll: scroll.saturating_sub(10) },
                Action::PageDown => Overlay::Help { scroll: (scroll + 10).min(max) },
                _ => ui.overlay,
            };
            return Vec::new();
        }
        Overlay::None => {}
    }
    if let Some(cl) = ui.command_line.as_mut() {
        match action {
            Action::InsertChar(c) => {
                cl.input.push(c);
                cl.browsing = None;
            }
            Action::DeleteBack if cl.input.pop().is_none() => ui.command_line = None,
            Action::Back => ui.command_line = None,
            Action::HistoryPrev => cl.history_prev(&ui.history),
            Action::HistoryNext => cl.history_next(&ui.history),
            Action::Complete => cl.complete(&|i, verb| completions(snap, i, verb)),
            Action::Submit => {
                let line = cl.input.clone();
                ui.command_line = None;
                return run_command_line(ui, snap, &line);
            }
            _ => {}
        }
        return Vec::new();
    }
    if let Some(form) = ui.form.as_mut() {
        match action {
            Action::InsertChar(c) => form.insert(c),
            Action::DeleteBack => form.delete_back(),
            Action::Up | Action::FocusPrev => form.move_field(false),
            Action::Down | Action::FocusNext | Action::Complete => form.move_field(true),
            Action::TabNext => form.cycle(true),
            Action::TabPrev => form.cycle(false),
            Action::Back => ui.form = None,
            Action::Submit => match order_form::preview(form, snap) {
                Ok(valid) => {
                    ui.form = None;
                    return send_or_confirm(ui, snap, valid);
                }
                Err(e) => ui.error(e),
            },
            _ => {}
        }
        return Vec::new();
    }
    if ui.markets.searching {
        match action {
            Action::InsertChar(c) => {
                ui.markets.query.push(c);
                ui.markets.cursor = 0;
            }
            Action::DeleteBack => {
                ui.markets.query.pop();
                ui.markets.cursor = 0;
            }
            Action::Back => {
                ui.markets.searching = false;
                ui.markets.query.clear();
            }
            Action::Submit => {
                ui.markets.searching = false;
                let rows = visible_markets(ui, snap);
                if let Some(m) = rows.get(ui.markets.cursor).map(|m| m.market.clone()) {
                    return select_market(ui, m);
                }
            }
            Action::Up | Action::Down => {
                let len = visible_markets(ui, snap).len();
                ui.markets.cursor = move_cursor(ui.markets.cursor, len, action, 10);
            }
            _ => {}
        }
        return Vec::new();
    }

    match action {
        Action::Quit | Action::ForceQuit => return request_quit(ui, snap),
        Action::Help => ui.overlay = Overlay::Help { scroll: 0 },
        Action::OpenCommandLine => ui.command_line = Some(CommandLine::default()),
        Action::Protect => match protect_market(ui, snap) {
            Some(m) => {
                ui.command_line =
                    Some(CommandLine { input: format!("stop {m} -3%"), ..CommandLine::default() });
                ui.info("edit the stop and press enter (tp / trail work the same way)");
            }
            None => ui.error("no coin under the cursor to protect (KRW is cash)"),
        },
        Action::FocusNext => cycle_focus(ui, true),
        Action::FocusPane(p) => {
            if layout::visible_panes(ui, ui.area).contains(&p) {
                ui.focus = p;
            }
        }
        Action::FocusPrev => cycle_focus(ui, false),
        Action::Maximize => {
            ui.maximized = if ui.maximized.is_some() { None } else { Some(ui.focus) };
        }
        Action::HidePane => {
            if layout::visible_panes(ui, ui.area).len() > 1 {
                ui.maximized = None;
                ui.hidden.insert(ui.focus);
                fix_focus(ui);
            } else {
                ui.error("cannot hide the last pane");
            }
        }
        Action::ShowAllPanes => {
            ui.hidden.clear();
            ui.maximized = None;
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            match ui.focus {
                PaneId::Markets => {
                    let len = visible_markets(ui, snap).len();
                    ui.markets.cursor = move_cursor(ui.markets.cursor, len, action, 10);
                }
                PaneId::Orders => {
                    let len = snap.account.open_orders.len();
                    ui.orders_cursor = move_cursor(ui.orders_cursor, len, action, 5);
                }
                PaneId::Portfolio => {
                    let len = snap.account.balances.len();
                    ui.portfolio_cursor = move_cursor(ui.portfolio_cursor, len, action, 5);
                }
                PaneId::Orderbook => {
                    let levels = ui
                        .market
                        .as_ref()
                        .and_then(|m| snap.market.books.get(m))
                        .map(|b| b.value.levels.len().min(ui.book_depth))
                        .unwrap_or(ui.book_depth);
                    ui.book_cursor = move_cursor(ui.book_cursor, levels * 2, action, 5);
                }
                pane => {
                    let s = ui.scroll.entry(pane).or_default();
                    *s = match action {
                        Action::Up => s.saturating_sub(1),
                        Action::Down => *s + 1,
                        Action::PageUp => s.saturating_sub(10),
                        Action::PageDown => *s + 10,
                        Action::Top => 0,
                        // Clamped by the pane when drawing.
                        _ => usize::MAX / 2,
                    };
                }
            }
        }
        Action::Select => {
            if ui.focus == PaneId::Markets {
                let rows = visible_markets(ui, snap);
                if let Some(m) = rows.get(ui.markets.cursor).map(|m| m.market.clone()) {
                    return select_market(ui, m);
                }
            }
        }
        Action::Back => {
            ui.message = None;
            ui.maximized = None;
        }
        Action::TimeframeNext | Action::TimeframePrev => {
            let i = Timeframe::ALL.iter().position(|t| *t == ui.timeframe).unwrap_or(1);
            let j = if action == Action::TimeframeNext {
                (i + 1).min(Timeframe::ALL.len() - 1)
            } else {
                i.saturating_sub(1)
            };
            if i != j {
                return set_timeframe(ui, Timeframe::ALL[j]);
            }
        }
        Action::AckAlerts => return vec![UiCommand::AcknowledgeAlerts],
        Action::CancelOrder => {
            let order = snap
                .account
                .open_orders
                .get(ui.orders_cursor.min(snap.account.open_orders.len().saturating_sub(1)));
            match order {
                Some(o) => {
                    ui.info(format!("cancel {} {} sent", o.market, o.uuid));
                    return vec![UiCommand::CancelOrder { market: o.market.clone(), uuid: o.uuid.clone() }];
                }
                None => ui.error("no open order to cancel"),
            }
        }
        Action::KillSwitch => {
            let now = ui.now;
            match ui.kill_armed_at.take() {
                Some(at) if now.saturating_duration_since(at) <= KILL_CONFIRM_WINDOW => {
                    ui.error("KILL SWITCH: trading halted, cancelling every order");
                    return vec![UiCommand::KillSwitch];
                }
                _ => {
                    ui.kill_armed_at = Some(now);
                    ui.error(
                        "kill switch: press (or hold) it again within 2 s to HALT and cancel every order",
                    );
                }
            }
        }
        Action::OrderForm => match ui.market.clone() {
            Some(m) => {
                let last = snap.market.tickers.get(&m).map(|t| t.value.trade_price);
                ui.form = Some(OrderForm::new(m, last));
            }
            None => ui.error("select a market first"),
        },
        Action::CancelAll => {
            ui.info("cancel all sent");
            return vec![UiCommand::CancelAll { market: ui.market.clone() }];
        }
        Action::TabNext | Action::TabPrev => {
            let i = MarketTab::ALL.iter().position(|t| *t == ui.markets.tab).unwrap_or(0);
            let n = MarketTab::ALL.len();
            ui.markets.tab =
                MarketTab::ALL[if action == Action::TabNext { (i + 1) % n } else { (i + n - 1) % n }];
            ui.markets.cursor = 0;
        }
        Action::SortNext => {
            let i = SortColumn::ALL.iter().position(|c| *c == ui.markets.sort).unwrap_or(0);
            ui.markets.sort = SortColumn::ALL[(i + 1) % SortColumn::ALL.len()];
            ui.markets.ascending = false;
        }
        Action::SortReverse => ui.markets.ascending = !ui.markets.ascending,
        Action::Search => {
            ui.markets.searching = true;
            ui.markets.query.clear();
            ui.markets.cursor = 0;
        }
        Action::ToggleFavorite => {
            let rows = visible_markets(ui, snap);
            if let Some(m) = rows.get(ui.markets.cursor).map(|m| m.market.clone()) {
                if !ui.favorites.remove(&m) {
                    ui.favorites.insert(m);
                }
                return vec![favorites_command(ui)];
            }
        }
        Action::ToggleDepth => {
            let old = ui.book_depth;
            ui.book_depth = if old == 15 { 30 } else { 15 };
            ui.book_cursor = (ui.book_cursor + ui.book_depth).saturating_sub(old);
            return vec![UiCommand::SetDepth(ui.book_depth as u16)];
        }
        Action::LadderBuy | Action::LadderSell | Action::LadderCancel => {
            let Some(market) = ui.market.clone() else { return Vec::new() };
            let level = snap
                .market
                .books
                .get(&market)
                .and_then(|b| ladder_level(&b.value, ui.book_depth, ui.book_cursor));
            let Some((_, price)) = level else {
                ui.error("no book level under the cursor");
                return Vec::new();
            };
            return match action {
                Action::LadderBuy | Action::LadderSell => {
                    let side = if action == Action::LadderBuy { Side::Bid } else { Side::Ask };
                    // Checked: the level's price comes from the exchange (0 in an empty slot).
                    let volume = floor_volume(ui.config.ladder_quote.checked_div(price).unwrap_or_default());
                    if volume.is_zero() {
                        ui.error(format!(
                            "ladder size {} is below one unit at {price}",
                            ui.config.ladder_quote
                        ));
                        return Vec::new();
                    }
                    let request = OrderRequest::limit(market.clone(), side, price, volume);
                    let rules = MarketRules::upbit_default(&market);
                    match validate(&request, &rules, Some(price)) {
                        Ok(valid) => send_or_confirm(ui, snap, valid),
                        Err(e) => {
                            ui.error(e.to_string());
                            Vec::new()
                        }
                    }
                }
                _ => {
                    let cmds: Vec<UiCommand> = snap
                        .account
                        .open_orders
                        .iter()
                        .filter(|o| o.market == market && o.price == Some(price))
                        .map(|o| UiCommand::CancelOrder { market: o.market.clone(), uuid: o.uuid.clone() })
                        .collect();
                    if cmds.is_empty() {
                        ui.error(format!("no open order at {price}"));
                    }
                    cmds
                }
            };
        }
        Action::LogLevelNext => ui.log_level = ui.log_level.next(),
        Action::Confirm
        | Action::Deny
        | Action::Submit
        | Action::Complete
        | Action::HistoryPrev
        | Action::HistoryNext
        | Action::DeleteBack
        | Action::InsertChar(_) => {}
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::Ticker;
    use crate::store::{Store, StoreEvent};

    fn info(code: &str) -> MarketInfo {
        MarketInfo {
            market: MarketId::new(code),
            korean_name: code.into(),
            english_name: code.into(),
            warning: false,
            caution: false,
        }
    }

    fn snap() -> std::sync::Arc<Snapshot> {
        let mut s = Store::new();
        s.apply_batch(
            [
                StoreEvent::MarketsLoaded(vec![info("KRW-BTC"), info("KRW-ETH")]),
                StoreEvent::TickerUpdated(Ticker {
                    market: Some(MarketId::new("KRW-BTC")),
                    trade_price: Decimal::from(100),
                    ..Ticker::default()
                }),
            ],
            Instant::now(),
        )
    }

    #[test]
    fn the_first_market_is_krw_btc_whatever_ticker_came_first() {
        let mut store = Store::new();
        let mut ui = UiState::new(UiConfig::default());
        // Nothing listed yet: nothing to select.
        assert!(on_snapshot(&mut ui, &store.snapshot()).is_empty());
        assert_eq!(ui.market, None);
        let eth_first = store.apply_batch(
            [
                StoreEvent::MarketsLoaded(vec![info("KRW-ADA"), info("KRW-BTC"), info("KRW-ETH")]),
                StoreEvent::TickerUpdated(Ticker {
                    market: Some(MarketId::new("KRW-ETH")),
                    trade_price: Decimal::from(100),
                    acc_trade_price_24h: Decimal::from(1_000_000),
                    ..Ticker::default()
                }),
            ],
            Instant::now(),
        );
        on_snapshot(&mut ui, &eth_first);
        assert_eq!(ui.market, Some(MarketId::new("KRW-BTC")));
        // Without KRW-BTC listed, the list's first row is taken.
        let mut ui = UiState::new(UiConfig::default());
        let no_btc =
            Store::new().apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-XRP")])], Instant::now());
        on_snapshot(&mut ui, &no_btc);
        assert_eq!(ui.market, Some(MarketId::new("KRW-XRP")));
    }

    #[test]
    fn maximise_hide_and_show_all() {
        let s = snap();
        let mut ui = UiState::new(UiConfig::default());
        update(&mut ui, Action::Maximize, &s);
        assert_eq!(layout::visible_panes(&ui, ui.area), vec![PaneId::Markets]);
        update(&mut ui, Action::HidePane, &s);
        assert!(ui.message.as_ref().is_some_and(|m| m.error), "cannot hide the only visible pane");
        update(&mut ui, Action::Maximize, &s);
        update(&mut ui, Action::HidePane, &s);
        assert!(!layout::visible_panes(&ui, ui.area).contains(&PaneId::Markets));
        assert_ne!(ui.focus, PaneId::Markets, "focus moves off a hidden pane");
        update(&mut ui, Action::ShowAllPanes, &s);
        assert!(layout::visible_panes(&ui, ui.area).contains(&PaneId::Markets));
    }

    #[test]
    fn command_line_backspace_on_empty_closes_and_unknown_market_is_refused() {
        let s = snap();
        let mut ui = UiState::new(UiConfig::default());
        update(&mut ui, Action::OpenCommandLine, &s);
        update(&mut ui, Action::DeleteBack, &s);
        assert!(ui.command_line.is_none());
        update(&mut ui, Action::OpenCommandLine, &s);
        for c in "market KRW-NOPE".chars() {
            update(&mut ui, Action::InsertChar(c), &s);
        }
        assert!(update(&mut ui, Action::Submit, &s).is_empty());
        assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("KRW-NOPE")));
    }

    #[test]
    fn search_puts_the_exact_code_first_then_prefixes() {
        let mut s = (*snap()).clone();
        let info = |c: &str, en: &str| MarketInfo {
            market: MarketId::new(c),
            korean_name: c.into(),
            english_name: en.into(),
            warning: false,
            caution: false,
        };
        std::sync::Arc::make_mut(&mut s.market).markets = std::sync::Arc::new(vec![
            info("KRW-ETC", "Ethereum Classic"),
            info("KRW-ETHFI", "Ether.fi"),
            info("KRW-ETH", "Ethereum"),
        ]);
        let mut ui = UiState::new(UiConfig::default());
        ui.markets.query = "eth".into();
        let rows: Vec<&str> = visible_markets(&ui, &s).iter().map(|m| m.market.as_str()).collect();
        assert_eq!(rows, ["KRW-ETH", "KRW-ETHFI", "KRW-ETC"]);
    }

    #[test]
    fn protect_key_in_the_portfolio_prefills_a_stop_for_the_coin_under_the_cursor() {
        use rust_decimal::Decimal;
        use std::sync::Arc;
        let mut s = snap();
        let mut ui = UiState::new(UiConfig::default());
        ui.focus = PaneId::Portfolio;
        assert_eq!(ui.context(), Context::Portfolio);
        // Empty portfolio: falls back to the selected market, or says why not.
        ui.market = None;
        update(&mut ui, Action::Protect, &s);
        assert!(ui.command_line.is_none());
        ui.market = Some(MarketId::new("KRW-BTC"));
        update(&mut ui, Action::Protect, &s);
        assert_eq!(ui.command_line.as_ref().map(|c| c.input.as_str()), Some("stop KRW-BTC -3%"));
        ui.command_line = None;
        let bal = |c: &str| crate::exchange::types::Balance {
            currency: c.into(),
            unit_currency: "KRW".into(),
            balance: Decimal::ONE,
            ..Default::default()
        };
        let mut snapshot = (*s).clone();
        Arc::make_mut(&mut snapshot.account).balances = Arc::new(vec![bal("KRW"), bal("ETH")]);
        s = Arc::new(snapshot);
        // Cursor on cash: nothing to protect.
        update(&mut ui, Action::Protect, &s);
        assert!(ui.command_line.is_none());
        update(&mut ui, Action::Down, &s);
        update(&mut ui, Action::Protect, &s);
        assert_eq!(ui.command_line.as_ref().map(|c| c.input.as_str()), Some("stop KRW-ETH -3%"));
    }

    #[test]
    fn depth_toggle_and_kill_switch_emit_commands() {
        let s = snap();
        let mut ui = UiState::new(UiConfig::default());
        assert_eq!(update(&mut ui, Action::ToggleDepth, &s), vec![UiCommand::SetDepth(30)]);
        assert_eq!(ui.book_cursor, 30, "cursor stays on the best bid");
        assert!(update(&mut ui, Action::KillSwitch, &s).is_empty(), "one press only arms it");
        assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("again")));
        assert_eq!(update(&mut ui, Action::KillSwitch, &s), vec![UiCommand::KillSwitch]);
        // A press long after the first one arms again instead of firing.
        assert!(update(&mut ui, Action::KillSwitch, &s).is_empty());
        ui.now += KILL_CONFIRM_WINDOW + Duration::from_millis(1);
        assert!(update(&mut ui, Action::KillSwitch, &s).is_empty());
        assert!(update(&mut ui, Action::Quit, &s).contains(&UiCommand::Quit), "nothing to lose: quits");
    }

    #[test]
    fn order_form_needs_a_market_and_closes_on_back() {
        let s = snap();
        let mut ui = UiState::new(UiConfig::default());
        update(&mut ui, Action::OrderForm, &s);
        assert!(ui.form.is_none());
        on_snapshot(&mut ui, &s);
        update(&mut ui, Action::OrderForm, &s);
        assert_eq!(ui.form.as_ref().map(|f| f.price.as_str()), Some("100"));
        assert_eq!(ui.context(), Context::Form);
        update(&mut ui, Action::Back, &s);
        assert!(ui.form.is_none());
    }

    #[test]
    fn a_trading_line_the_parser_refuses_is_not_said_to_be_sent() {
        // `:unarm` without a target used to show "sent: unarm" while the trading side
        // refused it (an alert elsewhere on the screen).
        for mode in [Mode::Demo, Mode::Paper, Mode::Live] {
            let mut ui = UiState::new(UiConfig::default());
            let mut snapshot = Snapshot::default();
            std::sync::Arc::make_mut(&mut snapshot.account).mode = mode;
            let cmds = run_command_line(&mut ui, &snapshot, "unarm");
            assert!(cmds.is_empty(), "{mode:?}: {cmds:?}");
            let msg = ui.message.as_ref().expect("a message");
            assert!(
                msg.error && msg.text.contains("not sent") && !msg.text.starts_with("sent"),
                "{mode:?}: {}",
                msg.text
            );
            // A line it accepts is still forwarded and said to be sent.
            let cmds = run_command_line(&mut ui, &snapshot, "unarm KRW-BTC");
            assert_eq!(cmds, vec![UiCommand::Trade("unarm KRW-BTC".into())], "{mode:?}");
            assert!(ui.message.as_ref().is_some_and(|m| !m.error && m.text == "sent: unarm KRW-BTC"));
        }
    }
}
