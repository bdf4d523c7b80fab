//! Order domain: validation of what the venue accepts (the price grid and order limits
//! of [`crate::exchange::rules`]; the side × `ord_type` × `time_in_force` matrix is
//! Upbit's, the only venue whose order types hoga has), fees, and the local order state
//! machine. The request body is the venue adapter's to build from a [`ValidOrder`].
//!
//! Pure and synchronous. Everything the venue would reject for a reason we can know in
//! advance (tick grid, minimum/maximum total, the side × `ord_type` × `time_in_force`
//! matrix, 8-decimal volumes) is a local [`Denied`] here, so it never reaches a venue call
//! (docs/RELIABILITY.md cases 8 and 38). The state machine applies venue facts idempotently:
//! fills are deduped by trade uuid, early fills are buffered, overfills are refused, and
//! the only transition out of a terminal state is Canceled → Filled (case 5, 12, 13).

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::display;
use crate::exchange::rules::{self, Rounding, TickTable};
use crate::exchange::types::{Fill, MarketId, Order, OrderState, OrderType, Price, Qty, Side, TimeInForce};
pub use crate::exchange::venue::{OrderRequest, ValidOrder};

/// Upbit's KRW-market fee (0.05 %), used until `orders/chance` tells otherwise.
pub(crate) const DEFAULT_FEE_RATE: Decimal = Decimal::from_parts(5, 0, 0, false, 4);

/// Upbit's limit on `identifier` length.
pub(crate) const MAX_IDENTIFIER_LEN: usize = 64;

/// A local refusal: the order is not sent and the reason names the bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Denied {
    /// A price, volume or amount that is zero or negative.
    #[error("{field} must be positive, got {}", display::quantity(*.value))]
    NotPositive {
        /// Which field.
        field: &'static str,
        /// The value.
        value: Decimal,
    },
    /// A limit price off the market's tick grid.
    #[error(
        "price {} is not on the tick grid (tick {}; nearest {})",
        display::tick_price(*.price, *.tick),
        display::quantity(*.tick),
        display::tick_price(*.nearest, *.tick)
    )]
    OffTick {
        /// The price.
        price: Decimal,
        /// The tick at that price.
        tick: Decimal,
        /// The nearest valid price.
        nearest: Decimal,
    },
    /// A volume with more than 8 decimals.
    #[error("volume {} has more than 8 decimals", display::quantity(*.0))]
    VolumePrecision(Decimal),
    /// Below the market's minimum order total.
    #[error(
        "order total {} {quote} is below the minimum {} {quote}",
        display::amount(*.total, .quote),
        display::amount(*.min, .quote)
    )]
    BelowMinimum {
        /// Order total.
        total: Decimal,
        /// Minimum.
        min: Decimal,
        /// Quote currency.
        quote: String,
    },
    /// Above the market's maximum order total.
    #[error(
        "order total {} {quote} is above the maximum {} {quote}",
        display::amount(*.total, .quote),
        display::amount(*.max, .quote)
    )]
    AboveMaximum {
        /// Order total.
        total: Decimal,
        /// Maximum.
        max: Decimal,
        /// Quote currency.
        quote: String,
    },
    /// A field the order type needs is missing.
    #[error("{ord_type} order needs {field}")]
    Missing {
        /// Order type label.
        ord_type: &'static str,
        /// Missing field.
        field: &'static str,
    },
    /// A field the order type must not carry is present.
    #[error("{ord_type} order must not carry {field}")]
    Unexpected {
        /// Order type label.
        ord_type: &'static str,
        /// Extra field.
        field: &'static str,
    },
    /// A side / order type / time-in-force combination Upbit does not allow.
    #[error("{0}")]
    Combination(String),
    /// The identifier is empty or too long.
    #[error("identifier {0:?} must be 1..=64 characters")]
    Identifier(String),
    /// A market sell whose value cannot be checked against the minimum (no best bid).
    #[error("no reference price for {0}: cannot check the minimum order total")]
    NoReferencePrice(MarketId),
    /// Not enough available balance.
    #[error(
        "insufficient {currency}: need {} {currency}, available {} {currency}",
        display::amount(*.need, .currency),
        display::amount(*.available, .currency)
    )]
    Insufficient {
        /// Currency.
        currency: String,
        /// Needed.
        need: Decimal,
        /// Available.
        available: Decimal,
    },
    /// The risk gate refused it.
    #[error("risk: {0}")]
    Risk(String),
    /// Trading state forbids it.
    #[error("trading state {state}: {why}")]
    State {
        /// State label.
        state: String,
        /// Why.
        why: String,
    },
    /// The journal could not record the intent durably, so nothing is sent.
    #[error("journal unavailable, order not sent: {0}")]
    Journal(String),
    /// Reconciliation has not finished (start or reconnect).
    #[error("reconciliation with the exchange has not finished; new orders wait")]
    NotReconciled,
    /// Paper mode, demo mode or disarmed live mode.
    #[error("{0}")]
    Mode(String),
}

