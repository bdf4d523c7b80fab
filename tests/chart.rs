#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The chart pane drawn from a store snapshot, at 120x40 and 80x24: studies with their
//! values, round prices on the axis, dates with the year on day and week charts, our
//! order, rule and alert lines, the cursor's readout, the log scale and the scroll-back
//! title, checked cell by cell on the rendered screen.

mod common;

use std::time::Instant;

use common::screen_text;
use hoga::exchange::types::{Candle, MarketId, OrderType, Side, Timeframe};
use hoga::indicators::series::{self, Study, StudySeries};
use hoga::store::{Snapshot, Store, StoreEvent};
use hoga::trading::monitor::AlertRow;
use hoga::trading::rules::AlertCondition;
use hoga::ui::keymap::{Context, KeyChord, Keymap};
use hoga::ui::{Action, PaneId, UiConfig};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// 2026-12-05 00:00 KST.
const T0: i64 = 1_796_396_400_000;

fn candles(tf: Timeframe, n: i64) -> Vec<Candle> {
    (0..n)
        .map(|i| {
            let o = dec!(148_000_000) + Decimal::from((i * 37) % 23) * dec!(25_000);
            let close = o + Decimal::from(i % 5) * dec!(10_000) - dec!(20_000);
            Candle {
                market: MarketId::new("KRW-BTC"),
                timeframe: tf,
                start: T0 - (n - 1 - i) * tf.seconds() * 1000,
                open: o,
                high: o.max(close) + dec!(40_000),
                low: o.min(close) - dec!(30_000),
                close,
                volume: Decimal::from(i % 7 + 1),
                value: Decimal::from(i % 7 + 1) * o,
                timestamp: 0,
            }
        })
        .collect()
}

fn order(price: Decimal) -> hoga::exchange::types::Order {
    hoga::exchange::types::Order {
        uuid: "u-1".into(),
        identifier: None,
        market: MarketId::new("KRW-BTC"),
        side: Some(Side::Bid),
        ord_type: OrderType::Limit,
        price: Some(price),
        volume: Some(dec!(0.015)),
        remaining_volume: dec!(0.015),
        executed_volume: Decimal::ZERO,
        executed_funds: None,
        reserved_fee: Decimal::ZERO,
        remaining_fee: Decimal::ZERO,
        paid_fee: Decimal::ZERO,
        locked: Decimal::ZERO,
        state: hoga::exchange::types::OrderState::Wait,
        time_in_force: None,
        created_at: String::new(),
        trades_count: 0,
        trades: vec![],
    }
}

fn snapshot(tf: Timeframe, n: i64, extra: Vec<StoreEvent>) -> std::sync::Arc<Snapshot> {
    let mut store = Store::new();
    let mut events = vec![StoreEvent::CandlesLoaded {
        market: MarketId::new("KRW-BTC"),
        timeframe: tf,
        candles: candles(tf, n),
    }];
    events.extend(extra);
    store.apply_batch(events, Instant::now())
}

fn ui_state(tf: Timeframe, studies: &[Study]) -> hoga::ui::state::UiState {
    let mut ui = hoga::ui::state::UiState::new(UiConfig::default());
    ui.market = Some(MarketId::new("KRW-BTC"));
    ui.timeframe = tf;
    ui.chart.studies = studies.to_vec();
    ui
}

/// The chart pane alone (maximised) at `w`×`h`, as text lines.
fn draw(ui: &mut hoga::ui::state::UiState, snap: &Snapshot, w: u16, h: u16) -> Vec<String> {
    ui.maximized = Some(PaneId::Chart);
    let area = Rect::new(0, 0, w, h);
    ui.area = area;
    let mut buf = Buffer::empty(area);
    hoga::ui::render(area, &mut buf, ui, snap, &hoga::ui::Theme::default());
    screen_text(&buf).lines().map(String::from).collect()
}

/// The axis column's text of every row (the last 12 columns inside the border).
fn axis(lines: &[String], w: u16) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            let from = usize::from(w - 13).min(chars.len());
            chars[from..chars.len().min(usize::from(w - 1))].iter().collect::<String>()
        })
        .collect()
}

fn last_value(s: &StudySeries) -> Decimal {
    match s {
        StudySeries::Line(v) => v.last().copied().flatten().unwrap(),
        other => panic!("not a line: {other:?}"),
    }
}

