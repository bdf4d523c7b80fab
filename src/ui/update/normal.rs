//! Keys with no modal layer open: focus and panes, cursors, the markets list, selection,
//! cancels, the kill switch, and opening the command line, the form or the search.

use super::{UiCommand, fix_focus, ladder, move_cursor, request_quit, select_market, set_timeframe, trade};
use crate::exchange::types::{MarketId, Timeframe};
use crate::store::Snapshot;
use crate::store::market::HistoryState;
use crate::trading::input::CancelTarget;
use crate::trading::intent::TradeIntent;
use crate::ui::action::Action;
use crate::ui::command_line::CommandLine;
use crate::ui::layout::{self, PaneId};
use crate::ui::order_form::OrderForm;
use crate::ui::state::{KILL_CONFIRM_WINDOW, Overlay, SortColumn, UiState, visible_markets};

/// A key with no modal layer open.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    match action {
        Action::Quit | Action::ForceQuit => return request_quit(ui, snap),
        Action::Help => ui.overlay = Overlay::Help { scroll: 0 },
        Action::OpenCommandLine => ui.command_line = Some(CommandLine::default()),
        Action::Protect if super::venue::refuse_trading(ui) => {}
        Action::Protect => match protect_market(ui, snap) {
            Some(m) => {
                ui.command_line =
                    Some(CommandLine { input: format!("stop {m} -3%"), ..CommandLine::default() });
                ui.info("edit the stop and press enter (tp / trail work the same way)");
            }
            None => ui.error("no coin under the cursor to protect (KRW is cash)"),
        },
        Action::FocusNext => cycle_focus(ui, true),
        Action::FocusPane(p) => {
            if layout::visible_panes(ui, ui.area).contains(&p) {
                ui.focus = p;
            }
        }
        Action::FocusPrev => cycle_focus(ui, false),
        Action::Maximize => {
            ui.maximized = if ui.maximized.is_some() { None } else { Some(ui.focus) };
        }
        Action::HidePane => {
            if layout::visible_panes(ui, ui.area).len() > 1 {
                ui.maximized = None;
                ui.hidden.insert(ui.focus);
                fix_focus(ui);
            } else {
                ui.error("cannot hide the last pane");
            }
        }
        Action::ShowAllPanes => {
            ui.hidden.clear();
            ui.maximized = None;
        }
        Action::Bottom if ui.focus == PaneId::Chart => return scroll_chart(ui, action, snap),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            move_in_pane(ui, action, snap)
        }
        Action::Select => {
            if ui.focus == PaneId::Markets {
                let rows = visible_markets(ui, snap);
                if let Some(m) = rows.get(ui.markets.cursor).map(|m| m.market.clone()) {
                    return select_market(ui, m);
                }
            }
        }
        Action::Back => {
            ui.message = None;
            ui.maximized = None;
            // On the book, the ladder cursor is taken away: `b` / `s` use the best bid / ask
            // of the moment again (and say so).
            if ui.focus == PaneId::Orderbook {
                ui.book_price = None;
            }
            if ui.focus == PaneId::Chart {
                ui.chart.cursor = None;
            }
        }
        Action::TimeframeNext | Action::TimeframePrev => {
            let i = Timeframe::ALL.iter().position(|t| *t == ui.timeframe).unwrap_or(1);
            let j = if action == Action::TimeframeNext {
                (i + 1).min(Timeframe::ALL.len() - 1)
            } else {
                i.saturating_sub(1)
            };
            if i != j {
                return set_timeframe(ui, Timeframe::ALL[j]);
            }
        }
        Action::AddStudy => {
            ui.command_line = Some(CommandLine { input: "ind add ".into(), ..CommandLine::default() })
        }
        Action::ChartBack | Action::ChartForward => return scroll_chart(ui, action, snap),
        Action::ToggleLogScale => ui.chart.log_scale = !ui.chart.log_scale,
        Action::CursorLeft | Action::CursorRight => return chart_cursor(ui, action, snap),
        Action::AckAlerts => return vec![UiCommand::AcknowledgeAlerts],
        Action::CancelOrder => {
            // The cursor runs over the open orders, then the refused ones (never sent, or
            // refused by the exchange: nothing to cancel).
            let orders = &snap.account.open_orders;
            let last = (orders.len() + ui.requests.refused().len()).saturating_sub(1);
            let cursor = ui.orders_cursor.min(last);
            match orders.get(cursor) {
                Some(o) => {
                    let label = format!("cancel {} {}", o.market, o.uuid);
                    return trade(ui, TradeIntent::Cancel(CancelTarget::Order(o.uuid.clone())), &label);
                }
                None if cursor >= orders.len() && ui.requests.refused().len() > 0 => {
                    ui.error("that order was refused: there is nothing to cancel")
                }
                None => ui.error("no open order to cancel"),
            }
        }
        Action::KillSwitch => {
            let now = ui.now;
            match ui.kill_armed_at.take() {
                Some(at) if now.saturating_duration_since(at) <= KILL_CONFIRM_WINDOW => {
                    let intent = TradeIntent::Kill { why: "kill switch".into() };
                    let cmds = trade(ui, intent, "KILL SWITCH (halt trading, cancel every order)");
                    if let Some(m) = ui.message.as_mut() {
                        m.error = true;
                    }
                    return cmds;
                }
                _ => {
                    ui.kill_armed_at = Some(now);
                    ui.error(
                        "kill switch: press (or hold) it again within 2 s to HALT and cancel every order",
                    );
                }
            }
        }
        Action::OrderForm if super::venue::refuse_trading(ui) => {}
        Action::OrderForm => match ui.market.clone() {
            Some(m) => {
                let last = snap.market.tickers.get(&m).map(|t| t.value.trade_price);
                ui.form = Some(OrderForm::new(m, last));
            }
            None => ui.error("select a market first"),
        },
        Action::CancelAll => {
            // The selected market's orders; every market's when none is selected, or when
            // the market shown is another venue's (the orders on screen are all Upbit's).
            let target = match ui.market.clone() {
                Some(m) if ui.venue.trades() => CancelTarget::Market(m),
                _ => CancelTarget::All,
            };
            let n = snap.account.open_orders.len();
            let intent = TradeIntent::Cancel(target);
            let label = intent.summary();
            // Every market's orders at one key is asked first (default No), naming how
            // many are listed and that they are Upbit's: on Binance's view nothing on
            // screen says so. Asked even when none is listed: an order just typed may not
            // be listed yet, and the cancel would take it.
            if matches!(intent, TradeIntent::Cancel(CancelTarget::All)) {
                let venue = if ui.venue.trades() {
                    String::new()
                } else {
                    " (Binance shows no order of ours)".into()
                };
                let what = match n {
                    0 => "cancel every open Upbit order on every market (none listed yet)? y/N".to_string(),
                    1 => "cancel all 1 open Upbit order on every market? y/N".to_string(),
                    n => format!("cancel all {n} open Upbit orders on every market? y/N"),
                };
                ui.pending_rule = Some(crate::ui::state::PendingRule {
                    intent,
                    text: label,
                    title: " Cancel every order ".into(),
                    lines: vec![what],
                    warnings: if venue.is_empty() {
                        Vec::new()
                    } else {
                        vec![format!("the orders are on Upbit{venue}")]
                    },
                    default_no: true,
                });
                ui.overlay = crate::ui::state::Overlay::ConfirmRule;
                return Vec::new();
            }
            return trade(ui, intent, &label);
        }
        Action::TabNext | Action::TabPrev => {
            // The venue's own tabs (Binance lists no KRW or BTC market).
            let tabs = crate::ui::venue::tabs(ui.venue);
            let i = tabs.iter().position(|t| *t == ui.markets.tab).unwrap_or(0);
            let n = tabs.len();
            ui.markets.tab = tabs[if action == Action::TabNext { (i + 1) % n } else { (i + n - 1) % n }];
            ui.markets.cursor = 0;
        }
        Action::SortNext => {
            let i = SortColumn::ALL.iter().position(|c| *c == ui.markets.sort).unwrap_or(0);
            ui.markets.sort = SortColumn::ALL[(i + 1) % SortColumn::ALL.len()];
            ui.markets.ascending = false;
        }
        Action::SortReverse => ui.markets.ascending = !ui.markets.ascending,
        Action::ToggleMovers => {
            ui.markets.movers = !ui.markets.movers;
            ui.markets.cursor = 0;
        }
        Action::ToggleHeatmap => ui.markets.heatmap = !ui.markets.heatmap,
        Action::Search => {
            ui.markets.searching = true;
            ui.markets.query.clear();
            ui.markets.cursor = 0;
        }
        Action::ToggleFavorite => {
            let rows = visible_markets(ui, snap);
            if let Some(m) = rows.get(ui.markets.cursor).map(|m| m.market.clone()) {
                if !ui.favorites.remove(&m) {
                    ui.favorites.insert(m);
                }
                return vec![UiCommand::SaveFavorites(ui.favorites.iter().cloned().collect())];
            }
        }
        Action::ToggleDepth => {
            let old = ui.book_depth;
            // The cursor is a price: it stays where it is.
            ui.book_depth = match old {
                5 => 15,
                15 => 30,
                _ => 5,
            };
            return vec![UiCommand::SetDepth(ui.book_depth as u16)];
        }
        Action::GroupCoarser | Action::GroupFiner => {
            let old = ui.book_group;
            ui.book_group = if action == Action::GroupCoarser {
                (old + 1).min(crate::store::grouping::STEPS)
            } else {
                old.saturating_sub(1)
            };
            if ui.book_group != old {
                return vec![UiCommand::SetBookGroup(ui.book_group)];
            }
        }
        Action::DepthChart => ui.book_chart = !ui.book_chart,
        // The book shown is another venue's: its prices are no Upbit order's.
        Action::LadderBuy | Action::LadderSell | Action::LadderCancel if super::venue::refuse_trading(ui) => {
        }
        Action::LadderBuy | Action::LadderSell | Action::LadderCancel => {
            return ladder::key(ui, action, snap);
        }
        Action::LogLevelNext => ui.log_level = ui.log_level.next(),
        Action::ToggleVenue => return super::venue::toggle(ui),
        Action::Confirm
        | Action::Deny
        | Action::Submit
        | Action::Complete
        | Action::HistoryPrev
        | Action::HistoryNext
        | Action::DeleteBack
        | Action::InsertChar(_) => {}
    }
    Vec::new()
}

