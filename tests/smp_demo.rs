//! Self-match prevention in demo, end to end: our buy meets our own resting sell in the
//! simulator, which applies Upbit's default since 2026-11-09 (`cancel_maker`): the sell
//! is cancelled, never traded with ourselves, its BTC is free again, and the request that
//! placed it hears why in plain words. The buy goes on against the market.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{snapshot_until, start_core};
use hoga::config::Settings;
use hoga::exchange::types::{MarketId, Side};
use hoga::exchange::upbit::ticks;
use hoga::trading::intent::{LineIntent, Outcome, Requester, TradeRequest, parse_line};
use hoga::ui::UiCommand;
use rust_decimal_macros::dec;
use tokio::time::Instant;

fn request(line: &str) -> TradeRequest {
    match parse_line(line, None).unwrap() {
        LineIntent::Trade(intent) => TradeRequest::new(Requester::Ui, intent),
        other => panic!("{other:?}"),
    }
}

fn replies(s: &hoga::store::Snapshot, req: &TradeRequest) -> Vec<Outcome> {
    s.account.replies.iter().filter(|r| r.id == req.id).map(|r| r.outcome.clone()).collect()
}

/// Sends `line` until it is accepted (new orders wait while the manager reconciles).
async fn accepted(
    core: &hoga::console::Core,
    snaps: &mut tokio::sync::watch::Receiver<std::sync::Arc<hoga::store::Snapshot>>,
    line: &str,
    deadline: Instant,
) -> TradeRequest {
    loop {
        let req = request(line);
        core.commands.send(UiCommand::Trade(req.clone())).unwrap();
        let s = snapshot_until(snaps, deadline, line, |s| !replies(s, &req).is_empty()).await;
        match replies(&s, &req).first() {
            Some(Outcome::Accepted(_)) => return req,
            Some(Outcome::Denied(why)) if why.contains("reconciliation") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_buy_meeting_our_own_resting_sell_cancels_the_sell_with_a_plain_reason() {
    // One generated trade a second across all markets: the book holds still long enough
    // for our two orders to meet.
    let mut settings = Settings::default();
    settings.demo.rate = 1;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (tasks, core) = start_core(&settings, Some(journal.clone())).await;
    let sim = core.sim.clone().unwrap();
    let mut snaps = core.store.subscribe();
    let deadline = Instant::now() + Duration::from_secs(60);
    let btc = MarketId::new("KRW-BTC");
    let coin = |s: &hoga::store::Snapshot| s.account.balances.iter().find(|b| b.currency == "BTC").cloned();
    let s = snapshot_until(&mut snaps, deadline, "KRW-BTC ticker and BTC", |s| {
        s.market.tickers.contains_key(&btc) && coin(s).is_some_and(|b| b.balance >= dec!(0.002))
    })
    .await;
    let last = s.market.tickers[&btc].value.trade_price;
    // Far above the market: it rests, no generated trade reaches it.
    let high = ticks::snap("KRW", last * dec!(1.05), hoga::exchange::rules::Rounding::Down);
    let sell = accepted(&core, &mut snaps, &format!("sell 0.001 @ {high} KRW-BTC"), deadline).await;
    snapshot_until(&mut snaps, deadline, "the sell resting", |s| {
        s.account.open_orders.iter().any(|o| o.side == Some(Side::Ask) && o.price == Some(high))
            && coin(s).is_some_and(|b| b.locked == dec!(0.001))
    })
    .await;
    // The market comes up to it: the best ask is our sell's price.
    sim.script_trade("KRW-BTC", ticks::step("KRW", high, -1), dec!(0.0001), Side::Ask);
    let buy = accepted(&core, &mut snaps, &format!("buy 0.001 @ {high} KRW-BTC"), deadline).await;

    let s = snapshot_until(&mut snaps, deadline, "the sell ended by SMP", |s| {
        replies(s, &sell).iter().any(|o| matches!(o, Outcome::Rejected(_)))
            && !s.account.open_orders.iter().any(|o| o.side == Some(Side::Ask))
            && coin(s).is_some_and(|b| b.locked.is_zero())
    })
    .await;
    let why = replies(&s, &sell)
        .into_iter()
        .find_map(|o| if let Outcome::Rejected(w) = o { Some(w) } else { None })
        .unwrap();
    assert_eq!(why, "self-trade prevented: 0.001 cancelled (cancel_maker)");
    // Never a trade with ourselves: no fill at our sell, the buy's fills are buys.
    assert!(s.account.fills.iter().all(|f| f.side == Some(Side::Bid)), "{:?}", s.account.fills);
    assert!(!replies(&s, &buy).iter().any(|o| matches!(o, Outcome::Rejected(_))), "the buy goes on");
    // The journal records it against the sell (`order <id> journaled, being sent`).
    let id = replies(&s, &sell)
        .into_iter()
        .find_map(|o| match o {
            Outcome::Accepted(m) => m.split_whitespace().nth(1).map(str::to_string),
            _ => None,
        })
        .unwrap();
    let events = hoga::trading::journal::Journal::open_read_only(&journal).unwrap().events_for(&id).unwrap();
    assert!(events.contains(&("self_trade_prevented".to_string(), why.clone())), "{events:?}");
    sim.stop();
    tasks.cancel_all();
}
