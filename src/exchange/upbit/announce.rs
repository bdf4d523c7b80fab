//! Upbit's `announcement` data type on the private websocket (since 2026-08-31): a notice
//! published (`CREATED`) or changed (`UPDATED`), realtime only, in the DEFAULT or the
//! SIMPLE format; and what a notice's title says about markets (a listing, a delisting, a
//! warning), since the frame names no market.
//!
//! Decoding is lenient: an event kind or a category this version does not know is noted
//! once and the notice is still delivered (a new category must not silence the stream).

use serde::{Deserialize, Serialize};

use crate::exchange::api::Announcement;
use crate::exchange::types::note_unknown;

/// The categories Upbit documents for `categories` (a request naming any other gets
/// `INVALID_PARAM`, so hoga asks for all and filters itself).
pub const CATEGORIES: [&str; 13] = [
    "notice",
    "trade",
    "wallet",
    "maintenance",
    "digital_asset",
    "nft",
    "service",
    "event",
    "note",
    "trading",
    "airdrop",
    "feature",
    "disclosure",
];

/// One `announcement` frame. The SIMPLE format's abbreviations are accepted as aliases,
/// so the one struct reads both formats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WireAnnouncement {
    /// `announcement`.
    #[serde(rename = "type", alias = "ty")]
    pub ty: String,
    /// The notice's id (an update carries the id of the notice it changes).
    #[serde(alias = "uid", default)]
    pub uuid: String,
    /// `CREATED` or `UPDATED`.
    #[serde(alias = "et", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Category (`notice`, `trade`, …).
    #[serde(alias = "cat", default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Title.
    #[serde(alias = "tt", default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Link to the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Body in Markdown: only with `include_body: true`, and null when large.
    #[serde(alias = "bd", default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// First publication (KST, ISO 8601).
    #[serde(alias = "flat", default, skip_serializing_if = "Option::is_none")]
    pub first_listed_at: Option<String>,
    /// Latest publication (KST, ISO 8601).
    #[serde(alias = "lat", default, skip_serializing_if = "Option::is_none")]
    pub listed_at: Option<String>,
    /// Message time (ms).
    #[serde(alias = "tms", default)]
    pub timestamp: i64,
    /// Always `REALTIME` (no snapshot for this type).
    #[serde(alias = "st", default, skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<String>,
}

impl WireAnnouncement {
    /// The neutral announcement. A frame without an id or a title is refused: it could
    /// be neither shown nor matched with its update.
    pub fn to_event(&self) -> Result<Announcement, String> {
        if self.uuid.trim().is_empty() {
            return Err("announcement without an id (uuid)".into());
        }
        let title = self.title.clone().unwrap_or_default();
        if title.trim().is_empty() {
            return Err("announcement without a title".into());
        }
        let updated = match self.event_type.as_deref() {
            Some("UPDATED") => true,
            Some("CREATED") | None => false,
            Some(other) => {
                // Shown as a new notice: saying nothing would be worse than a wrong verb.
                note_unknown("announcement event_type", other);
                false
            }
        };
        let category = self.category.clone().unwrap_or_default().to_ascii_lowercase();
        if !CATEGORIES.contains(&category.as_str()) {
            note_unknown("announcement category", &category);
        }
        Ok(Announcement {
            id: self.uuid.clone(),
            updated,
            category,
            title,
            url: self.url.clone(),
            body: self.body.clone(),
            first_listed_at: self.first_listed_at.clone(),
            listed_at: self.listed_at.clone(),
            timestamp: self.timestamp,
        })
    }

    /// The wire form of a neutral announcement (the simulator sends it).
    pub fn from_event(a: &Announcement) -> WireAnnouncement {
        WireAnnouncement {
            ty: "announcement".into(),
            uuid: a.id.clone(),
            event_type: Some(if a.updated { "UPDATED" } else { "CREATED" }.into()),
            category: Some(a.category.clone()),
            title: Some(a.title.clone()),
            url: a.url.clone(),
            body: a.body.clone(),
            first_listed_at: a.first_listed_at.clone(),
            listed_at: a.listed_at.clone(),
            timestamp: a.timestamp,
            stream_type: Some("REALTIME".into()),
        }
    }

