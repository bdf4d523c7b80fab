//! Depth bars: a size drawn as a horizontal bar of eighth blocks, proportional to the
//! largest size shown.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// A bar of at most `width` cells for `size` relative to `max`.
pub fn bar(size: Decimal, max: Decimal, width: u16) -> String {
    if max <= Decimal::ZERO || size <= Decimal::ZERO || width == 0 {
        return String::new();
    }
    // Eighths of a cell; integer arithmetic on Decimal, converted only as a cell count.
    // Checked: sizes come from the exchange (a size over `max` is a full bar).
    let eighths = size
        .checked_div(max)
        .map(|r| r.min(Decimal::ONE))
        .and_then(|r| r.checked_mul(Decimal::from(u32::from(width) * 8)))
        .map_or(u32::from(width) * 8, |e| e.round().to_u32().unwrap_or(0))
        .max(1);
    let full = (eighths / 8) as usize;
    let rest = (eighths % 8) as usize;
    let mut s = "█".repeat(full.min(width as usize));
    if rest > 0 && full < width as usize {
        s.push(EIGHTHS[rest - 1]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn bars_scale() {
        assert_eq!(bar(dec!(10), dec!(10), 4), "████");
        assert_eq!(bar(dec!(5), dec!(10), 4), "██");
        assert_eq!(bar(dec!(0), dec!(10), 4), "");
        assert_eq!(bar(dec!(0.0001), dec!(10), 4), "▏", "tiny sizes still show");
    }

    #[test]
    fn sizes_far_above_a_tiny_max_are_full_bars() {
        assert_eq!(bar(Decimal::MAX, dec!(0.0000000000000000000000000001), 4), "████");
        assert_eq!(bar(dec!(20), dec!(10), 2), "██");
    }
}
