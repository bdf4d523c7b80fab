//! The indicator-alert watcher: evaluates every armed indicator alert over its own
//! (market, timeframe) candles, whatever the chart shows, and tells the monitor when one
//! holds; the monitor latches it (fires once), persists it and notifies.
//!
//! Two sources, the first to see the condition wins (the monitor ignores the second):
//! * `local` — candle history by REST, then live candles (the candle stream up to 240m;
//!   day, week and month candles refreshed by REST every few seconds), through one
//!   [`Watch`] per alert;
//! * `upbit signal` — Upbit's `indicator_signal` for the alerts Upbit serves
//!   ([`upbit_signal`]: KRW markets, 5m..1d, the triggers it takes), on an authenticated
//!   `/websocket/v1/info` connection of its own, open only while such an alert is armed.
//!   The chart's indicator pump keeps its connection to follow the chart; sharing it would
//!   make every chart change resubscribe the alerts' signals too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::exchange::types::{Candle, MarketId, Timeframe};
use crate::exchange::upbit::indicator::{
    INDICATOR_SIGNAL, WireIndicator, WireSignalSpec, decode, timeframe_name, trigger_of,
};
use crate::exchange::upbit::ws::WsSession;
use crate::feed::{FeedHandle, FeedProxy, Strategy, Subscription};
use crate::indicators::stream::PumpConfig;
use crate::indicators::{Bar, Condition, Indicator, IndicatorEvent};
use crate::kernel::{OnFailure, TaskManager};
use crate::trading::monitor::indicator_alerts::{Watch, describe_signal, streamed_candles, upbit_signal};
use crate::trading::monitor::{MonitorHandle, MonitorInput, MonitorView};
use crate::trading::rules::{AlertCondition, IndicatorAlert};

/// Candles of history asked for (the REST page size).
const HISTORY: u32 = 200;
/// Candles kept per series, so an alert armed later on a watched series starts at once.
const KEPT: usize = 1000;
/// How often day, week and month candles are refreshed by REST, and a failed history load
/// is tried again.
const REFRESH: Duration = Duration::from_secs(5);
/// How long a failed signal connection waits before trying again (unless the alerts
/// change first).
const SIGNAL_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between attempts: each failure in a row doubles the wait up to this.
const SIGNAL_RETRY_MAX: Duration = Duration::from_secs(15 * 60);

/// The armed indicator alerts in the monitor's view, by id.
fn armed(view: &MonitorView) -> BTreeMap<String, (MarketId, IndicatorAlert)> {
    view.alerts
        .iter()
        .filter(|a| !a.fired)
        .filter_map(|a| match a.condition {
            AlertCondition::Indicator(i) => Some((a.id.clone(), (a.market.clone(), i))),
            _ => None,
        })
        .collect()
}

/// Starts the watcher (and, with a key, the signal listener) under `tasks`.
pub(crate) fn spawn(tasks: &TaskManager, feed: &FeedHandle, monitor: MonitorHandle, upbit: PumpConfig) {
    let proxy = Arc::new(feed.proxy("indicator-alerts"));
    let feed = feed.clone();
    let local_monitor = monitor.clone();
    tasks.spawn_supervised("console", "indicator-alerts", OnFailure::restart(), move |cancel| {
        let (proxy, feed, monitor) = (proxy.clone(), feed.clone(), local_monitor.clone());
        async move { local(proxy, feed, monitor, cancel).await }
    });
    if upbit.credentials.is_none() {
        tracing::info!("no API key: indicator alerts are evaluated locally only");
        return;
    }
    tasks.spawn_supervised("console", "indicator-alert-signals", OnFailure::restart(), move |cancel| {
        let (cfg, monitor) = (upbit.clone(), monitor.clone());
        async move { signals(cfg, monitor, cancel).await }
    });
}

/// One (market, timeframe) candle series and the alerts watching it.
#[derive(Default)]
struct Series {
    /// Oldest first; the last may be forming.
    bars: Vec<Bar>,
    /// Whether the history is in (a failed load is retried on the refresh timer).
    loaded: bool,
    watches: BTreeMap<String, Watch>,
}

