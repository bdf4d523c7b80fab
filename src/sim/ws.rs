//! The websocket endpoints `/websocket/v1` and `/websocket/v1/private`: Upbit's request
//! format (ticket, type objects, format object, in any order), replace-on-new-request
//! subscriptions, SNAPSHOT-then-REALTIME, DEFAULT / SIMPLE / JSON_LIST / SIMPLE_LIST,
//! `PING` → `{"status":"UP"}`, `LIST_SUBSCRIPTIONS`, error frames with Upbit's names, the
//! per-connection message limit, the idle timeout and the websocket faults. Every data
//! frame is binary UTF-8 JSON, as Upbit sends them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::auth::Params;
use super::faults::{FrameFault, WsControl};
use super::limits::{self, Verdict, WsMessageLimiter};
use super::market::{BOOK_DEPTH, SimEvent};
use super::matching::PrivEvent;
use super::server::{Published, RequestKind, Shared, SubscriptionInfo, TypeSubscription, lock};
use super::simple::simplify;
use super::spell;
use crate::exchange::types::StreamType;
use crate::exchange::upbit::wire::{ErrorBody, WireOrderBook, timeframe_of_candle_type};

/// Message-limit violations in a row before the connection gets `I'm a teapot` and is
/// closed.
const STRIKES_TO_TEAPOT: u32 = 10;

/// Output format of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Default,
    Simple,
    JsonList,
    SimpleList,
}

impl Format {
    fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_uppercase().as_str() {
            "DEFAULT" => Some(Format::Default),
            "SIMPLE" => Some(Format::Simple),
            "JSON_LIST" => Some(Format::JsonList),
            "SIMPLE_LIST" => Some(Format::SimpleList),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Default => "DEFAULT",
            Format::Simple => "SIMPLE",
            Format::JsonList => "JSON_LIST",
            Format::SimpleList => "SIMPLE_LIST",
        }
    }

    fn simple(self) -> bool {
        matches!(self, Format::Simple | Format::SimpleList)
    }

    fn list(self) -> bool {
        matches!(self, Format::JsonList | Format::SimpleList)
    }
}

