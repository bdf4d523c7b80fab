//! Trading intents as typed commands, and the typed replies they get.
//!
//! Every way of trading — the order form, the ladder, a command line, the portfolio's
//! protect key, a monitor exit, the kill switch, a cancel — ends as one [`TradeRequest`] on
//! the bus's Trading lane, numbered with the [`CorrelationId`] its sender minted. The
//! console's trading handler carries it out and answers with one [`TradeReply`] to the
//! [`Requester`]: accepted (with what was done), denied (a local reason: validation, the
//! risk gate, the trading state) or rejected (the exchange's reason, which can arrive after
//! the acceptance, when the venue refuses the order).

use crate::bus::CorrelationId;
use crate::exchange::types::MarketId;
use crate::trading::input::{CancelTarget, InputError, TradeCommand, UnarmTarget};
use crate::trading::manager::{Origin, PlaceSpec};
use crate::trading::rules::{AlertCondition, RuleKind};

/// Who sent a request, so its reply goes back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requester {
    /// The console (a key, the order form, a command line).
    Ui,
    /// The trading monitor (an exit of a rule that fired).
    Monitor,
}

impl Requester {
    /// Short label for the System pane.
    pub fn label(self) -> &'static str {
        match self {
            Requester::Ui => "ui",
            Requester::Monitor => "monitor",
        }
    }
}

/// One thing to do on the trading side.
#[derive(Debug, Clone, PartialEq)]
pub enum TradeIntent {
    /// Place an order.
    Place {
        /// What: an input from a command line, or a request in venue terms (form, ladder,
        /// monitor exit).
        spec: PlaceSpec,
        /// Who decided it (journal label, risk rules).
        origin: Origin,
        /// A fixed identifier (a monitor exit's deterministic one); `None` mints one.
        identifier: Option<String>,
        /// The market selected on screen, for inputs that name none.
        selected: Option<MarketId>,
    },
    /// Cancel one order, a market's, or all.
    Cancel(CancelTarget),
    /// The kill switch: trading HALTED, then every open order cancelled.
    Kill {
        /// Why (shown with the halt).
        why: String,
    },
    /// Arm a stop-loss, take-profit, trailing stop or OCO on a market. Its levels are
    /// absolute or from the average cost: a level typed relative to the last price is fixed
    /// to a price on the screen, where it was previewed, before it is sent.
    ArmRule {
        /// Market.
        market: MarketId,
        /// The rule.
        kind: RuleKind,
        /// Armed for a position not held yet (`future`): said so, not refused.
        future: bool,
    },
    /// Arm a price alert.
    ArmAlert {
        /// Market.
        market: MarketId,
        /// Condition.
        condition: AlertCondition,
    },
    /// Disarm rules.
    Unarm(UnarmTarget),
    /// Move assets between two pockets (resolved and confirmed on the screen).
    Transfer(PocketTransfer),
}

/// A transfer between pockets, with the pockets resolved to their UUIDs (and names, for
/// the words said about it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocketTransfer {
    /// Amount, exactly as typed.
    pub amount: rust_decimal::Decimal,
    /// Currency code.
    pub currency: String,
    /// Sending pocket's UUID.
    pub from: String,
    /// Its name.
    pub from_name: String,
    /// Receiving pocket's UUID.
    pub to: String,
    /// Its name.
    pub to_name: String,
}

impl PocketTransfer {
    /// `100,000 KRW from main to savings`: the amount in full, grouped (never rounded).
    pub fn describe(&self) -> String {
        format!(
            "{} {} from {} to {}",
            crate::exchange::display::quantity(self.amount),
            self.currency,
            self.from_name,
            self.to_name
        )
    }
}

/// A transfer line before its pockets are resolved (the screen knows the pockets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLine {
    /// Amount.
    pub amount: rust_decimal::Decimal,
    /// Currency.
    pub currency: String,
    /// Sending pocket as typed.
    pub from: String,
    /// Receiving pocket as typed.
    pub to: String,
}