    /// The SIMPLE form (abbreviated keys) of this frame.
    pub fn simple(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        let mut put = |k: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v {
                o.insert(k.to_string(), v);
            }
        };
        let s = |v: &Option<String>| v.as_ref().map(|x| serde_json::Value::String(x.clone()));
        put("ty", Some(self.ty.clone().into()));
        put("uid", Some(self.uuid.clone().into()));
        put("et", s(&self.event_type));
        put("cat", s(&self.category));
        put("tt", s(&self.title));
        put("url", s(&self.url));
        put("bd", s(&self.body));
        put("flat", s(&self.first_listed_at));
        put("lat", s(&self.listed_at));
        put("tms", Some(self.timestamp.into()));
        put("st", s(&self.stream_type));
        serde_json::Value::Object(o)
    }
}

/// What a notice says about the markets it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Concern {
    /// A new listing (신규 거래지원, 디지털 자산 추가).
    Listing,
    /// Trading support ends (거래지원 종료).
    Delisting,
    /// Designated an investment warning (유의 종목 지정) or its period extended.
    Warning,
    /// A warning lifted (유의 종목 지정 해제).
    WarningLifted,
    /// About the market, nothing of the above (maintenance, deposits, an event).
    Other,
}

/// What a title says happens to the markets it names. Upbit's titles are Korean
/// (`[거래] 에이피아이쓰리(API3) 유의 종목 지정 안내`); English words are read too.
pub fn concern_of(title: &str) -> Concern {
    let t = title.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    // The weightier first: a notice that extends a warning and ends trading is a delisting.
    if has(&["거래지원 종료", "거래 지원 종료", "delist", "termination of trading"]) {
        Concern::Delisting
    } else if has(&["해제", "lifted", "released"]) && has(&["유의", "warning"]) {
        Concern::WarningLifted
    } else if has(&["유의", "investment warning", "warning designat"]) {
        Concern::Warning
    } else if has(&[
        "신규 거래지원",
        "신규 거래 지원",
        "디지털 자산 추가",
        "마켓 추가",
        "new listing",
        "listing",
    ]) {
        Concern::Listing
    } else {
        Concern::Other
    }
}

