//! Client-side protection rules (stop-loss, take-profit, trailing stop, OCO) and price
//! alerts: pure evaluation and firing logic.
//!
//! Upbit has no native stop orders, so hoga watches prices itself. The rule book is fed
//! every tick with the monotonic time it was received. A rule fires **once**: firing
//! latches it (`Firing`) and names the exit with a deterministic identifier derived from
//! the rule id and attempt number, so a re-evaluation, a restart or a retry can never
//! produce a second, differently-named exit (docs/RELIABILITY.md case 14). It never fires on
//! stale data (case 15) nor before the book is made ready after reconciliation with a
//! price received after that moment (case 19). Partial exits re-arm with the next attempt;
//! dust below the minimum order total is reported, not looped on (case 20).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::settings::{ProtectiveExitOverCap, TradingSettings};
use crate::exchange::display::{amount, quantity};
use crate::exchange::rules::Rounding;
use crate::exchange::types::{MarketId, Price, Qty, Timeframe, band};
use crate::indicators::{Indicator, MaKind};
use crate::trading::orders::floor_volume;

/// A trigger level: absolute, or relative to the last price or to the average cost.
///
/// A level relative to the last price (`:stop KRW-BTC -3%`, the default) is measured once,
/// when the rule is armed, and armed as the absolute [`Level::Price`] it resolved to, so
/// the armed rule shows a fixed trigger. A level relative to the average cost
/// (`:stop KRW-BTC -3% avg`) stays relative: it follows the cost basis as it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    /// An absolute price.
    Price(Price),
    /// A ratio from the average cost (−0.03 = 3 % below).
    PctFromAvg(Decimal),
    /// A ratio from the last price at arming (−0.03 = 3 % below). Only ever typed: it is
    /// turned into a [`Level::Price`] before the rule arms ([`Level::fixed`]), and never
    /// triggers by itself.
    PctFromLast(Decimal),
}

/// Which way a trigger fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// When the price falls to or below it (stop-loss, trailing stop, OCO stop).
    Falls,
    /// When the price rises to or above it (take-profit, OCO take).
    Rises,
}

/// `price` on the tick grid of `quote`, rounded so the trigger never fires later than
/// asked: a falling trigger (stop) rounds up, a rising one (take-profit) rounds down. The
/// difference is less than one tick, always toward the side that sells sooner.
pub fn snap_trigger(quote: &str, price: Price, dir: Direction) -> Price {
    let rounding = match dir {
        Direction::Falls => Rounding::Up,
        Direction::Rises => Rounding::Down,
    };
    crate::exchange::grid().snap(quote, price, rounding)
}

impl Level {
    /// The price this level means for a position with `avg_cost` (`None` when relative
    /// and there is no cost basis, and always for an unresolved [`Level::PctFromLast`]).
    pub fn resolve(&self, avg_cost: Price) -> Option<Price> {
        match *self {
            Level::Price(p) => Some(p),
            // Checked: the cost basis comes from fills; a level that cannot be computed
            // never triggers.
            Level::PctFromAvg(r) if avg_cost > Decimal::ZERO => {
                Decimal::ONE.checked_add(r).and_then(|k| avg_cost.checked_mul(k))
            }
            Level::PctFromAvg(_) | Level::PctFromLast(_) => None,
        }
    }

    /// The trigger price on the tick grid of `quote` (see [`snap_trigger`]).
    pub fn trigger(&self, avg_cost: Price, quote: &str, dir: Direction) -> Option<Price> {
        self.resolve(avg_cost).map(|p| snap_trigger(quote, p, dir))
    }

    /// The level as it is armed: a price relative to `last` becomes that absolute price,
    /// an absolute price is put on the tick grid, a level from the average cost stays
    /// relative. `None` when a relative level has no last price to be measured from (or
    /// the figure cannot be computed).
    pub fn fixed(&self, last: Option<Price>, quote: &str, dir: Direction) -> Option<Level> {
        match *self {
            Level::Price(p) => Some(Level::Price(snap_trigger(quote, p, dir))),
            Level::PctFromLast(r) => {
                let last = last.filter(|l| *l > Decimal::ZERO)?;
                let p = Decimal::ONE.checked_add(r).and_then(|k| last.checked_mul(k))?;
                (p > Decimal::ZERO).then(|| Level::Price(snap_trigger(quote, p, dir)))
            }
            Level::PctFromAvg(_) => Some(*self),
        }
    }

    /// True for a level measured from the last price that still has to be fixed.
    pub fn is_from_last(&self) -> bool {
        matches!(self, Level::PctFromLast(_))
    }
}

/// What a rule watches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleKind {
    /// Sell when the price falls to or below the level.
    StopLoss(Level),
    /// Sell when the price rises to or above the level.
    TakeProfit(Level),
    /// Sell when the price falls `ratio` below the highest price seen while armed.
    Trailing {
        /// Ratio (0.02 = 2 %).
        ratio: Decimal,
        /// Highest fresh price seen so far.
        peak: Option<Price>,
    },
    /// Stop and take-profit together; whichever triggers first fires, the other is gone.
    Oco {
        /// Stop level.
        stop: Level,
        /// Take-profit level.
        take: Level,
    },
}

/// Lifecycle of a rule, as the Monitor pane shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleState {
    /// Watching fresh prices.
    Armed,
    /// Prices are stale: not protecting, will not fire until fresh data arrives.
    Stale,
    /// Fired; the exit is in flight. Latched.
    Firing,
    /// Finished (exit filled, or only dust left).
    Done,
    /// The exit could not be placed; needs the user.
    Failed,
}

impl RuleState {
    /// `armed`, `stale`, `firing`, `done`, `failed` (the Monitor pane's state column).
    pub fn label(self) -> &'static str {
        match self {
            RuleState::Armed => "armed",
            RuleState::Stale => "stale",
            RuleState::Firing => "firing",
            RuleState::Done => "done",
            RuleState::Failed => "failed",
        }
    }

    /// Still protecting or in flight (armed, stale, firing): the rule may yet sell.
    pub(crate) fn is_active(self) -> bool {
        matches!(self, RuleState::Armed | RuleState::Stale | RuleState::Firing)
    }
}

