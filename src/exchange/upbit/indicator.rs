//! Upbit's technical-indicator streams, `indicator` (values at every candle close) and
//! `indicator_signal` (a trigger turning from unmet to met): the request objects, the
//! messages, and their decoding into [`crate::indicators`] types. The simulator writes the
//! same structs.
//!
//! The shapes are those of Upbit's official SDK (upbit-sdk 1.1.0, generated from Upbit's
//! API specification; see docs/upbit-protocol.md, "Indicator streams"): KRW markets only;
//! `timeframe` one of `5m 15m 60m 240m 1d`; `indicators[]` of `{type, params}` (signals add
//! `trigger` and `event_params`), each kind with a fixed set of parameter values; one
//! message per indicator with the kind in `indicator` and the values as strings in
//! `value`; no snapshot, so the socket can be silent for a day on `1d` and needs
//! keep-alive pings. The DEFAULT field names are written; the SIMPLE abbreviations are
//! read too.
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::exchange::types::{MarketId, Timeframe};
use crate::indicators::{
    Condition, Indicator, IndicatorEvent, IndicatorFrame, MaKind, Reading, SignalFrame, default_signals,
};

/// The `type` of the values stream.
pub(crate) const INDICATOR: &str = "indicator";
/// The `type` of the signal stream.
pub(crate) const INDICATOR_SIGNAL: &str = "indicator_signal";

/// Upbit's name of a timeframe the indicator streams take; `None` for the others.
pub fn timeframe_name(tf: Timeframe) -> Option<&'static str> {
    match tf {
        Timeframe::M5 => Some("5m"),
        Timeframe::M15 => Some("15m"),
        Timeframe::H1 => Some("60m"),
        Timeframe::H4 => Some("240m"),
        Timeframe::D1 => Some("1d"),
        _ => None,
    }
}

/// The timeframe of an indicator-stream name.
pub fn timeframe_of(name: &str) -> Option<Timeframe> {
    match name {
        "5m" => Some(Timeframe::M5),
        "15m" => Some(Timeframe::M15),
        "60m" => Some(Timeframe::H1),
        "240m" => Some(Timeframe::H4),
        "1d" => Some(Timeframe::D1),
        _ => None,
    }
}

/// A value as Upbit writes it in `value`: a JSON string.
fn text(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

/// A parameter (the band multiplier, a threshold) as a JSON number.
fn num(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

fn ma_name(k: MaKind) -> &'static str {
    match k {
        MaKind::Sma => "SMA",
        MaKind::Ema => "EMA",
    }
}

/// `params` of an indicator, as Upbit's SDK names them.
fn params_of(ind: &Indicator) -> Value {
    match *ind {
        Indicator::Volume { period } | Indicator::Rsi { period } => json!({ "period": period }),
        Indicator::MovingAverage { ma_type, period } => json!({ "type": ma_name(ma_type), "period": period }),
        Indicator::MaCrossover { ma_type, short_period, long_period } => {
            json!({ "type": ma_name(ma_type), "short_period": short_period, "long_period": long_period })
        }
        Indicator::BollingerBands { period, std_dev } => {
            json!({ "period": period, "multiplier": num(std_dev) })
        }
        Indicator::Macd { fast_period, slow_period, signal_period } => {
            json!({ "fast": fast_period, "slow": slow_period, "signal_period": signal_period })
        }
    }
}

fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A field by its DEFAULT name or its SIMPLE abbreviation.
fn field<'a>(m: &'a Map<String, Value>, name: &str, short: &str) -> Option<&'a Value> {
    m.get(name).or_else(|| m.get(short))
}

/// A decimal written as a JSON string or number, in any of Upbit's spellings.
fn decimal_of(x: &Value) -> Option<Decimal> {
    let t = x.to_string();
    let t = t.trim_matches('"');
    t.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(t).ok())
}

/// An indicator as a request object: `{"type":…,"params":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireIndicator {
    /// Kind.
    #[serde(rename = "type")]
    pub ty: String,
    /// Parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// The indicator of a kind and its parameters (DEFAULT or SIMPLE names), checked.