#[test]
fn studies_round_prices_and_lines_at_both_sizes() {
    let sma = Study::Sma { period: 20 };
    let studies = [sma, Study::Volume { period: 20 }, Study::Rsi { period: 14 }];
    let alert = AlertRow {
        id: "a-1".into(),
        market: MarketId::new("KRW-BTC"),
        condition: AlertCondition::Above(dec!(148_500_000)),
        label: "KRW-BTC > 148,500,000".into(),
        fired: false,
        levels: vec![dec!(148_500_000)],
    };
    let snap = snapshot(
        Timeframe::M1,
        120,
        vec![
            StoreEvent::OrdersUpdated(vec![order(dec!(148_050_000))]),
            StoreEvent::AlertsUpdated(vec![alert]),
        ],
    );
    let series = snap.market.series(&MarketId::new("KRW-BTC"), Timeframe::M1);
    let avg = last_value(&series::compute(&sma, series)).round_dp(0);
    let avg_text = hoga::ui::widgets::format::price(avg);
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut ui = ui_state(Timeframe::M1, &studies);
        let lines = draw(&mut ui, &snap, w, h);
        let screen = lines.join("\n");
        // The average's value in the legend, as the study computes it.
        assert!(screen.contains(&format!("SMA20 {avg_text}")), "{w}x{h}:\n{screen}");
        // The volume sub-pane with its value (one sub-pane at most at 80x24).
        assert!(screen.contains("VOL20 "), "{w}x{h}:\n{screen}");
        // The RSI's pane does not fit at 80x24: the legend says so, with its value.
        assert!(screen.contains("RSI14 "), "{w}x{h}:\n{screen}");
        assert_eq!(screen.contains("RSI14 49.89 (hidden: too few rows)"), h < 40, "{w}x{h}:\n{screen}");
        // Round prices on the axis: multiples of 50,000 won at least.
        let round: Vec<Decimal> = axis(&lines, w)
            .iter()
            .filter(|a| a.starts_with(' ') && a.trim().len() > 3)
            .filter_map(|a| a.trim().replace(',', "").parse().ok())
            .collect();
        assert!(round.len() >= 2, "{w}x{h}: {:?}", axis(&lines, w));
        assert!(round.iter().all(|p| (p % dec!(50_000)).is_zero()), "{w}x{h}: {round:?}");
        // Our bid and the alert, each labelled with its price at the right edge.
        let bid = lines.iter().find(|l| l.contains("─148,050,000")).expect("the bid's line");
        assert!(bid.contains("bid 0.015"), "{bid}");
        let alert = lines.iter().find(|l| l.contains("─148,500,000")).expect("the alert's line");
        assert!(alert.contains("alert"), "{alert}");
        // The time axis names the day of the first label.
        assert!(screen.contains("12-04 ") || screen.contains("12-05 "), "{w}x{h}:\n{screen}");
    }
}

#[test]
fn day_and_week_charts_show_dates_with_the_year() {
    for (tf, n) in [(Timeframe::D1, 200), (Timeframe::W1, 150)] {
        let snap = snapshot(tf, n, vec![]);
        for (w, h) in [(120u16, 40u16), (80, 24)] {
            let mut ui = ui_state(tf, &[]);
            let lines = draw(&mut ui, &snap, w, h);
            let screen = lines.join("\n");
            let dated = lines.iter().any(|l| {
                l.split_whitespace().any(|word| word.trim_matches('│').starts_with("202") && word.len() >= 4)
            });
            assert!(dated, "{tf:?} at {w}x{h}: no date with the year\n{screen}");
        }
    }
}