/// Market rules the validator needs: fees, totals and the tick grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketRules {
    /// Taker fee rate for buys.
    pub bid_fee: Decimal,
    /// Taker fee rate for sells.
    pub(crate) ask_fee: Decimal,
    /// Minimum order total (quote currency).
    pub min_total: Decimal,
    /// Maximum order total (quote currency).
    pub(crate) max_total: Option<Decimal>,
    /// Per-market tick override (Upbit: `orderbook/instruments`), over the venue's grid.
    pub(crate) tick_override: Option<Decimal>,
}

impl MarketRules {
    /// The defaults of the venue ([`crate::exchange::Active`], Upbit) for a market's quote
    /// currency: its grid's order totals and Upbit's default fee.
    pub fn upbit_default(market: &MarketId) -> Self {
        MarketRules {
            bid_fee: DEFAULT_FEE_RATE,
            ask_fee: DEFAULT_FEE_RATE,
            min_total: crate::exchange::grid().min_total(market.quote()),
            max_total: crate::exchange::grid().max_total(market.quote()),
            tick_override: None,
        }
    }

    /// The tick at a price of this market.
    pub fn tick(&self, market: &MarketId, price: Decimal) -> Decimal {
        let mut table = TickTable::new(crate::exchange::grid());
        if let Some(t) = self.tick_override {
            table.set(market.clone(), t);
        }
        table.tick(market, price)
    }

    /// Snaps a price onto the grid: buys round down (never pay more than typed), sells up.
    pub fn snap(&self, market: &MarketId, side: Side, price: Decimal) -> Decimal {
        let mut table = TickTable::new(crate::exchange::grid());
        if let Some(t) = self.tick_override {
            table.set(market.clone(), t);
        }
        let rounding = match side {
            Side::Bid => Rounding::Down,
            Side::Ask => Rounding::Up,
        };
        table.snap(market, price, rounding)
    }

    /// Fee rate for a side.
    pub fn fee_rate(&self, side: Side) -> Decimal {
        match side {
            Side::Bid => self.bid_fee,
            Side::Ask => self.ask_fee,
        }
    }
}

/// `bid` / `ask`.
pub(crate) fn side_str(side: Side) -> &'static str {
    match side {
        Side::Bid => "bid",
        Side::Ask => "ask",
    }
}

/// `limit` / `price` / `market` / `best`, or the wire spelling of a type hoga does not
/// know ([`OrderType::Other`]).
pub(crate) fn ord_type_str(t: OrderType) -> &'static str {
    t.as_str()
}

/// `ioc` / `fok` / `post_only`.
pub(crate) fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Ioc => "ioc",
        TimeInForce::Fok => "fok",
        TimeInForce::PostOnly => "post_only",
    }
}

/// Fee for a notional at a rate.
pub fn fee(notional: Decimal, rate: Decimal) -> Decimal {
    notional.saturating_mul(rate)
}

/// `a × b`, or a denial naming the order total that cannot be computed.
fn total(a: Decimal, b: Decimal) -> Result<Decimal, Denied> {
    a.checked_mul(b).ok_or_else(|| {
        Denied::Risk(format!(
            "order total {} × {} is too large to compute",
            display::quantity(a),
            display::quantity(b)
        ))
    })
}

/// Floors a volume to the venue's precision (Upbit's: 8 decimals).
pub(crate) fn floor_volume(v: Decimal) -> Decimal {
    crate::exchange::grid().floor_volume(v)
}

fn positive(field: &'static str, v: Option<Decimal>, ord: &'static str) -> Result<Decimal, Denied> {
    let v = v.ok_or(Denied::Missing { ord_type: ord, field })?;
    if v <= Decimal::ZERO {
        return Err(Denied::NotPositive { field, value: v });
    }
    Ok(v)
}

fn volume_ok(v: Decimal) -> Result<(), Denied> {
    if v.normalize().scale() > crate::exchange::grid().volume_scale() {
        return Err(Denied::VolumePrecision(v));
    }
    Ok(())
}

