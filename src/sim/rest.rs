//! REST `/v1/...`: quotation endpoints (no auth, integer error names) and exchange
//! endpoints (JWT per [`super::auth`], string error names), each answered with a
//! `Remaining-Req` header from [`super::limits`], through the REST faults of
//! [`super::faults`] (delay, forced 429/418 and storms, 5xx, HTML page, truncated JSON, lost
//! order reply, orders booked late after a 5xx, lookups lagging the book). Every request
//! lands in the request log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::auth::{OrderedBody, Params, query_pairs};
use super::faults::RestFault;
use super::history::Span;
use super::limits::{self, Group, Verdict};
use super::market::{BOOK_DEPTH, MarketSim, SimEvent};
use super::matching::{BookView, NewOrder, OrderError, PrivEvent, SimOrder, fee_rate};
use super::server::{RequestKind, Shared, World, lock};
use super::spell;
use crate::exchange::types::{OrderState, Side, Timeframe};
use crate::exchange::upbit::ticks;
use crate::exchange::upbit::wire::{
    ErrorBody, ErrorDetail, ErrorName, OrderbookInstrument, WireBulkCancel, WireBulkCancelPart, WireChance,
    WireChanceMarket, WireChanceSide,
};

/// A finished reply plus what it must publish once the world lock is released.
struct Reply {
    status: u16,
    body: Vec<u8>,
    public: Vec<SimEvent>,
    private: Vec<PrivEvent>,
}

impl Reply {
    fn json<T: Serialize>(status: u16, v: &T) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(v).unwrap_or_default(),
            public: Vec::new(),
            private: Vec::new(),
        }
    }
}

/// Quotation error: `name` is the HTTP status as an integer.
fn qerr(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        &ErrorBody {
            error: ErrorDetail { name: ErrorName::Status(i64::from(status)), message: message.to_string() },
        },
    )
}

const INVALID: &str = "Invalid parameter. Check the given value!";
const MISSING: &str = "Missing request parameter error. Check the required parameters!";

fn xerr(e: OrderError) -> Reply {
    Reply::json(e.status, &ErrorBody::new(e.name, &e.message))
}

fn bad(name: &'static str, message: impl Into<String>) -> OrderError {
    OrderError { status: 400, name, message: message.into() }
}

type Pairs = Vec<(String, String)>;

fn param<'a>(p: &'a Pairs, k: &str) -> Option<&'a str> {
    p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// `uuids[]` or `identifiers[]` (exactly one of them), at most `max` in all.
fn uuids_or_identifiers(p: &Pairs, max: usize) -> Result<(Vec<&str>, Vec<&str>), OrderError> {
    let uuids = params(p, "uuids[]");
    let ids = params(p, "identifiers[]");
    if uuids.is_empty() == ids.is_empty() {
        return Err(bad("validation_error", "uuids[] or identifiers[] is required (not both)"));
    }
    if uuids.len() + ids.len() > max {
        return Err(bad("invalid_parameter", format!("at most {max} uuids or identifiers")));
    }
    Ok((uuids, ids))
}

fn params<'a>(p: &'a Pairs, k: &str) -> Vec<&'a str> {
    p.iter().filter(|(key, _)| key == k).map(|(_, v)| v.as_str()).collect()
}