/// The currency codes a title names: `(API3)`, `(BTC, ETH)`, and market codes such as
/// `KRW-API3`. Upper-case letters and digits, 2 to 15 long; quote currencies named as a
/// market (`KRW 마켓`) are not coins and are left out unless written as a code's base.
pub fn currencies_in(title: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: &str| {
        let ok = (2..=15).contains(&c.len())
            && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && c.bytes().any(|b| b.is_ascii_uppercase());
        if ok && !out.iter().any(|x| x == c) {
            out.push(c.to_string());
        }
    };
    // Inside parentheses (full-width ones too).
    let norm = title.replace('（', "(").replace('）', ")");
    let mut rest = norm.as_str();
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(')') else { break };
        let group = &after[..close];
        // `(KRW, USDT 마켓)` names quote markets, not coins.
        if !(group.contains("마켓") || group.to_ascii_lowercase().contains("market")) {
            for part in group.split([',', '/', ' ', '·']) {
                push(part.trim());
            }
        }
        rest = &after[close + 1..];
    }
    // Market codes anywhere.
    for word in norm.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if let Some((quote, base)) = word.split_once('-')
            && matches!(quote, "KRW" | "BTC" | "USDT")
        {
            push(base);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DEFAULT frame with every field Upbit's reference lists
    /// (docs.upbit.com/kr/reference/websocket-announcement; the field set and the SIMPLE
    /// abbreviations as Upbit's own SDK, upbit-sdk 1.1.0, declares them).
    const DEFAULT_FRAME: &str = r#"{"type":"announcement","uuid":"0b6f6d3c-6c0a-4b5e-9a7e-3d1c2f8e9a10","event_type":"CREATED","category":"trade","title":"[거래] 에이피아이쓰리(API3) 유의 종목 지정 안내","url":"https://upbit.com/service_center/notice?id=5123","first_listed_at":"2026-09-01T14:00:00+09:00","listed_at":"2026-09-01T14:00:00+09:00","timestamp":1756702800123,"stream_type":"REALTIME"}"#;
    /// The same notice updated, in the SIMPLE format, with a body.
    const SIMPLE_FRAME: &str = r#"{"ty":"announcement","uid":"0b6f6d3c-6c0a-4b5e-9a7e-3d1c2f8e9a10","et":"UPDATED","cat":"trade","tt":"[거래] 에이피아이쓰리(API3) 유의 종목 지정 기간 연장 안내","url":"https://upbit.com/service_center/notice?id=5123","bd":"**안내**\n유의 종목 지정 기간이 연장되었습니다.","flat":"2026-09-01T14:00:00+09:00","lat":"2026-09-08T18:00:00+09:00","tms":1757322000456,"st":"REALTIME"}"#;

    #[test]
    fn the_documented_default_and_simple_frames_decode_to_the_same_notice() {
        let a: WireAnnouncement = serde_json::from_str(DEFAULT_FRAME).unwrap();
        let a = a.to_event().unwrap();
        assert_eq!(a.id, "0b6f6d3c-6c0a-4b5e-9a7e-3d1c2f8e9a10");
        assert!(!a.updated);
        assert_eq!(a.category, "trade");
        assert_eq!(a.timestamp, 1756702800123);
        assert_eq!(a.listed_at.as_deref(), Some("2026-09-01T14:00:00+09:00"));
        assert_eq!(a.body, None);
        let b: WireAnnouncement = serde_json::from_str(SIMPLE_FRAME).unwrap();
        let b = b.to_event().unwrap();
        assert_eq!(b.id, a.id, "an update names the notice it changes");
        assert!(b.updated);
        assert!(b.body.as_deref().is_some_and(|t| t.contains("연장")));
        assert_eq!(b.first_listed_at, a.first_listed_at);
    }

    #[test]
    fn unknown_categories_and_event_kinds_still_deliver_the_notice() {
        let raw = DEFAULT_FRAME
            .replace(r#""category":"trade""#, r#""category":"staking""#)
            .replace(r#""event_type":"CREATED""#, r#""event_type":"PINNED""#);
        let a = serde_json::from_str::<WireAnnouncement>(&raw).unwrap().to_event().unwrap();
        assert_eq!(a.category, "staking");
        assert!(!a.updated);
        let no_title = DEFAULT_FRAME.replace("[거래] 에이피아이쓰리(API3) 유의 종목 지정 안내", " ");
        assert!(serde_json::from_str::<WireAnnouncement>(&no_title).unwrap().to_event().is_err());
    }

    #[test]
    fn the_wire_form_round_trips_in_both_formats() {
        let a = serde_json::from_str::<WireAnnouncement>(SIMPLE_FRAME).unwrap().to_event().unwrap();
        let w = WireAnnouncement::from_event(&a);
        let back: WireAnnouncement = serde_json::from_value(w.simple()).unwrap();
        assert_eq!(back.to_event().unwrap(), a);
        let back: WireAnnouncement = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back.to_event().unwrap(), a);
    }

    #[test]
    fn titles_name_their_coins_and_what_happens_to_them() {
        assert_eq!(currencies_in("[거래] 에이피아이쓰리(API3) 유의 종목 지정 안내"), vec!["API3"]);
        assert_eq!(
            currencies_in("비트코인(BTC), 이더리움(ETH) KRW 마켓 디지털 자산 추가"),
            vec!["BTC", "ETH"]
        );
        assert_eq!(currencies_in("KRW-XRP 입출금 일시 중단 (점검)"), vec!["XRP"]);
        assert_eq!(currencies_in("(1/15 15:00) 서버 점검"), Vec::<String>::new());
        assert_eq!(currencies_in("하모니(ONE) 신규 거래지원 안내 (KRW, USDT 마켓)"), vec!["ONE"]);
        assert_eq!(concern_of("[거래] 에이피아이쓰리(API3) 유의 종목 지정 안내"), Concern::Warning);
        assert_eq!(
            concern_of("[거래] 에이피아이쓰리(API3) 유의 종목 지정 해제 안내"),
            Concern::WarningLifted
        );
        assert_eq!(concern_of("[거래] 엑스피디(XPD) 거래지원 종료 안내"), Concern::Delisting);
        assert_eq!(
            concern_of("[거래] 엑스피디(XPD) 유의 종목 지정 기간 연장 및 거래지원 종료 안내"),
            Concern::Delisting
        );
        assert_eq!(concern_of("[신규 거래지원] 하모니(ONE) KRW 마켓 디지털 자산 추가"), Concern::Listing);
        assert_eq!(concern_of("[점검] 서버 점검 안내"), Concern::Other);
    }
}
