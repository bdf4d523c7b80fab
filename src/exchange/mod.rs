//! Exchange-neutral types and traits, and the Upbit adapter that implements them.
//!
//! Feed, trading and UI use only the neutral modules: [`types`] and [`api`] (market data,
//! orders, stream events), [`rules`] (price grid, volume precision, order totals),
//! [`credentials`] (the key pair), [`error`] (what a failed call means), [`rest`] (the
//! REST reads they make), [`stream`] (the session and decoder the feed's connections
//! drive) and [`venue`] (the order manager's port and its error split). `Upbit*` names
//! live only under [`upbit`] (and in `sim`, which speaks the same wire format).
//!
//! A second exchange is a new folder implementing those traits ([`Exchange`], [`rules::PriceGrid`],
//! [`rest::RestApi`] and [`stream::StreamVenue`] on its REST client,
//! [`stream::StreamSession`], [`stream::StreamDecoder`], [`venue::OrderVenue`]), plus two
//! places that pick it: [`Active`], which names the venue where nothing is built yet to
//! ask (the default price grid, the trading modes' REST client, `hoga stream`'s defaults),
//! and the console, which builds the venue's REST client for the feed and the modes. Some
//! rules in `trading` are still Upbit's alone: the side × order type × time-in-force
//! matrix and the default fee (`trading::orders`).

pub mod api;
pub mod binance;
pub mod credentials;
pub mod display;
pub mod error;
pub mod rest;
pub mod rules;
pub mod stream;
pub mod types;
pub mod upbit;
pub mod venue;

pub use types::*;

use std::fmt;
use std::sync::Arc;

use crate::exchange::credentials::Credentials;
use crate::exchange::error::ExchangeError;
use crate::exchange::rules::PriceGrid;
use crate::exchange::stream::StreamVenue;
use crate::exchange::venue::OrderVenue;

/// What neutral code needs of a venue as a whole, where it has nothing built yet to ask:
/// how to make its REST client and order venue from settings and keys, and the rules a
/// market has before the venue said anything about it.
pub trait Exchange: 'static {
    /// The venue's name, for people (`Upbit`).
    const NAME: &'static str;

    /// REST client settings (base URL, timeouts).
    type RestConfig: Clone + fmt::Debug + Default + Send + Sync + 'static;

    /// The REST client (which names the stream session type too).
    type Rest: StreamVenue;

    /// Settings for a server at `base_url` (the simulator, a test server), otherwise the
    /// defaults.
    fn rest_config(base_url: &str) -> Self::RestConfig;

    /// Builds a REST client; with `credentials` it can call account endpoints.
    fn connect_rest(
        config: Self::RestConfig,
        credentials: Option<Credentials>,
    ) -> Result<Self::Rest, ExchangeError>;

    /// The order venue over a client that has credentials.
    fn order_venue(rest: Arc<Self::Rest>) -> Arc<dyn OrderVenue>;

    /// The venue's built-in price grid and order limits.
    fn grid() -> &'static dyn PriceGrid;
}

/// The venues hoga shows. Upbit is where orders go; the others are market data only
/// (read-only views and the kimchi premium).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum VenueId {
    /// Upbit (Korea): market data and trading.
    #[default]
    Upbit,
    /// Binance spot: public market data only.
    Binance,
}

impl VenueId {
    /// Every venue, in the order they are listed.
    pub const ALL: [VenueId; 2] = [VenueId::Upbit, VenueId::Binance];

    /// The name for people (`Upbit`, `Binance`).
    pub fn name(self) -> &'static str {
        match self {
            VenueId::Upbit => "Upbit",
            VenueId::Binance => "Binance",
        }
    }

    /// Lower-case name, as typed in `:venue` and written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            VenueId::Upbit => "upbit",
            VenueId::Binance => "binance",
        }
    }

    /// True when orders may be sent to this venue.
    pub fn trades(self) -> bool {
        self == VenueId::Upbit
    }
}

impl std::str::FromStr for VenueId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "upbit" => Ok(VenueId::Upbit),
            "binance" => Ok(VenueId::Binance),
            other => Err(format!("unknown venue {other:?} (one of upbit, binance)")),
        }
    }
}

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The venue this build trades on.
pub type Active = upbit::Upbit;

/// The price grid of [`Active`]: order validation's default rules, the monitor's minimum
/// totals and the chart's price labels.
pub fn grid() -> &'static dyn PriceGrid {
    Active::grid()
}
