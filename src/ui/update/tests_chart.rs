//! The reducer's tests of the chart's scroll keys and `:compare`: what the view does and
//! what the chart pump is told.
#![cfg(test)]

use std::time::Instant;

use ratatui::layout::Rect;
use rust_decimal_macros::dec;

use super::test_support::info;
use super::*;
use crate::exchange::types::Candle;
use crate::store::{Store, StoreEvent};
use crate::ui::layout::PaneId;
use crate::ui::state::UiConfig;

fn minute(start: i64) -> Candle {
    let p = dec!(100);
    Candle {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        start: start * 60_000,
        open: p,
        high: p,
        low: p,
        close: p,
        volume: dec!(1),
        value: p,
        timestamp: start * 60_000,
    }
}

/// Three markets listed and 200 minutes of KRW-BTC; the chart focused on a 120x40 screen.
fn chart_ui() -> (UiState, std::sync::Arc<Snapshot>) {
    let snap = Store::new().apply_batch(
        [
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC"), info("KRW-ETH"), info("KRW-XRP")]),
            StoreEvent::CandlesLoaded {
                market: MarketId::new("KRW-BTC"),
                timeframe: Timeframe::M1,
                candles: (0..200).map(minute).collect(),
            },
        ],
        Instant::now(),
    );
    let mut ui = UiState::new(UiConfig::default());
    ui.area = Rect::new(0, 0, 120, 40);
    on_snapshot(&mut ui, &snap);
    ui.focus = PaneId::Chart;
    (ui, snap)
}

fn reach_of(cmds: &[UiCommand]) -> Option<usize> {
    cmds.iter().find_map(|c| match c {
        UiCommand::ChartReach { market, timeframe: Timeframe::M1, reach } if market.as_str() == "KRW-BTC" => {
            Some(*reach)
        }
        _ => None,
    })
}

#[test]
fn back_forward_and_bottom_scroll_the_chart_and_tell_the_pump_its_reach() {
    let (mut ui, snap) = chart_ui();
    let columns = normal::chart_columns(&ui);
    let page = crate::ui::chart_view::page_candles(columns);
    let cmds = update(&mut ui, Action::ChartBack, &snap);
    assert_eq!(ui.chart.offset, page);
    assert_eq!(reach_of(&cmds), Some(page + columns));
    update(&mut ui, Action::ChartBack, &snap);
    let cmds = update(&mut ui, Action::ChartForward, &snap);
    assert_eq!((ui.chart.offset, reach_of(&cmds)), (page, Some(page + columns)));
    // `G` on the chart: back to the newest (elsewhere it is the last row).
    let cmds = update(&mut ui, Action::Bottom, &snap);
    assert_eq!((ui.chart.offset, reach_of(&cmds)), (0, Some(columns)));
    // Another timeframe or market starts at the newest.
    update(&mut ui, Action::ChartBack, &snap);
    update(&mut ui, Action::TimeframeNext, &snap);
    assert_eq!(ui.chart.offset, 0);
    update(&mut ui, Action::TimeframePrev, &snap);
    update(&mut ui, Action::ChartBack, &snap);
    select_market(&mut ui, MarketId::new("KRW-ETH"));
    assert_eq!(ui.chart.offset, 0);
}

#[test]
fn bottom_a_timeframe_or_a_market_change_clears_the_chart_cursor() {
    // A cursor left on an old candle would name a candle the live view does not show.
    let (mut ui, snap) = chart_ui();
    let back = |ui: &mut UiState| {
        update(ui, Action::ChartBack, &snap);
        update(ui, Action::CursorLeft, &snap);
        update(ui, Action::CursorLeft, &snap);
        assert!(ui.chart.cursor.is_some());
    };
    back(&mut ui);
    update(&mut ui, Action::Bottom, &snap);
    assert_eq!((ui.chart.offset, ui.chart.cursor), (0, None), "G: live, no cursor");
    back(&mut ui);
    update(&mut ui, Action::TimeframeNext, &snap);
    assert_eq!((ui.chart.offset, ui.chart.cursor), (0, None), "another timeframe");
    update(&mut ui, Action::TimeframePrev, &snap);
    back(&mut ui);
    select_market(&mut ui, MarketId::new("KRW-ETH"));
    assert_eq!((ui.chart.offset, ui.chart.cursor), (0, None), "another market");
}

#[test]
fn compare_sets_the_markets_refuses_unlisted_ones_and_clears() {
    let (mut ui, snap) = chart_ui();
    let cmds = command_line::run(&mut ui, &snap, "compare eth KRW-BTC KRW-XRP eth");
    let want = vec![MarketId::new("KRW-ETH"), MarketId::new("KRW-XRP")];
    assert_eq!(cmds, vec![UiCommand::ChartCompare(want.clone())]);
    assert_eq!(ui.chart.compare, want);
    let cmds = command_line::run(&mut ui, &snap, "compare KRW-NOPE KRW-ETH");
    assert!(cmds.is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.error && m.text.contains("KRW-NOPE")), "{:?}", ui.message);
    assert_eq!(ui.chart.compare, want, "a refused line changes nothing");
    let cmds = command_line::run(&mut ui, &snap, "compare");
    assert_eq!(cmds, vec![UiCommand::ChartCompare(Vec::new())]);
    assert!(ui.chart.compare.is_empty());
}

#[test]
fn the_compared_markets_kept_from_the_last_session_are_followed_again() {
    let snap = Store::new().apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-BTC")])], Instant::now());
    let mut ui = UiState::new(UiConfig::default());
    ui.chart.compare = vec![MarketId::new("KRW-ETH")];
    let cmds = on_snapshot(&mut ui, &snap);
    assert!(cmds.contains(&UiCommand::ChartCompare(vec![MarketId::new("KRW-ETH")])), "{cmds:?}");
}

/// The chart pane's text (title included) on the 120x40 screen of `chart_ui`.
fn chart_text(ui: &UiState, snap: &Snapshot) -> String {
    let area = ui.area;
    let mut buf = ratatui::buffer::Buffer::empty(area);
    crate::ui::render(area, &mut buf, ui, snap, &crate::ui::theme::Theme::default());
    let rect = crate::ui::layout::compute(ui, area).and_then(|l| l.rect(PaneId::Chart)).unwrap();
    let mut out = String::new();
    for y in rect.y..rect.y + rect.height {
        for x in rect.x..rect.x + rect.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_title_says_a_page_is_loading_and_where_the_history_starts() {
    let (mut ui, _) = chart_ui();
    let btc = MarketId::new("KRW-BTC");
    let mut store = Store::new();
    let load = StoreEvent::CandlesLoaded {
        market: btc.clone(),
        timeframe: Timeframe::M1,
        candles: (0..200).map(minute).collect(),
    };
    let paging = StoreEvent::HistoryPaging {
        market: btc.clone(),
        timeframe: Timeframe::M1,
        state: Some(crate::store::market::HistoryState::Loading),
    };
    let snap =
        store.apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-BTC")]), load, paging], Instant::now());
    assert!(chart_text(&ui, &snap).contains("loading older…"));
    // Nothing older came: said once the view looks back, not while it is live.
    let nothing =
        StoreEvent::OlderCandlesLoaded { market: btc, timeframe: Timeframe::M1, candles: Vec::new() };
    let snap = store.apply_batch([nothing], Instant::now());
    assert!(!chart_text(&ui, &snap).contains("start of history"));
    update(&mut ui, Action::ChartBack, &snap);
    let text = chart_text(&ui, &snap);
    assert!(text.contains("start of history") && !text.contains("loading older"), "{text}");
}
