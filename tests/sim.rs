//! Conformance tests of the embedded Upbit simulator, over real sockets with plain
//! reqwest / tokio-tungstenite clients (not hoga's own client), against the wire formats
//! of Upbit's developer documentation (`docs.upbit.com`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{DEADLINE, poll, until};
use futures_util::{SinkExt, StreamExt};
use hoga::kernel::TaskManager;
use hoga::sim::{self, FrameFault, RestFault, SimConfig, SimHandle};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const START_MS: i64 = 1_750_000_000_000;

/// A manual-clock simulator (nothing moves unless the test steps it).
async fn manual(seed: u64, tasks: &TaskManager) -> SimHandle {
    let cfg = SimConfig {
        seed,
        markets: Some(10),
        tick_interval: Duration::ZERO,
        start_ms: Some(START_MS),
        history_secs: 600,
        ..SimConfig::default()
    };
    sim::start(cfg, tasks).await.unwrap()
}

fn nonce() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn jwt(access: &str, secret: &str, hash_input: Option<&str>, alg: Algorithm) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert("access_key".into(), json!(access));
    claims.insert("nonce".into(), json!(nonce()));
    if let Some(q) = hash_input {
        claims.insert("query_hash".into(), json!(hex::encode(Sha512::digest(q.as_bytes()))));
        claims.insert("query_hash_alg".into(), json!("SHA512"));
    }
    jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// Signed exchange client for the demo account.
struct Api {
    base: String,
    access: String,
    secret: String,
    http: reqwest::Client,
}

impl Api {
    fn new(sim: &SimHandle) -> Api {
        Api {
            base: sim.rest_base.clone(),
            access: sim.credentials.0.clone(),
            secret: sim.credentials.1.expose_secret().to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// GET/DELETE with a query whose values need no encoding (hash input = wire query).
    async fn call(&self, method: reqwest::Method, path: &str, query: &str) -> (u16, Value) {
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let t = jwt(&self.access, &self.secret, (!query.is_empty()).then_some(query), Algorithm::HS512);
        // A lost reply (ambiguous-cancel fault) shows as status 0.
        let Ok(r) = self.http.request(method, url).bearer_auth(t).send().await else {
            return (0, Value::Null);
        };
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, query: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, query).await
    }

    async fn delete(&self, path: &str, query: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, query).await
    }

