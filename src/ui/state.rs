//! Everything the UI owns besides the store's snapshot: focus, cursors, inputs, the
//! open overlay, the message line and the requests it is waiting to hear about. The
//! reducer ([`super::update()`]) changes it; the panes read it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use rust_decimal::Decimal;

use super::command_line::{CommandLine, History};
use super::keymap::Context;
use super::layout::PaneId;
use super::order_form::OrderForm;
use super::requests::Requests;
use crate::config::change::ConfigChange;
use crate::exchange::types::{MarketId, MarketInfo, Timeframe};
use crate::store::{LogLevel, Snapshot};
use crate::trading::manager::Origin;
use crate::trading::orders::ValidOrder;

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
    /// Trades worth at least this much (quote currency) are highlighted, whatever the
    /// market's usual print.
    pub large_trade_value: Decimal,
    /// Trades worth at least this many times the median of the market's recent prints
    /// are highlighted (`[ui] large_trade_multiple`).
    pub large_trade_multiple: Decimal,
    /// Frames per second cap.
    pub fps: u32,
    /// Where favorites are persisted.
    pub favorites_path: Option<PathBuf>,
    /// Names in the markets list.
    pub names: NameLanguage,
    /// Markets rows tinted by their 24 h change at start (`[ui] heatmap`; `H` toggles).
    pub heatmap: bool,
    /// Theme at start.
    pub theme: String,
    /// Layout at start.
    pub layout: String,
    /// Ladder trading: quote amount (KRW) per ladder buy/sell.
    pub ladder_quote: Decimal,
    /// Order book levels per side at start (5, 15 or 30).
    pub book_depth: usize,
    /// Capture the mouse (click to focus and select, wheel to scroll). Off: the terminal
    /// (and tmux) keeps the mouse for selecting text.
    pub mouse: bool,
    /// Which colours mean rise / bid and fall / ask.
    pub colors: crate::config::settings::ColorConvention,
    /// The risk gate's price band (`[trading] price_band_pct`, percent of the last
    /// price; None = no band): the order form warns before Enter, not after.
    pub price_band_pct: Option<Decimal>,
    /// Where the UI state (theme, layout, market, timeframe) and the saved layouts are kept
    /// across restarts (the data directory); None: nothing is read or written.
    pub state_dir: Option<PathBuf>,
    /// `--theme` was given: for this run it wins over the saved theme.
    pub theme_from_flag: bool,
    /// The per-order cap and what a protective exit does past it (`[trading]`), for the
    /// preview of a rule before it arms.
    pub exits: crate::trading::rules::ExitPolicy,
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
            heatmap: s.heatmap,
            book_depth: match s.orderbook_levels {
                5 => 5,
                30 => 30,
                _ => 15,
            },
            colors: s.colors,
            mouse: s.mouse,
            large_trade_multiple: s.large_trade_multiple,
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
            large_trade_multiple: Decimal::from(5),
            fps: 30,
            favorites_path: None,
            names: NameLanguage::Korean,
            heatmap: false,
            theme: "dark".into(),
            layout: "default".into(),
            ladder_quote: Decimal::from(10_000),
            book_depth: 15,
            mouse: true,
            colors: crate::config::settings::ColorConvention::Korean,
            price_band_pct: Some(Decimal::from(5)),
            state_dir: None,
            theme_from_flag: false,
            exits: crate::trading::rules::ExitPolicy::default(),
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
    /// The kimchi premium against Upbit's `KRW-USDT` (markets without one last).
    Kimp,
    /// 24 h traded value.
    #[default]
    Value,
    /// Data age.
    Age,
}

impl SortColumn {
    /// Every column, in the order the sort key cycles through them.
    pub const ALL: [SortColumn; 7] = [
        SortColumn::Code,
        SortColumn::Name,
        SortColumn::Price,
        SortColumn::Change,
        SortColumn::Kimp,
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
            SortColumn::Kimp => "kimp",
            SortColumn::Value => "value",
            SortColumn::Age => "age",
        }
    }

    /// The column a [`SortColumn::label`] names.
    pub fn from_label(label: &str) -> Option<SortColumn> {
        SortColumn::ALL.into_iter().find(|c| c.label() == label)
    }
}

/// The markets list's view state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketsView {
    /// Active tab.
    pub tab: MarketTab,
    /// Sort column.
    pub sort: SortColumn,
    /// Reverse the column's natural order (text and age smallest first, numbers largest
    /// first); the header's `▲` / `▼` shows the direction that results.
    pub(crate) ascending: bool,
    /// Cursor row.
    pub cursor: usize,
    /// Search input is active.
    pub(crate) searching: bool,
    /// Search text (kept after Enter as a filter).
    pub query: String,
    /// The top-movers view: the tab's five biggest gainers and five biggest losers.
    pub movers: bool,
    /// Rows tinted by their 24 h change.
    pub heatmap: bool,
}

