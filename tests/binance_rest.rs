//! The Binance REST client against a small in-process server: the calls it makes (paths,
//! parameters, weights), what it makes of the answers, and how it takes 429, 418 and the
//! used-weight header.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use hoga::exchange::binance::rest::BinanceRest;
use hoga::exchange::error::ErrorKind;
use hoga::exchange::rest::RestApi;
use hoga::exchange::types::{MarketId, Side, Timeframe};
use rust_decimal_macros::dec;

/// A canned answer: status, headers, body.
type Canned = (u16, Vec<(&'static str, String)>, String);

/// What the server answers next, and what it was asked.
#[derive(Default)]
struct Server {
    /// `path?query` of every request, in order.
    asked: Vec<String>,
    /// When set, the next answer is this status, headers and body instead of the data.
    next: Option<Canned>,
    /// `X-MBX-USED-WEIGHT-1M` sent with data answers.
    used_weight: Option<u32>,
}

type Shared = Arc<Mutex<Server>>;

fn usdt(base: &str) -> MarketId {
    MarketId::new(&format!("USDT-{base}"))
}

fn symbol_json(base: &str, status: &str, quote: &str) -> String {
    format!(
        r#"{{"symbol":"{base}{quote}","status":"{status}","baseAsset":"{base}","quoteAsset":"{quote}",
            "filters":[{{"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1000000","tickSize":"0.01000000"}},
                       {{"filterType":"LOT_SIZE","minQty":"0.00001","maxQty":"9000","stepSize":"0.00001000"}}]}}"#
    )
}

fn ticker_json(symbol: &str) -> String {
    format!(
        r#"{{"symbol":"{symbol}","priceChange":"100.00","priceChangePercent":"1.000","weightedAvgPrice":"10050",
            "prevClosePrice":"9999","lastPrice":"10100.00","lastQty":"0.5","bidPrice":"10099","bidQty":"1",
            "askPrice":"10100","askQty":"1","openPrice":"10000.00","highPrice":"10200","lowPrice":"9900",
            "volume":"12.5","quoteVolume":"125000","openTime":1733356800000,"closeTime":1733443199999,
            "firstId":1,"lastId":2,"count":2}}"#
    )
}

