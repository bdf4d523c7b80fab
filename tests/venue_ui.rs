#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The console's second venue, headless: `:venue binance` and `V` show Binance's markets in
//! the same panes (read-only) from its own store while the portfolio and the orders stay
//! Upbit's, and back; a venue that is off is refused; a restart comes back to the venue
//! shown when it is on.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{command_channel, info, screen_text, ticker};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hoga::config::Mode;
use hoga::exchange::VenueId;
use hoga::exchange::types::{BookLevel, Candle, MarketId, OrderBook, Side, StreamType, Timeframe, Trade};
use hoga::store::{Snapshot, Store, StoreEvent};
use hoga::ui::keymap::Keymap;
use hoga::ui::{App, ColorSupport, UiCommand, UiConfig};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::watch;

/// Ten levels a side around `mid`, `tick` apart.
fn book(code: &str, mid: Decimal, tick: Decimal) -> OrderBook {
    let levels: Vec<BookLevel> = (0..10)
        .map(|i| {
            let k = Decimal::from(i);
            BookLevel {
                ask_price: mid + tick * (k + Decimal::ONE),
                ask_size: dec!(0.5) + k / dec!(10),
                bid_price: mid - tick * k,
                bid_size: dec!(0.4) + k / dec!(10),
            }
        })
        .collect();
    OrderBook {
        market: Some(MarketId::new(code)),
        total_ask_size: levels.iter().map(|l| l.ask_size).sum(),
        total_bid_size: levels.iter().map(|l| l.bid_size).sum(),
        levels,
        level: Decimal::ZERO,
        timestamp: 0,
        stream_type: StreamType::Realtime,
    }
}

fn trade(code: &str, price: Decimal, id: i64) -> Trade {
    Trade {
        market: MarketId::new(code),
        price,
        volume: dec!(0.01),
        side: Some(if id % 2 == 0 { Side::Bid } else { Side::Ask }),
        trade_timestamp: 1_700_000_000_000 + id * 1000,
        timestamp: 1_700_000_000_000 + id * 1000,
        sequential_id: id,
        stream_type: StreamType::Realtime,
    }
}

fn candles(code: &str, base: Decimal) -> Vec<Candle> {
    (0..40)
        .map(|i| {
            let c = base + Decimal::from(i % 7) * base / dec!(1000);
            Candle {
                market: MarketId::new(code),
                timeframe: Timeframe::M1,
                start: 1_700_000_000_000 + i * 60_000,
                open: c,
                high: c + base / dec!(500),
                low: c - base / dec!(500),
                close: c,
                volume: dec!(1.5),
                value: c * dec!(1.5),
                timestamp: 1_700_000_000_000 + i * 60_000,
            }
        })
        .collect()
}

fn upbit_events() -> Vec<StoreEvent> {
    vec![
        StoreEvent::ModeSet { mode: Mode::Demo, exchange: "Upbit (demo)".into() },
        StoreEvent::MarketsLoaded(vec![
            info("KRW-BTC", "비트코인", "Bitcoin"),
            info("KRW-ETH", "이더리움", "Ethereum"),
            info("USDT-BTC", "비트코인", "Bitcoin"),
        ]),
        StoreEvent::TickerUpdated(ticker("KRW-BTC", dec!(95_000_000), dec!(0.0123), dec!(300_000_000_000))),
        StoreEvent::TickerUpdated(ticker("KRW-ETH", dec!(4_500_000), dec!(-0.021), dec!(120_000_000_000))),
        StoreEvent::BookUpdated(book("KRW-BTC", dec!(95_000_000), dec!(1000))),
        StoreEvent::TradePrinted(trade("KRW-BTC", dec!(95_000_000), 1)),
        StoreEvent::CandlesLoaded {
            market: MarketId::new("KRW-BTC"),
            timeframe: Timeframe::M1,
            candles: candles("KRW-BTC", dec!(95_000_000)),
        },
    ]
}

