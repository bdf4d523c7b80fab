//! The order entry form: side, type, time in force, price and size (by quantity, quote
//! amount or % of the available balance), with a live preview of what would be sent.
//!
//! The preview is pure: it reuses the trading module's sizing (`trading::input::resolve`),
//! tick snapping (`MarketRules::snap`) and validation (`trading::orders::validate`), so
//! the snapped price, fee and total shown are exactly what trading will check again.

use rust_decimal::Decimal;

use crate::exchange::types::{MarketId, Side, TimeInForce};
use crate::store::Snapshot;
use crate::trading::input::{OrderInput, PriceSpec, Size, SizingContext, parse_decimal, resolve};
use crate::trading::orders::{MarketRules, ValidOrder, validate};

/// Order type as the form offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormKind {
    /// Limit at a price.
    #[default]
    Limit,
    /// Market (buy by amount, sell by quantity).
    Market,
    /// Best price (ioc or fok).
    Best,
}

impl FormKind {
    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            FormKind::Limit => "limit",
            FormKind::Market => "market",
            FormKind::Best => "best",
        }
    }
}

/// What the size field means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SizeUnit {
    /// Base-currency quantity.
    #[default]
    Qty,
    /// Quote-currency amount (KRW).
    Quote,
    /// Percent of the available balance.
    Percent,
}

impl SizeUnit {
    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            SizeUnit::Qty => "qty",
            SizeUnit::Quote => "amount",
            SizeUnit::Percent => "% balance",
        }
    }
}

/// Fields of the form, in cursor order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormField {
    /// Buy / sell.
    Side,
    /// Limit / market / best.
    Kind,
    /// Time in force.
    Tif,
    /// Price (limit only).
    #[default]
    Price,
    /// Size.
    Size,
    /// Size unit.
    Unit,
}

impl FormField {
    const ALL: [FormField; 6] = [
        FormField::Side,
        FormField::Kind,
        FormField::Tif,
        FormField::Price,
        FormField::Size,
        FormField::Unit,
    ];

    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            FormField::Side => "side",
            FormField::Kind => "type",
            FormField::Tif => "tif",
            FormField::Price => "price",
            FormField::Size => "size",
            FormField::Unit => "size by",
        }
    }
}

/// The form's editing state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderForm {
    /// Market the order is for (fixed when the form opens).
    pub market: MarketId,
    /// Buy or sell.
    pub side: Side,
    /// Order type.
    pub kind: FormKind,
    /// Time in force (None = good till cancelled).
    pub tif: Option<TimeInForce>,
    /// Price as typed.
    pub price: String,
    /// Size as typed.
    pub size: String,
    /// Size unit.
    pub unit: SizeUnit,
    /// Field under the cursor.
    pub field: FormField,
}

impl OrderForm {
    /// A buy form for `market`, the price prefilled with the last price.
    pub fn new(market: MarketId, last: Option<Decimal>) -> Self {
        OrderForm {
            market,
            side: Side::Bid,
            kind: FormKind::Limit,
            tif: None,
            price: last.map(|p| p.normalize().to_string()).unwrap_or_default(),
            size: String::new(),
            unit: SizeUnit::Qty,
            field: FormField::Price,
        }
    }

    /// Moves the cursor to the next (or previous) field.
    pub(crate) fn move_field(&mut self, forward: bool) {
        let all = FormField::ALL;
        let i = all.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = all.len();
        self.field = all[if forward { (i + 1) % n } else { (i + n - 1) % n }];
    }

    /// Cycles the option under the cursor (side, type, tif, unit).
    pub(crate) fn cycle(&mut self, forward: bool) {
        fn step<T: Copy + PartialEq>(all: &[T], cur: T, forward: bool) -> T {
            let i = all.iter().position(|x| *x == cur).unwrap_or(0);
            let n = all.len();
            all[if forward { (i + 1) % n } else { (i + n - 1) % n }]
        }
        match self.field {
            FormField::Side => self.side = self.side.opposite(),
            FormField::Kind => {
                self.kind = step(&[FormKind::Limit, FormKind::Market, FormKind::Best], self.kind, forward);
                // A time in force chosen for one type is not carried to the next (a
                // post-only limit turned market would be refused, or worse, kept):
                // each type starts from its own default. Upbit takes best orders only as
                // ioc or fok.
                self.tif = match self.kind {
                    FormKind::Best => Some(TimeInForce::Ioc),
                    FormKind::Limit | FormKind::Market => None,
                };
            }
            FormField::Tif => {
                self.tif = step(
                    &[None, Some(TimeInForce::Ioc), Some(TimeInForce::Fok), Some(TimeInForce::PostOnly)],
                    self.tif,
                    forward,
                )
            }
            FormField::Unit => {
                self.unit = step(&[SizeUnit::Qty, SizeUnit::Quote, SizeUnit::Percent], self.unit, forward)
            }
            FormField::Price | FormField::Size => {}
        }
    }

