//! Parser for trading commands typed on the command line or in the order form.
//!
//! `:buy 0.01 @ 95000000`, `:sell 50% @ market`, `:buy 100000krw @ market`,
//! `:buy 0.01 @ best ioc`, `:cancel all`, `:stop KRW-BTC -3%`, `:tp KRW-BTC +5% avg`,
//! `:trail KRW-BTC 2%`, `:alert KRW-BTC > 100000000`, `:unarm`.
//!
//! A rule's `%` level is measured from the last price unless the line says `avg` (from
//! the average cost); `future` (or `wait`) arms a rule for a position not held yet.
//!
//! Numbers are parsed strictly into `Decimal` (ASCII digits and one dot; no sign, no
//! exponent, no thousands separators, no full-width digits): anything else is an
//! [`InputError`] naming the bad token, so bad input never becomes an order
//! (docs/RELIABILITY.md case 38). [`resolve`] then turns a parsed size (quantity, quote amount
//! or % of available) into an [`OrderRequest`] that still goes through validation.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::Timeframe;
use crate::exchange::types::{MarketId, OrderType, Price, Side, TimeInForce};
use crate::indicators::{Indicator, MaKind};
use crate::trading::orders::{Denied, MarketRules, OrderRequest, floor_volume};
use crate::trading::rules::{AlertCondition, IndicatorAlert, IndicatorTest, Level, Way};

/// Longest command accepted (a paste of a whole document is refused, not parsed).
pub(crate) const MAX_INPUT_LEN: usize = 200;

/// Why a command did not parse or resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Empty input.
    #[error("empty command")]
    Empty,
    /// Longer than [`MAX_INPUT_LEN`] or spanning several lines.
    #[error("command must be one line of at most {MAX_INPUT_LEN} characters")]
    TooLong,
    /// Unknown verb.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A number that is not a plain positive decimal.
    #[error("not a plain positive number: {0:?} (digits and one '.', e.g. 0.01 or 95000000)")]
    BadNumber(String),
    /// A token in the wrong place.
    #[error("unexpected {found:?}; expected {expected}")]
    Syntax {
        /// What was found.
        found: String,
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// A market code that does not parse.
    #[error("not a market code: {0:?}")]
    BadMarket(String),
    /// A percentage outside (0, 100].
    #[error("percentage {0} must be above 0 and at most 100")]
    BadPercent(Decimal),
    /// No market given and none selected.
    #[error("no market: name one (e.g. KRW-BTC) or select one")]
    NoMarket,
    /// A figure needed to size the order is not known (balance, price).
    #[error("cannot size the order: {0}")]
    Unknown(&'static str),
    /// The resolved order is invalid.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// An indicator alert that names no indicator hoga knows, or bad parameters.
    #[error("{0}")]
    BadIndicator(String),
}

/// How big an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Size {
    /// Base-currency quantity (`0.01`).
    Qty(Decimal),
    /// Quote-currency amount (`100000krw`).
    Quote(Decimal),
    /// Percent of the available balance (`50%`): quote for buys, base for sells.
    Percent(Decimal),
}

/// At what price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PriceSpec {
    /// Limit at a unit price.
    Limit(Price),
    /// Market.
    Market,
    /// Best price (needs ioc or fok).
    Best,
}

/// A parsed order line, not yet sized or validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInput {
    /// Side.
    pub side: Side,
    /// Market, when named; otherwise the selected one.
    pub market: Option<MarketId>,
    /// Size.
    pub size: Size,
    /// Price.
    pub price: PriceSpec,
    /// Time in force.
    pub tif: Option<TimeInForce>,
}

/// What `:cancel` targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelTarget {
    /// Every open order (all markets).
    All,
    /// Every open order of one market.
    Market(MarketId),
    /// One order, by our identifier or the venue uuid.
    Order(String),
}

/// A parsed trading command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradeCommand {
    /// Place an order.
    Order(OrderInput),
    /// Cancel.
    Cancel(CancelTarget),
    /// Arm a stop-loss.
    Stop {
        /// Market.
        market: MarketId,
        /// Trigger level.
        level: Level,
        /// Armed for a position not held yet (`future`).
        future: bool,
    },
    /// Arm a take-profit.
    TakeProfit {
        /// Market.
        market: MarketId,
        /// Trigger level.
        level: Level,
        /// Armed for a position not held yet (`future`).
        future: bool,
    },
    /// Arm a trailing stop `pct` percent below the peak.
    Trail {
        /// Market.
        market: MarketId,
        /// Ratio (0.02 = 2 %).
        ratio: Decimal,
        /// Armed for a position not held yet (`future`).
        future: bool,
    },
    /// Arm a price alert.
    Alert {
        /// Market.
        market: MarketId,
        /// Condition.
        condition: AlertCondition,
    },
    /// Arm a stop-loss and a take-profit as one rule: whichever triggers first fires.
    Oco {
        /// Market.
        market: MarketId,
        /// Stop level.
        stop: Level,
        /// Take-profit level.
        take: Level,
        /// Armed for a position not held yet (`future`).
        future: bool,
    },
    /// Disarm rules: every rule, every rule of a market, or one rule by id.
    Unarm(UnarmTarget),
    /// Kill switch: HALTED + cancel all.
    Kill,
    /// Move assets between two pockets of the account, named as typed (names, unique
    /// prefixes or UUIDs: the screen resolves them and asks first).
    Transfer {
        /// Amount, exactly as typed.
        amount: Decimal,
        /// Currency code, upper case.
        currency: String,
        /// Sending pocket, as typed.
        from: String,
        /// Receiving pocket, as typed.
        to: String,
    },
    /// Lift a HALT (kill switch or a halting exchange error). REDUCING causes (the
    /// monitor being down) stay until they clear.
    Resume,
}

/// What `:unarm` targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnarmTarget {
    /// Every rule (`:unarm` alone; the screen asks first).
    All,
    /// Every rule of one market.
    Market(MarketId),
    /// One rule by its id (as the Monitor pane shows it).
    Rule(String),
}

/// Strict decimal: ASCII digits with at most one dot, at least one digit, positive, and
/// at most 28 significant digits (no `1e309`, no `1,000`, no `-1`, no full-width digits).
pub(crate) fn parse_decimal(s: &str) -> Result<Decimal, InputError> {
    let bad = || InputError::BadNumber(s.to_string());
    if s.is_empty() || s.len() > 30 {
        return Err(bad());
    }
    let mut dots = 0;
    let mut digits = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return Err(bad()),
        }
    }
    if dots > 1 || digits == 0 {
        return Err(bad());
    }
    let d = Decimal::from_str(s).map_err(|_| bad())?;
    if d <= Decimal::ZERO {
        return Err(bad());
    }
    Ok(d)
}

