//! Upbit adapter: wire format, tick grid, REST and WebSocket clients.
pub mod ticks;
pub mod wire;