/// How many gainers (and how many losers) the top-movers view lists.
pub(crate) const MOVERS: usize = 5;

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
    /// Confirm [`UiState::pending_order`] (default No): every live order, and a ladder
    /// order in every mode.
    ConfirmOrder,
    /// Ctrl-Z while rules are armed: "Suspend? armed rules will not fire while stopped.
    /// y/N" (a stopped process watches nothing).
    ConfirmSuspend,
    /// The preview of a rule before it arms (or of `:unarm` of every rule): confirm
    /// [`UiState::pending_rule`]. Enter arms an ordinary rule; when arming would sell at
    /// once (the trigger is already past) or remove every rule, only `y` does (default No).
    ConfirmRule,
    /// The alert history (`:alerts`), newest first.
    Alerts {
        /// Alerts scrolled past (the first shown is this one).
        scroll: usize,
        /// How many of the newest were unread when it opened (they are marked).
        new: usize,
    },
}

/// A rule waiting for its preview to be confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRule {
    /// The request sent on Yes (its levels fixed to the prices shown).
    pub intent: crate::trading::intent::TradeIntent,
    /// The line as typed (the message line's label).
    pub text: String,
    /// The overlay's title.
    pub title: String,
    /// What it resolved to: trigger(s) on the tick grid, distance from the last price, the
    /// anchor, what is sold and how.
    pub lines: Vec<String>,
    /// Why it is unusual, in words (empty when it is not).
    pub warnings: Vec<String>,
    /// Default No: Enter does not confirm (the trigger is already past, or every rule
    /// would be removed).
    pub default_no: bool,
}

/// A one-line message on the bottom line. It stays until the next message, or until it is
/// older than [`Message::ttl`] (an `unknown timeframe` stayed for minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Text.
    pub text: String,
    /// Shown in the error style.
    pub error: bool,
    /// When it was said (the UI's clock, [`UiState::now`]).
    pub at: Instant,
}

impl Message {
    /// How long it is shown: a refusal longer than news, so it is read.
    pub fn ttl(&self) -> Duration {
        if self.error { Duration::from_secs(30) } else { Duration::from_secs(10) }
    }

    /// Whether it is still shown at `now`.
    pub fn shown_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) < self.ttl()
    }
}

/// An order validated and waiting for the live-mode confirmation, with who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOrder {
    /// The exact order sent on Yes.
    pub order: ValidOrder,
    /// The order form or a command line ([`Origin::Manual`]), or the ladder.
    pub origin: Origin,
}

/// How long the first press of the kill switch waits for its confirming second press.
pub(crate) const KILL_CONFIRM_WINDOW: Duration = Duration::from_secs(2);

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
    /// The venue the market panes show (`:venue`): Upbit, or a read-only one (Binance).
    pub venue: crate::exchange::VenueId,
    /// The venues that can be shown, and the market and tab last shown on each.
    pub venues: super::venue::Venues,
    /// Selected market.
    pub market: Option<MarketId>,
    /// Chart timeframe.
    pub timeframe: Timeframe,
    /// How the chart is looked at: studies, scale, scroll, cursor, compared markets.
    pub chart: super::chart_view::ChartView,
    /// Markets list view.
    pub markets: MarketsView,
    /// Favorite markets.
    pub favorites: BTreeSet<MarketId>,
    /// Layouts saved with `:layout save NAME`.
    pub saved_layouts: super::layout::SavedLayouts,
    /// The market to show first when the exchange lists it (the last one shown before a
    /// restart); None: the exchange's main market.
    pub start_market: Option<MarketId>,
    /// Order book levels per side (5, 15 or 30).
    pub(crate) book_depth: usize,
    /// Order book grouping step: 0 none, 1 to 3 groups 10, 100, 1000 ticks
    /// (`crate::store::grouping`). While grouped the ladder trades at the best prices only.
    pub book_group: u8,
    /// The order book pane draws the depth chart instead of the ladder.
    pub book_chart: bool,
    /// The ladder cursor: the price it is on (`None`: not moved yet; `b` then buys at the
    /// best bid and `s` sells at the best ask of the moment, and that price becomes the
    /// cursor). A price, not a row: the book moves under it, and `c` must find our order
    /// there.
    pub book_price: Option<Decimal>,
    /// Cursor in the orders pane's open orders.
    pub(crate) orders_cursor: usize,
    /// Cursor row in the portfolio pane (one row per balance).
    pub(crate) portfolio_cursor: usize,
    /// Minimum level in the log pane.
    pub(crate) log_level: LogLevel,
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
    pub hints: crate::ui::keymap::Hints,
    /// Set once quitting was decided.
    pub quit: bool,
    /// Set when suspending (Ctrl-Z) was confirmed; the app stops the process and clears it.
    pub suspend: bool,
    /// The open order entry form.
    pub form: Option<OrderForm>,
    /// When the kill switch was pressed once: a second press (or the key held down, which
    /// repeats) within [`KILL_CONFIRM_WINDOW`] fires it, so a stray key cannot halt trading.
    pub(crate) kill_armed_at: Option<Instant>,
    /// An order waiting for the live-mode confirmation.
    pub pending_order: Option<PendingOrder>,
    /// A rule waiting for its "sell now?" answer.
    pub pending_rule: Option<PendingRule>,
    /// The requests sent and not yet fully answered (their replies go on the message line).
    pub requests: Requests,
    /// Config changes the change gate accepted that the app applies (theme, keymap);
    /// the app takes them after each snapshot.
    pub accepted: Vec<ConfigChange>,
}