/// A persisted protection rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id (UUIDv7).
    pub id: String,
    /// Market.
    pub market: MarketId,
    /// Trigger.
    pub kind: RuleKind,
    /// Volume to sell; `None` = the whole position at firing time.
    pub volume: Option<Qty>,
    /// State.
    pub state: RuleState,
    /// Exit attempt number (part of the exit identifier).
    pub attempt: u32,
    /// Last note (dust, failure reason).
    pub note: Option<String>,
    /// Armed explicitly for a position not held yet (`:stop … future`): with no position
    /// it says "waiting for a position" rather than "position gone".
    #[serde(default)]
    pub for_future_position: bool,
    /// While a sliced exit is under way (an exit larger than the per-order cap with
    /// `protective_exit_over_cap = "slice"`): the volume this firing still has to sell.
    /// Each slice is one more attempt, under its own deterministic identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_left: Option<Qty>,
    /// The position it protects was last known gone (sold, here or elsewhere). Persisted,
    /// so after a restart the rule says "position gone" from the start rather than
    /// "armed" until the first balance list; a position that comes back clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub position_gone: bool,
}

impl Rule {
    /// A new armed rule.
    pub fn new(market: MarketId, kind: RuleKind, volume: Option<Qty>) -> Self {
        Rule {
            id: uuid::Uuid::now_v7().to_string(),
            market,
            kind,
            volume,
            state: RuleState::Armed,
            attempt: 0,
            note: None,
            for_future_position: false,
            exit_left: None,
            position_gone: false,
        }
    }

    /// The exit identifier for the current attempt: deterministic, ≤ 64 characters.
    pub fn exit_identifier(&self) -> String {
        exit_identifier(&self.id, self.attempt)
    }

    /// The price that would trigger it now (for OCO: the stop), on the tick grid, for
    /// display.
    pub fn trigger_price(&self, avg_cost: Price) -> Option<Price> {
        let q = self.market.quote();
        match &self.kind {
            RuleKind::StopLoss(l) => l.trigger(avg_cost, q, Direction::Falls),
            RuleKind::TakeProfit(l) => l.trigger(avg_cost, q, Direction::Rises),
            RuleKind::Trailing { ratio, peak } => peak.and_then(|p| trail_level(q, p, *ratio)),
            RuleKind::Oco { stop, .. } => stop.trigger(avg_cost, q, Direction::Falls),
        }
    }

    /// Whether `price` triggers this rule; returns the trigger level that was hit.
    fn triggered(&self, price: Price, avg_cost: Price) -> Option<(Price, &'static str)> {
        let q = self.market.quote();
        let falls = |l: &Level| l.trigger(avg_cost, q, Direction::Falls).filter(|t| price <= *t);
        let rises = |l: &Level| l.trigger(avg_cost, q, Direction::Rises).filter(|t| price >= *t);
        match &self.kind {
            RuleKind::StopLoss(l) => falls(l).map(|t| (t, "stop_loss")),
            RuleKind::TakeProfit(l) => rises(l).map(|t| (t, "take_profit")),
            RuleKind::Trailing { ratio, peak } => peak
                .and_then(|p| trail_level(q, p, *ratio))
                .filter(|t| price <= *t)
                .map(|t| (t, "trailing_stop")),
            RuleKind::Oco { stop, take } => {
                falls(stop).map(|t| (t, "oco_stop")).or_else(|| rises(take).map(|t| (t, "oco_take")))
            }
        }
    }
}

/// What a protective exit may do past the per-order cap, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitPolicy {
    /// `[trading] max_notional_per_order` (`None`: no cap).
    pub cap: Option<Decimal>,
    /// `[trading] protective_exit_over_cap`.
    pub over_cap: ProtectiveExitOverCap,
}

impl Default for ExitPolicy {
    fn default() -> Self {
        ExitPolicy::from_settings(&TradingSettings::default())
    }
}

/// How one protective exit goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitPlan {
    /// One market sell within the cap (or no cap).
    One,
    /// Market sells each within the cap, one after another: `orders` of them, the first
    /// selling `first`.
    Sliced {
        /// First slice's volume.
        first: Qty,
        /// How many orders (at the price it was planned with).
        orders: u64,
    },
    /// One market sell past the cap, by configuration.
    Exceeds,
}

/// Recorded with an exit that goes past the cap by configuration.
pub const EXCEEDS_CAP: &str = "protective exit exceeds the per-order cap by config";

impl ExitPolicy {
    /// The policy of `[trading]`.
    pub fn from_settings(t: &TradingSettings) -> Self {
        ExitPolicy {
            cap: (t.max_notional_per_order > Decimal::ZERO).then_some(t.max_notional_per_order),
            over_cap: t.protective_exit_over_cap,
        }
    }

    /// How selling `volume` at `price` goes out. Slices are even (`left / n`, floored to
    /// the volume scale, the last takes the rest), so each is within the cap at `price`;
    /// when even slices would fall below the minimum order total (a cap under twice the
    /// minimum), the exit goes out whole rather than not at all.
    pub fn plan(&self, volume: Qty, price: Price, min_total: Decimal) -> ExitPlan {
        let Some(cap) = self.cap.filter(|c| *c > Decimal::ZERO) else { return ExitPlan::One };
        // Checked: a value too large to compute is certainly over the cap.
        let over = volume.checked_mul(price).is_none_or(|v| v > cap);
        if !over || volume <= Decimal::ZERO || price <= Decimal::ZERO {
            return ExitPlan::One;
        }
        if self.over_cap == ProtectiveExitOverCap::Exceed {
            return ExitPlan::Exceeds;
        }
        let orders = volume.checked_mul(price).and_then(|v| v.checked_div(cap)).map(|n| n.ceil());
        let first = orders.and_then(|n| volume.checked_div(n)).map(floor_volume);
        match (orders.and_then(|n| u64::try_from(n).ok()), first) {
            (Some(orders), Some(first))
                if first > Decimal::ZERO && first.checked_mul(price).is_some_and(|v| v >= min_total) =>
            {
                ExitPlan::Sliced { first, orders }
            }
            _ => ExitPlan::Exceeds,
        }
    }

