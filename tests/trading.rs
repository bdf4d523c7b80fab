#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Trading runtime: the order manager against a scriptable fake venue (timeouts, resets,
//! rejections, duplicates, hangs), the paper venue, credentials and the live arm step.
//! The RELIABILITY case each test covers is in docs/RELIABILITY-TESTS.md.

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{LogCapture, still_sim, until, until_some};
use hoga::config::Mode;
use hoga::exchange::types::{
    Balance, BookLevel, Fill, MarketId, Order, OrderBook, OrderState, OrderType, Side, StreamType, Ticker,
};
use hoga::kernel::TaskManager;
use hoga::trading::bridge::ExitBridge;
use hoga::trading::credentials::{self, CredentialsError};
use hoga::trading::input::{CancelTarget, TradeCommand, parse_command};
use hoga::trading::journal::{Journal, JournalOptions};
use hoga::trading::manager::{
    ManagerConfig, ManagerError, OrderCommand, OrderEvent, OrderManager, OrderManagerHandle, Origin,
    PlaceSpec, PriceBoard,
};
use hoga::trading::mode::{VenueParams, arm_prompt, build_venue};
use hoga::trading::monitor::{ExitEvent, MonitorAction};
use hoga::trading::orders::{Denied, LocalState, OrderRequest, TrackedOrder, ValidOrder};
use hoga::trading::paper::{PaperConfig, PaperVenue};
use hoga::trading::position::Position;
use hoga::trading::risk::{RiskLimits, TradingState};
use hoga::trading::venue::{DUPLICATE_IDENTIFIER, OrderVenue, VenueError, VenueFuture, VenueRef};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::{Notify, mpsc, watch};

// ------------------------------------------------------------------------------ fake venue

/// What the next create does.
#[derive(Clone)]
enum PlaceMode {
    /// Book it and answer.
    Accept,
    /// Book it, then lose the answer (timeout / reset after the venue accepted).
    AcceptThenTimeout,
    /// Lose the request before the venue books it (5xx from a gateway).
    TimeoutUnstored,
    /// Connect refused: nothing left.
    NotSent,
    /// Definitive refusal.
    Reject(&'static str, bool),
    /// Book it, then wait for the notify before answering.
    HoldAfterStore(Arc<Notify>),
    /// Book it and never answer (process killed before storing the reply).
    HangAfterStore,
    /// Never book, never answer (process killed before the request left).
    HangUnstored,
    /// Panic inside the venue call (a bug), which takes the manager task down.
    Panic,
}

#[derive(Clone)]
enum CancelMode {
    Ok,
    Timeout,
}

#[derive(Default)]
struct FakeState {
    orders: BTreeMap<String, Order>,
    place_calls: Vec<String>,
    cancel_calls: usize,
    get_calls: usize,
    place_modes: VecDeque<PlaceMode>,
    cancel_modes: VecDeque<CancelMode>,
    seq: u64,
}

struct FakeInner {
    st: Mutex<FakeState>,
    // Lookups wait while this is false (to hold reconciliation open).
    gets_open: watch::Sender<bool>,
}

#[derive(Clone)]
struct FakeVenue {
    inner: Arc<FakeInner>,
}

fn btc() -> MarketId {
    MarketId::new("KRW-BTC")
}

fn venue_order(uuid: &str, identifier: &str, v: &ValidOrder) -> Order {
    let r = &v.request;
    Order {
        uuid: uuid.into(),
        identifier: Some(identifier.into()),
        market: r.market.clone(),
        side: Some(r.side),
        ord_type: r.ord_type,
        price: r.price,
        volume: r.volume,
        remaining_volume: r.volume.unwrap_or_default(),
        executed_volume: Decimal::ZERO,
        executed_funds: None,
        reserved_fee: Decimal::ZERO,
        remaining_fee: Decimal::ZERO,
        paid_fee: Decimal::ZERO,
        locked: Decimal::ZERO,
        state: OrderState::Wait,
        time_in_force: r.time_in_force,
        created_at: String::new(),
        trades_count: 0,
        trades: vec![],
    }
}

impl FakeVenue {
    fn new() -> Self {
        let (gets_open, _) = watch::channel(true);
        FakeVenue { inner: Arc::new(FakeInner { st: Mutex::new(FakeState::default()), gets_open }) }
    }

    fn script_place(&self, m: PlaceMode) {
        self.inner.st.lock().unwrap().place_modes.push_back(m);
    }

    fn script_cancel(&self, m: CancelMode) {
        self.inner.st.lock().unwrap().cancel_modes.push_back(m);
    }

    fn hold_gets(&self, hold: bool) {
        self.inner.gets_open.send_replace(!hold);
    }

    fn place_calls(&self) -> Vec<String> {
        self.inner.st.lock().unwrap().place_calls.clone()
    }

    fn cancel_calls(&self) -> usize {
        self.inner.st.lock().unwrap().cancel_calls
    }

    fn booked(&self) -> Vec<Order> {
        self.inner.st.lock().unwrap().orders.values().cloned().collect()
    }

    fn by_identifier(&self, id: &str) -> Option<Order> {
        self.booked().into_iter().find(|o| o.identifier.as_deref() == Some(id))
    }

    fn update(&self, uuid: &str, f: impl FnOnce(&mut Order)) {
        let mut s = self.inner.st.lock().unwrap();
        f(s.orders.get_mut(uuid).unwrap());
    }

    /// Fills the booked order `uuid` completely at the venue, by one trade of `volume`.
    fn fill_completely(&self, uuid: &str, trade: &str, volume: Decimal) {
        self.update(uuid, |o| fill_completely(o, trade, volume));
    }

    /// Books an order directly (an order that exists at the venue already).
    fn book(&self, identifier: &str, v: &ValidOrder) -> Order {
        let mut s = self.inner.st.lock().unwrap();
        s.seq += 1;
        let o = venue_order(&format!("u-{}", s.seq), identifier, v);
        s.orders.insert(o.uuid.clone(), o.clone());
        o
    }

    fn find(s: &FakeState, r: &VenueRef) -> Option<Order> {
        match r {
            VenueRef::Uuid(u) => s.orders.get(u).cloned(),
            VenueRef::Identifier(i) => {
                s.orders.values().find(|o| o.identifier.as_deref() == Some(i)).cloned()
            }
        }
    }
}

impl OrderVenue for FakeVenue {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn place(&self, identifier: String, order: ValidOrder) -> VenueFuture<Order> {
        let me = self.clone();
        Box::pin(async move {
            let mode = {
                let mut s = me.inner.st.lock().unwrap();
                s.place_calls.push(identifier.clone());
                if s.orders.values().any(|o| o.identifier.as_deref() == Some(&identifier)) {
                    return Err(VenueError::Final {
                        code: DUPLICATE_IDENTIFIER.into(),
                        message: "identifier already used".into(),
                        halt: false,
                    });
                }
                s.place_modes.pop_front().unwrap_or(PlaceMode::Accept)
            };
            match mode {
                PlaceMode::Accept => Ok(me.book(&identifier, &order)),
                PlaceMode::AcceptThenTimeout => {
                    me.book(&identifier, &order);
                    Err(VenueError::Ambiguous("POST /orders: timed out".into()))
                }
                PlaceMode::TimeoutUnstored => Err(VenueError::Ambiguous("POST /orders: HTTP 502".into())),
                PlaceMode::NotSent => Err(VenueError::NotSent("connect refused".into())),
                PlaceMode::Reject(code, halt) => {
                    Err(VenueError::Final { code: code.into(), message: format!("refused: {code}"), halt })
                }
                PlaceMode::HoldAfterStore(n) => {
                    let o = me.book(&identifier, &order);
                    n.notified().await;
                    Ok(o)
                }
                PlaceMode::HangAfterStore => {
                    me.book(&identifier, &order);
                    std::future::pending().await
                }
                PlaceMode::HangUnstored => std::future::pending().await,
                PlaceMode::Panic => panic!("injected venue panic"),
            }
        })
    }

    fn cancel(&self, target: VenueRef) -> VenueFuture<Order> {
        let me = self.clone();
        Box::pin(async move {
            let mut s = me.inner.st.lock().unwrap();
            s.cancel_calls += 1;
            let mode = s.cancel_modes.pop_front().unwrap_or(CancelMode::Ok);
            let Some(o) = FakeVenue::find(&s, &target) else {
                return Err(VenueError::Final {
                    code: "order_not_found".into(),
                    message: "not found".into(),
                    halt: false,
                });
            };
            match mode {
                CancelMode::Timeout => Err(VenueError::Ambiguous("DELETE /order: timed out".into())),
                CancelMode::Ok if o.state.is_terminal() => Err(VenueError::Final {
                    code: "order_not_found".into(),
                    message: "already closed".into(),
                    halt: false,
                }),
                CancelMode::Ok => {
                    // Upbit answers with the pre-cancel state.
                    s.orders.get_mut(&o.uuid).unwrap().state = OrderState::Cancel;
                    Ok(o)
                }
            }
        })
    }

    fn get(&self, target: VenueRef) -> VenueFuture<Option<Order>> {
        let me = self.clone();
        let mut open = self.inner.gets_open.subscribe();
        Box::pin(async move {
            open.wait_for(|o| *o).await.unwrap();
            let mut s = me.inner.st.lock().unwrap();
            s.get_calls += 1;
            Ok(FakeVenue::find(&s, &target))
        })
    }

    fn open_orders(&self, market: Option<MarketId>) -> VenueFuture<Vec<Order>> {
        let list: Vec<Order> = self
            .booked()
            .into_iter()
            .filter(|o| !o.state.is_terminal() && market.as_ref().is_none_or(|m| &o.market == m))
            .collect();
        Box::pin(std::future::ready(Ok(list)))
    }

    fn balances(&self) -> VenueFuture<Vec<Balance>> {
        let krw = Balance {
            currency: "KRW".into(),
            balance: dec!(10000000),
            locked: Decimal::ZERO,
            avg_buy_price: Decimal::ZERO,
            unit_currency: "KRW".into(),
        };
        Box::pin(std::future::ready(Ok(vec![krw])))
    }
}

// ------------------------------------------------------------------------------ harness

struct Rig {
    tasks: TaskManager,
    handle: OrderManagerHandle,
    events: mpsc::Receiver<OrderEvent>,
    seen: Vec<OrderEvent>,
}

fn config(prices: &PriceBoard) -> ManagerConfig {
    ManagerConfig {
        risk: RiskLimits {
            max_notional_per_order: Some(dec!(5000000)),
            max_orders_per_minute: 1000,
            max_open_orders: 100,
            price_band: Some(dec!(0.1)),
            daily_loss_limit: None,
        },
        probe_attempts: 3,
        probe_interval: Duration::from_millis(10),
        unconfirmed_window: Duration::from_secs(600),
        unconfirmed_backoff_max: Duration::from_millis(50),
        retry_interval: Duration::from_millis(10),
        cancel_attempts: 3,
        poll_every: None,
        command_capacity: 64,
        event_capacity: 256,
        prices: prices.clone(),
    }
}

fn prices() -> PriceBoard {
    let p = PriceBoard::default();
    p.set_last(&btc(), dec!(100000000));
    p.set_book(&btc(), Some(dec!(99999000)), Some(dec!(100000000)));
    p
}

fn start(journal: Journal, venue: Arc<dyn OrderVenue>) -> Rig {
    start_with(config(&prices()), journal, venue)
}

fn start_with(config: ManagerConfig, journal: Journal, venue: Arc<dyn OrderVenue>) -> Rig {
    let tasks = TaskManager::new();
    let (handle, events) = OrderManager::start(&tasks, config, journal, venue).unwrap();
    Rig { tasks, handle, events, seen: Vec::new() }
}

/// Starts a manager on an in-memory journal and waits until its first reconciliation is done.
async fn reconciled(venue: Arc<dyn OrderVenue>) -> Rig {
    reconciled_with(config(&prices()), venue).await
}

/// `reconciled` with another config.
async fn reconciled_with(config: ManagerConfig, venue: Arc<dyn OrderVenue>) -> Rig {
    let rig = start_with(config, Journal::in_memory().unwrap(), venue);
    rig.handle.wait_reconciled().await.unwrap();
    rig
}

impl Rig {
    /// Waits (with a deadline, never a fixed sleep) for an event matching `pred`.
    async fn until(&mut self, what: &str, pred: impl Fn(&OrderEvent) -> bool) -> OrderEvent {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let e = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("deadline waiting for {what}; saw {:#?}", self.seen))
                .expect("event channel closed");
            self.seen.push(e.clone());
            if pred(&e) {
                return e;
            }
        }
    }

    async fn order_in(&mut self, id: &str, state: LocalState) -> TrackedOrder {
        let e = self
            .until(
                &format!("{id} in {state:?}"),
                |e| matches!(e, OrderEvent::OrderUpdated(o) if o.identifier == id && o.state == state),
            )
            .await;
        match e {
            OrderEvent::OrderUpdated(o) => o,
            _ => unreachable!(),
        }
    }

    async fn place(&self, req: OrderRequest) -> Result<String, Denied> {
        self.handle.place(PlaceSpec::Request(req), Origin::Manual, None, None).await
    }

    /// Places `limit_buy()` (the venue scripted to lose the create) and waits until it is
    /// UNCONFIRMED: returns its identifier.
    async fn unconfirmed_limit_buy(&mut self) -> String {
        let id = self.place(limit_buy()).await.unwrap();
        self.order_in(&id, LocalState::Unconfirmed).await;
        id
    }

    /// Whether a fill of trade `trade_uuid` was seen so far.
    fn saw_fill(&self, trade_uuid: &str) -> bool {
        self.seen
            .iter()
            .any(|e| matches!(e, OrderEvent::Filled { fill, .. } if fill.trade_uuid == trade_uuid))
    }

    /// The last update of order `id` seen so far.
    fn last_update(&self, id: &str) -> TrackedOrder {
        self.seen
            .iter()
            .rev()
            .find_map(|e| match e {
                OrderEvent::OrderUpdated(o) if o.identifier == id => Some(o.clone()),
                _ => None,
            })
            .unwrap()
    }

    /// The last position seen so far.
    fn last_position(&self) -> Position {
        self.seen
            .iter()
            .rev()
            .find_map(|e| match e {
                OrderEvent::Position(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap()
    }

    /// Places `limit_buy()` and waits until the venue accepted it: (identifier, venue uuid).
    async fn accepted_limit_buy(&mut self) -> (String, String) {
        let id = self.place(limit_buy()).await.unwrap();
        let uuid = self.order_in(&id, LocalState::Accepted).await.uuid.unwrap();
        (id, uuid)
    }

    /// Stops the manager as a kill would, and waits until the journal lock is free.
    async fn kill(self, path: &Path) {
        self.tasks.root_token().cancel();
        drop(self.handle);
        until("the journal lock released", || {
            !Journal::open(path, &JournalOptions::default()).unwrap().is_read_only()
        })
        .await;
    }
}

fn limit_buy() -> OrderRequest {
    OrderRequest::limit(btc(), Side::Bid, dec!(100000000), dec!(0.001))
}

fn file_journal(dir: &tempfile::TempDir) -> (std::path::PathBuf, Journal) {
    let path = dir.path().join("journal.sqlite");
    let j = Journal::open(&path, &JournalOptions::default()).unwrap();
    (path, j)
}

fn fill(trade: &str, order_uuid: &str, volume: Decimal) -> Fill {
    Fill {
        trade_uuid: trade.into(),
        order_uuid: order_uuid.into(),
        market: btc(),
        side: Some(Side::Bid),
        price: dec!(100000000),
        volume,
        funds: dec!(100000000) * volume,
        fee: Some(dec!(100000000) * volume * dec!(0.0005)),
        is_maker: Some(true),
        timestamp: 1,
    }
}

/// Marks `order` done at the venue, filled completely by one trade of `volume`.
fn fill_completely(order: &mut Order, trade: &str, volume: Decimal) {
    order.state = OrderState::Done;
    order.executed_volume = volume;
    order.remaining_volume = Decimal::ZERO;
    order.trades = vec![fill(trade, &order.uuid, volume)];
}

/// `req` validated against the default KRW-BTC rules, with no reference price.
fn valid_order(req: &OrderRequest) -> ValidOrder {
    hoga::trading::orders::validate(req, &hoga::trading::orders::MarketRules::upbit_default(&btc()), None)
        .unwrap()
}

// ------------------------------------------------------------------------------ tests

#[tokio::test]
async fn accepted_order_is_journaled_before_send_and_acknowledged() {
    let venue = FakeVenue::new();
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = file_journal(&dir);
    let mut rig = start(journal, Arc::new(venue.clone()));
    rig.handle.wait_reconciled().await.unwrap();
    let id = rig.place(limit_buy()).await.unwrap();
    assert!(id.starts_with("hoga-"), "{id}");
    let uuid = uuid::Uuid::parse_str(id.trim_start_matches("hoga-")).unwrap();
    assert_eq!(uuid.get_version_num(), 7, "identifier is a UUIDv7");
    let acked = rig.order_in(&id, LocalState::Accepted).await;
    assert_eq!(acked.uuid.as_deref(), Some("u-1"));
    assert_eq!(venue.place_calls(), vec![id.clone()]);
    let ro = Journal::open_read_only(&path).unwrap();
    let kinds: Vec<String> = ro.events_for(&id).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds[..2], ["intent".to_string(), "ack".to_string()], "{kinds:?}");
}

#[tokio::test]
async fn ambiguous_create_stays_unknown_and_is_adopted_without_resend() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::AcceptThenTimeout);
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let id = rig.place(limit_buy()).await.unwrap();
    let unknown = rig
        .until("awaiting confirmation", |e| {
            matches!(e, OrderEvent::OrderUpdated(o) if o.identifier == id
                && o.state == LocalState::Submitted
                && o.reason.as_deref().is_some_and(|r| r.contains("awaiting confirmation")))
        })
        .await;
    assert!(matches!(unknown, OrderEvent::OrderUpdated(ref o) if o.uuid.is_none()));
    let adopted = rig.order_in(&id, LocalState::Accepted).await;
    assert_eq!(adopted.uuid, venue.by_identifier(&id).map(|o| o.uuid));
    assert_eq!(venue.place_calls(), vec![id.clone()], "exactly one create, never re-sent");
    assert_eq!(venue.booked().len(), 1, "exactly one order exists");
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Rejected { .. })), "never shown as rejected");
}

