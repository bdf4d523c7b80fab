//! A supervised loop that hands every message of a channel to a function: the shape of
//! every forwarder between two parts (the UI's commands onto the bus, the order manager's
//! facts and the monitor's exits onto the Trading lane).
//!
//! The receiver lives behind an async lock the running loop holds: a panic unwinds the
//! run and releases the lock, and the restarted run takes the same receiver again, so no
//! message is lost with the task.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{OnFailure, TaskId, TaskManager};

/// A channel's receiving end.
pub(crate) trait Inbox: Send + 'static {
    /// What it carries.
    type Item: Send + 'static;
    /// The next message; `None` once every sender is gone.
    fn next(&mut self) -> impl Future<Output = Option<Self::Item>> + Send;
}

impl<T: Send + 'static> Inbox for mpsc::Receiver<T> {
    type Item = T;
    fn next(&mut self) -> impl Future<Output = Option<T>> + Send {
        self.recv()
    }
}

impl<T: Send + 'static> Inbox for mpsc::UnboundedReceiver<T> {
    type Item = T;
    fn next(&mut self) -> impl Future<Output = Option<T>> + Send {
        self.recv()
    }
}

/// Spawns `component/name`, restarted on failure, calling `each` on every message of
/// `inbox` in order until the channel closes or the task is cancelled. An error from
/// `each` fails the run (and the supervisor restarts it; the message is not retried).
pub(crate) fn spawn_pump<I, F, Fut>(
    tasks: &TaskManager,
    component: &'static str,
    name: &'static str,
    inbox: I,
    each: F,
) -> TaskId
where
    I: Inbox,
    F: Fn(I::Item) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let inbox = Arc::new(tokio::sync::Mutex::new(inbox));
    let each = Arc::new(each);
    tasks.spawn_supervised(component, name, OnFailure::restart(), move |cancel| {
        let (inbox, each) = (inbox.clone(), each.clone());
        async move {
            let mut inbox = inbox.lock().await;
            loop {
                let item = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    item = inbox.next() => match item { Some(item) => item, None => return Ok(()) },
                };
                each(item).await?;
            }
        }
    })
}