    /// Types a character into the price or size field (digits and one dot only).
    pub fn insert(&mut self, c: char) {
        let target = match self.field {
            FormField::Price => &mut self.price,
            FormField::Size => &mut self.size,
            // A typed letter on an option field is a shortcut: b/s for the side.
            FormField::Side => {
                match c {
                    'b' | 'B' => self.side = Side::Bid,
                    's' | 'S' => self.side = Side::Ask,
                    _ => {}
                }
                return;
            }
            _ => return,
        };
        if c.is_ascii_digit() || (c == '.' && !target.contains('.')) {
            target.push(c);
        }
    }

    /// Deletes the last character of the price or size field.
    pub(crate) fn delete_back(&mut self) {
        match self.field {
            FormField::Price => {
                self.price.pop();
            }
            FormField::Size => {
                self.size.pop();
            }
            _ => {}
        }
    }
}

/// What the form says under its fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FormStatus {
    /// A field still to fill in (nothing wrong yet: the form has just opened, or the
    /// field was cleared); what to type.
    Incomplete(String),
    /// What was typed cannot be sent, and why.
    Invalid(String),
    /// The order that would be sent, and warnings: what the risk gate will refuse, and a
    /// limit price that fills at once.
    Ready {
        /// The validated order (snapped price, fee, total).
        order: ValidOrder,
        /// Said before Enter, not after: the price is outside the price band, the total
        /// is above the per-order cap, the price crosses the book.
        warnings: Vec<String>,
    },
}

/// The risk gate's limits the form checks before Enter, as they are now (they follow
/// `:set`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// `[trading] price_band_pct` (percent of the last price; `None`: no band).
    pub band_pct: Option<Decimal>,
    /// `[trading] max_notional_per_order` (quote currency; `None`: no cap).
    pub cap: Option<Decimal>,
}

impl Limits {
    /// The limits in the UI's settings.
    pub(crate) fn of(config: &crate::ui::state::UiConfig) -> Self {
        Limits { band_pct: config.price_band_pct, cap: config.exits.cap }
    }
}

/// The form's state for its last lines: an empty field asks to be filled (never an
/// error before anything is typed), a bad value is named, and a valid order is checked
/// as the risk gate will (the price band, percent of the last price; the per-order cap)
/// and against the book (a limit price past the other side's best fills at once).
pub(crate) fn status(form: &OrderForm, snap: &Snapshot, limits: Limits) -> FormStatus {
    if form.kind == FormKind::Limit && form.price.trim().is_empty() {
        return FormStatus::Incomplete("type a price".into());
    }
    if form.size.trim().is_empty() {
        return FormStatus::Incomplete(format!("type a size ({})", form.unit.label()));
    }
    match preview(form, snap) {
        Err(e) => FormStatus::Invalid(e),
        Ok(order) => {
            let last = snap.market.tickers.get(&form.market).map(|t| t.value.trade_price);
            let limit = order.request.price.filter(|_| form.kind == FormKind::Limit);
            let mut warnings = Vec::new();
            if let (Some(price), Some(last)) = (limit, last) {
                warnings.extend(band_warning(price, last, limits.band_pct));
            }
            warnings.extend(cap_warning(&order, limits.cap));
            if let Some(price) = limit {
                let book = snap.market.books.get(&form.market).map(|b| &b.value);
                warnings.extend(crossing(book, order.request.side, price, form.market.quote()));
            }
            FormStatus::Ready { order, warnings }
        }
    }
}

