//! Which venue the market panes show (`:venue binance`, `V`), and what the screen
//! remembers of each: the market last shown there and the markets tab.
//!
//! Only Upbit trades. While another venue is shown every key or line that would place an
//! order or arm a rule (or an alert on that venue's market) is refused on the message line
//! with [`read_only`]; cancels and the kill switch still act on Upbit, whose orders the
//! Orders pane keeps showing.

use std::collections::{BTreeMap, BTreeSet};

use crate::exchange::VenueId;
use crate::exchange::types::MarketId;
use crate::store::Snapshot;
use crate::ui::state::MarketTab;

/// The market shown first on Binance when none was shown there before (and it is listed).
pub(crate) const BINANCE_DEFAULT_MARKET: &str = "USDT-BTC";

/// What the screen knows of the venues it can show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Venues {
    /// Venues other than Upbit whose market data has come: their store said its mode and
    /// exchange, or listed markets. Only these can be switched to.
    pub(crate) on: BTreeSet<VenueId>,
    /// The market last shown on each venue, shown again when the screen comes back to it.
    pub(crate) markets: BTreeMap<VenueId, MarketId>,
    /// The markets tab last used on each venue (Binance lists USDT markets only).
    pub(crate) tabs: BTreeMap<VenueId, MarketTab>,
    /// The venue shown when the console last closed: switched to once it is on (a venue
    /// turned off since leaves the screen on Upbit).
    pub(crate) restore: Option<VenueId>,
}

impl Venues {
    /// Whether `venue` can be shown now (Upbit always can).
    pub fn is_on(&self, venue: VenueId) -> bool {
        venue == VenueId::Upbit || self.on.contains(&venue)
    }

    /// The market to show first on `venue`: the one shown there last, else `upbit_start`
    /// on Upbit (the one saved at the last exit); None: the venue's main market.
    pub(crate) fn remembered(&self, venue: VenueId, upbit_start: Option<&MarketId>) -> Option<MarketId> {
        self.markets
            .get(&venue)
            .cloned()
            .or_else(|| (venue == VenueId::Upbit).then(|| upbit_start.cloned()).flatten())
    }
}

/// Whether a venue's store has said anything that shows it is on: its mode and exchange
/// (set once when the venue starts), or a market list.
pub(crate) fn store_is_on(snap: &Snapshot) -> bool {
    !snap.account.exchange.is_empty() || !snap.market.markets.is_empty()
}

/// The main market of `venue`, shown there first when listed.
pub(crate) fn default_market(venue: VenueId) -> MarketId {
    match venue {
        VenueId::Upbit => MarketId::new(super::update::DEFAULT_MARKET),
        VenueId::Binance => MarketId::new(BINANCE_DEFAULT_MARKET),
    }
}

/// The tab a venue's markets are first listed under.
pub(crate) fn default_tab(venue: VenueId) -> MarketTab {
    match venue {
        VenueId::Upbit => MarketTab::Krw,
        VenueId::Binance => MarketTab::Usdt,
    }
}

/// The markets tabs of `venue`, in the order the tab keys go through them.
pub(crate) fn tabs(venue: VenueId) -> &'static [MarketTab] {
    match venue {
        VenueId::Upbit => &MarketTab::ALL,
        VenueId::Binance => &[MarketTab::Usdt, MarketTab::Favorites],
    }
}

/// Why trading is refused while `venue` is shown.
pub fn read_only(venue: VenueId) -> String {
    format!("{} is read-only here: :venue upbit to trade", venue.name())
}

/// Why `venue` cannot be shown: it is off.
pub fn off(venue: VenueId) -> String {
    format!("{} is off: set [venues] {} = true in config", venue.name(), venue.as_str())
}

/// `:venue` alone: the venue shown and the choices.
pub(crate) fn describe(shown: VenueId, venues: &Venues) -> String {
    let choices: Vec<String> = VenueId::ALL
        .iter()
        .map(|v| if venues.is_on(*v) { v.as_str().to_string() } else { format!("{} (off)", v.as_str()) })
        .collect();
    format!("venue: {} (:venue {})", shown.as_str(), choices.join(" | "))
}
