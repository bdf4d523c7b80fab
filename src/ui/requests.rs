//! What the UI sent and has not heard the end of: the requests it numbered, waiting for
//! their replies in the store (`snapshot.account.replies`).
//!
//! The store keeps the last replies in a ring, so the same reply is seen again on every
//! snapshot until it falls out, and a reply can fall out before the UI looked (a burst
//! of other replies). Replies are therefore matched by rank, not by position: a request
//! moves forward only (held → accepted → denied / rejected), so re-reading a reply is a
//! no-op, and a later answer that is read first still wins.
//!
//! An order that was refused (denied here, rejected by the exchange) is also kept, with
//! its reason, for the Orders pane: the message line moves on, the pane remembers.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::bus::CorrelationId;
use crate::config::change::ConfigChange;
use crate::exchange::types::{MarketId, OrderType, Side};
use crate::trading::input::{PriceSpec, Size};
use crate::trading::intent::{Outcome, Requester, TradeIntent, TradeReply};
use crate::trading::manager::PlaceSpec;
use crate::ui::widgets::format;

/// Most requests followed at once. Far more than a person has in flight; past it the
/// oldest is forgotten (its reply is then not shown), answered ones first.
pub(crate) const REQUESTS_KEPT: usize = 32;

/// Refused orders kept for the Orders pane, newest first.
pub(crate) const REFUSALS_KEPT: usize = 20;

/// An order as it was asked for, in the words of the Orders pane: `buy KRW-BTC 0.001 @
/// 145,000,000`. Only what the request said: a size by amount or percent stays so (it was
/// never sized into a quantity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDesc {
    /// Buy or sell.
    pub side: Side,
    /// The market (the one on screen when the line named none).
    pub market: Option<MarketId>,
    /// The size as asked: a quantity, `100,000 KRW` or `50%`.
    pub size: String,
    /// The price as asked: a limit price at the tick's precision, `market` or `best`.
    pub price: String,
}

/// Decimals a size as asked is printed with: all of them (a `Decimal` holds at most 28).
/// A size finer than the exchange's 8 decimals is what got it refused, and must not print
/// as `0` (`0.000000001`, never `0`).
const ASKED: u32 = 28;

impl OrderDesc {
    /// The order an intent places, if it places one.
    pub(crate) fn of(intent: &TradeIntent) -> Option<OrderDesc> {
        let TradeIntent::Place { spec, selected, .. } = intent else { return None };
        Some(match spec {
            PlaceSpec::Request(r) => {
                let quote = r.market.quote();
                let (size, price) = match r.ord_type {
                    // A market buy's `price` is the amount it spends.
                    OrderType::Price => {
                        (r.price.map(|a| format!("{} {quote}", format::amount(a, quote))), "market".into())
                    }
                    OrderType::Best if r.volume.is_none() => {
                        (r.price.map(|a| format!("{} {quote}", format::amount(a, quote))), "best".into())
                    }
                    OrderType::Best => (r.volume.map(|v| format::qty(v, ASKED)), "best".into()),
                    OrderType::Market => (r.volume.map(|v| format::qty(v, ASKED)), "market".into()),
                    OrderType::Limit | OrderType::Other(_) => (
                        r.volume.map(|v| format::qty(v, ASKED)),
                        r.price.map(format::price).unwrap_or_else(|| "?".into()),
                    ),
                };
                OrderDesc {
                    side: r.side,
                    market: Some(r.market.clone()),
                    size: size.unwrap_or_default(),
                    price,
                }
            }
            PlaceSpec::Input(i) => {
                let market = i.market.clone().or_else(|| selected.clone());
                let quote = market.as_ref().map_or("KRW", |m| m.quote()).to_string();
                let size = match i.size {
                    Size::Qty(q) => format::qty(q, ASKED),
                    Size::Quote(a) => format!("{} {quote}", format::amount(a, &quote)),
                    Size::Percent(p) => format!("{}%", p.normalize()),
                };
                let price = match i.price {
                    PriceSpec::Limit(p) => format::price(p),
                    PriceSpec::Market => "market".into(),
                    PriceSpec::Best => "best".into(),
                };
                OrderDesc { side: i.side, market, size, price }
            }
        })
    }

