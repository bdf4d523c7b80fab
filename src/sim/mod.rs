//! Embedded Upbit-compatible exchange simulator: REST `/v1` and WebSocket
//! `/websocket/v1[/private]` on loopback, driven by a seeded market generator
//! ([`market`]) and a paper matching engine ([`matching`]), with Upbit's JWT rules
//! ([`auth`]), rate limits ([`limits`]) and fault injection ([`faults`]). Demo mode, tests
//! and benchmarks point the real client at it.
//!
//! ```text
//! generator task ──step()──► World{Generator, Exchange} ──► public broadcast ──► ws conns
//! REST handlers ──lock──────┘        └─ myOrder/myAsset ──► private broadcast ─┘
//! ```

pub mod auth;
pub mod faults;
pub mod limits;
pub mod market;
pub mod matching;
pub mod simple;

use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub use faults::{FaultCommand, FaultControl, FrameFault, RestFault};

/// Access key of the seeded demo account.
pub const DEMO_ACCESS_KEY: &str = "hoga-sim-access-key";
/// Secret key of the seeded demo account.
pub const DEMO_SECRET_KEY: &str = "hoga-sim-secret-key";

/// How fast the generator produces trades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Only when [`SimHandle::step`] is called (deterministic tests).
    Manual,
    /// This many generated trades per second (each also yields ticker, book, candles).
    PerSecond(u32),
}

/// Benchmark flood: a fixed mix of message types, at a rate or as fast as possible, for a
/// number of messages. Each message carries `"sim_ns"` (Unix nanoseconds at publish) next
/// to its ms `timestamp`, so a receiver can compute latency.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodConfig {
    /// Weight of ticker messages.
    pub ticker: u32,
    /// Weight of trade messages.
    pub trade: u32,
    /// Weight of orderbook messages.
    pub orderbook: u32,
    /// Messages per second; `None` = as fast as the receivers drain them.
    pub rate: Option<u32>,
    /// How many messages in total.
    pub count: u64,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig { ticker: 1, trade: 1, orderbook: 1, rate: None, count: 100_000 }
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Random seed: same seed and start time → same market stream.
    pub seed: u64,
    /// TCP port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Keep only the first N KRW markets of the fixture (BTC/USDT markets always kept).
    pub markets: Option<usize>,
    /// Generator rate.
    pub rate: Rate,
    /// Benchmark flood instead of the normal generator.
    pub flood: Option<FloodConfig>,
    /// Virtual clock start (Unix ms); `None` = wall clock at start.
    pub start_ms: Option<i64>,
    /// Virtual time per manual step (ms).
    pub step_ms: i64,
    /// Seconds of trade history generated before the start.
    pub history_secs: i64,
    /// Websocket idle timeout (Upbit: 120 s).
    pub idle_timeout: Duration,
    /// Enforce rate limits.
    pub rate_limits: bool,
    /// 429s in a row before a 418.
    pub strikes_to_block: u32,
    /// First 418 block length.
    pub block_time: Duration,
    /// Demo account access key.
    pub access_key: String,
    /// Demo account secret key.
    pub secret_key: String,
    /// Starting KRW.
    pub krw: Decimal,
    /// Starting coins: (currency, amount, average buy price in KRW).
    pub coins: Vec<(String, Decimal, Decimal)>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            port: 0,
            markets: None,
            rate: Rate::PerSecond(20),
            flood: None,
            start_ms: None,
            step_ms: 100,
            history_secs: 3600,
            idle_timeout: Duration::from_secs(120),
            rate_limits: true,
            strikes_to_block: 10,
            block_time: Duration::from_secs(5),
            access_key: DEMO_ACCESS_KEY.to_string(),
            secret_key: DEMO_SECRET_KEY.to_string(),
            krw: dec!(10000000),
            coins: vec![
                ("BTC".to_string(), dec!(0.05), dec!(140000000)),
                ("ETH".to_string(), dec!(1.2), dec!(5000000)),
                ("XRP".to_string(), dec!(1500), dec!(3000)),
            ],
        }
    }
}
