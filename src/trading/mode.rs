//! Trading modes: which venue orders go to, and the arm step of live mode.
//!
//! - demo: the venue of [`Active`] over a REST client pointed at the embedded simulator
//!   (the same client code as live; only the base URL and the demo account's keys differ);
//! - paper: [`PaperVenue`], a local engine fed with real prices; no REST client exists
//!   in this mode's venue, so no write endpoint can be called;
//! - live: the venue of [`Active`] against the exchange, only with `mode = "live"` in the
//!   config, keys, and a [`LiveArm`] token that only [`arm_prompt`] hands out after the
//!   person typed `LIVE` (docs/RELIABILITY.md case 39, security checklist "explicit
//!   confirmation").

use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::config::Mode;
use crate::exchange::error::ExchangeError;
use crate::exchange::{Active, Exchange};
use crate::trading::credentials::ApiKeys;
use crate::trading::journal::JournalOptions;
use crate::trading::paper::{PaperConfig, PaperVenue};
use crate::trading::venue::OrderVenue;

/// REST settings of the venue this build trades on.
type RestConfig = <Active as Exchange>::RestConfig;
/// Its REST client.
type RestClient = <Active as Exchange>::Rest;

/// What the person must type to arm live trading.
pub(crate) const ARM_PHRASE: &str = "LIVE";

/// Why a mode cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    /// Live requested without `mode = "live"` in the configuration.
    #[error("live trading needs mode = \"live\" in the config file (currently {0})")]
    LiveNotConfigured(&'static str),
    /// A mode that places orders on a REST venue has no keys.
    #[error(
        "{0} mode needs API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY, or write them to a 0600 credentials file"
    )]
    NoKeys(&'static str),
    /// The arm step was not passed.
    #[error("live trading not armed: you typed {typed:?}, not {ARM_PHRASE}")]
    NotArmed {
        /// What was typed (trimmed, at most 20 characters).
        typed: String,
    },
    /// Reading the answer failed.
    #[error("arm step: {0}")]
    Io(#[from] std::io::Error),
    /// The REST client could not be built.
    #[error(transparent)]
    Rest(#[from] ExchangeError),
}

/// Proof that the person armed live trading this session. Only [`arm_prompt`] makes one.
#[derive(Debug, Clone)]
pub struct LiveArm {
    at: chrono::DateTime<chrono::Utc>,
}

impl LiveArm {
    /// When it was armed.
    pub fn at(&self) -> chrono::DateTime<chrono::Utc> {
        self.at
    }
}

/// The live arm step, run before the console takes the terminal: checks the
/// config mode and the keys, prints what is about to happen, and reads one line. Only
/// exactly `LIVE` arms. `config_mode` is the mode from the config file.
pub fn arm_prompt<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
    config_mode: Mode,
    keys: Option<&ApiKeys>,
) -> Result<LiveArm, ModeError> {
    if config_mode != Mode::Live {
        return Err(ModeError::LiveNotConfigured(config_mode.as_str()));
    }
    let keys = keys.ok_or(ModeError::NoKeys("live"))?;
    let masked = keys.masked_access_key();
    writeln!(output, "hoga is about to trade LIVE on {} with API key {masked}.", Active::NAME)?;
    writeln!(output, "Orders are real and spend real money. Every manual order asks for confirmation.")?;
    write!(output, "Type {ARM_PHRASE} to continue (anything else quits): ")?;
    output.flush()?;
    let mut line = String::new();
    input.read_line(&mut line)?;
    let typed = line.trim_end_matches(['\r', '\n']);
    if typed != ARM_PHRASE {
        return Err(ModeError::NotArmed { typed: typed.trim().chars().take(20).collect() });
    }
    writeln!(output, "LIVE trading armed.")?;
    Ok(LiveArm { at: chrono::Utc::now() })
}

/// Journal options for a mode: live refuses a missing or corrupt journal unless the
/// person explicitly allowed a fresh one.
pub(crate) fn journal_options(mode: Mode, allow_fresh: bool) -> JournalOptions {
    JournalOptions { live: mode == Mode::Live, allow_fresh, ..JournalOptions::default() }
}

/// What to build a venue from.
#[derive(Debug, Clone, Default)]
pub struct VenueParams {
    /// REST settings (demo: the simulator's base URL; live: the exchange's).
    pub rest: RestConfig,
    /// Keys (demo: the simulator's demo account; live: the user's). Ignored in paper.
    pub keys: Option<ApiKeys>,
    /// Paper account.
    pub paper: PaperConfig,
    /// The arm token (live only).
    pub arm: Option<LiveArm>,
}

/// The venue of a mode, plus the concrete parts the console wires elsewhere.
#[derive(Clone)]
pub struct BuiltVenue {
    /// The mode.
    pub mode: Mode,
    /// What the order manager talks to.
    pub venue: Arc<dyn OrderVenue>,
    /// Paper mode: the engine to feed prices into (`on_ticker` / `on_orderbook`).
    pub paper: Option<PaperVenue>,
    /// Demo/live: the authenticated REST client (for balances, chance, the private stream).
    pub rest: Option<Arc<RestClient>>,
}

impl std::fmt::Debug for BuiltVenue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltVenue").field("mode", &self.mode).field("venue", &self.venue.name()).finish()
    }
}