/// One code of a type object: orderbook codes carry a depth suffix.
#[derive(Debug, Clone, PartialEq)]
struct CodeSub {
    code: String,
    depth: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct TypeSub {
    ty: String,
    raw_codes: Vec<String>,
    codes: Vec<CodeSub>,
    level: Decimal,
    only_snapshot: bool,
    only_realtime: bool,
    /// `indicator` / `indicator_signal`: timeframe and indicators (`super::indicators`).
    indicator: Option<super::indicators::Spec>,
    /// `announcement`: the categories asked for (empty = all) and whether bodies come.
    categories: Vec<String>,
    include_body: bool,
}

impl TypeSub {
    fn wants(&self, code: &str) -> impl Iterator<Item = &CodeSub> {
        self.codes.iter().filter(move |c| c.code == code)
    }
}

#[derive(Debug)]
struct Request {
    ticket: String,
    format: Format,
    method: Option<String>,
    types: Vec<TypeSub>,
}

/// A websocket error: Upbit name and message. Upbit closes the socket (code 1000) right
/// after sending one; so does the simulator.
type WsError = (&'static str, String);

/// Upbit's text for `WRONG_FORMAT` (a request that is not a JSON array of objects).
const WRONG_FORMAT_MSG: &str = "Format 이 맞지 않습니다.";

fn flag(o: &serde_json::Map<String, Value>, snake: &str, camel: &str) -> bool {
    o.get(snake).or_else(|| o.get(camel)).and_then(Value::as_bool).unwrap_or(false)
}

const PUBLIC_TYPES: [&str; 3] = ["ticker", "trade", "orderbook"];

fn parse_request(text: &str, private: bool) -> Result<Request, WsError> {
    let v: Value = serde_json::from_str(text).map_err(|_| ("WRONG_FORMAT", WRONG_FORMAT_MSG.to_string()))?;
    let items = match v {
        Value::Array(a) => a,
        Value::Object(_) => vec![v],
        _ => return Err(("WRONG_FORMAT", WRONG_FORMAT_MSG.to_string())),
    };
    let mut ticket = None;
    let mut format = Format::Default;
    let mut method = None;
    let mut types = Vec::new();
    for item in items {
        let Value::Object(o) = item else {
            return Err(("WRONG_FORMAT", WRONG_FORMAT_MSG.to_string()));
        };
        if let Some(t) = o.get("ticket") {
            ticket = Some(t.as_str().map(str::to_string).unwrap_or_else(|| t.to_string()));
        }
        if let Some(f) = o.get("format") {
            format = f
                .as_str()
                .and_then(Format::parse)
                .ok_or_else(|| ("INVALID_PARAM", format!("지원하지 않는 format 입니다: {f}")))?;
        }
        if let Some(m) = o.get("method") {
            method = Some(m.as_str().unwrap_or_default().to_string());
        }
        if let Some(ty) = o.get("type") {
            let ty =
                ty.as_str().ok_or_else(|| ("INVALID_PARAM", format!("type 값이 올바르지 않습니다: {ty}")))?;
            types.push(parse_type(ty, &o, private)?);
        }
    }
    let ticket = ticket
        .filter(|t| !t.is_empty())
        .ok_or(("NO_TICKET", "티켓이 존재하지 않거나, 유효하지 않습니다.".to_string()))?;
    if method.is_none() && types.is_empty() {
        return Err(("NO_TYPE", "type 필드가 존재하지 않습니다.".to_string()));
    }
    if let Some(m) = &method
        && m != "LIST_SUBSCRIPTIONS"
    {
        return Err(("INVALID_PARAM", format!("지원하지 않는 method 입니다: {m}")));
    }
    Ok(Request { ticket, format, method, types })
}

fn parse_type(ty: &str, o: &serde_json::Map<String, Value>, private: bool) -> Result<TypeSub, WsError> {
    let is_candle = timeframe_of_candle_type(ty).is_some();
    let is_private = is_private_type(ty);
    let indicator = match ty {
        "indicator" | "indicator_signal" if !private => {
            return Err(("INVALID_AUTH", "인증 정보가 올바르지 않습니다.".to_string()));
        }
        "indicator" | "indicator_signal" => Some(super::indicators::parse(ty, o)?),
        _ => None,
    };
    if !is_candle && !is_private && indicator.is_none() && !PUBLIC_TYPES.contains(&ty) {
        return Err(("INVALID_PARAM", format!("{ty} 은 지원하지 않는 타입입니다.")));
    }
    if is_private && !private {
        return Err(("INVALID_AUTH", "인증 정보가 올바르지 않습니다.".to_string()));
    }
    let codes_v = o.get("codes");
    if ty == "myAsset" && codes_v.is_some() {
        return Err(("WRONG_FORMAT", "myAsset 은 codes 를 지원하지 않습니다.".to_string()));
    }
    let raw_codes: Vec<String> = match codes_v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| c.as_str().map(str::to_string).ok_or_else(|| ("INVALID_PARAM", format!("code 값: {c}"))))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(("INVALID_PARAM", format!("codes 는 배열이어야 합니다: {other}"))),
    };
    if codes_v.is_none() && !is_private {
        return Err(("NO_CODES", "codes 필드가 존재하지 않습니다.".to_string()));
    }
    if raw_codes.is_empty() && !is_private {
        return Err(("INVALID_PARAM", "codes 필드가 비어 있습니다.".to_string()));
    }
    let codes = raw_codes
        .iter()
        .map(|raw| {
            let upper = raw.to_ascii_uppercase();
            if ty == "orderbook"
                && let Some((code, n)) = upper.rsplit_once('.')
            {
                let depth = match n.parse::<usize>() {
                    Ok(d @ (1 | 5 | 15 | 30)) => d,
                    _ => BOOK_DEPTH,
                };
                return CodeSub { code: code.to_string(), depth };
            }
            CodeSub { code: upper, depth: BOOK_DEPTH }
        })
        .collect();
    let level = match o.get("level") {
        None | Some(Value::Null) => Decimal::ZERO,
        Some(Value::String(s)) => s.parse().map_err(|_| ("INVALID_PARAM", format!("level 값: {s}")))?,
        Some(Value::Number(n)) => {
            n.to_string().parse().map_err(|_| ("INVALID_PARAM", format!("level 값: {n}")))?
        }
        Some(other) => return Err(("INVALID_PARAM", format!("level 값: {other}"))),
    };
    Ok(TypeSub {
        ty: ty.to_string(),
        raw_codes,
        codes,
        level,
        only_snapshot: flag(o, "is_only_snapshot", "isOnlySnapshot"),
        only_realtime: flag(o, "is_only_realtime", "isOnlyRealtime"),
        indicator,
        categories: announcement_categories(ty, o)?,
        include_body: flag(o, "include_body", "include_body"),
    })
}

