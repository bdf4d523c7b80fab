//! The reducer's tests for the trading surface of issue 17 (items 3 and 4): the ladder's
//! price cursor and its confirmation, refused orders in the Orders pane, the order form's
//! keys, and the alert history.
#![cfg(test)]

use std::sync::Arc;
use std::time::Instant;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::test_support::{info, order};
use super::*;
use crate::exchange::types::{BookLevel, OrderBook, Side, StreamType, Ticker};
use crate::store::{Store, StoreEvent};
use crate::trading::input::CancelTarget;
use crate::trading::intent::{Outcome, Requester, TradeReply};
use crate::ui::keymap::{Context, KeyChord, Keymap};
use crate::ui::layout::PaneId;
use crate::ui::state::UiConfig;

/// A KRW-BTC book around `mid` on the 1,000 tick: asks mid+1000…, bids mid, mid-1000….
fn book(mid: Decimal) -> OrderBook {
    let levels: Vec<BookLevel> = (0..15)
        .map(|i| {
            let i = Decimal::from(i);
            BookLevel {
                ask_price: mid + dec!(1000) * (i + Decimal::ONE),
                ask_size: dec!(0.5),
                bid_price: mid - dec!(1000) * i,
                bid_size: dec!(0.7),
            }
        })
        .collect();
    OrderBook {
        market: Some(MarketId::new("KRW-BTC")),
        total_ask_size: dec!(7.5),
        total_bid_size: dec!(10.5),
        levels,
        level: Decimal::ZERO,
        timestamp: 0,
        stream_type: StreamType::Realtime,
    }
}

fn start(store: &mut Store, mid: Decimal) -> Arc<Snapshot> {
    store.apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC")]),
            StoreEvent::TickerUpdated(Ticker {
                market: Some(MarketId::new("KRW-BTC")),
                trade_price: mid,
                ..Ticker::default()
            }),
            StoreEvent::BookUpdated(book(mid)),
        ],
        Instant::now(),
    )
}

fn ladder_ui(s: &Snapshot) -> UiState {
    let mut ui = UiState::new(UiConfig { ladder_quote: dec!(145_000), ..UiConfig::default() });
    on_snapshot(&mut ui, s);
    ui.focus = PaneId::Orderbook;
    ui
}

/// Issue 17 item 4: the ladder cursor is a price. Once moved it stays on that price while
/// the book shifts, and `c` cancels our order there (a row index slid onto another price
/// and `c` missed it).
#[test]
fn the_ladder_cursor_stays_on_its_price_while_the_book_moves_and_c_finds_our_order() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    update(&mut ui, Action::Down, &s);
    assert_eq!(ui.book_price, Some(dec!(144_999_000)), "one below the best bid");
    let row = |s: &Snapshot, ui: &UiState| {
        ladder_cursor_row(&s.market.books[&MarketId::new("KRW-BTC")].value, ui.book_depth, ui.book_price)
    };
    assert_eq!(row(&s, &ui), Some(16));
    // The book moves up five ticks; our order rests at the cursor's price.
    let s = store.apply_batch(
        [
            StoreEvent::BookUpdated(book(dec!(145_005_000))),
            StoreEvent::OrdersUpdated(vec![
                order("mine", dec!(144_999_000)),
                order("other", dec!(145_004_000)),
            ]),
        ],
        Instant::now(),
    );
    assert_eq!(ui.book_price, Some(dec!(144_999_000)));
    assert_eq!(row(&s, &ui), Some(21), "the highlight follows the price down the ladder");
    let cmds = update(&mut ui, Action::LadderCancel, &s);
    match cmds.as_slice() {
        [UiCommand::Trade(r)] => {
            assert_eq!(r.intent, TradeIntent::Cancel(CancelTarget::Order("mine".into())))
        }
        other => panic!("{other:?}"),
    }
    // Moving from a price that left the book goes to its neighbour, not to the top.
    let s = store.apply_batch([StoreEvent::BookUpdated(book(dec!(146_000_000)))], Instant::now());
    assert_eq!(row(&s, &ui), None, "off the book: no row of another price is highlighted");
    update(&mut ui, Action::Up, &s);
    assert_eq!(ui.book_price, Some(dec!(145_986_000)), "the lowest bid shown, just above it");
    // Esc on the book: no cursor (b and s use the best bid and ask of the moment, and say
    // so), so no row is highlighted as if it were one.
    update(&mut ui, Action::Back, &s);
    assert_eq!(ui.book_price, None);
    assert_eq!(row(&s, &ui), None);
}

