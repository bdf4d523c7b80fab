#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The console, headless: a real `App` on ratatui's `TestBackend`, driven by store events
//! and key events, checked through the rendered buffer (text snapshots plus explicit
//! style assertions on key cells, since text snapshots do not show colour) and the
//! `UiCommand`s it sends out.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{command_channel, frames_past, headless_app, info, screen_text, snapshot_until, ticker, wide};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use hoga::exchange::types::{
    BookLevel, Candle, MarketId, MarketInfo, Order, OrderBook, OrderState, OrderType, Side, StreamType,
    Timeframe, Trade,
};
use hoga::feed::{ConnSnapshot, ConnState, FeedHealth, StreamRate};
use hoga::kernel::TaskManager;
use hoga::store::{Snapshot, Store, StoreConfig, StoreEvent};
use hoga::trading::input::CancelTarget;
use hoga::trading::intent::{Outcome, Requester, TradeIntent, TradeReply};
use hoga::trading::manager::{Origin, PlaceSpec};
use hoga::ui::app::channel_input;
use hoga::ui::keymap::Keymap;
use hoga::ui::{App, ColorSupport, UiCommand, UiConfig};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::{mpsc, watch};

fn book(code: &str, mid: Decimal, tick: Decimal) -> OrderBook {
    let levels: Vec<BookLevel> = (0..15)
        .map(|i| {
            let i = Decimal::from(i);
            BookLevel {
                ask_price: mid + tick * (i + Decimal::ONE),
                ask_size: dec!(0.5) + i / dec!(10),
                bid_price: mid - tick * i,
                bid_size: dec!(0.7) + i / dec!(20),
            }
        })
        .collect();
    book_of(code, levels)
}

/// A realtime book of `code` with these levels, its totals summed from them.
fn book_of(code: &str, levels: Vec<BookLevel>) -> OrderBook {
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

fn trade(code: &str, price: Decimal, volume: Decimal, side: Side, id: i64) -> Trade {
    Trade {
        market: MarketId::new(code),
        price,
        volume,
        side: Some(side),
        trade_timestamp: 1_700_000_000_000 + id * 1000,
        timestamp: 1_700_000_000_000 + id * 1000,
        sequential_id: id,
        stream_type: StreamType::Realtime,
    }
}

fn candles(code: &str) -> Vec<Candle> {
    (0..60)
        .map(|i| {
            let base = dec!(95_000_000) + Decimal::from((i * 37) % 23) * dec!(10_000);
            Candle {
                market: MarketId::new(code),
                timeframe: Timeframe::M1,
                start: 1_700_000_000_000 + i * 60_000,
                open: base,
                high: base + dec!(30_000),
                low: base - dec!(20_000),
                close: base + dec!(10_000),
                volume: Decimal::from(i % 7 + 1),
                value: dec!(1),
                timestamp: 1_700_000_000_000 + i * 60_000,
            }
        })
        .collect()
}

fn open_order(code: &str, price: Decimal) -> Order {
    Order {
        uuid: "u-1".into(),
        identifier: Some("hoga-1".into()),
        market: MarketId::new(code),
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
        locked: dec!(950_000),
        state: OrderState::Wait,
        time_in_force: None,
        created_at: "2026-11-23T00:00:00+09:00".into(),
        trades_count: 0,
        trades: vec![],
    }
}

/// Market data for a small exchange, all stamped at `t0`.
fn market_events() -> Vec<StoreEvent> {
    let mut ev = vec![StoreEvent::MarketsLoaded(vec![
        info("KRW-BTC", "비트코인", "Bitcoin"),
        info("KRW-ETH", "이더리움", "Ethereum"),
        info("KRW-XRP", "리플", "Ripple"),
        info("BTC-ETH", "이더리움", "Ethereum"),
        info("USDT-BTC", "비트코인", "Bitcoin"),
    ])];
    ev.push(StoreEvent::TickerUpdated(ticker(
        "KRW-BTC",
        dec!(95_000_000),
        dec!(0.0123),
        dec!(300_000_000_000),
    )));
    ev.push(StoreEvent::TickerUpdated(ticker(
        "KRW-ETH",
        dec!(4_500_000),
        dec!(-0.021),
        dec!(120_000_000_000),
    )));
    ev.push(StoreEvent::TickerUpdated(ticker("KRW-XRP", dec!(850), dec!(0), dec!(90_000_000_000))));
    ev.push(StoreEvent::BookUpdated(book("KRW-BTC", dec!(95_000_000), dec!(1000))));
    for i in 0..12 {
        let side = if i % 2 == 0 { Side::Bid } else { Side::Ask };
        let vol = if i == 5 { dec!(2) } else { dec!(0.001) };
        ev.push(StoreEvent::TradePrinted(trade("KRW-BTC", dec!(95_000_000), vol, side, i)));
    }
    ev.push(StoreEvent::CandlesLoaded {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        candles: candles("KRW-BTC"),
    });
    ev
}

struct Harness {
    app: App<TestBackend>,
    store: Store,
    snap_tx: watch::Sender<Arc<Snapshot>>,
    commands: hoga::ui::CommandSource,
    t0: Instant,
}

impl Harness {
    fn new(w: u16, h: u16) -> Self {
        Self::with(w, h, Keymap::default_keymap().unwrap(), ColorSupport::TrueColor)
    }

    fn with(w: u16, h: u16, keymap: Keymap, colors: ColorSupport) -> Self {
        let t0 = Instant::now();
        let mut store = Store::new();
        let snap = store.apply_batch(market_events(), t0);
        let (snap_tx, snap_rx) = watch::channel(snap);
        let (cmd_tx, commands) = command_channel();
        let terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let wall = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap();
        let app = App::new(terminal, UiConfig::default(), keymap, colors, snap_rx, cmd_tx)
            .with_fixed_clock(t0 + Duration::from_millis(1500), wall);
        let mut h = Harness { app, store, snap_tx, commands, t0 };
        h.app.on_snapshot();
        h.app.draw().unwrap();
        h
    }

    fn publish(&mut self, events: Vec<StoreEvent>) {
        let snap = self.store.apply_batch(events, self.t0);
        self.snap_tx.send_replace(snap);
        self.app.on_snapshot();
    }

    fn key(&mut self, code: KeyCode) {
        self.app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
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

    /// Answers a request the UI sent, as the console would through the store.
    fn reply(&mut self, cmd: &UiCommand, outcome: Outcome) {
        let id = cmd.id().expect("a numbered request");
        let reply = TradeReply { id, to: Requester::Ui, what: String::new(), outcome };
        self.publish(vec![StoreEvent::Reply(reply)]);
    }

    /// Types a command line and presses Enter; the config changes it asks for are
    /// accepted (nothing is in flight). Returns what else it sent.
    fn command(&mut self, line: &str) -> Vec<UiCommand> {
        self.keys(&format!(":{line}"));
        self.key(KeyCode::Enter);
        let mut rest = Vec::new();
        for cmd in self.drain() {
            match cmd {
                UiCommand::Config(_) => self.reply(&cmd, Outcome::Accepted(String::new())),
                other => rest.push(other),
            }
        }
        rest
    }
}

/// Position of the first cell of `needle` on the screen.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let text = screen_text(buf);
    for (y, line) in text.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            // Cells are one per char except wide glyphs; the panes put numbers left of
            // Korean text only in the markets list, so count chars up to the match.
            let mut x = 0u16;
            for c in line[..byte].chars() {
                x += if wide(c) { 2 } else { 1 };
            }
            return Some((x, y as u16));
        }
    }
    None
}

#[test]
fn renders_the_default_layout_at_120x40() {
    let mut h = Harness::new(120, 40);
    let screen = h.screen();
    for needle in
        ["DEMO", "Markets", "Order book", "Chart", "Trades", "KRW-BTC", "95,000,000", "12:04:05 KST"]
    {
        assert!(screen.contains(needle), "missing {needle:?}:\n{screen}");
    }
    insta::assert_snapshot!("default_120x40", screen);
}

#[test]
fn renders_a_compact_layout_at_80x24() {
    let mut h = Harness::new(80, 24);
    let screen = h.screen();
    for needle in ["DEMO", "Markets", "Order book", "KRW-BTC"] {
        assert!(screen.contains(needle), "missing {needle:?}:\n{screen}");
    }
    insta::assert_snapshot!("default_80x24", screen);
}

#[test]
fn below_minimum_size_shows_a_message_not_a_panic() {
    let mut h = Harness::new(60, 20);
    let screen = h.screen();
    assert!(screen.contains("terminal too small"), "{screen}");
    assert!(screen.contains("80x24"), "{screen}");
    assert!(h.app.last_layout().is_none());
}

#[test]
fn first_market_is_selected_and_announced() {
    let mut h = Harness::new(120, 40);
    let cmds = h.drain();
    assert_eq!(cmds[0], UiCommand::SelectMarket(MarketId::new("KRW-BTC")), "{cmds:?}");
    assert_eq!(cmds[1], UiCommand::SetTimeframe(Timeframe::M1));
}

#[test]
fn search_by_korean_or_english_name_then_enter_selects() {
    let mut h = Harness::new(120, 40);
    h.drain();
    h.keys("/이더");
    let screen = h.screen();
    assert!(screen.contains(" ETH ") && !screen.contains(" XRP "), "{screen}");
    h.key(KeyCode::Esc);
    h.keys("/ripple");
    h.key(KeyCode::Enter);
    assert_eq!(h.drain()[0], UiCommand::SelectMarket(MarketId::new("KRW-XRP")));
}

#[test]
fn switching_market_on_the_command_line_emits_select_market() {
    let mut h = Harness::new(120, 40);
    h.drain();
    h.keys(":market krw-eth");
    h.key(KeyCode::Enter);
    let cmds = h.drain();
    assert_eq!(
        cmds,
        vec![UiCommand::SelectMarket(MarketId::new("KRW-ETH")), UiCommand::SetTimeframe(Timeframe::M1)]
    );
    assert_eq!(h.app.ui().market, Some(MarketId::new("KRW-ETH")));
    // Tab completes the verb and the market; the history recalls the line.
    h.keys(":mar");
    h.key(KeyCode::Tab);
    h.keys("krw-x");
    h.key(KeyCode::Tab);
    assert_eq!(h.app.ui().command_line.as_ref().unwrap().input, "market KRW-XRP ");
    h.key(KeyCode::Esc);
    h.keys(":");
    h.key(KeyCode::Up);
    assert_eq!(h.app.ui().command_line.as_ref().unwrap().input, "market krw-eth");
}

#[test]
fn trading_lines_are_parsed_into_typed_requests_and_a_bad_one_stays_here() {
    use hoga::trading::rules::{Level, RuleKind};
    let mut h = Harness::new(120, 40);
    h.publish(vec![StoreEvent::BalancesUpdated(vec![hoga::exchange::types::Balance {
        currency: "BTC".into(),
        balance: rust_decimal::Decimal::new(1, 1),
        avg_buy_price: rust_decimal::Decimal::from(90_000_000),
        unit_currency: "KRW".into(),
        ..Default::default()
    }])]);
    h.drain();
    h.keys(":stop KRW-BTC -3%");
    h.key(KeyCode::Enter);
    // Previewed before it arms (issue 17): nothing is sent until Enter on the preview.
    assert!(h.drain().is_empty());
    assert!(h.screen().contains("Arm stop KRW-BTC?"), "{}", h.screen());
    h.key(KeyCode::Enter);
    let cmds = h.drain();
    let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    // Measured from the last price and armed as the price it resolved to.
    let TradeIntent::ArmRule { market, kind: RuleKind::StopLoss(Level::Price(_)), future: false } = &r.intent
    else {
        panic!("{r:?}")
    };
    assert_eq!(market, &MarketId::new("KRW-BTC"));
    assert!(h.screen().contains(&format!("stop KRW-BTC -3% {}: sending", r.id)));
    // Its reply goes on the message line under its id.
    h.reply(&cmds[0], Outcome::Accepted("stop-1".into()));
    assert!(h.screen().contains(&format!("{} stop KRW-BTC: accepted (stop-1)", r.id)), "{}", h.screen());
    // A line the parser refuses is said so where it was typed and is not sent.
    h.keys(":stop KRW-BTC");
    h.key(KeyCode::Enter);
    assert!(h.drain().is_empty());
    assert!(h.screen().contains("(not sent)"), "{}", h.screen());
}

#[test]
fn timeframe_keys_emit_set_timeframe() {
    let mut h = Harness::new(120, 40);
    h.drain();
    h.key(KeyCode::Char(']'));
    h.key(KeyCode::Char(']'));
    h.key(KeyCode::Char('['));
    assert_eq!(
        h.drain(),
        vec![
            UiCommand::SetTimeframe(Timeframe::M3),
            UiCommand::SetTimeframe(Timeframe::M5),
            UiCommand::SetTimeframe(Timeframe::M3)
        ]
    );
    h.keys(":tf 1h");
    h.key(KeyCode::Enter);
    assert_eq!(h.drain(), vec![UiCommand::SetTimeframe(Timeframe::H1)]);
}

#[test]
fn help_lists_the_live_keymap() {
    let km =
        Keymap::load(Some(("user.toml", "[global]\nhelp = [\"f2\"]\ncancel_all = [\"ctrl-x\"]\n"))).unwrap();
    let mut h = Harness::with(120, 40, km, ColorSupport::TrueColor);
    h.key(KeyCode::Char('?'));
    assert!(!h.screen().contains("Keys (from the live keymap)"), "? is no longer bound");
    h.key(KeyCode::F(2));
    let screen = h.screen();
    assert!(screen.contains("Keys (from the live keymap)"), "{screen}");
    assert!(screen.contains("ctrl-x"), "{screen}");
}

#[test]
fn keymap_override_with_unknown_action_is_rejected_naming_file_and_line() {
    let text = "[global]\nhelp = [\"f2\"]\n# comment\n[chart]\nzoom_in = [\"+\"]\n";
    let err = Keymap::load(Some(("/home/me/.config/hoga/keymap.toml", text))).unwrap_err().to_string();
    assert!(err.contains("/home/me/.config/hoga/keymap.toml:5"), "{err}");
    assert!(err.contains("zoom_in"), "{err}");
}

#[test]
fn order_book_cells_use_bid_and_ask_styles() {
    let mut h = Harness::new(120, 40);
    h.screen();
    let theme = h.app.theme().clone();
    let buf = h.app.terminal().backend().buffer().clone();
    // Best ask is mid + 1 tick, best bid is mid.
    let (x, y) = find(&buf, "95,001,000").expect("best ask on screen");
    assert_eq!(buf[(x, y)].fg, theme.ask.fg.unwrap());
    let (x, y) = find(&buf, "94,999,000").expect("a bid on screen");
    assert_eq!(buf[(x, y)].fg, theme.bid.fg.unwrap());
    // Change % in the markets list: up and down colours.
    let (x, y) = find(&buf, "+1.23%").expect("up change");
    assert_eq!(buf[(x, y)].fg, theme.rise.fg.unwrap());
    let (x, y) = find(&buf, "-2.10%").expect("down change");
    assert_eq!(buf[(x, y)].fg, theme.fall.fg.unwrap());
}

#[test]
fn theme_switch_at_runtime_restyles_the_screen() {
    let mut h = Harness::new(120, 40);
    h.drain();
    let dark_bid = h.app.theme().bid;
    h.keys(":theme light");
    h.key(KeyCode::Enter);
    // A config request: applied only once the change gate accepts it.
    let cmds = h.drain();
    assert!(matches!(cmds.as_slice(), [UiCommand::Config(_)]), "{cmds:?}");
    assert_eq!(h.app.theme().name, "dark", "not before its reply");
    h.reply(&cmds[0], Outcome::Held("1 order in flight".into()));
    assert_eq!(h.app.theme().name, "dark", "held");
    assert!(h.screen().contains("theme light: held: 1 order in flight"), "{}", h.screen());
    h.reply(&cmds[0], Outcome::Accepted(String::new()));
    assert_eq!(h.app.theme().name, "light");
    assert_ne!(h.app.theme().bid, dark_bid);
    h.screen();
    let buf = h.app.terminal().backend().buffer().clone();
    let (x, y) = find(&buf, "94,999,000").unwrap();
    assert_eq!(buf[(x, y)].fg, h.app.theme().bid.fg.unwrap());
    h.command("theme nosuch");
    assert_eq!(h.app.theme().name, "light", "an unknown theme keeps the current one");
    assert!(h.screen().contains("nosuch"));
}