/// Validates a request against Upbit's rules. `reference` is the best bid (for a market
/// or best sell, whose value Upbit checks as volume × best bid) or the last price; it may
/// be `None` for orders whose total is known from the request itself.
pub fn validate(
    req: &OrderRequest,
    rules: &MarketRules,
    reference: Option<Price>,
) -> Result<ValidOrder, Denied> {
    let ord = ord_type_str(req.ord_type);
    let quote = req.market.quote().to_string();
    // The side × type × tif matrix (protocol §5.3).
    match (req.ord_type, req.side, req.time_in_force) {
        // A type hoga does not know (seen on an order it did not place): it can be tracked
        // and cancelled, never sent, and nothing here knows how to size or price it.
        (OrderType::Other(name), _, _) => {
            return Err(Denied::Combination(format!(
                "order type `{name}` is not one hoga can send (limit, price, market, best)"
            )));
        }
        (OrderType::Limit, _, _) => {}
        (OrderType::Price, Side::Bid, None) | (OrderType::Market, Side::Ask, None) => {}
        (OrderType::Price, Side::Ask, _) => {
            return Err(Denied::Combination(
                "a `price` order is a market BUY by total; sell with `market`".into(),
            ));
        }
        (OrderType::Market, Side::Bid, _) => {
            return Err(Denied::Combination(
                "a `market` order is a market SELL by volume; buy with `price`".into(),
            ));
        }
        (OrderType::Price | OrderType::Market, _, Some(t)) => {
            return Err(Denied::Combination(format!(
                "{ord} orders take no time in force (got {})",
                tif_str(t)
            )));
        }
        (OrderType::Best, _, None) => {
            return Err(Denied::Combination("`best` orders need time in force ioc or fok".into()));
        }
        (OrderType::Best, _, Some(TimeInForce::PostOnly)) => {
            return Err(Denied::Combination("`best` orders take ioc or fok, not post_only".into()));
        }
        (OrderType::Best, _, Some(_)) => {}
    }
    let (notional, _) = match (req.ord_type, req.side) {
        (OrderType::Limit, _) => {
            let price = positive("price", req.price, ord)?;
            let volume = positive("volume", req.volume, ord)?;
            volume_ok(volume)?;
            let tick = rules.tick(&req.market, price);
            if price.checked_rem(tick).is_none_or(|r| !r.is_zero()) {
                return Err(Denied::OffTick {
                    price,
                    tick,
                    nearest: rules::snap_to(price, tick, Rounding::Nearest),
                });
            }
            (total(price, volume)?, ())
        }
        (OrderType::Price, _) | (OrderType::Best, Side::Bid) => {
            if req.volume.is_some() {
                return Err(Denied::Unexpected {
                    ord_type: ord,
                    field: "volume (a market buy is sized by total)",
                });
            }
            (positive("price (total amount)", req.price, ord)?, ())
        }
        // Refused by the matrix above; no notional is ever computed for an unknown type.
        (OrderType::Other(name), _) => {
            return Err(Denied::Combination(format!("order type `{name}` is not one hoga can send")));
        }
        (OrderType::Market, _) | (OrderType::Best, Side::Ask) => {
            if req.price.is_some() {
                return Err(Denied::Unexpected {
                    ord_type: ord,
                    field: "price (a market sell is sized by volume)",
                });
            }
            let volume = positive("volume", req.volume, ord)?;
            volume_ok(volume)?;
            let reference = reference
                .filter(|p| *p > Decimal::ZERO)
                .ok_or_else(|| Denied::NoReferencePrice(req.market.clone()))?;
            (total(volume, reference)?, ())
        }
    };
    if notional < rules.min_total {
        return Err(Denied::BelowMinimum { total: notional, min: rules.min_total, quote });
    }
    if let Some(max) = rules.max_total
        && notional > max
    {
        return Err(Denied::AboveMaximum { total: notional, max, quote });
    }
    let fee = fee(notional, rules.fee_rate(req.side));
    Ok(ValidOrder { request: req.clone(), notional, fee })
}

/// Checks an identifier against Upbit's length rule.
pub(crate) fn check_identifier(id: &str) -> Result<(), Denied> {
    if id.is_empty() || id.len() > MAX_IDENTIFIER_LEN {
        return Err(Denied::Identifier(id.to_string()));
    }
    Ok(())
}

/// A fresh identifier for a manual order: `hoga-` + UUIDv7 (time-ordered, unique).
pub fn new_identifier() -> String {
    format!("hoga-{}", uuid::Uuid::now_v7())
}

// ---------------------------------------------------------------------------------------
// Local state machine

/// Where an order stands locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalState {
    /// Written to the journal, not yet sent.
    Intent,
    /// Sent; the outcome is not known yet (a timeout leaves it here: UNKNOWN).
    Submitted,
    /// Sent, and still not found by the lookups of its first seconds: it may yet be
    /// booked (a gateway 5xx while the engine works, a lookup that lags the book). Never
    /// counted as rejected: it is looked up again with backoff for a window of minutes,
    /// then by every periodic poll, and adopted whenever the venue shows it (lookup, poll
    /// or private stream). Not terminal: it counts as an open order.
    Unconfirmed,
    /// The venue holds it (`wait`/`watch`).
    Accepted,
    /// Some volume filled, still open.
    PartiallyFilled,
    /// A cancel was requested; not confirmed yet.
    PendingCancel,
    /// Fully filled.
    Filled,
    /// Cancelled (possibly after partial fills; a market buy's refund ends here).
    Canceled,
    /// Definitively refused by the venue (or proven never booked).
    Rejected,
}

