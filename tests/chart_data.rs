//! The chart's data paths end to end against the simulator: scrolling back loads older
//! pages by REST with `to=` (one request per page, however fast the keys), the series
//! grows backwards exactly as the exchange has it, the start of a market's history is
//! said; compared markets are loaded and followed at the chart's timeframe, and stop
//! being followed when `:compare` clears.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use hoga::exchange::types::{MarketId, Side, Timeframe};
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::sim::SimHandle;
use hoga::sim::script::Script;
use hoga::store::Snapshot;
use hoga::store::market::HistoryState;
use hoga::ui::UiCommand;
use rust_decimal::Decimal;

use common::{console_on, deadline_30s, snapshot_until, still_sim};

/// 2025-06-15T15:06:40Z.
const START_MS: i64 = 1_750_000_000_000;

fn starts(s: &Snapshot, m: &MarketId) -> Vec<i64> {
    s.market.series(m, Timeframe::M1).iter().map(|c| c.start).collect()
}

/// The REST candle requests that asked for an older page (`to=`) of `market`.
fn older_requests(sim: &SimHandle, market: &str) -> usize {
    sim.requests
        .entries()
        .iter()
        .filter(|r| {
            r.path.starts_with("/v1/candles/") && r.detail.contains("to=") && r.detail.contains(market)
        })
        .count()
}