#[test]
fn no_color_draws_without_any_colour() {
    let mut h = Harness::with(120, 40, Keymap::default_keymap().unwrap(), ColorSupport::NoColor);
    h.screen();
    let buf = h.app.terminal().backend().buffer();
    for cell in buf.content() {
        assert!(matches!(cell.fg, Color::Reset), "fg {:?} at {:?}", cell.fg, cell.symbol());
        assert!(matches!(cell.bg, Color::Reset), "bg {:?}", cell.bg);
    }
    // Sides stay distinguishable by modifiers.
    let (x, y) = find(buf, "95,001,000").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED));
}

#[test]
fn stale_data_is_greyed_with_its_age() {
    let mut h = Harness::new(120, 40);
    let wall = Utc.with_ymd_and_hms(2026, 11, 23, 3, 5, 5).unwrap();
    let t0 = h.t0;
    let app = std::mem::replace(&mut h.app, {
        let (tx, _rx) = command_channel();
        let (_s, r) = watch::channel(Arc::new(Snapshot::default()));
        headless_app(1, 1, UiConfig::default(), r, tx)
    });
    h.app = app.with_fixed_clock(t0 + Duration::from_secs(75), wall);
    let screen = h.screen();
    assert!(screen.contains("stale 1m"), "{screen}");
    let theme = h.app.theme().clone();
    let buf = h.app.terminal().backend().buffer();
    let (x, y) = find(buf, "95,001,000").unwrap();
    assert_eq!(buf[(x, y)].fg, theme.stale.fg.unwrap(), "stale book is not drawn in the ask colour");
}

#[test]
fn quit_asks_when_orders_are_open_and_defaults_to_no() {
    let mut h = Harness::new(120, 40);
    h.drain();
    h.publish(vec![StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(94_999_000))])]);
    h.key(KeyCode::Char('q'));
    assert!(h.screen().contains("Quit with 1 open order(s)"));
    h.key(KeyCode::Enter);
    assert!(!h.app.ui().quit, "enter means No");
    h.key(KeyCode::Char('q'));
    h.key(KeyCode::Char('y'));
    assert!(h.app.ui().quit);
    assert_eq!(h.drain(), vec![UiCommand::Quit]);
}

#[test]
fn ladder_keys_place_and_cancel_at_the_cursor_level() {
    let mut h = Harness::new(120, 40);
    h.publish(vec![StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(94_999_000))])]);
    h.drain();
    h.key(KeyCode::Tab); // markets -> order book
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    h.key(KeyCode::Down); // cursor starts on the best bid; one down is the second bid
    h.key(KeyCode::Char('b'));
    assert!(h.drain().is_empty(), "the ladder shows the size and price first");
    h.key(KeyCode::Char('y'));
    let (request, origin) = placed(&h.drain());
    assert_eq!(request.side, Side::Bid);
    assert_eq!(request.price, Some(dec!(94_999_000)));
    assert_eq!(origin, Origin::Ladder);
    h.key(KeyCode::Char('c'));
    let cmds = h.drain();
    let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert_eq!(r.intent, TradeIntent::Cancel(CancelTarget::Order("u-1".into())));
}

/// The one order a list of commands places, and who made it.
fn placed(cmds: &[UiCommand]) -> (hoga::trading::orders::OrderRequest, Origin) {
    match cmds {
        [UiCommand::Trade(r)] => match &r.intent {
            TradeIntent::Place { spec: PlaceSpec::Request(request), origin, .. } => {
                (request.clone(), origin.clone())
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn favorites_are_persisted_to_the_given_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/favorites.txt");
    let t0 = Instant::now();
    let mut store = Store::new();
    let (_snap_tx, snap_rx) = watch::channel(store.apply_batch(market_events(), t0));
    let (cmd_tx, _rx) = command_channel();
    let config = UiConfig { favorites_path: Some(path.clone()), ..UiConfig::default() };
    let mut app = headless_app(120, 40, config.clone(), snap_rx.clone(), cmd_tx.clone());
    app.on_snapshot();
    app.handle_key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::NONE));
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(saved.trim(), "KRW-BTC");
    let app2 = headless_app(120, 40, config, snap_rx, cmd_tx);
    assert!(app2.ui().favorites.contains(&MarketId::new("KRW-BTC")));
}

#[tokio::test]
async fn headless_loop_follows_the_store_and_quits_on_q() {
    let tasks = TaskManager::new();
    let store = Store::start(&tasks, StoreConfig::default());
    let (cmd_tx, mut cmd_rx) = command_channel();
    let (key_tx, key_rx) = mpsc::channel(16);
    let mut app =
        headless_app(120, 40, UiConfig { fps: 60, ..UiConfig::default() }, store.subscribe(), cmd_tx);
    for ev in market_events() {
        store.send(ev).await.unwrap();
    }
    let cancel = tasks.root_token();
    let mut frames = app.frames_watch();
    let mut published = store.subscribe();
    let runner = async {
        app.run(cancel.clone(), channel_input(key_rx)).await.unwrap();
        app
    };
    let driver = async {
        // The first market is selected once the list arrives.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let first = tokio::time::timeout_at(deadline, cmd_rx.recv()).await.unwrap().unwrap();
        assert_eq!(first, UiCommand::SelectMarket(MarketId::new("KRW-BTC")));
        // A new price flows store -> snapshot -> frame.
        store
            .send(StoreEvent::TickerUpdated(ticker("KRW-BTC", dec!(96_123_000), dec!(0.02), dec!(1))))
            .await
            .unwrap();
        // Wait until the store has published it, then for a frame drawn after that: the
        // loop takes a pending snapshot before it draws, so that frame shows the price.
        snapshot_until(&mut published, deadline, "the new price published", |s| {
            s.market.tickers.values().any(|t| t.value.trade_price == dec!(96_123_000))
        })
        .await;
        let n = *frames.borrow_and_update();
        frames_past(&mut frames, n, deadline).await;
        key_tx.send(Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE))).await.unwrap();
        loop {
            match tokio::time::timeout_at(deadline, cmd_rx.recv()).await.unwrap() {
                Some(UiCommand::Quit) => break,
                Some(_) => continue,
                None => panic!("channel closed before Quit"),
            }
        }
        key_tx
    };
    let (app, _keys) = tokio::join!(runner, driver);
    assert!(app.ui().quit);
    assert!(app.frames() >= 1);
    let screen = screen_text(app.terminal().backend().buffer());
    assert!(screen.contains("96,123,000"), "{screen}");
    tasks.cancel_all();
}

#[test]
fn order_form_previews_snapped_price_fee_and_total_and_live_mode_confirms() {
    use hoga::exchange::types::Balance;
    use hoga::store::Mode;
    let mut h = Harness::new(120, 40);
    h.publish(vec![
        StoreEvent::BalancesUpdated(vec![Balance {
            currency: "KRW".into(),
            balance: dec!(10_000_000),
            locked: Decimal::ZERO,
            avg_buy_price: Decimal::ZERO,
            unit_currency: "KRW".into(),
        }]),
        StoreEvent::ModeSet { mode: Mode::Live, exchange: "upbit".into() },
    ]);
    h.drain();
    h.key(KeyCode::Char('o'));
    // Price field is prefilled with the last price; replace it with an off-tick one.
    for _ in 0..12 {
        h.key(KeyCode::Backspace);
    }
    h.keys("95000999");
    h.key(KeyCode::Down);
    h.keys("0.01");
    let screen = h.screen();
    assert!(screen.contains("snapped  95,000,000"), "{screen}");
    assert!(screen.contains("fee 475") && screen.contains("total 950,475 KRW"), "{screen}");
    h.key(KeyCode::Enter);
    assert!(h.drain().is_empty(), "live mode asks first");
    let screen = h.screen();
    assert!(screen.contains("Confirm LIVE order"), "{screen}");
    h.key(KeyCode::Enter);
    assert!(h.drain().is_empty(), "enter means No");
    assert!(h.app.ui().pending_order.is_none());
    // Again, and say yes.
    h.key(KeyCode::Char('o'));
    h.key(KeyCode::Down);
    h.keys("0.01");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('y'));
    let (request, origin) = placed(&h.drain());
    assert_eq!(request.market, MarketId::new("KRW-BTC"));
    assert_eq!(request.volume, Some(dec!(0.01)));
    assert_eq!(request.price, Some(dec!(95_000_000)));
    assert_eq!(origin, Origin::Manual);
}

#[test]
fn the_kill_switch_behind_a_flood_of_commands_nobody_reads_is_still_sent() {
    let mut h = Harness::new(120, 40);
    h.drain();
    // Nobody reads: 10,000 timeframe switches fill the bounded channel and are dropped.
    for i in 0..10_000 {
        h.key(KeyCode::Char(if i % 2 == 0 { ']' } else { '[' }));
    }
    let dropped = 10_000 - hoga::ui::sink::COMMAND_CAPACITY as u64;
    assert_eq!(h.app.dropped_commands(), dropped);
    assert!(h.screen().contains("busy, dropped"), "drops are reported");
    let ctrl_k = || KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
    h.app.handle_key(ctrl_k());
    h.app.handle_key(ctrl_k());
    assert_eq!(h.app.dropped_commands(), dropped, "the kill switch is not dropped");
    // It is read first, before the flood.
    let first = h.commands.try_recv();
    assert!(
        matches!(&first, Some(UiCommand::Trade(r)) if matches!(r.intent, TradeIntent::Kill { .. })),
        "{first:?}"
    );
    assert!(h.screen().contains("KILL SWITCH"), "{}", h.screen());
}

#[test]
fn reload_keymap_reads_the_file_again_once_accepted_and_a_bad_file_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keymap.toml");
    let mut h = Harness::new(120, 40);
    let (tx, _rx) = command_channel();
    let (_s, r) = watch::channel(Arc::new(Snapshot::default()));
    let app = std::mem::replace(&mut h.app, headless_app(1, 1, UiConfig::default(), r, tx));
    h.app = app.with_keymap_file(path.clone());
    h.drain();
    std::fs::write(&path, "[global]\nhelp = [\"f2\"]\n").unwrap();
    h.keys(":reload keymap");
    h.key(KeyCode::Enter);
    let cmds = h.drain();
    assert!(matches!(cmds.as_slice(), [UiCommand::Config(_)]), "{cmds:?}");
    h.key(KeyCode::F(2));
    assert!(!h.screen().contains("Keys (from the live keymap)"), "not before its reply");
    h.reply(&cmds[0], Outcome::Accepted(String::new()));
    h.key(KeyCode::F(2));
    assert!(h.screen().contains("Keys (from the live keymap)"), "{}", h.screen());
    h.key(KeyCode::Esc);
    std::fs::write(&path, "[global]\nhelp = [\"f3\"]\nteleport = [\"t\"]\n").unwrap();
    h.command("reload keymap");
    let screen = h.screen();
    assert!(screen.contains("keymap not reloaded") && screen.contains(":3"), "{screen}");
    h.key(KeyCode::F(2));
    assert!(h.screen().contains("Keys (from the live keymap)"), "the old keymap stays");
}

#[test]
fn user_keymap_file_is_loaded_and_a_bad_one_names_the_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keymap.toml");
    assert!(Keymap::load_file(Some(&path)).is_ok(), "missing file: defaults");
    std::fs::write(&path, "[global]\nhelp = [\"f2\"]\n\n[markets]\nteleport = [\"t\"]\n").unwrap();
    let err = Keymap::load_file(Some(&path)).unwrap_err().to_string();
    assert!(err.contains(&format!("{}:5", path.display())), "{err}");
    assert!(err.contains("teleport"), "{err}");
}

/// The public connection as the feed reports it: connected, at `epoch`, after `reconnects`.
fn public_stream(epoch: u64, reconnects: u64) -> ConnSnapshot {
    ConnSnapshot {
        name: "public",
        state: ConnState::Connected,
        epoch,
        reconnects,
        state_age_secs: 1.0,
        upstream: Vec::new(),
        requests_sent: 1,
    }
}

/// A feed report with `per_sec` ticker messages a second.
fn feed_rate(per_sec: f64) -> Arc<FeedHealth> {
    let streams = vec![StreamRate { stream: "ticker", total: 0, per_sec }];
    Arc::new(FeedHealth { connections: vec![public_stream(1, 0)], streams, ..FeedHealth::default() })
}

/// A feed report during a 418 ban of the exchange host with `secs` left.
fn feed_banned(secs: Option<u64>) -> Arc<FeedHealth> {
    let rest = hoga::exchange::upbit::limits::LimitsStatus {
        blocked_for: secs.map(Duration::from_secs),
        ..Default::default()
    };
    Arc::new(FeedHealth { rest, ..FeedHealth::default() })
}

fn busy_events() -> Vec<StoreEvent> {
    use hoga::exchange::types::{Balance, Fill};
    use hoga::feed::{LatencySummary, SubscriberSnapshot};
    use hoga::store::{LogLevel, RuleRow};
    use hoga::trading::rules::{Level, RuleKind};
    let mut ev = vec![
        StoreEvent::BalancesUpdated(vec![
            Balance {
                currency: "KRW".into(),
                balance: dec!(1_234_567),
                locked: dec!(950_000),
                avg_buy_price: Decimal::ZERO,
                unit_currency: "KRW".into(),
            },
            Balance {
                currency: "BTC".into(),
                balance: dec!(0.05),
                locked: Decimal::ZERO,
                avg_buy_price: dec!(90_000_000),
                unit_currency: "KRW".into(),
            },
        ]),
        StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(94_999_000))]),
        StoreEvent::FillApplied(Fill {
            trade_uuid: "t-1".into(),
            order_uuid: "u-0".into(),
            market: MarketId::new("KRW-BTC"),
            side: Some(Side::Bid),
            price: dec!(90_000_000),
            volume: dec!(0.05),
            funds: dec!(4_500_000),
            fee: Some(dec!(2250)),
            is_maker: Some(true),
            timestamp: 1_700_000_000_000,
        }),
        // The monitor's row: distance and age as the monitor computed them.
        StoreEvent::RulesUpdated(vec![RuleRow {
            last: Some(dec!(95_000_000)),
            distance: Some(dec!(-0.03)),
            age: Some(Duration::from_secs(1)),
            ..RuleRow::armed(
                "stop-1",
                MarketId::new("KRW-BTC"),
                RuleKind::StopLoss(Level::Price(dec!(92_150_000))),
            )
        }]),
        StoreEvent::FeedHealthUpdated(Arc::new(FeedHealth {
            connections: vec![ConnSnapshot {
                upstream: ["ticker", "orderbook", "trade"]
                    .map(|kind| (kind.to_string(), vec!["KRW-BTC".to_string()]))
                    .into(),
                ..public_stream(3, 2)
            }],
            streams: vec![StreamRate { stream: "ticker", total: 123_400, per_sec: 1234.0 }],
            subscribers: vec![SubscriberSnapshot {
                proxy: "orderbook".into(),
                id: 1,
                stream: "orderbook".into(),
                markets: vec!["KRW-BTC".into()],
                strategy: "coalesce".into(),
                depth: 0,
                drops: 4,
                delivered: 100,
            }],
            exchange_latency: LatencySummary {
                count: 100,
                avg_us: 300,
                p50_us: 180,
                p99_us: 2400,
                max_us: 3000,
            },
            ..FeedHealth::default()
        })),
    ];
    for (i, level) in
        [LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error].into_iter().enumerate()
    {
        ev.push(StoreEvent::LogRecord {
            level,
            target: "hoga::feed".into(),
            message: format!("{} record {i}", level.label()),
            time: Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, i as u32).unwrap(),
        });
    }
    ev
}

#[test]
fn each_pane_maximised_at_120x40() {
    let mut h = Harness::new(120, 40);
    h.publish(busy_events());
    h.command("layout all");
    h.key(KeyCode::Esc); // the reply's message (its id depends on the other tests)
    let panes = hoga::ui::PaneId::ALL;
    for _ in panes {
        let pane = h.app.ui().focus;
        h.key(KeyCode::Char('z'));
        let screen = h.screen();
        assert!(screen.contains(pane.title()), "{pane:?}:\n{screen}");
        insta::assert_snapshot!(format!("pane_{pane:?}").to_lowercase(), screen);
        h.key(KeyCode::Char('z'));
        h.key(KeyCode::Tab);
    }
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Markets, "tab visited every pane once");
}