fn indicator_of(ty: &str, p: &Map<String, Value>) -> Result<Indicator, String> {
    let period = |k: &str, short: &str| -> Result<u16, String> {
        field(p, k, short)
            .and_then(Value::as_u64)
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(|| format!("{ty}: params.{k} missing or not a small integer"))
    };
    let ma_type = || -> Result<MaKind, String> {
        match field(p, "type", "t").and_then(Value::as_str).map(str::to_ascii_uppercase).as_deref() {
            Some("SMA") => Ok(MaKind::Sma),
            Some("EMA") => Ok(MaKind::Ema),
            None => Err(format!("{ty}: params.type (SMA or EMA) missing")),
            Some(o) => Err(format!("{ty}: params.type {o} is neither SMA nor EMA")),
        }
    };
    let ind = match ty {
        "volume" => Indicator::Volume { period: period("period", "p")? },
        "rsi" => Indicator::Rsi { period: period("period", "p")? },
        "moving_average" => Indicator::MovingAverage { ma_type: ma_type()?, period: period("period", "p")? },
        "ma_crossover" => Indicator::MaCrossover {
            ma_type: ma_type()?,
            short_period: period("short_period", "shp")?,
            long_period: period("long_period", "lop")?,
        },
        "bollinger_bands" => {
            let std_dev = field(p, "multiplier", "m")
                .and_then(decimal_of)
                .ok_or_else(|| format!("{ty}: params.multiplier missing or not a number"))?;
            Indicator::BollingerBands { period: period("period", "p")?, std_dev }
        }
        "macd" => Indicator::Macd {
            fast_period: period("fast", "f")?,
            slow_period: period("slow", "s")?,
            signal_period: period("signal_period", "sgp")?,
        },
        other => return Err(format!("unknown indicator type {other}")),
    };
    ind.validate()?;
    Ok(ind)
}

impl WireIndicator {
    pub(crate) fn of(ind: &Indicator) -> Self {
        WireIndicator { ty: ind.wire_type().to_string(), params: as_map(params_of(ind)) }
    }

    /// The indicator, its parameters checked.
    pub(crate) fn indicator(&self) -> Result<Indicator, String> {
        indicator_of(&self.ty, &self.params)
    }
}

