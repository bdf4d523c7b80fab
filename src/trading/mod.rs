//! Trading core: order validation and state (`orders`), command-line and form input
//! (`input`), positions and P&L (`position`), the durable journal (`journal`), the risk
//! gate and trading state (`risk`), client-side stop/take-profit/trailing rules and alerts
//! (`rules`), the venue abstraction over the Upbit REST client (`venue`), the order
//! manager with reconciliation (`manager`), the local paper venue (`paper`), API keys
//! (`credentials`), mode selection with the live arm step (`mode`), the trading monitor
//! (`monitor`) and the bridge between monitor exits and the manager (`bridge`).
//!
//! Pure parts (orders, input, position, risk, rules) are synchronous and property-tested;
//! the order manager is async and talks to a [`venue::OrderVenue`], which the REST
//! client, the paper engine and the tests' fake venue implement.

pub mod bridge;
pub mod credentials;
pub mod input;
pub mod intent;
pub mod journal;
pub mod manager;
pub mod mode;
pub mod monitor;
pub mod orders;
pub mod paper;
pub mod position;
pub mod risk;
pub mod rules;
pub mod venue;
