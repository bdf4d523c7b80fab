//! The risk gate and the trading state (pure).
//!
//! Every new order passes one gate: the trading state (ACTIVE / REDUCING / HALTED), the
//! maximum notional per order, orders per minute, open orders, a price band around the
//! last price (fat finger) and the daily realized-loss limit. Cancels never come here:
//! they always pass (RELIABILITY rule 6).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
    /// Realized loss per UTC day after which only reducing orders pass (positive number).
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

/// The gate: limits, state and the counters it keeps.
#[derive(Debug, Clone)]
pub struct RiskGate {
    limits: RiskLimits,
    state: TradingState,
    reason: Option<String>,
    recent: VecDeque<Instant>,
    realized_today: Decimal,
    day: Option<chrono::NaiveDate>,
}

impl RiskGate {
    /// A gate in ACTIVE state.
    pub fn new(limits: RiskLimits) -> Self {
        RiskGate {
            limits,
            state: TradingState::Active,
            reason: None,
            recent: VecDeque::new(),
            realized_today: Decimal::ZERO,
            day: None,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
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
    pub fn set_state(&mut self, state: TradingState, reason: impl Into<String>) {
        self.state = state;
        self.reason = Some(reason.into());
    }

    /// Adds realized P&L of a fill on `day` (UTC); the counter resets when the day changes.
    pub fn record_realized(&mut self, pnl: Decimal, day: chrono::NaiveDate) {
        if self.day != Some(day) {
            self.day = Some(day);
            self.realized_today = Decimal::ZERO;
        }
        // Saturating: fills come from the network; a sum past `Decimal::MAX` stays there.
        self.realized_today = self.realized_today.saturating_add(pnl);
    }

    /// Realized P&L today.
    pub fn realized_today(&self) -> Decimal {
        self.realized_today
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
            return Err(Denied::Risk(format!(
                "notional {} above max_notional_per_order {max}",
                order.notional
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
            let Some(dist) = price.checked_sub(last).and_then(|d| d.abs().checked_div(last)) else {
                return Err(Denied::Risk(format!(
                    "price {price} is too far from the last price {last} to measure; price_band is {:.1}%",
                    band.saturating_mul(Decimal::ONE_HUNDRED)
                )));
            };
            if dist > band {
                return Err(Denied::Risk(format!(
                    "price {price} is {:.1}% from the last price {last}; price_band is {:.1}%",
                    dist.saturating_mul(Decimal::ONE_HUNDRED),
                    band.saturating_mul(Decimal::ONE_HUNDRED)
                )));
            }
        }
        if let Some(limit) = self.limits.daily_loss_limit
            && !reduces
            && self.realized_today <= -limit
        {
            return Err(Denied::Risk(format!(
                "daily realized loss {} reached the limit {limit}; only sells",
                -self.realized_today
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

    #[test]
    fn each_limit_denies_by_name() {
        let now = Instant::now();
        let mut g = RiskGate::new(RiskLimits {
            max_notional_per_order: Some(dec!(1000000)),
            max_orders_per_minute: 2,
            max_open_orders: 3,
            price_band: Some(dec!(0.05)),
            daily_loss_limit: Some(dec!(50000)),
        });
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
        g.record_realized(dec!(0), day.succ_opt().unwrap());
        g.check(&ok, &ctx(later)).unwrap();
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
}
