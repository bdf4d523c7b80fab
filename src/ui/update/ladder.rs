//! Ladder trading on the order book: buy or sell the configured quote amount at the
//! cursor's price (always asked first: the preset size and price are shown before
//! anything is sent), or cancel our orders at that price.
//!
//! The cursor is a price, not a row ([`UiState::book_price`]): the book moves under it
//! every tick, and a row index would slide onto another price (`c` then missed our own
//! order). Until it is moved there is no cursor: `b` buys at the best bid and `s` sells
//! at the best ask of the moment the key is pressed (each joins its own side, and the
//! confirmation says so), and that price becomes the cursor. A price at or past the
//! other side's best is warned about in the confirmation: it fills at once as a taker.
//!
//! While the book is grouped (호가 모아보기) its rows are buckets, not prices an order
//! rests at: the cursor is put away, `b` and `s` trade at the best bid and ask of the
//! plain book (real prices, named so in the confirmation) and `c` asks for the ungrouped
//! book, where the price of an order is a row again.

use super::{UiCommand, move_cursor, trade};
use crate::exchange::types::{MarketId, OrderBook, Price, Side};
use crate::store::Snapshot;
use crate::trading::input::CancelTarget;
use crate::trading::intent::TradeIntent;
use crate::trading::manager::Origin;
use crate::trading::orders::{MarketRules, OrderRequest, floor_volume, validate};
use crate::ui::action::Action;
use crate::ui::order_form::crossing;
use crate::ui::state::{Overlay, PendingOrder, UiState};
use crate::ui::widgets::format;
use rust_decimal::Decimal;

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

/// The ladder's rows, top to bottom (prices falling): `(row, side, price)`.
fn rows(book: &OrderBook, depth: usize) -> Vec<(usize, Side, Price)> {
    let n = depth.min(book.levels.len());
    (0..2 * n).filter_map(|r| ladder_level(book, depth, r).map(|(s, p)| (r, s, p))).collect()
}

/// The row the cursor is on: the row of its price. `None` when it has not been moved (no
/// row is the cursor's: `b` and `s` use different prices then) or when its price is not
/// in the book shown (nothing is highlighted rather than a row of another price).
pub(crate) fn cursor_row(book: &OrderBook, depth: usize, cursor: Option<Price>) -> Option<usize> {
    let p = cursor?;
    rows(book, depth).into_iter().find(|(_, _, q)| *q == p).map(|(r, _, _)| r)
}

/// Where moving the cursor starts from: its price, or the best bid while it has not been
/// moved.
fn start_price(book: &OrderBook, depth: usize, cursor: Option<Price>) -> Option<Price> {
    cursor.or_else(|| ladder_level(book, depth, depth.min(book.levels.len())).map(|(_, p)| p))
}

/// The price a ladder order on `side` is placed at: the cursor's, or while it has not been
/// moved the best price of `side`'s own half of the book (the best bid for a buy, the best
/// ask for a sell), with the words the confirmation names it by.
fn order_price(
    book: Option<&OrderBook>,
    side: Side,
    cursor: Option<Price>,
) -> Option<(Price, Option<&'static str>)> {
    if let Some(p) = cursor {
        return Some((p, None));
    }
    let book = book?;
    match side {
        Side::Bid => book.best_bid().map(|p| (p, Some("best bid now"))),
        Side::Ask => book.best_ask().map(|p| (p, Some("best ask now"))),
    }
    .filter(|(p, _)| !p.is_zero())
}

/// Up, Down, Page, Top, Bottom on the book: the cursor moves to another row's price. From
/// a price no longer in the book it moves to the nearest row above or below it.
pub(super) fn move_in_book(ui: &mut UiState, action: Action, snap: &Snapshot) {
    if ui.book_group > 0 {
        ui.info("grouped book: no cursor (b / s trade at the best bid / ask; - ungroups)");
        return;
    }
    let Some(book) = ui.market.as_ref().and_then(|m| snap.market.books.get(m)) else { return };
    let rows = rows(&book.value, ui.book_depth);
    if rows.is_empty() {
        return;
    }
    let Some(price) = start_price(&book.value, ui.book_depth, ui.book_price) else { return };
    let here = rows.iter().position(|(_, _, p)| *p == price);
    // Between rows: Up goes to the price just above, Down to the one just below.
    let below = rows.iter().position(|(_, _, p)| *p < price).unwrap_or(rows.len());
    let i = match (here, action) {
        (Some(i), _) => move_cursor(i, rows.len(), action, 5),
        (None, Action::Up) => below.saturating_sub(1),
        (None, Action::Down) => below.min(rows.len() - 1),
        (None, _) => move_cursor(below.min(rows.len() - 1), rows.len(), action, 5),
    };
    ui.book_price = rows.get(i).map(|(_, _, p)| *p);
}

