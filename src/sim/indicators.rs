//! The simulator's `indicator` and `indicator_signal` streams: at every candle close of a
//! subscribed market and timeframe, the values of the subscribed indicators, computed by
//! definition ([`crate::indicators::compute`]) over the same candles the REST candle
//! endpoint serves, and a signal for each condition that turned from unmet to met.
//!
//! Upbit's rules, kept here: authenticated connections only, KRW markets, timeframes
//! `5m 15m 60m 240m 1d`, no snapshot (the first message comes at the first close seen after
//! subscribing), a signal only on the unmet → met transition, no cooldown.
//!
//! The window: the last [`WINDOW`] closed candles (the REST page size), so a client that
//! reads the same page by REST computes exactly the same numbers.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::exchange::types::Timeframe;
use crate::exchange::upbit::indicator::{
    INDICATOR, INDICATOR_SIGNAL, WireIndicator, WireIndicatorMsg, WireSignalMsg, WireSignalSpec,
    condition_of, timeframe_of, upbit_takes,
};
use crate::exchange::upbit::wire::WireCandle;
use crate::indicators::{Bar, Condition, Indicator, IndicatorFrame, Reading, SignalFrame, compute};
use crate::sim::history::Span;
use crate::sim::market::MarketSim;

/// Closed candles the values are computed over.
pub(crate) const WINDOW: usize = 200;

const DAY_MS: i64 = 86_400_000;

/// An indicator subscription as requested, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    /// `indicator` or `indicator_signal`.
    pub ty: String,
    /// Timeframe.
    pub tf: Timeframe,
    /// Indicators, each with its trigger for `indicator_signal`.
    pub items: Vec<(Indicator, Option<Trigger>)>,
}

/// A subscribed signal trigger: one of hoga's conditions, or Upbit's `volume_spike`
/// (taken as the candle's volume reaching `multiplier` times its average, the `ratio` of
/// the values), which hoga's console does not use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Trigger {
    /// A condition of [`crate::indicators`].
    Condition(Condition),
    /// `volume_spike` with its `event_params.multiplier`.
    VolumeSpike {
        /// 2, 3 or 5.
        multiplier: u8,
    },
}

impl Trigger {
    fn holds(&self, r: &Reading, close: Decimal) -> bool {
        match (self, r) {
            (Trigger::Condition(c), r) => c.holds(r, close),
            (Trigger::VolumeSpike { multiplier }, Reading::Volume { volume, average }) => {
                *average > Decimal::ZERO
                    && average.checked_mul(Decimal::from(*multiplier)).is_some_and(|t| *volume >= t)
            }
            (Trigger::VolumeSpike { .. }, _) => false,
        }
    }

    fn label(&self) -> String {
        match self {
            Trigger::Condition(c) => c.label(),
            Trigger::VolumeSpike { multiplier } => format!("volume_spike x{multiplier}"),
        }
    }
}

/// Checks the fields of an `indicator` / `indicator_signal` request object; the error is
/// Upbit's `(name, message)`.
pub(crate) fn parse(ty: &str, o: &serde_json::Map<String, Value>) -> Result<Spec, (&'static str, String)> {
    let bad = |m: String| ("INVALID_PARAM", m);
    let tf = o.get("timeframe").and_then(Value::as_str).and_then(timeframe_of).ok_or_else(|| {
        bad(format!("timeframe 값이 올바르지 않습니다: {}", o.get("timeframe").unwrap_or(&Value::Null)))
    })?;
    if let Some(Value::Array(codes)) = o.get("codes")
        && let Some(c) =
            codes.iter().filter_map(Value::as_str).find(|c| !c.to_ascii_uppercase().starts_with("KRW-"))
    {
        return Err(bad(format!("KRW 마켓만 지원합니다: {c}")));
    }
    let list = o.get("indicators").and_then(Value::as_array).filter(|l| !l.is_empty());
    let list = list.ok_or_else(|| bad("indicators 가 존재하지 않습니다.".to_string()))?;
    let mut items = Vec::with_capacity(list.len());
    for item in list {
        let w: WireIndicator =
            serde_json::from_value(item.clone()).map_err(|e| bad(format!("indicators: {e}")))?;
        let ind = w.indicator().map_err(bad)?;
        let signal = ty == INDICATOR_SIGNAL;
        upbit_takes(&ind, signal).map_err(bad)?;
        let cond = if signal {
            if item.get("trigger").is_none() {
                return Err(bad(format!("{}: trigger 가 없습니다.", w.ty)));
            }
            let s: WireSignalSpec =
                serde_json::from_value(item.clone()).map_err(|e| bad(format!("indicators: {e}")))?;
            if s.trigger == "volume_spike" && matches!(ind, Indicator::Volume { .. }) {
                let m = s.event_params.get("multiplier").and_then(Value::as_u64);
                match m {
                    Some(m @ (2 | 3 | 5)) => Some(Trigger::VolumeSpike { multiplier: m as u8 }),
                    _ => {
                        return Err(bad(
                            "volume_spike: event_params.multiplier must be 2, 3 or 5".to_string()
                        ));
                    }
                }
            } else {
                Some(Trigger::Condition(condition_of(&ind, &s.trigger, &s.event_params, true).map_err(bad)?))
            }
        } else {
            None
        };
        items.push((ind, cond));
    }
    Ok(Spec { ty: ty.to_string(), tf, items })
}

