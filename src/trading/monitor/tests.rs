//! Unit tests of the monitor's core: the trading state, rule labels and commands, and
//! the exit-identifier properties under rejections, halts and position changes.
#![cfg(test)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::evaluation::{Core, Effects, TRANSIENT_RETRY_WINDOW};
use super::*;
use crate::exchange::types::{MarketId, Qty};
use crate::trading::risk::TradingState;
use crate::trading::rules::{Level, PositionView, Quote, Rule, RuleBook, RuleKind, RuleState};

#[test]
fn trading_state_priorities_and_history() {
    let t = TradingStateHandle::new();
    assert_eq!(t.state(), TradingState::Active);
    t.set_reducing("monitor", Some("down".into()));
    assert_eq!(t.state(), TradingState::Reducing);
    assert!(t.allows_new_order(true));
    assert!(!t.allows_new_order(false));
    t.halt("kill switch");
    assert_eq!(t.state(), TradingState::Halted);
    assert!(!t.allows_new_order(true));
    t.set_reducing("monitor", None);
    assert_eq!(t.state(), TradingState::Halted);
    t.resume();
    assert_eq!(t.state(), TradingState::Active);
    let h: Vec<_> = t.history().into_iter().map(|s| s.state).collect();
    assert_eq!(h, vec![TradingState::Reducing, TradingState::Halted, TradingState::Active]);
}

#[test]
fn commands_become_rules() {
    use crate::trading::input::parse_command;
    let r = rule_from_command(&parse_command(":stop KRW-BTC -3%").unwrap()).unwrap();
    assert_eq!(rule_label(&r.kind, "KRW"), "stop -3% last");
    assert_eq!(r.state, RuleState::Armed);
    let t = rule_from_command(&parse_command(":trail KRW-BTC 2%").unwrap()).unwrap();
    assert_eq!(rule_label(&t.kind, "KRW"), "trail 2%");
    let tp = rule_from_command(&parse_command(":tp KRW-BTC +5%").unwrap()).unwrap();
    assert_eq!(rule_label(&tp.kind, "KRW"), "tp +5% last");
    assert!(rule_from_command(&parse_command(":kill").unwrap()).is_none());
}

#[test]
fn labels() {
    use rust_decimal_macros::dec;
    assert_eq!(rule_label(&RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))), "KRW"), "stop -3% avg");
    assert_eq!(
        rule_label(
            &RuleKind::Oco { stop: Level::Price(dec!(97)), take: Level::PctFromAvg(dec!(0.05)) },
            "KRW"
        ),
        "oco 97.0 / +5% avg"
    );
    // An armed price reads as a price: grouped, at its tick's precision, every digit kept.
    assert_eq!(rule_label(&RuleKind::StopLoss(Level::Price(dec!(146181000))), "KRW"), "stop 146,181,000");
    assert_eq!(rule_label(&RuleKind::TakeProfit(Level::Price(dec!(152452000))), "KRW"), "tp 152,452,000");
    assert_eq!(rule_label(&RuleKind::TakeProfit(Level::Price(dec!(1234.5))), "KRW"), "tp 1,234.5");
    assert_eq!(rule_label(&RuleKind::StopLoss(Level::Price(dec!(0.012))), "KRW"), "stop 0.0120");
}

/// The row the Monitor pane draws is computed here: the trigger from the position, the
/// signed move to it from the last evaluated price, and that price's age.
#[test]
fn the_view_row_carries_trigger_distance_and_age() {
    use rust_decimal_macros::dec;
    let m = MarketId::new("KRW-X");
    let t0 = Instant::now();
    let mut book = RuleBook::new(Duration::from_secs(3600));
    let stop = Rule::new(m.clone(), RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))), None);
    let tp = Rule::new(m.clone(), RuleKind::TakeProfit(Level::Price(dec!(105))), None);
    let (stop_id, tp_id) = (stop.id.clone(), tp.id.clone());
    book.insert(stop);
    book.insert(tp);
    let mut core = Core::new(book, AlertBook::new(), HashMap::new(), None);
    core.positions.insert(m.clone(), PositionView { volume: dec!(1), avg_cost: dec!(100) });
    core.quotes.insert(m.clone(), Quote { price: dec!(100), received: t0 });
    let view = core.view(t0 + Duration::from_millis(1500), 1);
    let row = view.rule(&stop_id).expect("stop row");
    assert_eq!(row.trigger, Some(dec!(97)));
    assert_eq!(row.distance, Some(dec!(-0.03)), "a stop below the price is a move down");
    assert_eq!(row.age, Some(Duration::from_millis(1500)));
    assert_eq!((row.state, row.label.as_str()), (RuleState::Armed, "stop -3% avg"));
    assert!(row.is_armed());
    let row = view.rule(&tp_id).expect("tp row");
    assert_eq!(row.distance, Some(dec!(0.05)), "a take-profit above the price is a move up");
}