impl Series {
    /// Takes a candle (the same bucket replaces the newest; an older one is dropped).
    fn take(&mut self, bar: Bar) -> bool {
        match self.bars.last_mut() {
            Some(last) if bar.start < last.start => return false,
            Some(last) if bar.start == last.start => *last = bar,
            _ => {
                self.bars.push(bar);
                if self.bars.len() > KEPT {
                    self.bars.drain(..self.bars.len() - KEPT);
                }
            }
        }
        true
    }
}

/// What a series says to the monitor: the alerts that hold now.
type Hits = Vec<(String, String)>;

fn hit(
    id: &str,
    w: &Watch,
    held: crate::trading::monitor::indicator_alerts::Held,
    m: &MarketId,
) -> (String, String) {
    (id.to_string(), format!("{} · local", held.describe(w.alert(), m.quote())))
}

struct Local {
    proxy: Arc<FeedProxy>,
    feed: FeedHandle,
    series: BTreeMap<(MarketId, Timeframe), Series>,
    /// Alerts already reported: not again while the monitor's view still lists them
    /// armed.
    reported: BTreeSet<String>,
}

impl Local {
    /// Follows the armed set: new watches (started from the series' candles when it has
    /// enough of them), gone ones dropped. True when the set of series changed or a
    /// series needs its history again.
    fn sync(&mut self, armed: &BTreeMap<String, (MarketId, IndicatorAlert)>) -> (bool, Hits) {
        let before: BTreeSet<(MarketId, Timeframe)> = self.series.keys().cloned().collect();
        for s in self.series.values_mut() {
            s.watches.retain(|id, _| armed.contains_key(id));
        }
        self.reported.retain(|id| armed.contains_key(id));
        let mut hits = Vec::new();
        let mut added = false;
        for (id, (market, alert)) in armed {
            let s = self.series.entry((market.clone(), alert.timeframe)).or_default();
            if s.watches.contains_key(id) {
                continue;
            }
            let Ok(mut w) = Watch::new(*alert) else {
                tracing::warn!(alert = %id, "indicator alert with bad parameters: not evaluated");
                continue;
            };
            if s.loaded && alert.indicator.warmup() > s.bars.len() {
                // A longer warm-up than the series has: its history is read again.
                s.loaded = false;
                added = true;
            } else if s.loaded
                && let Some(h) = w.load(&s.bars)
                && !self.reported.contains(id)
            {
                hits.push(hit(id, &w, h, market));
            }
            s.watches.insert(id.clone(), w);
        }
        self.series.retain(|_, s| !s.watches.is_empty());
        let after: BTreeSet<(MarketId, Timeframe)> = self.series.keys().cloned().collect();
        (before != after || added, hits)
    }

    /// Whether `tf` candles come on the candle stream; the others are refreshed by REST.
    fn streams(&self, tf: Timeframe) -> bool {
        streamed_candles(tf) && self.feed.can_stream(crate::exchange::api::StreamKind::Candle(tf))
    }

    /// Subscribes the candle stream of every streamed series (one subscription per
    /// timeframe), ending the previous ones.
    fn subscribe(&self) -> Vec<Subscription<Candle>> {
        self.proxy.unsubscribe_all();
        let mut by_tf: BTreeMap<Timeframe, Vec<MarketId>> = BTreeMap::new();
        for (m, tf) in self.series.keys() {
            if self.streams(*tf) {
                by_tf.entry(*tf).or_default().push(m.clone());
            }
        }
        by_tf
            .into_iter()
            .map(|(tf, markets)| self.proxy.subscribe_candle(&markets, tf, Strategy::CoalesceByMarket))
            .collect()
    }