    /// The next slice's volume of a sliced exit with `left` still to sell at `price`.
    pub fn next_slice(&self, left: Qty, price: Price, min_total: Decimal) -> Qty {
        match self.plan(left, price, min_total) {
            ExitPlan::Sliced { first, .. } => first,
            ExitPlan::One | ExitPlan::Exceeds => left,
        }
    }
}

/// The trailing stop level `peak × (1 − ratio)` on the tick grid of `quote`, rounded up
/// like any stop (see [`snap_trigger`]) so it never fires later than asked and the level
/// shown is the one that fires; checked (`None` never triggers).
pub fn trail_level(quote: &str, peak: Price, ratio: Decimal) -> Option<Price> {
    Decimal::ONE
        .checked_sub(ratio)
        .and_then(|k| peak.checked_mul(k))
        .map(|p| snap_trigger(quote, p, Direction::Falls))
}

/// `hoga-r-{rule id}-{attempt}`.
pub fn exit_identifier(rule_id: &str, attempt: u32) -> String {
    format!("hoga-r-{rule_id}-{attempt}")
}

/// The attempt an exit identifier of `rule_id` names (`None` for another identifier).
pub(crate) fn exit_attempt(rule_id: &str, identifier: &str) -> Option<u32> {
    identifier.strip_prefix("hoga-r-")?.strip_prefix(rule_id)?.strip_prefix('-')?.parse().ok()
}

/// A price with the monotonic time it arrived (wall clocks jump; case 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// Last trade price.
    pub price: Price,
    /// When it was received.
    pub received: Instant,
}

/// The position a rule protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PositionView {
    /// Sellable volume (available + locked by our own open sells).
    pub volume: Qty,
    /// Average cost.
    pub avg_cost: Price,
}

/// An exit the rule book wants placed: a market sell under a deterministic identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// Rule id.
    pub rule_id: String,
    /// Market.
    pub market: MarketId,
    /// Identifier for the exit order.
    pub identifier: String,
    /// Attempt number.
    pub attempt: u32,
    /// Volume to sell.
    pub volume: Qty,
    /// The level that was hit.
    pub trigger_price: Price,
    /// The price that hit it.
    pub last_price: Price,
    /// Age of that price when it fired (audit).
    pub(crate) data_age_ms: u64,
    /// `stop_loss`, `take_profit`, `trailing_stop`, `oco_stop`, `oco_take`.
    pub reason: String,
}

/// What a rule reported besides exits (for alerts and the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleNotice {
    /// The position left is below the minimum order total: nothing to sell.
    Dust {
        /// Rule.
        rule_id: String,
        /// Volume left.
        volume: Qty,
    },
    /// A rule went stale (protection degraded).
    Stale {
        /// Rule.
        rule_id: String,
    },
    /// A stale rule has fresh data again.
    Fresh {
        /// Rule.
        rule_id: String,
    },
}

/// How an exit ended, reported back by the order manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExitResult {
    /// The exit is terminal; `remaining` is the position volume left afterwards.
    Finished {
        /// Volume left.
        remaining: Qty,
    },
    /// It could not be placed.
    Failed(String),
}

/// All rules, evaluated per tick.
#[derive(Debug, Clone)]
pub struct RuleBook {
    rules: BTreeMap<String, Rule>,
    quotes: HashMap<MarketId, Quote>,
    stale_after: Duration,
    ready_since: Option<Instant>,
}

impl RuleBook {
    /// An empty book; prices older than `stale_after` are stale. Not ready until
    /// [`RuleBook::set_ready`].
    pub fn new(stale_after: Duration) -> Self {
        RuleBook { rules: BTreeMap::new(), quotes: HashMap::new(), stale_after, ready_since: None }
    }

    /// Adds (or replaces) a rule.
    pub fn insert(&mut self, rule: Rule) {
        self.rules.insert(rule.id.clone(), rule);
    }

    /// Removes a rule.
    pub fn remove(&mut self, id: &str) -> Option<Rule> {
        self.rules.remove(id)
    }

