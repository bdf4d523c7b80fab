//! Conformance tests of the simulator's Binance side, over real sockets with plain
//! reqwest / tokio-tungstenite clients, against the payloads of Binance's spot API
//! documentation (developers.binance.com: REST market data endpoints, websocket streams),
//! and of the premium it models between the two venues.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::DEADLINE;
use futures_util::{SinkExt, StreamExt};
use hoga::kernel::TaskManager;
use hoga::sim::{self, SimConfig, SimHandle};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const START_MS: i64 = 1_750_000_000_000;

async fn manual(seed: u64, markets: Option<usize>, step_ms: i64, tasks: &TaskManager) -> SimHandle {
    let cfg = SimConfig {
        seed,
        markets,
        tick_interval: Duration::ZERO,
        start_ms: Some(START_MS),
        step_ms,
        history_secs: 600,
        ..SimConfig::default()
    };
    sim::start(cfg, tasks).await.unwrap()
}

async fn get(sim: &SimHandle, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = reqwest::get(format!("{}{path}", sim.rest_base)).await.unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    (s, h, r.json().await.unwrap_or(Value::Null))
}

async fn ok(sim: &SimHandle, path: &str) -> Value {
    let (s, _, v) = get(sim, path).await;
    assert_eq!(s, 200, "{path}: {v}");
    v
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}")).parse().unwrap()
}

// Examples from Binance's documentation (comments removed).
const DOC_TICKER: &str = r#"{"symbol":"BNBBTC","priceChange":"-94.99999800","priceChangePercent":"-95.960","weightedAvgPrice":"0.29628482","prevClosePrice":"0.10002000","lastPrice":"4.00000200","lastQty":"200.00000000","bidPrice":"4.00000000","bidQty":"100.00000000","askPrice":"4.00000200","askQty":"100.00000000","openPrice":"99.00000000","highPrice":"100.00000000","lowPrice":"0.10000000","volume":"8913.30000000","quoteVolume":"15.30000000","openTime":1499783499040,"closeTime":1499869899040,"firstId":28385,"lastId":28460,"count":76}"#;
const DOC_TRADE: &str = r#"{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}"#;
const DOC_DEPTH: &str = r#"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#;
const DOC_KLINE: &str = r#"[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]"#;
const DOC_WS_TRADE: &str = r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#;
const DOC_WS_TICKER: &str = r#"{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}"#;
const DOC_WS_KLINE: &str = r#"{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}"#;
const DOC_WS_DEPTH: &str = r#"{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}"#;

