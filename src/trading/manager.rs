//! The order manager: the one task that places, cancels and reconciles orders.
//!
//! Commands come in on a bounded, lossless mpsc (senders wait when it is full: an order
//! command is never dropped); facts go out on a bounded, lossless mpsc of
//! [`OrderEvent`]s (the manager waits for a slow consumer rather than drop a fill,
//! RELIABILITY case 26). Venue calls run concurrently inside the task (a
//! `FuturesUnordered` of boxed futures), so a slow create never holds up a cancel.
//!
//! The rules it enforces (RELIABILITY §1 and cases 1-13, 34, 36):
//! - **Journal first.** Every intent is committed to SQLite with a fresh UUIDv7
//!   identifier before its send starts; if the write fails nothing is sent.
//! - **Unknown stays unknown.** An ambiguous send (timeout, reset, 5xx, truncated body)
//!   leaves the order SUBMITTED ("awaiting confirmation") and it is looked up by its
//!   identifier; it is never re-sent, and never under a new identifier. After
//!   `probe_attempts` "not found" lookups it becomes UNCONFIRMED, never REJECTED: Upbit
//!   may book it late (a gateway 5xx while its engine works) or its lookups may lag the
//!   book. An unconfirmed order is looked up again with doubling waits (from
//!   `probe_interval` up to `unconfirmed_backoff_max`) for `unconfirmed_window` from the
//!   moment it was first missing (persisted, so a restart does not reset it), then once
//!   per periodic poll, for as long as it stays unconfirmed; whenever the venue shows it
//!   (lookup, poll or private stream) it is adopted in the venue's state. It counts as an
//!   open order for the risk gate (it may exist), and it holds its monitor rule: the
//!   bridge reports no result for it, so the monitor never sends a second exit while the
//!   first may exist. A provably unsent request, and a create refused with 429
//!   (`rate_limited`), is verified absent by one lookup before its intent is closed as
//!   REJECTED (RELIABILITY case 5: only then may the monitor re-send an exit under a new
//!   identifier).
//! - **Reconcile before trading.** On start, after a restart of the task, and on
//!   [`OrderCommand::Reconcile`] (the console sends it after a private-stream reconnect),
//!   every non-terminal intent is looked up; new orders are refused with
//!   [`Denied::NotReconciled`] until all are resolved. An intent the venue does not know
//!   after `probe_attempts` lookups counts as resolved once it is UNCONFIRMED (it keeps
//!   being probed in the background; trading does not wait minutes for it).
//! - **Resync on a gap.** [`OrderCommand::Resync`] (the account pump sends it when the
//!   private stream's lossless queue dropped events) compares every order with the venue
//!   and refreshes balances at once, instead of waiting for the next poll.
//! - **Idempotent facts.** Fills are deduplicated by trade uuid (in memory and by the
//!   journal's primary key); early fills are buffered until the order's uuid is known.
//! - **One gate.** Every new order passes validation and the risk gate; cancels always
//!   pass. Auth failures and 418 blocks halt trading with the venue's hint.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rust_decimal::Decimal;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::exchange::types::{Balance, Fill, MarketId, Order, OrderType, Price, Side};
use crate::kernel::sync::lock;
use crate::kernel::{OnFailure, TaskManager};
use crate::trading::input::{self, CancelTarget, OrderInput, SizingContext};
use crate::trading::journal::{Journal, JournalError};
use crate::trading::orders::{
    Denied, FillOutcome, LocalState, MarketRules, OrderRequest, TrackedOrder, check_identifier,
    new_identifier, validate,
};
use crate::trading::position::Position;
use crate::trading::risk::{RiskContext, RiskGate, RiskLimits, TradingState};
use crate::trading::venue::{DUPLICATE_IDENTIFIER, OrderVenue, VenueError, VenueRef};

/// The venue error name [`crate::trading::venue::classify`] gives a 429.
const RATE_LIMITED: &str = "rate_limited";

/// Latest prices per market, shared with the feed. Conflating by nature: a write replaces
/// the previous value, so the feed never queues ticks for the manager.
#[derive(Debug, Clone, Default)]
pub struct PriceBoard {
    inner: Arc<RwLock<HashMap<MarketId, MarketPrices>>>,
}

/// What the manager knows of a market's prices, to size and check orders: the last trade
/// and the top of the book, each as the feed last wrote it. (The timed price a rule fires
/// on is [`crate::trading::rules::Quote`], the one `Quote`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarketPrices {
    /// Last trade price.
    pub last: Option<Price>,
    /// Best bid.
    pub best_bid: Option<Price>,
    /// Best ask.
    pub best_ask: Option<Price>,
}

impl PriceBoard {
    /// Sets the last trade price.
    pub fn set_last(&self, market: &MarketId, price: Price) {
        let mut m = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        m.entry(market.clone()).or_default().last = Some(price);
    }

    /// Sets the best bid and ask.
    pub fn set_book(&self, market: &MarketId, best_bid: Option<Price>, best_ask: Option<Price>) {
        let mut m = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let q = m.entry(market.clone()).or_default();
        q.best_bid = best_bid;
        q.best_ask = best_ask;
    }

    /// The quote of a market.
    pub fn get(&self, market: &MarketId) -> MarketPrices {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).get(market).copied().unwrap_or_default()
    }
}

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Risk limits of the gate.
    pub risk: RiskLimits,
    /// "Not found" lookups before an unacknowledged intent is closed as never booked.
    pub probe_attempts: u32,
    /// Wait between those lookups (an in-transit create may land late); the first wait
    /// of the unconfirmed backoff.
    pub probe_interval: Duration,
    /// How long an unconfirmed order is probed with backoff after it was first missing;
    /// afterwards only the periodic poll looks it up.
    pub unconfirmed_window: Duration,
    /// Cap of the doubling wait between unconfirmed probes.
    pub unconfirmed_backoff_max: Duration,
    /// Wait before repeating a lookup or listing that failed.
    pub retry_interval: Duration,
    /// Cancel requests per order before it is left PENDING_CANCEL for the person.
    pub cancel_attempts: u32,
    /// How often open orders are compared with the venue's list while trading (fills
    /// missed by the private stream, orders closed elsewhere). `None` turns it off.
    pub poll_every: Option<Duration>,
    /// Command channel capacity.
    pub command_capacity: usize,
    /// Event channel capacity.
    pub event_capacity: usize,
    /// Latest prices (fed by the console's market pumps from the ticker stream).
    pub prices: PriceBoard,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            risk: RiskLimits::default(),
            probe_attempts: 3,
            probe_interval: Duration::from_secs(1),
            unconfirmed_window: Duration::from_secs(600),
            unconfirmed_backoff_max: Duration::from_secs(60),
            retry_interval: Duration::from_secs(2),
            cancel_attempts: 3,
            poll_every: Some(Duration::from_secs(30)),
            command_capacity: 256,
            event_capacity: 1024,
            prices: PriceBoard::default(),
        }
    }
}

/// Who asked for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Typed or confirmed by the person.
    Manual,
    /// A ladder key on the order book.
    Ladder,
    /// A monitor rule (its id).
    Rule(String),
}

impl Origin {
    /// Journal label.
    pub fn label(&self) -> &'static str {
        match self {
            Origin::Manual => "manual",
            Origin::Ladder => "ladder",
            Origin::Rule(_) => "rule",
        }
    }
}

/// What to place: a parsed command line (sized here from balances and prices) or a full
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceSpec {
    /// `:buy 0.01 @ 95000000` and friends.
    Input(OrderInput),
    /// A request in venue terms (form, ladder, monitor).
    Request(OrderRequest),
}

/// Answer to a place command: the identifier (intent journaled, send started) or why not.
pub(crate) type PlaceReply = oneshot::Sender<Result<String, Denied>>;

