//! Binance's market-data websocket on the simulator: `/stream?streams=a/b` (combined:
//! every frame `{"stream":..,"data":..}`), `/ws` and `/ws/<a>/<b>` (raw payloads), live
//! `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` / `SET_PROPERTY` / `GET_PROPERTY`
//! with Binance's replies and error objects, streams `<sym>@trade` (every trade),
//! `<sym>@ticker` (each second), `<sym>@depth5|10|20` (each second, or `@100ms`),
//! `<sym>@kline_<interval>` (each second for `1s`, two otherwise), all timed on the
//! virtual clock; a ping frame every 20 s. Frames are text, as Binance sends them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::super::faults::WsControl;
use super::super::server::{RequestKind, Shared, lock};
use super::{Tick, interval_of};

/// Streams one connection may hold (Binance's limit).
const MAX_STREAMS: usize = 1024;
/// Binance pings every 20 s.
const PING_EVERY: Duration = Duration::from_secs(20);

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Trade,
    Ticker,
    /// Partial book: levels, update period (ms).
    Depth(usize, i64),
    /// Kline of an interval (index into `INTERVALS`).
    Kline(usize),
}

impl Kind {
    /// Minimum virtual time between two frames (ms).
    fn period(self) -> i64 {
        match self {
            Kind::Trade => 0,
            Kind::Ticker => 1000,
            Kind::Depth(_, ms) => ms,
            Kind::Kline(0) => 1000,
            Kind::Kline(_) => 2000,
        }
    }
}

#[derive(Debug, Clone)]
struct Sub {
    name: String,
    lower: String,
    kind: Kind,
    last: Option<i64>,
}

/// `btcusdt@depth20@100ms` → (`btcusdt`, depth 20 at 100 ms). Symbols are lowercase.
fn parse_stream(name: &str) -> Option<(String, Kind)> {
    let (sym, rest) = name.split_once('@')?;
    if sym.is_empty() || !sym.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        return None;
    }
    let kind = match rest {
        "trade" => Kind::Trade,
        "ticker" => Kind::Ticker,
        _ => {
            if let Some(iv) = rest.strip_prefix("kline_") {
                Kind::Kline(interval_of(iv)?)
            } else {
                let d = rest.strip_prefix("depth")?;
                let (levels, ms) = match d.split_once('@') {
                    Some((l, "100ms")) => (l, 100),
                    Some((l, "1000ms")) => (l, 1000),
                    Some(_) => return None,
                    None => (d, 1000),
                };
                match levels {
                    "5" => Kind::Depth(5, ms),
                    "10" => Kind::Depth(10, ms),
                    "20" => Kind::Depth(20, ms),
                    _ => return None,
                }
            }
        }
    };
    Some((sym.to_string(), kind))
}

/// One connection's streams and payload form.
#[derive(Debug)]
struct Conn {
    combined: bool,
    subs: Vec<Sub>,
}

fn error(code: i64, msg: &str, id: &Value) -> Value {
    json!({"code": code, "msg": msg, "id": id})
}

impl Conn {
    fn add(&mut self, name: &str) -> bool {
        let Some((lower, kind)) = parse_stream(name) else { return false };
        if !self.subs.iter().any(|s| s.name == name) {
            self.subs.push(Sub { name: name.to_string(), lower, kind, last: None });
        }
        true
    }