/// `<`, `>` and `G` on the chart: a page back or forward in time, or back to the newest.
/// The pump is told how far back the view now reaches, so older candles load before the
/// view gets to the oldest one.
fn scroll_chart(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    let Some(m) = ui.market.clone() else { return Vec::new() };
    let columns = chart_columns(ui);
    let page = crate::ui::chart_view::page_candles(columns);
    let loaded = snap.market.series(&m, ui.timeframe).len();
    let at_start = snap.market.history(&m, ui.timeframe).is_some_and(|h| h != HistoryState::Loading);
    match action {
        Action::ChartBack => ui.chart.scroll_back(page, loaded, at_start, columns),
        Action::ChartForward => ui.chart.scroll_forward(page),
        _ => ui.chart.to_newest(),
    }
    vec![chart_reach(ui, m, columns)]
}

/// The chart pane's plot columns (a full screen's when the chart is not on screen).
pub(super) fn chart_columns(ui: &UiState) -> usize {
    let width =
        layout::compute(ui, ui.area).and_then(|l| l.rect(PaneId::Chart)).map_or(ui.area.width, |r| r.width);
    crate::ui::chart_view::plot_columns(width)
}

/// Tells the chart pump how far back the view of `m` reaches.
pub(super) fn chart_reach(ui: &UiState, m: MarketId, columns: usize) -> UiCommand {
    UiCommand::ChartReach { market: m, timeframe: ui.timeframe, reach: ui.chart.reach(columns) }
}

