//! `:venue` and its key: the switch, the market remembered on each venue, and what is
//! refused while Binance (read-only) is shown.
#![cfg(test)]

use std::sync::Arc;
use std::time::Instant;

use rust_decimal::Decimal;

use super::command_line::run;
use super::test_support::{info, order};
use super::*;
use crate::exchange::VenueId;
use crate::exchange::types::{MarketInfo, Ticker};
use crate::store::{Store, StoreEvent};
use crate::trading::input::CancelTarget;
use crate::ui::layout::PaneId;
use crate::ui::state::{MarketTab, UiConfig};

fn listed(markets: &[&str]) -> Arc<Snapshot> {
    let infos: Vec<MarketInfo> = markets.iter().map(|m| info(m)).collect();
    let tickers = markets.iter().map(|m| {
        StoreEvent::TickerUpdated(Ticker {
            market: Some(MarketId::new(m)),
            trade_price: Decimal::from(100),
            ..Ticker::default()
        })
    });
    Store::new().apply_batch(std::iter::once(StoreEvent::MarketsLoaded(infos)).chain(tickers), Instant::now())
}

fn upbit() -> Arc<Snapshot> {
    listed(&["KRW-BTC", "KRW-ETH", "USDT-BTC"])
}

fn binance() -> Arc<Snapshot> {
    listed(&["USDT-ETH", "USDT-BTC", "USDT-SOL"])
}

/// A console on Upbit showing KRW-BTC, with Binance on.
fn on_upbit() -> UiState {
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &upbit());
    assert_eq!(ui.market, Some(MarketId::new("KRW-BTC")));
    ui.venues.on.insert(VenueId::Binance);
    ui
}

fn message(ui: &UiState) -> (String, bool) {
    ui.message.as_ref().map(|m| (m.text.clone(), m.error)).unwrap_or_default()
}

const READ_ONLY: &str = "Binance is read-only here: :venue upbit to trade";

/// The switch says which venue the commands after it are for, gives its selection the
/// book's depth and grouping, and once Binance's list is there shows USDT-BTC (its main
/// market); back on Upbit the market left there comes back, and the next switch returns
/// to the market last shown on Binance.
#[test]
fn a_switch_sends_the_venue_then_that_venues_remembered_market() {
    let mut ui = on_upbit();
    run(&mut ui, &upbit(), "market KRW-ETH");
    let cmds = run(&mut ui, &upbit(), "venue binance");
    assert_eq!(
        cmds,
        vec![
            UiCommand::SetVenue(VenueId::Binance),
            UiCommand::SetDepth(ui.book_depth as u16),
            UiCommand::SetBookGroup(0)
        ]
    );
    assert_eq!(ui.venue, VenueId::Binance);
    assert_eq!(ui.market, None, "no Upbit market is shown on Binance's panes");
    assert_eq!(ui.markets.tab, MarketTab::Usdt, "Binance lists USDT markets");
    assert!(message(&ui).0.contains("read-only"), "{:?}", message(&ui));
    // Binance's list is not there yet: nothing to select.
    assert!(on_snapshot(&mut ui, &Snapshot::default()).is_empty());
    let cmds = on_snapshot(&mut ui, &binance());
    assert_eq!(
        cmds,
        vec![UiCommand::SelectMarket(MarketId::new("USDT-BTC")), UiCommand::SetTimeframe(ui.timeframe)]
    );
    run(&mut ui, &binance(), "market USDT-SOL");
    assert_eq!(ui.market, Some(MarketId::new("USDT-SOL")));
    // Back to Upbit: KRW-ETH, the market left there.
    let cmds = update(&mut ui, Action::ToggleVenue, &binance());
    assert_eq!(cmds.first(), Some(&UiCommand::SetVenue(VenueId::Upbit)));
    assert_eq!(ui.markets.tab, MarketTab::Krw);
    assert_eq!(
        on_snapshot(&mut ui, &upbit()),
        vec![UiCommand::SelectMarket(MarketId::new("KRW-ETH")), UiCommand::SetTimeframe(ui.timeframe)]
    );
    // And Binance again: USDT-SOL.
    update(&mut ui, Action::ToggleVenue, &upbit());
    assert_eq!(ui.venue, VenueId::Binance);
    assert_eq!(
        on_snapshot(&mut ui, &binance()).first(),
        Some(&UiCommand::SelectMarket(MarketId::new("USDT-SOL")))
    );
}