#[test]
fn log_pane_filters_by_level() {
    let mut h = Harness::new(120, 40);
    h.publish(busy_events());
    while h.app.ui().focus != hoga::ui::PaneId::Log {
        h.key(KeyCode::Tab);
    }
    let screen = h.screen();
    assert!(screen.contains("INFO record 1") && !screen.contains("DEBUG record 0"), "{screen}");
    h.key(KeyCode::Char('v')); // Info -> Warn
    let screen = h.screen();
    assert!(!screen.contains("INFO record 1") && screen.contains("WARN record 2"), "{screen}");
}

#[test]
fn markets_sort_by_column_and_tabs() {
    let mut h = Harness::new(120, 40);
    let order = |h: &mut Harness| {
        let s = h.screen();
        let pos = |n: &str| s.find(n).unwrap();
        (pos("│ BTC "), pos("│ ETH "), pos("│ XRP "))
    };
    // Default: 24h value descending: BTC, ETH, XRP.
    let (b, e, x) = order(&mut h);
    assert!(b < e && e < x);
    h.key(KeyCode::Char('s')); // value -> age
    h.key(KeyCode::Char('s')); // age -> code
    h.key(KeyCode::Char('s')); // code -> name
    h.key(KeyCode::Char('s')); // name -> price
    h.key(KeyCode::Char('s')); // price -> change
    let (b, e, x) = order(&mut h);
    assert!(b < x && x < e, "change descending: +1.23% > 0% > -2.10%");
    h.key(KeyCode::Char('S'));
    let (b, e, x) = order(&mut h);
    assert!(e < x && x < b, "reversed {e} {x} {b}:\n{}", h.screen());
    h.key(KeyCode::Char('l'));
    let s = h.screen();
    assert!(s.contains("│ ETH ") && !s.contains("│ XRP "), "BTC tab lists BTC-ETH only:\n{s}");
}

#[test]
fn window_title_shows_market_and_last_price() {
    let h = Harness::new(120, 40);
    let title = hoga::ui::app::window_title(h.app.ui(), h.app.snapshot());
    assert_eq!(title, "hoga KRW-BTC 95,000,000 +1.23%");
    // An unread alert leads the title (seen in a tmux status line from another window).
    let mut h = h;
    h.publish(vec![StoreEvent::Alert { time: chrono::Utc::now(), message: "stop fired".into() }]);
    let title = hoga::ui::app::window_title(h.app.ui(), h.app.snapshot());
    assert_eq!(title, "(!1) hoga KRW-BTC 95,000,000 +1.23%");
}

#[test]
fn key_cell_styles_hold_at_80x24_too() {
    let mut h = Harness::new(80, 24);
    h.screen();
    let theme = h.app.theme().clone();
    let buf = h.app.terminal().backend().buffer();
    let (x, y) = find(buf, "95,001,000").expect("best ask on screen");
    assert_eq!(buf[(x, y)].fg, theme.ask.fg.unwrap());
    let (x, y) = find(buf, "94,999,000").expect("a bid on screen");
    assert_eq!(buf[(x, y)].fg, theme.bid.fg.unwrap());
    // The status bar's mode badge uses the demo style.
    let (x, y) = find(buf, "DEMO").unwrap();
    assert_eq!(buf[(x, y)].bg, theme.mode_demo.bg.unwrap_or(Color::Reset));
}

#[test]
fn mouse_click_focuses_the_pane_under_it_and_wheel_scrolls() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut h = Harness::new(120, 40);
    h.screen();
    let book = h.app.last_layout().unwrap().rect(hoga::ui::PaneId::Orderbook).unwrap();
    let click = |kind, column, row| MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE };
    h.app.handle_event(Event::Mouse(click(MouseEventKind::Down(MouseButton::Left), book.x + 2, book.y + 2)));
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    // The click puts the ladder cursor on the level under it (the top ask row shown); the
    // wheel moves it one price down.
    let clicked = h.app.ui().book_price.expect("the click selects the level under it");
    h.app.handle_event(Event::Mouse(click(MouseEventKind::ScrollDown, book.x + 2, book.y + 2)));
    assert!(
        h.app.ui().book_price.is_some_and(|p| p < clicked),
        "{:?} after {clicked}",
        h.app.ui().book_price
    );
}

#[test]
fn large_prints_are_highlighted_on_the_tape() {
    let mut h = Harness::new(120, 40);
    h.screen();
    let theme = h.app.theme().clone();
    let buf = h.app.terminal().backend().buffer();
    // The 2 BTC print (190M KRW) is over the 10M threshold; the 0.001 ones are not.
    let (x, y) = find(buf, "◆").expect("marker on the large print");
    assert_eq!(buf[(x, y)].fg, theme.highlight.fg.unwrap());
    let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
    // The mark follows the print's notional (190,000,000, by magnitude in the narrow pane).
    assert!(row.contains(" 2 ") && (row.contains(" 190.00M◆") || row.contains(" 190,000,000 ◆")), "{row}");
    let markers = screen_text(buf).matches('◆').count();
    assert_eq!(markers, 1, "only one large print");
}

#[test]
fn every_layout_renders_at_many_sizes_without_panicking() {
    let t0 = Instant::now();
    let mut store = Store::new();
    store.apply_batch(market_events(), t0);
    let snap = store.apply_batch(busy_events(), t0);
    let theme = hoga::ui::Theme::default();
    for layout in hoga::ui::layout::LAYOUTS {
        for (w, h) in [
            (1, 1),
            (10, 5),
            (79, 24),
            (80, 23),
            (80, 24),
            (81, 25),
            (100, 30),
            (120, 40),
            (200, 50),
            (300, 90),
        ] {
            let mut ui = hoga::ui::UiState::new(UiConfig { layout: layout.into(), ..UiConfig::default() });
            ui.now = t0;
            hoga::ui::update::on_snapshot(&mut ui, &snap);
            let area = ratatui::layout::Rect::new(0, 0, w, h);
            ui.area = area;
            let mut buf = Buffer::empty(area);
            let screen = hoga::ui::render(area, &mut buf, &ui, &snap, &theme);
            assert_eq!(screen.is_some(), w >= 80 && h >= 24, "{layout} {w}x{h}");
            // Maximised and with the help overlay open too.
            ui.maximized = Some(hoga::ui::PaneId::System);
            ui.overlay = hoga::ui::state::Overlay::Help { scroll: 3 };
            hoga::ui::render(area, &mut buf, &ui, &snap, &theme);
        }
    }
}

#[test]
fn system_samples_redraw_only_while_the_system_pane_is_shown() {
    let mut h = Harness::new(120, 40);
    assert!(!h.app.needs_draw());
    // The default layout hides the System pane: a task table sample is not news.
    h.publish(vec![StoreEvent::TasksUpdated(Vec::new())]);
    assert!(!h.app.needs_draw(), "a sample only the hidden System pane shows must not redraw");
    // The same report twice is no change either (the feed reports every second).
    h.publish(vec![StoreEvent::FeedHealthUpdated(Arc::default())]);
    assert!(!h.app.needs_draw(), "an unchanged feed report must not redraw");
    // The status bar shows the feed figures: a new figure redraws.
    h.publish(vec![StoreEvent::FeedHealthUpdated(feed_rate(42.0))]);
    assert!(h.app.needs_draw());
    h.app.draw().unwrap();
    assert!(h.screen().contains("42 msg/s"));
    // With the System pane on screen, samples redraw again.
    h.command("layout system");
    h.app.draw().unwrap();
    assert!(h.app.last_layout().is_some_and(|l| l.rect(hoga::ui::PaneId::System).is_some()));
    h.publish(vec![StoreEvent::TasksUpdated(Vec::new())]);
    assert!(h.app.needs_draw(), "the System pane shows the task table");
}

/// One change of each kind the store knows, each alone (so a pane reading a section it
/// does not declare in `panes::reads` would keep showing the old value).
fn one_change_of_each_kind() -> Vec<(&'static str, StoreEvent)> {
    use hoga::exchange::types::{Balance, Fill};
    use hoga::store::{RuleRow, StreamState, TradingState};
    use hoga::trading::rules::{Level, RuleKind};
    let mut moved = candles("KRW-BTC").pop().unwrap();
    moved.close = dec!(97_500_000);
    moved.high = dec!(97_500_000);
    let at = |s| Utc.with_ymd_and_hms(2026, 11, 23, 3, 1, s).unwrap();
    vec![
        (
            "ticker of another market",
            StoreEvent::TickerUpdated(ticker("KRW-ETH", dec!(4_700_000), dec!(0.03), dec!(1))),
        ),
        (
            "ticker of the selected market",
            StoreEvent::TickerUpdated(ticker("KRW-BTC", dec!(96_000_000), dec!(-0.05), dec!(2))),
        ),
        ("order book", StoreEvent::BookUpdated(book("KRW-BTC", dec!(96_000_000), dec!(1000)))),
        ("trade", StoreEvent::TradePrinted(trade("KRW-BTC", dec!(96_100_000), dec!(3), Side::Ask, 99))),
        ("candle", StoreEvent::CandleUpdated(moved)),
        (
            "balances",
            StoreEvent::BalancesUpdated(vec![Balance {
                currency: "KRW".into(),
                balance: dec!(7_654_321),
                locked: Decimal::ZERO,
                avg_buy_price: Decimal::ZERO,
                unit_currency: "KRW".into(),
            }]),
        ),
        // At a level of the book above, so the ladder marks it.
        ("open orders", StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(95_998_000))])),
        (
            "fill",
            StoreEvent::FillApplied(Fill {
                trade_uuid: "t-9".into(),
                order_uuid: "u-9".into(),
                market: MarketId::new("KRW-BTC"),
                side: Some(Side::Ask),
                price: dec!(96_000_000),
                volume: dec!(0.01),
                funds: dec!(960_000),
                fee: Some(dec!(480)),
                is_maker: Some(false),
                timestamp: 1_700_000_100_000,
            }),
        ),
        (
            "rules",
            StoreEvent::RulesUpdated(vec![RuleRow {
                last: Some(dec!(97_500_000)),
                distance: Some(dec!(0.0154)),
                age: Some(Duration::from_secs(1)),
                ..RuleRow::armed(
                    "tp-2",
                    MarketId::new("KRW-BTC"),
                    RuleKind::TakeProfit(Level::Price(dec!(99_000_000))),
                )
            }]),
        ),
        ("trading state", StoreEvent::TradingState(TradingState::Halted)),
        (
            "stream state",
            StoreEvent::FeedStatus {
                stream: "upbit-public".into(),
                state: StreamState::Reconnecting,
                retry_in: Some(Duration::from_secs(4)),
            },
        ),
        ("feed health", StoreEvent::FeedHealthUpdated(feed_rate(777.0))),
        (
            "log record",
            StoreEvent::LogRecord {
                level: hoga::store::LogLevel::Error,
                target: "hoga::test".into(),
                message: "a fresh error line".into(),
                time: at(30),
            },
        ),
        (
            "system table",
            StoreEvent::SystemStats {
                title: "bench".into(),
                header: vec!["k".into()],
                rows: vec![vec!["v".into()]],
            },
        ),
        ("alert", StoreEvent::Alert { time: at(40), message: "price alert KRW-BTC".into() }),
        ("alerts acknowledged", StoreEvent::AlertsAcknowledged),
    ]
}

/// The frame the app drew (reusing panes) equals a frame drawn from scratch.
fn assert_matches_a_fresh_frame(h: &mut Harness, after: &str) {
    let mut drawn = Buffer::empty(Rect::default());
    h.app.draw_and_inspect(|frame| drawn = frame.clone()).unwrap();
    let mut fresh = Buffer::empty(drawn.area);
    hoga::ui::panes::render(drawn.area, &mut fresh, h.app.ui(), &h.store.snapshot(), h.app.theme());
    let differs: Vec<(u16, u16)> = (0..drawn.area.height)
        .flat_map(|y| (0..drawn.area.width).map(move |x| (x, y)))
        .filter(|&p| drawn[p] != fresh[p])
        .collect();
    assert!(
        differs.is_empty(),
        "after {after}, the drawn frame differs from a fresh one at {:?}\n--- drawn:\n{}\n--- fresh:\n{}",
        &differs[..differs.len().min(8)],
        screen_text(&drawn),
        screen_text(&fresh)
    );
}

#[test]
fn reused_panes_never_show_old_data() {
    for layout in ["default", "all", "trade", "account", "system"] {
        let mut h = Harness::new(120, 40);
        h.publish(busy_events());
        h.command(&format!("layout {layout}"));
        assert_matches_a_fresh_frame(&mut h, &format!("layout {layout}"));
        for (what, ev) in one_change_of_each_kind() {
            h.publish(vec![ev]);
            assert_matches_a_fresh_frame(&mut h, &format!("{what} ({layout})"));
        }
        // Keys, focus, a resize and a theme switch change what every pane looks like.
        for (what, code) in [("down", KeyCode::Down), ("tab", KeyCode::Tab), ("down", KeyCode::Down)] {
            h.key(code);
            assert_matches_a_fresh_frame(&mut h, &format!("key {what} ({layout})"));
        }
        h.app.handle_event(Event::Resize(100, 30));
        assert_matches_a_fresh_frame(&mut h, &format!("resize ({layout})"));
        h.command("theme light");
        assert_matches_a_fresh_frame(&mut h, &format!("theme ({layout})"));
        let (drawn, reused) = h.app.pane_counts();
        assert!(reused > drawn / 3, "{layout}: panes are reused ({drawn} drawn, {reused} reused)");
    }
}

#[test]
fn a_ticker_of_one_market_redraws_only_the_panes_that_show_prices() {
    let mut h = Harness::new(120, 40);
    h.publish(busy_events());
    h.app.draw().unwrap();
    let shown = h.app.last_layout().unwrap().panes.len() as u64;
    let (drawn0, _) = h.app.pane_counts();
    h.publish(vec![StoreEvent::TickerUpdated(ticker("KRW-XRP", dec!(900), dec!(0.05), dec!(1)))]);
    h.app.draw().unwrap();
    let (drawn1, _) = h.app.pane_counts();
    let redrawn = drawn1 - drawn0;
    assert!(redrawn >= 1 && redrawn < shown, "{redrawn} of {shown} panes redrawn for one ticker");
}

/// Live mode with 10,000,000 KRW and 0.05 BTC.
fn live_harness() -> Harness {
    use hoga::exchange::types::Balance;
    use hoga::store::Mode;
    let mut h = Harness::new(120, 40);
    let balance = |currency: &str, amount: Decimal| Balance {
        currency: currency.into(),
        balance: amount,
        locked: Decimal::ZERO,
        avg_buy_price: if currency == "KRW" { Decimal::ZERO } else { dec!(90_000_000) },
        unit_currency: "KRW".into(),
    };
    h.publish(vec![
        StoreEvent::BalancesUpdated(vec![balance("KRW", dec!(10_000_000)), balance("BTC", dec!(0.05))]),
        StoreEvent::ModeSet { mode: Mode::Live, exchange: "upbit".into() },
    ]);
    h.drain();
    h
}

/// The confirmation is on screen with the side in its colour, and nothing was sent.
fn assert_confirmation(h: &mut Harness, side: Side, expect: &[&str]) {
    assert!(h.drain().is_empty(), "live mode asks first");
    let screen = h.screen();
    assert!(screen.contains("Confirm LIVE order"), "{screen}");
    for e in expect {
        assert!(screen.contains(e), "{e:?} missing:\n{screen}");
    }
    let theme = h.app.theme().clone();
    let buf = h.app.terminal().backend().buffer().clone();
    let (label, style) = match side {
        Side::Bid => (" BUY ", theme.bid),
        Side::Ask => (" SELL ", theme.ask),
    };
    let (x, y) = find(&buf, label).expect("side label");
    let cell = &buf[(x + 1, y)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "{cell:?}");
    assert_eq!(cell.fg, style.fg.unwrap(), "side colour");
}

#[test]
fn live_command_line_buy_asks_first_default_no_and_sends_what_was_confirmed() {
    let mut h = live_harness();
    h.keys(":buy 0.01 @ 95000000");
    h.key(KeyCode::Enter);
    assert_confirmation(&mut h, Side::Bid, &["KRW-BTC", "95,000,000", "0.01", "total    950,475 KRW"]);
    h.key(KeyCode::Enter);
    assert!(h.drain().is_empty(), "enter means No");
    assert!(h.app.ui().pending_order.is_none());
    assert!(!h.screen().contains("Confirm LIVE order"));
    // Again from history, and say yes: the exact request shown is what leaves the UI.
    h.key(KeyCode::Char(':'));
    h.key(KeyCode::Up);
    h.key(KeyCode::Enter);
    assert_confirmation(&mut h, Side::Bid, &["950,475"]);
    h.key(KeyCode::Char('y'));
    let (request, origin) = placed(&h.drain());
    assert_eq!(request.market, MarketId::new("KRW-BTC"));
    assert_eq!(request.side, Side::Bid);
    assert_eq!(request.volume, Some(dec!(0.01)));
    assert_eq!(request.price, Some(dec!(95_000_000)));
    assert_eq!(origin, Origin::Manual);
}