/// Issue 15 item 8: a 429 storm refuses many exits in a row; the rule keeps
/// re-arming under new identifiers inside the window (three used to fail it, leaving
/// the position unprotected), and stops once the window is over.
#[test]
fn a_rate_limit_storm_keeps_the_exit_re_arming_within_its_window() {
    use rust_decimal_macros::dec;
    let m = MarketId::new("KRW-X");
    let t0 = Instant::now();
    let mut book = RuleBook::new(Duration::from_secs(3600));
    book.set_ready(t0);
    let rule = Rule::new(m.clone(), RuleKind::StopLoss(Level::Price(dec!(97))), None);
    let rule_id = rule.id.clone();
    book.insert(rule);
    let mut core = Core::new(book, AlertBook::new(), HashMap::new(), None);
    core.reconciled = true;
    core.positions.insert(m.clone(), PositionView { volume: dec!(1000), avg_cost: dec!(100) });
    let mut fx = Effects::default();
    core.evaluate(&m, Quote { price: dec!(96), received: t0 }, t0, TradingState::Active, &mut fx);
    let exit = |fx: &Effects| {
        fx.actions.iter().find_map(|a| match a {
            MonitorAction::PlaceExit { identifier, .. } => Some(identifier.clone()),
            _ => None,
        })
    };
    let mut id = exit(&fx).expect("the stop fired");
    let mut ids = HashSet::from([id.clone()]);
    for n in 1..=10u32 {
        let now = t0 + Duration::from_secs(u64::from(n) * 5);
        let mut fx = Effects::default();
        let rejected = ExitEvent::ExitRejected {
            identifier: id.clone(),
            reason: "rate_limited: upbit 429 (identifier confirmed absent by lookup)".into(),
            locked_funds: false,
        };
        core.quotes.insert(m.clone(), Quote { price: dec!(96), received: now });
        core.on_result(rejected, now, TradingState::Active, &mut fx);
        id = exit(&fx).unwrap_or_else(|| panic!("rejection {n} of a storm failed the rule"));
        assert!(ids.insert(id.clone()), "identifier reused: {id}");
    }
    assert_eq!(core.book.get(&rule_id).map(|r| r.state), Some(RuleState::Firing));
    // Past the window: the rule fails and says so.
    // (The window runs from the first refusal, at t0 + 5 s.)
    let late = t0 + Duration::from_secs(5) + TRANSIENT_RETRY_WINDOW + Duration::from_secs(1);
    let mut fx = Effects::default();
    core.quotes.insert(m.clone(), Quote { price: dec!(96), received: late });
    let rejected =
        ExitEvent::ExitRejected { identifier: id, reason: "rate_limited".into(), locked_funds: false };
    core.on_result(rejected, late, TradingState::Active, &mut fx);
    assert!(exit(&fx).is_none());
    assert_eq!(core.book.get(&rule_id).map(|r| r.state), Some(RuleState::Failed));
}

#[derive(Debug, Clone)]
enum Op {
    Tick(u32),
    Fill { partial: bool },
    Reject { locked: bool, transient: bool },
    CancelsDone,
    Halt,
    Resume,
    Position(u32),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (90u32..111).prop_map(Op::Tick),
        2 => any::<bool>().prop_map(|partial| Op::Fill { partial }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(locked, transient)| Op::Reject { locked, transient }),
        1 => Just(Op::CancelsDone),
        1 => Just(Op::Halt),
        1 => Just(Op::Resume),
        1 => (0u32..20).prop_map(Op::Position),
    ]
}

