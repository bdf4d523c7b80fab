//! The indicator pump: Upbit's `indicator` and `indicator_signal` streams for the chart's
//! market and timeframe, into the store.
//!
//! It runs its own authenticated connection to `/websocket/v1/info` (where Upbit's
//! reference pages place these types) instead of riding the feed's private socket: Upbit
//! answers a type it does not take on an endpoint with an error frame and then closes the
//! socket, and our order and balance streams must never share that fate. A refused,
//! failed or unauthenticated stream costs only the Upbit values: the chart falls back to
//! the local computation, which runs all the time anyway (`super::Board`).
//!
//! There is no snapshot: the first values come at the first candle close after
//! subscribing, which on `1d` can be a day away. The session's keep-alive (`PING` every
//! third of the idle budget) keeps such a quiet socket open.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::console::market::Selection;
use crate::exchange::stream::WsConfig;
use crate::exchange::types::{MarketId, Timeframe};
use crate::exchange::upbit::auth::Credentials;
use crate::exchange::upbit::indicator::{self as wire_ind, INDICATOR, INDICATOR_SIGNAL};
use crate::exchange::upbit::ws::WsSession;
use crate::indicators::IndicatorEvent;
use crate::kernel::{OnFailure, TaskManager};
use crate::store::{StoreEvent, StoreHandle};

/// One frame of an info connection (`/websocket/v1/info`): its text and JSON, or why the
/// connection ends — a frame that is not JSON text, or Upbit's error frame (it refused the
/// subscription; Upbit closes the socket after it).
pub(crate) fn info_frame(bytes: &[u8]) -> Result<(&str, Value), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(text).map_err(|e| format!("bad frame: {e}"))?;
    if let Some(err) = v.get("error") {
        return Err(format!("Upbit refused the subscription: {err}"));
    }
    Ok((text, v))
}

/// The `/websocket/v1/info` URL next to a private stream URL.
pub(crate) fn info_url(private_url: &str) -> String {
    let base = private_url.trim_end_matches('/');
    let base = base.strip_suffix("/private").unwrap_or(base);
    format!("{base}/info")
}

/// The whole request for one market and timeframe; `None` where Upbit has no stream.
pub fn request(market: &MarketId, tf: Timeframe) -> Option<String> {
    if !super::upbit_streams(market, tf) {
        return None;
    }
    let [values, signals] = wire_ind::request_items(tf, &[market.as_str()])?;
    let ticket = uuid::Uuid::new_v4().to_string();
    Some(
        Value::Array(vec![json!({ "ticket": ticket }), values, signals, json!({ "format": "DEFAULT" })])
            .to_string(),
    )
}

/// Connects to `url` (`…/websocket/v1/info`) with `credentials` and subscribes both
/// streams for `market` on `tf`.
pub async fn open(
    url: &str,
    credentials: Option<&Credentials>,
    ws: &WsConfig,
    market: &MarketId,
    tf: Timeframe,
) -> Result<WsSession, String> {
    let req = request(market, tf)
        .ok_or_else(|| format!("Upbit has no indicator stream for {market} {}", tf.label()))?;
    let mut session = WsSession::connect(url, credentials, ws).await.map_err(|e| e.to_string())?;
    session.send_text(req).await.map_err(|e| e.to_string())?;
    Ok(session)
}

/// Where the pump connects and how.
#[derive(Debug, Clone)]
pub(crate) struct PumpConfig {
    /// `…/websocket/v1/info`.
    pub url: String,
    /// Any key (the streams need authentication, no permission); `None` = local only.
    pub credentials: Option<Credentials>,
    /// Session timing (keep-alive, idle watchdog).
    pub ws: WsConfig,
}

/// How long a failed or refused stream first waits before trying again (unless the
/// selection changes first); each failure in a row doubles it up to [`RETRY_MAX`].
const RETRY: Duration = Duration::from_secs(30);
/// The longest wait between attempts: a stream Upbit keeps refusing costs one connection
/// every quarter hour, not one every half minute.
const RETRY_MAX: Duration = Duration::from_secs(15 * 60);

/// Starts the pump under `tasks`.
pub(crate) fn spawn(
    tasks: &TaskManager,
    cfg: PumpConfig,
    store: StoreHandle,
    selection: watch::Receiver<Selection>,
) {
    if cfg.credentials.is_none() {
        tracing::info!("no API key: indicators are computed locally only");
        return;
    }
    tasks.spawn_supervised("console", "indicator-pump", OnFailure::restart(), move |cancel| {
        run(cfg.clone(), store.clone(), selection.clone(), cancel)
    });
}