#[test]
fn live_command_line_sell_at_market_asks_and_esc_cancels() {
    let mut h = live_harness();
    h.keys(":sell 0.02 @ market");
    h.key(KeyCode::Enter);
    assert_confirmation(&mut h, Side::Ask, &["KRW-BTC", "price    market", "quantity 0.02", "KRW"]);
    h.key(KeyCode::Esc);
    assert!(h.drain().is_empty());
    assert!(h.app.ui().pending_order.is_none());
    // An order that cannot be sized or is too big is refused here, not sent unconfirmed.
    h.keys(":sell 1 @ market");
    h.key(KeyCode::Enter);
    assert!(h.drain().is_empty());
    assert!(h.screen().contains("not sent"));
    // Verbs that are not orders are sent at once.
    h.keys(":cancel all");
    h.key(KeyCode::Enter);
    let cmds = h.drain();
    assert!(
        matches!(cmds.as_slice(), [UiCommand::Trade(r)] if r.intent == TradeIntent::Cancel(CancelTarget::All)),
        "{cmds:?}"
    );
}

#[test]
fn paper_command_line_orders_are_sent_as_typed_inputs_with_the_selected_market() {
    let mut h = Harness::new(120, 40);
    h.drain();
    h.keys(":buy 0.01 @ 95000000");
    h.key(KeyCode::Enter);
    let cmds = h.drain();
    let [UiCommand::Trade(r)] = cmds.as_slice() else { panic!("{cmds:?}") };
    let TradeIntent::Place { spec: PlaceSpec::Input(input), origin, selected, .. } = &r.intent else {
        panic!("{r:?}")
    };
    assert_eq!(input.side, Side::Bid);
    assert_eq!((origin, selected), (&Origin::Manual, &Some(MarketId::new("KRW-BTC"))));
}

#[test]
fn live_ladder_buy_and_sell_ask_first() {
    let mut h = live_harness();
    h.key(KeyCode::Tab); // markets -> order book
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    h.key(KeyCode::Char('b'));
    assert_confirmation(&mut h, Side::Bid, &["KRW-BTC", "95,000,000"]);
    h.key(KeyCode::Char('n'));
    assert!(h.drain().is_empty());
    h.key(KeyCode::Char('s'));
    assert_confirmation(&mut h, Side::Ask, &["KRW-BTC"]);
    h.key(KeyCode::Char('y'));
    let (request, origin) = placed(&h.drain());
    assert_eq!((request.side, origin), (Side::Ask, Origin::Ladder));
}

#[test]
fn live_portfolio_protect_line_edited_into_an_order_asks_first() {
    let mut h = live_harness();
    for _ in 0..12 {
        if h.app.ui().focus == hoga::ui::PaneId::Portfolio {
            break;
        }
        h.key(KeyCode::Tab);
    }
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Portfolio);
    h.key(KeyCode::Down); // KRW (cash) -> BTC
    h.key(KeyCode::Char('p'));
    let line = h.app.ui().command_line.clone().expect("protect opens the command line").input;
    assert!(line.starts_with("stop "), "{line}");
    for _ in 0..line.chars().count() {
        h.key(KeyCode::Backspace);
    }
    h.keys("sell 100% @ market KRW-BTC");
    h.key(KeyCode::Enter);
    assert_confirmation(&mut h, Side::Ask, &["KRW-BTC", "quantity 0.05"]);
    h.key(KeyCode::Enter);
    assert!(h.drain().is_empty(), "default No");
    // The form opened from the portfolio asks too.
    h.key(KeyCode::Char('o'));
    h.key(KeyCode::Down);
    h.keys("0.01");
    h.key(KeyCode::Enter);
    assert_confirmation(&mut h, Side::Bid, &["KRW-BTC", "0.01"]);
}

/// Issue 15 item 5: a 418 ban of the exchange host is on the status bar with its
/// countdown, at 80 columns too, and leaves when the ban ends.
#[test]
fn a_rest_ban_shows_its_countdown_on_the_status_bar() {
    for (w, hgt) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, hgt);
        h.publish(vec![StoreEvent::FeedHealthUpdated(feed_banned(Some(245)))]);
        assert!(h.screen().contains("REST BANNED 4m05s"), "{w}x{hgt}:\n{}", h.screen());
        h.publish(vec![StoreEvent::FeedHealthUpdated(feed_banned(Some(244)))]);
        assert!(h.screen().contains("REST BANNED 4m04s"), "the countdown ticks");
        h.publish(vec![StoreEvent::FeedHealthUpdated(feed_banned(None))]);
        assert!(!h.screen().contains("REST BANNED"), "gone when the ban ends");
    }
}

/// Ctrl-Z stops the whole process, the stop-loss monitor with it: with a rule armed it
/// asks first (default No) instead of silently leaving the position unprotected.
#[test]
fn ctrl_z_with_an_armed_rule_asks_before_suspending() {
    let mut h = Harness::new(120, 40);
    h.publish(vec![StoreEvent::RulesUpdated(vec![hoga::store::RuleRow::armed(
        "stop-1",
        MarketId::new("KRW-BTC"),
        hoga::trading::rules::RuleKind::StopLoss(hoga::trading::rules::Level::Price(dec!(92_150_000))),
    )])]);
    h.app.handle_key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    let screen = h.screen();
    assert!(screen.contains("Suspend? 1 rule(s) protecting a position will not fire"), "{screen}");
    // No: the dialog closes and nothing else happens (a headless app has no terminal to
    // give back, so a "yes" would only be visible as the flag being consumed).
    h.keys("n");
    let screen = h.screen();
    assert!(!screen.contains("Suspend?"), "{screen}");
    assert!(!h.app.ui().suspend);
    // Yes: the suspend goes ahead (headless, the console owns no terminal, so it returns at
    // once) and the request is consumed.
    h.app.handle_key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    h.keys("y");
    let screen = h.screen();
    assert!(!screen.contains("Suspend?"), "{screen}");
    assert!(!h.app.ui().suspend);
}

/// Issue 16 item 6 and item 3's status line: the System pane lists the bus's last
/// envelopes with their chain ids (a `:buy`, its reply and its order's facts share one),
/// each lane's traffic; the status bar says which config change the gate holds and why.
#[test]
fn the_system_pane_follows_a_chain_and_the_status_bar_says_what_the_gate_holds() {
    use hoga::bus::{BusMetrics, CorrelationId, Lane, LaneMetrics, LaneSpec};
    use hoga::store::system::EnvelopeRow;
    let mut h = Harness::new(160, 50);
    let at = Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap();
    let chain = CorrelationId(4242);
    let row = |seq, lane, source, cause, what: &str| EnvelopeRow {
        seq,
        lane,
        source,
        correlation: chain,
        caused_by: cause,
        what: what.into(),
        at,
    };
    let envelopes = vec![
        row(101, Lane::Trading, "ui", None, "buy KRW-BTC from ui"),
        row(102, Lane::Trading, "trading-desk", Some(101), "reply to ui: buy KRW-BTC accepted"),
        row(107, Lane::Trading, "order-manager", None, "fill KRW-BTC"),
    ];
    let lanes = Lane::ALL
        .iter()
        .map(|&lane| {
            let spec = LaneSpec::default_for(lane);
            LaneMetrics {
                lane,
                capacity: spec.capacity,
                overflow: spec.overflow,
                depth: 0,
                published: if lane == Lane::Trading { 3 } else { 0 },
                delivered: if lane == Lane::Trading { 3 } else { 0 },
                slow: 0,
                over_capacity: 0,
                dropped: 0,
                retried: 0,
                dead_lettered: 0,
            }
        })
        .collect();
    h.publish(vec![
        StoreEvent::BusUpdated(BusMetrics { lanes }, envelopes),
        StoreEvent::ConfigWaiting(Some("max_open_orders = 3 (1 order in flight)".into())),
    ]);
    h.command("layout system");
    h.app.draw().unwrap();
    let screen = h.screen();
    assert!(screen.contains("held: max_open_orders = 3 (1 order in flight)"), "{screen}");
    assert!(screen.contains("bus envelopes"), "{screen}");
    let mut rows = Vec::new();
    for what in ["buy KRW-BTC from ui", "reply to ui: buy KRW-BTC accepted", "fill KRW-BTC"] {
        let (row, line) = screen
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(what))
            .unwrap_or_else(|| panic!("{what}: {screen}"));
        assert!(line.contains("#4242") && line.contains("trading"), "{line}");
        rows.push(row);
    }
    // Newest first: a short pane still shows the newest.
    assert!(rows[2] < rows[1] && rows[1] < rows[0], "{rows:?}: {screen}");
    // The lane table: the trading row counts the three envelopes.
    let trading = screen
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .find(|l| l.starts_with("trading ") && l.split_whitespace().nth(1).is_some_and(|d| d == "0"))
        .unwrap_or_else(|| panic!("the trading lane row: {screen}"));
    let cells: Vec<&str> = trading.split_whitespace().collect();
    assert_eq!(&cells[..5], ["trading", "0", "1024", "3", "3"], "{trading}");
}

// Numbers a trader can read at 120x40 and 80x24, and the P&L (issue 17, items 5 and 6).

/// 0.1 BTC bought in two halves, at 140M and at 145M, each paying Upbit's 0.05 % fee: the
/// order manager's position (average cost with the fees: 142,571,250).
fn btc_after_two_buys() -> hoga::store::account::Position {
    let mut p = hoga::store::account::Position::new(MarketId::new("KRW-BTC"));
    p.apply(Side::Bid, dec!(140_000_000), dec!(0.05), dec!(3_500));
    p.apply(Side::Bid, dec!(145_000_000), dec!(0.05), dec!(3_625));
    p
}

/// A trader's account with BTC at 145M: the exchange's balance still carries the first
/// average (its balance stream carries none), the order manager's position has both
/// buys; a stop at 140,650,000; an ETH balance sold to zero.
fn trader_events() -> Vec<StoreEvent> {
    use hoga::exchange::types::Balance;
    use hoga::store::RuleRow;
    use hoga::trading::rules::{Level, RuleKind};
    let balance = |currency: &str, balance, avg_buy_price| Balance {
        currency: currency.into(),
        balance,
        locked: Decimal::ZERO,
        avg_buy_price,
        unit_currency: "KRW".into(),
    };
    vec![
        StoreEvent::MarketsLoaded(vec![
            info("KRW-BTC", "비트코인", "Bitcoin"),
            info("KRW-ETH", "이더리움", "Ethereum"),
            info("KRW-XRP", "리플", "Ripple"),
            info("KRW-SHIB", "시바이누", "Shiba Inu"),
        ]),
        StoreEvent::TickerUpdated(ticker("KRW-BTC", dec!(145_000_000), dec!(0.0123), dec!(300_000_000_000))),
        StoreEvent::BookUpdated(book("KRW-BTC", dec!(145_000_000), dec!(1000))),
        StoreEvent::BalancesUpdated(vec![
            balance("KRW", dec!(1_234_567), Decimal::ZERO),
            balance("BTC", dec!(0.1), dec!(140_000_000)),
            balance("ETH", Decimal::ZERO, Decimal::ZERO),
        ]),
        StoreEvent::PositionUpdated(btc_after_two_buys()),
        StoreEvent::RulesUpdated(vec![RuleRow {
            last: Some(dec!(145_000_000)),
            distance: Some(dec!(-0.03)),
            age: Some(Duration::from_secs(1)),
            ..RuleRow::armed(
                "stop-1",
                MarketId::new("KRW-BTC"),
                RuleKind::StopLoss(Level::Price(dec!(140_650_000))),
            )
        }]),
    ]
}

/// The text of the pane `pane` on the screen (its rows, borders included).
fn pane_text(h: &mut Harness, pane: hoga::ui::PaneId) -> String {
    let screen = h.screen();
    let r =
        h.app.last_layout().unwrap().rect(pane).unwrap_or_else(|| panic!("{pane:?} not shown:\n{screen}"));
    let buf = h.app.terminal().backend().buffer();
    (r.y..r.y + r.height)
        .map(|y| (r.x..r.x + r.width).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

/// At 80x24 the Portfolio and Monitor panes are shown maximised (the compact layout has
/// no room for them).
fn show(h: &mut Harness, pane: hoga::ui::PaneId) {
    if h.app.last_layout().unwrap().rect(pane).is_none() {
        h.command("layout all");
        h.key(KeyCode::Esc);
        while h.app.ui().focus != pane {
            h.key(KeyCode::Tab);
        }
        h.key(KeyCode::Char('z'));
    }
}

#[test]
fn book_spread_is_never_zero_and_book_and_market_prices_are_in_full_at_both_sizes() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        h.publish(trader_events());
        let book = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        // One 1,000 KRW tick of a 145M BTC is 0.00069 %: it read `(0.00%)`.
        assert!(book.contains("spread 1,000 (0.00069%)"), "{w}x{height}:\n{book}");
        assert!(book.contains("145,001,000"), "{w}x{height}:\n{book}");
        assert!(!book.contains("145M"), "{w}x{height}:\n{book}");
        // The markets list too: it read `145M` in the 38-column pane.
        let markets = pane_text(&mut h, hoga::ui::PaneId::Markets);
        let btc = markets.lines().find(|l| l.contains("+1.23%")).unwrap_or_else(|| panic!("{markets}"));
        assert!(btc.contains(" 145,000,000 "), "{w}x{height}:\n{markets}");
    }
}

#[test]
fn shib_sizes_align_in_the_book_and_both_totals_stay_on_the_pane() {
    let levels: Vec<BookLevel> = (0..15)
        .map(|i| BookLevel {
            ask_price: dec!(0.0123) + dec!(0.0001) * Decimal::from(i + 1),
            ask_size: dec!(41_178_283.5909) + Decimal::from(i * 1000),
            bid_price: dec!(0.0123) - dec!(0.0001) * Decimal::from(i),
            bid_size: if i % 2 == 0 { dec!(1_500_000.5) } else { dec!(1_500_000) },
        })
        .collect();
    let shib = book_of("KRW-SHIB", levels);
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let mut events = trader_events();
        events.push(StoreEvent::TickerUpdated(ticker("KRW-SHIB", dec!(0.0123), dec!(0), dec!(1))));
        events.push(StoreEvent::BookUpdated(shib.clone()));
        h.publish(events);
        h.command("market KRW-SHIB");
        h.key(KeyCode::Esc);
        let book = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        let lines: Vec<&str> = book.lines().collect();
        let ask = lines.iter().find(|l| l.contains("41,178,283.5909")).unwrap_or_else(|| panic!("{book}"));
        let bid = lines.iter().find(|l| l.contains("1,500,000.5")).unwrap_or_else(|| panic!("{book}"));
        let round = lines.iter().find(|l| l.contains("1,500,000 ")).unwrap_or_else(|| panic!("{book}"));
        // Prices at the tick's precision; sizes right-aligned on their decimal point.
        assert!(ask.contains("0.0124"), "{book}");
        // (The first `.5` of the row: the cumulative columns further right have points too.)
        let size_point = |l: &str| l.find(".5").unwrap();
        assert_eq!(size_point(ask), size_point(bid), "decimal points line up:\n{book}");
        // The whole number ends where the others' decimal point is.
        let end = round.find("1,500,000 ").unwrap() + "1,500,000".len();
        assert_eq!(end, size_point(bid), "{book}");
        // Σbid is on the pane with its number, not cut off by Σask's: the bids on screen.
        let totals = lines.iter().find(|l| l.contains("Σask")).unwrap_or_else(|| panic!("{book}"));
        let bids_shown = lines.iter().filter(|l| l.contains("1,500,000") && !l.contains("Σask")).count();
        let sum: Decimal = shib.levels[..bids_shown].iter().map(|l| l.bid_size).sum();
        let sum = hoga::exchange::display::qty(sum, 4);
        // In full, or as the last bid's Σsize cell where the line is too narrow for it.
        let last = lines.iter().rfind(|l| l.contains("1,500,000") && !l.contains("Σask")).unwrap();
        let cell = last.split_whitespace().nth(2).unwrap();
        assert!(
            totals.contains(&format!("Σbid {sum} ")) || totals.contains(&format!("Σbid {cell} ")),
            "{w}x{height}: {totals}\n{book}"
        );
        // The spread at the tick's precision: it read `0.000100`.
        assert!(book.contains("spread 0.0001 ("), "{w}x{height}:\n{book}");
    }
}