#[tokio::test]
async fn lost_create_that_never_landed_is_unconfirmed_not_rejected_and_never_resent() {
    // Issue 15 item 7: three lookups used to close it as REJECTED for ever.
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let id = rig.place(limit_buy()).await.unwrap();
    let unconfirmed = rig.order_in(&id, LocalState::Unconfirmed).await;
    assert!(unconfirmed.reason.unwrap().contains("unconfirmed"));
    assert_eq!(venue.place_calls().len(), 1);
    assert!(venue.inner.st.lock().unwrap().get_calls >= 3, "probed by identifier first");
    // Still probed with backoff after it became unconfirmed.
    let before = venue.inner.st.lock().unwrap().get_calls;
    until("the unconfirmed order probed again", || venue.inner.st.lock().unwrap().get_calls >= before + 2)
        .await;
    assert!(venue.booked().is_empty());
    assert_eq!(rig.handle.status().unconfirmed, 1);
    assert!(rig.handle.status().reconciled, "an unconfirmed order does not hold trading");
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Rejected { .. })), "never counted as rejected");
}

#[tokio::test]
async fn not_sent_create_is_verified_once_then_closed() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::NotSent);
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let id = rig.place(limit_buy()).await.unwrap();
    rig.order_in(&id, LocalState::Rejected).await;
    assert_eq!(venue.inner.st.lock().unwrap().get_calls, 1, "one identifier lookup");
    assert_eq!(venue.place_calls().len(), 1);
}

#[tokio::test]
async fn duplicate_identifier_means_it_exists_and_is_never_reminted() {
    let venue = FakeVenue::new();
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    // The venue already holds this identifier (a previous attempt landed).
    let v = valid_order(&limit_buy());
    let booked = venue.book("rule-sl-1-a1", &v);
    let id = rig
        .handle
        .place(
            PlaceSpec::Request(limit_buy()),
            Origin::Rule("sl-1".into()),
            Some("rule-sl-1-a1".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(id, "rule-sl-1-a1");
    let o = rig.order_in(&id, LocalState::Accepted).await;
    assert_eq!(o.uuid.as_deref(), Some(booked.uuid.as_str()));
    assert_eq!(o.rule_id.as_deref(), Some("sl-1"));
    // The same deterministic identifier again: answered from the journal, not sent.
    let again = rig
        .handle
        .place(
            PlaceSpec::Request(limit_buy()),
            Origin::Rule("sl-1".into()),
            Some("rule-sl-1-a1".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(again, id);
    assert_eq!(venue.place_calls(), vec![id.clone()]);
    assert_eq!(venue.booked().len(), 1);
}

#[tokio::test]
async fn business_rejection_is_final_and_auth_failure_halts_but_cancels_pass() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::Reject("insufficient_funds_bid", false));
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let id = rig.place(limit_buy()).await.unwrap();
    let r = rig.order_in(&id, LocalState::Rejected).await;
    assert!(r.reason.unwrap().contains("insufficient_funds_bid"));
    // An order that rests, then an auth failure.
    let (resting, _) = rig.accepted_limit_buy().await;
    venue.script_place(PlaceMode::Reject("no_authorization_i_p", true));
    let id2 = rig.place(limit_buy()).await.unwrap();
    rig.order_in(&id2, LocalState::Rejected).await;
    rig.until("HALTED", |e| matches!(e, OrderEvent::TradingState { state: TradingState::Halted, .. })).await;
    assert_eq!(rig.handle.status().trading_state, TradingState::Halted);
    let denied = rig.place(limit_buy()).await.unwrap_err();
    assert!(matches!(denied, Denied::State { .. }), "{denied:?}");
    assert!(denied.to_string().contains("no_authorization_i_p"), "{denied}");
    assert_eq!(venue.place_calls().len(), 3, "nothing retried, nothing sent while halted");
    // Cancels always pass.
    rig.handle.cancel(CancelTarget::Order(resting.clone())).await.unwrap();
    rig.order_in(&resting, LocalState::Canceled).await;
}

#[tokio::test]
async fn cancel_timeout_stays_pending_then_a_late_fill_wins() {
    let venue = FakeVenue::new();
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let (id, uuid) = rig.accepted_limit_buy().await;
    venue.script_cancel(CancelMode::Timeout);
    rig.handle.cancel(CancelTarget::Order(uuid.clone())).await.unwrap();
    rig.order_in(&id, LocalState::PendingCancel).await;
    // Not guessed: the lookup sees it open, repeats the cancel, and it resolves.
    rig.order_in(&id, LocalState::Canceled).await;
    assert!(venue.cancel_calls() >= 2, "cancel retried: {}", venue.cancel_calls());
    // A fill that happened before the cancel, reported late: Canceled -> Filled.
    let mut done = venue.by_identifier(&id).unwrap();
    fill_completely(&mut done, "t-late", dec!(0.001));
    rig.handle.apply_venue_update(done).await.unwrap();
    rig.order_in(&id, LocalState::Filled).await;
}

#[tokio::test]
async fn cancel_of_a_filled_order_takes_the_venue_state() {
    let venue = FakeVenue::new();
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let (id, uuid) = rig.accepted_limit_buy().await;
    venue.fill_completely(&uuid, "t-1", dec!(0.001));
    rig.handle.cancel(CancelTarget::Order(id.clone())).await.unwrap();
    let filled = rig.order_in(&id, LocalState::Filled).await;
    assert_eq!(filled.executed_volume, dec!(0.001));
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Rejected { .. })));
}

#[tokio::test]
async fn duplicate_and_out_of_order_fills_count_once() {
    let venue = FakeVenue::new();
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = file_journal(&dir);
    let mut rig = start(journal, Arc::new(venue.clone()));
    rig.handle.wait_reconciled().await.unwrap();
    // Fill before ack: the venue books the order, a fill arrives, then the ack.
    let gate = Arc::new(Notify::new());
    venue.script_place(PlaceMode::HoldAfterStore(gate.clone()));
    let id = rig.place(OrderRequest::limit(btc(), Side::Bid, dec!(100000000), dec!(0.002))).await.unwrap();
    let uuid = until_some("the order at the venue", || venue.by_identifier(&id).map(|o| o.uuid)).await;
    let f1 = fill("t-1", &uuid, dec!(0.001));
    rig.handle.apply_fill(f1.clone()).await.unwrap();
    rig.handle.apply_fill(f1.clone()).await.unwrap();
    gate.notify_one();
    rig.until("first fill", |e| matches!(e, OrderEvent::Filled { fill, .. } if fill.trade_uuid == "t-1"))
        .await;
    // The same fill again via the stream and inside a poll result; `done` before `wait`.
    rig.handle.apply_fill(f1.clone()).await.unwrap();
    let mut done = venue.by_identifier(&id).unwrap();
    done.state = OrderState::Done;
    done.executed_volume = dec!(0.002);
    done.remaining_volume = Decimal::ZERO;
    done.trades = vec![f1.clone(), fill("t-2", &uuid, dec!(0.001))];
    rig.handle.apply_venue_update(done).await.unwrap();
    let mut wait = venue.by_identifier(&id).unwrap();
    wait.state = OrderState::Wait;
    rig.handle.apply_venue_update(wait).await.unwrap();
    // An overfill is refused, not applied.
    rig.handle.apply_fill(fill("t-3", &uuid, dec!(0.5))).await.unwrap();
    rig.until("overfill notice", |e| matches!(e, OrderEvent::Info(m) if m.contains("t-3"))).await;
    let fills: Vec<String> = rig
        .seen
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Filled { fill, .. } => Some(fill.trade_uuid.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(fills, ["t-1", "t-2"]);
    let last = rig.last_update(&id);
    assert_eq!((last.state, last.executed_volume), (LocalState::Filled, dec!(0.002)));
    let position = rig.last_position();
    assert_eq!(position.volume, dec!(0.002), "position counted once per fill");
    assert_eq!(Journal::open_read_only(&path).unwrap().fill_count().unwrap(), 2);
}

#[tokio::test]
async fn cancel_while_the_create_is_unanswered_is_sent_after_the_ack() {
    let venue = FakeVenue::new();
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let gate = Arc::new(Notify::new());
    venue.script_place(PlaceMode::HoldAfterStore(gate.clone()));
    let id = rig.place(limit_buy()).await.unwrap();
    rig.handle.cancel(CancelTarget::Order(id.clone())).await.unwrap();
    rig.order_in(&id, LocalState::PendingCancel).await;
    assert_eq!(venue.cancel_calls(), 0, "no cancel before the create answered");
    gate.notify_one();
    rig.order_in(&id, LocalState::Canceled).await;
    assert_eq!(venue.cancel_calls(), 1);
}

#[tokio::test]
async fn a_panicking_manager_restarts_and_reconciles_from_the_journal() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::Panic);
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let id = rig.place(limit_buy()).await.unwrap();
    // The supervisor restarts the task; the journaled intent is looked up and, not found,
    // stays unconfirmed (it may have left before the panic).
    rig.order_in(&id, LocalState::Unconfirmed).await;
    rig.handle.wait_reconciled().await.unwrap();
    let task = rig.tasks.table().into_iter().find(|t| t.name == "order-manager").unwrap();
    assert!(task.restarts >= 1, "{task:?}");
    // Trading continues on the same handle.
    let (next, _) = rig.accepted_limit_buy().await;
    assert_eq!(venue.place_calls(), vec![id, next]);
}

#[tokio::test]
async fn periodic_poll_finds_fills_the_stream_missed() {
    let venue = FakeVenue::new();
    let cfg = ManagerConfig { poll_every: Some(Duration::from_millis(20)), ..config(&prices()) };
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    let (id, uuid) = rig.accepted_limit_buy().await;
    // Filled at the venue while the private stream was silent.
    venue.fill_completely(&uuid, "t-quiet", dec!(0.001));
    rig.order_in(&id, LocalState::Filled).await;
    assert!(rig.saw_fill("t-quiet"));
    assert_eq!(venue.place_calls().len(), 1);
}