/// Commands to the manager.
#[derive(Debug)]
pub enum OrderCommand {
    /// Place an order.
    Place {
        /// What.
        spec: PlaceSpec,
        /// Who.
        origin: Origin,
        /// A fixed identifier (a monitor rule's deterministic one); `None` mints a UUIDv7.
        /// An identifier already in the journal is never sent again.
        identifier: Option<String>,
        /// The selected market, for inputs that name none.
        selected: Option<MarketId>,
        /// Where to answer.
        reply: Option<PlaceReply>,
    },
    /// Cancel one order, a market's or all.
    Cancel(CancelTarget),
    /// Cancel every open order (of one market).
    CancelAll(Option<MarketId>),
    /// Look every non-terminal order up again; new orders wait until done.
    Reconcile,
    /// The private stream was lost: new orders wait for the next `Reconcile`.
    StreamDown,
    /// The private stream dropped events (a lagging consumer): compare every order with
    /// the venue and refresh balances now. Trading is not blocked meanwhile.
    Resync(String),
    /// The venue's view of an order (private stream `myOrder`, a poll).
    ApplyVenueUpdate(Order),
    /// A fill from the private stream.
    ApplyFill(Fill),
    /// What self-match prevention did to one of our orders (private stream).
    SelfMatch(SelfMatch),
    /// Market rules from `orders/chance` or `orderbook/instruments`.
    SetMarketRules(MarketId, MarketRules),
    /// Sets the trading state.
    SetTradingState(TradingState, String),
    /// New risk limits (a config change that passed the change gate).
    SetRiskLimits(RiskLimits),
    /// Kill switch: HALTED + cancel all.
    Kill(String),
}

/// What self-match prevention (SMP) did to one of our orders, from a `myOrder` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfMatch {
    /// Exchange order id.
    pub uuid: String,
    /// Our identifier, when the frame carries it (the frame may come before the ack).
    pub identifier: Option<String>,
    /// The SMP type applied (`cancel_maker`, `cancel_taker`, `reduce`).
    pub smp_type: Option<String>,
    /// Volume cancelled so far.
    pub prevented_volume: Decimal,
    /// Funds (a buy) or volume (a sell) released so far.
    pub prevented_locked: Decimal,
    /// The frame ended the order (`cancel`): nothing is left.
    pub ended: bool,
}

impl SelfMatch {
    /// From a private-stream order update, when SMP touched the order.
    pub fn from_update(u: &crate::exchange::api::OrderUpdate) -> Option<SelfMatch> {
        let touched = u.prevented_volume > Decimal::ZERO || u.prevented_locked > Decimal::ZERO;
        touched.then(|| SelfMatch {
            uuid: u.uuid.clone(),
            identifier: u.identifier.clone(),
            smp_type: u.smp_type.clone(),
            prevented_volume: u.prevented_volume,
            prevented_locked: u.prevented_locked,
            ended: u.state == crate::exchange::types::OrderState::Cancel,
        })
    }

    /// `self-trade prevented: 0.01 cancelled (cancel_maker)`; a market buy, which has no
    /// volume, names the funds.
    pub fn reason(&self, quote: &str) -> String {
        use crate::exchange::display;
        let what = if self.prevented_volume > Decimal::ZERO {
            display::quantity(self.prevented_volume)
        } else {
            format!("{} {quote}", display::amount(self.prevented_locked, quote))
        };
        format!("self-trade prevented: {what} cancelled ({})", self.smp_type.as_deref().unwrap_or("smp"))
    }
}

/// Facts the manager reports.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    /// An order changed (state, figures, reason).
    OrderUpdated(TrackedOrder),
    /// A new fill was counted (never twice for one trade uuid).
    Filled {
        /// Our identifier.
        identifier: String,
        /// The fill.
        fill: Fill,
        /// P&L it realized.
        realized: Decimal,
    },
    /// An order was refused locally or by the venue.
    Rejected {
        /// Identifier, when an intent existed.
        identifier: Option<String>,
        /// Why.
        reason: String,
        /// Refused here (the risk gate, the trading state) before anything was sent: a
        /// denial, not the exchange's rejection.
        denied_here: bool,
    },
    /// Reconciliation finished: new orders are allowed.
    Reconciled {
        /// Intents resolved.
        resolved: usize,
        /// Venue orders adopted (not in the journal).
        adopted: usize,
    },
    /// Trading state or reconciliation status changed.
    TradingState {
        /// The state.
        state: TradingState,
        /// Why.
        reason: Option<String>,
        /// Whether new orders are allowed by reconciliation.
        reconciled: bool,
    },
    /// Every order a cancel-all (of one market, or all) targeted is now final.
    CancelsDone {
        /// The market, or `None` for all markets.
        market: Option<MarketId>,
    },
    /// Fresh balances from the venue.
    Balances(Vec<Balance>),
    /// A position changed.
    Position(Position),
    /// At start: the positions and realized P&L the journal's fills add up to (what was
    /// counted before a restart).
    Restored(crate::trading::position::Ledger),
    /// Something the person should read (one line).
    Info(String),
}

/// What the status bar needs, always current.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManagerStatus {
    /// Reconciliation complete (new orders allowed).
    pub reconciled: bool,
    /// Trading state.
    pub trading_state: TradingState,
    /// Non-terminal orders.
    pub open_orders: usize,
    /// Orders whose outcome is unknown (sent, no answer yet, or unconfirmed).
    pub unknown: usize,
    /// Of those, orders UNCONFIRMED (not found for seconds; still looked up).
    pub unconfirmed: usize,
    /// Events not delivered because the consumer was gone.
    pub(crate) events_dropped: u64,
    /// Foreign open orders left untracked because the exchange gave a side hoga does not
    /// know (distinct orders seen since start; each logged once). See
    /// [`crate::exchange::types::Order::side`].
    pub unsided_foreign: usize,
}

/// Whether an order is in flight: being sent, sent without an answer yet, unconfirmed,
/// being cancelled, partly filled, or accepted as an order that executes at once (market,
/// best, IOC and FOK). A limit order resting on the book is not in flight: it may rest for
/// days. The console's change gate holds config changes while any order is in flight.
pub(crate) fn in_flight(o: &TrackedOrder) -> bool {
    match o.state {
        LocalState::Intent
        | LocalState::Submitted
        | LocalState::Unconfirmed
        | LocalState::PendingCancel
        | LocalState::PartiallyFilled => true,
        // IOC / FOK limits execute or end at once, like market orders.
        LocalState::Accepted => o.request.ord_type != OrderType::Limit || o.request.time_in_force.is_some(),
        LocalState::Filled | LocalState::Canceled | LocalState::Rejected => false,
    }
}

/// Why the manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// Another instance holds the journal lock (RELIABILITY case 36).
    #[error("journal {0} is locked by another hoga instance; this one will not trade")]
    ReadOnly(String),
    /// Reading the journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The manager task has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the order manager has stopped")]
pub struct ManagerGone;

/// Handle to the running manager. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OrderManagerHandle {
    tx: mpsc::Sender<OrderCommand>,
    status: watch::Receiver<ManagerStatus>,
}

impl OrderManagerHandle {
    /// Sends a command, waiting for room (lossless).
    pub async fn command(&self, cmd: OrderCommand) -> Result<(), ManagerGone> {
        self.tx.send(cmd).await.map_err(|_| ManagerGone)
    }

