//! Where orders go, seen from trading: the neutral [`OrderVenue`] port and its error split
//! (defined in [`crate::exchange::venue`], re-exported here where the order manager and
//! the paper engine use them). A REST ban becomes the trading state on the Safety lane
//! (`console::safety::spawn_watch`).

pub(crate) use crate::exchange::venue::ORDER_NOT_FOUND;
pub use crate::exchange::venue::{DUPLICATE_IDENTIFIER, OrderVenue, VenueError, VenueFuture, VenueRef};
