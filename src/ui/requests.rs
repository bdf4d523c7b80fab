//! What the UI sent and has not heard the end of: the requests it numbered, waiting for
//! their replies in the store (`snapshot.account.replies`).
//!
//! The store keeps the last replies in a ring, so the same reply is seen again on every
//! snapshot until it falls out, and a reply can fall out before the UI looked (a burst
//! of other replies). Replies are therefore matched by rank, not by position: a request
//! moves forward only (held → accepted → denied / rejected), so re-reading a reply is a
//! no-op, and a later answer that is read first still wins.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::bus::CorrelationId;
use crate::config::change::ConfigChange;
use crate::trading::intent::{Outcome, Requester, TradeReply};

/// Most requests followed at once. Far more than a person has in flight; past it the
/// oldest is forgotten (its reply is then not shown), answered ones first.
pub(crate) const REQUESTS_KEPT: usize = 32;

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
        self.sent.push_back(Sent { id, what: what.into(), change, shown: None });
        self.newest = Some(id);
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
    /// change accepted) is no longer followed.
    pub(crate) fn on_replies(&mut self, replies: &Arc<VecDeque<TradeReply>>) -> Vec<Answer> {
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

    fn reply(id: CorrelationId, outcome: Outcome) -> TradeReply {
        TradeReply { id, to: Requester::Ui, what: "x".into(), outcome }
    }

    #[test]
    fn a_reply_is_answered_once_and_a_later_rejection_still_comes_through() {
        let mut r = Requests::default();
        let id = CorrelationId::mint();
        r.track(id, "buy KRW-BTC", None);
        let mut ring = VecDeque::from([reply(id, Outcome::Accepted("o-1".into()))]);
        let answers = r.on_replies(&Arc::new(ring.clone()));
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].what, "buy KRW-BTC");
        // The same reply in a new ring: nothing new.
        assert!(r.on_replies(&Arc::new(ring.clone())).is_empty());
        ring.push_back(reply(id, Outcome::Rejected("insufficient funds".into())));
        let answers = r.on_replies(&Arc::new(ring.clone()));
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
        let answers = r.on_replies(&Arc::new(VecDeque::from([held.clone()])));
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].apply, None);
        let accepted = reply(id, Outcome::Accepted(String::new()));
        let answers = r.on_replies(&Arc::new(VecDeque::from([held.clone(), accepted.clone()])));
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].apply, Some(change));
        // Read again (the ring still holds both): not applied twice.
        assert!(r.on_replies(&Arc::new(VecDeque::from([held, accepted]))).is_empty());
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
        let answers = r.on_replies(&Arc::new(ring));
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