fn kind(i: u8) -> RuleKind {
    use rust_decimal_macros::dec;
    match i % 4 {
        0 => RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))),
        1 => RuleKind::TakeProfit(Level::Price(dec!(105))),
        2 => RuleKind::Trailing { ratio: dec!(0.02), peak: None },
        _ => RuleKind::Oco { stop: Level::Price(dec!(97)), take: Level::PctFromAvg(dec!(0.05)) },
    }
}

proptest::proptest! {
    /// Whatever the prices, results, halts and position changes: every exit
    /// identifier is new, a rule never has two exits in flight, nothing is sent while
    /// HALTED, and the conflicting orders are cancelled at most once.
    #[test]
    fn exits_are_unique_single_flight_and_never_sent_while_halted(
        k in 0u8..4,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        use rust_decimal_macros::dec;
        let m = MarketId::new("KRW-X");
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(3600));
        book.set_ready(t0);
        let rule = Rule::new(m.clone(), kind(k), None);
        let rule_id = rule.id.clone();
        book.insert(rule);
        let mut core = Core::new(book, AlertBook::new(), HashMap::new(), None);
        core.reconciled = true;
        // 1000 units at 100 KRW: 100,000 KRW, far above the 5,000 minimum.
        core.positions.insert(m.clone(), PositionView { volume: dec!(1000), avg_cost: dec!(100) });
        let mut trading = TradingState::Active;
        let mut seen: HashSet<String> = HashSet::new();
        let mut outstanding: Vec<(String, Qty)> = Vec::new();
        let mut cancels = 0;
        for op in ops {
            let now = Instant::now();
            let mut fx = Effects::default();
            match op {
                Op::Tick(p) => core.evaluate(&m, Quote { price: Decimal::from(p), received: now }, now, trading, &mut fx),
                Op::Fill { partial } => {
                    if let Some((id, v)) = outstanding.first().cloned() {
                        outstanding.remove(0);
                        let filled = if partial { (v / Decimal::TWO).floor() } else { v };
                        core.on_result(ExitEvent::ExitFilled { identifier: id, filled, partial }, now, trading, &mut fx);
                    }
                }
                Op::Reject { locked, transient } => {
                    if let Some((id, _)) = outstanding.first().cloned() {
                        outstanding.remove(0);
                        let reason = if transient { "rate_limited" } else { "insufficient_funds_ask" };
                        core.on_result(ExitEvent::ExitRejected { identifier: id, reason: reason.into(), locked_funds: locked }, now, trading, &mut fx);
                    }
                }
                Op::CancelsDone => core.on_result(ExitEvent::OpenOrdersCancelled { market: m.clone() }, now, trading, &mut fx),
                Op::Halt => trading = TradingState::Halted,
                Op::Resume => trading = TradingState::Active,
                Op::Position(v) => {
                    core.positions.insert(m.clone(), PositionView { volume: Decimal::from(v) * dec!(100), avg_cost: dec!(100) });
                }
            }
            for a in fx.actions {
                match a {
                    MonitorAction::PlaceExit { identifier, volume, rule_id: rid, .. } => {
                        proptest::prop_assert_eq!(&rid, &rule_id);
                        proptest::prop_assert!(trading != TradingState::Halted, "exit while HALTED");
                        proptest::prop_assert!(outstanding.is_empty(), "two exits in flight");
                        proptest::prop_assert!(seen.insert(identifier.clone()), "identifier reused: {}", identifier);
                        proptest::prop_assert!(volume > Decimal::ZERO);
                        outstanding.push((identifier, volume));
                    }
                    MonitorAction::CancelOpenOrders { .. } => cancels += 1,
                }
            }
            proptest::prop_assert!(cancels <= 1);
        }
    }
}

