//! Binance's public REST on the simulator: `ping`, `time`, `exchangeInfo`, `ticker/24hr`,
//! `depth`, `trades`, `klines`, with Binance's request weights (`X-MBX-USED-WEIGHT-1M` on
//! every answer, 429 + `Retry-After` and `-1003` past 6,000 a minute), its error bodies
//! (`{"code":-1121,"msg":"Invalid symbol."}`) and its parameter rules; and the simulator's
//! USD/KRW rate, `GET /fx/usd-krw`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::auth::query_pairs;
use super::super::server::{RequestKind, Shared, lock};
use super::{INTERVALS, MIN_NOTIONAL, Sym, fmt8, interval_of, kline_row};

type Pairs = Vec<(String, String)>;

/// A Binance error: HTTP status, code, message.
struct ApiError(u16, i64, String);

fn mandatory(name: &str) -> ApiError {
    ApiError(400, -1102, format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."))
}

fn illegal(name: &str, range: &str) -> ApiError {
    ApiError(400, -1100, format!("Illegal characters found in parameter '{name}'; legal range is '{range}'."))
}

fn invalid_symbol() -> ApiError {
    ApiError(400, -1121, "Invalid symbol.".to_string())
}

const SYMBOL_RANGE: &str = "^[A-Z0-9-_.]{1,20}$";
const SYMBOLS_RANGE: &str = r#"^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$"#;
const NUMBER_RANGE: &str = "^[0-9]{1,20}$";

fn param<'a>(p: &'a Pairs, k: &str) -> Option<&'a str> {
    p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

fn is_symbol(s: &str) -> bool {
    (1..=20).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// A mandatory `symbol`.
fn symbol_param(p: &Pairs) -> Result<String, ApiError> {
    match param(p, "symbol") {
        None | Some("") => Err(mandatory("symbol")),
        Some(s) if !is_symbol(s) => Err(illegal("symbol", SYMBOL_RANGE)),
        Some(s) => Ok(s.to_string()),
    }
}

/// An optional non-negative integer.
fn number(p: &Pairs, name: &str) -> Result<Option<i64>, ApiError> {
    match param(p, name) {
        None => Ok(None),
        Some("") => Err(mandatory(name)),
        Some(v) if v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse::<i64>().map(Some).map_err(|_| illegal(name, NUMBER_RANGE))
        }
        Some(_) => Err(illegal(name, NUMBER_RANGE)),
    }
}

/// `symbols=["BTCUSDT","ETHUSDT"]`.
fn symbols_param(v: &str) -> Result<Vec<String>, ApiError> {
    let list: Vec<String> = serde_json::from_str(v).map_err(|_| illegal("symbols", SYMBOLS_RANGE))?;
    if list.is_empty() || !list.iter().all(|s| is_symbol(s)) {
        return Err(illegal("symbols", SYMBOLS_RANGE));
    }
    Ok(list)
}

/// Answers with the weight header, logging the request; over the minute's budget, 429.
fn answer(sh: &Shared, path: &str, query: &str, weight: u32, result: Result<Value, ApiError>) -> Response {
    let now = chrono::Utc::now().timestamp_millis();
    let counted = lock(&sh.binance.weight).add(weight, now, sh.cfg.rate_limits);
    let (status, body, used, retry) = match (counted, result) {
        (Err((used, retry)), _) => {
            let msg = format!(
                "Too much request weight used; current limit is {} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
                super::WEIGHT_PER_MINUTE
            );
            (429, json!({"code": -1003, "msg": msg}), used, Some(retry))
        }
        (Ok(used), Ok(v)) => (200, v, used, None),
        (Ok(used), Err(ApiError(status, code, msg))) => {
            (status, json!({"code": code, "msg": msg}), used, None)
        }
    };
    sh.log.record("GET", path, query, RequestKind::Quotation, status);
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response();
    let h = r.headers_mut();
    if let Ok(v) = used.to_string().parse() {
        h.insert("x-mbx-used-weight", v);
    }
    if let Ok(v) = used.to_string().parse() {
        h.insert("x-mbx-used-weight-1m", v);
    }
    if let Some(secs) = retry
        && let Ok(v) = secs.to_string().parse()
    {
        h.insert(header::RETRY_AFTER, v);
    }
    r
}

