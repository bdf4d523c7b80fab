//! The risk gate and the trading state (pure).
//!
//! Every new order passes one gate: the trading state (ACTIVE / REDUCING / HALTED), the
//! maximum notional per order, orders per minute, open orders, a price band around the
//! last price (fat finger) and the daily realized-loss limit. Cancels never come here:
//! they always pass (docs/RELIABILITY.md rule 6).
//!
//! The daily loss limit counts per Korean calendar day (from 00:00 KST, the same day as
//! the Portfolio pane's "today"; Upbit's own daily change starts at 00:00 UTC), read from
//! a [`UtcClock`] (the wall clock; tests inject one). A restart does not lift it: the order
//! manager hands the gate the day's realized P&L the journal's fills add up to
//! ([`RiskGate::restore_realized`]). The day only moves forward: at the first fill or check
//! on a later date the count starts again from zero, and a wall clock that steps back (NTP,
//! a manual change) neither resets today's count nor brings back a previous day's losses;
//! fills recorded while it is behind count toward the latest day seen. A step back that
//! undoes a mistaken step forward therefore keeps the new day's (smaller) count: the gate
//! never reopens a day it has left, because that would need the old day's figures, which it
//! drops when the day ends (RELIABILITY case 30).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::display;
use crate::exchange::types::{OrderType, Price, Side};
use crate::trading::orders::{Denied, ValidOrder};

/// Whether new orders may be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradingState {
    /// Everything allowed.
    #[default]
    Active,
    /// Only orders that reduce a position (spot: sells).
    Reducing,
    /// No new orders; cancels only.
    Halted,
}

impl TradingState {
    /// `ACTIVE` / `REDUCING` / `HALTED`.
    pub fn label(self) -> &'static str {
        match self {
            TradingState::Active => "ACTIVE",
            TradingState::Reducing => "REDUCING",
            TradingState::Halted => "HALTED",
        }
    }
}

/// Limits of the gate (from config `[risk]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Largest notional of one order (quote currency).
    pub max_notional_per_order: Option<Decimal>,
    /// Orders placed per rolling minute.
    pub max_orders_per_minute: u32,
    /// Open orders at once.
    pub max_open_orders: usize,
    /// Largest distance of a limit price from the last price, as a ratio (0.1 = 10 %).
    pub price_band: Option<Decimal>,
    /// Realized loss per Korean calendar day after which only reducing orders pass (positive number).
    pub daily_loss_limit: Option<Decimal>,
}

impl Default for RiskLimits {
    fn default() -> Self {
        RiskLimits {
            max_notional_per_order: Some(Decimal::from(10_000_000)),
            max_orders_per_minute: 30,
            max_open_orders: 50,
            price_band: Some(Decimal::new(1, 1)),
            daily_loss_limit: None,
        }
    }
}

/// What the gate needs to know about the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskContext {
    /// Open orders now (ours, known to the manager).
    pub open_orders: usize,
    /// Last trade price of the market.
    pub last_price: Option<Price>,
    /// Monotonic now.
    pub now: Instant,
    /// A protective exit fired by a monitor rule (a sell that only reduces a position):
    /// the size and count limits, meant against fat fingers and runaway entries, must
    /// not stand between a position and its stop-loss. The trading state still applies.
    pub protective: bool,
}

/// Where the gate reads the date for the daily loss limit: the wall clock
/// (`Utc::now`) unless a test injects another.
#[derive(Clone)]
pub(crate) struct UtcClock(Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>);

impl UtcClock {
    /// The wall clock.
    pub fn system() -> Self {
        UtcClock(Arc::new(chrono::Utc::now))
    }

    /// A clock that reads `now` (tests: a settable time behind a mutex or an atomic).
    #[cfg(test)]
    pub(crate) fn new(now: impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync + 'static) -> Self {
        UtcClock(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.0)()
    }
}

impl Default for UtcClock {
    fn default() -> Self {
        UtcClock::system()
    }
}

impl std::fmt::Debug for UtcClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UtcClock")
    }
}