/// Encodes one message in the connection's format; `sim_ns` is appended for floods.
fn encode<T: Serialize>(v: &T, format: Format, sim_ns: Option<u128>) -> Vec<u8> {
    let mut out = if format.simple() {
        serde_json::to_value(v).map(simplify).and_then(|v| serde_json::to_vec(&v))
    } else {
        serde_json::to_vec(v)
    }
    .unwrap_or_default();
    if let Some(ns) = sim_ns
        && out.last() == Some(&b'}')
    {
        out.pop();
        out.extend_from_slice(format!(",\"sim_ns\":{ns}}}").as_bytes());
    }
    if format.list() {
        out.insert(0, b'[');
        out.push(b']');
    }
    out
}

/// `frame` with its numbers spelled as Upbit writes them (see [`spell`]), when the
/// simulator is configured so. SIMPLE frames keep serde's spelling: their short keys do
/// not say which values are amounts.
fn spelled(sh: &Shared, conn: &Conn, frame: Vec<u8>) -> Vec<u8> {
    if !sh.cfg.spell_numbers || conn.format.simple() {
        return frame;
    }
    spell::respell(&frame, sh.cfg.seed ^ conn.id, spell::Wire::Websocket)
}

fn error_frame(name: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody::new(name, message)).unwrap_or_default()
}

/// The top `depth` levels of a full book, totals over what is delivered.
fn cut_book(b: &WireOrderBook, depth: usize, st: StreamType) -> WireOrderBook {
    let mut out = b.clone();
    out.orderbook_units.truncate(depth);
    out.total_ask_size = out.orderbook_units.iter().map(|u| u.ask_size).sum();
    out.total_bid_size = out.orderbook_units.iter().map(|u| u.bid_size).sum();
    out.stream_type = Some(st);
    out
}

struct Conn {
    id: u64,
    private: bool,
    ticket: String,
    format: Format,
    subs: Vec<TypeSub>,
    /// Counts subscription requests applied (each replaces `subs`).
    subs_set: u64,
    limiter: WsMessageLimiter,
    /// Candle closes seen and signal states of indicator subscriptions.
    ind: super::indicators::ConnState,
}

impl Conn {
    fn info(&self) -> SubscriptionInfo {
        SubscriptionInfo {
            private: self.private,
            ticket: self.ticket.clone(),
            format: self.format.name().to_string(),
            types: self
                .subs
                .iter()
                .map(|s| TypeSubscription {
                    ty: s.ty.clone(),
                    codes: s.raw_codes.clone(),
                    level: s.level,
                    only_snapshot: s.only_snapshot,
                    only_realtime: s.only_realtime,
                })
                .collect(),
        }
    }

    fn has_private(&self) -> bool {
        self.subs.iter().any(|s| is_private_type(&s.ty))
    }

    fn has_public(&self) -> bool {
        self.subs.iter().any(|s| !(s.only_snapshot || is_private_type(&s.ty)))
    }

