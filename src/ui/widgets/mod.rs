//! Small drawing helpers shared by the panes: number formatting, age badges, the candle
//! chart and depth bars.

pub mod candles;
pub(crate) mod depth_bar;
pub(crate) mod depth_chart;
pub mod format;
pub mod premium;
pub mod scale;
pub(crate) mod sparkline;
