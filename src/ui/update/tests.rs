//! The reducer's own tests; the console's are in `tests/ui.rs`.
#![cfg(test)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::command_line::run as run_command_line;
use super::test_support::info;
use super::*;
use crate::config::change::ConfigChange;
use crate::exchange::types::{MarketInfo, Ticker};
use crate::store::{Store, StoreEvent};
use crate::trading::input::UnarmTarget;
use crate::trading::intent::{Outcome, Requester, TradeIntent, TradeReply};
use crate::trading::manager::{Origin, PlaceSpec};
use crate::ui::keymap::Context;
use crate::ui::layout::PaneId;
use crate::ui::state::{KILL_CONFIRM_WINDOW, UiConfig};

fn snap() -> std::sync::Arc<Snapshot> {
    let mut s = Store::new();
    s.apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC"), info("KRW-ETH")]),
            StoreEvent::TickerUpdated(Ticker {
                market: Some(MarketId::new("KRW-BTC")),
                trade_price: Decimal::from(100),
                ..Ticker::default()
            }),
        ],
        Instant::now(),
    )
}

#[test]
fn the_first_market_is_krw_btc_whatever_ticker_came_first() {
    let mut store = Store::new();
    let mut ui = UiState::new(UiConfig::default());
    // Nothing listed yet: nothing to select.
    assert!(on_snapshot(&mut ui, &store.snapshot()).is_empty());
    assert_eq!(ui.market, None);
    let eth_first = store.apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-ADA"), info("KRW-BTC"), info("KRW-ETH")]),
            StoreEvent::TickerUpdated(Ticker {
                market: Some(MarketId::new("KRW-ETH")),
                trade_price: Decimal::from(100),
                acc_trade_price_24h: Decimal::from(1_000_000),
                ..Ticker::default()
            }),
        ],
        Instant::now(),
    );
    on_snapshot(&mut ui, &eth_first);
    assert_eq!(ui.market, Some(MarketId::new("KRW-BTC")));
    // Without KRW-BTC listed, the list's first row is taken.
    let mut ui = UiState::new(UiConfig::default());
    let no_btc = Store::new().apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-XRP")])], Instant::now());
    on_snapshot(&mut ui, &no_btc);
    assert_eq!(ui.market, Some(MarketId::new("KRW-XRP")));
}

#[test]
fn maximise_hide_and_show_all() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    update(&mut ui, Action::Maximize, &s);
    assert_eq!(layout::visible_panes(&ui, ui.area), vec![PaneId::Markets]);
    update(&mut ui, Action::HidePane, &s);
    assert!(ui.message.as_ref().is_some_and(|m| m.error), "cannot hide the only visible pane");
    update(&mut ui, Action::Maximize, &s);
    update(&mut ui, Action::HidePane, &s);
    assert!(!layout::visible_panes(&ui, ui.area).contains(&PaneId::Markets));
    assert_ne!(ui.focus, PaneId::Markets, "focus moves off a hidden pane");
    update(&mut ui, Action::ShowAllPanes, &s);
    assert!(layout::visible_panes(&ui, ui.area).contains(&PaneId::Markets));
}

#[test]
fn command_line_backspace_on_empty_closes_and_unknown_market_is_refused() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    update(&mut ui, Action::OpenCommandLine, &s);
    update(&mut ui, Action::DeleteBack, &s);
    assert!(ui.command_line.is_none());
    update(&mut ui, Action::OpenCommandLine, &s);
    for c in "market KRW-NOPE".chars() {
        update(&mut ui, Action::InsertChar(c), &s);
    }
    assert!(update(&mut ui, Action::Submit, &s).is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("KRW-NOPE")));
}