/// Without USDT-BTC listed, the list's first row; cursors into Upbit's lists start again;
/// compared markets (Upbit's) are dropped; a bare coin means the USDT market on Binance.
#[test]
fn a_switch_resets_what_points_into_the_other_venues_lists() {
    let mut ui = on_upbit();
    ui.markets.cursor = 2;
    ui.book_price = Some(Decimal::from(100));
    ui.scroll.insert(PaneId::Trades, 7);
    ui.scroll.insert(PaneId::Log, 3);
    run(&mut ui, &upbit(), "compare KRW-ETH");
    assert_eq!(ui.chart.compare, vec![MarketId::new("KRW-ETH")]);
    let cmds = run(&mut ui, &upbit(), "venue binance");
    assert_eq!(cmds.first(), Some(&UiCommand::ChartCompare(Vec::new())), "{cmds:?}");
    assert!(ui.chart.compare.is_empty());
    assert_eq!((ui.markets.cursor, ui.book_price), (0, None));
    assert_eq!(ui.scroll.get(&PaneId::Trades), None);
    assert_eq!(ui.scroll.get(&PaneId::Log), Some(&3), "the log is no venue's");
    let no_btc = listed(&["USDT-XRP", "USDT-ADA"]);
    on_snapshot(&mut ui, &no_btc);
    assert!(ui.market.as_ref().is_some_and(|m| m.quote() == "USDT"), "{:?}", ui.market);
    run(&mut ui, &binance(), "market eth");
    assert_eq!(ui.market, Some(MarketId::new("USDT-ETH")));
    // The tab keys go through Binance's tabs only (it lists no KRW or BTC market).
    update(&mut ui, Action::TabNext, &no_btc);
    assert_eq!(ui.markets.tab, MarketTab::Favorites);
    update(&mut ui, Action::TabNext, &no_btc);
    assert_eq!(ui.markets.tab, MarketTab::Usdt);
    update(&mut ui, Action::TabPrev, &no_btc);
    assert_eq!(ui.markets.tab, MarketTab::Favorites);
}

/// Binance off (its store never said it is on): `:venue binance` and the key say how to
/// turn it on and send nothing; `:venue` alone names the venue shown and the choices.
#[test]
fn a_venue_that_is_off_is_refused_with_how_to_turn_it_on() {
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &upbit());
    assert!(run(&mut ui, &upbit(), "venue binance").is_empty());
    assert_eq!(message(&ui), ("Binance is off: set [venues] binance = true in config".into(), true));
    assert_eq!(ui.venue, VenueId::Upbit);
    assert!(update(&mut ui, Action::ToggleVenue, &upbit()).is_empty());
    assert!(message(&ui).0.contains("Binance is off"));
    run(&mut ui, &upbit(), "venue");
    assert_eq!(message(&ui).0, "venue: upbit (:venue upbit | binance (off))");
    assert!(run(&mut ui, &upbit(), "venue kraken").is_empty());
    assert!(message(&ui).1 && message(&ui).0.contains("kraken"));
    // On: named as a choice; the same venue again changes nothing.
    ui.venues.on.insert(VenueId::Binance);
    run(&mut ui, &upbit(), "venue");
    assert_eq!(message(&ui).0, "venue: upbit (:venue upbit | binance)");
    assert!(run(&mut ui, &upbit(), "venue upbit").is_empty());
    assert_eq!(ui.market, Some(MarketId::new("KRW-BTC")));
}

/// On Binance nothing places an order or arms a rule, from any key or line, and each says
/// why; nothing is sent.
#[test]
fn on_binance_orders_and_rules_are_refused_and_nothing_is_sent() {
    let mut ui = on_upbit();
    run(&mut ui, &upbit(), "venue binance");
    let s = binance();
    on_snapshot(&mut ui, &s);
    for action in
        [Action::OrderForm, Action::Protect, Action::LadderBuy, Action::LadderSell, Action::LadderCancel]
    {
        ui.focus = if action == Action::Protect { PaneId::Portfolio } else { PaneId::Orderbook };
        ui.message = None;
        assert!(update(&mut ui, action, &s).is_empty(), "{action:?}");
        assert_eq!(message(&ui), (READ_ONLY.into(), true), "{action:?}");
        assert!(ui.form.is_none() && ui.overlay == Overlay::None && ui.command_line.is_none(), "{action:?}");
    }
    for line in [
        "buy 0.01 @ 100",
        "sell 0.01 @ market",
        "buy 100000krw @ market KRW-ETH",
        "stop USDT-BTC -3%",
        "stop KRW-BTC -3%",
        "tp USDT-BTC +5%",
        "trail USDT-BTC 2%",
        "oco USDT-BTC -3% +5%",
        "alert USDT-BTC > 100",
    ] {
        ui.message = None;
        assert!(run(&mut ui, &s, line).is_empty(), ":{line}");
        let (text, error) = message(&ui);
        assert!(error && text.contains(READ_ONLY), ":{line}: {text}");
        assert_eq!(ui.overlay, Overlay::None, ":{line} opened a confirmation");
    }
}