/// Whether Upbit takes these parameters: the SDK's fixed sets (`indicator`, or with
/// `signal` the smaller sets of `indicator_signal`). The error is for an `INVALID_PARAM`.
pub(crate) fn upbit_takes(ind: &Indicator, signal: bool) -> Result<(), String> {
    let one_of = |name: &str, v: u16, set: &[u16]| {
        if set.contains(&v) {
            Ok(())
        } else {
            Err(format!("{}: {name} {v} is not one of {set:?}", ind.wire_type()))
        }
    };
    match *ind {
        Indicator::Volume { period } if signal => one_of("period", period, &[10, 20, 50]),
        Indicator::Volume { period } => one_of("period", period, &[5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
        Indicator::Rsi { period } if signal => one_of("period", period, &[7, 9, 14, 21, 25]),
        Indicator::Rsi { period } => {
            one_of("period", period, &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 21, 25])
        }
        Indicator::MovingAverage { period, .. } if signal => {
            one_of("period", period, &[5, 10, 20, 30, 60, 90, 120, 200])
        }
        Indicator::MovingAverage { period, .. } => {
            one_of("period", period, &[3, 5, 7, 10, 15, 20, 25, 30, 50, 60, 90, 99, 100, 120, 200])
        }
        Indicator::MaCrossover { short_period, long_period, .. } => {
            if [(5, 20), (20, 60), (30, 90), (50, 200)].contains(&(short_period, long_period)) {
                Ok(())
            } else {
                Err(format!("ma_crossover: {short_period}/{long_period} is not 5/20, 20/60, 30/90 or 50/200"))
            }
        }
        Indicator::BollingerBands { period, .. } if signal => one_of("period", period, &[20]),
        Indicator::BollingerBands { period, .. } => one_of("period", period, &[10, 20, 50]),
        Indicator::Macd { fast_period, slow_period, signal_period } => {
            if [(12, 26, 9), (8, 17, 9), (5, 35, 5)].contains(&(fast_period, slow_period, signal_period)) {
                Ok(())
            } else {
                Err(format!(
                    "macd: {fast_period}/{slow_period}/{signal_period} is not 12/26/9, 8/17/9 or 5/35/5"
                ))
            }
        }
    }
}

/// Upbit's `trigger` and `event_params` of a condition on an indicator; `Err` for a pair
/// Upbit has no trigger for.
pub(crate) fn trigger_of(
    ind: &Indicator,
    c: &Condition,
) -> Result<(&'static str, Map<String, Value>), String> {
    let none = Map::new;
    Ok(match (ind, *c) {
        (Indicator::Rsi { .. }, Condition::Above { value }) => {
            ("overbought", as_map(json!({ "threshold": num(value) })))
        }
        (Indicator::Rsi { .. }, Condition::Below { value }) => {
            ("oversold", as_map(json!({ "threshold": num(value) })))
        }
        (Indicator::MaCrossover { .. } | Indicator::Macd { .. }, Condition::CrossUp) => {
            ("golden_cross", none())
        }
        (Indicator::MaCrossover { .. } | Indicator::Macd { .. }, Condition::CrossDown) => {
            ("dead_cross", none())
        }
        (Indicator::Macd { .. }, Condition::Above { value }) if value.is_zero() => {
            ("zero_cross_above", none())
        }
        (Indicator::Macd { .. }, Condition::Below { value }) if value.is_zero() => {
            ("zero_cross_below", none())
        }
        (Indicator::MovingAverage { .. } | Indicator::BollingerBands { .. }, Condition::CrossUp) => {
            ("price_cross_above", none())
        }
        (Indicator::MovingAverage { .. } | Indicator::BollingerBands { .. }, Condition::CrossDown) => {
            ("price_cross_below", none())
        }
        (i, c) => return Err(format!("Upbit has no trigger for {} {}", i.label(), c.label())),
    })
}

/// The condition of Upbit's `trigger` (with its `event_params`, DEFAULT or SIMPLE names)
/// on an indicator. With `strict`, thresholds outside Upbit's sets are refused (the
/// simulator checking a request); a received event is taken as it comes.
pub(crate) fn condition_of(
    ind: &Indicator,
    trigger: &str,
    ep: &Map<String, Value>,
    strict: bool,
) -> Result<Condition, String> {
    let threshold = |set: &[Decimal]| -> Result<Decimal, String> {
        let t = field(ep, "threshold", "th")
            .and_then(decimal_of)
            .ok_or_else(|| format!("{trigger}: event_params.threshold missing"))?;
        if strict && !set.contains(&t) {
            return Err(format!("{trigger}: threshold {t} is not one of {set:?}"));
        }
        Ok(t)
    };
    let kind = ind.wire_type();
    Ok(match (ind, trigger) {
        (Indicator::Rsi { .. }, "overbought") => {
            Condition::Above { value: threshold(&[70.into(), 80.into()])? }
        }
        (Indicator::Rsi { .. }, "oversold") => {
            Condition::Below { value: threshold(&[20.into(), 30.into()])? }
        }
        (Indicator::MaCrossover { .. } | Indicator::Macd { .. }, "golden_cross") => Condition::CrossUp,
        (Indicator::MaCrossover { .. } | Indicator::Macd { .. }, "dead_cross") => Condition::CrossDown,
        (Indicator::Macd { .. }, "zero_cross_above") => Condition::Above { value: Decimal::ZERO },
        (Indicator::Macd { .. }, "zero_cross_below") => Condition::Below { value: Decimal::ZERO },
        (Indicator::MovingAverage { .. } | Indicator::BollingerBands { .. }, "price_cross_above") => {
            Condition::CrossUp
        }
        (Indicator::MovingAverage { .. } | Indicator::BollingerBands { .. }, "price_cross_below") => {
            Condition::CrossDown
        }
        // Upbit's volume_spike (volume at least `multiplier` × its average) has no
        // counterpart among hoga's conditions; hoga does not subscribe it.
        (_, "volume_spike") => return Err(format!("{kind}: volume_spike is not a condition hoga evaluates")),
        (_, other) => return Err(format!("{kind}: unknown trigger {other}")),
    })
}

/// An indicator with its trigger, in an `indicator_signal` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireSignalSpec {
    /// Kind.
    #[serde(rename = "type")]
    pub ty: String,
    /// Parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// `overbought`, `golden_cross`, `price_cross_above`, ….
    pub trigger: String,
    /// The trigger's parameters (RSI `threshold`, volume `multiplier`); absent for the
    /// triggers without any.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub event_params: Map<String, Value>,
}