/// Issue 17 item 4: `b` / `s` show the preset size and price and wait for `y` (default
/// No) in every mode; nothing is sent before.
#[test]
fn ladder_buy_shows_size_and_price_and_sends_only_on_yes() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    assert_eq!(s.account.mode, crate::store::Mode::Demo);
    assert!(update(&mut ui, Action::LadderBuy, &s).is_empty(), "asked first, even in demo");
    assert_eq!(ui.overlay, Overlay::ConfirmOrder);
    let msg = ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
    assert_eq!(msg, "buy 0.001 KRW-BTC @ 145,000,000 (best bid now; total ≈145,073 KRW)? y/N");
    // Enter is No.
    assert!(update(&mut ui, Action::Deny, &s).is_empty());
    assert_eq!(ui.overlay, Overlay::None);
    assert!(ui.pending_order.is_none());
    update(&mut ui, Action::LadderSell, &s);
    match update(&mut ui, Action::Confirm, &s).as_slice() {
        [UiCommand::Trade(r)] => match &r.intent {
            TradeIntent::Place { spec: PlaceSpec::Request(req), origin, .. } => {
                assert_eq!(
                    (req.side, req.price, req.volume),
                    (Side::Ask, Some(dec!(145_000_000)), Some(dec!(0.001)))
                );
                assert_eq!(*origin, Origin::Ladder);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

/// Issue 17 item 3: a denied order is listed with its reason (the Orders pane reads
/// it); the cursor reaches it and `c` on it cancels nothing.
#[test]
fn a_denied_order_is_kept_with_its_reason_and_cancel_on_it_sends_nothing() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    update(&mut ui, Action::LadderBuy, &s);
    let cmds = update(&mut ui, Action::Confirm, &s);
    let id = cmds[0].id().expect("numbered");
    let reply = TradeReply {
        id,
        to: Requester::Ui,
        what: "buy KRW-BTC".into(),
        outcome: Outcome::Denied("max open orders (3) reached".into()),
    };
    let s = store.apply_batch([StoreEvent::Reply(reply)], Instant::now());
    on_replies(&mut ui, &s);
    let refused: Vec<_> = ui.requests.refused().collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].order.text(), "buy KRW-BTC 0.001 @ 145,000,000");
    assert_eq!(refused[0].reason, "max open orders (3) reached");
    ui.focus = PaneId::Orders;
    update(&mut ui, Action::Down, &s);
    assert_eq!(ui.orders_cursor, 0, "the only row");
    assert!(update(&mut ui, Action::CancelOrder, &s).is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.error && m.text.contains("refused")), "{:?}", ui.message);
}

/// Issue 17 item 4: Ctrl-C in the order form does what it does in the command line and
/// the search (closes it, sends nothing); the time in force starts over when the type
/// changes.
#[test]
fn ctrl_c_closes_the_form_and_the_time_in_force_resets_with_the_type() {
    let km = Keymap::default_keymap().expect("the default keymap");
    let ctrl_c: KeyChord = "ctrl-c".parse().expect("a chord");
    assert_eq!(km.resolve(Context::CommandLine, ctrl_c), Some(Action::Back));
    assert_eq!(km.resolve(Context::Form, ctrl_c), Some(Action::Back));
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    update(&mut ui, Action::OrderForm, &s);
    let form = ui.form.as_mut().expect("open");
    form.field = crate::ui::order_form::FormField::Tif;
    form.cycle(true);
    form.cycle(true);
    form.cycle(true);
    assert_eq!(form.tif, Some(crate::exchange::types::TimeInForce::PostOnly));
    form.field = crate::ui::order_form::FormField::Kind;
    form.cycle(true);
    assert_eq!(form.tif, None, "a market order does not keep post-only");
    form.cycle(true);
    assert_eq!(form.tif, Some(crate::exchange::types::TimeInForce::Ioc), "best needs ioc or fok");
    form.cycle(true);
    assert_eq!(form.tif, None, "back to limit: good till cancelled");
    assert!(update(&mut ui, Action::Back, &s).is_empty());
    assert!(ui.form.is_none());
    // Enter on a form with no size asks for one, naming the unit, and sends nothing.
    update(&mut ui, Action::OrderForm, &s);
    assert!(update(&mut ui, Action::Submit, &s).is_empty());
    assert_eq!(ui.message.as_ref().map(|m| m.text.as_str()), Some("type a size (qty)"));
    assert!(ui.form.is_some(), "still open to type it");
}