/// Tells the store to stop showing Upbit's values for `market` on `tf`.
async fn withdraw(store: &StoreHandle, market: &MarketId, tf: Timeframe) {
    let ev = IndicatorEvent::Withdrawn { market: market.clone(), timeframe: tf };
    // A closed store is a console shutting down: nothing left to show.
    let _ = store.send(StoreEvent::IndicatorReceived(ev)).await;
}

/// What the selection asks of Upbit: a market and timeframe it streams, or nothing.
fn wanted(sel: &Selection) -> Option<(MarketId, Timeframe)> {
    let m = sel.market.clone()?;
    super::upbit_streams(&m, sel.timeframe).then_some((m, sel.timeframe))
}

async fn run(
    cfg: PumpConfig,
    store: StoreHandle,
    mut selection: watch::Receiver<Selection>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut retry = RETRY;
    loop {
        let want = wanted(&selection.borrow_and_update());
        let Some((market, tf)) = want else {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                r = selection.changed() => if r.is_err() { return Ok(()) },
            }
            continue;
        };
        let mut delivered = false;
        let mut streamed = (market.clone(), tf);
        match session(&cfg, &store, &mut selection, &cancel, &mut streamed, &mut delivered).await {
            Ok(()) => return Ok(()),
            Err(why) => {
                // "Local values meanwhile" must be what the screen shows: the values the
                // ended stream sent go now, not when the next close would replace them.
                let (market, tf) = streamed;
                withdraw(&store, &market, tf).await;
                if delivered {
                    retry = RETRY;
                }
                if retry == RETRY {
                    tracing::warn!(market = %market, tf = tf.label(), "indicator stream: {why}; local values meanwhile");
                } else {
                    tracing::debug!(market = %market, tf = tf.label(), "indicator stream again: {why}");
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = selection.changed() => if r.is_err() { return Ok(()) },
                    _ = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

/// One connection: subscribes, follows selection changes on the same socket, delivers
/// messages. `Ok` on cancel; `Err` says why the stream ended.
async fn session(
    cfg: &PumpConfig,
    store: &StoreHandle,
    selection: &mut watch::Receiver<Selection>,
    cancel: &CancellationToken,
    streamed: &mut (MarketId, Timeframe),
    delivered: &mut bool,
) -> Result<(), String> {
    let (market, tf) = streamed.clone();
    let mut ws = open(&cfg.url, cfg.credentials.as_ref(), &cfg.ws, &market, tf).await?;
    // Kinds whose bad messages were logged: a stream of them logs once per kind.
    let mut warned: HashSet<String> = HashSet::new();
    loop {
        let (market, tf) = (&streamed.0, streamed.1);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                ws.close().await;
                return Ok(());
            }
            r = selection.changed() => {
                if r.is_err() {
                    ws.close().await;
                    return Ok(());
                }
                let Some((m, t)) = wanted(&selection.borrow_and_update()) else {
                    ws.close().await;
                    return Err("the chart left Upbit's indicator markets".into());
                };
                if (&m, t) != (market, tf) {
                    // The old series' values stop updating: they must not stay on show.
                    withdraw(store, market, tf).await;
                    *streamed = (m, t);
                    let req = request(&streamed.0, streamed.1).ok_or("not streamed")?;
                    ws.send_text(req).await.map_err(|e| e.to_string())?;
                }
            }
            f = ws.next_frame() => {
                let f = f.map_err(|e| e.to_string())?;
                let (text, v) = match info_frame(&f.bytes) {
                    Ok(frame) => frame,
                    Err(e) => {
                        ws.close().await;
                        return Err(e);
                    }
                };
                let Some(ty) = v.get("type").and_then(Value::as_str) else { continue };
                if ty != INDICATOR && ty != INDICATOR_SIGNAL {
                    continue;
                }
                match wire_ind::decode(ty, text, MarketId::new) {
                    Ok(ev) => {
                        *delivered = true;
                        if let IndicatorEvent::Signal(sig) = &ev {
                            tracing::info!(
                                "{} {}: {} {} (Upbit indicator signal)",
                                sig.market,
                                sig.timeframe.label(),
                                sig.indicator.label(),
                                sig.condition.label()
                            );
                        }
                        if store.send(StoreEvent::IndicatorReceived(ev)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(e) => {
                        let kind = v.get("indicator").and_then(Value::as_str).unwrap_or("?");
                        if warned.insert(format!("{ty}/{kind}")) {
                            tracing::warn!(
                                market = %market,
                                tf = tf.label(),
                                "Upbit {ty} message refused ({e}); local values meanwhile"
                            );
                        }
                        // Bad values for the series on show: what Upbit sent before for it
                        // is suspect too. A signal hoga cannot read costs only that signal.
                        if ty == INDICATOR && v.get("code").and_then(Value::as_str) == Some(market.as_str()) {
                            withdraw(store, market, tf).await;
                        }
                    }
                }
            }
        }
    }
}
