//! The simulator's shared state and its tasks: the world (generator + paper exchange)
//! behind one mutex, the public and private broadcast channels the websocket connections
//! read, the request log tests assert on, the axum server (REST, websocket, admin) and
//! the generator / flood task, all spawned through the [`TaskManager`].

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::auth::{AdminDenied, AdminToken, Authenticator};
use super::faults::{FaultCommand, FaultControl};
use super::limits::Limiter;
use super::market::{FloodKind, Generator, SimEvent, load_markets};
use super::matching::{Exchange, Holding, PrivEvent};
use super::persist::{self, StateAtStart};
use super::{SimConfig, SimError, rest, ws};
use crate::exchange::types::Side;
use crate::kernel::TaskManager;
pub(crate) use crate::kernel::sync::lock;

/// Capacity of the public broadcast: a connection that falls this many messages behind
/// skips the oldest (broadcast lag semantics) and the skip is counted in
/// [`SimStats::lagged`]. Market data is conflatable, so skipping beats blocking the
/// generator.
const PUBLIC_CAPACITY: usize = 8192;
/// Capacity of the private broadcast (myOrder / myAsset); lag is counted the same way.
const PRIVATE_CAPACITY: usize = 1024;
/// Request-log entries kept (oldest dropped first; counts are kept for every request).
pub(crate) const LOG_CAPACITY: usize = 10_000;
/// Bytes of a request's query (or websocket message) and path kept in its log entry; the
/// rest is replaced by a `…[+N bytes]` note. With [`LOG_CAPACITY`] this bounds the log
/// (a flood of 60 kB queries once grew it by ~90 MB).
pub const LOG_DETAIL_MAX: usize = 1024;
/// Distinct `"METHOD /path"` counters kept; later new keys, and every path the simulator
/// does not serve, count under [`OTHER_KEY`].
pub const COUNT_KEYS_MAX: usize = 256;
/// The counter of unknown paths and of keys beyond [`COUNT_KEYS_MAX`].
pub const OTHER_KEY: &str = "other";
/// Longest path + query accepted; longer requests are answered 414 (hoga's own longest,
/// 100 order uuids, is under 5 kB).
pub(crate) const MAX_URI_LEN: usize = 16 * 1024;

/// What kind of request the log recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Public REST (`/v1/market`, `/v1/ticker`, …).
    Quotation,
    /// Authenticated GET.
    ExchangeRead,
    /// Authenticated POST / DELETE (orders, cancels, tests).
    ExchangeWrite,
    /// A websocket upgrade request.
    WsConnect,
    /// A message received on a websocket.
    WsMessage,
    /// Admin endpoint.
    Admin,
    /// A path the simulator does not serve.
    Unknown,
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    /// HTTP method (`WS` for websocket messages).
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query (REST) or message text (websocket).
    pub detail: String,
    /// Kind.
    pub kind: RequestKind,
    /// Response status (0 for websocket messages).
    pub status: u16,
    /// The `Origin` header, when the client sent one (hoga never should: Upbit then
    /// limits quotation calls to one per 10 s).
    pub origin: Option<String>,
}

#[derive(Debug, Default)]
struct LogInner {
    entries: VecDeque<LoggedRequest>,
    counts: BTreeMap<String, u64>,
    writes: u64,
    total: u64,
    dropped: u64,
    with_origin: u64,
}

/// Every REST request and websocket message the simulator received. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    inner: Arc<Mutex<LogInner>>,
}

impl RequestLog {
    pub(crate) fn record(&self, method: &str, path: &str, detail: &str, kind: RequestKind, status: u16) {
        self.record_origin(method, path, detail, kind, status, None);
    }