/// A connection's memory: the bucket each (market, timeframe) was last seen in, and which
/// signal conditions held at the last close.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    seen: HashMap<(String, Timeframe), i64>,
    met: HashMap<(String, Timeframe, Indicator, String), bool>,
}

fn start_of(c: &WireCandle) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(&c.candle_date_time_utc, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// The closed candles before `to` (exclusive), oldest first, as REST serves them.
fn history(m: &MarketSim, tf: Timeframe, to: i64, now: i64) -> Vec<Bar> {
    let mut page = m.candles_page(Span::Tf(tf), to, WINDOW, now);
    page.reverse();
    page.iter()
        .filter_map(|c| {
            Some(Bar { start: start_of(c)?, close: c.trade_price, volume: c.candle_acc_trade_volume })
        })
        .collect()
}

impl ConnState {
    /// The messages a candle update of `code` causes for `specs`: values and signals for
    /// every subscribed timeframe whose candle just closed (a newer bucket arrived).
    pub(crate) fn on_candles<'a>(
        &mut self,
        specs: impl Iterator<Item = &'a Spec> + Clone,
        m: &MarketSim,
        code: &str,
        candles: &[(Timeframe, WireCandle)],
        now: i64,
    ) -> Vec<Value> {
        let mut out = Vec::new();
        // Day candles are not streamed: the day a trade falls in (UTC, as Upbit's day
        // candles) is read off the trade time of any candle of the update.
        let day = candles.first().map(|(_, c)| c.timestamp - c.timestamp.rem_euclid(DAY_MS));
        let buckets = candles
            .iter()
            .filter_map(|(tf, c)| Some((*tf, start_of(c)?)))
            .chain(day.map(|d| (Timeframe::D1, d)));
        for (tf, start) in buckets {
            let tf = &tf;
            let Some(prev) = self.seen.insert((code.to_string(), *tf), start) else { continue };
            if prev >= start || !specs.clone().any(|s| s.tf == *tf) {
                continue;
            }
            let bars = history(m, *tf, start, now);
            let Some(closed) = bars.last().copied() else { continue };
            for spec in specs.clone().filter(|s| s.tf == *tf) {
                out.extend(self.closed(spec, code, &bars, closed, now));
            }
        }
        out
    }

    fn closed(&mut self, spec: &Spec, code: &str, bars: &[Bar], closed: Bar, now: i64) -> Vec<Value> {
        let market = crate::exchange::types::MarketId::new(code);
        let values: Vec<(Indicator, Reading)> =
            spec.items.iter().filter_map(|(i, _)| Some((*i, compute(i, bars)?))).collect();
        if spec.ty == INDICATOR {
            if values.is_empty() {
                return Vec::new();
            }
            let f = IndicatorFrame {
                market,
                timeframe: spec.tf,
                candle_start: closed.start,
                values,
                timestamp: now,
            };
            // Upbit sends each indicator's values in a message of its own.
            return WireIndicatorMsg::of(&f).iter().filter_map(|m| serde_json::to_value(m).ok()).collect();
        }
        let mut out = Vec::new();
        for (ind, cond) in &spec.items {
            let (Some(cond), Some(reading)) = (cond, values.iter().find(|(i, _)| i == ind).map(|(_, r)| *r))
            else {
                continue;
            };
            let holds = cond.holds(&reading, closed.close);
            let key = (code.to_string(), spec.tf, *ind, cond.label());
            // The first close after subscribing sets the baseline: only a change from
            // unmet to met is an event.
            let before = self.met.insert(key, holds);
            if holds && before == Some(false) {
                let condition = match cond {
                    Trigger::Condition(c) => *c,
                    // Not written: the message names the trigger.
                    Trigger::VolumeSpike { multiplier } => {
                        Condition::Above { value: Decimal::from(*multiplier) }
                    }
                };
                let s = SignalFrame {
                    market: market.clone(),
                    timeframe: spec.tf,
                    candle_start: closed.start,
                    indicator: *ind,
                    condition,
                    reading,
                    timestamp: now,
                };
                let msg = match cond {
                    Trigger::Condition(_) => WireSignalMsg::of(&s),
                    Trigger::VolumeSpike { multiplier } => {
                        let ep = serde_json::Map::from_iter([(
                            "multiplier".to_string(),
                            Value::from(*multiplier),
                        )]);
                        Some(WireSignalMsg::of_trigger(&s, "volume_spike", ep))
                    }
                };
                out.extend(msg.and_then(|m| serde_json::to_value(m).ok()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }

    #[test]
    fn requests_are_checked_as_upbit_describes_them() {
        let ok = obj(json!({"codes": ["KRW-BTC"], "timeframe": "15m",
            "indicators": [{"type": "rsi", "params": {"period": 14}, "trigger": "oversold", "event_params": {"threshold": 30}}]}));
        let spec = parse(INDICATOR_SIGNAL, &ok).unwrap();
        assert_eq!(spec.tf, Timeframe::M15);
        assert_eq!(spec.items.len(), 1);
        let refused = |v: Value, ty: &str| parse(ty, &obj(v)).unwrap_err();
        let e = refused(
            json!({"codes": ["BTC-ETH"], "timeframe": "5m", "indicators": [{"type": "rsi", "params": {"period": 14}}]}),
            INDICATOR,
        );
        assert_eq!(e.0, "INVALID_PARAM");
        assert!(e.1.contains("BTC-ETH"), "{}", e.1);
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "1m", "indicators": [{"type": "rsi", "params": {"period": 14}}]}),
            INDICATOR,
        );
        assert!(e.1.contains("timeframe"), "{}", e.1);
        let e = refused(json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": []}), INDICATOR);
        assert!(e.1.contains("indicators"), "{}", e.1);
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "rsi", "params": {"period": 14}}]}),
            INDICATOR_SIGNAL,
        );
        assert!(e.1.contains("trigger"), "{}", e.1);
        // Upbit's fixed parameter and threshold sets.
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "rsi", "params": {"period": 2}, "trigger": "oversold", "event_params": {"threshold": 30}}]}),
            INDICATOR_SIGNAL,
        );
        assert!(e.1.contains("period 2"), "{}", e.1);
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "rsi", "params": {"period": 14}, "trigger": "oversold", "event_params": {"threshold": 25}}]}),
            INDICATOR_SIGNAL,
        );
        assert!(e.1.contains("threshold 25"), "{}", e.1);
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "macd", "params": {"fast": 12, "slow": 24, "signal_period": 9}}]}),
            INDICATOR,
        );
        assert!(e.1.contains("12/24/9"), "{}", e.1);
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "volume", "params": {"period": 20}, "trigger": "volume_spike", "event_params": {"multiplier": 4}}]}),
            INDICATOR_SIGNAL,
        );
        assert!(e.1.contains("multiplier"), "{}", e.1);
        let e = refused(
            json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "stochastic", "params": {}}]}),
            INDICATOR,
        );
        assert!(e.1.contains("stochastic"), "{}", e.1);
    }

    /// Upbit's `volume_spike` (the one trigger without a hoga condition) fires when a
    /// candle's volume reaches the multiple of its average, in the SDK's message shape
    /// (upbit-sdk 1.1.0, upbit/types/volume_indicator_signal.py).
    #[test]
    fn a_volume_spike_is_signalled_with_the_sdk_fields() {
        let req = obj(json!({"codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [{"type": "volume",
            "params": {"period": 20}, "trigger": "volume_spike", "event_params": {"multiplier": 3}}]}));
        let spec = parse(INDICATOR_SIGNAL, &req).unwrap();
        let bar = |i: i64, volume: i64| Bar {
            start: i * 300_000,
            close: Decimal::from(100),
            volume: Decimal::from(volume),
        };
        let mut bars: Vec<Bar> = (0..25).map(|i| bar(i, 1)).collect();
        let mut st = ConnState::default();
        assert!(
            st.closed(&spec, "KRW-BTC", &bars, bars[24], 1).is_empty(),
            "the first close is the baseline"
        );
        bars.push(bar(25, 10));
        let out = st.closed(&spec, "KRW-BTC", &bars, bars[25], 2);
        assert_eq!(out.len(), 1, "{out:?}");
        let m = &out[0];
        assert_eq!((m["indicator"].as_str(), m["trigger"].as_str()), (Some("volume"), Some("volume_spike")));
        assert_eq!(m["event_params"], json!({"multiplier": 3}));
        assert_eq!(m["params"], json!({"period": 20}));
        assert_eq!(m["value"]["volume"], "10");
        let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "candle_date_time_utc",
                "code",
                "event_params",
                "indicator",
                "params",
                "stream_type",
                "timeframe",
                "timestamp",
                "trigger",
                "type",
                "value"
            ]
        );
    }
}
