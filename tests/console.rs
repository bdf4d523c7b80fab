//! The whole console core (simulator, feed, store, trading, command router) with a
//! headless UI: keys go in as terminal events, the store and the screen are read back.
//! Everything between is the code a user runs: real sockets to the embedded simulator,
//! the bus, the router, the pumps following the selection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{frames_past, headless_app, screen_text, snapshot_until, start_core};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use hoga::bus::Lane;
use hoga::config::Settings;
use hoga::config::change::{ConfigChange, ConfigRequest, TradingKey};
use hoga::exchange::types::{MarketId, Timeframe};
use hoga::store::TradingState;
use hoga::trading::intent::{LineIntent, Outcome, Requester, TradeIntent, TradeRequest, parse_line};
use hoga::ui::UiCommand;
use hoga::ui::UiConfig;
use hoga::ui::app::channel_input;
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tokio::time::Instant;

async fn keys(tx: &mpsc::Sender<Event>, text: &str) {
    for c in text.chars() {
        key(tx, KeyCode::Char(c)).await;
    }
}

/// `:` + `line` + Enter.
async fn command(tx: &mpsc::Sender<Event>, line: &str) {
    key(tx, KeyCode::Char(':')).await;
    keys(tx, line).await;
    key(tx, KeyCode::Enter).await;
}