    pub(crate) fn record_origin(
        &self,
        method: &str,
        path: &str,
        detail: &str,
        kind: RequestKind,
        status: u16,
        origin: Option<&str>,
    ) {
        let mut l = lock(&self.inner);
        l.total += 1;
        let seq = l.total;
        let key = format!("{} {}", clip(method, 16), clip(path, LOG_DETAIL_MAX));
        let key = if kind == RequestKind::Unknown
            || (l.counts.len() >= COUNT_KEYS_MAX && !l.counts.contains_key(&key))
        {
            OTHER_KEY.to_string()
        } else {
            key
        };
        *l.counts.entry(key).or_default() += 1;
        if kind == RequestKind::ExchangeWrite {
            l.writes += 1;
        }
        if l.entries.len() >= LOG_CAPACITY {
            l.entries.pop_front();
            l.dropped += 1;
        }
        l.entries.push_back(LoggedRequest {
            seq,
            method: clip(method, 16),
            path: clip(path, LOG_DETAIL_MAX),
            detail: clip(detail, LOG_DETAIL_MAX),
            kind,
            status,
            origin: origin.map(|o| clip(o, 256)),
        });
        if origin.is_some() {
            l.with_origin += 1;
        }
    }

    /// Requests (REST or websocket upgrades) that carried an `Origin` header.
    pub fn with_origin(&self) -> u64 {
        lock(&self.inner).with_origin
    }

    /// Bytes of text the kept entries hold (method, path, detail, origin): bounded by
    /// [`LOG_CAPACITY`] × about 2.3 × [`LOG_DETAIL_MAX`] whatever the traffic.
    pub fn stored_bytes(&self) -> usize {
        lock(&self.inner)
            .entries
            .iter()
            .map(|e| {
                e.method.len() + e.path.len() + e.detail.len() + e.origin.as_ref().map_or(0, String::len)
            })
            .sum()
    }

    /// Requests seen for `"METHOD /path"` (e.g. `count("POST", "/v1/orders")`).
    pub fn count(&self, method: &str, path: &str) -> u64 {
        lock(&self.inner).counts.get(&format!("{method} {path}")).copied().unwrap_or(0)
    }

    /// Authenticated POST/DELETE calls (order create/test/cancel…), whatever their outcome.
    pub fn writes(&self) -> u64 {
        lock(&self.inner).writes
    }

    /// Everything received.
    pub fn total(&self) -> u64 {
        lock(&self.inner).total
    }

    /// Counts per `"METHOD /path"`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        lock(&self.inner).counts.clone()
    }

    /// The most recent entries (up to 10,000), oldest first.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        lock(&self.inner).entries.iter().cloned().collect()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        *lock(&self.inner) = LogInner::default();
    }
}

/// `s` cut to at most `max` bytes (on a character boundary) with a note of what was cut.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[+{} bytes]", &s[..end], s.len() - end)
}

/// One type object of a connection's current subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSubscription {
    /// `ticker`, `trade`, `orderbook`, `candle.1m`, `myOrder`, `myAsset`.
    pub ty: String,
    /// Codes as requested (with any `.N` suffix).
    pub codes: Vec<String>,
    /// Orderbook grouping level.
    pub level: Decimal,
    /// Snapshot only.
    pub(crate) only_snapshot: bool,
    /// Realtime only.
    pub(crate) only_realtime: bool,
}

/// A websocket connection's current subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionInfo {
    /// Private endpoint.
    pub private: bool,
    /// Last ticket.
    pub ticket: String,
    /// `DEFAULT`, `SIMPLE`, `JSON_LIST`, `SIMPLE_LIST`.
    pub format: String,
    /// Type objects.
    pub types: Vec<TypeSubscription>,
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Public events published.
    pub published: u64,
    /// Messages skipped by lagging websocket connections.
    pub lagged: u64,
    /// Flood messages published so far.
    pub flood_sent: u64,
    /// Flood finished.
    pub flood_done: bool,
    /// Open websocket connections.
    pub connections: usize,
}

/// A public event as broadcast, with the flood stamp when in flood mode.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub ev: SimEvent,
    /// Unix nanoseconds at publish (flood mode only).
    pub sim_ns: Option<u128>,
}