    /// `buy KRW-BTC 0.001 @ 145,000,000`.
    pub fn text(&self) -> String {
        format!(
            "{} {} {} @ {}",
            self.side.label().to_lowercase(),
            self.market.as_ref().map_or("", |m| m.as_str()),
            self.size,
            self.price
        )
    }
}

/// An order that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The request's id.
    pub id: CorrelationId,
    /// When the refusal was read (the UI's wall clock).
    pub at: DateTime<Utc>,
    /// The order asked for.
    pub order: OrderDesc,
    /// Refused by the exchange (`rejected`), or here before anything was sent (`denied`).
    pub rejected: bool,
    /// The reason, in full.
    pub reason: String,
}

impl Refusal {
    /// `denied` or `rejected`.
    pub fn word(&self) -> &'static str {
        if self.rejected { "rejected" } else { "denied" }
    }
}

/// One request sent and followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Its id.
    pub id: CorrelationId,
    /// What was asked, for the message line (`buy KRW-BTC`, `theme light`).
    pub what: String,
    /// A config change, applied by the UI once accepted (theme, layout, keymap).
    pub change: Option<ConfigChange>,
    /// The last answer shown for it.
    pub shown: Option<Outcome>,
    /// The order it places, if it places one (kept when it is refused).
    pub order: Option<OrderDesc>,
}

/// A reply that moved a request forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The request's id.
    pub id: CorrelationId,
    /// What was asked.
    pub what: String,
    /// The answer.
    pub outcome: Outcome,
    /// The config change, on its accepted answer only.
    pub apply: Option<ConfigChange>,
}

/// The requests the UI follows, oldest first, at most [`REQUESTS_KEPT`].
#[derive(Debug, Clone, Default)]
pub struct Requests {
    sent: VecDeque<Sent>,
    /// The reply ring read last: an unchanged ring (the same `Arc`) is not read again.
    read: Option<Arc<VecDeque<TradeReply>>>,
    /// The newest request made: the message line tells its story only.
    newest: Option<CorrelationId>,
    /// Refused orders, newest first, at most [`REFUSALS_KEPT`].
    refused: VecDeque<Refusal>,
}

/// How far along an answer is: a request only moves forward.
fn rank(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Held(_) => 0,
        Outcome::Accepted(_) => 1,
        Outcome::Denied(_) | Outcome::Rejected(_) => 2,
    }
}

impl Requests {
    /// Follows a request just made. `change` is the config change to apply once accepted.
    pub(crate) fn track(&mut self, id: CorrelationId, what: impl Into<String>, change: Option<ConfigChange>) {
        if self.sent.len() >= REQUESTS_KEPT {
            // Forget an answered one first: one still unanswered may yet say something.
            let i = self.sent.iter().position(|s| s.shown.is_some()).unwrap_or(0);
            self.sent.remove(i);
        }
        self.sent.push_back(Sent { id, what: what.into(), change, shown: None, order: None });
        self.newest = Some(id);
    }

    /// Notes the order a followed request places, so a refusal can be listed with it.
    pub(crate) fn describe(&mut self, id: CorrelationId, order: OrderDesc) {
        if let Some(s) = self.sent.iter_mut().find(|s| s.id == id) {
            s.order = Some(order);
        }
    }

    /// The refused orders, newest first.
    pub fn refused(&self) -> impl ExactSizeIterator<Item = &Refusal> {
        self.refused.iter()
    }

    /// The newest request made (answered or not).
    pub(crate) fn newest(&self) -> Option<CorrelationId> {
        self.newest
    }

    /// Stops following a request (it never left the UI).
    pub(crate) fn forget(&mut self, id: CorrelationId) {
        self.sent.retain(|s| s.id != id);
    }