/// The gate: limits, state and the counters it keeps.
#[derive(Debug, Clone)]
pub struct RiskGate {
    limits: RiskLimits,
    state: TradingState,
    reason: Option<String>,
    recent: VecDeque<Instant>,
    realized_today: Decimal,
    /// The latest Korean day seen (fills and checks); only ever moves forward.
    day: Option<chrono::NaiveDate>,
    clock: UtcClock,
}

/// How far a price is from the last price, as a percentage with the decimals it takes to
/// read as past the band: cut (never rounded up, which would overstate it), and a
/// distance of 5.004 % is never shown as the 5 % band itself.
fn distance_pct(dist: Decimal, band: Decimal) -> String {
    let pct = dist.saturating_mul(Decimal::ONE_HUNDRED);
    let band = band.saturating_mul(Decimal::ONE_HUNDRED);
    let cut = |dp: u32| pct.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero);
    let shown = (2..=8).map(cut).find(|p| *p > band).unwrap_or_else(|| cut(8));
    format!("{}%", display::group(&shown.normalize().to_string()))
}

/// The Korean calendar day of `t` (KST is UTC+9 all year, no daylight saving). At the end
/// of chrono's range, where nine hours cannot be added, the UTC date.
pub(crate) fn kst_day(t: DateTime<Utc>) -> chrono::NaiveDate {
    t.naive_utc().checked_add_signed(chrono::TimeDelta::hours(9)).map_or_else(|| t.date_naive(), |k| k.date())
}

impl RiskGate {
    /// A gate in ACTIVE state on the wall clock.
    pub fn new(limits: RiskLimits) -> Self {
        RiskGate::with_clock(limits, UtcClock::system())
    }

    /// A gate in ACTIVE state reading the date from `clock`.
    pub(crate) fn with_clock(limits: RiskLimits, clock: UtcClock) -> Self {
        RiskGate {
            limits,
            state: TradingState::Active,
            reason: None,
            recent: VecDeque::new(),
            realized_today: Decimal::ZERO,
            day: None,
            clock,
        }
    }

    /// Moves the loss day to `day` when it is later than the current one (the count starts
    /// again); an earlier `day` (the clock stepped back) changes nothing.
    fn roll_day(&mut self, day: chrono::NaiveDate) {
        if self.day.is_none_or(|current| day > current) {
            self.day = Some(day);
            self.realized_today = Decimal::ZERO;
        }
    }

    /// The limits.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// New limits (a `:set` that passed the change gate); the state, the order rate window
    /// and the day's realized P&L carry over.
    pub(crate) fn set_limits(&mut self, limits: RiskLimits) {
        self.limits = limits;
    }

    /// The trading state.
    pub fn state(&self) -> TradingState {
        self.state
    }

    /// Why the state was last changed.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Sets the trading state with a reason shown to the user.
    pub(crate) fn set_state(&mut self, state: TradingState, reason: impl Into<String>) {
        self.state = state;
        self.reason = Some(reason.into());
    }