impl LocalState {
    /// No further change expected (Canceled may still become Filled by a late fill).
    pub fn is_terminal(self) -> bool {
        matches!(self, LocalState::Filled | LocalState::Canceled | LocalState::Rejected)
    }

    /// The label stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalState::Intent => "intent",
            LocalState::Submitted => "submitted",
            LocalState::Unconfirmed => "unconfirmed",
            LocalState::Accepted => "accepted",
            LocalState::PartiallyFilled => "partially_filled",
            LocalState::PendingCancel => "pending_cancel",
            LocalState::Filled => "filled",
            LocalState::Canceled => "canceled",
            LocalState::Rejected => "rejected",
        }
    }

    /// Parses a journal label.
    pub fn parse(s: &str) -> Option<LocalState> {
        Some(match s {
            "intent" => LocalState::Intent,
            "submitted" => LocalState::Submitted,
            "unconfirmed" => LocalState::Unconfirmed,
            "accepted" => LocalState::Accepted,
            "partially_filled" => LocalState::PartiallyFilled,
            "pending_cancel" => LocalState::PendingCancel,
            "filled" => LocalState::Filled,
            "canceled" => LocalState::Canceled,
            "rejected" => LocalState::Rejected,
            _ => return None,
        })
    }
}

/// What applying a fill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillOutcome {
    /// Counted.
    Applied,
    /// Seen before (same trade uuid): ignored.
    Duplicate,
    /// Larger than the remaining volume: refused and logged, not applied.
    Overfill {
        /// Fill volume.
        volume: Qty,
        /// Remaining before it.
        remaining: Qty,
    },
    /// For an order whose venue uuid we do not know yet: held until the ack.
    Buffered,
}

/// One order as hoga tracks it: the request, the venue's view, and the counted fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedOrder {
    /// Our identifier (idempotency key and recovery handle).
    pub identifier: String,
    /// Venue uuid once known.
    pub uuid: Option<String>,
    /// What was asked.
    pub request: OrderRequest,
    /// Local state.
    pub state: LocalState,
    /// Volume filled (sum of counted fills, or the venue's figure when larger).
    pub executed_volume: Qty,
    /// Quote funds filled.
    pub executed_funds: Decimal,
    /// Fees paid.
    pub paid_fee: Decimal,
    /// Counted fill ids.
    pub(crate) fill_ids: HashSet<String>,
    /// Fills that arrived before the ack (keyed by trade uuid for determinism).
    pub(crate) buffered: BTreeMap<String, Fill>,
    /// Venue reason for a rejection, or our note.
    pub reason: Option<String>,
    /// Rule that created it, if any.
    pub rule_id: Option<String>,
}

impl TrackedOrder {
    /// A new intent.
    pub fn new(identifier: String, request: OrderRequest) -> Self {
        TrackedOrder {
            identifier,
            uuid: None,
            request,
            state: LocalState::Intent,
            executed_volume: Decimal::ZERO,
            executed_funds: Decimal::ZERO,
            paid_fee: Decimal::ZERO,
            fill_ids: HashSet::new(),
            buffered: BTreeMap::new(),
            reason: None,
            rule_id: None,
        }
    }

    /// The requested volume, when the order has one (not for market buys).
    pub(crate) fn requested_volume(&self) -> Option<Qty> {
        self.request.volume
    }

    /// Moves to `next` if the transition is allowed; returns whether it moved.
    /// Terminal states are never left, except Canceled → Filled.
    pub(crate) fn transition(&mut self, next: LocalState) -> bool {
        use LocalState::*;
        if self.state == next {
            return false;
        }
        let ok = match (self.state, next) {
            (Canceled, Filled) => true,
            (s, _) if s.is_terminal() => false,
            // Never step backwards into the pre-ack states.
            (_, Intent) => false,
            (Accepted | PartiallyFilled | PendingCancel | Unconfirmed, Submitted) => false,
            (PartiallyFilled | PendingCancel, Accepted) => false,
            // Only an order whose outcome is unknown can become unconfirmed (a cancel
            // asked for before any answer included).
            (Accepted | PartiallyFilled, Unconfirmed) => false,
            (PendingCancel, Unconfirmed) => self.uuid.is_none(),
            _ => true,
        };
        if ok {
            self.state = next;
        }
        ok
    }