    /// Places an order and waits for the manager's answer: the identifier once the
    /// intent is journaled and the send started, or the reason it was refused. The
    /// outcome of the send arrives as events.
    pub async fn place(
        &self,
        spec: PlaceSpec,
        origin: Origin,
        identifier: Option<String>,
        selected: Option<MarketId>,
    ) -> Result<String, Denied> {
        let (reply, rx) = oneshot::channel();
        let gone = || Denied::Mode(ManagerGone.to_string());
        self.command(OrderCommand::Place { spec, origin, identifier, selected, reply: Some(reply) })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Cancels one order (identifier or uuid), a market's, or all.
    pub async fn cancel(&self, target: CancelTarget) -> Result<(), ManagerGone> {
        self.command(OrderCommand::Cancel(target)).await
    }

    /// Cancels every open order (of one market).
    pub async fn cancel_all(&self, market: Option<MarketId>) -> Result<(), ManagerGone> {
        self.command(OrderCommand::CancelAll(market)).await
    }

    /// Asks for a reconciliation (after a reconnect).
    pub async fn reconcile(&self) -> Result<(), ManagerGone> {
        self.command(OrderCommand::Reconcile).await
    }

    /// Feeds the venue's view of an order (private stream).
    pub async fn apply_venue_update(&self, order: Order) -> Result<(), ManagerGone> {
        self.command(OrderCommand::ApplyVenueUpdate(order)).await
    }

    /// Feeds a fill (private stream).
    pub async fn apply_fill(&self, fill: Fill) -> Result<(), ManagerGone> {
        self.command(OrderCommand::ApplyFill(fill)).await
    }

    /// Feeds what self-match prevention did to an order (private stream), before the
    /// update that carries it.
    pub async fn apply_self_match(&self, m: SelfMatch) -> Result<(), ManagerGone> {
        self.command(OrderCommand::SelfMatch(m)).await
    }

    /// Current status.
    pub fn status(&self) -> ManagerStatus {
        self.status.borrow().clone()
    }

    /// Waits until reconciliation is complete (or the manager stopped).
    pub async fn wait_reconciled(&self) -> Result<(), ManagerGone> {
        let mut w = self.status.clone();
        w.wait_for(|s| s.reconciled).await.map(|_| ()).map_err(|_| ManagerGone)
    }
}

/// The order manager.
#[derive(Debug)]
pub struct OrderManager;

struct Shared {
    journal: Arc<Mutex<Journal>>,
    // The receiver outlives a restart of the task: no command is lost when it panics.
    rx: tokio::sync::Mutex<mpsc::Receiver<OrderCommand>>,
    events: mpsc::Sender<OrderEvent>,
    status: watch::Sender<ManagerStatus>,
    risk: Mutex<RiskGate>,
    dropped: AtomicU64,
    venue: Arc<dyn OrderVenue>,
    config: ManagerConfig,
}

impl OrderManager {
    /// Starts the manager under `tasks` (component `trading`, supervised: a panic
    /// restarts it, and a restart reconciles from the journal before trading again).
    /// Returns the handle and the event receiver. Takes the journal by value; use
    /// [`OrderManager::start_shared`] when the monitor writes the same journal.
    pub fn start(
        tasks: &TaskManager,
        config: ManagerConfig,
        journal: Journal,
        venue: Arc<dyn OrderVenue>,
    ) -> Result<(OrderManagerHandle, mpsc::Receiver<OrderEvent>), ManagerError> {
        Self::start_shared(tasks, config, Arc::new(Mutex::new(journal)), venue)
    }

    /// [`OrderManager::start`] over a journal shared with other writers (the monitor's
    /// `SharedJournal`): one file, one lock, one writable connection per process.
    pub(crate) fn start_shared(
        tasks: &TaskManager,
        config: ManagerConfig,
        journal: Arc<Mutex<Journal>>,
        venue: Arc<dyn OrderVenue>,
    ) -> Result<(OrderManagerHandle, mpsc::Receiver<OrderEvent>), ManagerError> {
        {
            let j = lock(&journal);
            if j.is_read_only() {
                return Err(ManagerError::ReadOnly(j.path().to_string()));
            }
        }
        // Commands: bounded, lossless (senders wait); a few hundred covers any burst of
        // key presses plus the private stream's updates.
        let (tx, rx) = mpsc::channel(config.command_capacity.max(1));
        // Events: bounded, lossless (the manager waits); a consumer that is gone is
        // counted in `events_dropped`.
        let (ev_tx, ev_rx) = mpsc::channel(config.event_capacity.max(1));
        let (status_tx, status_rx) = watch::channel(ManagerStatus::default());
        let shared = Arc::new(Shared {
            journal,
            rx: tokio::sync::Mutex::new(rx),
            events: ev_tx,
            status: status_tx,
            risk: Mutex::new(RiskGate::new(config.risk.clone())),
            dropped: AtomicU64::new(0),
            venue,
            config,
        });
        tasks.spawn_supervised("trading", "order-manager", OnFailure::restart(), move |cancel| {
            let shared = shared.clone();
            async move { run(shared, cancel).await }
        });
        Ok((OrderManagerHandle { tx, status: status_rx }, ev_rx))
    }
}

type IoFuture = Pin<Box<dyn Future<Output = Io> + Send + 'static>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Startup / reconnect reconciliation.
    Reconcile,
    /// An ambiguous send (and the backoff probes of an unconfirmed order).
    Unknown,
    /// A provably unsent request: one lookup before closing.
    NotSent,
    /// The venue said the identifier is taken: it exists.
    Duplicate,
    /// Confirming a cancel.
    CancelCheck,
    /// An acknowledged order missing from the venue's open list: fetch its final state.
    Poll,
}

enum Io {
    Placed { id: String, res: Result<Order, VenueError> },
    Canceled { id: String, res: Result<Order, VenueError> },
    Queried { id: String, why: Why, res: Result<Option<Order>, VenueError> },
    Listed { soft: bool, res: Result<Vec<Order>, VenueError> },
    Balances(Result<Vec<Balance>, VenueError>),
}

/// Terminal orders kept in memory for cancels-by-uuid and late fills.
const KEEP_TERMINAL: usize = 500;
/// Fills for unknown order uuids held until the order is known (case 13).
const MAX_ORPHAN_FILLS: usize = 1000;
/// Foreign orders with an unknown side remembered (so each is logged once); past that they
/// are still skipped, only no longer logged.
const MAX_UNSIDED: usize = 1000;

struct Engine {
    sh: Arc<Shared>,
    orders: HashMap<String, TrackedOrder>,
    by_uuid: HashMap<String, String>,
    sending: HashSet<String>,
    cancel_after_ack: HashSet<String>,
    not_sent: HashSet<String>,
    // Creates the venue refused with 429: id → the refusal, closed with it once a lookup
    // confirmed the identifier absent.
    rate_limited: HashMap<String, String>,
    // Unconfirmed orders: id → when first missing (Unix ms, from the journal).
    unconfirmed_since: HashMap<String, i64>,
    cancel_tries: HashMap<String, u32>,
    reconciling: HashSet<String>,
    listing_pending: bool,
    // Ids with a probing lookup chain in flight (one chain per id, so probes stay spaced).
    probing: HashSet<String>,
    resolved: usize,
    adopted: usize,
    reconciled: bool,
    inflight: FuturesUnordered<IoFuture>,
    balances: Vec<Balance>,
    balances_inflight: bool,
    balances_dirty: bool,
    positions: HashMap<MarketId, Position>,
    rules: HashMap<MarketId, MarketRules>,
    orphan_fills: Vec<Fill>,
    // Cancel-alls waiting for their orders to become final.
    cancels_waiting: Vec<(Option<MarketId>, HashSet<String>)>,
    outbox: Vec<OrderEvent>,
    // Uuids of foreign orders not adopted because their side is unknown (bounded by
    // MAX_UNSIDED; each one is logged once).
    unsided_foreign: HashSet<String>,
}

async fn run(sh: Arc<Shared>, cancel: CancellationToken) -> anyhow::Result<()> {
    let mut rx = sh.rx.lock().await;
    let mut e = Engine::new(sh.clone())?;
    e.start_reconcile();
    e.flush().await;
    let every = sh.config.poll_every.unwrap_or(Duration::from_secs(3600));
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // A stalled runtime should not cause a burst of listings afterwards.
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            Some(io) = e.inflight.next(), if !e.inflight.is_empty() => e.on_io(io),
            _ = poll.tick(), if sh.config.poll_every.is_some() => e.poll(),
            cmd = rx.recv() => match cmd {
                Some(cmd) => e.on_command(cmd),
                None => break,
            },
        }
        e.flush().await;
    }
    Ok(())
}

impl Engine {
    fn new(sh: Arc<Shared>) -> Result<Self, JournalError> {
        use crate::trading::position::{Ledger, SEED_EVENT};
        let (open, seeds, fills) = {
            let j = lock(&sh.journal);
            let seeds = j.events_of_kind(SEED_EVENT)?.into_iter().map(|(_, d)| d).collect::<Vec<_>>();
            (j.open_orders()?, seeds, j.fill_rows_as_counted()?)
        };
        // The positions counted before a restart, counted again the same way.
        let ledger =
            Ledger::from_journal(&seeds, &fills, |m, side| MarketRules::upbit_default(m).fee_rate(side));
        // The daily loss limit counts today's sells from before a restart too.
        lock(&sh.risk).restore_realized(&ledger.realized);
        let mut e = Engine {
            sh,
            orders: HashMap::new(),
            by_uuid: HashMap::new(),
            sending: HashSet::new(),
            cancel_after_ack: HashSet::new(),
            not_sent: HashSet::new(),
            rate_limited: HashMap::new(),
            unconfirmed_since: HashMap::new(),
            cancel_tries: HashMap::new(),
            reconciling: HashSet::new(),
            listing_pending: false,
            probing: HashSet::new(),
            resolved: 0,
            adopted: 0,
            reconciled: false,
            inflight: FuturesUnordered::new(),
            balances: Vec::new(),
            balances_inflight: false,
            balances_dirty: false,
            positions: ledger.positions.iter().map(|(m, p)| (m.clone(), p.clone())).collect(),
            rules: HashMap::new(),
            orphan_fills: Vec::new(),
            cancels_waiting: Vec::new(),
            outbox: Vec::new(),
            unsided_foreign: HashSet::new(),
        };
        for o in open {
            if let Some(u) = &o.uuid {
                e.by_uuid.insert(u.clone(), o.identifier.clone());
            }
            e.orders.insert(o.identifier.clone(), o);
        }
        if !ledger.is_empty() {
            e.emit(OrderEvent::Restored(ledger));
        }
        Ok(e)
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        lock(&self.sh.journal)
    }