#[tokio::test]
async fn kill_between_intent_and_send_is_closed_on_restart_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = file_journal(&dir);
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::HangUnstored);
    let mut rig = start(journal, Arc::new(venue.clone()));
    rig.handle.wait_reconciled().await.unwrap();
    let id = rig.place(limit_buy()).await.unwrap();
    rig.order_in(&id, LocalState::Submitted).await;
    rig.kill(&path).await;
    // The intent is durable.
    let j = Journal::open(&path, &JournalOptions::default()).unwrap();
    assert_eq!(j.open_orders().unwrap().len(), 1);
    let mut rig = start(j, Arc::new(venue.clone()));
    // The journal cannot tell whether the send left: unconfirmed, never rejected.
    rig.order_in(&id, LocalState::Unconfirmed).await;
    rig.handle.wait_reconciled().await.unwrap();
    assert_eq!(venue.place_calls(), vec![id.clone()], "nothing sent twice");
    assert!(venue.booked().is_empty());
}

#[tokio::test]
async fn kill_between_send_and_reply_adopts_the_order_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = file_journal(&dir);
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::HangAfterStore);
    let mut rig = start(journal, Arc::new(venue.clone()));
    rig.handle.wait_reconciled().await.unwrap();
    let id = rig.place(limit_buy()).await.unwrap();
    rig.order_in(&id, LocalState::Submitted).await;
    until("the order at the venue", || venue.by_identifier(&id).is_some()).await;
    rig.kill(&path).await;
    let j = Journal::open(&path, &JournalOptions::default()).unwrap();
    let mut rig = start(j, Arc::new(venue.clone()));
    let o = rig.order_in(&id, LocalState::Accepted).await;
    assert_eq!(o.uuid, venue.by_identifier(&id).map(|o| o.uuid));
    rig.handle.wait_reconciled().await.unwrap();
    assert_eq!(venue.place_calls(), vec![id.clone()], "nothing sent twice");
    assert_eq!(venue.booked().len(), 1);
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Reconciled { adopted, .. } if *adopted > 0)));
}

#[tokio::test]
async fn restart_reconciliation_blocks_new_orders_until_done() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = file_journal(&dir);
    let t = TrackedOrder::new("hoga-crashed-1".into(), limit_buy());
    journal.record_intent(&t, "manual").unwrap();
    drop(journal);
    let venue = FakeVenue::new();
    venue.hold_gets(true);
    let j = Journal::open(&path, &JournalOptions::default()).unwrap();
    let mut rig = start(j, Arc::new(venue.clone()));
    let denied = rig.place(limit_buy()).await.unwrap_err();
    assert_eq!(denied, Denied::NotReconciled);
    assert!(!rig.handle.status().reconciled);
    assert!(venue.place_calls().is_empty());
    venue.hold_gets(false);
    rig.until("reconciled", |e| matches!(e, OrderEvent::Reconciled { resolved: 1, .. })).await;
    let (id, _) = rig.accepted_limit_buy().await;
    assert_eq!(venue.place_calls(), vec![id]);
    // A reconnect blocks again until the next reconciliation.
    rig.handle.command(OrderCommand::StreamDown).await.unwrap();
    assert_eq!(rig.place(limit_buy()).await.unwrap_err(), Denied::NotReconciled);
    rig.handle.reconcile().await.unwrap();
    rig.handle.wait_reconciled().await.unwrap();
    assert!(rig.place(limit_buy()).await.is_ok());
}

#[tokio::test]
async fn risk_gate_and_bad_input_never_reach_the_venue() {
    let venue = FakeVenue::new();
    let rig = reconciled(Arc::new(venue.clone())).await;
    let cases = [
        // notional 10,000,000 above max_notional_per_order 5,000,000
        (OrderRequest::limit(btc(), Side::Bid, dec!(100000000), dec!(0.1)), "max_notional_per_order"),
        // fat finger: 50 % from the last price
        (OrderRequest::limit(btc(), Side::Bid, dec!(50000000), dec!(0.001)), "price_band"),
        // below the 5,000 KRW minimum
        (OrderRequest::limit(btc(), Side::Bid, dec!(100000000), dec!(0.00001)), "below the minimum"),
        // off the tick grid
        (OrderRequest::limit(btc(), Side::Bid, dec!(100000123), dec!(0.001)), "tick"),
        // too many decimals
        (OrderRequest::limit(btc(), Side::Bid, dec!(100000000), dec!(0.000000001)), "8 decimals"),
        (OrderRequest::limit(btc(), Side::Bid, dec!(0), dec!(1)), "positive"),
    ];
    for (req, why) in cases {
        let e = rig.place(req).await.unwrap_err();
        assert!(e.to_string().contains(why), "{e} should mention {why}");
    }
    for bad in [
        "buy 0 @ 95000000",
        "buy -1 @ 1",
        "buy abc",
        "buy 1,000 @ 1",
        "buy １ @ 1",
        "buy 1e309",
        "buy 1\n@ 1",
    ] {
        assert!(parse_command(bad).is_err(), "{bad:?} parsed");
    }
    // A parsed command goes through sizing, validation and the gate in the manager.
    let TradeCommand::Order(input) = parse_command(":buy 0.00001 @ 100000000").unwrap() else { panic!() };
    let e = rig.handle.place(PlaceSpec::Input(input), Origin::Manual, None, Some(btc())).await.unwrap_err();
    assert!(matches!(e, Denied::BelowMinimum { .. }), "{e:?}");
    // The kill switch: HALTED, new orders denied.
    rig.handle.command(OrderCommand::Kill("kill switch".into())).await.unwrap();
    let e = rig.place(limit_buy()).await.unwrap_err();
    assert!(e.to_string().contains("HALTED"), "{e}");
    assert!(venue.place_calls().is_empty(), "rejected input never reaches the venue");
}

#[tokio::test]
async fn journal_write_failure_denies_orders_but_cancels_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = file_journal(&dir);
    let venue = FakeVenue::new();
    let mut rig = start(journal, Arc::new(venue.clone()));
    rig.handle.wait_reconciled().await.unwrap();
    let (id, _) = rig.accepted_limit_buy().await;
    // Another connection holds the write lock: the intent write fails with SQLITE_BUSY.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let e = rig.place(limit_buy()).await.unwrap_err();
    assert!(matches!(e, Denied::Journal(_)), "{e:?}");
    assert_eq!(venue.place_calls().len(), 1, "no order without a durable intent");
    rig.handle.cancel(CancelTarget::All).await.unwrap();
    rig.order_in(&id, LocalState::Canceled).await;
    assert_eq!(venue.cancel_calls(), 1);
    blocker.execute_batch("ROLLBACK").unwrap();
}

#[tokio::test]
async fn second_instance_on_the_same_journal_refuses_to_trade() {
    let dir = tempfile::tempdir().unwrap();
    let (path, first) = file_journal(&dir);
    let second = Journal::open(&path, &JournalOptions::default()).unwrap();
    assert!(second.is_read_only());
    let tasks = TaskManager::new();
    let err = OrderManager::start(&tasks, ManagerConfig::default(), second, Arc::new(FakeVenue::new()))
        .unwrap_err();
    assert!(matches!(err, ManagerError::ReadOnly(_)), "{err}");
    assert!(err.to_string().contains("another hoga instance"));
    drop(first);
}

fn book(bid: Decimal, ask: Decimal) -> OrderBook {
    OrderBook {
        market: Some(btc()),
        levels: vec![BookLevel { ask_price: ask, ask_size: dec!(1), bid_price: bid, bid_size: dec!(1) }],
        total_ask_size: dec!(1),
        total_bid_size: dec!(1),
        level: Decimal::ZERO,
        timestamp: 0,
        stream_type: StreamType::Realtime,
    }
}

fn ticker(price: Decimal) -> Ticker {
    Ticker { market: Some(btc()), trade_price: price, ..Ticker::default() }
}

fn bal(v: &[Balance], c: &str) -> (Decimal, Decimal) {
    v.iter().find(|b| b.currency == c).map_or((Decimal::ZERO, Decimal::ZERO), |b| (b.balance, b.locked))
}

#[tokio::test]
async fn paper_venue_fills_against_fed_prices_and_keeps_balances() {
    let paper =
        PaperVenue::new(PaperConfig { fee_rate: dec!(0.0005), initial: vec![("KRW".into(), dec!(1000000))] });
    let rules = hoga::trading::orders::MarketRules::upbit_default(&btc());
    let valid = |r: OrderRequest, reference| hoga::trading::orders::validate(&r, &rules, reference).unwrap();
    // No price yet: a market order cannot fill.
    let e = paper
        .place("p-0".into(), valid(OrderRequest::market_buy(btc(), dec!(10000)), None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("no_market_data"));
    paper.on_orderbook(&book(dec!(99000000), dec!(100000000)));
    // A resting limit buy locks price × volume + fee.
    let resting =
        paper.place("p-1".into(), valid(limit_rq(dec!(95000000), dec!(0.002)), None)).await.unwrap();
    assert_eq!(resting.state, OrderState::Wait);
    let (free, locked) = bal(&paper.balances_now(), "KRW");
    assert_eq!(locked, dec!(190095));
    assert_eq!(free, dec!(1000000) - dec!(190095));
    // A trade below the limit fills it at the limit (maker).
    let changed = paper.on_ticker(&ticker(dec!(94000000)));
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].state, OrderState::Done);
    let b = paper.balances_now();
    assert_eq!(bal(&b, "KRW"), (dec!(1000000) - dec!(190095), Decimal::ZERO));
    assert_eq!(bal(&b, "BTC").0, dec!(0.002));
    // A market sell fills at the best bid, minus the fee.
    paper.on_orderbook(&book(dec!(99000000), dec!(100000000)));
    let sold = paper
        .place("p-2".into(), valid(OrderRequest::market_sell(btc(), dec!(0.001)), Some(dec!(99000000))))
        .await
        .unwrap();
    assert_eq!(sold.state, OrderState::Done);
    assert_eq!(sold.trades[0].price, dec!(99000000));
    let b = paper.balances_now();
    assert_eq!(bal(&b, "BTC").0, dec!(0.001));
    assert_eq!(bal(&b, "KRW").0, dec!(1000000) - dec!(190095) + dec!(99000) - dec!(49.5));
    // Insufficient funds is a final refusal; a used identifier is refused forever.
    let e = paper.place("p-3".into(), valid(limit_rq(dec!(100000000), dec!(0.05)), None)).await.unwrap_err();
    assert_eq!(e.code(), Some("insufficient_funds_bid"));
    let e = paper.place("p-3".into(), valid(limit_rq(dec!(100000000), dec!(0.001)), None)).await.unwrap_err();
    assert_eq!(e.code(), Some(DUPLICATE_IDENTIFIER));
    // Cancel releases the lock.
    let o = paper.place("p-4".into(), valid(limit_rq(dec!(90000000), dec!(0.001)), None)).await.unwrap();
    paper.cancel(VenueRef::Uuid(o.uuid.clone())).await.unwrap();
    assert_eq!(bal(&paper.balances_now(), "KRW").1, Decimal::ZERO);
    assert_eq!(
        paper.get(VenueRef::Identifier("p-4".into())).await.unwrap().unwrap().state,
        OrderState::Cancel
    );
}

fn limit_rq(price: Decimal, vol: Decimal) -> OrderRequest {
    OrderRequest::limit(btc(), Side::Bid, price, vol)
}

#[tokio::test]
async fn paper_mode_trades_through_the_manager_without_any_rest_client() {
    let built = build_venue(Mode::Paper, VenueParams::default()).unwrap();
    assert!(built.rest.is_none(), "paper mode has no REST client, so no write endpoint");
    let paper = built.paper.clone().unwrap();
    paper.on_orderbook(&book(dec!(99999000), dec!(100000000)));
    let mut rig = reconciled(built.venue.clone()).await;
    let id = rig.place(limit_rq(dec!(99000000), dec!(0.001))).await.unwrap();
    rig.order_in(&id, LocalState::Accepted).await;
    for o in paper.on_ticker(&ticker(dec!(98000000))) {
        rig.handle.apply_venue_update(o).await.unwrap();
    }
    rig.until("paper fill", |e| matches!(e, OrderEvent::Filled { identifier, .. } if identifier == &id))
        .await;
    rig.order_in(&id, LocalState::Filled).await;
}