/// A core with one whole-position stop at 145 M on 0.051 BTC (≈7.4 M KRW) and the
/// per-order cap at 1 M, exits past it handled as `over_cap` says.
fn capped_core(
    over_cap: crate::config::settings::ProtectiveExitOverCap,
) -> (Core, MarketId, String, Instant) {
    use rust_decimal_macros::dec;
    let m = MarketId::new("KRW-BTC");
    let t0 = Instant::now();
    let mut book = RuleBook::new(Duration::from_secs(3600));
    book.set_ready(t0);
    let rule = Rule::new(m.clone(), RuleKind::StopLoss(Level::Price(dec!(145000000))), None);
    let id = rule.id.clone();
    book.insert(rule);
    let settings = crate::config::TradingSettings {
        max_notional_per_order: dec!(1000000),
        protective_exit_over_cap: over_cap,
        ..crate::config::TradingSettings::default()
    };
    let mut core = Core::new(
        book,
        AlertBook::new(),
        HashMap::new(),
        Some(std::sync::Arc::new(std::sync::Mutex::new(settings))),
    );
    core.reconciled = true;
    core.positions.insert(m.clone(), PositionView { volume: dec!(0.051), avg_cost: dec!(140000000) });
    (core, m, id, t0)
}

fn exits(fx: &Effects) -> Vec<(String, Qty)> {
    fx.actions
        .iter()
        .filter_map(|a| match a {
            MonitorAction::PlaceExit { identifier, volume, .. } => Some((identifier.clone(), *volume)),
            _ => None,
        })
        .collect()
}

/// Issue 17 item 1: a stop's exit went past the 1 M per-order cap as one 7.5 M order.
/// With `protective_exit_over_cap = "slice"` it goes out as market sells each within the
/// cap, one after another, each under the next attempt's deterministic identifier; the
/// rule stays latched while it slices (a bounce above the trigger does not stop the exit
/// nor fire a second one) and is done when the position is sold.
#[test]
fn an_exit_past_the_per_order_cap_is_sliced_each_slice_within_it_and_fires_once() {
    use crate::trading::rules::exit_identifier;
    use rust_decimal_macros::dec;
    let (mut core, m, id, t0) = capped_core(crate::config::settings::ProtectiveExitOverCap::Slice);
    let price = dec!(144000000);
    let mut fx = Effects::default();
    core.evaluate(&m, Quote { price, received: t0 }, t0, TradingState::Active, &mut fx);
    let mut sent = exits(&fx);
    assert_eq!(sent.len(), 1, "one slice at a time: {sent:?}");
    assert!(fx.notes.iter().any(|n| n.text.contains("per-order cap")), "the firing message says how");
    let mut sold = Decimal::ZERO;
    let mut n = 0;
    while let Some((identifier, volume)) = sent.pop() {
        assert_eq!(identifier, exit_identifier(&id, n), "slice {n}");
        assert!(volume * price <= dec!(1000000), "slice {n}: {volume} is past the cap");
        assert!(volume > Decimal::ZERO);
        sold += volume;
        // The price bounces above the trigger: nothing new fires.
        let mut fx = Effects::default();
        core.evaluate(&m, Quote { price: dec!(150000000), received: t0 }, t0, TradingState::Active, &mut fx);
        assert!(exits(&fx).is_empty(), "fired again while slicing");
        core.quotes.insert(m.clone(), Quote { price, received: t0 });
        let mut fx = Effects::default();
        core.on_result(
            ExitEvent::ExitFilled { identifier, filled: volume, partial: false },
            t0,
            TradingState::Active,
            &mut fx,
        );
        sent = exits(&fx);
        assert!(sent.len() <= 1);
        // Each slice is persisted with its attempt before it is sent.
        if let Some((next, _)) = sent.first() {
            let saved = fx.save_rules.iter().rev().find(|r| r.id == id).expect("rule saved");
            assert_eq!(&saved.exit_identifier(), next);
        }
        n += 1;
        assert!(n < 20, "never ends");
    }
    assert_eq!(sold, dec!(0.051));
    assert_eq!(n, 8, "7.3 M at 1 M a slice");
    let r = core.book.get(&id).expect("rule");
    assert_eq!((r.state, r.exit_left), (RuleState::Done, None));
}