fn reach(market: &MarketId, reach: usize) -> UiCommand {
    UiCommand::ChartReach { market: market.clone(), timeframe: Timeframe::M1, reach }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_back_twice_grows_the_series_backwards_as_the_exchange_has_it() {
    let (sim_tasks, sim) = still_sim(3, |c| c.start_ms = Some(START_MS)).await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let btc = MarketId::new("KRW-BTC");
    core.commands.send(UiCommand::SelectMarket(btc.clone())).unwrap();
    core.commands.send(UiCommand::SetTimeframe(Timeframe::M1)).unwrap();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the newest page", |s| {
        s.market.series(&btc, Timeframe::M1).len() >= 200
    })
    .await;
    let newest = starts(&s, &btc);
    assert_eq!(older_requests(&sim, "KRW-BTC"), 0, "nothing older asked for while the view is live");

    // A page back: the view nears the oldest candle, one page of 200 comes before it.
    core.commands.send(reach(&btc, newest.len())).unwrap();
    let s = snapshot_until(&mut snaps, deadline_30s(), "one older page", |s| {
        starts(s, &btc).len() == newest.len() + 200 && s.market.history(&btc, Timeframe::M1).is_none()
    })
    .await;
    let one = starts(&s, &btc);
    assert_eq!(&one[200..], &newest[..], "prepended; the newest candles unchanged");
    assert_eq!(older_requests(&sim, "KRW-BTC"), 1);

    // The key held: the reach grows in small steps while the page is on its way; one
    // request at a time, and only the page the view needs.
    for r in (one.len() - 100..=one.len()).step_by(20) {
        core.commands.send(reach(&btc, r)).unwrap();
    }
    let s = snapshot_until(&mut snaps, deadline_30s(), "a second older page", |s| {
        starts(s, &btc).len() == newest.len() + 400 && s.market.history(&btc, Timeframe::M1).is_none()
    })
    .await;
    let two = starts(&s, &btc);
    assert_eq!(&two[200..], &one[..]);
    // An absence: a request storm would have asked again by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(older_requests(&sim, "KRW-BTC"), 2, "one request per page");

    // Exactly what the exchange has: its newest page and the two before, no gap, no repeat.
    let rest = RestClient::new(
        RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() },
        None,
    )
    .unwrap();
    let mut truth: Vec<i64> = Vec::new();
    let mut page = rest.candles(&btc, Timeframe::M1, 200, None).await.unwrap();
    for _ in 0..3 {
        let oldest = page.iter().map(|c| c.start).min().unwrap();
        truth.extend(page.iter().map(|c| c.start));
        page = rest.candles_before(&btc, Timeframe::M1, 200, oldest).await.unwrap();
    }
    truth.sort_unstable();
    assert_eq!(two, truth);
    assert!(two.windows(2).all(|w| w[1] - w[0] == 60_000), "a minute apart, every one");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_of_history_is_said_when_the_exchange_has_nothing_older() {
    let never = Duration::MAX;
    let script = Script {
        listing_after: Duration::ZERO,
        warning_after: never,
        caution_after: never,
        update_after: never,
    };
    let (sim_tasks, sim) = still_sim(3, |c| {
        c.start_ms = Some(START_MS);
        c.script = Some(script);
    })
    .await;
    let codes = |v: serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|m| m["market"].as_str().unwrap().to_string()).collect()
    };
    let all = format!("{}/v1/market/all", sim.rest_base);
    let before = codes(reqwest::get(&all).await.unwrap().json().await.unwrap());
    sim.step(1);
    let after = codes(reqwest::get(&all).await.unwrap().json().await.unwrap());
    let listed = after.iter().find(|m| !before.contains(m)).expect("a market listed").clone();
    let ticker: serde_json::Value = reqwest::get(format!("{}/v1/ticker?markets={listed}", sim.rest_base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let price: Decimal = ticker[0]["trade_price"].to_string().trim_matches('"').parse().unwrap();
    sim.script_trade(&listed, price, Decimal::ONE, Side::Bid);

    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let m = MarketId::new(&listed);
    core.commands.send(UiCommand::SelectMarket(m.clone())).unwrap();
    core.commands.send(UiCommand::SetTimeframe(Timeframe::M1)).unwrap();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the listing's candle", |s| {
        !s.market.series(&m, Timeframe::M1).is_empty()
    })
    .await;
    let held = starts(&s, &m);
    core.commands.send(reach(&m, held.len())).unwrap();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the start of history", |s| {
        s.market.history(&m, Timeframe::M1) == Some(HistoryState::Start)
    })
    .await;
    assert_eq!(starts(&s, &m), held, "nothing older, nothing lost");
    assert_eq!(older_requests(&sim, &listed), 1);
    // Further back asks nothing more: the exchange said there is nothing.
    core.commands.send(reach(&m, held.len() + 500)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(older_requests(&sim, &listed), 1);
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// Whether the chart's subscriptions include `market`.
fn chart_follows(s: &Snapshot, market: &MarketId) -> bool {
    s.system
        .feed
        .subscribers
        .iter()
        .any(|x| x.proxy == "chart" && x.markets.iter().any(|m| m == market.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compared_market_is_followed_until_compare_clears() {
    let (sim_tasks, sim) = still_sim(3, |c| c.start_ms = Some(START_MS)).await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let s =
        snapshot_until(&mut snaps, deadline_30s(), "the market list", |s| s.market.markets.len() >= 2).await;
    let btc = MarketId::new("KRW-BTC");
    let other = s.market.markets.iter().map(|m| m.market.clone()).find(|m| *m != btc).unwrap();
    core.commands.send(UiCommand::SelectMarket(btc.clone())).unwrap();
    core.commands.send(UiCommand::SetTimeframe(Timeframe::M1)).unwrap();
    core.commands.send(UiCommand::ChartCompare(vec![other.clone()])).unwrap();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the compared market's history, followed", |s| {
        s.market.series(&other, Timeframe::M1).len() >= 200 && chart_follows(s, &other)
    })
    .await;
    // Live: a trade on the compared market moves its series.
    let last = |s: &Snapshot, m: &MarketId| s.market.series(m, Timeframe::M1).last().map(|c| c.close);
    let p = last(&s, &other).unwrap();
    let up = p + p / Decimal::from(100);
    let up = hoga::exchange::upbit::ticks::snap("KRW", up, hoga::exchange::upbit::ticks::Rounding::Nearest);
    sim.script_trade(other.as_str(), up, Decimal::ONE, Side::Bid);
    snapshot_until(&mut snaps, deadline_30s(), "the compared market's live candle", |s| {
        last(s, &other) == Some(up)
    })
    .await;

    // The view scrolls back: the compared market's history follows the shown one's back
    // in time, so its line spans the same candles.
    let held = s.market.series(&btc, Timeframe::M1).len();
    core.commands.send(reach(&btc, held)).unwrap();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the compared market paged back too", |s| {
        let first = |m: &MarketId| s.market.series(m, Timeframe::M1).first().map(|c| c.start);
        s.market.series(&btc, Timeframe::M1).len() == held + 200
            && first(&other).is_some_and(|o| first(&btc).is_some_and(|b| o <= b))
            && s.market.history(&other, Timeframe::M1).is_none()
    })
    .await;
    assert_eq!(older_requests(&sim, other.as_str()), 1, "one page of the compared market");
    let theirs = starts(&s, &other);
    assert!(theirs.windows(2).all(|w| w[1] > w[0]), "no repeats, in order");

    // Cleared: the subscription goes, and the series stops updating (the shown market's
    // own candle, on the same subscription before, is the control).
    core.commands.send(UiCommand::ChartCompare(Vec::new())).unwrap();
    snapshot_until(&mut snaps, deadline_30s(), "the compared market released", |s| !chart_follows(s, &other))
        .await;
    let q = last(&snaps.borrow().clone(), &btc).unwrap();
    let q2 = hoga::exchange::upbit::ticks::snap(
        "KRW",
        q + q / Decimal::from(50),
        hoga::exchange::upbit::ticks::Rounding::Nearest,
    );
    let down = hoga::exchange::upbit::ticks::snap(
        "KRW",
        p - p / Decimal::from(50),
        hoga::exchange::upbit::ticks::Rounding::Nearest,
    );
    sim.script_trade(other.as_str(), down, Decimal::ONE, Side::Ask);
    sim.script_trade(btc.as_str(), q2, Decimal::ONE, Side::Bid);
    let s = snapshot_until(&mut snaps, deadline_30s(), "the shown market's live candle", |s| {
        last(s, &btc) == Some(q2)
    })
    .await;
    assert_eq!(last(&s, &other), Some(up), "no longer followed");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}
