//! The reducer's tests of the chart's studies: `:ind` adds, removes, lists and clears
//! them with the limits said, `i` on the chart opens the command line on `ind add `, and
//! the studies shown survive a restart and come back with a saved layout.
#![cfg(test)]

use super::*;
use crate::indicators::series::Study;
use crate::store::Store;
use crate::ui::layout::{self, PaneId};
use crate::ui::state::UiConfig;

/// Runs `:text` and returns the message line (text, whether an error).
fn run_line(ui: &mut UiState, snap: &Snapshot, text: &str) -> (String, bool) {
    update(ui, Action::OpenCommandLine, snap);
    for c in text.chars() {
        update(ui, Action::InsertChar(c), snap);
    }
    update(ui, Action::Submit, snap);
    ui.message.as_ref().map(|m| (m.text.clone(), m.error)).unwrap_or_default()
}

#[test]
fn ind_adds_removes_lists_and_clears_with_the_limits_said() {
    let s = Store::new().snapshot();
    let mut ui = UiState::new(UiConfig::default());
    // A fresh user sees what the chart always showed: the 20-candle average and volume.
    assert_eq!(ui.chart.studies, Study::DEFAULTS);
    assert_eq!(
        run_line(&mut ui, &s, "ind"),
        ("studies: SMA 20, VOL 20 (:ind add rsi 14, :ind rm STUDY, :ind clear)".into(), false)
    );
    let (text, error) = run_line(&mut ui, &s, "ind add rsi 14");
    assert_eq!((text.as_str(), error), ("RSI 14 added; studies: SMA 20, VOL 20, RSI 14", false));
    run_line(&mut ui, &s, "ind add macd");
    run_line(&mut ui, &s, "ind add ema 50");
    assert_eq!(ui.chart.studies.last(), Some(&Study::Ema { period: 50 }));
    // A fourth sub-pane is refused with the reason; so is a repeat and a bad period.
    let (text, error) = run_line(&mut ui, &s, "ind add rsi 7");
    assert!(error && text.contains("sub-pane") && text.contains("VOL 20, RSI 14, MACD 12 26 9"), "{text}");
    let (text, error) = run_line(&mut ui, &s, "ind add ema 50");
    assert!(error && text.contains("EMA 50 is shown already"), "{text}");
    let (text, error) = run_line(&mut ui, &s, "ind add sma 0");
    assert!(error && text.contains("1..=500"), "{text}");
    let (text, error) = run_line(&mut ui, &s, "ind add");
    assert!(error && text.contains("which study"), "{text}");
    assert_eq!(ui.chart.studies.len(), 5);
    let (text, error) = run_line(&mut ui, &s, "ind rm ema 50");
    assert_eq!(
        (text.as_str(), error),
        ("EMA 50 removed; studies: SMA 20, VOL 20, RSI 14, MACD 12 26 9", false)
    );
    let (text, error) = run_line(&mut ui, &s, "ind rm bb 20");
    assert!(error && text.contains("BB 20 2 is not shown"), "{text}");
    let (text, error) = run_line(&mut ui, &s, "ind frob");
    assert!(error && text.contains("usage: :ind add rsi 14"), "{text}");
    run_line(&mut ui, &s, "ind clear");
    assert!(ui.chart.studies.is_empty());
    assert_eq!(run_line(&mut ui, &s, "ind").0, "studies: none (:ind add rsi 14, :ind rm STUDY, :ind clear)");
}

#[test]
fn i_on_the_chart_opens_the_command_line_on_ind_add() {
    let s = Store::new().snapshot();
    let km = crate::ui::keymap::Keymap::default_keymap().unwrap();
    let mut ui = UiState::new(UiConfig::default());
    ui.focus = PaneId::Chart;
    let i: crate::ui::keymap::KeyChord = "i".parse().unwrap();
    assert_eq!(km.resolve(ui.context(), i), Some(Action::AddStudy));
    update(&mut ui, Action::AddStudy, &s);
    assert_eq!(ui.command_line.as_ref().map(|c| c.input.as_str()), Some("ind add "));
    for c in "vwap".chars() {
        update(&mut ui, Action::InsertChar(c), &s);
    }
    update(&mut ui, Action::Submit, &s);
    assert_eq!(ui.chart.studies.last(), Some(&Study::Vwap));
}

#[test]
fn studies_survive_a_restart_and_come_back_with_a_saved_layout() {
    use crate::ui::persist::{LAYOUTS_FILE, STATE_FILE, Saver, restore};
    let dir = tempfile::tempdir().unwrap();
    let config = || UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() };
    let s = Store::new().snapshot();
    let mut ui = UiState::new(config());
    assert!(restore(&mut ui).is_empty());
    let mut saver = Saver::new(&ui);
    run_line(&mut ui, &s, "ind add rsi 14");
    run_line(&mut ui, &s, "layout save momentum");
    run_line(&mut ui, &s, "ind clear");
    run_line(&mut ui, &s, "ind add bb 20 2.5");
    saver.save(&mut ui);
    // After a restart: the studies last shown, not the defaults.
    let mut again = UiState::new(config());
    assert!(restore(&mut again).is_empty());
    assert_eq!(again.chart.studies, [Study::Bollinger { period: 20, width: rust_decimal_macros::dec!(2.5) }]);
    // The saved layout brings its studies back.
    assert!(layout::switch(&mut again, "momentum"));
    assert_eq!(
        again.chart.studies,
        [Study::Sma { period: 20 }, Study::Volume { period: 20 }, Study::Rsi { period: 14 }]
    );
    // Cleared is remembered as cleared, not as "never chose".
    run_line(&mut again, &s, "ind clear");
    Saver::new(&UiState::new(config())).save(&mut again);
    let mut third = UiState::new(config());
    restore(&mut third);
    assert!(third.chart.studies.is_empty());
    // A study the files cannot read is named and skipped; the rest stays.
    std::fs::write(dir.path().join(STATE_FILE), "studies = [\"RSI 14\", \"STOCH 14\"]\n").unwrap();
    std::fs::write(
        dir.path().join(LAYOUTS_FILE),
        "[mine]\nbase = 'all'\nfocus = 'chart'\nstudies = ['EMA 9', 'EMA 0']\n",
    )
    .unwrap();
    let mut fourth = UiState::new(config());
    let problems = restore(&mut fourth);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("\"EMA 0\"") && p.contains("mine")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("\"STOCH 14\"") && p.contains(STATE_FILE)), "{problems:?}");
    assert_eq!(fourth.chart.studies, [Study::Rsi { period: 14 }]);
    assert!(layout::switch(&mut fourth, "mine"));
    assert_eq!(fourth.chart.studies, [Study::Ema { period: 9 }]);
}
