//! Upbit refuses a request that carries one header twice (its 2026 notice "[안내] Open
//! API 요청 헤더 중복 전송 방지 안내"): the simulator does too, so a client that starts
//! doubling a header (a default header plus a per-request one, an auth layer run twice)
//! fails here first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hoga::kernel::TaskManager;
use hoga::sim::{self, SimConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

fn token(access: &str, secret: &str) -> String {
    let claims = json!({"access_key": access, "nonce": uuid::Uuid::new_v4().to_string()});
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    format!("Bearer {jwt}")
}

#[tokio::test]
async fn a_header_sent_twice_is_refused_with_400_and_once_is_served() {
    let tasks = TaskManager::new();
    let cfg = SimConfig {
        seed: 7,
        markets: Some(5),
        tick_interval: Duration::ZERO,
        start_ms: Some(1_750_000_000_000),
        history_secs: 600,
        ..SimConfig::default()
    };
    let sim = sim::start(cfg, &tasks).await.unwrap();
    let (access, secret) = (sim.credentials.0.clone(), sim.credentials.1.expose_secret().to_string());
    let http = reqwest::Client::new();
    let accounts = format!("{}/v1/accounts", sim.rest_base);

    // Once: served.
    let ok = http.get(&accounts).header("Authorization", token(&access, &secret)).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);

    // Twice (reqwest's `header` appends): refused before authentication, named.
    let t = token(&access, &secret);
    let twice = http
        .get(&accounts)
        .header("Authorization", t.clone())
        .header("Authorization", t)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status().as_u16(), 400);
    let body: Value = twice.json().await.unwrap();
    assert_eq!(body["error"]["name"], "duplicated_header", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("authorization"), "{body}");

    // A quotation call too, and any header (here a doubled Content-Type on a POST).
    let ticker = format!("{}/v1/ticker?markets=KRW-BTC", sim.rest_base);
    let r =
        http.get(&ticker).header("Accept", "application/json").header("Accept", "*/*").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http
        .post(format!("{}/v1/orders/test", sim.rest_base))
        .header("Authorization", token(&access, &secret))
        .header("Content-Type", "application/json")
        .header("Content-Type", "application/json; charset=utf-8")
        .body(r#"{"market":"KRW-BTC","side":"bid","ord_type":"price","price":"10000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["name"], "duplicated_header");
    sim.stop();
    tasks.cancel_all();
}