/// Binance's market data as its store holds it: USDT markets, `USDT-BTC`'s book, tape and
/// candles.
fn binance_events() -> Vec<StoreEvent> {
    vec![
        StoreEvent::ModeSet { mode: Mode::Demo, exchange: "Binance".into() },
        StoreEvent::MarketsLoaded(vec![
            info("USDT-BTC", "BTC", "Bitcoin"),
            info("USDT-ETH", "ETH", "Ethereum"),
            info("USDT-SOL", "SOL", "Solana"),
        ]),
        StoreEvent::TickerUpdated(ticker("USDT-BTC", dec!(64_123.45), dec!(0.011), dec!(1_200_000_000))),
        StoreEvent::TickerUpdated(ticker("USDT-ETH", dec!(3_101.2), dec!(-0.004), dec!(600_000_000))),
        StoreEvent::TickerUpdated(ticker("USDT-SOL", dec!(141.37), dec!(0.052), dec!(200_000_000))),
        StoreEvent::BookUpdated(book("USDT-BTC", dec!(64_123.45), dec!(0.01))),
        StoreEvent::TradePrinted(trade("USDT-BTC", dec!(64_123.45), 1)),
        StoreEvent::TradePrinted(trade("USDT-BTC", dec!(64_123.46), 2)),
        StoreEvent::CandlesLoaded {
            market: MarketId::new("USDT-BTC"),
            timeframe: Timeframe::M1,
            candles: candles("USDT-BTC", dec!(64_000)),
        },
    ]
}

/// A headless console over two stores (Upbit's and Binance's), as the console wires them.
struct Harness {
    app: App<TestBackend>,
    upbit: Store,
    binance: Store,
    upbit_tx: watch::Sender<Arc<Snapshot>>,
    binance_tx: watch::Sender<Arc<Snapshot>>,
    commands: hoga::ui::CommandSource,
    t0: Instant,
}

impl Harness {
    /// `binance_on`: Binance's store has said its mode and listed its markets.
    fn new(w: u16, h: u16, config: UiConfig, binance_on: bool) -> Self {
        let t0 = Instant::now();
        let mut upbit = Store::new();
        let mut binance = Store::new();
        let (upbit_tx, upbit_rx) = watch::channel(upbit.apply_batch(upbit_events(), t0));
        let first = if binance_on { binance.apply_batch(binance_events(), t0) } else { binance.snapshot() };
        let (binance_tx, binance_rx) = watch::channel(first);
        let (cmd_tx, commands) = command_channel();
        let wall = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap();
        let app = App::new(
            Terminal::new(TestBackend::new(w, h)).unwrap(),
            config,
            Keymap::default_keymap().unwrap(),
            ColorSupport::TrueColor,
            upbit_rx,
            cmd_tx,
        )
        .with_venue_snapshots(binance_rx)
        .with_fixed_clock(t0 + Duration::from_millis(1500), wall);
        let mut h = Harness { app, upbit, binance, upbit_tx, binance_tx, commands, t0 };
        h.app.on_snapshot();
        h.app.draw().unwrap();
        h
    }

    fn publish_binance(&mut self, events: Vec<StoreEvent>) {
        let snap = self.binance.apply_batch(events, self.t0);
        self.binance_tx.send_replace(snap);
        // The loop takes the newest of either store before a frame.
        self.app.on_snapshot();
    }

    fn publish_upbit(&mut self, events: Vec<StoreEvent>) {
        let snap = self.upbit.apply_batch(events, self.t0);
        self.upbit_tx.send_replace(snap);
        self.app.on_snapshot();
    }

