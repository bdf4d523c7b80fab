//! Config changes asked for while the console runs: `:theme`, `:layout`, `:reload keymap`,
//! `:set <key> <value>` for the `[trading]` limits and fee.
//!
//! Each is a [`ConfigRequest`] on the bus's Config lane and passes the change gate: held
//! while orders are in flight, applied when trading is idle. A request typed with `!`
//! (`:set! max_open_orders 3`) cannot wait: while orders are in flight it is refused with
//! the reason instead of held.

use rust_decimal::Decimal;

use crate::bus::CorrelationId;

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

    /// Whether the value must be a whole number.
    fn whole(self) -> bool {
        matches!(self, TradingKey::MaxOrdersPerMinute | TradingKey::MaxOpenOrders)
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
            ConfigChange::Trading { key, value } => format!("{} = {value}", key.name()),
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
    if key.whole() && value > Decimal::from(u32::MAX) {
        return Err(format!("{name}: {raw} is too large"));
    }
    if key == TradingKey::FeeRate && value >= Decimal::ONE {
        return Err(format!("fee_rate: {raw} is a ratio (0.0005 = 0.05 %), must be below 1"));
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
        assert!(parse_set("fee_rate 5").unwrap_err().contains("ratio"));
        assert!(parse_set("colour red").unwrap_err().contains("unknown key \"colour\""));
        assert!(parse_set("max_open_orders").unwrap_err().starts_with("usage"));
        assert!(parse_set("max_open_orders ten").unwrap_err().contains("not a number"));
    }
}