    /// A rule by id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id)
    }

    /// Every rule, by id.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }

    /// A price older than this is stale.
    pub(crate) fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// Rules still protecting or in flight (armed, stale, firing).
    pub(crate) fn active_count(&self) -> usize {
        self.rules.values().filter(|r| r.state.is_active()).count()
    }

    /// Allows firing on prices received at or after `at` (call when reconciliation is
    /// done). Prices from before stay unusable, so a restart needs one fresh tick.
    pub fn set_ready(&mut self, at: Instant) {
        self.ready_since = Some(at);
    }

    /// Stops firing (disconnect, reconciliation running).
    pub(crate) fn set_not_ready(&mut self) {
        self.ready_since = None;
    }

    fn fresh(&self, q: &Quote, now: Instant) -> bool {
        now.saturating_duration_since(q.received) <= self.stale_after
            && self.ready_since.is_some_and(|r| q.received >= r)
    }

    /// Evaluates a tick of `market`. Returns the exits to place (each rule at most once
    /// until its exit is reported back) and notices.
    pub fn on_tick(
        &mut self,
        market: &MarketId,
        quote: Quote,
        now: Instant,
        pos: PositionView,
        min_total: Decimal,
    ) -> (Vec<Exit>, Vec<RuleNotice>) {
        if band::price("price", quote.price).is_err() {
            // Outliers never reach a trigger (case 16): the decoder refuses them, and a
            // price from elsewhere (paper venue, simulator) outside the band is ignored too.
            return (vec![], vec![]);
        }
        self.quotes.insert(market.clone(), quote);
        let fresh = self.fresh(&quote, now);
        let mut exits = Vec::new();
        let mut notices = Vec::new();
        for rule in self.rules.values_mut().filter(|r| &r.market == market) {
            match rule.state {
                RuleState::Firing | RuleState::Done | RuleState::Failed => continue,
                RuleState::Stale if fresh => {
                    rule.state = RuleState::Armed;
                    notices.push(RuleNotice::Fresh { rule_id: rule.id.clone() });
                }
                RuleState::Armed if !fresh => {
                    rule.state = RuleState::Stale;
                    notices.push(RuleNotice::Stale { rule_id: rule.id.clone() });
                    continue;
                }
                RuleState::Stale => continue,
                RuleState::Armed => {}
            }
            if let RuleKind::Trailing { peak, .. } = &mut rule.kind {
                *peak = Some(peak.map_or(quote.price, |p| p.max(quote.price)));
            }
            if pos.volume <= Decimal::ZERO {
                continue;
            }
            let Some((trigger, reason)) = rule.triggered(quote.price, pos.avg_cost) else { continue };
            let volume = floor_volume(rule.volume.map_or(pos.volume, |v| v.min(pos.volume)));
            // Checked: a value too large to compute is certainly not dust.
            if volume.checked_mul(quote.price).is_some_and(|v| v < min_total) {
                rule.state = RuleState::Done;
                rule.note = Some(format!(
                    "dust {} below the minimum order total {} {}",
                    quantity(volume),
                    amount(min_total, rule.market.quote()),
                    rule.market.quote()
                ));
                notices.push(RuleNotice::Dust { rule_id: rule.id.clone(), volume });
                continue;
            }
            rule.state = RuleState::Firing;
            exits.push(Exit {
                rule_id: rule.id.clone(),
                market: market.clone(),
                identifier: rule.exit_identifier(),
                attempt: rule.attempt,
                volume,
                trigger_price: trigger,
                last_price: quote.price,
                data_age_ms: u64::try_from(now.saturating_duration_since(quote.received).as_millis())
                    .unwrap_or(u64::MAX),
                reason: reason.to_string(),
            });
        }
        (exits, notices)
    }

    /// Marks rules stale whose market has had no fresh price for `stale_after` (call on a
    /// timer: a silent websocket produces no ticks to notice it with).
    pub(crate) fn check_stale(&mut self, now: Instant) -> Vec<RuleNotice> {
        let mut out = Vec::new();
        for rule in self.rules.values_mut().filter(|r| r.state == RuleState::Armed) {
            let fresh = self.quotes.get(&rule.market).is_some_and(|q| {
                now.saturating_duration_since(q.received) <= self.stale_after
                    && self.ready_since.is_some_and(|r| q.received >= r)
            });
            if !fresh {
                rule.state = RuleState::Stale;
                out.push(RuleNotice::Stale { rule_id: rule.id.clone() });
            }
        }
        out
    }

    /// One slice of a sliced exit ended with `filled` sold; `pos` is the position now and
    /// `last` the last price. Returns the next slice to send at once (the rule stays
    /// latched in `Firing`: a sliced exit continues whatever the price does, it was decided
    /// when the trigger was hit), under the next attempt's deterministic identifier; or
    /// `None` when the exit is complete (the rule is done). `None` too for a rule that is
    /// not slicing. `filled_attempt` is the attempt of the slice that ended: the next one
    /// is numbered after it even if the rule's own count was not persisted before a
    /// restart (exits are sent before the rule is saved), so no identifier is reused.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn next_slice(
        &mut self,
        rule_id: &str,
        filled_attempt: Option<u32>,
        filled: Qty,
        pos: PositionView,
        last: Price,
        min_total: Decimal,
        policy: &ExitPolicy,
    ) -> Option<Exit> {
        let rule = self.rules.get_mut(rule_id)?;
        let left = rule.exit_left?;
        let left = left.saturating_sub(filled).min(pos.volume).max(Decimal::ZERO);
        let left = floor_volume(left);
        let dust = last > Decimal::ZERO && left.checked_mul(last).is_some_and(|v| v < min_total);
        if left <= Decimal::ZERO || dust {
            rule.exit_left = None;
            rule.state = RuleState::Done;
            rule.note = dust.then(|| {
                format!("sliced exit done; dust {} left below the minimum order total", quantity(left))
            });
            return None;
        }
        let volume = if last > Decimal::ZERO { policy.next_slice(left, last, min_total) } else { left };
        rule.attempt = rule.attempt.max(filled_attempt.unwrap_or(0)).saturating_add(1);
        rule.state = RuleState::Firing;
        rule.exit_left = Some(left);
        rule.note = Some(format!("sliced exit: {} left to sell", quantity(left)));
        let trigger = rule.trigger_price(pos.avg_cost).unwrap_or(last);
        Some(Exit {
            rule_id: rule.id.clone(),
            market: rule.market.clone(),
            identifier: rule.exit_identifier(),
            attempt: rule.attempt,
            volume,
            trigger_price: trigger,
            last_price: last,
            data_age_ms: 0,
            reason: "exit_slice".into(),
        })
    }

    /// Ends a sliced exit early (trading halted between slices): the rule fails with why.
    pub(crate) fn stop_slicing(&mut self, rule_id: &str, why: String) {
        if let Some(rule) = self.rules.get_mut(rule_id) {
            rule.exit_left = None;
            rule.state = RuleState::Failed;
            rule.note = Some(why);
        }
    }

    /// Reports how an exit ended. A partial exit re-arms with the next attempt (a new,
    /// still deterministic identifier); a full one or dust ends the rule.
    pub(crate) fn on_exit_result(
        &mut self,
        rule_id: &str,
        result: ExitResult,
        min_total: Decimal,
        last_price: Price,
    ) {
        let Some(rule) = self.rules.get_mut(rule_id) else { return };
        match result {
            ExitResult::Finished { remaining } => {
                let whole_position = rule.volume.is_none();
                if whole_position
                    && remaining > Decimal::ZERO
                    && remaining.checked_mul(last_price).is_none_or(|v| v >= min_total)
                {
                    rule.attempt += 1;
                    rule.state = RuleState::Armed;
                } else {
                    if remaining > Decimal::ZERO && whole_position {
                        rule.note =
                            Some(format!("dust {} left below the minimum order total", quantity(remaining)));
                    }
                    rule.state = RuleState::Done;
                }
            }
            ExitResult::Failed(why) => {
                rule.state = RuleState::Failed;
                rule.note = Some(why);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Alerts

/// An alert condition: on the price (evaluated per tick by the monitor) or on an
/// indicator of a candle series (evaluated per candle update by the console's indicator
/// watcher, which tells the monitor when it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertCondition {
    /// Price above a level.
    Above(Price),
    /// Price below a level.
    Below(Price),
    /// Price crosses a level (either direction).
    Crosses(Price),
    /// Price moves by a ratio from the price when armed (0.05 = 5 %).
    MovePct(Decimal),
    /// An indicator of one timeframe's candles (`rsi14 < 30 5m`).
    Indicator(IndicatorAlert),
    /// The market's kimchi premium (`kimp > 3%`), evaluated on each premium board.
    Premium(crate::trading::monitor::premium_alerts::PremiumAlert),
}

/// Which way a cross or a band break goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// Upward: the first line goes above the second, the close above the upper band.
    Up,
    /// Downward.
    Down,
}

impl Way {
    /// `up` / `down`.
    pub fn label(self) -> &'static str {
        match self {
            Way::Up => "up",
            Way::Down => "down",
        }
    }

    /// The other way.
    pub fn flipped(self) -> Way {
        match self {
            Way::Up => Way::Down,
            Way::Down => Way::Up,
        }
    }
}