#[test]
fn search_puts_the_exact_code_first_then_prefixes() {
    let mut s = (*snap()).clone();
    let info = |c: &str, en: &str| MarketInfo {
        market: MarketId::new(c),
        korean_name: c.into(),
        english_name: en.into(),
        warning: false,
        caution: false,
    };
    std::sync::Arc::make_mut(&mut s.market).markets = std::sync::Arc::new(vec![
        info("KRW-ETC", "Ethereum Classic"),
        info("KRW-ETHFI", "Ether.fi"),
        info("KRW-ETH", "Ethereum"),
    ]);
    let mut ui = UiState::new(UiConfig::default());
    ui.markets.query = "eth".into();
    let rows: Vec<&str> = visible_markets(&ui, &s).iter().map(|m| m.market.as_str()).collect();
    assert_eq!(rows, ["KRW-ETH", "KRW-ETHFI", "KRW-ETC"]);
}

#[test]
fn protect_key_in_the_portfolio_prefills_a_stop_for_the_coin_under_the_cursor() {
    use rust_decimal::Decimal;
    use std::sync::Arc;
    let mut s = snap();
    let mut ui = UiState::new(UiConfig::default());
    ui.focus = PaneId::Portfolio;
    assert_eq!(ui.context(), Context::Portfolio);
    // Empty portfolio: falls back to the selected market, or says why not.
    ui.market = None;
    update(&mut ui, Action::Protect, &s);
    assert!(ui.command_line.is_none());
    ui.market = Some(MarketId::new("KRW-BTC"));
    update(&mut ui, Action::Protect, &s);
    assert_eq!(ui.command_line.as_ref().map(|c| c.input.as_str()), Some("stop KRW-BTC -3%"));
    ui.command_line = None;
    let bal = |c: &str| crate::exchange::types::Balance {
        currency: c.into(),
        unit_currency: "KRW".into(),
        balance: Decimal::ONE,
        ..Default::default()
    };
    let mut snapshot = (*s).clone();
    Arc::make_mut(&mut snapshot.account).balances = Arc::new(vec![bal("KRW"), bal("ETH")]);
    s = Arc::new(snapshot);
    // Cursor on cash: nothing to protect.
    update(&mut ui, Action::Protect, &s);
    assert!(ui.command_line.is_none());
    update(&mut ui, Action::Down, &s);
    update(&mut ui, Action::Protect, &s);
    assert_eq!(ui.command_line.as_ref().map(|c| c.input.as_str()), Some("stop KRW-ETH -3%"));
}

#[test]
fn depth_toggle_and_kill_switch_emit_commands() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    assert_eq!(update(&mut ui, Action::ToggleDepth, &s), vec![UiCommand::SetDepth(30)]);
    assert_eq!(ui.book_price, None, "the cursor is a price: it stays on the best bid");
    assert!(update(&mut ui, Action::KillSwitch, &s).is_empty(), "one press only arms it");
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("again")));
    match update(&mut ui, Action::KillSwitch, &s).as_slice() {
        [UiCommand::Trade(r)] => assert!(matches!(r.intent, TradeIntent::Kill { .. }), "{r:?}"),
        other => panic!("{other:?}"),
    }
    let msg = ui.message.as_ref().expect("a message");
    assert!(msg.error && msg.text.contains("sending") && !msg.text.contains("halted"), "{}", msg.text);
    // A press long after the first one arms again instead of firing.
    assert!(update(&mut ui, Action::KillSwitch, &s).is_empty());
    ui.now += KILL_CONFIRM_WINDOW + Duration::from_millis(1);
    assert!(update(&mut ui, Action::KillSwitch, &s).is_empty());
    assert!(update(&mut ui, Action::Quit, &s).contains(&UiCommand::Quit), "nothing to lose: quits");
}

#[test]
fn order_form_needs_a_market_and_closes_on_back() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    update(&mut ui, Action::OrderForm, &s);
    assert!(ui.form.is_none());
    on_snapshot(&mut ui, &s);
    update(&mut ui, Action::OrderForm, &s);
    assert_eq!(ui.form.as_ref().map(|f| f.price.as_str()), Some("100"));
    assert_eq!(ui.context(), Context::Form);
    update(&mut ui, Action::Back, &s);
    assert!(ui.form.is_none());
}