fn parse_percent(tok: &str) -> Result<Decimal, InputError> {
    let n = tok
        .strip_suffix('%')
        .ok_or(InputError::Syntax { found: tok.into(), expected: "a percentage like 3%" })?;
    let (sign, n) = match n.as_bytes().first() {
        Some(b'-') => (-1, &n[1..]),
        Some(b'+') => (1, &n[1..]),
        _ => (0, n),
    };
    let v = parse_decimal(n)?;
    if v > Decimal::ONE_HUNDRED {
        return Err(InputError::BadPercent(v));
    }
    let r = v / Decimal::ONE_HUNDRED;
    Ok(if sign < 0 { -r } else { r })
}

fn parse_market(tok: &str) -> Result<MarketId, InputError> {
    MarketId::from_str(tok).map_err(|_| InputError::BadMarket(tok.to_string()))
}

fn parse_size(tok: &str) -> Result<Size, InputError> {
    let lower = tok.to_ascii_lowercase();
    if let Some(p) = lower.strip_suffix('%') {
        let v = parse_decimal(p)?;
        if v > Decimal::ONE_HUNDRED {
            return Err(InputError::BadPercent(v));
        }
        return Ok(Size::Percent(v));
    }
    for suffix in ["krw", "usdt", "btc"] {
        if let Some(n) = lower.strip_suffix(suffix)
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return Ok(Size::Quote(parse_decimal(n)?));
        }
    }
    Ok(Size::Qty(parse_decimal(tok)?))
}

fn parse_tif(tok: &str) -> Option<TimeInForce> {
    match tok.to_ascii_lowercase().as_str() {
        "ioc" => Some(TimeInForce::Ioc),
        "fok" => Some(TimeInForce::Fok),
        "post" | "post_only" | "postonly" => Some(TimeInForce::PostOnly),
        _ => None,
    }
}

/// What a rule line's words after the market say besides its levels.
struct RuleWords<'a> {
    /// The levels (or the trailing ratio), in order.
    levels: Vec<&'a str>,
    /// `avg`: the `%` levels are measured from the average cost.
    avg: bool,
    /// `future` / `wait`: armed for a position not held yet.
    future: bool,
}

/// Splits the anchor (`avg`, `last`) and `future` / `wait` words from the levels.
fn rule_words<'a>(toks: &[&'a str]) -> Result<RuleWords<'a>, InputError> {
    let mut w = RuleWords { levels: Vec::new(), avg: false, future: false };
    let mut anchors = 0;
    for tok in toks {
        match tok.to_ascii_lowercase().as_str() {
            "avg" | "average" => {
                w.avg = true;
                anchors += 1;
            }
            "last" => anchors += 1,
            "future" | "wait" => w.future = true,
            _ => w.levels.push(tok),
        }
    }
    if anchors > 1 {
        return Err(InputError::Syntax { found: toks.join(" "), expected: "one anchor: `avg` or `last`" });
    }
    Ok(w)
}

/// A level: an absolute price, or a `%` from the last price (default) or, with `avg`, from
/// the average cost.
fn parse_level(tok: &str, avg: bool) -> Result<Level, InputError> {
    if tok.ends_with('%') {
        let r = parse_percent(tok)?;
        Ok(if avg { Level::PctFromAvg(r) } else { Level::PctFromLast(r) })
    } else {
        Ok(Level::Price(parse_decimal(tok)?))
    }
}

/// `avg` names the anchor of a `%` level: said with only absolute prices it is a mistake.
fn check_avg(words: &RuleWords<'_>) -> Result<(), InputError> {
    if words.avg && !words.levels.iter().any(|l| l.ends_with('%')) {
        return Err(InputError::Syntax {
            found: "avg".into(),
            expected: "`avg` only with a % level (it measures the % from the average cost)",
        });
    }
    Ok(())
}

/// The operators of a price alert (`:alert KRW-BTC > 100000000`); anything else in that
/// place names an indicator.
fn is_price_alert_op(tok: &str) -> bool {
    matches!(tok, ">" | "<" | "x" | "crosses" | "cross" | "move" | "%")
}

/// Longest period an indicator alert takes (200 candles of history plus a live series is
/// all the watcher holds; 500 leaves room without inviting a typo of 5000).
pub const MAX_INDICATOR_PERIOD: u16 = 500;

/// The indicator names an alert takes, for errors.
const INDICATOR_NAMES: &str = "rsi14, sma20, ema50, vol20, bb20 (or bb20,2.5), macd (or macd12,26,9)";

/// One named line of an indicator: `rsi14`, `ema50`, `bb20,2.5`, `macd`, `macd8,17,9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Rsi(u16),
    Ma(MaKind, u16),
    Volume(u16),
    Bands(u16, Decimal),
    Macd(u16, u16, u16),
}

fn period_of(tok: &str, digits: &str) -> Result<u16, InputError> {
    let bad = || {
        InputError::BadIndicator(format!(
            "period {digits:?} of {tok:?} must be a whole number from 1 to {MAX_INDICATOR_PERIOD}"
        ))
    };
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let p: u16 = digits.parse().map_err(|_| bad())?;
    if p == 0 || p > MAX_INDICATOR_PERIOD {
        return Err(bad());
    }
    Ok(p)
}

