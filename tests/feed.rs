#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The feed against real sockets: a small loopback websocket server speaking Upbit's
//! request format (array of ticket / type+codes / format) and sending DEFAULT-format binary
//! frames. It records every subscription request, can drop connections, go silent, refuse
//! the private upgrade, and send garbage — enough to check consolidation, replace
//! semantics, grace, recovery with epochs, the idle watchdog and frame tolerance.
//!
//! RELIABILITY cases covered here:
//! - 21 reset / reconnect, full resubscribe, REST gap fill: `thirty_forced_disconnects_…`,
//!   `every_connect_closes_the_gap_…`, `private_gap_is_closed_by_rest_…`
//! - 22 half-open, pongs are not life: `idle_watchdog_reconnects_when_only_pongs_arrive`
//! - 23 silent server: `silent_server_hits_the_connect_timeout_and_backs_off`
//! - 24 auth refusal does not hot-loop: `refused_private_upgrade_degrades_to_rest_polling_visibly`,
//!   `an_invalid_auth_error_frame_…`, `an_auth_close_frame_…`; server close / 1006:
//!   `a_server_close_frame_or_an_abnormal_drop_reconnects_and_resubscribes`
//! - 25 malformed / oversize frames: `malformed_frames_are_counted_and_oversize_reconnects`,
//!   `a_text_frame_that_is_not_utf8_is_counted_and_a_new_enum_value_is_delivered`
//! - 29 snapshot replay after resubscribe: `a_snapshot_replayed_after_a_reconnect_…`
//!   (the full map of all 40 cases is docs/RELIABILITY-TESTS.md)
//! - 26 slow consumer: `slow_subscriber_coalesces_…`, `a_stuck_lossless_subscriber_…`
//! - 27 capped jittered backoff: unit tests in `feed::recovery` + the silent-server test
//! - 28 changes while disconnected: `changes_made_while_disconnected_…`
//! - 9 / 31 typed auth errors, fresh JWT per upgrade: `rest_auth_errors_map_…`,
//!   `private_stream_presents_a_fresh_jwt_on_every_upgrade`
//! - 5 429 pauses the group: `rest_429_pauses_the_group_and_recovers_without_a_418`
//! - 33 no `Origin` header: asserted by both fakes on every request

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DEADLINE, poll, snapshot_until, start_core, until, within};
use futures_util::{SinkExt, StreamExt};
use hoga::exchange::types::MarketId;
use hoga::exchange::upbit::auth::Credentials;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::feed::{ConnState, FeedConfig, FeedHandle, FeedManager, Health, Strategy};
use hoga::kernel::TaskManager;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::{Bytes, Message};

// ------------------------------------------------------------------ fake upbit websocket

/// What a test tells one server-side connection to do.
#[derive(Debug, Clone)]
enum Cmd {
    Frame(Vec<u8>),
    /// Any websocket message as it is (a text frame, a raw frame, a Close frame).
    Msg(Message),
    Drop,
}

type Sub = BTreeMap<String, BTreeSet<String>>;

#[derive(Debug)]
struct ConnRec {
    id: usize,
    path: String,
    auth: Option<String>,
    /// The subscription as the server sees it (replaced by every request).
    sub: Arc<Mutex<Sub>>,
    /// Every request text received on this connection.
    requests: Arc<Mutex<Vec<String>>>,
    tx: mpsc::Sender<Cmd>,
    alive: Arc<AtomicBool>,
}

#[derive(Clone, Default)]
struct Fake {
    addr: Option<SocketAddr>,
    conns: Arc<Mutex<Vec<ConnRec>>>,
    refuse_private: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    /// Upgrade attempts on the private path (refused ones included).
    private_attempts: Arc<AtomicUsize>,
}

fn parse_request(text: &str) -> Sub {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut out = Sub::new();
    for item in v.as_array().unwrap() {
        if let Some(ty) = item.get("type").and_then(|t| t.as_str()) {
            let codes = item
                .get("codes")
                .and_then(|c| c.as_array())
                .map(|a| a.iter().map(|c| c.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            out.insert(ty.to_string(), codes);
        }
    }
    out
}

impl Fake {
    async fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake { addr: Some(listener.local_addr().unwrap()), ..Fake::default() };
        let f = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let f = f.clone();
                tokio::spawn(async move { f.serve(tcp).await });
            }
        });
        fake
    }

    fn base(&self) -> String {
        format!("ws://{}", self.addr.unwrap())
    }

    async fn serve(&self, tcp: tokio::net::TcpStream) {
        let seen = Arc::new(Mutex::new((String::new(), None::<String>)));
        let seen2 = seen.clone();
        let refuse = self.refuse_private.load(Ordering::SeqCst);
        let attempts = self.private_attempts.clone();
        #[allow(clippy::result_large_err)] // the signature tungstenite's `Callback` wants
        let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            let path = req.uri().path().to_string();
            let auth = req.headers().get("authorization").map(|v| v.to_str().unwrap().to_string());
            assert!(req.headers().get("origin").is_none(), "client must never send Origin");
            *seen2.lock().unwrap() = (path.clone(), auth);
            if path.ends_with("/private") {
                attempts.fetch_add(1, Ordering::SeqCst);
            }
            if refuse && path.ends_with("/private") {
                return Err(http::Response::builder().status(401).body(Some("INVALID_AUTH".into())).unwrap());
            }
            Ok(resp)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else { return };
        let (path, auth) = seen.lock().unwrap().clone();
        let (tx, mut rx) = mpsc::channel(4096);
        let sub = Arc::new(Mutex::new(Sub::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let alive = Arc::new(AtomicBool::new(true));
        let id = self.accepted.fetch_add(1, Ordering::SeqCst);
        self.conns.lock().unwrap().push(ConnRec {
            id,
            path,
            auth,
            sub: sub.clone(),
            requests: requests.clone(),
            tx,
            alive: alive.clone(),
        });
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    // The keep-alive text PING: Upbit answers {"status":"UP"}; this fake plays a
                    // server whose application is stuck (only the TCP stack answers pings), so
                    // it stays silent and the idle watchdog must fire.
                    Some(Ok(Message::Text(t))) if t.as_str() == "PING" => {}
                    Some(Ok(Message::Text(t))) => {
                        requests.lock().unwrap().push(t.to_string());
                        *sub.lock().unwrap() = parse_request(&t);
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Frame(b)) => {
                        if ws.send(Message::Binary(Bytes::from(b))).await.is_err() {
                            break;
                        }
                    }
                    Some(Cmd::Msg(msg)) => {
                        let close = matches!(msg, Message::Close(_));
                        if ws.send(msg).await.is_err() || close {
                            break;
                        }
                    }
                    Some(Cmd::Drop) | None => break,
                },
            }
        }
        alive.store(false, Ordering::SeqCst);
    }

    fn live(&self, path_suffix: &str) -> Vec<(usize, Arc<Mutex<Sub>>, mpsc::Sender<Cmd>)> {
        self.conns
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.alive.load(Ordering::SeqCst) && c.path.ends_with(path_suffix))
            .map(|c| (c.id, c.sub.clone(), c.tx.clone()))
            .collect()
    }

    /// Waits until the live public connection is subscribed to exactly `want`.
    async fn until_subscribed(&self, want: &Sub) {
        until("subscribed", || self.public_sub() == *want).await;
    }

    /// Waits until public connection `id` (numbered from 0 in the order accepted) is live
    /// and subscribed to exactly `want`.
    async fn until_resubscribed(&self, what: &str, id: usize, want: &Sub) {
        until(what, || self.live("/v1").iter().any(|(i, s, _)| *i == id && *s.lock().unwrap() == *want))
            .await;
    }

    fn count(&self, path_suffix: &str) -> usize {
        self.conns.lock().unwrap().iter().filter(|c| c.path.ends_with(path_suffix)).count()
    }

    /// Every request received on public connections, oldest first.
    fn public_requests(&self) -> Vec<Sub> {
        let conns = self.conns.lock().unwrap();
        conns
            .iter()
            .filter(|c| c.path.ends_with("/v1"))
            .flat_map(|c| c.requests.lock().unwrap().iter().map(|r| parse_request(r)).collect::<Vec<_>>())
            .collect()
    }

    /// The subscription of the live public connection (empty when none).
    fn public_sub(&self) -> Sub {
        self.live("/v1").first().map(|(_, s, _)| s.lock().unwrap().clone()).unwrap_or_default()
    }

    /// Sends a frame on every live public connection whose subscription has (ty, code).
    async fn emit(&self, ty: &str, code: &str, frame: Vec<u8>) -> usize {
        let mut n = 0;
        for (_, sub, tx) in self.live("/v1") {
            let wanted = sub.lock().unwrap().get(ty).is_some_and(|c| c.contains(code));
            if wanted {
                tx.send(Cmd::Frame(frame.clone())).await.unwrap();
                n += 1;
            }
        }
        n
    }

    async fn raw(&self, frame: Vec<u8>) {
        for (_, _, tx) in self.live("/v1") {
            tx.send(Cmd::Frame(frame.clone())).await.unwrap();
        }
    }

    /// Sends `msg` on every live connection whose path ends with `path_suffix`.
    async fn send_on(&self, path_suffix: &str, msg: Message) {
        for (_, _, tx) in self.live(path_suffix) {
            tx.send(Cmd::Msg(msg.clone())).await.unwrap();
        }
    }

    async fn drop_all(&self) {
        for (_, _, tx) in self.live("") {
            let _ = tx.send(Cmd::Drop).await;
        }
    }
}