    /// Loads the history of every series that has none yet.
    async fn load_missing(&mut self) -> Hits {
        let missing: Vec<(MarketId, Timeframe)> =
            self.series.iter().filter(|(_, s)| !s.loaded).map(|(k, _)| k.clone()).collect();
        let mut hits = Vec::new();
        for (m, tf) in missing {
            // Enough candles for the longest warm-up of the series' alerts (a period of
            // 500 needs more than one page), in pages back from the newest.
            let need = self
                .series
                .get(&(m.clone(), tf))
                .map_or(0, |s| s.watches.values().map(|w| w.alert().indicator.warmup()).max().unwrap_or(0));
            match self.history(&m, tf, need).await {
                Ok(candles) => {
                    let Some(s) = self.series.get_mut(&(m.clone(), tf)) else { continue };
                    // Live candles taken meanwhile are newer than the page, or the page's
                    // newest bucket updated: merged by bucket.
                    let live = std::mem::take(&mut s.bars);
                    for c in &candles {
                        s.take(Bar::from(c));
                    }
                    for b in live {
                        s.take(b);
                    }
                    s.loaded = true;
                    for (id, w) in s.watches.iter_mut() {
                        if let Some(h) = w.load(&s.bars) {
                            hits.push(hit(id, w, h, &m));
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(market = %m, tf = tf.label(), error = %e, "indicator alert history not loaded");
                }
            }
        }
        hits
    }

    /// At least `need` candles (when the market has them; at most [`KEPT`]), oldest first.
    async fn history(
        &self,
        m: &MarketId,
        tf: Timeframe,
        need: usize,
    ) -> Result<Vec<Candle>, crate::exchange::error::ExchangeError> {
        let mut candles = self.proxy.candles(m, tf, HISTORY).await?;
        while candles.len() < need.min(KEPT) {
            let Some(oldest) = candles.iter().map(|c| c.start).min() else { break };
            let older = self.proxy.candles_before(m, tf, HISTORY, oldest).await?;
            if older.is_empty() {
                break;
            }
            candles.extend(older);
        }
        candles.sort_by_key(|c| c.start);
        candles.dedup_by_key(|c| c.start);
        Ok(candles)
    }

    /// A live candle of a watched series.
    fn on_candle(&mut self, c: &Candle) -> Hits {
        let Some(s) = self.series.get_mut(&(c.market.clone(), c.timeframe)) else { return Vec::new() };
        let bar = Bar::from(c);
        if !s.take(bar) {
            return Vec::new();
        }
        let mut hits = Vec::new();
        for (id, w) in s.watches.iter_mut() {
            if let Some(h) = w.update(bar) {
                hits.push(hit(id, w, h, &c.market));
            }
        }
        hits
    }

    /// Series not on the candle stream (day, week and month candles): their newest
    /// candles by REST.
    async fn refresh_long(&mut self) -> Hits {
        let long: Vec<(MarketId, Timeframe)> = self
            .series
            .iter()
            .filter(|((_, tf), s)| s.loaded && !self.streams(*tf))
            .map(|(k, _)| k.clone())
            .collect();
        let mut hits = Vec::new();
        for (m, tf) in long {
            match self.proxy.candles(&m, tf, 2).await {
                Ok(mut latest) => {
                    latest.sort_by_key(|c| c.start);
                    for c in &latest {
                        hits.extend(self.on_candle(c));
                    }
                }
                Err(e) => {
                    tracing::debug!(market = %m, tf = tf.label(), error = %e, "indicator alert refresh failed")
                }
            }
        }
        hits
    }

    /// Tells the monitor, once per alert.
    async fn report(&mut self, monitor: &MonitorHandle, hits: Hits) -> anyhow::Result<()> {
        for (id, detail) in hits {
            if self.reported.insert(id.clone()) {
                monitor.send(MonitorInput::IndicatorHit { id, detail }).await?;
            }
        }
        Ok(())
    }
}

/// The next candle of any of `subs`; pending while there are none.
async fn next_candle(subs: &mut [Subscription<Candle>]) -> Option<Candle> {
    if subs.is_empty() {
        return std::future::pending().await;
    }
    let recvs = subs.iter_mut().map(|s| Box::pin(s.recv()));
    futures_util::future::select_all(recvs).await.0
}

async fn local(
    proxy: Arc<FeedProxy>,
    feed: FeedHandle,
    monitor: MonitorHandle,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut view = monitor.view();
    let mut me = Local { proxy, feed, series: BTreeMap::new(), reported: BTreeSet::new() };
    let mut subs: Vec<Subscription<Candle>> = Vec::new();
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        let changed = if first {
            first = false;
            true
        } else {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                r = view.changed() => {
                    if r.is_err() {
                        return Ok(());
                    }
                    true
                }
                c = next_candle(&mut subs) => {
                    match c {
                        Some(c) => {
                            let hits = me.on_candle(&c);
                            me.report(&monitor, hits).await?;
                        }
                        // The feed ended a subscription (shutdown): follow the next change.
                        None => subs.clear(),
                    }
                    false
                }
                _ = refresh.tick() => {
                    let mut hits = me.load_missing().await;
                    hits.extend(me.refresh_long().await);
                    me.report(&monitor, hits).await?;
                    false
                }
            }
        };
        if changed {
            let armed = armed(&view.borrow_and_update());
            let (series_changed, hits) = me.sync(&armed);
            me.report(&monitor, hits).await?;
            if series_changed {
                // Subscribed before the history is fetched, so nothing between is missed.
                subs = me.subscribe();
                let hits = me.load_missing().await;
                me.report(&monitor, hits).await?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Upbit's signals

/// Signal conditions wanted: per (market, timeframe, indicator, condition), the alerts
/// it fires.
type Wanted = BTreeMap<(MarketId, Timeframe, Indicator, ConditionKey), Vec<String>>;

/// [`Condition`] as a map key (it has no order of its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ConditionKey(String);

fn key(c: &Condition) -> ConditionKey {
    ConditionKey(c.label())
}

fn wanted(view: &MonitorView) -> (Wanted, HashMap<ConditionKey, Condition>) {
    let mut w = Wanted::new();
    let mut conditions = HashMap::new();
    for (id, (market, alert)) in armed(view) {
        for (ind, c) in upbit_signal(&market, &alert) {
            conditions.insert(key(&c), c);
            w.entry((market.clone(), alert.timeframe, ind, key(&c))).or_default().push(id.clone());
        }
    }
    (w, conditions)
}

/// The request for `wanted`: one `indicator_signal` object per timeframe, with every
/// market and every condition of that timeframe (a signal for a pair nobody asked for is
/// ignored when it comes).
fn request(wanted: &Wanted, conditions: &HashMap<ConditionKey, Condition>) -> Option<String> {
    let mut by_tf: BTreeMap<Timeframe, (BTreeSet<String>, Vec<Value>)> = BTreeMap::new();
    for (market, tf, ind, ck) in wanted.keys() {
        let c = conditions.get(ck)?;
        let (trigger, event_params) = trigger_of(ind, c).ok()?;
        let w = WireIndicator::of(ind);
        let spec = serde_json::to_value(WireSignalSpec {
            ty: w.ty,
            params: w.params,
            trigger: trigger.into(),
            event_params,
        })
        .ok()?;
        let e = by_tf.entry(*tf).or_default();
        e.0.insert(market.as_str().to_string());
        if !e.1.contains(&spec) {
            e.1.push(spec);
        }
    }
    let mut items = vec![json!({ "ticket": uuid::Uuid::new_v4().to_string() })];
    for (tf, (codes, specs)) in by_tf {
        items.push(json!({
            "type": INDICATOR_SIGNAL,
            "codes": codes,
            "timeframe": timeframe_name(tf)?,
            "indicators": specs,
        }));
    }
    items.push(json!({ "format": "DEFAULT" }));
    Some(Value::Array(items).to_string())
}

async fn signals(cfg: PumpConfig, monitor: MonitorHandle, cancel: CancellationToken) -> anyhow::Result<()> {
    let mut view = monitor.view();
    let mut retry = SIGNAL_RETRY;
    loop {
        let (want, conditions) = wanted(&view.borrow_and_update());
        if want.is_empty() {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                r = view.changed() => if r.is_err() { return Ok(()) },
            }
            continue;
        }
        let asked: Vec<_> = want.keys().cloned().collect();
        let started = tokio::time::Instant::now();
        match listen(&cfg, &monitor, &mut view, &cancel, want, conditions).await {
            Ok(Ended::Cancelled) => return Ok(()),
            // Waits above for the next alert Upbit serves.
            Ok(Ended::NothingWanted) => retry = SIGNAL_RETRY,
            Err(why) => {
                tracing::warn!("indicator alert signals: {why}; local evaluation meanwhile");
                // A connection that held a while failed once, not again and again.
                if started.elapsed() > SIGNAL_RETRY_MAX {
                    retry = SIGNAL_RETRY;
                }
                // The view changes with every price: only other alerts end the wait early.
                let until = tokio::time::Instant::now() + retry;
                loop {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep_until(until) => break,
                        r = view.changed() => {
                            if r.is_err() {
                                return Ok(());
                            }
                            if wanted(&view.borrow_and_update()).0.keys().ne(asked.iter()) {
                                break;
                            }
                        }
                    }
                }
                retry = (retry * 2).min(SIGNAL_RETRY_MAX);
            }
        }
    }
}

/// Why a signal connection ended without an error.
enum Ended {
    /// Shutdown.
    Cancelled,
    /// No armed alert Upbit serves any more.
    NothingWanted,
}

/// One connection: subscribes what is wanted, resubscribes on the same socket when the
/// armed alerts change, reports signals. `Err` says why the connection ended.
async fn listen(
    cfg: &PumpConfig,
    monitor: &MonitorHandle,
    view: &mut watch::Receiver<Arc<MonitorView>>,
    cancel: &CancellationToken,
    mut want: Wanted,
    conditions: HashMap<ConditionKey, Condition>,
) -> Result<Ended, String> {
    let mut ws =
        WsSession::connect(&cfg.url, cfg.credentials.as_ref(), &cfg.ws).await.map_err(|e| e.to_string())?;
    let req = request(&want, &conditions).ok_or("no request for the armed alerts")?;
    ws.send_text(req).await.map_err(|e| e.to_string())?;
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                ws.close().await;
                return Ok(Ended::Cancelled);
            }
            r = view.changed() => {
                if r.is_err() {
                    ws.close().await;
                    return Ok(Ended::Cancelled);
                }
                let (w, c) = wanted(&view.borrow_and_update());
                if w.is_empty() {
                    ws.close().await;
                    return Ok(Ended::NothingWanted);
                }
                if w.keys().ne(want.keys()) {
                    let req = request(&w, &c).ok_or("no request for the armed alerts")?;
                    ws.send_text(req).await.map_err(|e| e.to_string())?;
                }
                want = w;
            }
            f = ws.next_frame() => {
                let f = f.map_err(|e| e.to_string())?;
                let (text, v) = match crate::indicators::stream::info_frame(&f.bytes) {
                    Ok(frame) => frame,
                    Err(e) => {
                        ws.close().await;
                        return Err(e);
                    }
                };
                if v.get("type").and_then(Value::as_str) != Some(INDICATOR_SIGNAL) {
                    continue;
                }
                let sig = match decode(INDICATOR_SIGNAL, text, MarketId::new) {
                    Ok(IndicatorEvent::Signal(s)) => s,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::debug!("indicator signal not read: {e}");
                        continue;
                    }
                };
                let k = (sig.market.clone(), sig.timeframe, sig.indicator, key(&sig.condition));
                let Some(ids) = want.get(&k) else { continue };
                for id in ids {
                    if reported.insert(id.clone()) {
                        let detail = format!("{} · upbit signal", describe_signal(&sig.reading, sig.market.quote()));
                        monitor
                            .send(MonitorInput::IndicatorHit { id: id.clone(), detail })
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    }
}