fn list(v: &str) -> Vec<String> {
    v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn response(status: u16, body: Vec<u8>, remaining: Option<(Group, u32)>, content_type: &str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some((g, left)) = remaining
        && let Ok(v) = HeaderValue::from_str(&limits::remaining_req(g, left))
    {
        r.headers_mut().insert("Remaining-Req", v);
    }
    r
}

const JSON: &str = "application/json; charset=utf-8";

/// Every `/v1` request.
pub(crate) async fn handle(
    State(sh): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let raw_query = uri.query().unwrap_or("").to_string();
    let m = method.as_str().to_string();
    let group = limits::group_of(&m, &path);
    let known = path.starts_with("/v1/");
    let kind = if !known {
        RequestKind::Unknown
    } else if limits::is_quotation(group) {
        RequestKind::Quotation
    } else if m == "POST" || m == "DELETE" {
        RequestKind::ExchangeWrite
    } else {
        RequestKind::ExchangeRead
    };
    let delay = sh.faults.rest_delay();
    if !delay.is_zero() {
        tokio::select! {
            _ = sh.cancel.cancelled() => {}
            _ = tokio::time::sleep(delay) => {}
        }
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    // Browser policy: with `Origin`, quotation calls are allowed once per 10 s.
    let origin_ok = origin.is_none()
        || kind != RequestKind::Quotation
        || matches!(lock(&sh.limiter).check(limits::ORIGIN, "ip", Instant::now()), Verdict::Allowed { .. });
    let resp = if let Some(name) = duplicated_header(&headers) {
        // Upbit refuses a request that carries one header twice (its 2026 notice "요청
        // 헤더 중복 전송 방지"), before anything else: no auth, no limit counted.
        let body = serde_json::to_vec(&ErrorBody::new(
            DUPLICATED_HEADER,
            &format!("요청 헤더가 중복되었습니다: {name}"),
        ))
        .unwrap_or_default();
        response(400, body, None, JSON)
    } else if origin_ok {
        respond(&sh, &m, &path, &raw_query, &headers, &body, group, kind).await
    } else {
        let body = serde_json::to_vec(&ErrorBody::new("too_many_requests", "Too many API requests."))
            .unwrap_or_default();
        response(429, body, Some((group, 0)), JSON)
    };
    sh.log.record_origin(&m, &path, &raw_query, kind, resp.status().as_u16(), origin);
    resp
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    sh: &Shared,
    m: &str,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    group: Group,
    kind: RequestKind,
) -> Response {
    if kind == RequestKind::Unknown {
        return response(404, qerr(404, "Not found").body, None, JSON);
    }
    book_late_orders(sh);
    let quotation = kind == RequestKind::Quotation;
    let limited = |status: u16, block: Duration, retry_after: Option<String>| {
        let (name, msg) = if status == 418 {
            ("blocked", format!("Too many API requests. Blocked for {} seconds.", block.as_secs().max(1)))
        } else {
            ("too_many_requests", "Too many API requests.".to_string())
        };
        let mut r = response(
            status,
            serde_json::to_vec(&ErrorBody::new(name, &msg)).unwrap_or_default(),
            Some((group, 0)),
            JSON,
        );
        let retry_after = retry_after.unwrap_or_else(|| block.as_secs().max(1).to_string());
        if status == 418
            && let Ok(v) = HeaderValue::from_str(&retry_after)
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    };
    if let Some((status, retry_after)) = sh.faults.take_forced_limit(group.name) {
        return limited(status, sh.cfg.block_time, retry_after);
    }
    // Exchange calls count per pocket (Upbit, since 2026-06-25); quotation per IP.
    let scope =
        if quotation { "ip".to_string() } else { lock(&sh.pockets).limit_scope(auth_header(headers)) };
    let verdict = lock(&sh.limiter).check(group, &scope, Instant::now());
    let remaining = match verdict {
        Verdict::Allowed { remaining } => remaining,
        Verdict::TooMany => return limited(429, Duration::ZERO, None),
        Verdict::Blocked(d) => return limited(418, d, None),
    };
    let fault = sh.faults.take_rest_fault();
    match fault {
        Some(RestFault::Status { status }) => {
            let body = serde_json::to_vec(&ErrorBody::new("server_error", "Internal server error"))
                .unwrap_or_default();
            return response(status, body, Some((group, remaining)), JSON);
        }
        Some(RestFault::Html) => {
            let page = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>".to_vec();
            return response(502, page, None, "text/html");
        }
        _ => {}
    }
    if !quotation && let Some((status, name)) = sh.faults.take_forced_error(m, path) {
        let body =
            serde_json::to_vec(&ErrorBody::new(&name, super::keys::message_for(&name))).unwrap_or_default();
        return response(status, body, Some((group, remaining)), JSON);
    }
    let create = m == "POST" && path == "/v1/orders";
    if create && let Some((delay, status)) = sh.faults.take_late_order() {
        // Authenticated now (a token is good once), booked later: the client is told the
        // create failed while the order is on its way into the book.
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let verified = lock(&sh.auth).verify(auth, Params::Body(body));
        match verified {
            Err(e) => {
                return response(
                    401,
                    Reply::json(401, &ErrorBody::new(e.name(), e.message())).body,
                    None,
                    JSON,
                );
            }
            Ok(_) => {
                let due = Instant::now().checked_add(delay).unwrap_or_else(Instant::now);
                if !sh.faults.push_late(due, body.to_vec()) {
                    tracing::warn!("simulator: too many late orders held; this one is never booked");
                }
                let body = serde_json::to_vec(&ErrorBody::new(
                    "server_error",
                    "Bad gateway (the order may be booked late)",
                ))
                .unwrap_or_default();
                return response(status, body, Some((group, remaining)), JSON);
            }
        }
    }
    let ambiguous = (create && sh.faults.take_ambiguous())
        || (m == "DELETE" && path == "/v1/order" && sh.faults.take_ambiguous_cancel());
    let reply = if quotation {
        let w = lock(&sh.world);
        quotation_reply(&w, path, &query_pairs(raw_query))
    } else {
        exchange_reply(sh, m, path, raw_query, headers, body)
    };
    let Reply { mut status, mut body, public, private } = reply;
    sh.publish(public, None);
    // A transfer between two sub-pockets tells no one (no myAsset): it is saved here.
    let saves = m == "POST" && path.starts_with("/v1/pockets/") && private.is_empty();
    sh.publish_private(private);
    if saves {
        sh.save_state_logged();
    }
    if create && status == 201 {
        if let Some(uuid) = reply_uuid(&body) {
            sh.faults.note_booked(&uuid);
        }
    } else if m == "GET"
        && path == "/v1/order"
        && status == 200
        && reply_uuid(&body).is_some_and(|u| sh.faults.lookup_lags(&u))
    {
        // The lookup lags the book: not there yet.
        status = 404;
        body = serde_json::to_vec(&ErrorBody::new("order_not_found", "주문을 찾지 못했습니다."))
            .unwrap_or_default();
    }
    if ambiguous {
        // The order is booked (or cancelled); the reply is lost: hang, then break the
        // connection.
        tokio::select! {
            _ = sh.cancel.cancelled() => {}
            _ = tokio::time::sleep(sh.faults.hang()) => {}
        }
        let broken = futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "reply dropped",
            ))
        });
        let mut r = Response::new(Body::from_stream(broken));
        *r.status_mut() = StatusCode::CREATED;
        return r;
    }
    if sh.cfg.spell_numbers && (200..300).contains(&status) {
        let wire = if quotation { spell::Wire::Quotation } else { spell::Wire::Exchange };
        body = spell::respell(&body, sh.cfg.seed, wire);
    }
    if fault == Some(RestFault::TruncatedJson) {
        body.truncate(body.len() / 2);
    }
    response(status, body, Some((group, remaining)), JSON)
}