    /// POST with a JSON body of string values, hashed in body order.
    async fn post(&self, path: &str, body: &[(&str, &str)]) -> (u16, Value) {
        let input = body.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let text = format!(
            "{{{}}}",
            body.iter().map(|(k, v)| format!("{}:{}", json!(k), json!(v))).collect::<Vec<_>>().join(",")
        );
        let t = jwt(&self.access, &self.secret, Some(&input), Algorithm::HS512);
        let sent = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(t)
            .header("content-type", "application/json; charset=utf-8")
            .body(text)
            .send()
            .await;
        // A lost reply (ambiguous-order fault) shows as status 0.
        let Ok(r) = sent else { return (0, Value::Null) };
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn get_json(url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = reqwest::get(url).await.unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    (s, h, r.json().await.unwrap_or(Value::Null))
}

/// Opens a websocket; an upgrade refused by the connect limit (5/s) is retried for 10 s.
async fn connect(url: &str) -> Ws {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => return ws,
            Err(tokio_tungstenite::tungstenite::Error::Http(r))
                if r.status() == 429 && tokio::time::Instant::now() < deadline =>
            {
                // The limit counts per second; hammering it would earn a 418.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("connect {url}: {e}"),
        }
    }
}

async fn connect_private(sim: &SimHandle) -> Ws {
    let mut req = sim.ws_private_url.as_str().into_client_request().unwrap();
    let t = jwt(&sim.credentials.0, sim.credentials.1.expose_secret(), None, Algorithm::HS512);
    req.headers_mut().insert("Authorization", format!("Bearer {t}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Next data frame as (was binary, JSON); panics after 5 s.
async fn next_frame(ws: &mut Ws) -> (bool, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame within 5 s")
            .unwrap()
            .unwrap();
        match m {
            Message::Binary(b) => return (true, serde_json::from_slice(&b).unwrap()),
            Message::Text(t) => return (false, serde_json::from_str(&t).unwrap()),
            _ => continue,
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    next_frame(ws).await.1
}

/// Waits until the simulator has registered a subscription with `n` type objects on some
/// connection (there is no ack on success).
async fn wait_subscribed(sim: &SimHandle, n: usize) {
    until("the subscription registered", || sim.subscriptions().values().any(|s| s.types.len() == n)).await;
}

/// The exact value of a JSON amount, in any of Upbit's spellings (`1.16539E8`, `"2.0"`).
fn d(v: &Value) -> Decimal {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a decimal: {other}"),
    };
    text.parse().or_else(|_| Decimal::from_scientific(&text)).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A KRW-BTC price on the 1,000 grid, 100,000 under the last trade: a bid there rests.
async fn resting_bid_price(sim: &SimHandle) -> Decimal {
    let (_, _, t) = get_json(&format!("{}/v1/ticker?markets=KRW-BTC", sim.rest_base)).await;
    (d(&t[0]["trade_price"]) / Decimal::from(1000)).floor() * Decimal::from(1000) - Decimal::from(100_000)
}

/// A limit bid for 0.01 KRW-BTC at `price` under `identifier`: (status, body).
async fn limit_bid(api: &Api, price: Decimal, identifier: &str) -> (u16, Value) {
    let price = price.to_string();
    let body = [
        ("market", "KRW-BTC"),
        ("side", "bid"),
        ("volume", "0.01"),
        ("price", price.as_str()),
        ("ord_type", "limit"),
        ("identifier", identifier),
    ];
    api.post("/v1/orders", &body).await
}

#[tokio::test]
async fn quotation_rest_matches_the_reference_shapes() {
    let tasks = TaskManager::new();
    let sim = manual(1, &tasks).await;
    let base = &sim.rest_base;

    let (s, h, all) = get_json(&format!("{base}/v1/market/all?is_details=true")).await;
    assert_eq!(s, 200);
    let rr = h.get("Remaining-Req").unwrap().to_str().unwrap();
    assert!(rr.starts_with("group=market; min=600; sec="), "{rr}");
    let all = all.as_array().unwrap();
    assert!(all.iter().any(|m| m["market"] == "KRW-BTC" && m["korean_name"] == "비트코인"));
    assert!(all.iter().all(|m| m["market_event"]["caution"].is_object()));
    assert!(all.iter().any(|m| m["market"].as_str().unwrap().starts_with("BTC-")));

    let (s, h, t) = get_json(&format!("{base}/v1/ticker?markets=KRW-BTC,KRW-ETH")).await;
    assert_eq!(s, 200);
    assert!(h.get("Remaining-Req").unwrap().to_str().unwrap().starts_with("group=ticker; min=600; sec="));
    let t0 = &t[0];
    for k in [
        "market",
        "trade_date",
        "trade_time",
        "trade_date_kst",
        "trade_time_kst",
        "trade_timestamp",
        "opening_price",
        "high_price",
        "low_price",
        "trade_price",
        "prev_closing_price",
        "change",
        "change_price",
        "change_rate",
        "signed_change_price",
        "signed_change_rate",
        "trade_volume",
        "acc_trade_price",
        "acc_trade_price_24h",
        "acc_trade_volume",
        "acc_trade_volume_24h",
        "highest_52_week_price",
        "highest_52_week_date",
        "lowest_52_week_price",
        "lowest_52_week_date",
        "timestamp",
    ] {
        assert!(t0.get(k).is_some(), "ticker lacks {k}: {t0}");
    }
    assert!(t0["trade_price"].is_number(), "quotation amounts are JSON numbers");
    assert_eq!(t0["trade_date"].as_str().unwrap().len(), 8);
    let signed = d(&t0["signed_change_price"]);
    assert_eq!(signed, d(&t0["trade_price"]) - d(&t0["prev_closing_price"]));
    let expect = if signed > Decimal::ZERO {
        "RISE"
    } else if signed < Decimal::ZERO {
        "FALL"
    } else {
        "EVEN"
    };
    assert_eq!(t0["change"], expect);

    let (s, _, e) = get_json(&format!("{base}/v1/ticker?markets=KRW-NOPE")).await;
    assert_eq!((s, &e["error"]["name"]), (404, &json!(404)), "quotation errors carry an integer name");
    let (s, _, e) = get_json(&format!("{base}/v1/ticker")).await;
    assert_eq!((s, &e["error"]["name"]), (400, &json!(400)));

    let (_, _, b) = get_json(&format!("{base}/v1/orderbook?markets=KRW-BTC&count=5")).await;
    let units = b[0]["orderbook_units"].as_array().unwrap();
    assert_eq!(units.len(), 5);
    assert!(d(&units[0]["ask_price"]) > d(&units[0]["bid_price"]));
    assert!(d(&units[1]["ask_price"]) > d(&units[0]["ask_price"]));
    let (_, _, b) = get_json(&format!("{base}/v1/orderbook?markets=KRW-BTC&level=7")).await;
    assert_eq!(b, json!([]), "unsupported level → empty array");

    let (_, _, i) = get_json(&format!("{base}/v1/orderbook/instruments?markets=KRW-BTC")).await;
    assert_eq!(i[0]["tick_size"], json!("1000"));
    assert_eq!(i[0]["quote_currency"], "KRW");

    let (_, h, tr) = get_json(&format!("{base}/v1/trades/ticks?market=KRW-BTC&count=3")).await;
    assert!(h.get("Remaining-Req").unwrap().to_str().unwrap().starts_with("group=crix-trades;"));
    let tr = tr.as_array().unwrap();
    assert_eq!(tr.len(), 3);
    assert!(tr[0]["timestamp"].as_i64() >= tr[1]["timestamp"].as_i64(), "newest first");
    assert!(matches!(tr[0]["ask_bid"].as_str(), Some("ASK" | "BID")));
    let cursor = tr[0]["sequential_id"].as_i64().unwrap();
    let (_, _, older) =
        get_json(&format!("{base}/v1/trades/ticks?market=KRW-BTC&count=2&cursor={cursor}")).await;
    assert_eq!(older[0]["sequential_id"], tr[1]["sequential_id"]);

    let (_, h, c) = get_json(&format!("{base}/v1/candles/minutes/1?market=KRW-BTC&count=3")).await;
    assert!(h.get("Remaining-Req").unwrap().to_str().unwrap().starts_with("group=candles;"));
    let c = c.as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert!(c[0]["candle_date_time_utc"].as_str().unwrap() > c[1]["candle_date_time_utc"].as_str().unwrap());
    assert_eq!(c[0]["unit"], 1);
    assert!(d(&c[0]["high_price"]) >= d(&c[0]["low_price"]));
    let (_, _, days) =
        get_json(&format!("{base}/v1/candles/days?market=KRW-BTC&count=2&to=2025-06-01T00:00:00Z")).await;
    assert_eq!(days[0]["candle_date_time_utc"], "2025-05-31T00:00:00");
    assert!(days[0].get("prev_closing_price").is_some() && days[0].get("change_rate").is_some());
    let (s, _, _) = get_json(&format!("{base}/v1/candles/minutes/2?market=KRW-BTC")).await;
    assert_eq!(s, 400);
    sim.stop();
}

#[tokio::test]
async fn websocket_snapshot_realtime_formats_and_replacement() {
    let tasks = TaskManager::new();
    let sim = manual(2, &tasks).await;
    let mut ws = connect(&sim.ws_public_url).await;

    send(&mut ws, json!([{"ticket":"t1"},{"type":"ticker","codes":["KRW-BTC"]},{"format":"DEFAULT"}])).await;
    let (binary, snap) = next_frame(&mut ws).await;
    assert!(binary, "data frames are binary");
    assert_eq!((snap["type"].as_str(), snap["code"].as_str()), (Some("ticker"), Some("KRW-BTC")));
    assert_eq!(snap["stream_type"], "SNAPSHOT");
    for k in
        ["acc_ask_volume", "acc_bid_volume", "ask_bid", "market_state", "highest_52_week_date", "timestamp"]
    {
        assert!(snap.get(k).is_some(), "ws ticker lacks {k}");
    }
    wait_subscribed(&sim, 1).await;
    let mut realtime = None;
    for _ in 0..200 {
        sim.script_trade(
            "KRW-BTC",
            d(&snap["trade_price"]),
            Decimal::new(1, 3),
            hoga::exchange::types::Side::Bid,
        );
        let m = next_json(&mut ws).await;
        if m["stream_type"] == "REALTIME" {
            realtime = Some(m);
            break;
        }
    }
    assert_eq!(realtime.unwrap()["type"], "ticker");

    // Candle and grouped-orderbook snapshots.
    let mut wc = connect(&sim.ws_public_url).await;
    send(&mut wc, json!([{"ticket":"c"},{"type":"candle.1m","codes":["KRW-BTC"],"is_only_snapshot":true}]))
        .await;
    let c = next_json(&mut wc).await;
    assert_eq!((c["type"].as_str(), c["stream_type"].as_str()), (Some("candle.1m"), Some("SNAPSHOT")));
    assert!(c["candle_date_time_kst"].is_string() && c["candle_acc_trade_volume"].is_number());
    send(&mut wc, json!([{"ticket":"c"},{"type":"orderbook","codes":["KRW-BTC.15"],"level":10000,"is_only_snapshot":true}])).await;
    let g = next_json(&mut wc).await;
    assert_eq!(g["level"], json!(10000));
    let units = g["orderbook_units"].as_array().unwrap();
    assert!(!units.is_empty() && units.len() <= 15);
    for u in units {
        assert!((d(&u["ask_price"]) % Decimal::from(10000)).is_zero(), "grouped price {u}");
    }

    // A new request replaces the subscription: only ETH orderbook (5 levels, SIMPLE) now.
    send(&mut ws, json!([{"ticket":"t2"},{"format":"SIMPLE"},{"type":"orderbook","codes":["KRW-ETH.5"]}]))
        .await;
    let ob = next_json(&mut ws).await;
    assert_eq!(
        (ob["ty"].as_str(), ob["cd"].as_str(), ob["st"].as_str()),
        (Some("orderbook"), Some("KRW-ETH"), Some("SNAPSHOT"))
    );
    assert_eq!(ob["obu"].as_array().unwrap().len(), 5);
    let units = ob["obu"].as_array().unwrap();
    let total: Decimal = units.iter().map(|u| d(&u["as"])).sum();
    assert_eq!(d(&ob["tas"]), total, "totals cover the delivered levels");
    wait_subscribed(&sim, 1).await;
    sim.step(300);
    sim.script_trade("KRW-ETH", d(&units[0]["ap"]), Decimal::ONE, hoga::exchange::types::Side::Bid);
    let mut seen_eth_book = false;
    for _ in 0..20 {
        let m = next_json(&mut ws).await;
        assert_eq!(m["ty"], "orderbook", "old ticker subscription must be gone: {m}");
        assert_eq!(m["cd"], "KRW-ETH");
        if m["st"] == "REALTIME" {
            seen_eth_book = true;
            break;
        }
    }
    assert!(seen_eth_book);

    send(&mut ws, json!([{"ticket":"t3"},{"method":"LIST_SUBSCRIPTIONS"}])).await;
    let mut listed = None;
    for _ in 0..2000 {
        let m = next_json(&mut ws).await;
        if m.get("method").is_some() {
            listed = Some(m);
            break;
        }
    }
    let listed = listed.unwrap();
    assert_eq!(listed["result"], json!([{"type":"orderbook","codes":["KRW-ETH.5"],"level":0}]));
    assert_eq!(listed["ticket"], "t3");

    // Errors (each followed by a Close frame, code 1000, as Upbit does), PING, snapshot-only.
    for (request, name, message) in [
        (
            json!([{"type":"ticker","codes":["KRW-BTC"]}]),
            "NO_TICKET",
            "티켓이 존재하지 않거나, 유효하지 않습니다.",
        ),
        (json!([{"ticket":"x"}]), "NO_TYPE", "type 필드가 존재하지 않습니다."),
        (json!([{"ticket":"x"},{"type":"trade"}]), "NO_CODES", "codes 필드가 존재하지 않습니다."),
        (json!([{"ticket":"x"},{"type":"trade","codes":[]}]), "INVALID_PARAM", "codes 필드가 비어 있습니다."),
        (
            json!([{"ticket":"x"},{"type":"nope","codes":["KRW-BTC"]}]),
            "INVALID_PARAM",
            "nope 은 지원하지 않는 타입입니다.",
        ),
        (json!("hello"), "WRONG_FORMAT", "Format 이 맞지 않습니다."),
        (json!([{"ticket":"x"},{"type":"myOrder"}]), "INVALID_AUTH", "인증 정보가 올바르지 않습니다."),
    ] {
        let mut ws2 = connect(&sim.ws_public_url).await;
        ws2.send(Message::Text("PING".into())).await.unwrap();
        assert_eq!(next_json(&mut ws2).await, json!({"status":"UP"}));
        send(&mut ws2, request).await;
        assert_eq!(next_json(&mut ws2).await, json!({"error":{"name":name,"message":message}}));
        let close = tokio::time::timeout(Duration::from_secs(5), ws2.next()).await.unwrap().unwrap().unwrap();
        match close {
            Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1000, "{name}"),
            other => panic!("{name}: expected a Close frame, got {other:?}"),
        }
    }
    let mut ws3 = connect(&sim.ws_public_url).await;
    send(&mut ws3, json!([{"ticket":"x"},{"type":"trade","codes":["KRW-BTC"],"is_only_snapshot":true},{"format":"JSON_LIST"}])).await;
    let listed_trade = next_json(&mut ws3).await;
    assert!(listed_trade.is_array(), "JSON_LIST wraps messages in arrays");
    assert_eq!(listed_trade[0]["stream_type"], "SNAPSHOT");
    assert_eq!(listed_trade[0]["type"], "trade");

    // The per-connection limit (5/s): a burst of 12 requests meets `Too Many Requests`.
    let mut ws4 = connect(&sim.ws_public_url).await;
    for _ in 0..12 {
        send(&mut ws4, json!([{"ticket":"t"},{"type":"ticker","codes":["KRW-BTC"],"is_only_realtime":true}]))
            .await;
    }
    assert_eq!(next_json(&mut ws4).await["error"]["name"], "Too Many Requests");
    sim.stop();
}

#[tokio::test]
async fn auth_failures_have_their_documented_names() {
    let tasks = TaskManager::new();
    let cfg = SimConfig {
        markets: Some(3),
        tick_interval: Duration::ZERO,
        access_key: "test-access-key".into(),
        secret_key: "test-secret-key".into(),
        history_secs: 60,
        ..SimConfig::default()
    };
    let sim = sim::start(cfg, &tasks).await.unwrap();
    let http = reqwest::Client::new();
    let base = sim.rest_base.clone();
    let call = |url: String, auth: Option<String>| {
        let http = http.clone();
        async move {
            let mut r = http.get(url);
            if let Some(a) = auth {
                r = r.header("Authorization", a);
            }
            let r = r.send().await.unwrap();
            let h = r.headers().get("Remaining-Req").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), h, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // The reference token of §1.2 verifies once; its replay is `nonce_used`.
    let reference = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJxdWVyeV9oYXNoIjoiZTNjZmM2NDkxMzljNTk1ZTFjMjZhOGFhMmIzYzg1MDRmNGIxNTAxMWZjMmI4MTkwODE0NTFlNWU4NDUxNzJiZDVkYmJiNTExMGVjNWQ3YTNkMWQzMmZmNzFmNDZhNzgzMjNhMDQwZThiZWRmODY3MjAyMWZkMjIwNjE5MGEzYTgiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9.jr-0If6-c3EI6n57lGvN3ZWL9fcKGVlPxTCHD7iD_gqaufiCS8dZSp-_4b2L-1gVje1BhBod895S26gvANijbA";
    let url = format!("{base}/v1/orders/open?market=KRW-BTC&states[]=wait&states[]=watch&limit=10");
    let (s, h, body) = call(url.clone(), Some(format!("Bearer {reference}"))).await;
    assert_eq!(s, 200, "{body}");
    assert!(h.unwrap().starts_with("group=default; min=1800; sec="));
    let (s, _, e) = call(url.clone(), Some(format!("Bearer {reference}"))).await;
    assert_eq!((s, e["error"]["name"].as_str()), (401, Some("nonce_used")));

    let name =
        |r: (u16, Option<String>, Value)| (r.0, r.2["error"]["name"].as_str().unwrap_or("").to_string());
    let accounts = format!("{base}/v1/accounts");
    assert_eq!(name(call(accounts.clone(), None).await), (401, "no_authorization_token".into()));
    let other = jwt("test-access-key", "wrong-secret", None, Algorithm::HS512);
    assert_eq!(
        name(call(accounts.clone(), Some(format!("Bearer {other}"))).await),
        (401, "jwt_verification".into())
    );
    let unknown = jwt("someone", "test-secret-key", None, Algorithm::HS512);
    assert_eq!(
        name(call(accounts.clone(), Some(format!("Bearer {unknown}"))).await),
        (401, "invalid_access_key".into())
    );
    // alg none: header {"alg":"none"} and an empty signature.
    let b64 = |v: &Value| base64_url(v.to_string().as_bytes());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg":"none","typ":"JWT"})),
        b64(&json!({"access_key":"test-access-key","nonce":nonce()}))
    );
    assert_eq!(
        name(call(accounts.clone(), Some(format!("Bearer {none}"))).await),
        (401, "jwt_verification".into())
    );
    // HS256 is accepted too.
    let hs256 = jwt("test-access-key", "test-secret-key", None, Algorithm::HS256);
    assert_eq!(call(accounts.clone(), Some(format!("Bearer {hs256}"))).await.0, 200);
    // query_hash of another query, and a missing query_hash.
    let chance = format!("{base}/v1/orders/chance?market=KRW-BTC");
    let wrong = jwt("test-access-key", "test-secret-key", Some("market=KRW-ETH"), Algorithm::HS512);
    assert_eq!(
        name(call(chance.clone(), Some(format!("Bearer {wrong}"))).await),
        (401, "invalid_query_payload".into())
    );
    let missing = jwt("test-access-key", "test-secret-key", None, Algorithm::HS512);
    assert_eq!(
        name(call(chance.clone(), Some(format!("Bearer {missing}"))).await),
        (401, "invalid_query_payload".into())
    );
    // The hash covers the un-encoded query.
    let encoded =
        format!("{base}/v1/orders/closed?market=KRW-BTC&start_time=2025-06-24T13%3A56%3A53%2B09%3A00");
    let good = jwt(
        "test-access-key",
        "test-secret-key",
        Some("market=KRW-BTC&start_time=2025-06-24T13:56:53+09:00"),
        Algorithm::HS512,
    );
    let (s, _, body) = call(encoded, Some(format!("Bearer {good}"))).await;
    assert_eq!(s, 200, "{body}");

    // Private websocket: the upgrade is refused without a valid token.
    let mut req = sim.ws_private_url.as_str().into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {other}").parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(r) => assert_eq!(r.status().as_u16(), 401),
        e => panic!("expected an HTTP 401, got {e}"),
    }
    sim.stop();
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The client's keep-alive `PING` (a text frame) must not cut the private stream: events
/// already queued for the connection are still delivered. The socket is held silent while
/// the order is placed and the `PING` sent, so both are waiting when it wakes.
#[tokio::test]
async fn a_keepalive_ping_does_not_drop_queued_private_events() {
    let tasks = TaskManager::new();
    let sim = manual(5, &tasks).await;
    let api = Api::new(&sim);
    let mut priv_ws = connect_private(&sim).await;
    send(&mut priv_ws, json!([{"ticket":"p"},{"type":"myOrder"}])).await;
    wait_subscribed(&sim, 1).await;
    let bid = resting_bid_price(&sim).await;

    sim.faults.set_silent(true);
    let (s, o) = limit_bid(&api, bid, "kept-1").await;
    assert_eq!(s, 201, "{o}");
    priv_ws.send(Message::Text("PING".into())).await.unwrap();
    // Let the runtime park once, so the server's reactor has seen the `PING` arrive before
    // the socket wakes: then the `PING` and the queued events are ready together, the
    // case that lost the events. The pass does not depend on this pause; only how surely
    // the old fault would show.
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.faults.set_silent(false);

    let (mut up, mut order) = (false, false);
    while !(up && order) {
        let ev = next_json(&mut priv_ws).await;
        up |= ev["status"] == "UP";
        order |= ev["type"] == "myOrder" && ev["identifier"] == "kept-1";
    }
    sim.stop();
    tasks.cancel_all();
}

#[tokio::test]
async fn order_lifecycle_fills_fees_and_private_events() {
    let tasks = TaskManager::new();
    let sim = manual(3, &tasks).await;
    let api = Api::new(&sim);
    let mut priv_ws = connect_private(&sim).await;
    send(&mut priv_ws, json!([{"ticket":"p"},{"type":"myOrder"},{"type":"myAsset"}])).await;
    wait_subscribed(&sim, 2).await;

    let bid = resting_bid_price(&sim).await;
    let bid_s = bid.to_string();
    let (_, acc0) = api.get("/v1/accounts", "").await;
    let krw0 = d(&acc0.as_array().unwrap().iter().find(|a| a["currency"] == "KRW").unwrap()["balance"]);

    // Limit bid below the market rests with price × volume + fee locked.
    let (s, o) = limit_bid(&api, bid, "lim-1").await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["state"], "wait");
    assert!(o["price"].is_string() && o["locked"].is_string(), "exchange amounts are decimal strings");
    let funds = bid * Decimal::new(1, 2);
    let fee = funds * Decimal::new(5, 4);
    assert_eq!(d(&o["reserved_fee"]), fee);
    assert_eq!(d(&o["locked"]), funds + fee);
    let uuid = o["uuid"].as_str().unwrap().to_string();
    let (_, acc) = api.get("/v1/accounts", "").await;
    let krw = acc.as_array().unwrap().iter().find(|a| a["currency"] == "KRW").unwrap().clone();
    assert_eq!(d(&krw["locked"]), funds + fee);
    assert_eq!(d(&krw["balance"]), krw0 - funds - fee);

    let ev = next_json(&mut priv_ws).await;
    assert_eq!(
        (ev["type"].as_str(), ev["state"].as_str(), ev["ask_bid"].as_str()),
        (Some("myOrder"), Some("wait"), Some("BID"))
    );
    assert_eq!(ev["identifier"], "lim-1");
    let ev = next_json(&mut priv_ws).await;
    assert_eq!(ev["type"], "myAsset");

    // The identifier is burned forever.
    let (s, e) = limit_bid(&api, bid, "lim-1").await;
    assert_eq!((s, e["error"]["name"].as_str()), (400, Some("duplicated_identifier")));

    // A trade through the price fills it (maker).
    sim.set_price("KRW-BTC", bid - Decimal::from(5000));
    let (_, got) = api.get("/v1/order", &format!("uuid={uuid}")).await;
    assert_eq!(got["state"], "done");
    assert_eq!(d(&got["executed_volume"]), Decimal::new(1, 2));
    assert_eq!(d(&got["paid_fee"]), fee);
    assert_eq!(got["trades"].as_array().unwrap().len(), 1);
    assert_eq!(d(&got["trades"][0]["funds"]), funds);
    let (_, by_id) = api.get("/v1/order", "identifier=lim-1").await;
    assert_eq!(by_id["uuid"], json!(uuid));
    let mut states = Vec::new();
    for _ in 0..6 {
        let ev = next_json(&mut priv_ws).await;
        if ev["type"] == "myOrder" {
            states.push(ev["state"].as_str().unwrap().to_string());
            if ev["state"] == "trade" {
                assert_eq!(ev["is_maker"], true);
                assert_eq!(d(&ev["trade_fee"]), fee);
                assert!(ev["trade_uuid"].is_string());
            }
        }
        if states.last().is_some_and(|s| s == "done") {
            break;
        }
    }
    assert_eq!(states, ["trade", "done"]);
    let (_, acc) = api.get("/v1/accounts", "").await;
    let rows = acc.as_array().unwrap();
    let krw = rows.iter().find(|a| a["currency"] == "KRW").unwrap();
    assert_eq!(d(&krw["locked"]), Decimal::ZERO);
    assert_eq!(d(&krw["balance"]), krw0 - funds - fee);

    // Market buy: fills against the book and ends `cancel` with executed volume.
    let (s, mb) = api
        .post(
            "/v1/orders",
            &[("market", "KRW-BTC"), ("side", "bid"), ("price", "100000"), ("ord_type", "price")],
        )
        .await;
    assert_eq!(s, 201, "{mb}");
    let (_, mb) = api.get("/v1/order", &format!("uuid={}", mb["uuid"].as_str().unwrap())).await;
    assert_eq!(mb["state"], "cancel");
    assert!(d(&mb["executed_volume"]) > Decimal::ZERO);
    assert!(mb.get("volume").is_none(), "market buys carry no volume");

    // Errors with Upbit names.
    let (s, e) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.01"),
                ("price", "100000001"),
                ("ord_type", "limit"),
            ],
        )
        .await;
    assert_eq!((s, e["error"]["name"].as_str()), (400, Some("invalid_price_bid")));
    let (_, e) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "1"),
                ("price", &bid_s),
                ("ord_type", "limit"),
            ],
        )
        .await;
    assert_eq!(e["error"]["name"], "insufficient_funds_bid");
    let (_, e) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.00000001"),
                ("price", &bid_s),
                ("ord_type", "limit"),
            ],
        )
        .await;
    assert_eq!(e["error"]["name"], "under_min_total_bid");
    let (s, e) = api.get("/v1/order", "uuid=00000000-0000-0000-0000-000000000000").await;
    assert_eq!((s, e["error"]["name"].as_str()), (404, Some("order_not_found")));

    // orders/test validates without booking.
    let (s, t) = api
        .post(
            "/v1/orders/test",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.01"),
                ("price", &bid_s),
                ("ord_type", "limit"),
            ],
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let (_, open) = api.get("/v1/orders/open", "market=KRW-BTC").await;
    assert_eq!(open, json!([]));

    // The market now trades below `bid`: rest further down.
    let low = bid - Decimal::from(1_000_000);
    let low_s = low.to_string();
    // Cancel: the reply shows `wait`, a later GET shows `cancel`; then cancel_and_new and bulk cancel.
    let (_, o2) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.001"),
                ("price", &low_s),
                ("ord_type", "limit"),
            ],
        )
        .await;
    let u2 = o2["uuid"].as_str().unwrap().to_string();
    let (s, c) = api.delete("/v1/order", &format!("uuid={u2}")).await;
    assert_eq!((s, c["state"].as_str()), (200, Some("wait")));
    let (_, c) = api.get("/v1/order", &format!("uuid={u2}")).await;
    assert_eq!(c["state"], "cancel");
    let (s, _) = api.delete("/v1/order", &format!("uuid={u2}")).await;
    assert_eq!(s, 404);

    let (_, o3) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.001"),
                ("price", &low_s),
                ("ord_type", "limit"),
            ],
        )
        .await;
    let lower = (low - Decimal::from(10_000)).to_string();
    let (s, cn) = api
        .post(
            "/v1/orders/cancel_and_new",
            &[
                ("prev_order_uuid", o3["uuid"].as_str().unwrap()),
                ("new_ord_type", "limit"),
                ("new_price", &lower),
                ("new_volume", "remain_only"),
                ("new_identifier", "cn-1"),
            ],
        )
        .await;
    assert_eq!(s, 201, "{cn}");
    assert_eq!(cn["new_order_identifier"], "cn-1");
    let (_, open) = api.get("/v1/orders/open", "market=KRW-BTC").await;
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(d(&open[0]["price"]), low - Decimal::from(10_000));
    let (s, bulk) = api.delete("/v1/orders/open", "cancel_side=bid&pairs=KRW-BTC").await;
    assert_eq!(s, 200, "{bulk}");
    assert_eq!(bulk["success"]["count"], 1);
    let (_, closed) = api.get("/v1/orders/closed", "market=KRW-BTC&states[]=cancel").await;
    assert!(closed.as_array().unwrap_or_else(|| panic!("{closed}")).len() >= 3);
    let (_, chance) = api.get("/v1/orders/chance", "market=KRW-BTC").await;
    assert_eq!(d(&chance["bid_fee"]), Decimal::new(5, 4));
    assert_eq!(chance["market"]["bid"]["min_total"], "5000");

    // The request log saw every write call.
    assert_eq!(sim.requests.count("POST", "/v1/orders"), 8);
    assert!(sim.requests.writes() >= 12);
    sim.stop();
}