/// The rows a page turn moves in `pane`: the rows it shows (its height less the border
/// and the header line), so PageDown brings the next screenful, at any terminal size.
pub(super) fn page_rows(ui: &UiState, pane: PaneId) -> usize {
    layout::compute(ui, ui.area)
        .and_then(|l| l.rect(pane))
        .map_or(1, |r| usize::from(r.height.saturating_sub(3)))
        .max(1)
}

/// Up, Down, Page, Top, Bottom: the focused pane's cursor or scroll.
fn move_in_pane(ui: &mut UiState, action: Action, snap: &Snapshot) {
    let page = page_rows(ui, ui.focus);
    match ui.focus {
        PaneId::Markets => {
            let len = visible_markets(ui, snap).len();
            ui.markets.cursor = move_cursor(ui.markets.cursor, len, action, page);
        }
        PaneId::Orders => {
            let len = snap.account.open_orders.len() + ui.requests.refused().len();
            ui.orders_cursor = move_cursor(ui.orders_cursor, len, action, page);
        }
        PaneId::Portfolio => {
            let len = crate::ui::panes::portfolio::row_markets(ui, snap).len();
            ui.portfolio_cursor = move_cursor(ui.portfolio_cursor, len, action, page);
        }
        PaneId::Orderbook => ladder::move_in_book(ui, action, snap),
        pane => {
            let s = ui.scroll.entry(pane).or_default();
            *s = match action {
                Action::Up => s.saturating_sub(1),
                Action::Down => *s + 1,
                Action::PageUp => s.saturating_sub(page),
                Action::PageDown => *s + page,
                Action::Top => 0,
                // Clamped by the pane when drawing.
                _ => usize::MAX / 2,
            };
        }
    }
}