/// `error.name` of a request refused for a repeated header. Upbit's notice gives no name
/// that hoga could read; this one is the simulator's (see docs/upbit-protocol.md).
pub(crate) const DUPLICATED_HEADER: &str = "duplicated_header";

/// The first header the request carries more than once, if any.
fn duplicated_header(headers: &HeaderMap) -> Option<&str> {
    headers.keys().find(|k| headers.get_all(*k).iter().nth(1).is_some()).map(|k| k.as_str())
}

fn auth_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// The `uuid` of an order reply.
fn reply_uuid(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("uuid")?.as_str().map(str::to_string)
}

/// Books the late orders whose time has come (see `FaultCommand::LateOrders`), publishing
/// their trades and private events like any create.
fn book_late_orders(sh: &Shared) {
    let due = sh.faults.take_due_late(Instant::now());
    for body in due {
        let (public, private, uuid) = {
            let mut w = lock(&sh.world);
            let req = match body_pairs(&body) {
                Ok(b) => new_order_from(&b, ""),
                Err(e) => {
                    tracing::warn!(error = %e.message, "simulator: late order body unreadable; not booked");
                    continue;
                }
            };
            match place(&mut w, &req) {
                Ok((placed, events)) => (events, w.ex.drain_events(), placed.uuid),
                Err(e) => {
                    tracing::info!(error = %e.message, "simulator: late order refused at booking");
                    let private = w.ex.drain_events();
                    drop(w);
                    sh.publish_private(private);
                    continue;
                }
            }
        };
        tracing::info!(%uuid, "simulator: late order booked");
        sh.faults.note_booked(&uuid);
        sh.publish(public, None);
        sh.publish_private(private);
    }
}

// ---------------------------------------------------------------------------------------
// Quotation

fn parse_time(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(if ms < 100_000_000_000 { ms * 1000 } else { ms });
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&d).timestamp_millis());
        }
    }
    None
}

