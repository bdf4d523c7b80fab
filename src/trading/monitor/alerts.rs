//! Alerts: on the price (`:alert KRW-BTC > 100000000`, `<`, `crosses`, `move 5%`) and on
//! an indicator (`:alert KRW-ETH rsi14 < 30 5m`, `ema20 crosses ema50`, `bb20 break up`,
//! `macd crosses signal`).
//!
//! The condition logic (fire once, latched) is [`crate::trading::rules::Alert`]; the
//! command syntax is [`crate::trading::input::parse_command`]. This module keeps the set
//! of alerts (the monitor task owns one): price alerts are evaluated per tick here, an
//! indicator alert is evaluated over its candles by the console's indicator watcher
//! ([`super::indicator_alerts`]), which tells the monitor when it holds. A fired alert
//! of either kind leaves as a [`crate::notify::NotifyEvent`].

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::exchange::types::{MarketId, Price};
use crate::trading::input::{InputError, TradeCommand, parse_command};
use crate::trading::rules::{Alert, AlertCondition};

/// Why an `:alert` line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlertParseError {
    /// The line did not parse.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The line parsed as another command.
    #[error("not an alert command: {0:?}")]
    NotAnAlert(String),
}

/// Parses `:alert KRW-BTC > 100000000` (leading `:` optional) into a new armed alert.
pub fn parse_alert(line: &str) -> Result<Alert, AlertParseError> {
    match parse_command(line)? {
        TradeCommand::Alert { market, condition } => Ok(Alert::new(market, condition)),
        _ => Err(AlertParseError::NotAnAlert(line.to_string())),
    }
}

/// `KRW-BTC > 100,000,000`, `KRW-BTC move 5%`: prices at the tick's precision.
pub(crate) fn describe_alert(a: &Alert) -> String {
    let price = |p| super::view::price_text(a.market.quote(), p);
    match a.condition {
        AlertCondition::Above(p) => format!("{} > {}", a.market, price(p)),
        AlertCondition::Below(p) => format!("{} < {}", a.market, price(p)),
        AlertCondition::Crosses(p) => format!("{} crosses {}", a.market, price(p)),
        AlertCondition::MovePct(r) => format!("{} move {}%", a.market, (r * Decimal::from(100)).normalize()),
        AlertCondition::Indicator(i) => {
            // An average's threshold is a price; an RSI's, a MACD's or a volume's is not,
            // but is grouped all the same (`100,000,000`), every digit kept as typed.
            let level = |v: Decimal| match i.indicator {
                crate::indicators::Indicator::MovingAverage { .. } => price(v),
                _ => super::view::grouped(v.normalize()),
            };
            format!("{} {}", a.market, i.label_with(level))
        }
        AlertCondition::Premium(p) => super::premium_alerts::describe(&a.market, &p),
    }
}

/// What one price did to the alerts of its market.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AlertUpdate {
    /// Fired now (latched).
    pub fired: Vec<Alert>,
    /// Took their reference price now (first price seen).
    pub(crate) referenced: Vec<Alert>,
}

/// Every alert, evaluated per tick of its market.
#[derive(Debug, Clone, Default)]
pub(crate) struct AlertBook {
    alerts: BTreeMap<String, Alert>,
}

impl AlertBook {
    /// An empty book.
    pub fn new() -> Self {
        AlertBook::default()
    }

    /// Adds or replaces an alert.
    pub fn insert(&mut self, alert: Alert) {
        self.alerts.insert(alert.id.clone(), alert);
    }

    /// Removes an alert.
    pub fn remove(&mut self, id: &str) -> Option<Alert> {
        self.alerts.remove(id)
    }

    /// Every alert, by id.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Alerts not fired yet.
    #[cfg(test)]
    pub(crate) fn armed_count(&self) -> usize {
        self.alerts.values().filter(|a| !a.fired).count()
    }

    /// Feeds a price of `market`. Returns the alerts that fired now (each exactly once)
    /// and the ones that took their reference price now: both must be persisted, the
    /// latter so a `move 5%` keeps measuring from the price it was armed at after a
    /// restart.
    pub fn on_price(&mut self, market: &MarketId, price: Price) -> AlertUpdate {
        let mut up = AlertUpdate::default();
        for a in self.alerts.values_mut().filter(|a| &a.market == market && !a.fired) {
            let unreferenced = a.reference.is_none();
            if a.on_price(price) {
                up.fired.push(a.clone());
            } else if unreferenced && a.reference.is_some() {
                up.referenced.push(a.clone());
            }
        }
        up
    }

    /// A premium board: the premium alerts that hold on it, each latched now, with the
    /// premium that fired it.
    pub fn on_premium(&mut self, board: &crate::store::premium::PremiumBoard) -> Vec<(Alert, Decimal)> {
        self.alerts
            .values_mut()
            .filter_map(|a| super::premium_alerts::fire(a, board).map(|p| (a.clone(), p)))
            .collect()
    }

    /// An indicator alert's condition held (told by the indicator watcher): the alert,
    /// latched now, or `None` when it is gone, fired already or not an indicator alert.
    pub fn fire_indicator(&mut self, id: &str) -> Option<Alert> {
        let a = self.alerts.get_mut(id)?;
        a.fire_indicator().then(|| a.clone())
    }

    /// The armed alerts of `market`.
    #[cfg(test)]
    pub(crate) fn armed_of(&self, market: &MarketId) -> Vec<&Alert> {
        self.alerts.values().filter(|a| &a.market == market && !a.fired).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_and_fires_once() {
        let a = parse_alert(":alert KRW-BTC > 100000000").unwrap();
        assert_eq!(describe_alert(&a), "KRW-BTC > 100,000,000");
        let ma = parse_alert(":alert KRW-BTC sma20 > 100000000 1h").unwrap();
        assert_eq!(describe_alert(&ma), "KRW-BTC SMA20(1h) > 100,000,000");
        let rsi = parse_alert(":alert KRW-ETH rsi14 < 30").unwrap();
        assert_eq!(describe_alert(&rsi), "KRW-ETH RSI14(5m) < 30");
        // Every threshold grouped as people read numbers, none rounded.
        let vol = parse_alert(":alert KRW-BTC vol20 > 100000000 1m").unwrap();
        assert_eq!(describe_alert(&vol), "KRW-BTC VOL20(1m) > 100,000,000");
        let macd = parse_alert(":alert KRW-BTC macd > -10000000.5 1m").unwrap();
        assert_eq!(describe_alert(&macd), "KRW-BTC MACD(1m) > -10,000,000.5");
        let rsi = parse_alert(":alert KRW-ETH rsi14 < 30.25").unwrap();
        assert_eq!(describe_alert(&rsi), "KRW-ETH RSI14(5m) < 30.25");
        assert!(matches!(parse_alert(":stop KRW-BTC -3%"), Err(AlertParseError::NotAnAlert(_))));
        let mut book = AlertBook::new();
        book.insert(a);
        let m = MarketId::new("KRW-BTC");
        let first = book.on_price(&m, dec!(99000000));
        assert!(first.fired.is_empty());
        assert_eq!(first.referenced.len(), 1);
        let up = book.on_price(&m, dec!(100000001));
        assert_eq!(up.fired.len(), 1);
        assert!(up.referenced.is_empty());
        assert!(book.on_price(&m, dec!(100000002)).fired.is_empty());
        assert!(book.on_price(&MarketId::new("KRW-ETH"), dec!(200000000)).fired.is_empty());
        assert_eq!(book.armed_count(), 0);
        assert!(book.armed_of(&m).is_empty());
    }
}