fn ticker(code: &str, price: i64) -> Vec<u8> {
    let ts = now_ms();
    format!(
        r#"{{"type":"ticker","code":"{code}","opening_price":1,"high_price":1,"low_price":1,"trade_price":{price},"prev_closing_price":1,"change":"RISE","change_price":0,"signed_change_price":0,"change_rate":0,"signed_change_rate":0,"trade_volume":1,"acc_trade_volume":1,"acc_trade_volume_24h":1,"acc_trade_price":1,"acc_trade_price_24h":1,"trade_date":"20241031","trade_time":"010742","trade_timestamp":{ts},"ask_bid":"BID","acc_ask_volume":1,"acc_bid_volume":1,"highest_52_week_price":1,"highest_52_week_date":"2024-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2024-01-01","market_state":"ACTIVE","timestamp":{ts},"stream_type":"REALTIME"}}"#
    )
    .into_bytes()
}

fn trade(code: &str, seq: i64) -> Vec<u8> {
    let ts = now_ms();
    format!(
        r#"{{"type":"trade","code":"{code}","timestamp":{ts},"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":{ts},"trade_price":100,"trade_volume":0.5,"ask_bid":"ASK","prev_closing_price":1,"change":"FALL","change_price":1,"sequential_id":{seq},"stream_type":"REALTIME"}}"#
    )
    .into_bytes()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn m(s: &str) -> MarketId {
    MarketId::new(s)
}

fn sub_of(pairs: &[(&str, &[&str])]) -> Sub {
    pairs.iter().map(|(t, cs)| (t.to_string(), cs.iter().map(|c| c.to_string()).collect())).collect()
}

/// A REST client pointed at a closed port: gap fills fail fast and are only logged.
fn dead_rest(credentials: Option<Credentials>) -> Arc<RestClient> {
    let cfg = RestConfig {
        base_url: "http://127.0.0.1:9/v1".into(),
        timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(100),
        read_attempts: 1,
        ..RestConfig::default()
    };
    Arc::new(RestClient::new(cfg, credentials).unwrap())
}

fn config(fake: &Fake) -> FeedConfig {
    let mut c = FeedConfig::new(dead_rest(None), None).with_ws_base(&fake.base());
    c.rest_gap_fill = false;
    c.debounce = Duration::from_millis(20);
    c.grace = Duration::from_millis(200);
    c.backoff_initial = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(80);
    c
}

/// `config` with keys for the private stream and a long `backoff_max` (30 s), so a refused
/// private stream stays on REST polling for the rest of the test.
fn keyed_config(fake: &Fake) -> FeedConfig {
    let mut c = config(fake);
    c.credentials = Some(Credentials::new("k", "s"));
    c.backoff_max = Duration::from_secs(30);
    c
}

fn start(c: FeedConfig) -> (FeedHandle, TaskManager) {
    let tasks = TaskManager::new();
    let handle = FeedManager::start(c, &tasks);
    (handle, tasks)
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn three_proxies_share_one_upstream_with_the_union_and_get_only_their_markets() {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let a = feed.proxy("a");
    let b = feed.proxy("b");
    let c = feed.proxy("c");
    let mut ta = a.subscribe_ticker(&[m("KRW-BTC"), m("KRW-ETH")], Strategy::Lossless);
    let mut tb = b.subscribe_ticker(&[m("KRW-ETH"), m("KRW-XRP")], Strategy::Lossless);
    let mut tc = c.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let union = sub_of(&[("ticker", &["KRW-BTC", "KRW-ETH", "KRW-XRP"]), ("trade", &["KRW-BTC"])]);
    until("upstream = union", || fake.public_sub() == union).await;
    assert_eq!(fake.count("/v1"), 1, "one public connection for all proxies");

    for (code, price) in [("KRW-BTC", 1), ("KRW-ETH", 2), ("KRW-XRP", 3)] {
        assert_eq!(fake.emit("ticker", code, ticker(code, price)).await, 1);
    }
    fake.emit("trade", "KRW-BTC", trade("KRW-BTC", 9)).await;
    let got_a = [within(ta.recv()).await.unwrap(), within(ta.recv()).await.unwrap()];
    assert_eq!(got_a.map(|t| t.market.unwrap().as_str().to_string()), ["KRW-BTC", "KRW-ETH"]);
    let got_b = [within(tb.recv()).await.unwrap(), within(tb.recv()).await.unwrap()];
    assert_eq!(got_b.map(|t| t.market.unwrap().as_str().to_string()), ["KRW-ETH", "KRW-XRP"]);
    assert_eq!(within(tc.recv()).await.unwrap().sequential_id, 9);
    // Everything was routed in order by one task, so nothing more is on its way.
    assert!(ta.try_recv().is_none() && tb.try_recv().is_none());

    let health = feed.health();
    assert_eq!(health.subscribers.len(), 3);
    assert_eq!(health.connections[0].state, ConnState::Connected);
    assert_eq!(health.connections[0].epoch, 1);
    assert_eq!(a.subscriptions().len(), 1);
}

#[tokio::test]
async fn each_request_carries_the_whole_set_because_upbit_replaces() {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let a = feed.proxy("a");
    let _s1 = a.subscribe_ticker(&[m("KRW-BTC")], Strategy::CoalesceByMarket);
    until("first request", || fake.public_sub() == sub_of(&[("ticker", &["KRW-BTC"])])).await;
    let b = feed.proxy("b");
    let _s2 = b.subscribe_orderbook(&[m("KRW-ETH")], Strategy::CoalesceByMarket);
    let want = sub_of(&[("ticker", &["KRW-BTC"]), ("orderbook", &["KRW-ETH"])]);
    until("second request has both", || fake.public_sub() == want).await;
    let reqs = fake.public_requests();
    assert!(reqs.len() >= 2);
    // Only adds happened, so every request must contain everything the one before had.
    for w in reqs.windows(2) {
        for (ty, codes) in &w[0] {
            assert!(w[1].get(ty).is_some_and(|c| c.is_superset(codes)), "request dropped a stream: {w:?}");
        }
    }
}

#[tokio::test]
async fn released_market_stays_for_the_grace_period_then_leaves() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.grace = Duration::from_secs(2);
    let (feed, _tasks) = start(cfg);
    let a = feed.proxy("a");
    let _btc = a.subscribe_ticker(&[m("KRW-BTC")], Strategy::Lossless);
    let b = feed.proxy("b");
    let eth = b.subscribe_ticker(&[m("KRW-ETH")], Strategy::Lossless);
    until("both upstream", || fake.public_sub() == sub_of(&[("ticker", &["KRW-BTC", "KRW-ETH"])])).await;

    // Release and immediately re-subscribe: no request without ETH may be sent.
    drop(eth);
    let c = feed.proxy("c");
    let mut eth2 = c.subscribe_ticker(&[m("KRW-ETH")], Strategy::Lossless);
    fake.emit("ticker", "KRW-ETH", ticker("KRW-ETH", 5)).await;
    assert_eq!(within(eth2.recv()).await.unwrap().trade_price, rust_decimal::Decimal::from(5));
    assert!(fake.public_requests().iter().all(|r| r["ticker"].contains("KRW-ETH")));

    // Now really release it: it leaves upstream after the grace period.
    drop(eth2);
    until("ETH released", || fake.public_sub() == sub_of(&[("ticker", &["KRW-BTC"])])).await;
}

#[tokio::test]
async fn dropping_a_proxy_releases_its_demand_and_ends_its_subscriptions() {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let keep = feed.proxy("keep");
    let _k = keep.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let p = feed.proxy("pane");
    let mut s1 = p.subscribe_ticker(&[m("KRW-SOL")], Strategy::CoalesceByMarket);
    let _s2 = p.subscribe_trade(&[m("KRW-SOL")], Strategy::DropOldest);
    let want = sub_of(&[("ticker", &["KRW-SOL"]), ("trade", &["KRW-BTC", "KRW-SOL"])]);
    until("pane upstream", || fake.public_sub() == want).await;
    assert_eq!(feed.health().subscribers.len(), 3);
    drop(p);
    assert!(within(s1.recv()).await.is_none(), "a dropped proxy's subscriptions end");
    assert_eq!(feed.health().subscribers.len(), 1);
    until("shrunk to the kept trade", || fake.public_sub() == sub_of(&[("trade", &["KRW-BTC"])])).await;

    // Unsubscribing everything closes the connection (Upbit has no unsubscribe message).
    keep.unsubscribe_all();
    until("idle", || feed.health().connections[0].state == ConnState::Idle).await;
    until("socket closed", || fake.live("/v1").is_empty()).await;
}

#[tokio::test]
async fn slow_subscriber_coalesces_while_others_get_all_1000_in_order() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.queue_capacity = 16;
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut fast = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let slow = p.subscribe_trade(&[m("KRW-BTC")], Strategy::CoalesceByMarket);
    let ring = p.subscribe_trade(&[m("KRW-BTC")], Strategy::DropOldest);
    fake.until_subscribed(&sub_of(&[("trade", &["KRW-BTC"])])).await;
    let f = fake.clone();
    let producer = tokio::spawn(async move {
        for i in 0..1000 {
            f.emit("trade", "KRW-BTC", trade("KRW-BTC", i)).await;
        }
    });
    for i in 0..1000 {
        assert_eq!(within(fast.recv()).await.unwrap().sequential_id, i, "lossless is complete and ordered");
    }
    producer.await.unwrap();
    // The slow ones never read while 1000 flowed: bounded, and every loss counted.
    assert_eq!(slow.depth(), 1);
    assert_eq!(slow.drops(), 999);
    assert_eq!(ring.depth(), 16);
    assert_eq!(ring.drops(), 1000 - 16);
    let mut slow = slow;
    assert_eq!(within(slow.recv()).await.unwrap().sequential_id, 999, "coalesced to the latest");
    let h = feed.health();
    assert!(h.subscribers.iter().any(|s| s.drops == 999));
    assert_eq!(h.health, Health::Healthy, "coalescing is by design, not a fault: {:?}", h.reasons);
}