/// Collects the first `n` messages of a fixed subscription while stepping the clock.
async fn first_messages(seed: u64, n: usize) -> Vec<Value> {
    let tasks = TaskManager::new();
    let sim = manual(seed, &tasks).await;
    let mut ws = connect(&sim.ws_public_url).await;
    send(
        &mut ws,
        json!([{"ticket":"det"},{"type":"ticker","codes":["KRW-BTC","KRW-ETH","KRW-XRP"]},
               {"type":"trade","codes":["KRW-BTC","KRW-ETH","KRW-XRP"]},{"type":"orderbook","codes":["KRW-BTC.15"]}]),
    )
    .await;
    wait_subscribed(&sim, 3).await;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        sim.step(50);
        // Drain what the steps produced before stepping again (the broadcast never lags:
        // 50 steps publish far fewer events than its capacity).
        while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(100), ws.next()).await {
            if let Message::Binary(b) = m {
                out.push(serde_json::from_slice(&b).unwrap());
            }
        }
    }
    out.truncate(n);
    sim.stop();
    out
}

#[tokio::test]
async fn same_seed_same_first_thousand_messages() {
    let a = first_messages(7, 1000).await;
    let b = first_messages(7, 1000).await;
    assert_eq!(a, b);
    let c = first_messages(8, 1000).await;
    assert_ne!(a, c);
}

