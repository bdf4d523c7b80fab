//! The paper exchange: one seeded account, order validation with Upbit's error names,
//! locked funds, fees, price-time priority against the generated book (taker) and against
//! generated trades (resting orders), and the myOrder / myAsset events every change causes.
//!
//! Pure and synchronous: the server holds it behind a mutex next to the generator, and the
//! property tests drive it directly.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{FixedOffset, TimeZone};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::exchange::types::{OrderState, OrderType, Side, StreamType, TimeInForce};
use crate::exchange::upbit::ticks;
use crate::exchange::upbit::wire::{
    AskBid, WireAccount, WireAsset, WireBulkCancelOrder, WireMyAsset, WireMyOrder, WireOrder, WireOrderTrade,
};

/// A rejected exchange request: HTTP status and Upbit's `error.name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {name}: {message}")]
pub struct OrderError {
    /// HTTP status.
    pub status: u16,
    /// `error.name`.
    pub name: &'static str,
    /// Message.
    pub message: String,
}

fn err(status: u16, name: &'static str, message: impl Into<String>) -> OrderError {
    OrderError { status, name, message: message.into() }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Bid => "bid",
        Side::Ask => "ask",
    }
}

/// One currency of the account.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Holding {
    /// Available.
    pub balance: Decimal,
    /// Reserved by open orders.
    pub locked: Decimal,
    /// Average buy price (KRW).
    pub avg_buy_price: Decimal,
}

/// One fill of an order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimFill {
    /// Fill id.
    pub uuid: String,
    /// Price.
    pub price: Decimal,
    /// Volume.
    pub volume: Decimal,
    /// Fee paid.
    pub fee: Decimal,
    /// Maker or taker.
    pub is_maker: bool,
    /// Time (ms).
    pub ts: i64,
}

/// An order as the exchange keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimOrder {
    /// Exchange id.
    pub uuid: String,
    /// Client id.
    pub identifier: Option<String>,
    /// Market.
    pub market: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub ord_type: OrderType,
    /// Unit price (limit) or total amount (price, best bid).
    pub price: Option<Decimal>,
    /// Requested volume.
    pub volume: Option<Decimal>,
    /// Volume left.
    pub remaining_volume: Decimal,
    /// Volume done.
    pub executed_volume: Decimal,
    /// Quote spent/received.
    pub executed_funds: Decimal,
    /// Fee reserved at placement.
    pub reserved_fee: Decimal,
    /// Fee still reserved.
    pub remaining_fee: Decimal,
    /// Fee paid.
    pub paid_fee: Decimal,
    /// Funds still locked by the order.
    pub locked: Decimal,
    /// State.
    pub state: OrderState,
    /// Time in force.
    pub tif: Option<TimeInForce>,
    /// SMP type as applied (Upbit fills in the default since 2026-11-09: `cancel_maker`,
    /// or `none` for a `post_only` order sent without one).
    pub smp_type: Option<String>,
    /// Volume cancelled by self-match prevention.
    #[serde(default)]
    pub prevented_volume: Decimal,
    /// What self-match prevention released: funds for a bid (price × volume, the fee
    /// reserved on it is released too but not counted here, as in Upbit's example), volume
    /// for an ask.
    #[serde(default)]
    pub prevented_locked: Decimal,
    /// Creation (ms).
    pub(crate) created: i64,
    /// Fills.
    pub fills: Vec<SimFill>,
    /// Fee rate.
    pub fee_rate: Decimal,
}

/// Formats ms as Upbit's KST ISO time; `micros` adds the fraction fills carry.
pub(crate) fn kst_iso(ts: i64, micros: bool) -> String {
    let Some(kst) = FixedOffset::east_opt(9 * 3600) else { return String::new() };
    let Some(t) = kst.timestamp_millis_opt(ts).single() else { return String::new() };
    if micros {
        t.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

impl SimOrder {
    /// The REST order object.
    pub fn wire(&self, with_trades: bool, with_funds: bool) -> WireOrder {
        let is_market_buy = matches!(self.ord_type, OrderType::Price)
            || (self.ord_type == OrderType::Best && self.side == Side::Bid);
        WireOrder {
            uuid: self.uuid.clone(),
            side: Some(self.side),
            ord_type: self.ord_type,
            price: self.price,
            state: self.state,
            market: self.market.clone(),
            created_at: kst_iso(self.created, false),
            volume: if is_market_buy { None } else { self.volume },
            remaining_volume: if is_market_buy { None } else { Some(self.remaining_volume) },
            executed_volume: self.executed_volume,
            executed_funds: with_funds.then_some(self.executed_funds),
            reserved_fee: self.reserved_fee,
            remaining_fee: self.remaining_fee,
            paid_fee: self.paid_fee,
            locked: self.locked,
            prevented_volume: Some(self.prevented_volume),
            prevented_locked: Some(self.prevented_locked),
            trades_count: self.fills.len() as u32,
            time_in_force: self.tif,
            identifier: self.identifier.clone(),
            smp_type: self.smp_type.clone(),
            trades: with_trades.then(|| {
                self.fills
                    .iter()
                    .map(|f| WireOrderTrade {
                        market: self.market.clone(),
                        uuid: f.uuid.clone(),
                        price: f.price,
                        volume: f.volume,
                        funds: f.price * f.volume,
                        trend: Some(if self.side == Side::Bid { "up" } else { "down" }.to_string()),
                        created_at: kst_iso(f.ts, true),
                        side: Some(self.side),
                    })
                    .collect()
            }),
        }
    }

    /// A myOrder event; `fill` set for `state = trade`.
    pub fn my_order(&self, state: OrderState, fill: Option<&SimFill>, now: i64) -> WireMyOrder {
        let avg = if self.executed_volume.is_zero() {
            None
        } else {
            Some(self.executed_funds / self.executed_volume)
        };
        WireMyOrder {
            ty: "myOrder".to_string(),
            code: self.market.clone(),
            uuid: self.uuid.clone(),
            ask_bid: AskBid::from(self.side),
            order_type: self.ord_type,
            state,
            trade_uuid: fill.map(|f| f.uuid.clone()),
            price: fill.map(|f| f.price).or(self.price),
            avg_price: avg.or(Some(Decimal::ZERO)),
            volume: fill.map(|f| f.volume).or(self.volume),
            remaining_volume: Some(self.remaining_volume),
            executed_volume: self.executed_volume,
            trades_count: self.fills.len() as u32,
            reserved_fee: self.reserved_fee,
            remaining_fee: self.remaining_fee,
            paid_fee: self.paid_fee,
            locked: self.locked,
            executed_funds: self.executed_funds,
            time_in_force: self.tif,
            trade_fee: fill.map(|f| f.fee),
            is_maker: fill.map(|f| f.is_maker),
            identifier: self.identifier.clone(),
            smp_type: self.smp_type.clone(),
            prevented_volume: Some(self.prevented_volume),
            prevented_locked: Some(self.prevented_locked),
            trade_timestamp: fill.map(|f| f.ts),
            order_timestamp: self.created,
            timestamp: now,
            stream_type: StreamType::Realtime,
        }
    }

    fn is_open(&self) -> bool {
        matches!(self.state, OrderState::Wait | OrderState::Watch)
    }
}

/// A private event for the `/websocket/v1/private` streams.
#[derive(Debug, Clone, PartialEq)]
pub enum PrivEvent {
    /// Order change.
    MyOrder(Box<WireMyOrder>),
    /// Balance change.
    MyAsset(WireMyAsset),
    /// An exchange notice (`announcement`, to every private connection that wants it).
    Announcement(Box<crate::exchange::upbit::announce::WireAnnouncement>),
}

/// A parsed new-order request (strings already validated as decimals where present).
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    /// Market.
    pub market: String,
    /// `bid` / `ask`.
    pub side: String,
    /// Volume.
    pub volume: Option<String>,
    /// Price.
    pub price: Option<String>,
    /// Order type.
    pub ord_type: String,
    /// Client id.
    pub identifier: Option<String>,
    /// Time in force.
    pub time_in_force: Option<String>,
    /// SMP type.
    pub smp_type: Option<String>,
}

/// Mutable view of one market's book: asks and bids best first, (price, size).
pub struct BookView<'a> {
    /// Asks.
    pub asks: &'a mut Vec<(Decimal, Decimal)>,
    /// Bids.
    pub bids: &'a mut Vec<(Decimal, Decimal)>,
}

