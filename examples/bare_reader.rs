//! The "bare Rust reader" of docs/PERFORMANCE.md's reference table, as a program: one
//! tokio-tungstenite connection, serde_json into the wire structs, no routing, no store,
//! no screen. It is the ceiling any client can reach on a machine, so the console's and
//! the feed's CPU figures are reported against it, measured on the same stream.
//!
//! ```text
//! cargo run --release --example bare_reader -- ws://127.0.0.1:PORT/websocket/v1 SECS 'REQUEST'
//! ```
//! REQUEST is the Upbit subscription (JSON array); `BARE_READ_BUFFER=16384` sets the read
//! buffer the feed uses. Prints messages, msgs/s and the CPU
//! time of the process over SECS seconds counted from the first message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hoga::exchange::upbit::wire::{WireOrderBook, WireTicker, WireTrade};
use tokio_tungstenite::tungstenite::Message;

#[derive(serde::Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    ty: &'a str,
}

fn cpu_ns() -> u64 {
    // utime + stime of the whole process, in clock ticks (100 Hz).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) * 10_000_000
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, secs, request) = (&args[1], args[2].parse::<u64>().unwrap(), args[3].clone());
    // BARE_READ_BUFFER=16384 gives it the feed's read buffer (tungstenite's default is
    // 128 KiB, zero-filled before every read).
    let config = std::env::var("BARE_READ_BUFFER").ok().and_then(|v| v.parse().ok()).map(|size| {
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(size)
    });
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), config, true).await.unwrap();
    ws.send(Message::text(request)).await.unwrap();
    let mut n = 0u64;
    let mut sink = 0usize;
    let mut start = None;
    while let Some(msg) = ws.next().await {
        let bytes = match msg.unwrap() {
            Message::Binary(b) => b,
            Message::Text(t) => t.into(),
            _ => continue,
        };
        sink = sink.wrapping_add(match serde_json::from_slice::<Kind>(&bytes).map(|k| k.ty) {
            Ok("ticker") => {
                serde_json::from_slice::<WireTicker>(&bytes).unwrap().to_ticker().timestamp as usize
            }
            Ok("trade") => {
                serde_json::from_slice::<WireTrade>(&bytes).unwrap().to_trade().sequential_id as usize
            }
            Ok("orderbook") => {
                serde_json::from_slice::<WireOrderBook>(&bytes).unwrap().to_book().levels.len()
            }
            _ => 0,
        });
        let (t0, c0) = *start.get_or_insert_with(|| (Instant::now(), cpu_ns()));
        n += 1;
        if t0.elapsed() >= Duration::from_secs(secs) {
            let wall = t0.elapsed().as_secs_f64();
            let cpu = (cpu_ns() - c0) as f64 / 1e9;
            println!(
                "bare reader: {n} msgs in {wall:.1}s = {:.0} msgs/s; CPU {cpu:.2}s = {:.1}% of one core ({sink})",
                n as f64 / wall,
                100.0 * cpu / wall
            );
            return;
        }
    }
}