fn markets_param<'a>(w: &'a World, p: &Pairs, key: &str) -> Result<Vec<&'a MarketSim>, Reply> {
    let codes = list(param(p, key).ok_or_else(|| qerr(400, MISSING))?);
    if codes.is_empty() {
        return Err(qerr(400, MISSING));
    }
    codes.iter().map(|c| w.gen_.market(c).ok_or_else(|| qerr(404, "Code not found"))).collect()
}

fn count_param(p: &Pairs, default: usize, max: usize) -> Result<usize, Reply> {
    match param(p, "count") {
        None => Ok(default),
        Some(c) => match c.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(qerr(400, INVALID)),
        },
    }
}

fn quotation_reply(w: &World, path: &str, p: &Pairs) -> Reply {
    match quotation_inner(w, path, p) {
        Ok(r) | Err(r) => r,
    }
}

fn quotation_inner(w: &World, path: &str, p: &Pairs) -> Result<Reply, Reply> {
    let now = w.gen_.now;
    match path {
        "/v1/market/all" => {
            let details = param(p, "is_details").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let items: Vec<_> = w.gen_.markets.iter().map(|m| m.def.all_item(details)).collect();
            Ok(Reply::json(200, &items))
        }
        "/v1/ticker" => {
            let ms = markets_param(w, p, "markets")?;
            Ok(Reply::json(200, &ms.iter().map(|m| m.ticker(now, None)).collect::<Vec<_>>()))
        }
        "/v1/ticker/all" => {
            let quotes = param(p, "quote_currencies").map(list);
            let out: Vec<_> = w
                .gen_
                .markets
                .iter()
                .filter(|m| quotes.as_ref().is_none_or(|q| q.iter().any(|q| q == m.quote())))
                .map(|m| m.ticker(now, None))
                .collect();
            Ok(Reply::json(200, &out))
        }
        "/v1/orderbook" => {
            let ms = markets_param(w, p, "markets")?;
            let level: Decimal = param(p, "level")
                .map(|l| l.parse().map_err(|_| qerr(400, INVALID)))
                .transpose()?
                .unwrap_or_default();
            // Out-of-range counts fall back to the default (reference §4.3).
            let count = param(p, "count")
                .and_then(|c| c.parse::<usize>().ok())
                .filter(|c| (1..=BOOK_DEPTH).contains(c))
                .unwrap_or(BOOK_DEPTH);
            let out: Vec<_> = ms.iter().filter_map(|m| m.book(count, level, None)).collect();
            Ok(Reply::json(200, &out))
        }
        "/v1/orderbook/instruments" => {
            let ms = markets_param(w, p, "markets")?;
            let out: Vec<_> = ms
                .iter()
                .map(|m| OrderbookInstrument {
                    market: m.def.market.clone(),
                    quote_currency: m.quote().to_string(),
                    tick_size: m.tick(),
                    supported_levels: m
                        .supported_levels()
                        .iter()
                        .map(|l| l.normalize().to_string())
                        .collect(),
                })
                .collect();
            Ok(Reply::json(200, &out))
        }
        "/v1/trades/ticks" => {
            let code = param(p, "market").ok_or_else(|| qerr(400, MISSING))?;
            let m = w.gen_.market(code).ok_or_else(|| qerr(404, "Code not found"))?;
            let count = count_param(p, 1, 500)?;
            let days_ago: i64 = match param(p, "days_ago") {
                None => 0,
                Some(d) => {
                    d.parse().ok().filter(|d| (1..=7).contains(d)).ok_or_else(|| qerr(400, INVALID))?
                }
            };
            let day = super::market::bucket_start(Timeframe::D1, now) - days_ago * 86_400_000;
            let to = match param(p, "to") {
                None => i64::MAX,
                Some(t) => {
                    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
                    if digits.len() != 6 {
                        return Err(qerr(400, INVALID));
                    }
                    let n: i64 = digits.parse().map_err(|_| qerr(400, INVALID))?;
                    day + ((n / 10000) * 3600 + (n / 100 % 100) * 60 + n % 100) * 1000
                }
            };
            let cursor: Option<i64> =
                param(p, "cursor").map(|c| c.parse().map_err(|_| qerr(400, INVALID))).transpose()?;
            let mut past_cursor = cursor.is_none();
            let mut out = Vec::new();
            for t in m.trades.iter().rev() {
                if !past_cursor {
                    past_cursor = Some(t.seq) == cursor;
                    continue;
                }
                if t.ts < day || t.ts >= day + 86_400_000 || t.ts >= to {
                    continue;
                }
                out.push(m.rest_trade(t));
                if out.len() >= count {
                    break;
                }
            }
            Ok(Reply::json(200, &out))
        }
        p_ if p_.starts_with("/v1/candles/") => {
            let kind = &p_["/v1/candles/".len()..];
            let span = match kind {
                "seconds" => Span::Tf(Timeframe::S1),
                "days" => Span::Tf(Timeframe::D1),
                "weeks" => Span::Tf(Timeframe::W1),
                "months" => Span::Tf(Timeframe::Mo1),
                "years" => Span::Year,
                k => Span::Tf(match k.strip_prefix("minutes/").and_then(|u| u.parse::<u32>().ok()) {
                    Some(1) => Timeframe::M1,
                    Some(3) => Timeframe::M3,
                    Some(5) => Timeframe::M5,
                    Some(10) => Timeframe::M10,
                    Some(15) => Timeframe::M15,
                    Some(30) => Timeframe::M30,
                    Some(60) => Timeframe::H1,
                    Some(240) => Timeframe::H4,
                    _ => return Err(qerr(400, INVALID)),
                }),
            };
            let code = param(p, "market").ok_or_else(|| qerr(400, MISSING))?;
            let m = w.gen_.market(code).ok_or_else(|| qerr(404, "Code not found"))?;
            let count = count_param(p, 1, 200)?;
            let to = match param(p, "to") {
                None => i64::MAX,
                Some(t) => parse_time(t).ok_or_else(|| qerr(400, INVALID))?,
            };
            // `to` is exclusive and compares with bucket starts; history before the
            // simulator's start is drawn as deep as asked.
            Ok(Reply::json(200, &m.candles_page(span, to, count, now)))
        }
        _ => Err(qerr(404, "Not found")),
    }
}

