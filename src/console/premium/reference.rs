//! The USD/KRW reference rate: where it comes from (`[premium]`), and reading it.
//!
//! * `usd_krw` set: that rate, fixed (source `fixed`); nothing is requested.
//! * `usd_krw_url` set: the URL is read every `refresh_secs` (a timeout on each read). Its
//!   body is JSON with the rate at the dotted `usd_krw_field` path (`rates.KRW`,
//!   `data.0.basePrice`: a number, or a string holding one), or, with no field, a bare
//!   number. A failed read keeps the last good rate and says why on the [`RefRate`].
//!   Only the URL's host is ever logged or shown: its query may carry an API key.
//! * Demo with neither set: the simulator's `GET /fx/usd-krw` (`{"rate":"1452.31",...}`,
//!   source `simulator`).
//! * Otherwise: no reference, and no request.

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::config::{Mode, Settings};
use crate::store::premium::RefRate;

/// How long one read of the rate may take.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the simulator's rate is read (it is local, and drifts in demo).
const SIM_REFRESH: Duration = Duration::from_secs(30);

/// The rates taken as KRW per USD (the config's fixed value is held to the same band).
const SANE: (Decimal, Decimal) = crate::store::premium::USD_KRW_BAND;

/// Where the reference rate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `[premium] usd_krw`.
    Fixed(Decimal),
    /// A URL read every `every`.
    Url {
        /// The whole URL (never logged: see [`host_of`]).
        url: String,
        /// Dotted JSON path; empty: the body is the number.
        field: String,
        /// How often it is read.
        every: Duration,
        /// What it is called on screen and in the log: the host, or `simulator`.
        label: String,
    },
}

impl Source {
    /// The rate as it stands before the first read.
    pub(crate) fn initial(&self) -> RefRate {
        match self {
            Source::Fixed(rate) => {
                RefRate { rate: Some(*rate), source: "fixed".into(), at_ms: None, error: None }
            }
            Source::Url { label, .. } => {
                RefRate { rate: None, source: label.clone(), at_ms: None, error: None }
            }
        }
    }
}

/// The reference rate `settings` ask for; `upbit_rest_base` is the Upbit REST base in use
/// (in demo, the simulator's `http://127.0.0.1:PORT/v1`, which also serves the rate).
pub(crate) fn source(settings: &Settings, upbit_rest_base: &str) -> Option<Source> {
    let p = &settings.premium;
    if let Some(rate) = p.usd_krw {
        return Some(Source::Fixed(rate));
    }
    if !p.usd_krw_url.is_empty() {
        return Some(Source::Url {
            url: p.usd_krw_url.clone(),
            field: p.usd_krw_field.clone(),
            every: Duration::from_secs(p.refresh_secs.max(1)),
            label: host_of(&p.usd_krw_url),
        });
    }
    if settings.general.mode == Mode::Demo {
        let base = upbit_rest_base.trim_end_matches('/').trim_end_matches("/v1");
        return Some(Source::Url {
            url: format!("{base}/fx/usd-krw"),
            field: "rate".into(),
            every: SIM_REFRESH,
            label: "simulator".into(),
        });
    }
    None
}

/// The host of `url` (`api.example.com`), all that is ever shown of it: the path and
/// query may carry a key.
pub(crate) fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "the rate URL".into())
}

/// The rate in a response `body`: at the dotted `field` path of a JSON document (a number
/// or a numeric string), or the whole body as a number when `field` is empty.
pub(crate) fn parse_rate(body: &str, field: &str) -> Result<Decimal, String> {
    let text = body.trim();
    let rate = if field.trim().is_empty() {
        // A bare number, possibly as a JSON string ("1452.3").
        let bare = text.trim_matches('"');
        number(bare).ok_or_else(|| format!("the body is not a number: {}", excerpt(text)))?
    } else {
        let doc: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("the body is not JSON ({e}): {}", excerpt(text)))?;
        let mut at = &doc;
        for key in field.trim().split('.') {
            let next = match at {
                serde_json::Value::Object(map) => map.get(key),
                serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            at = next.ok_or_else(|| format!("no field {field:?} in the JSON (missing at {key:?})"))?;
        }
        match at {
            serde_json::Value::Number(n) => number(&n.to_string()),
            serde_json::Value::String(s) => number(s.trim()),
            _ => None,
        }
        .ok_or_else(|| format!("field {field:?} is not a number: {}", excerpt(&at.to_string())))?
    };
    if rate < SANE.0 || rate > SANE.1 {
        return Err(format!(
            "{rate} is not a USD/KRW rate (KRW per USD is between {} and {}): check the field and unit",
            SANE.0, SANE.1
        ));
    }
    Ok(rate)
}

