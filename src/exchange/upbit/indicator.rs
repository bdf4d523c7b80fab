//! Upbit's technical-indicator streams, `indicator` (values at every candle close) and
//! `indicator_signal` (a condition turning from unmet to met): the request objects, the
//! DEFAULT-format messages, and their decoding into [`crate::indicators`] types. The
//! simulator writes the same structs.
//!
//! Facts from Upbit's reference (docs/upbit-protocol.md, "Indicator streams"): KRW markets
//! only; `timeframe` one of `5m 15m 60m 240m 1d`; `indicators[]` of `{type, params}` with
//! `type` one of `volume rsi moving_average ma_crossover bollinger_bands macd`; no snapshot
//! (the first message comes at the first candle close after subscribing), so the socket
//! can be silent for a day on `1d` and needs keep-alive pings. The names inside `params`,
//! the value keys and the signal condition's shape were not in the pages available when
//! this was written: they are hoga's reading, isolated in this file (`params_of`,
//! `values_of`, `WireCondition`) so a correction is one place.

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

fn num(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

/// `params` of an indicator.
fn params_of(ind: &Indicator) -> Value {
    match *ind {
        Indicator::Volume { period } | Indicator::Rsi { period } => json!({ "period": period }),
        Indicator::MovingAverage { ma_type, period } => json!({ "ma_type": ma_type, "period": period }),
        Indicator::MaCrossover { ma_type, short_period, long_period } => {
            json!({ "ma_type": ma_type, "short_period": short_period, "long_period": long_period })
        }
        Indicator::BollingerBands { period, std_dev } => json!({ "period": period, "std_dev": num(std_dev) }),
        Indicator::Macd { fast_period, slow_period, signal_period } => {
            json!({ "fast_period": fast_period, "slow_period": slow_period, "signal_period": signal_period })
        }
    }
}

/// An indicator as a request or response object: `{"type":…,"params":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireIndicator {
    /// Kind.
    #[serde(rename = "type")]
    pub ty: String,
    /// Parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
}

impl WireIndicator {
    pub(crate) fn of(ind: &Indicator) -> Self {
        let params = match params_of(ind) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        WireIndicator { ty: ind.wire_type().to_string(), params }
    }

    /// The indicator, its parameters checked.
    pub(crate) fn indicator(&self) -> Result<Indicator, String> {
        let p = &self.params;
        let period = |k: &str| -> Result<u16, String> {
            p.get(k)
                .and_then(Value::as_u64)
                .and_then(|v| u16::try_from(v).ok())
                .ok_or_else(|| format!("{}: params.{k} missing or not a small integer", self.ty))
        };
        let ma_type = || -> Result<MaKind, String> {
            match p.get("ma_type").and_then(Value::as_str).map(str::to_ascii_uppercase).as_deref() {
                None | Some("SMA") => Ok(MaKind::Sma),
                Some("EMA") => Ok(MaKind::Ema),
                Some(o) => Err(format!("{}: ma_type {o} is neither SMA nor EMA", self.ty)),
            }
        };
        let ind = match self.ty.as_str() {
            "volume" => Indicator::Volume { period: period("period")? },
            "rsi" => Indicator::Rsi { period: period("period")? },
            "moving_average" => Indicator::MovingAverage { ma_type: ma_type()?, period: period("period")? },
            "ma_crossover" => Indicator::MaCrossover {
                ma_type: ma_type()?,
                short_period: period("short_period")?,
                long_period: period("long_period")?,
            },
            "bollinger_bands" => {
                let std_dev = match p.get("std_dev") {
                    Some(v) => v
                        .to_string()
                        .trim_matches('"')
                        .parse::<Decimal>()
                        .map_err(|e| format!("std_dev: {e}"))?,
                    None => Decimal::TWO,
                };
                Indicator::BollingerBands { period: period("period")?, std_dev }
            }
            "macd" => Indicator::Macd {
                fast_period: period("fast_period")?,
                slow_period: period("slow_period")?,
                signal_period: period("signal_period")?,
            },
            other => return Err(format!("unknown indicator type {other}")),
        };
        ind.validate()?;
        Ok(ind)
    }
}

