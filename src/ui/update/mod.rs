//! The pure reducer: `update(&mut UiState, Action, &Snapshot) -> Vec<UiCommand>`.
//!
//! The reducer never does I/O and never writes the store: it changes UI-local state
//! (focus, cursors, inputs) and returns [`UiCommand`]s, requests the app sends out for the
//! feed, trading and config handlers. That keeps every key's effect unit-testable.
//!
//! A key goes to the topmost modal layer that is open, which takes it: an overlay
//! (`overlay`: confirmations, help), the command line (`command_line`), the order form
//! (`order_form`), the markets search (`search`). With none open it acts on the focused
//! pane (`normal`; the order book's ladder keys in `ladder`). The answers to what was sent
//! come back in snapshots ([`on_replies`]).

mod command_line;
mod ladder;
mod normal;
mod order_form;
mod overlay;
mod replies;
mod search;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_chart;
#[cfg(test)]
mod tests_commands;
#[cfg(test)]
mod tests_orders;
#[cfg(test)]
mod tests_rules;
#[cfg(test)]
mod tests_studies;
#[cfg(test)]
mod tests_venue;
mod transfer;
pub(crate) mod venue;

pub(crate) use ladder::cursor_row as ladder_cursor_row;
pub use replies::on_replies;

use super::action::Action;
use super::layout;
use super::state::{Overlay, PendingOrder, UiState};
// The reducer's tests read the markets list through `super::*`.
#[cfg(test)]
use super::state::visible_markets;
use crate::bus::{CorrelationId, Lane};
use crate::config::change::{ConfigChange, ConfigRequest};
use crate::exchange::types::{MarketId, Timeframe};
use crate::store::{Mode, Snapshot};
use crate::trading::intent::{Requester, TradeIntent, TradeRequest};
use crate::trading::manager::{Origin, PlaceSpec};
use crate::trading::orders::{OrderRequest, ValidOrder};

/// What leaves the UI: typed requests for the feed, trading, the safety side and config,
/// each for one bus lane ([`UiCommand::lane`]). The app sends them through a
/// [`super::sink::CommandSink`], which never drops a Trading or Safety one; it handles
/// [`UiCommand::SaveFavorites`] itself.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    /// Show this market: subscribe its ticker, book and trades, release the old ones.
    /// Always followed by a [`UiCommand::SetTimeframe`] with the chart's timeframe.
    SelectMarket(MarketId),
    /// Show this chart timeframe for the selected market: load history, subscribe candles.
    SetTimeframe(Timeframe),
    /// Order book levels per side for the selected market (5, 15 or 30).
    SetDepth(u16),
    /// Order book grouping step (0 = none, 1 to 3: 10, 100, 1000 ticks): Upbit's grouped
    /// book is asked for where the market has one (`crate::store::grouping`).
    SetBookGroup(u8),
    /// The chart's view reaches this many candles back from the newest of this series
    /// (scroll offset plus what it shows): older pages load by REST as it nears the
    /// oldest loaded candle.
    ChartReach {
        /// The shown market.
        market: MarketId,
        /// The chart's timeframe.
        timeframe: Timeframe,
        /// Candles back from the newest.
        reach: usize,
    },
    /// Markets compared with the shown one on the chart (empty: none): their candles are
    /// loaded and followed at the chart's timeframe.
    ChartCompare(Vec<MarketId>),
    /// A trading request: the order form, the ladder, a trading command line (parsed
    /// here), a cancel, cancel all, the kill switch. Its reply comes back in the store
    /// (`snapshot.account.replies`) under its id.
    Trade(TradeRequest),
    /// `:resume`: lift a halt (Safety lane), numbered like a request.
    Resume(CorrelationId),
    /// A config change: theme, layout, `:reload keymap`, `:set key value` (`:set!`
    /// cannot wait). Theme, layout and keymap changes are applied by the UI only when the
    /// reply for this request says accepted.
    Config(ConfigRequest),
    /// The user saw the alerts (store: `AlertsAcknowledged`).
    AcknowledgeAlerts,
    /// Favorites changed (UI-local: the app writes the favorites file).
    SaveFavorites(Vec<MarketId>),
    /// Show this venue's markets in the market panes (`:venue binance`): the market, book,
    /// trades and chart commands that follow are that venue's. Only Upbit trades.
    SetVenue(crate::exchange::VenueId),
    /// Quit the application (already confirmed when something was at stake).
    Quit,
}

impl UiCommand {
    /// The bus lane the command travels on.
    pub fn lane(&self) -> Lane {
        match self {
            UiCommand::Trade(_) => Lane::Trading,
            UiCommand::Resume(_) => Lane::Safety,
            UiCommand::Config(_) => Lane::Config,
            UiCommand::SelectMarket(_)
            | UiCommand::SetTimeframe(_)
            | UiCommand::SetDepth(_)
            | UiCommand::SetBookGroup(_)
            | UiCommand::ChartReach { .. }
            | UiCommand::ChartCompare(_)
            | UiCommand::SetVenue(_)
            | UiCommand::AcknowledgeAlerts
            | UiCommand::SaveFavorites(_)
            | UiCommand::Quit => Lane::Command,
        }
    }

    /// The id of a numbered request (trade, resume, config).
    pub fn id(&self) -> Option<CorrelationId> {
        match self {
            UiCommand::Trade(r) => Some(r.id),
            UiCommand::Resume(id) => Some(*id),
            UiCommand::Config(r) => Some(r.id),
            _ => None,
        }
    }
}