/// A plain or scientific decimal (JSON numbers may come as `1.4523e3`).
fn number(s: &str) -> Option<Decimal> {
    Decimal::from_str(s).ok().or_else(|| Decimal::from_scientific(s).ok())
}

/// The start of a body, for an error: enough to see what came back.
fn excerpt(s: &str) -> String {
    const MAX: usize = 60;
    let cut: String = s.chars().take(MAX).collect();
    if s.chars().count() > MAX { format!("{cut:?}…") } else { format!("{cut:?}") }
}

/// One read of the rate at `url`: the HTTP status checked, the body parsed. Errors name
/// no URL (reqwest's do, so they are stripped of it).
pub(crate) async fn read(client: &reqwest::Client, url: &str, field: &str) -> Result<Decimal, String> {
    let resp = client.get(url).send().await.map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| e.without_url().to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", excerpt(body.trim())));
    }
    parse_rate(&body, field)
}

/// The HTTP client for the rate: a timeout on every read, hoga's user agent.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(READ_TIMEOUT)
        .user_agent(concat!("hoga/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// The rate after a read: the new value, or the last good one with the error.
pub(crate) fn after_read(last: &RefRate, read: Result<Decimal, String>, now_ms: i64) -> RefRate {
    match read {
        Ok(rate) => {
            RefRate { rate: Some(rate), source: last.source.clone(), at_ms: Some(now_ms), error: None }
        }
        Err(e) => RefRate { error: Some(e), ..last.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_source_follows_the_settings_and_demo_falls_back_to_the_simulator() {
        let mut s = Settings::default();
        s.general.mode = Mode::Paper;
        assert_eq!(source(&s, "https://api.upbit.com/v1"), None, "off by default: no request");
        s.general.mode = Mode::Demo;
        let sim = source(&s, "http://127.0.0.1:7700/v1").unwrap();
        assert_eq!(
            sim,
            Source::Url {
                url: "http://127.0.0.1:7700/fx/usd-krw".into(),
                field: "rate".into(),
                every: SIM_REFRESH,
                label: "simulator".into()
            }
        );
        s.premium.usd_krw_url = "https://fx.example.com/v1/latest?key=SECRET&base=USD".into();
        s.premium.usd_krw_field = "rates.KRW".into();
        let Some(Source::Url { label, every, .. }) = source(&s, "") else { panic!() };
        assert_eq!(label, "fx.example.com", "only the host: the query holds a key");
        assert_eq!(every, Duration::from_secs(300));
        s.premium.usd_krw = Some(dec!(1450.5));
        let fixed = source(&s, "").unwrap();
        assert_eq!(fixed, Source::Fixed(dec!(1450.5)), "a fixed rate wins over the URL");
        assert_eq!(fixed.initial().rate, Some(dec!(1450.5)));
        assert_eq!(fixed.initial().source, "fixed");
    }

    #[test]
    fn rates_are_read_from_json_paths_strings_and_bare_numbers() {
        assert_eq!(parse_rate(r#"{"rate":"1452.31","timestamp":1733440000000}"#, "rate"), Ok(dec!(1452.31)));
        assert_eq!(
            parse_rate(r#"{"rates":{"KRW":1452.3125,"JPY":150.1}}"#, "rates.KRW"),
            Ok(dec!(1452.3125))
        );
        assert_eq!(parse_rate(r#"[{"basePrice":1380.5}]"#, "0.basePrice"), Ok(dec!(1380.5)));
        assert_eq!(parse_rate(r#"{"data":[{"p":" 1401 "}]}"#, "data.0.p"), Ok(dec!(1401)));
        assert_eq!(parse_rate(r#"{"r":1.4523e3}"#, "r"), Ok(dec!(1452.3)));
        assert_eq!(parse_rate("1452.31\n", ""), Ok(dec!(1452.31)));
        assert_eq!(parse_rate("\"1452.31\"", ""), Ok(dec!(1452.31)));
    }

    #[test]
    fn bad_bodies_say_why() {
        let e = parse_rate("<html>502 Bad Gateway</html>", "rate").unwrap_err();
        assert!(e.starts_with("the body is not JSON") && e.contains("<html>"), "{e}");
        let e = parse_rate(r#"{"rates":{"USD":1}}"#, "rates.KRW").unwrap_err();
        assert!(e.contains("no field \"rates.KRW\"") && e.contains("\"KRW\""), "{e}");
        let e = parse_rate(r#"{"rate":null}"#, "rate").unwrap_err();
        assert!(e.contains("is not a number: \"null\""), "{e}");
        let e = parse_rate(r#"{"rate":"n/a"}"#, "rate").unwrap_err();
        assert!(e.contains("not a number"), "{e}");
        let e = parse_rate("about 1450", "").unwrap_err();
        assert!(e.contains("the body is not a number"), "{e}");
        // USD per KRW is another unit, not a rate of 0.00069.
        let e = parse_rate("0.00069", "").unwrap_err();
        assert!(e.contains("not a USD/KRW rate"), "{e}");
    }

    #[test]
    fn a_failed_read_keeps_the_last_good_rate_and_says_why() {
        let first = Source::Url {
            url: String::new(),
            field: String::new(),
            every: SIM_REFRESH,
            label: "fx.example.com".into(),
        }
        .initial();
        assert_eq!((first.rate, first.at_ms), (None, None));
        let good = after_read(&first, Ok(dec!(1450)), 1_000);
        assert_eq!((good.rate, good.at_ms, good.error.as_deref()), (Some(dec!(1450)), Some(1_000), None));
        let failed = after_read(&good, Err("HTTP 503 Service Unavailable: \"\"".into()), 2_000);
        assert_eq!((failed.rate, failed.at_ms), (Some(dec!(1450)), Some(1_000)));
        assert_eq!(failed.error.as_deref(), Some("HTTP 503 Service Unavailable: \"\""));
        assert_eq!(failed.source, "fx.example.com");
        let again = after_read(&failed, Ok(dec!(1451)), 3_000);
        assert_eq!((again.rate, again.error), (Some(dec!(1451)), None));
    }

    /// Against a local server: an HTTP error is kept as the error (with no URL in it), a
    /// good answer is the rate.
    #[tokio::test]
    async fn reads_over_http_keep_errors_without_the_url() {
        use axum::routing::get;
        let app = axum::Router::new()
            .route("/ok", get(|| async { r#"{"quote":{"KRW":"1449.5"}}"# }))
            .route("/down", get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "maintenance") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = client().unwrap();
        let base = format!("http://{addr}");
        // The server runs beside the reads, in this task.
        let reads = async {
            let ok = read(&client, &format!("{base}/ok?key=SECRET"), "quote.KRW").await;
            let down = read(&client, &format!("{base}/down?key=SECRET"), "quote.KRW").await;
            (ok, down)
        };
        let (ok, down) = tokio::select! {
            r = reads => r,
            _ = axum::serve(listener, app) => panic!("the server stopped"),
        };
        assert_eq!(ok, Ok(dec!(1449.5)));
        let e = down.unwrap_err();
        assert!(e.starts_with("HTTP 503") && e.contains("maintenance"), "{e}");
        // Nothing listens here: a connection error, named without the URL.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone = format!("http://{}/x?key=SECRET", dead.local_addr().unwrap());
        drop(dead);
        let e = read(&client, &gone, "").await.unwrap_err();
        assert!(!e.contains("SECRET") && !e.contains("127.0.0.1"), "{e}");
    }
}
