//! Scripted exchange news for a demo session: within its first minutes a new market is
//! listed (it appears in `/market/all` and starts trading), a small-cap market is
//! designated an investment warning (유의), later it gets a caution flag (주의, which Upbit
//! sets without a notice), and the warning's notice is updated. Each notice goes out as an
//! `announcement` frame on the private websocket, as Upbit sends them.
//!
//! The schedule runs on the generator's virtual clock from the simulator's start, so a
//! test with a manual clock and a compressed schedule sees the same story at once. The
//! benchmark flood never runs it.

use std::time::Duration;

use rust_decimal::Decimal;

use super::market::{Generator, MarketDef, load_markets};
use super::matching::Exchange;
use crate::exchange::api::Announcement;
use crate::exchange::upbit::announce::WireAnnouncement;

/// When each scripted event happens, counted from the simulator's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// A new market is listed and its notice published.
    pub listing_after: Duration,
    /// A small-cap market (the smallest one traded) is designated 유의 and its notice
    /// published.
    pub warning_after: Duration,
    /// The same market gets the caution flag (no notice: Upbit sets 주의 automatically).
    pub caution_after: Duration,
    /// The warning's notice is updated (same id, `UPDATED`).
    pub update_after: Duration,
}

impl Script {
    /// The demo's schedule: one event a minute from the second minute on.
    pub fn demo() -> Script {
        Script {
            listing_after: Duration::from_secs(90),
            warning_after: Duration::from_secs(150),
            caution_after: Duration::from_secs(210),
            update_after: Duration::from_secs(270),
        }
    }

    /// Every event `step` after the previous one (tests).
    pub fn every(step: Duration) -> Script {
        Script {
            listing_after: step,
            warning_after: step * 2,
            caution_after: step * 3,
            update_after: step * 4,
        }
    }
}

impl std::fmt::Display for Script {
    /// `listing 1:30, 유의 notice 2:30, 주의 3:30, notice updated 4:30` (from the start).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |d: Duration| format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60);
        write!(
            f,
            "listing {}, 유의 notice {}, 주의 {}, notice updated {}",
            at(self.listing_after),
            at(self.warning_after),
            at(self.caution_after),
            at(self.update_after)
        )
    }
}

/// The caution flag the script sets.
const CAUTION_FLAG: &str = "PRICE_FLUCTUATIONS";

/// Where a running script is.
#[derive(Debug)]
pub(crate) struct ScriptState {
    script: Script,
    start_ms: i64,
    done: [bool; 4],
    /// The warned market: (code, Korean name, base, notice id).
    warned: Option<(String, String, String, String)>,
    /// The market listed (never the one warned: a new listing's notice is its own).
    listed: Option<String>,
    notices: u64,
}

impl ScriptState {
    pub(crate) fn new(script: Script, start_ms: i64) -> ScriptState {
        ScriptState { script, start_ms, done: [false; 4], warned: None, listed: None, notices: 0 }
    }

    /// Runs what is due at the generator's clock; returns the notices to publish.
    pub(crate) fn run(&mut self, gen_: &mut Generator, ex: &mut Exchange) -> Vec<WireAnnouncement> {
        let elapsed = Duration::from_millis(u64::try_from(gen_.now - self.start_ms).unwrap_or(0));
        let s = &self.script;
        let due = [s.listing_after, s.warning_after, s.caution_after, s.update_after];
        let mut out = Vec::new();
        for (i, at) in due.into_iter().enumerate() {
            if self.done[i] || elapsed < at {
                continue;
            }
            self.done[i] = true;
            let news = match i {
                0 => self.list(gen_, ex),
                1 => self.warn(gen_),
                2 => self.caution(gen_),
                _ => self.update(gen_),
            };
            out.extend(news);
        }
        out
    }

    fn notice(&mut self, gen_: &Generator, id: Option<String>, title: String) -> WireAnnouncement {
        self.notices += 1;
        let updated = id.is_some();
        let id = id.unwrap_or_else(|| {
            uuid::Uuid::from_u64_pair(self.start_ms.unsigned_abs(), self.notices).to_string()
        });
        let at = kst_iso(gen_.now);
        WireAnnouncement::from_event(&Announcement {
            id,
            updated,
            category: "trade".into(),
            title,
            url: None,
            body: None,
            first_listed_at: Some(at.clone()),
            listed_at: Some(at),
            timestamp: gen_.now,
        })
    }

    /// Lists the first KRW market of the full fixture the session does not trade (or a
    /// made-up one when it trades them all).
    fn list(&mut self, gen_: &mut Generator, ex: &mut Exchange) -> Option<WireAnnouncement> {
        let def = load_markets(None)
            .ok()
            .and_then(|all| all.into_iter().find(|d| d.quote() == "KRW" && gen_.market(&d.market).is_none()))
            .unwrap_or_else(|| MarketDef {
                market: "KRW-HGA".into(),
                korean_name: "호가코인".into(),
                english_name: "Hoga Coin".into(),
                price: Decimal::from(1250),
                warning: false,
                caution: Vec::new(),
            });
        let def = MarketDef { warning: false, caution: Vec::new(), ..def };
        let (code, korean) = (def.market.clone(), def.korean_name.clone());
        let base = code.split_once('-').map_or(code.as_str(), |(_, b)| b).to_string();
        if !gen_.list_market(def) {
            return None;
        }
        ex.markets.insert(code.clone());
        self.listed = Some(code);
        Some(self.notice(gen_, None, format!("[신규 거래지원] {korean}({base}) KRW 마켓 디지털 자산 추가")))
    }

    /// Designates the smallest KRW market without a flag (the last of the fixture's, which
    /// lists them by size) 유의.
    fn warn(&mut self, gen_: &mut Generator) -> Option<WireAnnouncement> {
        // The fixture lists markets by size: the last one is the smallest cap.
        let (code, korean) = gen_
            .markets
            .iter()
            .rfind(|m| {
                m.quote() == "KRW"
                    && !m.def.warning
                    && m.def.caution.is_empty()
                    && Some(&m.def.market) != self.listed.as_ref()
            })
            .map(|m| (m.def.market.clone(), m.def.korean_name.clone()))?;
        gen_.set_market_event(&code, true, &[]);
        let base = code.split_once('-').map_or(code.as_str(), |(_, b)| b).to_string();
        let n = self.notice(gen_, None, format!("[거래] {korean}({base}) 유의 종목 지정 안내"));
        self.warned = Some((code, korean, base, n.uuid.clone()));
        Some(n)
    }

    fn caution(&mut self, gen_: &mut Generator) -> Option<WireAnnouncement> {
        if let Some((code, ..)) = &self.warned {
            gen_.set_market_event(code, true, &[CAUTION_FLAG]);
        }
        None
    }

    fn update(&mut self, gen_: &mut Generator) -> Option<WireAnnouncement> {
        let (_, korean, base, id) = self.warned.clone()?;
        Some(self.notice(gen_, Some(id), format!("[거래] {korean}({base}) 유의 종목 지정 기간 연장 안내")))
    }
}

/// `2026-09-01T14:00:00+09:00` of a Unix ms time.
fn kst_iso(ms: i64) -> String {
    use chrono::TimeZone;
    let Some(kst) = chrono::FixedOffset::east_opt(9 * 3600) else { return String::new() };
    kst.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}