impl UiState {
    /// Fresh state with the given settings.
    pub fn new(config: UiConfig) -> Self {
        let depth = config.book_depth;
        let heatmap = config.heatmap;
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
            venue: crate::exchange::VenueId::Upbit,
            venues: Default::default(),
            market: None,
            timeframe: Timeframe::M1,
            chart: super::chart_view::ChartView {
                studies: crate::indicators::series::Study::DEFAULTS.to_vec(),
                ..Default::default()
            },
            markets: MarketsView { heatmap, ..MarketsView::default() },
            favorites: BTreeSet::new(),
            saved_layouts: Default::default(),
            start_market: None,
            book_depth: depth,
            book_group: 0,
            book_chart: false,
            book_price: None,
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
            hints: Default::default(),
            quit: false,
            suspend: false,
            form: None,
            pending_order: None,
            pending_rule: None,
            requests: Requests::default(),
            accepted: Vec::new(),
        }
    }

    /// The keymap context for the next key.
    pub fn context(&self) -> Context {
        // A rule's preview arms on Enter (a dialog's Enter is No): its keys are read as a
        // line's (Enter, Esc, and `y` / `n` typed). One that would sell at once, or remove
        // every rule, stays a dialog, default No.
        if self.overlay == Overlay::ConfirmRule && self.pending_rule.as_ref().is_some_and(|p| !p.default_no) {
            return Context::CommandLine;
        }
        if matches!(
            self.overlay,
            Overlay::ConfirmQuit | Overlay::ConfirmOrder | Overlay::ConfirmSuspend | Overlay::ConfirmRule
        ) {
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

    /// Puts an informational message on the bottom line.
    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), error: false, at: self.now });
    }

    /// Puts an error on the bottom line.
    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message { text: text.into(), error: true, at: self.now });
    }
}

/// The display name of a market in the configured language.
pub(crate) fn display_name(info: &MarketInfo, lang: NameLanguage) -> &str {
    match lang {
        NameLanguage::Korean => &info.korean_name,
        NameLanguage::English => &info.english_name,
    }
}

/// Rows of the markets list in display order: tab, search filter and sort applied.
pub(crate) fn visible_markets<'a>(ui: &UiState, snap: &'a Snapshot) -> Vec<&'a MarketInfo> {
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
    // The premium is looked up once a row too, and only when it is the key.
    let kimp: std::collections::HashMap<&MarketId, Decimal> = if ui.markets.sort == SortColumn::Kimp {
        rows.iter()
            .filter_map(|m| Some((&m.market, crate::ui::widgets::premium::kimp(ui, snap, &m.market)?)))
            .collect()
    } else {
        Default::default()
    };
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
            // A market without a premium (no pair abroad, or a stale one) runs last in
            // either direction: `—` is no number to rank.
            SortColumn::Kimp => match (kimp.get(&a.market), kimp.get(&b.market)) {
                (Some(x), Some(y)) => {
                    let ord = y.cmp(x);
                    if ui.markets.ascending { ord.reverse() } else { ord }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
            SortColumn::Age => {
                let age = |t: Option<&std::sync::Arc<crate::store::Stamped<_>>>| {
                    t.map(|t| t.age(now)).unwrap_or(Duration::MAX)
                };
                age(ta).cmp(&age(tb))
            }
        };
        // The premium's direction is applied above (its blanks stay last).
        let ord =
            if ui.markets.ascending && ui.markets.sort != SortColumn::Kimp { ord.reverse() } else { ord };
        ord.then_with(|| a.market.cmp(&b.market))
    });
    if ui.markets.movers {
        return movers(keyed);
    }
    let mut rows: Vec<&MarketInfo> = keyed.into_iter().map(|(m, _)| m).collect();
    // Favourites first, in the column's order (a stable sort keeps it).
    if !ui.favorites.is_empty() {
        rows.sort_by_key(|m| !ui.favorites.contains(&m.market));
    }
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

/// The top-movers view of a tab: its [`MOVERS`] biggest risers by 24 h change, biggest
/// first, then its [`MOVERS`] biggest fallers, biggest fall first. A market that did not
/// move, or has no price yet, is neither.
fn movers<'a>(
    keyed: Vec<(
        &'a MarketInfo,
        Option<&std::sync::Arc<crate::store::Stamped<crate::exchange::types::Ticker>>>,
    )>,
) -> Vec<&'a MarketInfo> {
    let mut moved: Vec<(&MarketInfo, Decimal)> =
        keyed.into_iter().filter_map(|(m, t)| t.map(|t| (m, t.value.signed_change_rate))).collect();
    moved.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.market.cmp(&b.0.market)));
    let gainers = moved.iter().filter(|(_, c)| c.is_sign_positive() && !c.is_zero()).take(MOVERS);
    let losers = moved.iter().rev().filter(|(_, c)| c.is_sign_negative() && !c.is_zero()).take(MOVERS);
    gainers.chain(losers).map(|(m, _)| *m).collect()
}