/// The request objects of one subscription: `indicator` with hoga's default set and
/// `indicator_signal` with its default conditions, both for `codes` on `tf`. `None` when
/// Upbit does not stream that timeframe.
pub(crate) fn request_items(tf: Timeframe, codes: &[&str]) -> Option<[Value; 2]> {
    let timeframe = timeframe_name(tf)?;
    let indicators: Vec<WireIndicator> = Indicator::DEFAULTS.iter().map(WireIndicator::of).collect();
    let signals: Vec<WireSignalSpec> = default_signals()
        .iter()
        .filter_map(|(i, c)| {
            let (trigger, event_params) = trigger_of(i, c).ok()?;
            let w = WireIndicator::of(i);
            Some(WireSignalSpec { ty: w.ty, params: w.params, trigger: trigger.into(), event_params })
        })
        .collect();
    Some([
        json!({ "type": INDICATOR, "codes": codes, "timeframe": timeframe, "indicators": indicators }),
        json!({ "type": INDICATOR_SIGNAL, "codes": codes, "timeframe": timeframe, "indicators": signals }),
    ])
}

/// The `value` object of a reading, as Upbit's SDK names the keys (every value a string).
pub(crate) fn values_of(r: &Reading) -> Value {
    match *r {
        Reading::Volume { volume, average } => {
            let ratio = volume.checked_div(average).map_or(Decimal::ZERO, |q| q.round_dp(8));
            json!({ "volume": text(volume), "avg_volume": text(average), "ratio": text(ratio) })
        }
        Reading::Rsi(v) => json!({ "rsi": v.to_string() }),
        Reading::MovingAverage(v) => json!({ "value": text(v) }),
        Reading::MaCrossover { short, long } => json!({ "ma_short": text(short), "ma_long": text(long) }),
        Reading::BollingerBands { upper, middle, lower } => {
            json!({ "bb_upper": text(upper), "bb_middle": text(middle), "bb_lower": text(lower) })
        }
        Reading::Macd { macd, signal, histogram } => {
            json!({ "macd": text(macd), "macd_signal": text(signal), "histogram": text(histogram) })
        }
    }
}

fn reading_of(ind: &Indicator, v: &Map<String, Value>) -> Result<Reading, String> {
    let d = |k: &str, short: &str| -> Result<Decimal, String> {
        let x = field(v, k, short).ok_or_else(|| format!("{}: value.{k} missing", ind.wire_type()))?;
        decimal_of(x).ok_or_else(|| format!("{}: value.{k} = {x} is not a number", ind.wire_type()))
    };
    // An average of prices or volumes is never negative or zero-priced: such a value is a
    // broken frame, refused here rather than drawn.
    let price = |k: &str, short: &str| -> Result<Decimal, String> {
        let x = d(k, short)?;
        if x <= Decimal::ZERO {
            return Err(format!("{}: value.{k} = {x} is not a price", ind.wire_type()));
        }
        Ok(x)
    };
    let volume = |k: &str, short: &str| -> Result<Decimal, String> {
        let x = d(k, short)?;
        if x < Decimal::ZERO {
            return Err(format!("{}: value.{k} = {x} is a negative volume", ind.wire_type()));
        }
        Ok(x)
    };
    Ok(match ind {
        Indicator::Volume { .. } => {
            Reading::Volume { volume: volume("volume", "vol")?, average: volume("avg_volume", "av")? }
        }
        Indicator::Rsi { .. } => {
            let r = v
                .get("rsi")
                .and_then(|x| x.as_f64().or_else(|| x.as_str()?.trim().parse().ok()))
                .ok_or("rsi: value.rsi missing or not a number")?;
            if !(0.0..=100.0).contains(&r) {
                return Err(format!("rsi: {r} is outside 0..100"));
            }
            Reading::Rsi(r)
        }
        Indicator::MovingAverage { .. } => Reading::MovingAverage(price("value", "value")?),
        Indicator::MaCrossover { .. } => {
            Reading::MaCrossover { short: price("ma_short", "mas")?, long: price("ma_long", "mal")? }
        }
        Indicator::BollingerBands { .. } => {
            let (upper, middle, lower) =
                (price("bb_upper", "bbu")?, price("bb_middle", "bbm")?, d("bb_lower", "bbl")?);
            if !(lower <= middle && middle <= upper) {
                return Err(format!(
                    "bollinger_bands: bands out of order (lower {lower}, middle {middle}, upper {upper})"
                ));
            }
            Reading::BollingerBands { upper, middle, lower }
        }
        Indicator::Macd { .. } => Reading::Macd {
            macd: d("macd", "macd")?,
            signal: d("macd_signal", "macds")?,
            histogram: d("histogram", "hist")?,
        },
    })
}

