//! What the Monitor pane draws: one typed row per rule and per alert, computed by the
//! monitor (trigger, distance, data age, state), carried as is through the store.

use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::alerts::describe_alert;
use super::evaluation::Core;
use crate::exchange::types::{MarketId, Price};
#[cfg(test)]
use crate::trading::rules::Rule;
use crate::trading::rules::{AlertCondition, Direction, Level, RuleKind, RuleState};

/// One rule as the Monitor pane shows it: the one row type from the monitor to the pane
/// (the store carries it as is). Everything in it is computed by the monitor, from the
/// prices and the position it evaluates the rule with, so the pane shows the figures the
/// rule fires on rather than recomputing them from another price source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    /// Rule id.
    pub id: String,
    /// Market.
    pub market: MarketId,
    /// `stop -3%`, `tp 105000000`, `trail 2%`, `oco -3% / +5%`.
    pub label: String,
    /// The rule itself.
    pub kind: RuleKind,
    /// Trigger price now (trailing: from the peak; OCO: the stop).
    pub trigger: Option<Price>,
    /// An OCO's take-profit trigger now (`None` for the other kinds).
    pub take_trigger: Option<Price>,
    /// Last price the monitor evaluated.
    pub last: Option<Price>,
    /// The move the last price needs to reach the trigger, `(trigger − last) / last`, as a
    /// ratio: −0.03 for a stop 3 % below the price, +0.05 for a take-profit 5 % above.
    pub distance: Option<Decimal>,
    /// Age of the last price when the view was published (the monitor republishes at
    /// least every `stale_check_every`, so this lags by no more than that).
    pub age: Option<Duration>,
    /// State (armed / stale / firing / done / failed).
    pub state: RuleState,
    /// Exit attempt.
    pub attempt: u32,
    /// Dust, failure reason, halted, cancelling…
    pub note: Option<String>,
    /// Whether the position it protects is there.
    pub position: RulePosition,
    /// Its market has had no price since the monitor started, within the start grace
    /// (the feed is connecting): the pane says `starting`, and no STALE alarm is raised
    /// until the grace is over.
    pub starting: bool,
}

/// The position a rule protects, as the monitor knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RulePosition {
    /// Not known yet (no balances received).
    #[default]
    Unknown,
    /// Held: the rule protects it.
    Held,
    /// Gone (sold, here or elsewhere): the rule cannot fire while there is nothing to sell.
    Gone,
    /// None yet, and the rule was armed for a future position.
    Waiting,
}

impl RuleRow {
    /// An armed rule on a held position, before the monitor has evaluated a price: its
    /// triggers are the absolute levels it names (a relative level has none yet), and no
    /// last price, distance or age. The monitor fills the rest as it evaluates; fixtures
    /// set them with struct update.
    pub fn armed(id: &str, market: MarketId, kind: RuleKind) -> RuleRow {
        let price = |l: &Level| match l {
            Level::Price(p) => Some(*p),
            Level::PctFromAvg(_) | Level::PctFromLast(_) => None,
        };
        let (trigger, take_trigger) = match &kind {
            RuleKind::StopLoss(l) | RuleKind::TakeProfit(l) => (price(l), None),
            RuleKind::Oco { stop, take } => (price(stop), price(take)),
            RuleKind::Trailing { .. } => (None, None),
        };
        RuleRow {
            id: id.into(),
            label: rule_label(&kind, market.quote()),
            market,
            kind,
            trigger,
            take_trigger,
            last: None,
            distance: None,
            age: None,
            state: RuleState::Armed,
            attempt: 0,
            note: None,
            position: RulePosition::Held,
            starting: false,
        }
    }

    /// True while the rule protects a position (armed, stale or firing, with something
    /// to sell): what "N armed" in the Monitor pane, the status bar and the quit prompt
    /// count. A rule whose position is gone, or that waits for a future one, is not.
    pub(crate) fn is_armed(&self) -> bool {
        self.state.is_active() && !self.is_idle()
    }

    /// The kind column, one line per trigger (an OCO has two: its stop, then its
    /// take-profit): the kind and how a relative level is measured (`stop`, `tp +5% avg`,
    /// `trail 2%`), never the price itself, which is [`RuleRow::trigger_lines`]' in full.
    pub fn kind_lines(&self) -> Vec<String> {
        let rel = |word: &str, l: &Level| match l {
            Level::Price(_) => word.to_string(),
            Level::PctFromAvg(r) => format!("{word} {} avg", pct(*r)),
            Level::PctFromLast(r) => format!("{word} {} last", pct(*r)),
        };
        match &self.kind {
            RuleKind::StopLoss(l) => vec![rel("stop", l)],
            RuleKind::TakeProfit(l) => vec![rel("tp", l)],
            RuleKind::Trailing { ratio, .. } => {
                vec![format!("trail {}%", ratio.saturating_mul(Decimal::ONE_HUNDRED).normalize())]
            }
            RuleKind::Oco { stop, take } => vec![rel("oco stop", stop), rel("oco tp", take)],
        }
    }