/// A signal condition: `{"type":"above","value":70}`, `{"type":"cross_up"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireCondition {
    /// `above`, `below`, `cross_up`, `cross_down`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Threshold of `above` / `below`.
    #[serde(default, with = "super::wire::num::opt", skip_serializing_if = "Option::is_none")]
    pub value: Option<Decimal>,
}

impl WireCondition {
    pub(crate) fn of(c: &Condition) -> Self {
        match *c {
            Condition::Above { value } => WireCondition { ty: "above".into(), value: Some(value) },
            Condition::Below { value } => WireCondition { ty: "below".into(), value: Some(value) },
            Condition::CrossUp => WireCondition { ty: "cross_up".into(), value: None },
            Condition::CrossDown => WireCondition { ty: "cross_down".into(), value: None },
        }
    }

    pub(crate) fn condition(&self) -> Result<Condition, String> {
        let value = || self.value.ok_or_else(|| format!("condition {} needs a value", self.ty));
        Ok(match self.ty.as_str() {
            "above" => Condition::Above { value: value()? },
            "below" => Condition::Below { value: value()? },
            "cross_up" => Condition::CrossUp,
            "cross_down" => Condition::CrossDown,
            other => return Err(format!("unknown condition {other}")),
        })
    }
}

/// An indicator with its condition, in an `indicator_signal` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireSignalSpec {
    /// Kind.
    #[serde(rename = "type")]
    pub ty: String,
    /// Parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Condition.
    pub condition: WireCondition,
}

/// The request objects of one subscription: `indicator` with hoga's default set and
/// `indicator_signal` with its default conditions, both for `codes` on `tf`. `None` when
/// Upbit does not stream that timeframe.
pub(crate) fn request_items(tf: Timeframe, codes: &[&str]) -> Option<[Value; 2]> {
    let timeframe = timeframe_name(tf)?;
    let indicators: Vec<WireIndicator> = Indicator::DEFAULTS.iter().map(WireIndicator::of).collect();
    let signals: Vec<WireSignalSpec> = default_signals()
        .iter()
        .map(|(i, c)| {
            let w = WireIndicator::of(i);
            WireSignalSpec { ty: w.ty, params: w.params, condition: WireCondition::of(c) }
        })
        .collect();
    Some([
        json!({ "type": INDICATOR, "codes": codes, "timeframe": timeframe, "indicators": indicators }),
        json!({ "type": INDICATOR_SIGNAL, "codes": codes, "timeframe": timeframe, "indicators": signals }),
    ])
}

/// The value object of a reading: keys per kind.
pub(crate) fn values_of(r: &Reading) -> Value {
    match *r {
        Reading::Volume { volume, average } => json!({ "volume": num(volume), "volume_ma": num(average) }),
        Reading::Rsi(v) => json!({ "rsi": v }),
        Reading::MovingAverage(v) => json!({ "ma": num(v) }),
        Reading::MaCrossover { short, long } => json!({ "short_ma": num(short), "long_ma": num(long) }),
        Reading::BollingerBands { upper, middle, lower } => {
            json!({ "upper": num(upper), "middle": num(middle), "lower": num(lower) })
        }
        Reading::Macd { macd, signal, histogram } => {
            json!({ "macd": num(macd), "signal": num(signal), "histogram": num(histogram) })
        }
    }
}

fn reading_of(ind: &Indicator, v: &Map<String, Value>) -> Result<Reading, String> {
    let d = |k: &str| -> Result<Decimal, String> {
        let x = v.get(k).ok_or_else(|| format!("{}: value {k} missing", ind.wire_type()))?;
        let text = x.to_string();
        let text = text.trim_matches('"');
        text.parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(text))
            .map_err(|e| format!("{}: value {k} = {text}: {e}", ind.wire_type()))
    };
    Ok(match ind {
        Indicator::Volume { .. } => Reading::Volume { volume: d("volume")?, average: d("volume_ma")? },
        Indicator::Rsi { .. } => {
            let r = v.get("rsi").and_then(Value::as_f64).ok_or("rsi: value rsi missing or not a number")?;
            if !(0.0..=100.0).contains(&r) {
                return Err(format!("rsi: {r} is outside 0..100"));
            }
            Reading::Rsi(r)
        }
        Indicator::MovingAverage { .. } => Reading::MovingAverage(d("ma")?),
        Indicator::MaCrossover { .. } => Reading::MaCrossover { short: d("short_ma")?, long: d("long_ma")? },
        Indicator::BollingerBands { .. } => {
            Reading::BollingerBands { upper: d("upper")?, middle: d("middle")?, lower: d("lower")? }
        }
        Indicator::Macd { .. } => {
            Reading::Macd { macd: d("macd")?, signal: d("signal")?, histogram: d("histogram")? }
        }
    })
}

