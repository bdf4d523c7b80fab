//! The reducer's tests for the command line that teaches (issue 17 item 10): Tab lists and
//! cycles through verbs and arguments, a bare coin shows its KRW market, and the bottom
//! line's hints follow the focused pane from the live keymap.
#![cfg(test)]

use std::time::Instant;

use super::test_support::named as info;
use super::*;
use crate::store::{Store, StoreEvent};
use crate::ui::keymap::Keymap;
use crate::ui::layout::PaneId;
use crate::ui::state::UiConfig;

fn snap() -> std::sync::Arc<Snapshot> {
    Store::new().apply_batch(
        [StoreEvent::MarketsLoaded(vec![
            info("KRW-BTC", "Bitcoin"),
            info("KRW-ETH", "Ethereum"),
            info("KRW-ETC", "Ethereum Classic"),
            info("BTC-ETH", "Ethereum"),
            info("BTC-XLM", "Lumens"),
        ])],
        Instant::now(),
    )
}

/// Types `text` on an open command line.
fn type_line(ui: &mut UiState, text: &str, snap: &Snapshot) {
    update(ui, Action::OpenCommandLine, snap);
    for c in text.chars() {
        update(ui, Action::InsertChar(c), snap);
    }
}

fn input(ui: &UiState) -> &str {
    ui.command_line.as_ref().map_or("", |c| c.input.as_str())
}

fn listed(ui: &UiState) -> Vec<String> {
    ui.command_line.as_ref().and_then(|c| c.completion.as_ref()).map_or(Vec::new(), |c| c.candidates.clone())
}

#[test]
fn tab_completes_a_verb_then_lists_and_cycles_market_arguments() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    type_line(&mut ui, "ma", &s);
    update(&mut ui, Action::Complete, &s);
    assert_eq!(input(&ui), "market ");
    // A coin lists every market of it, the first is taken, Tab takes the next, round.
    let mut ui = UiState::new(UiConfig::default());
    type_line(&mut ui, "market et", &s);
    update(&mut ui, Action::Complete, &s);
    assert_eq!(listed(&ui), ["KRW-ETH", "KRW-ETC", "BTC-ETH"]);
    assert_eq!(input(&ui), "market KRW-ETH");
    update(&mut ui, Action::Complete, &s);
    assert_eq!(input(&ui), "market KRW-ETC");
    update(&mut ui, Action::Complete, &s);
    update(&mut ui, Action::Complete, &s);
    assert_eq!(input(&ui), "market KRW-ETH", "round again");
    // Typing closes the list.
    update(&mut ui, Action::InsertChar(' '), &s);
    assert!(listed(&ui).is_empty());
}

#[test]
fn tab_completes_the_arguments_of_each_kind() {
    let s = snap();
    let cases: [(&str, &str); 6] = [
        ("tf 1", "1"),               // several timeframes start with 1: listed
        ("theme l", "theme light "), // one theme
        ("set max_open", "set max_open_orders "),
        ("reload k", "reload keymap "),
        ("tp KRW-BTC +5% a", "tp KRW-BTC +5% avg "),
        ("layout tr", "layout trade "),
    ];
    for (typed, want) in cases {
        let mut ui = UiState::new(UiConfig::default());
        type_line(&mut ui, typed, &s);
        update(&mut ui, Action::Complete, &s);
        if want == "1" {
            let l = listed(&ui);
            assert!(l.contains(&"1m".to_string()) && l.contains(&"1h".to_string()), "{l:?}");
        } else {
            assert_eq!(input(&ui), want, "{typed}");
        }
    }
}

/// Issue 17 item 10: `:market btc` answered "not a market code".
#[test]
fn market_with_a_bare_coin_shows_its_krw_market_and_an_unknown_one_lists_close_ones() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    type_line(&mut ui, "market btc", &s);
    update(&mut ui, Action::Submit, &s);
    assert_eq!(ui.market, Some(MarketId::new("KRW-BTC")));
    type_line(&mut ui, "m Eth", &s);
    update(&mut ui, Action::Submit, &s);
    assert_eq!(ui.market, Some(MarketId::new("KRW-ETH")));
    // XLM is listed against BTC only: said, with the market that exists.
    type_line(&mut ui, "market xlm", &s);
    update(&mut ui, Action::Submit, &s);
    assert_eq!(ui.market, Some(MarketId::new("KRW-ETH")), "unchanged");
    let m = ui.message.clone().unwrap();
    assert!(m.error && m.text.contains("unknown market KRW-XLM") && m.text.contains("BTC-XLM"), "{}", m.text);
    // Quote and coin swapped: the market that exists is named first.
    type_line(&mut ui, "market eth-btc", &s);
    update(&mut ui, Action::Submit, &s);
    let m = ui.message.clone().unwrap();
    assert!(m.text.contains("unknown market ETH-BTC; close: BTC-ETH"), "{}", m.text);
}

/// Issue 17 item 10: the hint line follows the focused pane, with the keys the keymap
/// binds (a rebound key shows under its new name).
#[test]
fn the_hint_line_follows_the_focused_pane_from_the_live_keymap() {
    let km = Keymap::default_keymap().unwrap();
    let mut ui = UiState::new(UiConfig::default());
    ui.hints = km.hints();
    let hint = |ui: &UiState| ui.hints.for_context(ui.context()).to_string();
    ui.focus = PaneId::Orderbook;
    assert!(
        hint(&ui).starts_with("b buy  s sell  c cancel  d depth  + group  v chart  ? help  : command"),
        "{}",
        hint(&ui)
    );
    ui.focus = PaneId::Markets;
    assert!(
        hint(&ui).starts_with("/ search  s sort  f favorite  V venue  ? help  : command"),
        "{}",
        hint(&ui)
    );
    ui.focus = PaneId::Orders;
    assert!(hint(&ui).starts_with("c cancel  C cancel all  ? help"), "{}", hint(&ui));
    ui.focus = PaneId::Chart;
    assert!(hint(&ui).starts_with("] longer  [ shorter  , cursor  L log  i study  ? help"), "{}", hint(&ui));
    ui.focus = PaneId::Portfolio;
    assert!(hint(&ui).starts_with("p protect  o order  ? help"), "{}", hint(&ui));
    // Rebound: the book's buy key is now `B`, and `b` is not advertised.
    let km = Keymap::load(Some(("u.toml", "[orderbook]\nladder_buy = [\"B\"]\n"))).unwrap();
    ui.hints = km.hints();
    ui.focus = PaneId::Orderbook;
    assert!(hint(&ui).starts_with("B buy  s sell"), "{}", hint(&ui));
}
