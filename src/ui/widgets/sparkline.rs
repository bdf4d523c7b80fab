//! An inline sparkline: one eighth-block glyph per point (`▁▂▃▄▅▆▇█`), scaled between the
//! series' own low and high. A flat series is a flat line at mid height (nothing moved),
//! never a made-up slope.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The eight glyphs, lowest first.
pub(crate) const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The glyph level (0..=7) of each value between the series' low (0) and high (7),
/// rounded to the nearest level; every level 3 (`▄`) when the series is flat.
pub(crate) fn levels(values: &[Decimal]) -> Vec<u8> {
    let (Some(lo), Some(hi)) = (values.iter().min(), values.iter().max()) else { return Vec::new() };
    let span = *hi - *lo;
    values
        .iter()
        .map(|v| {
            if span.is_zero() {
                return 3;
            }
            let top = Decimal::from(LEVELS.len() - 1);
            // (v - lo) / span is in 0..=1: no overflow, and the level is in 0..=7.
            let level = ((*v - *lo) * top / span).round();
            level.to_u8().unwrap_or(0).min(7)
        })
        .collect()
}

/// The sparkline of `values`, the newest last, as its last `width` points (a shorter
/// series is right-aligned: the newest hour always sits in the same column).
pub(crate) fn sparkline(values: &[Decimal], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let mut s = " ".repeat(width - shown.len());
    s.extend(levels(shown).into_iter().map(|l| LEVELS[usize::from(l)]));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_low_is_the_lowest_glyph_and_the_high_the_highest() {
        let v = [dec!(100), dec!(150), dec!(200), dec!(125)];
        // Levels 0, 3.5 → 4, 7, 1.75 → 2.
        assert_eq!(sparkline(&v, 4), "▁▅█▃");
        assert_eq!(levels(&[dec!(1), dec!(8)]), vec![0, 7]);
    }

    #[test]
    fn a_flat_series_is_a_flat_line_at_mid_height() {
        assert_eq!(sparkline(&[dec!(5); 6], 6), "▄▄▄▄▄▄");
    }

    #[test]
    fn a_single_point_is_one_mid_glyph_at_the_right_edge() {
        assert_eq!(sparkline(&[dec!(95000000)], 4), "   ▄");
    }

    #[test]
    fn no_points_is_blank_and_a_long_series_keeps_its_newest_points() {
        assert_eq!(sparkline(&[], 3), "   ");
        let v: Vec<Decimal> = (0..30).map(Decimal::from).collect();
        let s = sparkline(&v, 8);
        assert_eq!(s.chars().count(), 8);
        // The last 8 points (22..=29) rescaled: the newest is the top.
        assert_eq!(s, "▁▂▃▄▅▆▇█");
    }

    #[test]
    fn tiny_prices_scale_like_large_ones() {
        let v = [dec!(0.00001234), dec!(0.00001240), dec!(0.00001237)];
        assert_eq!(sparkline(&v, 3), "▁█▅");
    }
}