#[tokio::test]
async fn thirty_forced_disconnects_each_resubscribe_with_a_new_epoch() {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let p = feed.proxy("p");
    let mut trades = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let mut tickers = p.subscribe_ticker(&[m("KRW-ETH")], Strategy::CoalesceByMarket);
    let want = sub_of(&[("ticker", &["KRW-ETH"]), ("trade", &["KRW-BTC"])]);
    for round in 0..31u64 {
        // Wait for the NEW connection (id = round) to carry the full set again.
        fake.until_resubscribed("resubscribed", round as usize, &want).await;
        fake.emit("trade", "KRW-BTC", trade("KRW-BTC", round as i64)).await;
        fake.emit("ticker", "KRW-ETH", ticker("KRW-ETH", round as i64 + 1)).await;
        let ev = within(trades.recv_event()).await.unwrap();
        assert_eq!(ev.epoch, round + 1, "epoch increments per connection");
        let t = within(tickers.recv_event()).await.unwrap();
        assert_eq!(t.epoch, round + 1, "no subscriber is left silent");
        if round < 30 {
            fake.drop_all().await;
        }
    }
    assert_eq!(fake.count("/v1"), 31);
    let h = feed.health();
    assert_eq!(h.connections[0].reconnects, 30);
    assert_eq!(h.connections[0].epoch, 31);
    assert_eq!(h.stale_dropped, 0);
}

#[tokio::test]
async fn malformed_frames_are_counted_and_oversize_reconnects() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.ws.max_message_size = 64 * 1024;
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut trades = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    fake.until_subscribed(&sub_of(&[("trade", &["KRW-BTC"])])).await;
    fake.raw(b"not json".to_vec()).await;
    fake.raw(vec![0xff, 0xfe, b'{']).await;
    fake.raw(br#"{"type":"trade","code":"KRW-BTC"}"#.to_vec()).await;
    fake.raw(br#"{"error":{"name":"WRONG_FORMAT","message":"bad"}}"#.to_vec()).await;
    fake.raw(br#"{"type":"futureThing","x":1}"#.to_vec()).await;
    fake.raw(br#"{"status":"UP"}"#.to_vec()).await;
    // Numbers outside the band (issue 15, item 2): malformed like any bad frame.
    for price in ["0", "-5"] {
        let frame = String::from_utf8(trade("KRW-BTC", 90)).unwrap();
        fake.raw(frame.replace(r#""trade_price":100"#, &format!(r#""trade_price":{price}"#)).into_bytes())
            .await;
    }
    fake.emit("trade", "KRW-BTC", trade("KRW-BTC", 1)).await;
    assert_eq!(within(trades.recv()).await.unwrap().sequential_id, 1, "garbage is not fatal");
    let h = feed.health();
    assert_eq!((h.parse_errors, h.error_frames, h.unknown_types), (5, 1, 1));
    assert_eq!(fake.count("/v1"), 1, "no reconnect for bad frames");

    // A frame over the cap ends the session; the feed reconnects and resubscribes.
    fake.raw(vec![b' '; 128 * 1024]).await;
    until("reconnected", || {
        fake.count("/v1") == 2 && fake.public_sub() == sub_of(&[("trade", &["KRW-BTC"])])
    })
    .await;
    fake.emit("trade", "KRW-BTC", trade("KRW-BTC", 2)).await;
    let ev = trades.recv_event().await.unwrap();
    assert_eq!(ev.epoch, 2);
    assert_eq!(feed.health().oversize, 1);
}

#[tokio::test]
async fn idle_watchdog_reconnects_when_only_pongs_arrive() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    // The fake answers pings (tungstenite does) but sends no data: pongs are not life.
    cfg.ws.ping_interval = Duration::from_millis(30);
    cfg.ws.idle_timeout = Duration::from_millis(250);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let _t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::CoalesceByMarket);
    // The fake counts an upgrade before the client has finished it and started the new
    // epoch: wait for the epoch too, do not assume it follows at once.
    until("two idle reconnects", || {
        let h = feed.health();
        h.idle_timeouts >= 2 && fake.count("/v1") >= 3 && h.connections[0].epoch >= 3
    })
    .await;
    assert!(feed.health().idle_timeouts >= 2);
}

#[tokio::test]
async fn private_stream_presents_a_fresh_jwt_on_every_upgrade() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.credentials = Some(Credentials::new("test-access-key", "test-secret-key"));
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("orders");
    let _o = p.subscribe_my_order(&[], Strategy::Lossless);
    let _a = p.subscribe_my_asset(Strategy::Lossless);
    until("private subscribed", || {
        fake.live("/private").first().is_some_and(|(_, s, _)| s.lock().unwrap().len() == 2)
    })
    .await;
    fake.drop_all().await;
    until("private reconnected and resubscribed", || {
        fake.live("/private").iter().any(|(id, s, _)| *id == 1 && s.lock().unwrap().len() == 2)
    })
    .await;
    let conns = fake.conns.lock().unwrap();
    let auths: Vec<&str> =
        conns.iter().filter(|c| c.path.ends_with("/private")).map(|c| c.auth.as_deref().unwrap()).collect();
    for a in &auths {
        assert!(a.starts_with("Bearer ey") && a.matches('.').count() == 2, "{a}");
    }
    assert_ne!(auths[0], auths[1], "a new nonce per connect");
    assert!(conns.iter().filter(|c| c.path.ends_with("/v1")).all(|c| c.auth.is_none()));
    // myAsset carries no codes; myOrder without markets = all.
    let sub = conns.iter().rev().find(|c| c.path.ends_with("/private")).unwrap().sub.lock().unwrap().clone();
    assert_eq!(sub, sub_of(&[("myAsset", &[]), ("myOrder", &[])]));
    drop(conns);
    assert_eq!(feed.health().connections[1].epoch, 2);
}

#[tokio::test]
async fn refused_private_upgrade_degrades_to_rest_polling_visibly() {
    let fake = Fake::start().await;
    fake.refuse_private.store(true, Ordering::SeqCst);
    let (feed, _tasks) = start(keyed_config(&fake));
    let p = feed.proxy("orders");
    let _o = p.subscribe_my_order(&[], Strategy::Lossless);
    until("degraded", || matches!(feed.health().connections[1].state, ConnState::DegradedRest { .. })).await;
    let h = feed.health();
    assert_eq!(h.health, Health::Degraded);
    assert!(h.reasons.iter().any(|r| r.contains("REST polling")), "{:?}", h.reasons);
    // It does not hot-loop on the refusal: one attempt, then REST until backoff_max.
    assert_eq!(fake.private_attempts.load(Ordering::SeqCst), 1);
    assert_eq!(fake.count("/private"), 0);
}

#[tokio::test]
async fn silent_server_hits_the_connect_timeout_and_backs_off() {
    // Accepts TCP but never answers the upgrade.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h2 = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            h2.lock().unwrap().push(s);
        }
    });
    let fake = Fake { addr: Some(addr), ..Fake::default() };
    let mut cfg = config(&fake);
    cfg.ws.connect_timeout = Duration::from_millis(100);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let _t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::CoalesceByMarket);
    until("two attempts timed out", || held.lock().unwrap().len() >= 2).await;
    until("backoff visible", || {
        let h = feed.health();
        h.health != Health::Healthy && h.connections[0].state != ConnState::Connected
    })
    .await;
}