/// Builds the venue for `mode`. Live needs the [`LiveArm`] from [`arm_prompt`].
pub fn build_venue(mode: Mode, params: VenueParams) -> Result<BuiltVenue, ModeError> {
    match mode {
        Mode::Paper => {
            let paper = PaperVenue::new(params.paper);
            Ok(BuiltVenue { mode, venue: Arc::new(paper.clone()), paper: Some(paper), rest: None })
        }
        Mode::Demo | Mode::Live => {
            if mode == Mode::Live && params.arm.is_none() {
                return Err(ModeError::NotArmed { typed: String::new() });
            }
            let keys = params.keys.ok_or(ModeError::NoKeys(mode.as_str()))?;
            let rest = Arc::new(Active::connect_rest(params.rest, Some(keys.to_credentials()))?);
            if mode == Mode::Live {
                tracing::warn!(key = %keys.masked_access_key(), base = %rest.base_url(), "LIVE trading venue");
            }
            Ok(BuiltVenue { mode, venue: Active::order_venue(rest.clone()), paper: None, rest: Some(rest) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trading::credentials::KeySource;

    fn keys() -> ApiKeys {
        ApiKeys::new("abcdefghijklmnop", "s3cr3t-s3cr3t", KeySource::Env)
    }

    #[test]
    fn only_the_exact_phrase_arms_and_only_in_live_config() {
        let mut out = Vec::new();
        let arm = arm_prompt(&b"LIVE\n"[..], &mut out, Mode::Live, Some(&keys())).unwrap();
        assert!(arm.at() <= chrono::Utc::now());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("abcd…mnop") && !text.contains("s3cr3t"), "{text}");
        for typed in ["live\n", "LIVE \n", "yes\n", "\n", ""] {
            assert!(
                matches!(
                    arm_prompt(typed.as_bytes(), Vec::new(), Mode::Live, Some(&keys())),
                    Err(ModeError::NotArmed { .. })
                ),
                "{typed:?}"
            );
        }
        assert!(matches!(
            arm_prompt(&b"LIVE\n"[..], Vec::new(), Mode::Demo, Some(&keys())),
            Err(ModeError::LiveNotConfigured("demo"))
        ));
        assert!(matches!(
            arm_prompt(&b"LIVE\n"[..], Vec::new(), Mode::Live, None),
            Err(ModeError::NoKeys(_))
        ));
    }

    #[test]
    fn live_venue_needs_the_arm_token_and_paper_needs_nothing() {
        let p = VenueParams { keys: Some(keys()), ..VenueParams::default() };
        assert!(matches!(build_venue(Mode::Live, p.clone()), Err(ModeError::NotArmed { .. })));
        let paper = build_venue(Mode::Paper, VenueParams::default()).unwrap();
        assert_eq!(paper.venue.name(), "paper");
        assert!(paper.rest.is_none());
        assert!(matches!(build_venue(Mode::Demo, VenueParams::default()), Err(ModeError::NoKeys("demo"))));
    }
}
