//! Scripted exchange news for a demo session: within its first minutes a new market is
//! listed (it appears in `/market/all` and starts trading), a small-cap market is
//! designated an investment warning (유의), later it gets a caution flag (주의, which Upbit
//! sets without a notice), and the warning's notice is updated. Each notice goes out as an
//! `announcement` frame on the private websocket, as Upbit sends them.
//!
//! The schedule runs on the generator's virtual clock from the simulator's start, so a
//! test with a manual clock and a compressed schedule sees the same story at once. The
//! benchmark flood never runs it. A kept demo session saves how far its story got: a
//! restart puts the listing and the flags back at once and tells only the rest.

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;

use super::market::{Generator, MarketDef, is_major_or_stable, is_small_cap, load_markets};
use super::matching::Exchange;
use super::persist::{SavedListing, SavedMarket, SavedStory, SavedWarning, StoryStep};
use crate::exchange::api::Announcement;
use crate::exchange::upbit::announce::WireAnnouncement;

/// When each scripted event happens, counted from the simulator's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// A new market is listed and its notice published.
    pub listing_after: Duration,
    /// A small-cap market (the smallest one traded; never BTC, ETH or a stablecoin) is
    /// designated 유의 and its notice published.
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

/// The steps in the script's order.
const STEPS: [StoryStep; 4] = [StoryStep::Listing, StoryStep::Warning, StoryStep::Caution, StoryStep::Update];

/// Where a running script is.
#[derive(Debug)]
pub(crate) struct ScriptState {
    script: Script,
    /// When the story began on this run's clock (a resumed story began before the run).
    start_ms: i64,
    /// What notice ids are made from: the first session's start.
    id_base: i64,
    done: [bool; 4],
    /// The warned market: (code, Korean name, notice id).
    warned: Option<(String, String, String)>,
    /// The market listed (never the one warned: a new listing's notice is its own).
    listed: Option<SavedListing>,
    notices: u64,
}

impl ScriptState {
    pub(crate) fn new(script: Script, start_ms: i64) -> ScriptState {
        ScriptState {
            script,
            start_ms,
            id_base: start_ms,
            done: [false; 4],
            warned: None,
            listed: None,
            notices: 0,
        }
    }

    /// The story of a starting simulator: `script` from its beginning, or, resuming a
    /// saved `story`, its effects put back now (the listed market exists with its saved
    /// price `market`, the flags stand) and only the steps that did not happen still to
    /// come, as far from now as they were from where the story stopped. None: no story
    /// to tell or keep. A saved story outlives a run without a script (its listed market
    /// may hold the account's coins).
    pub(crate) fn start(
        script: Option<Script>,
        start_ms: i64,
        story: Option<SavedStory>,
        gen_: &mut Generator,
        ex: &mut Exchange,
        market: &BTreeMap<String, SavedMarket>,
    ) -> Option<ScriptState> {
        let never = Duration::MAX;
        let script = match (script, &story) {
            (Some(s), _) => s,
            (None, Some(_)) => Script {
                listing_after: never,
                warning_after: never,
                caution_after: never,
                update_after: never,
            },
            (None, None) => return None,
        };
        let mut st = ScriptState::new(script, start_ms);
        let Some(story) = story else { return Some(st) };
        st.start_ms = start_ms - story.elapsed_ms.max(0);
        st.id_base = story.id_base;
        st.notices = story.notices;
        for (i, step) in STEPS.iter().enumerate() {
            st.done[i] = story.done.contains(step);
        }
        if let Some(l) = story.listed.filter(|_| st.done[0]) {
            let def = MarketDef {
                market: l.market.clone(),
                korean_name: l.korean_name.clone(),
                english_name: l.english_name.clone(),
                price: l.price,
                warning: false,
                caution: Vec::new(),
            };
            if gen_.relist_market(def, l.at, market.get(&l.market)) {
                ex.markets.insert(l.market.clone());
            }
            st.listed = Some(l);
        }
        if let Some(w) = story.warned.filter(|_| st.done[1]) {
            let caution: &[&str] = if st.done[2] { &[CAUTION_FLAG] } else { &[] };
            gen_.set_market_event(&w.market, true, caution);
            st.warned = Some((w.market, w.korean_name, w.notice));
        }
        Some(st)
    }