/// Issue 17 item 3: `:alerts` opens the history and acknowledges every alert; it
/// scrolls within the list and Esc closes it.
#[test]
fn alerts_opens_the_history_and_acknowledges() {
    let mut store = Store::new();
    start(&mut store, dec!(145_000_000));
    let now = chrono::Utc::now();
    let s = store.apply_batch(
        (0..3).map(|i| StoreEvent::Alert { time: now, message: format!("alert {i}") }).collect::<Vec<_>>(),
        Instant::now(),
    );
    let mut ui = ladder_ui(&s);
    let cmds = super::command_line::run(&mut ui, &s, "alerts");
    assert_eq!(cmds, vec![UiCommand::AcknowledgeAlerts]);
    assert_eq!(ui.overlay, Overlay::Alerts { scroll: 0, new: 3 });
    for _ in 0..5 {
        update(&mut ui, Action::Down, &s);
    }
    assert_eq!(ui.overlay, Overlay::Alerts { scroll: 2, new: 3 }, "never past the last alert");
    update(&mut ui, Action::Up, &s);
    assert_eq!(ui.overlay, Overlay::Alerts { scroll: 1, new: 3 });
    assert!(update(&mut ui, Action::Back, &s).is_empty());
    assert_eq!(ui.overlay, Overlay::None);
}

fn message(ui: &UiState) -> String {
    ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default()
}

/// Finding 3: before the cursor is moved, `b` buys at the best bid and `s` sells at the
/// best ask of the moment, and the confirmation says which; the price then stays the
/// cursor's, so `c` finds the order there however the book moves (it followed the book
/// and missed it). With no cursor, `c` cancels nothing rather than whatever rests at the
/// best bid.
#[test]
fn an_unmoved_ladder_cursor_names_the_price_b_and_s_use_and_then_holds_it() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    assert!(update(&mut ui, Action::LadderCancel, &s).is_empty());
    assert!(message(&ui).contains("no cursor yet"), "{}", message(&ui));
    update(&mut ui, Action::LadderSell, &s);
    assert_eq!(message(&ui), "sell 0.00099999 KRW-BTC @ 145,001,000 (best ask now; total ≈144,927 KRW)? y/N");
    update(&mut ui, Action::Deny, &s);
    update(&mut ui, Action::Back, &s);
    assert_eq!(ui.book_price, None, "esc: no cursor again");
    update(&mut ui, Action::LadderBuy, &s);
    assert_eq!(message(&ui), "buy 0.001 KRW-BTC @ 145,000,000 (best bid now; total ≈145,073 KRW)? y/N");
    assert!(!ui.message.as_ref().is_some_and(|m| m.error));
    let cmds = update(&mut ui, Action::Confirm, &s);
    assert_eq!(cmds.len(), 1);
    assert_eq!(ui.book_price, Some(dec!(145_000_000)), "the price bought at is the cursor now");
    // Eight ticks later the book is elsewhere; `c` still means the order bought.
    let s = store.apply_batch(
        [
            StoreEvent::BookUpdated(book(dec!(145_187_000))),
            StoreEvent::OrdersUpdated(vec![order("mine", dec!(145_000_000))]),
        ],
        Instant::now(),
    );
    match update(&mut ui, Action::LadderCancel, &s).as_slice() {
        [UiCommand::Trade(r)] => {
            assert_eq!(r.intent, TradeIntent::Cancel(CancelTarget::Order("mine".into())))
        }
        other => panic!("{other:?} {}", message(&ui)),
    }
}