/// Generator and exchange, mutated together so fills follow prices.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) gen_: Generator,
    pub ex: Exchange,
}

/// State shared by every handler and task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub(crate) world: Mutex<World>,
    pub auth: Mutex<Authenticator>,
    /// Pockets and their keys (lock after `world`, never before).
    pub(crate) pockets: Mutex<super::pockets::Pockets>,
    /// The demo account's keys (expiry) and consents.
    pub(crate) keys: super::keys::KeyBook,
    pub limiter: Mutex<Limiter>,
    pub faults: FaultControl,
    pub log: RequestLog,
    /// Guards `/admin/*`.
    pub admin: AdminToken,
    pub(crate) public_tx: broadcast::Sender<Published>,
    pub(crate) private_tx: broadcast::Sender<Arc<PrivEvent>>,
    pub conns: Mutex<BTreeMap<u64, SubscriptionInfo>>,
    pub(crate) next_conn: AtomicU64,
    pub published: AtomicU64,
    pub lagged: AtomicU64,
    pub flood_sent: AtomicU64,
    pub flood_done: AtomicBool,
    /// Fires on `SimHandle::stop` or when the task manager cancels everything.
    pub cancel: CancellationToken,
    /// What the state file held at start.
    pub(crate) state_at_start: StateAtStart,
    /// One writer of the state file at a time, so an older account never lands last.
    pub(crate) saving: Mutex<()>,
    /// The last failure to write the state file was logged (said once, not per change).
    pub(crate) save_failed: AtomicBool,
    /// The scripted news ([`SimConfig::script`]), run after each generator step.
    pub(crate) script: Mutex<Option<super::script::ScriptState>>,
    /// Binance's side of the simulator (its prices follow the published Upbit trades).
    pub(crate) binance: super::binance::Venue,
}

impl Shared {
    pub fn now_ms(&self) -> i64 {
        lock(&self.world).gen_.now
    }

    pub fn stats(&self) -> SimStats {
        SimStats {
            published: self.published.load(Ordering::Relaxed),
            lagged: self.lagged.load(Ordering::Relaxed),
            flood_sent: self.flood_sent.load(Ordering::Relaxed),
            flood_done: self.flood_done.load(Ordering::Relaxed),
            connections: lock(&self.conns).len(),
        }
    }

    pub fn subscriptions(&self) -> BTreeMap<u64, SubscriptionInfo> {
        lock(&self.conns).clone()
    }

    /// Publishes public events (no receivers is fine: nobody is subscribed).
    pub fn publish(&self, events: Vec<SimEvent>, sim_ns: Option<u128>) {
        super::binance::on_published(self, &events, sim_ns.is_some());
        for ev in events {
            self.published.fetch_add(1, Ordering::Relaxed);
            let _ = self.public_tx.send(Published { ev, sim_ns });
        }
    }

    /// Writes the account to the state file (when there is one).
    pub(crate) fn save_state(&self) -> std::io::Result<()> {
        let Some(path) = &self.cfg.state_file else { return Ok(()) };
        let _one_writer = lock(&self.saving);
        let account = {
            let w = lock(&self.world);
            let mut account = w.ex.saved(persist::CLOSED_KEPT);
            account.market = w.gen_.saved_market();
            // Under the world lock, as every transfer and story step is made: the file
            // never holds one side of a transfer without the other.
            account.pockets = Some(lock(&self.pockets).saved());
            account.story = lock(&self.script).as_ref().map(|s| s.saved(w.gen_.now));
            account
        };
        persist::save(path, &account)
    }

