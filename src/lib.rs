//! hoga — a keyboard trading console for the Upbit exchange.
//!
//! One process, one tokio runtime. Data flows in one direction:
//!
//! ```text
//! keys (crossterm EventStream)
//!   └─► ui::app  select! { biased; cancel > input > snapshot.changed() > frame tick }
//!         │ keymap.resolve(context, chord) ─► Action
//!         │ ui::update(&mut UiState, Action, &Snapshot) ─► Vec<Command>      (pure reducer)
//!         ▼
//!       bus ── lanes: Trading > Safety > Config > Command > Logging > Cleanup
//!         │          + Market (conflating: latest value per (market, stream))
//!         ▼
//!   handlers: feed::FeedManager ◄─► exchange::upbit::{rest, ws}
//!             trading::{orders, monitor, journal}     notify::Notifier
//!         │ Events (facts: TickerUpdated, OrderFilled, StreamReconnected…)
//!         ▼
//!       store::Store  (single writer; applies events in batches)
//!         │ watch::Sender<Arc<Snapshot>>   (version per section; unchanged parts shared)
//!         ▼
//!       ui::app marks dirty ─► next frame: render(&UiState, &Snapshot)      (pure)
//! ```
//!
//! Every task is spawned through [`kernel::TaskManager`]; the simulator in [`sim`] speaks
//! Upbit's wire protocol on loopback so demo mode, tests and benchmarks exercise the real
//! client code.

pub mod bus;
pub mod cli;
pub mod config;
pub mod console;
pub mod exchange;
pub mod feed;
pub mod kernel;
pub mod logging;
pub mod notify;
pub mod sim;
pub mod store;
pub mod trading;
pub mod ui;