    /// Handles a client text; returns the frames to send and whether to close.
    fn on_text(&mut self, sh: &Shared, text: &str) -> (Vec<Vec<u8>>, bool) {
        if text.trim() == "PING" {
            return (vec![br#"{"status":"UP"}"#.to_vec()], false);
        }
        if !self.limiter.admit(Instant::now()) {
            if self.limiter.strikes >= STRIKES_TO_TEAPOT {
                let msg = "요청 수 제한을 반복해서 초과하여 60초 동안 차단되었습니다.";
                return (vec![error_frame("I'm a teapot", msg)], true);
            }
            return (vec![error_frame("Too Many Requests", "요청 수 제한을 초과했습니다.")], false);
        }
        let req = match parse_request(text, self.private) {
            Ok(r) => r,
            Err((name, msg)) => return (vec![error_frame(name, &msg)], true),
        };
        self.format = req.format;
        self.ticket = req.ticket.clone();
        if req.method.is_some() {
            let result: Vec<Value> = self
                .subs
                .iter()
                .map(|s| {
                    let mut o = serde_json::json!({"type": s.ty, "codes": s.raw_codes});
                    if s.ty == "orderbook"
                        && let Value::Object(m) = &mut o
                    {
                        m.insert(
                            "level".into(),
                            serde_json::from_str(&s.level.normalize().to_string()).unwrap_or(Value::Null),
                        );
                    }
                    o
                })
                .collect();
            let body =
                serde_json::json!({"method": "LIST_SUBSCRIPTIONS", "result": result, "ticket": req.ticket});
            let body = if self.format.simple() { simplify(body) } else { body };
            let mut out = serde_json::to_vec(&body).unwrap_or_default();
            if self.format.list() {
                out.insert(0, b'[');
                out.push(b']');
            }
            lock(&sh.conns).insert(self.id, self.info());
            return (vec![out], false);
        }
        // A new request replaces the whole subscription (Upbit semantics).
        self.subs = req.types;
        self.subs_set += 1;
        lock(&sh.conns).insert(self.id, self.info());
        (self.snapshots(sh), false)
    }

    fn snapshots(&self, sh: &Shared) -> Vec<Vec<u8>> {
        let w = lock(&sh.world);
        let now = w.gen_.now;
        let mut out = Vec::new();
        for s in self.subs.iter().filter(|s| !s.only_realtime) {
            for c in &s.codes {
                let Some(m) = w.gen_.market(&c.code) else { continue };
                let st = Some(StreamType::Snapshot);
                match s.ty.as_str() {
                    "ticker" => out.push(encode(&m.ticker(now, st), self.format, None)),
                    "trade" => {
                        if let Some(t) = m.trades.back() {
                            out.push(encode(&m.wire_trade(t, now, StreamType::Snapshot), self.format, None));
                        }
                    }
                    "orderbook" => {
                        if let Some(b) = m.book(c.depth, s.level, st) {
                            out.push(encode(&b, self.format, None));
                        }
                    }
                    ty => {
                        if let Some(tf) = timeframe_of_candle_type(ty)
                            && let Some(cd) = m.candles.get(&tf).and_then(|l| l.back())
                        {
                            out.push(encode(&m.wire_candle(tf, cd, st), self.format, None));
                        }
                    }
                }
            }
        }
        out
    }

    /// Indicator values and signals of the candles that a candle update closed.
    fn indicator_frames(
        &mut self,
        sh: &Shared,
        code: &str,
        cs: &[(crate::exchange::types::Timeframe, crate::exchange::upbit::wire::WireCandle)],
    ) -> Vec<Vec<u8>> {
        let specs =
            self.subs.iter().filter(|s| s.wants(code).next().is_some()).filter_map(|s| s.indicator.as_ref());
        if specs.clone().next().is_none() {
            return Vec::new();
        }
        let w = lock(&sh.world);
        let Some(m) = w.gen_.market(code) else { return Vec::new() };
        let msgs = self.ind.on_candles(specs, m, code, cs, w.gen_.now);
        msgs.iter().map(|v| encode(v, self.format, None)).collect()
    }

    fn render_public(&mut self, sh: &Shared, p: &Published) -> Vec<Vec<u8>> {
        let code = p.ev.code();
        let mut out = Vec::new();
        if let SimEvent::Candles(cs) = &p.ev {
            out.extend(self.indicator_frames(sh, code, cs));
        }
        for s in self.subs.iter().filter(|s| !s.only_snapshot) {
            for c in s.wants(code) {
                match (&p.ev, s.ty.as_str()) {
                    (SimEvent::Ticker(t), "ticker") => out.push(encode(&**t, self.format, p.sim_ns)),
                    (SimEvent::Trade(t), "trade") => out.push(encode(&**t, self.format, p.sim_ns)),
                    (SimEvent::OrderBook(b), "orderbook") => {
                        if s.level.is_zero() {
                            out.push(encode(
                                &cut_book(b, c.depth, StreamType::Realtime),
                                self.format,
                                p.sim_ns,
                            ));
                        } else {
                            // Grouped from the message's book: the market may have moved
                            // on since (a trade's moved book comes just before its own).
                            let w = lock(&sh.world);
                            let grouped = w
                                .gen_
                                .market(code)
                                .filter(|m| m.supported_levels().contains(&s.level))
                                .map(|m| super::market::group_book(m, b, c.depth, s.level));
                            drop(w);
                            if let Some(g) = grouped {
                                out.push(encode(&g, self.format, p.sim_ns));
                            }
                        }
                    }
                    (SimEvent::Candles(cs), ty) => {
                        if let Some(tf) = timeframe_of_candle_type(ty)
                            && let Some((_, cd)) = cs.iter().find(|(t, _)| *t == tf)
                        {
                            out.push(encode(cd, self.format, p.sim_ns));
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    fn render_private(&self, ev: &PrivEvent) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for s in &self.subs {
            match (ev, s.ty.as_str()) {
                (PrivEvent::MyOrder(o), "myOrder")
                    if s.codes.is_empty() || s.wants(&o.code).next().is_some() =>
                {
                    out.push(encode(&**o, self.format, None));
                }
                (PrivEvent::MyAsset(a), "myAsset") => out.push(encode(a, self.format, None)),
                (PrivEvent::Announcement(a), "announcement") => {
                    out.extend(announcement_frame(a, s, self.format))
                }
                _ => {}
            }
        }
        out
    }
}

/// The websocket-connect limit in `scope` (the IP without a token, the pocket of the
/// key with one: Upbit since 2026-06-25): `Err` carries the refusal (429, or 418 while
/// blocked).
fn connect_allowed(sh: &Shared, scope: &str) -> Result<(), (StatusCode, String)> {
    match lock(&sh.limiter).check(limits::WS_CONNECT, scope, Instant::now()) {
        Verdict::Allowed { .. } => Ok(()),
        Verdict::TooMany => Err((StatusCode::TOO_MANY_REQUESTS, "Too many API requests.".to_string())),
        Verdict::Blocked(d) => {
            Err((StatusCode::IM_A_TEAPOT, format!("Blocked for {} seconds.", d.as_secs().max(1))))
        }
    }
}

/// While the "silent" fault is on, an upgrade request is accepted at the TCP level but never
/// answered (a silent server), until the fault clears.
async fn stall_while_silent(sh: &Shared) {
    loop {
        let changed = sh.faults.silent_notify().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !sh.faults.is_silent() {
            return;
        }
        tokio::select! {
            _ = sh.cancel.cancelled() => return,
            _ = &mut changed => {}
        }
    }
}

/// `GET /websocket/v1`.
pub(crate) async fn public_upgrade(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    stall_while_silent(&sh).await;
    let allowed = connect_allowed(&sh, "ip");
    let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
    let status = if allowed.is_ok() { 101 } else { 429 };
    sh.log.record_origin("GET", "/websocket/v1", "", RequestKind::WsConnect, status, origin);
    if let Err(r) = allowed {
        return r.into_response();
    }
    ws.on_upgrade(move |socket| run_conn(sh, socket, false))
}

/// `GET /websocket/v1/private`: the JWT is checked on the upgrade request.
pub(crate) async fn private_upgrade(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    stall_while_silent(&sh).await;
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let verified = lock(&sh.auth).verify(header, Params::None);
    let scope = lock(&sh.pockets).limit_scope(header);
    let status = match (&verified, connect_allowed(&sh, &scope)) {
        (Err(_), _) => 401,
        (Ok(_), Err(_)) => 429,
        (Ok(_), Ok(())) => 101,
    };
    let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
    sh.log.record_origin("GET", "/websocket/v1/private", "", RequestKind::WsConnect, status, origin);
    if verified.is_err() {
        let body = serde_json::to_string(&ErrorBody::new("INVALID_AUTH", "인증 정보가 올바르지 않습니다."))
            .unwrap_or_default();
        return (StatusCode::UNAUTHORIZED, [(axum::http::header::CONTENT_TYPE, "application/json")], body)
            .into_response();
    }
    if status == 429 {
        return (StatusCode::TOO_MANY_REQUESTS, "Too many API requests.").into_response();
    }
    ws.on_upgrade(move |socket| run_conn(sh, socket, true))
}

fn bad_frame(sh: &Shared, f: FrameFault) -> Vec<u8> {
    match f {
        FrameFault::Malformed => b"{\"type\":\"ticker\",\"code\":".to_vec(),
        FrameFault::Truncated => {
            let w = lock(&sh.world);
            let full = w
                .gen_
                .markets
                .first()
                .map(|m| {
                    serde_json::to_vec(&m.ticker(w.gen_.now, Some(StreamType::Realtime))).unwrap_or_default()
                })
                .unwrap_or_else(|| b"{\"type\":\"ticker\"}".to_vec());
            full[..full.len() / 2].to_vec()
        }
        FrameFault::ErrorFrame => error_frame("WRONG_FORMAT", WRONG_FORMAT_MSG),
        FrameFault::InvalidUtf8 => vec![b'{', 0xff, 0xfe, b'}'],
        FrameFault::UnknownType => br#"{"type":"futureThing","code":"KRW-BTC","value":1,"stream_type":"REALTIME"}"#.to_vec(),
        FrameFault::BadNumbers => {
            br#"{"type":"ticker","code":"KRW-BTC","trade_price":"1e309","opening_price":0,"high_price":-1,"timestamp":1,"stream_type":"REALTIME"}"#.to_vec()
        }
        FrameFault::Oversize { bytes } => {
            let mut v = Vec::with_capacity(bytes);
            v.extend_from_slice(b"{\"type\":\"ticker\",\"pad\":\"");
            while v.len() + 2 < bytes {
                v.push(b'x');
            }
            v.extend_from_slice(b"\"}");
            v
        }
    }
}

async fn run_conn(sh: Arc<Shared>, socket: WebSocket, private: bool) {
    let id = sh.next_conn.fetch_add(1, Ordering::Relaxed);
    let path = if private { "/websocket/v1/private" } else { "/websocket/v1" };
    let mut conn = Conn {
        id,
        private,
        ticket: String::new(),
        format: Format::Default,
        subs: Vec::new(),
        subs_set: 0,
        limiter: WsMessageLimiter::new(Instant::now()),
        ind: Default::default(),
    };
    lock(&sh.conns).insert(id, conn.info());
    let (mut tx, mut rx) = socket.split();
    let mut pub_rx = sh.public_tx.subscribe();
    let mut priv_rx = sh.private_tx.subscribe();
    let mut ctl = sh.faults.subscribe_control();
    let idle = sh.cfg.idle_timeout;
    let mut last_activity = Instant::now();
    'outer: loop {
        // Registered before the check, so a `set_silent` in between still wakes us.
        let silent_changed = sh.faults.silent_notify().notified();
        tokio::pin!(silent_changed);
        silent_changed.as_mut().enable();
        if sh.faults.is_silent() {
            // Half-open: read nothing, write nothing (no pongs), until the fault clears.
            tokio::select! {
                biased;
                _ = sh.cancel.cancelled() => break,
                c = ctl.recv() => if matches!(c, Ok(WsControl::DropAll) | Err(RecvError::Closed)) { break },
                _ = &mut silent_changed => {}
            }
            last_activity = Instant::now();
            continue;
        }
        let deadline = tokio::time::Instant::from_std(last_activity + idle);
        let frames: Vec<Vec<u8>> = tokio::select! {
            biased;
            _ = sh.cancel.cancelled() => break,
            c = ctl.recv() => match c {
                Ok(WsControl::DropAll) | Err(RecvError::Closed) => break,
                Ok(WsControl::Frame(f)) => vec![bad_frame(&sh, f)],
                Err(RecvError::Lagged(_)) => continue,
            },
            _ = &mut silent_changed => continue,
            _ = tokio::time::sleep_until(deadline) => break,
            m = rx.next() => {
                last_activity = Instant::now();
                let text = match m {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(t))) => t.as_str().to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    // Pings are answered by the websocket layer; pongs only count as traffic.
                    Some(Ok(_)) => continue,
                };
                sh.log.record("WS", path, &text, RequestKind::WsMessage, 0);
                let had_private = conn.has_private();
                let subs_before = conn.subs_set;
                let (frames, close) = conn.on_text(&sh, &text);
                // A new subscription starts the market streams from now: nothing queued
                // before its snapshot. A `PING` or a listing changes nothing, and the
                // private stream is never cut while it stays subscribed: its queue holds
                // our orders' events, which Upbit does not drop when a client re-sends
                // its subscription (it dropped them here on every keep-alive `PING`).
                if conn.subs_set != subs_before {
                    pub_rx = pub_rx.resubscribe();
                    if !had_private {
                        priv_rx = priv_rx.resubscribe();
                    }
                }
                if close {
                    for f in frames {
                        let _ = tx.send(Message::Binary(f.into())).await;
                    }
                    // Upbit ends the socket with a Close frame, code 1000, after an error.
                    let bye = axum::extract::ws::CloseFrame { code: 1000, reason: "".into() };
                    let _ = tx.send(Message::Close(Some(bye))).await;
                    break;
                }
                frames
            }
            e = pub_rx.recv(), if conn.has_public() => match e {
                Ok(p) => conn.render_public(&sh, &p),
                Err(RecvError::Lagged(n)) => { sh.lagged.fetch_add(n, Ordering::Relaxed); continue }
                Err(RecvError::Closed) => break,
            },
            e = priv_rx.recv(), if conn.has_private() => match e {
                Ok(ev) => conn.render_private(&ev),
                Err(RecvError::Lagged(n)) => { sh.lagged.fetch_add(n, Ordering::Relaxed); continue }
                Err(RecvError::Closed) => break,
            },
        };
        for f in frames {
            let f = spelled(&sh, &conn, f);
            if tx.send(Message::Binary(f.into())).await.is_err() {
                break 'outer;
            }
            last_activity = Instant::now();
        }
    }
    lock(&sh.conns).remove(&id);
}

/// The types only the private endpoint serves.
fn is_private_type(ty: &str) -> bool {
    matches!(ty, "myOrder" | "myAsset" | "announcement")
}

/// An `announcement` type's `categories`: each one Upbit documents, else `INVALID_PARAM`.
fn announcement_categories(ty: &str, o: &serde_json::Map<String, Value>) -> Result<Vec<String>, WsError> {
    use crate::exchange::upbit::announce::CATEGORIES;
    if ty != "announcement" {
        return Ok(Vec::new());
    }
    match o.get("categories") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| match c.as_str() {
                Some(c) if CATEGORIES.contains(&c) => Ok(c.to_string()),
                _ => Err(("INVALID_PARAM", format!("지원하지 않는 categories 값입니다: {c}"))),
            })
            .collect(),
        Some(other) => Err(("INVALID_PARAM", format!("categories 는 배열이어야 합니다: {other}"))),
    }
}

/// A notice as one subscription wants it: of its categories, with the body only when
/// asked for.
fn announcement_frame(
    a: &crate::exchange::upbit::announce::WireAnnouncement,
    s: &TypeSub,
    format: Format,
) -> Option<Vec<u8>> {
    let cat = a.category.as_deref().unwrap_or_default();
    if !s.categories.is_empty() && !s.categories.iter().any(|c| c == cat) {
        return None;
    }
    let mut a = a.clone();
    if !s.include_body {
        a.body = None;
    }
    let v = if format.simple() { a.simple() } else { serde_json::to_value(&a).ok()? };
    Some(encode(&v, format, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_leniently() {
        let r = parse_request(
            r#"[{"ticket":"t"},{"format":"SIMPLE"},{"type":"orderbook","codes":["krw-btc.5","KRW-ETH.7"],"level":"10000","isOnlyRealtime":true}]"#,
            false,
        )
        .unwrap();
        assert_eq!(r.format, Format::Simple);
        let s = &r.types[0];
        assert_eq!(s.codes[0], CodeSub { code: "KRW-BTC".into(), depth: 5 });
        assert_eq!(s.codes[1].depth, 30);
        assert_eq!(s.level, Decimal::from(10000));
        assert!(s.only_realtime && !s.only_snapshot);
    }

    #[test]
    fn request_errors_have_upbit_names() {
        let name = |t: &str, p| parse_request(t, p).unwrap_err().0;
        assert_eq!(name(r#"[{"type":"ticker","codes":["KRW-BTC"]}]"#, false), "NO_TICKET");
        assert_eq!(name(r#"[{"ticket":"x"}]"#, false), "NO_TYPE");
        assert_eq!(name(r#"[{"ticket":"x"},{"type":"ticker"}]"#, false), "NO_CODES");
        assert_eq!(name(r#"[{"ticket":"x"},{"type":"myAsset","codes":["KRW-BTC"]}]"#, true), "WRONG_FORMAT");
        assert_eq!(name(r#"[{"ticket":"x"},{"type":"myOrder"}]"#, false), "INVALID_AUTH");
        assert_eq!(name(r#"[{"ticket":"x"},{"type":"bogus","codes":["KRW-BTC"]}]"#, false), "INVALID_PARAM");
        assert_eq!(name("not json", false), "WRONG_FORMAT");
    }

    /// `announcement`: private only; a category Upbit does not have is `INVALID_PARAM`; a
    /// subscription gets its categories only, bodies only when asked, in its format.
    #[test]
    fn announcement_requests_and_frames() {
        use crate::exchange::upbit::announce::WireAnnouncement;
        let name = |t: &str, p| parse_request(t, p).unwrap_err().0;
        assert_eq!(name(r#"[{"ticket":"x"},{"type":"announcement"}]"#, false), "INVALID_AUTH");
        let bad = r#"[{"ticket":"x"},{"type":"announcement","categories":["trade","listing"]}]"#;
        assert_eq!(name(bad, true), "INVALID_PARAM");
        let ok = r#"[{"ticket":"x"},{"type":"announcement","categories":["trade"],"include_body":true}]"#;
        let r = parse_request(ok, true).unwrap();
        let mut a = WireAnnouncement {
            ty: "announcement".into(),
            uuid: "u".into(),
            category: Some("trade".into()),
            title: Some("t".into()),
            body: Some("b".into()),
            timestamp: 1,
            ..WireAnnouncement::default()
        };
        let v: Value =
            serde_json::from_slice(&announcement_frame(&a, &r.types[0], Format::Simple).unwrap()).unwrap();
        assert_eq!(
            (v["ty"].as_str(), v["uid"].as_str(), v["bd"].as_str()),
            (Some("announcement"), Some("u"), Some("b"))
        );
        let plain = parse_request(r#"[{"ticket":"x"},{"type":"announcement"}]"#, true).unwrap();
        let v: Value =
            serde_json::from_slice(&announcement_frame(&a, &plain.types[0], Format::Default).unwrap())
                .unwrap();
        assert_eq!((v["type"].as_str(), v.get("body")), (Some("announcement"), None));
        a.category = Some("wallet".into());
        assert!(announcement_frame(&a, &r.types[0], Format::Default).is_none());
    }

    #[test]
    fn request_errors_carry_upbit_texts() {
        let err = |t: &str| parse_request(t, false).unwrap_err();
        let e = |name: &'static str, msg: &str| (name, msg.to_string());
        assert_eq!(err("hello"), e("WRONG_FORMAT", "Format 이 맞지 않습니다."));
        assert_eq!(
            err(r#"[{"type":"ticker","codes":["KRW-BTC"]}]"#),
            e("NO_TICKET", "티켓이 존재하지 않거나, 유효하지 않습니다.")
        );
        assert_eq!(err(r#"[{"ticket":"x"}]"#), e("NO_TYPE", "type 필드가 존재하지 않습니다."));
        assert_eq!(
            err(r#"[{"ticket":"x"},{"type":"ticker"}]"#),
            e("NO_CODES", "codes 필드가 존재하지 않습니다.")
        );
        assert_eq!(
            err(r#"[{"ticket":"x"},{"type":"ticker","codes":[]}]"#),
            e("INVALID_PARAM", "codes 필드가 비어 있습니다.")
        );
        assert_eq!(
            err(r#"[{"ticket":"x"},{"type":"nope","codes":["KRW-BTC"]}]"#),
            e("INVALID_PARAM", "nope 은 지원하지 않는 타입입니다.")
        );
    }
}