// ---------------------------------------------------------------------------------------
// Exchange

fn body_pairs(body: &[u8]) -> Result<Vec<(String, Option<String>)>, OrderError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let b: OrderedBody = serde_json::from_slice(body)
        .map_err(|e| bad("validation_error", format!("body is not a JSON object: {e}")))?;
    Ok(b.0
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::Null => None,
                Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            (k, s)
        })
        .collect())
}

fn bget(b: &[(String, Option<String>)], k: &str) -> Option<String> {
    b.iter().find(|(key, _)| key == k).and_then(|(_, v)| v.clone())
}

fn exchange_reply(
    sh: &Shared,
    m: &str,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let query_only = m == "DELETE" && (path == "/v1/orders/open" || path == "/v1/orders/uuids");
    if query_only && !body.iter().all(u8::is_ascii_whitespace) {
        return xerr(bad("QUERY_PARAMETER_NOT_SUPPORTED", "query parameter 만 지원합니다."));
    }
    let params = if m == "POST" { Params::Body(body) } else { Params::Query(raw_query) };
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let key = match lock(&sh.auth).verify(header, params) {
        Ok(key) => key,
        Err(e) => return Reply::json(401, &ErrorBody::new(e.name(), e.message())),
    };
    let pairs = query_pairs(raw_query);
    let mut w = lock(&sh.world);
    let b = if m == "POST" { body_pairs(body).unwrap_or_default() } else { Vec::new() };
    if let Some((status, body)) = sh.keys.route(w.gen_.now, &key, m, path, &b) {
        return Reply { status, body, public: Vec::new(), private: Vec::new() };
    }
    if let Some((status, body, private)) =
        super::pockets::route(&mut w, &mut lock(&sh.pockets), &key, m, path, &pairs, &b)
    {
        return Reply { status, body, public: Vec::new(), private };
    }
    match exchange_inner(&mut w, m, path, &pairs, body) {
        Ok(mut r) => {
            r.private.extend(w.ex.drain_events());
            r
        }
        Err(e) => {
            let mut r = xerr(e);
            r.private = w.ex.drain_events();
            r
        }
    }
}

fn new_order_from(b: &[(String, Option<String>)], prefix: &str) -> NewOrder {
    let g = |k: &str| bget(b, &format!("{prefix}{k}"));
    NewOrder {
        market: g("market").unwrap_or_default(),
        side: g("side").unwrap_or_default(),
        volume: g("volume"),
        price: g("price"),
        ord_type: g("ord_type").unwrap_or_default(),
        identifier: g("identifier"),
        time_in_force: g("time_in_force"),
        smp_type: g("smp_type"),
    }
}