    /// Saves the state file, saying in the log when it fails (once, until it works again).
    pub(crate) fn save_state_logged(&self) {
        match self.save_state() {
            Ok(()) => {
                if self.save_failed.swap(false, Ordering::Relaxed) {
                    tracing::info!("simulator: the demo account is saved again");
                }
            }
            Err(e) => {
                if !self.save_failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "simulator: cannot save the demo account; a restart loses what changed since");
                }
            }
        }
    }

    /// Publishes private events, applying the duplicate / reorder faults. The account
    /// changed with them: it is on disk before anyone hears of the change (see
    /// [`persist`]).
    pub(crate) fn publish_private(&self, mut events: Vec<PrivEvent>) {
        if !events.is_empty() && self.cfg.state_file.is_some() {
            self.save_state_logged();
        }
        if self.faults.reorder_private() {
            for pair in events.chunks_mut(2) {
                pair.reverse();
            }
        }
        let dup = self.faults.duplicate_private();
        for ev in events {
            let ev = Arc::new(ev);
            if dup {
                let _ = self.private_tx.send(ev.clone());
            }
            let _ = self.private_tx.send(ev);
        }
    }

    /// Advances the generator, lets resting orders meet the new trades, publishes.
    pub(crate) fn step_world(&self, dt_ms: i64) -> Vec<SimEvent> {
        let (events, private) = {
            let mut w = lock(&self.world);
            let World { gen_, ex } = &mut *w;
            let events = gen_.step(dt_ms);
            let now = gen_.now;
            for e in &events {
                if let SimEvent::Trade(t) = e {
                    ex.on_trade(&t.code, t.trade_price, t.trade_volume, now);
                }
            }
            let mut private = ex.drain_events();
            if let Some(script) = lock(&self.script).as_mut() {
                private
                    .extend(script.run(gen_, ex).into_iter().map(|n| PrivEvent::Announcement(Box::new(n))));
            }
            (events, private)
        };
        self.publish(events.clone(), None);
        self.publish_private(private);
        events
    }

    /// A scripted trade at `price` (tests and demos), with the fills it causes.
    pub fn scripted(&self, market: &str, price: Decimal, volume: Decimal, side: Side) {
        let (events, private) = {
            let mut w = lock(&self.world);
            let World { gen_, ex } = &mut *w;
            let events = gen_.script_trade(market, price, volume, side);
            let now = gen_.now;
            for e in &events {
                if let SimEvent::Trade(t) = e {
                    ex.on_trade(&t.code, t.trade_price, t.trade_volume, now);
                }
            }
            (events, ex.drain_events())
        };
        self.publish(events, None);
        self.publish_private(private);
    }
}

/// Accepts TCP connections, dropping them while the "refuse" fault is on.
struct SimListener {
    inner: TcpListener,
    faults: FaultControl,
}

impl axum::serve::Listener for SimListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((s, a)) => {
                    if self.faults.refusing() {
                        drop(s);
                        continue;
                    }
                    let _ = s.set_nodelay(true);
                    return (s, a);
                }
                // Accept errors (EMFILE…) are transient; back off briefly and retry.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Refuses an admin request without the token (401) or from a browser / another origin /
/// a non-loopback host name (403); the refusal is logged like any admin call.
fn admin_denied(sh: &Shared, path: &str, headers: &HeaderMap) -> Option<Response> {
    let denied = sh.admin.check(headers).err()?;
    let status = denied.status();
    sh.log.record_origin(
        "POST",
        path,
        "",
        RequestKind::Admin,
        status,
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
    );
    let mut r =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN), denied.to_string()).into_response();
    if denied == AdminDenied::Unauthorized {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Some(r)
}

async fn admin_faults(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = admin_denied(&sh, "/admin/faults", &headers) {
        return r;
    }
    match serde_json::from_slice::<FaultCommand>(&body) {
        Ok(cmd) => {
            sh.log.record("POST", "/admin/faults", &String::from_utf8_lossy(&body), RequestKind::Admin, 200);
            sh.faults.apply(cmd);
            (StatusCode::OK, "{\"ok\":true}").into_response()
        }
        Err(e) => {
            sh.log.record("POST", "/admin/faults", &String::from_utf8_lossy(&body), RequestKind::Admin, 400);
            (StatusCode::BAD_REQUEST, format!("bad fault command: {e}")).into_response()
        }
    }
}

