//! How the simulated Binance prices follow Upbit's: one seeded model of the dollar rate
//! and the kimchi premium, pure functions of (seed, virtual time), so every venue, the
//! candles drawn before the start and the FX endpoint agree on it at any instant.
//!
//! ```text
//! binance_usdt(coin, t) = upbit_krw(coin, t) / (usd_krw(t) × (1 + kimp(t) + idio(coin, t)))
//! upbit KRW-USDT(t)    ≈ usd_krw(t) × (1 + kimp_usdt(t))
//! ```
//!
//! * `usd_krw`: three slow waves (periods of 11, 3.3 and 0.71 days, seeded phases) around
//!   1,430: between about 1,384 and 1,476.
//! * `kimp`: an Ornstein–Uhlenbeck premium around +2 % (time scale 8 h, stationary spread
//!   about 0.6 %) plus jumps of ±1–3 % (one every 30 h on average, biased upward as real
//!   premium spikes are) that decay with a 6 h time scale. Built from one seeded shock per
//!   hour, each ramped in and decaying exponentially, so the value at any time is a sum of
//!   the last ~60 hours' shocks: no state, no replay.
//! * `kimp_usdt`: tether's own premium follows the coins' partly (60 % of kimp's moves,
//!   around +1.5 %): the premium against `KRW-USDT` sits near +0.5 % and moves less.
//! * `idio`: each coin's own ±0.3 % (two waves of seeded period and phase).
//!
//! The random process is f64 (a statistical model, as the Upbit generator's walk); every
//! price it touches is Decimal and snapped to the symbol's tick.

use crate::sim::history::{gauss, hash, mix, unit};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

/// Upbit's tether market, anchored to the model.
pub(crate) const KRW_USDT: &str = "KRW-USDT";

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: f64 = 86_400_000.0;
/// Mean of the premium.
const KIMP_MEAN: f64 = 0.02;
/// Mean-reversion time scale of the premium (hours).
const KIMP_TAU_H: f64 = 8.0;
/// Hourly shock of the premium (standard deviation).
const KIMP_SHOCK: f64 = 0.003;
/// Chance of a premium jump in any hour.
const JUMP_PER_HOUR: f64 = 1.0 / 30.0;
/// Decay time scale of a jump (hours).
const JUMP_TAU_H: f64 = 6.0;
/// Hours of shocks summed (past this their weight is under e^-7).
const WINDOW_H: i64 = 60;
/// Tether's premium mean and its share of the coins' premium moves.
const USDT_MEAN: f64 = 0.015;
const USDT_SHARE: f64 = 0.6;
/// Time scale (s) over which `KRW-USDT`'s fair price is pulled to the model.
const USDT_PULL_S: f64 = 600.0;

fn key_of(key: u64, name: &str) -> u64 {
    name.bytes().fold(key, |k, b| mix(k ^ u64::from(b)))
}

/// The dollar rate and premium model of one seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Model {
    key: u64,
}

impl Model {
    /// The model of `seed`.
    pub(crate) fn new(seed: u64) -> Model {
        Model { key: mix(seed ^ 0x4B49_4D50_5245_4D31) }
    }

    fn phase(&self, salt: u64) -> f64 {
        unit(hash(self.key, 0, salt)) * std::f64::consts::TAU
    }

    /// USD/KRW at `t` (ms).
    pub(crate) fn usd_krw(&self, t: i64) -> f64 {
        let d = t as f64 / DAY_MS;
        let tau = std::f64::consts::TAU;
        1430.0
            + 30.0 * (tau * d / 11.0 + self.phase(1)).sin()
            + 12.0 * (tau * d / 3.3 + self.phase(2)).sin()
            + 4.0 * (tau * d / 0.71 + self.phase(3)).sin()
    }

    /// USD/KRW at `t` as the FX endpoint quotes it (two decimals).
    pub(crate) fn usd_krw_quote(&self, t: i64) -> Decimal {
        Decimal::from_f64(self.usd_krw(t)).unwrap_or(Decimal::ONE).round_dp(2)
    }

    /// The sum of hourly shocks up to `t`: each enters over `ramp_ms` and decays with
    /// `tau_h` hours.
    fn shocks(&self, t: i64, tau_h: f64, ramp_ms: f64, salt: u64, shock: impl Fn(u64, i64) -> f64) -> f64 {
        let last = t.div_euclid(HOUR_MS);
        (0..WINDOW_H)
            .map(|k| {
                let h = last - k;
                let dt = (t - h * HOUR_MS) as f64;
                let w = (dt / ramp_ms).min(1.0) * (-dt / (tau_h * HOUR_MS as f64)).exp();
                w * shock(hash(self.key, h, salt), h)
            })
            .sum()
    }

    /// The premium's diffusion part (mean zero).
    fn kimp_walk(&self, t: i64) -> f64 {
        self.shocks(t, KIMP_TAU_H, HOUR_MS as f64, 11, |h, _| KIMP_SHOCK * gauss(h))
    }

    /// The premium's jumps (mostly zero).
    fn kimp_jumps(&self, t: i64) -> f64 {
        self.shocks(t, JUMP_TAU_H, 300_000.0, 12, |h, _| {
            if unit(h) >= JUMP_PER_HOUR {
                return 0.0;
            }
            let size = 0.01 + 0.02 * unit(mix(h ^ 1));
            if unit(mix(h ^ 2)) < 0.65 { size } else { -size }
        })
    }