#[test]
fn the_spread_is_at_the_precision_of_the_tick_it_trades_at() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let mut events = trader_events();
        events.push(StoreEvent::MarketsLoaded(vec![
            info("KRW-BTC", "비트코인", "Bitcoin"),
            info("KRW-DOGE", "도지코인", "Dogecoin"),
        ]));
        events.push(StoreEvent::TickerUpdated(ticker("KRW-DOGE", dec!(300), dec!(0), dec!(1))));
        events.push(StoreEvent::BookUpdated(book("KRW-DOGE", dec!(300), dec!(1))));
        h.publish(events);
        h.command("market KRW-DOGE");
        h.key(KeyCode::Esc);
        let book = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        // One 1 KRW tick of DOGE at 300 read `1.00`.
        assert!(book.contains("spread 1 (0.33%)"), "{w}x{height}:\n{book}");
    }
}

#[test]
fn monitor_trigger_is_a_full_price_at_both_sizes() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        h.publish(trader_events());
        show(&mut h, hoga::ui::PaneId::Monitor);
        let pane = pane_text(&mut h, hoga::ui::PaneId::Monitor);
        let row = pane.lines().find(|l| l.contains("BTC")).unwrap_or_else(|| panic!("{pane}"));
        // It read `4M` or `…` in a two-column cell.
        assert!(row.contains(" 140,650,000 "), "{w}x{height}:\n{pane}");
        assert!(row.contains("armed"), "{w}x{height}:\n{pane}");
    }
}

#[test]
fn portfolio_shows_the_average_after_two_buys_and_the_open_pnl_at_both_sizes() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        h.publish(trader_events());
        show(&mut h, hoga::ui::PaneId::Portfolio);
        let pane = pane_text(&mut h, hoga::ui::PaneId::Portfolio);
        let btc = pane.lines().find(|l| l.contains("BTC")).unwrap_or_else(|| panic!("{pane}"));
        // (0.05 × 140M + 3,500 + 0.05 × 145M + 3,625) / 0.1, in full: it stayed `140M`.
        assert!(btc.contains(" 142,571,250 "), "{w}x{height}:\n{pane}");
        assert!(btc.contains(" 0.1 "), "{w}x{height}:\n{pane}");
        // 0.1 × 145M − the 7,250 selling fee − 14,257,125 paid: +235,625, +1.65 % of it.
        assert!(btc.contains("+235,625"), "{w}x{height}:\n{pane}");
        assert!(pane.contains("P&L +235,625 (+1.65%)"), "{w}x{height}:\n{pane}");
        assert!(pane.contains("KRW"), "the quote currency stays:\n{pane}");
        assert!(!pane.contains("ETH"), "a zero balance goes away:\n{pane}");
        if w == 80 {
            // Maximised there is room for the percentage and the value per coin.
            assert!(btc.contains("+1.65%") && btc.contains("14,500,000"), "{pane}");
        }
        let status = h.screen().lines().next().unwrap().to_string();
        assert!(status.contains("P&L +235,625 (+1.65%)"), "{w}x{height}: {status}");
    }
}

#[test]
fn realized_pnl_per_coin_total_and_today_after_fees() {
    use hoga::store::account::Position;
    // XRP: 1,000 bought at 800 (fee 400), sold at 850 (fee 425): +49,175 after fees.
    let mut xrp = Position::new(MarketId::new("KRW-XRP"));
    xrp.apply(Side::Bid, dec!(800), dec!(1000), dec!(400));
    let realized = xrp.apply(Side::Ask, dec!(850), dec!(1000), dec!(425));
    assert_eq!(realized, dec!(49_175));
    // The harness's clock reads 12:04:05 KST; the sale was at 10:00 KST the same day.
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let mut events = trader_events();
        events.push(StoreEvent::PositionUpdated(xrp.clone()));
        events.push(StoreEvent::Realized { pnl: realized, at });
        h.publish(events);
        show(&mut h, hoga::ui::PaneId::Portfolio);
        // Maximised, every figure has room.
        if h.app.ui().maximized.is_none() {
            h.command("layout all");
            h.key(KeyCode::Esc);
            while h.app.ui().focus != hoga::ui::PaneId::Portfolio {
                h.key(KeyCode::Tab);
            }
            h.key(KeyCode::Char('z'));
        }
        let pane = pane_text(&mut h, hoga::ui::PaneId::Portfolio);
        assert!(pane.contains("today +49,175"), "{w}x{height}:\n{pane}");
        assert!(pane.contains("realized +49,175"), "{w}x{height}:\n{pane}");
        let xrp_row = pane.lines().find(|l| l.contains("XRP")).unwrap_or_else(|| panic!("{pane}"));
        assert!(xrp_row.contains("sold") && xrp_row.contains("+49,175"), "{w}x{height}:\n{pane}");
        let theme = h.app.theme().clone();
        let buf = h.app.terminal().backend().buffer();
        let (x, y) = find(buf, "+49,175").unwrap();
        assert_eq!(buf[(x, y)].fg, theme.rise.fg.unwrap(), "a gain in the rise colour");
        let status = screen_text(buf).lines().next().unwrap().to_string();
        if w == 120 {
            assert!(status.contains("today +49,175"), "{status}");
        }
    }
}

/// Focuses a pane with Tab (bounded: the pane must be shown).
fn focus(h: &mut Harness, pane: hoga::ui::PaneId) {
    for _ in 0..12 {
        if h.app.ui().focus == pane {
            return;
        }
        h.key(KeyCode::Tab);
    }
    panic!("{pane:?} is not shown");
}

/// The text of the screen row holding `needle`.
fn row_with(screen: &str, needle: &str) -> String {
    screen.lines().find(|l| l.contains(needle)).unwrap_or_default().to_string()
}

/// Issue 17 items 3 and 5: a denied order is listed in the Orders pane with its reason,
/// in the error style, the selected one's reason in full; an open quantity of 0.1 reads
/// 0.1 and its price 94,999,000 (not `0`, not `95M`). At 120x40 (default layout) and
/// 80x24 (the account layout, where the pane has the whole right column).
#[test]
fn a_denied_order_is_listed_in_the_orders_pane_with_its_reason() {
    for (w, h_, layout) in [(120, 40, None), (80, 24, Some("account"))] {
        let mut h = Harness::new(w, h_);
        if let Some(l) = layout {
            h.command(&format!("layout {l}"));
        }
        let mut open = open_order("KRW-BTC", dec!(94_999_000));
        open.remaining_volume = dec!(0.1);
        h.publish(vec![StoreEvent::OrdersUpdated(vec![open])]);
        h.drain();
        let cmds = h.command("buy 0.001 @ 95000000");
        let [cmd] = cmds.as_slice() else { panic!("{cmds:?}") };
        let reason = "max_open_orders is 3: 3 orders are open (cancel one or raise it with :set)";
        h.reply(cmd, Outcome::Denied(reason.into()));
        let screen = h.screen();
        let open_row = row_with(&screen, "KRW-BTC BUY");
        assert!(open_row.contains("94,999,000  0.1 "), "{w}x{h_}: {open_row:?}\n{screen}");
        // The row may be cut at the pane's edge, a word at a time (never inside a number).
        // In a narrow pane the market is its coin so the price still fits.
        let denied = row_with(&screen, "denied ");
        assert!(
            denied.contains("denied  BUY KRW-BTC 0.001 @ 95,000,000")
                || denied.contains("denied BUY BTC 0.001 @ 95,000,000"),
            "{w}x{h_}: {denied:?}\n{screen}"
        );
        let (x, y) = find(h.app.terminal().backend().buffer(), "denied ").unwrap();
        let theme = hoga::ui::theme::Theme::default();
        assert_eq!(h.app.terminal().backend().buffer()[(x, y)].fg, theme.error.fg.unwrap_or(Color::Reset));
        // On the refused row, its reason in full below the rows (wrapped).
        focus(&mut h, hoga::ui::PaneId::Orders);
        h.key(KeyCode::Down);
        let screen = h.screen();
        // The pane's rows, borders taken out, read as one text.
        let flat: String = screen.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("cancel one or raise it with :set)"), "{w}x{h_}:\n{screen}");
        assert!(flat.contains("12:04:05 KST denied buy KRW-BTC"), "{w}x{h_}:\n{screen}");
    }
}

/// Issue 17 item 4: the form shows no error before anything is typed; the price reads
/// with separators; fee and total are at KRW's precision (whole won, marked when
/// rounded), and a price outside the band is warned about before Enter. At 120x40 and
/// 80x24.
#[test]
fn the_order_form_shows_krw_amounts_in_whole_won_and_warns_outside_the_band() {
    use hoga::exchange::types::Balance;
    for (w, h_) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, h_);
        h.publish(vec![StoreEvent::BalancesUpdated(vec![Balance {
            currency: "KRW".into(),
            balance: dec!(10_000_000),
            locked: Decimal::ZERO,
            avg_buy_price: Decimal::ZERO,
            unit_currency: "KRW".into(),
        }])]);
        h.key(KeyCode::Char('o'));
        let screen = h.screen();
        assert!(screen.contains("type a size (qty)"), "{w}x{h_}:\n{screen}");
        assert!(!screen.contains("size:"), "no error before anything is typed:\n{screen}");
        for _ in 0..12 {
            h.key(KeyCode::Backspace);
        }
        h.keys("95000999");
        assert!(h.screen().contains("95,000,999▏"), "separators while typing");
        h.key(KeyCode::Down);
        h.keys("0.00012345");
        let screen = h.screen();
        assert!(screen.contains("price   95,000,999"), "{w}x{h_}:\n{screen}");
        // 95,000,000 × 0.00012345 = 11,727.75; fee 5.863875; total 11,733.613875.
        assert!(screen.contains("fee ≈6 · total ≈11,734 KRW"), "{w}x{h_}:\n{screen}");
        assert!(!screen.contains("11,733.6"), "{w}x{h_}:\n{screen}");
        // 120,000,000 is 26 % from the last 95,000,000: the band (5 %) will refuse it.
        h.key(KeyCode::Up);
        for _ in 0..8 {
            h.key(KeyCode::Backspace);
        }
        h.keys("120000000");
        let screen = h.screen();
        // Wrapped inside the form: its two ends are on screen.
        assert!(screen.contains("price is 26.4% from the last"), "{w}x{h_}:\n{screen}");
        assert!(screen.contains("the risk gate will refuse it"), "{w}x{h_}:\n{screen}");
        // Ctrl-C closes the form like the command line; nothing is sent.
        h.drain();
        h.app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert!(h.app.ui().form.is_none());
        assert!(!h.app.ui().quit);
        assert!(h.drain().is_empty());
    }
}

/// A Monitor row as the monitor publishes it: armed, held, a fresh price 1 s old.
fn monitor_row(id: &str, market: &str, kind: hoga::trading::rules::RuleKind) -> hoga::store::RuleRow {
    hoga::store::RuleRow {
        last: Some(dec!(145_000_000)),
        distance: Some(dec!(0.0514)),
        age: Some(Duration::from_secs(1)),
        ..hoga::store::RuleRow::armed(id, MarketId::new(market), kind)
    }
}

/// A take-profit on BTC, a stop on SOL whose position is gone, an OCO on ETH and a stop
/// that is done.
fn monitor_rows() -> Vec<hoga::store::RuleRow> {
    use hoga::trading::monitor::RulePosition;
    use hoga::trading::rules::{Level, RuleKind, RuleState};
    vec![
        monitor_row("a", "KRW-BTC", RuleKind::TakeProfit(Level::Price(dec!(152_452_000)))),
        hoga::store::RuleRow {
            position: RulePosition::Gone,
            ..monitor_row("b", "KRW-SOL", RuleKind::StopLoss(Level::Price(dec!(234_200))))
        },
        monitor_row(
            "c",
            "KRW-ETH",
            RuleKind::Oco { stop: Level::Price(dec!(4_365_000)), take: Level::Price(dec!(4_725_000)) },
        ),
        hoga::store::RuleRow {
            state: RuleState::Done,
            ..monitor_row("d", "KRW-XRP", RuleKind::StopLoss(Level::Price(dec!(824))))
        },
    ]
}

/// Issue 17 item 5 and the tester's finding 4: the kind column printed the trigger cut
/// off (`tp 15`, `tp 15245200`). Every price is in the trigger column, whole, at both
/// sizes; the kind column holds words; the title counts what protects.
#[test]
fn monitor_prices_are_whole_and_the_title_counts_what_protects_at_both_sizes() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let mut events = trader_events();
        events.push(StoreEvent::RulesUpdated(monitor_rows()));
        h.publish(events);
        // At 80x24 the pane is shown in a layout that has it (`trade`), not maximised.
        if w == 80 {
            h.command("layout trade");
            h.key(KeyCode::Esc);
        }
        let pane = pane_text(&mut h, hoga::ui::PaneId::Monitor);
        let ctx = format!("{w}x{height}:\n{pane}");
        assert!(pane.contains("Monitor 2 armed · 1 gone"), "{ctx}");
        let btc = row_with(&pane, "BTC");
        assert!(btc.contains(" tp ") && btc.contains(" 152,452,000 "), "{ctx}");
        assert!(!btc.contains("tp 15 "), "{ctx}");
        let lines: Vec<&str> = pane.lines().collect();
        // Rows that do not fit say how many are out of sight.
        if let Some(sol) = lines.iter().find(|l| l.contains("SOL")) {
            assert!(sol.contains(" 234,200 ") && sol.contains("position gone"), "{ctx}");
        }
        if pane.contains("ETH") {
            let at = lines.iter().position(|l| l.contains("ETH")).unwrap();
            assert!(lines[at].contains("oco stop") && lines[at].contains(" 4,365,000 "), "{ctx}");
            assert!(lines[at + 1].contains("oco tp") && lines[at + 1].contains(" 4,725,000 "), "{ctx}");
        }
        if !pane.contains("XRP") {
            assert!(pane.contains("more ↓"), "{ctx}");
        }
    }
}

/// The tester's finding 5: at 80x24 the Monitor showed 1 of 2 rules and nothing said so.
/// The rest are counted on the pane's last line and the pane scrolls to them.
#[test]
fn monitor_rows_out_of_sight_are_counted_and_scrolled_to() {
    let mut h = Harness::new(120, 40);
    let mut events = trader_events();
    events.push(StoreEvent::RulesUpdated(monitor_rows()));
    h.publish(events);
    let pane = pane_text(&mut h, hoga::ui::PaneId::Monitor);
    // Three body lines: BTC, SOL and the OCO's two lines do not fit; XRP is below too.
    assert!(pane.contains("+2 more ↓"), "{pane}");
    assert!(pane.contains("BTC") && !pane.contains("XRP"), "{pane}");
    focus(&mut h, hoga::ui::PaneId::Monitor);
    for _ in 0..10 {
        h.key(KeyCode::Down);
    }
    let pane = pane_text(&mut h, hoga::ui::PaneId::Monitor);
    assert!(pane.contains("XRP") && !pane.contains("BTC"), "{pane}");
    assert!(pane.contains("above ↑"), "{pane}");
    let xrp = row_with(&pane, "XRP");
    assert!(xrp.contains(" 824 ") && xrp.contains("done"), "{pane}");
}

/// The tester's finding 2: the quit prompt counted rules that were done or whose position
/// was gone. It counts what protects a position, and says so.
#[test]
fn quit_counts_only_rules_that_protect_a_position() {
    let mut h = Harness::new(120, 40);
    h.publish(vec![StoreEvent::RulesUpdated(monitor_rows())]);
    h.key(KeyCode::Char('q'));
    let screen = h.screen();
    assert!(screen.contains("Quit with 0 open order(s) and 2 rule(s) protecting a position?"), "{screen}");
    assert!(screen.contains("rules 2"), "the status bar counts the same: {screen}");
}

