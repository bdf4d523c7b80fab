//! The kimchi premium as the panes show it: which Upbit KRW market's premium a row or the
//! status bar reads (a market of the other venue reads its coin's KRW market), when a
//! premium is too old to show, and its text (`+2.31%`, `—`). The premium itself is the
//! console's (`crate::store::premium`); nothing here computes one.

use std::time::Duration;

use rust_decimal::Decimal;

use crate::exchange::VenueId;
use crate::exchange::types::{MarketId, Timeframe};
use crate::store::Snapshot;
use crate::store::premium::{Premium, PremiumSeries};
use crate::ui::state::UiState;
use crate::ui::widgets::format;

/// A premium older than this (or than the UI's `stale_after`, when that is longer) reads
/// `—`: it is as old as the older of its two prices, and a quiet coin's last trade on one
/// venue may be half a minute old while the number is still the one a trader would get.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// The text of a missing or stale premium.
pub const NONE: &str = "—";

/// The Upbit KRW market whose premium `market` shows on `venue`: an Upbit KRW market its
/// own; a market of the other venue (`USDT-BTC` on Binance) its coin's (`KRW-BTC`), since
/// a trader there still wants to know it; none for Upbit's BTC and USDT markets.
pub fn krw_market(venue: VenueId, market: &MarketId) -> Option<MarketId> {
    match venue {
        VenueId::Upbit => (market.quote() == "KRW").then(|| market.clone()),
        VenueId::Binance => Some(MarketId::new(&format!("KRW-{}", market.base()))),
    }
}

/// The premium row of `market` as the view shows it, fresh or not.
pub fn row<'a>(ui: &UiState, snap: &'a Snapshot, market: &MarketId) -> Option<&'a Premium> {
    snap.market.premium.of(&krw_market(ui.venue, market)?)
}

/// Whether `p` is recent enough to show, at the frame's wall clock. A stamp ahead of the
/// clock (the venues' clocks and ours differ by a little) is fresh.
pub fn fresh(p: &Premium, ui: &UiState) -> bool {
    let limit = STALE_AFTER.max(ui.config.stale_after);
    let age_ms = ui.wall.timestamp_millis().saturating_sub(p.at_ms);
    age_ms < i64::try_from(limit.as_millis()).unwrap_or(i64::MAX)
}

/// `market`'s premium against Upbit's `KRW-USDT` (ratio), when it has a fresh one.
pub fn kimp(ui: &UiState, snap: &Snapshot, market: &MarketId) -> Option<Decimal> {
    row(ui, snap, market).filter(|p| fresh(p, ui)).and_then(|p| p.vs_usdt)
}

/// `market`'s premium against the USD/KRW reference rate (ratio), when it has a fresh one.
/// `KRW-USDT`'s is the USDT premium itself (테더 프리미엄): its price against the rate.
pub fn kimp_fx(ui: &UiState, snap: &Snapshot, market: &MarketId) -> Option<Decimal> {
    if krw_market(ui.venue, market).is_some_and(|m| m.as_str() == "KRW-USDT") {
        return snap.market.premium.usdt_vs_ref;
    }
    row(ui, snap, market).filter(|p| fresh(p, ui)).and_then(|p| p.vs_ref)
}

/// Whether a reference rate is configured (the `kimp fx` column and `fx` figure are
/// shown only then).
pub fn has_reference(snap: &Snapshot) -> bool {
    snap.market.premium.reference.is_some()
}

/// A premium as a signed percent with two decimals (`+2.31%`, `-0.45%`), `—` for none.
pub fn text(ratio: Option<Decimal>) -> String {
    ratio.map_or_else(|| NONE.to_string(), format::pct)
}

/// `market`'s premium line at `timeframe`, when the console has one.
pub fn series<'a>(
    ui: &UiState,
    snap: &'a Snapshot,
    market: &MarketId,
    timeframe: Timeframe,
) -> Option<&'a PremiumSeries> {
    let key = (krw_market(ui.venue, market)?, timeframe);
    snap.market.premium_history.get(&key).map(|s| &**s).filter(|s| !s.points.is_empty())
}