    /// Applies a fill idempotently.
    pub fn apply_fill(&mut self, fill: &Fill) -> FillOutcome {
        if self.fill_ids.contains(&fill.trade_uuid) || self.buffered.contains_key(&fill.trade_uuid) {
            return FillOutcome::Duplicate;
        }
        if self.uuid.is_none() {
            self.buffered.insert(fill.trade_uuid.clone(), fill.clone());
            return FillOutcome::Buffered;
        }
        if let Some(req) = self.requested_volume() {
            // Saturating: fills come from the network (bounded by the decoder's band, but
            // the sums here must not panic whatever arrives).
            let remaining = req.saturating_sub(self.executed_volume);
            if fill.volume > remaining {
                return FillOutcome::Overfill { volume: fill.volume, remaining };
            }
        }
        self.fill_ids.insert(fill.trade_uuid.clone());
        self.executed_volume = self.executed_volume.saturating_add(fill.volume);
        self.executed_funds = self.executed_funds.saturating_add(fill.funds);
        self.paid_fee = self.paid_fee.saturating_add(fill.fee.unwrap_or_default());
        let full = self.requested_volume().is_some_and(|v| self.executed_volume >= v);
        if full {
            self.transition(LocalState::Filled);
        } else if matches!(
            self.state,
            LocalState::Submitted | LocalState::Accepted | LocalState::Intent | LocalState::Unconfirmed
        ) {
            self.transition(LocalState::PartiallyFilled);
        }
        FillOutcome::Applied
    }

    /// Applies the venue's view of the order (ack, query, myOrder). Returns the buffered
    /// fills released by learning the uuid, already applied.
    pub(crate) fn apply_venue(&mut self, o: &Order) -> Vec<(Fill, FillOutcome)> {
        let first_ack = self.uuid.is_none();
        if first_ack {
            self.uuid = Some(o.uuid.clone());
        }
        // Fills carried by a single-order query count like any other fill.
        let mut released = Vec::new();
        if first_ack {
            let buffered = std::mem::take(&mut self.buffered);
            for (_, f) in buffered {
                let out = self.apply_fill(&f);
                released.push((f, out));
            }
        }
        for f in &o.trades {
            let out = self.apply_fill(f);
            if out == FillOutcome::Applied {
                released.push((f.clone(), out));
            }
        }
        // The venue's cumulative figures win when ahead of our counted fills (fills missed
        // during a websocket gap); they never move us backwards.
        if o.executed_volume > self.executed_volume {
            self.executed_volume = o.executed_volume;
            if let Some(f) = o.executed_funds {
                self.executed_funds = self.executed_funds.max(f);
            }
        }
        self.paid_fee = self.paid_fee.max(o.paid_fee);
        let next = match o.state {
            // `prevented`: self-match prevention took part of it away; the rest is still
            // open (Upbit says `cancel` when nothing is left).
            OrderState::Wait | OrderState::Watch | OrderState::Prevented => {
                if self.executed_volume > Decimal::ZERO {
                    LocalState::PartiallyFilled
                } else if self.state == LocalState::PendingCancel {
                    LocalState::PendingCancel
                } else {
                    LocalState::Accepted
                }
            }
            OrderState::Trade => LocalState::PartiallyFilled,
            OrderState::Done => LocalState::Filled,
            OrderState::Cancel => LocalState::Canceled,
            // A state hoga does not know: never taken for done; the order stays as it was
            // and is looked up again (open orders are polled and queried).
            OrderState::Unknown => self.state,
        };
        // PendingCancel stays pending while the venue still shows the order open.
        if !(self.state == LocalState::PendingCancel
            && matches!(next, LocalState::Accepted | LocalState::PartiallyFilled))
        {
            self.transition(next);
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn btc() -> MarketId {
        MarketId::new("KRW-BTC")
    }

    fn rules() -> MarketRules {
        MarketRules::upbit_default(&btc())
    }

    #[test]
    fn limit_buy_carries_notional_and_fee() {
        let v = validate(&OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.01)), &rules(), None)
            .unwrap();
        assert_eq!(v.notional, dec!(950000));
        assert_eq!(v.fee, dec!(475));
        assert_eq!(v.total_with_fee(), dec!(950475));
    }