/// Self-match prevention as an incoming order asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Smp {
    None,
    CancelMaker,
    CancelTaker,
    Reduce,
}

impl Smp {
    /// An order restored from a state file written before the 2026-11-09 default has no
    /// `smp_type`: it gets the default too.
    fn of(s: Option<&str>) -> Smp {
        match s {
            Some("none") => Smp::None,
            Some("cancel_taker") => Smp::CancelTaker,
            Some("reduce") => Smp::Reduce,
            _ => Smp::CancelMaker,
        }
    }
}

/// One step of a taker's plan.
enum Step {
    /// Trade with book level `i`: price, volume.
    Fill(usize, Decimal, Decimal),
    /// Trade with the account's own resting order (`smp_type` none).
    SelfFill(String, Decimal, Decimal),
    /// Cancel the own resting order.
    CancelMaker(String),
    /// Cancel the incoming order.
    CancelTaker,
    /// Take the overlap off both, no trade.
    Reduce(String, Decimal, Decimal),
}

/// The exchange state.
#[derive(Debug)]
pub struct Exchange {
    /// Balances by currency.
    pub(crate) holdings: BTreeMap<String, Holding>,
    /// Orders by uuid.
    pub orders: HashMap<String, SimOrder>,
    /// Creation order of uuids (time priority).
    pub(crate) order_seq: Vec<String>,
    identifiers: HashSet<String>,
    by_identifier: HashMap<String, String>,
    /// Markets that exist.
    pub markets: HashSet<String>,
    /// Events produced since the last drain.
    pub events: Vec<PrivEvent>,
    next_id: u64,
    id_salt: u64,
}

/// Fee rate of a quote currency (KRW 0.05 %, others 0.25 %).
pub fn fee_rate(quote: &str) -> Decimal {
    if quote == "KRW" { dec!(0.0005) } else { dec!(0.0025) }
}

fn split_market(m: &str) -> (&str, &str) {
    m.split_once('-').unwrap_or((m, ""))
}

fn parse_dec(v: &Option<String>, what: &str) -> Result<Option<Decimal>, OrderError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() || s == "null" => Ok(None),
        Some(s) => s
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| err(400, "invalid_parameter", format!("{what} has an invalid value: {s}"))),
    }
}

impl Exchange {
    /// An exchange over `markets` with the starting holdings.
    pub fn new(
        markets: impl IntoIterator<Item = String>,
        holdings: BTreeMap<String, Holding>,
        seed: u64,
    ) -> Self {
        Exchange {
            holdings,
            orders: HashMap::new(),
            order_seq: Vec::new(),
            identifiers: HashSet::new(),
            by_identifier: HashMap::new(),
            markets: markets.into_iter().collect(),
            events: Vec::new(),
            next_id: 0,
            id_salt: seed,
        }
    }

    /// Starts a new id session: every id made from now on differs from every id of any
    /// other session (a demo account restarted without its state file must never hand out
    /// an order or trade uuid its journal already holds: the journal keys fills on the
    /// trade uuid and would drop a new fill as a duplicate). Ids already handed out keep
    /// theirs.
    pub(crate) fn new_id_session(&mut self, session: u64) {
        self.id_salt = session;
    }

    /// A unique uuid-shaped id: the session in the high half, a counter in the low one.
    fn new_uuid(&mut self) -> String {
        self.next_id += 1;
        let v = (u128::from(self.id_salt) << 64) | u128::from(self.next_id);
        uuid::Builder::from_random_bytes(v.to_be_bytes()).into_uuid().to_string()
    }

    /// `/v1/accounts` rows (currencies with anything in them; KRW always).
    pub fn accounts(&self) -> Vec<WireAccount> {
        self.holdings
            .iter()
            .filter(|(c, h)| c.as_str() == "KRW" || !(h.balance + h.locked).is_zero())
            .map(|(c, h)| self.account(c, h))
            .collect()
    }

    fn account(&self, c: &str, h: &Holding) -> WireAccount {
        WireAccount {
            currency: c.to_string(),
            balance: h.balance,
            locked: h.locked,
            avg_buy_price: h.avg_buy_price,
            avg_buy_price_modified: false,
            unit_currency: "KRW".to_string(),
        }
    }

    /// One currency's row, zero when absent.
    pub(crate) fn account_of(&self, c: &str) -> WireAccount {
        let h = self.holdings.get(c).cloned().unwrap_or_default();
        self.account(c, &h)
    }

    /// Finds an order by uuid (wins) or identifier.
    pub fn find(&self, uuid: Option<&str>, identifier: Option<&str>) -> Result<&SimOrder, OrderError> {
        let id = match (uuid, identifier) {
            (Some(u), _) => Some(u.to_string()),
            (None, Some(i)) => self.by_identifier.get(i).cloned(),
            (None, None) => return Err(err(400, "validation_error", "uuid or identifier is required")),
        };
        id.and_then(|u| self.orders.get(&u))
            .ok_or_else(|| err(404, "order_not_found", "주문을 찾지 못했습니다."))
    }