// ------------------------------------------------------------------ fake upbit REST

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hoga::exchange::upbit::error::{AuthKind, UpbitError};

/// What the REST fake answers: (status, body) queue consumed first, then the default.
#[derive(Clone, Default)]
struct RestFake {
    script: Arc<Mutex<std::collections::VecDeque<(u16, String)>>>,
    hits: Arc<AtomicUsize>,
    price: Arc<std::sync::atomic::AtomicI64>,
}

async fn rest_answer(
    State(f): State<RestFake>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> (StatusCode, HeaderMap, String) {
    assert!(headers.get("origin").is_none(), "client must never send Origin");
    f.hits.fetch_add(1, Ordering::SeqCst);
    let mut h = HeaderMap::new();
    h.insert("Remaining-Req", "group=ticker; min=600; sec=9".parse().unwrap());
    if let Some((status, body)) = f.script.lock().unwrap().pop_front() {
        return (StatusCode::from_u16(status).unwrap(), h, body);
    }
    match uri.path() {
        "/v1/accounts" => {
            assert!(headers.get("authorization").is_some());
            let body = r#"[{"currency":"KRW","balance":"1000000.0","locked":"0.0","avg_buy_price":"0","avg_buy_price_modified":false,"unit_currency":"KRW"}]"#;
            return (StatusCode::OK, h, body.into());
        }
        "/v1/orders/open" => return (StatusCode::OK, h, "[]".into()),
        _ => {}
    }
    let price = f.price.load(Ordering::SeqCst);
    let body = String::from_utf8(ticker("KRW-BTC", price))
        .unwrap()
        .replace(r#""type":"ticker","code""#, r#""market""#);
    (StatusCode::OK, h, format!("[{body}]"))
}

async fn rest_fake() -> (RestFake, String) {
    let f = RestFake::default();
    let app = axum::Router::new().fallback(rest_answer).with_state(f.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (f, url)
}

fn rest_client(url: &str, credentials: Option<Credentials>) -> Arc<RestClient> {
    let cfg = RestConfig { base_url: url.into(), read_attempts: 1, ..RestConfig::default() };
    Arc::new(RestClient::new(cfg, credentials).unwrap())
}

#[tokio::test]
async fn every_connect_closes_the_gap_with_a_rest_snapshot_in_its_epoch() {
    let fake = Fake::start().await;
    let (rest, url) = rest_fake().await;
    rest.price.store(777, Ordering::SeqCst);
    let mut cfg = config(&fake);
    cfg.rest = rest_client(&url, None);
    cfg.rest_gap_fill = true;
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::Lossless);
    // Nothing was emitted on the websocket yet: this is the REST snapshot.
    let ev = within(t.recv_event()).await.unwrap();
    assert_eq!(ev.epoch, 1);
    rest.price.store(888, Ordering::SeqCst);
    fake.drop_all().await;
    let ev = within(t.recv_event()).await.unwrap();
    assert_eq!(ev.epoch, 2, "the snapshot after the reconnect carries the new epoch");
    match &ev.payload {
        hoga::feed::FeedPayload::Stream(hoga::exchange::api::StreamEvent::Ticker(tk)) => {
            assert_eq!(tk.trade_price, rust_decimal::Decimal::from(888));
        }
        other => panic!("{other:?}"),
    }
    assert!(rest.hits.load(Ordering::SeqCst) >= 2);
    // REST snapshots through the proxy too.
    let snap = p.ticker(&[m("KRW-BTC")]).await.unwrap();
    assert_eq!(snap[0].trade_price, rust_decimal::Decimal::from(888));
}

#[tokio::test]
async fn rest_429_pauses_the_group_and_recovers_without_a_418() {
    let (rest, url) = rest_fake().await;
    rest.price.store(5, Ordering::SeqCst);
    rest.script.lock().unwrap().push_back((429, "Too many API requests.".into()));
    let client = rest_client(&url, None);
    let err = client.tickers(&[m("KRW-BTC")]).await.unwrap_err();
    assert!(matches!(err, UpbitError::RateLimited { .. }), "{err:?}");
    let status = client.limits_status();
    assert!(!status.paused.is_empty(), "the ticker group is paused");
    assert_eq!(status.rate_limited, 1);
    // The next call waits out the pause instead of hammering, then succeeds.
    let ok = client.tickers(&[m("KRW-BTC")]).await.unwrap();
    assert_eq!(ok[0].trade_price, rust_decimal::Decimal::from(5));
    assert_eq!(rest.hits.load(Ordering::SeqCst), 2, "no request was sent during the pause");
    assert_eq!(client.limits_status().blocks, 0);
}

#[tokio::test]
async fn rest_auth_errors_map_to_typed_errors_with_hints() {
    let (rest, url) = rest_fake().await;
    let client = rest_client(&url, Some(Credentials::new("k", "s")));
    let cases = [
        (401, "no_authorization_i_p", AuthKind::IpNotAllowed),
        (401, "no_authorization_ip", AuthKind::IpNotAllowed),
        (401, "expired_access_key", AuthKind::ExpiredKey),
        (403, "out_of_scope", AuthKind::OutOfScope),
        (401, "nonce_used", AuthKind::NonceUsed),
        (401, "jwt_verification", AuthKind::JwtVerification),
        (401, "invalid_query_payload", AuthKind::InvalidQueryPayload),
        (401, "invalid_access_key", AuthKind::InvalidAccessKey),
        (401, "no_authorization_token", AuthKind::NoToken),
    ];
    for (status, name, kind) in cases {
        let body = format!(r#"{{"error":{{"name":"{name}","message":"m"}}}}"#);
        rest.script.lock().unwrap().push_back((status, body));
        match client.accounts().await.unwrap_err() {
            UpbitError::Auth { kind: k, name: n, .. } => {
                assert_eq!((k, n.as_str()), (kind, name));
                assert!(!kind.hint().is_empty());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn hoga_stream_prints_events_from_any_upbit_compatible_server() {
    let fake = Fake::start().await;
    let args = hoga::feed::stream_cli::StreamArgs {
        args: vec!["trade".into(), "KRW-BTC".into()],
        url: format!("{}/websocket/v1", fake.base()),
        rest_url: None,
        count: Some(3),
        format: "jsonl".into(),
        stats: true,
        quiet: true,
        connect_timeout: 10,
    };
    let run = tokio::spawn(async move { hoga::feed::stream_cli::run(&args, false, None).await });
    until("stream subscribed", || fake.public_sub() == sub_of(&[("trade", &["KRW-BTC"])])).await;
    for i in 0..3 {
        fake.emit("trade", "KRW-BTC", trade("KRW-BTC", i)).await;
    }
    within(run).await.unwrap();
}

#[tokio::test]
async fn a_silent_subscribed_market_degrades_health_and_ages() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.silent_after = Duration::from_millis(150);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::CoalesceByMarket);
    feed.set_watched([m("KRW-BTC")]);
    fake.until_subscribed(&sub_of(&[("ticker", &["KRW-BTC"])])).await;
    let kind = hoga::exchange::api::StreamKind::Ticker;
    assert!(feed.last_event_age(kind, &m("KRW-BTC")).is_none());
    until("silence reported", || {
        let h = feed.health();
        h.health == Health::Degraded && h.reasons.iter().any(|r| r.contains("KRW-BTC ticker silent"))
    })
    .await;
    fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", 1)).await;
    within(t.recv()).await.unwrap();
    assert!(feed.last_event_age(kind, &m("KRW-BTC")).is_some());
}

/// Real Upbit's thin markets are silent for minutes: one nobody watches must not degrade
/// health while the connection and the watched market are live; a silent connection
/// still does.
#[tokio::test]
async fn a_quiet_thin_market_does_not_degrade_health_but_a_silent_connection_does() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    // Scaled down: 150 ms here stands for the 10 s default, 1.2 s of thin-market silence
    // for a minute of it.
    cfg.silent_after = Duration::from_millis(150);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let _t = p.subscribe_ticker(&[m("KRW-BTC"), m("BTC-THIN")], Strategy::CoalesceByMarket);
    feed.set_watched([m("KRW-BTC")]);
    fake.until_subscribed(&sub_of(&[("ticker", &["BTC-THIN", "KRW-BTC"])])).await;
    fake.emit("ticker", "BTC-THIN", ticker("BTC-THIN", 1)).await;
    // KRW-BTC ticks every 30 ms; BTC-THIN says nothing more for eight silence limits.
    let quiet_for = Duration::from_millis(1200);
    let began = tokio::time::Instant::now();
    let mut i = 2;
    while began.elapsed() < quiet_for {
        fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", i)).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
        if began.elapsed() > Duration::from_millis(400) {
            let h = feed.health();
            assert_eq!(h.health, Health::Healthy, "{:?}", h.reasons);
        }
    }
    let thin = feed.last_event_age(hoga::exchange::api::StreamKind::Ticker, &m("BTC-THIN")).unwrap();
    assert!(thin > quiet_for, "the thin market was silent all along: {thin:?}");
    // The whole connection falling silent is degraded, watched market or not.
    until("a silent connection reported", || {
        let h = feed.health();
        h.health == Health::Degraded && h.reasons.iter().any(|r| r.contains("public stream silent"))
    })
    .await;
}

#[tokio::test]
async fn private_gap_is_closed_by_rest_on_connect_and_while_refused() {
    use hoga::feed::{MyAssetEvent, MyOrderEvent};
    let (rest, url) = rest_fake().await;
    let creds = Credentials::new("k", "s");
    // Connected: the REST snapshot closes the gap, stamped with the session's epoch.
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.credentials = Some(creds.clone());
    cfg.rest = rest_client(&url, Some(creds.clone()));
    cfg.rest_gap_fill = true;
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("wallet");
    let mut assets = p.subscribe_my_asset(Strategy::Lossless);
    let mut orders = p.subscribe_my_order(&[], Strategy::Lossless);
    match within(assets.recv()).await.unwrap() {
        MyAssetEvent::Snapshot(b) => assert_eq!(b[0].currency, "KRW"),
        other => panic!("{other:?}"),
    }
    assert_eq!(assets.epoch(), 1);
    assert_eq!(within(orders.recv()).await.unwrap(), MyOrderEvent::Snapshot(vec![]));

    // Refused: REST polling keeps delivering snapshots.
    let refusing = Fake::start().await;
    refusing.refuse_private.store(true, Ordering::SeqCst);
    let mut cfg = config(&refusing);
    cfg.credentials = Some(creds.clone());
    cfg.rest = rest_client(&url, Some(creds));
    cfg.private_poll = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_secs(30);
    let (feed, _tasks2) = start(cfg);
    let p = feed.proxy("wallet");
    let mut assets = p.subscribe_my_asset(Strategy::CoalesceByMarket);
    for _ in 0..2 {
        assert!(matches!(within(assets.recv()).await.unwrap(), MyAssetEvent::Snapshot(_)));
    }
    assert!(matches!(feed.health().connections[1].state, ConnState::DegradedRest { .. }));
    assert!(rest.hits.load(Ordering::SeqCst) >= 4, "gap fill + at least two polls");
}

#[tokio::test]
async fn changes_made_while_disconnected_are_in_the_restored_subscription() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.backoff_initial = Duration::from_millis(300);
    cfg.grace = Duration::ZERO;
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let btc = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::CoalesceByMarket);
    fake.until_subscribed(&sub_of(&[("ticker", &["KRW-BTC"])])).await;
    fake.drop_all().await;
    until("noticed", || feed.health().connections[0].state != ConnState::Connected).await;
    drop(btc);
    let _eth = p.subscribe_ticker(&[m("KRW-ETH")], Strategy::CoalesceByMarket);
    let _book = p.subscribe_orderbook(&[m("KRW-XRP")], Strategy::CoalesceByMarket);
    let want = sub_of(&[("ticker", &["KRW-ETH"]), ("orderbook", &["KRW-XRP"])]);
    until("restored with the new set", || {
        fake.live("/v1").iter().any(|(id, s, _)| *id >= 1 && *s.lock().unwrap() == want)
    })
    .await;
}

#[tokio::test]
async fn a_stuck_lossless_subscriber_costs_one_stall_then_is_counted_not_waited_on() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.lossless_capacity = 4;
    cfg.lossless_stall = Duration::from_millis(200);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let stuck = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let mut live = p.subscribe_trade(&[m("KRW-BTC")], Strategy::DropOldest);
    fake.until_subscribed(&sub_of(&[("trade", &["KRW-BTC"])])).await;
    for i in 0..100 {
        fake.emit("trade", "KRW-BTC", trade("KRW-BTC", i)).await;
    }
    // The other subscriber keeps receiving up to the last event.
    loop {
        if within(live.recv()).await.unwrap().sequential_id == 99 {
            break;
        }
    }
    assert_eq!(stuck.depth(), 4);
    assert_eq!(stuck.drops(), 96, "every lost event is counted");
    let h = feed.health();
    assert_eq!(h.health, Health::Degraded);
    assert!(h.reasons.iter().any(|r| r.contains("lossless")), "{:?}", h.reasons);
}

/// A healthy but quiet private stream (no orders: Upbit's `myOrder`/`myAsset` can be silent
/// for hours) must not be torn down by the idle watchdog: the keep-alive text `PING` is
/// answered with `{"status":"UP"}` by the real protocol (here the simulator), and that
/// answer counts as data. The fake above, which answers only control frames, still trips it.
#[tokio::test]
async fn quiet_private_stream_stays_up_on_status_answers() {
    use secrecy::ExposeSecret;
    let sim_tasks = TaskManager::new();
    let sim = hoga::sim::start(hoga::sim::SimConfig::default(), &sim_tasks).await.unwrap();
    let creds = Credentials::new(&sim.credentials.0, sim.credentials.1.expose_secret());
    let rest = Arc::new(
        RestClient::new(
            RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() },
            None,
        )
        .unwrap(),
    );
    let mut cfg =
        FeedConfig::new(rest, Some(creds)).with_ws_base(sim.ws_public_url.trim_end_matches("/websocket/v1"));
    // Seven keep-alives per idle budget: a slow, loaded machine does not trip it by chance.
    cfg.ws.idle_timeout = Duration::from_millis(1500);
    cfg.ws.ping_interval = Duration::from_millis(200);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("account");
    let _o = p.subscribe_my_order(&[], Strategy::Lossless);
    until("private stream up for three idle budgets", || {
        feed.health()
            .connections
            .iter()
            .any(|c| c.name.contains("private") && c.state == ConnState::Connected && c.state_age_secs >= 4.5)
    })
    .await;
    let h = feed.health();
    let private = h.connections.iter().find(|c| c.name.contains("private")).unwrap();
    assert_eq!(private.epoch, 1, "the quiet private stream was reconnected");
    assert_eq!(h.idle_timeouts, 0);
    sim.stop();
}

