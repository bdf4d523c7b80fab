//! Exchange notices and market flags during a session.
//!
//! * Notices (Upbit's `announcement` on the private websocket) become a log line each, a
//!   badge on the markets they name (a delisting, a warning; a warning lifted takes its
//!   badge away) and, for the categories `[alerts] announcements` names, an alert: bell,
//!   window title and webhook through the notifier, and one entry in `:alerts` that an
//!   update of the same notice replaces. Without a private stream (paper mode, no keys)
//!   the System pane says announcements need API keys.
//! * Market flags: the market list (`/market/all`, with `market_event`) is read again every
//!   few minutes and after every notice that names a coin; a market listed or taken off,
//!   and a 유의 / 주의 flag set or lifted, is logged, badged and alerted
//!   ([`market_changes`]; the markets pump applies them).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::config::{AlertMode, NoticeCategories};
use crate::exchange::api::Announcement;
use crate::exchange::types::{MarketId, MarketInfo};
use crate::exchange::upbit::announce::{Concern, concern_of, currencies_in};
use crate::feed::{FeedHandle, Strategy};
use crate::kernel::{OnFailure, TaskManager};
use crate::notify::{NotifyEvent, NotifyKind, NotifySender};
use crate::store::market::Badge;
use crate::store::{StoreEvent, StoreHandle};

/// The System pane's table for the announcements stream.
pub const TABLE: &str = "announcements";
/// What the System pane says when there is no private stream to carry notices.
pub const NO_KEYS: &str = "announcements need API keys: Upbit sends its notices on the private websocket only (demo has the simulator's key)";
/// Notice ids remembered to tell an update from a new notice.
const SEEN_KEPT: usize = 1000;

/// Where notices and market flags go.
#[derive(Clone)]
pub(crate) struct NoticeSinks {
    /// The store (badges, alerts, the System pane's line).
    pub store: StoreHandle,
    /// Bell, title and webhook.
    pub notify: NotifySender,
    /// Categories that alert.
    pub categories: NoticeCategories,
    /// How loudly a market's flags changing is said.
    pub market_mode: AlertMode,
    /// Asks the markets pump to read the market list again.
    pub refresh: Arc<tokio::sync::Notify>,
}

impl NoticeSinks {
    /// An alert of `kind` (a notice, a market's flags): bell, title and webhook by the
    /// notifier's modes, and one `:alerts` entry per `key` (unless the mode is `off`).
    async fn alert(&self, ev: NotifyEvent, key: String, mode: AlertMode) -> anyhow::Result<()> {
        if mode == AlertMode::Off {
            return Ok(());
        }
        let message = ev.render();
        let time = ev.at;
        self.notify.notify(ev);
        self.store.send(StoreEvent::KeyedAlert { key, time, message }).await?;
        Ok(())
    }
}

/// Follows the exchange's notices. `private`: whether the feed has a private stream.
pub(crate) fn spawn_notices(tasks: &TaskManager, feed: &FeedHandle, private: bool, sinks: NoticeSinks) {
    let proxy = Arc::new(feed.proxy("notices"));
    tasks.spawn_supervised("console", "notices", OnFailure::restart(), move |cancel| {
        let proxy = proxy.clone();
        let sinks = sinks.clone();
        async move {
            let line = if private { "announcements: following the exchange's notices" } else { NO_KEYS };
            sinks
                .store
                .send(StoreEvent::SystemStats {
                    title: TABLE.into(),
                    header: Vec::new(),
                    rows: vec![vec![line.into()]],
                })
                .await?;
            if !private {
                tracing::warn!("{NO_KEYS}");
                cancel.cancelled().await;
                return Ok(());
            }
            let mut sub = proxy.subscribe_announcements(Strategy::Lossless);
            let mut seen = Seen::default();
            loop {
                let a = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    a = sub.recv() => match a { Some(a) => a, None => return Ok(()) },
                };
                on_notice(&sinks, &mut seen, a).await?;
            }
        }
    });
}

/// Notice ids seen, oldest first (bounded).
#[derive(Default)]
struct Seen {
    order: VecDeque<String>,
    ids: HashMap<String, ()>,
}

impl Seen {
    /// Remembers `id`; true when it was already known.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains_key(id) {
            return true;
        }
        if self.order.len() >= SEEN_KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.order.push_back(id.to_string());
        self.ids.insert(id.to_string(), ());
        false
    }
}

/// What one notice does to the markets it names.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NoticeMarkets {
    /// The markets of the coins it names.
    pub markets: Vec<MarketId>,
    /// Badges it sets.
    pub set: Vec<(MarketId, Badge)>,
    /// Badges it takes away (a warning lifted).
    pub clear: Vec<(MarketId, Badge)>,
}