    fn key(&mut self, code: KeyCode) {
        self.app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn command(&mut self, line: &str) {
        for c in format!(":{line}").chars() {
            self.key(KeyCode::Char(c));
        }
        self.key(KeyCode::Enter);
    }

    fn screen(&mut self) -> String {
        self.app.draw().unwrap();
        screen_text(self.app.terminal().backend().buffer())
    }

    fn drain(&mut self) -> Vec<UiCommand> {
        let mut out = Vec::new();
        while let Some(c) = self.commands.try_recv() {
            out.push(c);
        }
        out
    }

    fn message(&self) -> String {
        self.app.ui().message.as_ref().map(|m| m.text.clone()).unwrap_or_default()
    }
}

/// `V` shows Binance: its markets, `USDT-BTC`'s book and tape in the same panes, with the
/// commands for Binance's selection after `SetVenue`; `:venue upbit` comes back to
/// KRW-BTC's.
#[test]
fn the_key_shows_binances_markets_and_book_and_the_command_comes_back() {
    let mut h = Harness::new(120, 40, UiConfig::default(), true);
    let upbit_screen = h.screen();
    assert!(upbit_screen.contains("95,000,000"), "{upbit_screen}");
    h.drain();
    h.key(KeyCode::Char('V'));
    let cmds = h.drain();
    assert_eq!(cmds.first(), Some(&UiCommand::SetVenue(VenueId::Binance)), "{cmds:?}");
    assert!(cmds.contains(&UiCommand::SelectMarket(MarketId::new("USDT-BTC"))), "{cmds:?}");
    let set_venue = cmds.iter().position(|c| matches!(c, UiCommand::SetVenue(_)));
    let select = cmds.iter().position(|c| matches!(c, UiCommand::SelectMarket(_)));
    assert!(set_venue < select, "the market is Binance's selection's: {cmds:?}");
    assert_eq!(h.app.ui().market, Some(MarketId::new("USDT-BTC")));
    let screen = h.screen();
    assert!(screen.contains("3,101.20") && screen.contains("141.37"), "Binance's markets:\n{screen}");
    assert!(screen.contains("64,123.45"), "USDT-BTC's book:\n{screen}");
    assert!(!screen.contains("4,500,000"), "no Upbit market in Binance's list:\n{screen}");
    // A Binance-only change is drawn (no pane of the last frame is reused for it).
    h.publish_binance(vec![StoreEvent::BookUpdated(book("USDT-BTC", dec!(65_432.10), dec!(0.01)))]);
    let screen = h.screen();
    assert!(screen.contains("65,432.10"), "{screen}");
    h.command("venue upbit");
    let cmds = h.drain();
    assert_eq!(cmds.first(), Some(&UiCommand::SetVenue(VenueId::Upbit)), "{cmds:?}");
    assert!(cmds.contains(&UiCommand::SelectMarket(MarketId::new("KRW-BTC"))), "{cmds:?}");
    let screen = h.screen();
    assert!(screen.contains("95,000,000") && screen.contains("4,500,000"), "{screen}");
    assert!(!screen.contains("65,432.10"), "{screen}");
}

/// The drawn version stays Upbit's store's (what is in Upbit's snapshot of version v is
/// on screen once it reaches v), whichever venue is shown.
#[test]
fn the_drawn_version_is_upbits() {
    let mut h = Harness::new(120, 40, UiConfig::default(), true);
    let drawn = h.app.drawn_version_watch();
    h.key(KeyCode::Char('V'));
    h.publish_binance(vec![StoreEvent::TickerUpdated(ticker("USDT-ETH", dec!(3_200), dec!(0), dec!(1)))]);
    h.publish_upbit(vec![StoreEvent::TickerUpdated(ticker("KRW-ETH", dec!(4_600_000), dec!(0), dec!(1)))]);
    h.screen();
    assert_eq!(*drawn.borrow(), h.app.snapshot().version);
    assert_eq!(*drawn.borrow(), h.upbit.snapshot().version);
}

/// A Binance store that never said it is on: `:venue binance` and `V` say how to turn it
/// on, send nothing and stay on Upbit.
#[test]
fn binance_off_is_refused_with_how_to_turn_it_on() {
    let mut h = Harness::new(120, 40, UiConfig::default(), false);
    h.drain();
    h.command("venue binance");
    assert_eq!(h.message(), "Binance is off: set [venues] binance = true in config");
    h.key(KeyCode::Char('V'));
    assert!(h.message().contains("Binance is off"));
    assert!(h.drain().is_empty());
    assert_eq!(h.app.ui().venue, VenueId::Upbit);
    let screen = h.screen();
    assert!(screen.contains("Binance is off"), "{screen}");
}

/// On Binance `b` on the book and `:buy` are refused on the message line; nothing is sent.
#[test]
fn on_binance_the_ladder_and_buy_are_refused_on_the_message_line() {
    let mut h = Harness::new(120, 40, UiConfig::default(), true);
    h.key(KeyCode::Char('V'));
    h.drain();
    h.command("buy 0.01 @ 64000");
    assert!(h.message().contains("Binance is read-only here: :venue upbit to trade"), "{}", h.message());
    h.app.apply(hoga::ui::Action::FocusPane(hoga::ui::PaneId::Orderbook));
    h.key(KeyCode::Char('b'));
    assert_eq!(h.message(), "Binance is read-only here: :venue upbit to trade");
    assert!(h.drain().is_empty());
    let screen = h.screen();
    assert!(screen.contains("read-only"), "{screen}");
}

/// A restart in the Binance view comes back to it (and to the market shown there) once
/// Binance is on; with Binance off it stays on Upbit.
#[test]
fn a_restart_comes_back_to_binance_only_when_it_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = || UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() };
    {
        let mut h = Harness::new(120, 40, config(), true);
        h.key(KeyCode::Char('V'));
        h.command("market USDT-ETH");
        assert_eq!(h.app.ui().market, Some(MarketId::new("USDT-ETH")));
    }
    // On at start: straight back to Binance's USDT-ETH, drawn from Binance's store.
    {
        let mut h = Harness::new(120, 40, config(), true);
        assert_eq!(h.app.ui().venue, VenueId::Binance);
        assert_eq!(h.app.ui().market, Some(MarketId::new("USDT-ETH")));
        let screen = h.screen();
        assert!(screen.contains("3,101.20") && !screen.contains("4,500,000"), "{screen}");
    }
    // Binance off this time: Upbit.
    let h = Harness::new(120, 40, config(), false);
    assert_eq!(h.app.ui().venue, VenueId::Upbit);
    assert_eq!(h.app.ui().market, Some(MarketId::new("KRW-BTC")));
    drop(h);
    // Off at first, then on: the screen goes back to Binance's USDT-ETH.
    let mut h = Harness::new(120, 40, config(), false);
    h.drain();
    h.publish_binance(binance_events());
    assert_eq!(h.app.ui().venue, VenueId::Binance);
    assert_eq!(h.app.ui().market, Some(MarketId::new("USDT-ETH")));
    let cmds = h.drain();
    assert_eq!(cmds.first(), Some(&UiCommand::SetVenue(VenueId::Binance)), "{cmds:?}");
    assert!(cmds.contains(&UiCommand::SelectMarket(MarketId::new("USDT-ETH"))), "{cmds:?}");
}