/// Why the risk gate will refuse `order` for its size: its total before fee (what the
/// gate measures) above `[trading] max_notional_per_order`, or `None`.
pub(crate) fn cap_warning(order: &ValidOrder, cap: Option<Decimal>) -> Option<String> {
    let cap = cap.filter(|c| *c > Decimal::ZERO)?;
    (order.notional > cap).then(|| {
        let quote = order.request.market.quote();
        let amount = |a| crate::ui::widgets::format::amount(a, quote);
        format!(
            "order total {} {quote} before fee is above the per-order cap of {} {quote} \
             (max_notional_per_order): the risk gate will refuse it",
            amount(order.notional),
            amount(cap)
        )
    })
}

/// The warning for a limit order at `price` that crosses `book`: a buy at or above the
/// best ask, a sell at or below the best bid fills at once as a taker, at about the other
/// side's best price. `None` when it rests (or there is no book to tell).
pub(crate) fn crossing(
    book: Option<&crate::exchange::types::OrderBook>,
    side: crate::exchange::types::Side,
    price: Decimal,
    quote: &str,
) -> Option<String> {
    use crate::exchange::types::Side;
    let book = book?;
    let other = match side {
        Side::Bid => book.best_ask().filter(|a| price >= *a),
        Side::Ask => book.best_bid().filter(|b| price <= *b),
    }?;
    Some(format!(
        "crosses the book: fills at once as a taker at ~{}",
        crate::ui::widgets::format::market_price(quote, other)
    ))
}

/// Why a limit price will be refused by the risk gate's price band (the same test:
/// distance from the last price over the last price, above the band), or `None`.
pub(crate) fn band_warning(price: Decimal, last: Decimal, band_pct: Option<Decimal>) -> Option<String> {
    let band = band_pct.filter(|b| *b > Decimal::ZERO)?;
    if last <= Decimal::ZERO {
        return None;
    }
    // Checked: the last price comes from the network.
    let dist = price.checked_sub(last)?.abs().checked_div(last)?.checked_mul(Decimal::ONE_HUNDRED)?;
    (dist > band).then(|| {
        format!(
            "price is {}% from the last {}: outside the {}% price band, the risk gate will refuse it",
            dist.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::AwayFromZero).normalize(),
            crate::ui::widgets::format::price(last),
            band.normalize()
        )
    })
}

/// A number as typed, with thousands separators in its integer part (`95000000.5` →
/// `95,000,000.5`, `95000.` → `95,000.`): the digits typed are kept as they are, so
/// editing reads naturally while 9 and 10 digit prices stay readable.
pub(crate) fn grouped_input(text: &str) -> String {
    crate::exchange::display::group(text)
}

/// What the form would send: the validated order (snapped price, fee, total) or the
/// reason it cannot be sent, naming the bad value.
pub(crate) fn preview(form: &OrderForm, snap: &Snapshot) -> Result<ValidOrder, String> {
    let m = &form.market;
    let rules = MarketRules::upbit_default(m);
    let size_value = parse_decimal(form.size.trim()).map_err(|e| format!("size: {e}"))?;
    let size = match form.unit {
        SizeUnit::Qty => Size::Qty(size_value),
        SizeUnit::Quote => Size::Quote(size_value),
        SizeUnit::Percent => Size::Percent(size_value),
    };
    let price = match form.kind {
        FormKind::Limit => {
            let typed = parse_decimal(form.price.trim()).map_err(|e| format!("price: {e}"))?;
            PriceSpec::Limit(rules.snap(m, form.side, typed))
        }
        FormKind::Market => PriceSpec::Market,
        FormKind::Best => PriceSpec::Best,
    };
    let input = OrderInput { side: form.side, market: Some(m.clone()), size, price, tif: form.tif };
    preview_input(&input, None, snap)
}