/// Cancels, the kill switch and alerts on Upbit's KRW markets (the premium alert among
/// them) still go out from the Binance view, all acting on Upbit.
#[test]
fn on_binance_cancels_the_kill_switch_and_krw_alerts_still_go_out() {
    let mut ui = on_upbit();
    run(&mut ui, &upbit(), "venue binance");
    let s = binance();
    on_snapshot(&mut ui, &s);
    let intent = |cmds: Vec<UiCommand>| match cmds.as_slice() {
        [UiCommand::Trade(r)] => r.intent.clone(),
        other => panic!("{other:?}"),
    };
    // `C`: the market shown is Binance's, so every Upbit order (the ones on screen),
    // asked first even with none listed (an order just typed may not be listed yet).
    assert!(update(&mut ui, Action::CancelAll, &s).is_empty());
    let asked = ui.pending_rule.as_ref().map(|p| p.lines.clone()).unwrap_or_default();
    assert_eq!(asked, ["cancel every open Upbit order on every market (none listed yet)? y/N"]);
    assert_eq!(intent(update(&mut ui, Action::InsertChar('y'), &s)), TradeIntent::Cancel(CancelTarget::All));
    assert_eq!(
        intent(run(&mut ui, &s, "cancel KRW-BTC")),
        TradeIntent::Cancel(CancelTarget::Market(MarketId::new("KRW-BTC")))
    );
    assert!(update(&mut ui, Action::KillSwitch, &s).is_empty());
    assert!(matches!(intent(update(&mut ui, Action::KillSwitch, &s)), TradeIntent::Kill { .. }));
    match intent(run(&mut ui, &s, "alert KRW-BTC > 100000000")) {
        TradeIntent::ArmAlert { market, .. } => assert_eq!(market, MarketId::new("KRW-BTC")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(intent(run(&mut ui, &s, "unarm KRW-BTC")), TradeIntent::Unarm(_)));
}

/// Back on Upbit everything trades again.
#[test]
fn back_on_upbit_the_ladder_and_the_form_work_again() {
    let mut ui = on_upbit();
    update(&mut ui, Action::ToggleVenue, &upbit());
    update(&mut ui, Action::ToggleVenue, &binance());
    on_snapshot(&mut ui, &upbit());
    assert_eq!(ui.venue, VenueId::Upbit);
    ui.focus = PaneId::Markets;
    update(&mut ui, Action::OrderForm, &upbit());
    assert!(ui.form.is_some(), "{:?}", ui.message);
}

/// The venue and each venue's market are kept in `ui-state.toml`; a restart goes back to
/// Binance only once it is on (the app switches then), and an unreadable venue is named.
#[test]
fn the_venue_and_each_venues_market_are_kept_across_restarts() {
    use crate::ui::persist::{SavedUi, restore};
    let mut ui = on_upbit();
    run(&mut ui, &upbit(), "market KRW-ETH");
    run(&mut ui, &upbit(), "venue binance");
    on_snapshot(&mut ui, &binance());
    run(&mut ui, &binance(), "market USDT-SOL");
    run(&mut ui, &binance(), "compare USDT-ETH");
    let saved = SavedUi::of(&ui);
    assert!(saved.compare.is_empty(), "Binance's compared markets are not Upbit's: {:?}", saved.compare);
    assert_eq!(saved.market.as_deref(), Some("KRW-ETH"), "Upbit's market, to come back to");
    assert_eq!(saved.venue.as_deref(), Some("binance"));
    assert_eq!(saved.venue_markets.get("binance").map(String::as_str), Some("USDT-SOL"));
    let dir = tempfile::tempdir().unwrap();
    let text = toml::to_string(&saved).unwrap();
    std::fs::write(dir.path().join(crate::ui::persist::STATE_FILE), &text).unwrap();
    let mut back =
        UiState::new(UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() });
    assert!(restore(&mut back).is_empty());
    assert_eq!(back.venue, VenueId::Upbit, "starts on Upbit until Binance says it is on");
    assert_eq!(back.venues.restore, Some(VenueId::Binance));
    assert_eq!(back.start_market, Some(MarketId::new("KRW-ETH")));
    assert_eq!(back.venues.markets.get(&VenueId::Binance), Some(&MarketId::new("USDT-SOL")));
    // Still saved as Binance while it is not back yet.
    assert_eq!(SavedUi::of(&back).venue.as_deref(), Some("binance"));
    // A venue that does not read is named and skipped.
    std::fs::write(dir.path().join(crate::ui::persist::STATE_FILE), "venue = \"kraken\"\n").unwrap();
    let mut bad = UiState::new(UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() });
    let problems = restore(&mut bad);
    assert!(problems.iter().any(|p| p.contains("venue") && p.contains("kraken")), "{problems:?}");
    assert_eq!(bad.venues.restore, None);
}

