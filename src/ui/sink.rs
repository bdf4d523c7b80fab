//! The UI's way out: [`command_channel`] makes the two channels the UI's commands travel
//! on to the console, which reads them with [`CommandSource::recv`] (urgent first).
//!
//! Trading, Safety and Config commands (an order, a cancel, the kill switch, `:resume`, a
//! config change) go on an unbounded channel and are never dropped. They share one channel
//! so they reach the console in the order they were typed: a `:set` typed after a `:buy`
//! finds that buy in flight at the change gate, never before it. Unbounded is safe here because the producer
//! is a person's keystrokes: a few commands a second at most, each from a key press the
//! UI loop has already handled, so the queue cannot grow faster than someone types, while
//! a bound would mean either dropping a kill switch or freezing the UI loop on a full
//! channel, both worse. Everything else (selection, timeframe, depth,
//! acknowledgements, quit) goes on a bounded channel the UI never waits on: a command
//! that does not fit is dropped, counted ([`CommandSink::dropped`]) and reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::update::UiCommand;
use crate::bus::Lane;

/// Capacity of the bounded channel for the UI's Command-lane commands: far
/// more than a person can type between two reads of the console's forwarder.
pub const COMMAND_CAPACITY: usize = 64;

/// A command that could not be sent (boxed: the error stays small on the path that
/// succeeds).
#[derive(Debug, thiserror::Error)]
pub enum Dropped {
    /// The bounded channel was full (never for Trading or Safety commands).
    #[error("busy, dropped {0:?}")]
    Full(Box<UiCommand>),
    /// Nobody reads the channel any more (shutdown).
    #[error("no handler, dropped {0:?}")]
    Closed(Box<UiCommand>),
}

impl Dropped {
    /// The command that was not sent.
    pub fn command(&self) -> &UiCommand {
        match self {
            Dropped::Full(c) | Dropped::Closed(c) => c,
        }
    }
}

/// The UI's sending end (cheap to clone; clones share the drop count).
#[derive(Debug, Clone)]
pub struct CommandSink {
    urgent: mpsc::UnboundedSender<UiCommand>,
    other: mpsc::Sender<UiCommand>,
    dropped: Arc<AtomicU64>,
}

/// The console's receiving end: read `urgent` before `other` ([`CommandSource::recv`]
/// does).
#[derive(Debug)]
pub struct CommandSource {
    /// Trading, Safety and Config commands, in the order typed, never dropped.
    pub(crate) urgent: mpsc::UnboundedReceiver<UiCommand>,
    /// The rest, bounded.
    pub other: mpsc::Receiver<UiCommand>,
}

/// The two channels between the UI and the console; `capacity` bounds the non-urgent one
/// (see [`COMMAND_CAPACITY`]).
pub fn command_channel(capacity: usize) -> (CommandSink, CommandSource) {
    let (urgent_tx, urgent) = mpsc::unbounded_channel();
    let (other_tx, other) = mpsc::channel(capacity.max(1));
    let sink = CommandSink { urgent: urgent_tx, other: other_tx, dropped: Arc::default() };
    (sink, CommandSource { urgent, other })
}

impl CommandSink {
    /// Sends a command without waiting: Trading, Safety and Config commands always fit; another
    /// one that does not fit is dropped and counted.
    pub fn send(&self, cmd: UiCommand) -> Result<(), Dropped> {
        let result = match cmd.lane() {
            Lane::Trading | Lane::Safety | Lane::Config => {
                self.urgent.send(cmd).map_err(|e| Dropped::Closed(Box::new(e.0)))
            }
            _ => self.other.try_send(cmd).map_err(|e| match e {
                mpsc::error::TrySendError::Full(c) => Dropped::Full(Box::new(c)),
                mpsc::error::TrySendError::Closed(c) => Dropped::Closed(Box::new(c)),
            }),
        };
        if result.is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Commands dropped so far (by this sink and its clones).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl CommandSource {
    /// The next command, Trading and Safety ones first; `None` once every sink is gone
    /// and both channels are empty. Cancel-safe (a command is never lost by dropping the
    /// future).
    pub async fn recv(&mut self) -> Option<UiCommand> {
        tokio::select! {
            biased;
            Some(cmd) = self.urgent.recv() => Some(cmd),
            Some(cmd) = self.other.recv() => Some(cmd),
            else => None,
        }
    }

    /// A command already waiting, urgent first, without waiting (tests, draining).
    pub fn try_recv(&mut self) -> Option<UiCommand> {
        self.urgent.try_recv().or_else(|_| self.other.try_recv()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::Timeframe;
    use crate::trading::intent::{Requester, TradeIntent, TradeRequest};

    #[tokio::test]
    async fn a_kill_switch_behind_a_flood_of_commands_is_never_dropped_and_comes_first() {
        let (sink, mut source) = command_channel(COMMAND_CAPACITY);
        for _ in 0..10_000 {
            let _ = sink.send(UiCommand::SetTimeframe(Timeframe::M1));
        }
        assert_eq!(sink.dropped(), 10_000 - COMMAND_CAPACITY as u64, "the bounded lane drops");
        let kill = TradeRequest::new(Requester::Ui, TradeIntent::Kill { why: "kill switch".into() });
        sink.send(UiCommand::Trade(kill.clone())).expect("a trading command always fits");
        let resume = crate::bus::CorrelationId::mint();
        sink.send(UiCommand::Resume(resume)).expect("a safety command always fits");
        assert_eq!(sink.dropped(), 10_000 - COMMAND_CAPACITY as u64, "nothing urgent dropped");
        // Read in priority order: the urgent ones before the flood.
        assert_eq!(source.recv().await, Some(UiCommand::Trade(kill)));
        assert_eq!(source.recv().await, Some(UiCommand::Resume(resume)));
        let mut rest = 0;
        drop(sink);
        while let Some(cmd) = source.recv().await {
            assert_eq!(cmd.lane(), Lane::Command);
            rest += 1;
        }
        assert_eq!(rest, COMMAND_CAPACITY);
    }

    #[test]
    fn a_closed_console_is_reported_not_hidden() {
        let (sink, source) = command_channel(4);
        drop(source);
        let err = sink.send(UiCommand::Quit).unwrap_err();
        assert!(matches!(&err, Dropped::Closed(c) if **c == UiCommand::Quit));
        assert_eq!(err.command(), &UiCommand::Quit);
        assert!(err.to_string().contains("no handler"));
        assert_eq!(sink.dropped(), 1);
    }
}