fn doc(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[tokio::test]
async fn every_rest_route_answers_in_binances_shapes() {
    let tasks = TaskManager::new();
    let sim = manual(42, Some(10), 100, &tasks).await;
    sim.step(200);

    assert_eq!(ok(&sim, "/api/v3/ping").await, json!({}));
    assert_eq!(ok(&sim, "/api/v3/time").await, json!({"serverTime": sim.now_ms()}));

    let info = ok(&sim, "/api/v3/exchangeInfo").await;
    assert_eq!(info["timezone"], "UTC");
    assert_eq!(info["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");
    let syms = info["symbols"].as_array().unwrap();
    let names: Vec<&str> = syms.iter().map(|s| s["symbol"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"BTCUSDT") && names.contains(&"ETHUSDT") && names.contains(&"XRPUSDT"),
        "{names:?}"
    );
    let btc = syms.iter().find(|s| s["symbol"] == "BTCUSDT").unwrap();
    assert_eq!(
        (btc["status"].as_str(), btc["baseAsset"].as_str(), btc["quoteAsset"].as_str()),
        (Some("TRADING"), Some("BTC"), Some("USDT"))
    );
    let filter =
        |t: &str| btc["filters"].as_array().unwrap().iter().find(|f| f["filterType"] == t).unwrap().clone();
    assert_eq!(filter("PRICE_FILTER")["tickSize"], "0.01000000");
    assert_eq!(filter("LOT_SIZE")["stepSize"], "0.00001000");
    assert_eq!(filter("NOTIONAL")["minNotional"], "5.00000000");
    let one = ok(&sim, "/api/v3/exchangeInfo?symbol=ETHUSDT").await;
    assert_eq!(one["symbols"].as_array().unwrap().len(), 1);

    // ticker/24hr: one symbol is an object, `symbols` a list, both with the documented keys.
    let t = ok(&sim, "/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    assert_eq!(keys(&t), keys(&doc(DOC_TICKER)));
    assert!(dec(&t["bidPrice"]) < dec(&t["askPrice"]));
    assert!(dec(&t["lowPrice"]) <= dec(&t["lastPrice"]) && dec(&t["lastPrice"]) <= dec(&t["highPrice"]));
    assert_eq!(t["closeTime"].as_i64().unwrap() - t["openTime"].as_i64().unwrap(), 86_400_000);
    assert_eq!(
        t["lastId"].as_i64().unwrap() - t["firstId"].as_i64().unwrap() + 1,
        t["count"].as_i64().unwrap()
    );
    let list = ok(&sim, "/api/v3/ticker/24hr?symbols=%5B%22BTCUSDT%22,%22ETHUSDT%22%5D").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["symbol"], "ETHUSDT");
    assert!(ok(&sim, "/api/v3/ticker/24hr").await.as_array().unwrap().len() >= 10);

    // depth: tick-size levels, bids down and asks up from a one-tick spread.
    let d = ok(&sim, "/api/v3/depth?symbol=BTCUSDT&limit=5").await;
    assert_eq!(keys(&d), keys(&doc(DOC_DEPTH)));
    let (bids, asks) = (d["bids"].as_array().unwrap(), d["asks"].as_array().unwrap());
    assert_eq!((bids.len(), asks.len()), (5, 5));
    assert_eq!(dec(&asks[0][0]) - dec(&bids[0][0]), Decimal::new(1, 2));
    for w in asks.windows(2) {
        assert_eq!(dec(&w[1][0]) - dec(&w[0][0]), Decimal::new(1, 2));
    }
    assert!(bids.iter().chain(asks).all(|l| dec(&l[1]) > Decimal::ZERO));
    assert_eq!(ok(&sim, "/api/v3/depth?symbol=BTCUSDT").await["bids"].as_array().unwrap().len(), 100);

    // trades: Binance's own consecutive ids, oldest first, printing at the touch.
    let tr = ok(&sim, "/api/v3/trades?symbol=BTCUSDT&limit=3").await;
    let tr = tr.as_array().unwrap();
    assert_eq!(tr.len(), 3);
    assert_eq!(keys(&tr[0]), keys(&doc(DOC_TRADE)));
    assert_eq!(tr[2]["id"].as_i64().unwrap(), tr[1]["id"].as_i64().unwrap() + 1);
    assert!(tr[0]["id"].as_i64().unwrap() > 1_000_000);
    let last = dec(&tr[2]["price"]);
    let touch = if tr[2]["isBuyerMaker"] == true { dec(&bids[0][0]) } else { dec(&asks[0][0]) };
    assert_eq!(last, touch, "the last trade printed at the touch");

    // klines: the documented twelve fields.
    let k = ok(&sim, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3").await;
    let k = k.as_array().unwrap();
    assert_eq!(k.len(), 3);
    let d = doc(DOC_KLINE);
    for (ours, theirs) in k[0].as_array().unwrap().iter().zip(d.as_array().unwrap()) {
        assert_eq!(std::mem::discriminant(ours), std::mem::discriminant(theirs), "{ours} vs {theirs}");
    }
    assert_eq!(k[0].as_array().unwrap().len(), 12);
    tasks.cancel_all();
}

/// OHLCV that holds together, every interval, paging back by `endTime` into the drawn
/// history with no gap and no overlap.
#[tokio::test]
async fn klines_page_by_end_time_through_every_interval() {
    let tasks = TaskManager::new();
    let sim = manual(42, Some(5), 1000, &tasks).await;
    sim.step(300);
    for iv in
        ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]
    {
        let mut end: Option<i64> = None;
        let mut seen: Vec<i64> = Vec::new();
        for _page in 0..3 {
            let q = match end {
                Some(e) => format!("/api/v3/klines?symbol=ETHUSDT&interval={iv}&limit=20&endTime={e}"),
                None => format!("/api/v3/klines?symbol=ETHUSDT&interval={iv}&limit=20"),
            };
            let rows = ok(&sim, &q).await;
            let rows = rows.as_array().unwrap();
            assert_eq!(rows.len(), 20, "{iv}: {rows:?}");
            for r in rows {
                let r = r.as_array().unwrap();
                let (o, h, l, c) = (dec(&r[1]), dec(&r[2]), dec(&r[3]), dec(&r[4]));
                assert!(h >= o.max(c) && l <= o.min(c) && l > Decimal::ZERO, "{iv}: {r:?}");
                assert!(dec(&r[5]) >= Decimal::ZERO && dec(&r[9]) <= dec(&r[5]), "{iv}: {r:?}");
            }
            for w in rows.windows(2) {
                // Each kline closes 1 ms before the next opens.
                assert_eq!(w[0][6].as_i64().unwrap() + 1, w[1][0].as_i64().unwrap(), "{iv}");
            }
            let first = rows[0][0].as_i64().unwrap();
            if let Some(&prev_first) = seen.first() {
                assert_eq!(rows[19][6].as_i64().unwrap() + 1, prev_first, "{iv}: pages meet");
            }
            let mut page: Vec<i64> = rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
            page.extend(seen);
            seen = page;
            end = Some(first - 1);
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{iv}");
    }
    // startTime pages forward from the first open time at or after it.
    let from = ok(&sim, "/api/v3/klines?symbol=ETHUSDT&interval=1h&limit=5&startTime=1749900000001").await;
    assert_eq!(from[0][0].as_i64().unwrap(), 1_749_902_400_000);
    tasks.cancel_all();
}

#[tokio::test]
async fn bad_requests_get_binances_errors_and_weight_runs_out_with_429() {
    let tasks = TaskManager::new();
    let sim = manual(42, Some(5), 100, &tasks).await;
    sim.step(20);
    let cases = [
        ("/api/v3/depth?symbol=NOPEUSDT", -1121, "Invalid symbol."),
        ("/api/v3/ticker/24hr?symbol=MOCAUSDT", -1121, "Invalid symbol."),
        ("/api/v3/depth", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
        (
            "/api/v3/klines?symbol=BTCUSDT",
            -1102,
            "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
        ),
        ("/api/v3/klines?symbol=BTCUSDT&interval=2m", -1120, "Invalid interval."),
        (
            "/api/v3/depth?symbol=btcusdt",
            -1100,
            "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
        ),
        (
            "/api/v3/trades?symbol=BTCUSDT&limit=ten",
            -1100,
            "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
        ),
        (
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=2&endTime=1",
            -1023,
            "Start time is greater than end time.",
        ),
    ];
    for (path, code, msg) in cases {
        let (s, h, v) = get(&sim, path).await;
        assert_eq!((s, v), (400, json!({"code": code, "msg": msg})), "{path}");
        assert!(h.contains_key("x-mbx-used-weight-1m"), "{path}");
    }
    let (_, h, _) = get(&sim, "/api/v3/ping").await;
    let used = |h: &reqwest::header::HeaderMap| -> u32 {
        h["x-mbx-used-weight-1m"].to_str().unwrap().parse().unwrap()
    };
    let before = used(&h);
    let (_, h, _) = get(&sim, "/api/v3/exchangeInfo").await;
    // The wall-clock minute may have turned between the two.
    assert!(used(&h) == before + 20 || used(&h) == 20, "{before} → {}", used(&h));
    // 250 a deep book: the 6,000 a minute run out within 25 of them.
    let mut refused = None;
    for _ in 0..60 {
        let (s, h, v) = get(&sim, "/api/v3/depth?symbol=BTCUSDT&limit=5000").await;
        if s == 429 {
            refused = Some((h, v));
            break;
        }
        assert_eq!(s, 200);
    }
    let (h, v) = refused.expect("a 429 once the minute's weight is spent");
    assert_eq!(v["code"], -1003);
    assert!(v["msg"].as_str().unwrap().starts_with("Too much request weight used; current limit is 6000"));
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(used(&h) > 6000);
    tasks.cancel_all();
}

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next text frame within `wait` (pings skipped), `None` if none came.
async fn next_text(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("socket ended: {other:?}"),
        }
    }
}

/// Steps the market until a frame `pick` accepts arrives; fails after the deadline.
async fn frame_where(sim: &SimHandle, ws: &mut Ws, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        assert!(std::time::Instant::now() < deadline, "no {what} frame in time");
        sim.step(3);
        while let Some(v) = next_text(ws, Duration::from_millis(20)).await {
            if pick(&v) {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn websocket_subscriptions_and_every_stream_kind() {
    let tasks = TaskManager::new();
    let sim = manual(42, Some(5), 100, &tasks).await;
    let base = sim.rest_base.replace("http://", "ws://");
    let mut ws = connect(&format!("{base}/stream?streams=btcusdt@trade")).await;
    let f = frame_where(&sim, &mut ws, "trade", |v| v["stream"] == "btcusdt@trade").await;
    assert_eq!(keys(&f), BTreeSet::from(["stream".to_string(), "data".to_string()]));
    assert_eq!(keys(&f["data"]), keys(&doc(DOC_WS_TRADE)));
    assert_eq!(f["data"]["s"], "BTCUSDT");

    send(&mut ws, json!({"method":"SUBSCRIBE","params":["btcusdt@ticker","btcusdt@depth5@100ms","btcusdt@kline_1m","ethusdt@depth20"],"id":1})).await;
    let r = frame_where(&sim, &mut ws, "reply", |v| v.get("id").is_some()).await;
    assert_eq!(r, json!({"result": null, "id": 1}));
    send(&mut ws, json!({"method":"LIST_SUBSCRIPTIONS","id":3})).await;
    let r = frame_where(&sim, &mut ws, "list", |v| v["id"] == 3).await;
    assert_eq!(
        r["result"],
        json!([
            "btcusdt@trade",
            "btcusdt@ticker",
            "btcusdt@depth5@100ms",
            "btcusdt@kline_1m",
            "ethusdt@depth20"
        ])
    );
    let t = frame_where(&sim, &mut ws, "ticker", |v| v["stream"] == "btcusdt@ticker").await;
    assert_eq!(keys(&t["data"]), keys(&doc(DOC_WS_TICKER)));
    assert_eq!(t["data"]["e"], "24hrTicker");
    let d = frame_where(&sim, &mut ws, "depth5", |v| v["stream"] == "btcusdt@depth5@100ms").await;
    assert_eq!(keys(&d["data"]), keys(&doc(DOC_WS_DEPTH)));
    assert_eq!(d["data"]["bids"].as_array().unwrap().len(), 5);
    let d = frame_where(&sim, &mut ws, "depth20", |v| v["stream"] == "ethusdt@depth20").await;
    assert_eq!(d["data"]["asks"].as_array().unwrap().len(), 20);
    let k = frame_where(&sim, &mut ws, "kline", |v| v["stream"] == "btcusdt@kline_1m").await;
    assert_eq!(keys(&k["data"]), keys(&doc(DOC_WS_KLINE)));
    assert_eq!(keys(&k["data"]["k"]), keys(&doc(DOC_WS_KLINE)["k"]));
    assert_eq!(k["data"]["k"]["i"], "1m");
    assert_eq!(k["data"]["k"]["T"].as_i64().unwrap() - k["data"]["k"]["t"].as_i64().unwrap(), 59_999);

    send(&mut ws, json!({"method":"UNSUBSCRIBE","params":["btcusdt@trade","btcusdt@ticker","btcusdt@kline_1m","btcusdt@depth5@100ms","ethusdt@depth20"],"id":312})).await;
    let r = frame_where(&sim, &mut ws, "unsubscribe", |v| v["id"] == 312).await;
    assert_eq!(r, json!({"result": null, "id": 312}));
    send(&mut ws, json!({"method":"LIST_SUBSCRIPTIONS","id":4})).await;
    let r = frame_where(&sim, &mut ws, "list", |v| v["id"] == 4).await;
    assert_eq!(r["result"], json!([]));
    send(&mut ws, json!({"method":"SUBSCRIBE","params":["btcusdt@bookTickr"],"id":5})).await;
    let r = frame_where(&sim, &mut ws, "error", |v| v["id"] == 5).await;
    assert_eq!(r["code"], 2, "{r}");
    send(&mut ws, json!({"method":"SUBSCRIB","params":[],"id":6})).await;
    let r = frame_where(&sim, &mut ws, "error", |v| v["id"] == 6).await;
    assert!(r["msg"].as_str().unwrap().starts_with("Invalid request: unknown variant `SUBSCRIB`"), "{r}");

    // Raw streams: the payload alone.
    let mut raw = connect(&format!("{base}/ws")).await;
    send(&mut raw, json!({"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":7})).await;
    let r = frame_where(&sim, &mut raw, "reply", |v| v["id"] == 7).await;
    assert_eq!(r, json!({"result": null, "id": 7}));
    let f = frame_where(&sim, &mut raw, "raw trade", |v| v["e"] == "trade").await;
    assert_eq!(keys(&f), keys(&doc(DOC_WS_TRADE)));
    let mut path = connect(&format!("{base}/ws/ethusdt@kline_1s")).await;
    let f = frame_where(&sim, &mut path, "raw kline", |v| v["e"] == "kline").await;
    assert_eq!(f["k"]["i"], "1s");
    tasks.cancel_all();
}

/// The premium computed from the simulator's own prices, as a trader would: Upbit's KRW
/// price over Binance's USDT price times Upbit's `KRW-USDT` (kimp) or the FX rate (kimp
/// fx). It stays in a believable band and moves over ten virtual hours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_premium_between_the_venues_stays_sane_and_moves() {
    let tasks = TaskManager::new();
    let sim = manual(7, None, 120_000, &tasks).await;
    let mut kimps = Vec::new();
    let mut fxs = Vec::new();
    for _ in 0..10 {
        sim.step(30);
        let up = ok(&sim, "/v1/ticker?markets=KRW-BTC,KRW-USDT").await;
        let up = up.as_array().unwrap();
        let price = |m: &str| -> f64 {
            up.iter().find(|t| t["market"] == m).unwrap()["trade_price"].as_f64().unwrap()
        };
        let (krw_btc, krw_usdt) = (price("KRW-BTC"), price("KRW-USDT"));
        let usdt: f64 = ok(&sim, "/api/v3/ticker/24hr?symbol=BTCUSDT").await["lastPrice"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let fx = ok(&sim, "/fx/usd-krw").await;
        assert_eq!(fx["timestamp"].as_i64().unwrap(), sim.now_ms());
        let rate: f64 = fx["rate"].as_str().unwrap().parse().unwrap();
        assert!((1380.0..1480.0).contains(&rate), "{rate}");
        assert!((1380.0..1560.0).contains(&krw_usdt), "KRW-USDT near the dollar rate: {krw_usdt}");
        let kimp = krw_btc / (usdt * krw_usdt) - 1.0;
        let kimp_fx = krw_btc / (usdt * rate) - 1.0;
        assert!((-0.04..0.08).contains(&kimp), "kimp {kimp}");
        assert!((-0.03..0.12).contains(&kimp_fx), "kimp fx {kimp_fx}");
        kimps.push(kimp);
        fxs.push(kimp_fx);
    }
    let spread =
        |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread(&fxs) > 0.001, "the premium moves: {fxs:?}");
    assert!(spread(&kimps) > 0.0005, "{kimps:?}");
    tasks.cancel_all();
}

/// Binance's prices are a function of the seed: the same seed gives the same trades and
/// klines, another seed other ones.
#[tokio::test]
async fn the_same_seed_gives_the_same_binance_prices() {
    async fn prices(seed: u64) -> (Value, Value) {
        let tasks = TaskManager::new();
        let sim = manual(seed, Some(5), 500, &tasks).await;
        sim.step(150);
        let k = ok(&sim, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=40").await;
        let t = ok(&sim, "/api/v3/trades?symbol=ETHUSDT&limit=50").await;
        tasks.cancel_all();
        (k, t)
    }
    let a = prices(11).await;
    assert_eq!(a, prices(11).await);
    assert_ne!(a.0, prices(12).await.0);
}

/// hoga's own Binance client reads every answer of the simulator (markets, tickers, book,
/// trades, candles with paging): the two sides were written apart, from Binance's docs.
#[tokio::test]
async fn hogas_binance_client_reads_the_simulator() {
    use hoga::exchange::binance::rest::BinanceRest;
    use hoga::exchange::rest::RestApi;
    use hoga::exchange::types::{MarketId, Timeframe};
    let tasks = TaskManager::new();
    let sim = manual(42, Some(5), 1000, &tasks).await;
    sim.step(100);
    let client = BinanceRest::new(&sim.rest_base).unwrap();
    let markets = client.markets().await.unwrap();
    let btc = MarketId::new("USDT-BTC");
    assert!(markets.iter().any(|m| m.market == btc), "{markets:?}");
    let t = client.tickers(std::slice::from_ref(&btc)).await.unwrap();
    assert_eq!(t.len(), 1);
    assert!(t[0].trade_price > Decimal::ZERO);
    let b = client.orderbook(std::slice::from_ref(&btc), 15).await.unwrap();
    assert_eq!(b[0].levels.len(), 15);
    assert_eq!(client.trades(&btc, 20).await.unwrap().len(), 20);
    let c = client.candles(&btc, Timeframe::M1, 50).await.unwrap();
    assert_eq!(c.len(), 50);
    let oldest = c.iter().map(|c| c.start).min().unwrap();
    let older = client.candles_before(&btc, Timeframe::M1, 50, oldest).await.unwrap();
    assert_eq!(older.len(), 50);
    assert_eq!(older.iter().map(|c| c.start).max().unwrap(), oldest - 60_000, "the page before, no gap");
    tasks.cancel_all();
}

/// hoga's Binance stream decoder reads every stream kind the simulator sends.
#[tokio::test]
async fn hogas_binance_decoder_reads_every_stream_kind() {
    use hoga::exchange::binance::ws::BinanceDecoder;
    use hoga::exchange::stream::Decoded;
    let tasks = TaskManager::new();
    let sim = manual(42, Some(5), 100, &tasks).await;
    let base = sim.rest_base.replace("http://", "ws://");
    let streams = ["btcusdt@trade", "btcusdt@ticker", "btcusdt@depth20@100ms", "btcusdt@kline_1m"];
    let mut ws = connect(&format!("{base}/stream?streams={}", streams.join("/"))).await;
    let mut decoder = BinanceDecoder::default();
    for s in streams {
        let f = frame_where(&sim, &mut ws, s, |v| v["stream"] == s).await;
        match decoder.decode(f.to_string().as_bytes()) {
            Ok(Decoded::Event(_)) => {}
            other => panic!("{s}: {other:?} from {f}"),
        }
    }
    tasks.cancel_all();
}