/// `C` where it would cancel every market's orders (on Binance's view, where no order of
/// ours is on screen) asks first, naming how many Upbit orders, default No: `n` cancels
/// nothing, `y` sends the cancel of all. (It sent at once.)
#[test]
fn on_binance_c_asks_before_cancelling_every_upbit_order() {
    let mut ui = on_upbit();
    run(&mut ui, &upbit(), "venue binance");
    let mut store = Store::new();
    let s = store.apply_batch(
        [
            StoreEvent::MarketsLoaded(["USDT-ETH", "USDT-BTC"].iter().map(|m| info(m)).collect()),
            StoreEvent::OrdersUpdated(vec![order("a", Decimal::from(100)), order("b", Decimal::from(99))]),
        ],
        Instant::now(),
    );
    on_snapshot(&mut ui, &s);
    assert!(update(&mut ui, Action::CancelAll, &s).is_empty(), "nothing sent before the answer");
    assert_eq!(ui.overlay, Overlay::ConfirmRule);
    let p = ui.pending_rule.clone().expect("a question");
    assert_eq!(p.lines, vec!["cancel all 2 open Upbit orders on every market? y/N".to_string()]);
    assert!(p.default_no);
    // Enter is the default No.
    assert!(update(&mut ui, Action::Submit, &s).is_empty());
    assert_eq!(ui.overlay, Overlay::None);
    assert!(message(&ui).0.ends_with("nothing cancelled"), "{:?}", message(&ui));
    update(&mut ui, Action::CancelAll, &s);
    match update(&mut ui, Action::InsertChar('y'), &s).as_slice() {
        [UiCommand::Trade(r)] => assert_eq!(r.intent, TradeIntent::Cancel(CancelTarget::All)),
        other => panic!("{other:?}"),
    }
}

/// On Binance a coin Binance does not list is named in Binance's terms (it said `unknown
/// market KRW-STX`); `:market KRW-BTC` there says it shows USDT-BTC, and a line that
/// succeeds does not leave an older refusal on the message line.
#[test]
fn market_lines_on_binance_speak_of_binances_markets() {
    let mut ui = on_upbit();
    run(&mut ui, &upbit(), "venue binance");
    let s = binance();
    on_snapshot(&mut ui, &s);
    run(&mut ui, &s, "market stx");
    let (text, error) = message(&ui);
    assert!(error && text.starts_with("Binance: unknown market USDT-STX"), "{text}");
    run(&mut ui, &s, "market KRW-SOL");
    assert_eq!(ui.market, Some(MarketId::new("USDT-SOL")));
    assert_eq!(message(&ui), ("KRW-SOL is Upbit's: USDT-SOL on Binance".into(), false));
    // A bare coin means Binance's own market: nothing to explain.
    run(&mut ui, &s, "market btc");
    assert_eq!(ui.market, Some(MarketId::new("USDT-BTC")));
    assert!(!message(&ui).0.contains("Upbit's"), "{:?}", message(&ui));
    run(&mut ui, &s, "market USDT-XYZ");
    assert!(message(&ui).0.starts_with("Binance: unknown market USDT-XYZ"), "{:?}", message(&ui));
    run(&mut ui, &s, "market KRW-USDT");
    assert!(message(&ui).0.starts_with("Binance: unknown market KRW-USDT"), "{:?}", message(&ui));
    run(&mut ui, &s, "market nope");
    assert!(message(&ui).1);
    run(&mut ui, &s, "market USDT-ETH");
    assert_eq!(ui.market, Some(MarketId::new("USDT-ETH")));
    assert!(!message(&ui).1, "the refusal is gone: {:?}", message(&ui));
}