    fn risk(&self) -> MutexGuard<'_, RiskGate> {
        lock(&self.sh.risk)
    }

    fn emit(&mut self, e: OrderEvent) {
        self.outbox.push(e);
    }

    async fn flush(&mut self) {
        for ev in std::mem::take(&mut self.outbox) {
            if self.sh.events.send(ev).await.is_err() {
                self.sh.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        let status = ManagerStatus {
            reconciled: self.reconciled,
            trading_state: self.risk().state(),
            open_orders: self.orders.values().filter(|o| !o.state.is_terminal()).count(),
            unknown: self
                .orders
                .values()
                .filter(|o| {
                    matches!(o.state, LocalState::Intent | LocalState::Submitted | LocalState::Unconfirmed)
                        && !self.sending.contains(&o.identifier)
                })
                .count(),
            unconfirmed: self.orders.values().filter(|o| o.state == LocalState::Unconfirmed).count(),
            events_dropped: self.sh.dropped.load(Ordering::Relaxed),
            unsided_foreign: self.unsided_foreign.len(),
        };
        self.sh.status.send_if_modified(|s| {
            if *s == status {
                false
            } else {
                *s = status;
                true
            }
        });
    }

    fn state_event(&mut self) {
        let (state, reason) = {
            let r = self.risk();
            (r.state(), r.reason().map(str::to_string))
        };
        let reconciled = self.reconciled;
        self.emit(OrderEvent::TradingState { state, reason, reconciled });
    }

    fn info(&mut self, msg: String) {
        tracing::info!(target: "hoga::trading", "{msg}");
        self.emit(OrderEvent::Info(msg));
    }

    fn journal_note(&self, id: &str, kind: &str, detail: &str) {
        if let Err(e) = self.journal().event(Some(id), kind, detail) {
            tracing::warn!(identifier = id, error = %e, "journal event not written");
        }
    }

    fn save(&mut self, id: &str) {
        let Some(o) = self.orders.get(id).cloned() else { return };
        let res = self.journal().update_order(&o);
        if let Err(e) = res {
            // The venue is the truth; the next reconciliation rewrites this row.
            tracing::error!(identifier = id, error = %e, "journal update failed");
            self.emit(OrderEvent::Info(format!("journal update failed for {id}: {e}")));
        }
        self.emit(OrderEvent::OrderUpdated(o));
        if !self.cancels_waiting.is_empty() {
            self.check_cancels();
        }
    }

    fn vref(&self, id: &str) -> VenueRef {
        match self.orders.get(id).and_then(|o| o.uuid.clone()) {
            Some(u) => VenueRef::Uuid(u),
            None => VenueRef::Identifier(id.to_string()),
        }
    }

    // ------------------------------------------------------------------ scheduling

    fn query(&mut self, id: &str, why: Why, delay: Duration) {
        if matches!(why, Why::Reconcile | Why::Unknown | Why::NotSent | Why::Duplicate) {
            self.probing.insert(id.to_string());
        }
        let venue = self.sh.venue.clone();
        let target = self.vref(id);
        let id = id.to_string();
        self.inflight.push(Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Io::Queried { id, why, res: venue.get(target).await }
        }));
    }

    fn list_open(&mut self, delay: Duration, soft: bool) {
        let venue = self.sh.venue.clone();
        if !soft {
            self.listing_pending = true;
        }
        self.inflight.push(Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Io::Listed { soft, res: venue.open_orders(None).await }
        }));
    }

    fn refresh_balances(&mut self) {
        if self.balances_inflight {
            self.balances_dirty = true;
            return;
        }
        self.balances_inflight = true;
        let venue = self.sh.venue.clone();
        self.inflight.push(Box::pin(async move { Io::Balances(venue.balances().await) }));
    }

    fn send_cancel(&mut self, id: &str) {
        *self.cancel_tries.entry(id.to_string()).or_default() += 1;
        let venue = self.sh.venue.clone();
        let target = self.vref(id);
        let id = id.to_string();
        self.inflight.push(Box::pin(async move { Io::Canceled { id, res: venue.cancel(target).await } }));
    }

    // ------------------------------------------------------------------ reconciliation

    /// Orders the risk gate counts against `max_open_orders`: every order not final,
    /// except an UNCONFIRMED one past its probing window. That one is still looked up by
    /// every poll and adopted if it ever appears, but a create the exchange never booked
    /// must not hold an open-order slot for ever (the soak piled up 38 in an hour of
    /// faults: past the default limit of 20, trading would have stopped for good).
    fn orders_counted_open(&self) -> usize {
        let window_ms = i64::try_from(self.sh.config.unconfirmed_window.as_millis()).unwrap_or(i64::MAX);
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.orders
            .values()
            .filter(|o| !o.state.is_terminal())
            .filter(|o| {
                o.state != LocalState::Unconfirmed
                    || self
                        .unconfirmed_since
                        .get(&o.identifier)
                        .is_none_or(|since| now_ms.saturating_sub(*since) < window_ms)
            })
            .count()
    }

    fn start_reconcile(&mut self) {
        self.reconciled = false;
        self.resolved = 0;
        self.adopted = 0;
        let ids: Vec<String> = self
            .orders
            .values()
            .filter(|o| !o.state.is_terminal() && !self.sending.contains(&o.identifier))
            .map(|o| o.identifier.clone())
            .collect();
        for id in ids {
            // An UNCONFIRMED order is already resolved for reconciliation: it is looked up
            // now unless a probe is pending, and never holds new orders back (a reconnect
            // used to wait up to a minute for its next probe, denying every order).
            if self.orders.get(&id).is_some_and(|o| o.state == LocalState::Unconfirmed) {
                if !self.probing.contains(&id) {
                    self.query(&id, Why::Poll, Duration::ZERO);
                }
                continue;
            }
            // An id already being probed (an unknown send) resolves through that chain.
            if self.reconciling.insert(id.clone()) && !self.probing.contains(&id) {
                self.query(&id, Why::Reconcile, Duration::ZERO);
            }
        }
        if !self.listing_pending {
            self.list_open(Duration::ZERO, false);
        }
        self.refresh_balances();
        self.state_event();
        self.check_reconciled();
    }

    fn check_reconciled(&mut self) {
        if !self.reconciled && self.reconciling.is_empty() && !self.listing_pending {
            self.reconciled = true;
            tracing::info!(resolved = self.resolved, adopted = self.adopted, "reconciliation complete");
            self.emit(OrderEvent::Reconciled { resolved: self.resolved, adopted: self.adopted });
            self.state_event();
        }
    }

    fn done_reconciling(&mut self, id: &str) {
        if self.reconciling.remove(id) {
            self.resolved += 1;
            self.check_reconciled();
        }
    }

    // ------------------------------------------------------------------ commands

    fn on_command(&mut self, cmd: OrderCommand) {
        match cmd {
            OrderCommand::Place { spec, origin, identifier, selected, reply } => {
                let fixed = identifier.clone();
                let res = self.place(spec, origin, identifier, selected);
                if let Err(d) = &res {
                    tracing::info!(reason = %d, "order denied");
                    // A fixed (rule) identifier is named so the monitor can match it.
                    self.emit(OrderEvent::Rejected {
                        identifier: fixed,
                        reason: d.to_string(),
                        denied_here: true,
                    });
                }
                if let Some(r) = reply {
                    // The asker may have gone away; the event above still reports it.
                    let _ = r.send(res);
                }
            }
            OrderCommand::Cancel(CancelTarget::All) | OrderCommand::CancelAll(None) => self.cancel_all(None),
            OrderCommand::Cancel(CancelTarget::Market(m)) | OrderCommand::CancelAll(Some(m)) => {
                self.cancel_all(Some(&m))
            }
            OrderCommand::Cancel(CancelTarget::Order(key)) => self.cancel_key(&key),
            OrderCommand::Reconcile => self.start_reconcile(),
            OrderCommand::StreamDown => {
                self.reconciled = false;
                self.state_event();
            }
            OrderCommand::Resync(why) => self.resync(&why),
            OrderCommand::ApplyVenueUpdate(o) => self.on_venue_order(o, "stream"),
            OrderCommand::ApplyFill(f) => self.on_stream_fill(f),
            OrderCommand::SelfMatch(m) => self.on_self_match(m),
            OrderCommand::SetMarketRules(m, r) => {
                self.rules.insert(m, r);
            }
            OrderCommand::SetRiskLimits(limits) => {
                tracing::info!(?limits, "risk limits changed");
                self.risk().set_limits(limits);
            }
            OrderCommand::SetTradingState(s, why) => {
                self.risk().set_state(s, why);
                self.state_event();
            }
            OrderCommand::Kill(why) => {
                self.risk().set_state(TradingState::Halted, why.clone());
                tracing::warn!(reason = %why, "kill switch: HALTED and cancelling all");
                self.state_event();
                self.cancel_all(None);
            }
        }
    }

    fn rules_for(&self, m: &MarketId) -> MarketRules {
        self.rules.get(m).cloned().unwrap_or_else(|| MarketRules::upbit_default(m))
    }

    fn available(&self, currency: &str) -> Option<Decimal> {
        if self.balances.is_empty() {
            return None;
        }
        // Balances known but none of this currency: zero.
        Some(self.balances.iter().find(|b| b.currency == currency).map_or(Decimal::ZERO, |b| b.balance))
    }

    fn place(
        &mut self,
        spec: PlaceSpec,
        origin: Origin,
        identifier: Option<String>,
        selected: Option<MarketId>,
    ) -> Result<String, Denied> {
        if let Some(id) = &identifier {
            check_identifier(id)?;
            // A latched rule firing again, or a replayed command: never send twice.
            let known = match self.orders.get(id) {
                Some(o) => Some(o.clone()),
                None => self.journal().order(id).map_err(|e| Denied::Journal(e.to_string()))?,
            };
            if let Some(o) = known {
                // Re-report it so whoever asked again learns where it stands.
                self.emit(OrderEvent::OrderUpdated(o));
                return Ok(id.clone());
            }
        }
        if !self.reconciled {
            return Err(Denied::NotReconciled);
        }
        let req = match spec {
            PlaceSpec::Request(r) => r,
            PlaceSpec::Input(inp) => {
                let market = inp
                    .market
                    .clone()
                    .or_else(|| selected.clone())
                    .ok_or(Denied::Mode("no market: name one (e.g. KRW-BTC) or select one".into()))?;
                let q = self.sh.config.prices.get(&market);
                let ctx = SizingContext {
                    selected: Some(market.clone()),
                    available_quote: self.available(market.quote()),
                    available_base: self.available(market.base()),
                    best_ask: q.best_ask.or(q.last),
                    best_bid: q.best_bid.or(q.last),
                    rules: self.rules_for(&market),
                };
                input::resolve(&inp, &ctx).map_err(|e| match e {
                    input::InputError::Denied(d) => d,
                    other => Denied::Mode(other.to_string()),
                })?
            }
        };
        let rules = self.rules_for(&req.market);
        let q = self.sh.config.prices.get(&req.market);
        let reference = match (req.ord_type, req.side) {
            (OrderType::Market | OrderType::Best, Side::Ask) => q.best_bid.or(q.last),
            _ => q.last,
        };
        let valid = validate(&req, &rules, reference)?;
        let open = self.orders_counted_open();
        self.risk().check(
            &valid,
            &RiskContext {
                open_orders: open,
                last_price: q.last,
                now: Instant::now(),
                protective: matches!(origin, Origin::Rule(_)),
            },
        )?;
        let id = identifier.unwrap_or_else(new_identifier);
        let mut t = TrackedOrder::new(id.clone(), req);
        if let Origin::Rule(r) = &origin {
            t.rule_id = Some(r.clone());
        }
        // Journal first: committed (synchronous=FULL) before the send starts.
        self.journal().record_intent(&t, origin.label()).map_err(|e| Denied::Journal(e.to_string()))?;
        crate::kernel::failpoint::hit("manager.after_intent");
        t.transition(LocalState::Submitted);
        self.orders.insert(id.clone(), t.clone());
        self.sending.insert(id.clone());
        self.emit(OrderEvent::OrderUpdated(t));
        let venue = self.sh.venue.clone();
        let pid = id.clone();
        self.inflight.push(Box::pin(async move {
            let res = venue.place(pid.clone(), valid).await;
            crate::kernel::failpoint::hit("manager.after_send");
            Io::Placed { id: pid, res }
        }));
        Ok(id)
    }

    fn cancel_key(&mut self, key: &str) {
        let id = if self.orders.contains_key(key) {
            Some(key.to_string())
        } else {
            self.by_uuid.get(key).cloned()
        };
        match id {
            Some(id) => self.cancel_one(&id),
            None => self.info(format!("no open order {key}")),
        }
    }

    fn cancel_all(&mut self, market: Option<&MarketId>) {
        let mut ids: Vec<String> = self
            .orders
            .values()
            .filter(|o| !o.state.is_terminal() && market.is_none_or(|m| &o.request.market == m))
            .map(|o| o.identifier.clone())
            .collect();
        ids.sort();
        if ids.is_empty() {
            self.info("no open orders to cancel".into());
        }
        // An unconfirmed order is cancelled when it appears; a cancel-all does not wait
        // for it (it may never appear).
        let waiting = ids
            .iter()
            .filter(|id| self.orders.get(*id).is_some_and(|o| o.state != LocalState::Unconfirmed))
            .cloned()
            .collect();
        self.cancels_waiting.push((market.cloned(), waiting));
        for id in ids {
            self.cancel_one(&id);
        }
        self.check_cancels();
    }

    fn cancel_one(&mut self, id: &str) {
        let Some(o) = self.orders.get_mut(id) else { return };
        if o.state.is_terminal() {
            let msg = format!("order {id} is already {}", o.state.as_str());
            self.info(msg);
            return;
        }
        if o.state == LocalState::Unconfirmed {
            // Nothing known to cancel: it is cancelled the moment the venue shows it.
            self.cancel_after_ack.insert(id.to_string());
            self.journal_note(id, "cancel_requested", "unconfirmed: cancelled if it appears");
            self.info(format!("order {id} is unconfirmed: it will be cancelled if the exchange shows it"));
            return;
        }
        o.transition(LocalState::PendingCancel);
        self.journal_note(id, "cancel_requested", "");
        self.save(id);
        if self.sending.contains(id) {
            // The create has not answered: cancel once its uuid is known.
            self.cancel_after_ack.insert(id.to_string());
            return;
        }
        self.cancel_tries.remove(id);
        self.send_cancel(id);
    }

    // ------------------------------------------------------------------ venue results

    fn on_io(&mut self, io: Io) {
        match io {
            Io::Placed { id, res } => self.on_placed(&id, res),
            Io::Canceled { id, res } => self.on_canceled(&id, res),
            Io::Queried { id, why, res } => self.on_queried(&id, why, res),
            Io::Listed { soft, res } => self.on_listed(soft, res),
            Io::Balances(res) => {
                self.balances_inflight = false;
                match res {
                    Ok(b) => {
                        self.seed_positions(&b);
                        self.balances = b.clone();
                        self.emit(OrderEvent::Balances(b));
                    }
                    Err(e) => {
                        self.halt_on(&e);
                        tracing::warn!(error = %e, "balances not refreshed");
                    }
                }
                if std::mem::take(&mut self.balances_dirty) {
                    self.refresh_balances();
                }
            }
        }
    }

    fn on_placed(&mut self, id: &str, res: Result<Order, VenueError>) {
        self.sending.remove(id);
        match res {
            Ok(o) => {
                self.journal_note(id, "ack", &o.uuid);
                self.on_venue_order(o, "ack");
            }
            Err(VenueError::Final { code, .. }) if code == DUPLICATE_IDENTIFIER => {
                // The identifier is taken, so the order exists: find it (case 4).
                self.journal_note(id, "duplicate_identifier", "");
                self.query(id, Why::Duplicate, Duration::ZERO);
            }
            Err(VenueError::Final { code, message, .. }) if code == RATE_LIMITED => {
                // Upbit refused this request with 429. Before anyone may send the same
                // thing under a new identifier (a monitor exit's next attempt), one lookup
                // confirms the identifier is absent; only then is it closed as REJECTED
                // with this reason (RELIABILITY case 5). Found: it is adopted instead.
                let reason = format!("{code}: {message}");
                if let Some(o) = self.orders.get_mut(id) {
                    o.reason = Some(format!("{reason}; checking the identifier is absent"));
                }
                tracing::warn!(
                    identifier = id,
                    "create rate-limited; looking the identifier up before closing it"
                );
                self.rate_limited.insert(id.to_string(), reason.clone());
                self.journal_note(id, "rate_limited", &reason);
                self.save(id);
                self.query(id, Why::NotSent, Duration::ZERO);
            }
            Err(VenueError::Final { code, message, halt }) => {
                let reason = format!("{code}: {message}");
                if let Some(o) = self.orders.get_mut(id) {
                    o.reason = Some(reason.clone());
                    o.transition(LocalState::Rejected);
                }
                self.cancel_after_ack.remove(id);
                self.journal_note(id, "rejected", &reason);
                self.save(id);
                self.emit(OrderEvent::Rejected {
                    identifier: Some(id.to_string()),
                    reason: reason.clone(),
                    denied_here: false,
                });
                if halt {
                    self.risk().set_state(TradingState::Halted, reason);
                    self.state_event();
                }
            }
            Err(VenueError::NotSent(detail)) => {
                // Provably not sent; still verified by one lookup before closing (case 2).
                if let Some(o) = self.orders.get_mut(id) {
                    o.reason = Some(format!("not sent ({detail}); verifying"));
                }
                self.not_sent.insert(id.to_string());
                self.journal_note(id, "not_sent", &detail);
                self.save(id);
                self.query(id, Why::NotSent, Duration::ZERO);
            }
            Err(VenueError::Ambiguous(detail)) => {
                // UNKNOWN: stays SUBMITTED, looked up by identifier, never re-sent.
                if let Some(o) = self.orders.get_mut(id) {
                    o.reason = Some(format!("awaiting confirmation: {detail}"));
                }
                tracing::warn!(identifier = id, detail = %detail, "order outcome unknown; reconciling by identifier");
                self.journal_note(id, "unknown", &detail);
                self.save(id);
                self.reconciling_unknown(id);
            }
        }
    }

    fn reconciling_unknown(&mut self, id: &str) {
        let d = self.sh.config.probe_interval;
        self.query(id, Why::Unknown, d);
    }

    fn on_canceled(&mut self, id: &str, res: Result<Order, VenueError>) {
        match res {
            Ok(o) => {
                self.journal_note(id, "cancel_ack", "");
                self.on_venue_order(o, "cancel");
                let open = self.orders.get(id).is_some_and(|o| !o.state.is_terminal());
                if open {
                    let d = self.sh.config.probe_interval;
                    self.query(id, Why::CancelCheck, d);
                }
            }
            Err(VenueError::Final { code, message, halt }) => {
                if halt {
                    self.halt_on(&VenueError::Final { code: code.clone(), message: message.clone(), halt });
                }
                // Already filled or cancelled, or unknown: take the venue's word (case 11).
                self.journal_note(id, "cancel_refused", &code);
                tracing::info!(identifier = id, code = %code, message = %message, "cancel refused; querying the order");
                self.query(id, Why::CancelCheck, Duration::ZERO);
            }
            Err(e) => {
                // Unresolved, not guessed (case 10): look again and maybe repeat the cancel.
                tracing::warn!(identifier = id, error = %e, "cancel outcome unknown");
                self.journal_note(id, "cancel_unknown", &e.to_string());
                let d = self.sh.config.retry_interval;
                self.query(id, Why::CancelCheck, d);
            }
        }
    }

    /// Any venue answer that says trading must stop (an auth failure such as a 401, a 418
    /// block) halts it with the venue's hint, whichever call drew it. Cancels still pass.
    fn halt_on(&mut self, e: &VenueError) {
        if let VenueError::Final { halt: true, message, .. } = e {
            self.risk().set_state(TradingState::Halted, message.clone());
            self.state_event();
        }
    }

    fn on_queried(&mut self, id: &str, why: Why, res: Result<Option<Order>, VenueError>) {
        self.probing.remove(id);
        match res {
            Ok(Some(o)) => {
                self.not_sent.remove(id);
                self.rate_limited.remove(id);
                self.on_venue_order(o, "query");
                if why == Why::CancelCheck {
                    let pending = self.orders.get(id).is_some_and(|o| o.state == LocalState::PendingCancel);
                    let tries = self.cancel_tries.get(id).copied().unwrap_or(0);
                    if pending && tries < self.sh.config.cancel_attempts {
                        self.send_cancel(id);
                    } else if pending {
                        self.info(format!("cancel of {id} unconfirmed after {tries} attempts; still open"));
                    }
                }
                self.done_reconciling(id);
            }
            Ok(None) => self.on_not_found(id, why),
            Err(e) => {
                if let VenueError::Final { halt: true, message, .. } = &e {
                    self.risk().set_state(TradingState::Halted, message.clone());
                    self.state_event();
                }
                if why == Why::Poll && self.orders.get(id).is_some_and(|o| o.state == LocalState::Unconfirmed)
                {
                    // The next poll looks it up again.
                    tracing::warn!(identifier = id, error = %e, "unconfirmed order lookup failed");
                    return;
                }
                tracing::warn!(identifier = id, error = %e, "order lookup failed; retrying");
                let d = self.sh.config.retry_interval;
                self.query(id, why, d);
            }
        }
    }

    fn check_cancels(&mut self) {
        let orders = &self.orders;
        for (_, ids) in self.cancels_waiting.iter_mut() {
            ids.retain(|id| orders.get(id).is_some_and(|o| !o.state.is_terminal()));
        }
        let (done, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.cancels_waiting).into_iter().partition(|(_, ids)| ids.is_empty());
        self.cancels_waiting = waiting;
        for (market, _) in done {
            self.emit(OrderEvent::CancelsDone { market });
        }
    }

    fn on_not_found(&mut self, id: &str, why: Why) {
        let Some(o) = self.orders.get(id) else {
            self.done_reconciling(id);
            return;
        };
        if o.uuid.is_some() || o.state.is_terminal() {
            // Acknowledged before, or already final: nothing to close.
            if matches!(why, Why::CancelCheck | Why::Poll) {
                self.info(format!("order {id} not found at the exchange"));
            }
            self.done_reconciling(id);
            return;
        }
        let probes = match self.journal().bump_probe(id) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(identifier = id, error = %e, "probe count not written");
                u32::MAX
            }
        };
        let verify_once = self.not_sent.contains(id) || self.rate_limited.contains_key(id);
        let limit = if verify_once { 1 } else { self.sh.config.probe_attempts.max(1) };
        if probes >= limit && !verify_once {
            // Sent (or maybe sent) and still missing: UNCONFIRMED, never REJECTED.
            self.unconfirmed(id, why, probes.saturating_sub(limit));
        } else if probes >= limit {
            let reason = match self.rate_limited.remove(id) {
                Some(refused) => format!("{refused} (identifier confirmed absent by lookup)"),
                None => format!("not found at the exchange after {probes} lookup(s): never booked"),
            };
            if let Some(o) = self.orders.get_mut(id) {
                o.reason = Some(reason.clone());
                o.transition(LocalState::Rejected);
            }
            self.not_sent.remove(id);
            self.cancel_after_ack.remove(id);
            self.journal_note(id, "closed_not_found", &reason);
            self.save(id);
            self.emit(OrderEvent::Rejected { identifier: Some(id.to_string()), reason, denied_here: false });
            self.done_reconciling(id);
        } else {
            let d = self.sh.config.probe_interval;
            self.query(id, why, d);
        }
    }

    /// An order whose create may have reached the venue and that lookups have not found:
    /// UNCONFIRMED (once), counted as resolved for reconciliation, and probed again after
    /// a doubling wait while inside its window (`extra` probes made so far past the first
    /// ones). After the window only the periodic poll looks it up (see [`Engine::poll`]).
    fn unconfirmed(&mut self, id: &str, why: Why, extra: u32) {
        let since = match self.unconfirmed_since.get(id) {
            Some(s) => *s,
            None => {
                let s = self.journal().mark_unconfirmed(id).unwrap_or_else(|e| {
                    tracing::warn!(identifier = id, error = %e, "unconfirmed time not written");
                    chrono::Utc::now().timestamp_millis()
                });
                self.unconfirmed_since.insert(id.to_string(), s);
                s
            }
        };
        let newly = self.orders.get(id).is_some_and(|o| o.state != LocalState::Unconfirmed);
        if self.orders.get(id).is_some_and(|o| o.state == LocalState::PendingCancel) {
            // A cancel asked for before any answer: sent the moment the order appears.
            self.cancel_after_ack.insert(id.to_string());
        }
        if newly {
            let reason =
                "unconfirmed: not found at the exchange yet; still looking it up (adopted if it was booked)"
                    .to_string();
            if let Some(o) = self.orders.get_mut(id) {
                o.reason = Some(reason.clone());
                o.transition(LocalState::Unconfirmed);
            }
            tracing::warn!(
                identifier = id,
                "order unconfirmed: not found after its first lookups; probing with backoff"
            );
            self.journal_note(id, "unconfirmed", &reason);
            self.save(id);
            self.info(format!(
                "order {id} is unconfirmed (not found yet); it is not re-sent and is still checked"
            ));
        }
        self.done_reconciling(id);
        let elapsed_ms = chrono::Utc::now().timestamp_millis().saturating_sub(since).max(0);
        let elapsed = Duration::from_millis(u64::try_from(elapsed_ms).unwrap_or(0));
        let cfg = &self.sh.config;
        if why == Why::Poll {
            return;
        }
        if elapsed < cfg.unconfirmed_window {
            let factor = 2u32.saturating_pow(extra.min(20));
            let delay = cfg.probe_interval.saturating_mul(factor).min(cfg.unconfirmed_backoff_max);
            self.query(id, Why::Unknown, delay);
        } else {
            tracing::warn!(
                identifier = id,
                "unconfirmed past its probing window; the periodic poll keeps checking it"
            );
            self.journal_note(id, "unconfirmed_window_over", "checked by the periodic poll from now on");
        }
    }

    /// After the private stream dropped events: the venue's open orders (cumulative fills
    /// of known orders, adoption of unknown ones, final state of vanished ones), a lookup
    /// of every order whose outcome is unknown, and fresh balances — now, not at the next
    /// poll.
    fn resync(&mut self, why: &str) {
        tracing::warn!(reason = why, "resyncing orders and balances with the exchange");
        if !self.listing_pending {
            self.list_open(Duration::ZERO, true);
        }
        let ids: Vec<String> = self
            .orders
            .values()
            .filter(|o| matches!(o.state, LocalState::Submitted | LocalState::Unconfirmed))
            .filter(|o| !self.sending.contains(&o.identifier) && !self.probing.contains(&o.identifier))
            .map(|o| o.identifier.clone())
            .collect();
        for id in ids {
            self.query(&id, Why::Poll, Duration::ZERO);
        }
        self.refresh_balances();
        self.info(format!("{why}: orders and balances resynced from the exchange"));
    }

    fn on_listed(&mut self, soft: bool, res: Result<Vec<Order>, VenueError>) {
        match res {
            Ok(list) => {
                let listed: HashSet<String> = list.iter().map(|o| o.uuid.clone()).collect();
                for o in list {
                    let known = o.identifier.as_ref().is_some_and(|i| self.orders.contains_key(i))
                        || self.by_uuid.contains_key(&o.uuid);
                    // Known orders: the listing carries cumulative figures (fills missed
                    // during a stream gap); unknown ones are adopted.
                    if !known || soft {
                        self.on_venue_order(o, "listing");
                    }
                }
                if soft {
                    // Acknowledged orders the venue no longer lists have closed: fetch how.
                    let gone: Vec<String> = self
                        .orders
                        .values()
                        .filter(|t| !t.state.is_terminal() && !self.sending.contains(&t.identifier))
                        .filter(|t| t.uuid.as_ref().is_some_and(|u| !listed.contains(u)))
                        .map(|t| t.identifier.clone())
                        .collect();
                    for id in gone {
                        self.query(&id, Why::Poll, Duration::ZERO);
                    }
                } else {
                    self.listing_pending = false;
                    self.check_reconciled();
                }
            }
            Err(e) => {
                self.halt_on(&e);
                tracing::warn!(error = %e, soft, "open-order listing failed");
                if !soft {
                    let d = self.sh.config.retry_interval;
                    self.list_open(d, false);
                }
            }
        }
    }

    /// The periodic comparison with the venue (RELIABILITY rule 4, "on a timer").
    /// Unconfirmed orders not being probed are looked up once per poll, for as long as
    /// they stay unconfirmed (one lookup each, in the default group).
    fn poll(&mut self) {
        let open = self.orders.values().any(|o| !o.state.is_terminal());
        if self.reconciled && !self.listing_pending && open {
            self.list_open(Duration::ZERO, true);
        }
        let unconfirmed: Vec<String> = self
            .orders
            .values()
            .filter(|o| o.state == LocalState::Unconfirmed && !self.probing.contains(&o.identifier))
            .map(|o| o.identifier.clone())
            .collect();
        for id in unconfirmed {
            self.query(&id, Why::Poll, Duration::ZERO);
        }
    }

    /// Finds (or adopts) the tracked order for a venue order.
    fn identify(&mut self, o: &Order) -> Option<String> {
        if let Some(i) = &o.identifier
            && self.orders.contains_key(i)
        {
            return Some(i.clone());
        }
        if let Some(i) = self.by_uuid.get(&o.uuid) {
            return Some(i.clone());
        }
        // Not in memory: maybe in the journal (terminal and pruned).
        let from_journal = {
            let j = self.journal();
            let id = match &o.identifier {
                Some(i) => Some(i.clone()),
                None => j.identifier_for_uuid(&o.uuid).ok().flatten(),
            };
            id.and_then(|i| j.order(&i).ok().flatten())
        };
        if let Some(t) = from_journal {
            let id = t.identifier.clone();
            self.orders.insert(id.clone(), t);
            return Some(id);
        }
        if o.state.is_terminal() {
            return None;
        }
        // A venue order hoga did not place (another client, or a lost journal): adopt it,
        // unless its side is one hoga does not know. Such an order is left out of tracking
        // and position maths (a side is never guessed), and only it: the rest of the
        // listing or stream is used. Counted in the status and logged once per order.
        let Some(side) = o.side else {
            if self.unsided_foreign.len() < MAX_UNSIDED && self.unsided_foreign.insert(o.uuid.clone()) {
                tracing::warn!(
                    uuid = %o.uuid,
                    market = %o.market,
                    ord_type = %o.ord_type,
                    "foreign open order with a side hoga does not know: not tracked"
                );
                self.info(format!(
                    "open order {} on {} has a side hoga does not know: not tracked \
                     (cancel it on Upbit if needed)",
                    o.uuid, o.market
                ));
            }
            return None;
        };
        let id = o.identifier.clone().unwrap_or_else(|| format!("uuid:{}", o.uuid));
        let req = OrderRequest {
            market: o.market.clone(),
            side,
            ord_type: o.ord_type,
            price: o.price,
            volume: o.volume,
            time_in_force: o.time_in_force,
        };
        let mut t = TrackedOrder::new(id.clone(), req);
        t.transition(LocalState::Submitted);
        if let Err(e) = self.journal().record_intent(&t, "adopted") {
            tracing::warn!(identifier = %id, error = %e, "adopted order not journaled");
        }
        self.adopted += 1;
        self.info(format!("adopted open order {id} from the exchange"));
        self.orders.insert(id.clone(), t);
        Some(id)
    }

    fn on_venue_order(&mut self, mut o: Order, source: &str) {
        let Some(id) = self.identify(&o) else {
            tracing::debug!(
                uuid = %o.uuid,
                source,
                "venue update for an unknown final order (or an unknown side) ignored"
            );
            return;
        };
        // The tracked order's side is authoritative: the venue's may be one hoga does not
        // know (`None`), and its fills then carry none either.
        if let Some(side) = self.orders.get(&id).map(|t| t.request.side) {
            o.side = Some(side);
            for f in &mut o.trades {
                resolve_side(&id, side, f);
            }
        }
        self.by_uuid.insert(o.uuid.clone(), id.clone());
        let (released, was_terminal, was_unconfirmed) = match self.orders.get_mut(&id) {
            Some(t) => {
                let was = t.state.is_terminal();
                let unconfirmed = t.state == LocalState::Unconfirmed;
                (t.apply_venue(&o), was, unconfirmed)
            }
            None => return,
        };
        if was_unconfirmed {
            // Booked late, or its lookup lagged: the venue's state wins (adopted).
            self.unconfirmed_since.remove(&id);
            if let Some(t) = self.orders.get_mut(&id) {
                t.reason = None;
            }
            self.journal_note(&id, "confirmed_late", source);
            self.info(format!("order {id} found at the exchange ({source}): adopted"));
        }
        for (f, out) in released {
            self.after_fill(&id, f, out);
        }
        // Fills that arrived before we knew this uuid (case 13).
        let orphans: Vec<Fill> = {
            let (mine, rest): (Vec<Fill>, Vec<Fill>) =
                std::mem::take(&mut self.orphan_fills).into_iter().partition(|f| f.order_uuid == o.uuid);
            self.orphan_fills = rest;
            mine
        };
        for f in orphans {
            self.apply_fill_to(&id, f);
        }
        self.save(&id);
        let now_terminal = self.orders.get(&id).is_some_and(|t| t.state.is_terminal());
        if now_terminal && !was_terminal {
            self.cancel_after_ack.remove(&id);
            self.refresh_balances();
            self.check_cancels();
            self.prune();
        } else if !now_terminal && !self.sending.contains(&id) && self.cancel_after_ack.remove(&id) {
            // A cancel asked for while the create was unanswered: its uuid is known now.
            self.cancel_tries.remove(&id);
            self.send_cancel(&id);
        }
    }

    /// Self-match prevention took part or all of an order away: the order carries the
    /// reason, the journal records it, and an order it ended is answered like an exchange
    /// refusal (the request that placed it hears why, the Orders pane shows it). Repeated
    /// frames with the same figures say nothing new.
    fn on_self_match(&mut self, m: SelfMatch) {
        let id = self
            .by_uuid
            .get(&m.uuid)
            .cloned()
            .or_else(|| m.identifier.clone().filter(|i| self.orders.contains_key(i)));
        let Some(id) = id else { return };
        let Some(t) = self.orders.get_mut(&id) else { return };
        let reason = m.reason(t.request.market.quote());
        if t.reason.as_deref() == Some(reason.as_str()) {
            return;
        }
        t.reason = Some(reason.clone());
        self.journal_note(&id, "self_trade_prevented", &reason);
        self.info(format!("order {id}: {reason}"));
        if m.ended {
            self.emit(OrderEvent::Rejected { identifier: Some(id.clone()), reason, denied_here: false });
        }
        self.save(&id);
    }

    fn on_stream_fill(&mut self, f: Fill) {
        match self.by_uuid.get(&f.order_uuid).cloned() {
            Some(id) => {
                self.apply_fill_to(&id, f);
                self.save(&id);
            }
            None => {
                if self.orphan_fills.len() >= MAX_ORPHAN_FILLS {
                    tracing::warn!(trade = %f.trade_uuid, "orphan fill buffer full; dropping the oldest");
                    self.orphan_fills.remove(0);
                }
                self.orphan_fills.push(f);
            }
        }
    }

    fn apply_fill_to(&mut self, id: &str, mut f: Fill) {
        let Some(t) = self.orders.get_mut(id) else { return };
        resolve_side(id, t.request.side, &mut f);
        let out = t.apply_fill(&f);
        self.after_fill(id, f, out);
    }

    fn after_fill(&mut self, id: &str, f: Fill, out: FillOutcome) {
        match out {
            FillOutcome::Applied => {
                let fresh = match self.journal().record_fill(Some(id), &f) {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        tracing::error!(trade = %f.trade_uuid, error = %e, "fill not journaled");
                        true
                    }
                };
                if !fresh {
                    return;
                }
                // Every fill reaching here was resolved against its tracked order.
                let Some(side) = f.side else {
                    tracing::error!(trade = %f.trade_uuid, "fill without a side; not counted in the position");
                    return;
                };
                let rate = self.rules_for(&f.market).fee_rate(side);
                let pos =
                    self.positions.entry(f.market.clone()).or_insert_with(|| Position::new(f.market.clone()));
                let realized = pos.apply_fill(&f, rate);
                let pos = pos.clone();
                self.risk().record_realized_now(realized);
                self.emit(OrderEvent::Filled { identifier: id.to_string(), fill: f, realized });
                self.emit(OrderEvent::Position(pos));
                self.refresh_balances();
            }
            FillOutcome::Duplicate | FillOutcome::Buffered => {}
            FillOutcome::Overfill { volume, remaining } => {
                let msg = format!(
                    "fill {} of {} exceeds the remaining {} of order {id}; not applied",
                    f.trade_uuid,
                    crate::exchange::display::quantity(volume),
                    crate::exchange::display::quantity(remaining)
                );
                tracing::error!("{msg}");
                self.journal_note(id, "overfill", &msg);
                self.emit(OrderEvent::Info(msg));
            }
        }
    }

    fn seed_positions(&mut self, balances: &[Balance]) {
        let first = self.balances.is_empty();
        for b in balances {
            if b.currency == b.unit_currency || b.currency == "KRW" {
                continue;
            }
            let market = MarketId::new(&format!("{}-{}", b.unit_currency, b.currency));
            match self.positions.get_mut(&market) {
                // Restored from the journal: kept (fees in its average) while the
                // exchange's volume agrees at the first balances.
                Some(p) => {
                    if first && p.reconcile(b.total(), b.avg_buy_price) {
                        let p = p.clone();
                        self.emit(OrderEvent::Position(p));
                    }
                }
                None => {
                    let p = Position::from_balance(market.clone(), b.total(), b.avg_buy_price);
                    // The start a replay of the journal needs after a restart.
                    let j = self.journal();
                    let seeded = j.fill_count().and_then(|n| {
                        let detail = crate::trading::position::seed_detail(&p, n);
                        j.event(None, crate::trading::position::SEED_EVENT, &detail)
                    });
                    drop(j);
                    if let Err(e) = seeded {
                        tracing::warn!(error = %e, market = %p.market, "position seed not journaled");
                    }
                    self.positions.insert(market, p);
                }
            }
        }
        if !first {
            return;
        }
        // A coin the exchange no longer lists was sold (elsewhere too): flat.
        let gone: Vec<MarketId> = self
            .positions
            .iter()
            .filter(|(m, p)| !p.volume.is_zero() && !balances.iter().any(|b| b.currency == m.base()))
            .map(|(m, _)| m.clone())
            .collect();
        for m in gone {
            if let Some(p) = self.positions.get_mut(&m)
                && p.reconcile(Decimal::ZERO, Decimal::ZERO)
            {
                let p = p.clone();
                self.emit(OrderEvent::Position(p));
            }
        }
    }

    fn prune(&mut self) {
        let terminal: Vec<String> =
            self.orders.values().filter(|o| o.state.is_terminal()).map(|o| o.identifier.clone()).collect();
        if terminal.len() <= KEEP_TERMINAL {
            return;
        }
        let mut terminal = terminal;
        // UUIDv7 identifiers sort by time: drop the oldest.
        terminal.sort();
        for id in terminal.iter().take(terminal.len() - KEEP_TERMINAL) {
            if let Some(o) = self.orders.remove(id)
                && let Some(u) = o.uuid
            {
                self.by_uuid.remove(&u);
            }
            self.cancel_tries.remove(id);
        }
    }
}

/// Gives a fill of a tracked order that order's side, which is authoritative (hoga placed
/// it, or adopted it with the side the venue gave then): a side the venue sent that hoga
/// does not know (`None`) is filled in, never guessed; a different one is logged and
/// overridden.
fn resolve_side(id: &str, side: Side, f: &mut Fill) {
    if f.side.is_some_and(|s| s != side) {
        tracing::warn!(
            identifier = id,
            trade = %f.trade_uuid,
            "fill side differs from the order's; the order's is used"
        );
    }
    f.side = Some(side);
}