/// What a parsed order line (`:buy 0.01 @ 95000000`, the form's fields) would send: sized
/// from the snapshot's balances and book, validated and checked against the available
/// balance, exactly as the confirmation dialog shows it. `selected` is the market used
/// when the line names none.
pub(crate) fn preview_input(
    input: &OrderInput,
    selected: Option<&MarketId>,
    snap: &Snapshot,
) -> Result<ValidOrder, String> {
    let m = input
        .market
        .clone()
        .or_else(|| selected.cloned())
        .ok_or_else(|| "no market: name one (e.g. KRW-BTC) or select one".to_string())?;
    let m = &m;
    let rules = MarketRules::upbit_default(m);
    let balance = |cur: &str| snap.account.balances.iter().find(|b| b.currency == cur).map(|b| b.balance);
    let book = snap.market.books.get(m).map(|b| &b.value);
    let last = snap.market.tickers.get(m).map(|t| t.value.trade_price);
    let ctx = SizingContext {
        selected: Some(m.clone()),
        available_quote: balance(m.quote()),
        available_base: balance(m.base()),
        best_ask: book.and_then(|b| b.best_ask()),
        best_bid: book.and_then(|b| b.best_bid()),
        rules: rules.clone(),
    };
    let request = resolve(input, &ctx).map_err(|e| e.to_string())?;
    let reference = match input.side {
        Side::Ask => ctx.best_bid.or(last),
        Side::Bid => ctx.best_ask.or(last),
    };
    let valid = validate(&request, &rules, reference).map_err(|e| e.to_string())?;
    // Balance check before anything is sent: a buy must fit the available quote.
    if input.side == Side::Bid
        && let Some(avail) = ctx.available_quote
        && valid.total_with_fee() > avail
    {
        return Err(format!("total {} exceeds available {} {}", valid.total_with_fee(), avail, m.quote()));
    }
    if input.side == Side::Ask
        && let (Some(avail), Some(v)) = (ctx.available_base, valid.request.volume)
        && v > avail
    {
        return Err(format!("volume {v} exceeds available {avail} {}", m.base()));
    }
    Ok(valid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::Balance;
    use crate::store::{Store, StoreEvent};
    use rust_decimal_macros::dec;
    use std::time::Instant;

    fn snap_with_krw(krw: Decimal) -> std::sync::Arc<Snapshot> {
        let mut s = Store::new();
        s.apply_batch(
            [StoreEvent::BalancesUpdated(vec![Balance {
                currency: "KRW".into(),
                balance: krw,
                locked: Decimal::ZERO,
                avg_buy_price: Decimal::ZERO,
                unit_currency: "KRW".into(),
            }])],
            Instant::now(),
        )
    }

    #[test]
    fn limit_buy_snaps_down_and_shows_fee_and_total() {
        let snap = snap_with_krw(dec!(10_000_000));
        let mut f = OrderForm::new(MarketId::new("KRW-BTC"), None);
        for c in "95000999".chars() {
            f.insert(c);
        }
        f.field = FormField::Size;
        for c in "0.01".chars() {
            f.insert(c);
        }
        let v = preview(&f, &snap).unwrap();
        assert_eq!(v.request.price, Some(dec!(95_000_000)), "buy rounds down to the 1,000 tick");
        assert_eq!(v.notional, dec!(950_000));
        assert_eq!(v.fee, dec!(475));
        assert_eq!(v.total_with_fee(), dec!(950_475));
    }

    #[test]
    fn over_balance_and_below_minimum_are_refused_with_the_value() {
        let snap = snap_with_krw(dec!(100_000));
        let mut f = OrderForm::new(MarketId::new("KRW-BTC"), Some(dec!(95_000_000)));
        f.size = "0.01".into();
        let e = preview(&f, &snap).unwrap_err();
        assert!(e.contains("exceeds available 100000"), "{e}");
        f.size = "0.00001".into();
        let e = preview(&f, &snap).unwrap_err();
        assert!(e.contains("minimum"), "{e}");
        f.size = "abc".into();
        assert!(preview(&f, &snap).unwrap_err().starts_with("size"));
    }

    #[test]
    fn percent_of_balance_and_cycling() {
        let snap = snap_with_krw(dec!(1_000_000));
        let mut f = OrderForm::new(MarketId::new("KRW-BTC"), Some(dec!(100_000_000)));
        f.field = FormField::Unit;
        f.cycle(true);
        f.cycle(true);
        assert_eq!(f.unit, SizeUnit::Percent);
        f.size = "50".into();
        let v = preview(&f, &snap).unwrap();
        assert!(v.total_with_fee() <= dec!(500_000), "{v:?}");
        f.field = FormField::Kind;
        f.cycle(true);
        f.cycle(true);
        assert_eq!(f.kind, FormKind::Best);
        assert_eq!(f.tif, Some(TimeInForce::Ioc), "best needs ioc/fok");
    }
}