/// Finding 3: a ladder buy at or above the best ask, or a sell at or below the best
/// bid, fills at once as a taker: the confirmation says so, with the price it fills near.
/// A price that rests is asked plainly.
#[test]
fn a_ladder_order_that_crosses_the_book_is_warned_about_in_its_confirmation() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    update(&mut ui, Action::Up, &s);
    update(&mut ui, Action::Up, &s);
    assert_eq!(ui.book_price, Some(dec!(145_002_000)), "the second ask");
    update(&mut ui, Action::LadderBuy, &s);
    let m = ui.message.clone().expect("a confirmation");
    assert!(m.error, "in the warning's colour");
    assert!(m.text.starts_with("crosses the book: fills at once as a taker at ~145,001,000"), "{}", m.text);
    assert!(m.text.ends_with("buy 0.00099998 KRW-BTC @ 145,002,000 (total ≈145,072 KRW)? y/N"), "{}", m.text);
    update(&mut ui, Action::Deny, &s);
    // A sell up there rests: no warning.
    update(&mut ui, Action::LadderSell, &s);
    assert!(!message(&ui).contains("crosses"), "{}", message(&ui));
    update(&mut ui, Action::Deny, &s);
    // A sell at the best bid crosses; a buy there rests.
    for _ in 0..2 {
        update(&mut ui, Action::Down, &s);
    }
    assert_eq!(ui.book_price, Some(dec!(145_000_000)));
    update(&mut ui, Action::LadderSell, &s);
    assert!(
        message(&ui).starts_with("crosses the book: fills at once as a taker at ~145,000,000"),
        "{}",
        message(&ui)
    );
    update(&mut ui, Action::Deny, &s);
    update(&mut ui, Action::LadderBuy, &s);
    assert!(!message(&ui).contains("crosses"), "{}", message(&ui));
}

/// Findings 3 and 6: the order form warns before Enter about a total above the per-order
/// cap (the cap as `:set` left it, both numbers formatted) and about a limit price that
/// crosses the book, as it does for the price band.
#[test]
fn the_order_form_warns_about_the_per_order_cap_and_a_crossing_price() {
    use crate::ui::order_form::{FormField, FormStatus, Limits, status};
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    update(&mut ui, Action::OrderForm, &s);
    let form = ui.form.as_mut().expect("open");
    form.price = "143000000".into();
    form.field = FormField::Size;
    form.size = "0.01".into();
    let warnings = |ui: &UiState| match status(ui.form.as_ref().expect("open"), &s, Limits::of(&ui.config)) {
        FormStatus::Ready { warnings, .. } => warnings,
        other => panic!("{other:?}"),
    };
    assert_eq!(ui.config.exits.cap, Some(dec!(1_000_000)), "the default cap");
    assert_eq!(
        warnings(&ui),
        vec![
            "order total 1,430,000 KRW before fee is above the per-order cap of 1,000,000 KRW \
             (max_notional_per_order): the risk gate will refuse it"
                .to_string()
        ]
    );
    // `:set max_notional_per_order 2000000`, accepted: the form follows it.
    let change = crate::config::change::ConfigChange::Trading {
        key: crate::config::change::TradingKey::MaxNotionalPerOrder,
        value: dec!(2_000_000),
    };
    let cmds = super::command_line::run(&mut ui, &s, "set max_notional_per_order 2000000");
    let id = cmds[0].id().expect("numbered");
    let reply = TradeReply {
        id,
        to: Requester::Ui,
        what: change.summary(),
        outcome: Outcome::Accepted(String::new()),
    };
    let s2 = store.apply_batch([StoreEvent::Reply(reply)], Instant::now());
    on_replies(&mut ui, &s2);
    assert_eq!(ui.config.exits.cap, Some(dec!(2_000_000)));
    assert!(warnings(&ui).is_empty(), "{:?}", warnings(&ui));
    // A limit buy above the best ask fills at once.
    ui.form.as_mut().expect("open").price = "145003000".into();
    assert_eq!(warnings(&ui), vec!["crosses the book: fills at once as a taker at ~145,001,000".to_string()]);
}