fn parse_line_name(tok: &str) -> Result<Line, InputError> {
    if tok.starts_with(|c: char| c.is_ascii_digit()) {
        // `:alert KRW-BTC 100000000`: a price without its operator.
        return Err(InputError::Syntax {
            found: tok.into(),
            expected: "> < crosses or move before a price, or an indicator (rsi14 < 30)",
        });
    }
    let lower = tok.to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(lower.len());
    let (name, args) = lower.split_at(split);
    let unknown = || InputError::BadIndicator(format!("unknown indicator {tok:?}; one of {INDICATOR_NAMES}"));
    let periods =
        |args: &str| -> Result<Vec<u16>, InputError> { args.split(',').map(|d| period_of(tok, d)).collect() };
    Ok(match name {
        "rsi" if args.is_empty() => Line::Rsi(14),
        "rsi" => Line::Rsi(period_of(tok, args)?),
        "sma" | "ma" => Line::Ma(MaKind::Sma, period_of(tok, args)?),
        "ema" => Line::Ma(MaKind::Ema, period_of(tok, args)?),
        "vol" | "volume" => Line::Volume(if args.is_empty() { 20 } else { period_of(tok, args)? }),
        "bb" | "boll" => {
            let (p, w) = args.split_once(',').map_or((args, None), |(p, w)| (p, Some(w)));
            let period = if p.is_empty() { 20 } else { period_of(tok, p)? };
            let width = match w {
                None => Decimal::TWO,
                Some(w) => parse_decimal(w).map_err(|_| {
                    InputError::BadIndicator(format!("band width {w:?} of {tok:?} must be a positive number"))
                })?,
            };
            Line::Bands(period, width)
        }
        "macd" if args.is_empty() => Line::Macd(12, 26, 9),
        "macd" => match periods(args)?.as_slice() {
            [f, s, g] => Line::Macd(*f, *s, *g),
            _ => {
                return Err(InputError::BadIndicator(format!(
                    "{tok:?}: macd takes three periods, fast,slow,signal (macd12,26,9)"
                )));
            }
        },
        _ => return Err(unknown()),
    })
}

/// A threshold of an indicator: a plain decimal that may be zero (`rsi14 > 0`), and
/// negative for the MACD line only.
fn parse_threshold(tok: &str, line: Line) -> Result<Decimal, InputError> {
    let (neg, body) = tok.strip_prefix('-').map_or((false, tok), |b| (true, b));
    let ok = !body.is_empty()
        && body.len() <= 30
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|b| *b == b'.').count() <= 1
        && body.bytes().any(|b| b.is_ascii_digit());
    let v = ok
        .then(|| Decimal::from_str(body).ok())
        .flatten()
        .ok_or_else(|| InputError::BadNumber(tok.into()))?;
    let v = if neg { -v } else { v };
    match line {
        Line::Rsi(_) if !(Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&v) => {
            Err(InputError::BadIndicator(format!("an RSI level is from 0 to 100, got {tok}")))
        }
        Line::Macd(..) => Ok(v),
        _ if neg => Err(InputError::BadIndicator(format!(
            "a level of an average or a volume is never negative: {tok}"
        ))),
        _ => Ok(v),
    }
}

fn up_down(tok: &str) -> Option<Way> {
    match tok.to_ascii_lowercase().as_str() {
        "up" | "above" => Some(Way::Up),
        "down" | "below" => Some(Way::Down),
        _ => None,
    }
}

/// A token written as a timeframe: bracketed (`[7m]`), or digits then letters (`7m`,
/// `2h`). No other last token of an indicator alert has that shape: a threshold is a
/// plain number, a line name starts with letters, a direction is a word.
fn looks_like_timeframe(tok: &str) -> bool {
    if tok.starts_with('[') || tok.ends_with(']') {
        return true;
    }
    let unit = tok.trim_start_matches(|c: char| c.is_ascii_digit());
    unit.len() < tok.len() && !unit.is_empty() && unit.chars().all(|c| c.is_ascii_alphabetic())
}

/// `rsi14 < 30 [5m]`, `ema20 crosses [up|down] ema50 [1h]`, `macd crosses signal`,
/// `bb20 break up|down [15m]`: the tokens after the market.
fn parse_indicator_alert(toks: &[&str]) -> Result<IndicatorAlert, InputError> {
    const FORMS: &str = "rsi14 < 30, ema20 crosses ema50, macd crosses signal or bb20 break up, then an optional timeframe (5m)";
    // A trailing timeframe, bare or bracketed (`5m`, `[1h]`).
    let (toks, timeframe) = match toks.split_last() {
        Some((last, init)) if !init.is_empty() => {
            let t = last.trim_start_matches('[').trim_end_matches(']');
            match Timeframe::from_str(t) {
                Ok(tf) => (init, tf),
                // Meant as a timeframe (`7m`, `[2h]`: digits then a unit, or bracketed)
                // but not one: say so and list them, rather than blame the whole tail.
                Err(e) if looks_like_timeframe(last) => return Err(InputError::BadIndicator(e)),
                Err(_) => (toks, IndicatorAlert::DEFAULT_TIMEFRAME),
            }
        }
        _ => (toks, IndicatorAlert::DEFAULT_TIMEFRAME),
    };
    if let Some(first) = toks.first() {
        parse_line_name(first)?;
    }
    let [name, op, args @ ..] = toks else {
        return Err(InputError::Syntax { found: toks.join(" "), expected: FORMS });
    };
    let line = parse_line_name(name)?;
    let indicator_of = |line: Line| match line {
        Line::Rsi(period) => Indicator::Rsi { period },
        Line::Ma(ma_type, period) => Indicator::MovingAverage { ma_type, period },
        Line::Volume(period) => Indicator::Volume { period },
        Line::Bands(period, std_dev) => Indicator::BollingerBands { period, std_dev },
        Line::Macd(fast_period, slow_period, signal_period) => {
            Indicator::Macd { fast_period, slow_period, signal_period }
        }
    };
    let (indicator, test) = match (op.to_ascii_lowercase().as_str(), args) {
        (">" | "<", [v]) => {
            if matches!(line, Line::Bands(..)) {
                return Err(InputError::BadIndicator(format!(
                    "{name}: Bollinger bands alert on a break (`{name} break up` or `break down`)"
                )));
            }
            let v = parse_threshold(v, line)?;
            let test = if *op == ">" { IndicatorTest::Above(v) } else { IndicatorTest::Below(v) };
            (indicator_of(line), test)
        }
        ("break" | "breaks", [w]) => {
            let way = up_down(w).ok_or(InputError::Syntax { found: (*w).into(), expected: "up or down" })?;
            if !matches!(line, Line::Bands(..)) {
                return Err(InputError::BadIndicator(format!(
                    "{name}: only Bollinger bands break (bb20 break up)"
                )));
            }
            (indicator_of(line), IndicatorTest::Breaks(way))
        }
        ("crosses" | "cross" | "x", args) => {
            // `crosses up ema50`, `crosses ema50 up` or `crosses ema50`.
            let (way, other) = match args {
                [w, o] if up_down(w).is_some() => (up_down(w), *o),
                [o, w] if up_down(w).is_some() => (up_down(w), *o),
                [o] => (None, *o),
                _ => {
                    return Err(InputError::Syntax {
                        found: args.join(" "),
                        expected: "[up|down] and a second line: ema20 crosses ema50, macd crosses signal",
                    });
                }
            };
            match line {
                Line::Macd(..) if other.eq_ignore_ascii_case("signal") => {
                    (indicator_of(line), IndicatorTest::Crosses(way))
                }
                Line::Macd(..) => {
                    return Err(InputError::Syntax {
                        found: other.into(),
                        expected: "signal (macd crosses signal)",
                    });
                }
                Line::Ma(kind, a) => {
                    let Line::Ma(other_kind, b) = parse_line_name(other)? else {
                        return Err(InputError::BadIndicator(format!(
                            "{name} crosses another average of the same kind ({name} crosses {}50)",
                            name.trim_end_matches(|c: char| c.is_ascii_digit())
                        )));
                    };
                    if other_kind != kind {
                        return Err(InputError::BadIndicator(format!(
                            "{name} and {other}: both averages of a cross must be of one kind (sma20 crosses sma50, ema20 crosses ema50)"
                        )));
                    }
                    if a == b {
                        return Err(InputError::BadIndicator(format!("{name} cannot cross itself")));
                    }
                    // Kept as the short average against the long one: the long one
                    // crossing up the short is the short crossing down.
                    let (short_period, long_period, way) =
                        if a < b { (a, b, way) } else { (b, a, way.map(Way::flipped)) };
                    (
                        Indicator::MaCrossover { ma_type: kind, short_period, long_period },
                        IndicatorTest::Crosses(way),
                    )
                }
                _ => {
                    return Err(InputError::BadIndicator(format!(
                        "{name} has no second line to cross: crosses takes two averages (ema20 crosses ema50) or macd crosses signal"
                    )));
                }
            }
        }
        _ => return Err(InputError::Syntax { found: toks[1..].join(" "), expected: FORMS }),
    };
    indicator.validate().map_err(InputError::BadIndicator)?;
    Ok(IndicatorAlert { timeframe, indicator, test })
}