impl TradeIntent {
    /// The market it names (or, for an order that names none, the one on screen).
    pub fn market(&self) -> Option<&MarketId> {
        match self {
            TradeIntent::Place { spec: PlaceSpec::Input(i), selected, .. } => {
                i.market.as_ref().or(selected.as_ref())
            }
            TradeIntent::Place { spec: PlaceSpec::Request(r), .. } => Some(&r.market),
            TradeIntent::Cancel(CancelTarget::Market(m))
            | TradeIntent::Unarm(UnarmTarget::Market(m))
            | TradeIntent::ArmRule { market: m, .. }
            | TradeIntent::ArmAlert { market: m, .. } => Some(m),
            TradeIntent::Cancel(_)
            | TradeIntent::Kill { .. }
            | TradeIntent::Unarm(_)
            | TradeIntent::Transfer(_) => None,
        }
    }

    /// A short description for the message line and the System pane: what was asked,
    /// never a figure that was not in the request.
    pub fn summary(&self) -> String {
        match self {
            TradeIntent::Place { spec, selected, .. } => match spec {
                // `:buy 0.01 @ …` names no market: it is for the one on screen.
                PlaceSpec::Input(i) => format!(
                    "{} {}",
                    i.side.label().to_lowercase(),
                    i.market.as_ref().or(selected.as_ref()).map_or("", |m| m.as_str())
                ),
                PlaceSpec::Request(r) => format!("{} {}", r.side.label().to_lowercase(), r.market),
            }
            .trim_end()
            .to_string(),
            TradeIntent::Cancel(CancelTarget::All) => "cancel all".into(),
            TradeIntent::Cancel(CancelTarget::Market(m)) => format!("cancel {m}"),
            TradeIntent::Cancel(CancelTarget::Order(id)) => format!("cancel {id}"),
            TradeIntent::Kill { .. } => "kill switch".into(),
            TradeIntent::ArmRule { market, kind, .. } => format!("{} {market}", rule_word(kind)),
            TradeIntent::ArmAlert { market, .. } => format!("alert {market}"),
            TradeIntent::Unarm(UnarmTarget::Market(m)) => format!("unarm {m}"),
            TradeIntent::Unarm(UnarmTarget::Rule(id)) => format!("unarm {id}"),
            TradeIntent::Unarm(UnarmTarget::All) => "unarm all".into(),
            TradeIntent::Transfer(t) => format!("transfer {}", t.describe()),
        }
    }
}

/// The command-line word of a rule kind.
fn rule_word(kind: &RuleKind) -> &'static str {
    match kind {
        RuleKind::StopLoss(_) => "stop",
        RuleKind::TakeProfit(_) => "tp",
        RuleKind::Trailing { .. } => "trail",
        RuleKind::Oco { .. } => "oco",
    }
}

/// A trading request on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeRequest {
    /// The sender's id for it; its reply carries the same.
    pub id: CorrelationId,
    /// Where the reply goes.
    pub from: Requester,
    /// What to do.
    pub intent: TradeIntent,
}

impl TradeRequest {
    /// A request from `from` with a fresh id.
    pub fn new(from: Requester, intent: TradeIntent) -> Self {
        TradeRequest { id: CorrelationId::mint(), from, intent }
    }
}

/// How a request ended (or, for an accepted order, how it stands now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out: the order journaled and being sent (its identifier), the rule armed, the
    /// cancel sent. An accepted order can still be rejected by the exchange later: that is
    /// a second reply, [`Outcome::Rejected`].
    Accepted(String),
    /// Refused here, before anything was sent: validation, the risk gate, the trading
    /// state, an unknown rule.
    Denied(String),
    /// Refused by the exchange, with its reason.
    Rejected(String),
    /// Config lane only: waiting for trading to be idle (why, and what it waits for).
    Held(String),
}

impl Outcome {
    /// True for the two refusals.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, Outcome::Denied(_) | Outcome::Rejected(_))
    }

    /// The word the message line and the System pane show.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Accepted(_) => "accepted",
            Outcome::Denied(_) => "denied",
            Outcome::Rejected(_) => "rejected",
            Outcome::Held(_) => "held",
        }
    }

    /// The detail or reason.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Accepted(s) | Outcome::Denied(s) | Outcome::Rejected(s) | Outcome::Held(s) => s,
        }
    }
}