/// Finding 8: a 5,000-character paste refused by the command line: the reply shortens
/// the echoed paste in its middle, and its reason is shown whole.
#[test]
fn a_long_paste_is_echoed_shortened_and_the_reason_is_read_whole() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    for line in [
        "x".repeat(5000),
        format!("buy KRW-BTC {}", "9".repeat(5000)),
        format!("market {}", "q".repeat(5000)),
    ] {
        update(&mut ui, Action::OpenCommandLine, &s);
        for c in line.chars() {
            update(&mut ui, Action::InsertChar(c), &s);
        }
        assert!(update(&mut ui, Action::Submit, &s).is_empty());
        let m = message(&ui);
        assert!(
            m.chars().count() < 200,
            "{} chars: {}…",
            m.chars().count(),
            m.chars().take(100).collect::<String>()
        );
        assert!(m.contains('…'), "{m}");
        let plain: String = m.chars().filter(|c| !"xq9Q…".contains(*c)).collect();
        assert!(plain.split_whitespace().count() >= 2, "a reason beside the echo: {m}");
        println!("{m}");
    }
}

/// Issue 17 item 4: an order the ladder or the form sends is announced with its numbers
/// as the screen shows them (`@ 145,000,000`), never as raw decimals (`@ 145000000`).
#[test]
fn an_order_sent_from_the_ladder_is_announced_with_readable_numbers() {
    let mut store = Store::new();
    let s = start(&mut store, dec!(145_000_000));
    let mut ui = ladder_ui(&s);
    update(&mut ui, Action::LadderBuy, &s);
    let cmds = update(&mut ui, Action::Confirm, &s);
    let id = cmds[0].id().expect("numbered");
    let said = ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
    assert_eq!(said, format!("buy KRW-BTC 0.001 @ 145,000,000 {id}: sending"));
}

fn balance(currency: &str, free: Decimal, locked: Decimal) -> crate::exchange::types::Balance {
    crate::exchange::types::Balance {
        currency: currency.into(),
        balance: free,
        locked,
        unit_currency: "KRW".into(),
        ..Default::default()
    }
}

/// Third-round finding H: `s` on the ladder with nothing held asked to sell the preset
/// size, and `y` came back `insufficient_funds_ask` from the exchange. The balances are
/// known: nothing to sell is refused with the balance; more than is available (held, or
/// KRW for a buy with its fee) is capped to it and the confirmation says so.
#[test]
fn a_ladder_order_beyond_the_balance_is_refused_or_capped_and_says_so() {
    let mut store = Store::new();
    start(&mut store, dec!(145_000_000));
    let s = store.apply_batch(
        [StoreEvent::BalancesUpdated(vec![balance("KRW", dec!(100_000), Decimal::ZERO)])],
        Instant::now(),
    );
    let mut ui = ladder_ui(&s);
    assert!(update(&mut ui, Action::LadderSell, &s).is_empty());
    assert_eq!(message(&ui), "nothing to sell: you hold 0 BTC");
    assert!(ui.pending_order.is_none() && ui.overlay != Overlay::ConfirmOrder);
    update(&mut ui, Action::Back, &s);
    // 145,000 KRW of BTC asked, 100,000 KRW there: what it buys with the fee.
    update(&mut ui, Action::LadderBuy, &s);
    assert_eq!(
        message(&ui),
        "buy 0.00068931 KRW-BTC @ 145,000,000 (best bid now; capped to what your 100,000 KRW buys; total ≈100,000 KRW)? y/N"
    );
    let pending = ui.pending_order.as_ref().expect("asked");
    assert!(pending.order.total_with_fee() <= dec!(100_000));
    update(&mut ui, Action::Deny, &s);
    update(&mut ui, Action::Back, &s);
    // Some BTC held, some of it in an open order: the sell is capped to the rest.
    let s = store.apply_batch(
        [StoreEvent::BalancesUpdated(vec![
            balance("KRW", Decimal::ZERO, dec!(5_000)),
            balance("BTC", dec!(0.0005), dec!(0.0002)),
        ])],
        Instant::now(),
    );
    on_snapshot(&mut ui, &s);
    update(&mut ui, Action::LadderSell, &s);
    assert!(
        message(&ui).starts_with(
            "sell 0.0005 KRW-BTC @ 145,001,000 (best ask now; capped to the 0.0005 BTC available (0.0002 more in open orders);"
        ),
        "{}",
        message(&ui)
    );
    update(&mut ui, Action::Deny, &s);
    update(&mut ui, Action::Back, &s);
    update(&mut ui, Action::LadderBuy, &s);
    assert_eq!(
        message(&ui),
        "not enough KRW to buy KRW-BTC at 145,000,000: you have 0 KRW available (5,000 more in open orders)"
    );
    assert!(ui.pending_order.is_none());
}
