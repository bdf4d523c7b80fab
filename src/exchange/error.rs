//! Exchange-neutral errors: what a failed venue call means for the caller, whatever the
//! venue. An adapter maps its own errors onto these kinds (Upbit:
//! `From<UpbitError> for ExchangeError`); trading decides from the kind alone whether an
//! order may exist, whether trading must stop, and what to tell the person
//! (`exchange::venue::classify`).

/// How a venue call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection could not be made: not one byte of the request was sent.
    Connect,
    /// The request was never sent: it could not be built (bad URL, signing, no keys).
    NotSent,
    /// The request may have left and the answer was lost or unreadable (timeout, reset,
    /// 5xx, an HTML gateway page). A read may be repeated.
    Network,
    /// An order creation whose answer was lost: the order may exist, so it is looked up
    /// by its identifier, never sent again.
    UnknownOutcome,
    /// The venue refused this request definitively, for the reason it gave.
    Rejected,
    /// The venue refused our keys (unknown or expired key, missing permission, IP not
    /// allowed, bad signature): nothing signed will pass until the person fixes it.
    Auth,
    /// Rate limited: the venue's 429, or our limiter holding a paused group back.
    RateLimited,
    /// The venue banned this client for a while (Upbit: 418): no call goes out.
    Blocked,
}

/// A failed venue call. `Display` is the adapter's full description (venue, call,
/// reason, and a hint for authentication failures), so logs read as before.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExchangeError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The venue's error name, when it answered with one (`insufficient_funds_bid`,
    /// `out_of_scope`).
    pub code: Option<String>,
    /// HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    /// The reason in one line: the venue's own message for `Rejected` and `Auth`;
    /// `path: what failed` for `Connect` and `NotSent`; the detail otherwise.
    pub reason: String,
    /// The full description.
    pub message: String,
    /// For `Auth`: what the person should do about it.
    pub hint: Option<&'static str>,
}