/// Moves the chart's cursor a candle older or newer, within the series loaded; the first
/// press puts it on the newest candle in view. The view follows a cursor that leaves it
/// (and the pump is told how far back it then reaches).
fn chart_cursor(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    let Some(m) = ui.market.clone() else { return Vec::new() };
    let len = snap.market.series(&m, ui.timeframe).len();
    if len == 0 {
        return Vec::new();
    }
    let last = len - 1;
    let at = match ui.chart.cursor {
        None => ui.chart.offset.min(last),
        Some(c) if action == Action::CursorLeft => (c + 1).min(last),
        Some(c) => c.saturating_sub(1),
    };
    ui.chart.cursor = Some(at);
    let columns = chart_columns(ui);
    // Two columns a candle, as the chart draws them (one only under 16 columns).
    let shown = if columns < 16 { columns } else { columns / 2 }.max(1);
    let offset = ui.chart.offset;
    if at < offset {
        ui.chart.offset = at;
    } else if at >= offset + shown {
        ui.chart.offset = at + 1 - shown;
    }
    if ui.chart.offset != offset { vec![chart_reach(ui, m, columns)] } else { Vec::new() }
}

fn cycle_focus(ui: &mut UiState, forward: bool) {
    let visible = layout::visible_panes(ui, ui.area);
    if visible.is_empty() {
        return;
    }
    let i = visible.iter().position(|p| *p == ui.focus).unwrap_or(0);
    let n = visible.len();
    ui.focus = visible[if forward { (i + 1) % n } else { (i + n - 1) % n }];
}

/// The market of the coin under the portfolio cursor (`KRW-BTC` for a BTC balance), or
/// the selected market when the portfolio is empty. Cash has nothing to protect.
fn protect_market(ui: &UiState, snap: &Snapshot) -> Option<MarketId> {
    // The rows the pane shows (a zero balance is not one of them).
    let rows = crate::ui::panes::portfolio::row_markets(ui, snap);
    if rows.is_empty() {
        return ui.market.clone();
    }
    rows.get(ui.portfolio_cursor.min(rows.len() - 1))?.clone()
}
