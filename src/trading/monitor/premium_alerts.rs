//! Kimchi-premium alerts: `:alert KRW-BTC kimp > 3%` (against Upbit's `KRW-USDT`) and
//! `:alert KRW-BTC kimpfx < -1%` (against the USD/KRW reference rate).
//!
//! The console's premium task (`crate::console::premium`) computes a whole
//! [`PremiumBoard`] at a time and hands it to the monitor while a premium alert is armed;
//! the monitor evaluates every armed premium alert on it ([`fire`]) and latches the ones
//! that hold, as it does price alerts: fired once, journaled, notified through the same
//! path. A market with no premium on the board (no Binance pair, a stale price, no
//! reference rate for `kimpfx`) fires nothing.
//!
//! `KRW-USDT`'s own `kimpfx` is the USDT premium (테더 프리미엄, `krw_usdt / usd_krw − 1`);
//! its `kimp` would be measured against itself, so it is refused.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::MarketId;
use crate::store::premium::{PremiumBasis, PremiumBoard};
use crate::trading::input::InputError;
use crate::trading::rules::{Alert, AlertCondition};

/// What a premium alert is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Upbit's `KRW-USDT` price (`kimp`).
    Usdt,
    /// The USD/KRW reference rate (`kimpfx`).
    Reference,
}

impl Basis {
    /// The word typed for it: `kimp` or `kimpfx`.
    pub fn word(self) -> &'static str {
        match self {
            Basis::Usdt => "kimp",
            Basis::Reference => "kimpfx",
        }
    }
}

impl From<Basis> for PremiumBasis {
    fn from(b: Basis) -> PremiumBasis {
        match b {
            Basis::Usdt => PremiumBasis::Usdt,
            Basis::Reference => PremiumBasis::Reference,
        }
    }
}

/// A premium alert's test: the premium (a ratio, `0.03` = 3 %) above or below a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PremiumTest {
    /// Premium above the level.
    Above(Decimal),
    /// Premium below the level.
    Below(Decimal),
}

/// A kimchi-premium alert's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumAlert {
    /// Against what.
    pub basis: Basis,
    /// Above or below which premium.
    pub test: PremiumTest,
}

/// The largest premium level an alert takes, in percent: a premium of ±100 % is not a
/// premium any more but a different coin under the same ticker.
const MAX_LEVEL_PCT: Decimal = Decimal::ONE_HUNDRED;

/// The forms an alert line takes, for errors.
const FORMS: &str = "kimp > 3%, kimp < -1% or kimpfx > 2.5% (kimp: against KRW-USDT; kimpfx: against the USD/KRW reference rate)";

/// Whether `word` starts a premium alert (`kimp`, `kimpfx`, or a misspelt `kimp…` that
/// deserves a premium error rather than an indicator one).
pub(crate) fn is_premium_word(word: &str) -> bool {
    word.to_ascii_lowercase().starts_with("kimp")
}

/// Parses the words after the market of `:alert MARKET kimp > 3%`: `kimp` or `kimpfx`
/// (also `kimp fx`, `kimp usdt`), `>` or `<`, and a signed percentage with its `%`.
pub(crate) fn parse(market: &MarketId, toks: &[&str]) -> Result<PremiumAlert, InputError> {
    let bad = |why: String| InputError::BadIndicator(why);
    let (name, rest) =
        toks.split_first().ok_or(InputError::Syntax { found: String::new(), expected: FORMS })?;
    let name = name.to_ascii_lowercase();
    let (basis, rest) = match (name.as_str(), rest) {
        ("kimp", [w, more @ ..]) if w.eq_ignore_ascii_case("fx") => (Basis::Reference, more),
        ("kimp", [w, more @ ..]) if w.eq_ignore_ascii_case("usdt") => (Basis::Usdt, more),
        ("kimp", [w, _, _]) if !matches!(*w, ">" | "<") => {
            return Err(bad(format!(
                "unknown premium basis \"kimp {w}\": kimp (against KRW-USDT) or kimpfx (against the USD/KRW reference rate)"
            )));
        }
        ("kimp", more) => (Basis::Usdt, more),
        ("kimpfx", more) => (Basis::Reference, more),
        (other, _) => {
            return Err(bad(format!(
                "unknown premium basis {other:?}: kimp (against KRW-USDT) or kimpfx (against the USD/KRW reference rate)"
            )));
        }
    };
    if market.quote() != "KRW" {
        return Err(bad(format!(
            "a premium alert is on an Upbit KRW market (KRW-{}), not {market}",
            market.base()
        )));
    }
    if market.base() == "USDT" && basis == Basis::Usdt {
        return Err(bad(
            "KRW-USDT's kimp is measured against itself (always 0): kimpfx is the USDT premium against the reference rate"
                .into(),
        ));
    }
    let [op, level] = rest else {
        return Err(InputError::Syntax { found: rest.join(" "), expected: FORMS });
    };
    let level = parse_level(level)?;
    let test = match *op {
        ">" => PremiumTest::Above(level),
        "<" => PremiumTest::Below(level),
        other => return Err(InputError::Syntax { found: other.into(), expected: "> or < (kimp > 3%)" }),
    };
    Ok(PremiumAlert { basis, test })
}