    /// The trigger column, line by line as [`RuleRow::kind_lines`]: each price in full at
    /// its tick's precision, `-` while it cannot be computed.
    pub fn trigger_lines(&self) -> Vec<String> {
        let text = |p: Option<Price>| p.map_or_else(|| "-".into(), |p| price_text(self.market.quote(), p));
        match &self.kind {
            RuleKind::Oco { .. } => vec![text(self.trigger), text(self.take_trigger)],
            _ => vec![text(self.trigger)],
        }
    }

    /// Whether it protects nothing now: position gone, or waiting for a future one.
    pub fn is_idle_for_position(&self) -> Option<RulePosition> {
        self.is_idle().then_some(self.position)
    }

    /// Armed or stale with nothing to sell (position gone, or waiting for a future one).
    fn is_idle(&self) -> bool {
        matches!(self.state, RuleState::Armed | RuleState::Stale)
            && matches!(self.position, RulePosition::Gone | RulePosition::Waiting)
    }

    /// The state column: `position gone` (or `waiting` for a rule armed for a future
    /// position) instead of `armed` / `stale` when there is nothing to sell, since such a
    /// rule protects nothing and will not fire; `starting` while its market has had no
    /// price yet within the start grace.
    pub fn state_label(&self) -> &'static str {
        match (self.state, self.position) {
            (RuleState::Armed | RuleState::Stale, RulePosition::Gone) => "position gone",
            (RuleState::Armed | RuleState::Stale, RulePosition::Waiting) => "waiting",
            (RuleState::Armed | RuleState::Stale, _) if self.starting => "starting",
            (s, _) => s.label(),
        }
    }
}

/// `(trigger − last) / last`: the signed move to the trigger (`None` without a positive
/// last price, or when it cannot be computed).
pub(super) fn distance(trigger: Option<Price>, last: Option<Price>) -> Option<Decimal> {
    match (trigger, last) {
        (Some(t), Some(l)) if l > Decimal::ZERO => t.checked_sub(l).and_then(|d| d.checked_div(l)),
        _ => None,
    }
}

/// One alert row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Alert id.
    pub id: String,
    /// Market.
    pub market: MarketId,
    /// What it waits for (the indicator watcher reads the indicator alerts from here).
    pub condition: AlertCondition,
    /// `KRW-BTC > 100000000`.
    pub label: String,
    /// Fired (latched).
    pub fired: bool,
    /// The prices it fires at, where it has any (`> 100000000`: one; `move 5%` once its
    /// reference is known: one above and one below): the chart draws them as lines.
    pub levels: Vec<Price>,
}

/// Everything the Monitor pane draws.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorView {
    /// Rules by id.
    pub rules: Vec<RuleRow>,
    /// Alerts by id.
    pub alerts: Vec<AlertRow>,
    /// Whether reconciliation has finished (rules may fire).
    pub reconciled: bool,
    /// Ticks evaluated so far.
    pub ticks: u64,
    /// Times the monitor task started (1 = never restarted).
    pub runs: u64,
}