#[test]
fn a_trading_line_the_parser_refuses_is_not_said_to_be_sent() {
    // `:unarm` without a target used to show "sent: unarm" while the trading side
    // refused it (an alert elsewhere on the screen).
    for mode in [Mode::Demo, Mode::Paper, Mode::Live] {
        let mut ui = UiState::new(UiConfig::default());
        let mut snapshot = Snapshot::default();
        std::sync::Arc::make_mut(&mut snapshot.account).mode = mode;
        let cmds = run_command_line(&mut ui, &snapshot, "unarm");
        assert!(cmds.is_empty(), "{mode:?}: {cmds:?}");
        let msg = ui.message.as_ref().expect("a message");
        assert!(
            msg.error && msg.text.contains("not sent") && !msg.text.starts_with("sent"),
            "{mode:?}: {}",
            msg.text
        );
        // A line it accepts is sent as a typed intent and said to be on its way.
        let cmds = run_command_line(&mut ui, &snapshot, "unarm KRW-BTC");
        let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{mode:?}: {cmds:?}") };
        assert_eq!(r.intent, TradeIntent::Unarm(UnarmTarget::Market(MarketId::new("KRW-BTC"))));
        let text = &ui.message.as_ref().expect("a message").text;
        assert_eq!(text, &format!("unarm KRW-BTC {}: sending", r.id), "{mode:?}");
    }
}

/// `snap` with `replies` as the store's reply ring.
fn with_replies(snap: &Snapshot, replies: Vec<TradeReply>) -> Snapshot {
    let mut s = snap.clone();
    Arc::make_mut(&mut s.account).replies = Arc::new(VecDeque::from(replies));
    s
}

fn reply_to(cmd: &UiCommand, outcome: Outcome) -> TradeReply {
    TradeReply { id: cmd.id().expect("a numbered request"), to: Requester::Ui, what: "?".into(), outcome }
}

#[test]
fn an_order_says_sending_then_what_the_reply_said_under_its_id() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    let cmds = run_command_line(&mut ui, &s, "buy 0.01 @ 95000000");
    let [cmd @ UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(cmd.lane(), Lane::Trading);
    let TradeIntent::Place { spec: PlaceSpec::Input(_), origin: Origin::Manual, selected, .. } = &r.intent
    else {
        panic!("{r:?}")
    };
    assert_eq!(selected.as_ref(), Some(&MarketId::new("KRW-BTC")));
    let id = r.id;
    let msg = ui.message.clone().expect("a message");
    assert_eq!(
        (msg.text.as_str(), msg.error),
        (format!("buy 0.01 @ 95000000 {id}: sending").as_str(), false)
    );
    // Accepted, then the exchange refuses it: the refusal replaces the acceptance.
    let accepted = reply_to(cmd, Outcome::Accepted("o-7".into()));
    assert!(on_replies(&mut ui, &with_replies(&s, vec![accepted.clone()])));
    let msg = ui.message.clone().expect("a message");
    assert_eq!((msg.text.as_str(), msg.error), (format!("{id} buy KRW-BTC: accepted (o-7)").as_str(), false));
    let rejected = reply_to(cmd, Outcome::Rejected("insufficient funds".into()));
    on_replies(&mut ui, &with_replies(&s, vec![accepted.clone(), rejected.clone()]));
    let msg = ui.message.clone().expect("a message");
    assert!(msg.error, "{msg:?}");
    assert_eq!(msg.text, format!("{id} buy KRW-BTC: rejected by the exchange: insufficient funds"));
    // The same ring again changes nothing.
    ui.message = None;
    assert!(!on_replies(&mut ui, &with_replies(&s, vec![accepted, rejected])));
    assert_eq!(ui.message, None);
    // A denial is shown in the error style.
    let cmds = update(&mut ui, Action::CancelAll, &s);
    on_replies(&mut ui, &with_replies(&s, vec![reply_to(&cmds[0], Outcome::Denied("halted".into()))]));
    let msg = ui.message.clone().expect("a message");
    assert!(msg.error && msg.text.ends_with("cancel KRW-BTC: denied: halted"), "{msg:?}");
}