async fn key(tx: &mpsc::Sender<Event>, code: KeyCode) {
    tx.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_console_headless_prices_move_and_keys_drive_market_timeframe_and_orders() {
    let mut settings = Settings::default();
    settings.demo.rate = 50;
    let (tasks, core) = start_core(&settings, None).await;
    let (key_tx, key_rx) = mpsc::channel(256);
    let mut app = headless_app(
        120,
        40,
        UiConfig { fps: 30, ..UiConfig::default() },
        core.store.subscribe(),
        core.commands.clone(),
    );
    let cancel = tasks.root_token();
    let mut snaps = core.store.subscribe();
    let mut frames = app.frames_watch();
    let driver = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let btc = MarketId::new("KRW-BTC");
        let eth = MarketId::new("KRW-ETH");

        // Markets and live prices arrive; the first market gets its book and candles.
        let first =
            snapshot_until(&mut snaps, deadline, "KRW-BTC ticker", |s| s.market.tickers.contains_key(&btc))
                .await;
        let first_ts = first.market.tickers[&btc].value.timestamp;
        snapshot_until(&mut snaps, deadline, "a newer KRW-BTC ticker", |s| {
            s.market.tickers.get(&btc).is_some_and(|t| t.value.timestamp > first_ts)
        })
        .await;
        // The first market of the list is selected: its book and 1m candles arrive.
        let s = snapshot_until(&mut snaps, deadline, "a book and 1m candles", |s| {
            s.market
                .books
                .keys()
                .any(|m| s.market.candles.get(&(m.clone(), Timeframe::M1)).is_some_and(|c| !c.is_empty()))
        })
        .await;
        assert!(!s.market.books.contains_key(&eth), "start on another market than the one switched to");

        // `:market`: the selection moves, and the panes follow it upstream.
        key(&key_tx, KeyCode::Char(':')).await;
        keys(&key_tx, "market KRW-ETH").await;
        key(&key_tx, KeyCode::Enter).await;
        snapshot_until(&mut snaps, deadline, "KRW-ETH book", |s| s.market.books.contains_key(&eth)).await;

        // Day candles: loaded by REST (Upbit does not stream them).
        key(&key_tx, KeyCode::Char(':')).await;
        keys(&key_tx, "tf 1D").await;
        key(&key_tx, KeyCode::Enter).await;
        let day = (eth.clone(), Timeframe::D1);
        let s = snapshot_until(&mut snaps, deadline, "KRW-ETH day candles", |s| {
            s.market.candles.get(&day).is_some_and(|c| !c.is_empty())
        })
        .await;
        // ... and kept current by REST while the market trades.
        let loaded = s.market.candles[&day].last().map(|c| c.timestamp).unwrap_or_default();
        snapshot_until(&mut snaps, deadline, "a refreshed KRW-ETH day candle", |s| {
            s.market.candles.get(&day).and_then(|c| c.last()).is_some_and(|c| c.timestamp > loaded)
        })
        .await;

        // A market buy on the command line: it reaches the simulator and the fill comes
        // back as an ETH balance.
        key(&key_tx, KeyCode::Char(':')).await;
        keys(&key_tx, "buy 0.05 KRW-ETH @ market").await;
        key(&key_tx, KeyCode::Enter).await;
        snapshot_until(&mut snaps, deadline, "an ETH balance after the buy", |s| {
            s.account.balances.iter().any(|b| b.currency == "ETH" && b.total() > Decimal::ZERO)
        })
        .await;
        snapshot_until(&mut snaps, deadline, "the fill in the account", |s| {
            s.account.fills.iter().any(|f| f.market == eth)
        })
        .await;
        // An OCO on the position, then disarmed by market.
        command(&key_tx, "oco KRW-ETH -50% +50%").await;
        // Previewed first (triggers, anchor, what is sold); Enter arms it.
        key(&key_tx, KeyCode::Enter).await;
        snapshot_until(&mut snaps, deadline, "the OCO rule in the monitor", |s| {
            s.account.rules.iter().any(|r| r.market == eth && r.label.starts_with("oco"))
        })
        .await;
        command(&key_tx, "unarm KRW-ETH").await;
        snapshot_until(&mut snaps, deadline, "no rules left on KRW-ETH", |s| {
            s.account.rules.iter().all(|r| r.market != eth)
        })
        .await;

        // Kill switch: HALTED in the status bar and at the gate; `:resume` lifts it.
        command(&key_tx, "kill").await;
        snapshot_until(&mut snaps, deadline, "HALTED", |s| s.account.trading_state == TradingState::Halted)
            .await;
        command(&key_tx, "buy 0.01 KRW-ETH @ market").await;
        // Refused before anything was sent: a denial, answered to the request.
        snapshot_until(&mut snaps, deadline, "the halted buy denied", |s| {
            s.account.replies.iter().any(|r| {
                matches!(&r.outcome, Outcome::Denied(why) if why.contains("HALTED"))
                    && r.what == "buy KRW-ETH"
            })
        })
        .await;
        command(&key_tx, "resume").await;
        snapshot_until(&mut snaps, deadline, "ACTIVE again", |s| {
            s.account.trading_state == TradingState::Active
        })
        .await;

        // A theme change: a Config-lane request through the gate. After the tour (an
        // order, rules, a kill and a resume, a theme) the bus shows traffic on the
        // Trading, Safety and Config lanes: every intent took the bus (issue 16).
        command(&key_tx, "theme light").await;
        let s =
            snapshot_until(&mut snaps, deadline, "traffic on the trading, safety and config lanes", |s| {
                s.system.bus.as_ref().is_some_and(|b| {
                    [Lane::Trading, Lane::Safety, Lane::Config].iter().all(|l| b.lane(*l).delivered > 0)
                })
            })
            .await;
        let bus = s.system.bus.clone().unwrap();
        assert_eq!(bus.lanes.len(), 5, "trading, safety, config, command, logging: {bus:?}");
        assert!(bus.lanes.iter().all(|l| l.dead_lettered == 0), "{bus:?}");
        assert!(
            [Lane::Trading, Lane::Safety, Lane::Config].iter().all(|l| bus.lane(*l).dropped == 0),
            "{bus:?}"
        );

        // Two more frames after everything above (the screen has caught up), then stop.
        let n = *frames.borrow_and_update();
        frames_past(&mut frames, n + 1, deadline).await;
        cancel.cancel();
    };
    let (run, ()) = tokio::join!(app.run(tasks.root_token(), channel_input(key_rx)), driver);
    run.unwrap();
    let screen = screen_text(app.terminal().backend().buffer());
    assert!(screen.contains("DEMO"), "{screen}");
    assert!(screen.contains("KRW-ETH"), "{screen}");
    assert!(screen.contains("1D"), "{screen}");
    if let Some(sim) = &core.sim {
        sim.stop();
    }
    tasks.cancel_all();
}

/// A `:buy` typed as the UI sends it: parsed in the UI into a typed request.
fn buy_request(line: &str) -> TradeRequest {
    match parse_line(line, None).unwrap() {
        LineIntent::Trade(intent) => TradeRequest::new(Requester::Ui, intent),
        other => panic!("{other:?}"),
    }
}

/// The reply to request `id` in the snapshot, if it came.
fn reply_to(s: &hoga::store::Snapshot, id: hoga::bus::CorrelationId) -> Option<Outcome> {
    s.account.replies.iter().rev().find(|r| r.id == id).map(|r| r.outcome.clone())
}