/// The market selected at start when the exchange lists it.
pub(crate) const DEFAULT_MARKET: &str = "KRW-BTC";

/// The reducer: applies one action to the UI state, returns the commands it implies.
pub fn update(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    // Modal layers first, topmost first: each swallows every key.
    if matches!(ui.overlay, Overlay::Alerts { .. }) {
        overlay::alerts_key(ui, action, snap.system.alerts.len());
        Vec::new()
    } else if ui.overlay != Overlay::None {
        overlay::key(ui, action)
    } else if ui.command_line.is_some() {
        command_line::key(ui, action, snap)
    } else if ui.form.is_some() {
        order_form::key(ui, action, snap)
    } else if ui.markets.searching {
        search::key(ui, action, snap)
    } else {
        normal::key(ui, action, snap)
    }
}

/// Called when a new snapshot arrives: picks a first market once the list is known (and
/// again after a venue switch, from that venue's list).
pub fn on_snapshot(ui: &mut UiState, snap: &Snapshot) -> Vec<UiCommand> {
    if ui.market.is_some() || snap.market.markets.is_empty() {
        return Vec::new();
    }
    // The first market shown is the one shown last on this venue (before a restart, or
    // before a switch to another venue), else the venue's main one, when listed: the
    // list's own first row depends on which tickers happened to arrive first.
    match venue::first_market(ui, snap) {
        Some(m) => {
            let mut cmds = select_market(ui, m);
            // The compared markets kept from the last session are followed again.
            if !ui.chart.compare.is_empty() {
                cmds.push(UiCommand::ChartCompare(ui.chart.compare.clone()));
            }
            cmds
        }
        None => Vec::new(),
    }
}

/// Sends a trading intent: numbered, followed until its reply, and announced as being
/// sent (never as done: the reply says how it went).
fn trade(ui: &mut UiState, intent: TradeIntent, label: &str) -> Vec<UiCommand> {
    let req = TradeRequest::new(Requester::Ui, intent);
    let what = req.intent.summary();
    ui.requests.track(req.id, what, None);
    if let Some(order) = super::requests::OrderDesc::of(&req.intent) {
        ui.requests.describe(req.id, order);
    }
    ui.info(format!("{label} {}: sending", req.id));
    vec![UiCommand::Trade(req)]
}

/// Sends an order the form, a command line or the ladder built, in venue terms.
fn place(ui: &mut UiState, request: OrderRequest, origin: Origin) -> Vec<UiCommand> {
    let intent = TradeIntent::Place {
        spec: PlaceSpec::Request(request),
        origin,
        identifier: None,
        selected: ui.market.clone(),
    };
    // Announced as the Orders pane describes it (`buy KRW-BTC 0.001 @ 145,000,000`, a
    // market buy by its amount): numbers as the screen shows them, never raw decimals.
    let label = super::requests::OrderDesc::of(&intent).map(|d| d.text()).unwrap_or_default();
    trade(ui, intent, &label)
}

/// Sends a config change. Theme, layout and keymap changes are applied once accepted
/// (see [`on_replies`]); `can_wait: false` asks to be refused rather than held.
fn config(ui: &mut UiState, change: ConfigChange, can_wait: bool) -> Vec<UiCommand> {
    let req = ConfigRequest { can_wait, ..ConfigRequest::new(change) };
    let what = req.change.summary();
    ui.requests.track(req.id, what.clone(), Some(req.change.clone()));
    ui.info(format!("{what} {}: sending", req.id));
    vec![UiCommand::Config(req)]
}

/// Opens the alert history and acknowledges every alert (the unread count goes to zero);
/// the ones unread until now stay marked while it is open.
fn open_alerts(ui: &mut UiState, snap: &Snapshot) -> Vec<UiCommand> {
    ui.overlay = Overlay::Alerts { scroll: 0, new: snap.system.unread_alerts() };
    vec![UiCommand::AcknowledgeAlerts]
}

/// Sends `:resume`.
fn resume(ui: &mut UiState) -> Vec<UiCommand> {
    let id = CorrelationId::mint();
    ui.requests.track(id, "resume", None);
    ui.info(format!("resume {id}: sending"));
    vec![UiCommand::Resume(id)]
}

/// Sends a validated manual or ladder order, or in live mode opens the confirmation
/// (default No).
fn send_or_confirm(ui: &mut UiState, snap: &Snapshot, valid: ValidOrder, origin: Origin) -> Vec<UiCommand> {
    if snap.account.mode == Mode::Live {
        ui.pending_order = Some(PendingOrder { order: valid, origin });
        ui.overlay = Overlay::ConfirmOrder;
        return Vec::new();
    }
    place(ui, valid.request, origin)
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
    ui.book_price = None;
    // Another market's history: the chart shows its newest candles, no cursor.
    ui.chart.to_newest();
    vec![UiCommand::SelectMarket(m.clone()), UiCommand::SetTimeframe(ui.timeframe)]
}

fn set_timeframe(ui: &mut UiState, tf: Timeframe) -> Vec<UiCommand> {
    ui.timeframe = tf;
    ui.chart.to_newest();
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

/// Keeps the focus on a visible pane.
fn fix_focus(ui: &mut UiState) {
    let visible = layout::visible_panes(ui, ui.area);
    if !visible.contains(&ui.focus)
        && let Some(p) = visible.first()
    {
        ui.focus = *p;
    }
}