    /// The kimchi premium against the dollar rate (ratio: 0.02 = 2 %).
    pub(crate) fn kimp(&self, t: i64) -> f64 {
        (KIMP_MEAN + self.kimp_walk(t) + self.kimp_jumps(t)).clamp(-0.04, 0.12)
    }

    /// Tether's premium on Upbit against the dollar rate.
    pub(crate) fn kimp_usdt(&self, t: i64) -> f64 {
        let own = self.shocks(t, 4.0, HOUR_MS as f64, 13, |h, _| 0.0008 * gauss(h));
        USDT_MEAN + USDT_SHARE * (self.kimp(t) - KIMP_MEAN) + own
    }

    /// A coin's own premium on top of the market's (±0.3 %).
    pub(crate) fn idio(&self, coin: &str, t: i64) -> f64 {
        let k = key_of(self.key, coin);
        let p1 = 40.0 + 50.0 * unit(hash(k, 1, 21)); // minutes
        let p2 = 5.0 + 10.0 * unit(hash(k, 2, 21)); // hours
        let (f1, f2) = (unit(hash(k, 3, 21)), unit(hash(k, 4, 21)));
        let tau = std::f64::consts::TAU;
        let m = t as f64 / 60_000.0;
        0.003 * (0.6 * (tau * (m / p1 + f1)).sin() + 0.4 * (tau * (m / (60.0 * p2) + f2)).sin())
    }

    /// KRW per USDT on Binance's side for `coin` at `t`: Upbit's KRW price divided by this
    /// is the coin's USDT price.
    pub(crate) fn factor(&self, coin: &str, t: i64) -> Decimal {
        let f = self.usd_krw(t) * (1.0 + self.kimp(t) + self.idio(coin, t));
        Decimal::from_f64(f).map(|d| d.round_dp(6)).unwrap_or(Decimal::ONE)
    }

    /// Where Upbit's `KRW-USDT` is pulled to at `t` (KRW).
    pub(crate) fn krw_usdt(&self, t: i64) -> f64 {
        self.usd_krw(t) * (1.0 + self.kimp_usdt(t))
    }
}

/// `KRW-USDT`'s starting price under `seed` at `start_ms` (whole won: its tick).
pub(crate) fn krw_usdt_start(seed: u64, start_ms: i64) -> Decimal {
    Decimal::from_f64(Model::new(seed).krw_usdt(start_ms).round()).unwrap_or(Decimal::ONE)
}

/// `KRW-USDT`'s fair price after `dt_s` seconds of pull toward the model at `t`.
pub(crate) fn pull_krw_usdt(seed: u64, t: i64, dt_s: f64, fair: f64) -> f64 {
    let target = Model::new(seed).krw_usdt(t);
    if !(fair > 0.0 && target > 0.0) {
        return fair;
    }
    let a = 1.0 - (-dt_s / USDT_PULL_S).exp();
    (fair.ln() + a * (target.ln() - fair.ln())).exp()
}

/// `price` snapped to the nearest multiple of `tick` (at least one tick).
pub(crate) fn snap(price: Decimal, tick: Decimal) -> Decimal {
    if tick.is_zero() {
        return price;
    }
    ((price / tick).round() * tick).max(tick).normalize()
}

/// A Binance price of a coin: Upbit's KRW price divided by the factor, on the tick grid.
pub(crate) fn usdt_price(krw: Decimal, factor: Decimal, tick: Decimal) -> Decimal {
    if factor.is_zero() {
        return tick;
    }
    snap(krw / factor, tick)
}

/// f64 of a Decimal (0 when it does not fit).
pub(crate) fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_model_stays_in_its_band_and_moves() {
        let m = Model::new(42);
        let t0 = 1_750_000_000_000i64;
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        let (mut klo, mut khi) = (f64::MAX, f64::MIN);
        for h in 0..(24 * 60) {
            let t = t0 + h * HOUR_MS;
            let r = m.usd_krw(t);
            lo = lo.min(r);
            hi = hi.max(r);
            let k = m.kimp(t);
            klo = klo.min(k);
            khi = khi.max(k);
            let u = m.kimp_usdt(t);
            assert!((-0.03..0.09).contains(&u), "{u}");
            assert!(m.idio("BTC", t).abs() <= 0.003 + 1e-12);
        }
        assert!(lo > 1380.0 && hi < 1480.0, "{lo}..{hi}");
        assert!(hi - lo > 30.0, "the rate drifts: {lo}..{hi}");
        assert!(klo > -0.04 && khi < 0.12 && khi - klo > 0.01, "{klo}..{khi}");
        // Continuous: a minute moves the premium by far less than a jump.
        for s in 0..600 {
            let t = t0 + s * 60_000;
            assert!((m.kimp(t + 60_000) - m.kimp(t)).abs() < 0.006);
        }
    }

    #[test]
    fn same_seed_same_model_other_seed_other() {
        let t = 1_750_000_000_000i64;
        assert_eq!(Model::new(7).factor("BTC", t), Model::new(7).factor("BTC", t));
        assert_ne!(Model::new(7).factor("BTC", t), Model::new(8).factor("BTC", t));
    }

    #[test]
    fn prices_snap_to_the_tick() {
        assert_eq!(usdt_price(dec!(150000000), dec!(1460.5), dec!(0.01)), dec!(102704.55));
        assert_eq!(snap(dec!(0.000000004), dec!(0.00000001)), dec!(0.00000001));
    }
}