/// The Binance view at 120x40 and 80x24.
#[test]
fn the_binance_view_at_120x40_and_80x24() {
    for (w, hgt) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, hgt, UiConfig::default(), true);
        h.key(KeyCode::Char('V'));
        h.app.ui();
        let screen = h.screen();
        insta::assert_snapshot!(format!("binance_view_{w}x{hgt}"), screen);
    }
}

/// The demo console on the simulator, both venues from it: `V` shows Binance's markets
/// and USDT-BTC's book (its own connection's data), `:venue upbit` comes back to KRW-BTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_demo_the_binance_view_shows_usdt_btc_from_the_simulator_and_comes_back() {
    let (sim_tasks, sim) = common::still_sim(8, |_| {}).await;
    let (tasks, core) = common::console_on(&sim).await;
    let venue = core.venue_store.as_ref().expect("Binance is on in demo").subscribe();
    let mut app =
        common::headless_app(120, 40, UiConfig::default(), core.store.subscribe(), core.commands.clone())
            .with_venue_snapshots(venue);
    let screen = |app: &mut App<TestBackend>| {
        app.on_snapshot();
        app.draw().unwrap();
        screen_text(app.terminal().backend().buffer())
    };
    common::poll("Upbit's KRW-BTC book", common::DEADLINE * 3, Duration::from_millis(20), async || {
        let s = screen(&mut app);
        (app.ui().market == Some(MarketId::new("KRW-BTC")) && s.contains("ΣKRW")).then_some(())
    })
    .await;
    common::poll("Binance to say it is on", common::DEADLINE * 3, Duration::from_millis(20), async || {
        screen(&mut app);
        app.ui().venues.is_on(VenueId::Binance).then_some(())
    })
    .await;
    app.handle_key(KeyEvent::new(KeyCode::Char('V'), KeyModifiers::NONE));
    assert_eq!(app.ui().venue, VenueId::Binance, "{:?}", app.ui().message);
    let shown = common::poll(
        "USDT-BTC's book from Binance",
        common::DEADLINE * 3,
        Duration::from_millis(20),
        async || {
            let s = screen(&mut app);
            let book = app.snapshot().market.books.contains_key(&MarketId::new("USDT-BTC"));
            (app.ui().market == Some(MarketId::new("USDT-BTC")) && book && s.contains("ΣUSDT")).then_some(s)
        },
    )
    .await;
    assert!(shown.contains("USDT-BTC"), "{shown}");
    assert!(
        !app.snapshot().market.markets.iter().any(|m| m.market.quote() == "KRW"),
        "Binance lists no KRW market"
    );
    for c in ":venue upbit".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    common::poll("back on Upbit's KRW-BTC", common::DEADLINE * 3, Duration::from_millis(20), async || {
        let s = screen(&mut app);
        (app.ui().market == Some(MarketId::new("KRW-BTC")) && s.contains("ΣKRW")).then_some(())
    })
    .await;
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// The running loop: after `V` a change in Binance's store alone reaches the screen (the
/// loop follows the second store while Binance is shown).
#[tokio::test]
async fn the_running_loop_draws_a_binance_only_change() {
    use crossterm::event::Event;
    let t0 = Instant::now();
    let mut upbit = Store::new();
    let mut binance = Store::new();
    let (_upbit_tx, upbit_rx) = watch::channel(upbit.apply_batch(upbit_events(), t0));
    let (binance_tx, binance_rx) = watch::channel(binance.apply_batch(binance_events(), t0));
    let (cmd_tx, mut cmd_rx) = command_channel();
    let (key_tx, key_rx) = tokio::sync::mpsc::channel(16);
    let mut app =
        common::headless_app(120, 40, UiConfig { fps: 60, ..UiConfig::default() }, upbit_rx, cmd_tx)
            .with_venue_snapshots(binance_rx);
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut frames = app.frames_watch();
    let runner = async {
        app.run(cancel.clone(), hoga::ui::app::channel_input(key_rx)).await.unwrap();
        app
    };
    let driver = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let key = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        key_tx.send(key('V')).await.unwrap();
        loop {
            match tokio::time::timeout_at(deadline, cmd_rx.recv()).await.unwrap() {
                Some(UiCommand::SelectMarket(m)) if m == MarketId::new("USDT-BTC") => break,
                Some(_) => continue,
                None => panic!("the UI is gone"),
            }
        }
        binance_tx.send_replace(
            binance.apply_batch([StoreEvent::BookUpdated(book("USDT-BTC", dec!(66_000.25), dec!(0.01)))], t0),
        );
        let n = *frames.borrow_and_update();
        common::frames_past(&mut frames, n, deadline).await;
        cancel.cancel();
    };
    let (app, ()) = tokio::join!(runner, driver);
    let screen = screen_text(app.terminal().backend().buffer());
    assert!(screen.contains("66,000.25"), "{screen}");
}