#[test]
fn the_cursor_log_scale_and_scroll_back_show_in_the_pane() {
    let snap = snapshot(Timeframe::M1, 120, vec![]);
    let series = snap.market.series(&MarketId::new("KRW-BTC"), Timeframe::M1).to_vec();
    let mut ui = ui_state(Timeframe::M1, &Study::DEFAULTS);
    ui.focus = PaneId::Chart;
    ui.area = Rect::new(0, 0, 120, 40);
    // The keys are bound in the chart's context.
    let keymap = Keymap::default_keymap().unwrap();
    let chord = |s: &str| s.parse::<KeyChord>().unwrap();
    assert_eq!(keymap.resolve(Context::Chart, chord(",")), Some(Action::CursorLeft));
    assert_eq!(keymap.resolve(Context::Chart, chord(".")), Some(Action::CursorRight));
    assert_eq!(keymap.resolve(Context::Chart, chord("L")), Some(Action::ToggleLogScale));
    // First press: the newest candle; then two older, one newer.
    for a in [Action::CursorLeft, Action::CursorLeft, Action::CursorLeft, Action::CursorRight] {
        hoga::ui::update::update(&mut ui, a, &snap);
    }
    assert_eq!(ui.chart.cursor, Some(1));
    let c = &series[series.len() - 2];
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let screen = draw(&mut ui, &snap, w, h).join("\n");
        let open = format!("O {}", hoga::ui::widgets::format::price(c.open));
        assert!(screen.contains("2026-12-04 23:59") && screen.contains(&open), "{w}x{h}:\n{screen}");
        assert!(screen.contains('┊'), "the cursor's column at {w}x{h}");
    }
    // The view follows a cursor that leaves it (the default layout's chart shows fewer
    // than 20 candles at 120x40): its marked column stays on screen.
    ui.maximized = None;
    for _ in 0..19 {
        hoga::ui::update::update(&mut ui, Action::CursorLeft, &snap);
    }
    assert_eq!(ui.chart.cursor, Some(20));
    assert!(ui.chart.offset > 0);
    let area = Rect::new(0, 0, 120, 40);
    let mut buf = Buffer::empty(area);
    hoga::ui::render(area, &mut buf, &ui, &snap, &hoga::ui::Theme::default());
    assert!(screen_text(&buf).contains('┊'), "{}", screen_text(&buf));
    for _ in 0..20 {
        hoga::ui::update::update(&mut ui, Action::CursorRight, &snap);
    }
    assert_eq!((ui.chart.cursor, ui.chart.offset), (Some(0), 0));
    hoga::ui::update::update(&mut ui, Action::Back, &snap);
    assert_eq!(ui.chart.cursor, None);
    hoga::ui::update::update(&mut ui, Action::ToggleLogScale, &snap);
    assert!(ui.chart.log_scale);
    ui.chart.offset = 35;
    let lines = draw(&mut ui, &snap, 120, 40);
    assert!(lines[1].contains("log") && lines[1].contains("◀ 35 back"), "{}", lines[1]);
}

#[test]
fn compared_markets_are_drawn_in_percent_with_their_change() {
    // KRW-ETH at the same minutes, rising 0.1% a candle from 4,500,000.
    let eth: Vec<Candle> = candles(Timeframe::M1, 120)
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let close = dec!(4_500_000) + Decimal::from(i as i64) * dec!(4_500);
            Candle { market: MarketId::new("KRW-ETH"), open: close, high: close, low: close, close, ..c }
        })
        .collect();
    let snap = snapshot(
        Timeframe::M1,
        120,
        vec![StoreEvent::CandlesLoaded {
            market: MarketId::new("KRW-ETH"),
            timeframe: Timeframe::M1,
            candles: eth,
        }],
    );
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut ui = ui_state(Timeframe::M1, &[]);
        ui.chart.compare = vec![MarketId::new("KRW-ETH")];
        let lines = draw(&mut ui, &snap, w, h);
        let screen = lines.join("\n");
        assert!(lines[1].contains(" % "), "the title says the axis is in percent: {}", lines[1]);
        // The legend: ETH's change from the first candle shown to the newest.
        let shown = usize::from(w - 2 - 12) / 2;
        let change = Decimal::from(shown as i64 - 1) * dec!(4_500) / dec!(4_500_000) * Decimal::from(1)
            / (Decimal::ONE + Decimal::from(120 - shown as i64) * dec!(0.001));
        let text = format!("KRW-ETH {}", hoga::ui::widgets::format::pct(change));
        assert!(screen.contains(&text), "{text} at {w}x{h}:\n{screen}");
        assert!(axis(&lines, w).iter().any(|a| a.trim_end().ends_with('%')), "{w}x{h}:\n{screen}");
    }
}

