//! Upbit WebSocket session.
