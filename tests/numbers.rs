#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hostile numbers end to end (issue 15, item 2; docs/RELIABILITY.md case 16) and wire enums with
//! values hoga does not know (item 4).
//!
//! Arbitrary decimals — 0, ±1e-28, `Decimal::MAX` (≈7.9e28), long fractions, negatives,
//! anything a 96-bit mantissa and a scale of 0..=28 can hold — go through the websocket
//! decoder, the store, every pane (headless, on a ratatui buffer), the risk gate, the
//! paper venue, positions and the monitor's rule book. Nothing may panic; a number
//! outside the band of `exchange::types::band` must be refused by the decoder, fire no
//! rule and fill no order. The same values are also fed past the decoder (as the paper
//! venue or the simulator could), where checked arithmetic has to hold on its own.
//!
//! Then frames are fuzzed: unknown values in every enum, new, reordered and missing
//! optional fields. Each frame decodes (with the unknown value kept as `Unknown`) or is
//! refused as malformed, never a panic.

use std::str::FromStr;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hoga::exchange::api::StreamEvent;
use hoga::exchange::types::{
    Balance, BookLevel, Candle, Change, Fill, MarketId, Order, OrderBook, OrderState, OrderType, Side,
    StreamType, Ticker, Timeframe, Trade, band,
};
use hoga::exchange::upbit::wire::{WireOrder, WireTicker};
use hoga::exchange::upbit::ws::{Decoded, decode};
use hoga::store::account::RuleRow;
use hoga::store::{Snapshot, Store, StoreEvent};
use hoga::trading::orders::{MarketRules, OrderRequest, ValidOrder, validate};
use hoga::trading::paper::{PaperConfig, PaperVenue};
use hoga::trading::position::Position;
use hoga::trading::risk::{RiskContext, RiskGate, RiskLimits};
use hoga::trading::rules::{Alert, AlertCondition, Level, PositionView, Quote, Rule, RuleBook, RuleKind};
use hoga::trading::venue::{OrderVenue, VenueError, VenueFuture};
use hoga::ui::{PaneId, Theme, UiConfig, UiState};
use proptest::prelude::*;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Helpers

fn btc() -> MarketId {
    MarketId::new("KRW-BTC")
}

/// The decimals that broke things, and their neighbours at the band's edges.
fn nasty() -> Vec<Decimal> {
    [
        "0",
        "-0",
        "0.0000000000000000000000000001",
        "-0.0000000000000000000000000001",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "7.9228162514264337593543950335",
        "0.1234567890123456789012345678",
        "-5",
        "1",
        "0.000000000001",
        "0.000000000000999",
        "1000000000000000",
        "1000000000000000.1",
        "100000000000000000000",
        "95000000",
    ]
    .iter()
    .map(|s| Decimal::from_str(s).unwrap())
    .collect()
}

/// Any decimal: a nasty one, or any 96-bit mantissa at any scale.
fn any_decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        proptest::sample::select(nasty()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale)),
        (any::<i64>(), 0u32..=18).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn in_price_band(d: Decimal) -> bool {
    band::price("p", d).is_ok()
}

fn ticker_frame(price: Decimal, volume: Decimal, change: &str) -> String {
    format!(
        r#"{{"type":"ticker","code":"KRW-BTC","opening_price":95000000,"high_price":96000000,"low_price":94000000,"trade_price":{price},"prev_closing_price":95000000,"change":"{change}","change_price":0,"signed_change_price":0,"change_rate":0,"signed_change_rate":0.01,"trade_volume":{volume},"acc_trade_volume":1,"acc_trade_volume_24h":1,"acc_trade_price":1,"acc_trade_price_24h":1,"trade_date":"20241031","trade_time":"010742","trade_timestamp":1730336862047,"ask_bid":"BID","highest_52_week_price":1,"highest_52_week_date":"2024-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2024-01-01","market_state":"ACTIVE","timestamp":1730336862082,"stream_type":"REALTIME"}}"#
    )
}

fn trade_frame(price: Decimal, volume: Decimal) -> String {
    format!(
        r#"{{"type":"trade","code":"KRW-BTC","timestamp":1730336862082,"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":1730336862047,"trade_price":{price},"trade_volume":{volume},"ask_bid":"BID","prev_closing_price":1,"change":"FALL","change_price":1,"sequential_id":7,"stream_type":"REALTIME"}}"#
    )
}

fn book_frame(price: Decimal, size: Decimal) -> String {
    format!(
        r#"{{"type":"orderbook","code":"KRW-BTC","timestamp":1730336862082,"total_ask_size":1,"total_bid_size":1,"orderbook_units":[{{"ask_price":{price},"bid_price":94000000,"ask_size":{size},"bid_size":1}}],"level":0,"stream_type":"REALTIME"}}"#
    )
}

fn candle_frame(price: Decimal, volume: Decimal) -> String {
    format!(
        r#"{{"type":"candle.1m","code":"KRW-BTC","candle_date_time_utc":"2025-01-02T03:04:00","candle_date_time_kst":"2025-01-02T12:04:00","opening_price":95000000,"high_price":{price},"low_price":1,"trade_price":{price},"candle_acc_trade_volume":{volume},"candle_acc_trade_price":1,"timestamp":1735787045000,"stream_type":"REALTIME"}}"#
    )
}

fn ticker(price: Decimal, extra: Decimal) -> Ticker {
    Ticker {
        market: Some(btc()),
        trade_price: price,
        opening_price: extra,
        high_price: extra,
        low_price: price,
        prev_closing_price: extra,
        signed_change_price: extra,
        signed_change_rate: extra,
        trade_volume: extra,
        acc_trade_price_24h: extra,
        ..Ticker::default()
    }
}

fn trade(price: Decimal, volume: Decimal, id: i64) -> Trade {
    Trade {
        market: btc(),
        price,
        volume,
        side: if id % 2 == 0 { Some(Side::Bid) } else { None },
        trade_timestamp: 1_700_000_000_000 + id,
        timestamp: 1_700_000_000_000 + id,
        sequential_id: id,
        stream_type: StreamType::Realtime,
    }
}