/// An `indicator` message: one indicator's values at one candle close. DEFAULT field
/// names; the SIMPLE abbreviations are read too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireIndicatorMsg {
    /// `indicator`.
    #[serde(rename = "type", alias = "ty")]
    pub ty: String,
    /// Market.
    #[serde(alias = "cd")]
    pub code: String,
    /// `5m` … `1d`.
    #[serde(alias = "tf")]
    pub timeframe: String,
    /// Start of the candle that closed, UTC `yyyy-MM-ddTHH:mm:ss`.
    #[serde(alias = "cdttmu")]
    pub candle_date_time_utc: String,
    /// Kind (`rsi`, `macd`, …).
    #[serde(alias = "ind")]
    pub indicator: String,
    /// Parameters, as subscribed.
    #[serde(default, alias = "p")]
    pub params: Map<String, Value>,
    /// Values, keys per kind, each a string.
    #[serde(default, alias = "v")]
    pub value: Map<String, Value>,
    /// Message time (ms).
    #[serde(alias = "tms")]
    pub timestamp: i64,
    /// Always `REALTIME` (no snapshot).
    #[serde(default, alias = "st")]
    pub stream_type: String,
}

/// An `indicator_signal` message: the `indicator` message's fields with the trigger that
/// turned from unmet to met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireSignalMsg {
    /// `indicator_signal`.
    #[serde(rename = "type", alias = "ty")]
    pub ty: String,
    /// Market.
    #[serde(alias = "cd")]
    pub code: String,
    /// `5m` … `1d`.
    #[serde(alias = "tf")]
    pub timeframe: String,
    /// Start of the candle that closed, UTC.
    #[serde(alias = "cdttmu")]
    pub candle_date_time_utc: String,
    /// Kind.
    #[serde(alias = "ind")]
    pub indicator: String,
    /// Parameters.
    #[serde(default, alias = "p")]
    pub params: Map<String, Value>,
    /// The trigger now met.
    #[serde(alias = "tr")]
    pub trigger: String,
    /// The trigger's parameters (empty object for those without).
    #[serde(default, alias = "ep")]
    pub event_params: Map<String, Value>,
    /// The indicator's values then.
    #[serde(default, alias = "v")]
    pub value: Map<String, Value>,
    /// Message time (ms).
    #[serde(alias = "tms")]
    pub timestamp: i64,
    /// Always `REALTIME`.
    #[serde(default, alias = "st")]
    pub stream_type: String,
}

/// UTC bucket text of a start (ms).
pub(crate) fn utc_text(start: i64) -> String {
    chrono::DateTime::from_timestamp_millis(start)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

fn start_of(text: &str) -> Result<i64, String> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|_| format!("candle_date_time_utc {text} does not parse"))
}

fn frame_timeframe(name: &str) -> Result<Timeframe, String> {
    timeframe_of(name).ok_or_else(|| format!("timeframe {name} is not one of 5m 15m 60m 240m 1d"))
}

impl WireIndicatorMsg {
    /// The messages of `frame`: Upbit sends one per indicator.
    pub(crate) fn of(f: &IndicatorFrame) -> Vec<Self> {
        f.values
            .iter()
            .map(|(i, r)| WireIndicatorMsg {
                ty: INDICATOR.into(),
                code: f.market.as_str().to_string(),
                timeframe: timeframe_name(f.timeframe).unwrap_or_default().to_string(),
                candle_date_time_utc: utc_text(f.candle_start),
                indicator: i.wire_type().to_string(),
                params: as_map(params_of(i)),
                value: as_map(values_of(r)),
                timestamp: f.timestamp,
                stream_type: "REALTIME".into(),
            })
            .collect()
    }

    fn frame(&self, market: MarketId) -> Result<IndicatorFrame, String> {
        let ind = indicator_of(&self.indicator, &self.params)?;
        Ok(IndicatorFrame {
            market,
            timeframe: frame_timeframe(&self.timeframe)?,
            candle_start: start_of(&self.candle_date_time_utc)?,
            values: vec![(ind, reading_of(&ind, &self.value)?)],
            timestamp: self.timestamp,
        })
    }
}

