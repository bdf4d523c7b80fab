//! The API key's expiry: read from the exchange at start and once a day, shown in the
//! System pane (`API key expires 2027-03-02 (87 days)`), and raised as an alert when 30,
//! 7 and 1 days are left (each once), or when the key has expired.
//!
//! Upbit keys last one year and cannot be renewed, so the only fix is a new key: the
//! alerts say so. The pane computes the days from its own clock at every frame, so a
//! console left running past midnight never shows yesterday's count.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset as _, Utc};

use crate::exchange::upbit::api_keys::KeyExpiry;
use crate::exchange::upbit::rest::RestClient;
use crate::kernel::{OnFailure, TaskManager};
use crate::notify::{NotifyEvent, NotifyKind, NotifySender};
use crate::store::{StoreEvent, StoreHandle};

/// The System pane table the expiry travels in (one row; see [`to_row`]).
pub const TABLE: &str = "api key";

/// Days left at which an alert is raised, largest first.
pub const ALERT_DAYS: [i64; 3] = [30, 7, 1];

/// How often the expiry is read again once known.
pub const EVERY: Duration = Duration::from_secs(24 * 3600);

/// How soon an expiry that could not be read is tried again.
pub const RETRY: Duration = Duration::from_secs(3600);

/// KST, Upbit's clock (UTC+9, no daylight saving).
fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The expiry's date in KST (the exchange's day).
fn kst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&kst()).date_naive()
}

/// Whole calendar days (KST) from `now` to `at`: 0 on the last day, negative after it.
pub fn days_left(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (kst_date(at) - kst_date(now)).num_days()
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The System pane's line for the key.
pub fn describe(expiry: &KeyExpiry, now: DateTime<Utc>) -> String {
    match expiry {
        KeyExpiry::Expires { at } if *at <= now => {
            format!("API key EXPIRED on {}: issue a new key on upbit.com (keys cannot be renewed)", kst_date(*at))
        }
        KeyExpiry::Expires { at } => match days_left(*at, now) {
            0 => format!("API key expires today ({} KST)", at.with_timezone(&kst()).format("%Y-%m-%d %H:%M")),
            d => format!("API key expires {} ({d} day{})", kst_date(*at), plural(d)),
        },
        KeyExpiry::Expired => {
            "API key EXPIRED (Upbit: expired_access_key): issue a new key on upbit.com (keys cannot be renewed)"
                .to_string()
        }
        KeyExpiry::Unknown { why } => format!("API key expiry unknown ({why})"),
    }
}

/// Which alerts were raised, so each is raised once per session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alarms {
    /// The smallest threshold of [`ALERT_DAYS`] already raised.
    raised: Option<i64>,
    /// The expiry was announced.
    expired: bool,
}

impl Alarms {
    /// The alert `expiry` calls for now, if one is due. Entering at 5 days left raises the
    /// 7-day alert only (not 30 and 7 together); each threshold is raised once.
    pub fn due(&mut self, expiry: &KeyExpiry, now: DateTime<Utc>) -> Option<String> {
        let at = match expiry {
            KeyExpiry::Expires { at } if *at > now => *at,
            KeyExpiry::Expires { .. } | KeyExpiry::Expired => {
                if std::mem::replace(&mut self.expired, true) {
                    return None;
                }
                return Some(describe(expiry, now));
            }
            KeyExpiry::Unknown { .. } => return None,
        };
        let left = days_left(at, now);
        let threshold = ALERT_DAYS.iter().copied().filter(|t| left <= *t).min()?;
        if self.raised.is_some_and(|r| r <= threshold) {
            return None;
        }
        self.raised = Some(threshold);
        let when = match left {
            0 => "today".to_string(),
            d => format!("in {d} day{}", plural(d)),
        };
        Some(format!(
            "API key expires {when} ({} KST): issue a new key on upbit.com and switch to it before then; keys cannot be renewed",
            at.with_timezone(&kst()).format("%Y-%m-%d %H:%M")
        ))
    }
}

/// The table row carrying `expiry` to the System pane.
pub fn to_row(expiry: &KeyExpiry) -> Vec<String> {
    match expiry {
        KeyExpiry::Expires { at } => vec!["expires".into(), at.to_rfc3339()],
        KeyExpiry::Expired => vec!["expired".into(), String::new()],
        KeyExpiry::Unknown { why } => vec!["unknown".into(), why.clone()],
    }
}

/// The expiry a [`to_row`] row carries.
pub fn from_row(row: &[String]) -> Option<KeyExpiry> {
    match (row.first()?.as_str(), row.get(1)?) {
        ("expires", at) => {
            Some(KeyExpiry::Expires { at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc) })
        }
        ("expired", _) => Some(KeyExpiry::Expired),
        ("unknown", why) => Some(KeyExpiry::Unknown { why: why.clone() }),
        _ => None,
    }
}