#[tokio::test]
async fn a_gathering_public_stream_reads_again_only_after_the_gather() {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    // Long enough that only the gather can explain the wait.
    let gather = Duration::from_secs(2);
    cfg.public_read_gather = gather;
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut trades = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    fake.until_subscribed(&sub_of(&[("trade", &["KRW-BTC"])])).await;
    // A lone message after a quiet spell is read at once, and so is the next one...
    let start = std::time::Instant::now();
    fake.emit("trade", "KRW-BTC", trade("KRW-BTC", 1)).await;
    assert_eq!(within(trades.recv()).await.unwrap().sequential_id, 1);
    fake.emit("trade", "KRW-BTC", trade("KRW-BTC", 2)).await;
    assert_eq!(within(trades.recv()).await.unwrap().sequential_id, 2);
    assert!(start.elapsed() < gather, "a quiet stream is not held: {:?}", start.elapsed());
    let got_second = std::time::Instant::now();
    // ...but two bursts in a row mean a busy stream: what comes next waits for the gather
    // the second burst started (that burst ended before its message was delivered, so at
    // least `gather` minus the delivery time passes; half of it is a bound no scheduler
    // delay can break).
    for i in 3..=6 {
        fake.emit("trade", "KRW-BTC", trade("KRW-BTC", i)).await;
    }
    assert_eq!(within(trades.recv()).await.unwrap().sequential_id, 3);
    let waited = got_second.elapsed();
    assert!(waited >= gather / 2, "read again after {waited:?}, before the {gather:?} gather");
    // The rest came in the same read: already queued, in order.
    for i in 4..=6 {
        assert_eq!(trades.try_recv().map(|t| t.sequential_id), Some(i), "gathered together");
    }
}

