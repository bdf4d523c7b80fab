//! The local paper venue: paper mode's exchange. It fills orders against the latest real
//! market prices fed to it ([`PaperVenue::on_ticker`], [`PaperVenue::on_orderbook`]),
//! keeps balances with locked amounts and charges fees. It holds no REST client at all,
//! so paper mode can never call a write endpoint.
//!
//! Matching is deliberately simple and conservative: a marketable order fills in full at
//! the best opposite price (the last trade price when no book is known); a resting limit
//! order fills in full at its own price once the book or a trade crosses it. IOC/FOK
//! orders that cannot fill at once are cancelled; a post-only order that would cross is
//! cancelled. Identifiers are unique forever, as on Upbit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rust_decimal::Decimal;

use crate::exchange::types::{
    Balance, Fill, MarketId, Order, OrderBook, OrderState, OrderType, Price, Side, Ticker, TimeInForce, band,
};
use crate::trading::orders::{DEFAULT_FEE_RATE, ValidOrder, floor_volume};
use crate::trading::venue::{
    DUPLICATE_IDENTIFIER, ORDER_NOT_FOUND, OrderVenue, VenueError, VenueFuture, VenueRef,
};

/// Paper account settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperConfig {
    /// Fee rate charged on every fill.
    pub fee_rate: Decimal,
    /// Starting balances (currency, amount).
    pub initial: Vec<(String, Decimal)>,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig { fee_rate: DEFAULT_FEE_RATE, initial: vec![("KRW".into(), Decimal::from(10_000_000))] }
    }
}

#[derive(Debug, Clone, Default)]
struct Holding {
    free: Decimal,
    locked: Decimal,
    avg: Decimal,
}

#[derive(Debug, Clone, Default)]
struct Quote {
    last: Option<Price>,
    bid: Option<Price>,
    ask: Option<Price>,
}

#[derive(Debug)]
struct State {
    fee_rate: Decimal,
    holdings: BTreeMap<String, Holding>,
    orders: HashMap<String, Order>,
    // Every identifier ever used (unique forever, even after a refusal).
    identifiers: HashMap<String, Option<String>>,
    quotes: HashMap<MarketId, Quote>,
    seq: u64,
}

/// The paper venue. Cheap to clone; clones share the account.
#[derive(Debug, Clone)]
pub struct PaperVenue {
    state: Arc<Mutex<State>>,
}

/// `n + n × rate`, checked.
fn with_fee(n: Decimal, rate: Decimal) -> Option<Decimal> {
    n.checked_add(n.checked_mul(rate)?)
}

fn final_err(code: &str, message: String) -> VenueError {
    VenueError::Final { code: code.into(), message, halt: false }
}

impl PaperVenue {
    /// A new fee rate for the fills from now on (a `:set fee_rate` that passed the
    /// change gate); fills already booked keep theirs.
    pub(crate) fn set_fee_rate(&self, rate: Decimal) {
        crate::kernel::sync::lock(&self.state).fee_rate = rate;
    }