/// Parses one command line (with or without the leading `:`).
pub fn parse_command(line: &str) -> Result<TradeCommand, InputError> {
    if line.len() > MAX_INPUT_LEN || line.contains(['\n', '\r']) {
        return Err(InputError::TooLong);
    }
    let line = line.trim();
    let line = line.strip_prefix(':').unwrap_or(line);
    let toks: Vec<&str> = line.split_whitespace().collect();
    let (verb, rest) = toks.split_first().ok_or(InputError::Empty)?;
    match verb.to_ascii_lowercase().as_str() {
        "buy" | "b" => parse_order(Side::Bid, rest),
        "sell" | "s" => parse_order(Side::Ask, rest),
        "cancel" => match rest {
            // A bare `cancel` is a question, not "cancel everything".
            ["all"] => Ok(TradeCommand::Cancel(CancelTarget::All)),
            [m] if m.contains('-') && parse_market(m).is_ok() && m.len() <= 20 => {
                Ok(TradeCommand::Cancel(CancelTarget::Market(parse_market(m)?)))
            }
            [id] if id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Ok(TradeCommand::Cancel(CancelTarget::Order((*id).to_string())))
            }
            _ => {
                Err(InputError::Syntax { found: rest.join(" "), expected: "`all`, a market or an order id" })
            }
        },
        "stop" | "sl" => {
            let (m, w) = rule_line(rest, "MARKET -3% [avg] [future] or MARKET PRICE")?;
            match w.levels.as_slice() {
                [l] => {
                    check_avg(&w)?;
                    Ok(TradeCommand::Stop { market: m, level: parse_level(l, w.avg)?, future: w.future })
                }
                _ => Err(InputError::Syntax {
                    found: rest.join(" "),
                    expected: "MARKET -3% [avg] [future] or MARKET PRICE",
                }),
            }
        }
        "tp" => {
            let (m, w) = rule_line(rest, "MARKET +5% [avg] [future] or MARKET PRICE")?;
            match w.levels.as_slice() {
                [l] => {
                    check_avg(&w)?;
                    Ok(TradeCommand::TakeProfit {
                        market: m,
                        level: parse_level(l, w.avg)?,
                        future: w.future,
                    })
                }
                _ => Err(InputError::Syntax {
                    found: rest.join(" "),
                    expected: "MARKET +5% [avg] [future] or MARKET PRICE",
                }),
            }
        }
        "trail" => {
            let (m, w) = rule_line(rest, "MARKET 2% [future]")?;
            match w.levels.as_slice() {
                [p] if !w.avg => {
                    let r = parse_percent(p)?;
                    if r <= Decimal::ZERO {
                        return Err(InputError::BadPercent(r * Decimal::ONE_HUNDRED));
                    }
                    Ok(TradeCommand::Trail { market: m, ratio: r, future: w.future })
                }
                [_] => Err(InputError::Syntax {
                    found: "avg".into(),
                    expected: "no anchor: a trailing stop follows the highest price since arming",
                }),
                _ => Err(InputError::Syntax { found: rest.join(" "), expected: "MARKET 2% [future]" }),
            }
        }
        "alert" => match rest {
            [m, name, ..] if crate::trading::monitor::premium_alerts::is_premium_word(name) => {
                let market = parse_market(m)?;
                let p = crate::trading::monitor::premium_alerts::parse(&market, &rest[1..])?;
                Ok(TradeCommand::Alert { market, condition: AlertCondition::Premium(p) })
            }
            [m, name, ..] if !is_price_alert_op(name) => {
                let market = parse_market(m)?;
                let condition = AlertCondition::Indicator(parse_indicator_alert(&rest[1..])?);
                Ok(TradeCommand::Alert { market, condition })
            }
            [m, op, v] => {
                let market = parse_market(m)?;
                let condition = match *op {
                    ">" => AlertCondition::Above(parse_decimal(v)?),
                    "<" => AlertCondition::Below(parse_decimal(v)?),
                    "x" | "crosses" | "cross" => AlertCondition::Crosses(parse_decimal(v)?),
                    "move" | "%" => AlertCondition::MovePct(parse_percent(v)?.abs()),
                    other => {
                        return Err(InputError::Syntax { found: other.into(), expected: "> < crosses move" });
                    }
                };
                Ok(TradeCommand::Alert { market, condition })
            }
            _ => Err(InputError::Syntax {
                found: rest.join(" "),
                expected: "MARKET > PRICE, MARKET move 5%, MARKET rsi14 < 30 [5m] or MARKET kimp > 3%",
            }),
        },
        "oco" => {
            let (m, w) = rule_line(rest, "MARKET -3% +5% [avg] [future] (stop, then take)")?;
            match w.levels.as_slice() {
                [s, t] => {
                    check_avg(&w)?;
                    Ok(TradeCommand::Oco {
                        market: m,
                        stop: parse_level(s, w.avg)?,
                        take: parse_level(t, w.avg)?,
                        future: w.future,
                    })
                }
                _ => Err(InputError::Syntax {
                    found: rest.join(" "),
                    expected: "MARKET -3% +5% [avg] [future] (stop, then take)",
                }),
            }
        }
        "unarm" => match rest {
            // Every rule: the screen asks "remove all N rules? y/N" before it is sent.
            [] => Ok(TradeCommand::Unarm(UnarmTarget::All)),
            [m] if m.contains('-') && parse_market(m).is_ok() && m.len() <= 20 => {
                Ok(TradeCommand::Unarm(UnarmTarget::Market(parse_market(m)?)))
            }
            [id] if id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')) =>
            {
                Ok(TradeCommand::Unarm(UnarmTarget::Rule((*id).to_string())))
            }
            _ => Err(InputError::Syntax { found: rest.join(" "), expected: "a market or a rule id" }),
        },
        "kill" | "halt" => Ok(TradeCommand::Kill),
        "transfer" => match rest {
            [amount, currency, from, to] => {
                let name = |s: &str| s.len() <= 64 && !s.is_empty();
                let cur = currency.to_ascii_uppercase();
                if cur.is_empty() || cur.len() > 10 || !cur.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(InputError::Syntax {
                        found: (*currency).to_string(),
                        expected: "a currency code (KRW, BTC)",
                    });
                }
                if !name(from) || !name(to) {
                    return Err(InputError::Syntax { found: rest.join(" "), expected: "two pocket names" });
                }
                Ok(TradeCommand::Transfer {
                    amount: parse_decimal(amount)?,
                    currency: cur,
                    from: (*from).to_string(),
                    to: (*to).to_string(),
                })
            }
            _ => Err(InputError::Syntax {
                found: rest.join(" "),
                expected: "AMOUNT CURRENCY FROM-POCKET TO-POCKET (transfer 100000 KRW main savings)",
            }),
        },
        "resume" => match rest {
            [] => Ok(TradeCommand::Resume),
            _ => Err(InputError::Syntax { found: rest.join(" "), expected: "nothing after resume" }),
        },
        other => Err(InputError::UnknownCommand(other.to_string())),
    }
}