impl WireSignalMsg {
    /// The message of `signal`; `None` for a condition Upbit has no trigger for.
    pub(crate) fn of(s: &SignalFrame) -> Option<Self> {
        let (trigger, event_params) = trigger_of(&s.indicator, &s.condition).ok()?;
        Some(Self::of_trigger(s, trigger, event_params))
    }

    /// The message of `s` under Upbit's `trigger` (`s.condition` is not written): for a
    /// trigger hoga has no condition for, such as `volume_spike`.
    pub(crate) fn of_trigger(s: &SignalFrame, trigger: &str, event_params: Map<String, Value>) -> Self {
        WireSignalMsg {
            ty: INDICATOR_SIGNAL.into(),
            code: s.market.as_str().to_string(),
            timeframe: timeframe_name(s.timeframe).unwrap_or_default().to_string(),
            candle_date_time_utc: utc_text(s.candle_start),
            indicator: s.indicator.wire_type().to_string(),
            params: as_map(params_of(&s.indicator)),
            trigger: trigger.into(),
            event_params,
            value: as_map(values_of(&s.reading)),
            timestamp: s.timestamp,
            stream_type: "REALTIME".into(),
        }
    }

    fn frame(&self, market: MarketId) -> Result<SignalFrame, String> {
        let indicator = indicator_of(&self.indicator, &self.params)?;
        Ok(SignalFrame {
            market,
            timeframe: frame_timeframe(&self.timeframe)?,
            candle_start: start_of(&self.candle_date_time_utc)?,
            indicator,
            condition: condition_of(&indicator, &self.trigger, &self.event_params, false)?,
            reading: reading_of(&indicator, &self.value)?,
            timestamp: self.timestamp,
        })
    }
}