#[test]
fn credentials_file_must_be_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hoga").join("credentials.toml");
    credentials::write_file(&path, "ACCESSabcd1234wxyz", "SENTINEL-file-secret-9d1").unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let keys = credentials::load(&HashMap::new(), Some(&path)).unwrap().unwrap();
    assert_eq!(keys.masked_access_key(), "ACCE…wxyz");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = credentials::load(&HashMap::new(), Some(&path)).unwrap_err();
    assert!(matches!(err, CredentialsError::TooOpen { mode: 0o644, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("0644") && msg.contains("chmod 600"),
        "{msg}"
    );
    assert!(!msg.contains("SENTINEL"), "{msg}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(credentials::load_file(&path).is_err(), "group-readable is refused too");
    // Environment wins over the file.
    let mut env = HashMap::new();
    env.insert("UPBIT_ACCESS_KEY".to_string(), "ENVKEYabcd1234wxyz".to_string());
    env.insert("UPBIT_SECRET_KEY".to_string(), "env-secret".to_string());
    let k = credentials::load(&env, Some(&path)).unwrap().unwrap();
    assert_eq!(k.source(), &credentials::KeySource::Env);
}

#[tokio::test]
async fn sentinel_secret_never_appears_in_debug_logs_or_output() {
    const SECRET: &str = "SENTINEL-SECRET-7c1e5a0b";
    const ACCESS: &str = "SENTINELACCESS-0123456789";
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut env = HashMap::new();
    env.insert("UPBIT_ACCESS_KEY".to_string(), ACCESS.to_string());
    env.insert("UPBIT_SECRET_KEY".to_string(), SECRET.to_string());
    let keys = credentials::load(&env, None).unwrap().unwrap();
    let mut output = Vec::new();
    let arm = arm_prompt(&b"LIVE\n"[..], &mut output, Mode::Live, Some(&keys)).unwrap();
    // A whole trading scenario against a port where nothing listens: the create fails,
    // is looked up, errors are logged.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let rest = hoga::exchange::upbit::rest::RestConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        read_attempts: 1,
        ..Default::default()
    };
    let built = build_venue(
        Mode::Live,
        VenueParams { rest, keys: Some(keys.clone()), arm: Some(arm.clone()), ..Default::default() },
    )
    .unwrap();
    let mut rig = start(Journal::in_memory().unwrap(), built.venue.clone());
    // The listing fails (nothing listens), so reconciliation keeps retrying: force past
    // it by checking the denial carries no secret, then drive a send via a second
    // manager whose journal is empty and whose venue is the same client.
    let denied = rig.place(limit_buy()).await.unwrap_err();
    let e = built.venue.place("hoga-x".into(), valid_order(&limit_buy())).await.unwrap_err();
    tracing::warn!(error = %e, "create failed");
    let g = built.venue.get_by_identifier("hoga-x".into()).await.unwrap_err();
    tracing::warn!(error = %g, "lookup failed");
    rig.handle.command(OrderCommand::Kill("test".into())).await.unwrap();
    rig.until("halted", |e| matches!(e, OrderEvent::TradingState { state: TradingState::Halted, .. })).await;
    let texts = [
        capture.text(),
        String::from_utf8(output).unwrap(),
        format!("{keys:?}"),
        format!("{:?}", keys.to_credentials()),
        format!("{built:?}"),
        format!("{:?}", built.rest),
        format!("{arm:?}"),
        format!("{denied:?} {denied} {e:?} {e} {g:?}"),
        format!("{:?}", rig.seen),
    ];
    for (i, t) in texts.iter().enumerate() {
        assert!(!t.contains(SECRET), "secret in text #{i}: {t}");
        assert!(!t.contains(ACCESS), "full access key in text #{i}: {t}");
    }
    assert!(texts[1].contains("SENT…6789"), "masked key shown: {}", texts[1]);
    assert!(
        texts[0].contains("create failed") && texts[0].contains("lookup failed"),
        "logs captured: {}",
        texts[0]
    );
}

// ------------------------------------------------------------------------------ Upbit venue over real sockets

/// What the loopback server does with the next request.
enum Reply {
    /// Read the request, never answer (the client times out after the venue "accepted").
    Stall,
    /// Answer with a status and body.
    Raw(u16, &'static str),
    /// Promise a body and close after a part of it.
    Truncated,
}

#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
}

async fn read_request(s: &mut tokio::net::TcpStream) -> Option<Seen> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let line = lines.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + 4 + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Seen { line, headers })
}

#[tokio::test]
async fn upbit_venue_maps_real_http_failures() {
    use hoga::exchange::upbit::auth::Credentials;
    use hoga::exchange::upbit::rest::{RestClient, RestConfig};
    use hoga::exchange::upbit::venue::UpbitVenue;
    use tokio::io::AsyncWriteExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(Mutex::new(VecDeque::from([
        Reply::Stall,
        Reply::Raw(502, "<html><body>502 Bad Gateway</body></html>"),
        Reply::Truncated,
        Reply::Raw(400, r#"{"error":{"name":"insufficient_funds_bid","message":"not enough KRW"}}"#),
        Reply::Raw(404, r#"{"error":{"name":"order_not_found","message":"not found"}}"#),
        Reply::Raw(
            200,
            r#"{"uuid":"u-9","side":"bid","ord_type":"limit","price":"100000000","state":"wait","market":"KRW-BTC","created_at":"2026-01-01T00:00:00+09:00","volume":"0.001","remaining_volume":"0.001","executed_volume":"0","reserved_fee":"50","remaining_fee":"50","paid_fee":"0","locked":"100050","trades_count":0,"identifier":"hoga-x"}"#,
        ),
    ])));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let tasks = TaskManager::new();
    {
        let (script, seen) = (script.clone(), seen.clone());
        tasks.spawn("test", "fake-upbit", move |cancel| async move {
            let mut held = Vec::new();
            loop {
                let (mut s, _) = tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    r = listener.accept() => r?,
                };
                let Some(req) = read_request(&mut s).await else { continue };
                seen.lock().unwrap().push(req);
                let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Raw(500, "{}"));
                match reply {
                    Reply::Stall => held.push(s),
                    Reply::Raw(status, body) => {
                        let msg = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        s.write_all(msg.as_bytes()).await?;
                    }
                    Reply::Truncated => {
                        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\nConnection: close\r\n\r\n{\"uuid\":\"u-").await?;
                    }
                }
            }
        });
    }
    let rest = RestClient::new(
        RestConfig {
            base_url: format!("http://{addr}/v1"),
            timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_millis(500),
            read_attempts: 1,
            retry_backoff: Duration::from_millis(1),
        },
        Some(Credentials::new("test-access-key-0123", "test-secret-key")),
    )
    .unwrap();
    let venue = UpbitVenue::new(Arc::new(rest));
    let valid = valid_order(&limit_buy());
    for what in ["stall", "502 html", "truncated"] {
        let e = venue.place("hoga-x".into(), valid.clone()).await.unwrap_err();
        assert!(matches!(e, VenueError::Ambiguous(_)), "{what}: {e:?}");
    }
    let e = venue.place("hoga-x".into(), valid.clone()).await.unwrap_err();
    assert!(
        matches!(&e, VenueError::Final { code, halt: false, .. } if code == "insufficient_funds_bid"),
        "{e:?}"
    );
    assert_eq!(venue.get_by_identifier("hoga-x".into()).await.unwrap(), None);
    let o = venue.get_by_identifier("hoga-x".into()).await.unwrap().unwrap();
    assert_eq!((o.uuid.as_str(), o.identifier.as_deref()), ("u-9", Some("hoga-x")));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "{seen:#?}");
    assert_eq!(
        seen.iter().filter(|r| r.line.starts_with("POST /v1/orders ")).count(),
        4,
        "one request per create"
    );
    assert!(seen.iter().all(|r| !r.headers.iter().any(|(k, _)| k == "origin")), "no Origin header");
    let auths: std::collections::HashSet<&str> = seen
        .iter()
        .filter_map(|r| r.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str()))
        .collect();
    assert_eq!(auths.len(), 6, "every attempt signs a fresh token");
    assert!(seen[4].line.contains("identifier=hoga-x"), "{}", seen[4].line);
    tasks.root_token().cancel();
}

// ------------------------------------------------------------------------------ against the simulator

async fn sim() -> (TaskManager, hoga::sim::SimHandle) {
    let (tasks, sim) = still_sim(5, |_| {}).await;
    sim.set_price("KRW-BTC", dec!(100000000));
    (tasks, sim)
}

fn sim_rest(sim: &hoga::sim::SimHandle) -> hoga::exchange::upbit::rest::RestConfig {
    hoga::exchange::upbit::rest::RestConfig {
        base_url: format!("{}/v1", sim.rest_base),
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        read_attempts: 2,
        retry_backoff: Duration::from_millis(10),
    }
}

#[tokio::test]
async fn demo_mode_against_the_simulator_adopts_an_ambiguous_create_exactly_once() {
    let (sim_tasks, sim) = sim().await;
    let keys = credentials::ApiKeys::new(
        hoga::sim::DEMO_ACCESS_KEY,
        hoga::sim::DEMO_SECRET_KEY,
        credentials::KeySource::Env,
    );
    let built =
        build_venue(Mode::Demo, VenueParams { rest: sim_rest(&sim), keys: Some(keys), ..Default::default() })
            .unwrap();
    // The simulator books the next order and loses the reply (hangs past our timeout).
    sim.faults.ambiguous_orders(1);
    sim.faults.set_hang(Duration::from_secs(1));
    let mut rig = reconciled(built.venue.clone()).await;
    let id = rig.place(OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.001))).await.unwrap();
    rig.until("awaiting confirmation", |e| {
        matches!(e, OrderEvent::OrderUpdated(o) if o.identifier == id
            && o.reason.as_deref().is_some_and(|r| r.contains("awaiting confirmation")))
    })
    .await;
    let adopted = rig.order_in(&id, LocalState::Accepted).await;
    assert!(adopted.uuid.is_some());
    let open = built.venue.open_orders(None).await.unwrap();
    assert_eq!(open.len(), 1, "exactly one order exists: {open:?}");
    assert_eq!(open[0].identifier.as_deref(), Some(id.as_str()));
    // No second create: the simulator logs a request when its reply ends, so the lost
    // one (whose connection our client dropped) may not be logged at all.
    assert!(sim.requests.count("POST", "/v1/orders") <= 1, "{:?}", sim.requests.counts());
    // Cancel through the same client; confirmed by a lookup.
    rig.handle.cancel(CancelTarget::Order(id.clone())).await.unwrap();
    rig.order_in(&id, LocalState::Canceled).await;
    assert!(sim.requests.count("POST", "/v1/orders") <= 1, "{:?}", sim.requests.counts());
    assert!(built.venue.open_orders(None).await.unwrap().is_empty());
    sim.stop();
    sim_tasks.root_token().cancel();
}

#[tokio::test]
async fn paper_mode_fills_on_simulator_prices_with_zero_write_calls() {
    let (sim_tasks, sim) = sim().await;
    let built = build_venue(Mode::Paper, VenueParams::default()).unwrap();
    let paper = built.paper.clone().unwrap();
    // Real (simulated) market data through the public REST client, no keys.
    let public = hoga::exchange::upbit::rest::RestClient::new(sim_rest(&sim), None).unwrap();
    for t in public.tickers(&[btc()]).await.unwrap() {
        paper.on_ticker(&t);
    }
    for b in public.orderbook(&[btc()], 5).await.unwrap() {
        paper.on_orderbook(&b);
    }
    let mut rig = reconciled(built.venue.clone()).await;
    let id = rig.place(OrderRequest::market_buy(btc(), dec!(100000))).await.unwrap();
    rig.until("paper fill", |e| matches!(e, OrderEvent::Filled { identifier, .. } if identifier == &id))
        .await;
    rig.order_in(&id, LocalState::Filled).await;
    assert!(sim.requests.total() >= 2, "market data came from the simulator");
    assert_eq!(sim.requests.writes(), 0, "paper mode never calls a write endpoint");
    assert_eq!(sim.requests.count("POST", "/v1/orders"), 0);
    sim.stop();
    sim_tasks.root_token().cancel();
}

/// A stop-loss exit selling 0.001 BTC for `rule_id`, as the monitor asks for it.
fn stop_loss_exit(identifier: &str, rule_id: &str, kind: OrderType) -> MonitorAction {
    MonitorAction::PlaceExit {
        identifier: identifier.into(),
        rule_id: rule_id.into(),
        market: btc(),
        side: Side::Ask,
        volume: dec!(0.001),
        kind,
        reason: "stop_loss".into(),
        trigger_price: dec!(99000000),
        last_price: dec!(98900000),
    }
}

/// Feeds the manager's events to `bridge`, adding the exit results it gives to `results`,
/// until one of them matches `done`.
async fn exits_until(
    rig: &mut Rig,
    bridge: &mut ExitBridge,
    results: &mut Vec<ExitEvent>,
    what: &str,
    done: impl Fn(&ExitEvent) -> bool,
) {
    while !results.iter().any(&done) {
        let e = rig.until(what, |_| true).await;
        results.extend(bridge.on_event(&e));
    }
}

#[tokio::test]
async fn monitor_exits_round_trip_through_the_bridge() {
    let venue = FakeVenue::new();
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let mut bridge = ExitBridge::new();
    let exit = |id: &str| stop_loss_exit(id, "sl-1", OrderType::Market);
    rig.handle.command(bridge.command(exit("sl-1-a1"))).await.unwrap();
    let mut exits = Vec::new();
    exits_until(&mut rig, &mut bridge, &mut exits, "any event", |e| {
        matches!(e, ExitEvent::ExitAccepted { .. })
    })
    .await;
    let booked = venue.by_identifier("sl-1-a1").unwrap();
    assert_eq!((booked.side, booked.ord_type), (Some(Side::Ask), OrderType::Market));
    // The same action again (a monitor restart): not sent twice.
    rig.handle.command(bridge.command(exit("sl-1-a1"))).await.unwrap();
    let mut done = booked.clone();
    done.state = OrderState::Done;
    done.executed_volume = dec!(0.0006);
    done.trades = vec![Fill { side: Some(Side::Ask), ..fill("t-exit", &booked.uuid, dec!(0.0006)) }];
    rig.handle.apply_venue_update(done).await.unwrap();
    exits_until(&mut rig, &mut bridge, &mut exits, "any event", |e| {
        matches!(e, ExitEvent::ExitFilled { .. })
    })
    .await;
    assert!(exits.contains(&ExitEvent::ExitFilled {
        identifier: "sl-1-a1".into(),
        filled: dec!(0.0006),
        partial: true
    }));
    assert_eq!(venue.place_calls(), vec!["sl-1-a1".to_string()]);
    // Cancel the market's open orders for the monitor, confirmed when all are final.
    rig.accepted_limit_buy().await;
    rig.handle
        .command(bridge.command(MonitorAction::CancelOpenOrders { market: btc(), rule_id: "sl-1".into() }))
        .await
        .unwrap();
    exits_until(&mut rig, &mut bridge, &mut exits, "any event", |e| {
        matches!(e, ExitEvent::OpenOrdersCancelled { .. })
    })
    .await;
    // A denied exit (HALTED) is reported as rejected under its identifier.
    rig.handle.command(OrderCommand::Kill("test".into())).await.unwrap();
    rig.handle.command(bridge.command(exit("sl-1-a2"))).await.unwrap();
    exits_until(&mut rig, &mut bridge, &mut exits, "any event", |e| {
        matches!(e, ExitEvent::ExitRejected { .. })
    })
    .await;
    assert_eq!(bridge.in_flight(), 0);
}

// ------------------------------------------------------------------------------ issue 15: unconfirmed orders, rate-limited exits

fn unconfirmed_config(window: Duration, poll: Option<Duration>) -> ManagerConfig {
    ManagerConfig { unconfirmed_window: window, poll_every: poll, ..config(&prices()) }
}

#[tokio::test]
async fn late_booking_after_a_5xx_is_adopted_by_lookup_and_exactly_one_order_exists() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let cfg = unconfirmed_config(Duration::from_secs(600), None);
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    let id = rig.unconfirmed_limit_buy().await;
    // The venue books it late (its engine was still working behind the 5xx).
    let booked = venue.book(&id, &valid_order(&limit_buy()));
    let adopted = rig.order_in(&id, LocalState::Accepted).await;
    assert_eq!(adopted.uuid.as_deref(), Some(booked.uuid.as_str()));
    assert_eq!(venue.place_calls(), vec![id.clone()], "never re-sent");
    assert_eq!(venue.booked().len(), 1, "exactly one order exists");
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Rejected { .. })), "never shown as rejected");
    assert_eq!(rig.handle.status().unconfirmed, 0);
}

