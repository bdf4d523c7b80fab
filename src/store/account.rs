//! Account section of the snapshot: mode, balances, open orders, fills, trading state and
//! armed monitor rules.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;

use crate::exchange::types::{Balance, Fill, MarketId, Order};

/// How many recent fills the Orders pane keeps.
pub(crate) const FILLS_KEPT: usize = 200;

/// Which world orders go to (demo, paper, live): the config's mode, carried as is.
pub use crate::config::Mode;

/// The risk gate's trading state (owned by `trading::risk`, shown by the status bar).
pub use crate::trading::risk::TradingState;

/// One client-side monitor rule as the Monitor pane shows it: the monitor's own typed row
/// (state, trigger, distance and age computed there), carried as is.
pub use crate::trading::monitor::RuleRow;

/// One market's holding as the order manager tracks it from fills: average cost (fees
/// included) and realized P&L after fees. The one computation is `trading::position`;
/// the store carries its result as is.
pub use crate::trading::position::Position;

/// Account state as the exchange (or the paper engine) reports it.
#[derive(Debug, Clone, Default)]
pub struct AccountSection {
    /// Bumped whenever anything in this section changes.
    pub version: u64,
    /// Demo, paper or live.
    pub mode: Mode,
    /// Exchange name for the status bar.
    pub exchange: String,
    /// Balances per currency.
    pub balances: Arc<Vec<Balance>>,
    /// Open (non-terminal) orders.
    pub open_orders: Arc<Vec<Order>>,
    /// Recent fills, newest first, deduplicated by trade id.
    pub fills: Arc<VecDeque<Fill>>,
    /// Risk gate state.
    pub trading_state: TradingState,
    /// Monitor rules.
    pub rules: Arc<Vec<RuleRow>>,
    /// The monitor's price alerts (the chart draws the armed ones as lines).
    pub alerts: Arc<Vec<crate::trading::monitor::AlertRow>>,
    /// The last replies to trading and config requests, oldest first (at most
    /// [`REPLIES_KEPT`]): the UI finds the answer to what it sent here by its id.
    pub replies: Arc<VecDeque<crate::trading::intent::TradeReply>>,
    /// Config changes held by the change gate, and why ("theme dark waits: 1 order in
    /// flight"); `None` when nothing waits. The status line shows it.
    pub config_waiting: Option<String>,
    /// Positions by market, as the order manager last reported them (a fill changed
    /// them). A coin bought before hoga started has none until it trades.
    pub positions: Arc<BTreeMap<MarketId, Position>>,
    /// Realized P&L of one Korean day (the day Upbit's figures reset at 00:00 KST): the
    /// sum of what each fill of that day realized, as the order manager computed it.
    pub realized_day: Option<(NaiveDate, Decimal)>,
    /// The account's pockets (the traded one's balances are `balances`).
    pub pockets: Arc<crate::exchange::upbit::pockets::PocketsState>,
}

/// Replies the account section keeps.
pub(crate) const REPLIES_KEPT: usize = 64;

impl AccountSection {
    /// Rules that can still fire.
    pub(crate) fn armed_rules(&self) -> usize {
        self.rules.iter().filter(|r| r.is_armed()).count()
    }

    /// True when quitting would leave something behind (open orders or armed rules).
    pub(crate) fn something_to_lose(&self) -> bool {
        !self.open_orders.is_empty() || self.armed_rules() > 0
    }

    /// Realized P&L of every position, after fees (saturating: the figures come from the
    /// network).
    pub fn realized_total(&self) -> Decimal {
        self.positions.values().fold(Decimal::ZERO, |sum, p| sum.saturating_add(p.realized))
    }

    /// Realized P&L since 00:00 KST of the day of `now`; zero once the day has turned.
    pub fn realized_today(&self, now: DateTime<Utc>) -> Decimal {
        match (self.realized_day, kst_day(now)) {
            (Some((day, pnl)), Some(today)) if day == today => pnl,
            _ => Decimal::ZERO,
        }
    }

    /// Adds what one fill realized, at `at`, to its Korean day. A fill of a later day
    /// starts the count again; a late fill of an earlier day is not today's.
    pub(crate) fn add_realized(&mut self, pnl: Decimal, at: DateTime<Utc>) -> bool {
        let Some(day) = kst_day(at) else { return false };
        self.realized_day = match self.realized_day {
            Some((d, sum)) if d == day => Some((d, sum.saturating_add(pnl))),
            Some((d, _)) if d > day => return false,
            _ => Some((day, pnl)),
        };
        true
    }

    pub(crate) fn apply_fill(&mut self, fill: Fill) -> bool {
        if self.fills.iter().any(|f| f.trade_uuid == fill.trade_uuid) {
            return false;
        }
        let fills = Arc::make_mut(&mut self.fills);
        fills.push_front(fill);
        fills.truncate(FILLS_KEPT);
        true
    }
}

/// The Korean calendar day of `t` (KST is UTC+9 all year); `None` at the end of chrono's
/// range.
fn kst_day(t: DateTime<Utc>) -> Option<NaiveDate> {
    t.naive_utc().checked_add_signed(TimeDelta::hours(9)).map(|t| t.date())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    use super::*;

    /// Today's realized P&L is counted by the Korean day: a fill at 23:59 KST
    /// (14:59 UTC) is yesterday's once 00:00 KST has passed, and the figure reads zero
    /// the moment the day turns, with no fill needed.
    #[test]
    fn todays_realized_pnl_turns_at_midnight_kst() {
        let mut a = AccountSection::default();
        let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
        assert!(a.add_realized(dec!(-1000), utc(14, 59)));
        assert_eq!(a.realized_today(utc(14, 59)), dec!(-1000));
        assert_eq!(a.realized_today(utc(15, 0)), Decimal::ZERO, "00:00 KST");
        assert!(a.add_realized(dec!(2500), utc(15, 1)));
        assert!(a.add_realized(dec!(-500), utc(20, 0)));
        assert_eq!(a.realized_today(utc(20, 0)), dec!(2000));
        // A late fill from the day before is not today's.
        assert!(!a.add_realized(dec!(99), utc(14, 0)));
        assert_eq!(a.realized_today(utc(20, 0)), dec!(2000));
        assert!(a.add_realized(Decimal::MAX, utc(20, 0)));
        assert_eq!(a.realized_today(utc(20, 0)), Decimal::MAX, "saturates");
    }

    #[test]
    fn the_total_realized_is_every_positions_after_fees() {
        let mut a = AccountSection::default();
        let mut btc = Position::new(MarketId::new("KRW-BTC"));
        btc.apply(crate::exchange::types::Side::Bid, dec!(100), dec!(1), dec!(0.05));
        btc.apply(crate::exchange::types::Side::Ask, dec!(110), dec!(1), dec!(0.055));
        let mut eth = Position::new(MarketId::new("KRW-ETH"));
        eth.apply(crate::exchange::types::Side::Bid, dec!(10), dec!(2), Decimal::ZERO);
        eth.apply(crate::exchange::types::Side::Ask, dec!(9), dec!(1), dec!(0.01));
        a.positions = Arc::new(BTreeMap::from([(btc.market.clone(), btc), (eth.market.clone(), eth)]));
        // BTC: 110 − 100.05 − 0.055; ETH: 9 − 10 − 0.01.
        assert_eq!(a.realized_total(), dec!(9.895) + dec!(-1.01));
    }
}
