//! Numbers as a person reads them: prices with thousands separators at the tick's
//! precision, amounts at the quote currency's precision, quantities in full. The screen
//! (`ui::widgets::format`) and every message the trading layer writes (a denial, a fill
//! alert) use these, so a number reads the same wherever it appears.
//!
//! Money stays `Decimal`: the formatting works on its decimal text, never through `f64`.
//! Nothing here rounds a number into a different one without saying so: a rounded amount
//! is marked `≈`, a price keeps the decimals it has past the tick, a quantity keeps all
//! of its digits.

use rust_decimal::{Decimal, RoundingStrategy};

/// Inserts thousands separators into the integer part of a decimal string.
pub(crate) fn group(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(text.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A price: grouped, with as many decimals as it has (at most 8), trailing zeros removed.
pub fn price(p: Decimal) -> String {
    group(&p.round_dp_with_strategy(8, RoundingStrategy::MidpointNearestEven).normalize().to_string())
}

/// A size for a narrow cell: at most `dp` decimals, trailing zeros removed, grouped. A
/// non-zero size never reads as `0`: one too small for `dp` decimals keeps its digits.
pub fn qty(q: Decimal, dp: u32) -> String {
    let mut shown = q.round_dp_with_strategy(dp, RoundingStrategy::ToZero);
    if shown.is_zero() && !q.is_zero() {
        // A real but tiny size is not "0": keep its digits, up to Upbit's 8 decimals,
        // and all of them when even 8 are not enough (a mistyped 0.000000001).
        shown = q.round_dp_with_strategy(8, RoundingStrategy::ToZero);
        if shown.is_zero() {
            shown = q;
        }
    }
    group(&shown.normalize().to_string())
}

/// A quantity in full for a message: every digit it has, grouped, no trailing zeros
/// (`0.00625`, `1,250,000.5`).
pub fn quantity(q: Decimal) -> String {
    group(&q.normalize().to_string())
}

/// An order's price in full at its market's tick precision, grouped: `145,000,000`,
/// `1,234.50` on a 0.01 tick. Never shortened (a price cell that cannot hold it is laid
/// out wider, or another column goes); decimals past the tick are kept, not rounded away.
pub fn tick_price(p: Decimal, tick: Decimal) -> String {
    let dp = tick.normalize().scale().max(p.normalize().scale());
    let mut shown = p;
    shown.rescale(dp);
    group(&shown.to_string())
}

/// Decimals an amount of `quote` is shown with: whole won for KRW (the won has no
/// smaller unit), satoshis for BTC, cents for USDT.
pub fn quote_decimals(quote: &str) -> u32 {
    match quote {
        "KRW" => 0,
        "USDT" => 2,
        _ => 8,
    }
}

/// An amount of the quote currency (a fee, an order total) at that currency's precision,
/// grouped (`50,025` KRW, never `50,024.88162084`). Rounded to the nearest unit, and
/// then marked `≈`: a rounded number is never shown as if it were exact.
pub fn amount(v: Decimal, quote: &str) -> String {
    let shown = v.round_dp_with_strategy(quote_decimals(quote), RoundingStrategy::MidpointAwayFromZero);
    let text = group(&shown.normalize().to_string());
    if shown == v { text } else { format!("≈{text}") }
}

/// A market's price at its tick's precision on the venue's grid (see [`tick_price`]):
/// `145,000,000` on KRW-BTC, `0.0123` on KRW-SHIB. A price off the grid (an average cost
/// of 28 decimals) is rounded to the nearest unit of that precision, half away from zero.
pub fn market_price(quote: &str, p: Decimal) -> String {
    let tick = crate::exchange::grid().tick_size(quote, p);
    let shown = p.round_dp_with_strategy(tick.normalize().scale(), RoundingStrategy::MidpointAwayFromZero);
    tick_price(shown, tick)
}

/// A price the venue's grid has a tick for, in full: at the tick's precision with the
/// decimals it has past it kept (an off-grid price in a denial reads as typed, grouped).
pub fn exact_price(quote: &str, p: Decimal) -> String {
    tick_price(p, crate::exchange::grid().tick_size(quote, p))
}

/// A profit or loss in the quote currency at its precision, always signed (`+12,345`,
/// `-1,234`, `0`): a P&L figure is read for its sign first.
pub fn signed_amount(v: Decimal, quote: &str) -> String {
    let shown = v.round_dp_with_strategy(quote_decimals(quote), RoundingStrategy::MidpointAwayFromZero);
    let text = group(&shown.normalize().to_string());
    if shown > Decimal::ZERO { format!("+{text}") } else { text }
}

/// A ratio as a percentage with at most `dp` decimals, trailing zeros removed (`0.05` →
/// `5%`, `0.0725` → `7.25%`); `—` when too large to scale.
pub fn percent(rate: Decimal, dp: u32) -> String {
    let Some(p) = rate.checked_mul(Decimal::ONE_HUNDRED) else { return "—".into() };
    let shown = p.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero).normalize();
    format!("{}%", group(&shown.to_string()))
}

/// A fill for a notification: `BUY 0.00625 @ 241,300` (the market travels beside it).
pub fn fill(f: &crate::exchange::types::Fill) -> String {
    format!(
        "{} {} @ {}",
        f.side.map_or("?", crate::exchange::types::Side::label),
        quantity(f.volume),
        exact_price(f.market.quote(), f.price)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn prices_and_sizes() {
        assert_eq!(price(dec!(95000000)), "95,000,000");
        assert_eq!(price(dec!(1234.50)), "1,234.5");
        assert_eq!(price(dec!(0.00012345)), "0.00012345");
        assert_eq!(price(dec!(-1234567)), "-1,234,567");
        assert_eq!(qty(dec!(0.123456789), 4), "0.1234");
        // A tiny print is shown with its digits, never as a zero size.
        assert_eq!(qty(dec!(0.00003456), 4), "0.00003456");
        assert_eq!(qty(dec!(0.000000019), 4), "0.00000001");
        assert_eq!(qty(dec!(0), 4), "0");
        assert_eq!(quantity(dec!(0.00625000)), "0.00625");
        assert_eq!(quantity(dec!(1250000.50)), "1,250,000.5");
    }

    #[test]
    fn a_size_below_the_venue_precision_is_never_shown_as_zero() {
        // A mistyped 0.000000001 BTC buy read `denied BUY KRW-BTC 0 @ 145,000,000`.
        assert_eq!(qty(dec!(0.000000001), 8), "0.000000001");
        assert_eq!(qty(dec!(-0.000000001), 8), "-0.000000001");
        assert_eq!(quantity(dec!(0.000000001)), "0.000000001");
    }

    #[test]
    fn tick_prices_are_whole_and_at_the_tick_precision() {
        assert_eq!(tick_price(dec!(145000000), dec!(1000)), "145,000,000");
        assert_eq!(tick_price(dec!(1234.5), dec!(0.01)), "1,234.50");
        assert_eq!(tick_price(dec!(0.00012345), dec!(0.0000001)), "0.00012345");
        // Off the grid: the digits typed are kept, never rounded onto it.
        assert_eq!(exact_price("KRW", dec!(145000500)), "145,000,500");
        assert_eq!(exact_price("KRW", dec!(1.234)), "1.234");
        assert_eq!(exact_price("KRW", dec!(1.5)), "1.50");
    }

    #[test]
    fn amounts_are_shown_at_the_quote_currency_precision_and_marked_when_rounded() {
        assert_eq!(amount(dec!(50024.88162084), "KRW"), "≈50,025");
        assert_eq!(amount(dec!(950475), "KRW"), "950,475");
        assert_eq!(amount(dec!(7160750.00), "KRW"), "7,160,750");
        assert_eq!(amount(dec!(25.0125), "KRW"), "≈25");
        assert_eq!(amount(dec!(0.00012345), "BTC"), "0.00012345");
        assert_eq!(amount(dec!(12.345), "USDT"), "≈12.35");
    }

    #[test]
    fn market_prices_are_shown_at_their_tick_precision_never_abbreviated() {
        assert_eq!(market_price("KRW", dec!(145000000)), "145,000,000");
        // An average cost off the grid: the tick's precision, the nearest unit.
        assert_eq!(market_price("KRW", dec!(142500000.5)), "142,500,001");
        assert_eq!(market_price("KRW", dec!(142403846.15384615384615384615)), "142,403,846");
        assert_eq!(market_price("KRW", dec!(0.0123)), "0.0123");
        assert_eq!(market_price("KRW", dec!(0.01230000)), "0.0123");
        assert_eq!(market_price("KRW", dec!(1.5)), "1.50");
        assert_eq!(market_price("KRW", dec!(850)), "850");
        assert_eq!(market_price("BTC", dec!(0.0251)), "0.02510000");
    }

    #[test]
    fn a_profit_or_loss_is_signed() {
        assert_eq!(signed_amount(dec!(12345.4), "KRW"), "+12,345");
        assert_eq!(signed_amount(dec!(-1234.5), "KRW"), "-1,235");
        assert_eq!(signed_amount(Decimal::ZERO, "KRW"), "0");
    }

    #[test]
    fn a_fill_alert_reads_like_the_screen() {
        use crate::exchange::types::{Fill, MarketId, Side};
        let f = Fill {
            trade_uuid: "t1".into(),
            order_uuid: "o1".into(),
            market: MarketId::new("KRW-SOL"),
            side: Some(Side::Bid),
            price: dec!(241300),
            volume: dec!(0.0062500),
            funds: dec!(1508.125),
            fee: None,
            is_maker: None,
            timestamp: 0,
        };
        assert_eq!(fill(&f), "BUY 0.00625 @ 241,300");
        let f = Fill {
            market: MarketId::new("KRW-XRP"),
            side: None,
            price: dec!(3125.0),
            volume: dec!(1200),
            ..f
        };
        assert_eq!(fill(&f), "? 1,200 @ 3,125");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(dec!(0.05), 2), "5%");
        assert_eq!(percent(dec!(0.0725), 2), "7.25%");
        assert_eq!(percent(dec!(0.07253), 2), "7.25%");
        assert_eq!(percent(dec!(12.5), 2), "1,250%");
        assert_eq!(percent(Decimal::MAX, 2), "—");
    }
}