/// Reads the key's expiry now and then every [`EVERY`] (an unreadable one every
/// [`RETRY`]): the System pane's row each time, an alert when one is due (through the
/// notifier: the status bar and `:alerts`, and bell, title and webhook, as
/// [`NotifyKind::KeyExpiry`], which no setting silences). In live mode a key with 30 days
/// or less is also a warning in the log at start.
pub fn spawn(
    tasks: &TaskManager,
    rest: Arc<RestClient>,
    store: StoreHandle,
    notify: NotifySender,
    live: bool,
) {
    tasks.spawn_supervised("console", "key-expiry", OnFailure::restart(), move |cancel| {
        let (rest, store, notify) = (rest.clone(), store.clone(), notify.clone());
        async move {
            let mut alarms = Alarms::default();
            let mut first = true;
            loop {
                let expiry = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    e = rest.key_expiry() => e,
                };
                let now = Utc::now();
                tracing::info!("{}", describe(&expiry, now));
                if live
                    && first
                    && let KeyExpiry::Expires { at } = &expiry
                {
                    let left = days_left(*at, now);
                    if left <= ALERT_DAYS[0] {
                        tracing::warn!(
                            days_left = left,
                            "live API key expires soon: {}",
                            describe(&expiry, now)
                        );
                    }
                }
                first = false;
                store
                    .send(StoreEvent::SystemStats {
                        title: TABLE.into(),
                        header: vec!["state".into(), "detail".into()],
                        rows: vec![to_row(&expiry)],
                    })
                    .await?;
                if let Some(message) = alarms.due(&expiry, now) {
                    notify.notify(NotifyEvent::new(NotifyKind::KeyExpiry, None, message));
                }
                let wait = if matches!(expiry, KeyExpiry::Unknown { .. }) { RETRY } else { EVERY };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_are_kst_calendar_days_and_the_line_says_the_date() {
        let at = t("2027-03-02T15:00:00+09:00");
        let now = t("2026-12-05T10:00:00+09:00");
        assert_eq!(days_left(at, now), 87);
        assert_eq!(describe(&KeyExpiry::Expires { at }, now), "API key expires 2027-03-02 (87 days)");
        // 23:30 KST on the 1st is one calendar day before the 2nd, though only 16 h.
        assert_eq!(days_left(at, t("2027-03-01T23:30:00+09:00")), 1);
        assert_eq!(
            describe(&KeyExpiry::Expires { at }, t("2027-03-01T23:30:00+09:00")),
            "API key expires 2027-03-02 (1 day)"
        );
        assert_eq!(
            describe(&KeyExpiry::Expires { at }, t("2027-03-02T09:00:00+09:00")),
            "API key expires today (2027-03-02 15:00 KST)"
        );
        let gone = describe(&KeyExpiry::Expires { at }, t("2027-03-02T15:00:01+09:00"));
        assert!(gone.starts_with("API key EXPIRED on 2027-03-02") && gone.contains("new key"), "{gone}");
        assert!(describe(&KeyExpiry::Expired, now).contains("EXPIRED"));
        assert_eq!(
            describe(&KeyExpiry::Unknown { why: "key lacks the permission to list API keys".into() }, now),
            "API key expiry unknown (key lacks the permission to list API keys)"
        );
    }

    #[test]
    fn alerts_at_30_7_and_1_days_each_once() {
        let at = t("2027-03-02T15:00:00+09:00");
        let e = KeyExpiry::Expires { at };
        let mut a = Alarms::default();
        let day = |d: i64| at - chrono::Duration::days(d);
        assert_eq!(a.due(&e, day(87)), None);
        let m = a.due(&e, day(30)).unwrap();
        assert!(m.contains("in 30 days") && m.contains("2027-03-02") && m.contains("new key"), "{m}");
        assert_eq!(a.due(&e, day(29)), None, "30 days: once");
        assert_eq!(a.due(&e, day(8)), None);
        assert!(a.due(&e, day(7)).unwrap().contains("in 7 days"));
        assert_eq!(a.due(&e, day(6)), None);
        assert!(a.due(&e, day(1)).unwrap().contains("in 1 day "));
        assert_eq!(a.due(&e, day(1)), None);
        assert!(a.due(&KeyExpiry::Expired, at).unwrap().contains("EXPIRED"));
        assert_eq!(a.due(&KeyExpiry::Expired, at), None);
        // Starting with 5 days left: the 7-day alert alone.
        let mut b = Alarms::default();
        assert!(b.due(&e, day(5)).unwrap().contains("in 5 days"));
        assert_eq!(b.due(&e, day(4)), None);
        assert_eq!(b.due(&KeyExpiry::Unknown { why: "x".into() }, day(4)), None);
    }

    #[test]
    fn rows_round_trip() {
        for e in [
            KeyExpiry::Expires { at: t("2027-03-02T06:00:00Z") },
            KeyExpiry::Expired,
            KeyExpiry::Unknown { why: "key lacks the permission to list API keys".into() },
        ] {
            assert_eq!(from_row(&to_row(&e)), Some(e));
        }
        assert_eq!(from_row(&["expires".into(), "garbage".into()]), None);
    }
}
