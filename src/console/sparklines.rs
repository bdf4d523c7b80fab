//! The markets table's day lines: the last 24 hourly candles of each market on screen,
//! read by REST (`GET /v1/candles/minutes/60?count=24`) through a feed proxy, so the
//! client's rate limiter applies, and paced to at most [`SparkConfig::per_second`]
//! requests a second on top of it. A market is read when it comes on screen and again
//! once per hour after that (the live ticker moves the last point in between, see
//! [`crate::store::market::DayLine::view`]); a market off screen costs nothing.
//!
//! The UI says which markets it shows through a `watch` channel (latest wins): scrolling
//! fast past a hundred rows asks only for the ones it stops on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exchange::types::{MarketId, Timeframe};
use crate::feed::{FeedHandle, FeedProxy};
use crate::kernel::{OnFailure, TaskManager};
use crate::store::market::{DAY_HOURS, HOUR_MS};
use crate::store::{StoreEvent, StoreHandle};

/// How the day lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparkConfig {
    /// Requests per second at most (Upbit allows 10 a second for candles, shared with the
    /// chart's history: a few leave room for it).
    pub per_second: u32,
    /// How long a market whose read failed waits before it is tried again.
    pub retry_after: Duration,
}

impl Default for SparkConfig {
    fn default() -> Self {
        SparkConfig { per_second: 3, retry_after: Duration::from_secs(30) }
    }
}

/// Spawns the reader under `tasks` (`console/sparklines`, restarted when it fails).
/// `on_screen` is the markets the table shows.
pub fn spawn(
    tasks: &TaskManager,
    feed: &FeedHandle,
    store: StoreHandle,
    on_screen: watch::Receiver<Vec<MarketId>>,
    config: SparkConfig,
) {
    spawn_as(tasks, "console", feed, store, on_screen, config);
}

/// [`spawn`] under another task-table component (a second venue's reader, on its feed).
pub(crate) fn spawn_as(
    tasks: &TaskManager,
    component: &'static str,
    feed: &FeedHandle,
    store: StoreHandle,
    on_screen: watch::Receiver<Vec<MarketId>>,
    config: SparkConfig,
) {
    let proxy = Arc::new(feed.proxy("sparklines"));
    tasks.spawn_supervised(component, "sparklines", OnFailure::restart(), move |cancel| {
        run(cancel, proxy.clone(), store.clone(), on_screen.clone(), config)
    });
}

/// The exchange's clock as far as we know it: the newest ticker's time (the simulator's
/// clock in demo), else ours. Hours are the exchange's hours.
fn exchange_now(store: &StoreHandle) -> i64 {
    let snap = store.snapshot();
    snap.market
        .tickers
        .values()
        .map(|t| t.value.timestamp)
        .max()
        .filter(|t| *t > 0)
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis())
}

async fn run(
    cancel: CancellationToken,
    proxy: Arc<FeedProxy>,
    store: StoreHandle,
    mut on_screen: watch::Receiver<Vec<MarketId>>,
    config: SparkConfig,
) -> anyhow::Result<()> {
    let gap = Duration::from_secs(1) / config.per_second.max(1);
    // The hour (exchange time, in hours since the epoch) each market was last read in,
    // and when a failed one may be tried again.
    let mut read: HashMap<MarketId, i64> = HashMap::new();
    let mut failed: HashMap<MarketId, Instant> = HashMap::new();
    let mut last_request: Option<Instant> = None;
    loop {
        let want = on_screen.borrow_and_update().clone();
        let now_ms = exchange_now(&store);
        let hour = now_ms.div_euclid(HOUR_MS);
        let now = Instant::now();
        let due = want
            .iter()
            .find(|m| read.get(*m).is_none_or(|h| *h < hour) && failed.get(*m).is_none_or(|at| *at <= now));
        let Some(market) = due.cloned() else {
            // Nothing to read: wait for the screen to change, the next hour, or a failed
            // read's retry (a minute at most: the clock we go by is the exchange's).
            let next_hour = Duration::from_millis(u64::try_from((hour + 1) * HOUR_MS - now_ms).unwrap_or(0));
            let retry = failed.values().filter(|at| **at > now).min().map(|at| *at - now);
            let wait = next_hour.min(retry.unwrap_or(Duration::MAX)).min(Duration::from_secs(60));
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                changed = on_screen.changed() => if changed.is_err() { return Ok(()) },
                _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
            continue;
        };
        // The pace: one request per `gap`, however the screen changes.
        if let Some(at) = last_request {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(at + gap) => {}
            }
        }
        last_request = Some(Instant::now());
        match proxy.candles(&market, Timeframe::H1, DAY_HOURS as u32).await {
            Ok(candles) => {
                failed.remove(&market);
                read.insert(market.clone(), hour);
                store.send(StoreEvent::DayLoaded { market, candles, at_ms: now_ms }).await?;
            }
            Err(e) => {
                tracing::info!(%market, error = %e, "day line not read; tried again later");
                failed.insert(market, Instant::now() + config.retry_after);
            }
        }
    }
}