/// What an indicator alert waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorTest {
    /// The indicator's value (RSI, an average, the MACD line, the volume) above a level.
    Above(Decimal),
    /// The value below a level.
    Below(Decimal),
    /// Two lines cross: the short average and the long one, or the MACD line and its
    /// signal; `None` either way. Fires when the sign of their difference changes between
    /// two evaluations.
    Crosses(Option<Way>),
    /// The close leaves the Bollinger bands: above the upper band (`Up`) or below the
    /// lower one (`Down`).
    Breaks(Way),
}

/// An alert on an indicator of one market's candles of one timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorAlert {
    /// Candle timeframe the indicator is computed on.
    pub timeframe: Timeframe,
    /// The indicator (a cross of two averages is one [`Indicator::MaCrossover`]).
    pub indicator: Indicator,
    /// What it waits for.
    pub test: IndicatorTest,
}

impl IndicatorAlert {
    /// The timeframe an alert watches when the line names none: Upbit's indicator
    /// streams start at 5 minutes.
    pub const DEFAULT_TIMEFRAME: Timeframe = Timeframe::M5;

    /// `RSI14(5m) < 30`, `EMA20(1h) crosses EMA50`, `MACD(5m) crosses up signal`,
    /// `BB20(15m) break up`.
    pub fn label(&self) -> String {
        self.label_with(|v| v.normalize().to_string())
    }

    /// [`IndicatorAlert::label`] with the threshold written by `level` (the monitor writes
    /// an average's threshold as a price: `SMA20(5m) > 100,000,000`).
    pub fn label_with(&self, level: impl Fn(Decimal) -> String) -> String {
        let tf = self.timeframe.label();
        let ma = |k: MaKind| match k {
            MaKind::Sma => "SMA",
            MaKind::Ema => "EMA",
        };
        let way = |w: Option<Way>| w.map_or(String::new(), |w| format!(" {}", w.label()));
        let name = match self.indicator {
            Indicator::Rsi { period } => format!("RSI{period}({tf})"),
            Indicator::MovingAverage { ma_type, period } => format!("{}{period}({tf})", ma(ma_type)),
            Indicator::Volume { period } => format!("VOL{period}({tf})"),
            Indicator::BollingerBands { period, std_dev } if std_dev == Decimal::TWO => {
                format!("BB{period}({tf})")
            }
            Indicator::BollingerBands { period, std_dev } => {
                format!("BB{period},{}({tf})", std_dev.normalize())
            }
            Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 } => format!("MACD({tf})"),
            Indicator::Macd { fast_period, slow_period, signal_period } => {
                format!("MACD{fast_period},{slow_period},{signal_period}({tf})")
            }
            Indicator::MaCrossover { ma_type, short_period, long_period } => {
                let m = ma(ma_type);
                let w = match self.test {
                    IndicatorTest::Crosses(w) => way(w),
                    _ => String::new(),
                };
                return format!("{m}{short_period}({tf}) crosses{w} {m}{long_period}");
            }
        };
        match self.test {
            IndicatorTest::Above(v) => format!("{name} > {}", level(v)),
            IndicatorTest::Below(v) => format!("{name} < {}", level(v)),
            IndicatorTest::Crosses(w) => format!("{name} crosses{} signal", way(w)),
            IndicatorTest::Breaks(w) => format!("{name} break {}", w.label()),
        }
    }
}

/// A persisted alert; fires once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Id (UUIDv7).
    pub id: String,
    /// Market.
    pub market: MarketId,
    /// Condition.
    pub condition: AlertCondition,
    /// Reference price (first price seen, for `MovePct`).
    pub reference: Option<Price>,
    /// Previous price (for `Crosses`).
    pub previous: Option<Price>,
    /// Latched once fired.
    pub fired: bool,
}

impl Alert {
    /// A new alert.
    pub fn new(market: MarketId, condition: AlertCondition) -> Self {
        Alert {
            id: uuid::Uuid::now_v7().to_string(),
            market,
            condition,
            reference: None,
            previous: None,
            fired: false,
        }
    }