fn book(price: Decimal, size: Decimal) -> OrderBook {
    OrderBook {
        market: Some(btc()),
        levels: vec![
            BookLevel { ask_price: price, ask_size: size, bid_price: dec!(94_000_000), bid_size: dec!(1) },
            BookLevel { ask_price: dec!(96_000_000), ask_size: dec!(1), bid_price: price, bid_size: size },
        ],
        total_ask_size: size,
        total_bid_size: dec!(1),
        level: Decimal::ZERO,
        timestamp: 0,
        stream_type: StreamType::Realtime,
    }
}

fn candles(price: Decimal, volume: Decimal) -> Vec<Candle> {
    (0..40)
        .map(|i| Candle {
            market: btc(),
            timeframe: Timeframe::M1,
            start: 1_700_000_000_000 + i * 60_000,
            open: if i % 3 == 0 { price } else { dec!(95_000_000) },
            high: if i % 2 == 0 { price } else { dec!(96_000_000) },
            low: if i % 5 == 0 { price } else { dec!(94_000_000) },
            close: if i % 2 == 1 { price } else { dec!(95_500_000) },
            volume: if i % 4 == 0 { volume } else { dec!(1) },
            value: volume,
            timestamp: i64::MAX - i,
        })
        .collect()
}

fn order(price: Decimal, volume: Decimal) -> Order {
    Order {
        uuid: "u-1".into(),
        identifier: Some("hoga-1".into()),
        market: btc(),
        side: Some(Side::Bid),
        ord_type: OrderType::Limit,
        price: Some(price),
        volume: Some(volume),
        remaining_volume: volume,
        executed_volume: volume,
        executed_funds: Some(price),
        reserved_fee: price,
        remaining_fee: price,
        paid_fee: price,
        locked: price,
        state: OrderState::Wait,
        time_in_force: None,
        created_at: "2026-11-23T00:00:00+09:00".into(),
        trades_count: 0,
        trades: vec![],
    }
}

fn fill(price: Decimal, volume: Decimal) -> Fill {
    Fill {
        trade_uuid: "t-1".into(),
        order_uuid: "u-1".into(),
        market: btc(),
        side: Some(Side::Bid),
        price,
        volume,
        funds: price,
        fee: Some(volume),
        is_maker: None,
        timestamp: i64::MIN,
    }
}

/// Every store event a hostile number can reach, with `a` and `b` in every slot.
fn events(a: Decimal, b: Decimal) -> Vec<StoreEvent> {
    vec![
        StoreEvent::TickerUpdated(ticker(a, b)),
        StoreEvent::BookUpdated(book(a, b)),
        StoreEvent::TradePrinted(trade(a, b, 1)),
        StoreEvent::TradePrinted(trade(b, a, 2)),
        StoreEvent::CandlesLoaded { market: btc(), timeframe: Timeframe::M1, candles: candles(a, b) },
        StoreEvent::CandleUpdated(candles(b, a).remove(39)),
        StoreEvent::BalancesUpdated(vec![
            Balance {
                currency: "BTC".into(),
                balance: a,
                locked: b,
                avg_buy_price: b,
                unit_currency: "KRW".into(),
            },
            Balance {
                currency: "KRW".into(),
                balance: b,
                locked: a,
                avg_buy_price: Decimal::ZERO,
                unit_currency: "KRW".into(),
            },
        ]),
        StoreEvent::OrdersUpdated(vec![order(a, b), order(b, a)]),
        StoreEvent::FillApplied(fill(a, b)),
        // Hostile figures reach the pane through the monitor's row too.
        StoreEvent::RulesUpdated(vec![RuleRow {
            last: Some(a),
            distance: Some(a),
            age: Some(Duration::MAX),
            ..RuleRow::armed("r1", btc(), RuleKind::StopLoss(Level::Price(b)))
        }]),
    ]
}

/// Draws every pane (each maximised, then the whole screen) at two sizes.
fn render_everything(snap: &Snapshot, now: Instant) {
    let theme = Theme::default();
    let mut ui = UiState::new(UiConfig::default());
    ui.now = now;
    ui.market = Some(btc());
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let area = Rect::new(0, 0, w, h);
        ui.area = area;
        for pane in PaneId::ALL.into_iter().map(Some).chain([None]) {
            ui.maximized = pane;
            let mut buf = Buffer::empty(area);
            hoga::ui::render(area, &mut buf, &ui, snap, &theme);
        }
    }
}

fn limit(side: Side, price: Decimal, volume: Decimal) -> ValidOrder {
    validate(&OrderRequest::limit(btc(), side, price, volume), &MarketRules::upbit_default(&btc()), None)
        .unwrap()
}

/// Polls a venue future that is ready at once (the paper venue's are).
fn now_or_never<T>(f: VenueFuture<T>) -> Result<T, VenueError> {
    let mut f = f;
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the paper venue answers at once"),
    }
}

// ---------------------------------------------------------------------------------------
// Regressions: each of these panicked before the band and the checked arithmetic

#[test]
fn a_last_price_of_1e_28_denies_the_order_instead_of_panicking_the_risk_gate() {
    let mut gate = RiskGate::new(RiskLimits::default());
    let ctx = RiskContext {
        open_orders: 0,
        last_price: Some(dec!(0.0000000000000000000000000001)),
        now: Instant::now(),
        protective: false,
    };
    let e = gate.check(&limit(Side::Bid, dec!(95_000_000), dec!(0.001)), &ctx).unwrap_err();
    assert!(e.to_string().contains("price_band"), "{e}");
}

#[test]
fn a_price_of_1e_28_neither_fills_nor_panics_the_paper_venue() {
    let venue = PaperVenue::new(PaperConfig::default());
    assert!(venue.on_ticker(&ticker(dec!(0.0000000000000000000000000001), dec!(1))).is_empty());
    let buy =
        validate(&OrderRequest::market_buy(btc(), dec!(10_000)), &MarketRules::upbit_default(&btc()), None)
            .unwrap();
    let e = now_or_never(venue.place("hoga-n-1".into(), buy)).unwrap_err();
    assert!(e.to_string().contains("no price known"), "{e}");
}

