//! The reducer's tests of protection rules on the command line: the preview before a rule
//! arms, its anchors and warnings, the refusals, and `:unarm` of every rule.
#![cfg(test)]

use std::sync::Arc;
use std::time::Instant;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::command_line::run as run_command_line;
use super::test_support::info;
use super::*;
use crate::exchange::types::{Balance, Ticker};
use crate::store::{Store, StoreEvent};
use crate::trading::input::UnarmTarget;
use crate::trading::intent::TradeIntent;
use crate::trading::rules::{Level, RuleKind};
use crate::ui::state::UiConfig;

fn ticker(code: &str, price: Decimal) -> StoreEvent {
    StoreEvent::TickerUpdated(Ticker {
        market: Some(MarketId::new(code)),
        trade_price: price,
        ..Ticker::default()
    })
}

/// BTC at 148 M, 0.051 BTC held at a 140 M average cost; ETH listed and priced, none held.
fn account() -> Arc<Snapshot> {
    Store::new().apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC"), info("KRW-ETH")]),
            ticker("KRW-BTC", dec!(148000000)),
            ticker("KRW-ETH", dec!(4000000)),
            StoreEvent::BalancesUpdated(vec![Balance {
                currency: "BTC".into(),
                balance: dec!(0.051),
                avg_buy_price: dec!(140000000),
                unit_currency: "KRW".into(),
                ..Balance::default()
            }]),
        ],
        Instant::now(),
    )
}

fn preview_text(ui: &UiState) -> String {
    let p = ui.pending_rule.as_ref().expect("a preview");
    [p.title.clone(), p.lines.join("\n"), p.warnings.join("\n")].join("\n")
}

/// Issue 17 item 1: `:stop KRW-BTC -3%` showed only `sent`. Before it arms, it shows
/// what it resolved to — the trigger on the tick grid, its distance from the last price,
/// the anchor, what is sold and how — and Enter arms exactly that price.
#[test]
fn a_rule_is_previewed_with_its_trigger_anchor_and_exit_before_it_arms() {
    let s = account();
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    assert!(run_command_line(&mut ui, &s, "stop KRW-BTC -3%").is_empty(), "nothing arms before the preview");
    assert_eq!(ui.overlay, Overlay::ConfirmRule);
    let text = preview_text(&ui);
    for want in [
        "143,560,000", // 148 M − 3 %, on the 1,000 grid
        "-3.00% from last 148,000,000",
        "from the last price", // the anchor
        "whole position at firing time",
        "0.051 BTC",
        "7,548,000 KRW",
        "about 8 orders", // past the 1 M cap: sliced, said so
        "per-order cap",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(!ui.pending_rule.as_ref().is_some_and(|p| p.default_no));
    // Enter arms the price shown (not a % to be measured again later).
    let cmds = update(&mut ui, Action::Submit, &s);
    let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(
        r.intent,
        TradeIntent::ArmRule {
            market: MarketId::new("KRW-BTC"),
            kind: RuleKind::StopLoss(Level::Price(dec!(143560000))),
            future: false
        }
    );
    assert_eq!(ui.overlay, Overlay::None);
    // Esc cancels: nothing sent, said so.
    run_command_line(&mut ui, &s, "tp KRW-BTC +5% avg");
    assert!(preview_text(&ui).contains("from the average cost 140,000,000"), "{}", preview_text(&ui));
    assert!(update(&mut ui, Action::Back, &s).is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("not armed")), "{:?}", ui.message);
    // An OCO shows both triggers.
    run_command_line(&mut ui, &s, "oco KRW-BTC -2% +2%");
    let text = preview_text(&ui);
    assert!(text.contains("145,040,000") && text.contains("150,960,000"), "{text}");
}

/// Third-round finding F: `:trail KRW-BTC 2%` said `fires at 149,396,100` (off BTC's
/// 1,000 tick), and a position worth a rounded figure read `≈ ≈8,174,835 KRW`. The level
/// is the one the monitor fires at (on the grid, rounded up: never later than asked) and
/// an estimate carries one `≈`, in the lines and in the cap warning alike.
#[test]
fn a_trailing_preview_fires_on_the_tick_grid_and_an_estimate_has_one_approx_sign() {
    let s = Store::new().apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC")]),
            ticker("KRW-BTC", dec!(152445000)),
            StoreEvent::BalancesUpdated(vec![Balance {
                currency: "BTC".into(),
                balance: dec!(0.05399994),
                avg_buy_price: dec!(140000000),
                unit_currency: "KRW".into(),
                ..Balance::default()
            }]),
        ],
        Instant::now(),
    );
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    run_command_line(&mut ui, &s, "trail KRW-BTC 2%");
    let text = preview_text(&ui);
    assert!(text.contains("fires at 149,397,000 or lower"), "{text}");
    assert!(!text.contains("149,396,100"), "{text}");
    run_command_line(&mut ui, &s, "stop KRW-BTC -4%");
    let text = preview_text(&ui);
    // 0.05399994 × 152,445,000 = 8,232,020.85…: rounded for display, marked once.
    assert!(text.contains("0.05399994 BTC ≈ 8,232,021 KRW)"), "{text}");
    assert!(text.contains("the exit ≈ 8,232,021 KRW is larger"), "{text}");
    assert!(!text.contains("≈ ≈") && !text.contains("≈≈"), "{text}");
}