/// The answer to one [`TradeRequest`] (or, with [`Outcome::Held`], to a config request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeReply {
    /// The request's id.
    pub id: CorrelationId,
    /// Who asked.
    pub to: Requester,
    /// What was asked ([`TradeIntent::summary`]).
    pub what: String,
    /// How it went.
    pub outcome: Outcome,
}

/// What a trading command line asks for once parsed: a trading request, or lifting a
/// halt (a safety request, not an order intent).
#[derive(Debug, Clone, PartialEq)]
pub enum LineIntent {
    /// An order intent for the Trading lane.
    Trade(TradeIntent),
    /// `:resume`, for the Safety lane.
    Resume,
    /// `:transfer`, for the screen to resolve its pockets and confirm.
    Transfer(TransferLine),
}

/// Parses a trading command line (without the `:`) into what it asks for. `selected` is
/// the market on screen, used by order lines that name none. A parse error names what was
/// wrong; nothing has been sent.
pub fn parse_line(line: &str, selected: Option<&MarketId>) -> Result<LineIntent, InputError> {
    let cmd = crate::trading::input::parse_command(line)?;
    Ok(match cmd {
        TradeCommand::Order(input) => LineIntent::Trade(TradeIntent::Place {
            spec: PlaceSpec::Input(input),
            origin: Origin::Manual,
            identifier: None,
            selected: selected.cloned(),
        }),
        TradeCommand::Cancel(target) => LineIntent::Trade(TradeIntent::Cancel(target)),
        TradeCommand::Stop { market, level, future } => {
            LineIntent::Trade(TradeIntent::ArmRule { market, kind: RuleKind::StopLoss(level), future })
        }
        TradeCommand::TakeProfit { market, level, future } => {
            LineIntent::Trade(TradeIntent::ArmRule { market, kind: RuleKind::TakeProfit(level), future })
        }
        TradeCommand::Trail { market, ratio, future } => LineIntent::Trade(TradeIntent::ArmRule {
            market,
            kind: RuleKind::Trailing { ratio, peak: None },
            future,
        }),
        TradeCommand::Oco { market, stop, take, future } => {
            LineIntent::Trade(TradeIntent::ArmRule { market, kind: RuleKind::Oco { stop, take }, future })
        }
        TradeCommand::Alert { market, condition } => {
            LineIntent::Trade(TradeIntent::ArmAlert { market, condition })
        }
        TradeCommand::Unarm(target) => LineIntent::Trade(TradeIntent::Unarm(target)),
        TradeCommand::Kill => {
            LineIntent::Trade(TradeIntent::Kill { why: "kill switch (command line)".into() })
        }
        TradeCommand::Resume => LineIntent::Resume,
        TradeCommand::Transfer { amount, currency, from, to } => {
            LineIntent::Transfer(TransferLine { amount, currency, from, to })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_becomes_a_typed_intent_with_the_selected_market() {
        let m = MarketId::new("KRW-BTC");
        match parse_line("buy 0.01 @ 95000000", Some(&m)).unwrap() {
            LineIntent::Trade(TradeIntent::Place { selected, origin, identifier, .. }) => {
                assert_eq!(selected, Some(m.clone()));
                assert_eq!(origin, Origin::Manual);
                assert_eq!(identifier, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_line("resume", None).unwrap(), LineIntent::Resume);
        assert!(matches!(parse_line("kill", None).unwrap(), LineIntent::Trade(TradeIntent::Kill { .. })));
        assert!(matches!(
            parse_line("stop KRW-BTC -3%", None).unwrap(),
            LineIntent::Trade(TradeIntent::ArmRule { kind: RuleKind::StopLoss(_), .. })
        ));
    }

    #[test]
    fn a_bad_line_is_an_error_not_a_request() {
        assert!(parse_line("buy", None).is_err());
        assert!(parse_line("frobnicate", None).is_err());
    }

    #[test]
    fn every_request_gets_its_own_id() {
        let a = TradeRequest::new(Requester::Ui, TradeIntent::Cancel(CancelTarget::All));
        let b = TradeRequest::new(Requester::Ui, TradeIntent::Cancel(CancelTarget::All));
        assert_ne!(a.id, b.id);
    }
}
