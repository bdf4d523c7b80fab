//! `:venue` and its key: the market panes switch to another venue's markets, and what
//! is refused while a venue that does not trade is shown (see [`crate::ui::venue`]).

use super::UiCommand;
use crate::exchange::VenueId;
use crate::exchange::types::MarketId;
use crate::store::Snapshot;
use crate::trading::intent::TradeIntent;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::venue;

/// `:venue NAME` or the key: shows `to`'s markets. The market shown on the venue left is
/// remembered; the market of `to` is chosen by [`super::on_snapshot`] from `to`'s own
/// list once the app shows its snapshot (the one shown there last, else its main one).
/// Sends [`UiCommand::SetVenue`], then the book's depth and grouping, which the other
/// venue's selection does not know yet.
pub(crate) fn switch(ui: &mut UiState, to: VenueId) -> Vec<UiCommand> {
    ui.venues.restore = None;
    if to == ui.venue {
        ui.info(format!("already showing {}", to.name()));
        return Vec::new();
    }
    if !ui.venues.is_on(to) {
        ui.error(venue::off(to));
        return Vec::new();
    }
    let mut cmds = Vec::new();
    let from = ui.venue;
    if let Some(m) = ui.market.take() {
        ui.venues.markets.insert(from, m);
    }
    // Compared markets are the venue's own: the ones of the venue left stop loading.
    if !ui.chart.compare.is_empty() {
        ui.chart.compare.clear();
        cmds.push(UiCommand::ChartCompare(Vec::new()));
    }
    ui.venues.tabs.insert(from, ui.markets.tab);
    ui.venue = to;
    ui.markets.tab = ui.venues.tabs.get(&to).copied().unwrap_or_else(|| venue::default_tab(to));
    // Cursors and scrolls into the other venue's lists start again.
    ui.markets.cursor = 0;
    ui.markets.query.clear();
    ui.markets.searching = false;
    ui.book_price = None;
    ui.form = None;
    ui.chart.to_newest();
    for pane in [PaneId::Markets, PaneId::Orderbook, PaneId::Trades, PaneId::Chart] {
        ui.scroll.remove(&pane);
    }
    cmds.push(UiCommand::SetVenue(to));
    cmds.push(UiCommand::SetDepth(ui.book_depth as u16));
    cmds.push(UiCommand::SetBookGroup(ui.book_group));
    let trades = if to.trades() { "" } else { " (read-only: orders and rules stay on Upbit)" };
    ui.info(format!("showing {}{trades}", to.name()));
    cmds
}

/// The key: the next venue that is on (back to Upbit from the last one).
pub(crate) fn toggle(ui: &mut UiState) -> Vec<UiCommand> {
    let i = VenueId::ALL.iter().position(|v| *v == ui.venue).unwrap_or(0);
    let next = (1..VenueId::ALL.len())
        .map(|k| VenueId::ALL[(i + k) % VenueId::ALL.len()])
        .find(|v| ui.venues.is_on(*v));
    match next {
        Some(v) => switch(ui, v),
        None => {
            let off: Vec<VenueId> = VenueId::ALL.iter().copied().filter(|v| *v != ui.venue).collect();
            match off.first() {
                Some(v) => ui.error(venue::off(*v)),
                None => ui.error("no other venue to show"),
            }
            Vec::new()
        }
    }
}

/// `:venue` alone.
pub(crate) fn describe(ui: &mut UiState) -> Vec<UiCommand> {
    let text = venue::describe(ui.venue, &ui.venues);
    ui.info(text);
    Vec::new()
}

/// True (and said on the message line) when the venue shown does not trade: orders,
/// the form, the ladder and protective rules are refused.
pub(super) fn refuse_trading(ui: &mut UiState) -> bool {
    if ui.venue.trades() {
        return false;
    }
    ui.error(venue::read_only(ui.venue));
    true
}

/// Whether a trading line's intent is refused while a venue that does not trade is shown:
/// orders and rules are; an alert only on a market that is not one of Upbit's KRW
/// markets (the premium alert `:alert KRW-BTC kimp > 3%` and any alert naming a KRW
/// market are Upbit's, from any venue). Cancels, the kill switch, `:unarm`, `:resume`
/// and transfers act on Upbit.
pub(super) fn line_refused(ui: &UiState, intent: &TradeIntent) -> bool {
    if ui.venue.trades() {
        return false;
    }
    match intent {
        TradeIntent::Place { .. } | TradeIntent::ArmRule { .. } => true,
        TradeIntent::ArmAlert { market, .. } => !is_upbit_krw(market),
        TradeIntent::Cancel(_)
        | TradeIntent::Kill { .. }
        | TradeIntent::Unarm(_)
        | TradeIntent::Transfer(_) => false,
    }
}

/// A KRW market, which only Upbit lists (another venue's markets never quote KRW).
pub(super) fn is_upbit_krw(market: &MarketId) -> bool {
    market.quote() == "KRW"
}

/// The market a new snapshot of `ui.venue` shows first: the one shown there last, else
/// the venue's main one when listed, else the list's first row. None while the venue has
/// listed nothing.
pub(super) fn first_market(ui: &UiState, snap: &Snapshot) -> Option<MarketId> {
    if snap.market.markets.is_empty() {
        return None;
    }
    let main = venue::default_market(ui.venue);
    if let Some(m) =
        ui.venues.remembered(ui.venue, ui.start_market.as_ref()).filter(|m| snap.market.info(m).is_some())
    {
        Some(m)
    } else if snap.market.info(&main).is_some() {
        Some(main)
    } else {
        crate::ui::state::visible_markets(ui, snap)
            .first()
            .map(|m| m.market.clone())
            .or_else(|| snap.market.markets.first().map(|m| m.market.clone()))
    }
}

/// On a venue other than Upbit, the USDT market of a KRW one it does not list
/// (`:market btc` means `USDT-BTC` on Binance); None otherwise.
pub(super) fn usdt_market(ui: &UiState, snap: &Snapshot, m: &MarketId) -> Option<MarketId> {
    if ui.venue == VenueId::Upbit || !is_upbit_krw(m) || snap.market.info(m).is_some() {
        return None;
    }
    let usdt = MarketId::new(&format!("USDT-{}", m.base()));
    snap.market.info(&usdt).is_some().then_some(usdt)
}
