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
