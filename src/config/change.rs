//! Config changes asked for while the console runs: `:theme`, `:layout`, `:reload keymap`,
//! `:set <key> <value>` for the `[trading]` limits and fee.
//!
//! Each is a [`ConfigRequest`] on the bus's Config lane and passes the change gate: held
//! while orders are in flight, applied when trading is idle. A request typed with `!`
//! (`:set! max_open_orders 3`) cannot wait: while orders are in flight it is refused with
//! the reason instead of held.

use rust_decimal::Decimal;

use crate::bus::CorrelationId;
use crate::config::settings::{Settings, TradingSettings, expectation};

/// A `[trading]` key `:set` may change while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradingKey {
    /// `fee_rate` (paper mode's fee; a ratio, 0.0005 = 0.05 %).
    FeeRate,
    /// `max_notional_per_order` (quote currency; 0 = no limit).
    MaxNotionalPerOrder,
    /// `max_orders_per_minute`.
    MaxOrdersPerMinute,
    /// `max_open_orders`.
    MaxOpenOrders,
    /// `price_band_pct` (percent; 0 = no band).
    PriceBandPct,
    /// `daily_loss_limit` (quote currency; 0 = no limit).
    DailyLossLimit,
}

impl TradingKey {
    /// Every key, as `:set` names them.
    pub const ALL: [TradingKey; 6] = [
        TradingKey::FeeRate,
        TradingKey::MaxNotionalPerOrder,
        TradingKey::MaxOrdersPerMinute,
        TradingKey::MaxOpenOrders,
        TradingKey::PriceBandPct,
        TradingKey::DailyLossLimit,
    ];

    /// The key's name in `[trading]` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TradingKey::FeeRate => "fee_rate",
            TradingKey::MaxNotionalPerOrder => "max_notional_per_order",
            TradingKey::MaxOrdersPerMinute => "max_orders_per_minute",
            TradingKey::MaxOpenOrders => "max_open_orders",
            TradingKey::PriceBandPct => "price_band_pct",
            TradingKey::DailyLossLimit => "daily_loss_limit",
        }
    }

    /// Writes `value` into the key's field (whole-number keys take the integer part;
    /// [`parse_set`] has refused anything else, and values past `u32` saturate).
    pub fn set(self, t: &mut TradingSettings, value: Decimal) {
        use rust_decimal::prelude::ToPrimitive;
        let whole = || value.trunc().to_u32().unwrap_or(u32::MAX);
        match self {
            TradingKey::FeeRate => t.fee_rate = value,
            TradingKey::MaxNotionalPerOrder => t.max_notional_per_order = value,
            TradingKey::MaxOrdersPerMinute => t.max_orders_per_minute = whole(),
            TradingKey::MaxOpenOrders => t.max_open_orders = whole(),
            TradingKey::PriceBandPct => t.price_band_pct = value,
            TradingKey::DailyLossLimit => t.daily_loss_limit = value,
        }
    }

    /// Whether the value must be a whole number.
    fn whole(self) -> bool {
        matches!(self, TradingKey::MaxOrdersPerMinute | TradingKey::MaxOpenOrders)
    }

    /// A value of this key for a person: amounts grouped in KRW (`2,000,000 KRW`), the fee
    /// as a percentage (`0.05%`), the band with its `%`.
    pub fn show(self, value: Decimal) -> String {
        use crate::exchange::display;
        match self {
            TradingKey::MaxNotionalPerOrder | TradingKey::DailyLossLimit => {
                format!("{} KRW", display::amount(value, "KRW"))
            }
            TradingKey::FeeRate => display::percent(value, 8),
            TradingKey::PriceBandPct => format!("{}%", display::quantity(value)),
            TradingKey::MaxOrdersPerMinute | TradingKey::MaxOpenOrders => display::quantity(value),
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// Switch the colour theme.
    Theme(String),
    /// Switch to a named layout.
    Layout(String),
    /// Read `keymap.toml` again.
    ReloadKeymap,
    /// Change a `[trading]` limit or the fee.
    Trading {
        /// Which.
        key: TradingKey,
        /// The new value (checked: not negative; whole where the key counts).
        value: Decimal,
    },
}

impl ConfigChange {
    /// What the status line and replies call it.
    pub fn summary(&self) -> String {
        match self {
            ConfigChange::Theme(t) => format!("theme {t}"),
            ConfigChange::Layout(l) => format!("layout {l}"),
            ConfigChange::ReloadKeymap => "keymap reload".into(),
            ConfigChange::Trading { key, value } => format!("{} = {}", key.name(), key.show(*value)),
        }
    }
}

/// A change request on the Config lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRequest {
    /// The sender's id; the reply carries it.
    pub id: CorrelationId,
    /// The change.
    pub change: ConfigChange,
    /// False when the change is useless later: refused instead of held.
    pub can_wait: bool,
}