    /// Validates a new order without booking it (`orders/test` and the first half of
    /// `place`). `burn` marks the identifier used even when validation then fails.
    pub fn validate(
        &mut self,
        req: &NewOrder,
        book: &BookView<'_>,
        burn: bool,
    ) -> Result<SimOrder, OrderError> {
        if req.market.is_empty() {
            return Err(err(400, "validation_error", "market is missing"));
        }
        let side = match req.side.as_str() {
            "bid" => Side::Bid,
            "ask" => Side::Ask,
            _ => {
                return Err(err(
                    400,
                    "validation_error",
                    "side is missing, side does not have a valid value",
                ));
            }
        };
        let ord_type = match req.ord_type.as_str() {
            "limit" => OrderType::Limit,
            "price" => OrderType::Price,
            "market" => OrderType::Market,
            "best" => OrderType::Best,
            _ => {
                return Err(err(
                    400,
                    "validation_error",
                    "ord_type is missing, ord_type does not have a valid value",
                ));
            }
        };
        if let Some(id) = &req.identifier {
            if id.is_empty() || id.len() > 64 {
                return Err(err(400, "validation_error", "identifier must be 1..64 characters"));
            }
            if self.identifiers.contains(id) {
                return Err(err(400, "duplicated_identifier", "중복된 identifier 입니다."));
            }
            if burn {
                // Upbit burns an identifier on first use even when the order then fails.
                self.identifiers.insert(id.clone());
            }
        }
        if !self.markets.contains(&req.market) {
            return Err(err(400, "notfoundmarket", format!("다음 마켓에 없는 종목입니다: {}", req.market)));
        }
        let (quote, base) = split_market(&req.market);
        let price = parse_dec(&req.price, "price")?;
        let volume = parse_dec(&req.volume, "volume")?;
        let create_err = || {
            if side == Side::Bid {
                err(400, "create_bid_error", "주문 요청 정보가 올바르지 않습니다.")
            } else {
                err(400, "create_ask_error", "주문 요청 정보가 올바르지 않습니다.")
            }
        };
        let tif = match req.time_in_force.as_deref() {
            None | Some("") => None,
            Some("ioc") => Some(TimeInForce::Ioc),
            Some("fok") => Some(TimeInForce::Fok),
            Some("post_only") => Some(TimeInForce::PostOnly),
            Some(_) => {
                return Err(err(400, "invalid_time_in_force", "time_in_force 값이 올바르지 않습니다."));
            }
        };
        match (ord_type, side) {
            (OrderType::Limit, _) => {
                if price.is_none() || volume.is_none() {
                    return Err(err(
                        400,
                        "validation_error",
                        "price and volume are required for limit orders",
                    ));
                }
            }
            (OrderType::Price, Side::Bid) | (OrderType::Best, Side::Bid) => {
                if volume.is_some() {
                    return Err(create_err());
                }
                if price.is_none() {
                    return Err(err(400, "validation_error", "price is missing"));
                }
            }
            (OrderType::Market, Side::Ask) | (OrderType::Best, Side::Ask) => {
                if price.is_some() {
                    return Err(create_err());
                }
                if volume.is_none() {
                    return Err(err(400, "validation_error", "volume is missing"));
                }
            }
            _ => return Err(create_err()),
        }
        match (ord_type, tif) {
            (OrderType::Best, None | Some(TimeInForce::PostOnly)) => {
                return Err(err(400, "invalid_time_in_force", "best 주문은 ioc 또는 fok 가 필요합니다."));
            }
            (OrderType::Price | OrderType::Market, Some(_)) => {
                return Err(err(
                    400,
                    "invalid_time_in_force",
                    "시장가 주문은 time_in_force 를 지원하지 않습니다.",
                ));
            }
            _ => {}
        }
        let smp_given = req.smp_type.as_deref().filter(|s| !s.is_empty());
        if let Some(s) = smp_given
            && !matches!(s, "cancel_maker" | "cancel_taker" | "reduce" | "none")
        {
            return Err(err(400, "invalid_parameter", format!("smp_type has an invalid value: {s}")));
        }
        // Since 2026-11-09 `none` may go with post_only; the three preventing ones may not.
        if tif == Some(TimeInForce::PostOnly) && smp_given.is_some_and(|s| s != "none") {
            return Err(err(400, "invalid_post_only", "post_only 와 smp_type 은 함께 사용할 수 없습니다."));
        }
        // The 2026-11-09 default: `cancel_maker`; a post_only order without one is `none`.
        let smp_type = Some(
            smp_given
                .unwrap_or(if tif == Some(TimeInForce::PostOnly) { "none" } else { "cancel_maker" })
                .to_string(),
        );
        for v in [price, volume].into_iter().flatten() {
            if v <= Decimal::ZERO {
                return Err(err(400, "invalid_parameter", format!("값은 0보다 커야 합니다: {v}")));
            }
        }
        if let Some(v) = volume
            && v.normalize().scale() > ticks::VOLUME_SCALE
        {
            return Err(err(400, "invalid_parameter", format!("volume has more than 8 decimals: {v}")));
        }
        let sname = side_name(side);
        if ord_type == OrderType::Limit
            && let Some(p) = price
            && !ticks::is_on_tick(quote, p)
        {
            let name = if side == Side::Bid { "invalid_price_bid" } else { "invalid_price_ask" };
            return Err(err(
                400,
                name,
                format!("주문가격 단위를 잘못 입력하셨습니다. 호가 단위: {}", ticks::tick_size(quote, p)),
            ));
        }
        let best_bid = book.bids.first().map(|b| b.0).unwrap_or_default();
        let total = match ord_type {
            OrderType::Limit => price.unwrap_or_default() * volume.unwrap_or_default(),
            OrderType::Price => price.unwrap_or_default(),
            OrderType::Best if side == Side::Bid => price.unwrap_or_default(),
            _ => volume.unwrap_or_default() * best_bid,
        };
        let min = ticks::min_total(quote);
        if total < min {
            let name = match (ord_type, side) {
                (OrderType::Market, Side::Ask) | (OrderType::Best, Side::Ask) => "under_min_total_market_ask",
                (_, Side::Bid) => "under_min_total_bid",
                (_, Side::Ask) => "under_min_total_ask",
            };
            return Err(err(400, name, format!("최소주문금액 이상으로 주문해주세요 ({min} {quote})")));
        }
        if let Some(max) = ticks::max_total(quote)
            && total > max
        {
            let name = if side == Side::Bid { "over_krw_funds_bid" } else { "over_krw_funds_ask" };
            return Err(err(
                400,
                name,
                format!("최대 주문 가능 금액 {max} {quote} 보다 작은 주문만 가능합니다."),
            ));
        }
        let fee = fee_rate(quote);
        let (locked, reserved_fee) = match side {
            Side::Bid => (total + total * fee, total * fee),
            Side::Ask => (volume.unwrap_or_default(), Decimal::ZERO),
        };
        let (cur, have) = match side {
            Side::Bid => (quote, self.holdings.get(quote).map(|h| h.balance).unwrap_or_default()),
            Side::Ask => (base, self.holdings.get(base).map(|h| h.balance).unwrap_or_default()),
        };
        if locked > have {
            return Err(err(
                400,
                if side == Side::Bid { "insufficient_funds_bid" } else { "insufficient_funds_ask" },
                format!("주문가능한 금액({cur})이 부족합니다."),
            ));
        }
        // Market-order acceptance guard: not more than the visible 30 levels.
        match (ord_type, side) {
            (OrderType::Price | OrderType::Best, Side::Bid) => {
                let depth: Decimal = book.asks.iter().map(|a| a.0 * a.1).sum();
                if total > depth {
                    return Err(err(400, "create_bid_error", "호가 잔량을 초과하는 시장가 매수 주문입니다."));
                }
            }
            (OrderType::Market | OrderType::Best, Side::Ask) => {
                let depth: Decimal = book.bids.iter().map(|b| b.1).sum();
                if volume.unwrap_or_default() > depth {
                    return Err(err(400, "create_ask_error", "호가 잔량을 초과하는 시장가 매도 주문입니다."));
                }
            }
            _ => {}
        }
        let _ = sname;
        Ok(SimOrder {
            uuid: String::new(),
            identifier: req.identifier.clone(),
            market: req.market.clone(),
            side,
            ord_type,
            price,
            volume,
            remaining_volume: volume.unwrap_or_default(),
            executed_volume: Decimal::ZERO,
            executed_funds: Decimal::ZERO,
            reserved_fee,
            remaining_fee: reserved_fee,
            paid_fee: Decimal::ZERO,
            locked,
            state: OrderState::Wait,
            tif,
            smp_type,
            prevented_volume: Decimal::ZERO,
            prevented_locked: Decimal::ZERO,
            created: 0,
            fills: Vec::new(),
            fee_rate: fee,
        })
    }

