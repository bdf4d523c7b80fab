//! Upbit adapter: wire format, REST and WebSocket clients.
pub mod wire;
