//! Number, time and age formatting for narrow table cells. Money stays `Decimal`: the
//! formatting works on its decimal text, never through `f64`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::exchange::display::group;
// The number formats are shared with the messages of the trading layer, which does not
// depend on the UI; the screen's cells use them from here.
pub use crate::exchange::display::{
    amount, market_price, price, qty, quote_decimals, signed_amount, tick_price,
};

/// Order type label.
pub fn order_type(t: crate::exchange::types::OrderType) -> &'static str {
    crate::trading::orders::ord_type_str(t)
}

/// A duration in microseconds as `850µs`, `1.2ms` or `3.4s`.
pub(crate) fn micros(us: u64) -> String {
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.1}s", us as f64 / 1e6)
    }
}

/// A small ratio as percent with the decimals it needs to show two significant digits
/// (at least two, at most six): a one-tick BTC spread is `0.0011%`, never `0.00%`.
pub fn pct_fine(rate: Decimal) -> String {
    let Some(p) = rate.checked_mul(Decimal::ONE_HUNDRED) else { return "—".into() };
    let a = p.abs();
    let mut dp = 2;
    while dp < 6 && !a.is_zero() && a < Decimal::new(10, dp) {
        dp += 1;
    }
    let mut shown = p.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    shown.rescale(dp);
    format!("{shown}%")
}

/// A traded value: millions for KRW-sized numbers (`1,234M`), plain otherwise.
pub fn value(v: Decimal) -> String {
    let million = Decimal::from(1_000_000);
    if v.abs() >= million {
        format!("{}M", group(&(v / million).round().normalize().to_string()))
    } else {
        group(&v.round_dp(2).normalize().to_string())
    }
}

/// A signed ratio as percent (`0.0126` → `+1.26%`); `—` when too large to scale.
pub fn pct(rate: Decimal) -> String {
    let Some(p) = rate.checked_mul(Decimal::ONE_HUNDRED) else { return "—".into() };
    let p = p.round_dp(2);
    let sign = if p > Decimal::ZERO { "+" } else { "" };
    format!("{sign}{p:.2}%")
}

/// A compact age: `0s`, `12s`, `3m`, `2h`, `5d`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

/// Korea Standard Time is UTC+9 all year (no daylight saving), so a fixed shift is exact.
/// `None` at the very end of chrono's range (a time from the network can be anything).
fn kst(t: DateTime<Utc>) -> Option<chrono::NaiveDateTime> {
    t.naive_utc().checked_add_signed(TimeDelta::hours(9))
}

/// `HH:MM:SS` in KST for a wall-clock time.
pub(crate) fn clock_kst(t: DateTime<Utc>) -> String {
    kst(t).map_or_else(|| "--:--:--".into(), |t| t.format("%H:%M:%S").to_string())
}

/// `HH:MM:SS` in KST for exchange milliseconds.
pub(crate) fn ms_kst(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => clock_kst(t),
        None => "--:--:--".into(),
    }
}