/// The values a readout shows are those at the candle the view ends at, as the sub-pane
/// shows them; a MACD is never cut mid-number; VWAP says why it has no value; the
/// indicator board's defaults (BB, MACD) are not listed unless they are chosen studies.
#[test]
fn readouts_read_the_candle_in_view_whole_and_only_the_chosen_studies() {
    let snap = snapshot(Timeframe::M1, 120, vec![]);
    let series = snap.market.series(&MarketId::new("KRW-BTC"), Timeframe::M1);
    let rsi = Study::Rsi { period: 14 };
    let macd = Study::Macd { fast: 12, slow: 26, signal: 9 };
    let studies = [Study::Sma { period: 20 }, Study::Vwap, rsi, macd];
    let rsi_values = match series::compute(&rsi, series) {
        StudySeries::Oscillator(v) => v,
        other => panic!("{other:?}"),
    };
    for offset in [0usize, 30] {
        let end = series.len() - 1 - offset;
        let want = format!("RSI14 {:.2}", rsi_values[end].unwrap());
        for (w, h) in [(120u16, 40u16), (80, 24)] {
            let mut ui = ui_state(Timeframe::M1, &studies);
            ui.chart.offset = offset;
            let lines = draw(&mut ui, &snap, w, h);
            let screen = lines.join("\n");
            // At 80x24 the MACD's pane does not fit: named, with its values.
            assert_eq!(screen.contains("(hidden: too few rows)"), h < 40, "{w}x{h}:\n{screen}");
            assert_eq!(lines[1].contains("MACD hidden"), h < 40, "the title: {}", lines[1]);
            // Every RSI on screen is the one at the candle the view ends at.
            let shown: Vec<&str> = screen.match_indices("RSI14 ").map(|(i, _)| &screen[i..i + 11]).collect();
            assert!(!shown.is_empty() && shown.iter().all(|t| *t == want), "{want}: {shown:?}\n{screen}");
            assert!(!screen.contains("RSI(14)") && !screen.contains("BB(20"), "board defaults:\n{screen}");
            // The newest candle opens the KST day (its VWAP is its own price); the candles
            // before it are of a day whose start is not loaded.
            let vwap = if offset == 0 { "VWAP 148,250,000" } else { "VWAP — needs candles from 00:00 KST" };
            assert!(screen.contains(vwap), "{w}x{h}:\n{screen}");
            // The MACD's values whole: each ends at a space, a border or a `·`.
            for line in &lines {
                if let Some(i) = line.find("hist ") {
                    let rest: String =
                        line[i + 5..].chars().take_while(|c| !matches!(c, ' ' | '│')).collect();
                    let full = rest.replace(',', "").parse::<Decimal>();
                    assert!(full.is_ok(), "{rest:?} in {line}");
                }
            }
        }
    }
    // The cursor's candle goes with `G`: the readout names no candle the live view lacks.
    let mut ui = ui_state(Timeframe::M1, &studies);
    ui.focus = PaneId::Chart;
    ui.area = Rect::new(0, 0, 120, 40);
    ui.chart.offset = 60;
    hoga::ui::update::update(&mut ui, Action::CursorLeft, &snap);
    hoga::ui::update::update(&mut ui, Action::Bottom, &snap);
    let screen = draw(&mut ui, &snap, 120, 40).join("\n");
    assert!(!screen.contains(" O 1"), "no cursor readout after G:\n{screen}");
}

/// A chart pane as narrow as 80x24's default layout gives it, with three sub-panes and no
/// room for them: the title counts them whole (`3 hidden`), never cut mid-word, and a count
/// of left-out values says `more`, so it cannot be read as one of the values beside it.
#[test]
fn a_narrow_chart_s_title_and_counts_are_whole_words() {
    let snap = snapshot(Timeframe::M1, 120, vec![]);
    let studies = [
        Study::Volume { period: 20 },
        Study::Macd { fast: 12, slow: 26, signal: 9 },
        Study::Rsi { period: 14 },
    ];
    let mut ui = ui_state(Timeframe::M1, &studies);
    // The default layout at 80x24, not maximised: the chart pane is 40 columns wide.
    let area = Rect::new(0, 0, 80, 24);
    ui.area = area;
    let mut buf = Buffer::empty(area);
    hoga::ui::render(area, &mut buf, &ui, &snap, &hoga::ui::Theme::default());
    let lines: Vec<String> = screen_text(&buf).lines().map(String::from).collect();
    let screen = lines.join("\n");
    let title =
        lines.iter().find(|l| l.contains(" Chart ")).unwrap_or_else(|| panic!("the title:\n{screen}"));
    assert!(title.contains(" 3 hidden "), "{screen}");
    assert!(!title.contains("hidde─") && !title.contains("hidde┐"), "{screen}");
    // Every `+N` count on screen is followed by `more`.
    for line in &lines {
        for (i, _) in line.match_indices(" +") {
            let rest = &line[i + 2..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 && !rest[digits..].starts_with('.') && !rest[digits..].starts_with('%') {
                assert!(rest[digits..].starts_with(" more"), "a bare count: {line}\n{screen}");
            }
        }
    }
    assert!(screen.contains(" more"), "some values are left out at 80x24:\n{screen}");
}