/// A price as the view's venue quotes it. Upbit's prices sit on its own grid and are
/// shown at its tick's precision; the other venue's have ticks of their own (BTCUSDT
/// 0.01, XRPUSDT 0.0001 where Upbit's USDT grid has 0.001), so its prices are shown
/// with every decimal they have, at least the grid's, never rounded onto a grid that
/// is not theirs.
pub fn venue_price(venue: VenueId, quote: &str, p: Decimal) -> String {
    match venue {
        VenueId::Upbit => format::market_price(quote, p),
        VenueId::Binance => crate::exchange::display::exact_price(quote, p.normalize()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_premium_reads_signed_with_two_decimals_and_none_as_a_dash() {
        assert_eq!(text(Some(dec!(0.0231))), "+2.31%");
        assert_eq!(text(Some(dec!(-0.00454))), "-0.45%");
        assert_eq!(text(Some(Decimal::ZERO)), "0.00%");
        assert_eq!(text(None), "—");
    }

    #[test]
    fn each_market_reads_its_coin_s_krw_market() {
        let m = MarketId::new;
        assert_eq!(krw_market(VenueId::Upbit, &m("KRW-BTC")), Some(m("KRW-BTC")));
        assert_eq!(krw_market(VenueId::Upbit, &m("BTC-ETH")), None);
        assert_eq!(krw_market(VenueId::Upbit, &m("USDT-BTC")), None);
        assert_eq!(krw_market(VenueId::Binance, &m("USDT-XRP")), Some(m("KRW-XRP")));
    }

    /// `KRW-USDT`'s fx column is the USDT premium itself (its price against the reference
    /// rate); it has no row of its own on the board, so it read `—` where a trader looks
    /// for it first.
    #[test]
    fn krw_usdt_s_fx_premium_is_the_usdt_premium() {
        use crate::store::premium::PremiumBoard;
        use crate::store::{Store, StoreEvent};
        use crate::ui::UiConfig;
        let board = PremiumBoard {
            krw_usdt: Some(dec!(1462)),
            usdt_vs_ref: Some(dec!(0.0072)),
            venue: "Binance".into(),
            ..PremiumBoard::default()
        };
        let now = std::time::Instant::now();
        let snap =
            Store::new().apply_batch(vec![StoreEvent::PremiumUpdated(std::sync::Arc::new(board))], now);
        let ui = UiState::new(UiConfig::default());
        assert_eq!(kimp_fx(&ui, &snap, &MarketId::new("KRW-USDT")), Some(dec!(0.0072)));
        assert_eq!(kimp(&ui, &snap, &MarketId::new("KRW-USDT")), None, "no premium against itself");
        assert_eq!(kimp_fx(&ui, &snap, &MarketId::new("KRW-BTC")), None);
    }

    /// The other venue's prices keep their own decimals: XRPUSDT's 2.1234 is not Upbit
    /// USDT's 2.123, BTCUSDT's 97,123.4 reads at cents, a tiny coin keeps its 8 decimals.
    #[test]
    fn the_other_venue_s_prices_are_never_rounded_onto_upbit_s_grid() {
        let b = VenueId::Binance;
        assert_eq!(venue_price(b, "USDT", dec!(2.1234)), "2.1234");
        assert_eq!(venue_price(b, "USDT", dec!(97123.4)), "97,123.40");
        assert_eq!(venue_price(b, "USDT", dec!(97123.40000000)), "97,123.40");
        assert_eq!(venue_price(b, "USDT", dec!(0.00001234)), "0.00001234");
        assert_eq!(venue_price(b, "USDT", dec!(0.35)), "0.3500");
        assert_ne!(format::market_price("USDT", dec!(2.1234)), "2.1234", "Upbit's grid would round it");
        assert_eq!(venue_price(VenueId::Upbit, "KRW", dec!(95000000)), "95,000,000");
    }
}