    /// The reply to a text message.
    fn on_text(&mut self, text: &str) -> Value {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return json!({"code": 3, "msg": format!("Invalid JSON: {e}")}),
        };
        let Value::Object(o) = v else {
            return json!({"code": 3, "msg": "Invalid JSON: expected an object"});
        };
        let id = o.get("id").cloned().unwrap_or(Value::Null);
        let id_ok = match &id {
            Value::Null => true,
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::String(s) => s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric()),
            _ => false,
        };
        if !id_ok {
            return error(2, "Invalid request: request ID must be an unsigned integer", &Value::Null);
        }
        let Some(method) = o.get("method") else {
            return error(2, "Invalid request: missing field `method`", &id);
        };
        let params = o.get("params");
        let names = || -> Option<Vec<String>> {
            params?.as_array()?.iter().map(|p| p.as_str().map(str::to_string)).collect()
        };
        match method.as_str().unwrap_or("") {
            "SUBSCRIBE" => {
                let Some(list) = names() else {
                    return error(2, "Invalid request: params must be a list of stream names", &id);
                };
                if let Some(bad) = list.iter().find(|n| parse_stream(n).is_none()) {
                    return error(2, &format!("Invalid request: invalid stream name `{bad}`"), &id);
                }
                let fresh = list.iter().filter(|n| !self.subs.iter().any(|s| &s.name == *n)).count();
                if self.subs.len() + fresh > MAX_STREAMS {
                    return error(
                        2,
                        &format!("Invalid request: too many streams (at most {MAX_STREAMS})"),
                        &id,
                    );
                }
                for n in &list {
                    self.add(n);
                }
                json!({"result": null, "id": id})
            }
            "UNSUBSCRIBE" => {
                let Some(list) = names() else {
                    return error(2, "Invalid request: params must be a list of stream names", &id);
                };
                self.subs.retain(|s| !list.contains(&s.name));
                json!({"result": null, "id": id})
            }
            "LIST_SUBSCRIPTIONS" => {
                let list: Vec<&str> = self.subs.iter().map(|s| s.name.as_str()).collect();
                json!({"result": list, "id": id})
            }
            "SET_PROPERTY" => match params.and_then(Value::as_array).map(Vec::as_slice) {
                Some([Value::String(p), v]) if p == "combined" => match v.as_bool() {
                    Some(b) => {
                        self.combined = b;
                        json!({"result": null, "id": id})
                    }
                    None => error(1, "Invalid value type: expected Boolean", &id),
                },
                Some([Value::String(_), _]) => error(0, "Unknown property", &id),
                _ => error(2, "Invalid request: property name must be a string", &id),
            },
            "GET_PROPERTY" => match params.and_then(Value::as_array).map(Vec::as_slice) {
                Some([Value::String(p)]) if p == "combined" => json!({"result": self.combined, "id": id}),
                Some([Value::String(_)]) => error(0, "Unknown property", &id),
                _ => error(2, "Invalid request: property name must be a string", &id),
            },
            other => error(
                2,
                &format!(
                    "Invalid request: unknown variant `{other}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                ),
                &id,
            ),
        }
    }

    /// The frames a trade causes on this connection.
    fn on_tick(&mut self, sh: &Shared, tick: &Tick) -> Vec<String> {
        let m = lock(&sh.binance.market);
        let Some(s) = m.syms.get(tick.sym) else { return Vec::new() };
        let now = tick.trade.time;
        let mut out = Vec::new();
        for sub in self.subs.iter_mut().filter(|sub| sub.lower == s.lower) {
            if sub.last.is_some_and(|l| now < l + sub.kind.period()) {
                continue;
            }
            sub.last = Some(now);
            let data = match sub.kind {
                Kind::Trade => s.trade_event(&tick.trade, now),
                Kind::Ticker => s.ticker_json(now, true),
                Kind::Depth(n, _) => s.depth_json(n),
                Kind::Kline(i) => s.kline_event(i, now),
            };
            let frame = if self.combined { json!({"stream": sub.name, "data": data}) } else { data };
            out.push(frame.to_string());
        }
        out
    }
}

