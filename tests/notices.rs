//! Exchange notices (Upbit's `announcement`) and market flags during a session, end to end
//! against the simulator's scripted news: what it publishes, what the client decodes, and
//! what the console makes of it (alerts, badges, the market list).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use hoga::config::Settings;
use hoga::exchange::api::{Announcement, StreamEvent, StreamKind};
use hoga::exchange::stream::{Decoded, StreamSession, WsConfig};
use hoga::exchange::types::MarketId;
use hoga::exchange::upbit::auth::Credentials;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::exchange::upbit::ws::{Decoder, WsSession};
use hoga::kernel::TaskManager;
use hoga::sim::{Script, SimHandle};
use hoga::store::Snapshot;
use hoga::store::market::Badge;
use hoga::ui::UiConfig;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use secrecy::ExposeSecret;

use common::{
    console_on, deadline_30s, layout_screen, screen_text, snapshot_until, still_sim, until, within,
};

/// Steps of the simulator's clock (100 ms each) between two scripted events.
const STEPS: usize = 10;

/// A still simulator with the scripted news one second apart.
async fn scripted_sim() -> (TaskManager, SimHandle) {
    still_sim(5, |c| c.script = Some(Script::every(Duration::from_millis(100) * STEPS as u32))).await
}

fn rest_of(sim: &SimHandle) -> RestClient {
    RestClient::new(RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() }, None)
        .unwrap()
}

/// Waits until a private connection of `sim` has subscribed to `announcement` (a notice
/// published before that is not sent: the stream is realtime only).
async fn announcement_subscribed(sim: &SimHandle) {
    until("a private announcement subscription", || {
        sim.subscriptions().values().any(|c| c.private && c.types.iter().any(|t| t.ty == "announcement"))
    })
    .await;
}

/// The next announcement on `ws`.
async fn next_notice(ws: &mut WsSession, dec: &mut Decoder) -> Announcement {
    loop {
        let f = within(ws.next_frame()).await.unwrap();
        if let Decoded::Event(StreamEvent::Announcement(a)) = dec.decode(&f.bytes).unwrap() {
            return a;
        }
    }
}

/// The simulator's story, as hoga's own websocket client reads it: a listing (its market
/// is in `/market/all` at once), a 유의 designation (the flag too), a 주의 flag with no
/// notice, and an update of the warning's notice under the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_publishes_its_scripted_news_and_the_client_decodes_it() {
    let (tasks, sim) = scripted_sim().await;
    let rest = rest_of(&sim);
    let before = rest.market_all().await.unwrap();
    let creds = Credentials::new(sim.credentials.0.clone(), sim.credentials.1.expose_secret().to_string());
    let mut ws = WsSession::connect(&sim.ws_private_url, Some(&creds), &WsConfig::default()).await.unwrap();
    StreamSession::subscribe(&mut ws, &[(StreamKind::Announcement, vec![])]).await.unwrap();
    announcement_subscribed(&sim).await;
    let mut dec = Decoder::default();

    sim.step(STEPS + 1);
    let listing = next_notice(&mut ws, &mut dec).await;
    assert!(!listing.updated && listing.category == "trade", "{listing:?}");
    assert!(listing.title.contains("신규 거래지원"), "{}", listing.title);
    let after = rest.market_all().await.unwrap();
    let new: Vec<_> = after.iter().filter(|m| !before.iter().any(|b| b.market == m.market)).collect();
    assert_eq!(new.len(), 1, "one market listed: {new:?}");
    assert!(listing.title.contains(&format!("({})", new[0].market.base())), "{}", listing.title);
    // It trades: a price, a book, and the exchange takes orders on it.
    let keyed = RestClient::new(
        RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() },
        Some(creds.clone()),
    )
    .unwrap();
    let new_market = new[0].market.clone();
    assert!(keyed.tickers(std::slice::from_ref(&new_market)).await.unwrap()[0].trade_price > 0.into());
    assert!(!keyed.orderbook(std::slice::from_ref(&new_market), 15).await.unwrap()[0].levels.is_empty());
    keyed.chance(&new_market).await.unwrap();

    sim.step(STEPS);
    let warning = next_notice(&mut ws, &mut dec).await;
    assert!(warning.title.contains("유의 종목 지정"), "{}", warning.title);
    let warned = rest
        .market_all()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.warning)
        .expect("the warned market is flagged in market_event");
    assert!(warning.title.contains(&format!("({})", warned.market.base())), "{}", warning.title);
    assert_ne!(warned.market, new[0].market);

    sim.step(STEPS);
    let cautioned = rest.market_all().await.unwrap().into_iter().find(|m| m.market == warned.market).unwrap();
    assert!(cautioned.caution && cautioned.warning, "{cautioned:?}");

    sim.step(STEPS);
    let update = next_notice(&mut ws, &mut dec).await;
    assert!(update.updated, "{update:?}");
    assert_eq!(update.id, warning.id, "an update names the notice it changes");
    tasks.cancel_all();
}