    /// Places an order: validates, locks funds, takes liquidity from `book`, rests the
    /// remainder (limit without ioc/fok). Returns the order as accepted (state `wait`).
    pub fn place(&mut self, req: &NewOrder, book: BookView<'_>, now: i64) -> Result<WireOrder, OrderError> {
        let mut o = self.validate(req, &book, true)?;
        o.uuid = self.new_uuid();
        o.created = now;
        let (quote, base) = split_market(&o.market);
        let (quote, base) = (quote.to_string(), base.to_string());
        let lock_cur = if o.side == Side::Bid { quote.clone() } else { base.clone() };
        {
            let h = self.holdings.entry(lock_cur.clone()).or_default();
            h.balance -= o.locked;
            h.locked += o.locked;
        }
        if let Some(id) = &o.identifier {
            self.by_identifier.insert(id.clone(), o.uuid.clone());
        }
        let accepted = o.wire(false, false);
        self.events.push(PrivEvent::MyOrder(Box::new(o.my_order(OrderState::Wait, None, now))));
        self.push_asset(&[lock_cur.as_str()], now);
        let uuid = o.uuid.clone();
        self.order_seq.push(uuid.clone());
        self.orders.insert(uuid.clone(), o);
        self.take(&uuid, book, now);
        Ok(accepted)
    }