/// Our orders are Upbit's: an Upbit order on `USDT-BTC` (a market both venues list) is
/// marked on Upbit's book and drawn on Upbit's chart, never on Binance's `USDT-BTC` at the
/// same price, which is another exchange's book.
#[test]
fn our_upbit_order_is_not_drawn_on_binances_book_or_chart_of_the_same_code() {
    use hoga::exchange::types::{Order, OrderState, OrderType};
    let mut h = Harness::new(120, 40, UiConfig::default(), true);
    let price = dec!(64_123.45);
    let order = Order {
        uuid: "u-1".into(),
        identifier: Some("hoga-1".into()),
        market: MarketId::new("USDT-BTC"),
        side: Some(Side::Bid),
        ord_type: OrderType::Limit,
        price: Some(price),
        volume: Some(dec!(0.01)),
        remaining_volume: dec!(0.01),
        executed_volume: Decimal::ZERO,
        executed_funds: None,
        reserved_fee: Decimal::ZERO,
        remaining_fee: Decimal::ZERO,
        paid_fee: Decimal::ZERO,
        locked: dec!(641.2345),
        state: OrderState::Wait,
        time_in_force: None,
        created_at: "2026-11-23T00:00:00+09:00".into(),
        trades_count: 0,
        trades: vec![],
    };
    h.publish_upbit(vec![
        StoreEvent::BookUpdated(book("USDT-BTC", price, dec!(0.01))),
        StoreEvent::CandlesLoaded {
            market: MarketId::new("USDT-BTC"),
            timeframe: Timeframe::M1,
            candles: candles("USDT-BTC", dec!(64_000)),
        },
        StoreEvent::OrdersUpdated(vec![order]),
    ]);
    h.command("market USDT-BTC");
    let upbit = h.screen();
    assert!(upbit.contains("◀0.01"), "Upbit's own USDT-BTC book marks our order:\n{upbit}");
    assert!(upbit.contains("bid 0.01"), "and Upbit's chart draws its line:\n{upbit}");
    h.key(KeyCode::Char('V'));
    assert_eq!(h.app.ui().market, Some(MarketId::new("USDT-BTC")));
    let binance = h.screen();
    assert!(binance.contains("64,123.45"), "{binance}");
    assert!(!binance.contains("◀0.01"), "an Upbit order marked on Binance's book:\n{binance}");
    assert!(!binance.contains("bid 0.01"), "an Upbit order drawn on Binance's chart:\n{binance}");
}