#[tokio::test]
async fn faults_are_observable_by_raw_clients() {
    let tasks = TaskManager::new();
    let sim = manual(4, &tasks).await;
    let api = Api::new(&sim);
    let ticker = format!("{}/v1/ticker?markets=KRW-BTC", sim.rest_base);

    // Bad frames, then drop every websocket.
    let mut ws = connect(&sim.ws_public_url).await;
    send(&mut ws, json!([{"ticket":"f"},{"type":"ticker","codes":["KRW-BTC"]}])).await;
    next_json(&mut ws).await;
    wait_subscribed(&sim, 1).await;
    sim.faults.send_bad_frame(FrameFault::Malformed);
    let raw = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Binary(b) => break b,
            _ => continue,
        }
    };
    assert!(serde_json::from_slice::<Value>(&raw).is_err(), "malformed frame must not parse");
    sim.faults.send_bad_frame(FrameFault::Oversize { bytes: 100_000 });
    let big = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Binary(b) => break b,
            _ => continue,
        }
    };
    assert!(big.len() >= 99_000);
    sim.faults.drop_websockets();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .unwrap();
    assert!(end);

    // Half-open: a PING gets no answer while silent, and an answer after.
    let mut ws = connect(&sim.ws_public_url).await;
    sim.faults.set_silent(true);
    ws.send(Message::Text("PING".into())).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), ws.next()).await.is_err(),
        "silent socket answered"
    );
    sim.faults.set_silent(false);
    assert_eq!(next_json(&mut ws).await, json!({"status":"UP"}));

    // More bad frames: an error object, invalid UTF-8, numbers a parser must refuse.
    sim.faults.send_bad_frame(FrameFault::ErrorFrame);
    assert_eq!(next_json(&mut ws).await["error"]["name"], "WRONG_FORMAT");
    sim.faults.send_bad_frame(FrameFault::InvalidUtf8);
    let raw = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Binary(b) => break b,
            _ => continue,
        }
    };
    assert!(std::str::from_utf8(&raw).is_err());
    sim.faults.send_bad_frame(FrameFault::BadNumbers);
    assert_eq!(next_json(&mut ws).await["trade_price"], "1e309");

    // A silent server accepts TCP but never answers the upgrade.
    sim.faults.set_silent(true);
    let stalled = tokio::time::timeout(
        Duration::from_millis(300),
        tokio_tungstenite::connect_async(sim.ws_public_url.as_str()),
    )
    .await;
    assert!(stalled.is_err(), "upgrade answered while silent");
    sim.faults.set_silent(false);

    // REST: 5xx, HTML, truncated JSON, forced 429/418 with Remaining-Req.
    sim.faults.set_rest_fault(RestFault::Status { status: 503 }, Some(1));
    assert_eq!(reqwest::get(&ticker).await.unwrap().status().as_u16(), 503);
    sim.faults.set_rest_fault(RestFault::Html, Some(1));
    let r = reqwest::get(&ticker).await.unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.text().await.unwrap().starts_with("<html>"));
    sim.faults.set_rest_fault(RestFault::TruncatedJson, Some(1));
    let r = reqwest::get(&ticker).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());
    assert_eq!(reqwest::get(&ticker).await.unwrap().status().as_u16(), 200, "counted fault ran out");
    sim.faults.force_limit("ticker", 429, Some(1));
    let r = reqwest::get(&ticker).await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("Remaining-Req").unwrap().to_str().unwrap().ends_with("sec=0"));
    sim.faults.force_limit("ticker", 418, Some(1));
    let r = reqwest::get(&ticker).await.unwrap();
    assert_eq!(r.status().as_u16(), 418);
    assert!(r.headers().get("retry-after").is_some());

    // The real limiter: more than 10 ticker calls in a second → 429.
    let mut saw_429 = false;
    for _ in 0..40 {
        if reqwest::get(&ticker).await.unwrap().status().as_u16() == 429 {
            saw_429 = true;
            break;
        }
    }
    assert!(saw_429);

    // Ambiguous order: booked, reply lost; the identifier finds it.
    sim.faults.set_hang(Duration::from_millis(50));
    sim.faults.ambiguous_orders(1);
    let (s, _) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.01"),
                ("price", "1000000"),
                ("ord_type", "limit"),
                ("identifier", "amb-1"),
            ],
        )
        .await;
    assert!(s == 0 || s == 201, "reply must be unusable");
    let (s, o) = api.get("/v1/order", "identifier=amb-1").await;
    assert_eq!((s, o["state"].as_str()), (200, Some("wait")));
    assert_eq!(sim.requests.count("POST", "/v1/orders"), 1, "exactly one order call");

    // Ambiguous cancel: applied, reply lost.
    sim.faults.ambiguous_cancels(1);
    let (s, _) = api.delete("/v1/order", "identifier=amb-1").await;
    assert!(s == 0 || s == 200, "reply must be unusable");
    let (_, o) = api.get("/v1/order", "identifier=amb-1").await;
    assert_eq!(o["state"], "cancel");

    // Forced business and auth errors.
    sim.faults.force_error("POST", "/v1/orders", 400, "insufficient_funds_ask", Some(1));
    let (s, e) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.01"),
                ("price", "1000000"),
                ("ord_type", "limit"),
            ],
        )
        .await;
    assert_eq!((s, e["error"]["name"].as_str()), (400, Some("insufficient_funds_ask")));
    sim.faults.force_error("*", "*", 401, "expired_access_key", Some(1));
    let (s, e) = api.get("/v1/accounts", "").await;
    assert_eq!((s, e["error"]["name"].as_str()), (401, Some("expired_access_key")));
    assert_eq!(api.get("/v1/accounts", "").await.0, 200, "counted error ran out");

    // Requests carrying `Origin` are recorded (hoga must never send one).
    assert_eq!(sim.requests.with_origin(), 0);
    let r = reqwest::Client::new()
        .get(format!("{}/v1/market/all", sim.rest_base))
        .header("Origin", "https://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(sim.requests.with_origin(), 1);
    // …and limited to one per 10 s, as Upbit does for browsers.
    let r = reqwest::Client::new()
        .get(format!("{}/v1/market/all", sim.rest_base))
        .header("Origin", "https://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);

    // Refused connections.
    sim.faults.refuse_connections(Duration::from_millis(300));
    assert!(tokio_tungstenite::connect_async(sim.ws_public_url.as_str()).await.is_err());
    poll("connections accepted again", DEADLINE, Duration::from_millis(20), async || {
        tokio_tungstenite::connect_async(sim.ws_public_url.as_str()).await.ok().map(drop)
    })
    .await;

    // The admin endpoint drives the same switches.
    let r = reqwest::Client::new()
        .post(format!("{}/admin/faults", sim.rest_base))
        .bearer_auth(sim.admin_token())
        .body(r#"{"action":"rest_fault","fault":{"kind":"status","status":500},"count":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // (another rate-limit group: the ticker window may still be exhausted)
    let markets = format!("{}/v1/market/all", sim.rest_base);
    assert_eq!(reqwest::get(&markets).await.unwrap().status().as_u16(), 500);
    let r = reqwest::Client::new()
        .post(format!("{}/admin/price", sim.rest_base))
        .header("X-Hoga-Admin-Token", sim.admin_token())
        .body(r#"{"market":"KRW-ETH","price":"4000000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // (trades/ticks: the ticker group's window may still be exhausted)
    let (_, _, t) = get_json(&format!("{}/v1/trades/ticks?market=KRW-ETH", sim.rest_base)).await;
    assert_eq!(d(&t[0]["trade_price"]), Decimal::from(4_000_000));
    sim.stop();
}

#[tokio::test]
async fn flood_idle_timeout_ping_and_duplicated_private_events() {
    // Flood: a fixed mix, each message stamped with its publish time in ns.
    let tasks = TaskManager::new();
    let cfg = SimConfig {
        markets: Some(3),
        history_secs: 60,
        flood: Some(sim::FloodConfig { ticker: 1, trade: 1, orderbook: 1, rate: None, count: 300 }),
        ..SimConfig::default()
    };
    let flood = sim::start(cfg, &tasks).await.unwrap();
    let (_, _, all) = get_json(&format!("{}/v1/market/all", flood.rest_base)).await;
    let codes: Vec<String> =
        all.as_array().unwrap().iter().map(|m| m["market"].as_str().unwrap().to_string()).collect();
    let mut ws = connect(&flood.ws_public_url).await;
    send(
        &mut ws,
        json!([{"ticket":"f"},{"type":"ticker","codes":codes,"is_only_realtime":true},
               {"type":"trade","codes":codes,"is_only_realtime":true},
               {"type":"orderbook","codes":codes,"is_only_realtime":true}]),
    )
    .await;
    let mut kinds = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..300 {
        let m = next_json(&mut ws).await;
        assert!(m["sim_ns"].as_u64().unwrap() > 1_600_000_000_000_000_000, "{m}");
        *kinds.entry(m["type"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(kinds.values().sum::<u32>(), 300);
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    until("the flood finished", || flood.stats().flood_done).await;
    assert_eq!(flood.stats().flood_sent, 300);
    flood.stop();

    // Idle connections are closed (idle timeout shortened for the test); ping frames are
    // answered with pongs.
    let tasks = TaskManager::new();
    let cfg = SimConfig {
        markets: Some(3),
        history_secs: 60,
        tick_interval: Duration::ZERO,
        idle_timeout: Duration::from_millis(300),
        ..SimConfig::default()
    };
    let sim = sim::start(cfg, &tasks).await.unwrap();
    let mut ws = connect(&sim.ws_public_url).await;
    ws.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(pong, Message::Pong(b"hi".to_vec().into()));
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "idle connection was not closed");

    // Duplicated private events: every myOrder arrives twice.
    let api = Api::new(&sim);
    let mut p = connect_private(&sim).await;
    send(&mut p, json!([{"ticket":"d"},{"type":"myOrder","codes":["KRW-BTC"]},{"format":"SIMPLE"}])).await;
    wait_subscribed(&sim, 1).await;
    sim.faults.set_duplicate_private(true);
    let (s, o) = api
        .post(
            "/v1/orders",
            &[
                ("market", "KRW-BTC"),
                ("side", "bid"),
                ("volume", "0.01"),
                ("price", "1000000"),
                ("ord_type", "limit"),
            ],
        )
        .await;
    assert_eq!(s, 201, "{o}");
    let a = next_json(&mut p).await;
    let b = next_json(&mut p).await;
    assert_eq!(a, b);
    assert_eq!(
        (a["ty"].as_str(), a["s"].as_str(), a["uid"].as_str()),
        (Some("myOrder"), Some("wait"), o["uuid"].as_str())
    );
    sim.stop();
}

// ------------------------------------------------------------------------------ issue 15: order faults

const RESTING_BID: [(&str, &str); 5] =
    [("market", "KRW-BTC"), ("side", "bid"), ("volume", "0.01"), ("price", "1000000"), ("ord_type", "limit")];

fn with_identifier(id: &str) -> Vec<(&str, &str)> {
    let mut b = RESTING_BID.to_vec();
    b.push(("identifier", id));
    b
}

#[tokio::test]
async fn late_orders_are_answered_5xx_then_booked_and_published() {
    let tasks = TaskManager::new();
    let sim = manual(21, &tasks).await;
    let api = Api::new(&sim);
    let mut p = connect_private(&sim).await;
    send(&mut p, json!([{"ticket":"late"},{"type":"myOrder","codes":["KRW-BTC"]},{"format":"SIMPLE"}])).await;
    wait_subscribed(&sim, 1).await;
    sim.faults.late_orders(1, Duration::from_millis(300), 503);
    let (s, _) = api.post("/v1/orders", &with_identifier("late-1")).await;
    assert_eq!(s, 503, "the create is answered as failed");
    assert_eq!(api.get("/v1/order", "identifier=late-1").await.0, 404, "not booked yet");
    // Booked at the first request once its time has come.
    let order = poll("the late order booked", DEADLINE, Duration::from_millis(20), async || {
        let (s, o) = api.get("/v1/order", "identifier=late-1").await;
        (s == 200).then_some(o)
    })
    .await;
    assert_eq!(order["state"], "wait");
    let ev = next_json(&mut p).await;
    assert_eq!((ev["ty"].as_str(), ev["uid"].as_str()), (Some("myOrder"), order["uuid"].as_str()));
    // The next create is normal again; exactly one late-1 exists.
    assert_eq!(api.post("/v1/orders", &with_identifier("late-2")).await.0, 201);
    let (_, open) = api.get("/v1/orders/open", "").await;
    let ids: Vec<&str> = open.as_array().unwrap().iter().filter_map(|o| o["identifier"].as_str()).collect();
    assert_eq!(ids.iter().filter(|i| **i == "late-1").count(), 1, "{ids:?}");
    sim.stop();
}

#[tokio::test]
async fn lookup_lag_hides_a_fresh_order_from_single_lookups_only() {
    let tasks = TaskManager::new();
    let sim = manual(22, &tasks).await;
    let api = Api::new(&sim);
    sim.faults.set_lookup_lag(Duration::from_millis(400));
    let (s, o) = api.post("/v1/orders", &with_identifier("lag-1")).await;
    assert_eq!(s, 201, "{o}");
    let (s, e) = api.get("/v1/order", "identifier=lag-1").await;
    assert_eq!((s, e["error"]["name"].as_str()), (404, Some("order_not_found")), "the lookup lags the book");
    let (_, open) = api.get("/v1/orders/open", "").await;
    assert_eq!(open.as_array().unwrap().len(), 1, "the open-order list is not delayed");
    poll("the lookup caught up", DEADLINE, Duration::from_millis(20), async || {
        (api.get("/v1/order", "identifier=lag-1").await.0 == 200).then_some(())
    })
    .await;
    sim.stop();
}

#[tokio::test]
async fn a_429_storm_on_the_order_group_lasts_its_time_and_spares_the_other_groups() {
    let tasks = TaskManager::new();
    let sim = manual(23, &tasks).await;
    let api = Api::new(&sim);
    let ticker = format!("{}/v1/ticker?markets=KRW-BTC", sim.rest_base);
    sim.faults.limit_storm("order", 429, Duration::from_millis(500), None);
    let (s, e) = api.post("/v1/orders", &RESTING_BID).await;
    assert_eq!((s, e["error"]["name"].as_str()), (429, Some("too_many_requests")));
    assert_eq!(api.post("/v1/orders", &RESTING_BID).await.0, 429, "a storm is not one answer");
    assert_eq!(get_json(&ticker).await.0, 200, "quotation calls proceed");
    assert_eq!(api.get("/v1/accounts", "").await.0, 200, "the default group proceeds");
    poll("the storm over", DEADLINE, Duration::from_millis(50), async || {
        (api.post("/v1/orders", &RESTING_BID).await.0 == 201).then_some(())
    })
    .await;
    sim.stop();
}

#[tokio::test]
async fn a_418_carries_the_retry_after_it_was_given_verbatim() {
    let tasks = TaskManager::new();
    let sim = manual(24, &tasks).await;
    let ticker = format!("{}/v1/ticker?markets=KRW-BTC", sim.rest_base);
    sim.faults.limit_storm("ticker", 418, Duration::from_secs(60), Some("30".into()));
    let (s, h, e) = get_json(&ticker).await;
    assert_eq!((s, e["error"]["name"].as_str()), (418, Some("blocked")));
    assert_eq!(h.get("retry-after").unwrap().to_str().unwrap(), "30");
    // Hostile values reach the client untouched (the client must bound them).
    sim.faults.limit_storm("ticker", 418, Duration::from_secs(60), Some("18446744073709551615".into()));
    let (_, h, _) = get_json(&ticker).await;
    assert_eq!(h.get("retry-after").unwrap().to_str().unwrap(), "18446744073709551615");
    sim.faults.clear_all();
    assert_eq!(get_json(&ticker).await.0, 200);
    sim.stop();
}

#[tokio::test]
async fn admin_needs_the_token_and_refuses_browsers() {
    let tasks = TaskManager::new();
    let sim = manual(31, &tasks).await;
    let http = reqwest::Client::new();
    let faults = format!("{}/admin/faults", sim.rest_base);
    let price = format!("{}/admin/price", sim.rest_base);
    let silent = r#"{"action":"rest_fault","fault":{"kind":"status","status":500},"count":1}"#;
    let status = |r: reqwest::Response| r.status().as_u16();
    // No token, a wrong one: 401, and nothing happened.
    assert_eq!(status(http.post(&faults).body(silent).send().await.unwrap()), 401);
    let wrong = http.post(&faults).bearer_auth("0000000000000000000000").body(silent).send().await.unwrap();
    assert_eq!(status(wrong), 401);
    let moved = http.post(&price).body(r#"{"market":"KRW-ETH","price":"1000"}"#).send().await.unwrap();
    assert_eq!(status(moved), 401);
    assert_eq!(get_json(&format!("{}/v1/market/all", sim.rest_base)).await.0, 200, "no fault was armed");
    // A browser (any Origin), even with the token: 403.
    let cross = http
        .post(&faults)
        .bearer_auth(sim.admin_token())
        .header("Origin", "http://evil.example")
        .body(silent)
        .send()
        .await
        .unwrap();
    assert_eq!(status(cross), 403);
    // A CORS preflight finds no OPTIONS route.
    let preflight = http.request(reqwest::Method::OPTIONS, &faults).send().await.unwrap();
    assert_eq!(status(preflight), 405);
    // With the token and no Origin: accepted.
    let ok = http.post(&faults).bearer_auth(sim.admin_token()).body(silent).send().await.unwrap();
    assert_eq!(status(ok), 200);
    assert_eq!(get_json(&format!("{}/v1/market/all", sim.rest_base)).await.0, 500);
    sim.stop();
}

#[tokio::test]
async fn routes_answer_only_their_methods() {
    let tasks = TaskManager::new();
    let sim = manual(32, &tasks).await;
    let http = reqwest::Client::new();
    let base = &sim.rest_base;
    for (method, path) in [
        (reqwest::Method::POST, "/v1/ticker?markets=KRW-BTC"),
        (reqwest::Method::DELETE, "/v1/market/all"),
        (reqwest::Method::PUT, "/v1/orderbook?markets=KRW-BTC"),
        (reqwest::Method::POST, "/v1/candles/minutes/1?market=KRW-BTC"),
        (reqwest::Method::PATCH, "/v1/trades/ticks?market=KRW-BTC"),
        (reqwest::Method::GET, "/v1/orders/test"),
        (reqwest::Method::GET, "/admin/faults"),
    ] {
        let r = http.request(method.clone(), format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
    }
    // A trailing slash does not slip past the method check.
    let r = http.post(format!("{base}/v1/ticker/?markets=KRW-BTC")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(get_json(&format!("{base}/v1/ticker?markets=KRW-BTC")).await.0, 200);
    sim.stop();
}

#[tokio::test]
async fn a_hostile_flood_of_long_queries_keeps_the_request_log_bounded() {
    let tasks = TaskManager::new();
    let cfg = SimConfig { rate_limits: false, ..SimConfig::default() };
    let cfg = SimConfig { tick_interval: Duration::ZERO, markets: Some(5), history_secs: 60, ..cfg };
    let sim = sim::start(cfg, &tasks).await.unwrap();
    let http = reqwest::Client::new();
    let long = "x".repeat(60_000);
    let medium = "y".repeat(15_000);
    // 1,500 requests with 60 kB queries (a third on unknown paths, each one different),
    // then 1,500 with 15 kB queries, under the URI limit, on 1,500 distinct unknown paths.
    let requests: Vec<String> = (0..1500)
        .map(|i| match i % 3 {
            0 => format!("{}/v1/ticker?markets=KRW-BTC&junk={long}", sim.rest_base),
            1 => format!("{}/nope/{i}?junk={long}", sim.rest_base),
            _ => format!("{}/v1/candles/minutes/{i}?junk={long}", sim.rest_base),
        })
        .chain((0..1500).map(|i| format!("{}/hostile/{i}?junk={medium}", sim.rest_base)))
        .collect();
    for chunk in requests.chunks(50) {
        let sent = futures_util::future::join_all(chunk.iter().map(|u| http.get(u).send())).await;
        for r in sent {
            let s = r.unwrap().status().as_u16();
            assert!(matches!(s, 404 | 414), "{s}");
        }
    }
    let log = &sim.requests;
    assert!(log.total() >= 3000, "every request was seen: {}", log.total());
    let bytes = log.stored_bytes();
    // 3,000 entries of at most ~2.3 kB of text each, far below the 100+ MB of raw queries.
    assert!(bytes <= 3000 * (2 * sim::LOG_DETAIL_MAX + 64), "log holds {bytes} bytes");
    assert!(log.entries().iter().all(|e| e.detail.len() <= sim::LOG_DETAIL_MAX + 32));
    let counts = log.counts();
    assert!(counts.len() <= sim::COUNT_KEYS_MAX + 1, "{} counters", counts.len());
    assert!(counts.get(sim::OTHER_KEY).copied().unwrap_or(0) >= 2000, "unknown paths count as other");
    sim.stop();
}

/// Numbers and amount strings of a message, each as its exact value, so two spellings of
/// one message compare equal.
fn by_value(v: &Value, key: &str) -> Value {
    let amount = ["price", "volume", "_size", "funds", "fee", "balance", "locked", "change_rate"]
        .iter()
        .any(|k| key.contains(k));
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), by_value(v, k))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| by_value(v, key)).collect()),
        Value::Number(_) => json!(d(v).normalize().to_string()),
        Value::String(_) if amount => json!(d(v).normalize().to_string()),
        other => other.clone(),
    }
}

/// Whether `text` has a match of `pat`, where `#` stands for any digit.
fn has_form(text: &str, pat: &str) -> bool {
    let (t, p) = (text.as_bytes(), pat.as_bytes());
    t.windows(p.len())
        .any(|w| w.iter().zip(p).all(|(c, q)| if *q == b'#' { c.is_ascii_digit() } else { c == q }))
}

/// Issue 18, item 7: the simulator writes numbers the many ways Upbit does (exponents for
/// large book prices and tiny sizes, `.0` on integral prices, eight decimals, decimal
/// strings with `.0`), seeded and on by default, and never changes a value: the same seed
/// with the spelling off serves the same values, plainly spelled. hoga reads every one.
#[tokio::test]
async fn numbers_are_spelled_as_upbit_writes_them_and_keep_their_values() {
    let tasks = TaskManager::new();
    let spelled = manual(5, &tasks).await;
    let cfg = SimConfig {
        seed: 5,
        markets: Some(10),
        tick_interval: Duration::ZERO,
        start_ms: Some(START_MS),
        history_secs: 600,
        spell_numbers: false,
        ..SimConfig::default()
    };
    let plain = sim::start(cfg, &tasks).await.unwrap();
    // Every message as written, spelled and plain: serde_json rewrites exponents when it
    // parses (`E8` → `e+8`), so forms are looked for in the raw text.
    let (mut raw, mut raw_plain) = (String::new(), String::new());
    let mut both = |a: &[u8], b: &[u8]| {
        let (va, vb): (Value, Value) =
            (serde_json::from_slice(a).unwrap(), serde_json::from_slice(b).unwrap());
        assert_eq!(by_value(&va, ""), by_value(&vb, ""), "{}", String::from_utf8_lossy(a));
        raw.push_str(&String::from_utf8_lossy(a));
        raw_plain.push_str(&String::from_utf8_lossy(b));
    };
    for path in [
        "/v1/ticker?markets=KRW-BTC,KRW-ETH,KRW-XRP",
        "/v1/orderbook?markets=KRW-BTC,KRW-ETH",
        "/v1/trades/ticks?market=KRW-BTC&count=100",
        "/v1/candles/minutes/1?market=KRW-BTC&count=100",
    ] {
        let a = reqwest::get(format!("{}{path}", spelled.rest_base)).await.unwrap().bytes().await.unwrap();
        let b = reqwest::get(format!("{}{path}", plain.rest_base)).await.unwrap().bytes().await.unwrap();
        both(&a, &b);
    }
    let request = json!([{"ticket":"n"},{"type":"orderbook","codes":["KRW-BTC","KRW-ETH","KRW-XRP"]},
        {"type":"ticker","codes":["KRW-BTC","KRW-ETH","KRW-XRP"]},{"type":"trade","codes":["KRW-BTC"]}]);
    let (mut wa, mut wb) = (connect(&spelled.ws_public_url).await, connect(&plain.ws_public_url).await);
    send(&mut wa, request.clone()).await;
    send(&mut wb, request).await;
    for _ in 0..7 {
        let (a, b) = (next_raw(&mut wa).await, next_raw(&mut wb).await);
        both(&a, &b);
        // hoga's own decoder reads the spelled frame.
        let decoded = hoga::exchange::upbit::ws::decode(&a).map(|_| ());
        assert!(decoded.is_ok(), "{decoded:?}: {}", String::from_utf8_lossy(&a));
    }
    let (sa, a) = Api::new(&spelled).get("/v1/accounts", "").await;
    let (sb, b) = Api::new(&plain).get("/v1/accounts", "").await;
    assert_eq!((sa, sb), (200, 200));
    assert_eq!(by_value(&a, ""), by_value(&b, ""));
    raw.push_str(&a.to_string());

    // The plain simulator writes no exponent; the spelled one writes each of Upbit's forms.
    assert!(!has_form(&raw_plain, "#E") && !has_form(&raw_plain, "#e"), "{raw_plain}");
    for form in ["#E#", "#e-0#", "#.0,", "#.00000000", "#.0\""] {
        assert!(has_form(&raw, form), "{form} never written in {raw}");
    }
}

/// The next data frame's bytes; panics after 5 s.
async fn next_raw(ws: &mut Ws) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame within 5 s")
            .unwrap()
            .unwrap()
        {
            Message::Binary(b) => return b.to_vec(),
            Message::Text(t) => return t.as_bytes().to_vec(),
            _ => continue,
        }
    }
}
