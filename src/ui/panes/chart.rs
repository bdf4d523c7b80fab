//! Candle chart of the selected market and timeframe, with our open orders and armed
//! rules as price lines.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::pane_block;
use crate::exchange::types::Side;
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::candles::{self, PriceLine};
use crate::ui::widgets::format;

/// Draws the chart pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let market = ui.market.as_ref();
    let mut extra = vec![Span::styled(format!("{} ", ui.timeframe.label()), theme.accent)];
    if let Some(m) = market {
        extra.push(Span::styled(format!("{m} "), theme.text));
    }
    extra.push(Span::styled(format!("MA{} ", candles::MA_PERIOD), theme.accent));
    let series = market.map(|m| snap.market.series(m, ui.timeframe)).unwrap_or(&[]);
    // A chart is as fresh as its market's ticker.
    let age = market.and_then(|m| snap.market.tickers.get(m)).map(|t| t.age(ui.now));
    let stale = age.is_some_and(|a| a >= ui.config.stale_after);
    if let (true, Some(a)) = (stale, age) {
        extra.push(Span::styled(format!("stale {} ", format::age(a)), theme.warning));
    }
    let block = pane_block(PaneId::Chart, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines = Vec::new();
    if let Some(m) = market {
        for o in snap.account.open_orders.iter().filter(|o| &o.market == m) {
            if let Some(p) = o.price {
                lines.push(PriceLine {
                    price: p,
                    style: if o.side == Some(Side::Bid) { theme.buy } else { theme.sell },
                });
            }
        }
        // A rule relative to the average cost has no trigger price until there is a position.
        for r in snap.account.rules.iter().filter(|r| &r.market == m && r.is_armed()) {
            if let Some(price) = r.trigger {
                lines.push(PriceLine { price, style: theme.warning });
            }
        }
    }
    candles::render(inner, buf, series, &lines, theme, stale);
}