/// The unusual is said in words: a trigger far from the price, an exit past the cap by
/// configuration (one order past it).
#[test]
fn an_unusual_rule_says_why_in_words() {
    let s = account();
    let mut ui = UiState::new(UiConfig::default());
    ui.config.exits.over_cap = crate::config::settings::ProtectiveExitOverCap::Exceed;
    on_snapshot(&mut ui, &s);
    run_command_line(&mut ui, &s, "stop KRW-BTC -15%");
    let text = preview_text(&ui);
    assert!(text.contains("more than 10"), "{text}");
    assert!(text.contains("one order past it (protective_exit_over_cap = exceed)"), "{text}");
    // Unusual but not selling now: Enter still arms (only a crossed trigger is default No).
    assert!(matches!(update(&mut ui, Action::Submit, &s).as_slice(), [UiCommand::Trade(_)]));
}

/// Issue 17 item 2: stops and OCOs armed with no position. Refused with the reason,
/// unless `future` asks for a rule that waits for a position (and the preview says so).
#[test]
fn a_rule_with_no_position_is_refused_unless_armed_for_a_future_position() {
    let s = account();
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    for line in ["stop KRW-ETH -3%", "oco KRW-ETH -3% +5%", "trail KRW-ETH 2%", "tp KRW-ETH 5000000"] {
        assert!(run_command_line(&mut ui, &s, line).is_empty(), "{line}");
        assert_eq!(ui.overlay, Overlay::None, "{line}");
        let msg = ui.message.clone().expect("a message");
        assert!(msg.error && msg.text.contains("no ETH position") && msg.text.contains("future"), "{msg:?}");
    }
    run_command_line(&mut ui, &s, "stop KRW-ETH -3% future");
    assert!(preview_text(&ui).contains("armed for a future position"), "{}", preview_text(&ui));
    let cmds = update(&mut ui, Action::Confirm, &s);
    let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert!(matches!(r.intent, TradeIntent::ArmRule { future: true, .. }), "{:?}", r.intent);
    // A % from the last price with no last price: refused, not armed at a guess.
    let mut ui = UiState::new(UiConfig::default());
    let bare = Store::new().apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-BTC")])], Instant::now());
    run_command_line(&mut ui, &bare, "stop KRW-BTC -3% future");
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("no last price")), "{:?}", ui.message);
}

/// Issue 17 item 2: `:unarm` alone was an error. It asks "remove all N rules? y/N"
/// (default No) and removes them on `y`.
#[test]
fn unarm_alone_asks_to_remove_every_rule() {
    use crate::trading::monitor::RuleRow;
    let row = |id: &str| {
        RuleRow::armed(id, MarketId::new("KRW-BTC"), RuleKind::StopLoss(Level::Price(dec!(97000000))))
    };
    let mut store = Store::new();
    store.apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-BTC")])], Instant::now());
    let empty = store.snapshot();
    let s = store.apply_batch([StoreEvent::RulesUpdated(vec![row("a"), row("b")])], Instant::now());
    let mut ui = UiState::new(UiConfig::default());
    // Nothing to remove: said so, nothing sent.
    assert!(run_command_line(&mut ui, &empty, "unarm").is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.error && m.text.contains("no rules")), "{:?}", ui.message);
    assert!(run_command_line(&mut ui, &s, "unarm").is_empty());
    assert_eq!(ui.overlay, Overlay::ConfirmRule);
    assert!(preview_text(&ui).contains("remove all 2 rules? y/N"), "{}", preview_text(&ui));
    // Enter is the default No.
    assert!(update(&mut ui, Action::Submit, &s).is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("nothing removed")), "{:?}", ui.message);
    run_command_line(&mut ui, &s, "unarm");
    let cmds = update(&mut ui, Action::Confirm, &s);
    let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(r.intent, TradeIntent::Unarm(UnarmTarget::All));
}