/// Finding 3: a click on a row of the book with no price of its own (here the Σ totals)
/// puts the ladder cursor on the best bid drawn, not nowhere (the cursor then followed
/// the book, and `b` bought at whatever the best bid had become); deeper than the rows
/// that fit, the ladder scrolls to it; once the book moves away from that price, the
/// title says where the cursor is.
#[test]
fn a_click_on_the_book_totals_pins_the_cursor_and_the_title_says_when_it_is_off_the_book() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut h = Harness::new(120, 40);
    h.screen();
    let (x, y) = find(h.app.terminal().backend().buffer(), "Σask").expect("the totals row");
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    h.app.handle_event(Event::Mouse(click));
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    assert_eq!(h.app.ui().book_price, Some(dec!(95_000_000)), "the best bid drawn");
    assert!(!h.screen().contains("off the book"));
    // Ten ticks up: 95,000,000 is still a bid level, deeper than the rows that fit: the
    // ladder scrolls to keep it on screen.
    h.publish(vec![StoreEvent::BookUpdated(book("KRW-BTC", dec!(95_010_000), dec!(1000)))]);
    let book_pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
    assert!(book_pane.lines().skip(1).any(|l| l.contains("95,000,000")), "drawn at 120x40:\n{book_pane}");
    assert!(!book_pane.contains("off"), "{book_pane}");
    // Away from the book entirely, and with the focus elsewhere: still said.
    h.publish(vec![StoreEvent::BookUpdated(book("KRW-BTC", dec!(96_000_000), dec!(1000)))]);
    h.key(KeyCode::Tab);
    assert_ne!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    let book_pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
    assert!(book_pane.contains("off book 95,000,000"), "{book_pane}");
}

/// Findings 4 and 5 (Orders pane): a refused order of 0.000000001 BTC reads as that, never
/// `0`; in the `trade` layout at 80x24 the pane shows the rows that fit (not only its
/// header), says how many more there are, and scrolls with the cursor.
#[test]
fn the_orders_pane_shows_a_tiny_size_in_full_and_the_rows_that_fit_at_80x24() {
    let mut h = Harness::new(80, 24);
    h.command("layout trade");
    let orders: Vec<Order> =
        (0..4).map(|i| open_order("KRW-BTC", dec!(94_990_000) - Decimal::from(i * 1000))).collect();
    h.publish(vec![StoreEvent::OrdersUpdated(orders)]);
    let cmds = h.command("buy 0.000000001 @ 95000000");
    let [cmd] = cmds.as_slice() else { panic!("{cmds:?} {:?}", h.app.ui().message) };
    h.reply(cmd, Outcome::Denied("volume below the minimum unit".into()));
    let text = pane_text(&mut h, hoga::ui::PaneId::Orders);
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows.len() >= 3, "{text}");
    assert!(text.contains("94,990,000"), "the first open order shows:\n{text}");
    assert!(text.contains("more"), "a hint says rows are hidden:\n{text}");
    // The cursor down to the refusal scrolls it into view, its size in full.
    h.app.handle_event(Event::Mouse(crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column: h.app.last_layout().unwrap().rect(hoga::ui::PaneId::Orders).unwrap().x + 1,
        row: h.app.last_layout().unwrap().rect(hoga::ui::PaneId::Orders).unwrap().y,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orders);
    for _ in 0..4 {
        h.key(KeyCode::Down);
    }
    let text = pane_text(&mut h, hoga::ui::PaneId::Orders);
    assert!(text.contains("0.000000001"), "{text}");
    assert!(!text.contains(" 0 @"), "{text}");
}

/// Finding 3: the ladder's confirmation box says when the order crosses the book (a buy
/// at the best ask fills at once, as a taker), beside the message line's full warning.
#[test]
fn the_ladder_confirmation_box_says_when_the_order_crosses_the_book() {
    let mut h = Harness::new(120, 40);
    h.key(KeyCode::Tab);
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    h.key(KeyCode::Up); // from the best bid to the best ask
    h.key(KeyCode::Char('b'));
    let screen = h.screen();
    assert!(screen.contains("! crosses the book: fills at once (taker)"), "{screen}");
    assert!(screen.contains("crosses the book: fills at once as a taker at ~95,001,000"), "{screen}");
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('b'));
    assert!(!h.screen().contains("crosses the book"));
}

/// Found by a tester at 120x40: the Portfolio showed 2 of 4 rows with no word of the
/// others, a coin sold to zero was one of the hidden ones, and the KRW balance read
/// `17.2M` where every other place prints it in full. Now the rows left out are said
/// (`↓ 21 more`), the cursor scrolls to them, the sold coin's row keeps its realized P&L,
/// KRW is an amount at its precision, and the realized column is there when maximised.
#[test]
fn portfolio_says_the_rows_it_leaves_out_scrolls_to_a_sold_coin_and_prints_krw_in_full() {
    use hoga::exchange::types::Balance;
    let balance = |currency: &str, balance| Balance {
        currency: currency.into(),
        balance,
        locked: Decimal::ZERO,
        avg_buy_price: dec!(1000),
        unit_currency: "KRW".into(),
    };
    let mut sol = hoga::store::account::Position::new(MarketId::new("KRW-SOL"));
    sol.apply(Side::Bid, dec!(230_000), dec!(2), dec!(230));
    let realized = sol.apply(Side::Ask, dec!(240_000), dec!(2), dec!(240));
    assert_eq!(realized, dec!(19_530));
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let mut events = trader_events();
        let mut balances = vec![balance("KRW", dec!(9_999_754.6549388)), balance("BTC", dec!(0.1))];
        balances.extend((0..24).map(|i| balance(&format!("C{i:02}"), Decimal::from(10 + i))));
        // SOL is sold: the exchange lists it at zero.
        balances.push(balance("SOL", Decimal::ZERO));
        events.push(StoreEvent::BalancesUpdated(balances));
        events.push(StoreEvent::PositionUpdated(sol.clone()));
        h.publish(events);
        show(&mut h, hoga::ui::PaneId::Portfolio);
        focus(&mut h, hoga::ui::PaneId::Portfolio);
        let pane = pane_text(&mut h, hoga::ui::PaneId::Portfolio);
        let krw = row_with(&pane, "│KRW ");
        assert!(krw.contains("≈9,999,755") && !krw.contains('M'), "{w}x{height}:\n{pane}");
        assert!(pane.contains(" more"), "{w}x{height}: rows left out are said:\n{pane}");
        assert!(pane.contains("↓ ") && !pane.contains("↑ "), "{w}x{height}:\n{pane}");
        assert!(!pane.contains("SOL"), "{w}x{height}:\n{pane}");
        // To the last row: the sold coin, with its realized P&L.
        for _ in 0..30 {
            h.key(KeyCode::Down);
        }
        let pane = pane_text(&mut h, hoga::ui::PaneId::Portfolio);
        let sold = row_with(&pane, "SOL");
        assert!(sold.contains("sold") && sold.contains("+19,530"), "{w}x{height}:\n{pane}");
        assert!(pane.contains("↑ ") && !pane.contains("↓ "), "{w}x{height}:\n{pane}");
        if h.app.ui().maximized == Some(hoga::ui::PaneId::Portfolio) {
            assert!(pane.contains("realized"), "{w}x{height}: the per-coin column:\n{pane}");
        }
    }
}

/// Found by a tester at 120x40 (default layout): the Portfolio showed one coin row under
/// its P&L line and column titles; a shortened P&L lost its `+` (`1.75M`); locked KRW
/// read `292,045.95`. Now the pane has room for its P&L line, titles and four rows (KRW
/// and three coins) with the rest said (`↓ 1 more`), a shortened gain keeps its sign and
/// locked KRW is whole won marked `≈`.
#[test]
fn portfolio_at_120x40_shows_three_coins_a_signed_short_pnl_and_locked_krw_in_won() {
    use hoga::exchange::types::Balance;
    let balance = |currency: &str, balance, locked, avg_buy_price| Balance {
        currency: currency.into(),
        balance,
        locked,
        avg_buy_price,
        unit_currency: "KRW".into(),
    };
    let mut h = Harness::new(120, 40);
    let mut events = trader_events();
    events.push(StoreEvent::BalancesUpdated(vec![
        balance("KRW", dec!(9_000_000), dec!(292_045.95), Decimal::ZERO),
        balance("BTC", dec!(0.1), Decimal::ZERO, dec!(140_000_000)),
        balance("ETH", dec!(2), Decimal::ZERO, dec!(3_000_000)),
        balance("XRP", dec!(1000), Decimal::ZERO, dec!(800)),
        balance("SHIB", dec!(1_000_000), Decimal::ZERO, dec!(0.0123)),
    ]));
    // ETH at 4.5M on 2 bought at 3M: about +3M open, shortened in the narrow pane.
    events.push(StoreEvent::TickerUpdated(ticker("KRW-ETH", dec!(4_500_000), dec!(0), dec!(1))));
    events.push(StoreEvent::TickerUpdated(ticker("KRW-XRP", dec!(850), dec!(0), dec!(1))));
    events.push(StoreEvent::TickerUpdated(ticker("KRW-SHIB", dec!(0.0123), dec!(0), dec!(1))));
    h.publish(events);
    let pane = pane_text(&mut h, hoga::ui::PaneId::Portfolio);
    for coin in ["│BTC ", "│ETH ", "│XRP "] {
        assert!(pane.contains(coin), "{coin:?} is shown:\n{pane}");
    }
    let eth = row_with(&pane, "│ETH ");
    assert!(eth.contains(" +2.9") || eth.contains(" +2,9"), "a gain keeps its sign:\n{pane}");
    assert!(row_with(&pane, "└").contains("↓ 1 more"), "said on the border:\n{pane}");
    // Maximised, the locked column has room.
    focus(&mut h, hoga::ui::PaneId::Portfolio);
    h.key(KeyCode::Char('z'));
    let pane = pane_text(&mut h, hoga::ui::PaneId::Portfolio);
    let krw = row_with(&pane, "│KRW ");
    assert!(krw.contains("≈292,046") && !krw.contains("292,045.95"), "{pane}");
}

/// Thirty more KRW markets (rows overflow the pane), a warning flag on one of them and
/// Bitcoin's day of hourly candles, rising from 94,000,000 to 95,000,000.
fn markets_table_events() -> Vec<StoreEvent> {
    let mut list: Vec<MarketInfo> = vec![
        info("KRW-BTC", "비트코인", "Bitcoin"),
        info("KRW-ETH", "이더리움", "Ethereum"),
        info("KRW-XRP", "리플", "Ripple"),
        MarketInfo { warning: true, ..info("KRW-WRN", "경고코인클래식", "Warned Classic") },
    ];
    let mut tickers = vec![ticker("KRW-WRN", dec!(12), dec!(-0.05), dec!(80_000_000_000))];
    for i in 0..30 {
        let code = format!("KRW-C{i:02}");
        list.push(info(&code, &format!("코인{i:02}"), &format!("Coin {i:02}")));
        tickers.push(ticker(
            &code,
            Decimal::from(100 + i),
            Decimal::new(i - 15, 3),
            Decimal::from(1_000_000 * (i + 1)),
        ));
    }
    let hour = 1_796_461_200_000i64;
    let candles: Vec<Candle> = (0..24)
        .map(|i| {
            let close = Decimal::from(94_000_000 + i * 1_000_000 / 23);
            Candle {
                market: MarketId::new("KRW-BTC"),
                timeframe: Timeframe::H1,
                start: hour - (23 - i) * 3_600_000,
                open: close,
                high: close + dec!(100_000),
                low: close - dec!(100_000),
                close,
                volume: dec!(1),
                value: close,
                timestamp: hour,
            }
        })
        .collect();
    let mut ev = vec![StoreEvent::MarketsLoaded(list), StoreEvent::TickersUpdated(tickers)];
    ev.push(StoreEvent::DayLoaded { market: MarketId::new("KRW-BTC"), candles, at_ms: hour + 60_000 });
    ev
}

/// The markets table at both sizes: names in the configured language, the sorted column
/// marked (on the bottom border when its column gave way), a flag with its legend, which
/// rows of how many are shown, and, with room (zoomed), the day's sparkline and its 24 h
/// high and low.
#[test]
fn the_markets_table_shows_names_flags_sort_scroll_and_the_day_at_both_sizes() {
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut hs = Harness::new(w, h);
        hs.publish(markets_table_events());
        let screen = hs.screen();
        let row = |s: &str, code: &str| {
            s.lines().find(|l| l.contains(&format!("│ {code} "))).unwrap_or_default().to_string()
        };
        assert!(row(&screen, "BTC").contains("비트코인"), "{w}x{h} a name:\n{screen}");
        // Sorted by value, whose column gave way: named on the border.
        assert!(screen.contains("by value▼"), "{w}x{h} the sort mark:\n{screen}");
        // Flag before a cut name (no room for a flag column), and its legend.
        let wrn = row(&screen, "WRN");
        assert!(wrn.contains("유의") && wrn.contains('…'), "{w}x{h} the flag:\n{screen}");
        assert!(
            screen.contains("유의 investment warning") || screen.contains("유의 warning"),
            "{w}x{h} legend:\n{screen}"
        );
        let buf = hs.app.terminal().backend().buffer().clone();
        let (x, y) = find(&buf, "유의").expect("the flag drawn");
        assert_eq!(
            buf[(x, y)].fg,
            hs.app.theme().warning.fg.unwrap(),
            "{w}x{h}: the flag in the warning colour"
        );
        // 34 KRW markets do not fit: which are shown, of how many.
        let shown = hs.app.last_layout().and_then(|l| l.rect(hoga::ui::PaneId::Markets)).unwrap().height - 4;
        assert!(screen.contains(&format!(" 1-{shown}/34 ")), "{w}x{h} the scroll indicator:\n{screen}");
        // Zoomed: the value column with its mark, and Bitcoin's day.
        hs.key(KeyCode::Char('z'));
        let screen = hs.screen();
        assert!(screen.contains("value▼") && row(&screen, "BTC").contains("300,000M"), "{w}x{h}:\n{screen}");
        assert!(row(&screen, "BTC").contains("▁▁▂▂▂▃▃▃▃▄▄▄▅▅▅▆▆▆▆▇▇▇██"), "{w}x{h} the sparkline:\n{screen}");
        assert!(!row(&screen, "ETH").contains('▁'), "{w}x{h} no day loaded: no line:\n{screen}");
        if w == 120 {
            // 24 h high and low: the last hour's high and the first hour's low.
            let btc = row(&screen, "BTC");
            assert!(btc.contains("95,100,000") && btc.contains("93,900,000"), "{screen}");
            assert!(screen.contains("hi 24h") && screen.contains("lo 24h"), "{screen}");
        }
    }
}

/// `m`: the tab's five biggest gainers and five biggest losers; Enter selects one.
#[test]
fn top_movers_lists_five_gainers_and_five_losers_and_enter_selects() {
    let mut h = Harness::new(120, 40);
    h.publish(markets_table_events());
    h.drain();
    h.key(KeyCode::Char('m'));
    let screen = h.screen();
    assert!(screen.contains("movers"), "{screen}");
    let pane = pane_text(&mut h, hoga::ui::PaneId::Markets);
    let codes: Vec<&str> = pane
        .lines()
        .filter_map(|l| l.strip_prefix("│ ").and_then(|r| r.split_whitespace().next()))
        .filter(|c| c.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    // BTC's +1.23% sits between C28's +1.3% and C27's +1.2%; ETH's -2.1% after WRN's -5%.
    assert_eq!(codes, ["C29", "C28", "BTC", "C27", "C26", "WRN", "ETH", "C00", "C01", "C02"], "{pane}");
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    assert_eq!(h.drain()[0], UiCommand::SelectMarket(MarketId::new("KRW-C28")));
    h.key(KeyCode::Char('m'));
    assert!(!h.screen().contains("movers"));
}

// The tape flags size (issue 19, item 5).

/// 30 more prints of 0.001 BTC (95,000 KRW) on KRW-BTC, then a buy of 0.005 (475,000 KRW:
/// five times the median, far under the absolute 10M) and a sell of 0.0049 just under.
fn tape_events() -> Vec<StoreEvent> {
    let mut ev: Vec<StoreEvent> = (100..130)
        .map(|i| {
            let side = if i % 2 == 0 { Side::Bid } else { Side::Ask };
            StoreEvent::TradePrinted(trade("KRW-BTC", dec!(95_000_000), dec!(0.001), side, i))
        })
        .collect();
    ev.push(StoreEvent::TradePrinted(trade("KRW-BTC", dec!(95_000_000), dec!(0.005), Side::Bid, 130)));
    ev.push(StoreEvent::TradePrinted(trade("KRW-BTC", dec!(95_000_000), dec!(0.0049), Side::Ask, 131)));
    ev
}

/// In the default layout at 120x40 and at 80x24 the tape has its notional column and the
/// buy/sell split in its title, and a print of five times the median notional is bold,
/// reversed, in its side's colour and marked `◆`, while one just under is plain.
#[test]
fn a_large_print_is_highlighted_with_its_notional_at_both_sizes() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        h.publish(tape_events());
        let pane = pane_text(&mut h, hoga::ui::PaneId::Trades);
        insta::assert_snapshot!(format!("tape_large_print_{w}x{height}"), pane);
        let r = h.app.last_layout().unwrap().rect(hoga::ui::PaneId::Trades).unwrap();
        let buf = h.app.terminal().backend().buffer().clone();
        // Where `needle` starts in the tape (its cells are one column each).
        let in_pane = |needle: &str| {
            (r.y..r.y + r.height)
                .find_map(|y| {
                    let row: String = (r.x..r.x + r.width).map(|x| buf[(x, y)].symbol()).collect();
                    row.find(needle).map(|byte| (r.x + row[..byte].chars().count() as u16, y))
                })
                .unwrap_or_else(|| panic!("{needle:?} not in the tape:\n{pane}"))
        };
        in_pane("value");
        // By notional: the 190,000,000 sell of the first prints outweighs every buy.
        let (bx, by) = in_pane("buy 1%");
        in_pane("sell 99%");
        // 475,000 in full where it fits, by magnitude where not (exact either way).
        let large = if pane.contains("475,000") { "475,000" } else { "475.0K" };
        let (x, y) = in_pane(large);
        let cell = &buf[(x, y)];
        assert!(cell.modifier.contains(Modifier::BOLD | Modifier::REVERSED), "{cell:?}\n{pane}");
        assert_eq!(cell.fg, buf[(bx, by)].fg, "in the buy side's colour:\n{pane}");
        assert!(row_with(&pane, large).contains('◆'), "{pane}");
        assert!(row_with(&pane, "0.0049").contains("465"), "{pane}");
        assert!(!row_with(&pane, "0.0049").contains('◆'), "just under five times:\n{pane}");
        let (x, y) = in_pane("0.0049");
        assert!(!buf[(x, y)].modifier.contains(Modifier::REVERSED), "{pane}");
        // The price and size stay in full.
        let row = row_with(&pane, large);
        assert!(row.contains("95,000,000") && row.contains("0.005"), "{pane}");
    }
}

