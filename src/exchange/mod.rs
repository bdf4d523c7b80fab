//! Exchange-neutral types and the Upbit adapter.
//!
//! `Upbit*` names live only under [`upbit`] (and in `sim`, which speaks the same wire
//! format). Everything above speaks the neutral types in [`types`], so a second exchange
//! is a new folder, not a rewrite.

pub mod api;
pub mod types;
pub mod upbit;

pub use types::*;