    /// Feeds a fresh price; true exactly once, when the condition first holds.
    pub fn on_price(&mut self, price: Price) -> bool {
        if self.fired || band::price("price", price).is_err() {
            return false;
        }
        // An indicator alert is told when it holds (`fire_indicator`), a premium alert
        // reads the premium board: a price means nothing to either.
        if matches!(self.condition, AlertCondition::Indicator(_) | AlertCondition::Premium(_)) {
            return false;
        }
        let reference = *self.reference.get_or_insert(price);
        let hit = match self.condition {
            AlertCondition::Above(l) => price > l,
            AlertCondition::Below(l) => price < l,
            AlertCondition::Crosses(l) => {
                self.previous.is_some_and(|p| (p < l && price >= l) || (p > l && price <= l))
            }
            // Checked: a move too large to compute is certainly a move.
            AlertCondition::MovePct(r) => price
                .checked_sub(reference)
                .and_then(|d| d.checked_div(reference))
                .is_none_or(|m| m.abs() >= r),
            AlertCondition::Indicator(_) | AlertCondition::Premium(_) => false,
        };
        self.previous = Some(price);
        if hit {
            self.fired = true;
        }
        hit
    }

    /// The indicator this alert watches, if it is an indicator alert.
    pub fn indicator(&self) -> Option<&IndicatorAlert> {
        match &self.condition {
            AlertCondition::Indicator(i) => Some(i),
            _ => None,
        }
    }