    #[test]
    fn the_combination_matrix() {
        let m = btc();
        let r = rules();
        let lim = |side, tif| OrderRequest::limit(m.clone(), side, dec!(95000000), dec!(0.01)).with_tif(tif);
        for tif in [TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::PostOnly] {
            assert!(validate(&lim(Side::Bid, tif), &r, None).is_ok());
            assert!(validate(&lim(Side::Ask, tif), &r, None).is_ok());
        }
        let best_bid =
            OrderRequest { ord_type: OrderType::Best, ..OrderRequest::market_buy(m.clone(), dec!(10000)) };
        assert!(matches!(validate(&best_bid, &r, None), Err(Denied::Combination(_))));
        assert!(validate(&best_bid.clone().with_tif(TimeInForce::Ioc), &r, None).is_ok());
        assert!(validate(&best_bid.clone().with_tif(TimeInForce::Fok), &r, None).is_ok());
        assert!(validate(&best_bid.with_tif(TimeInForce::PostOnly), &r, None).is_err());
        let best_ask =
            OrderRequest { ord_type: OrderType::Best, ..OrderRequest::market_sell(m.clone(), dec!(0.01)) }
                .with_tif(TimeInForce::Fok);
        assert!(validate(&best_ask, &r, Some(dec!(95000000))).is_ok());
        // price is buy-only, market is sell-only, neither takes a tif.
        let price_ask = OrderRequest { side: Side::Ask, ..OrderRequest::market_buy(m.clone(), dec!(10000)) };
        assert!(validate(&price_ask, &r, None).is_err());
        let market_bid = OrderRequest { side: Side::Bid, ..OrderRequest::market_sell(m.clone(), dec!(0.01)) };
        assert!(validate(&market_bid, &r, Some(dec!(1))).is_err());
        assert!(
            validate(&OrderRequest::market_buy(m.clone(), dec!(10000)).with_tif(TimeInForce::Ioc), &r, None)
                .is_err()
        );
        // Wrong fields for the type.
        let mut with_vol = OrderRequest::market_buy(m.clone(), dec!(10000));
        with_vol.volume = Some(dec!(1));
        assert!(matches!(validate(&with_vol, &r, None), Err(Denied::Unexpected { .. })));
        let mut with_price = OrderRequest::market_sell(m, dec!(1));
        with_price.price = Some(dec!(1));
        assert!(matches!(validate(&with_price, &r, Some(dec!(1))), Err(Denied::Unexpected { .. })));
    }