/// Decodes an `indicator` or `indicator_signal` message (`ty` is its `type`); `market`
/// builds the market id (the session's cache). `Err` says what is wrong with the message.
pub fn decode(ty: &str, text: &str, market: impl FnOnce(&str) -> MarketId) -> Result<IndicatorEvent, String> {
    if ty == INDICATOR {
        let m: WireIndicatorMsg = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let id = market(&m.code);
        m.frame(id).map(IndicatorEvent::Values)
    } else {
        let m: WireSignalMsg = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let id = market(&m.code);
        m.frame(id).map(IndicatorEvent::Signal)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    // The message shapes below are those of Upbit's official Python SDK, upbit-sdk 1.1.0
    // (upbit/types/{rsi,macd,bollinger_bands,volume}_indicator.py,
    // rsi_overbought_indicator_signal.py, macd_indicator_signal.py and their simple_*
    // twins): one message per indicator, the kind in `indicator`, the values as strings in
    // `value`. The SDK ships no example JSON; the numbers are hoga's, in Upbit's spellings.
    const RSI: &str = r#"{"type":"indicator","code":"KRW-BTC","timeframe":"60m","candle_date_time_utc":"2026-12-05T09:00:00","indicator":"rsi","params":{"period":14},"value":{"rsi":"54.21"},"timestamp":1796461200123,"stream_type":"REALTIME"}"#;
    const MACD: &str = r#"{"type":"indicator","code":"KRW-BTC","timeframe":"60m","candle_date_time_utc":"2026-12-05T09:00:00","indicator":"macd","params":{"fast":12,"slow":26,"signal_period":9},"value":{"macd":"-12345.5","macd_signal":"-1.16539E4","histogram":"-691.6"},"timestamp":1796461200124,"stream_type":"REALTIME"}"#;
    const BANDS: &str = r#"{"type":"indicator","code":"KRW-BTC","timeframe":"60m","candle_date_time_utc":"2026-12-05T09:00:00","indicator":"bollinger_bands","params":{"period":20,"multiplier":2.0},"value":{"bb_upper":"91500000.0","bb_middle":"91200000.00000000","bb_lower":"90900000"},"timestamp":1796461200125,"stream_type":"REALTIME"}"#;
    const VOLUME: &str = r#"{"type":"indicator","code":"KRW-BTC","timeframe":"60m","candle_date_time_utc":"2026-12-05T09:00:00","indicator":"volume","params":{"period":20},"value":{"volume":"5.485e-05","avg_volume":"1.25","ratio":"0.00004388"},"timestamp":1796461200126,"stream_type":"REALTIME"}"#;
    const SIGNAL: &str = r#"{"type":"indicator_signal","code":"KRW-ETH","timeframe":"5m","candle_date_time_utc":"2026-12-05T09:05:00","indicator":"rsi","params":{"period":14},"trigger":"overbought","event_params":{"threshold":70},"value":{"rsi":"71.3"},"timestamp":1796461500456,"stream_type":"REALTIME"}"#;
    /// SIMPLE format (simple_macd_indicator_signal.py).
    const SIMPLE_SIGNAL: &str = r#"{"ty":"indicator_signal","cd":"KRW-BTC","tf":"15m","cdttmu":"2026-12-05T09:15:00","ind":"macd","p":{"f":12,"s":26,"sgp":9},"tr":"golden_cross","ep":{},"v":{"macd":"12.5","macds":"10.25","hist":"2.25"},"tms":1796462100000,"st":"REALTIME"}"#;

    fn values(text: &str) -> IndicatorFrame {
        match decode("indicator", text, MarketId::new).unwrap() {
            IndicatorEvent::Values(f) => f,
            other => panic!("not values: {other:?}"),
        }
    }

    #[test]
    fn values_messages_decode_with_every_number_spelling() {
        let f = values(RSI);
        assert_eq!(f.market.as_str(), "KRW-BTC");
        assert_eq!(f.timeframe, Timeframe::H1);
        assert_eq!(f.candle_start, 1_796_461_200_000);
        assert_eq!(f.values, [(Indicator::Rsi { period: 14 }, Reading::Rsi(54.21))]);
        assert_eq!(
            values(MACD).values[0],
            (
                Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 },
                Reading::Macd { macd: dec!(-12345.5), signal: dec!(-11653.9), histogram: dec!(-691.6) }
            )
        );
        assert_eq!(
            values(BANDS).values[0],
            (
                Indicator::BollingerBands { period: 20, std_dev: dec!(2) },
                Reading::BollingerBands {
                    upper: dec!(91500000),
                    middle: dec!(91200000),
                    lower: dec!(90900000)
                }
            )
        );
        assert_eq!(
            values(VOLUME).values[0].1,
            Reading::Volume { volume: dec!(0.00005485), average: dec!(1.25) }
        );
    }

    #[test]
    fn signal_messages_decode_in_both_formats() {
        let IndicatorEvent::Signal(s) = decode("indicator_signal", SIGNAL, MarketId::new).unwrap() else {
            panic!("not a signal")
        };
        assert_eq!(s.timeframe, Timeframe::M5);
        assert_eq!(s.indicator, Indicator::Rsi { period: 14 });
        assert_eq!(s.condition, Condition::Above { value: dec!(70) });
        assert_eq!(s.reading, Reading::Rsi(71.3));
        let IndicatorEvent::Signal(s) = decode("indicator_signal", SIMPLE_SIGNAL, MarketId::new).unwrap()
        else {
            panic!("not a signal")
        };
        assert_eq!(s.indicator, Indicator::DEFAULTS[1]);
        assert_eq!(s.condition, Condition::CrossUp);
        assert_eq!(s.reading, Reading::Macd { macd: dec!(12.5), signal: dec!(10.25), histogram: dec!(2.25) });
        // MACD's zero-line crosses are thresholds at zero.
        let zero = SIMPLE_SIGNAL.replace("golden_cross", "zero_cross_below");
        let IndicatorEvent::Signal(s) = decode("indicator_signal", &zero, MarketId::new).unwrap() else {
            panic!("not a signal")
        };
        assert_eq!(s.condition, Condition::Below { value: Decimal::ZERO });
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        let e = decode("indicator", &RSI.replace("\"60m\"", "\"3m\""), MarketId::new).unwrap_err();
        assert!(e.contains("timeframe 3m"), "{e}");
        let e = decode("indicator", &RSI.replace("54.21", "154.2"), MarketId::new).unwrap_err();
        assert!(e.contains("outside 0..100"), "{e}");
        let e = decode("indicator_signal", &SIGNAL.replace("{\"threshold\":70}", "{}"), MarketId::new)
            .unwrap_err();
        assert!(e.contains("threshold"), "{e}");
        let e = decode("indicator_signal", &SIGNAL.replace("overbought", "stochastic_cross"), MarketId::new)
            .unwrap_err();
        assert!(e.contains("unknown trigger stochastic_cross"), "{e}");
    }

    #[test]
    fn values_no_market_could_have_are_refused() {
        // Bands out of order, as a hostile or broken frame sends them.
        let swapped = BANDS.replace("\"91500000.0\"", "\"1\"");
        let e = decode("indicator", &swapped, MarketId::new).unwrap_err();
        assert!(e.contains("bands out of order"), "{e}");
        let e = decode("indicator", &BANDS.replace("91200000.00000000", "-5"), MarketId::new).unwrap_err();
        assert!(e.contains("bb_middle = -5 is not a price"), "{e}");
        let e = decode("indicator", &VOLUME.replace("\"1.25\"", "\"-1.25\""), MarketId::new).unwrap_err();
        assert!(e.contains("negative volume"), "{e}");
        let rsi = RSI.replace("\"54.21\"", "\"-0.5\"");
        assert!(decode("indicator", &rsi, MarketId::new).unwrap_err().contains("outside 0..100"));
    }

    #[test]
    fn written_messages_read_back_unchanged() {
        let f = IndicatorFrame {
            market: MarketId::new("KRW-XRP"),
            timeframe: Timeframe::D1,
            candle_start: 1_796_428_800_000,
            values: vec![
                (Indicator::DEFAULTS[3], Reading::MovingAverage(dec!(812.3333333333333333333333333))),
                (Indicator::DEFAULTS[4], Reading::MaCrossover { short: dec!(810.5), long: dec!(805.25) }),
                (Indicator::DEFAULTS[0], Reading::Rsi(0.1 + 0.2)),
                (Indicator::DEFAULTS[5], Reading::Volume { volume: dec!(3), average: dec!(1.5) }),
            ],
            timestamp: 1,
        };
        let msgs = WireIndicatorMsg::of(&f);
        assert_eq!(msgs.len(), 4, "one message per indicator, as Upbit sends them");
        for (m, v) in msgs.iter().zip(&f.values) {
            let text = serde_json::to_string(m).unwrap();
            let back = values(&text);
            assert_eq!(back.values, [*v], "{text}");
        }
        let vol = serde_json::to_value(&msgs[3]).unwrap();
        assert_eq!(vol["value"], json!({"volume": "3", "avg_volume": "1.5", "ratio": "2"}));
        assert_eq!(
            serde_json::to_value(&msgs[1]).unwrap()["params"],
            json!({"type": "EMA", "short_period": 5, "long_period": 20})
        );
    }

    #[test]
    fn request_uses_the_sdk_parameter_and_trigger_names() {
        assert!(request_items(Timeframe::M1, &["KRW-BTC"]).is_none());
        let [values, signals] = request_items(Timeframe::H4, &["KRW-BTC"]).unwrap();
        assert_eq!(values["type"], "indicator");
        assert_eq!(values["timeframe"], "240m");
        assert_eq!(values["codes"][0], "KRW-BTC");
        let kinds: Vec<&str> =
            values["indicators"].as_array().unwrap().iter().filter_map(|i| i["type"].as_str()).collect();
        assert_eq!(kinds, ["rsi", "macd", "bollinger_bands", "moving_average", "ma_crossover", "volume"]);
        assert_eq!(values["indicators"][1]["params"], json!({"fast": 12, "slow": 26, "signal_period": 9}));
        assert_eq!(values["indicators"][2]["params"], json!({"period": 20, "multiplier": 2}));
        assert_eq!(values["indicators"][3]["params"], json!({"type": "SMA", "period": 20}));
        assert_eq!(
            signals["indicators"][0],
            json!({"type": "rsi", "params": {"period": 14}, "trigger": "overbought", "event_params": {"threshold": 70}})
        );
        let triggers: Vec<&str> =
            signals["indicators"].as_array().unwrap().iter().filter_map(|i| i["trigger"].as_str()).collect();
        assert_eq!(
            triggers,
            [
                "overbought",
                "oversold",
                "golden_cross",
                "dead_cross",
                "price_cross_above",
                "price_cross_below",
                "golden_cross",
                "dead_cross"
            ]
        );
        // Every default is in Upbit's fixed parameter sets, for both streams.
        for i in &Indicator::DEFAULTS {
            upbit_takes(i, false).unwrap();
        }
        for (i, _) in default_signals() {
            upbit_takes(&i, true).unwrap();
        }
        assert!(upbit_takes(&Indicator::Rsi { period: 15 }, false).is_err());
    }
}