#[test]
fn a_line_that_does_not_parse_never_leaves_the_ui() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    for line in ["buy", "buy 0.01 @ banana", "stop", "set max_open_orders ten", "reload"] {
        assert!(run_command_line(&mut ui, &s, line).is_empty(), "{line}");
        let msg = ui.message.clone().expect("a message");
        assert!(msg.error, "{line}: {msg:?}");
        assert_eq!(ui.requests.iter().count(), 0, "{line}: nothing followed");
    }
}

#[test]
fn a_layout_or_theme_switch_waits_for_its_accepted_reply() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    let cmds = run_command_line(&mut ui, &s, "layout trade");
    let [cmd @ UiCommand::Config(req)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(cmd.lane(), Lane::Config);
    assert_eq!((req.change.clone(), req.can_wait), (ConfigChange::Layout("trade".into()), true));
    assert_eq!(ui.layout, "default", "not before the reply");
    // Held while orders are in flight: said so, still not applied.
    let held = reply_to(cmd, Outcome::Held("1 order in flight".into()));
    on_replies(&mut ui, &with_replies(&s, vec![held.clone()]));
    assert_eq!(ui.layout, "default");
    let text = &ui.message.as_ref().expect("a message").text;
    assert!(text.ends_with("layout trade: held: 1 order in flight"), "{text}");
    let accepted = reply_to(cmd, Outcome::Accepted(String::new()));
    on_replies(&mut ui, &with_replies(&s, vec![held, accepted]));
    assert_eq!(ui.layout, "trade");
    // A theme is handed to the app (it loads themes) once accepted, once.
    let cmds = run_command_line(&mut ui, &s, "theme light");
    assert!(ui.accepted.is_empty());
    let accepted = reply_to(&cmds[0], Outcome::Accepted(String::new()));
    on_replies(&mut ui, &with_replies(&s, vec![accepted.clone()]));
    assert_eq!(ui.accepted, vec![ConfigChange::Theme("light".into())]);
    ui.accepted.clear();
    on_replies(&mut ui, &with_replies(&s, vec![accepted.clone(), accepted]));
    assert!(ui.accepted.is_empty());
    // `:set!` cannot wait; an unknown layout is refused here.
    let cmds = run_command_line(&mut ui, &s, "set! max_open_orders 3");
    assert!(matches!(cmds.as_slice(), [UiCommand::Config(r)] if !r.can_wait));
    assert!(run_command_line(&mut ui, &s, "layout nowhere").is_empty());
    // `:resume` is a Safety request.
    let cmds = run_command_line(&mut ui, &s, "resume");
    assert!(matches!(cmds.as_slice(), [c @ UiCommand::Resume(_)] if c.lane() == Lane::Safety));
}

/// Found by a tester: the message line showed whichever reply arrived last, so a late
/// answer to an older request (an old order's acceptance, an old rejection) overwrote the
/// answer to what the person had just asked. It tells the newest request's story only.
#[test]
fn the_message_line_follows_the_newest_request_only() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    let first = run_command_line(&mut ui, &s, "buy 0.01 @ 95000000");
    let [older] = first.as_slice() else { panic!("{first:?}") };
    let second = run_command_line(&mut ui, &s, "set max_open_orders 3");
    let [newer] = second.as_slice() else { panic!("{second:?}") };
    let newer_id = newer.id().expect("numbered");
    let applied = reply_to(newer, Outcome::Accepted("applied to the risk gate".into()));
    on_replies(&mut ui, &with_replies(&s, vec![applied.clone()]));
    let shown = ui.message.clone().expect("a message").text;
    assert!(shown.starts_with(&format!("{newer_id} max_open_orders = 3: accepted")), "{shown}");
    // The older order's answers come later: the line keeps the newer request's.
    let late = reply_to(older, Outcome::Rejected("insufficient funds".into()));
    on_replies(&mut ui, &with_replies(&s, vec![applied, late]));
    assert_eq!(ui.message.clone().expect("a message").text, shown);
}