impl MonitorView {
    /// A rule row by id.
    pub fn rule(&self, id: &str) -> Option<&RuleRow> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn pct(r: Decimal) -> String {
    let p = r.saturating_mul(Decimal::ONE_HUNDRED).normalize();
    if p > Decimal::ZERO { format!("+{p}%") } else { format!("{p}%") }
}

/// A price with its thousands grouped (`146,181,000`), every digit kept.
pub(super) fn grouped(p: Decimal) -> String {
    let text = p.to_string();
    let (sign, rest) = text.strip_prefix('-').map_or(("", text.as_str()), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// The prices an alert fires at: its level, or for a move alert its reference moved by
/// the ratio both ways (exact, as it fires; none until the reference is known).
fn alert_levels(a: &crate::trading::rules::Alert) -> Vec<Price> {
    use crate::trading::rules::AlertCondition;
    match a.condition {
        AlertCondition::Above(p) | AlertCondition::Below(p) | AlertCondition::Crosses(p) => vec![p],
        AlertCondition::MovePct(r) => a
            .reference
            .into_iter()
            .flat_map(|reference| {
                let up = reference.checked_mul(Decimal::ONE + r.abs());
                let down = reference.checked_mul(Decimal::ONE - r.abs()).filter(|p| *p > Decimal::ZERO);
                [up, down].into_iter().flatten()
            })
            .collect(),
        // An indicator condition fires on a value, not on a price.
        _ => Vec::new(),
    }
}

/// A price of a `quote` market as people read it in alarms, alerts, the log and the
/// Monitor pane: grouped, at the precision of its tick on the venue's grid (`234,200`,
/// `0.0120` on a 0.0001 tick). Digits past the tick are kept, never rounded away.
pub(crate) fn price_text(quote: &str, p: Price) -> String {
    let tick = crate::exchange::grid().tick_size(quote, p);
    let dp = tick.normalize().scale().max(p.normalize().scale());
    let mut shown = p.normalize();
    shown.rescale(dp);
    grouped(shown)
}

fn level_label(l: &Level, quote: &str) -> String {
    match l {
        Level::Price(p) => price_text(quote, *p),
        // As typed: a level from the average cost says so (`-3% avg`).
        Level::PctFromAvg(r) => format!("{} avg", pct(*r)),
        Level::PctFromLast(r) => format!("{} last", pct(*r)),
    }
}

/// `stop 97,000,000`, `stop -3% avg`, `trail 2%`, `oco -3% avg / 105,000,000`, with the
/// prices of a `quote` market at its tick's precision.
pub(crate) fn rule_label(kind: &RuleKind, quote: &str) -> String {
    let level_label = |l: &Level| level_label(l, quote);
    match kind {
        RuleKind::StopLoss(l) => format!("stop {}", level_label(l)),
        RuleKind::TakeProfit(l) => format!("tp {}", level_label(l)),
        RuleKind::Trailing { ratio, .. } => {
            format!("trail {}%", ratio.saturating_mul(Decimal::ONE_HUNDRED).normalize())
        }
        RuleKind::Oco { stop, take } => format!("oco {} / {}", level_label(stop), level_label(take)),
    }
}

/// The rule a `:stop`, `:tp`, `:trail` or `:oco` command arms (whole position), or `None` for
/// other commands. (`:alert` is [`super::parse_alert`].)
#[cfg(test)]
pub(crate) fn rule_from_command(cmd: &crate::trading::input::TradeCommand) -> Option<Rule> {
    use crate::trading::input::TradeCommand;
    match cmd {
        TradeCommand::Stop { market, level, .. } => {
            Some(Rule::new(market.clone(), RuleKind::StopLoss(*level), None))
        }
        TradeCommand::TakeProfit { market, level, .. } => {
            Some(Rule::new(market.clone(), RuleKind::TakeProfit(*level), None))
        }
        TradeCommand::Trail { market, ratio, .. } => {
            Some(Rule::new(market.clone(), RuleKind::Trailing { ratio: *ratio, peak: None }, None))
        }
        TradeCommand::Oco { market, stop, take, .. } => {
            Some(Rule::new(market.clone(), RuleKind::Oco { stop: *stop, take: *take }, None))
        }
        _ => None,
    }
}

impl Core {
    /// The Monitor pane's view at `now`.
    pub(super) fn view(&self, now: Instant, runs: u64) -> MonitorView {
        let rules = self
            .book
            .rules()
            .map(|r| {
                let q = self.quotes.get(&r.market);
                let held = self.positions.get(&r.market);
                // Without balances yet (a restart), a rule armed for a future position
                // waits, and one whose position was gone when last known still is.
                let position = match held {
                    Some(p) if p.volume > Decimal::ZERO => RulePosition::Held,
                    _ if r.for_future_position => RulePosition::Waiting,
                    Some(_) => RulePosition::Gone,
                    None if r.position_gone => RulePosition::Gone,
                    None => RulePosition::Unknown,
                };
                // A level from the average cost means nothing once the position is gone
                // (the cost basis is zero): no trigger rather than a trigger of 0.
                let avg = held.map_or(Decimal::ZERO, |p| p.avg_cost);
                let trigger = r.trigger_price(avg);
                let take_trigger = match &r.kind {
                    RuleKind::Oco { take, .. } => take.trigger(avg, r.market.quote(), Direction::Rises),
                    _ => None,
                };
                let last = q.map(|q| q.price);
                RuleRow {
                    id: r.id.clone(),
                    market: r.market.clone(),
                    label: rule_label(&r.kind, r.market.quote()),
                    kind: r.kind.clone(),
                    trigger,
                    take_trigger,
                    last,
                    distance: distance(trigger, last),
                    age: q.map(|q| now.saturating_duration_since(q.received)),
                    state: r.state,
                    attempt: r.attempt,
                    note: r.note.clone(),
                    position,
                    starting: self.starting(r, now),
                }
            })
            .collect();
        let alerts = self
            .alerts
            .alerts()
            .map(|a| AlertRow {
                id: a.id.clone(),
                market: a.market.clone(),
                condition: a.condition,
                label: describe_alert(a),
                fired: a.fired,
                levels: alert_levels(a),
            })
            .collect();
        MonitorView { rules, alerts, reconciled: self.reconciled, ticks: self.ticks, runs }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::trading::rules::{Alert, AlertCondition};

    #[test]
    fn an_alert_fires_at_its_level_or_its_move_either_way() {
        let m = MarketId::new("KRW-BTC");
        let above = Alert::new(m.clone(), AlertCondition::Above(dec!(150_000_000)));
        assert_eq!(alert_levels(&above), [dec!(150_000_000)]);
        let mut moved = Alert::new(m, AlertCondition::MovePct(dec!(0.05)));
        assert!(alert_levels(&moved).is_empty(), "no reference price yet");
        moved.reference = Some(dec!(148_000_000));
        assert_eq!(alert_levels(&moved), [dec!(155_400_000), dec!(140_600_000)]);
    }
}
