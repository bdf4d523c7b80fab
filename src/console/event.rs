//! The console's bus message: what travels on the lanes between the UI, trading, the
//! kernel and the log.
//!
//! The UI's commands ride the Command lane (orders, cancels and the kill switch ride the
//! Trading lane, which never drops); log records the Logging lane (drop-oldest); task
//! failures and critical failures the Safety lane.

use crate::bus::{BusMessage, CriticalFailure, Lane};
use crate::kernel::TaskEvent;
use crate::logging::LogRecord;
use crate::ui::UiCommand;

/// One message on the console's bus.
#[derive(Debug)]
pub enum AppEvent {
    /// A command from the console (a key or the command line).
    Ui(UiCommand),
    /// A log record for the Log pane.
    Log(LogRecord),
    /// A kernel task failed, panicked or restarted.
    Task(TaskEvent),
    /// A handler gave up on a message after its retries.
    CriticalFailure(Box<CriticalFailure<AppEvent>>),
}

impl BusMessage for AppEvent {
    fn lane(&self) -> Lane {
        match self {
            AppEvent::Ui(cmd) => match cmd {
                UiCommand::PlaceOrder { .. }
                | UiCommand::CancelOrder { .. }
                | UiCommand::CancelAll { .. }
                | UiCommand::KillSwitch
                | UiCommand::Trade(_) => Lane::Trading,
                _ => Lane::Command,
            },
            AppEvent::Log(_) => Lane::Logging,
            AppEvent::Task(_) | AppEvent::CriticalFailure(_) => Lane::Safety,
        }
    }

    fn critical_failure(failure: CriticalFailure<Self>) -> Self {
        AppEvent::CriticalFailure(Box::new(failure))
    }
}