    /// The requests followed, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Sent> {
        self.sent.iter()
    }

    /// The config change a request carries, if it is followed and carries one.
    pub fn change(&self, id: CorrelationId) -> Option<&ConfigChange> {
        self.sent.iter().find(|s| s.id == id)?.change.as_ref()
    }

    /// Reads the store's reply ring and returns, oldest first, the replies that moved one
    /// of our requests forward. A request whose story is over (refused, or a config
    /// change accepted) is no longer followed; a refused order is kept in
    /// [`Requests::refused`], stamped `now`.
    pub(crate) fn on_replies(
        &mut self,
        replies: &Arc<VecDeque<TradeReply>>,
        now: DateTime<Utc>,
    ) -> Vec<Answer> {
        if self.read.as_ref().is_some_and(|r| Arc::ptr_eq(r, replies)) {
            return Vec::new();
        }
        self.read = Some(replies.clone());
        let mut answers = Vec::new();
        for reply in replies.iter().filter(|r| r.to == Requester::Ui) {
            let Some(i) = self.sent.iter().position(|s| s.id == reply.id) else { continue };
            let sent = &mut self.sent[i];
            let news = match &sent.shown {
                None => true,
                // A held change can be held again for another reason.
                Some(shown) => {
                    rank(&reply.outcome) > rank(shown)
                        || (matches!(shown, Outcome::Held(_)) && shown != &reply.outcome)
                }
            };
            if !news {
                continue;
            }
            sent.shown = Some(reply.outcome.clone());
            let accepted = matches!(reply.outcome, Outcome::Accepted(_));
            let apply = if accepted { sent.change.clone() } else { None };
            answers.push(Answer {
                id: sent.id,
                what: sent.what.clone(),
                outcome: reply.outcome.clone(),
                apply,
            });
            if let (Some(order), Outcome::Denied(why) | Outcome::Rejected(why)) =
                (&sent.order, &reply.outcome)
            {
                self.refused.push_front(Refusal {
                    id: sent.id,
                    at: now,
                    order: order.clone(),
                    rejected: matches!(reply.outcome, Outcome::Rejected(_)),
                    reason: why.clone(),
                });
                self.refused.truncate(REFUSALS_KEPT);
            }
            let over = reply.outcome.is_refusal() || (accepted && sent.change.is_some());
            if over {
                self.sent.remove(i);
            }
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn reply(id: CorrelationId, outcome: Outcome) -> TradeReply {
        TradeReply { id, to: Requester::Ui, what: "x".into(), outcome }
    }

    #[test]
    fn a_reply_is_answered_once_and_a_later_rejection_still_comes_through() {
        let mut r = Requests::default();
        let id = CorrelationId::mint();
        r.track(id, "buy KRW-BTC", None);
        let mut ring = VecDeque::from([reply(id, Outcome::Accepted("o-1".into()))]);
        let answers = r.on_replies(&Arc::new(ring.clone()), Utc::now());
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].what, "buy KRW-BTC");
        // The same reply in a new ring: nothing new.
        assert!(r.on_replies(&Arc::new(ring.clone()), Utc::now()).is_empty());
        ring.push_back(reply(id, Outcome::Rejected("insufficient funds".into())));
        let answers = r.on_replies(&Arc::new(ring.clone()), Utc::now());
        assert_eq!(
            answers.iter().map(|a| &a.outcome).collect::<Vec<_>>(),
            [&Outcome::Rejected("insufficient funds".into())]
        );
        // Refused: no longer followed.
        assert_eq!(r.iter().count(), 0);
    }

    #[test]
    fn a_held_change_is_applied_when_accepted_and_only_then() {
        let mut r = Requests::default();
        let id = CorrelationId::mint();
        let change = ConfigChange::Theme("light".into());
        r.track(id, "theme light", Some(change.clone()));
        let held = reply(id, Outcome::Held("1 order in flight".into()));
        let answers = r.on_replies(&Arc::new(VecDeque::from([held.clone()])), Utc::now());
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].apply, None);
        let accepted = reply(id, Outcome::Accepted(String::new()));
        let answers = r.on_replies(&Arc::new(VecDeque::from([held.clone(), accepted.clone()])), Utc::now());
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].apply, Some(change));
        // Read again (the ring still holds both): not applied twice.
        assert!(r.on_replies(&Arc::new(VecDeque::from([held, accepted])), Utc::now()).is_empty());
    }

    /// Issue 17 item 3: a refused order is kept with its reason for the Orders pane,
    /// newest first and bounded; a refused config change or cancel is not an order.
    #[test]
    fn refused_orders_are_kept_with_their_reason_newest_first() {
        use crate::trading::orders::OrderRequest;
        use rust_decimal_macros::dec;
        let mut r = Requests::default();
        let place = |price| {
            let req = OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, price, dec!(0.001));
            TradeIntent::Place {
                spec: PlaceSpec::Request(req),
                origin: crate::trading::manager::Origin::Ladder,
                identifier: None,
                selected: None,
            }
        };
        let mut ring = VecDeque::new();
        for i in 0..REFUSALS_KEPT + 2 {
            let id = CorrelationId::mint();
            r.track(id, "buy KRW-BTC", None);
            r.describe(id, OrderDesc::of(&place(dec!(145_000_000) + Decimal::from(i))).unwrap());
            ring.push_back(reply(id, Outcome::Denied(format!("max open orders (3) reached #{i}"))));
        }
        let cancel = CorrelationId::mint();
        r.track(cancel, "cancel all", None);
        ring.push_back(reply(cancel, Outcome::Denied("halted".into())));
        let last = CorrelationId::mint();
        r.track(last, "buy KRW-BTC", None);
        r.describe(last, OrderDesc::of(&place(dec!(145_000_000))).unwrap());
        ring.push_back(reply(last, Outcome::Rejected("insufficient_funds_bid".into())));
        r.on_replies(&Arc::new(ring), Utc::now());
        assert_eq!(r.refused().len(), REFUSALS_KEPT);
        let newest = r.refused().next().unwrap();
        assert_eq!(newest.word(), "rejected");
        assert_eq!(newest.order.text(), "buy KRW-BTC 0.001 @ 145,000,000");
        assert_eq!(newest.reason, "insufficient_funds_bid");
        let second = r.refused().nth(1).unwrap();
        assert_eq!((second.word(), second.reason.as_str()), ("denied", "max open orders (3) reached #21"));
    }

    #[test]
    fn followed_requests_are_bounded_and_answered_ones_go_first() {
        let mut r = Requests::default();
        let first = CorrelationId::mint();
        r.track(first, "cancel all", None);
        let answered = CorrelationId::mint();
        r.track(answered, "buy KRW-BTC", None);
        // Replies to other requesters and unknown ids are ignored.
        let other = TradeReply { to: Requester::Monitor, ..reply(first, Outcome::Denied("no".into())) };
        let unknown = reply(CorrelationId::mint(), Outcome::Denied("no".into()));
        let ring = VecDeque::from([reply(answered, Outcome::Accepted("o".into())), other, unknown]);
        let answers = r.on_replies(&Arc::new(ring), Utc::now());
        assert_eq!(answers.iter().map(|a| a.id).collect::<Vec<_>>(), [answered]);
        for _ in 0..REQUESTS_KEPT - 2 {
            r.track(CorrelationId::mint(), "sell KRW-BTC", None);
        }
        assert_eq!(r.iter().count(), REQUESTS_KEPT);
        r.track(CorrelationId::mint(), "sell KRW-BTC", None);
        assert_eq!(r.iter().count(), REQUESTS_KEPT);
        assert!(r.iter().all(|s| s.id != answered), "the answered one goes first");
        assert!(r.iter().any(|s| s.id == first), "the unanswered one stays");
        for _ in 0..REQUESTS_KEPT * 3 {
            r.track(CorrelationId::mint(), "sell KRW-BTC", None);
        }
        assert_eq!(r.iter().count(), REQUESTS_KEPT);
    }
}