    /// An indicator alert's condition held: true exactly once (latched), false for a
    /// price alert or one that fired already.
    pub fn fire_indicator(&mut self) -> bool {
        if self.fired || self.indicator().is_none() {
            return false;
        }
        self.fired = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn m() -> MarketId {
        MarketId::new("KRW-BTC")
    }

    fn pos() -> PositionView {
        PositionView { volume: dec!(0.1), avg_cost: dec!(100000000) }
    }

    #[test]
    fn stop_fires_once_while_the_price_oscillates() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(5));
        book.insert(Rule::new(m(), RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))), None));
        book.set_ready(t0);
        let mut exits = Vec::new();
        for (i, p) in [dec!(98000000), dec!(96900000), dec!(97100000), dec!(96000000), dec!(95000000)]
            .iter()
            .enumerate()
        {
            let at = t0 + Duration::from_millis(i as u64);
            exits.extend(book.on_tick(&m(), Quote { price: *p, received: at }, at, pos(), dec!(5000)).0);
        }
        assert_eq!(exits.len(), 1);
        assert_eq!(exits[0].trigger_price, dec!(97000000));
        assert_eq!(exits[0].volume, dec!(0.1));
        assert!(exits[0].identifier.len() <= 64);
        assert_eq!(exits[0].identifier, exit_identifier(&exits[0].rule_id, 0));
    }

    #[test]
    fn stale_or_pre_ready_prices_never_fire() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(5));
        let r = Rule::new(m(), RuleKind::StopLoss(Level::Price(dec!(97000000))), None);
        let id = r.id.clone();
        book.insert(r);
        // Not ready (restart, reconciliation running): no fire.
        let (e, _) = book.on_tick(&m(), Quote { price: dec!(90000000), received: t0 }, t0, pos(), dec!(5000));
        assert!(e.is_empty());
        book.set_ready(t0 + Duration::from_secs(1));
        // A price received before ready is still not usable.
        let (e, _) = book.on_tick(
            &m(),
            Quote { price: dec!(90000000), received: t0 },
            t0 + Duration::from_secs(1),
            pos(),
            dec!(5000),
        );
        assert!(e.is_empty());
        assert_eq!(book.get(&id).unwrap().state, RuleState::Stale);
        // A stale price (received long ago): no fire.
        let late = t0 + Duration::from_secs(60);
        let (e, _) = book.on_tick(
            &m(),
            Quote { price: dec!(90000000), received: t0 + Duration::from_secs(2) },
            late,
            pos(),
            dec!(5000),
        );
        assert!(e.is_empty());
        // Fresh: fires once.
        let (e, n) =
            book.on_tick(&m(), Quote { price: dec!(90000000), received: late }, late, pos(), dec!(5000));
        assert_eq!(e.len(), 1);
        assert!(n.contains(&RuleNotice::Fresh { rule_id: id }));
    }

    #[test]
    fn check_stale_marks_silent_markets() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(5));
        book.insert(Rule::new(m(), RuleKind::TakeProfit(Level::Price(dec!(200000000))), None));
        book.set_ready(t0);
        book.on_tick(&m(), Quote { price: dec!(100000000), received: t0 }, t0, pos(), dec!(5000));
        assert!(book.check_stale(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(book.check_stale(t0 + Duration::from_secs(6)).len(), 1);
    }

    #[test]
    fn trailing_follows_the_peak_and_oco_takes_either_side() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(5));
        book.insert(Rule::new(m(), RuleKind::Trailing { ratio: dec!(0.02), peak: None }, None));
        book.set_ready(t0);
        let mut fire =
            |p: Decimal| book.on_tick(&m(), Quote { price: p, received: t0 }, t0, pos(), dec!(5000)).0;
        assert!(fire(dec!(100000000)).is_empty());
        assert!(fire(dec!(110000000)).is_empty());
        assert!(fire(dec!(108000000)).is_empty());
        let e = fire(dec!(107800000));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].trigger_price, dec!(107800000));

        let mut oco = RuleBook::new(Duration::from_secs(5));
        oco.insert(Rule::new(
            m(),
            RuleKind::Oco { stop: Level::PctFromAvg(dec!(-0.03)), take: Level::PctFromAvg(dec!(0.05)) },
            None,
        ));
        oco.set_ready(t0);
        let e = oco.on_tick(&m(), Quote { price: dec!(105000000), received: t0 }, t0, pos(), dec!(5000)).0;
        assert_eq!(e[0].reason, "oco_take");
        assert!(
            oco.on_tick(&m(), Quote { price: dec!(90000000), received: t0 }, t0, pos(), dec!(5000))
                .0
                .is_empty()
        );
    }

    /// 2% under a peak of 152,445,000 is 149,396,100, between two ticks of 1,000: the
    /// level that fires (and is shown) is the tick above, so it never fires later than asked.
    #[test]
    fn a_trailing_level_is_on_the_tick_grid_rounded_up() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(5));
        let r = Rule::new(m(), RuleKind::Trailing { ratio: dec!(0.02), peak: None }, None);
        let id = r.id.clone();
        book.insert(r);
        book.set_ready(t0);
        let mut fire =
            |p: Decimal| book.on_tick(&m(), Quote { price: p, received: t0 }, t0, pos(), dec!(5000)).0;
        assert!(fire(dec!(152445000)).is_empty());
        assert_eq!(trail_level("KRW", dec!(152445000), dec!(0.02)), Some(dec!(149397000)));
        let e = fire(dec!(149397000));
        assert_eq!(e.len(), 1, "the tick-grid level fires");
        assert_eq!(e[0].trigger_price, dec!(149397000));
        assert_eq!(book.get(&id).and_then(|r| r.trigger_price(Decimal::ZERO)), Some(dec!(149397000)));
    }

    #[test]
    fn partial_exit_rearms_with_next_attempt_and_dust_ends() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(5));
        let r = Rule::new(m(), RuleKind::StopLoss(Level::Price(dec!(97000000))), None);
        let id = r.id.clone();
        book.insert(r);
        book.set_ready(t0);
        let q = Quote { price: dec!(96000000), received: t0 };
        let e1 = book.on_tick(&m(), q, t0, pos(), dec!(5000)).0;
        book.on_exit_result(&id, ExitResult::Finished { remaining: dec!(0.05) }, dec!(5000), dec!(96000000));
        let e2 = book.on_tick(&m(), q, t0, PositionView { volume: dec!(0.05), ..pos() }, dec!(5000)).0;
        assert_eq!(e2.len(), 1);
        assert_ne!(e1[0].identifier, e2[0].identifier);
        assert_eq!(e2[0].attempt, 1);
        book.on_exit_result(
            &id,
            ExitResult::Finished { remaining: dec!(0.00000001) },
            dec!(5000),
            dec!(96000000),
        );
        assert_eq!(book.get(&id).unwrap().state, RuleState::Done);
        // Dust at firing time: reported, rule done, no exit.
        let mut b2 = RuleBook::new(Duration::from_secs(5));
        b2.insert(Rule::new(m(), RuleKind::StopLoss(Level::Price(dec!(97000000))), None));
        b2.set_ready(t0);
        let (e, n) = b2.on_tick(&m(), q, t0, PositionView { volume: dec!(0.00001), ..pos() }, dec!(5000));
        assert!(e.is_empty());
        assert!(matches!(n[0], RuleNotice::Dust { .. }));
        // The note is read by a person: the minimum in won with separators.
        let note = b2.rules().next().and_then(|r| r.note.clone()).unwrap_or_default();
        assert_eq!(note, "dust 0.00001 below the minimum order total 5,000 KRW");
    }

    #[test]
    fn alerts_fire_once() {
        let mut a = Alert::new(m(), AlertCondition::Crosses(dec!(100)));
        assert!(!a.on_price(dec!(90)));
        assert!(a.on_price(dec!(101)));
        assert!(!a.on_price(dec!(90)));
        assert!(!a.on_price(dec!(101)));
        let mut mv = Alert::new(m(), AlertCondition::MovePct(dec!(0.05)));
        assert!(!mv.on_price(dec!(100)));
        assert!(!mv.on_price(dec!(104)));
        assert!(mv.on_price(dec!(94)));
    }

    /// Issue 17 item 1: a % level from the last price is fixed once, at arming, to a price
    /// on the tick grid, rounded so it never fires later than asked: a stop rounds up, a
    /// take-profit down (less than one tick). A level from the average cost stays relative.
    #[test]
    fn a_level_from_the_last_price_is_fixed_on_the_tick_grid_at_arming() {
        let last = Some(dec!(147654000));
        // −3 % is 143,224,380: the stop goes up to the next 1,000 tick.
        assert_eq!(
            Level::PctFromLast(dec!(-0.03)).fixed(last, "KRW", Direction::Falls),
            Some(Level::Price(dec!(143225000)))
        );
        // +5 % is 155,036,700: the take-profit goes down to the tick below.
        assert_eq!(
            Level::PctFromLast(dec!(0.05)).fixed(last, "KRW", Direction::Rises),
            Some(Level::Price(dec!(155036000)))
        );
        // A typed price off the grid is put on it the same way; one on it is kept.
        assert_eq!(
            Level::Price(dec!(97000500)).fixed(None, "KRW", Direction::Falls),
            Some(Level::Price(dec!(97001000)))
        );
        assert_eq!(
            Level::Price(dec!(97000500)).fixed(None, "KRW", Direction::Rises),
            Some(Level::Price(dec!(97000000)))
        );
        assert_eq!(
            Level::Price(dec!(97000000)).fixed(None, "KRW", Direction::Rises),
            Some(Level::Price(dec!(97000000)))
        );
        // A smaller coin's grid: 1,234 × 0.97 = 1,196.98 on a 1-won tick below 10,000.
        let tick = crate::exchange::grid().tick_size("KRW", dec!(1196.98));
        let fixed = Level::PctFromLast(dec!(-0.03)).fixed(Some(dec!(1234)), "KRW", Direction::Falls);
        let Some(Level::Price(p)) = fixed else { panic!("{fixed:?}") };
        assert!(
            p >= dec!(1196.98) && p - dec!(1196.98) < tick && crate::exchange::grid().is_on_tick("KRW", p),
            "{p}"
        );
        // From the average cost: left relative (it follows the cost basis).
        assert_eq!(
            Level::PctFromAvg(dec!(-0.03)).fixed(last, "KRW", Direction::Falls),
            Some(Level::PctFromAvg(dec!(-0.03)))
        );
        // No last price: nothing to measure from; an unresolved level never triggers.
        assert_eq!(Level::PctFromLast(dec!(-0.03)).fixed(None, "KRW", Direction::Falls), None);
        assert_eq!(Level::PctFromLast(dec!(-0.03)).resolve(dec!(100)), None);
    }

    /// Rules persisted before anchors existed (no `for_future_position`, no `exit_left`,
    /// levels from the average cost) still load, and mean what they meant.
    #[test]
    fn rules_journaled_before_anchors_still_load() {
        let old = r#"{"id":"0190-old","market":"KRW-BTC","kind":{"StopLoss":{"PctFromAvg":"-0.03"}},"volume":null,"state":"armed","attempt":2,"note":null}"#;
        let r: Rule = serde_json::from_str(old).expect("an old rule loads");
        assert_eq!(r.kind, RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))));
        assert_eq!((r.attempt, r.for_future_position, r.exit_left), (2, false, None));
        assert_eq!(r.trigger_price(dec!(100000000)), Some(dec!(97000000)));
        // And a new one round-trips.
        let new = Rule { exit_left: Some(dec!(0.01)), for_future_position: true, ..r };
        let back: Rule = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }

    /// Exits are sent before the rule is saved: after a restart the rule's attempt can be
    /// behind the slice that just filled. The next slice is numbered after the filled one,
    /// so an identifier is never reused (a reused one would be "already exists", and the
    /// exit would stall).
    #[test]
    fn the_next_slice_is_numbered_after_the_slice_that_filled() {
        let mut book = RuleBook::new(Duration::from_secs(5));
        let r = Rule {
            exit_left: Some(dec!(0.03)),
            state: RuleState::Firing,
            ..Rule::new(m(), RuleKind::StopLoss(Level::Price(dec!(97000000))), None)
        };
        let id = r.id.clone();
        book.insert(r);
        assert_eq!(exit_attempt(&id, &exit_identifier(&id, 3)), Some(3));
        assert_eq!(exit_attempt(&id, "hoga-r-other-3"), None);
        let policy = ExitPolicy { cap: Some(dec!(1000000)), over_cap: ProtectiveExitOverCap::Slice };
        let pos = PositionView { volume: dec!(0.02), avg_cost: dec!(90000000) };
        let next = book
            .next_slice(&id, Some(3), dec!(0.01), pos, dec!(96000000), dec!(5000), &policy)
            .expect("a next slice");
        assert_eq!((next.attempt, next.identifier.clone()), (4, exit_identifier(&id, 4)));
        assert!(next.volume * dec!(96000000) <= dec!(1000000), "{}", next.volume);
        assert_eq!(book.get(&id).and_then(|r| r.exit_left), Some(dec!(0.02)));
    }

    /// What an exit past the per-order cap does, as configured.
    #[test]
    fn an_exit_plan_slices_evenly_within_the_cap_or_exceeds_by_config() {
        let slice = ExitPolicy { cap: Some(dec!(1000000)), over_cap: ProtectiveExitOverCap::Slice };
        // 0.051 BTC at 148 M is 7,548,000: 8 slices of 0.006375 (943,500 each).
        assert_eq!(
            slice.plan(dec!(0.051), dec!(148000000), dec!(5000)),
            ExitPlan::Sliced { first: dec!(0.006375), orders: 8 }
        );
        assert_eq!(slice.plan(dec!(0.005), dec!(148000000), dec!(5000)), ExitPlan::One);
        let exceed = ExitPolicy { over_cap: ProtectiveExitOverCap::Exceed, ..slice };
        assert_eq!(exceed.plan(dec!(0.051), dec!(148000000), dec!(5000)), ExitPlan::Exceeds);
        let none = ExitPolicy { cap: None, ..slice };
        assert_eq!(none.plan(dec!(0.051), dec!(148000000), dec!(5000)), ExitPlan::One);
        // A cap too small for slices above the minimum order: out whole, not stuck.
        let tiny = ExitPolicy { cap: Some(dec!(6000)), ..slice };
        assert_eq!(tiny.plan(dec!(0.0001), dec!(90000000), dec!(5000)), ExitPlan::Exceeds);
    }

    proptest! {
        #[test]
        fn any_price_path_fires_at_most_once_per_attempt(prices in prop::collection::vec(90_000_000u64..110_000_000u64, 1..200)) {
            let t0 = Instant::now();
            let mut book = RuleBook::new(Duration::from_secs(5));
            book.insert(Rule::new(m(), RuleKind::Oco { stop: Level::PctFromAvg(dec!(-0.03)), take: Level::PctFromAvg(dec!(0.05)) }, None));
            book.set_ready(t0);
            let mut n = 0;
            for p in prices {
                n += book.on_tick(&m(), Quote { price: Decimal::from(p), received: t0 }, t0, pos(), dec!(5000)).0.len();
            }
            prop_assert!(n <= 1);
        }
    }

    #[test]
    fn prices_outside_the_band_and_levels_that_overflow_never_fire() {
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(10));
        book.set_ready(t0);
        book.insert(Rule::new(m(), RuleKind::StopLoss(Level::Price(dec!(1000000000000000))), None));
        book.insert(Rule::new(m(), RuleKind::TakeProfit(Level::PctFromAvg(Decimal::MAX)), None));
        book.insert(Rule::new(
            m(),
            RuleKind::Trailing { ratio: Decimal::MIN, peak: Some(Decimal::MAX) },
            None,
        ));
        let pos = PositionView { volume: dec!(1), avg_cost: Decimal::MAX };
        for p in [dec!(0), dec!(-5), dec!(0.0000000000000000000000000001), Decimal::MAX] {
            let (exits, _) = book.on_tick(&m(), Quote { price: p, received: t0 }, t0, pos, dec!(5000));
            assert!(exits.is_empty(), "fired on {p}");
        }
        // A level that cannot be computed never triggers; the stop at 1e15 does.
        let (exits, _) =
            book.on_tick(&m(), Quote { price: dec!(100000000), received: t0 }, t0, pos, dec!(5000));
        assert_eq!(exits.len(), 1, "{exits:?}");
        let mut alert = Alert::new(m(), AlertCondition::MovePct(dec!(0.05)));
        assert!(!alert.on_price(dec!(0.000000000001)));
        assert!(!alert.on_price(Decimal::MAX), "outside the band");
        assert!(alert.on_price(dec!(1000000000000000)), "a move too large to compute is a move");
    }
}