/// `3%`, `-1%`, `+0.5%`, `0%` as a ratio (`0.03`); the `%` is required (a premium of `3`
/// is not 3 %), the number plain (digits and one dot), at most ±100 %.
fn parse_level(tok: &str) -> Result<Decimal, InputError> {
    let Some(n) = tok.strip_suffix('%') else {
        return Err(InputError::BadIndicator(format!(
            "premium level {tok:?} needs its %: e.g. 3% or -1% (the premium is a percentage)"
        )));
    };
    let (negative, digits) = match n.as_bytes().first() {
        Some(b'-') => (true, &n[1..]),
        Some(b'+') => (false, &n[1..]),
        _ => (false, n),
    };
    let plain = !digits.is_empty()
        && digits.len() <= 30
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    let v = plain.then(|| digits.parse::<Decimal>().ok()).flatten().ok_or_else(|| {
        InputError::BadIndicator(format!("premium level {tok:?} is not a percentage like 3% or -1.5%"))
    })?;
    if v > MAX_LEVEL_PCT {
        return Err(InputError::BadIndicator(format!(
            "premium level {tok} is beyond ±100%: a premium that large is a different coin, not a premium"
        )));
    }
    let r = v / Decimal::ONE_HUNDRED;
    Ok(if negative { -r } else { r })
}

/// `KRW-BTC kimp > 3%`, `KRW-BTC kimpfx < -1.25%`: the level as typed, in percent.
pub(crate) fn describe(market: &MarketId, p: &PremiumAlert) -> String {
    let (op, level) = match p.test {
        PremiumTest::Above(l) => (">", l),
        PremiumTest::Below(l) => ("<", l),
    };
    format!("{market} {} {op} {}", p.basis.word(), percent(level))
}

/// A premium ratio in percent, every digit kept (`0.0312` → `3.12%`, `-0.01` → `-1%`).
pub(crate) fn percent(r: Decimal) -> String {
    let p = r.checked_mul(Decimal::ONE_HUNDRED).unwrap_or(r).normalize();
    format!("{p}%")
}

/// The premium that fired `alert`, in percent at two decimals, or more where two would
/// read as its level (`> 3%` fired at 3.004 % says `3.004%`, not `3.00%`).
pub(crate) fn shown(premium: Decimal, alert: &Alert) -> String {
    let AlertCondition::Premium(PremiumAlert { test: PremiumTest::Above(l) | PremiumTest::Below(l), .. }) =
        alert.condition
    else {
        return percent(premium);
    };
    let (Some(p), Some(l)) = (premium.checked_mul(Decimal::ONE_HUNDRED), l.checked_mul(Decimal::ONE_HUNDRED))
    else {
        return percent(premium);
    };
    let dp = (2..=12).find(|dp| p.round_dp(*dp) != l).unwrap_or(12);
    let mut p = p.round_dp(dp);
    p.rescale(dp);
    format!("{p}%")
}