/// Places an order against the live book and turns its taker fills into public trades.
fn place(
    w: &mut World,
    req: &NewOrder,
) -> Result<(crate::exchange::upbit::wire::WireOrder, Vec<SimEvent>), OrderError> {
    let World { gen_, ex } = w;
    let now = gen_.now;
    let (mut no_asks, mut no_bids) = (Vec::new(), Vec::new());
    let book = match gen_.market_mut(&req.market) {
        Some(m) => BookView { asks: &mut m.asks, bids: &mut m.bids },
        None => BookView { asks: &mut no_asks, bids: &mut no_bids },
    };
    let placed = ex.place(req, book, now)?;
    let fills: Vec<(Decimal, Decimal, Side)> = ex
        .orders
        .get(&placed.uuid)
        .map(|o| o.fills.iter().filter(|f| !f.is_maker).map(|f| (f.price, f.volume, o.side)).collect())
        .unwrap_or_default();
    let events = gen_.record_fills(&req.market, &fills);
    Ok((placed, events))
}

fn order_by_asc(p: &Pairs) -> Result<bool, OrderError> {
    match param(p, "order_by") {
        None | Some("desc") => Ok(false),
        Some("asc") => Ok(true),
        Some(o) => Err(bad("validation_error", format!("order_by has an invalid value: {o}"))),
    }
}

fn states_param(p: &Pairs, allowed: &[&str], default: &[OrderState]) -> Result<Vec<OrderState>, OrderError> {
    let one = param(p, "state");
    let many = params(p, "states[]");
    if one.is_some() && !many.is_empty() {
        return Err(bad("validation_error", "state and states[] cannot be used together"));
    }
    let names: Vec<&str> = one.into_iter().chain(many).collect();
    if names.is_empty() {
        return Ok(default.to_vec());
    }
    names
        .iter()
        .map(|s| {
            if !allowed.contains(s) {
                return Err(bad("validation_error", format!("state has an invalid value: {s}")));
            }
            Ok(match *s {
                "wait" => OrderState::Wait,
                "watch" => OrderState::Watch,
                "done" => OrderState::Done,
                _ => OrderState::Cancel,
            })
        })
        .collect()
}

fn limit_param(p: &Pairs, key: &str, default: usize, max: usize) -> Result<usize, OrderError> {
    match param(p, key) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| bad("invalid_parameter", format!("{key} must be 1..{max}: {v}"))),
    }
}