/// The row of `pane` text holding `needle` (panics with the pane when there is none).
fn book_row<'a>(pane: &'a str, needle: &str) -> &'a str {
    pane.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in:\n{pane}"))
}

/// Depth tools: each level with its cumulative size and value, our open order marked
/// with its remaining size; `+` groups the book (here, until Upbit's grouped book of the
/// same unit arrives, which then replaces it), `-` ungroups, `v` shows the depth chart.
#[test]
fn the_book_groups_sums_and_marks_our_orders() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        h.publish(vec![StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(94_999_000))])]);
        h.key(KeyCode::Tab);
        assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
        let plain = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        // 0.7 + 0.75 from the best bid; 95,000,000 × 0.7 + 94,999,000 × 0.75 = 137,749,250.
        let second = book_row(&plain, "94,999,000");
        assert!(second.contains(" 0.75 ") && second.contains(" 1.45 "), "{w}x{height}:\n{plain}");
        // With its unit: in full it leaves no room for the bar beside our order's marker.
        assert!(second.contains("137.7M"), "{w}x{height}:\n{plain}");
        assert!(second.contains("◀0.01"), "our order's remaining size on its level:\n{plain}");
        assert!(book_row(&plain, "price").contains("Σsize"), "{plain}");
        if w == 120 {
            insta::assert_snapshot!("book_plain_120x40", plain);
        }

        // Grouped by 10 ticks here: asks round up, bids down, sizes summed.
        h.drain();
        h.key(KeyCode::Char('+'));
        assert_eq!(h.drain(), vec![UiCommand::SetBookGroup(1)]);
        let local = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        assert!(local.contains("group 10,000 local"), "{w}x{height}:\n{local}");
        // Asks 95,001,000 … 95,010,000: 0.5 + … + 1.4 = 9.5.
        assert!(book_row(&local, "95,010,000").contains(" 9.5 "), "{local}");
        // Bids 94,999,000 … 94,990,000: 0.75 + … + 1.2 = 9.75; from the best, 10.45.
        let bucket = book_row(&local, "94,990,000");
        assert!(bucket.contains(" 9.75 ") && bucket.contains(" 10.45 "), "{w}x{height}:\n{local}");
        assert!(bucket.contains("◀0.01"), "our 94,999,000 order is in the 94,990,000 bucket:\n{local}");
        assert!(!local.contains("94,999,000"), "{local}");

        // Upbit's grouped book of that unit wins over the local one.
        let mut upbit = book("KRW-BTC", dec!(95_000_000), dec!(10_000));
        upbit.level = dec!(10000);
        upbit.levels[1].bid_size = dec!(12.3456);
        h.publish(vec![StoreEvent::BookUpdated(upbit)]);
        let grouped = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        assert!(grouped.contains("group 10,000") && !grouped.contains("local"), "{grouped}");
        let bucket = book_row(&grouped, "94,990,000");
        assert!(bucket.contains(" 12.3456 ") && bucket.contains(" 13.0456 "), "{w}x{height}:\n{grouped}");
        if w == 120 {
            insta::assert_snapshot!("book_grouped_120x40", grouped);
        }
        // The ladder trades at real prices only: b is the best bid of the plain book.
        h.key(KeyCode::Char('b'));
        let msg = h.app.ui().message.clone().map(|m| m.text).unwrap_or_default();
        assert!(msg.contains("95,000,000") && msg.contains("best bid now"), "{msg}");
        h.key(KeyCode::Char('n'));
        h.key(KeyCode::Char('-'));
        assert_eq!(h.drain(), vec![UiCommand::SetBookGroup(0)]);
        assert!(!pane_text(&mut h, hoga::ui::PaneId::Orderbook).contains("group"));

        // The depth chart: both sides' curves, the mid and the axis.
        h.key(KeyCode::Char('v'));
        let chart = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        for needle in ["bids ◀", "▶ asks", "94,986,000", "95,015,000", "┊", "█"] {
            assert!(chart.contains(needle), "{w}x{height}: no {needle:?}:\n{chart}");
        }
        insta::assert_snapshot!(format!("book_depth_chart_{w}x{height}"), chart);
    }
}

/// A SHIB book at 80x24: the 41,178,283.5909 size in full on its row, the cumulative
/// columns shortened with a unit rather than cut.
#[test]
fn a_shib_book_fits_at_80x24_with_every_digit_of_its_sizes() {
    let levels: Vec<BookLevel> = (0..15)
        .map(|i| BookLevel {
            ask_price: dec!(0.0123) + dec!(0.0001) * Decimal::from(i + 1),
            ask_size: dec!(41_178_283.5909) + Decimal::from(i * 1000),
            bid_price: dec!(0.0123) - dec!(0.0001) * Decimal::from(i),
            bid_size: dec!(1_500_000.5),
        })
        .collect();
    let shib = book_of("KRW-SHIB", levels);
    let mut h = Harness::new(80, 24);
    let mut events = trader_events();
    events.push(StoreEvent::TickerUpdated(ticker("KRW-SHIB", dec!(0.0123), dec!(0), dec!(1))));
    events.push(StoreEvent::BookUpdated(shib));
    h.publish(events);
    h.command("market KRW-SHIB");
    h.key(KeyCode::Esc);
    let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
    let best = book_row(&pane, "0.0124");
    assert!(best.contains(" 41,178,283.5909 "), "{pane}");
    // The first ask alone is 41.17M cumulative; its value 0.0124 × 41,178,283.59 = 510,610.
    assert!(best.contains("41.17M"), "{pane}");
    assert!(best.contains("510,610") || best.contains("510.6K"), "{pane}");
    assert!(book_row(&pane, "0.0122").contains(" 1,500,000.5 "), "{pane}");
    // One precision a shortened column: `1.50M` under `41.17M`, never `1.5M` or `3M`.
    let cums: Vec<&str> = pane
        .lines()
        .filter(|l| l.contains("0.01") && !l.contains("spread"))
        .map(|l| l.split_whitespace().nth(2).unwrap_or_default())
        .collect();
    assert_eq!(cums.len(), 6, "{pane}");
    for cell in &cums {
        let decimals = cell.trim_end_matches(['K', 'M', 'B']).split_once('.').map(|(_, f)| f.len());
        assert_eq!(decimals, Some(2), "{cell:?} in {cums:?}:\n{pane}");
    }
    insta::assert_snapshot!("book_shib_80x24", pane);
}

/// A `w`×`height` console whose book (focused, 30 levels a side asked with `d`) has sizes
/// 1..=30 a side, 1,000 won apart from 95,000,000; and the pane as drawn.
fn book_of_30_levels(w: u16, height: u16) -> (Harness, String) {
    let mut h = Harness::new(w, height);
    let sizes: Vec<Decimal> = (1..=30).map(Decimal::from).collect();
    h.publish(vec![StoreEvent::BookUpdated(sized_book(
        "KRW-BTC",
        dec!(95_000_000),
        dec!(1000),
        &sizes,
        &sizes,
    ))]);
    h.key(KeyCode::Tab);
    assert_eq!(h.app.ui().focus, hoga::ui::PaneId::Orderbook);
    h.key(KeyCode::Char('d'));
    let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
    assert!(pane.contains("Order book 30"), "{pane}");
    (h, pane)
}

/// The totals under the book are the sums over the rows shown: with 30 levels a side and
/// room for fewer, Σask is the top ask's Σsize and Σbid the last bid's (they read the
/// whole book's 465 each, which no row adds up to).
#[test]
fn book_totals_are_the_sums_over_the_rows_shown() {
    for (w, height) in [(120, 40), (80, 24)] {
        let (_h, pane) = book_of_30_levels(w, height);
        let rows: Vec<&str> = pane.lines().filter(|l| l.contains("95,0") || l.contains("94,9")).collect();
        let cum = |l: &str| l.split_whitespace().nth(2).unwrap().to_string();
        let (top, last) = (cum(rows[0]), cum(rows[rows.len() - 1]));
        assert!(rows.len() < 60, "{pane}");
        let totals = book_row(&pane, "Σask");
        assert!(totals.contains(&format!("Σask {top} ")), "{w}x{height}:\n{pane}");
        assert!(totals.contains(&format!("Σbid {last} ")), "{w}x{height}:\n{pane}");
    }
}

/// Our order's marker never shortens its row's bar: rows of one size have one bar, marked
/// or not, plain or grouped, at both sizes; and a bar is drawn only while every number
/// column is (the bar gives way first).
#[test]
fn our_order_marker_keeps_the_depth_bar_and_the_bar_gives_way_first() {
    let is_bar = |c: char| "█▏▎▍▌▋▊▉".contains(c);
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let sizes = vec![dec!(1); 30];
        h.publish(vec![
            StoreEvent::BookUpdated(sized_book("KRW-BTC", dec!(95_000_000), dec!(1000), &sizes, &sizes)),
            StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(94_999_000))]),
        ]);
        h.key(KeyCode::Tab);
        for group in 0..=2 {
            let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
            assert_eq!(pane.matches("◀0.01").count(), 1, "{w}x{height} group {group}:\n{pane}");
            // (size, bar) of every row.
            let rows: Vec<(String, String)> = pane
                .lines()
                .filter(|l| l.contains("95,0") || l.contains("94,9"))
                .filter(|l| !l.contains("spread") && !l.contains("Order book"))
                .map(|l| {
                    (
                        l.split_whitespace().nth(1).unwrap().to_string(),
                        l.chars().filter(|&c| is_bar(c)).collect(),
                    )
                })
                .collect();
            let marked = book_row(&pane, "◀0.01");
            let size = marked.split_whitespace().nth(1).unwrap();
            let bar: String = marked.chars().filter(|&c| is_bar(c)).collect();
            for (s, b) in rows.iter().filter(|(s, _)| s == size) {
                assert_eq!(b, &bar, "{w}x{height} group {group}: size {s}:\n{pane}");
            }
            if rows.iter().any(|(_, b)| !b.is_empty()) {
                let header = book_row(&pane, "price");
                assert!(
                    header.contains("Σsize") && header.contains("ΣKRW"),
                    "{w}x{height} group {group}:\n{pane}"
                );
            }
            h.key(KeyCode::Char('+'));
        }
    }
}

/// `H`: each row's background tinted by its change, red a rise and blue a fall (the
/// Korean colours); again: no tint.
#[test]
fn the_heatmap_key_tints_rows_by_their_change() {
    let mut h = Harness::new(120, 40);
    let bg_of = |h: &mut Harness, code: &str| {
        h.screen();
        let buf = h.app.terminal().backend().buffer().clone();
        let (x, y) = find(&buf, &format!("│ {code} ")).expect("the row");
        buf[(x + 2, y)].bg
    };
    let plain = bg_of(&mut h, "XRP");
    h.key(KeyCode::Char('H'));
    // The cursor row keeps the selection's colours: look at the rows below it.
    let (up, down, flat) = (bg_of(&mut h, "BTC"), bg_of(&mut h, "ETH"), bg_of(&mut h, "XRP"));
    let rgb = |c: Color| match c {
        Color::Rgb(r, g, b) => (r, g, b),
        other => panic!("a tint: {other:?}"),
    };
    assert_eq!(up, h.app.theme().selection.bg.unwrap_or(plain), "the cursor row");
    let (r, _, b) = rgb(down);
    assert!(b > r, "ETH fell 2.1 %: blue {down:?}");
    assert_eq!(flat, plain, "XRP did not move: no tint");
    h.key(KeyCode::Down);
    let (r, _, b) = rgb(bg_of(&mut h, "BTC"));
    assert!(r > b, "BTC rose 1.23 %: red");
    h.key(KeyCode::Char('H'));
    assert_eq!(bg_of(&mut h, "BTC"), plain, "off again");
}

/// A book of `n` levels a side from explicit sizes around `mid` (one `tick` apart).
fn sized_book(code: &str, mid: Decimal, tick: Decimal, asks: &[Decimal], bids: &[Decimal]) -> OrderBook {
    let levels: Vec<BookLevel> = asks
        .iter()
        .zip(bids)
        .enumerate()
        .map(|(i, (&ask_size, &bid_size))| BookLevel {
            ask_price: mid + tick * Decimal::from(i + 1),
            ask_size,
            bid_price: mid - tick * Decimal::from(i),
            bid_size,
        })
        .collect();
    OrderBook {
        market: Some(MarketId::new(code)),
        total_ask_size: asks.iter().sum(),
        total_bid_size: bids.iter().sum(),
        levels,
        level: Decimal::ZERO,
        timestamp: 0,
        stream_type: StreamType::Realtime,
    }
}

/// With every level on screen, each total reads exactly as the Σsize column's last row
/// (2.5715, not a truncated 2.571); the ΣUSDT column has the quote's two decimals on
/// every row (`9,500.10`, never `9,500.1` above `10,716.13`), points aligned.
#[test]
fn book_totals_read_as_the_cumulative_column_and_values_keep_one_precision() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let asks = [dec!(0.51437), dec!(0.8), dec!(1.25713)];
        let bids = [dec!(0.1), dec!(0.35), dec!(0.43697)];
        h.publish(vec![StoreEvent::BookUpdated(sized_book(
            "KRW-BTC",
            dec!(95_000_000),
            dec!(1000),
            &asks,
            &bids,
        ))]);
        let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        let cum = |needle: &str| book_row(&pane, needle).split_whitespace().nth(2).unwrap().to_string();
        // Σask 2.5715 (the top ask's Σsize), Σbid 0.8869 (the last bid's).
        let (top_ask, last_bid) = (cum("95,003,000"), cum("94,998,000"));
        assert_eq!((top_ask.as_str(), last_bid.as_str()), ("2.5715", "0.8869"), "{w}x{height}:\n{pane}");
        let totals = book_row(&pane, "Σask");
        assert!(totals.contains(&format!("Σask {top_ask} ")), "{w}x{height}:\n{pane}");
        assert!(totals.contains(&format!("Σbid {last_bid} ")), "{w}x{height}:\n{pane}");
    }

    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        let usdt = sized_book(
            "USDT-BTC",
            dec!(95_000),
            dec!(0.1),
            &[dec!(0.1), dec!(0.01), dec!(0.0123)],
            &[dec!(0.2), dec!(0.11), dec!(0.005)],
        );
        h.publish(vec![
            StoreEvent::TickerUpdated(ticker("USDT-BTC", dec!(95_000), dec!(0), dec!(1))),
            StoreEvent::BookUpdated(usdt),
        ]);
        h.command("market USDT-BTC");
        h.key(KeyCode::Esc);
        let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        // 95,000.1 × 0.1 = 9,500.01, the first ask; 95,000 × 0.2 = 19,000, the first bid:
        // in full where the pane has room, by magnitude with the same two decimals where not.
        let (ask, bid) = if w == 120 { (" 9.50K ", " 19.00K ") } else { (" 9,500.01 ", " 19,000.00 ") };
        assert!(book_row(&pane, "95,000.10").contains(ask), "{w}x{height}:\n{pane}");
        assert!(book_row(&pane, "95,000.00").contains(bid), "{w}x{height}:\n{pane}");
        // Every value cell: two decimals, its point in one column.
        // The header's border is a word of its own; a row's is stuck to its price.
        let value_col = book_row(&pane, "ΣUSDT").split_whitespace().position(|t| t == "ΣUSDT").unwrap() - 1;
        let points: Vec<usize> = pane
            .lines()
            .filter(|l| l.contains("95,00") || l.contains("94,99"))
            .map(|l| {
                let value = l.split_whitespace().nth(value_col).unwrap().trim_end_matches(['K', 'M']);
                assert_eq!(value.split_once('.').map(|(_, f)| f.len()), Some(2), "{value:?}:\n{pane}");
                let at = l.find(value).unwrap() + value.find('.').unwrap();
                l[..at].chars().count()
            })
            .collect();
        assert_eq!(points.len(), 6, "{pane}");
        assert!(points.iter().all(|&p| p == points[0]), "points aligned {points:?}:\n{pane}");
    }
}