    /// At start: the realized P&L of the journal's sells (with their fill times), of which
    /// those on the clock's current Korean day count toward the daily loss limit, so a
    /// restart never reopens a day that had reached it.
    pub(crate) fn restore_realized<'a>(
        &mut self,
        sells: impl IntoIterator<Item = &'a (Decimal, DateTime<Utc>)>,
    ) {
        let today = kst_day(self.clock.now());
        self.roll_day(today);
        for (pnl, at) in sells {
            if kst_day(*at) == today {
                self.realized_today = self.realized_today.saturating_add(*pnl);
            }
        }
    }

    /// Adds realized P&L of a fill on `day` (Korean calendar day). A later day starts the count again; an
    /// earlier one (a clock that stepped back, a late fill) counts toward the current day.
    pub(crate) fn record_realized(&mut self, pnl: Decimal, day: chrono::NaiveDate) {
        self.roll_day(day);
        // Saturating: fills come from the network; a sum past `Decimal::MAX` stays there.
        self.realized_today = self.realized_today.saturating_add(pnl);
    }

    /// Realized P&L of the current Korean day (zero once the clock has passed into a later
    /// day than the last fill's).
    #[cfg(test)]
    pub(crate) fn realized_today(&self) -> Decimal {
        let today = kst_day(self.clock.now());
        if self.day.is_some_and(|d| today > d) { Decimal::ZERO } else { self.realized_today }
    }

    /// [`RiskGate::record_realized`] on the gate's clock's date.
    pub(crate) fn record_realized_now(&mut self, pnl: Decimal) {
        let today = kst_day(self.clock.now());
        self.record_realized(pnl, today);
    }

    /// Checks a validated order. On success the order counts toward the per-minute limit.
    pub fn check(&mut self, order: &ValidOrder, ctx: &RiskContext) -> Result<(), Denied> {
        let req = &order.request;
        let reduces = req.side == Side::Ask;
        match self.state {
            TradingState::Halted => {
                return Err(Denied::State {
                    state: "HALTED".into(),
                    why: self.reason.clone().unwrap_or_else(|| "trading halted".into()),
                });
            }
            TradingState::Reducing if !reduces => {
                return Err(Denied::State {
                    state: "REDUCING".into(),
                    why: "only sells that reduce a position".into(),
                });
            }
            _ => {}
        }
        let protective = ctx.protective && reduces;
        if let Some(max) = self.limits.max_notional_per_order
            && !protective
            && order.notional > max
        {
            let quote = req.market.quote();
            return Err(Denied::Risk(format!(
                "order total {} {quote} is above max_notional_per_order {} {quote}",
                display::amount(order.notional, quote),
                display::amount(max, quote)
            )));
        }
        if !protective && ctx.open_orders >= self.limits.max_open_orders {
            return Err(Denied::Risk(format!(
                "{} open orders, max_open_orders is {}",
                ctx.open_orders, self.limits.max_open_orders
            )));
        }
        if let Some(band) = self.limits.price_band
            && req.ord_type == OrderType::Limit
            && let Some(price) = req.price
        {
            let last = ctx.last_price.filter(|p| *p > Decimal::ZERO).ok_or_else(|| {
                Denied::Risk(format!("no last price for {} to check the price band", req.market))
            })?;
            // Checked: `last` comes from the network (a last price of 1e-28 made this
            // division overflow on every order). A distance that cannot be computed is
            // certainly outside the band.
            let quote = req.market.quote();
            let (shown_price, shown_last) =
                (display::exact_price(quote, price), display::exact_price(quote, last));
            let Some(dist) = price.checked_sub(last).and_then(|d| d.abs().checked_div(last)) else {
                return Err(Denied::Risk(format!(
                    "price {shown_price} is too far from the last price {shown_last} to measure; \
                     price_band is {}",
                    display::percent(band, 4)
                )));
            };
            if dist > band {
                return Err(Denied::Risk(format!(
                    "price {shown_price} is {} from the last price {shown_last}; price_band is {}",
                    distance_pct(dist, band),
                    display::percent(band, 4)
                )));
            }
        }
        // The day can end without a fill: a new day's first order sees a fresh count.
        let today = kst_day(self.clock.now());
        self.roll_day(today);
        if let Some(limit) = self.limits.daily_loss_limit
            && !reduces
            && self.realized_today <= -limit
        {
            // The limit is configured in KRW (`trading.daily_loss_limit`).
            return Err(Denied::Risk(format!(
                "daily realized loss {} KRW reached the limit {} KRW; only sells",
                display::amount(-self.realized_today, "KRW"),
                display::amount(limit, "KRW")
            )));
        }
        let window = Duration::from_secs(60);
        while self.recent.front().is_some_and(|t| ctx.now.saturating_duration_since(*t) >= window) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.limits.max_orders_per_minute as usize {
            return Err(Denied::Risk(format!(
                "max_orders_per_minute {} reached",
                self.limits.max_orders_per_minute
            )));
        }
        self.recent.push_back(ctx.now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::MarketId;
    use crate::trading::orders::{MarketRules, OrderRequest, validate};
    use rust_decimal_macros::dec;

    fn order(side: Side, price: Decimal, vol: Decimal) -> ValidOrder {
        let m = MarketId::new("KRW-BTC");
        validate(&OrderRequest::limit(m.clone(), side, price, vol), &MarketRules::upbit_default(&m), None)
            .unwrap()
    }

    fn ctx(now: Instant) -> RiskContext {
        RiskContext { open_orders: 0, last_price: Some(dec!(100000000)), now, protective: false }
    }

    #[test]
    fn protective_exits_pass_size_limits_but_not_a_halt() {
        let now = Instant::now();
        let mut g = RiskGate::new(RiskLimits {
            max_notional_per_order: Some(dec!(1000000)),
            max_open_orders: 1,
            ..RiskLimits::default()
        });
        let big_sell = order(Side::Ask, dec!(100000000), dec!(0.1));
        let exit = RiskContext { protective: true, open_orders: 5, ..ctx(now) };
        g.check(&big_sell, &exit).unwrap();
        // Only sells are protective: a rule cannot smuggle a large buy past the gate.
        let e = g.check(&order(Side::Bid, dec!(100000000), dec!(0.1)), &exit).unwrap_err();
        assert!(e.to_string().contains("max_notional_per_order"), "{e}");
        g.set_state(TradingState::Halted, "kill switch");
        let e = g.check(&big_sell, &exit).unwrap_err();
        assert!(e.to_string().contains("HALTED"), "{e}");
    }

    /// A clock the test sets.
    fn settable(at: &str) -> (UtcClock, Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>) {
        let t = Arc::new(std::sync::Mutex::new(at.parse::<chrono::DateTime<chrono::Utc>>().unwrap()));
        let read = t.clone();
        (UtcClock::new(move || *read.lock().unwrap()), t)
    }

    fn set(t: &std::sync::Mutex<chrono::DateTime<chrono::Utc>>, at: &str) {
        *t.lock().unwrap() = at.parse().unwrap();
    }

    #[test]
    fn each_limit_denies_by_name() {
        let now = Instant::now();
        let (clock, t) = settable("2026-01-01T12:00:00Z");
        let limits = RiskLimits {
            max_notional_per_order: Some(dec!(1000000)),
            max_orders_per_minute: 2,
            max_open_orders: 3,
            price_band: Some(dec!(0.05)),
            daily_loss_limit: Some(dec!(50000)),
        };
        let mut g = RiskGate::with_clock(limits, clock);
        let ok = order(Side::Bid, dec!(100000000), dec!(0.001));
        let e = g.check(&order(Side::Bid, dec!(100000000), dec!(0.1)), &ctx(now)).unwrap_err();
        assert!(e.to_string().contains("max_notional_per_order"), "{e}");
        let e = g.check(&ok, &RiskContext { open_orders: 3, ..ctx(now) }).unwrap_err();
        assert!(e.to_string().contains("max_open_orders"), "{e}");
        let e = g.check(&order(Side::Bid, dec!(90000000), dec!(0.001)), &ctx(now)).unwrap_err();
        assert!(e.to_string().contains("price_band"), "{e}");
        let e = g.check(&ok, &RiskContext { last_price: None, ..ctx(now) }).unwrap_err();
        assert!(e.to_string().contains("no last price"), "{e}");
        g.check(&ok, &ctx(now)).unwrap();
        g.check(&ok, &ctx(now)).unwrap();
        let e = g.check(&ok, &ctx(now)).unwrap_err();
        assert!(e.to_string().contains("max_orders_per_minute"), "{e}");
        g.check(&ok, &ctx(now + Duration::from_secs(61))).unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        g.record_realized(dec!(-60000), day);
        let later = now + Duration::from_secs(200);
        let e = g.check(&ok, &ctx(later)).unwrap_err();
        assert!(e.to_string().contains("daily realized loss"), "{e}");
        g.check(&order(Side::Ask, dec!(100000000), dec!(0.001)), &ctx(later)).unwrap();
        set(&t, "2026-01-02T00:00:00Z");
        g.check(&ok, &ctx(later)).unwrap();
    }

    fn loss_gate(at: &str) -> (RiskGate, Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>) {
        let (clock, t) = settable(at);
        let limits = RiskLimits {
            max_orders_per_minute: 1000,
            daily_loss_limit: Some(dec!(100000)),
            ..RiskLimits::default()
        };
        (RiskGate::with_clock(limits, clock), t)
    }

    fn denied_for_loss(g: &mut RiskGate) -> bool {
        let buy = order(Side::Bid, dec!(100000000), dec!(0.001));
        match g.check(&buy, &ctx(Instant::now())) {
            Ok(()) => false,
            Err(e) if e.to_string().contains("daily realized loss") => true,
            Err(e) => panic!("denied for another reason: {e}"),
        }
    }

    #[test]
    fn the_daily_loss_limit_counts_up_to_midnight_kst_and_resets_after_it_without_a_fill() {
        let (mut g, t) = loss_gate("2026-03-01T14:59:58Z");
        g.record_realized_now(dec!(-60000));
        assert!(!denied_for_loss(&mut g));
        set(&t, "2026-03-01T14:59:59.999Z");
        // The last moment of day 1 in Korea (23:59:59.999 KST) still counts against day 1.
        g.record_realized_now(dec!(-50000));
        assert_eq!(g.realized_today(), dec!(-110000));
        assert!(denied_for_loss(&mut g), "110,000 lost on day 1, limit 100,000");
        g.check(&order(Side::Ask, dec!(100000000), dec!(0.001)), &ctx(Instant::now())).unwrap();
        // 00:00 KST (15:00 UTC): a new day, and the limit is lifted with no fill needed to notice.
        set(&t, "2026-03-01T15:00:00Z");
        assert_eq!(g.realized_today(), Decimal::ZERO);
        assert!(!denied_for_loss(&mut g), "the limit resets at the Korean day boundary");
        g.record_realized_now(dec!(-99999));
        assert!(!denied_for_loss(&mut g));
        g.record_realized_now(dec!(-1));
        assert!(denied_for_loss(&mut g), "day 2 counts from zero up to its own limit");
    }

    #[test]
    fn a_clock_stepping_back_neither_resets_today_nor_brings_back_yesterday() {
        let (mut g, t) = loss_gate("2026-03-01T14:00:00Z");
        g.record_realized_now(dec!(-120000));
        assert!(denied_for_loss(&mut g));
        set(&t, "2026-03-01T15:00:05Z");
        g.record_realized_now(dec!(-30000));
        assert!(!denied_for_loss(&mut g));

        // The wall clock steps back into day 1: day 1's 120,000 does not come back...
        set(&t, "2026-03-01T14:59:50Z");
        assert_eq!(g.realized_today(), dec!(-30000));
        assert!(!denied_for_loss(&mut g), "an old day's losses are not resurrected");
        // ...and a loss recorded meanwhile adds to day 2's count instead of restarting it.
        g.record_realized_now(dec!(-80000));
        assert_eq!(g.realized_today(), dec!(-110000));
        assert!(denied_for_loss(&mut g), "day 2's losses are not forgotten by the step back");

        // The clock comes forward again, still day 2: nothing resets.
        set(&t, "2026-03-01T15:10:00Z");
        assert_eq!(g.realized_today(), dec!(-110000));
        assert!(denied_for_loss(&mut g));
        // A fill stamped with an older date counts toward the current day too.
        g.record_realized(dec!(5000), chrono::NaiveDate::from_ymd_opt(2026, 2, 27).unwrap());
        assert_eq!(g.realized_today(), dec!(-105000));
    }

    /// A restart does not lift the daily loss limit: the day's sells before it count,
    /// yesterday's (by the Korean calendar) do not.
    #[test]
    fn a_restart_keeps_todays_realized_loss_by_the_korean_day() {
        let (mut g, _t) = loss_gate("2026-03-02T01:00:00Z"); // 10:00 KST on 03-02
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let sells = [
            (dec!(-500000), at("2026-03-01T14:59:00Z")), // 23:59 KST 03-01: yesterday
            (dec!(-70000), at("2026-03-01T15:01:00Z")),  // 00:01 KST 03-02: today
            (dec!(-40000), at("2026-03-02T00:30:00Z")),
        ];
        g.restore_realized(&sells);
        assert_eq!(g.realized_today(), dec!(-110000));
        assert!(denied_for_loss(&mut g), "110,000 lost today before the restart, limit 100,000");
    }

    #[test]
    fn denials_print_their_numbers_for_a_person() {
        let now = Instant::now();
        let limits = RiskLimits {
            max_notional_per_order: Some(dec!(1000000)),
            price_band: Some(dec!(0.05)),
            daily_loss_limit: Some(dec!(50000)),
            ..RiskLimits::default()
        };
        let (clock, _t) = settable("2026-01-01T12:00:00Z");
        let mut g = RiskGate::with_clock(limits, clock);
        // 0.0495 BTC at 144,661,000: a total with the notional's 2 decimals of scale.
        let big = order(Side::Bid, dec!(144661000), dec!(0.0495));
        let e = g.check(&big, &RiskContext { last_price: Some(dec!(144661000)), ..ctx(now) }).unwrap_err();
        assert_eq!(
            e.to_string(),
            "risk: order total ≈7,160,720 KRW is above max_notional_per_order 1,000,000 KRW"
        );
        let far = order(Side::Bid, dec!(94000000), dec!(0.001));
        let e = g.check(&far, &ctx(now)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "risk: price 94,000,000 is 6% from the last price 100,000,000; price_band is 5%"
        );
        // Just past the band: enough decimals that the distance does not read as the band.
        let edge = order(Side::Bid, dec!(94995000), dec!(0.001));
        let e = g.check(&edge, &RiskContext { last_price: Some(dec!(100000000)), ..ctx(now) }).unwrap_err();
        assert!(e.to_string().contains("is 5.005% from the last price 100,000,000"), "{e}");
        let tiny = dec!(0.0000000000000000000000000001);
        let e = g.check(&far, &RiskContext { last_price: Some(tiny), ..ctx(now) }).unwrap_err();
        assert_eq!(
            e.to_string(),
            "risk: price 94,000,000 is too far from the last price 0.0000000000000000000000000001 \
             to measure; price_band is 5%"
        );
        g.record_realized_now(dec!(-60000.4));
        let ok = order(Side::Bid, dec!(100000000), dec!(0.001));
        let e = g.check(&ok, &ctx(now)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "risk: daily realized loss ≈60,000 KRW reached the limit 50,000 KRW; only sells"
        );
    }

    #[test]
    fn states_gate_sides() {
        let now = Instant::now();
        let mut g = RiskGate::new(RiskLimits::default());
        g.set_state(TradingState::Reducing, "test");
        assert!(g.check(&order(Side::Bid, dec!(100000000), dec!(0.001)), &ctx(now)).is_err());
        assert!(g.check(&order(Side::Ask, dec!(100000000), dec!(0.001)), &ctx(now)).is_ok());
        g.set_state(TradingState::Halted, "kill switch");
        let e = g.check(&order(Side::Ask, dec!(100000000), dec!(0.001)), &ctx(now)).unwrap_err();
        assert!(e.to_string().contains("kill switch"), "{e}");
    }

    #[test]
    fn a_last_price_too_small_to_divide_by_is_denied_not_a_panic() {
        let now = Instant::now();
        let mut g = RiskGate::new(RiskLimits::default());
        for last in [dec!(0.0000000000000000000000000001), Decimal::MAX] {
            let ctx = RiskContext { last_price: Some(last), ..ctx(now) };
            let e = g.check(&order(Side::Bid, dec!(100000000), dec!(0.001)), &ctx).unwrap_err();
            assert!(e.to_string().contains("price_band"), "{e}");
        }
        g.record_realized_now(Decimal::MAX);
        g.record_realized_now(Decimal::MAX);
        assert_eq!(g.realized_today(), Decimal::MAX, "saturates");
    }
}