impl ConfigRequest {
    /// A request that may wait, with a fresh id.
    pub fn new(change: ConfigChange) -> Self {
        ConfigRequest { id: CorrelationId::mint(), change, can_wait: true }
    }
}

/// Parses the arguments of `:set` (`max_open_orders 5`). The error names the key or
/// value that was wrong and what is accepted.
pub(crate) fn parse_set(args: &str) -> Result<ConfigChange, String> {
    let mut it = args.split_whitespace();
    let (Some(name), Some(raw), None) = (it.next(), it.next(), it.next()) else {
        return Err(format!("usage: set <key> <value>; keys: {}", key_list()));
    };
    let key = TradingKey::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| format!("unknown key {name:?}; keys: {}", key_list()))?;
    let value: Decimal =
        raw.replace('_', "").parse().map_err(|_| format!("{name}: {raw:?} is not a number"))?;
    if value.is_sign_negative() {
        return Err(format!("{name}: {raw} is negative"));
    }
    if key.whole() && !value.fract().is_zero() {
        return Err(format!("{name}: {raw} is not a whole number"));
    }
    // The same ranges as the config file: a value the file would refuse is refused here
    // (0 is not "no limit" on the command line either; it is refused).
    let mut trading = TradingSettings::default();
    key.set(&mut trading, value);
    let path = format!("trading.{name}");
    let settings = Settings { trading, ..Settings::default() };
    if let Err(v) = settings.validate() {
        let want = expectation(v.path).unwrap_or("a valid value");
        return Err(format!("{path}: {raw} is out of range; want {want}"));
    }
    Ok(ConfigChange::Trading { key, value: value.normalize() })
}

fn key_list() -> String {
    TradingKey::ALL.map(TradingKey::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn set_parses_every_trading_key_and_refuses_bad_values_by_name() {
        assert_eq!(
            parse_set("max_open_orders 5"),
            Ok(ConfigChange::Trading { key: TradingKey::MaxOpenOrders, value: dec!(5) })
        );
        assert_eq!(
            parse_set("fee_rate 0.0005"),
            Ok(ConfigChange::Trading { key: TradingKey::FeeRate, value: dec!(0.0005) })
        );
        assert_eq!(
            parse_set("daily_loss_limit 1_000_000"),
            Ok(ConfigChange::Trading { key: TradingKey::DailyLossLimit, value: dec!(1000000) })
        );
        assert!(parse_set("max_open_orders 2.5").unwrap_err().contains("whole"));
        assert!(parse_set("max_open_orders -1").unwrap_err().contains("negative"));
        assert!(parse_set("fee_rate 5").unwrap_err().contains("trading.fee_rate: 5 is out of range"));
        // The config file's ranges: 0 is not "no limit" here either.
        for (line, want) in [
            ("max_notional_per_order 0", "positive"),
            ("price_band_pct 0", "more than 0"),
            ("price_band_pct 1000", "at most 100"),
            ("daily_loss_limit 0", "positive"),
            ("max_open_orders 1001", "1..=1000"),
            ("max_orders_per_minute 0", "1..=600"),
            ("max_orders_per_minute 100000", "1..=600"),
            ("max_open_orders 1e30", "not a number"),
        ] {
            let e = parse_set(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
        assert!(parse_set("colour red").unwrap_err().contains("unknown key \"colour\""));
        assert!(parse_set("max_open_orders").unwrap_err().starts_with("usage"));
        assert!(parse_set("max_open_orders ten").unwrap_err().contains("not a number"));
    }

    /// A `:set` is echoed with its value as a person reads it, not as a raw decimal.
    #[test]
    fn a_change_is_summarised_with_readable_numbers() {
        let said = |line: &str| parse_set(line).unwrap().summary();
        assert_eq!(said("max_notional_per_order 2000000"), "max_notional_per_order = 2,000,000 KRW");
        assert_eq!(said("daily_loss_limit 150000.5"), "daily_loss_limit = ≈150,001 KRW");
        assert_eq!(said("fee_rate 0.0005"), "fee_rate = 0.05%");
        assert_eq!(said("price_band_pct 7.5"), "price_band_pct = 7.5%");
        assert_eq!(said("max_open_orders 3"), "max_open_orders = 3");
    }
}