/// What `alert`'s premium was measured against, for its message: `vs Binance at KRW-USDT
/// 1,429` (kimp), `vs Binance at USD/KRW 1,410` (kimpfx), and for `KRW-USDT kimpfx`, the
/// USDT premium, `vs USD/KRW 1,410` (no other venue is in it).
pub(crate) fn against(board: &PremiumBoard, alert: &Alert) -> String {
    let venue = if board.venue.is_empty() { "abroad" } else { board.venue.as_str() };
    let AlertCondition::Premium(p) = alert.condition else { return format!("vs {venue}") };
    let won = |v: Option<Decimal>| v.map(|v| crate::exchange::display::price(v.round_dp(2)));
    match p.basis {
        Basis::Usdt => match won(board.krw_usdt) {
            Some(u) => format!("vs {venue} at KRW-USDT {u}"),
            None => format!("vs {venue}"),
        },
        Basis::Reference => {
            let rate = won(board.reference.as_ref().and_then(|r| r.rate)).map(|r| format!("USD/KRW {r}"));
            let rate = rate.unwrap_or_else(|| "the USD/KRW rate".into());
            if alert.market.as_str() == "KRW-USDT" {
                format!("vs {rate}")
            } else {
                format!("vs {venue} at {rate}")
            }
        }
    }
}

/// `market`'s premium on `basis`, from `board`.
pub fn premium_of(board: &PremiumBoard, market: &MarketId, basis: Basis) -> Option<Decimal> {
    if market.as_str() == "KRW-USDT" {
        return match basis {
            Basis::Reference => board.usdt_vs_ref,
            Basis::Usdt => None,
        };
    }
    let row = board.of(market)?;
    match basis {
        Basis::Usdt => row.vs_usdt,
        Basis::Reference => row.vs_ref,
    }
}

/// Evaluates one alert on `board`: `Some(premium)` exactly once, when it first holds
/// (the alert is latched); `None` for one fired already, not a premium alert, or a market
/// with no premium on this board.
pub(crate) fn fire(alert: &mut Alert, board: &PremiumBoard) -> Option<Decimal> {
    let AlertCondition::Premium(p) = alert.condition else { return None };
    if alert.fired {
        return None;
    }
    let now = premium_of(board, &alert.market, p.basis)?;
    let holds = match p.test {
        PremiumTest::Above(l) => now > l,
        PremiumTest::Below(l) => now < l,
    };
    if holds {
        alert.fired = true;
    }
    holds.then_some(now)
}