#[tokio::test]
async fn unconfirmed_order_is_adopted_from_the_private_stream() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    // No backoff probes left (window over at once), no poll: only the stream can tell.
    let cfg = unconfirmed_config(Duration::ZERO, None);
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    let id = rig.unconfirmed_limit_buy().await;
    let mut o = venue_order("u-late", &id, &valid_order(&limit_buy()));
    o.state = OrderState::Wait;
    // A myOrder event of the late booking, with a fill.
    rig.handle.apply_fill(fill("t-late", "u-late", dec!(0.0004))).await.unwrap();
    rig.handle.apply_venue_update(o).await.unwrap();
    let adopted = rig.order_in(&id, LocalState::PartiallyFilled).await;
    assert_eq!(adopted.uuid.as_deref(), Some("u-late"));
    assert_eq!(adopted.executed_volume, dec!(0.0004), "the early fill is counted once");
    assert_eq!(venue.place_calls().len(), 1);
}

#[tokio::test]
async fn unconfirmed_order_past_its_window_is_still_checked_and_adopted_by_the_poll() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let cfg = unconfirmed_config(Duration::ZERO, Some(Duration::from_millis(20)));
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    let id = rig.unconfirmed_limit_buy().await;
    let booked = venue.book(&id, &valid_order(&limit_buy()));
    // Filled at once (a market order would never show in the open list): the poll's
    // lookup by identifier finds it anyway.
    venue.fill_completely(&booked.uuid, "t-poll", dec!(0.001));
    rig.order_in(&id, LocalState::Filled).await;
    assert!(rig.saw_fill("t-poll"));
    assert_eq!(venue.place_calls().len(), 1);
}

#[tokio::test]
async fn cancel_of_an_unconfirmed_order_waits_for_it_to_appear() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let mut rig =
        reconciled_with(unconfirmed_config(Duration::from_secs(600), None), Arc::new(venue.clone())).await;
    let id = rig.unconfirmed_limit_buy().await;
    rig.handle.cancel_all(None).await.unwrap();
    rig.until("cancels done", |e| matches!(e, OrderEvent::CancelsDone { market: None })).await;
    venue.book(&id, &valid_order(&limit_buy()));
    rig.order_in(&id, LocalState::Canceled).await;
    assert!(venue.cancel_calls() >= 1);
}

#[tokio::test]
async fn rate_limited_create_is_looked_up_before_it_is_closed() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::Reject("rate_limited", false));
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let gets_before = venue.inner.st.lock().unwrap().get_calls;
    let id = rig.place(limit_buy()).await.unwrap();
    let closed = rig.order_in(&id, LocalState::Rejected).await;
    let reason = closed.reason.unwrap();
    assert!(reason.contains("rate_limited") && reason.contains("confirmed absent"), "{reason}");
    assert_eq!(venue.inner.st.lock().unwrap().get_calls, gets_before + 1, "one lookup before closing");
}

#[tokio::test]
async fn private_stream_drop_resyncs_orders_and_balances_at_once() {
    let venue = FakeVenue::new();
    // No poll: only the resync can find what the stream lost.
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let (id, uuid) = rig.accepted_limit_buy().await;
    // Filled while the stream's queue dropped the update.
    venue.fill_completely(&uuid, "t-lost", dec!(0.001));
    rig.handle
        .command(OrderCommand::Resync("private stream lagged (3 event(s) dropped)".into()))
        .await
        .unwrap();
    rig.order_in(&id, LocalState::Filled).await;
    rig.until("balances", |e| matches!(e, OrderEvent::Balances(_))).await;
    assert!(rig.seen.iter().any(|e| matches!(e, OrderEvent::Info(s) if s.contains("resynced"))), "visible");
}

async fn sim_with_btc() -> (TaskManager, hoga::sim::SimHandle) {
    let (tasks, sim) = still_sim(5, |c| c.coins = vec![("BTC".into(), dec!(1), dec!(90000000))]).await;
    sim.set_price("KRW-BTC", dec!(100000000));
    (tasks, sim)
}

fn sim_venue(
    sim: &hoga::sim::SimHandle,
) -> (Arc<hoga::exchange::upbit::rest::RestClient>, Arc<dyn OrderVenue>) {
    let creds =
        hoga::exchange::upbit::auth::Credentials::new(hoga::sim::DEMO_ACCESS_KEY, hoga::sim::DEMO_SECRET_KEY);
    let rest = Arc::new(hoga::exchange::upbit::rest::RestClient::new(sim_rest(sim), Some(creds)).unwrap());
    let venue: Arc<dyn OrderVenue> = Arc::new(hoga::exchange::upbit::venue::UpbitVenue::new(rest.clone()));
    (rest, venue)
}

fn sim_config(window: Duration) -> ManagerConfig {
    ManagerConfig {
        probe_interval: Duration::from_millis(50),
        unconfirmed_window: window,
        unconfirmed_backoff_max: Duration::from_millis(400),
        ..config(&prices())
    }
}

#[tokio::test]
async fn simulator_books_an_order_late_after_a_503_and_it_is_adopted_exactly_once() {
    let (sim_tasks, sim) = sim_with_btc().await;
    let (_rest, venue) = sim_venue(&sim);
    // Answered 503, booked 1.5 s later: three lookups 50 ms apart all miss it.
    sim.faults.late_orders(1, Duration::from_millis(1500), 503);
    let mut rig = reconciled_with(sim_config(Duration::from_secs(60)), venue.clone()).await;
    let id = rig.place(OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.001))).await.unwrap();
    rig.order_in(&id, LocalState::Unconfirmed).await;
    let adopted = rig.order_in(&id, LocalState::Accepted).await;
    assert!(adopted.uuid.is_some());
    let open = venue.open_orders(None).await.unwrap();
    assert_eq!(open.len(), 1, "exactly one order exists: {open:?}");
    assert_eq!(open[0].identifier.as_deref(), Some(id.as_str()));
    assert_eq!(sim.requests.count("POST", "/v1/orders"), 1, "{:?}", sim.requests.counts());
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Rejected { .. })), "never rejected");
    rig.tasks.root_token().cancel();
    sim.stop();
    sim_tasks.root_token().cancel();
}

#[tokio::test]
async fn simulator_lookup_lagging_the_book_does_not_close_the_order() {
    let (sim_tasks, sim) = sim_with_btc().await;
    let (_rest, venue) = sim_venue(&sim);
    // Booked, reply lost; the lookups miss it for 1.5 s.
    sim.faults.set_lookup_lag(Duration::from_millis(1500));
    sim.faults.ambiguous_orders(1);
    sim.faults.set_hang(Duration::from_millis(600));
    let mut rig = reconciled_with(sim_config(Duration::from_secs(60)), venue.clone()).await;
    let id = rig.place(OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.001))).await.unwrap();
    let adopted = rig.order_in(&id, LocalState::Accepted).await;
    assert!(adopted.uuid.is_some());
    assert!(rig.seen.iter().any(
        |e| matches!(e, OrderEvent::OrderUpdated(o) if o.identifier == id && o.state == LocalState::Unconfirmed)
    ));
    assert!(!rig.seen.iter().any(|e| matches!(e, OrderEvent::Rejected { .. })), "never rejected");
    assert_eq!(venue.open_orders(None).await.unwrap().len(), 1);
    rig.tasks.root_token().cancel();
    sim.stop();
    sim_tasks.root_token().cancel();
}

#[tokio::test]
async fn protective_exit_under_a_429_storm_is_looked_up_before_each_resend_and_exists_once() {
    exit_through_a_429_storm(Duration::from_secs(3), 6).await;
}

/// The issue's figure: a 30-second storm (the test runs about 31 s).
#[tokio::test]
async fn protective_exit_under_a_30_second_429_storm_sends_a_bounded_number_of_creates() {
    exit_through_a_429_storm(Duration::from_secs(30), 8).await;
}

/// The order group answers 429 for `storm` (the limiter pauses it 1 s, 2 s, 4 s, … 16 s);
/// the exit is re-sent under its next identifier after each refusal, as the monitor
/// does, and each refused identifier must have been looked up first.
async fn exit_through_a_429_storm(storm: Duration, max_creates: u64) {
    let (sim_tasks, sim) = sim_with_btc().await;
    let (rest, venue) = sim_venue(&sim);
    let mut rig = reconciled_with(sim_config(Duration::from_secs(60)), venue.clone()).await;
    sim.faults.limit_storm("order", 429, storm, None);
    let started = tokio::time::Instant::now();
    let mut bridge = ExitBridge::new();
    // A resting limit sell stands in for the exit, so it is still open at the end.
    let exit = |attempt: u32| stop_loss_exit(&format!("sl-storm-a{attempt}"), "sl-storm", OrderType::Limit);
    let place = |cmd: OrderCommand| match cmd {
        OrderCommand::Place { origin, identifier, selected, .. } => OrderCommand::Place {
            spec: PlaceSpec::Request(OrderRequest::limit(btc(), Side::Ask, dec!(105000000), dec!(0.001))),
            origin,
            identifier,
            selected,
            reply: None,
        },
        other => other,
    };
    let mut attempt = 0;
    rig.handle.command(place(bridge.command(exit(attempt)))).await.unwrap();
    // Quotation calls proceed during the storm (their group is not paused).
    let t = rest.tickers(&[btc()]).await.unwrap();
    assert_eq!(t.len(), 1);
    loop {
        // The limiter's pause between creates grows to 16 s: wait longer than `until` does.
        let e = tokio::time::timeout(Duration::from_secs(60), rig.events.recv())
            .await
            .expect("deadline waiting for an exit result")
            .expect("event channel closed");
        match bridge.on_event(&e).pop() {
            Some(ExitEvent::ExitAccepted { identifier }) => {
                assert_eq!(identifier, format!("sl-storm-a{attempt}"));
                break;
            }
            Some(ExitEvent::ExitRejected { identifier, reason, .. }) => {
                assert!(reason.contains("rate_limited"), "{reason}");
                // The refused identifier was looked up before anyone may re-send.
                let looked_up =
                    sim.requests.entries().iter().any(|r| {
                        r.method == "GET" && r.path == "/v1/order" && r.detail.contains(&identifier)
                    });
                assert!(looked_up, "{identifier} not looked up before the re-send");
                attempt += 1;
                assert!(u64::from(attempt) < max_creates, "too many attempts");
                rig.handle.command(place(bridge.command(exit(attempt)))).await.unwrap();
            }
            _ => {}
        }
    }
    assert!(started.elapsed() >= storm, "the exit went through only after the storm");
    let creates = sim.requests.count("POST", "/v1/orders");
    let lookups = sim.requests.count("GET", "/v1/order");
    eprintln!("429 storm of {storm:?}: {attempt} re-sends, {creates} creates, {lookups} lookups");
    assert!(creates <= max_creates, "bounded creates during a {storm:?} storm: {creates}");
    let open = venue.open_orders(None).await.unwrap();
    let exits: Vec<_> =
        open.iter().filter(|o| o.identifier.as_deref().is_some_and(|i| i.starts_with("sl-storm"))).collect();
    assert_eq!(exits.len(), 1, "exactly one exit order exists: {open:?}");
    rig.tasks.root_token().cancel();
    sim.stop();
    sim_tasks.root_token().cancel();
}

/// Issue 15 items 7 and 8: an exit whose create went unanswered and is not found becomes
/// UNCONFIRMED; the bridge reports no result for it, so the monitor neither fails the
/// rule nor sends a second exit while the first may exist; when it appears it is adopted
/// and reported as accepted.
#[tokio::test]
async fn an_unconfirmed_exit_holds_its_rule_and_is_never_sent_twice() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let mut rig =
        reconciled_with(unconfirmed_config(Duration::from_secs(600), None), Arc::new(venue.clone())).await;
    let mut bridge = ExitBridge::new();
    let exit = stop_loss_exit("sl-u-a0", "sl-u", OrderType::Market);
    rig.handle.command(bridge.command(exit.clone())).await.unwrap();
    let mut results = Vec::new();
    loop {
        let e = rig.until("unconfirmed exit", |_| true).await;
        results.extend(bridge.on_event(&e));
        if matches!(&e, OrderEvent::OrderUpdated(o) if o.identifier == "sl-u-a0" && o.state == LocalState::Unconfirmed)
        {
            break;
        }
    }
    assert!(results.is_empty(), "no result for an unconfirmed exit: {results:?}");
    assert_eq!(bridge.in_flight(), 1, "the exit stays in flight");
    // The same action again (a monitor restart) is answered from the journal, not sent.
    rig.handle.command(bridge.command(exit)).await.unwrap();
    // It was booked after all.
    let req = OrderRequest::market_sell(btc(), dec!(0.001));
    let v = hoga::trading::orders::validate(
        &req,
        &hoga::trading::orders::MarketRules::upbit_default(&btc()),
        Some(dec!(99999000)),
    )
    .unwrap();
    venue.book("sl-u-a0", &v);
    exits_until(&mut rig, &mut bridge, &mut results, "adopted exit", |e| {
        matches!(e, ExitEvent::ExitAccepted { .. })
    })
    .await;
    assert!(!results.iter().any(|e| matches!(e, ExitEvent::ExitRejected { .. })));
    assert_eq!(venue.place_calls(), vec!["sl-u-a0".to_string()], "exactly one create");
    assert_eq!(venue.booked().len(), 1, "exactly one exit exists");
}

