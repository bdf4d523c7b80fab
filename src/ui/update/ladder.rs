//! Ladder trading on the order book: buy or sell the configured quote amount at the level
//! under the cursor (live mode asks first), or cancel our orders at that price.

use super::{UiCommand, send_or_confirm, trade};
use crate::exchange::types::{OrderBook, Price, Side};
use crate::store::Snapshot;
use crate::trading::input::CancelTarget;
use crate::trading::intent::TradeIntent;
use crate::trading::manager::Origin;
use crate::trading::orders::{MarketRules, OrderRequest, floor_volume, validate};
use crate::ui::action::Action;
use crate::ui::state::UiState;

/// The price and side of ladder row `row` (asks on top, worst first; then bids).
pub(crate) fn ladder_level(book: &OrderBook, depth: usize, row: usize) -> Option<(Side, Price)> {
    let depth = depth.min(book.levels.len());
    if row < depth {
        book.levels.get(depth - 1 - row).map(|l| (Side::Ask, l.ask_price))
    } else {
        book.levels.get(row - depth).map(|l| (Side::Bid, l.bid_price))
    }
    .filter(|(_, p)| !p.is_zero())
}

/// A ladder key (buy, sell, cancel) on the selected market's book.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    let Some(market) = ui.market.clone() else { return Vec::new() };
    let level =
        snap.market.books.get(&market).and_then(|b| ladder_level(&b.value, ui.book_depth, ui.book_cursor));
    let Some((_, price)) = level else {
        ui.error("no book level under the cursor");
        return Vec::new();
    };
    if action == Action::LadderCancel {
        let uuids: Vec<String> = snap
            .account
            .open_orders
            .iter()
            .filter(|o| o.market == market && o.price == Some(price))
            .map(|o| o.uuid.clone())
            .collect();
        if uuids.is_empty() {
            ui.error(format!("no open order at {price}"));
            return Vec::new();
        }
        let n = uuids.len();
        let cmds: Vec<UiCommand> = uuids
            .into_iter()
            .flat_map(|uuid| {
                let label = format!("cancel {market} {uuid}");
                trade(ui, TradeIntent::Cancel(CancelTarget::Order(uuid)), &label)
            })
            .collect();
        if n > 1 {
            ui.info(format!("cancel {n} orders at {price}: sending"));
        }
        return cmds;
    }
    let side = if action == Action::LadderBuy { Side::Bid } else { Side::Ask };
    // Checked: the level's price comes from the exchange (0 in an empty slot).
    let volume = floor_volume(ui.config.ladder_quote.checked_div(price).unwrap_or_default());
    if volume.is_zero() {
        ui.error(format!("ladder size {} is below one unit at {price}", ui.config.ladder_quote));
        return Vec::new();
    }
    let request = OrderRequest::limit(market.clone(), side, price, volume);
    let rules = MarketRules::upbit_default(&market);
    match validate(&request, &rules, Some(price)) {
        Ok(valid) => send_or_confirm(ui, snap, valid, Origin::Ladder),
        Err(e) => {
            ui.error(e.to_string());
            Vec::new()
        }
    }
}