    /// How far the story got at `now`, for the state file.
    pub(crate) fn saved(&self, now: i64) -> SavedStory {
        SavedStory {
            elapsed_ms: (now - self.start_ms).max(0),
            done: STEPS.iter().zip(self.done).filter(|(_, d)| *d).map(|(s, _)| *s).collect(),
            id_base: self.id_base,
            notices: self.notices,
            listed: self.listed.clone(),
            warned: self.warned.clone().map(|(market, korean_name, notice)| SavedWarning {
                market,
                korean_name,
                notice,
            }),
        }
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
            uuid::Uuid::from_u64_pair(self.id_base.unsigned_abs(), self.notices).to_string()
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

    /// Lists the first small-cap KRW market of the full fixture the session does not
    /// trade (or a made-up one when there is none): a new listing is a small coin, never
    /// a stablecoin or a major.
    fn list(&mut self, gen_: &mut Generator, ex: &mut Exchange) -> Option<WireAnnouncement> {
        let def = load_markets(None)
            .ok()
            .and_then(|all| {
                all.into_iter().find(|d| {
                    d.quote() == "KRW" && is_small_cap(&d.market) && gen_.market(&d.market).is_none()
                })
            })
            .unwrap_or_else(made_up_listing);
        let def = MarketDef { warning: false, caution: Vec::new(), ..def };
        let (code, korean) = (def.market.clone(), def.korean_name.clone());
        let base = base_of(&code);
        let listing = SavedListing {
            market: code.clone(),
            korean_name: korean.clone(),
            english_name: def.english_name.clone(),
            price: Decimal::ZERO,
            at: gen_.now,
        };
        if !gen_.list_market(def) {
            return None;
        }
        ex.markets.insert(code.clone());
        let price = gen_.market(&code).map_or(Decimal::ZERO, |m| m.price);
        self.listed = Some(SavedListing { price, ..listing });
        Some(self.notice(gen_, None, format!("[신규 거래지원] {korean}({base}) KRW 마켓 디지털 자산 추가")))
    }

    /// Designates the smallest small-cap KRW market of the run without a flag (the last
    /// of the fixture's, which lists them by size) 유의; with no small cap in the run, the
    /// smallest one that is not BTC, ETH or a stablecoin. A warning on a stablecoin or a
    /// major would be a story no trader believes.
    fn warn(&mut self, gen_: &mut Generator) -> Option<WireAnnouncement> {
        let candidates = || {
            gen_.markets.iter().filter(|m| {
                m.quote() == "KRW"
                    && !m.def.warning
                    && m.def.caution.is_empty()
                    && self.listed.as_ref().is_none_or(|l| l.market != m.def.market)
                    && !is_major_or_stable(&m.def.market)
            })
        };
        let (code, korean) = candidates()
            .rfind(|m| is_small_cap(&m.def.market))
            .or_else(|| candidates().next_back())
            .map(|m| (m.def.market.clone(), m.def.korean_name.clone()))?;
        gen_.set_market_event(&code, true, &[]);
        let base = base_of(&code);
        let n = self.notice(gen_, None, format!("[거래] {korean}({base}) 유의 종목 지정 안내"));
        self.warned = Some((code, korean, n.uuid.clone()));
        Some(n)
    }

    fn caution(&mut self, gen_: &mut Generator) -> Option<WireAnnouncement> {
        if let Some((code, ..)) = &self.warned {
            gen_.set_market_event(code, true, &[CAUTION_FLAG]);
        }
        None
    }

    fn update(&mut self, gen_: &mut Generator) -> Option<WireAnnouncement> {
        let (code, korean, id) = self.warned.clone()?;
        let base = base_of(&code);
        Some(self.notice(gen_, Some(id), format!("[거래] {korean}({base}) 유의 종목 지정 기간 연장 안내")))
    }
}

/// `STX` of `KRW-STX`.
fn base_of(code: &str) -> String {
    code.split_once('-').map_or(code, |(_, b)| b).to_string()
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

/// The coin listed when the fixture has no small cap left to list (and in tests).
pub(crate) fn made_up_listing() -> MarketDef {
    MarketDef {
        market: "KRW-HGA".into(),
        korean_name: "호가코인".into(),
        english_name: "Hoga Coin".into(),
        price: Decimal::from(1250),
        warning: false,
        caution: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::TaskManager;
    use crate::sim::matching::PrivEvent;
    use crate::sim::server::lock;
    use crate::sim::{SimConfig, SimHandle, start};

    /// Manual steps (100 ms each) between two scripted events.
    const STEPS: usize = 10;

    fn cfg(state_file: Option<std::path::PathBuf>) -> SimConfig {
        SimConfig {
            markets: Some(5),
            tick_interval: Duration::ZERO,
            start_ms: Some(1_750_000_000_000),
            history_secs: 600,
            spell_numbers: false,
            state_file,
            script: Some(Script::every(Duration::from_millis(100) * STEPS as u32)),
            ..SimConfig::default()
        }
    }

    async fn get(sim: &SimHandle, path: &str) -> serde_json::Value {
        let r = reqwest::get(format!("{}/v1/{path}", sim.rest_base)).await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    fn listed(sim: &SimHandle) -> Option<SavedListing> {
        lock(&sim.shared.script).as_ref().and_then(|s| s.listed.clone())
    }

    fn titles(rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<PrivEvent>>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let PrivEvent::Announcement(a) = &*ev {
                out.push(a.title.clone().unwrap_or_default());
            }
        }
        out
    }

    /// A market listed during the session has nothing before its listing, through REST:
    /// no candle of any timeframe starts before the listing's bucket, the days, weeks,
    /// months and years hold one candle each, the ticker's previous close is the listing
    /// price, its 52-week range is since the listing and its turnover only its own
    /// trades'. Before, its chart reached back to years before it existed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listed_market_has_no_history_before_its_listing() {
        let tasks = TaskManager::new();
        let sim = start(cfg(None), &tasks).await.unwrap();
        sim.step(STEPS + 1);
        let l = listed(&sim).expect("listed");
        // Trades on it: the generator picks it now and then; a scripted one for certain.
        sim.set_price(&l.market, l.price);
        sim.step(300);
        let code = &l.market;
        for (path, unit_ms) in [("minutes/1", 60_000), ("minutes/60", 3_600_000), ("minutes/240", 14_400_000)]
        {
            let cs = get(&sim, &format!("candles/{path}?market={code}&count=200")).await;
            let cs = cs.as_array().unwrap();
            assert!(!cs.is_empty(), "{path}");
            let first_bucket = l.at - l.at.rem_euclid(unit_ms);
            for c in cs {
                let t = chrono::NaiveDateTime::parse_from_str(
                    c["candle_date_time_utc"].as_str().unwrap(),
                    "%Y-%m-%dT%H:%M:%S",
                )
                .unwrap()
                .and_utc()
                .timestamp_millis();
                assert!(t >= first_bucket, "{path}: a candle at {t}, listed at {}", l.at);
            }
        }
        for span in ["days", "weeks", "months", "years"] {
            let cs = get(&sim, &format!("candles/{span}?market={code}&count=200")).await;
            assert_eq!(cs.as_array().unwrap().len(), 1, "{span}: {cs}");
        }
        let t = &get(&sim, &format!("ticker?markets={code}")).await[0];
        let num = |k: &str| t[k].as_f64().unwrap();
        assert_eq!(Decimal::try_from(num("prev_closing_price")).unwrap(), l.price, "{t}");
        let today = crate::sim::market::iso_naive(l.at, 0)[..10].to_string();
        assert_eq!(t["highest_52_week_date"].as_str(), Some(today.as_str()), "{t}");
        assert_eq!(t["lowest_52_week_date"].as_str(), Some(today.as_str()), "{t}");
        let trades = get(&sim, &format!("trades/ticks?market={code}&count=500")).await;
        let traded: f64 = trades
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["trade_price"].as_f64().unwrap() * x["trade_volume"].as_f64().unwrap())
            .sum();
        assert!((num("acc_trade_price_24h") - traded).abs() <= traded * 1e-6 + 1e-6, "{t} vs {traded}");
        tasks.cancel_all();
    }

    /// A resumed demo session does not tell its story again: after a restart past the
    /// listing, the listed market is in `/market/all` at once and trades, the warning
    /// stands, no second listing notice comes, and the rest of the story (the update)
    /// follows. Before, the market was missing and then "listed" again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_resumed_session_goes_on_with_its_story_instead_of_replaying_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let tasks = TaskManager::new();
        let sim = start(cfg(Some(path.clone())), &tasks).await.unwrap();
        let mut rx = sim.shared.private_tx.subscribe();
        sim.step(2 * STEPS + 1);
        let told = titles(&mut rx);
        assert_eq!(told.len(), 2, "the listing and the warning: {told:?}");
        let l = listed(&sim).expect("listed");
        let warned = lock(&sim.shared.script).as_ref().and_then(|s| s.warned.clone()).unwrap().0;
        sim.save_state().unwrap();
        tasks.cancel_all();
        sim.stop();

        let tasks = TaskManager::new();
        let sim = start(cfg(Some(path)), &tasks).await.unwrap();
        let mut rx = sim.shared.private_tx.subscribe();
        let all = get(&sim, "market/all?is_details=true").await;
        let item = |code: &str| all.as_array().unwrap().iter().find(|m| m["market"] == code).cloned();
        assert!(item(&l.market).is_some(), "the listed market is there at once: {all}");
        assert_eq!(item(&warned).unwrap()["market_event"]["warning"], true);
        let t = &get(&sim, &format!("ticker?markets={}", l.market)).await[0];
        assert!(t["trade_price"].as_f64().unwrap() > 0.0, "{t}");
        sim.step(3 * STEPS);
        let told = titles(&mut rx);
        assert_eq!(told.len(), 1, "only the update: {told:?}");
        assert!(told[0].contains("기간 연장"), "{told:?}");
        let all = get(&sim, "market/all?is_details=true").await;
        let listed_again =
            all.as_array().unwrap().iter().filter(|m| m["market"] == l.market.as_str()).count();
        assert_eq!(listed_again, 1);
        tasks.cancel_all();
    }

    /// The warning goes to a small cap of the run, never a stablecoin, BTC or ETH: with
    /// every market, a small cap (before: KRW-USDT); with only majors and large caps, the
    /// smallest large cap.
    #[test]
    fn the_warning_goes_to_a_small_cap_never_a_stablecoin_or_a_major() {
        for (limit, want_small) in [(None, true), (Some(20), true), (Some(32), true), (Some(5), false)] {
            let defs = load_markets(limit).unwrap();
            let mut g = Generator::new(defs, 7, 1_750_000_000_000, 0);
            let mut ex = Exchange::new(Vec::<String>::new(), BTreeMap::new(), 7);
            let mut st = ScriptState::new(Script::every(Duration::from_secs(1)), g.now);
            g.now += 2_000;
            st.run(&mut g, &mut ex);
            let (code, ..) = st.warned.clone().expect("a market warned");
            assert!(!is_major_or_stable(&code), "{limit:?}: {code}");
            assert_eq!(is_small_cap(&code), want_small, "{limit:?}: {code}");
            assert!(g.market(&code).is_some(), "{limit:?}: {code} is in the run");
            let l = st.listed.clone().unwrap();
            assert!(is_small_cap(&l.market), "{limit:?}: listed {}", l.market);
        }
    }
}