#[test]
fn a_version_1_journal_is_migrated_and_keeps_its_orders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        // The schema as version 1 wrote it, with one in-flight intent.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES('schema_version','1');
             CREATE TABLE orders(
                identifier TEXT PRIMARY KEY, uuid TEXT, market TEXT NOT NULL, side TEXT NOT NULL,
                ord_type TEXT NOT NULL, price TEXT, volume TEXT, time_in_force TEXT,
                state TEXT NOT NULL, executed_volume TEXT NOT NULL, executed_funds TEXT NOT NULL,
                paid_fee TEXT NOT NULL, reason TEXT, rule_id TEXT, origin TEXT NOT NULL,
                probes INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
             INSERT INTO orders VALUES('old-1',NULL,'KRW-BTC','bid','limit','100','1',NULL,'submitted',
                '0','0','0',NULL,NULL,'manual',0,1,1);",
        )
        .unwrap();
    }
    let j = Journal::open(&path, &JournalOptions::default()).unwrap();
    assert_eq!(j.schema_version().unwrap(), 2);
    let open = j.open_orders().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, LocalState::Submitted);
    let since = j.mark_unconfirmed("old-1").unwrap();
    let mut o = open[0].clone();
    o.state = LocalState::Unconfirmed;
    j.update_order(&o).unwrap();
    drop(j);
    // Reopened: migrated once; the unconfirmed state and its start time are kept.
    let j = Journal::open(&path, &JournalOptions::default()).unwrap();
    assert_eq!(j.schema_version().unwrap(), 2);
    assert_eq!(j.open_orders().unwrap()[0].state, LocalState::Unconfirmed, "still open, not rejected");
    assert_eq!(j.mark_unconfirmed("old-1").unwrap(), since, "the window does not restart");
}

/// Issue 15 item 9 end to end: the account pump stalls (the manager it feeds is blocked),
/// the private stream's lossless queue overflows and drops, and as soon as the pump moves
/// again it resyncs orders and balances by REST and says so in the store's alerts.
#[tokio::test]
async fn private_stream_queue_drop_triggers_an_immediate_visible_rest_resync() {
    use hoga::feed::{ConnState, FeedConfig, FeedManager};
    use hoga::store::{Store, StoreConfig};
    use hoga::trading::monitor::{Monitor, MonitorConfig, MonitorDeps, TradingStateHandle};

    let (sim_tasks, sim) = sim_with_btc().await;
    let (rest, venue) = sim_venue(&sim);
    let tasks = TaskManager::new();
    // A manager whose events nobody reads yet: it blocks, and so does the pump feeding it.
    let cfg = ManagerConfig { command_capacity: 1, event_capacity: 1, ..config(&prices()) };
    let (manager, mut events) =
        OrderManager::start(&tasks, cfg, Journal::in_memory().unwrap(), venue.clone()).unwrap();
    let (notify, _notes) = hoga::notify::NotifySender::channel(256);
    let (monitor, _actions) = Monitor::spawn(
        &tasks,
        MonitorConfig::default(),
        MonitorDeps { journal: None, notify, trading: TradingStateHandle::new() },
    )
    .unwrap();
    let store = Store::start(&tasks, StoreConfig::default());
    let creds =
        hoga::exchange::upbit::auth::Credentials::new(hoga::sim::DEMO_ACCESS_KEY, hoga::sim::DEMO_SECRET_KEY);
    let mut fc = FeedConfig::new(rest.clone(), Some(creds))
        .with_ws_base(sim.ws_public_url.trim_end_matches("/websocket/v1"));
    fc.lossless_capacity = 2;
    fc.lossless_stall = Duration::from_millis(50);
    fc.rest_gap_fill = false;
    let feed = FeedManager::start(fc, &tasks);
    hoga::console::trade::spawn_account(
        &tasks,
        &feed,
        Some(rest.clone()),
        None,
        (manager.clone(), monitor),
        store.clone(),
    );
    until("the private stream subscribed", || {
        feed.health()
            .connections
            .iter()
            .any(|c| c.name.contains("private") && c.state == ConnState::Connected)
            && sim.subscriptions().values().any(|s| s.private && s.types.iter().any(|t| t.ty == "myOrder"))
    })
    .await;
    // A burst of private events (an order and a balance change each) while the pump is stuck.
    let rules = hoga::trading::orders::MarketRules::upbit_default(&btc());
    for i in 0..6 {
        let req = OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.001));
        let v = hoga::trading::orders::validate(&req, &rules, None).unwrap();
        venue.place(format!("burst-{i}"), v).await.unwrap();
    }
    let lists_before = sim.requests.count("GET", "/v1/orders/open");
    let accounts_before = sim.requests.count("GET", "/v1/accounts");
    // Let the router give up on the full queue (it waits `lossless_stall` per stall).
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Unblock: read the manager's events from now on.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    tasks.spawn("test", "drain", move |cancel| async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                e = events.recv() => match e { Some(e) => s2.lock().unwrap().push(e), None => return Ok(()) },
            }
        }
    });
    let alert = until_some("the resync alert", || {
        let snap = store.snapshot();
        snap.system
            .alerts
            .iter()
            .find(|a| a.message.contains("private stream lagged"))
            .map(|a| a.message.clone())
    })
    .await;
    assert!(alert.contains("resynced"), "{alert}");
    until("the manager's resync", || {
        seen.lock().unwrap().iter().any(|e| matches!(e, OrderEvent::Info(s) if s.contains("resynced")))
    })
    .await;
    assert!(sim.requests.count("GET", "/v1/orders/open") > lists_before, "open orders fetched again");
    assert!(sim.requests.count("GET", "/v1/accounts") > accounts_before, "balances fetched again");
    // The resync adopted the burst's orders the stream lost.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while manager.status().open_orders < 6 {
        assert!(tokio::time::Instant::now() < deadline, "orders not resynced: {:?}", manager.status());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tasks.root_token().cancel();
    sim.stop();
    sim_tasks.root_token().cancel();
}

// ------------------------------------------------------------------ issue 15: shared limits, 401s