/// A rule line's market and the words after it.
fn rule_line<'a>(rest: &[&'a str], expected: &'static str) -> Result<(MarketId, RuleWords<'a>), InputError> {
    let (m, more) = rest.split_first().ok_or(InputError::Syntax { found: String::new(), expected })?;
    Ok((parse_market(m)?, rule_words(more)?))
}

fn parse_order(side: Side, toks: &[&str]) -> Result<TradeCommand, InputError> {
    // SIZE [@ PRICE|market|best] [TIF] [MARKET]; `@` may be glued (`@95000000`).
    let mut it = toks.iter().copied().peekable();
    let size = parse_size(it.next().ok_or(InputError::Syntax { found: String::new(), expected: "a size" })?)?;
    let mut price = PriceSpec::Market;
    let mut tif = None;
    let mut market = None;
    let mut saw_price = false;
    while let Some(tok) = it.next() {
        let p = if tok == "@" {
            Some(it.next().ok_or(InputError::Syntax { found: "@".into(), expected: "a price after @" })?)
        } else {
            tok.strip_prefix('@')
        };
        if let Some(p) = p {
            if saw_price {
                return Err(InputError::Syntax { found: p.into(), expected: "one price" });
            }
            saw_price = true;
            price = match p.to_ascii_lowercase().as_str() {
                "market" | "mkt" | "m" => PriceSpec::Market,
                "best" => PriceSpec::Best,
                _ => PriceSpec::Limit(parse_decimal(p)?),
            };
        } else if let Some(t) = parse_tif(tok) {
            tif = Some(t);
        } else if tok.contains('-') && market.is_none() {
            market = Some(parse_market(tok)?);
        } else {
            return Err(InputError::Syntax {
                found: tok.into(),
                expected: "@ PRICE, ioc/fok/post, or a market",
            });
        }
    }
    if !saw_price {
        return Err(InputError::Syntax { found: toks.join(" "), expected: "@ PRICE, @ market or @ best" });
    }
    Ok(TradeCommand::Order(OrderInput { side, market, size, price, tif }))
}

/// What [`resolve`] needs to size an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizingContext {
    /// The selected market (used when the command names none).
    pub selected: Option<MarketId>,
    /// Available quote balance.
    pub available_quote: Option<Decimal>,
    /// Available base balance.
    pub available_base: Option<Decimal>,
    /// Best ask (sizing a market buy by quantity).
    pub best_ask: Option<Price>,
    /// Best bid.
    pub best_bid: Option<Price>,
    /// Market rules (fees).
    pub rules: MarketRules,
}

/// Quote amounts: KRW is whole won, other quotes 8 decimals.
fn floor_quote(market: &MarketId, v: Decimal) -> Decimal {
    let dp = if market.quote() == "KRW" { 0 } else { 8 };
    v.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero)
}

/// A size that cannot be computed (prices and balances come from the exchange).
const TOO_LARGE: InputError =
    InputError::Unknown("a size within range (the numbers are too large or too small)");

/// `a / b`, checked.
fn div(a: Decimal, b: Decimal) -> Result<Decimal, InputError> {
    a.checked_div(b).ok_or(TOO_LARGE)
}

/// `p` percent of `v`, checked.
fn pct(v: Decimal, p: Decimal) -> Result<Decimal, InputError> {
    v.checked_mul(p).and_then(|x| x.checked_div(Decimal::ONE_HUNDRED)).ok_or(TOO_LARGE)
}