/// What one notice does to the markets of `list`.
pub(crate) fn notice_badges(a: &Announcement, list: &[MarketInfo]) -> NoticeMarkets {
    let coins = currencies_in(&a.title);
    let markets: Vec<MarketId> = list
        .iter()
        .filter(|m| coins.iter().any(|c| c == m.market.base()))
        .map(|m| m.market.clone())
        .collect();
    let each = |b: Badge| markets.iter().map(|m| (m.clone(), b)).collect::<Vec<_>>();
    let (set, clear) = match concern_of(&a.title) {
        Concern::Warning => (each(Badge::Warning), Vec::new()),
        Concern::Delisting => (each(Badge::Delisting), Vec::new()),
        Concern::WarningLifted => (Vec::new(), each(Badge::Warning)),
        // A listing's market is badged when it appears in the market list.
        Concern::Listing | Concern::Other => (Vec::new(), Vec::new()),
    };
    NoticeMarkets { markets, set, clear }
}

async fn on_notice(sinks: &NoticeSinks, seen: &mut Seen, a: Announcement) -> anyhow::Result<()> {
    let update = seen.insert(&a.id) || a.updated;
    let snap = sinks.store.snapshot();
    let NoticeMarkets { markets, set, clear } = notice_badges(&a, &snap.market.markets);
    sinks.store.send(StoreEvent::Badges { source: a.id.clone(), set, clear }).await?;
    let verb = if update { "notice updated" } else { "notice" };
    let named = if markets.is_empty() {
        String::new()
    } else {
        format!(" ({})", markets.iter().map(MarketId::as_str).collect::<Vec<_>>().join(", "))
    };
    let link = a.url.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
    // The title is the exchange's text, drawn on the Log pane, in `:alerts` and the window
    // title: flags and joined emoji spelled out so every terminal draws it the same.
    let title = crate::ui::widgets::format::terminal_safe(&a.title);
    tracing::info!("{verb} [{}] {title}{named}{link}", a.category);
    if sinks.categories.alerts(&a.category) {
        let text = format!("{}[{}] {title}", if update { "updated: " } else { "" }, a.category);
        let ev = NotifyEvent::new(NotifyKind::Announcement, markets.first().cloned(), text).with_id(&a.id);
        sinks.alert(ev, format!("notice {}", a.id), AlertMode::On).await?;
    }
    // What the notice announces shows in the market list (a new market, a flag): read it.
    if concern_of(&a.title) != Concern::Other || !currencies_in(&a.title).is_empty() {
        sinks.refresh.notify_one();
    }
    Ok(())
}

/// One change between two readings of the market list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarketChange {
    /// The market.
    pub market: MarketId,
    /// What happened, for the log and the alert.
    pub text: String,
    /// The badge it sets (a new listing).
    pub badge: Option<Badge>,
    /// Which flag it is about, for the alert's key (`listed`, `warning`, `caution`).
    pub what: &'static str,
}

/// What changed from `old` to `new`: markets listed or taken off, 유의 / 주의 set or lifted.
pub(crate) fn market_changes(old: &[MarketInfo], new: &[MarketInfo]) -> Vec<MarketChange> {
    let before: HashMap<&MarketId, &MarketInfo> = old.iter().map(|m| (&m.market, m)).collect();
    let after: HashMap<&MarketId, &MarketInfo> = new.iter().map(|m| (&m.market, m)).collect();
    let mut out = Vec::new();
    let change = |m: &MarketInfo, text: String, badge: Option<Badge>, what: &'static str| MarketChange {
        market: m.market.clone(),
        text: format!("{} ({}) {text}", m.market, m.korean_name),
        badge,
        what,
    };
    for m in new {
        match before.get(&m.market) {
            None => out.push(change(m, "listed: trading has started".into(), Some(Badge::New), "listed")),
            Some(o) => {
                if o.warning != m.warning {
                    let text = if m.warning {
                        "designated 유의 (investment warning)"
                    } else {
                        "유의 (investment warning) lifted"
                    };
                    out.push(change(m, text.into(), None, "warning"));
                }
                if o.caution != m.caution {
                    let text =
                        if m.caution { "designated 주의 (caution)" } else { "주의 (caution) lifted" };
                    out.push(change(m, text.into(), None, "caution"));
                }
            }
        }
    }
    for m in old.iter().filter(|m| !after.contains_key(&m.market)) {
        out.push(change(m, "is no longer listed".into(), None, "listed"));
    }
    out
}