#[test]
fn a_trade_worth_more_than_decimal_max_is_drawn_as_a_large_print() {
    let t0 = Instant::now();
    let mut store = Store::new();
    let big = dec!(79228162514264337593543950335);
    let snap = store.apply_batch(vec![StoreEvent::TradePrinted(trade(big, dec!(2), 1))], t0);
    let theme = Theme::default();
    let mut ui = UiState::new(UiConfig::default());
    ui.market = Some(btc());
    ui.maximized = Some(PaneId::Trades);
    let area = Rect::new(0, 0, 80, 24);
    let mut buf = Buffer::empty(area);
    hoga::ui::render(area, &mut buf, &ui, &snap, &theme);
    let text: String = buf.content.iter().map(|c| c.symbol()).collect();
    assert!(text.contains('◆'), "a print too large to multiply is shown as large");
}

#[test]
fn a_huge_candle_does_not_panic_the_moving_average() {
    let c = candles(dec!(79228162514264337593543950335), dec!(1));
    let ma = hoga::ui::widgets::candles::moving_average(&c, 20);
    assert_eq!(ma.len(), c.len());
    assert!(ma[..19].iter().all(Option::is_none));
    // Each close is divided first when the running sum cannot be kept: still a value.
    assert!(ma[19..].iter().all(Option::is_some), "{ma:?}");
}

#[test]
fn the_decoder_refuses_prices_of_zero_and_minus_five_and_out_of_band_sizes() {
    for price in
        [dec!(0), dec!(-5), dec!(0.0000000000000000000000000001), dec!(79228162514264337593543950335)]
    {
        for frame in
            [ticker_frame(price, dec!(1), "RISE"), trade_frame(price, dec!(1)), candle_frame(price, dec!(1))]
        {
            let e = decode(frame.as_bytes()).unwrap_err();
            assert!(e.detail.contains("outside the accepted band"), "{price}: {e}");
        }
    }
    let e = decode(trade_frame(dec!(100), dec!(-1)).as_bytes()).unwrap_err();
    assert!(e.detail.contains("trade_volume"), "{e}");
    // Price × size past the value band (1e20), each alone inside its band.
    let e = decode(trade_frame(dec!(1_000_000_000_000), dec!(1_000_000_000_000)).as_bytes()).unwrap_err();
    assert!(e.detail.contains("×"), "{e}");
    // An empty book slot (0 price, 0 size) is fine; a 0 price with a size is not.
    assert!(decode(book_frame(dec!(0), dec!(0)).as_bytes()).is_ok());
    assert!(decode(book_frame(dec!(0), dec!(1)).as_bytes()).is_err());
    assert!(matches!(decode(trade_frame(dec!(95_000_000), dec!(0.5)).as_bytes()), Ok(Decoded::Event(_))));
}

#[test]
fn an_unknown_change_or_stream_type_keeps_the_ticker() {
    let frame = ticker_frame(dec!(95_000_000), dec!(1), "NEUTRAL").replace("REALTIME", "DELAYED");
    let Decoded::Event(StreamEvent::Ticker(t)) = decode(frame.as_bytes()).unwrap() else { panic!() };
    assert_eq!((t.change, t.stream_type), (Change::Unknown, StreamType::Unknown));
    assert_eq!(t.trade_price, dec!(95_000_000));
    assert!(hoga::exchange::types::unknown_seen("change", "NEUTRAL"));
    assert!(hoga::exchange::types::unknown_seen("stream_type", "DELAYED"));
    // REST spells it the same way.
    let rest = r#"{"market":"KRW-BTC","trade_date":"20241031","trade_time":"010742","trade_timestamp":1,"opening_price":1,"high_price":1,"low_price":1,"trade_price":1,"prev_closing_price":1,"change":"SIDEWAYS","change_price":0,"change_rate":0,"signed_change_price":0,"signed_change_rate":0,"trade_volume":1,"acc_trade_price":1,"acc_trade_price_24h":1,"acc_trade_volume":1,"acc_trade_volume_24h":1,"highest_52_week_price":1,"highest_52_week_date":"x","lowest_52_week_price":1,"lowest_52_week_date":"x","timestamp":1}"#;
    let t: WireTicker = serde_json::from_str(rest).unwrap();
    assert_eq!(t.change, Change::Unknown);
}