/// Found by two testers: `:stop KRW-BTX -3%` armed a rule on a market that does not
/// exist (it went STALE), and `:buy 0.001 KRW-NOPE @ market` said "cannot size the
/// order". A trading line naming a market the exchange does not list is refused here,
/// saying so, and nothing is sent.
#[test]
fn a_trading_line_naming_an_unknown_market_is_refused_in_the_ui() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    for line in ["stop KRW-BTX -3%", "buy 0.001 KRW-NOPE @ market", "tp KRW-XXX +5%", "alert KRW-NOPE > 100"]
    {
        let cmds = run_command_line(&mut ui, &s, line);
        assert!(cmds.is_empty(), "{line}: {cmds:?}");
        let msg = ui.message.clone().expect("a message");
        assert!(
            msg.error && msg.text.contains("unknown market") && msg.text.ends_with("(not sent)"),
            "{line}: {msg:?}"
        );
    }
    // `:unarm` of a market the exchange does not list is refused too.
    assert!(run_command_line(&mut ui, &s, "unarm KRW-NOPE").is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("unknown market")), "{:?}", ui.message);
    // A listed market goes on to its preview.
    let cmds = run_command_line(&mut ui, &s, "stop KRW-BTC 90 future");
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(ui.overlay, Overlay::ConfirmRule);
}

/// Issue 17 item 1, found by a trader: `:tp KRW-BTC +5%` measured from a 140 M average
/// cost while the market stood at 148 M sold the whole position the moment it was typed.
/// A % level is now from the last price unless `avg` is said; a rule whose trigger the
/// price is already past asks "sell now?", default No (Enter does not arm it).
#[test]
fn a_rule_already_past_its_trigger_asks_before_it_arms_default_no() {
    use crate::exchange::types::Balance;
    let mut store = Store::new();
    let s = store.apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC"), info("KRW-ETH")]),
            StoreEvent::TickerUpdated(Ticker {
                market: Some(MarketId::new("KRW-BTC")),
                trade_price: Decimal::from(148_000_000),
                ..Ticker::default()
            }),
            StoreEvent::BalancesUpdated(vec![Balance {
                currency: "BTC".into(),
                balance: Decimal::new(51, 3),
                avg_buy_price: Decimal::from(140_000_000),
                ..Balance::default()
            }]),
        ],
        Instant::now(),
    );
    let mut ui = UiState::new(UiConfig::default());
    on_snapshot(&mut ui, &s);
    // +5 % from the 140 M average cost is 147 M: the price (148 M) is past it.
    let cmds = run_command_line(&mut ui, &s, "tp KRW-BTC +5% avg");
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(ui.overlay, Overlay::ConfirmRule);
    let p = ui.pending_rule.clone().expect("a preview");
    assert!(p.default_no);
    let why = p.warnings.join("\n");
    assert!(
        why.contains("148,000,000") && why.contains("147,000,000") && why.contains("140,000,000"),
        "{why}"
    );
    assert!(why.contains("already past the trigger"), "{why}");
    // Enter (the default) does not arm it.
    assert!(update(&mut ui, Action::Submit, &s).is_empty());
    assert_eq!(ui.overlay, Overlay::None);
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("not armed")), "{:?}", ui.message);
    // Asked again and confirmed: sent.
    run_command_line(&mut ui, &s, "tp KRW-BTC +5% avg");
    let cmds = update(&mut ui, Action::Confirm, &s);
    assert!(matches!(cmds.as_slice(), [UiCommand::Trade(_)]), "{cmds:?}");
    // From the last price (the default), +5 % is 155.4 M: not past, an ordinary preview.
    run_command_line(&mut ui, &s, "tp KRW-BTC +5%");
    assert!(ui.pending_rule.as_ref().is_some_and(|p| !p.default_no), "{:?}", ui.pending_rule);
    update(&mut ui, Action::Back, &s);
    // A stop above the price is past: asked, default No.
    assert!(run_command_line(&mut ui, &s, "stop KRW-BTC 150000000").is_empty());
    assert_eq!(ui.overlay, Overlay::ConfirmRule);
    assert!(ui.pending_rule.as_ref().is_some_and(|p| p.default_no));
}