/// A 5-minute kline row starting at `start`.
fn kline(start: i64, open: &str, close: &str) -> String {
    format!(r#"[{start},"{open}","200","50","{close}","1.5",{},"150.0",3,"0","0","0"]"#, start + 299_999)
}

/// 2024-12-06T00:00:00Z, a whole 10 minutes.
const T0: i64 = 1_733_443_200_000;

async fn data(State(s): State<Shared>, uri: Uri, RawQuery(q): RawQuery) -> axum::response::Response {
    let path = uri.path().to_string();
    let query = q.unwrap_or_default();
    let (next, used) = {
        let mut st = s.lock().unwrap();
        st.asked.push(format!("{path}?{query}"));
        (st.next.take(), st.used_weight)
    };
    if let Some((status, headers, body)) = next {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        return (StatusCode::from_u16(status).unwrap(), h, body).into_response();
    }
    let decoded = percent_decode(&query);
    let body = match path.as_str() {
        "/api/v3/exchangeInfo" => format!(
            r#"{{"timezone":"UTC","serverTime":1,"rateLimits":[{{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000}}],
                "symbols":[{},{},{},{}]}}"#,
            symbol_json("BTC", "TRADING", "USDT"),
            symbol_json("ETH", "TRADING", "USDT"),
            symbol_json("ETH", "TRADING", "BTC"),
            symbol_json("LUNA", "BREAK", "USDT"),
        ),
        "/api/v3/ticker/24hr" => {
            if decoded.contains("NOPEUSDT") {
                return (StatusCode::BAD_REQUEST, r#"{"code":-1121,"msg":"Invalid symbol."}"#).into_response();
            }
            let symbols: Vec<String> = decoded
                .split(['[', ']', ',', '&', '='])
                .map(|s| s.trim_matches('"').to_string())
                .filter(|s| s.ends_with("USDT"))
                .collect();
            if decoded.starts_with("symbol=") {
                ticker_json(&symbols[0])
            } else {
                format!("[{}]", symbols.iter().map(|s| ticker_json(s)).collect::<Vec<_>>().join(","))
            }
        }
        "/api/v3/depth" => r#"{"lastUpdateId":7,"bids":[["10099.00","1.5"],["10098.00","2"]],"asks":[["10100.00","0.5",[]]]}"#.into(),
        "/api/v3/trades" => r#"[{"id":1,"price":"10000.00","qty":"0.1","quoteQty":"1000","time":1733443100000,"isBuyerMaker":true,"isBestMatch":true},
                                {"id":2,"price":"10001.00","qty":"0.2","quoteQty":"2000.2","time":1733443101000,"isBuyerMaker":false,"isBestMatch":true}]"#
            .into(),
        "/api/v3/klines" => {
            // Four 5-minute rows from half a bucket before T0: the first is dropped when
            // 10-minute candles are built from them.
            let rows = [
                kline(T0 - 300_000, "90", "95"),
                kline(T0, "100", "110"),
                kline(T0 + 300_000, "110", "120"),
                kline(T0 + 600_000, "120", "125"),
            ];
            format!("[{}]", rows.join(","))
        }
        _ => return (StatusCode::NOT_FOUND, r#"{"code":-1000,"msg":"no route"}"#).into_response(),
    };
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(w) = used {
        h.insert("x-mbx-used-weight-1m", HeaderValue::from_str(&w.to_string()).unwrap());
    }
    (StatusCode::OK, h, body).into_response()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

async fn server() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new().fallback(data).with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

fn asked(s: &Shared) -> Vec<String> {
    s.lock().unwrap().asked.iter().map(|q| percent_decode(q)).collect()
}

#[tokio::test]
async fn market_data_calls_ask_what_binance_documents_and_read_the_answers() {
    let (url, s) = server().await;
    let rest = BinanceRest::new(&url).unwrap();

    // Only TRADING USDT symbols are listed; the symbol table and the steps are learnt.
    let markets = rest.markets().await.unwrap();
    assert_eq!(markets.iter().map(|m| m.market.as_str()).collect::<Vec<_>>(), ["USDT-BTC", "USDT-ETH"]);
    assert_eq!(hoga::exchange::binance::Symbols::global().market("ETHUSDT"), Some(usdt("ETH")));
    let rules = hoga::exchange::binance::rules_of(&usdt("BTC")).unwrap();
    assert_eq!((rules.tick_size, rules.step_size), (Some(dec!(0.01)), Some(dec!(0.00001))));

    // Tickers: one symbol by `symbol=`, several by a `symbols=` JSON array in batches of 20.
    let t = rest.tickers(&[usdt("BTC")]).await.unwrap();
    assert_eq!((t.len(), t[0].trade_price, t[0].signed_change_rate), (1, dec!(10100), dec!(0.01)));
    let many: Vec<MarketId> = (0..25).map(|i| usdt(&format!("C{i:02}"))).collect();
    let t = rest.tickers(&many).await.unwrap();
    assert_eq!(t.len(), 25);
    let q = asked(&s);
    let batches: Vec<&String> = q.iter().filter(|q| q.contains("symbols=")).collect();
    assert_eq!(batches.len(), 2, "{q:?}");
    assert!(batches[0].starts_with(r#"/api/v3/ticker/24hr?symbols=["C00USDT","C01USDT""#), "{}", batches[0]);

    // A batch refused for one unknown symbol is asked again symbol by symbol.
    let t = rest.tickers(&[usdt("BTC"), usdt("NOPE"), usdt("ETH")]).await.unwrap();
    let mut got: Vec<&str> = t.iter().map(|t| t.market.as_ref().unwrap().as_str()).collect();
    got.sort();
    assert_eq!(got, ["USDT-BTC", "USDT-ETH"]);

    // Depth: 15 levels asked as Binance's 20.
    let b = rest.orderbook(&[usdt("BTC")], 15).await.unwrap();
    assert!(asked(&s).last().unwrap().ends_with("/api/v3/depth?symbol=BTCUSDT&limit=20"));
    assert_eq!(
        (b[0].levels.len(), b[0].best_ask(), b[0].best_bid()),
        (2, Some(dec!(10100)), Some(dec!(10099)))
    );

    // Trades newest first; a maker buyer means the taker sold.
    let tr = rest.trades(&usdt("BTC"), 50).await.unwrap();
    assert!(asked(&s).last().unwrap().ends_with("/api/v3/trades?symbol=BTCUSDT&limit=50"));
    assert_eq!(
        tr.iter().map(|t| (t.sequential_id, t.side)).collect::<Vec<_>>(),
        [(2, Some(Side::Bid)), (1, Some(Side::Ask))]
    );

    // Candles newest first; the older page ends at `before − 1`.
    let c = rest.candles(&usdt("BTC"), Timeframe::M5, 4).await.unwrap();
    assert!(asked(&s).last().unwrap().ends_with("/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=4"));
    assert_eq!(c.iter().map(|c| c.start).collect::<Vec<_>>(), [T0 + 600_000, T0 + 300_000, T0, T0 - 300_000]);
    let c = rest.candles_before(&usdt("BTC"), Timeframe::H1, 2, T0 + 600_000).await.unwrap();
    let last = asked(&s).last().unwrap().clone();
    assert!(last.ends_with(&format!("interval=1h&endTime={}&limit=2", T0 + 599_999)), "{last}");
    // (The fake answers 5-minute rows whatever is asked; only those before `before` are kept.)
    assert!(c.iter().all(|c| c.start < T0 + 600_000), "{c:?}");

    // Ten minutes: from 5-minute candles, pairs aligned to 10-minute starts.
    let c = rest.candles(&usdt("BTC"), Timeframe::M10, 2).await.unwrap();
    assert!(asked(&s).last().unwrap().ends_with("interval=5m&limit=5"));
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[0].start, c[0].open, c[0].close, c[0].timeframe),
        (T0 + 600_000, dec!(120), dec!(125), Timeframe::M10)
    );
    assert_eq!((c[1].start, c[1].open, c[1].close), (T0, dec!(100), dec!(120)));
    assert_eq!((c[1].volume, c[1].value), (dec!(3), dec!(300)));
}

#[tokio::test]
async fn binance_errors_are_named_and_429_418_pause_and_ban() {
    let (url, s) = server().await;
    let rest = BinanceRest::new(&url).unwrap();

    // An error body names Binance's code and message.
    s.lock().unwrap().next = Some((400, vec![], r#"{"code":-1121,"msg":"Invalid symbol."}"#.into()));
    let e = rest.orderbook(&[usdt("BTC")], 5).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Rejected, Some("-1121")));
    assert!(e.to_string().contains("-1121 Invalid symbol."), "{e}");

    // The server's used weight is followed.
    s.lock().unwrap().used_weight = Some(5321);
    rest.trades(&usdt("BTC"), 1).await.unwrap();
    assert_eq!(rest.weight_used().0, 5321);
    s.lock().unwrap().used_weight = None;

    // 429 with Retry-After: rate limited, every call paused that long.
    s.lock().unwrap().next = Some((
        429,
        vec![("retry-after", "2".into())],
        r#"{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}"#.into(),
    ));
    let e = rest.trades(&usdt("BTC"), 1).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert!(e.to_string().contains("-1003"), "{e}");
    let st = rest.limits_status();
    assert_eq!(st.rate_limited, 1);
    assert!(
        matches!(st.paused.as_slice(), [("weight", d)] if *d <= Duration::from_secs(2) && *d > Duration::from_secs(1)),
        "{st:?}"
    );
    // The next call waits the pause out, then goes.
    let before = std::time::Instant::now();
    rest.trades(&usdt("BTC"), 1).await.unwrap();
    assert!(before.elapsed() >= Duration::from_secs(1), "{:?}", before.elapsed());

    // 418 with Retry-After: banned; later calls fail at once without a request.
    s.lock().unwrap().next = Some((
        418,
        vec![("retry-after", "120".into())],
        r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1733443320000. Please use WebSocket Streams for live updates to avoid bans."}"#.into(),
    ));
    let e = rest.trades(&usdt("BTC"), 1).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Blocked);
    let n = s.lock().unwrap().asked.len();
    let e = rest.candles(&usdt("BTC"), Timeframe::M1, 1).await.unwrap_err();
    assert!(e.kind == ErrorKind::Blocked && e.to_string().contains("banned"), "{e}");
    assert_eq!(s.lock().unwrap().asked.len(), n, "no request goes out during a ban");
    let st = rest.limits_status();
    assert!(st.ip_blocked_for.is_some_and(|d| d > Duration::from_secs(110)) && st.blocks == 1, "{st:?}");
    // Another client of the same host shares the ban.
    let other = BinanceRest::new(&url).unwrap();
    assert_eq!(other.markets().await.unwrap_err().kind, ErrorKind::Blocked);
}

#[tokio::test]
async fn a_server_error_is_retried_and_a_bad_body_is_an_error() {
    let (url, s) = server().await;
    let rest = BinanceRest::new(&url).unwrap();
    s.lock().unwrap().next = Some((502, vec![], "<html>bad gateway</html>".into()));
    let tr = rest.trades(&usdt("BTC"), 2).await.unwrap();
    assert_eq!(tr.len(), 2);
    assert_eq!(s.lock().unwrap().asked.len(), 2, "one retry after the 502");
    s.lock().unwrap().next =
        Some((200, vec![], r#"{"lastUpdateId":1,"bids":[["NaN","1"]],"asks":[]}"#.into()));
    let e = rest.orderbook(&[usdt("BTC")], 5).await.unwrap_err();
    assert!(e.kind == ErrorKind::Network && e.to_string().contains("bids[0] price"), "{e}");
}