#[test]
fn an_unknown_order_state_side_or_type_keeps_the_order_and_nothing_is_guessed() {
    let o = r#"{"uuid":"u","side":"bid","ord_type":"limit","price":"100","state":"pending_review","market":"KRW-BTC","created_at":"2025-01-01T00:00:00+09:00","volume":"1","remaining_volume":"1","executed_volume":"0","reserved_fee":"0","remaining_fee":"0","paid_fee":"0","locked":"100","trades_count":0,"time_in_force":"gtd"}"#;
    let w: WireOrder = serde_json::from_str(o).unwrap();
    let n = w.to_order();
    assert_eq!((n.state, n.time_in_force), (OrderState::Unknown, None));
    assert!(!n.state.is_terminal(), "an unknown state is never taken for done");
    // An unknown side is not guessed (`None`; the order manager resolves it against its own
    // order); the rest of the order is used (issue 15, item 4: this used to refuse it).
    let n = serde_json::from_str::<WireOrder>(&o.replace(r#""side":"bid""#, r#""side":"both""#))
        .unwrap()
        .to_order();
    assert_eq!((n.side, n.uuid.as_str(), n.locked), (None, "u", Decimal::from(100)));
    assert!(hoga::exchange::types::unknown_seen("side", "both"));
    // An unknown type is kept with its wire spelling; hoga will never send one.
    let n = serde_json::from_str::<WireOrder>(&o.replace(r#""ord_type":"limit""#, r#""ord_type":"twap""#))
        .unwrap()
        .to_order();
    assert_eq!(
        (n.side, n.ord_type, n.ord_type.as_str()),
        (Some(Side::Bid), OrderType::Other("twap"), "twap")
    );
    assert!(!n.ord_type.is_known() && hoga::exchange::types::unknown_seen("ord_type", "twap"));
    let req =
        OrderRequest { ord_type: n.ord_type, ..OrderRequest::limit(btc(), Side::Bid, dec!(100), dec!(1)) };
    let e = validate(&req, &MarketRules::upbit_default(&btc()), None).unwrap_err();
    assert!(e.to_string().contains("twap"), "{e}");
    // A fill inside an order with an unknown side carries no side either.
    let with_trade = o.replace(r#""side":"bid""#, r#""side":"both""#).replace(
        r#""trades_count":0"#,
        r#""trades_count":1,"trades":[{"market":"KRW-BTC","uuid":"t","price":"100","volume":"1","funds":"100","created_at":"2025-01-01T00:00:00+09:00","side":"both"}]"#,
    );
    let n = serde_json::from_str::<WireOrder>(&with_trade).unwrap().to_order();
    assert_eq!(n.trades.iter().map(|f| f.side).collect::<Vec<_>>(), vec![None]);
}

#[tokio::test]
async fn the_monitor_refuses_ticks_outside_the_band_and_fires_on_the_next_good_one() {
    use hoga::kernel::TaskManager;
    use hoga::notify::NotifySender;
    use hoga::trading::monitor::{Monitor, MonitorAction, MonitorConfig, MonitorDeps, TradingStateHandle};
    let tasks = TaskManager::new();
    let (notify, _notes) = NotifySender::channel(256);
    let deps = MonitorDeps { journal: None, notify, trading: TradingStateHandle::new() };
    let (m, mut actions) = Monitor::spawn(&tasks, MonitorConfig::default(), deps).unwrap();
    // A stop at the top of the band: any price at all would trigger it.
    let rule = Rule::new(btc(), RuleKind::StopLoss(Level::Price(band::MAX_PRICE)), None);
    let id = rule.id.clone();
    m.position(btc(), dec!(0.1), dec!(100_000_000)).await.unwrap();
    m.add_rule(rule).await.unwrap();
    m.reconciled().await.unwrap();
    let mut view = m.view();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !(view.borrow_and_update().reconciled && view.borrow().rule(&id).is_some()) {
            view.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    for p in nasty().into_iter().filter(|p| !in_price_band(*p)) {
        assert!(!m.tick(&btc(), p, Instant::now()), "a tick of {p} was taken in");
    }
    assert!(actions.try_recv().is_err(), "no exit on a price outside the band");
    // The next good price fires the stop: the monitor was listening all along.
    assert!(m.tick(&btc(), dec!(96_000_000), Instant::now()));
    let a = tokio::time::timeout(Duration::from_secs(10), actions.recv()).await.unwrap().unwrap();
    assert!(matches!(a, MonitorAction::PlaceExit { .. }), "{a:?}");
    tasks.cancel_all();
    assert!(tasks.wait_all(Duration::from_secs(10)).await);
}

/// A loopback Upbit whose replies each carry one number outside the band.
async fn hostile_rest() -> String {
    use axum::http::{StatusCode, Uri};
    let ticker = |code: &str, price: &str| {
        format!(
            r#"{{"market":"{code}","trade_date":"20260101","trade_time":"000000","trade_timestamp":1767225600000,"opening_price":1,"high_price":1,"low_price":1,"trade_price":{price},"prev_closing_price":1,"change":"EVEN","change_price":0,"change_rate":0,"signed_change_price":0,"signed_change_rate":0,"trade_volume":1,"acc_trade_price":1,"acc_trade_price_24h":1,"acc_trade_volume":1,"acc_trade_volume_24h":1,"highest_52_week_price":1,"highest_52_week_date":"2025-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2025-01-01","timestamp":1767225600000}}"#
        )
    };
    let tick = |price: &str| {
        format!(
            r#"{{"market":"KRW-BTC","trade_date_utc":"2026-01-01","trade_time_utc":"00:00:00","timestamp":1767225600000,"trade_price":{price},"trade_volume":1,"prev_closing_price":1,"change_price":0,"ask_bid":"ASK","sequential_id":1}}"#
        )
    };
    let order_of = |uuid: &str, side: &str, ord_type: &str, volume: &str| {
        format!(
            r#"{{"uuid":"{uuid}","side":"{side}","ord_type":"{ord_type}","price":"100","state":"wait","market":"KRW-BTC","created_at":"2026-01-01T00:00:00+09:00","volume":"{volume}","remaining_volume":"1","executed_volume":"0","reserved_fee":"0","remaining_fee":"0","paid_fee":"0","locked":"100","trades_count":0,"identifier":"hoga-x"}}"#
        )
    };
    let order = move |volume: &str| order_of("u1", "bid", "limit", volume);
    let account = |currency: &str, balance: &str| {
        format!(
            r#"{{"currency":"{currency}","balance":{balance},"locked":"0","avg_buy_price":"0","avg_buy_price_modified":false,"unit_currency":"KRW"}}"#
        )
    };
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let body = match uri.path() {
            "/v1/ticker" => format!("[{},{}]", ticker("KRW-BTC", "100000000"), ticker("KRW-ETH", "0")),
            "/v1/trades/ticks" => format!("[{},{}]", tick("100"), tick("-5")),
            // A good balance, one outside the band, one that does not decode (an airdrop
            // with a balance that is not a number), another good one.
            "/v1/accounts" => format!(
                "[{},{},{},{}]",
                account("KRW", r#""1000""#),
                account("BTC", r#""-1""#),
                account("AIRDROP", r#""lots""#),
                account("ETH", r#""2""#)
            ),
            // A good order, one outside the band, one of a new type, one with a side hoga
            // does not know, one missing a required field.
            "/v1/orders/open" => format!(
                "[{},{},{},{},{}]",
                order_of("u1", "bid", "limit", "1"),
                order_of("u2", "bid", "limit", "-1"),
                order_of("u3", "ask", "stop_limit", "1"),
                order_of("u4", "both", "limit", "1"),
                r#"{"uuid":"u5","side":"bid"}"#
            ),
            "/v1/orders" => order("79228162514264337593543950335"),
            _ => String::new(),
        };
        async move { (StatusCode::OK, [("content-type", "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn rest_lists_drop_only_the_items_that_cannot_be_used_and_a_create_is_an_unknown_outcome() {
    use hoga::exchange::upbit::auth::Credentials;
    use hoga::exchange::upbit::error::UpbitError;
    use hoga::exchange::upbit::rest::{RestClient, RestConfig};
    use hoga::exchange::upbit::wire::NewOrderBody;
    let url = hostile_rest().await;
    let config = RestConfig { base_url: url, read_attempts: 1, ..RestConfig::default() };
    let rest =
        RestClient::new(config, Some(Credentials::new("test-access-key-0123", "test-secret-key"))).unwrap();
    let tickers = rest.tickers(&[btc(), MarketId::new("KRW-ETH")]).await.unwrap();
    assert_eq!(tickers.iter().map(|t| t.market.clone().unwrap()).collect::<Vec<_>>(), vec![btc()]);
    let trades = rest.trades(&btc(), 2).await.unwrap();
    assert_eq!(trades.len(), 1, "{trades:?}");
    // One odd balance no longer blanks every balance (issue 15, item 4).
    let skipped = hoga::exchange::upbit::rest::skipped_items();
    let balances = rest.accounts().await.unwrap();
    let currencies: Vec<&str> = balances.iter().map(|b| b.currency.as_str()).collect();
    assert_eq!(currencies, ["KRW", "ETH"]);
    assert!(hoga::exchange::upbit::rest::skipped_items() >= skipped + 2);
    // One odd order no longer hides every open order: unknown types and sides are kept.
    let open = rest.open_orders(None, &[OrderState::Wait], 1, 100).await.unwrap();
    let got: Vec<(&str, Option<Side>, &str)> =
        open.iter().map(|o| (o.uuid.as_str(), o.side, o.ord_type.as_str())).collect();
    assert_eq!(
        got,
        [("u1", Some(Side::Bid), "limit"), ("u3", Some(Side::Ask), "stop_limit"), ("u4", None, "limit")]
    );
    let body = NewOrderBody {
        market: "KRW-BTC".into(),
        side: "bid".into(),
        volume: Some("1".into()),
        price: Some("100".into()),
        ord_type: "limit".into(),
        identifier: Some("hoga-x".into()),
        ..NewOrderBody::default()
    };
    // The order may exist: its outcome is unknown (looked up), never "refused".
    let e = rest.create_order(&body).await.unwrap_err();
    assert!(matches!(e, UpbitError::UnknownOutcome { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------
// Numbers end to end

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// decode → store → every pane: frames with out-of-band numbers are refused; the rest
    /// are stored and drawn without a panic.
    #[test]
    fn any_number_through_decode_store_and_every_pane(a in any_decimal(), b in any_decimal()) {
        let t0 = Instant::now();
        let mut store = Store::new();
        let mut accepted = Vec::new();
        for frame in [ticker_frame(a, b, "RISE"), trade_frame(a, b), book_frame(a, b), candle_frame(a, b)] {
            match decode(frame.as_bytes()) {
                Ok(Decoded::Event(ev)) => {
                    // An empty book slot is a price of 0 with a size of 0.
                    let empty_slot = a.is_zero() && b.is_zero() && frame.contains("orderbook");
                    prop_assert!(in_price_band(a) || empty_slot, "{a} accepted as a price in {frame}");
                    // A candle's volume is an accumulation (the value band), the others sizes.
                    // A ticker's last-trade volume is context: out of band it is kept as 0
                    // ("not known") and the price is used (`Ticker::context_in_band`).
                    if let StreamEvent::Ticker(t) = &ev {
                        let kept = band::size("s", b).is_ok() && band::notional("n", a, b).is_ok();
                        prop_assert_eq!(t.trade_volume, if kept { b } else { Decimal::ZERO });
                    } else {
                        let b_ok = if frame.contains("candle") { band::value("v", b) } else { band::size("s", b) };
                        prop_assert!(b_ok.is_ok(), "{b} accepted as a size in {frame}");
                    }
                    accepted.push(ev);
                }
                Ok(other) => prop_assert!(false, "{other:?}"),
                Err(e) => prop_assert!(e.detail.contains("band") || e.detail.contains("number"), "{e}"),
            }
        }
        let mut evs = Vec::new();
        for ev in accepted {
            evs.push(match ev {
                StreamEvent::Ticker(t) => StoreEvent::TickerUpdated(t),
                StreamEvent::Trade(t) => StoreEvent::TradePrinted(t),
                StreamEvent::OrderBook(b) => StoreEvent::BookUpdated(b),
                StreamEvent::Candle(c) => StoreEvent::CandleUpdated(c),
                other => panic!("{other:?}"),
            });
        }
        let snap = store.apply_batch(evs, t0);
        render_everything(&snap, t0 + Duration::from_millis(10));
        // Defence in depth: the same numbers past the decoder (paper venue, simulator).
        let snap = store.apply_batch(events(a, b), t0);
        render_everything(&snap, t0 + Duration::from_secs(3600));
    }

    /// Risk gate, paper venue, positions and the rule book with any last price: no panic,
    /// and a price outside the band fires no rule and fills or sends no order.
    #[test]
    fn any_number_through_risk_paper_positions_and_rules(p in any_decimal(), q in any_decimal()) {
        let out_of_band = !in_price_band(p);

        // Risk gate: a limit order checked against last price `p`.
        let mut gate = RiskGate::new(RiskLimits::default());
        let ctx = RiskContext { open_orders: 0, last_price: Some(p), now: Instant::now(), protective: false };
        let verdict = gate.check(&limit(Side::Bid, dec!(95_000_000), dec!(0.001)), &ctx);
        prop_assert!(!(out_of_band && verdict.is_ok()), "an order passed on a last price of {p}");

        // Paper venue: a resting buy and sell, then a ticker and a book at `p`.
        let venue = PaperVenue::new(PaperConfig {
            initial: vec![("KRW".into(), dec!(1_000_000_000)), ("BTC".into(), dec!(10))],
            ..PaperConfig::default()
        });
        now_or_never(venue.place("hoga-b".into(), limit(Side::Bid, dec!(94_000_000), dec!(0.01)))).unwrap();
        now_or_never(venue.place("hoga-a".into(), limit(Side::Ask, dec!(96_000_000), dec!(0.01)))).unwrap();
        let mut filled = venue.on_ticker(&ticker(p, q));
        filled.extend(venue.on_orderbook(&book(p, q)));
        prop_assert!(!out_of_band || filled.is_empty(), "paper filled on a price of {p}");
        let buy = validate(&OrderRequest::market_buy(btc(), dec!(10_000)), &MarketRules::upbit_default(&btc()), None)
            .unwrap();
        let placed = now_or_never(venue.place("hoga-m".into(), buy));
        prop_assert!(!(out_of_band && placed.is_ok()), "paper market buy filled on a price of {p}");
        let _ = venue.balances_now();

        // Positions: any fill, any mark.
        let mut pos = Position::new(btc());
        pos.apply(Side::Bid, p, q, q);
        pos.apply(Side::Bid, q, p, p);
        let _ = pos.unrealized(p, dec!(0.0005));
        let _ = pos.unrealized_ratio(q, dec!(0.0005));
        pos.apply(Side::Ask, p, q, q);

        // The monitor's rule book: every kind of rule, a position, a tick at `p`.
        let t0 = Instant::now();
        let mut rules = RuleBook::new(Duration::from_secs(10));
        rules.set_ready(t0);
        for kind in [
            RuleKind::StopLoss(Level::Price(dec!(1_000_000_000_000_000))),
            RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))),
            RuleKind::TakeProfit(Level::Price(dec!(0.000000000001))),
            RuleKind::TakeProfit(Level::PctFromAvg(q)),
            RuleKind::Trailing { ratio: dec!(0.02), peak: Some(q) },
            RuleKind::Oco { stop: Level::PctFromAvg(q), take: Level::Price(dec!(0.000000000001)) },
        ] {
            rules.insert(Rule::new(btc(), kind, None));
        }
        let pos = PositionView { volume: dec!(1), avg_cost: q.abs() };
        let (exits, _) = rules.on_tick(&btc(), Quote { price: p, received: t0 }, t0, pos, dec!(5000));
        prop_assert!(!out_of_band || exits.is_empty(), "a rule fired on a price of {p}");
        for condition in [AlertCondition::MovePct(dec!(0.05)), AlertCondition::Above(q), AlertCondition::Below(q)] {
            let mut alert = Alert::new(btc(), condition);
            alert.on_price(dec!(95_000_000));
            let hit = alert.on_price(p);
            prop_assert!(!(out_of_band && hit), "an alert fired on a price of {p}");
        }
    }

    /// The tick grid and order sizing meet exchange prices and balances too (a tick
    /// from `orderbook/instruments`, a best bid, an available balance): never a panic.
    #[test]
    fn tick_grid_and_order_sizing_never_panic(p in any_decimal(), q in any_decimal(), pct in any_decimal()) {
        use hoga::exchange::upbit::ticks::{self, Rounding, TickTable};
        use hoga::trading::input::{OrderInput, PriceSpec, Size, SizingContext, resolve};
        for quote in ["KRW", "USDT", "BTC"] {
            for r in [Rounding::Down, Rounding::Up, Rounding::Nearest] {
                let _ = ticks::snap(quote, p, r);
            }
            let _ = ticks::is_on_tick(quote, p);
            let _ = ticks::step(quote, p.abs(), 3);
            let _ = ticks::step(quote, p.abs(), -3);
        }
        let mut table = TickTable::default();
        table.set(btc(), q.abs());
        let _ = table.snap(&btc(), p, Rounding::Nearest);
        let ctx = SizingContext {
            selected: Some(btc()),
            available_quote: Some(q),
            available_base: Some(p),
            best_ask: Some(p),
            best_bid: Some(q),
            rules: MarketRules::upbit_default(&btc()),
        };
        for side in [Side::Bid, Side::Ask] {
            for size in [Size::Qty(q), Size::Quote(q), Size::Percent(pct)] {
                for price in [PriceSpec::Limit(p), PriceSpec::Market, PriceSpec::Best] {
                    let input = OrderInput { side, market: None, size, price, tif: None };
                    if let Ok(req) = resolve(&input, &ctx) {
                        let _ = validate(&req, &MarketRules::upbit_default(&btc()), Some(p));
                    }
                }
            }
        }
    }

    /// Every band check is total: no panic, and `check` agrees with the band.
    #[test]
    fn band_checks_never_panic(a in any_decimal(), b in any_decimal()) {
        let _ = ticker(a, b).check();
        let _ = trade(a, b, 1).check();
        let _ = book(a, b).check();
        let _ = candles(a, b)[0].check();
        let _ = order(a, b).check();
        let _ = fill(a, b).check();
        prop_assert_eq!(trade(a, b, 1).check().is_ok(), in_price_band(a) && band::size("s", b).is_ok()
            && a.checked_mul(b).is_some_and(|v| v <= band::MAX_VALUE));
    }
}

// ---------------------------------------------------------------------------------------
// Frames fuzzed: unknown enum values, new, reordered and missing optional fields

/// A frame: its fields in order, the enum fields, the optional fields.
type BaseFrame = (Vec<(&'static str, Value)>, Vec<&'static str>, Vec<&'static str>);

/// A base frame per kind.
fn base_frames() -> Vec<BaseFrame> {
    let ticker = vec![
        ("type", json!("ticker")),
        ("code", json!("KRW-BTC")),
        ("opening_price", json!(95000000)),
        ("high_price", json!(96000000)),
        ("low_price", json!(94000000)),
        ("trade_price", json!(95500000)),
        ("prev_closing_price", json!(95000000)),
        ("change", json!("RISE")),
        ("change_price", json!(500000)),
        ("signed_change_price", json!(500000)),
        ("change_rate", json!(0.005)),
        ("signed_change_rate", json!(0.005)),
        ("trade_volume", json!(0.01)),
        ("acc_trade_volume", json!(10)),
        ("acc_trade_volume_24h", json!(20)),
        ("acc_trade_price", json!(1000000000)),
        ("acc_trade_price_24h", json!(2000000000)),
        ("trade_date", json!("20241031")),
        ("trade_time", json!("010742")),
        ("trade_timestamp", json!(1730336862047i64)),
        ("ask_bid", json!("BID")),
        ("acc_ask_volume", json!(1)),
        ("acc_bid_volume", json!(1)),
        ("highest_52_week_price", json!(100000000)),
        ("highest_52_week_date", json!("2024-03-14")),
        ("lowest_52_week_price", json!(50000000)),
        ("lowest_52_week_date", json!("2023-10-31")),
        ("market_state", json!("ACTIVE")),
        ("is_trading_suspended", json!(false)),
        ("delisting_date", Value::Null),
        ("market_warning", json!("NONE")),
        ("timestamp", json!(1730336862082i64)),
        ("stream_type", json!("REALTIME")),
    ];
    let ticker_enums = vec!["change", "ask_bid", "market_state", "market_warning", "stream_type"];
    let ticker_optional = vec![
        "change_price",
        "change_rate",
        "acc_trade_volume",
        "trade_date",
        "trade_time",
        "ask_bid",
        "acc_ask_volume",
        "acc_bid_volume",
        "highest_52_week_date",
        "lowest_52_week_date",
        "market_state",
        "is_trading_suspended",
        "delisting_date",
        "market_warning",
        "stream_type",
    ];
    let trade = vec![
        ("type", json!("trade")),
        ("code", json!("KRW-BTC")),
        ("timestamp", json!(1730336862082i64)),
        ("trade_date", json!("2024-10-31")),
        ("trade_time", json!("01:07:42")),
        ("trade_timestamp", json!(1730336862047i64)),
        ("trade_price", json!(100473000)),
        ("trade_volume", json!(0.00014208)),
        ("ask_bid", json!("BID")),
        ("prev_closing_price", json!(100571000)),
        ("change", json!("FALL")),
        ("change_price", json!(98000)),
        ("sequential_id", json!(17303368620470000i64)),
        ("best_ask_price", json!(100473000)),
        ("best_ask_size", json!(0.43139478)),
        ("best_bid_price", json!(100465000)),
        ("best_bid_size", json!(0.01990656)),
        ("stream_type", json!("SNAPSHOT")),
    ];
    let trade_enums = vec!["ask_bid", "change", "stream_type"];
    let trade_optional = vec![
        "trade_date",
        "trade_time",
        "prev_closing_price",
        "change",
        "change_price",
        "best_ask_price",
        "best_ask_size",
        "best_bid_price",
        "best_bid_size",
        "stream_type",
    ];
    let book = vec![
        ("type", json!("orderbook")),
        ("code", json!("KRW-BTC")),
        ("timestamp", json!(1730336862082i64)),
        ("total_ask_size", json!(10.5)),
        ("total_bid_size", json!(9.5)),
        (
            "orderbook_units",
            json!([{"ask_price":148520000,"bid_price":148490000,"ask_size":0.0134662,"bid_size":0.04296774}]),
        ),
        ("level", json!(0)),
        ("stream_type", json!("REALTIME")),
    ];
    let candle = vec![
        ("type", json!("candle.1s")),
        ("code", json!("KRW-BTC")),
        ("candle_date_time_utc", json!("2025-01-02T03:04:05")),
        ("candle_date_time_kst", json!("2025-01-02T12:04:05")),
        ("opening_price", json!(1)),
        ("high_price", json!(3)),
        ("low_price", json!(0.5)),
        ("trade_price", json!(2)),
        ("candle_acc_trade_volume", json!(1.25)),
        ("candle_acc_trade_price", json!(2.5)),
        ("timestamp", json!(1735787045000i64)),
        ("stream_type", json!("REALTIME")),
    ];
    let my_order = vec![
        ("type", json!("myOrder")),
        ("code", json!("KRW-BTC")),
        ("uuid", json!("ac2dc2a3-fce9-40a2-a4f6-5987c25c438f")),
        ("ask_bid", json!("BID")),
        ("order_type", json!("limit")),
        ("state", json!("trade")),
        ("trade_uuid", json!("68315169-fba4-4175-ade3-aff14a616657")),
        ("price", json!(95000000)),
        ("avg_price", json!(95000000)),
        ("volume", json!(0.001)),
        ("remaining_volume", json!(0)),
        ("executed_volume", json!(0.001)),
        ("trades_count", json!(1)),
        ("reserved_fee", json!(47.5)),
        ("remaining_fee", json!(0)),
        ("paid_fee", json!(47.5)),
        ("locked", json!(0)),
        ("executed_funds", json!(95000)),
        ("time_in_force", json!("ioc")),
        ("trade_fee", json!(47.5)),
        ("is_maker", json!(false)),
        ("identifier", json!("hoga-1")),
        ("smp_type", json!("cancel_maker")),
        ("trade_timestamp", json!(1730336862047i64)),
        ("order_timestamp", json!(1730336862000i64)),
        ("timestamp", json!(1730336862082i64)),
        ("stream_type", json!("REALTIME")),
    ];
    let my_order_enums = vec!["ask_bid", "order_type", "state", "time_in_force", "smp_type", "stream_type"];
    let my_order_optional = vec![
        "trade_uuid",
        "price",
        "avg_price",
        "volume",
        "remaining_volume",
        "time_in_force",
        "trade_fee",
        "is_maker",
        "identifier",
        "smp_type",
        "trade_timestamp",
        "stream_type",
    ];
    let my_asset = vec![
        ("type", json!("myAsset")),
        ("asset_uuid", json!("e635f223-1609-4969-8fb6-4376937baad6")),
        ("assets", json!([{"currency":"KRW","balance":1386929.37,"locked":10329.6}])),
        ("asset_timestamp", json!(1710146517259i64)),
        ("timestamp", json!(1710146517267i64)),
        ("stream_type", json!("REALTIME")),
    ];
    vec![
        (ticker, ticker_enums, ticker_optional),
        (trade, trade_enums, trade_optional),
        (book, vec!["stream_type"], vec!["level", "stream_type"]),
        (candle, vec!["stream_type"], vec!["candle_date_time_kst", "stream_type"]),
        (my_order, my_order_enums, my_order_optional),
        (my_asset, vec!["stream_type"], vec!["stream_type"]),
    ]
}

fn frame_text(fields: &[(String, Value)]) -> String {
    let body: Vec<String> =
        fields.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v)).collect();
    format!("{{{}}}", body.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Unknown enum values, dropped optional fields, new fields and any key order: every
    /// frame still decodes, with the unknown values kept as `Unknown`.
    #[test]
    fn frames_with_unknown_values_and_shuffled_optional_fields_still_decode(
        kind in 0usize..6,
        values in proptest::collection::vec("[A-Za-z_]{0,12}", 8),
        drop in proptest::collection::vec(any::<bool>(), 40),
        extra in proptest::collection::vec(("[a-z_]{1,12}", prop_oneof![
            Just(Value::Null), any::<i64>().prop_map(Value::from), "[ -~]{0,8}".prop_map(Value::from),
            Just(json!({"nested":[1,2,{"type":"x"}]})),
        ]), 0..4),
        order in any::<u64>(),
    ) {
        let (base, enums, optional) = base_frames().swap_remove(kind);
        let names: Vec<&str> = base.iter().map(|(k, _)| *k).collect();
        let mut fields: Vec<(String, Value)> = Vec::new();
        let mut changed = Vec::new();
        for (i, (k, v)) in base.into_iter().enumerate() {
            if optional.contains(&k) && drop[i % drop.len()] {
                continue;
            }
            let v = match enums.iter().position(|e| *e == k) {
                Some(j) => {
                    changed.push((k, values[j].clone()));
                    Value::String(values[j].clone())
                }
                None => v,
            };
            fields.push((k.to_string(), v));
        }
        for (k, v) in extra {
            // A new field: any name the frame does not use.
            if !names.contains(&k.as_str()) && !fields.iter().any(|(f, _)| *f == k) {
                fields.push((k, v));
            }
        }
        // Any order: a deterministic shuffle from the drawn seed.
        let mut seed = order;
        for i in (1..fields.len()).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            fields.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let text = frame_text(&fields);
        let decoded = decode(text.as_bytes());
        match decoded {
            Ok(Decoded::Event(ev)) => {
                for (k, v) in &changed {
                    let v = v.as_str();
                    // (the value the neutral event carries is Unknown, the value is unknown)
                    let check = match (&ev, *k) {
                        (StreamEvent::Ticker(t), "change") => {
                            Some((t.change == Change::Unknown, !["RISE", "EVEN", "FALL"].contains(&v)))
                        }
                        (StreamEvent::Ticker(t), "stream_type") => {
                            Some((t.stream_type == StreamType::Unknown, !["SNAPSHOT", "REALTIME"].contains(&v)))
                        }
                        (StreamEvent::Trade(t), "stream_type") => {
                            Some((t.stream_type == StreamType::Unknown, !["SNAPSHOT", "REALTIME"].contains(&v)))
                        }
                        (StreamEvent::OrderBook(b), "stream_type") => {
                            Some((b.stream_type == StreamType::Unknown, !["SNAPSHOT", "REALTIME"].contains(&v)))
                        }
                        (StreamEvent::Trade(t), "ask_bid") => Some((t.side.is_none(), !["ASK", "BID"].contains(&v))),
                        (StreamEvent::Order(o), "state") => Some((
                            o.state == OrderState::Unknown,
                            !["wait", "watch", "trade", "done", "cancel", "prevented"].contains(&v),
                        )),
                        // A side or type hoga does not know keeps the frame (issue 15, item 4).
                        (StreamEvent::Order(o), "ask_bid") => Some((o.side.is_none(), !["ASK", "BID"].contains(&v))),
                        (StreamEvent::Order(o), "order_type") => Some((
                            !o.ord_type.is_known(),
                            !["limit", "price", "market", "best"].contains(&v),
                        )),
                        (StreamEvent::Order(o), "time_in_force") => {
                            Some((o.time_in_force.is_none(), !["ioc", "fok", "post_only"].contains(&v)))
                        }
                        // Fields the neutral event does not carry are not read at all.
                        _ => None,
                    };
                    if let Some((got, want)) = check {
                        prop_assert_eq!(got, want, "{}={:?} in {}", k, v, text);
                    }
                }
            }
            Ok(other) => prop_assert!(false, "{other:?} from {text}"),
            // Every frame decodes: an unknown value never refuses one.
            Err(e) => prop_assert!(false, "{e} from {text}"),
        }
    }

    /// Any field removed, any field's value replaced by any JSON: decoded or refused as
    /// malformed, never a panic.
    #[test]
    fn frames_with_any_field_broken_never_panic(
        kind in 0usize..6,
        drop in proptest::collection::vec(any::<bool>(), 40),
        replace in proptest::collection::vec(prop_oneof![
            Just(None), Just(None), Just(None),
            Just(Some(Value::Null)), any::<i64>().prop_map(|n| Some(Value::from(n))),
            any_decimal().prop_map(|d| Some(Value::String(d.to_string()))),
            any_decimal().prop_map(|d| serde_json::from_str::<Value>(&d.to_string()).ok()),
            "[ -~]{0,10}".prop_map(|s| Some(Value::from(s))),
            Just(Some(json!([]))), Just(Some(json!({}))),
        ], 40),
    ) {
        let (base, _, _) = base_frames().swap_remove(kind);
        let fields: Vec<(String, Value)> = base
            .into_iter()
            .enumerate()
            .filter(|(i, (k, _))| *k == "type" || !drop[*i % drop.len()] || i % 3 != 0)
            .map(|(i, (k, v))| (k.to_string(), if k == "type" { v } else { replace[i % replace.len()].clone().unwrap_or(v) }))
            .collect();
        let text = frame_text(&fields);
        if let Ok(Decoded::Event(ev)) = decode(text.as_bytes()) {
            // What gets through is inside the band.
            prop_assert!(hoga::exchange::upbit::ws::check_event(&ev).is_ok());
            // A ticker's context figures too (kept in band, or 0 "not known").
            if let StreamEvent::Ticker(t) = &ev {
                prop_assert!(t.check().is_ok(), "{:?}", t.check());
            }
        }
    }
}