/// At 30 levels the pane shows fewer a side; moving the cursor past the rows on screen
/// scrolls the ladder so its row stays in view (highlighted, no "off book" in the
/// title), and a click on a scrolled row picks that row's price.
#[test]
fn the_ladder_scrolls_to_keep_the_cursor_in_view() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    for (w, height) in [(120, 40), (80, 24)] {
        let (mut h, pane) = book_of_30_levels(w, height);
        assert!(!pane.contains("95,030,000"), "the deepest ask is not shown at first:\n{pane}");
        // Up from the best bid, 29 rows: the 29th ask, 95,029,000.
        for _ in 0..29 {
            h.key(KeyCode::Char('k'));
        }
        assert_eq!(h.app.ui().book_price, Some(dec!(95_029_000)));
        let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        assert!(pane.contains("95,029,000"), "{w}x{height}: the cursor's row on screen:\n{pane}");
        assert!(!pane.contains("off"), "{w}x{height}:\n{pane}");
        let r = h.app.last_layout().unwrap().rect(hoga::ui::PaneId::Orderbook).unwrap();
        let (x, y) = find(h.app.terminal().backend().buffer(), "95,029,000").unwrap();
        assert!(r.contains((x, y).into()), "{pane}");
        let buf = h.app.terminal().backend().buffer();
        assert_ne!(buf[(x, y)].bg, buf[(x, y + 1)].bg, "the cursor's row highlighted:\n{pane}");
        // A click on the row below it picks that row (95,028,000), not the unscrolled one.
        let click = MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x + 1,
            row: y + 1,
            modifiers: KeyModifiers::NONE,
        };
        h.app.handle_event(Event::Mouse(click));
        assert_eq!(h.app.ui().book_price, Some(dec!(95_028_000)), "{w}x{height}");
        // Down to the deepest bid: the ladder follows it the other way.
        for _ in 0..60 {
            h.key(KeyCode::Char('j'));
        }
        assert_eq!(h.app.ui().book_price, Some(dec!(94_971_000)));
        let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        assert!(pane.contains("94,971,000") && !pane.contains("off"), "{w}x{height}:\n{pane}");
        // Back to the spread: the ladder centred on it again.
        h.key(KeyCode::Char('G'));
        h.key(KeyCode::Char('g'));
        for _ in 0..30 {
            h.key(KeyCode::Char('j'));
        }
        assert_eq!(h.app.ui().book_price, Some(dec!(95_000_000)));
        let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        assert!(pane.contains("spread") && pane.contains("95,001,000"), "{w}x{height}:\n{pane}");
    }
}

/// A long notice gives way to the selected market and its price on the status bar, at
/// 80x24 and 120x40; the portfolio's pockets line never cuts a value mid-number (it read
/// `trading 1,00` in the default layout's narrow pane).
#[test]
fn a_long_notice_keeps_the_price_on_the_status_bar_and_pocket_values_are_never_cut() {
    use hoga::exchange::types::Balance;
    use hoga::exchange::upbit::pockets::{Pocket, PocketsState, PocketsView};
    let krw = |amount: Decimal| Balance {
        currency: "KRW".into(),
        balance: amount,
        locked: Decimal::ZERO,
        avg_buy_price: Decimal::ZERO,
        unit_currency: "KRW".into(),
    };
    let pocket = |uuid: &str, name: &str, main: bool| Pocket { uuid: uuid.into(), name: name.into(), main };
    let view = PocketsView {
        pockets: vec![
            pocket("m", "main", true),
            pocket("t", "trading", false),
            pocket("s", "savings", false),
        ],
        trading: Some(pocket("m", "main", true)),
        can_transfer: true,
        note: None,
    };
    let mut pockets = PocketsState { view, ..PocketsState::default() };
    pockets.balances.insert("t".into(), vec![krw(dec!(1_000_000))]);
    pockets.balances.insert("s".into(), vec![krw(dec!(7_484_000))]);
    let notice = "[hoga] market KRW-QTUM is delisted on 2026-12-20: orders there are refused from \
                  the 19th, withdraw before then";
    for (w, h) in [(80, 24), (120, 40)] {
        let mut hs = Harness::new(w, h);
        hs.publish(vec![
            StoreEvent::BalancesUpdated(vec![krw(dec!(10_000_000))]),
            StoreEvent::PocketsUpdated(pockets.clone()),
            StoreEvent::Alert { time: chrono::Utc::now(), message: notice.into() },
        ]);
        let screen = hs.screen();
        let status = screen.lines().find(|l| l.contains("DEMO")).unwrap_or_default();
        assert!(status.contains("KRW-BTC 95,000,000 +1.23%"), "{w}x{h}: {status}");
        assert!(status.contains("⚠ 1 [hoga]") && status.ends_with('…'), "{w}x{h}: {status}");
        if let Some(line) = screen.lines().find(|l| l.contains("pockets ")) {
            for value in ["1,0", "7,4"] {
                let whole = if value == "1,0" { "1,000,000 KRW" } else { "7,484,000 KRW" };
                assert!(!line.contains(value) || line.contains(whole), "{w}x{h}: {line}");
            }
        } else {
            assert_eq!((w, h), (80, 24), "the portfolio is on the default 120x40 screen:\n{screen}");
        }
    }
}

/// Our buy 3% under the market rests on no level the book shows (plain or grouped, at
/// either size): its size is said at the end of the totals line, pointing down, rather
/// than left unseen; on a level shown it is marked on that row instead.
#[test]
fn our_order_past_the_rows_shown_is_said_under_the_book() {
    for (w, height) in [(120, 40), (80, 24)] {
        let mut h = Harness::new(w, height);
        h.publish(vec![StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(92_150_000))])]);
        h.key(KeyCode::Tab);
        for group in 0..=3 {
            let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
            let totals = book_row(&pane, "Σask");
            assert!(totals.trim_end_matches('│').ends_with(" ◀0.01↓"), "{w}x{height} group {group}:\n{pane}");
            assert_eq!(pane.matches('◀').count(), 1, "{w}x{height} group {group}:\n{pane}");
            h.key(KeyCode::Char('+'));
        }
        // On a row shown: marked there, nothing under the book.
        h.publish(vec![StoreEvent::OrdersUpdated(vec![open_order("KRW-BTC", dec!(94_999_000))])]);
        h.key(KeyCode::Char('-'));
        h.key(KeyCode::Char('-'));
        let pane = pane_text(&mut h, hoga::ui::PaneId::Orderbook);
        assert!(pane.contains("group 10,000"), "{pane}");
        assert!(book_row(&pane, "94,990,000").contains("◀0.01"), "{w}x{height}:\n{pane}");
        assert!(!book_row(&pane, "Σask").contains('◀'), "{w}x{height}:\n{pane}");
    }
}

/// A premium board as the console's premium task publishes it, stamped at the harness's
/// wall clock: KRW-BTC +2.31 % (+3.05 % against the reference rate), KRW-ETH -0.45 %,
/// KRW-XRP not listed abroad; the USDT premium +0.72 %.
fn premium_board() -> StoreEvent {
    use hoga::store::premium::{Premium, PremiumBoard, RefRate};
    let at_ms = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap().timestamp_millis();
    let row = |usdt, fx| Premium { foreign: dec!(1), vs_usdt: Some(usdt), vs_ref: Some(fx), at_ms };
    StoreEvent::PremiumUpdated(Arc::new(PremiumBoard {
        paired: Default::default(),
        rows: [
            (MarketId::new("KRW-BTC"), row(dec!(0.0231), dec!(0.0305))),
            (MarketId::new("KRW-ETH"), row(dec!(-0.00454), dec!(0.00286))),
        ]
        .into(),
        krw_usdt: Some(dec!(1462)),
        usdt_vs_ref: Some(dec!(0.0072)),
        reference: Some(RefRate {
            rate: Some(dec!(1451.5)),
            source: "fixed".into(),
            at_ms: Some(at_ms),
            error: None,
        }),
        venue: "Binance".into(),
    }))
}

/// KRW-BTC's premium line at 1m, one point per candle of the harness's series (from
/// +1.50 % up to +2.31 % at the newest), and none for the oldest ten.
fn premium_history() -> StoreEvent {
    use hoga::store::premium::{PremiumBasis, PremiumSeries};
    let points = candles("KRW-BTC")
        .iter()
        .enumerate()
        .skip(10)
        .map(|(i, c)| (c.start, dec!(0.0150) + Decimal::from((i as i64 * 7) % 11) * dec!(0.0005)))
        .chain([(1_700_000_000_000 + 59 * 60_000, dec!(0.0231))])
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    StoreEvent::PremiumHistory(Arc::new(PremiumSeries {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        basis: PremiumBasis::Usdt,
        points,
    }))
}

/// The kimchi premium where a trader looks, at both sizes: the markets table's `kimp`
/// column (`—` for a coin not listed abroad; at 80x24 it stays and the name gives way),
/// `kimp fx` where there is room, the selected market's premium and the USDT premium on
/// the status bar.
#[test]
fn the_premium_is_in_the_markets_table_and_on_the_status_bar_at_both_sizes() {
    for (w, h, name) in [(120, 40, "kimp_120x40"), (80, 24, "kimp_80x24")] {
        let mut ui = Harness::new(w, h);
        ui.publish(vec![premium_board()]);
        let screen = ui.screen();
        let btc = row_with(&screen, "│ BTC ");
        let eth = row_with(&screen, "│ ETH ");
        let xrp = row_with(&screen, "│ XRP ");
        assert!(btc.contains("+2.31%") && eth.contains("-0.45%") && xrp.contains('—'), "{screen}");
        let status = screen.lines().next().unwrap_or_default();
        assert!(status.contains("KRW-BTC 95,000,000 +1.23% │ kimp +2.31%"), "{w}x{h}: {status}");
        if w == 120 {
            assert!(status.contains("fx +3.05% │ USDT +0.72%"), "{status}");
        }
        // The premium in the rise colour, the discount in the fall colour.
        let buf = ui.app.terminal().backend().buffer().clone();
        let theme = hoga::ui::theme::Theme::default();
        let (x, y) = find(&buf, "-0.45%").unwrap();
        assert_eq!(Some(buf[(x, y)].fg), theme.fall.fg, "{w}x{h}");
        insta::assert_snapshot!(name, screen);
        // The markets pane maximised has room for the premium against the reference rate.
        ui.key(KeyCode::Char('z'));
        let zoomed = ui.screen();
        assert!(zoomed.contains("kimp fx"), "{zoomed}");
        assert!(row_with(&zoomed, "│ BTC ").contains("+3.05%"), "{zoomed}");
        assert!(row_with(&zoomed, "│ BTC ").contains("비트코인"), "the name is back: {zoomed}");
    }
}

/// The chart's premium pane: the line at its candles' times, labelled with the newest
/// value, on a percent axis; at 80x24 the candles keep their rows and the hidden pane is
/// named in the title.
#[test]
fn the_chart_draws_the_premium_line_under_the_candles_at_both_sizes() {
    for (w, h, name) in [(120, 40, "kimp_chart_120x40"), (80, 24, "kimp_chart_80x24")] {
        let mut ui = Harness::new(w, h);
        ui.publish(vec![premium_board(), premium_history()]);
        let screen = ui.screen();
        if w == 120 {
            assert!(screen.contains("KIMP vs USDT +2.31%"), "{screen}");
            assert!(screen.contains("+2.31%") && screen.contains("+1.50%"), "the axis: {screen}");
        } else {
            assert!(screen.contains("KIMP VOL20 hidden") || screen.contains("2 hidden"), "{screen}");
        }
        insta::assert_snapshot!(name, screen);
    }
}

/// Binance's view with the premium board: each USDT market's `kimp` is its coin's KRW
/// premium (`—` for a coin without one), prices in USDT at their own decimals, and the
/// status bar tagged `BINANCE · read-only` beside the market's price and (where there is
/// room) its premium.
#[test]
fn the_binance_view_shows_each_coin_s_kimp_and_the_read_only_tag_at_both_sizes() {
    for (w, h, name) in [(120, 40, "kimp_binance_120x40"), (80, 24, "kimp_binance_80x24")] {
        let t0 = Instant::now();
        let mut upbit = Store::new();
        let mut events = market_events();
        events.push(premium_board());
        let (_upbit_tx, upbit_rx) = watch::channel(upbit.apply_batch(events, t0));
        let mut binance = Store::new();
        let binance_snap = binance.apply_batch(
            vec![
                StoreEvent::MarketsLoaded(vec![
                    info("USDT-BTC", "BTC", "Bitcoin"),
                    info("USDT-ETH", "ETH", "Ethereum"),
                    info("USDT-XRP", "XRP", "XRP"),
                    info("USDT-SOL", "SOL", "Solana"),
                ]),
                StoreEvent::TickerUpdated(ticker(
                    "USDT-BTC",
                    dec!(64_123.45),
                    dec!(0.011),
                    dec!(1_200_000_000),
                )),
                StoreEvent::TickerUpdated(ticker("USDT-ETH", dec!(3_101.2), dec!(-0.004), dec!(600_000_000))),
                StoreEvent::TickerUpdated(ticker("USDT-XRP", dec!(2.1234), dec!(0.002), dec!(300_000_000))),
                StoreEvent::TickerUpdated(ticker("USDT-SOL", dec!(141.37), dec!(0.052), dec!(200_000_000))),
            ],
            t0,
        );
        let (_binance_tx, binance_rx) = watch::channel(binance_snap);
        let (cmd_tx, _commands) = command_channel();
        let wall = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap();
        let mut app = App::new(
            Terminal::new(TestBackend::new(w, h)).unwrap(),
            UiConfig::default(),
            Keymap::default_keymap().unwrap(),
            ColorSupport::TrueColor,
            upbit_rx,
            cmd_tx,
        )
        .with_venue_snapshots(binance_rx)
        .with_fixed_clock(t0 + Duration::from_millis(1500), wall);
        app.on_snapshot();
        app.handle_key(KeyEvent::new(KeyCode::Char('V'), KeyModifiers::NONE));
        app.draw().unwrap();
        let screen = screen_text(app.terminal().backend().buffer());
        let status = screen.lines().next().unwrap_or_default();
        assert!(status.contains("BINANCE · read-only"), "{status}");
        // The market and its price first; at 80 columns its premium gives way to the tag.
        assert!(status.contains("BINANCE · read-only  USDT-BTC 64,123.45 +1.10% │"), "{status}");
        if w == 120 {
            assert!(status.contains("+1.10% │ kimp +2.31% fx +3.05% │ USDT +0.72%"), "{status}");
        }
        let row = |code: &str| row_with(&screen, &format!("│ {code} "));
        assert!(row("BTC").contains("+2.31%") && row("ETH").contains("-0.45%"), "{screen}");
        assert!(row("XRP").contains("2.1234") && row("XRP").contains('—'), "{screen}");
        insta::assert_snapshot!(name, screen);
    }
}