/// `GET /admin/requests`: the request counters (`{"POST /v1/orders": 3, …}`), so a test
/// or the soak script driving a `hoga sim` child can compare what reached the exchange
/// with the journal. Read-only, but guarded like the other admin routes.
async fn admin_requests(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(r) = admin_denied(&sh, "/admin/requests", &headers) {
        return r;
    }
    match serde_json::to_string(&sh.log.counts()) {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /admin/price` body: a scripted trade for manual demos.
#[derive(Debug, serde::Deserialize)]
struct PriceCommand {
    market: String,
    #[serde(with = "rust_decimal::serde::str")]
    price: Decimal,
}

async fn admin_price(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = admin_denied(&sh, "/admin/price", &headers) {
        return r;
    }
    let detail = String::from_utf8_lossy(&body).into_owned();
    match serde_json::from_slice::<PriceCommand>(&body) {
        Ok(cmd) if lock(&sh.world).gen_.market(&cmd.market).is_some() => {
            sh.log.record("POST", "/admin/price", &detail, RequestKind::Admin, 200);
            sh.scripted(&cmd.market, cmd.price, Decimal::new(1, 3), Side::Bid);
            (StatusCode::OK, "{\"ok\":true}").into_response()
        }
        Ok(cmd) => {
            sh.log.record("POST", "/admin/price", &detail, RequestKind::Admin, 404);
            (StatusCode::NOT_FOUND, format!("unknown market {}", cmd.market)).into_response()
        }
        Err(e) => {
            sh.log.record("POST", "/admin/price", &detail, RequestKind::Admin, 400);
            (StatusCode::BAD_REQUEST, format!("bad price command: {e}")).into_response()
        }
    }
}

/// The REST paths the simulator serves and their methods. Quotation routes are GET only.
const REST_ROUTES: &[(&str, &[&str])] = &[
    ("/v1/market/all", &["GET"]),
    ("/v1/ticker", &["GET"]),
    ("/v1/ticker/all", &["GET"]),
    ("/v1/orderbook", &["GET"]),
    ("/v1/orderbook/instruments", &["GET"]),
    ("/v1/trades/ticks", &["GET"]),
    ("/v1/candles/{*kind}", &["GET"]),
    ("/v1/accounts", &["GET"]),
    ("/v1/orders/chance", &["GET"]),
    ("/v1/order", &["GET", "DELETE"]),
    ("/v1/orders", &["POST"]),
    ("/v1/orders/test", &["POST"]),
    ("/v1/orders/open", &["GET", "DELETE"]),
    ("/v1/orders/closed", &["GET"]),
    ("/v1/orders/uuids", &["GET", "DELETE"]),
    ("/v1/orders/cancel_and_new", &["POST"]),
    ("/v1/api_keys", &["GET"]),
    ("/v1/pockets", &["GET"]),
    ("/v1/pockets/assets", &["GET"]),
    ("/v1/pockets/api_keys", &["GET"]),
    ("/v1/pockets/transfers", &["GET", "POST"]),
    ("/v1/pockets/universal_transfers", &["GET", "POST"]),
];

/// A path no route serves: 404 in Upbit's shape, counted under [`OTHER_KEY`]. Other
/// `/v1/…` paths still go to the REST handler (it names them "not an endpoint", after
/// authentication), except spellings of a served path with a trailing slash, which would
/// otherwise slip past the method check.
async fn unknown_path(
    state: State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = uri.path();
    if path.starts_with("/v1/") && !path.ends_with('/') {
        return rest::handle(state, method, uri, headers, body).await;
    }
    state.log.record(method.as_str(), path, uri.query().unwrap_or(""), RequestKind::Unknown, 404);
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"name":404,"message":"Not found"}}"#,
    )
        .into_response()
}

/// Refuses a path + query longer than [`MAX_URI_LEN`] with 414 before any handler (or
/// the request log) keeps a copy of it.
async fn bound_uri(State(sh): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let len = uri.path().len().saturating_add(uri.query().map_or(0, str::len));
    if len > MAX_URI_LEN {
        sh.log.record(
            req.method().as_str(),
            uri.path(),
            &format!("refused: {len} bytes of path and query"),
            RequestKind::Unknown,
            414,
        );
        return (StatusCode::URI_TOO_LONG, format!("path and query longer than {MAX_URI_LEN} bytes"))
            .into_response();
    }
    next.run(req).await
}

/// Builds the world, binds, spawns the server and the generator.
pub(crate) async fn start(
    cfg: SimConfig,
    tasks: &TaskManager,
) -> Result<(Arc<Shared>, SocketAddr), SimError> {
    let admin_token = cfg.admin_token.clone();
    let defs = load_markets(cfg.markets)?;
    let start_ms = cfg.start_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let codes: Vec<String> = defs.iter().map(|d| d.market.clone()).collect();
    // A state file that cannot be read stops the start (see `persist`).
    let mut saved = match &cfg.state_file {
        None => None,
        Some(path) => persist::load(path).map_err(SimError::Account)?,
    };
    let saved_market = saved.as_ref().map(|s| s.market.clone()).unwrap_or_default();
    let saved_pockets = saved.as_mut().and_then(|s| s.pockets.take());
    let story = saved.as_mut().and_then(|s| s.story.take());
    let mut gen_ = Generator::resumed(defs, cfg.seed, start_ms, cfg.history_secs, &saved_market);
    let mut holdings = BTreeMap::new();
    holdings.insert("KRW".to_string(), Holding { balance: cfg.krw, ..Default::default() });
    for (c, amount, avg) in &cfg.coins {
        holdings.insert(c.clone(), Holding { balance: *amount, locked: Decimal::ZERO, avg_buy_price: *avg });
    }
    let mut ex = Exchange::new(codes, holdings, cfg.seed);
    // Ids unique across runs unless the run is a pure function of its seed (a fixed start
    // time and nothing kept): a kept account's journal outlives any one state file.
    if cfg.state_file.is_some() || cfg.start_ms.is_none() {
        ex.new_id_session(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    let state_at_start = match (&cfg.state_file, saved) {
        (None, _) => StateAtStart::NotKept,
        (Some(_), None) => StateAtStart::Fresh,
        (Some(_), Some(saved)) => {
            ex.restore(saved);
            StateAtStart::Resumed { open_orders: ex.open_orders() }
        }
    };
    let mut auth = Authenticator::default();
    auth.add_key(&cfg.access_key, &cfg.secret_key);
    let mut pockets = super::pockets::Pockets::demo(&cfg.access_key, &mut auth);
    if let Some(p) = saved_pockets {
        pockets.restore(p);
    }
    pockets.seed_costs(&gen_);
    let mut limiter = Limiter::default();
    limiter.strikes_to_block = cfg.strikes_to_block;
    limiter.first_block = cfg.block_time;
    limiter.enabled = cfg.rate_limits;
    let listener =
        TcpListener::bind(("127.0.0.1", cfg.port)).await.map_err(|e| SimError::Bind(cfg.port, e))?;
    let addr = listener.local_addr().map_err(|e| SimError::Bind(cfg.port, e))?;
    let (public_tx, _) = broadcast::channel(PUBLIC_CAPACITY);
    let (private_tx, _) = broadcast::channel(PRIVATE_CAPACITY);
    let faults = FaultControl::new();
    // The flood is a benchmark: no news in it.
    // A resumed story's listing and flags stand before anyone asks (see `script`).
    let script = super::script::ScriptState::start(
        cfg.script.clone().filter(|_| cfg.flood.is_none()),
        start_ms,
        story,
        &mut gen_,
        &mut ex,
        &saved_market,
    );
    let keys = super::keys::KeyBook::new(&cfg, start_ms);
    let binance = super::binance::Venue::new(&gen_, cfg.seed);
    let shared = Arc::new(Shared {
        cfg,
        world: Mutex::new(World { gen_, ex }),
        auth: Mutex::new(auth),
        pockets: Mutex::new(pockets),
        keys,
        limiter: Mutex::new(limiter),
        faults: faults.clone(),
        log: RequestLog::default(),
        admin: AdminToken::new(admin_token.as_deref()),
        public_tx,
        private_tx,
        conns: Mutex::new(BTreeMap::new()),
        next_conn: AtomicU64::new(1),
        published: AtomicU64::new(0),
        lagged: AtomicU64::new(0),
        flood_sent: AtomicU64::new(0),
        flood_done: AtomicBool::new(false),
        cancel: tasks.root_token().child_token(),
        state_at_start,
        saving: Mutex::new(()),
        save_failed: AtomicBool::new(false),
        script: Mutex::new(script),
        binance,
    });

    // Every route answers only its methods (405 otherwise, before any handler runs).
    let mut app = Router::new()
        .route("/websocket/v1", get(ws::public_upgrade))
        .route("/websocket/v1/private", get(ws::private_upgrade))
        // Upbit's indicator streams: authenticated like the private stream.
        .route("/websocket/v1/info", get(ws::private_upgrade))
        .route("/admin/faults", post(admin_faults))
        .route("/admin/price", post(admin_price))
        .route("/admin/requests", get(admin_requests));
    for (path, methods) in REST_ROUTES {
        let mut route = axum::routing::MethodRouter::new();
        for m in *methods {
            route = match *m {
                "GET" => route.get(rest::handle),
                "POST" => route.post(rest::handle),
                _ => route.delete(rest::handle),
            };
        }
        app = app.route(path, route);
    }
    // Binance's public protocol and the USD/KRW rate, on the same port.
    let app = app
        .merge(super::binance::router())
        .fallback(unknown_path)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), bound_uri))
        .with_state(shared.clone());
    let listener = SimListener { inner: listener, faults };
    let stop = shared.cancel.clone();
    tasks.spawn("sim", format!("server {addr}"), move |cancel| async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = stop.cancelled() => {}
                }
                // Websocket loops watch the same token and end on their own.
                stop.cancel();
            })
            .await?;
        Ok(())
    });

    let sh = shared.clone();
    if sh.cfg.flood.is_some() {
        tasks.spawn("sim", "flood", move |cancel| async move {
            run_flood(sh, cancel).await;
            Ok(())
        });
    } else if !sh.cfg.tick_interval.is_zero() {
        tasks.spawn("sim", "generator", move |cancel| async move {
            run_generator(sh, cancel).await;
            Ok(())
        });
    }
    Ok((shared, addr))
}

/// Timed mode: one generator step per tick, the virtual clock following the wall clock.
async fn run_generator(sh: Arc<Shared>, cancel: CancellationToken) {
    let mut interval = tokio::time::interval(sh.cfg.tick_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut clock = WallClock::following(&sh);
    // Prices move without the account changing: they are saved every few seconds too, so
    // a killed session restarts near where its market was.
    let mut last_save = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = sh.cancel.cancelled() => break,
            _ = interval.tick() => {
                sh.step_world(clock.advance());
                if sh.cfg.state_file.is_some() && last_save.elapsed() >= PRICE_SAVE_INTERVAL {
                    last_save = Instant::now();
                    sh.save_state_logged();
                }
            }
        }
    }
}

/// How often the generator saves the market's prices to the state file.
const PRICE_SAVE_INTERVAL: Duration = Duration::from_secs(5);

/// Keeps the generator's virtual clock on the wall clock: each step advances it by the
/// whole milliseconds elapsed since the start minus those already given. Measuring each
/// step on its own and truncating lost up to a millisecond per step, so after a minute
/// of 50 ms ticks every timestamp was ~0.6 s old and clients showed that as latency.
struct WallClock {
    start: Instant,
    given_ms: i64,
}

impl WallClock {
    fn new() -> WallClock {
        WallClock { start: Instant::now(), given_ms: 0 }
    }

    /// A clock for `sh`'s generator. When the simulator started on the wall clock (no fixed
    /// `start_ms`), the first step also makes up the time spent since then (building an
    /// hour of history, waiting for a flood's subscriber), so timestamps are current, not
    /// ~50 ms old for the rest of the run.
    fn following(sh: &Shared) -> WallClock {
        let mut clock = WallClock::new();
        if sh.cfg.start_ms.is_none() {
            let behind = chrono::Utc::now().timestamp_millis() - sh.now_ms();
            clock.given_ms = -behind.max(0);
        }
        clock
    }

    /// Milliseconds to advance the virtual clock by now.
    fn advance(&mut self) -> i64 {
        let now_ms = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX);
        let dt = now_ms - self.given_ms;
        self.given_ms = now_ms;
        dt
    }
}

/// Flood mode: the configured ticker/trade/orderbook mix, stamped with publish time.
async fn run_flood(sh: Arc<Shared>, cancel: CancellationToken) {
    let Some(fc) = sh.cfg.flood.clone() else { return };
    let weights = [fc.ticker, fc.trade, fc.orderbook];
    let total_w: u32 = weights.iter().sum::<u32>().max(1);
    // From the simulator's start, not the flood's: the wait below is real time too.
    let mut clock = WallClock::following(&sh);
    // Start when someone listens, so a benchmark sees the whole run.
    while !lock(&sh.conns).values().any(|c| !c.types.is_empty()) {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = sh.cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    let mut sent: u64 = 0;
    let started = Instant::now();
    let mut pick: u32 = 0;
    while sent < fc.count {
        if cancel.is_cancelled() || sh.cancel.is_cancelled() {
            return;
        }
        if let Some(rate) = fc.rate {
            let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64;
            if sent >= due {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return,
                    _ = sh.cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                }
                continue;
            }
        } else if sh.public_tx.len() > PUBLIC_CAPACITY / 2 {
            // "As fast as possible" = as fast as receivers drain: back off near capacity.
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        // Weighted round-robin over the three kinds.
        let slot = pick % total_w;
        pick = pick.wrapping_add(1);
        let want = if slot < weights[0] {
            FloodKind::Ticker
        } else if slot < weights[0] + weights[1] {
            FloodKind::Trade
        } else {
            FloodKind::OrderBook
        };
        let chosen = {
            let mut w = lock(&sh.world);
            // The virtual clock follows the wall clock here too (it advanced 1 ms per
            // message before, so timestamps ran ahead of real time at any flood rate).
            w.gen_.step_one(clock.advance(), want)
        };
        if let Some(ev) = chosen {
            let ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            sh.publish(vec![ev], Some(ns));
            sent += 1;
            sh.flood_sent.store(sent, Ordering::Relaxed);
        }
        if sent.is_multiple_of(256) {
            tokio::task::yield_now().await;
        }
    }
    sh.flood_done.store(true, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtual_clock_loses_no_time_over_many_short_steps() {
        let mut clock = WallClock::new();
        let mut total = 0i64;
        // Many steps, most shorter than a millisecond: truncating each one on its own
        // would add up to (almost) nothing.
        let end = Instant::now() + Duration::from_millis(30);
        while Instant::now() < end {
            total += clock.advance();
        }
        total += clock.advance();
        let elapsed = i64::try_from(clock.start.elapsed().as_millis()).unwrap();
        assert!(total >= 30, "30 ms of wall time gave {total} virtual ms");
        assert!(total <= elapsed, "the virtual clock never runs ahead ({total} > {elapsed})");
    }
}