    /// Taker phase of a new order: it meets the generated book and the account's own
    /// resting orders on the other side, best price first (an own order first at an equal
    /// price), and self-match prevention decides what happens at an own order: the taker's
    /// `smp_type` rules, as at Upbit (the maker's own setting no longer counts once booked).
    fn take(&mut self, uuid: &str, book: BookView<'_>, now: i64) {
        let Some(o) = self.orders.get(uuid).cloned() else { return };
        let limit = if o.ord_type == OrderType::Limit { o.price } else { None };
        let levels: &mut Vec<(Decimal, Decimal)> = if o.side == Side::Bid { book.asks } else { book.bids };
        let crosses = |p: Decimal| match (o.side, limit) {
            (_, None) => true,
            (Side::Bid, Some(l)) => p <= l,
            (Side::Ask, Some(l)) => p >= l,
        };
        let better_or_equal = |a: Decimal, b: Decimal| if o.side == Side::Bid { a <= b } else { a >= b };
        let market_buy = o.side == Side::Bid && o.ord_type != OrderType::Limit;
        let smp = Smp::of(o.smp_type.as_deref());
        // The account's resting limit orders this one crosses, best price first, then time.
        let mut own: Vec<(Decimal, usize, String, Decimal)> = self
            .order_seq
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let r = self.orders.get(u)?;
                let p = r.price?;
                let rests = r.market == o.market
                    && r.side != o.side
                    && r.state == OrderState::Wait
                    && r.ord_type == OrderType::Limit;
                (rests && crosses(p)).then(|| (p, i, u.clone(), r.remaining_volume))
            })
            .collect();
        own.sort_by(|a, b| {
            let by_price = if o.side == Side::Bid { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) };
            by_price.then(a.1.cmp(&b.1))
        });
        // Plan first (FOK needs to know whether everything fills; post-only whether
        // anything would trade).
        let mut plan: Vec<Step> = Vec::new();
        let mut want_vol = o.remaining_volume;
        let mut want_funds = o.price.unwrap_or_default();
        let (mut filled_vol, mut filled_funds) = (Decimal::ZERO, Decimal::ZERO);
        let mut touched = false;
        let (mut li, mut oi) = (0, 0);
        loop {
            let level = levels.get(li).copied();
            let mine = own.get(oi).cloned();
            let pick_own = match (level, &mine) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some((lp, _)), Some(m)) => better_or_equal(m.0, lp),
            };
            let (p, size) = match (pick_own, level, &mine) {
                (true, _, Some(m)) => (m.0, m.3),
                (false, Some(l), _) => l,
                _ => break,
            };
            if !crosses(p) {
                break;
            }
            touched = true;
            let v = if market_buy {
                (want_funds / p)
                    .round_dp_with_strategy(ticks::VOLUME_SCALE, rust_decimal::RoundingStrategy::ToZero)
                    .min(size)
            } else {
                want_vol.min(size)
            };
            let consumes = if pick_own {
                let maker = mine.map(|m| m.2).unwrap_or_default();
                oi += 1;
                match smp {
                    Smp::CancelMaker => {
                        plan.push(Step::CancelMaker(maker));
                        continue;
                    }
                    Smp::CancelTaker => {
                        plan.push(Step::CancelTaker);
                        break;
                    }
                    Smp::None if v > Decimal::ZERO => {
                        plan.push(Step::SelfFill(maker, p, v));
                        true
                    }
                    Smp::Reduce if v > Decimal::ZERO => {
                        plan.push(Step::Reduce(maker, p, v));
                        false
                    }
                    _ => break,
                }
            } else {
                li += 1;
                if v <= Decimal::ZERO {
                    break;
                }
                plan.push(Step::Fill(li - 1, p, v));
                true
            };
            if consumes {
                filled_vol += v;
                filled_funds += p * v;
            }
            if market_buy {
                want_funds -= p * v;
            } else {
                want_vol -= v;
                if want_vol.is_zero() {
                    break;
                }
            }
        }
        let complete = if market_buy {
            o.price.unwrap_or_default() - filled_funds < o.price.unwrap_or_default() * dec!(0.0000001)
        } else {
            filled_vol == o.remaining_volume
        };
        if o.tif == Some(TimeInForce::PostOnly) && touched {
            // Post-only would take liquidity (its own resting order's included): cancelled.
            self.finish(uuid, OrderState::Cancel, now);
            return;
        }
        if o.tif == Some(TimeInForce::Fok) && !complete {
            // Nothing trades and nothing is prevented: the order never entered the book.
            self.finish(uuid, OrderState::Cancel, now);
            return;
        }
        for step in plan {
            match step {
                Step::Fill(i, p, v) => {
                    if let Some(l) = levels.get_mut(i) {
                        l.1 -= v;
                    }
                    self.fill(uuid, p, v, false, now);
                }
                Step::SelfFill(maker, p, v) => {
                    self.fill(uuid, p, v, false, now);
                    self.fill(&maker, p, v, true, now);
                }
                Step::CancelMaker(maker) => self.prevent_rest(&maker, now),
                Step::CancelTaker => {
                    self.prevent_rest(uuid, now);
                    return;
                }
                Step::Reduce(maker, p, v) => {
                    self.prevent_part(uuid, p, v, now);
                    self.prevent_part(&maker, p, v, now);
                }
            }
        }
        levels.retain(|l| l.1 > Decimal::ZERO);
        let Some(o) = self.orders.get(uuid) else { return };
        if !o.is_open() {
            return;
        }
        if o.ord_type != OrderType::Limit || matches!(o.tif, Some(TimeInForce::Ioc | TimeInForce::Fok)) {
            // Market, best and IOC remainders are cancelled (market buy ends `cancel`).
            let state =
                if o.ord_type != OrderType::Limit && o.locked.is_zero() && o.remaining_volume.is_zero() {
                    OrderState::Done
                } else {
                    OrderState::Cancel
                };
            self.finish(uuid, state, now);
        }
    }

    /// Self-match prevention cancels what is left of an order (`cancel_maker` on the
    /// resting one, `cancel_taker` on the incoming one): all of it is prevented, the
    /// order ends `cancel` and its locked funds go back.
    fn prevent_rest(&mut self, uuid: &str, now: i64) {
        let Some(o) = self.orders.get_mut(uuid) else { return };
        if !o.is_open() {
            return;
        }
        let market_buy = o.side == Side::Bid && o.ord_type != OrderType::Limit;
        let (volume, locked) = match o.side {
            // A market buy has no volume: what is prevented is its unspent funds.
            Side::Bid if market_buy => (Decimal::ZERO, o.locked - o.remaining_fee),
            Side::Bid => (o.remaining_volume, o.price.unwrap_or_default() * o.remaining_volume),
            Side::Ask => (o.remaining_volume, o.remaining_volume),
        };
        o.prevented_volume += volume;
        o.prevented_locked += locked;
        self.finish(uuid, OrderState::Cancel, now);
    }

    /// Self-match prevention `reduce`: `volume` at `price` is taken off the order without
    /// trading. The order goes on with the rest (a `prevented` event), or ends `cancel`
    /// when nothing is left.
    fn prevent_part(&mut self, uuid: &str, price: Decimal, volume: Decimal, now: i64) {
        let Some(o) = self.orders.get_mut(uuid) else { return };
        if !o.is_open() {
            return;
        }
        let market_buy = o.side == Side::Bid && o.ord_type != OrderType::Limit;
        let (quote, base) = split_market(&o.market);
        let cur = if o.side == Side::Bid { quote.to_string() } else { base.to_string() };
        let release = match o.side {
            Side::Bid => {
                let unit = if market_buy { price } else { o.price.unwrap_or(price) };
                let funds = unit * volume;
                let fee = funds * o.fee_rate;
                o.prevented_locked += funds;
                o.remaining_fee = (o.remaining_fee - fee).max(Decimal::ZERO);
                (funds + fee).min(o.locked)
            }
            Side::Ask => {
                o.prevented_locked += volume;
                volume.min(o.locked)
            }
        };
        o.prevented_volume += volume;
        if !market_buy {
            o.remaining_volume -= volume;
        }
        o.locked -= release;
        let left = if market_buy { o.locked > o.remaining_fee } else { o.remaining_volume > Decimal::ZERO };
        let ev = o.my_order(OrderState::Prevented, None, now);
        let h = self.holdings.entry(cur.clone()).or_default();
        h.locked -= release;
        h.balance += release;
        if left {
            self.events.push(PrivEvent::MyOrder(Box::new(ev)));
            self.push_asset(&[cur.as_str()], now);
        } else {
            self.push_asset(&[cur.as_str()], now);
            self.finish(uuid, OrderState::Cancel, now);
        }
    }

    /// Applies one fill to an order and the account.
    fn fill(&mut self, uuid: &str, price: Decimal, volume: Decimal, is_maker: bool, now: i64) {
        let trade_uuid = self.new_uuid();
        let Some(o) = self.orders.get_mut(uuid) else { return };
        let (quote, base) = split_market(&o.market);
        let (quote, base) = (quote.to_string(), base.to_string());
        let funds = price * volume;
        let fee = funds * o.fee_rate;
        let market_buy = o.side == Side::Bid && o.ord_type != OrderType::Limit;
        o.executed_volume += volume;
        o.executed_funds += funds;
        o.paid_fee += fee;
        let released; // amount leaving `locked` of the locked currency
        match o.side {
            Side::Bid => {
                if market_buy {
                    released = funds + fee;
                    o.remaining_fee = (o.remaining_fee - fee).max(Decimal::ZERO);
                } else {
                    let limit = o.price.unwrap_or(price);
                    o.remaining_volume -= volume;
                    let share = limit * volume;
                    let share_fee = share * o.fee_rate;
                    released = share + share_fee;
                    o.remaining_fee -= share_fee;
                }
                o.locked -= released;
                let q = self.holdings.entry(quote.clone()).or_default();
                q.locked -= released;
                // Buying below the limit refunds the difference.
                q.balance += released - funds - fee;
                let b = self.holdings.entry(base.clone()).or_default();
                let old_total = b.balance + b.locked;
                if quote == "KRW" {
                    let new_total = old_total + volume;
                    if !new_total.is_zero() {
                        b.avg_buy_price = ((old_total * b.avg_buy_price + funds) / new_total).round_dp(8);
                    }
                }
                b.balance += volume;
            }
            Side::Ask => {
                released = volume;
                o.remaining_volume -= volume;
                o.locked -= volume;
                let b = self.holdings.entry(base.clone()).or_default();
                b.locked -= volume;
                let q = self.holdings.entry(quote.clone()).or_default();
                q.balance += funds - fee;
            }
        }
        let _ = released;
        let f = SimFill { uuid: trade_uuid, price, volume, fee, is_maker, ts: now };
        o.fills.push(f.clone());
        let ev = o.my_order(OrderState::Trade, Some(&f), now);
        let done = !market_buy && o.remaining_volume.is_zero();
        self.events.push(PrivEvent::MyOrder(Box::new(ev)));
        self.push_asset(&[quote.as_str(), base.as_str()], now);
        if done {
            self.finish(uuid, OrderState::Done, now);
        }
    }

    /// Ends an order: refunds what is still locked, emits the final myOrder.
    fn finish(&mut self, uuid: &str, state: OrderState, now: i64) {
        let Some(o) = self.orders.get_mut(uuid) else { return };
        if !o.is_open() {
            return;
        }
        let (quote, base) = split_market(&o.market);
        let cur = if o.side == Side::Bid { quote.to_string() } else { base.to_string() };
        let refund = o.locked;
        o.locked = Decimal::ZERO;
        o.remaining_fee = Decimal::ZERO;
        o.state = state;
        let ev = o.my_order(state, None, now);
        let h = self.holdings.entry(cur.clone()).or_default();
        h.locked -= refund;
        h.balance += refund;
        self.events.push(PrivEvent::MyOrder(Box::new(ev)));
        if !refund.is_zero() {
            self.push_asset(&[cur.as_str()], now);
        }
    }

    pub(crate) fn push_asset(&mut self, curs: &[&str], now: i64) {
        let assets = curs
            .iter()
            .map(|c| {
                let h = self.holdings.get(*c).cloned().unwrap_or_default();
                WireAsset { currency: (*c).to_string(), balance: h.balance, locked: h.locked }
            })
            .collect();
        let asset_uuid = self.new_uuid();
        self.events.push(PrivEvent::MyAsset(WireMyAsset {
            ty: "myAsset".to_string(),
            asset_uuid,
            assets,
            asset_timestamp: now,
            timestamp: now,
            stream_type: StreamType::Realtime,
        }));
    }

    /// Cancels an open order; returns it as it was before (state `wait`).
    pub fn cancel(
        &mut self,
        uuid: Option<&str>,
        identifier: Option<&str>,
        now: i64,
    ) -> Result<WireOrder, OrderError> {
        let o = self.find(uuid, identifier)?;
        if !o.is_open() {
            return Err(err(404, "order_not_found", "주문을 찾지 못했습니다."));
        }
        let before = o.wire(false, false);
        let id = o.uuid.clone();
        self.finish(&id, OrderState::Cancel, now);
        Ok(before)
    }

    /// Resting orders of a market crossed by a generated trade, price-time priority;
    /// each fills at its own limit price (maker).
    pub fn on_trade(&mut self, market: &str, price: Decimal, volume: Decimal, now: i64) {
        let mut candidates: Vec<(usize, String, Side, Decimal)> = self
            .order_seq
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let o = self.orders.get(u)?;
                if o.market != market || !o.is_open() || o.ord_type != OrderType::Limit {
                    return None;
                }
                let p = o.price?;
                let crossed = match o.side {
                    Side::Bid => price <= p,
                    Side::Ask => price >= p,
                };
                crossed.then(|| (i, u.clone(), o.side, p))
            })
            .collect();
        // Best price first, then time.
        candidates.sort_by(|a, b| {
            let by_price = match a.2 {
                Side::Bid => b.3.cmp(&a.3),
                Side::Ask => a.3.cmp(&b.3),
            };
            by_price.then(a.0.cmp(&b.0))
        });
        let mut left = volume;
        for (_, uuid, _, p) in candidates {
            let Some(o) = self.orders.get(&uuid) else { continue };
            // A trade through the price fills fully; a trade at the price shares its volume.
            let through = o.price.is_some_and(|lp| lp != price);
            let v = if through { o.remaining_volume } else { o.remaining_volume.min(left) };
            if v <= Decimal::ZERO {
                continue;
            }
            if !through {
                left -= v;
            }
            self.fill(&uuid, p, v, true, now);
        }
    }

    /// Orders matching a filter in creation order (or reversed).
    pub fn list(&self, f: impl Fn(&SimOrder) -> bool, asc: bool) -> Vec<&SimOrder> {
        let mut v: Vec<&SimOrder> =
            self.order_seq.iter().filter_map(|u| self.orders.get(u)).filter(|o| f(o)).collect();
        if !asc {
            v.reverse();
        }
        v
    }

    /// Cancels several orders; (success, failed).
    pub(crate) fn cancel_many(
        &mut self,
        targets: Vec<(Option<String>, Option<String>)>,
        now: i64,
    ) -> (Vec<WireBulkCancelOrder>, Vec<WireBulkCancelOrder>) {
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (u, i) in targets {
            match self.cancel(u.as_deref(), i.as_deref(), now) {
                Ok(o) => {
                    ok.push(WireBulkCancelOrder { uuid: o.uuid, market: o.market, identifier: o.identifier })
                }
                Err(_) => {
                    let found = self.find(u.as_deref(), i.as_deref()).ok();
                    failed.push(WireBulkCancelOrder {
                        uuid: found.map(|o| o.uuid.clone()).or(u.clone()).unwrap_or_default(),
                        market: found.map(|o| o.market.clone()).unwrap_or_default(),
                        identifier: i,
                    })
                }
            }
        }
        (ok, failed)
    }

    /// Drains the pending private events.
    pub(crate) fn drain_events(&mut self) -> Vec<PrivEvent> {
        std::mem::take(&mut self.events)
    }

    /// The account as a state file keeps it: the holdings, every open order and the
    /// newest `closed` finished ones (so a lookup of a recent order still finds it after a
    /// restart) with their identifiers, and the id counter (new ids never repeat one a
    /// journal already knows).
    pub(crate) fn saved(&self, closed: usize) -> super::persist::SavedAccount {
        let mut kept_closed = 0;
        let mut orders: Vec<SimOrder> = self
            .order_seq
            .iter()
            .rev()
            .filter_map(|u| self.orders.get(u))
            .filter(|o| {
                o.is_open() || {
                    kept_closed += 1;
                    kept_closed <= closed
                }
            })
            .cloned()
            .collect();
        orders.reverse();
        super::persist::SavedAccount {
            version: super::persist::VERSION,
            holdings: self.holdings.clone(),
            orders,
            next_id: self.next_id,
            // The market's prices are the generator's, the pockets and the story their
            // owners': the caller adds them.
            market: BTreeMap::new(),
            pockets: None,
            story: None,
        }
    }

    /// Puts a saved account in place of the starting one.
    pub(crate) fn restore(&mut self, saved: super::persist::SavedAccount) {
        self.holdings = saved.holdings;
        self.orders.clear();
        self.order_seq.clear();
        self.by_identifier.clear();
        self.identifiers.clear();
        for o in saved.orders {
            if let Some(id) = &o.identifier {
                self.identifiers.insert(id.clone());
                self.by_identifier.insert(id.clone(), o.uuid.clone());
            }
            self.order_seq.push(o.uuid.clone());
            self.orders.insert(o.uuid.clone(), o);
        }
        self.next_id = self.next_id.max(saved.next_id);
        self.events.clear();
    }

    /// Open orders.
    pub(crate) fn open_orders(&self) -> usize {
        self.orders.values().filter(|o| o.is_open()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exchange() -> Exchange {
        let mut h = BTreeMap::new();
        h.insert("KRW".to_string(), Holding { balance: dec!(10000000), ..Default::default() });
        h.insert(
            "BTC".to_string(),
            Holding { balance: dec!(0.1), avg_buy_price: dec!(140000000), ..Default::default() },
        );
        Exchange::new(["KRW-BTC".to_string()], h, 1)
    }

    type Levels = Vec<(Decimal, Decimal)>;

    fn book() -> (Levels, Levels) {
        let asks = (0..30).map(|i| (dec!(100000000) + Decimal::from(i * 1000), dec!(0.01))).collect();
        let bids = (0..30).map(|i| (dec!(99999000) - Decimal::from(i * 1000), dec!(0.01))).collect();
        (asks, bids)
    }

    fn req(side: &str, ord_type: &str, price: Option<&str>, volume: Option<&str>) -> NewOrder {
        NewOrder {
            market: "KRW-BTC".into(),
            side: side.into(),
            ord_type: ord_type.into(),
            price: price.map(Into::into),
            volume: volume.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn limit_bid_locks_price_volume_and_fee() {
        let mut x = exchange();
        let (mut a, mut b) = book();
        let o = x
            .place(
                &req("bid", "limit", Some("90000000"), Some("0.01")),
                BookView { asks: &mut a, bids: &mut b },
                0,
            )
            .unwrap();
        assert_eq!(o.state, OrderState::Wait);
        assert_eq!(o.reserved_fee, dec!(450));
        assert_eq!(o.locked, dec!(900450));
        assert_eq!(x.holdings["KRW"].locked, dec!(900450));
        assert_eq!(x.holdings["KRW"].balance, dec!(9099550));
    }

    #[test]
    fn market_buy_ends_cancel_with_fills() {
        let mut x = exchange();
        let (mut a, mut b) = book();
        let o = x
            .place(&req("bid", "price", Some("1234567"), None), BookView { asks: &mut a, bids: &mut b }, 0)
            .unwrap();
        let o = &x.orders[&o.uuid];
        assert_eq!(o.state, OrderState::Cancel);
        assert!(o.executed_volume > Decimal::ZERO);
        assert_eq!(x.holdings["KRW"].locked, Decimal::ZERO);
    }

    #[test]
    fn errors_have_upbit_names() {
        let mut x = exchange();
        let (mut a, mut b) = book();
        let mut e = |r: NewOrder| x.place(&r, BookView { asks: &mut a, bids: &mut b }, 0).unwrap_err().name;
        assert_eq!(e(req("bid", "limit", Some("90000001"), Some("0.01"))), "invalid_price_bid");
        assert_eq!(e(req("bid", "limit", Some("90000000"), Some("0.00001"))), "under_min_total_bid");
        assert_eq!(e(req("bid", "limit", Some("90000000"), Some("1"))), "insufficient_funds_bid");
        assert_eq!(e(req("ask", "limit", Some("90000000"), Some("1"))), "insufficient_funds_ask");
        assert_eq!(e(req("bid", "price", Some("10000"), Some("1"))), "create_bid_error");
        assert_eq!(e(req("ask", "market", None, Some("0.00001"))), "under_min_total_market_ask");
        assert_eq!(e(req("bid", "best", Some("10000"), None)), "invalid_time_in_force");
        assert_eq!(e(req("bid", "jump", Some("10000"), None)), "validation_error");
        let mut r = req("bid", "limit", Some("90000000"), Some("0.01"));
        r.market = "KRW-BTCs".into();
        assert_eq!(e(r), "notfoundmarket");
    }

    #[test]
    fn identifier_is_burned_even_after_a_failure() {
        let mut x = exchange();
        let (mut a, mut b) = book();
        let mut r = req("bid", "limit", Some("90000000"), Some("1"));
        r.identifier = Some("id-1".into());
        assert_eq!(
            x.place(&r, BookView { asks: &mut a, bids: &mut b }, 0).unwrap_err().name,
            "insufficient_funds_bid"
        );
        r.volume = Some("0.01".into());
        assert_eq!(
            x.place(&r, BookView { asks: &mut a, bids: &mut b }, 0).unwrap_err().name,
            "duplicated_identifier"
        );
    }

    /// Our resting sell at the best ask, then our buy through it with `smp`.
    fn self_match(smp: Option<&str>) -> (Exchange, String, String, Vec<PrivEvent>) {
        let mut x = exchange();
        let (mut a, mut b) = book();
        let sell = x
            .place(
                &req("ask", "limit", Some("100000000"), Some("0.005")),
                BookView { asks: &mut a, bids: &mut b },
                0,
            )
            .unwrap();
        x.drain_events();
        let buy = NewOrder {
            smp_type: smp.map(Into::into),
            ..req("bid", "limit", Some("100000000"), Some("0.01"))
        };
        let buy = x.place(&buy, BookView { asks: &mut a, bids: &mut b }, 1).unwrap();
        let events = x.drain_events();
        conserved(&x);
        (x, sell.uuid, buy.uuid, events)
    }

    /// The myOrder frames of one order, in order: (state, prevented_volume).
    fn frames(events: &[PrivEvent], uuid: &str) -> Vec<(OrderState, Decimal)> {
        events
            .iter()
            .filter_map(|e| match e {
                PrivEvent::MyOrder(m) if m.uuid == uuid => {
                    Some((m.state, m.prevented_volume.unwrap_or_default()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn smp_defaults_to_cancel_maker_and_cancels_our_resting_sell() {
        let (x, sell, buy, ev) = self_match(None);
        let s = &x.orders[&sell];
        assert_eq!(s.state, OrderState::Cancel);
        assert!(s.fills.is_empty(), "never traded with ourselves");
        assert_eq!((s.prevented_volume, s.prevented_locked), (dec!(0.005), dec!(0.005)));
        assert_eq!(frames(&ev, &sell), vec![(OrderState::Cancel, dec!(0.005))]);
        let w = s.wire(false, false);
        assert_eq!(w.smp_type.as_deref(), Some("cancel_maker"));
        assert_eq!(w.prevented_volume, Some(dec!(0.005)));
        // The buy goes on against the market: filled there, the default written back.
        let b = &x.orders[&buy];
        assert_eq!((b.state, b.executed_volume), (OrderState::Done, dec!(0.01)));
        assert_eq!(b.smp_type.as_deref(), Some("cancel_maker"));
        assert_eq!(b.prevented_volume, Decimal::ZERO);
        // The sell's BTC is free again, with the 0.01 bought.
        assert_eq!(x.holdings["BTC"].locked, Decimal::ZERO);
        assert_eq!(x.holdings["BTC"].balance, dec!(0.11));
    }

    #[test]
    fn smp_cancel_taker_cancels_our_buy_and_keeps_the_sell() {
        let (x, sell, buy, ev) = self_match(Some("cancel_taker"));
        let b = &x.orders[&buy];
        assert_eq!(b.state, OrderState::Cancel);
        assert!(b.fills.is_empty());
        assert_eq!((b.prevented_volume, b.prevented_locked), (dec!(0.01), dec!(1000000)));
        assert_eq!(frames(&ev, &buy).last(), Some(&(OrderState::Cancel, dec!(0.01))));
        assert_eq!(x.orders[&sell].state, OrderState::Wait);
        assert_eq!(x.holdings["KRW"].locked, Decimal::ZERO);
        assert_eq!(x.holdings["KRW"].balance, dec!(10000000));
    }

    #[test]
    fn smp_reduce_takes_the_overlap_off_both() {
        let (x, sell, buy, ev) = self_match(Some("reduce"));
        let s = &x.orders[&sell];
        assert_eq!(
            (s.state, s.prevented_volume, s.remaining_volume),
            (OrderState::Cancel, dec!(0.005), dec!(0))
        );
        let b = &x.orders[&buy];
        // 0.005 prevented (a `prevented` frame, the order goes on), 0.005 bought from the book.
        assert_eq!(frames(&ev, &buy)[1], (OrderState::Prevented, dec!(0.005)));
        assert_eq!((b.prevented_volume, b.prevented_locked), (dec!(0.005), dec!(500000)));
        assert_eq!((b.state, b.executed_volume), (OrderState::Done, dec!(0.005)));
        assert!(b.fills.iter().all(|f| !f.is_maker));
        assert_eq!(x.holdings["KRW"].locked, Decimal::ZERO);
        assert_eq!(x.holdings["KRW"].balance, dec!(10000000) - dec!(500000) - dec!(250));
    }

    #[test]
    fn smp_none_trades_with_ourselves() {
        let (x, sell, buy, _) = self_match(Some("none"));
        let s = &x.orders[&sell];
        assert_eq!((s.state, s.executed_volume), (OrderState::Done, dec!(0.005)));
        assert!(s.fills[0].is_maker);
        assert_eq!(x.orders[&buy].executed_volume, dec!(0.01));
        assert_eq!(x.orders[&buy].prevented_volume, Decimal::ZERO);
    }

    #[test]
    fn smp_values_and_post_only_as_upbit_takes_them() {
        let mut x = exchange();
        let (mut a, mut b) = book();
        let mut place = |tif: Option<&str>, smp: Option<&str>| {
            let r = NewOrder {
                time_in_force: tif.map(Into::into),
                smp_type: smp.map(Into::into),
                ..req("bid", "limit", Some("90000000"), Some("0.001"))
            };
            x.place(&r, BookView { asks: &mut a, bids: &mut b }, 0)
        };
        assert_eq!(place(Some("post_only"), None).unwrap().smp_type.as_deref(), Some("none"));
        assert_eq!(place(Some("post_only"), Some("none")).unwrap().smp_type.as_deref(), Some("none"));
        assert_eq!(place(Some("post_only"), Some("cancel_maker")).unwrap_err().name, "invalid_post_only");
        assert_eq!(place(None, Some("none")).unwrap().smp_type.as_deref(), Some("none"));
        assert_eq!(place(None, Some("cancel_both")).unwrap_err().name, "invalid_parameter");
    }

    fn conserved(x: &Exchange) {
        for (c, h) in &x.holdings {
            assert!(h.balance >= Decimal::ZERO, "{c} balance {}", h.balance);
            assert!(h.locked >= Decimal::ZERO, "{c} locked {}", h.locked);
        }
        let open_krw: Decimal =
            x.orders.values().filter(|o| o.is_open() && o.side == Side::Bid).map(|o| o.locked).sum();
        let open_btc: Decimal =
            x.orders.values().filter(|o| o.is_open() && o.side == Side::Ask).map(|o| o.locked).sum();
        assert_eq!(x.holdings["KRW"].locked, open_krw);
        assert_eq!(x.holdings.get("BTC").map(|h| h.locked).unwrap_or_default(), open_btc);
        for o in x.orders.values().filter(|o| !o.is_open()) {
            assert!(o.locked.is_zero());
        }
    }

    proptest! {
        #[test]
        fn funds_are_conserved(ops in proptest::collection::vec((0u8..6, 1i64..40, 1i64..300), 1..40)) {
            let mut x = exchange();
            let (mut a, mut b) = book();
            let krw0 = dec!(10000000);
            let btc0 = dec!(0.1);
            for (kind, px, vol) in ops {
                let price = (dec!(99000000) + Decimal::from(px * 50000)).to_string();
                let volume = (Decimal::from(vol) * dec!(0.0001)).to_string();
                let r = match kind {
                    0 => req("bid", "limit", Some(&price), Some(&volume)),
                    1 => req("ask", "limit", Some(&price), Some(&volume)),
                    2 => req("bid", "price", Some(&(Decimal::from(vol) * dec!(10000)).to_string()), None),
                    3 => req("ask", "market", None, Some(&volume)),
                    4 => { x.on_trade("KRW-BTC", dec!(99000000) + Decimal::from(px * 50000), dec!(0.003), 1); continue; }
                    _ => {
                        if let Some(u) = x.list(|o| o.is_open(), true).first().map(|o| o.uuid.clone()) {
                            x.cancel(Some(&u), None, 2).unwrap();
                        }
                        continue;
                    }
                };
                let _ = x.place(&r, BookView { asks: &mut a, bids: &mut b }, 0);
                conserved(&x);
            }
            conserved(&x);
            // KRW and BTC totals move exactly by the fills and fees.
            let mut krw = krw0;
            let mut btc = btc0;
            for o in x.orders.values() {
                for f in &o.fills {
                    match o.side {
                        Side::Bid => { krw -= f.price * f.volume + f.fee; btc += f.volume; }
                        Side::Ask => { krw += f.price * f.volume - f.fee; btc -= f.volume; }
                    }
                    prop_assert_eq!(f.fee, f.price * f.volume * dec!(0.0005));
                }
                prop_assert_eq!(o.paid_fee, o.fills.iter().map(|f| f.fee).sum::<Decimal>());
                prop_assert_eq!(o.executed_volume, o.fills.iter().map(|f| f.volume).sum::<Decimal>());
            }
            let k = &x.holdings["KRW"];
            let c = &x.holdings["BTC"];
            prop_assert_eq!(k.balance + k.locked, krw);
            prop_assert_eq!(c.balance + c.locked, btc);
        }
    }
}