/// A small stateful Upbit on loopback for the REST tests of issue 15: books limit orders
/// (echoing our identifier), answers lookups, cancels and listings, serves one ticker, and
/// answers `POST /orders` from `create_script` first (status, extra header, body).
#[derive(Clone, Default)]
struct MiniUpbit {
    /// (uuid, identifier, state).
    orders: Arc<Mutex<Vec<(String, String, String)>>>,
    create_script: Arc<Mutex<VecDeque<MiniAnswer>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

/// A scripted answer: status, one extra header, body.
type MiniAnswer = (u16, Option<(&'static str, &'static str)>, String);

fn mini_order_json(uuid: &str, identifier: &str, state: &str) -> String {
    format!(
        r#"{{"uuid":"{uuid}","side":"bid","ord_type":"limit","price":"100000000","state":"{state}","market":"KRW-BTC","created_at":"2026-01-01T00:00:00+09:00","volume":"0.001","remaining_volume":"0.001","executed_volume":"0","reserved_fee":"50","remaining_fee":"50","paid_fee":"0","locked":"100050","trades_count":0,"identifier":"{identifier}"}}"#
    )
}

impl MiniUpbit {
    async fn start() -> (MiniUpbit, String) {
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let me = MiniUpbit::default();
        let s = me.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: String| {
            let s = s.clone();
            async move {
                let path = uri.path().to_string();
                s.hits.lock().unwrap().push(format!("{method} {path}"));
                let query: HashMap<String, String> = uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let mut headers = HeaderMap::new();
                let find = |orders: &[(String, String, String)]| {
                    orders
                        .iter()
                        .position(|(u, i, _)| query.get("uuid") == Some(u) || query.get("identifier") == Some(i))
                };
                let (status, body) = match (method.as_str(), path.as_str()) {
                    ("POST", "/v1/orders") => match s.create_script.lock().unwrap().pop_front() {
                        Some((status, header, body)) => {
                            if let Some((k, v)) = header {
                                headers.insert(k, v.parse().unwrap());
                            }
                            (status, body)
                        }
                        None => {
                            let req: serde_json::Value = serde_json::from_str(&body).unwrap();
                            let id = req["identifier"].as_str().unwrap().to_string();
                            let mut orders = s.orders.lock().unwrap();
                            let uuid = format!("u-{}", orders.len() + 1);
                            orders.push((uuid.clone(), id.clone(), "wait".into()));
                            (201, mini_order_json(&uuid, &id, "wait"))
                        }
                    },
                    ("GET", "/v1/order") | ("DELETE", "/v1/order") => {
                        let mut orders = s.orders.lock().unwrap();
                        match find(&orders) {
                            Some(i) => {
                                let answer = mini_order_json(&orders[i].0, &orders[i].1, &orders[i].2);
                                if method == Method::DELETE {
                                    orders[i].2 = "cancel".into();
                                }
                                (200, answer)
                            }
                            None => (404, r#"{"error":{"name":"order_not_found","message":"none"}}"#.into()),
                        }
                    }
                    ("GET", "/v1/orders/open") => {
                        let orders = s.orders.lock().unwrap();
                        let open: Vec<String> = orders
                            .iter()
                            .filter(|(_, _, st)| st == "wait")
                            .map(|(u, i, st)| mini_order_json(u, i, st))
                            .collect();
                        (200, format!("[{}]", open.join(",")))
                    }
                    ("GET", "/v1/accounts") => (200, "[]".into()),
                    ("GET", "/v1/ticker") => (
                        200,
                        r#"[{"market":"KRW-BTC","trade_date":"20260101","trade_time":"000000","trade_date_kst":"20260101","trade_time_kst":"090000","trade_timestamp":1767225600000,"opening_price":1,"high_price":1,"low_price":1,"trade_price":100000000,"prev_closing_price":1,"change":"EVEN","change_price":0,"change_rate":0,"signed_change_price":0,"signed_change_rate":0,"trade_volume":1,"acc_trade_price":1,"acc_trade_price_24h":1,"acc_trade_volume":1,"acc_trade_volume_24h":1,"highest_52_week_price":1,"highest_52_week_date":"2025-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2025-01-01","timestamp":1767225600000}]"#.into(),
                    ),
                    _ => (404, r#"{"error":{"name":404,"message":"Code not found"}}"#.into()),
                };
                (StatusCode::from_u16(status).unwrap(), headers, body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (me, url)
    }

    fn count(&self, what: &str) -> usize {
        self.hits.lock().unwrap().iter().filter(|h| *h == what).count()
    }
}

fn mini_rest_config(url: &str) -> hoga::exchange::upbit::rest::RestConfig {
    hoga::exchange::upbit::rest::RestConfig {
        base_url: url.to_string(),
        timeout: Duration::from_secs(5),
        read_attempts: 1,
        ..hoga::exchange::upbit::rest::RestConfig::default()
    }
}

fn mini_keys() -> hoga::trading::credentials::ApiKeys {
    hoga::trading::credentials::ApiKeys::new(
        "mini-access-key-0123",
        "mini-secret-key",
        hoga::trading::credentials::KeySource::Env,
    )
}

/// A REST client with `mini_keys()` for the loopback server at `url`.
fn keyed_mini_rest(url: &str) -> hoga::exchange::upbit::rest::RestClient {
    hoga::exchange::upbit::rest::RestClient::new(mini_rest_config(url), Some(mini_keys().to_credentials()))
        .unwrap()
}

/// Issue 15 item 5, as Upbit counts since 2026-06-25: the order client and the
/// market-data client are built apart (as the console builds them) yet share one limiter
/// and ban state per pocket: a 418 drawn by an order call bans the key's pocket, so no
/// exchange call of that key reaches the host during the ban (from either client), while
/// quotation calls (keyed or keyless) go on: a 418 on an exchange call is not an IP ban.
#[tokio::test]
async fn a_418_on_an_order_call_bans_the_pocket_and_quotation_calls_go_on() {
    use hoga::exchange::upbit::error::UpbitError;
    use hoga::exchange::upbit::rest::RestClient;
    let (upbit, url) = MiniUpbit::start().await;
    upbit.create_script.lock().unwrap().push_back((418, Some(("Retry-After", "30")), String::new()));
    let built = build_venue(
        Mode::Demo,
        VenueParams { rest: mini_rest_config(&url), keys: Some(mini_keys()), ..VenueParams::default() },
    )
    .unwrap();
    let market = keyed_mini_rest(&url);
    let public = RestClient::new(mini_rest_config(&url), None).unwrap();
    market.tickers(&[btc()]).await.unwrap();
    assert_eq!(upbit.count("GET /v1/ticker"), 1);

    let valid = valid_order(&limit_buy());
    let e = built.venue.place("hoga-418".into(), valid).await.unwrap_err();
    assert!(matches!(&e, VenueError::Final { code, halt: true, .. } if code == "blocked"), "{e:?}");

    for client in [&market, &public] {
        client.tickers(&[btc()]).await.unwrap();
    }
    assert_eq!(upbit.count("GET /v1/ticker"), 3, "quotation calls go on during a pocket's ban");
    assert!(public.limits_status().blocked_for.is_none(), "a keyless client is not banned");

    // The key's exchange calls are refused locally, from the market client too.
    let accounts_before = upbit.count("GET /v1/accounts");
    let e = market.accounts().await.unwrap_err();
    assert!(matches!(e, UpbitError::Blocked { .. }), "{e:?}");
    assert_eq!(
        upbit.count("GET /v1/accounts"),
        accounts_before,
        "no exchange call reached the banned pocket"
    );
    let st = market.limits_status();
    let left = st.pocket_blocked_for.unwrap();
    assert!(left <= Duration::from_secs(30), "{left:?}");
    assert!(st.blocked_for.is_some() && st.ip_blocked_for.is_none(), "{st:?}");
}

/// Starts an order manager over the real Upbit venue on `MiniUpbit`, rests one order,
/// then scripts `status`/`body` for the next create and places it: returns the rig, the
/// resting order's id, and the halt reason.
async fn halt_by_create_answer(status: u16, body: &str) -> (Rig, MiniUpbit, String, String) {
    let (upbit, url) = MiniUpbit::start().await;
    let built = build_venue(
        Mode::Demo,
        VenueParams { rest: mini_rest_config(&url), keys: Some(mini_keys()), ..VenueParams::default() },
    )
    .unwrap();
    let mut rig = reconciled(built.venue.clone()).await;
    let (resting, _) = rig.accepted_limit_buy().await;
    upbit.create_script.lock().unwrap().push_back((status, None, body.to_string()));
    let refused = rig.place(limit_buy()).await.unwrap();
    rig.order_in(&refused, LocalState::Rejected).await;
    let halted = rig
        .until("HALTED", |e| matches!(e, OrderEvent::TradingState { state: TradingState::Halted, .. }))
        .await;
    let OrderEvent::TradingState { reason, .. } = halted else { unreachable!() };
    assert_eq!(rig.handle.status().trading_state, TradingState::Halted);
    let denied = rig.place(limit_buy()).await.unwrap_err();
    assert!(matches!(denied, Denied::State { .. }), "{denied:?}");
    assert_eq!(upbit.count("POST /v1/orders"), 2, "nothing sent while halted");
    (rig, upbit, resting, reason.unwrap_or_default())
}

/// Issue 15 item 6: Upbit's published IP-allowlist name, over real HTTP, halts trading
/// with the allowlist hint; the resting order can still be cancelled.
#[tokio::test]
async fn no_authorization_i_p_halts_trading_with_the_ip_hint_and_cancels_still_pass() {
    let body = r#"{"error":{"name":"no_authorization_i_p","message":"This is not a verified IP."}}"#;
    let (mut rig, upbit, resting, reason) = halt_by_create_answer(401, body).await;
    assert!(reason.contains("allowlist"), "{reason}");
    rig.handle.cancel(CancelTarget::Order(resting.clone())).await.unwrap();
    rig.order_in(&resting, LocalState::Canceled).await;
    assert_eq!(upbit.count("DELETE /v1/order"), 1);
}

/// Issue 15 item 6: a 401 whose name hoga does not know still halts, with a hint.
#[tokio::test]
async fn an_unknown_401_halts_trading_with_a_hint() {
    let body = r#"{"error":{"name":"some_new_auth_failure","message":"refused"}}"#;
    let (mut rig, _upbit, resting, reason) = halt_by_create_answer(401, body).await;
    assert!(reason.contains("some_new_auth_failure") && reason.contains("hint"), "{reason}");
    rig.handle.cancel(CancelTarget::Order(resting.clone())).await.unwrap();
    rig.order_in(&resting, LocalState::Canceled).await;
}

#[tokio::test]
async fn a_cancel_asked_before_any_answer_waits_while_unconfirmed_and_is_sent_when_it_appears() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let mut rig =
        reconciled_with(unconfirmed_config(Duration::from_secs(600), None), Arc::new(venue.clone())).await;
    let id = rig.place(limit_buy()).await.unwrap();
    rig.until("awaiting confirmation", |e| {
        matches!(e, OrderEvent::OrderUpdated(o) if o.identifier == id
            && o.reason.as_deref().is_some_and(|r| r.contains("awaiting confirmation")))
    })
    .await;
    rig.handle.cancel(CancelTarget::Order(id.clone())).await.unwrap();
    rig.order_in(&id, LocalState::Unconfirmed).await;
    venue.book(&id, &valid_order(&limit_buy()));
    rig.order_in(&id, LocalState::Canceled).await;
    assert_eq!(venue.place_calls().len(), 1);
}

// ------------------------------------------------------------------------------ values hoga does not know (issue 15, item 4)

/// A loopback Upbit for the order manager: `GET /v1/orders/open` lists an order of a type
/// hoga does not know (`stop_limit`), a normal limit order and a foreign order whose side
/// hoga does not know; creates are booked under the identifier sent; a cancel answers
/// `cancel`. Returns the base URL and the create calls seen.
async fn upbit_with_odd_open_orders(tasks: &TaskManager) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::{Method, StatusCode, Uri};
    let order = |uuid: &str, side: &str, ord_type: &str, state: &str, identifier: Option<&str>| {
        let identifier = identifier.map(|i| format!(r#","identifier":"{i}""#)).unwrap_or_default();
        format!(
            r#"{{"uuid":"{uuid}","side":"{side}","ord_type":"{ord_type}","price":"90000000","state":"{state}","market":"KRW-BTC","created_at":"2026-01-01T00:00:00+09:00","volume":"0.01","remaining_volume":"0.01","executed_volume":"0","reserved_fee":"0","remaining_fee":"0","paid_fee":"0","locked":"0.01","trades_count":0{identifier}}}"#
        )
    };
    let creates: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = creates.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: String| {
        let seen = seen.clone();
        async move {
            let query = uri.query().unwrap_or_default().to_string();
            let (status, body) = match (method.as_str(), uri.path()) {
                ("GET", "/v1/orders/open") => (
                    StatusCode::OK,
                    format!(
                        "[{},{},{}]",
                        order("u-stop", "ask", "stop_limit", "watch", None),
                        order("u-limit", "bid", "limit", "wait", Some("web-1")),
                        order("u-odd", "both", "limit", "wait", None),
                    ),
                ),
                ("GET", "/v1/accounts") => (
                    StatusCode::OK,
                    r#"[{"currency":"KRW","balance":"100000000","locked":"0","avg_buy_price":"0","avg_buy_price_modified":false,"unit_currency":"KRW"}]"#.to_string(),
                ),
                ("POST", "/v1/orders") => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let id = v["identifier"].as_str().unwrap_or_default().to_string();
                    seen.lock().unwrap().push(id.clone());
                    (StatusCode::CREATED, order("u-new", "bid", "limit", "wait", Some(&id)))
                }
                ("DELETE", "/v1/order") if query.contains("u-stop") => {
                    (StatusCode::OK, order("u-stop", "ask", "stop_limit", "cancel", None))
                }
                _ => (
                    StatusCode::NOT_FOUND,
                    r#"{"error":{"name":"order_not_found","message":"not found"}}"#.to_string(),
                ),
            };
            (status, [("content-type", "application/json")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tasks.spawn("test", "odd-upbit", move |cancel| async move {
        axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await?;
        Ok(())
    });
    (url, creates)
}

/// A keyed REST client for a loopback Upbit at `url`, one attempt per read.
fn loopback_rest(url: String) -> hoga::exchange::upbit::rest::RestClient {
    use hoga::exchange::upbit::auth::Credentials;
    use hoga::exchange::upbit::rest::{RestClient, RestConfig};
    RestClient::new(
        RestConfig { base_url: url, read_attempts: 1, ..RestConfig::default() },
        Some(Credentials::new("test-access-key-0123", "test-secret-key")),
    )
    .unwrap()
}

#[tokio::test]
async fn open_orders_of_a_type_hoga_does_not_know_are_tracked_and_reconciliation_completes() {
    use hoga::exchange::upbit::venue::UpbitVenue;
    let tasks = TaskManager::new();
    let (url, creates) = upbit_with_odd_open_orders(&tasks).await;
    let rest = loopback_rest(url);
    let venue: Arc<dyn OrderVenue> = Arc::new(UpbitVenue::new(Arc::new(rest)));
    let mut rig = start(Journal::in_memory().unwrap(), venue);
    // Before the fix the whole listing failed to decode: reconciliation never completed.
    let done = rig.until("reconciliation", |e| matches!(e, OrderEvent::Reconciled { .. })).await;
    assert!(matches!(done, OrderEvent::Reconciled { adopted: 2, .. }), "{done:?}");
    // Adopted while the listing was read, before reconciliation was reported.
    let stop = rig.last_update("uuid:u-stop");
    assert_eq!(stop.state, LocalState::Accepted);
    assert_eq!((stop.request.ord_type, stop.request.side), (OrderType::Other("stop_limit"), Side::Ask));
    assert_eq!(stop.request.ord_type.as_str(), "stop_limit");
    let status = rig.handle.status();
    assert!(status.reconciled, "{status:?}");
    assert_eq!(status.open_orders, 2, "both known-side orders are tracked and count as open");
    assert_eq!(status.unsided_foreign, 1, "the order with an unknown side is counted, not tracked");
    // New orders are allowed, and reach the exchange.
    let (id, _) = rig.accepted_limit_buy().await;
    assert_eq!(*creates.lock().unwrap(), vec![id]);
    // The order of an unknown type can be cancelled, never sent.
    rig.handle.cancel(CancelTarget::Order("uuid:u-stop".into())).await.unwrap();
    rig.order_in("uuid:u-stop", LocalState::Canceled).await;
    let again = OrderRequest { ord_type: OrderType::Other("stop_limit"), ..limit_buy() };
    assert!(matches!(rig.place(again).await, Err(Denied::Combination(_))));
    assert_eq!(creates.lock().unwrap().len(), 1);
    tasks.root_token().cancel();
    rig.tasks.root_token().cancel();
}

#[tokio::test]
async fn a_my_order_frame_with_an_unknown_side_still_moves_our_order_and_fills_it_on_our_side() {
    use hoga::console::trade::update_to_order;
    use hoga::exchange::api::StreamEvent;
    use hoga::exchange::upbit::ws::{Decoded, decode};
    let venue = FakeVenue::new();
    let mut rig = reconciled(Arc::new(venue.clone())).await;
    let id = rig.place(OrderRequest::limit(btc(), Side::Bid, dec!(100000000), dec!(0.002))).await.unwrap();
    let acked = rig.order_in(&id, LocalState::Accepted).await;
    let uuid = acked.uuid.unwrap();
    // Upbit names the side with a value hoga does not know: the frame is still used (state,
    // executed volume, fill), with the side of the order hoga placed.
    let frame = format!(
        r#"{{"type":"myOrder","code":"KRW-BTC","uuid":"{uuid}","ask_bid":"BOTH","order_type":"limit","state":"trade","trade_uuid":"t-odd","price":100000000,"volume":0.001,"remaining_volume":0.001,"executed_volume":0.001,"trades_count":1,"reserved_fee":0,"remaining_fee":0,"paid_fee":50,"locked":100050,"executed_funds":100000,"trade_fee":50,"identifier":"{id}","order_timestamp":1,"timestamp":1}}"#
    );
    let update = match decode(frame.as_bytes()).unwrap() {
        Decoded::Event(StreamEvent::Order(u)) => u,
        other => panic!("{other:?}"),
    };
    assert_eq!(update.side, None, "never guessed");
    // As the account pump forwards it.
    if let Some(f) = &update.fill {
        rig.handle.apply_fill(f.clone()).await.unwrap();
    }
    rig.handle.apply_venue_update(update_to_order(&update)).await.unwrap();
    let filled = rig
        .until("the fill", |e| matches!(e, OrderEvent::Filled { fill, .. } if fill.trade_uuid == "t-odd"))
        .await;
    match filled {
        OrderEvent::Filled { fill, identifier, .. } => {
            assert_eq!((identifier.as_str(), fill.side), (id.as_str(), Some(Side::Bid)));
        }
        _ => unreachable!(),
    }
    let moved = rig.order_in(&id, LocalState::PartiallyFilled).await;
    assert_eq!(moved.executed_volume, dec!(0.001));
    let position = rig.last_position();
    assert_eq!(position.volume, dec!(0.001), "bought, on the order's own side");
    rig.tasks.root_token().cancel();
}

#[tokio::test]
async fn a_skipped_order_on_a_full_page_does_not_end_the_open_order_paging() {
    use axum::http::Uri;
    use hoga::exchange::upbit::venue::UpbitVenue;
    let order = |n: usize| {
        format!(
            r#"{{"uuid":"u-{n}","side":"bid","ord_type":"limit","price":"100","state":"wait","market":"KRW-BTC","created_at":"2026-01-01T00:00:00+09:00","volume":"1","remaining_volume":"1","executed_volume":"0","reserved_fee":"0","remaining_fee":"0","paid_fee":"0","locked":"100","trades_count":0}}"#
        )
    };
    // Page 1: 100 items, one of them unusable; page 2: one more order.
    let app = axum::Router::new().fallback(move |uri: Uri| async move {
        let q = uri.query().unwrap_or_default();
        let items: Vec<String> = if q.contains("page=1&") {
            (0..100).map(|n| if n == 50 { r#"{"uuid":"broken"}"#.to_string() } else { order(n) }).collect()
        } else if q.contains("page=2&") {
            vec![order(100)]
        } else {
            vec![]
        };
        ([("content-type", "application/json")], format!("[{}]", items.join(",")))
    });
    let tasks = TaskManager::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tasks.spawn("test", "paged-upbit", move |cancel| async move {
        axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await?;
        Ok(())
    });
    let rest = loopback_rest(url);
    let open = UpbitVenue::new(Arc::new(rest)).open_orders(None).await.unwrap();
    assert_eq!(open.len(), 100, "99 usable orders of page 1 and the one of page 2");
    assert!(open.iter().any(|o| o.uuid == "u-100"));
    tasks.root_token().cancel();
}

// ------------------------------------------------------------------ issue 15: case 39, the key probe

/// A loopback Upbit for the startup key probe: answers `GET /orders/chance` and
/// `POST /orders/test` with the given (status, body) and records every call.
async fn key_probe_fake(
    chance: (u16, &'static str),
    dry_run: (u16, &'static str),
) -> (Arc<Mutex<Vec<String>>>, String) {
    use axum::http::{Method, StatusCode, Uri};
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri| {
        let h = h.clone();
        async move {
            let call = format!("{method} {}", uri.path());
            h.lock().unwrap().push(call.clone());
            let (status, body) = match call.as_str() {
                "GET /v1/orders/chance" => chance,
                "POST /v1/orders/test" => dry_run,
                _ => (404, r#"{"error":{"name":404,"message":"Code not found"}}"#),
            };
            (StatusCode::from_u16(status).unwrap(), body.to_string())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hits, url)
}

const OUT_OF_SCOPE: &str = r#"{"error":{"name":"out_of_scope","message":"권한이 부족합니다."}}"#;

/// RELIABILITY case 39: a live key without the Make Orders permission is reported at
/// startup — trading HALTED with the finding and the hint, an alert in the store — by
/// the harmless probes only (a read and Upbit's dry-run order), never a real create.
/// Before, nothing looked: the first order found out.
#[tokio::test]
async fn a_live_key_without_make_orders_is_reported_at_startup_by_a_harmless_probe() {
    use hoga::store::{Store, StoreConfig};
    use hoga::trading::monitor::TradingStateHandle;
    let (hits, url) = key_probe_fake((200, "{}"), (401, OUT_OF_SCOPE)).await;
    let rest = Arc::new(keyed_mini_rest(&url));
    let findings = hoga::exchange::rest::RestApi::probe_key(&*rest, &btc()).await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("Make Orders") && findings[0].contains("out_of_scope"), "{findings:?}");
    assert!(findings[0].contains("permission"), "the hint: {findings:?}");

    let tasks = TaskManager::new();
    let store = Store::start(&tasks, StoreConfig::default());
    let trading = TradingStateHandle::new();
    // The console's way: the finding is a halt on the Safety lane.
    let bus: hoga::bus::Bus<hoga::console::event::AppEvent> = hoga::bus::Bus::new(Default::default());
    hoga::console::safety::subscribe(&bus, store.clone(), trading.clone());
    hoga::console::safety::spawn_key_probe(&tasks, bus.clone(), rest.clone(), btc());
    bus.spawn_dispatcher(&tasks);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while trading.state() != TradingState::Halted
        || !store.snapshot().system.alerts.iter().any(|a| a.message.contains("Make Orders"))
    {
        assert!(tokio::time::Instant::now() < deadline, "not reported: {:?}", trading.status());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(trading.status().reason.contains("Make Orders"), "{:?}", trading.status());
    let hits = hits.lock().unwrap();
    assert!(hits.iter().all(|h| h == "GET /v1/orders/chance" || h == "POST /v1/orders/test"), "{hits:?}");
    assert!(!hits.iter().any(|h| h == "POST /v1/orders"), "no real order");
    tasks.root_token().cancel();
}

/// The probe's other answers: a business refusal of the dry run (the key may trade; this
/// account has no funds) finds nothing; a key refused on the read names View Orders.
#[tokio::test]
async fn the_key_probe_tells_a_missing_permission_from_a_business_refusal() {
    let funds =
        r#"{"error":{"name":"insufficient_funds_bid","message":"주문가능한 금액(KRW)이 부족합니다."}}"#;
    let (_hits, url) = key_probe_fake((200, "{}"), (400, funds)).await;
    let rest = keyed_mini_rest(&url);
    assert!(hoga::exchange::rest::RestApi::probe_key(&rest, &btc()).await.is_empty());

    let (_hits, url) = key_probe_fake((401, OUT_OF_SCOPE), (201, "{}")).await;
    let rest = keyed_mini_rest(&url);
    let findings = hoga::exchange::rest::RestApi::probe_key(&rest, &btc()).await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("View Orders"), "{findings:?}");
}

// ------------------------------------------------------------------ issue 15: case 6, the whole row

/// Waits until the console's trading state is HALTED.
async fn until_halted(trading: &hoga::trading::monitor::TradingStateHandle) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while trading.state() != TradingState::Halted {
        assert!(tokio::time::Instant::now() < deadline, "not HALTED: {:?}", trading.status());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for the next "trading halted" notification (what the notifier would send).
async fn halt_notification(
    notes: &mut mpsc::Receiver<hoga::notify::NotifyEvent>,
) -> hoga::notify::NotifyEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = notes.recv().await.unwrap();
            if n.kind == hoga::notify::NotifyKind::TradingHalted {
                return n;
            }
        }
    })
    .await
    .expect("no halt notification")
}

/// RELIABILITY case 6, the whole row against the simulator, wired as the console wires it
/// (order manager, monitor, trading-state glue, store, feed): a create answered 418 with
/// a block time (`Retry-After`) bans the key's pocket (Upbit since 2026-06-25; not the IP)
/// - stops the pocket's exchange calls: one is refused locally and never reaches the
///   host, while quotation calls go on; the status bar shows the countdown and whose ban
///   it is ("POCKET BANNED"), the System pane's limits line says what it halts;
/// - sends trading HALTED (the manager's halt becomes the console's);
/// - leaves the websocket running: a new price still arrives over it during the ban;
/// - makes the monitor raise "protection degraded" for the armed rule (its exits cannot
///   be sent while HALTED; the monitor has no REST price fallback, so a ban takes nothing
///   from it — its prices are the websocket's).
#[tokio::test]
async fn a_418_on_a_create_bans_the_pocket_halts_trading_keeps_the_websocket_and_flags_protection_degraded() {
    use hoga::feed::{FeedConfig, FeedManager, Strategy};
    use hoga::notify::NotifySender;
    use hoga::store::{Store, StoreConfig, StoreEvent};
    use hoga::trading::monitor::{Monitor, MonitorConfig, MonitorDeps, TradingStateHandle};
    use hoga::trading::rules::{Level, Rule, RuleKind};

    let (sim_tasks, sim) = still_sim(5, |c| {
        c.coins = vec![("BTC".into(), dec!(1), dec!(90000000))];
        c.block_time = Duration::from_secs(600);
    })
    .await;
    sim.set_price("KRW-BTC", dec!(100000000));
    let (rest, venue) = sim_venue(&sim);

    let tasks = TaskManager::new();
    let (manager, events) =
        OrderManager::start(&tasks, config(&prices()), Journal::in_memory().unwrap(), venue).unwrap();
    let (notify, mut notes) = NotifySender::channel(256);
    let trading = TradingStateHandle::new();
    let (monitor, actions) = Monitor::spawn(
        &tasks,
        MonitorConfig::default(),
        MonitorDeps { journal: None, notify: notify.clone(), trading: trading.clone() },
    )
    .unwrap();
    let store = Store::start(&tasks, StoreConfig::default());
    let bus: hoga::bus::Bus<hoga::console::event::AppEvent> = hoga::bus::Bus::new(Default::default());
    hoga::console::wire_trading(
        &tasks,
        &bus,
        hoga::console::TradingParts {
            manager: manager.clone(),
            events,
            monitor: monitor.clone(),
            actions,
            notify,
            store: store.clone(),
            trading: trading.clone(),
        },
    );
    bus.spawn_dispatcher(&tasks);
    let mut fc =
        FeedConfig::new(rest.clone(), None).with_ws_base(sim.ws_public_url.trim_end_matches("/websocket/v1"));
    fc.rest_gap_fill = false;
    let feed = FeedManager::start(fc, &tasks);
    let proxy = feed.proxy("prices");
    let mut tickers = proxy.subscribe_ticker(&[btc()], Strategy::Lossless);

    // A protected position: the rule is armed (a stop far below the price).
    let stop = Rule::new(btc(), RuleKind::StopLoss(Level::Price(dec!(50000000))), None);
    monitor.position(btc(), dec!(0.01), dec!(100000000)).await.unwrap();
    monitor.add_rule(stop).await.unwrap();
    manager.wait_reconciled().await.unwrap();

    // The 418 on a create.
    sim.faults.force_limit("order", 418, Some(1));
    manager.place(PlaceSpec::Request(limit_buy()), Origin::Manual, None, None).await.unwrap();
    until_halted(&trading).await;
    let degraded = halt_notification(&mut notes).await;
    assert!(degraded.text.contains("protection degraded: 1 TP/SL rules"), "{}", degraded.text);

    // The pocket's exchange calls stop and never reach the host; quotation calls go on.
    let accounts_before = sim.requests.count("GET", "/v1/accounts");
    let e = rest.accounts().await.unwrap_err();
    assert!(matches!(e, hoga::exchange::upbit::error::UpbitError::Blocked { .. }), "{e:?}");
    assert_eq!(sim.requests.count("GET", "/v1/accounts"), accounts_before, "no exchange call during the ban");
    let tickers_before = sim.requests.count("GET", "/v1/ticker");
    rest.tickers(&[btc()]).await.unwrap();
    assert_eq!(sim.requests.count("GET", "/v1/ticker"), tickers_before + 1, "quotation calls go on");
    let limits = rest.limits_status();
    assert!(limits.ip_blocked_for.is_none(), "not an IP ban: {limits:?}");
    let left = limits.pocket_blocked_for.expect("the pocket is banned");
    assert!(left > Duration::from_secs(60) && left <= Duration::from_secs(600), "{left:?}");
    assert!(store.try_send(StoreEvent::FeedHealthUpdated(Arc::new(feed.health()))), "store full");
    until("the countdown in the store", || store.snapshot().system.feed.rest_blocked_secs().is_some()).await;
    let snap = store.snapshot();
    let area = ratatui::layout::Rect::new(0, 0, 120, 30);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    let ui = hoga::ui::UiState::new(hoga::ui::UiConfig::default());
    hoga::ui::render(area, &mut buf, &ui, &snap, &hoga::ui::Theme::default());
    let screen: String = buf.content.iter().map(|c| c.symbol()).collect();
    assert!(
        screen.contains("POCKET BANNED") && !screen.contains("REST BANNED"),
        "the status bar shows whose ban it is"
    );
    let line = hoga::ui::panes::limits::line(&limits, &hoga::ui::Theme::default()).expect("a limits line");
    let line: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    assert!(line.contains("banned (418): this pocket's exchange calls for"), "{line}");
    assert!(!line.contains("every call"), "{line}");

    // Market data over the websocket goes on during the ban.
    sim.set_price("KRW-BTC", dec!(100500000));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let t = tokio::time::timeout_at(deadline, tickers.recv())
            .await
            .expect("no ticker during the ban")
            .unwrap();
        if t.trade_price == dec!(100500000) {
            break;
        }
    }
    assert!(rest.limits_status().blocked_for.is_some(), "still banned when the tick came");
    assert_eq!(sim.requests.count("POST", "/v1/orders"), 1, "one create, the refused one");
    tasks.root_token().cancel();
    sim.stop();
    sim_tasks.root_token().cancel();
}

/// RELIABILITY case 6 when the ban is drawn by a quotation call (the market panes' client,
/// keyless, built apart from the order client): the ban is the host's, so orders and
/// exits cannot go out either, and trading goes HALTED at once with the time left —
/// with the monitor's "protection degraded" for the armed rule. It used to stay ACTIVE
/// (and the rule "protected") until the next order call met the ban.
#[tokio::test]
async fn a_418_drawn_by_a_quotation_call_halts_trading_at_once_and_flags_protection_degraded() {
    use axum::http::{HeaderMap, StatusCode};
    use hoga::exchange::upbit::rest::RestClient;
    use hoga::notify::NotifySender;
    use hoga::trading::monitor::{Monitor, MonitorConfig, MonitorDeps, TradingStateHandle};
    use hoga::trading::rules::{Level, Rule, RuleKind};

    let app = axum::Router::new().fallback(|| async {
        let mut h = HeaderMap::new();
        h.insert("Retry-After", "120".parse().unwrap());
        (StatusCode::IM_A_TEAPOT, h, String::new())
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let orders = Arc::new(keyed_mini_rest(&url));
    let quotation = RestClient::new(mini_rest_config(&url), None).unwrap();

    let tasks = TaskManager::new();
    let (notify, mut notes) = NotifySender::channel(256);
    let trading = TradingStateHandle::new();
    let (monitor, _actions) = Monitor::spawn(
        &tasks,
        MonitorConfig::default(),
        MonitorDeps { journal: None, notify, trading: trading.clone() },
    )
    .unwrap();
    monitor.position(btc(), dec!(0.01), dec!(100000000)).await.unwrap();
    monitor.add_rule(Rule::new(btc(), RuleKind::StopLoss(Level::Price(dec!(50000000))), None)).await.unwrap();
    monitor.reconciled().await.unwrap();
    // The console's way: the watch puts the ban on the Safety lane, whose handler halts.
    let bus: hoga::bus::Bus<hoga::console::event::AppEvent> = hoga::bus::Bus::new(Default::default());
    let store = hoga::store::Store::start(&tasks, hoga::store::StoreConfig::default());
    hoga::console::safety::subscribe(&bus, store, trading.clone());
    hoga::console::safety::spawn_watch(
        &tasks,
        bus.clone(),
        Some(orders.clone()),
        None,
        Duration::from_millis(10),
    );
    bus.spawn_dispatcher(&tasks);

    let e = quotation.tickers(&[btc()]).await.unwrap_err();
    assert!(matches!(e, hoga::exchange::upbit::error::UpbitError::Blocked { .. }), "{e:?}");
    until_halted(&trading).await;
    let reason = trading.status().reason;
    assert!(reason.contains("418") && reason.contains("s:"), "{reason}");
    let note = halt_notification(&mut notes).await;
    assert!(note.text.contains("protection degraded: 1 TP/SL rules"), "{}", note.text);
    assert!(orders.limits_status().blocked_for.is_some(), "the order client sees the same ban");
    tasks.root_token().cancel();
}

/// Found by the soak: a create the exchange never booked stays UNCONFIRMED (still looked
/// up, adopted if it ever appears) but, past its probing window, no longer holds an
/// open-order slot. They used to pile up until `max_open_orders` stopped trading for good.
#[tokio::test]
async fn an_unconfirmed_order_past_its_window_holds_no_open_order_slot() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    venue.script_place(PlaceMode::TimeoutUnstored);
    let mut cfg = unconfirmed_config(Duration::ZERO, None);
    cfg.risk.max_open_orders = 2;
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    rig.unconfirmed_limit_buy().await;
    rig.unconfirmed_limit_buy().await;
    assert_eq!(rig.handle.status().unconfirmed, 2, "both still unconfirmed (and still checked)");
    let id = rig.place(limit_buy()).await.expect("never-booked orders hold no slot");
    rig.order_in(&id, LocalState::Accepted).await;
}

/// Within its window an unconfirmed order may exist: it counts as open.
#[tokio::test]
async fn an_unconfirmed_order_inside_its_window_counts_as_open() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let mut cfg = unconfirmed_config(Duration::from_secs(600), None);
    cfg.risk.max_open_orders = 1;
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    rig.unconfirmed_limit_buy().await;
    let denied = rig.place(limit_buy()).await.unwrap_err();
    assert!(denied.to_string().contains("max_open_orders"), "{denied}");
}

/// Found by the soak: a reconnect's reconciliation while an UNCONFIRMED order waits for
/// its next probe (up to a minute away) used to wait for that probe, denying every new
/// order as "reconciliation has not finished" meanwhile.
#[tokio::test]
async fn a_reconnect_does_not_wait_for_an_unconfirmed_orders_next_probe() {
    let venue = FakeVenue::new();
    venue.script_place(PlaceMode::TimeoutUnstored);
    let cfg = unconfirmed_config(Duration::from_secs(600), None);
    let mut rig = reconciled_with(cfg, Arc::new(venue.clone())).await;
    let id = rig.unconfirmed_limit_buy().await;
    // Its next lookup never answers: only the fix lets reconciliation finish.
    venue.hold_gets(true);
    rig.handle.command(OrderCommand::Reconcile).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(20), rig.handle.wait_reconciled()).await;
    assert!(next.is_ok(), "reconciliation waited for the unconfirmed order's next lookup");
    let placed = rig.place(limit_buy()).await.unwrap();
    assert_ne!(placed, id);
}