fn exchange_inner(w: &mut World, m: &str, path: &str, p: &Pairs, body: &[u8]) -> Result<Reply, OrderError> {
    let now = w.gen_.now;
    match (m, path) {
        ("GET", "/v1/accounts") => Ok(Reply::json(200, &w.ex.accounts())),
        ("GET", "/v1/orders/chance") => {
            let market = param(p, "market").ok_or_else(|| bad("validation_error", "market is missing"))?;
            if !w.ex.markets.contains(market) {
                return Err(bad("notfoundmarket", format!("다음 마켓에 없는 종목입니다: {market}")));
            }
            let (quote, base) = market.split_once('-').unwrap_or((market, ""));
            let fee = fee_rate(quote);
            let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let chance = WireChance {
                bid_fee: fee,
                ask_fee: fee,
                maker_bid_fee: fee,
                maker_ask_fee: fee,
                market: WireChanceMarket {
                    id: market.to_string(),
                    name: format!("{base}/{quote}"),
                    order_types: strs(&["limit"]),
                    order_sides: strs(&["ask", "bid"]),
                    bid_types: strs(&["best_fok", "best_ioc", "limit", "limit_fok", "limit_ioc", "price"]),
                    ask_types: strs(&["best_fok", "best_ioc", "limit", "limit_fok", "limit_ioc", "market"]),
                    bid: WireChanceSide {
                        currency: quote.to_string(),
                        price_unit: None,
                        min_total: ticks::min_total(quote),
                    },
                    ask: WireChanceSide {
                        currency: base.to_string(),
                        price_unit: None,
                        min_total: ticks::min_total(quote),
                    },
                    max_total: ticks::max_total(quote).unwrap_or(Decimal::from(1_000_000_000)),
                    state: "active".to_string(),
                },
                bid_account: w.ex.account_of(quote),
                ask_account: w.ex.account_of(base),
            };
            Ok(Reply::json(200, &chance))
        }
        ("POST", "/v1/orders") => {
            let b = body_pairs(body)?;
            let req = new_order_from(&b, "");
            let (placed, events) = place(w, &req)?;
            let mut r = Reply::json(201, &placed);
            r.public = events;
            Ok(r)
        }
        ("POST", "/v1/orders/test") => {
            let b = body_pairs(body)?;
            let req = new_order_from(&b, "");
            let World { gen_, ex } = w;
            let (mut no_asks, mut no_bids) = (Vec::new(), Vec::new());
            let book = match gen_.market_mut(&req.market) {
                Some(m) => BookView { asks: &mut m.asks, bids: &mut m.bids },
                None => BookView { asks: &mut no_asks, bids: &mut no_bids },
            };
            let mut o: SimOrder = ex.validate(&req, &book, false)?;
            o.uuid = uuid::Uuid::new_v4().to_string();
            o.created = now;
            Ok(Reply::json(201, &o.wire(false, false)))
        }
        ("GET", "/v1/order") => {
            let o = w.ex.find(param(p, "uuid"), param(p, "identifier"))?;
            Ok(Reply::json(200, &o.wire(true, true)))
        }
        ("DELETE", "/v1/order") => {
            let o = w.ex.cancel(param(p, "uuid"), param(p, "identifier"), now)?;
            Ok(Reply::json(200, &o))
        }
        ("GET", "/v1/orders/open") => {
            let states = states_param(p, &["wait", "watch"], &[OrderState::Wait])?;
            let market = param(p, "market");
            let page = limit_param(p, "page", 1, usize::MAX)?;
            let limit = limit_param(p, "limit", 100, 100)?;
            let asc = order_by_asc(p)?;
            let all = w.ex.list(|o| states.contains(&o.state) && market.is_none_or(|m| m == o.market), asc);
            let out: Vec<_> =
                all.iter().skip((page - 1) * limit).take(limit).map(|o| o.wire(false, true)).collect();
            Ok(Reply::json(200, &out))
        }
        ("GET", "/v1/orders/closed") => {
            let states = states_param(p, &["done", "cancel"], &[OrderState::Done, OrderState::Cancel])?;
            let market = param(p, "market");
            let limit = limit_param(p, "limit", 100, 1000)?;
            let asc = order_by_asc(p)?;
            let week = 7 * 86_400_000;
            let parse = |k: &str| {
                param(p, k)
                    .map(|v| {
                        parse_time(v)
                            .ok_or_else(|| bad("invalid_parameter", format!("{k} has an invalid value: {v}")))
                    })
                    .transpose()
            };
            let (start, end) = match (parse("start_time")?, parse("end_time")?) {
                (Some(s), Some(e)) => (s, e),
                (Some(s), None) => (s, s + week),
                (None, Some(e)) => (e - week, e),
                (None, None) => (now - week, now),
            };
            if end - start > week || end < start {
                return Err(bad("invalid_parameter", "start_time ~ end_time 은 7일 이내여야 합니다."));
            }
            let all = w.ex.list(
                |o| {
                    states.contains(&o.state)
                        && market.is_none_or(|m| m == o.market)
                        && o.created >= start
                        && o.created <= end
                },
                asc,
            );
            let out: Vec<_> = all.iter().take(limit).map(|o| o.wire(false, true)).collect();
            Ok(Reply::json(200, &out))
        }
        ("GET", "/v1/orders/uuids") => {
            let (uuids, ids) = uuids_or_identifiers(p, 100)?;
            let market = param(p, "market");
            let asc = order_by_asc(p)?;
            let all = w.ex.list(
                |o| {
                    (uuids.contains(&o.uuid.as_str())
                        || o.identifier.as_deref().is_some_and(|i| ids.contains(&i)))
                        && market.is_none_or(|m| m == o.market)
                },
                asc,
            );
            Ok(Reply::json(200, &all.iter().map(|o| o.wire(false, true)).collect::<Vec<_>>()))
        }
        ("DELETE", "/v1/orders/uuids") => {
            let (uuids, ids) = uuids_or_identifiers(p, 20)?;
            let targets = uuids
                .iter()
                .map(|u| (Some(u.to_string()), None))
                .chain(ids.iter().map(|i| (None, Some(i.to_string()))))
                .collect();
            Ok(Reply::json(200, &bulk(w.ex.cancel_many(targets, now))))
        }
        ("DELETE", "/v1/orders/open") => {
            let side = match param(p, "cancel_side").unwrap_or("all") {
                "all" => None,
                "bid" => Some(Side::Bid),
                "ask" => Some(Side::Ask),
                s => return Err(bad("validation_error", format!("cancel_side has an invalid value: {s}"))),
            };
            let pairs = param(p, "pairs").map(list);
            let excluded = param(p, "excluded_pairs").or(param(p, "exclude_pairs")).map(list);
            let quotes = param(p, "quote_currencies").map(list);
            if [pairs.is_some(), excluded.is_some(), quotes.is_some()].iter().filter(|x| **x).count() > 1 {
                return Err(bad(
                    "validation_error",
                    "pairs, excluded_pairs and quote_currencies are exclusive",
                ));
            }
            for l in [&pairs, &excluded].into_iter().flatten() {
                if l.len() > 20 {
                    return Err(bad("invalid_parameter", "at most 20 pairs"));
                }
            }
            let count = limit_param(p, "count", 20, 300)?;
            let asc = order_by_asc(p)?;
            let targets: Vec<_> =
                w.ex.list(
                    |o| {
                        o.state == OrderState::Wait
                            && side.is_none_or(|s| s == o.side)
                            && pairs.as_ref().is_none_or(|l| l.contains(&o.market))
                            && excluded.as_ref().is_none_or(|l| !l.contains(&o.market))
                            && quotes
                                .as_ref()
                                .is_none_or(|l| l.iter().any(|q| o.market.starts_with(&format!("{q}-"))))
                    },
                    asc,
                )
                .into_iter()
                .take(count)
                .map(|o| (Some(o.uuid.clone()), None))
                .collect();
            Ok(Reply::json(200, &bulk(w.ex.cancel_many(targets, now))))
        }
        ("POST", "/v1/orders/cancel_and_new") => {
            let b = body_pairs(body)?;
            let prev_uuid = bget(&b, "prev_order_uuid");
            let prev_id = bget(&b, "prev_order_identifier");
            if prev_uuid.is_none() && prev_id.is_none() {
                return Err(bad("validation_error", "prev_order_uuid or prev_order_identifier is required"));
            }
            if bget(&b, "new_ord_type").is_none() {
                return Err(bad("validation_error", "new_ord_type is missing"));
            }
            let prev = w.ex.find(prev_uuid.as_deref(), prev_id.as_deref())?.clone();
            let mut req = new_order_from(&b, "new_");
            req.market = prev.market.clone();
            req.side = if prev.side == Side::Bid { "bid" } else { "ask" }.to_string();
            if req.volume.as_deref() == Some("remain_only") {
                req.volume = Some(prev.remaining_volume.to_string());
            }
            let cancelled = w.ex.cancel(Some(&prev.uuid), None, now)?;
            let (placed, events) = place(w, &req)?;
            let mut v = serde_json::to_value(&cancelled).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("new_order_uuid".into(), Value::String(placed.uuid.clone()));
                o.insert(
                    "new_order_identifier".into(),
                    placed.identifier.clone().map(Value::String).unwrap_or(Value::Null),
                );
            }
            let mut r = Reply::json(201, &v);
            r.public = events;
            Ok(r)
        }
        _ => Err(OrderError {
            status: 404,
            name: "not_found",
            message: format!("{m} {path} is not an endpoint"),
        }),
    }
}

fn bulk(
    (ok, failed): (
        Vec<crate::exchange::upbit::wire::WireBulkCancelOrder>,
        Vec<crate::exchange::upbit::wire::WireBulkCancelOrder>,
    ),
) -> WireBulkCancel {
    WireBulkCancel {
        success: WireBulkCancelPart { count: ok.len() as u32, orders: ok },
        failed: WireBulkCancelPart { count: failed.len() as u32, orders: failed },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_every_documented_form() {
        let a = parse_time("2025-06-24T04:56:53Z").unwrap();
        assert_eq!(parse_time("2025-06-24 04:56:53"), Some(a));
        assert_eq!(parse_time("2025-06-24T13:56:53+09:00"), Some(a));
        assert_eq!(parse_time(&a.to_string()), Some(a));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn comma_lists_split_and_trim() {
        assert_eq!(list("KRW-BTC, KRW-ETH,"), vec!["KRW-BTC".to_string(), "KRW-ETH".to_string()]);
    }
}