/// Sends `:buy 10000krw @ market KRW-BTC` until it is accepted (the manager refuses new
/// orders while it reconciles at start), and returns the accepted request. Accepted means
/// journaled and being sent: in flight until its fill.
async fn accepted_buy(
    core: &hoga::console::Core,
    snaps: &mut tokio::sync::watch::Receiver<std::sync::Arc<hoga::store::Snapshot>>,
    deadline: Instant,
) -> TradeRequest {
    loop {
        let buy = buy_request("buy 10000krw @ market KRW-BTC");
        core.commands.send(UiCommand::Trade(buy.clone())).unwrap();
        let s = snapshot_until(snaps, deadline, "the buy answered", |s| reply_to(s, buy.id).is_some()).await;
        match reply_to(&s, buy.id) {
            Some(Outcome::Accepted(_)) => return buy,
            Some(Outcome::Denied(why)) if why.contains("reconciliation") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("the buy: {other:?}"),
        }
    }
}

/// Issue 16's gate end to end: a config change asked for while an order is in flight is
/// held (the status line says what waits and why), and applied after the fill, in the
/// console as it runs (simulator, bus, order manager, store). Before, `ChangeGate` was
/// used only by its own tests: the change applied at once, mid-order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_asked_while_an_order_is_in_flight_is_held_and_applied_after_the_fill() {
    let (tasks, core) = start_core(&Settings::default(), None).await;
    let sim = core.sim.clone().unwrap();
    let mut snaps = core.store.subscribe();
    let deadline = Instant::now() + Duration::from_secs(60);
    let btc = MarketId::new("KRW-BTC");
    snapshot_until(&mut snaps, deadline, "KRW-BTC ticker and KRW", |s| {
        s.market.tickers.contains_key(&btc) && s.account.balances.iter().any(|b| b.currency == "KRW")
    })
    .await;
    // An idle change applies at once.
    let idle =
        ConfigRequest::new(ConfigChange::Trading { key: TradingKey::MaxOpenOrders, value: Decimal::from(9) });
    core.commands.send(UiCommand::Config(idle.clone())).unwrap();
    let s =
        snapshot_until(&mut snaps, deadline, "the idle change answered", |s| reply_to(s, idle.id).is_some())
            .await;
    assert!(matches!(reply_to(&s, idle.id), Some(Outcome::Accepted(_))), "{:?}", reply_to(&s, idle.id));

    // The exchange answers slowly: the buy stays in flight for a while.
    sim.faults.set_rest_delay(Duration::from_millis(1500));
    let buy = accepted_buy(&core, &mut snaps, deadline).await;
    let change =
        ConfigRequest::new(ConfigChange::Trading { key: TradingKey::MaxOpenOrders, value: Decimal::from(3) });
    core.commands.send(UiCommand::Config(change.clone())).unwrap();
    let s =
        snapshot_until(&mut snaps, deadline, "the change held", |s| reply_to(s, change.id).is_some()).await;
    assert!(matches!(reply_to(&s, change.id), Some(Outcome::Held(_))), "{:?}", reply_to(&s, change.id));
    let waiting = s.account.config_waiting.clone().unwrap_or_default();
    assert!(waiting.contains("max_open_orders = 3") && waiting.contains("in flight"), "{waiting}");
    assert!(s.account.fills.is_empty(), "held before the fill");

    // The fill, then the change.
    let s = snapshot_until(&mut snaps, deadline, "the change applied", |s| {
        matches!(reply_to(s, change.id), Some(Outcome::Accepted(_)))
    })
    .await;
    assert!(s.account.fills.iter().any(|f| f.market == btc), "applied only after the fill");
    assert!(matches!(reply_to(&s, buy.id), Some(Outcome::Accepted(_))), "{:?}", reply_to(&s, buy.id));
    assert_eq!(s.account.config_waiting, None, "nothing waits any more");
    // A change that cannot wait is refused while an order is in flight, with the reason.
    // A second buy, in flight (accepted: journaled and being sent, slowly).
    accepted_buy(&core, &mut snaps, deadline).await;
    let now = ConfigRequest {
        can_wait: false,
        ..ConfigRequest::new(ConfigChange::Trading {
            key: TradingKey::MaxOpenOrders,
            value: Decimal::from(4),
        })
    };
    core.commands.send(UiCommand::Config(now.clone())).unwrap();
    let s = snapshot_until(&mut snaps, deadline, "the cannot-wait change answered", |s| {
        reply_to(s, now.id).is_some()
    })
    .await;
    assert!(
        matches!(reply_to(&s, now.id), Some(Outcome::Denied(why)) if why.contains("cannot wait")),
        "{:?}",
        reply_to(&s, now.id)
    );
    sim.stop();
    tasks.cancel_all();
}