/// One indicator and its value, in an `indicator` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireIndicatorValue {
    /// Kind.
    #[serde(rename = "type")]
    pub ty: String,
    /// Parameters, as subscribed.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Values, keys per kind.
    pub values: Map<String, Value>,
}

/// An `indicator` message (DEFAULT format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireIndicatorMsg {
    /// `indicator`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Market.
    pub code: String,
    /// `5m` … `1d`.
    pub timeframe: String,
    /// Start of the candle that closed, UTC `yyyy-MM-ddTHH:mm:ss`.
    pub candle_date_time_utc: String,
    /// Values.
    pub indicators: Vec<WireIndicatorValue>,
    /// Message time (ms).
    pub timestamp: i64,
    /// Always `REALTIME` (no snapshot).
    pub stream_type: String,
}

/// An `indicator_signal` message (DEFAULT format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireSignalMsg {
    /// `indicator_signal`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Market.
    pub code: String,
    /// `5m` … `1d`.
    pub timeframe: String,
    /// Start of the candle that closed, UTC.
    pub candle_date_time_utc: String,
    /// The indicator.
    pub indicator: WireIndicator,
    /// The condition now met.
    pub condition: WireCondition,
    /// The indicator's values then.
    pub values: Map<String, Value>,
    /// Message time (ms).
    pub timestamp: i64,
    /// Always `REALTIME`.
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
    /// The message of `frame`.
    pub(crate) fn of(f: &IndicatorFrame) -> Self {
        WireIndicatorMsg {
            ty: INDICATOR.into(),
            code: f.market.as_str().to_string(),
            timeframe: timeframe_name(f.timeframe).unwrap_or_default().to_string(),
            candle_date_time_utc: utc_text(f.candle_start),
            indicators: f
                .values
                .iter()
                .map(|(i, r)| {
                    let w = WireIndicator::of(i);
                    let values = match values_of(r) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    };
                    WireIndicatorValue { ty: w.ty, params: w.params, values }
                })
                .collect(),
            timestamp: f.timestamp,
            stream_type: "REALTIME".into(),
        }
    }

    fn frame(&self, market: MarketId) -> Result<IndicatorFrame, String> {
        let mut values = Vec::with_capacity(self.indicators.len());
        for v in &self.indicators {
            let ind = WireIndicator { ty: v.ty.clone(), params: v.params.clone() }.indicator()?;
            values.push((ind, reading_of(&ind, &v.values)?));
        }
        Ok(IndicatorFrame {
            market,
            timeframe: frame_timeframe(&self.timeframe)?,
            candle_start: start_of(&self.candle_date_time_utc)?,
            values,
            timestamp: self.timestamp,
        })
    }
}

