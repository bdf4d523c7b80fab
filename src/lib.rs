//! hoga — a keyboard trading console for the Upbit exchange.
//!
//! One process, one tokio runtime; every task is spawned through
//! [`kernel::TaskManager`]. The wiring as it runs (`console` connects the parts):
//!
//! ```text
//! keys (crossterm) ─► ui::app ─► keymap ─► ui::update (pure reducer) ─► UiCommand
//!        │ parsed in the UI: `:buy …` is a typed TradeRequest, a typo never leaves it
//!        ▼
//!   ui::sink ── urgent (Trading, Safety, Config: in order, never dropped)
//!            └─ other (Command: bounded, drops counted)      forwarded by kernel::pump
//!        ▼
//!   bus  (one worker per lane; envelopes carry a CorrelationId)
//!    ├ trading ─► console::trade::Desk ─► trading::manager (journal, risk gate, venue)
//!    │              ▲  requests from the UI and the monitor's exits    │ OrderEvents
//!    │              └──────────── order facts, replies ◄───────────────┘
//!    ├ safety ──► console::safety: halts, kill, resume, feed health, bans, task panics
//!    │              └─► trading::monitor::TradingStateHandle (ACTIVE/REDUCING/HALTED)
//!    ├ config ──► console::changes: bus::ChangeGate, held while the desk's InFlightBook
//!    │              counts an order in flight; the desk says when trading is idle
//!    ├ command ─► selection (market, timeframe, depth), acknowledgements, quit
//!    └ logging ─► the Log pane
//!
//! exchange::{rest, stream} (Upbit's) ◄─► feed::FeedManager (one socket, per-pane proxies)
//!        ─► console::market pumps ─► store::Store (single writer; snapshots)
//!        ─► trading::monitor (ticks: stop / take-profit / trailing / OCO)
//! store ─► watch<Arc<Snapshot>> ─► ui::app ─► render (pure) ─► the screen
//! ```
//!
//! Following one `:buy`: [`ui::update()`] parses it into a [`trading::intent::TradeRequest`]
//! → [`ui::sink`] → the Trading lane → `console::trade::Desk::handle` →
//! [`trading::manager`] journals and sends it → its [`trading::manager::OrderEvent`]s come
//! back on the Trading lane in the request's chain → the desk answers with a
//! [`trading::intent::TradeReply`] and updates the [`store`] → the message line and the
//! Orders pane. A stop-loss exit: [`trading::monitor`] fires a `MonitorAction` → the
//! console puts it on the Trading lane as a request from the monitor → the same desk →
//! the manager → its facts go back to the monitor through [`trading::bridge`].
//!
//! The simulator in [`sim`] speaks Upbit's wire protocol on loopback, so demo mode, tests
//! and benchmarks exercise the real client code. `docs/ARCHITECTURE.md` has the whole
//! picture.

// Items are `pub(crate)` unless something outside the library uses them, so the compiler
// finds dead code; the docs are a developer's map of the whole crate, read with
// `cargo doc --document-private-items`, and link crate-private items on purpose.
#![allow(rustdoc::private_intra_doc_links)]

pub mod bus;
pub mod cli;
pub mod config;
pub mod console;
pub mod datadir;
pub mod exchange;
pub mod feed;
pub mod indicators;
pub mod kernel;
pub mod logging;
pub mod notify;
pub mod sim;
pub mod store;
pub mod trading;
pub mod ui;