/// The text of a number cell that fits `width` columns. A number that does not fit is
/// shortened by magnitude (`155,149,000` → `155.1M`), never cut: a table that truncates
/// a right-aligned cell drops its leading digits, which would show a wrong price. A
/// signed number stays signed (`+1,750,000` → `+1.75M`): a P&L is read for its sign.
pub fn fit(text: String, width: u16) -> String {
    let width = width as usize;
    if text.chars().count() <= width {
        return text;
    }
    // A rounded amount keeps its `≈` in front of its sign.
    let approx = if text.starts_with('≈') { "≈" } else { "" };
    let plus = if text.trim_start_matches('≈').starts_with('+') { "+" } else { "" };
    let digits: String = text.chars().filter(|c| !matches!(c, ',' | '+' | '≈')).collect();
    let Ok(v) = digits.parse::<Decimal>() else { return "…".repeat(width.min(1)) };
    let (neg, a) = (v.is_sign_negative(), v.abs());
    let sign = format!("{approx}{}", if neg { "-" } else { plus });
    let plus = format!("{approx}{plus}");
    for (unit, suffix) in [(1_000_000_000_000i64, "T"), (1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")]
    {
        let unit = Decimal::from(unit);
        if a < unit {
            continue;
        }
        for dp in (0..=2).rev() {
            let short = (a / unit).round_dp_with_strategy(dp, RoundingStrategy::ToZero).normalize();
            let s = format!("{sign}{short}{suffix}");
            if s.chars().count() <= width {
                return s;
            }
        }
    }
    // Small numbers with many decimals: fewer decimals, but never so few that a non-zero
    // number reads as zero (a fill of 0.00045 in a two-column cell is `…`, not `0`).
    for dp in (0..=8).rev() {
        let short = v.round_dp_with_strategy(dp, RoundingStrategy::ToZero);
        if short.is_zero() && !v.is_zero() {
            break;
        }
        let s = format!("{plus}{}", group(&short.normalize().to_string()));
        if s.chars().count() <= width {
            return s;
        }
    }
    "…".into()
}

/// Text from outside (a notice title) as every terminal draws it alike: sequences whose
/// width terminals disagree on are spelled out or taken apart. A flag (a pair of regional
/// indicators, 🇰🇷) becomes its letters in brackets (`[KR]`); joiners (ZWJ), variation
/// selectors, skin-tone modifiers, tag characters and the keycap mark are dropped, so a
/// ZWJ family is its members side by side; control characters become spaces. A terminal
/// that drew such a sequence narrower or wider than the layout counted left stray glyphs
/// (a lone `🇷`) on the lines below it.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let regional = |c: char| ('\u{1f1e6}'..='\u{1f1ff}').contains(&c);
    let dropped = |c: char| matches!(c, '\u{200d}' | '\u{20e3}' | '\u{fe00}'..='\u{fe0f}' | '\u{1f3fb}'..='\u{1f3ff}' | '\u{e0000}'..='\u{e007f}');
    if !text.chars().any(|c| regional(c) || dropped(c) || c.is_control()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let letter = |c: char| char::from_u32(u32::from(c) - 0x1f1e6 + u32::from('A')).unwrap_or('?');
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if regional(c) {
            out.push('[');
            out.push(letter(c));
            if let Some(&next) = chars.peek().filter(|n| regional(**n)) {
                out.push(letter(next));
                chars.next();
            }
            out.push(']');
        } else if c.is_control() {
            out.push(' ');
        } else if !dropped(c) {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn flags_and_joined_emoji_are_spelled_out_for_the_terminal() {
        assert_eq!(terminal_safe("[거래] 원화 마켓 안내"), "[거래] 원화 마켓 안내");
        assert!(matches!(terminal_safe("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(terminal_safe("🇰🇷 원화 🇺🇸🇯"), "[KR] 원화 [US][J]");
        assert_eq!(terminal_safe("가족 👨\u{200d}👩\u{200d}👧 👍🏽 ❤\u{fe0f}"), "가족 👨👩👧 👍 ❤");
        assert_eq!(terminal_safe("a\x1b[2Jb"), "a [2Jb");
    }

    #[test]
    fn formats() {
        assert_eq!(value(dec!(123456789012)), "123,457M");
        assert_eq!(pct(dec!(0.0126)), "+1.26%");
        assert_eq!(pct(dec!(-0.005)), "-0.50%");
        assert_eq!(age(Duration::from_secs(125)), "2m");
        assert_eq!(ms_kst(0), "09:00:00");
    }

    #[test]
    fn a_spread_ratio_keeps_two_significant_digits() {
        // One 1,000 KRW tick on a 95M BTC: 0.00105 %, which `pct` shows as 0.00 %.
        assert_eq!(pct_fine(dec!(1000) / dec!(95000000)), "0.0011%");
        assert_eq!(pct_fine(dec!(0.005)), "0.50%");
        assert_eq!(pct_fine(dec!(0.0000000001)), "0.000000%");
        assert_eq!(pct_fine(Decimal::ZERO), "0.00%");
        assert_eq!(pct_fine(Decimal::MAX), "—");
    }

    #[test]
    fn fit_shortens_numbers_instead_of_cutting_them() {
        assert_eq!(fit("155,149,000".into(), 11), "155,149,000");
        assert_eq!(fit("155,149,000".into(), 8), "155.14M");
        assert_eq!(fit("155,149,000".into(), 5), "155M");
        assert_eq!(fit("-2,500,000".into(), 6), "-2.5M");
        assert_eq!(fit("0.00012345".into(), 6), "0.0001");
        assert_eq!(fit("28,837,150".into(), 6), "28.83M");
        assert!(!fit("155,149,000".into(), 4).starts_with('5'));
    }

    #[test]
    fn fit_keeps_the_sign_of_a_signed_number() {
        // A P&L of +1,750,000 in a six-column cell read `1.75M`, as if unsigned.
        assert_eq!(fit("+1,750,000".into(), 6), "+1.75M");
        assert_eq!(fit("-1,750,000".into(), 6), "-1.75M");
        assert_eq!(fit("+0.00045".into(), 7), "+0.0004");
        assert_eq!(fit("+0.00045".into(), 2), "…");
        assert_eq!(fit("≈292,046".into(), 5), "≈292K");
    }

    #[test]
    fn fit_never_shows_a_non_zero_number_as_zero() {
        // A 0.00045 BTC fill in a two-column cell used to read "0".
        assert_eq!(fit("0.00045".into(), 2), "…");
        assert_eq!(fit("0.00045".into(), 6), "0.0004");
        assert_eq!(fit("-0.00045".into(), 2), "…");
        assert_eq!(fit("0".into(), 1), "0");
        assert_eq!(fit("0.00000000".into(), 1), "0");
    }

    #[test]
    fn edges_of_decimal_and_time_never_panic() {
        assert_eq!(pct(Decimal::MAX), "—");
        assert_eq!(pct(Decimal::MIN), "—");
        let last = chrono::DateTime::<Utc>::MAX_UTC.timestamp_millis();
        assert_eq!(ms_kst(last), "--:--:--");
        assert_eq!(ms_kst(i64::MIN), "--:--:--");
        assert_eq!(value(Decimal::MAX).chars().last(), Some('M'));
    }
}