/// Why a premium alert cannot be armed now, if it cannot: no second venue streams (no
/// premium at all), or `kimpfx` with no reference rate configured. `board` is the store's
/// (the premium task publishes one as it starts, naming its venue and the reference).
pub fn refusal(market: &MarketId, condition: &AlertCondition, board: &PremiumBoard) -> Option<String> {
    let AlertCondition::Premium(p) = condition else { return None };
    if board.venue.is_empty() {
        return Some("no premium: the second venue is off ([venues] binance = true turns it on)".into());
    }
    // A coin the other venue does not list has no premium: armed, it could never fire.
    // (Until both lists are read nothing is known, and the alert is taken.)
    if market.as_str() != "KRW-USDT" && !board.paired.is_empty() && !board.paired.contains_key(market) {
        return Some(format!(
            "no premium for {market}: {} lists no {} (no USDT-{} there)",
            board.venue,
            market.base(),
            market.base()
        ));
    }
    if p.basis == Basis::Reference && board.reference.is_none() {
        return Some(
            "kimpfx needs a USD/KRW reference rate: set [premium] usd_krw (fixed) or usd_krw_url; kimp (against KRW-USDT) needs none"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::store::premium::{Premium, RefRate};
    use crate::trading::input::{TradeCommand, parse_command};

    fn alert(line: &str) -> Alert {
        match parse_command(line) {
            Ok(TradeCommand::Alert { market, condition }) => Alert::new(market, condition),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn error(line: &str) -> String {
        match parse_command(line) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{line} parsed: {c:?}"),
        }
    }

    fn board(vs_usdt: Option<Decimal>, vs_ref: Option<Decimal>) -> PremiumBoard {
        let row = Premium { foreign: dec!(100000), vs_usdt, vs_ref, at_ms: 1 };
        PremiumBoard {
            paired: Default::default(),
            rows: HashMap::from([(MarketId::new("KRW-BTC"), row)]),
            krw_usdt: Some(dec!(1400)),
            usdt_vs_ref: Some(dec!(0.01)),
            reference: None,
            venue: "Binance".into(),
        }
    }

    #[test]
    fn lines_parse_into_premium_alerts_with_the_level_as_typed() {
        let a = alert(":alert KRW-BTC kimp > 3%");
        let want = PremiumAlert { basis: Basis::Usdt, test: PremiumTest::Above(dec!(0.03)) };
        assert_eq!(a.condition, AlertCondition::Premium(want));
        assert_eq!(super::super::alerts::describe_alert(&a), "KRW-BTC kimp > 3%");
        let b = alert(":alert KRW-ETH kimpfx < -1.25%");
        assert_eq!(
            b.condition,
            AlertCondition::Premium(PremiumAlert {
                basis: Basis::Reference,
                test: PremiumTest::Below(dec!(-0.0125))
            })
        );
        assert_eq!(super::super::alerts::describe_alert(&b), "KRW-ETH kimpfx < -1.25%");
        // `kimp fx` reads as kimpfx; 0% is a level (the premium turning positive).
        assert_eq!(alert("alert KRW-BTC kimp fx > 0%").condition, {
            AlertCondition::Premium(PremiumAlert {
                basis: Basis::Reference,
                test: PremiumTest::Above(dec!(0)),
            })
        });
        assert_eq!(alert("alert KRW-BTC KIMP usdt < +2%").condition, {
            AlertCondition::Premium(PremiumAlert { basis: Basis::Usdt, test: PremiumTest::Below(dec!(0.02)) })
        });
        // Journaled as JSON and back, as the monitor keeps it across a restart.
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Alert>(&json).unwrap(), b);
        // The USDT premium itself is KRW-USDT's kimpfx.
        assert!(matches!(alert(":alert KRW-USDT kimpfx > 2%").condition, AlertCondition::Premium(_)));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let e = error(":alert KRW-BTC kimp > abc");
        assert!(e.contains("\"abc\"") && e.contains("percentage"), "{e}");
        let e = error(":alert KRW-BTC kimp > 3");
        assert!(e.contains("needs its %"), "{e}");
        let e = error(":alert KRW-BTC kimpusd > 3%");
        assert!(e.contains("unknown premium basis \"kimpusd\""), "{e}");
        let e = error(":alert KRW-BTC kimp usd > 3%");
        assert!(e.contains("unknown premium basis \"kimp usd\""), "{e}");
        let e = error(":alert KRW-BTC kimp crosses 3%");
        assert!(e.contains("\"crosses\""), "{e}");
        let e = error(":alert KRW-BTC kimp >");
        assert!(e.contains("kimp > 3%"), "{e}");
        let e = error(":alert KRW-BTC kimp > 150%");
        assert!(e.contains("beyond ±100%"), "{e}");
        let e = error(":alert KRW-BTC kimp > 1.2.3%");
        assert!(e.contains("not a percentage"), "{e}");
        let e = error(":alert BTC-ETH kimp > 3%");
        assert!(e.contains("KRW market"), "{e}");
        let e = error(":alert KRW-USDT kimp > 3%");
        assert!(e.contains("against itself"), "{e}");
    }

    #[test]
    fn fires_once_when_the_premium_crosses_and_never_on_a_missing_one() {
        let mut a = alert(":alert KRW-BTC kimp > 3%");
        assert_eq!(fire(&mut a, &board(Some(dec!(0.03)), None)), None, "3% is not above 3%");
        assert_eq!(fire(&mut a, &board(None, Some(dec!(0.09)))), None, "no kimp on this board");
        assert_eq!(fire(&mut a, &PremiumBoard::default()), None, "no row");
        assert_eq!(fire(&mut a, &board(Some(dec!(0.0301)), None)), Some(dec!(0.0301)));
        assert_eq!(shown(dec!(0.030123), &a), "3.01%");
        assert_eq!(shown(dec!(0.0300401), &a), "3.004%", "never read as its level");
        assert!(a.fired);
        assert_eq!(fire(&mut a, &board(Some(dec!(0.05)), None)), None, "latched");
        let mut fx = alert(":alert KRW-BTC kimpfx < -1%");
        assert_eq!(fire(&mut fx, &board(Some(dec!(-0.5)), Some(dec!(-0.009)))), None);
        assert_eq!(fire(&mut fx, &board(Some(dec!(0.5)), Some(dec!(-0.0101)))), Some(dec!(-0.0101)));
        let mut usdt = alert(":alert KRW-USDT kimpfx > 0.5%");
        assert_eq!(fire(&mut usdt, &board(None, None)), Some(dec!(0.01)), "the USDT premium");
        // A price alert is not a premium alert.
        let mut price = alert(":alert KRW-BTC > 1");
        assert_eq!(fire(&mut price, &board(Some(dec!(0.5)), None)), None);
    }

    /// The message says what the premium was measured against: the USDT premium has no
    /// other venue in it (it said `vs Binance`).
    #[test]
    fn a_fired_premium_says_what_it_was_measured_against() {
        let with_ref = PremiumBoard {
            reference: Some(RefRate {
                rate: Some(dec!(1410.25)),
                source: "fixed".into(),
                at_ms: None,
                error: None,
            }),
            ..board(None, None)
        };
        let said = |line: &str| against(&with_ref, &alert(line));
        assert_eq!(said(":alert KRW-BTC kimp > 3%"), "vs Binance at KRW-USDT 1,400");
        assert_eq!(said(":alert KRW-BTC kimpfx > 3%"), "vs Binance at USD/KRW 1,410.25");
        assert_eq!(said(":alert KRW-USDT kimpfx > 1%"), "vs USD/KRW 1,410.25");
        let bare = PremiumBoard { krw_usdt: None, ..board(None, None) };
        assert_eq!(against(&bare, &alert(":alert KRW-BTC kimp > 3%")), "vs Binance");
    }

    #[test]
    fn arming_is_refused_with_a_reason_when_the_premium_cannot_be_had() {
        let kimp = alert(":alert KRW-BTC kimp > 3%").condition;
        let fx = alert(":alert KRW-BTC kimpfx > 3%").condition;
        let btc = MarketId::new("KRW-BTC");
        let off = PremiumBoard::default();
        assert!(refusal(&btc, &kimp, &off).is_some_and(|w| w.contains("[venues] binance")));
        let no_ref = board(None, None);
        assert_eq!(refusal(&btc, &kimp, &no_ref), None);
        assert!(refusal(&btc, &fx, &no_ref).is_some_and(|w| w.contains("[premium] usd_krw")));
        let with_ref = PremiumBoard {
            reference: Some(RefRate { rate: None, source: "fixed".into(), at_ms: None, error: None }),
            ..board(None, None)
        };
        assert_eq!(refusal(&btc, &fx, &with_ref), None);
        assert_eq!(refusal(&btc, &AlertCondition::Above(dec!(1)), &off), None);
        // A coin Binance does not list (it was armed, and could never fire); until the
        // lists are read nothing is refused; KRW-USDT's kimpfx is the USDT premium.
        let listed = PremiumBoard {
            paired: std::sync::Arc::new(HashMap::from([(btc.clone(), MarketId::new("USDT-BTC"))])),
            ..with_ref.clone()
        };
        let stx = MarketId::new("KRW-STX");
        assert_eq!(refusal(&btc, &kimp, &listed), None);
        assert_eq!(
            refusal(&stx, &kimp, &listed).as_deref(),
            Some("no premium for KRW-STX: Binance lists no STX (no USDT-STX there)")
        );
        assert_eq!(refusal(&stx, &kimp, &with_ref), None, "lists not read yet");
        assert_eq!(refusal(&MarketId::new("KRW-USDT"), &fx, &listed), None);
    }
}