/// The UI never drops a Trading or Safety command: with its bounded command channel
/// flooded (10 000 selections, far past its capacity), a kill switch still arrives,
/// promptly, and is answered. Before, the UI `try_send`ed everything on one 64-slot
/// channel: the kill switch was dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_switch_behind_a_flood_of_ui_commands_still_arrives() {
    let (tasks, core) = start_core(&Settings::default(), None).await;
    let mut snaps = core.store.subscribe();
    let deadline = Instant::now() + Duration::from_secs(60);
    let btc = MarketId::new("KRW-BTC");
    snapshot_until(&mut snaps, deadline, "KRW-BTC ticker", |s| s.market.tickers.contains_key(&btc)).await;
    let mut dropped = 0;
    for i in 0..10_000 {
        let m = if i % 2 == 0 { "KRW-BTC" } else { "KRW-ETH" };
        if core.commands.send(UiCommand::SelectMarket(MarketId::new(m))).is_err() {
            dropped += 1;
        }
    }
    assert!(dropped > 0, "the flood must overflow the bounded channel to mean anything");
    let kill = TradeRequest::new(Requester::Ui, TradeIntent::Kill { why: "kill switch".into() });
    let sent = Instant::now();
    core.commands.send(UiCommand::Trade(kill.clone())).unwrap();
    let s = snapshot_until(&mut snaps, deadline, "HALTED and the kill answered", |s| {
        s.account.trading_state == TradingState::Halted && reply_to(s, kill.id).is_some()
    })
    .await;
    assert!(matches!(reply_to(&s, kill.id), Some(Outcome::Accepted(_))));
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(10), "the kill switch took {took:?}");
    if let Some(sim) = &core.sim {
        sim.stop();
    }
    tasks.cancel_all();
}

/// Found by a tester: a `:set` typed right after a `:buy` was sometimes applied before
/// the buy — the gate counted only what the order manager had already seen — and the new
/// limit refused the order typed before it. Now a place request counts as in flight from
/// the moment it is forwarded, and config changes travel in the order typed, so the `:set`
/// is never applied before the buy typed ahead of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_typed_right_after_a_buy_waits_for_that_buy() {
    let (tasks, core) = start_core(&Settings::default(), None).await;
    let mut snaps = core.store.subscribe();
    let deadline = Instant::now() + Duration::from_secs(60);
    let btc = MarketId::new("KRW-BTC");
    // The private stream up too: its first connect reconciles, and new orders wait
    // meanwhile.
    snapshot_until(&mut snaps, deadline, "KRW-BTC ticker, KRW and the private stream", |s| {
        s.market.tickers.contains_key(&btc)
            && s.account.balances.iter().any(|b| b.currency == "KRW")
            && s.system
                .streams
                .iter()
                .any(|st| st.name.contains("private") && st.state == hoga::store::StreamState::Connected)
    })
    .await;
    accepted_buy(&core, &mut snaps, deadline).await; // reconciled, so the next ones are placed
    snapshot_until(&mut snaps, deadline, "idle", |s| s.account.open_orders.is_empty()).await;
    let mut rounds = 0;
    let mut round = 0;
    while rounds < 5 {
        round += 1;
        let buy = buy_request("buy 10000krw @ market KRW-BTC");
        // The limit would refuse this very buy (10 000 KRW) were it applied first.
        let limit = ConfigRequest::new(ConfigChange::Trading {
            key: TradingKey::MaxNotionalPerOrder,
            value: Decimal::from(5000 + round),
        });
        core.commands.send(UiCommand::Trade(buy.clone())).unwrap();
        core.commands.send(UiCommand::Config(limit.clone())).unwrap();
        let s = snapshot_until(&mut snaps, deadline, "both answered", |s| {
            reply_to(s, buy.id).is_some() && matches!(reply_to(s, limit.id), Some(Outcome::Accepted(_)))
        })
        .await;
        match reply_to(&s, buy.id) {
            // The buy typed first is never refused by the limit typed after it: the limit
            // was held while the buy was in flight (or, on a slow machine, applied once
            // the buy had already ended). Before, it was applied first: "round 1:
            // Denied(risk: notional 10000 above max_notional_per_order 5001)".
            Some(Outcome::Accepted(_)) => rounds += 1,
            // The private stream's first connect reconciles once more after start; a buy
            // refused for that proves nothing either way.
            Some(Outcome::Denied(why)) if why.contains("reconciliation") => {}
            other => panic!("round {round}: {other:?}"),
        }
        // Lift it again for the next round (idle: applied at once).
        let lift = ConfigRequest::new(ConfigChange::Trading {
            key: TradingKey::MaxNotionalPerOrder,
            value: Decimal::from(10_000_000),
        });
        core.commands.send(UiCommand::Config(lift.clone())).unwrap();
        snapshot_until(&mut snaps, deadline, "the limit lifted", |s| {
            matches!(reply_to(s, lift.id), Some(Outcome::Accepted(_)))
        })
        .await;
    }
    if let Some(sim) = &core.sim {
        sim.stop();
    }
    tasks.cancel_all();
}