    #[test]
    fn denials_print_their_numbers_for_a_person() {
        let r = rules();
        let text = |req: OrderRequest, reference| validate(&req, &r, reference).unwrap_err().to_string();
        assert_eq!(
            text(OrderRequest::limit(btc(), Side::Bid, dec!(185954000), dec!(100)), None),
            "order total 18,595,400,000 KRW is above the maximum 1,000,000,000 KRW"
        );
        assert_eq!(
            text(OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.00001)), None),
            "order total 950 KRW is below the minimum 5,000 KRW"
        );
        // A total with a fraction of a won is marked as rounded, never shown as exact.
        assert_eq!(
            text(OrderRequest::market_sell(btc(), dec!(0.00004321)), Some(dec!(95000000))),
            "order total ≈4,105 KRW is below the minimum 5,000 KRW"
        );
        assert_eq!(
            text(OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.000000001)), None),
            "volume 0.000000001 has more than 8 decimals"
        );
        assert_eq!(
            text(OrderRequest::limit(btc(), Side::Bid, dec!(-1250000), dec!(1)), None),
            "price must be positive, got -1,250,000"
        );
        let m = MarketId::new("KRW-XRP");
        let xrp = MarketRules::upbit_default(&m);
        let e = validate(&OrderRequest::limit(m, Side::Bid, dec!(1234.5), dec!(10)), &xrp, None).unwrap_err();
        assert_eq!(e.to_string(), "price 1,234.5 is not on the tick grid (tick 1; nearest 1,235)");
        let short = Denied::Insufficient {
            currency: "KRW".into(),
            need: dec!(1431850.5675),
            available: dec!(950000),
        };
        assert_eq!(short.to_string(), "insufficient KRW: need ≈1,431,851 KRW, available 950,000 KRW");
    }

    #[test]
    fn bad_values_are_denied_with_the_value() {
        let r = rules();
        let e = validate(&OrderRequest::limit(btc(), Side::Bid, dec!(95000123), dec!(0.01)), &r, None)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "price 95,000,123 is not on the tick grid (tick 1,000; nearest 95,000,000)"
        );
        assert!(matches!(
            validate(&OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.00001)), &r, None),
            Err(Denied::BelowMinimum { .. })
        ));
        assert!(matches!(
            validate(&OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.000000001)), &r, None),
            Err(Denied::VolumePrecision(_))
        ));
        assert!(matches!(
            validate(&OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(20)), &r, None),
            Err(Denied::AboveMaximum { .. })
        ));
        assert!(matches!(
            validate(&OrderRequest::limit(btc(), Side::Bid, dec!(0), dec!(1)), &r, None),
            Err(Denied::NotPositive { .. })
        ));
        assert!(matches!(
            validate(&OrderRequest::market_sell(btc(), dec!(1)), &r, None),
            Err(Denied::NoReferencePrice(_))
        ));
        assert!(matches!(
            validate(&OrderRequest::market_sell(btc(), dec!(0.00001)), &r, Some(dec!(95000000))),
            Err(Denied::BelowMinimum { .. })
        ));
    }

    fn fill(id: &str, vol: Decimal) -> Fill {
        Fill {
            trade_uuid: id.into(),
            order_uuid: "u1".into(),
            market: btc(),
            side: Some(Side::Bid),
            price: dec!(100),
            volume: vol,
            funds: dec!(100) * vol,
            fee: None,
            is_maker: None,
            timestamp: 0,
        }
    }

    fn venue(state: OrderState, exec: Decimal) -> Order {
        Order {
            uuid: "u1".into(),
            identifier: Some("id".into()),
            market: btc(),
            side: Some(Side::Bid),
            ord_type: OrderType::Limit,
            price: Some(dec!(100)),
            volume: Some(dec!(1)),
            remaining_volume: dec!(1) - exec,
            executed_volume: exec,
            executed_funds: None,
            reserved_fee: Decimal::ZERO,
            remaining_fee: Decimal::ZERO,
            paid_fee: Decimal::ZERO,
            locked: Decimal::ZERO,
            state,
            time_in_force: None,
            created_at: String::new(),
            trades_count: 0,
            trades: vec![],
        }
    }

    #[test]
    fn early_fills_are_buffered_then_counted_once() {
        let mut t = TrackedOrder::new("id".into(), OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)));
        t.transition(LocalState::Submitted);
        assert_eq!(t.apply_fill(&fill("f1", dec!(0.4))), FillOutcome::Buffered);
        assert_eq!(t.apply_fill(&fill("f1", dec!(0.4))), FillOutcome::Duplicate);
        t.apply_venue(&venue(OrderState::Wait, Decimal::ZERO));
        assert_eq!(t.executed_volume, dec!(0.4));
        assert_eq!(t.state, LocalState::PartiallyFilled);
        assert_eq!(t.apply_fill(&fill("f1", dec!(0.4))), FillOutcome::Duplicate);
        assert!(matches!(t.apply_fill(&fill("f2", dec!(0.7))), FillOutcome::Overfill { .. }));
        assert_eq!(t.apply_fill(&fill("f3", dec!(0.6))), FillOutcome::Applied);
        assert_eq!(t.state, LocalState::Filled);
    }

    /// Upbit's `prevented` (self-match prevention took part of the order away) leaves the
    /// rest open; `cancel` ends it. Before, `prevented` was taken for the end of the order.
    #[test]
    fn a_prevented_frame_leaves_the_rest_open_and_a_cancel_ends_it() {
        use crate::exchange::api::StreamEvent;
        use crate::exchange::upbit::ws::{Decoded, decode};
        use crate::trading::manager::SelfMatch;
        let mut t = TrackedOrder::new("id".into(), OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)));
        t.apply_venue(&venue(OrderState::Wait, Decimal::ZERO));
        t.apply_venue(&venue(OrderState::Prevented, Decimal::ZERO));
        assert_eq!(t.state, LocalState::Accepted, "still open");
        t.apply_venue(&venue(OrderState::Cancel, Decimal::ZERO));
        assert_eq!(t.state, LocalState::Canceled);
        // The frames as Upbit sends them, and the reason a person reads.
        let frame = |state: &str, smp: &str| {
            format!(
                r#"{{"type":"myOrder","code":"KRW-BTC","uuid":"u1","ask_bid":"ASK","order_type":"limit","state":"{state}","price":100000000,"avg_price":0,"volume":0.01,"remaining_volume":0.01,"executed_volume":0,"trades_count":0,"reserved_fee":0,"remaining_fee":0,"paid_fee":0,"locked":0,"executed_funds":0,"identifier":"id","smp_type":"{smp}","prevented_volume":0.01,"prevented_locked":0.01,"order_timestamp":1,"timestamp":2}}"#
            )
        };
        let update = |raw: String| match decode(raw.as_bytes()) {
            Ok(Decoded::Event(StreamEvent::Order(u))) => u,
            other => panic!("{other:?}"),
        };
        let ended = update(frame("cancel", "cancel_maker"));
        let m = SelfMatch::from_update(&ended).unwrap();
        assert!(m.ended);
        assert_eq!(m.reason("KRW"), "self-trade prevented: 0.01 cancelled (cancel_maker)");
        let reduced = update(frame("prevented", "reduce"));
        assert_eq!(reduced.state, OrderState::Prevented);
        assert!(!SelfMatch::from_update(&reduced).unwrap().ended);
        // A market buy has no volume: the funds are named.
        let buy = SelfMatch { prevented_volume: Decimal::ZERO, prevented_locked: dec!(10000), ..m };
        assert_eq!(buy.reason("KRW"), "self-trade prevented: 10,000 KRW cancelled (cancel_maker)");
    }

    #[test]
    fn canceled_may_become_filled_but_nothing_else_leaves_terminal() {
        let mut t = TrackedOrder::new("id".into(), OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)));
        t.apply_venue(&venue(OrderState::Cancel, Decimal::ZERO));
        assert_eq!(t.state, LocalState::Canceled);
        t.apply_venue(&venue(OrderState::Wait, Decimal::ZERO));
        assert_eq!(t.state, LocalState::Canceled);
        t.apply_venue(&venue(OrderState::Done, dec!(1)));
        assert_eq!(t.state, LocalState::Filled);
        t.apply_venue(&venue(OrderState::Cancel, dec!(1)));
        assert_eq!(t.state, LocalState::Filled);
    }

    #[test]
    fn unconfirmed_is_open_and_adopted_by_any_venue_view_but_never_goes_back() {
        assert!(!LocalState::Unconfirmed.is_terminal(), "it may exist: an open order");
        assert_eq!(LocalState::parse(LocalState::Unconfirmed.as_str()), Some(LocalState::Unconfirmed));
        let mut t = TrackedOrder::new("id".into(), OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)));
        t.transition(LocalState::Submitted);
        assert!(t.transition(LocalState::Unconfirmed));
        assert!(!t.transition(LocalState::Submitted), "no step back to submitted");
        // A fill of the late booking is held until its uuid is known, then counted.
        assert_eq!(t.apply_fill(&fill("f1", dec!(0.25))), FillOutcome::Buffered);
        t.apply_venue(&venue(OrderState::Wait, Decimal::ZERO));
        assert_eq!((t.state, t.executed_volume), (LocalState::PartiallyFilled, dec!(0.25)));
        assert!(!t.transition(LocalState::Unconfirmed), "an acknowledged order is never unconfirmed");
        // Adopted straight into a final state too.
        let mut done =
            TrackedOrder::new("id".into(), OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)));
        done.transition(LocalState::Unconfirmed);
        done.apply_venue(&venue(OrderState::Done, dec!(1)));
        assert_eq!(done.state, LocalState::Filled);
    }

    fn arb_event() -> impl Strategy<Value = (u8, u8, u8)> {
        (0u8..4, 0u8..6, 0u8..10)
    }

    proptest! {
        #[test]
        fn random_event_sequences_never_leave_terminal_except_cancel_to_fill(events in prop::collection::vec(arb_event(), 0..40)) {
            let mut t = TrackedOrder::new("id".into(), OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)));
            for (kind, st, n) in events {
                let before = t.state;
                let exec_before = t.executed_volume;
                match kind {
                    0 => { t.apply_fill(&fill(&format!("f{n}"), Decimal::new(i64::from(n) + 1, 2))); }
                    1 => {
                        let state = [OrderState::Wait, OrderState::Watch, OrderState::Trade, OrderState::Done, OrderState::Cancel, OrderState::Prevented][st as usize];
                        let exec = if state == OrderState::Done { dec!(1) } else { Decimal::new(i64::from(n), 2) };
                        t.apply_venue(&venue(state, exec));
                    }
                    2 => { t.transition(LocalState::PendingCancel); }
                    _ => { t.transition(LocalState::Submitted); }
                }
                if before.is_terminal() && t.state != before {
                    prop_assert_eq!((before, t.state), (LocalState::Canceled, LocalState::Filled));
                }
                prop_assert!(t.executed_volume >= exec_before, "executed volume never decreases");
                prop_assert!(t.executed_volume <= dec!(1), "never overfilled: {}", t.executed_volume);
            }
        }

        #[test]
        fn every_validated_limit_is_on_grid_and_within_limits(units in 1u64..2_000_000_000u64, scale in 0u32..6, vol in 1u64..100_000_000u64, side in prop::bool::ANY) {
            let price = Decimal::new(units as i64, scale);
            let volume = Decimal::new(vol as i64, 8);
            let side = if side { Side::Bid } else { Side::Ask };
            if let Ok(v) = validate(&OrderRequest::limit(btc(), side, price, volume), &rules(), None) {
                prop_assert!(crate::exchange::grid().is_on_tick("KRW", price));
                prop_assert!(v.notional >= dec!(5000) && v.notional <= dec!(1000000000));
                prop_assert_eq!(v.request.price, Some(price));
            }
        }
    }
}
