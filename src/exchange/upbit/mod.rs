//! Upbit adapter: wire format, tick grid, REST and WebSocket clients.
pub mod auth;
pub mod error;
pub mod limits;
pub mod rest;
pub mod ticks;
pub mod wire;
pub mod ws;