/// `:transfer` in demo: the pockets load (main, trading, savings), the line asks y/N with
/// the whole transfer in words, and `y` moves the funds: the main pocket's KRW goes down,
/// the savings pocket's goes up, and the reply says what moved. One more than is there is
/// refused on the screen, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_between_pockets_asks_first_and_moves_the_funds_in_demo() {
    let (tasks, core) = start_core(&Settings::default(), None).await;
    let (key_tx, key_rx) = mpsc::channel(256);
    let mut app = headless_app(120, 40, UiConfig::default(), core.store.subscribe(), core.commands.clone());
    let cancel = tasks.root_token();
    let mut snaps = core.store.subscribe();
    let mut frames = app.frames_watch();
    let driver = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let krw = |s: &hoga::store::Snapshot| {
            s.account.balances.iter().find(|b| b.currency == "KRW").map(|b| b.balance)
        };
        let savings_krw = |s: &hoga::store::Snapshot| {
            let p = &s.account.pockets;
            let uuid = p.view.pockets.iter().find(|p| p.name == "savings")?.uuid.clone();
            p.balances.get(&uuid)?.iter().find(|b| b.currency == "KRW").map(|b| b.balance)
        };
        let s = snapshot_until(&mut snaps, deadline, "pockets and balances loaded", |s| {
            krw(s).is_some() && savings_krw(s).is_some()
        })
        .await;
        assert!(s.account.pockets.view.can_transfer);
        assert_eq!(s.account.pockets.view.trading.as_ref().map(|p| p.name.as_str()), Some("main"));
        let (main_before, savings_before) = (krw(&s).unwrap(), savings_krw(&s).unwrap());
        // The screen has drawn them (a key is read against the snapshot last drawn).
        let n = *frames.borrow_and_update();
        frames_past(&mut frames, n + 2, deadline).await;

        // More than the main pocket has: refused on the screen, nothing sent.
        command(&key_tx, "transfer 99999999999 KRW main sav").await;
        // The real one: asked first (default No), `y` sends it.
        command(&key_tx, "transfer 100000 KRW main sav").await;
        key(&key_tx, KeyCode::Char('y')).await;
        let s = snapshot_until(&mut snaps, deadline, "the funds moved", |s| {
            krw(s) == Some(main_before - Decimal::from(100_000))
                && savings_krw(s) == Some(savings_before + Decimal::from(100_000))
        })
        .await;
        let replies: Vec<_> = s.account.replies.iter().filter(|r| r.what.starts_with("transfer")).collect();
        assert_eq!(replies.len(), 1, "only the confirmed transfer was sent: {replies:?}");
        assert!(
            matches!(&replies[0].outcome, Outcome::Accepted(m) if m == "moved 100,000 KRW from main to savings"),
            "{replies:?}"
        );
        cancel.cancel();
    };
    let (run, ()) = tokio::join!(app.run(tasks.root_token(), channel_input(key_rx)), driver);
    run.unwrap();
    if let Some(sim) = &core.sim {
        sim.stop();
    }
    tasks.cancel_all();
}