    /// A paper account with the configured balances.
    pub fn new(config: PaperConfig) -> Self {
        let mut holdings = BTreeMap::new();
        for (c, amount) in config.initial {
            holdings.insert(c, Holding { free: amount, ..Holding::default() });
        }
        PaperVenue {
            state: Arc::new(Mutex::new(State {
                fee_rate: config.fee_rate,
                holdings,
                orders: HashMap::new(),
                identifiers: HashMap::new(),
                quotes: HashMap::new(),
                seq: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain data, consistent between statements: a poison flag carries no information.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds a ticker (last trade price); returns the orders that changed (fills of
    /// resting orders), for the order manager.
    pub fn on_ticker(&self, t: &Ticker) -> Vec<Order> {
        let Some(market) = t.market.clone() else { return Vec::new() };
        if band::price("trade_price", t.trade_price).is_err() {
            // Never fill against a price outside the band (case 16), whatever fed it.
            return Vec::new();
        }
        let mut s = self.lock();
        s.quotes.entry(market.clone()).or_default().last = Some(t.trade_price);
        s.match_resting(&market)
    }

    /// Feeds an order book (best bid/ask); returns the orders that changed.
    pub fn on_orderbook(&self, b: &OrderBook) -> Vec<Order> {
        let Some(market) = b.market.clone() else { return Vec::new() };
        let mut s = self.lock();
        let q = s.quotes.entry(market.clone()).or_default();
        q.bid = b.best_bid().filter(|p| band::price("bid_price", *p).is_ok());
        q.ask = b.best_ask().filter(|p| band::price("ask_price", *p).is_ok());
        s.match_resting(&market)
    }

    /// Current balances (same shape as the exchange's `accounts`).
    pub fn balances_now(&self) -> Vec<Balance> {
        self.lock().balances()
    }

    /// One order by uuid or identifier.
    pub fn order(&self, r: &VenueRef) -> Option<Order> {
        self.lock().find(r).cloned()
    }

    fn place_now(&self, identifier: String, order: ValidOrder) -> Result<Order, VenueError> {
        self.lock().place(identifier, order)
    }
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("paper-{prefix}-{:08}", self.seq)
    }

    fn holding(&mut self, c: &str) -> &mut Holding {
        self.holdings.entry(c.to_string()).or_default()
    }

    fn balances(&self) -> Vec<Balance> {
        self.holdings
            .iter()
            .map(|(c, h)| Balance {
                currency: c.clone(),
                balance: h.free,
                locked: h.locked,
                avg_buy_price: h.avg,
                unit_currency: "KRW".into(),
            })
            .collect()
    }

    fn find(&self, r: &VenueRef) -> Option<&Order> {
        match r {
            VenueRef::Uuid(u) => self.orders.get(u),
            VenueRef::Identifier(i) => {
                self.identifiers.get(i).cloned().flatten().and_then(|u| self.orders.get(&u))
            }
        }
    }

    /// Price a taker of `side` would get now.
    fn taker_price(&self, market: &MarketId, side: Side) -> Option<Price> {
        let q = self.quotes.get(market)?;
        match side {
            Side::Bid => q.ask.or(q.last),
            Side::Ask => q.bid.or(q.last),
        }
    }

    fn place(&mut self, identifier: String, v: ValidOrder) -> Result<Order, VenueError> {
        if self.identifiers.contains_key(&identifier) {
            return Err(final_err(DUPLICATE_IDENTIFIER, format!("identifier {identifier} already used")));
        }
        // Burned even if the order is refused below, as on Upbit.
        self.identifiers.insert(identifier.clone(), None);
        let r = v.request.clone();
        if !r.ord_type.is_known() {
            // Validation refuses these; the engine does not guess how one would trade.
            return Err(final_err(
                "invalid_ord_type",
                format!("order type `{}` is not supported", r.ord_type),
            ));
        }
        let (quote, base) = (r.market.quote().to_string(), r.market.base().to_string());
        let rate = self.fee_rate;
        let taker = self.taker_price(&r.market, r.side);
        // What the order locks: quote (price × volume + fee) for buys, base volume for sells.
        // Checked: an amount that cannot be computed refuses the order.
        let lock = match (r.side, r.ord_type) {
            (Side::Bid, OrderType::Limit) => r
                .price
                .unwrap_or_default()
                .checked_mul(r.volume.unwrap_or_default())
                .and_then(|n| with_fee(n, rate)),
            (Side::Bid, _) => with_fee(r.price.unwrap_or_default(), rate),
            (Side::Ask, _) => Some(r.volume.unwrap_or_default()),
        };
        let Some(lock) = lock else {
            return Err(final_err(
                "invalid_amount",
                format!("order total of {} too large to compute", r.market),
            ));
        };
        let market_like = r.ord_type != OrderType::Limit;
        if market_like && taker.is_none() {
            return Err(final_err("no_market_data", format!("no price known for {} yet", r.market)));
        }
        {
            let (cur, code) = match r.side {
                Side::Bid => (quote.as_str(), "insufficient_funds_bid"),
                Side::Ask => (base.as_str(), "insufficient_funds_ask"),
            };
            let h = self.holding(cur);
            if h.free < lock {
                return Err(final_err(
                    code,
                    format!(
                        "insufficient {cur}: need {} {cur}, available {} {cur}",
                        crate::exchange::display::amount(lock, cur),
                        crate::exchange::display::amount(h.free, cur)
                    ),
                ));
            }
            h.free = h.free.saturating_sub(lock);
            h.locked = h.locked.saturating_add(lock);
        }
        let uuid = self.next_id("order");
        self.identifiers.insert(identifier.clone(), Some(uuid.clone()));
        let order = Order {
            uuid: uuid.clone(),
            identifier: Some(identifier),
            market: r.market.clone(),
            side: Some(r.side),
            ord_type: r.ord_type,
            price: r.price,
            volume: r.volume,
            remaining_volume: r.volume.unwrap_or_default(),
            executed_volume: Decimal::ZERO,
            executed_funds: Some(Decimal::ZERO),
            reserved_fee: Decimal::ZERO,
            remaining_fee: Decimal::ZERO,
            paid_fee: Decimal::ZERO,
            locked: lock,
            state: OrderState::Wait,
            time_in_force: r.time_in_force,
            created_at: chrono::Utc::now().to_rfc3339(),
            trades_count: 0,
            trades: Vec::new(),
        };
        self.orders.insert(uuid.clone(), order);
        match r.ord_type {
            OrderType::Limit => {
                let limit = r.price.unwrap_or_default();
                let crosses = taker.is_some_and(|p| match r.side {
                    Side::Bid => p <= limit,
                    Side::Ask => p >= limit,
                });
                match (crosses, r.time_in_force) {
                    (true, Some(TimeInForce::PostOnly)) => self.cancel_order(&uuid),
                    (true, _) => {
                        let p = taker.unwrap_or(limit);
                        let vol = r.volume.unwrap_or_default();
                        self.fill(&uuid, p, vol, false);
                    }
                    (false, Some(TimeInForce::Ioc | TimeInForce::Fok)) => self.cancel_order(&uuid),
                    (false, _) => {}
                }
            }
            OrderType::Price | OrderType::Best if r.side == Side::Bid => {
                let p = taker.unwrap_or_default();
                match r.price.unwrap_or_default().checked_div(p) {
                    Some(v) => self.fill(&uuid, p, floor_volume(v), false),
                    // A volume that cannot be computed: nothing fills, the reserve returns.
                    None => self.cancel_order(&uuid),
                }
            }
            _ => {
                let p = taker.unwrap_or_default();
                self.fill(&uuid, p, r.volume.unwrap_or_default(), false);
            }
        }
        self.orders.get(&uuid).cloned().ok_or_else(|| final_err(ORDER_NOT_FOUND, uuid))
    }

    fn fill(&mut self, uuid: &str, price: Price, volume: Decimal, is_maker: bool) {
        let rate = self.fee_rate;
        let Some(o) = self.orders.get(uuid).cloned() else { return };
        if volume <= Decimal::ZERO {
            return;
        }
        let (quote, base) = (o.market.quote().to_string(), o.market.base().to_string());
        // Checked: prices come from the network. A fill whose funds cannot be computed
        // does not happen (the order stays open).
        let Some((funds, fee)) = price.checked_mul(volume).and_then(|f| Some((f, f.checked_mul(rate)?)))
        else {
            tracing::warn!(%uuid, %price, %volume, "paper fill too large to compute; not filled");
            return;
        };
        // Every paper order is one the engine placed, so its side is known.
        let Some(side) = o.side else { return };
        let mut o = o;
        match side {
            Side::Bid => {
                // Release the reserve for this volume (everything for a market buy), pay
                // the cost plus fee, return the difference.
                let release = match o.ord_type {
                    OrderType::Limit => o
                        .price
                        .unwrap_or_default()
                        .checked_mul(volume)
                        .and_then(|n| with_fee(n, rate))
                        .map_or(o.locked, |n| n.min(o.locked)),
                    _ => o.locked,
                };
                o.locked = o.locked.saturating_sub(release);
                let q = self.holding(&quote);
                q.locked = q.locked.saturating_sub(release);
                q.free = q.free.saturating_add(release.saturating_sub(funds).saturating_sub(fee));
                let b = self.holding(&base);
                let held = b.free.saturating_add(b.locked);
                let total = held.saturating_add(volume);
                if total > Decimal::ZERO
                    && let Some(avg) = b
                        .avg
                        .checked_mul(held)
                        .and_then(|c| c.checked_add(funds))
                        .and_then(|c| c.checked_div(total))
                {
                    b.avg = avg;
                }
                b.free = b.free.saturating_add(volume);
            }
            Side::Ask => {
                o.locked = o.locked.saturating_sub(volume);
                let b = self.holding(&base);
                b.locked = b.locked.saturating_sub(volume);
                if b.free.saturating_add(b.locked).is_zero() {
                    b.avg = Decimal::ZERO;
                }
                let q = self.holding(&quote);
                q.free = q.free.saturating_add(funds.saturating_sub(fee));
            }
        }
        self.seq += 1;
        let trade_uuid = format!("paper-trade-{:08}", self.seq);
        o.executed_volume = o.executed_volume.saturating_add(volume);
        o.remaining_volume = o.remaining_volume.saturating_sub(volume).max(Decimal::ZERO);
        o.executed_funds = Some(o.executed_funds.unwrap_or_default().saturating_add(funds));
        o.paid_fee = o.paid_fee.saturating_add(fee);
        o.trades_count += 1;
        o.trades.push(Fill {
            trade_uuid,
            order_uuid: o.uuid.clone(),
            market: o.market.clone(),
            side: o.side,
            price,
            volume,
            funds,
            fee: Some(fee),
            is_maker: Some(is_maker),
            timestamp: chrono::Utc::now().timestamp_millis(),
        });
        let complete = match o.ord_type {
            OrderType::Limit | OrderType::Market => o.remaining_volume.is_zero(),
            _ => side == Side::Bid || o.remaining_volume.is_zero(),
        };
        o.state = if complete { OrderState::Done } else { OrderState::Trade };
        if complete && !o.locked.is_zero() {
            // Leftover reserve (a market buy's rounding): give it back.
            let (cur, left) = (if side == Side::Bid { quote } else { base }, o.locked);
            let h = self.holding(&cur);
            h.locked = h.locked.saturating_sub(left);
            h.free = h.free.saturating_add(left);
            o.locked = Decimal::ZERO;
        }
        self.orders.insert(o.uuid.clone(), o);
    }

    fn cancel_order(&mut self, uuid: &str) {
        let Some(mut o) = self.orders.get(uuid).cloned() else { return };
        if o.state.is_terminal() {
            return;
        }
        let cur = match o.side {
            Some(Side::Bid) => o.market.quote().to_string(),
            Some(Side::Ask) => o.market.base().to_string(),
            // Never: every paper order is one the engine placed.
            None => return,
        };
        let left = o.locked;
        let h = self.holding(&cur);
        h.locked = h.locked.saturating_sub(left);
        h.free = h.free.saturating_add(left);
        o.locked = Decimal::ZERO;
        o.state = OrderState::Cancel;
        self.orders.insert(o.uuid.clone(), o);
    }

    fn match_resting(&mut self, market: &MarketId) -> Vec<Order> {
        let Some(q) = self.quotes.get(market).cloned() else { return Vec::new() };
        let mut resting: Vec<(String, Side, Price, Decimal)> = self
            .orders
            .values()
            .filter(|o| &o.market == market && o.ord_type == OrderType::Limit && !o.state.is_terminal())
            .filter_map(|o| Some((o.uuid.clone(), o.side?, o.price.unwrap_or_default(), o.remaining_volume)))
            .collect();
        resting.sort_by(|a, b| a.0.cmp(&b.0));
        let mut changed = Vec::new();
        for (uuid, side, limit, vol) in resting {
            let crosses = match side {
                Side::Bid => q.ask.is_some_and(|a| a <= limit) || q.last.is_some_and(|l| l < limit),
                Side::Ask => q.bid.is_some_and(|b| b >= limit) || q.last.is_some_and(|l| l > limit),
            };
            if crosses {
                self.fill(&uuid, limit, vol, true);
                if let Some(o) = self.orders.get(&uuid) {
                    changed.push(o.clone());
                }
            }
        }
        changed
    }
}

impl OrderVenue for PaperVenue {
    fn name(&self) -> &'static str {
        "paper"
    }

    fn place(&self, identifier: String, order: ValidOrder) -> VenueFuture<Order> {
        let r = self.place_now(identifier, order);
        Box::pin(std::future::ready(r))
    }

    fn cancel(&self, target: VenueRef) -> VenueFuture<Order> {
        let mut s = self.lock();
        let r = match s.find(&target).cloned() {
            None => Err(final_err(ORDER_NOT_FOUND, format!("{target:?} not found"))),
            Some(o) if o.state.is_terminal() => {
                Err(final_err("order_not_found", format!("order {} is already {:?}", o.uuid, o.state)))
            }
            Some(o) => {
                s.cancel_order(&o.uuid);
                Ok(s.orders.get(&o.uuid).cloned().unwrap_or(o))
            }
        };
        Box::pin(std::future::ready(r))
    }

    fn get(&self, target: VenueRef) -> VenueFuture<Option<Order>> {
        let r = self.lock().find(&target).cloned();
        Box::pin(std::future::ready(Ok(r)))
    }

    fn open_orders(&self, market: Option<MarketId>) -> VenueFuture<Vec<Order>> {
        let s = self.lock();
        let mut v: Vec<Order> = s
            .orders
            .values()
            .filter(|o| !o.state.is_terminal() && market.as_ref().is_none_or(|m| &o.market == m))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        Box::pin(std::future::ready(Ok(v)))
    }

    fn balances(&self) -> VenueFuture<Vec<Balance>> {
        let b = self.balances_now();
        Box::pin(std::future::ready(Ok(b)))
    }
}