/// `:layout save NAME` keeps the arrangement on screen (the panes hidden, the one
/// maximised, the focus); `:layout NAME` brings it back once accepted, `:layout` lists it,
/// `:layout rm NAME` removes it; built-in and bad names are refused with the reason.
/// Before, saving said "not built yet" and `:layout mine` answered `unknown layout "mine"`.
#[test]
fn a_saved_layout_comes_back_by_name() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    let switch = |ui: &mut UiState, line: &str| {
        let cmds = run_command_line(ui, &s, line);
        let [cmd @ UiCommand::Config(_)] = cmds.as_slice() else { panic!("{line}: {cmds:?}") };
        on_replies(ui, &with_replies(&s, vec![reply_to(cmd, Outcome::Accepted(String::new()))]));
    };
    switch(&mut ui, "layout trade");
    ui.hidden.insert(PaneId::Trades);
    ui.focus = PaneId::Orders;
    assert!(run_command_line(&mut ui, &s, "layout save mine").is_empty());
    let said = |ui: &UiState| ui.message.as_ref().map(|m| (m.text.clone(), m.error)).unwrap_or_default();
    let (text, error) = said(&ui);
    assert!(text.contains("layout mine saved") && !error, "{text}");

    switch(&mut ui, "layout system");
    assert_eq!((ui.layout.as_str(), ui.hidden.len()), ("system", 0));
    switch(&mut ui, "layout mine");
    assert_eq!((ui.layout.as_str(), ui.focus), ("trade", PaneId::Orders));
    assert_eq!(ui.hidden.iter().copied().collect::<Vec<_>>(), vec![PaneId::Trades]);

    run_command_line(&mut ui, &s, "layout");
    let (text, _) = said(&ui);
    assert!(text.contains("built-in: default, trade") && text.contains("saved: mine"), "{text}");
    for (line, why) in [
        ("layout save default", "built-in layout and cannot be changed"),
        ("layout save my one", "bad layout name"),
        ("layout save ../x", "bad layout name"),
        ("layout rm trade", "cannot be removed"),
        ("layout rm nothing", "unknown layout \"nothing\""),
    ] {
        run_command_line(&mut ui, &s, line);
        let (text, error) = said(&ui);
        assert!(error && text.contains(why), "{line}: {text}");
    }
    run_command_line(&mut ui, &s, "layout rm mine");
    assert!(ui.saved_layouts.is_empty());
    assert!(run_command_line(&mut ui, &s, "layout mine").is_empty());
    assert!(said(&ui).0.contains("unknown layout \"mine\""));
}

/// `d` cycles the book through Upbit's sizes 5, 15, 30; `+` / `-` step the grouping
/// through 10, 100 and 1000 ticks and stop at the ends (nothing sent there); `v` swaps
/// the ladder for the depth chart.
#[test]
fn depth_presets_cycle_and_grouping_steps_stop_at_their_ends() {
    let s = snap();
    let mut ui = UiState::new(UiConfig::default());
    let depths: Vec<_> = (0..3).flat_map(|_| update(&mut ui, Action::ToggleDepth, &s)).collect();
    assert_eq!(depths, vec![UiCommand::SetDepth(30), UiCommand::SetDepth(5), UiCommand::SetDepth(15)]);
    assert!(update(&mut ui, Action::GroupFiner, &s).is_empty(), "not grouped: nothing finer");
    let steps: Vec<_> = (0..4).flat_map(|_| update(&mut ui, Action::GroupCoarser, &s)).collect();
    assert_eq!(
        steps,
        vec![UiCommand::SetBookGroup(1), UiCommand::SetBookGroup(2), UiCommand::SetBookGroup(3)]
    );
    assert_eq!(update(&mut ui, Action::GroupFiner, &s), vec![UiCommand::SetBookGroup(2)]);
    assert!(!ui.book_chart);
    update(&mut ui, Action::DepthChart, &s);
    assert!(ui.book_chart);
}