// ------------------------------------------------------------------ issue 15: headers, health, bodies

/// A REST server that answers every request the same way (status, extra headers, body),
/// counting requests by path.
async fn fixed_rest(
    status: u16,
    headers: &[(&'static str, &'static str)],
    body: String,
) -> (Arc<Mutex<Vec<String>>>, String) {
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let (h2, headers) = (hits.clone(), headers.to_vec());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (hits, headers, body) = (h2.clone(), headers.clone(), body.clone());
        async move {
            hits.lock().unwrap().push(uri.path().to_string());
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.insert(k, v.parse().unwrap());
            }
            (StatusCode::from_u16(status).unwrap(), h, body)
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hits, url)
}

/// The 418 of issue 15: `Retry-After` of 10^19 seconds, past what an `Instant` can add.
const HUGE_RETRY_AFTER: &str = "10000000000000000000";

/// Issue 15 item 3, the reproduction: `hoga stream` with a REST snapshot server that
/// answers 418 with a huge `Retry-After`, while the websocket sends valid tickers. The gap
/// fill's 418 panicked the connection task (never restarted) and the stream ended with
/// `events=0 health=Healthy`; now the 418 is a bounded block and the tickers flow.
#[tokio::test]
async fn hoga_stream_delivers_tickers_while_rest_answers_418_with_a_huge_retry_after() {
    let fake = Fake::start().await;
    let (hits, rest_url) = fixed_rest(418, &[("Retry-After", HUGE_RETRY_AFTER)], String::new()).await;
    let args = hoga::feed::stream_cli::StreamArgs {
        args: vec!["ticker".into(), "KRW-BTC".into()],
        url: format!("{}/websocket/v1", fake.base()),
        rest_url: Some(rest_url),
        count: Some(3),
        format: "jsonl".into(),
        stats: true,
        quiet: true,
        connect_timeout: 10,
    };
    let run = tokio::spawn(async move { hoga::feed::stream_cli::run(&args, false, None).await });
    until("stream subscribed", || fake.public_sub() == sub_of(&[("ticker", &["KRW-BTC"])])).await;
    until("the gap fill asked REST", || !hits.lock().unwrap().is_empty()).await;
    // Tickers until the stream has its three (sent spaced out: the reader may still be in
    // the gap fill when the first arrives, which is fine, they queue).
    poll("hoga stream to get its tickers", DEADLINE, Duration::from_millis(20), async || {
        if run.is_finished() {
            return Some(());
        }
        fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", 5)).await;
        None
    })
    .await;
    within(run).await.unwrap();
}

/// Issue 15 item 3: the same 418 in the gap fill of a running feed is a bounded block on
/// the REST client, the connection keeps reading, and health says REST is blocked.
#[tokio::test]
async fn a_huge_retry_after_in_the_gap_fill_is_a_bounded_block_and_the_socket_keeps_reading() {
    let fake = Fake::start().await;
    let (_hits, rest_url) = fixed_rest(418, &[("Retry-After", HUGE_RETRY_AFTER)], String::new()).await;
    let mut cfg = config(&fake);
    cfg.rest = rest_client(&rest_url, None);
    cfg.rest_gap_fill = true;
    let (feed, tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::Lossless);
    fake.until_subscribed(&sub_of(&[("ticker", &["KRW-BTC"])])).await;
    until("blocked", || feed.health().rest.blocked_for.is_some()).await;
    fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", 7)).await;
    assert_eq!(within(t.recv()).await.unwrap().trade_price, rust_decimal::Decimal::from(7));
    let h = feed.health();
    let left = h.rest.blocked_for.unwrap();
    assert!(left <= hoga::exchange::upbit::limits::MAX_BLOCK, "{left:?}");
    assert_eq!(h.health, Health::Critical, "{:?}", h.reasons);
    assert!(tasks.table().iter().all(|t| t.restarts == 0 && t.last_error.is_none()), "{:#?}", tasks.table());
}

/// Issue 15 item 3: a connection task that fails is restarted by the supervisor (with
/// backoff), and the restarted task reconnects and delivers again.
#[tokio::test]
async fn a_failed_feed_connection_task_is_restarted_and_delivers_again() {
    use hoga::kernel::failpoint::{self, Action};
    let fake = Fake::start().await;
    let cfg = config(&fake);
    // Unique to this test: the point's name carries the fake's address.
    let point = format!("feed.connected.{}", cfg.ws_public_url);
    failpoint::set(&point, Action::Panic, Some(1));
    let (feed, tasks) = start(cfg);
    let p = feed.proxy("p");
    let mut t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::Lossless);
    until("the restarted task subscribed", || fake.public_sub() == sub_of(&[("ticker", &["KRW-BTC"])])).await;
    failpoint::clear(&point);
    fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", 3)).await;
    assert_eq!(within(t.recv()).await.unwrap().trade_price, rust_decimal::Decimal::from(3));
    let row = tasks.table().into_iter().find(|t| t.name == "feed-public").unwrap();
    assert!(row.restarts >= 1, "{row:?}");
    assert_eq!(fake.count("/v1"), 2, "the panic dropped the first socket; the restart opened a second");
}

