//! How the chart is looked at, besides its market and timeframe: the studies drawn, the
//! price scale, how far back in time the view is scrolled, the cursor and the markets
//! compared with the main one. The reducer changes it; the chart pane reads it.

use crate::exchange::types::MarketId;
use crate::indicators::series::{Study, StudyCache};

/// At most this many markets are compared with the one shown.
pub const MAX_COMPARED: usize = 3;

/// The chart's view state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartView {
    /// Studies drawn over the candles or below them, in the order they were added.
    pub studies: Vec<Study>,
    /// Logarithmic price scale.
    pub log_scale: bool,
    /// Candles scrolled back from the newest (0: the newest candle is at the right edge).
    pub offset: usize,
    /// The cursor, as candles back from the newest candle (None: no cursor).
    pub cursor: Option<usize>,
    /// Markets drawn beside the shown one, normalised (at most [`MAX_COMPARED`]).
    pub compare: Vec<MarketId>,
    /// The studies' series, computed as the chart is drawn and updated incrementally as
    /// candles change: `cache.series(market, timeframe, candles, &studies)`.
    pub cache: StudyCache,
}

/// Columns a chart pane of `width` gives its candles: less the border and the price axis.
pub fn plot_columns(pane_width: u16) -> usize {
    usize::from(pane_width.saturating_sub(2 + CHART_AXIS))
}

/// The price axis's columns (the chart widget's own width for its labels).
const CHART_AXIS: u16 = 12;

/// Candles a page moves the view: about three quarters of what a chart of `columns`
/// shows at two columns a candle (body and gap), so a page back keeps a quarter of the
/// view in sight.
pub fn page_candles(columns: usize) -> usize {
    (columns / 2 * 3 / 4).max(1)
}

impl ChartView {
    /// Scrolls `page` candles back in time. The view keeps at least one of the `loaded`
    /// candles in sight; at the start of the history (`at_start`) it stops with the
    /// oldest candle at the left edge of the `columns` it has.
    pub fn scroll_back(&mut self, page: usize, loaded: usize, at_start: bool, columns: usize) {
        let most = if at_start {
            loaded.saturating_sub(page_candles(columns) * 4 / 3)
        } else {
            loaded.saturating_sub(1)
        };
        self.offset = self.offset.saturating_add(page).min(most);
    }

    /// Scrolls `page` candles forward in time, to the newest at most.
    pub fn scroll_forward(&mut self, page: usize) {
        self.offset = self.offset.saturating_sub(page);
    }

    /// Back to the newest candle (live). The cursor goes too: left on an old candle it
    /// would name a candle the live view no longer shows.
    pub fn to_newest(&mut self) {
        self.offset = 0;
        self.cursor = None;
    }

    /// Candles back from the newest the view reaches with `columns` to fill: its offset
    /// plus as many candles as could fit at one column each (the most it may show).
    pub fn reach(&self, columns: usize) -> usize {
        self.offset.saturating_add(columns)
    }

    /// The compared markets to draw beside `shown`: the shown one left out (it may have
    /// become the shown market since it was compared).
    pub fn compared<'a>(&'a self, shown: Option<&'a MarketId>) -> impl Iterator<Item = &'a MarketId> + 'a {
        self.compare.iter().filter(move |m| Some(*m) != shown)
    }
}

/// The markets `:compare` asks for, checked: each must be listed (`known`), the shown one
/// and repeats are dropped, at most [`MAX_COMPARED`]. The error names what is refused.
pub fn compare_list(
    asked: &[MarketId],
    shown: Option<&MarketId>,
    known: impl Fn(&MarketId) -> bool,
) -> Result<Vec<MarketId>, String> {
    let unknown: Vec<String> = asked.iter().filter(|m| !known(m)).map(|m| m.to_string()).collect();
    if !unknown.is_empty() {
        return Err(format!("not listed: {}", unknown.join(", ")));
    }
    let mut out: Vec<MarketId> = Vec::new();
    for m in asked {
        if Some(m) != shown && !out.contains(m) {
            out.push(m.clone());
        }
    }
    if out.len() > MAX_COMPARED {
        return Err(format!("at most {MAX_COMPARED} markets beside the shown one ({} asked)", out.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_keeps_a_candle_in_sight_and_stops_at_the_start() {
        let mut v = ChartView::default();
        v.scroll_back(75, 200, false, 200);
        assert_eq!(v.offset, 75);
        v.scroll_back(75, 200, false, 200);
        v.scroll_back(75, 200, false, 200);
        assert_eq!(v.offset, 199, "one loaded candle stays in sight while older ones load");
        // At the start of the history: the oldest candle at the left edge, no further.
        v.scroll_back(75, 200, true, 200);
        assert_eq!(v.offset, 100);
        v.scroll_forward(75);
        v.scroll_forward(75);
        assert_eq!(v.offset, 0);
        v.offset = 40;
        v.to_newest();
        assert_eq!(v.offset, 0);
        assert_eq!(page_candles(plot_columns(120)), 39);
    }

    #[test]
    fn compare_refuses_unknown_markets_and_drops_the_shown_and_repeats() {
        let m = MarketId::new;
        let known = |x: &MarketId| x.as_str() != "KRW-NOPE";
        let btc = m("KRW-BTC");
        let got = compare_list(&[m("KRW-ETH"), m("KRW-BTC"), m("KRW-ETH"), m("KRW-XRP")], Some(&btc), known);
        assert_eq!(got, Ok(vec![m("KRW-ETH"), m("KRW-XRP")]));
        let e = compare_list(&[m("KRW-ETH"), m("KRW-NOPE")], Some(&btc), known).unwrap_err();
        assert_eq!(e, "not listed: KRW-NOPE");
        let four = [m("KRW-ETH"), m("KRW-XRP"), m("KRW-SOL"), m("KRW-ADA")];
        assert!(compare_list(&four, Some(&btc), known).unwrap_err().contains("at most 3"));
        assert_eq!(compare_list(&[], Some(&btc), known), Ok(vec![]));
    }
}