/// A ladder key (buy, sell, cancel) on the selected market's book.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    let Some(market) = ui.market.clone() else { return Vec::new() };
    let book = snap.market.books.get(&market).map(|b| &b.value);
    if action == Action::LadderCancel {
        // Only at a price the trader chose: with no cursor, "the best bid" would cancel
        // whatever happens to rest there now.
        if ui.book_group > 0 {
            ui.error("grouped book: ungroup (-) to cancel at a price, or cancel in the orders pane");
            return Vec::new();
        }
        let Some(price) = ui.book_price else {
            ui.error("no cursor yet: move it onto your order's price (up / down or a click), then c");
            return Vec::new();
        };
        let uuids: Vec<String> = snap
            .account
            .open_orders
            .iter()
            .filter(|o| o.market == market && o.price == Some(price))
            .map(|o| o.uuid.clone())
            .collect();
        if uuids.is_empty() {
            ui.error(format!("no open order of yours at {}", format::price(price)));
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
            ui.info(format!("cancel {n} orders at {}: sending", format::price(price)));
        }
        return cmds;
    }
    let side = if action == Action::LadderBuy { Side::Bid } else { Side::Ask };
    // Grouped: the best price of the plain book, never a bucket's.
    let cursor = if ui.book_group > 0 { None } else { ui.book_price };
    let Some((price, named)) = order_price(book, side, cursor) else {
        ui.error("no book level under the cursor");
        return Vec::new();
    };
    // From now on the cursor is on this price: `c` cancels this order there however the
    // book moves, and the highlight shows where it is.
    ui.book_price = Some(price);
    // Checked: the level's price comes from the exchange (0 in an empty slot).
    let volume = floor_volume(ui.config.ladder_quote.checked_div(price).unwrap_or_default());
    if volume.is_zero() {
        ui.error(format!(
            "ladder size {} {} is below one unit at {}",
            format::amount(ui.config.ladder_quote, market.quote()),
            market.quote(),
            format::price(price)
        ));
        return Vec::new();
    }
    let rules = MarketRules::upbit_default(&market);
    let (volume, capped) = match within_balance(snap, &market, side, price, volume, &rules) {
        Ok(v) => v,
        Err(why) => {
            ui.error(why);
            return Vec::new();
        }
    };
    let request = OrderRequest::limit(market.clone(), side, price, volume);
    match validate(&request, &rules, Some(price)) {
        // Asked in every mode: one key must not send an order of a size and at a price
        // the trader has not seen (default No).
        Ok(valid) => {
            let mut notes: Vec<String> = named.map(str::to_string).into_iter().chain(capped).collect();
            notes.push(format!(
                "total {} {}",
                format::amount(valid.total_with_fee(), market.quote()),
                market.quote()
            ));
            let text = format!(
                "{} {} {} @ {} ({})? y/N",
                side.label().to_lowercase(),
                format::qty(volume, 8),
                market,
                format::price(price),
                notes.join("; ")
            );
            match crossing(book, side, price, market.quote()) {
                // Not an error (the trader may mean it), but in the warning's colour.
                Some(w) => ui.error(format!("{w} — {text}")),
                None => ui.info(text),
            }
            ui.pending_order = Some(PendingOrder { order: valid, origin: Origin::Ladder });
            ui.overlay = Overlay::ConfirmOrder;
        }
        Err(e) => ui.error(e.to_string()),
    }
    Vec::new()
}

/// The ladder size within what the account has available (not locked in open orders): a
/// sell of more than is held, or a buy costing more than the quote currency available,
/// would only be rejected by the exchange after `y`. Nothing available: refused with the
/// balance. Less than the preset size: capped to it, with a note saying so for the
/// confirmation. Balances not known yet (none reported): the size as preset, the
/// exchange decides.
fn within_balance(
    snap: &Snapshot,
    market: &MarketId,
    side: Side,
    price: Price,
    volume: Decimal,
    rules: &MarketRules,
) -> Result<(Decimal, Option<String>), String> {
    let balances = &snap.account.balances;
    if balances.is_empty() {
        return Ok((volume, None));
    }
    let currency = match side {
        Side::Ask => market.base(),
        Side::Bid => market.quote(),
    };
    let bal = balances.iter().find(|b| b.currency == currency);
    let free = bal.map_or(Decimal::ZERO, |b| b.balance);
    let locked = bal.map_or(Decimal::ZERO, |b| b.locked);
    let amount = |v: Decimal| match side {
        Side::Ask => format::qty(v, 8),
        Side::Bid => format::amount(v, currency),
    };
    let have = |v: Decimal| {
        if locked > Decimal::ZERO {
            format!("{} {currency} available ({} more in open orders)", amount(v), amount(locked))
        } else {
            format!("{} {currency}", amount(v))
        }
    };
    // What the available balance pays for: all of it on a sell; on a buy, the volume
    // whose price and fee it covers.
    let most = match side {
        Side::Ask => floor_volume(free),
        Side::Bid => Decimal::ONE
            .checked_add(rules.fee_rate(Side::Bid))
            .and_then(|k| price.checked_mul(k))
            .and_then(|unit| free.checked_div(unit))
            .map_or(Decimal::ZERO, floor_volume),
    };
    if most <= Decimal::ZERO {
        return Err(match side {
            Side::Ask => format!("nothing to sell: you hold {}", have(free)),
            Side::Bid => format!(
                "not enough {currency} to buy {market} at {}: you have {}",
                format::price(price),
                have(free)
            ),
        });
    }
    if volume <= most {
        return Ok((volume, None));
    }
    let note = match side {
        Side::Ask if locked > Decimal::ZERO => format!("capped to the {}", have(most)),
        Side::Ask => format!("capped to the {} you hold", have(most)),
        Side::Bid => format!("capped to what your {} buys", have(free)),
    };
    Ok((most, Some(note)))
}