/// Issue 15 item 3: connected is not healthy. A socket that is open and subscribed but
/// delivers nothing (or only frames that do not decode) is degraded until an event
/// arrives on the current connection.
#[tokio::test]
async fn health_is_not_healthy_until_the_connection_delivers() {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let p = feed.proxy("p");
    let mut t = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::Lossless);
    fake.until_subscribed(&sub_of(&[("ticker", &["KRW-BTC"])])).await;
    until("connected", || feed.health().connections[0].state == ConnState::Connected).await;
    for _ in 0..3 {
        fake.raw(b"{\"type\":\"ticker\",\"code\":".to_vec()).await;
    }
    until("garbage read", || feed.health().parse_errors == 3).await;
    let h = feed.health();
    assert_eq!(h.connections[0].state, ConnState::Connected);
    assert_eq!(h.health, Health::Degraded, "{:?}", h.reasons);
    assert!(h.reasons.iter().any(|r| r.contains("no data yet")), "{:?}", h.reasons);
    fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", 1)).await;
    within(t.recv()).await.unwrap();
    until("healthy once data arrived", || feed.health().health == Health::Healthy).await;
    // A new connection starts over: degraded until it delivers.
    fake.drop_all().await;
    until("reconnected, no data yet", || {
        let h = feed.health();
        h.connections[0].epoch == 2
            && h.connections[0].state == ConnState::Connected
            && h.health == Health::Degraded
    })
    .await;
}

