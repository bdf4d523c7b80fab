//! The indicators by definition, over a whole series (oldest first): the reference the
//! incremental [`super::Tracker`] is tested against, and what the simulator serves. Each
//! returns the value at the last element, `None` until the series is long enough.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::MaKind;

/// `Decimal` → `f64` for statistics (always representable; the nearest double).
pub(crate) fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Mean of the last `n` values.
pub fn sma(values: &[Decimal], n: usize) -> Option<Decimal> {
    if n == 0 || values.len() < n {
        return None;
    }
    sum(&values[values.len() - n..])?.checked_div(Decimal::from(n))
}

/// Sum of `values`, `None` when it does not fit a `Decimal` (candles come from the
/// network: an absurd value must give no reading, never a panic).
pub(crate) fn sum(values: &[Decimal]) -> Option<Decimal> {
    values.iter().try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v))
}

/// One EMA step `e + α (x − e)`, `None` on overflow.
pub(crate) fn ema_step(e: Decimal, a: Decimal, x: Decimal) -> Option<Decimal> {
    e.checked_add(a.checked_mul(x.checked_sub(e)?)?)
}

/// The EMA smoothing factor `2 / (n + 1)`.
pub(crate) fn alpha(n: usize) -> Decimal {
    Decimal::TWO / Decimal::from(n + 1)
}

/// EMA at every index: `None` before index `n − 1`, the SMA of the first `n` values there,
/// then `ema += α (x − ema)`.
pub fn ema_series(values: &[Decimal], n: usize) -> Vec<Option<Decimal>> {
    let mut out = vec![None; values.len()];
    if n == 0 || values.len() < n {
        return out;
    }
    let Some(mut e) = sum(&values[..n]).and_then(|s| s.checked_div(Decimal::from(n))) else {
        return out;
    };
    out[n - 1] = Some(e);
    let a = alpha(n);
    for (i, x) in values.iter().enumerate().skip(n) {
        // An overflow ends the series: every later value depends on it.
        let Some(next) = ema_step(e, a, *x) else { break };
        e = next;
        out[i] = Some(e);
    }
    out
}

/// EMA at the last value.
pub fn ema(values: &[Decimal], n: usize) -> Option<Decimal> {
    ema_series(values, n).last().copied().flatten()
}

/// SMA or EMA at the last value.
pub fn ma(kind: MaKind, values: &[Decimal], n: usize) -> Option<Decimal> {
    match kind {
        MaKind::Sma => sma(values, n),
        MaKind::Ema => ema(values, n),
    }
}

/// Gain and loss of one change, as statistics.
pub(crate) fn gain_loss(prev: Decimal, close: Decimal) -> (f64, f64) {
    let Some(d) = close.checked_sub(prev) else { return (0.0, 0.0) };
    if d > Decimal::ZERO { (f(d), 0.0) } else { (0.0, f(-d)) }
}

/// RSI from the two averages: 100 with no loss, 50 with no change at all.
pub(crate) fn rsi_of(avg_gain: f64, avg_loss: f64) -> f64 {
    if avg_loss == 0.0 {
        if avg_gain == 0.0 { 50.0 } else { 100.0 }
    } else {
        100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    }
}

/// Wilder's RSI of `closes` over `n` changes (needs `n + 1` closes).
pub fn rsi(closes: &[Decimal], n: usize) -> Option<f64> {
    if n == 0 || closes.len() < n + 1 {
        return None;
    }
    let nf = n as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for w in closes[..=n].windows(2) {
        let (g, l) = gain_loss(w[0], w[1]);
        gain += g;
        loss += l;
    }
    let (mut ag, mut al) = (gain / nf, loss / nf);
    for w in closes[n..].windows(2) {
        let (g, l) = gain_loss(w[0], w[1]);
        ag = (ag * (nf - 1.0) + g) / nf;
        al = (al * (nf - 1.0) + l) / nf;
    }
    Some(rsi_of(ag, al))
}

/// Population standard deviation of `window` around `mean`.
pub(crate) fn std_dev(window: &[Decimal], mean: Decimal) -> Option<f64> {
    let mut sq = 0.0;
    for x in window {
        let d = f(x.checked_sub(mean)?);
        sq += d * d;
    }
    Some((sq / window.len() as f64).sqrt())
}

/// Bollinger bands `(upper, middle, lower)` over the last `n` closes, `width` standard
/// deviations wide.
pub fn bollinger(closes: &[Decimal], n: usize, width: Decimal) -> Option<(Decimal, Decimal, Decimal)> {
    let middle = sma(closes, n)?;
    let sd = std_dev(&closes[closes.len() - n..], middle)?;
    let off = Decimal::try_from(f(width) * sd).ok()?;
    Some((middle.checked_add(off)?, middle, middle.checked_sub(off)?))
}

/// MACD `(line, signal, histogram)`: `EMA(fast) − EMA(slow)` from the first index where
/// both exist, its signal an EMA of that line.
pub fn macd(
    closes: &[Decimal],
    fast: usize,
    slow: usize,
    signal: usize,
) -> Option<(Decimal, Decimal, Decimal)> {
    let fe = ema_series(closes, fast);
    let se = ema_series(closes, slow);
    let line: Vec<Decimal> = fe.iter().zip(&se).filter_map(|(a, b)| (*a)?.checked_sub((*b)?)).collect();
    let sig = ema(&line, signal)?;
    let m = *line.last()?;
    Some((m, sig, m.checked_sub(sig)?))
}