fn alerts_with(s: &Snapshot, text: &str) -> usize {
    s.system.alerts.iter().filter(|a| a.message.contains(text)).count()
}

/// In demo, a notice raises an alert, badges its market, and an update of it replaces the
/// alert instead of adding one; the new listing is in the markets table with its price,
/// badged NEW; the 유의 flag the notice announced arrives from the market list too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_in_demo_alerts_badges_its_market_and_the_listing_shows_in_the_table() {
    let (sim_tasks, sim) = scripted_sim().await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let first =
        snapshot_until(&mut snaps, deadline_30s(), "the market list", |s| !s.market.markets.is_empty()).await;
    let known: Vec<MarketId> = first.market.markets.iter().map(|m| m.market.clone()).collect();
    announcement_subscribed(&sim).await;

    sim.step(STEPS + 1);
    let s =
        snapshot_until(&mut snaps, deadline_30s(), "the listing in the table with NEW and its alert", |s| {
            let listed = s.market.markets.iter().find(|m| !known.contains(&m.market));
            listed.is_some_and(|m| {
                s.market.badge(&m.market) == Some(Badge::New) && s.market.tickers.contains_key(&m.market)
            }) && alerts_with(s, "신규 거래지원") == 1
        })
        .await;
    let listed = s.market.markets.iter().find(|m| !known.contains(&m.market)).unwrap().market.clone();
    let alert = s.system.alerts.iter().find(|a| a.message.contains("신규 거래지원")).unwrap();
    assert!(alert.message.contains("notice") && !alert.acknowledged, "{}", alert.message);
    let text = layout_screen(&s, "default");
    let row = text
        .lines()
        .find(|l| l.contains(listed.base()) && !l.contains("[hoga]"))
        .unwrap_or_else(|| panic!("{listed} not on screen:\n{text}"));
    // In full where the table has room, or in its short form (N) beside the premium, with
    // the legend under the table saying what it means.
    assert!(row.contains("NEW") || row.contains(" N "), "{row}");
    assert!(row.contains("NEW") || text.contains("N new"), "no legend for the short flag:\n{text}");

    sim.step(STEPS);
    let s = snapshot_until(&mut snaps, deadline_30s(), "the warning's alert, badge and flag", |s| {
        alerts_with(s, "유의 종목 지정 안내") == 1
            && s.market.markets.iter().any(|m| m.warning && s.market.badge(&m.market) == Some(Badge::Warning))
            && alerts_with(s, "designated 유의") == 1
    })
    .await;
    let warned = s.market.markets.iter().find(|m| m.warning).unwrap().market.clone();
    assert_ne!(warned, listed);
    let text = layout_screen(&s, "default");
    let row = text
        .lines()
        .find(|l| l.contains(&format!(" {}", warned.base())) && !l.contains("[hoga]"))
        .unwrap_or_default();
    // 유의 in full, or its short form 유 beside the premium (the legend spells it out).
    assert!(row.contains("유의") || (row.contains(" 유 ") && text.contains("유 warning")), "{row}\n{text}");

    // The caution (no notice of its own: the list is read again every few minutes, and on
    // the next notice that names a coin, here the update of the warning's notice).
    sim.step(STEPS * 2);
    let s = snapshot_until(&mut snaps, deadline_30s(), "the updated notice replacing its alert", |s| {
        alerts_with(s, "updated: [trade]") == 1 && alerts_with(s, "designated 주의") == 1
    })
    .await;
    assert_eq!(alerts_with(&s, "유의 종목 지정"), 1, "one alert per notice: {:?}", s.system.alerts);
    assert_eq!(s.market.badge(&warned), Some(Badge::Warning));
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// Without keys (paper mode on another server) there is no private stream: the System pane
/// says announcements need API keys instead of staying silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_system_pane_says_announcements_need_them() {
    let (sim_tasks, sim) = still_sim(3, |_| {}).await;
    let mut settings = Settings::default();
    settings.general.mode = hoga::config::Mode::Paper;
    settings.exchange.rest_url = format!("{}/v1", sim.rest_base);
    settings.exchange.ws_url = sim.ws_public_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (tasks, core) = common::start_core(&settings, Some(dir.path().join("journal.sqlite"))).await;
    let mut snaps = core.store.subscribe();
    let system = |s: &Snapshot| {
        let mut ui = hoga::ui::UiState::new(UiConfig { layout: "system".into(), ..UiConfig::default() });
        hoga::ui::update::on_snapshot(&mut ui, s);
        let area = Rect::new(0, 0, 200, 60);
        ui.area = area;
        let mut buf = Buffer::empty(area);
        hoga::ui::render(area, &mut buf, &ui, s, &hoga::ui::Theme::default());
        screen_text(&buf)
    };
    snapshot_until(&mut snaps, deadline_30s(), "the System pane saying announcements need keys", |s| {
        system(s).contains("announcements need API keys")
    })
    .await;
    tasks.cancel_all();
    sim_tasks.cancel_all();
}