/// Issue 15 item 10: a REST body is read with a size cap; a larger one is an error, not
/// an allocation the server controls. (Valid JSON: without the cap it would parse.)
#[tokio::test]
async fn an_oversize_rest_body_is_refused() {
    use hoga::exchange::upbit::error::NetworkKind;
    use hoga::exchange::upbit::rest::MAX_BODY_BYTES;
    let one =
        String::from_utf8(ticker("KRW-BTC", 1)).unwrap().replace(r#""type":"ticker","code""#, r#""market""#);
    let n = MAX_BODY_BYTES / one.len() + 1;
    let body = format!("[{}]", vec![one.as_str(); n].join(","));
    let (hits, url) = fixed_rest(200, &[], body).await;
    let client = rest_client(&url, None);
    let err = client.tickers(&[m("KRW-BTC")]).await.unwrap_err();
    assert!(matches!(&err, UpbitError::Network { kind: NetworkKind::BadBody, .. }), "{err:?}");
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(hits.lock().unwrap().len(), 1);
}

/// Issue 15 item 3, "headers too", on the webhook path: a 429 whose `Retry-After` is a
/// number no `Duration` can hold is ignored (the wait stays capped), not a panic of the
/// webhook sender that loses the alert.
#[tokio::test]
async fn a_webhook_retry_after_of_any_size_neither_panics_nor_loses_the_alert() {
    use hoga::notify::notifier::{NotifierConfig, Terminal, WebhookConfig, spawn_notifier};
    use hoga::notify::{NotifyEvent, NotifyKind};
    struct Quiet;
    impl Terminal for Quiet {
        fn bell(&mut self) {}
        fn set_title(&mut self, _: &str) {}
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let app = axum::Router::new().fallback(move || {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut h = HeaderMap::new();
            if n == 0 {
                h.insert("Retry-After", "1e300".parse().unwrap());
                return (StatusCode::TOO_MANY_REQUESTS, h);
            }
            (StatusCode::OK, h)
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let tasks = TaskManager::new();
    let mut hook = WebhookConfig::new(&format!("http://{addr}/hook/T")).unwrap();
    hook.initial_backoff = Duration::from_millis(10);
    hook.max_backoff = Duration::from_millis(50);
    let notifier =
        spawn_notifier(&tasks, NotifierConfig { webhook: Some(hook), ..NotifierConfig::default() }, Quiet)
            .unwrap();
    let ev = NotifyEvent::new(NotifyKind::PriceAlert, Some(m("KRW-BTC")), "KRW-BTC above 1").with_id("a-1");
    assert!(notifier.sender().notify(ev));
    until("delivered after the 429", || notifier.stats().webhook_sent.load(Ordering::SeqCst) == 1).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(tasks.table().iter().all(|t| t.last_error.is_none()), "{:#?}", tasks.table());
    tasks.cancel_all();
}

/// Issue 15 items 1/3/5 end to end: the paper console on a server that answers every REST
/// call 418 with `Retry-After: 10^19`. The markets pump panicked on the first answer; now
/// every task stays up and the store carries the (capped) ban countdown the status bar
/// shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_console_on_a_418_server_keeps_every_task_up_and_carries_the_ban() {
    let fake = Fake::start().await;
    let (hits, rest_url) = fixed_rest(418, &[("Retry-After", HUGE_RETRY_AFTER)], String::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = hoga::config::Settings::default();
    settings.general.mode = hoga::config::Mode::Paper;
    settings.exchange.rest_url = rest_url;
    settings.exchange.ws_url = fake.base();
    let (tasks, core) = start_core(&settings, Some(dir.path().join("journal.sqlite"))).await;
    let mut snaps = core.store.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let s = snapshot_until(&mut snaps, deadline, "the ban in the store", |s| {
        s.system.feed.rest_blocked_secs().is_some()
    })
    .await;
    let banned = s.system.feed.rest_blocked_secs().unwrap();
    assert!(banned <= hoga::exchange::upbit::limits::MAX_BLOCK.as_secs(), "{banned}");
    assert!(!hits.lock().unwrap().is_empty());
    let broken: Vec<_> =
        tasks.table().into_iter().filter(|t| t.restarts > 0 || t.last_error.is_some()).collect();
    assert!(broken.is_empty(), "tasks failed on a 418: {broken:#?}");
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(5)).await;
}

// ------------------------------------------------------------------ issue 15: cases 24, 25, 29

/// A Close frame from the server with `code` and `reason`.
fn close_frame(code: u16, reason: &str) -> Message {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    Message::Close(Some(CloseFrame { code: code.into(), reason: reason.into() }))
}

/// RELIABILITY case 24 on the private stream: the server refuses our credentials after
/// the upgrade, once by `{"error":{"name":"INVALID_AUTH"}}` and once by a Close frame
/// naming it. Either way the stream does not reconnect at the short backoff (a hot loop
/// against a key that cannot authenticate): it falls back to REST polling until
/// `backoff_max` and says why in health (the System pane and status bar's "private down").
/// The Close frame used to be a plain close, retried after 10-80 ms.
async fn private_auth_refusal_backs_off_long(refusal: Message, why: &str) {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(keyed_config(&fake));
    let p = feed.proxy("orders");
    let _o = p.subscribe_my_order(&[], Strategy::Lossless);
    until("private subscribed", || {
        fake.live("/private").first().is_some_and(|(_, s, _)| !s.lock().unwrap().is_empty())
    })
    .await;
    fake.send_on("/private", refusal).await;
    until("degraded to REST polling", || {
        matches!(feed.health().connections[1].state, ConnState::DegradedRest { .. })
    })
    .await;
    let h = feed.health();
    assert_eq!(h.health, Health::Degraded);
    assert!(h.reasons.iter().any(|r| r.contains("REST polling") && r.contains(why)), "{:?}", h.reasons);
    // A hot loop at this backoff (10-80 ms) would make several attempts in this time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.private_attempts.load(Ordering::SeqCst), 1, "no reconnect before backoff_max");
    assert!(matches!(feed.health().connections[1].state, ConnState::DegradedRest { .. }));
}

#[tokio::test]
async fn an_invalid_auth_error_frame_on_the_private_stream_backs_off_long_and_shows() {
    let frame = r#"{"error":{"name":"INVALID_AUTH","message":"Invalid auth"}}"#;
    private_auth_refusal_backs_off_long(Message::text(frame), "INVALID_AUTH").await;
}

#[tokio::test]
async fn an_auth_close_frame_on_the_private_stream_backs_off_long_and_shows() {
    private_auth_refusal_backs_off_long(close_frame(1008, "INVALID_AUTH"), "INVALID_AUTH").await;
}

/// RELIABILITY case 24 on the public stream: a server Close frame (1001 going away) and
/// an abnormal end (1006: the TCP connection dropped with no Close frame) are both
/// followed by a reconnect that restores the subscription and delivers again.
#[tokio::test]
async fn a_server_close_frame_or_an_abnormal_drop_reconnects_and_resubscribes() {
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let p = feed.proxy("p");
    let mut trades = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let want = sub_of(&[("trade", &["KRW-BTC"])]);
    fake.until_subscribed(&want).await;
    fake.send_on("/v1", close_frame(1001, "going away")).await;
    fake.until_resubscribed("reconnected after the Close frame", 1, &want).await;
    fake.drop_all().await;
    fake.until_resubscribed("reconnected after the abnormal drop", 2, &want).await;
    fake.emit("trade", "KRW-BTC", trade("KRW-BTC", 5)).await;
    let ev = within(trades.recv_event()).await.unwrap();
    assert_eq!(ev.epoch, 3);
    assert_eq!(feed.health().connections[0].reconnects, 2);
}

/// RELIABILITY case 25, the variants `malformed_frames_are_counted_and_oversize_reconnects`
/// does not send: a TEXT frame that is not UTF-8 (RFC 6455 makes the client fail the
/// connection; tungstenite ends the stream) is counted with the parse errors — it used to
/// be an uncounted i/o error — and the feed reconnects and delivers again; a frame with a
/// new enum value (`change: "NEUTRAL"`) and an unknown field is delivered, not dropped.
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_counted_and_a_new_enum_value_is_delivered() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let p = feed.proxy("p");
    let mut tickers = p.subscribe_ticker(&[m("KRW-BTC")], Strategy::Lossless);
    let want = sub_of(&[("ticker", &["KRW-BTC"])]);
    fake.until_subscribed(&want).await;

    let odd = String::from_utf8(ticker("KRW-BTC", 7))
        .unwrap()
        .replace(r#""change":"RISE""#, r#""change":"NEUTRAL","brand_new_field":[1,2]"#);
    fake.emit("ticker", "KRW-BTC", odd.into_bytes()).await;
    let t = within(tickers.recv()).await.unwrap();
    assert_eq!(t.trade_price, rust_decimal::Decimal::from(7), "the rest of the frame is used");

    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    fake.send_on("/v1", Message::Frame(bad)).await;
    fake.until_resubscribed("reconnected", 1, &want).await;
    assert_eq!(feed.health().parse_errors, 1, "the bad text frame is counted");
    fake.emit("ticker", "KRW-BTC", ticker("KRW-BTC", 8)).await;
    let ev = within(tickers.recv_event()).await.unwrap();
    assert_eq!(ev.epoch, 2);
}

fn book(code: &str, bid: i64, stream_type: &str) -> Vec<u8> {
    let ts = now_ms();
    let ask = bid + 1;
    format!(
        r#"{{"type":"orderbook","code":"{code}","timestamp":{ts},"total_ask_size":1,"total_bid_size":1,"orderbook_units":[{{"ask_price":{ask},"bid_price":{bid},"ask_size":1,"bid_size":1}}],"level":0,"stream_type":"{stream_type}"}}"#
    )
    .into_bytes()
}

/// RELIABILITY case 29: after a reconnect the server replays a snapshot — the order book
/// and trades already printed — then goes on in real time. Through the feed into the
/// store (as the console's book and tape pumps apply them) the book is the snapshot's
/// (replaced, not merged) and every trade is printed once, deduplicated by
/// `sequential_id` across the two sessions.
#[tokio::test]
async fn a_snapshot_replayed_after_a_reconnect_replaces_the_book_and_prints_each_trade_once() {
    use hoga::store::{Store, StoreEvent};
    let fake = Fake::start().await;
    let (feed, _tasks) = start(config(&fake));
    let p = feed.proxy("p");
    let mut trades = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    let mut books = p.subscribe_orderbook(&[m("KRW-BTC")], Strategy::Lossless);
    let want = sub_of(&[("orderbook", &["KRW-BTC"]), ("trade", &["KRW-BTC"])]);
    fake.until_subscribed(&want).await;
    let mut store = Store::new();
    let now = std::time::Instant::now();
    fake.emit("orderbook", "KRW-BTC", book("KRW-BTC", 100, "SNAPSHOT")).await;
    for seq in 1..=3 {
        fake.emit("trade", "KRW-BTC", trade("KRW-BTC", seq)).await;
    }
    store.apply_batch([StoreEvent::BookUpdated(within(books.recv()).await.unwrap())], now);
    for _ in 1..=3 {
        store.apply_batch([StoreEvent::TradePrinted(within(trades.recv()).await.unwrap())], now);
    }

    fake.drop_all().await;
    fake.until_resubscribed("resubscribed", 1, &want).await;
    // The replay: the new book snapshot, trades 2 and 3 again, then the new trade 4.
    fake.emit("orderbook", "KRW-BTC", book("KRW-BTC", 200, "SNAPSHOT")).await;
    for seq in [2, 3, 4] {
        let frame = String::from_utf8(trade("KRW-BTC", seq)).unwrap();
        let frame = if seq < 4 { frame.replace("REALTIME", "SNAPSHOT") } else { frame };
        fake.emit("trade", "KRW-BTC", frame.into_bytes()).await;
    }
    let ev = within(books.recv_event()).await.unwrap();
    assert_eq!(ev.epoch, 2);
    let hoga::feed::FeedPayload::Stream(hoga::exchange::api::StreamEvent::OrderBook(b)) = &ev.payload else {
        panic!("not a book: {ev:?}")
    };
    store.apply_batch([StoreEvent::BookUpdated(b.clone())], now);
    for _ in 0..3 {
        store.apply_batch([StoreEvent::TradePrinted(within(trades.recv()).await.unwrap())], now);
    }
    let snap = store.snapshot();
    let tape: Vec<i64> = snap.market.trades[&m("KRW-BTC")].iter().map(|t| t.sequential_id).collect();
    assert_eq!(tape, [4, 3, 2, 1], "each print once, across the reconnect");
    let shown = &snap.market.books[&m("KRW-BTC")].value;
    assert_eq!(shown.levels.len(), 1, "replaced, not merged");
    assert_eq!(shown.best_bid(), Some(rust_decimal::Decimal::from(200)));
}

/// Upbit answers a request it refuses (`WRONG_FORMAT`, `INVALID_PARAM`…) with an error
/// frame and then closes the socket with code 1000. The same request would be refused
/// again, so the feed says why (connection state and health) and waits `backoff_max`
/// instead of reconnecting and resending it every few milliseconds.
async fn refused_request_backs_off_long(frame: &str, name: &str) {
    let fake = Fake::start().await;
    let mut cfg = config(&fake);
    cfg.backoff_max = Duration::from_secs(30);
    let (feed, _tasks) = start(cfg);
    let p = feed.proxy("p");
    let _trades = p.subscribe_trade(&[m("KRW-BTC")], Strategy::Lossless);
    fake.until_subscribed(&sub_of(&[("trade", &["KRW-BTC"])])).await;
    fake.send_on("/v1", Message::text(frame)).await;
    fake.send_on("/v1", close_frame(1000, "")).await;
    until("the refusal is shown", || {
        matches!(&feed.health().connections[0].state,
            ConnState::Backoff { reason, .. } if reason.contains(name) && reason.contains("refused"))
    })
    .await;
    // A hot loop at the initial backoff (10 ms) would make several attempts in this time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.count("/v1"), 1, "no reconnect before backoff_max");
    assert_eq!(feed.health().error_frames, 1);
}

#[tokio::test]
async fn a_refused_request_then_close_1000_backs_off_long_and_says_why() {
    let frame = r#"{"error":{"message":"nope 은 지원하지 않는 타입입니다.","name":"INVALID_PARAM"}}"#;
    refused_request_backs_off_long(frame, "INVALID_PARAM").await;
}

/// On the public socket `INVALID_AUTH` means hoga asked it for a private type: a refused
/// request too, not a credentials problem.
#[tokio::test]
async fn invalid_auth_on_the_public_socket_is_a_refused_request() {
    let frame = r#"{"error":{"name":"INVALID_AUTH","message":"인증 정보가 올바르지 않습니다."}}"#;
    refused_request_backs_off_long(frame, "INVALID_AUTH").await;
}