impl WireSignalMsg {
    /// The message of `signal`.
    pub(crate) fn of(s: &SignalFrame) -> Self {
        WireSignalMsg {
            ty: INDICATOR_SIGNAL.into(),
            code: s.market.as_str().to_string(),
            timeframe: timeframe_name(s.timeframe).unwrap_or_default().to_string(),
            candle_date_time_utc: utc_text(s.candle_start),
            indicator: WireIndicator::of(&s.indicator),
            condition: WireCondition::of(&s.condition),
            values: match values_of(&s.reading) {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            timestamp: s.timestamp,
            stream_type: "REALTIME".into(),
        }
    }

    fn frame(&self, market: MarketId) -> Result<SignalFrame, String> {
        let indicator = self.indicator.indicator()?;
        Ok(SignalFrame {
            market,
            timeframe: frame_timeframe(&self.timeframe)?,
            candle_start: start_of(&self.candle_date_time_utc)?,
            indicator,
            condition: self.condition.condition()?,
            reading: reading_of(&indicator, &self.values)?,
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

    /// An `indicator` message in the DEFAULT shape hoga expects (see the module note on
    /// which parts are Upbit's documented fields).
    const VALUES: &str = r#"{"type":"indicator","code":"KRW-BTC","timeframe":"60m","candle_date_time_utc":"2026-12-05T09:00:00","indicators":[{"type":"rsi","params":{"period":14},"values":{"rsi":54.21}},{"type":"macd","params":{"fast_period":12,"slow_period":26,"signal_period":9},"values":{"macd":-12345.5,"signal":-1.16539E4,"histogram":-691.6}},{"type":"bollinger_bands","params":{"period":20,"std_dev":2},"values":{"upper":91500000.0,"middle":91200000.00000000,"lower":90900000}},{"type":"volume","params":{"period":20},"values":{"volume":5.485e-05,"volume_ma":1.25}}],"timestamp":1796461200123,"stream_type":"REALTIME"}"#;

    const SIGNAL: &str = r#"{"type":"indicator_signal","code":"KRW-ETH","timeframe":"5m","candle_date_time_utc":"2026-12-05T09:05:00","indicator":{"type":"rsi","params":{"period":14}},"condition":{"type":"above","value":70},"values":{"rsi":71.3},"timestamp":1796461500456,"stream_type":"REALTIME"}"#;

    #[test]
    fn values_message_decodes_with_every_number_spelling() {
        let IndicatorEvent::Values(f) = decode("indicator", VALUES, MarketId::new).unwrap() else {
            panic!("not values")
        };
        assert_eq!(f.market.as_str(), "KRW-BTC");
        assert_eq!(f.timeframe, Timeframe::H1);
        assert_eq!(f.candle_start, 1_796_461_200_000);
        assert_eq!(f.values[0], (Indicator::Rsi { period: 14 }, Reading::Rsi(54.21)));
        assert_eq!(
            f.values[1].1,
            Reading::Macd { macd: dec!(-12345.5), signal: dec!(-11653.9), histogram: dec!(-691.6) }
        );
        assert_eq!(
            f.values[2].1,
            Reading::BollingerBands { upper: dec!(91500000), middle: dec!(91200000), lower: dec!(90900000) }
        );
        assert_eq!(f.values[3].1, Reading::Volume { volume: dec!(0.00005485), average: dec!(1.25) });
    }

    #[test]
    fn signal_message_decodes() {
        let IndicatorEvent::Signal(s) = decode("indicator_signal", SIGNAL, MarketId::new).unwrap() else {
            panic!("not a signal")
        };
        assert_eq!(s.timeframe, Timeframe::M5);
        assert_eq!(s.indicator, Indicator::Rsi { period: 14 });
        assert_eq!(s.condition, Condition::Above { value: dec!(70) });
        assert_eq!(s.reading, Reading::Rsi(71.3));
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        let e = decode("indicator", &VALUES.replace("\"60m\"", "\"3m\""), MarketId::new).unwrap_err();
        assert!(e.contains("timeframe 3m"), "{e}");
        let e = decode("indicator", &VALUES.replace("54.21", "154.2"), MarketId::new).unwrap_err();
        assert!(e.contains("outside 0..100"), "{e}");
        let e =
            decode("indicator_signal", &SIGNAL.replace("\"above\",\"value\":70", "\"above\""), MarketId::new)
                .unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
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
            ],
            timestamp: 1,
        };
        let text = serde_json::to_string(&WireIndicatorMsg::of(&f)).unwrap();
        assert_eq!(decode("indicator", &text, MarketId::new).unwrap(), IndicatorEvent::Values(f));
    }

    #[test]
    fn request_names_timeframe_and_every_default_indicator() {
        assert!(request_items(Timeframe::M1, &["KRW-BTC"]).is_none());
        let [values, signals] = request_items(Timeframe::H4, &["KRW-BTC"]).unwrap();
        assert_eq!(values["type"], "indicator");
        assert_eq!(values["timeframe"], "240m");
        assert_eq!(values["codes"][0], "KRW-BTC");
        let kinds: Vec<&str> =
            values["indicators"].as_array().unwrap().iter().filter_map(|i| i["type"].as_str()).collect();
        assert_eq!(kinds, ["rsi", "macd", "bollinger_bands", "moving_average", "ma_crossover", "volume"]);
        assert_eq!(signals["indicators"][0]["condition"], json!({"type": "above", "value": 70}));
    }
}