fn pairs(uri: &Uri) -> (String, Pairs) {
    let q = uri.query().unwrap_or("").to_string();
    let p = query_pairs(&q);
    (q, p)
}

/// `GET /api/v3/ping` (weight 1): `{}`.
pub(crate) async fn ping(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    answer(&sh, uri.path(), uri.query().unwrap_or(""), 1, Ok(json!({})))
}

/// `GET /api/v3/time` (weight 1): the virtual clock.
pub(crate) async fn time(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let now = sh.now_ms();
    answer(&sh, uri.path(), uri.query().unwrap_or(""), 1, Ok(json!({"serverTime": now})))
}

fn symbol_info(s: &Sym) -> Value {
    json!({
        "symbol": s.symbol,
        "status": "TRADING",
        "baseAsset": s.spec.coin,
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": true,
        "ocoAllowed": true,
        "otoAllowed": true,
        "quoteOrderQtyMarketAllowed": true,
        "allowTrailingStop": true,
        "cancelReplaceAllowed": true,
        "amendAllowed": true,
        "pegInstructionsAllowed": true,
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": true,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt8(s.tick), "maxPrice": "1000000.00000000", "tickSize": fmt8(s.tick)},
            {"filterType": "LOT_SIZE", "minQty": fmt8(s.step), "maxQty": "9000000.00000000", "stepSize": fmt8(s.step)},
            {"filterType": "NOTIONAL", "minNotional": fmt8(MIN_NOTIONAL.parse().unwrap_or_default()),
             "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
    })
}

/// The symbols a request names (`symbol=` or `symbols=[...]`), indices into the market;
/// `None` = all.
fn chosen(sh: &Shared, p: &Pairs) -> Result<Option<Vec<usize>>, ApiError> {
    let one = param(p, "symbol");
    let many = param(p, "symbols");
    let names = match (one, many) {
        (Some(_), Some(_)) => {
            return Err(ApiError(400, -1128, "Combination of optional parameters invalid.".to_string()));
        }
        (Some(_), None) => vec![symbol_param(p)?],
        (None, Some(v)) => symbols_param(v)?,
        (None, None) => return Ok(None),
    };
    let m = lock(&sh.binance.market);
    names.iter().map(|n| m.index(n).ok_or_else(invalid_symbol)).collect::<Result<Vec<_>, _>>().map(Some)
}

/// `GET /api/v3/exchangeInfo` (weight 20).
pub(crate) async fn exchange_info(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let (q, p) = pairs(&uri);
    let now = sh.now_ms();
    let result = chosen(&sh, &p).map(|which| {
        let m = lock(&sh.binance.market);
        let syms: Vec<Value> = match which {
            None => m.syms.iter().map(symbol_info).collect(),
            Some(ix) => ix.iter().map(|i| symbol_info(&m.syms[*i])).collect(),
        };
        json!({
            "timezone": "UTC",
            "serverTime": now,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": super::WEIGHT_PER_MINUTE},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": syms,
        })
    });
    answer(&sh, uri.path(), &q, 20, result)
}

/// `GET /api/v3/ticker/24hr`: one symbol (weight 2) as an object, `symbols=[..]` (2 up
/// to 20, 40 up to 100, else 80) or all (80) as a list.
pub(crate) async fn ticker_24hr(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let (q, p) = pairs(&uri);
    let now = sh.now_ms();
    let weight = match param(&p, "symbols").map(symbols_param) {
        Some(Ok(l)) if l.len() <= 20 => 2,
        Some(Ok(l)) if l.len() <= 100 => 40,
        Some(_) => 80,
        None if param(&p, "symbol").is_some() => 2,
        None => 80,
    };
    let single = param(&p, "symbol").is_some();
    let result = (|| {
        if let Some(t) = param(&p, "type")
            && t != "FULL"
        {
            return Err(ApiError(400, -1139, "Invalid ticker type.".to_string()));
        }
        let which = chosen(&sh, &p)?;
        let m = lock(&sh.binance.market);
        let list: Vec<Value> = match which {
            None => m.syms.iter().map(|s| s.ticker_json(now, false)).collect(),
            Some(ix) => ix.iter().map(|i| m.syms[*i].ticker_json(now, false)).collect(),
        };
        Ok(if single { list.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(list) })
    })();
    answer(&sh, uri.path(), &q, weight, result)
}

/// `GET /api/v3/depth?symbol&limit` (default 100, at most 5,000; weight 5 / 25 / 50 /
/// 250 by the limit).
pub(crate) async fn depth(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let (q, p) = pairs(&uri);
    let limit = number(&p, "limit");
    let n = match &limit {
        Ok(Some(l)) => (*l).clamp(1, 5000) as usize,
        _ => 100,
    };
    let weight = match n {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    };
    let result = (|| {
        let symbol = symbol_param(&p)?;
        limit?;
        let m = lock(&sh.binance.market);
        let i = m.index(&symbol).ok_or_else(invalid_symbol)?;
        Ok(m.syms[i].depth_json(n))
    })();
    answer(&sh, uri.path(), &q, weight, result)
}

/// `GET /api/v3/trades?symbol&limit` (default 500, at most 1,000; weight 25), oldest first.
pub(crate) async fn trades(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let (q, p) = pairs(&uri);
    let result = (|| {
        let symbol = symbol_param(&p)?;
        let n = number(&p, "limit")?.unwrap_or(500).clamp(1, 1000) as usize;
        let m = lock(&sh.binance.market);
        let i = m.index(&symbol).ok_or_else(invalid_symbol)?;
        let t = &m.syms[i].trades;
        Ok(Value::Array(t.iter().skip(t.len().saturating_sub(n)).map(Sym::trade_json).collect()))
    })();
    answer(&sh, uri.path(), &q, 25, result)
}

/// `GET /api/v3/klines?symbol&interval&startTime&endTime&limit` (default 500, at most
/// 1,000; weight 2), oldest first.
pub(crate) async fn klines(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let (q, p) = pairs(&uri);
    let result = (|| {
        let symbol = symbol_param(&p)?;
        let interval = match param(&p, "interval") {
            None | Some("") => return Err(mandatory("interval")),
            Some(v) => interval_of(v).ok_or_else(|| ApiError(400, -1120, "Invalid interval.".to_string()))?,
        };
        let start = number(&p, "startTime")?;
        let end = number(&p, "endTime")?;
        let limit = number(&p, "limit")?.unwrap_or(500).clamp(1, 1000) as usize;
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(ApiError(400, -1023, "Start time is greater than end time.".to_string()));
        }
        let (sym, upbit) = {
            let m = lock(&sh.binance.market);
            let i = m.index(&symbol).ok_or_else(invalid_symbol)?;
            (i, m.syms[i].upbit.clone())
        };
        // Drawn candles come from Upbit's market (its lock is never held with ours).
        let drawn = |s: i64, e: i64| {
            let w = lock(&sh.world);
            w.gen_.market(&upbit).and_then(|m| m.drawn_candle(s, e))
        };
        let list = sh.binance.klines(sym, interval, start, end.unwrap_or(i64::MAX), limit, &drawn);
        Ok(Value::Array(list.iter().map(|k| kline_row(interval, k)).collect()))
    })();
    let _ = INTERVALS;
    answer(&sh, uri.path(), &q, 2, result)
}

/// `GET /fx/usd-krw`: the simulator's USD/KRW rate now (`{"rate":"1452.31","timestamp":ms}`),
/// the reference the premium against the dollar is measured with in demo.
pub(crate) async fn fx_usd_krw(State(sh): State<Arc<Shared>>, uri: Uri) -> Response {
    let now = sh.now_ms();
    let rate = sh.binance.model.usd_krw_quote(now);
    sh.log.record("GET", uri.path(), uri.query().unwrap_or(""), RequestKind::Quotation, 200);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"rate": rate.to_string(), "timestamp": now}).to_string(),
    )
        .into_response()
}
