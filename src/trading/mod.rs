//! Trading core: order validation and state (`orders`), command-line and form input
//! (`input`), positions and P&L (`position`), the durable journal (`journal`), the risk
//! gate and trading state (`risk`), client-side stop/take-profit/trailing rules and alerts
//! (`rules`), the order manager with reconciliation (`engine`), the local paper venue
//! (`paper`), credentials (`credentials`) and mode selection (`mode`).
//!
//! Pure parts (orders, input, position, risk, rules) are synchronous and property-tested;
//! the order manager is async and generic over [`engine::OrderVenue`], which the REST
//! client, the paper engine and the tests' fake venue implement.

pub mod input;
pub mod journal;
pub mod orders;
pub mod position;
pub mod risk;
pub mod rules;