/// The stream names of `streams=a/b` in a query.
fn query_streams(uri: &Uri) -> Vec<String> {
    super::super::auth::query_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k == "streams")
        .flat_map(|(_, v)| v.split('/').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `GET /stream?streams=a/b`: combined payloads.
pub(crate) async fn combined_upgrade(
    State(sh): State<Arc<Shared>>,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    sh.log.record("GET", "/stream", uri.query().unwrap_or(""), RequestKind::WsConnect, 101);
    let streams = query_streams(&uri);
    ws.on_upgrade(move |socket| run(sh, socket, true, streams))
}

/// `GET /ws`: raw payloads, streams by `SUBSCRIBE`.
pub(crate) async fn raw_upgrade(State(sh): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    sh.log.record("GET", "/ws", "", RequestKind::WsConnect, 101);
    ws.on_upgrade(move |socket| run(sh, socket, false, Vec::new()))
}

/// `GET /ws/<a>/<b>`: raw payloads of the streams in the path.
pub(crate) async fn raw_path_upgrade(
    State(sh): State<Arc<Shared>>,
    Path(streams): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    sh.log.record("GET", "/ws", &streams, RequestKind::WsConnect, 101);
    let streams = streams.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
    ws.on_upgrade(move |socket| run(sh, socket, false, streams))
}

async fn run(sh: Arc<Shared>, socket: WebSocket, combined: bool, streams: Vec<String>) {
    let mut conn = Conn { combined, subs: Vec::new() };
    for s in streams.iter().take(MAX_STREAMS) {
        conn.add(s);
    }
    let path = if combined { "/stream" } else { "/ws" };
    let (mut tx, mut rx) = socket.split();
    let mut ticks = sh.binance.tx.subscribe();
    let mut ctl = sh.faults.subscribe_control();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        let frames: Vec<Message> = tokio::select! {
            biased;
            _ = sh.cancel.cancelled() => break,
            c = ctl.recv() => match c {
                Ok(WsControl::DropAll) | Err(RecvError::Closed) => break,
                _ => continue,
            },
            _ = ping.tick() => {
                let stamp = sh.now_ms().to_string();
                vec![Message::Ping(stamp.into_bytes().into())]
            }
            m = rx.next() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(t))) => {
                    sh.log.record("WS", path, t.as_str(), RequestKind::WsMessage, 0);
                    vec![Message::Text(conn.on_text(t.as_str()).to_string().into())]
                }
                Some(Ok(Message::Binary(b))) => {
                    let text = String::from_utf8_lossy(&b).into_owned();
                    sh.log.record("WS", path, &text, RequestKind::WsMessage, 0);
                    vec![Message::Text(conn.on_text(&text).to_string().into())]
                }
                // Pings are answered by the websocket layer; pongs need nothing.
                Some(Ok(_)) => continue,
            },
            t = ticks.recv(), if !conn.subs.is_empty() => match t {
                Ok(t) => conn.on_tick(&sh, &t).into_iter().map(|f| Message::Text(f.into())).collect(),
                Err(RecvError::Lagged(n)) => {
                    sh.lagged.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                Err(RecvError::Closed) => break,
            },
        };
        for f in frames {
            if tx.send(f).await.is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_parse_like_binance() {
        assert_eq!(parse_stream("btcusdt@trade"), Some(("btcusdt".into(), Kind::Trade)));
        assert_eq!(parse_stream("btcusdt@depth20@100ms"), Some(("btcusdt".into(), Kind::Depth(20, 100))));
        assert_eq!(parse_stream("ethusdt@depth5"), Some(("ethusdt".into(), Kind::Depth(5, 1000))));
        assert_eq!(parse_stream("ethusdt@kline_1M"), Some(("ethusdt".into(), Kind::Kline(15))));
        assert_eq!(parse_stream("BTCUSDT@trade"), None);
        assert_eq!(parse_stream("btcusdt@depth7"), None);
        assert_eq!(parse_stream("btcusdt@kline_2m"), None);
        assert_eq!(parse_stream("btcusdt"), None);
    }

    #[test]
    fn requests_get_binance_replies() {
        let mut c = Conn { combined: true, subs: Vec::new() };
        let r = c.on_text(r#"{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}"#);
        assert_eq!(r["code"], 2);
        let r = c.on_text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth"],"id":1}"#);
        assert_eq!(r["code"], 2, "plain @depth (the diff stream) is not served");
        let r = c.on_text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth5"],"id":1}"#);
        assert_eq!(r, json!({"result": null, "id": 1}));
        let r = c.on_text(r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#);
        assert_eq!(r, json!({"result": ["btcusdt@trade", "btcusdt@depth5"], "id": 3}));
        let r = c.on_text(r#"{"method":"UNSUBSCRIBE","params":["btcusdt@depth5"],"id":312}"#);
        assert_eq!(r, json!({"result": null, "id": 312}));
        assert_eq!(c.on_text(r#"{"method":"GET_PROPERTY","params":["combined"],"id":2}"#)["result"], true);
        assert_eq!(c.on_text("{oops")["code"], 3);
        assert_eq!(c.on_text(r#"{"method":"SUBSCRIB","params":[],"id":4}"#)["code"], 2);
        assert_eq!(c.on_text(r#"{"params":[],"id":4}"#)["code"], 2);
        assert_eq!(c.on_text(r#"{"method":"LIST_SUBSCRIPTIONS","id":[1]}"#)["code"], 2);
    }
}