/// Says what changed in the market list: a log line, a badge for a new listing, and an
/// alert each.
pub(crate) async fn tell_market_changes(
    sinks: &NoticeSinks,
    changes: Vec<MarketChange>,
) -> anyhow::Result<()> {
    for c in changes {
        tracing::info!("market {}", c.text);
        if let Some(b) = c.badge {
            let source = format!("{} {}", c.what, c.market);
            sinks
                .store
                .send(StoreEvent::Badges { source, set: vec![(c.market.clone(), b)], clear: Vec::new() })
                .await?;
        }
        let key = format!("market {} {}", c.market, c.what);
        let ev = NotifyEvent::new(NotifyKind::MarketEvent, Some(c.market.clone()), c.text).with_id(&key);
        sinks.alert(ev, key, sinks.market_mode).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(code: &str, warning: bool, caution: bool) -> MarketInfo {
        MarketInfo {
            market: MarketId::new(code),
            korean_name: code.to_string(),
            english_name: code.to_string(),
            warning,
            caution,
        }
    }

    #[test]
    fn a_listing_a_flag_set_a_flag_lifted_and_a_market_gone_are_each_one_change() {
        let old =
            [info("KRW-BTC", false, false), info("KRW-API3", false, true), info("KRW-OLD", false, false)];
        let new =
            [info("KRW-BTC", true, false), info("KRW-API3", false, false), info("KRW-NEW", false, false)];
        let c = market_changes(&old, &new);
        let what: Vec<(&str, &str)> = c.iter().map(|c| (c.market.as_str(), c.what)).collect();
        assert_eq!(
            what,
            [("KRW-BTC", "warning"), ("KRW-API3", "caution"), ("KRW-NEW", "listed"), ("KRW-OLD", "listed")]
        );
        assert!(c[0].text.contains("designated 유의"), "{c:?}");
        assert!(c[1].text.contains("주의 (caution) lifted"), "{c:?}");
        assert_eq!(c[2].badge, Some(Badge::New));
        assert!(c[3].text.contains("no longer listed"));
        assert!(market_changes(&new, &new).is_empty());
    }

    /// A category Upbit does not have is refused at load, naming the file, the key and
    /// the value; the default alerts for every category, and `[]` for none.
    #[test]
    fn the_notice_categories_setting_is_checked() {
        use crate::config::{LoadOptions, load};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoga.toml");
        let opts = LoadOptions { config_file: Some(path.clone()), ..LoadOptions::default() };
        std::fs::write(&path, "[alerts]\nannouncements = [\"trade\", \"listings\"]\n").unwrap();
        let msg = load(&opts).unwrap_err().to_string();
        assert!(
            msg.contains("hoga.toml") && msg.contains("alerts.announcements") && msg.contains("listings"),
            "{msg}"
        );
        assert!(msg.contains("digital_asset"), "says what is accepted: {msg}");
        std::fs::write(&path, "[alerts]\nannouncements = [\"trade\", \"wallet\"]\n").unwrap();
        let c = load(&opts).unwrap().settings.alerts.announcements;
        assert!(c.alerts("trade") && c.alerts("wallet") && !c.alerts("event"));
        std::fs::write(&path, "[alerts]\nannouncements = []\n").unwrap();
        assert!(!load(&opts).unwrap().settings.alerts.announcements.alerts("trade"));
        let none = LoadOptions { skip_user_file: true, ..LoadOptions::default() };
        let all = load(&none).unwrap().settings.alerts.announcements;
        assert!(all.alerts("trade") && all.alerts("a_category_upbit_adds_later"));
    }

    #[test]
    fn a_notice_badges_the_markets_of_its_coin_and_a_lifted_warning_clears() {
        let list =
            [info("KRW-API3", false, false), info("BTC-API3", false, false), info("KRW-BTC", false, false)];
        let mut a = Announcement {
            id: "n1".into(),
            updated: false,
            category: "trade".into(),
            title: "[거래] 에이피아이쓰리(API3) 유의 종목 지정 안내".into(),
            url: None,
            body: None,
            first_listed_at: None,
            listed_at: None,
            timestamp: 1,
        };
        let NoticeMarkets { markets, set, clear } = notice_badges(&a, &list);
        assert_eq!(markets.len(), 2);
        assert_eq!(
            set,
            vec![(MarketId::new("KRW-API3"), Badge::Warning), (MarketId::new("BTC-API3"), Badge::Warning)]
        );
        assert!(clear.is_empty());
        a.title = "[거래] 에이피아이쓰리(API3) 유의 종목 지정 해제 안내".into();
        let NoticeMarkets { set, clear, .. } = notice_badges(&a, &list);
        assert!(set.is_empty());
        assert_eq!(clear.len(), 2);
    }
}