/// `protective_exit_over_cap = "exceed"`: one order past the cap, the reason recorded
/// on the rule, in the audit trail and in the firing message.
#[test]
fn an_exit_past_the_cap_by_config_is_one_order_with_the_reason() {
    use crate::trading::rules::EXCEEDS_CAP;
    use rust_decimal_macros::dec;
    let (mut core, m, id, t0) = capped_core(crate::config::settings::ProtectiveExitOverCap::Exceed);
    let mut fx = Effects::default();
    core.evaluate(&m, Quote { price: dec!(144000000), received: t0 }, t0, TradingState::Active, &mut fx);
    let sent = exits(&fx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, dec!(0.051));
    assert!(fx.notes.iter().any(|n| n.text.contains(EXCEEDS_CAP)));
    assert!(fx.audit.iter().any(|(_, what, d)| *what == "rule_fired" && d.contains(EXCEEDS_CAP)));
    assert!(core.book.get(&id).and_then(|r| r.note.clone()).is_some_and(|n| n.contains(EXCEEDS_CAP)));
}

/// Issue 17 item 2: a stop stayed "armed" after its position was sold elsewhere. A
/// balance list without the coin leaves it with nothing: the row says "position gone",
/// and the stop does not fire. A rule armed for a future position says "waiting".
#[test]
fn a_rule_whose_position_is_gone_says_so_and_does_not_fire() {
    use rust_decimal_macros::dec;
    let (mut core, m, id, t0) = capped_core(crate::config::settings::ProtectiveExitOverCap::Slice);
    let future = Rule {
        for_future_position: true,
        ..Rule::new(m.clone(), RuleKind::Trailing { ratio: dec!(0.02), peak: None }, None)
    };
    let future_id = future.id.clone();
    core.book.insert(future);
    core.quotes.insert(m.clone(), Quote { price: dec!(146000000), received: t0 });
    let row = core.view(t0, 1).rule(&id).cloned().expect("row");
    assert_eq!((row.position, row.state_label()), (RulePosition::Held, "armed"));
    // Sold elsewhere: the next balance list has only KRW.
    core.set_holdings(vec![]);
    let view = core.view(t0, 1);
    let row = view.rule(&id).expect("row");
    assert_eq!((row.position, row.state_label()), (RulePosition::Gone, "position gone"));
    assert_eq!(row.trigger, Some(dec!(145000000)), "an absolute trigger, never 0");
    assert_eq!(view.rule(&future_id).map(|r| r.state_label()), Some("waiting"));
    let mut fx = Effects::default();
    core.evaluate(&m, Quote { price: dec!(100000000), received: t0 }, t0, TradingState::Active, &mut fx);
    assert!(exits(&fx).is_empty(), "nothing to sell: no exit");
    // Bought again: it protects the new position.
    core.set_holdings(vec![(m.clone(), dec!(0.01), dec!(101000000))]);
    assert_eq!(core.view(t0, 1).rule(&id).map(|r| r.state_label()), Some("armed"));
}

/// The tester's finding 2 and 4: alarms and alerts read prices as the screen does, at the
/// tick's precision with separators (`stop 234,200`, not `234200`; `@ 241300`).
#[test]
fn alarm_and_alert_texts_format_their_prices() {
    use rust_decimal_macros::dec;
    let (mut core, m, _, t0) = capped_core(crate::config::settings::ProtectiveExitOverCap::Exceed);
    core.alerts.insert(parse_alert(":alert KRW-BTC < 144500000").expect("alert"));
    let mut fx = Effects::default();
    core.evaluate(&m, Quote { price: dec!(144000000), received: t0 }, t0, TradingState::Active, &mut fx);
    let texts: Vec<&str> = fx.notes.iter().map(|n| n.text.as_str()).collect();
    assert!(
        texts.iter().any(|t| t.starts_with("stop_loss hit 145,000,000 at 144,000,000: selling 0.051")),
        "{texts:?}"
    );
    assert!(texts.contains(&"KRW-BTC < 144,500,000 (last 144,000,000)"), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("(1,000,000)")), "the cap too: {texts:?}");
    // A small coin's price at its tick's precision: 0.0120 on a 0.0001 tick.
    let shib = MarketId::new("KRW-SHIB");
    let rule = Rule::new(shib.clone(), RuleKind::StopLoss(Level::Price(dec!(0.012))), None);
    assert_eq!(super::view::rule_label(&rule.kind, shib.quote()), "stop 0.0120");
}