/// Turns a parsed order into a request (still to be validated).
pub fn resolve(input: &OrderInput, ctx: &SizingContext) -> Result<OrderRequest, InputError> {
    let market = input.market.clone().or_else(|| ctx.selected.clone()).ok_or(InputError::NoMarket)?;
    let fee = ctx.rules.fee_rate(input.side);
    let quote_avail = || ctx.available_quote.ok_or(InputError::Unknown("available quote balance"));
    let base_avail = || ctx.available_base.ok_or(InputError::Unknown("available base balance"));
    // Spendable quote for a % buy: leave room for the fee.
    let pct_quote = |p: Decimal| -> Result<Decimal, InputError> {
        let spendable = pct(quote_avail()?, p)?.checked_div(Decimal::ONE + fee).ok_or(TOO_LARGE)?;
        Ok(floor_quote(&market, spendable))
    };
    let req = match (input.side, input.price) {
        (side, PriceSpec::Limit(price)) => {
            let volume = match input.size {
                Size::Qty(q) => q,
                Size::Quote(a) => floor_volume(div(a, price)?),
                Size::Percent(p) => match side {
                    Side::Bid => floor_volume(div(pct_quote(p)?, price)?),
                    Side::Ask => floor_volume(pct(base_avail()?, p)?),
                },
            };
            OrderRequest { time_in_force: input.tif, ..OrderRequest::limit(market, side, price, volume) }
        }
        (Side::Bid, spec) => {
            let total = match input.size {
                Size::Quote(a) => a,
                Size::Percent(p) => pct_quote(p)?,
                Size::Qty(q) => floor_quote(
                    &market,
                    q.checked_mul(ctx.best_ask.ok_or(InputError::Unknown("best ask to price a quantity"))?)
                        .ok_or(TOO_LARGE)?,
                ),
            };
            let ord_type = if spec == PriceSpec::Best { OrderType::Best } else { OrderType::Price };
            OrderRequest { ord_type, time_in_force: input.tif, ..OrderRequest::market_buy(market, total) }
        }
        (Side::Ask, spec) => {
            let volume = match input.size {
                Size::Qty(q) => q,
                Size::Percent(p) => floor_volume(pct(base_avail()?, p)?),
                Size::Quote(a) => floor_volume(div(
                    a,
                    ctx.best_bid.ok_or(InputError::Unknown("best bid to size an amount"))?,
                )?),
            };
            let ord_type = if spec == PriceSpec::Best { OrderType::Best } else { OrderType::Market };
            OrderRequest { ord_type, time_in_force: input.tif, ..OrderRequest::market_sell(market, volume) }
        }
    };
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trading::orders::validate;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn oco_unarm_and_resume_parse_and_reject_what_they_do_not_understand() {
        let btc = MarketId::new("KRW-BTC");
        assert_eq!(
            parse_command(":oco KRW-BTC -3% 105000000"),
            Ok(TradeCommand::Oco {
                market: btc.clone(),
                stop: Level::PctFromLast(dec!(-0.03)),
                take: Level::Price(dec!(105000000)),
                future: false,
            })
        );
        assert!(parse_command("oco KRW-BTC -3%").is_err());
        assert_eq!(parse_command("unarm KRW-BTC"), Ok(TradeCommand::Unarm(UnarmTarget::Market(btc))));
        assert_eq!(
            parse_command("unarm stop:KRW-BTC:1"),
            Ok(TradeCommand::Unarm(UnarmTarget::Rule("stop:KRW-BTC:1".into())))
        );
        // `:unarm` alone is "every rule" (the screen asks first), no longer an error.
        assert_eq!(parse_command("unarm"), Ok(TradeCommand::Unarm(UnarmTarget::All)));
        assert!(parse_command("unarm a b").is_err());
        assert_eq!(parse_command("resume"), Ok(TradeCommand::Resume));
        assert!(parse_command("resume now").is_err());
    }

    fn ctx() -> SizingContext {
        let m = MarketId::new("KRW-BTC");
        SizingContext {
            selected: Some(m.clone()),
            available_quote: Some(dec!(1000000)),
            available_base: Some(dec!(0.5)),
            best_ask: Some(dec!(95001000)),
            best_bid: Some(dec!(95000000)),
            rules: MarketRules::upbit_default(&m),
        }
    }

    fn order(line: &str) -> OrderInput {
        match parse_command(line).unwrap() {
            TradeCommand::Order(o) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_documented_examples() {
        let o = order(":buy 0.01 @ 95000000");
        assert_eq!(
            (o.side, o.size, o.price),
            (Side::Bid, Size::Qty(dec!(0.01)), PriceSpec::Limit(dec!(95000000)))
        );
        let r = resolve(&o, &ctx()).unwrap();
        assert_eq!(
            (r.ord_type, r.volume, r.price),
            (OrderType::Limit, Some(dec!(0.01)), Some(dec!(95000000)))
        );

        let o = order(":sell 50% @ market");
        let r = resolve(&o, &ctx()).unwrap();
        assert_eq!(
            (r.side, r.ord_type, r.volume, r.price),
            (Side::Ask, OrderType::Market, Some(dec!(0.25)), None)
        );

        let o = order(":buy 100000krw @ market");
        let r = resolve(&o, &ctx()).unwrap();
        assert_eq!((r.ord_type, r.price, r.volume), (OrderType::Price, Some(dec!(100000)), None));

        let o = order(":buy 50000KRW @ best ioc KRW-ETH");
        let r = resolve(&o, &ctx()).unwrap();
        assert_eq!(
            (r.market.as_str(), r.ord_type, r.time_in_force),
            ("KRW-ETH", OrderType::Best, Some(TimeInForce::Ioc))
        );

        assert_eq!(parse_command(":cancel all").unwrap(), TradeCommand::Cancel(CancelTarget::All));
        // Found by a tester: a bare `:cancel` cancelled every order.
        let e = parse_command(":cancel").unwrap_err().to_string();
        assert!(e.contains("`all`, a market or an order id"), "{e}");
        // A % level is measured from the last price unless `avg` is said.
        assert_eq!(
            parse_command(":stop KRW-BTC -3%").unwrap(),
            TradeCommand::Stop {
                market: MarketId::new("KRW-BTC"),
                level: Level::PctFromLast(dec!(-0.03)),
                future: false
            }
        );
        assert_eq!(
            parse_command(":tp KRW-BTC +5%").unwrap(),
            TradeCommand::TakeProfit {
                market: MarketId::new("KRW-BTC"),
                level: Level::PctFromLast(dec!(0.05)),
                future: false
            }
        );
        assert_eq!(
            parse_command(":trail KRW-BTC 2%").unwrap(),
            TradeCommand::Trail { market: MarketId::new("KRW-BTC"), ratio: dec!(0.02), future: false }
        );
        assert_eq!(
            parse_command(":alert KRW-BTC > 100000000").unwrap(),
            TradeCommand::Alert {
                market: MarketId::new("KRW-BTC"),
                condition: AlertCondition::Above(dec!(100000000))
            }
        );
    }

    #[test]
    fn percent_buy_leaves_room_for_the_fee() {
        let r = resolve(&order("buy 100% @ market"), &ctx()).unwrap();
        let total = r.price.unwrap();
        assert!(total + total * dec!(0.0005) <= dec!(1000000), "{total}");
    }

    #[test]
    fn bad_numbers_are_refused_by_name() {
        for bad in [
            "0",
            "-1",
            "abc",
            "1,000",
            "１０",
            "1e309",
            "1e3",
            "0.0",
            ".",
            "1.2.3",
            "NaN",
            "inf",
            "+1",
            " ",
            "99999999999999999999999999999999",
        ] {
            let e = parse_decimal(bad).unwrap_err();
            assert!(matches!(e, InputError::BadNumber(_)), "{bad:?} -> {e:?}");
        }
        for bad in [
            ":buy 0 @ 95000000",
            ":buy -1 @ 95000000",
            ":buy abc @ 95000000",
            ":buy 1,000 @ 95000000",
            ":buy １ @ 95000000",
            ":buy 1e309 @ 95000000",
            ":buy 0.01 @ 95000000\n:buy 0.01 @ 95000000",
            ":buy 0.01",
            ":buy 101% @ market",
            ":sell 0.01 @ 1 @ 2",
        ] {
            assert!(parse_command(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn resolved_but_invalid_orders_are_denied_before_any_venue() {
        let c = ctx();
        for line in [
            ":buy 0.000000001 @ 95000000", // more decimals than the volume precision
            ":buy 0.00001 @ 95000000",     // below the 5,000 KRW minimum
            ":buy 100 @ 95000000",         // above the 1e9 KRW maximum
            ":buy 0.01 @ 95000123",        // off the tick grid
            ":buy 1000krw @ market",       // below minimum
            ":buy 0.01 @ best",            // best needs ioc/fok
        ] {
            let r = resolve(&order(line), &c).unwrap();
            assert!(validate(&r, &c.rules, c.best_bid).is_err(), "{line} validated");
        }
    }

    fn ind(line: &str) -> IndicatorAlert {
        match parse_command(line) {
            Ok(TradeCommand::Alert { condition: AlertCondition::Indicator(i), .. }) => i,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// Issue 19 item 2: alerts on indicators, every form, with the timeframe optional
    /// (5m, where Upbit's indicator streams start) and bare or bracketed.
    #[test]
    fn indicator_alerts_parse_in_every_form() {
        use crate::indicators::{Indicator, MaKind};
        let rsi14 = Indicator::Rsi { period: 14 };
        let a = ind(":alert KRW-ETH rsi14 < 30 [5m]");
        assert_eq!(
            a,
            IndicatorAlert {
                timeframe: Timeframe::M5,
                indicator: rsi14,
                test: IndicatorTest::Below(dec!(30))
            }
        );
        assert_eq!(a.label(), "RSI14(5m) < 30");
        assert_eq!(ind(":alert KRW-ETH rsi14 < 30"), a, "5m by default");
        assert_eq!(ind(":alert KRW-ETH RSI14 < 30 5m"), a);
        assert_eq!(ind(":alert KRW-ETH rsi14 > 70").test, IndicatorTest::Above(dec!(70)));
        assert_eq!(ind(":alert KRW-BTC rsi14 > 0 1m").timeframe, Timeframe::M1);
        let x = ind(":alert KRW-BTC ema20 crosses ema50 [1h]");
        assert_eq!(x.timeframe, Timeframe::H1);
        assert_eq!(
            x.indicator,
            Indicator::MaCrossover { ma_type: MaKind::Ema, short_period: 20, long_period: 50 }
        );
        assert_eq!(x.test, IndicatorTest::Crosses(None));
        assert_eq!(x.label(), "EMA20(1h) crosses EMA50");
        assert_eq!(ind(":alert KRW-BTC ema20 crosses up ema50").test, IndicatorTest::Crosses(Some(Way::Up)));
        assert_eq!(
            ind(":alert KRW-BTC ema20 crosses ema50 down").test,
            IndicatorTest::Crosses(Some(Way::Down))
        );
        // The long average crossing up the short one is the short one crossing down.
        let flipped = ind(":alert KRW-BTC sma50 crosses up sma20 15m");
        assert_eq!(
            flipped.indicator,
            Indicator::MaCrossover { ma_type: MaKind::Sma, short_period: 20, long_period: 50 }
        );
        assert_eq!(flipped.test, IndicatorTest::Crosses(Some(Way::Down)));
        assert_eq!(flipped.label(), "SMA20(15m) crosses down SMA50");
        let bb = ind(":alert KRW-BTC bb20 break up [15m]");
        assert_eq!(bb.indicator, Indicator::BollingerBands { period: 20, std_dev: dec!(2) });
        assert_eq!(bb.test, IndicatorTest::Breaks(Way::Up));
        assert_eq!(bb.label(), "BB20(15m) break up");
        assert_eq!(ind(":alert KRW-BTC bb20,2.5 break down").label(), "BB20,2.5(5m) break down");
        let m = ind(":alert KRW-BTC macd crosses signal");
        assert_eq!(m.indicator, Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 });
        assert_eq!(m.label(), "MACD(5m) crosses signal");
        assert_eq!(
            ind(":alert KRW-BTC macd8,17,9 crosses down signal 1D").label(),
            "MACD8,17,9(1D) crosses down signal"
        );
        assert_eq!(ind(":alert KRW-BTC macd > 0").test, IndicatorTest::Above(Decimal::ZERO));
        assert_eq!(ind(":alert KRW-BTC macd < -1500").test, IndicatorTest::Below(dec!(-1500)));
        assert_eq!(ind(":alert KRW-BTC sma20 > 100000000").label(), "SMA20(5m) > 100000000");
        assert_eq!(ind(":alert KRW-BTC vol20 > 12.5 1h").label(), "VOL20(1h) > 12.5");
        // The price forms are unchanged.
        assert_eq!(
            parse_command(":alert KRW-BTC crosses 100000000").unwrap(),
            TradeCommand::Alert {
                market: MarketId::new("KRW-BTC"),
                condition: AlertCondition::Crosses(dec!(100000000))
            }
        );
        assert_eq!(
            parse_command(":alert KRW-BTC move 5%").unwrap(),
            TradeCommand::Alert {
                market: MarketId::new("KRW-BTC"),
                condition: AlertCondition::MovePct(dec!(0.05))
            }
        );
    }

    /// A bad indicator alert is refused naming what was expected.
    #[test]
    fn bad_indicator_alerts_say_what_was_expected() {
        let err = |line: &str| parse_command(line).unwrap_err().to_string();
        for (line, says) in [
            (":alert KRW-ETH rsi0 < 30", "period \"0\" of \"rsi0\" must be a whole number from 1 to 500"),
            (":alert KRW-ETH rsi501 < 30", "from 1 to 500"),
            (":alert KRW-ETH sma < 30", "period \"\" of \"sma\""),
            (
                ":alert KRW-ETH stoch14 < 30",
                "unknown indicator \"stoch14\"; one of rsi14, sma20, ema50, vol20, bb20",
            ),
            (":alert KRW-ETH rsi14 < 130", "an RSI level is from 0 to 100"),
            (":alert KRW-ETH rsi14 < abc", "not a plain positive number: \"abc\""),
            (":alert KRW-ETH sma20 > -3", "never negative"),
            (":alert KRW-ETH rsi14 crosses 50", "no second line to cross"),
            (":alert KRW-ETH ema20 crosses sma50", "of one kind"),
            (":alert KRW-ETH ema20 crosses ema20", "cannot cross itself"),
            (":alert KRW-ETH ema20 crosses", "a second line"),
            (":alert KRW-ETH macd crosses zero", "expected signal"),
            (":alert KRW-ETH rsi14 break up", "only Bollinger bands break"),
            (":alert KRW-ETH bb20 break sideways", "expected up or down"),
            (":alert KRW-ETH bb20 > 3", "Bollinger bands alert on a break"),
            (":alert KRW-ETH bb1 break up", "period must be at least 2"),
            (":alert KRW-ETH macd26,12,9 crosses signal", "fast_period 26 must be below slow_period 12"),
            // Issue 19: an unknown timeframe is named, with the ones there are; the
            // rest of the line was blamed (`unexpected "< 30 7m"`).
            (":alert KRW-ETH rsi14 < 30 7m", "unknown timeframe \"7m\" (one of 1s 1m 3m 5m 10m 15m 30m 1h"),
            (":alert KRW-ETH ema20 crosses ema50 [2h]", "unknown timeframe \"2h\""),
            (":alert KRW-ETH bb20 break up 90s", "unknown timeframe \"90s\""),
            (":alert KRW-ETH rsi14", "expected rsi14 < 30"),
            (":alert KRW-ETH", "MARKET rsi14 < 30 [5m]"),
            (":alert KRW-ETH 3000000", "expected > < crosses or move before a price"),
        ] {
            let e = err(line);
            assert!(e.contains(says), "{line}: {e}");
        }
    }

    /// Issue 17 item 1: `:tp KRW-BTC +5%` was measured from the average cost and sold a
    /// whole position at once. A % level is from the last price unless `avg` says so, for
    /// every rule with levels; `future` arms for a position not held yet.
    #[test]
    fn a_percent_level_says_its_anchor_last_price_by_default_avg_when_asked() {
        let btc = MarketId::new("KRW-BTC");
        assert_eq!(
            parse_command(":tp KRW-BTC +5% avg"),
            Ok(TradeCommand::TakeProfit {
                market: btc.clone(),
                level: Level::PctFromAvg(dec!(0.05)),
                future: false
            })
        );
        assert_eq!(
            parse_command(":stop KRW-ETH -3% AVG"),
            Ok(TradeCommand::Stop {
                market: MarketId::new("KRW-ETH"),
                level: Level::PctFromAvg(dec!(-0.03)),
                future: false
            })
        );
        assert_eq!(
            parse_command(":stop KRW-BTC -3% last"),
            Ok(TradeCommand::Stop {
                market: btc.clone(),
                level: Level::PctFromLast(dec!(-0.03)),
                future: false
            })
        );
        // One anchor for the line's % levels; an absolute price keeps its value.
        assert_eq!(
            parse_command(":oco KRW-BTC -3% +5% avg"),
            Ok(TradeCommand::Oco {
                market: btc.clone(),
                stop: Level::PctFromAvg(dec!(-0.03)),
                take: Level::PctFromAvg(dec!(0.05)),
                future: false
            })
        );
        assert_eq!(
            parse_command(":oco KRW-BTC 97000000 +5% avg"),
            Ok(TradeCommand::Oco {
                market: btc.clone(),
                stop: Level::Price(dec!(97000000)),
                take: Level::PctFromAvg(dec!(0.05)),
                future: false
            })
        );
        assert_eq!(
            parse_command(":stop KRW-BTC -3% future"),
            Ok(TradeCommand::Stop {
                market: btc.clone(),
                level: Level::PctFromLast(dec!(-0.03)),
                future: true
            })
        );
        assert_eq!(
            parse_command(":trail KRW-BTC 2% wait"),
            Ok(TradeCommand::Trail { market: btc, ratio: dec!(0.02), future: true })
        );
        for bad in [
            ":stop KRW-BTC 97000000 avg", // avg with no % level
            ":stop KRW-BTC -3% avg last", // two anchors
            ":trail KRW-BTC 2% avg",      // a trailing stop follows the peak
            ":stop KRW-BTC -3% -4%",      // two levels
            ":tp KRW-BTC avg",            // no level
        ] {
            let e = parse_command(bad).unwrap_err().to_string();
            assert!(e.contains("expected"), "{bad}: {e}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_accepted_orders_validate_or_deny(s in "\\PC{0,60}") {
            if let Ok(TradeCommand::Order(o)) = parse_command(&s) {
                let c = ctx();
                if let Ok(r) = resolve(&o, &c) {
                    // Either a clean local denial or a body the venue's rules accept.
                    if let Ok(v) = validate(&r, &c.rules, c.best_bid) {
                        prop_assert!(v.notional >= dec!(5000));
                        prop_assert!(v.notional <= dec!(1000000000));
                    }
                }
            }
        }

        #[test]
        fn numbers_in_grammar_form(int in 0u64..10_000_000_000u64, frac in 0u32..100_000_000u32, sep in prop::sample::select(vec![",", "e", "_", "-", "+", " "])) {
            let good = format!("{int}.{frac}");
            let parsed = parse_decimal(&good);
            prop_assert_eq!(parsed.is_ok(), int > 0 || frac > 0);
            let bad = format!("{int}{sep}{frac}");
            prop_assert!(parse_decimal(&bad).is_err(), "{bad}");
        }
    }
}
