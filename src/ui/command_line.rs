//! The `:` command line: input buffer, history, Tab completion, and what a line means
//! ([`parse`]). Trading lines are handed on as text to `trading::intent::parse_line`.

use std::str::FromStr;

use crate::config::change::{ConfigChange, parse_set};
use crate::exchange::types::{MarketId, Timeframe};

/// Verbs of trading lines ([`Parsed::Trade`]), for the trading parser.
pub(crate) const TRADE_VERBS: [&str; 12] =
    ["buy", "sell", "cancel", "stop", "tp", "trail", "alert", "oco", "kill", "resume", "unarm", "transfer"];

/// Most history entries kept.
pub(crate) const HISTORY_MAX: usize = 200;

/// The command line's editing state. `input` excludes the leading `:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// Text typed so far.
    pub input: String,
    /// Position in `history` while browsing (None = editing a new line).
    pub(crate) browsing: Option<usize>,
    /// The choices Tab found for the last word, shown above the line until it is edited.
    pub completion: Option<Completion>,
}

/// Tab completion in progress: each further Tab puts the next choice on the line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The line before the word being completed.
    pub head: String,
    /// The choices for the word.
    pub candidates: Vec<String>,
    /// The choice on the line (None: listed, none chosen yet).
    pub selected: Option<usize>,
}

/// Commands entered before, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Entries, oldest first.
    pub entries: Vec<String>,
}

impl History {
    /// Records an entry (skipping an immediate repeat).
    pub fn push(&mut self, line: &str) {
        if line.trim().is_empty() || self.entries.last().map(String::as_str) == Some(line) {
            return;
        }
        self.entries.push(line.to_string());
        if self.entries.len() > HISTORY_MAX {
            self.entries.remove(0);
        }
    }
}

impl CommandLine {
    /// Steps back in history (Up).
    pub(crate) fn history_prev(&mut self, h: &History) {
        if h.entries.is_empty() {
            return;
        }
        let i = match self.browsing {
            None => h.entries.len() - 1,
            Some(i) => i.saturating_sub(1),
        };
        self.browsing = Some(i);
        self.input = h.entries[i].clone();
    }

    /// Steps forward in history (Down); past the newest entry the line is empty again.
    pub(crate) fn history_next(&mut self, h: &History) {
        match self.browsing {
            Some(i) if i + 1 < h.entries.len() => {
                self.browsing = Some(i + 1);
                self.input = h.entries[i + 1].clone();
            }
            Some(_) => {
                self.browsing = None;
                self.input.clear();
            }
            None => {}
        }
    }

    /// Tab: completes the last word from `candidates` (given the words before it). One
    /// match is taken with a space after it; several are listed ([`CommandLine::completion`])
    /// and the word grows to their common prefix, or, when it cannot grow, takes the first;
    /// a repeated Tab takes the next, round.
    pub fn complete(&mut self, candidates: &dyn Fn(&[&str]) -> Vec<String>) {
        if let Some(c) = self.completion.as_mut().filter(|c| !c.candidates.is_empty()) {
            let next = c.selected.map_or(0, |i| (i + 1) % c.candidates.len());
            c.selected = Some(next);
            self.input = format!("{}{}", c.head, c.candidates[next]);
            return;
        }
        let (head, word) = match self.input.rfind(' ') {
            Some(i) => (self.input[..=i].to_string(), self.input[i + 1..].to_string()),
            None => (String::new(), self.input.clone()),
        };
        let before: Vec<&str> = head.split_whitespace().collect();
        let mut matches: Vec<String> = Vec::new();
        for c in candidates(&before) {
            if crate::ui::commands::matches(&c, &word) && !matches.contains(&c) {
                matches.push(c);
            }
        }
        self.completion = None;
        match matches.as_slice() {
            [] => {}
            [one] => self.input = format!("{head}{one} "),
            many => {
                let lower = word.to_ascii_lowercase();
                let prefix = common_prefix(many);
                let selected = if prefix.len() > word.len() && prefix.to_ascii_lowercase().starts_with(&lower)
                {
                    self.input = format!("{head}{prefix}");
                    None
                } else {
                    self.input = format!("{head}{}", many[0]);
                    Some(0)
                };
                self.completion = Some(Completion { head, candidates: matches, selected });
            }
        }
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut len = first.len();
    for w in &words[1..] {
        len = len.min(
            first
                .chars()
                .zip(w.chars())
                .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
                .map(|(a, _)| a.len_utf8())
                .sum(),
        );
    }
    first[..len].to_string()
}

/// What `:ind` asks of the chart's studies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudyCommand {
    /// `:ind`: say which are shown.
    List,
    /// `:ind add rsi 14`.
    Add(crate::indicators::series::Study),
    /// `:ind rm ema 50` (the words after `rm`: a kind alone names the one of that kind).
    Remove(Vec<String>),
    /// `:ind clear`: none.
    Clear,
}

/// What a command line means to the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Show a market.
    Market(MarketId),
    /// Change the chart timeframe.
    Timeframe(Timeframe),
    /// `:ind`: the chart's studies.
    Studies(StudyCommand),
    /// `:compare`: the markets drawn beside the shown one (empty: none).
    Compare(Vec<MarketId>),
    /// Switch theme.
    Theme(String),
    /// Switch to a named layout.
    Layout(String),
    /// Save the current layout under a name.
    SaveLayout(String),
    /// Remove a saved layout.
    RemoveLayout(String),
    /// List the built-in and saved layouts.
    ListLayouts,
    /// A config change: `:set key value` (`:set!`: cannot wait), `:reload keymap`.
    Config {
        /// The change.
        change: ConfigChange,
        /// False for `:set!`: refused rather than held while orders are in flight.
        can_wait: bool,
    },
    /// `:venue NAME`: show that venue's markets; `:venue` alone: say which is shown.
    Venue(Option<crate::exchange::VenueId>),
    /// Quit (with confirmation when something is at stake).
    Quit,
    /// Show help.
    Help,
    /// Acknowledge alerts.
    Ack,
    /// `:alerts`: open the alert history (acknowledges them).
    Alerts,
    /// A trading line, verbatim (`buy 0.01 @ 95000000`, `cancel all`, `stop KRW-BTC -3%`,
    /// `kill`, `resume`…), for `trading::intent::parse_line`.
    Trade(String),
    /// A mistake the user should see.
    Error(String),
}

/// Parses one command line (without the `:`).
pub fn parse(line: &str) -> Parsed {
    let line = line.trim();
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let arg = words.next();
    // The reference is the gate: a verb it does not list is refused, so help and
    // completion never miss one the command line takes.
    if !verb.is_empty() && crate::ui::commands::find(verb).is_none() {
        return Parsed::Error(format!("unknown command :{verb} (Tab completes; :help lists every command)"));
    }
    match (verb, arg) {
        ("market" | "m", Some(m)) => match crate::ui::commands::market_of(m) {
            Some(m) => Parsed::Market(m),
            None => Parsed::Error(format!("not a market: {m:?} (a code like KRW-ETH, or a coin like eth)")),
        },
        ("market" | "m", None) => Parsed::Error("usage: :market KRW-ETH".into()),
        ("tf", Some(t)) => match Timeframe::from_str(t) {
            Ok(tf) => Parsed::Timeframe(tf),
            Err(e) => Parsed::Error(e),
        },
        ("tf", None) => Parsed::Error("usage: :tf 5m".into()),
        ("ind", None) => Parsed::Studies(StudyCommand::List),
        ("ind", Some("add")) => match crate::indicators::series::Study::parse(&words.collect::<Vec<_>>()) {
            Ok(study) => Parsed::Studies(StudyCommand::Add(study)),
            Err(e) => Parsed::Error(format!(":ind add: {e}")),
        },
        ("ind", Some("rm")) => match words.map(str::to_string).collect::<Vec<_>>() {
            w if w.is_empty() => Parsed::Error("usage: :ind rm ema 50 (:ind lists the studies shown)".into()),
            w => Parsed::Studies(StudyCommand::Remove(w)),
        },
        ("ind", Some("clear")) => Parsed::Studies(StudyCommand::Clear),
        ("ind", Some(other)) => Parsed::Error(format!(
            "usage: :ind add rsi 14 | :ind rm ema 50 | :ind clear | :ind (got `{other}`)"
        )),
        ("compare", _) => {
            let mut list = Vec::new();
            for w in arg.into_iter().chain(words) {
                match crate::ui::commands::market_of(w) {
                    Some(m) => list.push(m),
                    None => {
                        return Parsed::Error(format!(
                            "not a market: {w:?} (a code like KRW-ETH, or a coin like eth)"
                        ));
                    }
                }
            }
            Parsed::Compare(list)
        }
        ("theme", Some(t)) => Parsed::Theme(t.to_string()),
        ("theme", None) => Parsed::Error("usage: :theme light".into()),
        // The rest of the line is the name, so a name with a space is refused as one.
        ("layout", Some("save")) => match words.collect::<Vec<_>>().join(" ") {
            name if name.is_empty() => Parsed::Error("usage: :layout save NAME".into()),
            name => Parsed::SaveLayout(name),
        },
        ("layout", Some("rm")) => match words.collect::<Vec<_>>().join(" ") {
            name if name.is_empty() => Parsed::Error("usage: :layout rm NAME".into()),
            name => Parsed::RemoveLayout(name),
        },
        ("layout", Some(name)) => Parsed::Layout(name.to_string()),
        ("layout", None) => Parsed::ListLayouts,
        ("venue", None) => Parsed::Venue(None),
        ("venue", Some(v)) => match v.parse() {
            Ok(v) => Parsed::Venue(Some(v)),
            Err(e) => Parsed::Error(format!(":venue: {e}")),
        },
        ("q" | "quit", _) => Parsed::Quit,
        ("help", _) => Parsed::Help,
        ("ack", _) => Parsed::Ack,
        ("alerts", _) => Parsed::Alerts,
        ("set" | "set!", _) => match parse_set(line[verb.len()..].trim()) {
            Ok(change) => Parsed::Config { change, can_wait: verb == "set" },
            Err(e) => Parsed::Error(format!(":{verb}: {e}")),
        },
        ("reload", Some("keymap")) => Parsed::Config { change: ConfigChange::ReloadKeymap, can_wait: true },
        ("reload", _) => Parsed::Error("usage: :reload keymap".into()),
        ("", _) => Parsed::Error(String::new()),
        (v, _) if TRADE_VERBS.contains(&v) => Parsed::Trade(line.to_string()),
        (v, _) => Parsed::Error(format!("unknown command :{v} (tab completes; :help lists keys)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ui_commands_and_forwards_the_rest() {
        assert_eq!(parse("market krw-eth"), Parsed::Market(MarketId::new("KRW-ETH")));
        assert_eq!(parse("tf 5m"), Parsed::Timeframe(Timeframe::M5));
        assert!(matches!(parse("tf 7m"), Parsed::Error(e) if e.contains("7m")));
        assert_eq!(parse("theme light"), Parsed::Theme("light".into()));
        assert_eq!(parse("layout trade"), Parsed::Layout("trade".into()));
        assert_eq!(parse("q"), Parsed::Quit);
        assert_eq!(parse("buy 0.01 @ 95000000"), Parsed::Trade("buy 0.01 @ 95000000".into()));
        assert_eq!(parse("stop KRW-BTC -3%"), Parsed::Trade("stop KRW-BTC -3%".into()));
        assert_eq!(parse("cancel all"), Parsed::Trade("cancel all".into()));
        assert_eq!(parse("layout save mine"), Parsed::SaveLayout("mine".into()));
        assert_eq!(parse("layout save my one"), Parsed::SaveLayout("my one".into()));
        assert_eq!(parse("layout rm mine"), Parsed::RemoveLayout("mine".into()));
        assert_eq!(parse("layout"), Parsed::ListLayouts);
        assert!(matches!(parse("fly away"), Parsed::Error(e) if e.contains(":fly")));
    }

    #[test]
    fn set_and_reload_are_config_changes_and_set_bang_cannot_wait() {
        use crate::config::change::TradingKey;
        let five =
            ConfigChange::Trading { key: TradingKey::MaxOpenOrders, value: rust_decimal::Decimal::from(5) };
        assert_eq!(parse("set max_open_orders 5"), Parsed::Config { change: five.clone(), can_wait: true });
        assert_eq!(parse("set! max_open_orders 5"), Parsed::Config { change: five, can_wait: false });
        assert!(matches!(parse("set colour red"), Parsed::Error(e) if e.contains("colour")));
        assert_eq!(
            parse("reload keymap"),
            Parsed::Config { change: ConfigChange::ReloadKeymap, can_wait: true }
        );
        assert!(matches!(parse("reload"), Parsed::Error(e) if e.contains("usage")));
    }

    fn cands(before: &[&str]) -> Vec<String> {
        match before {
            [] => crate::ui::commands::COMMANDS.iter().map(|c| c.verb.to_string()).collect(),
            ["market"] => vec!["KRW-BTC".into(), "KRW-BCH".into(), "KRW-ETH".into(), "BTC-ETH".into()],
            _ => vec![],
        }
    }

    fn line(input: &str) -> CommandLine {
        CommandLine { input: input.into(), ..CommandLine::default() }
    }

    #[test]
    fn completion_takes_one_match_and_lists_several() {
        let mut cl = line("mar");
        cl.complete(&cands);
        assert_eq!(cl.input, "market ");
        assert_eq!(cl.completion, None, "one match: nothing to list");
        cl.input.push_str("krw-e");
        cl.complete(&cands);
        assert_eq!(cl.input, "market KRW-ETH ");
        // Ambiguous: the word grows to the common prefix and the choices are listed.
        let mut cl = line("market kr");
        cl.complete(&cands);
        assert_eq!(cl.input, "market KRW-");
        let c = cl.completion.clone().unwrap();
        assert_eq!(c.candidates, ["KRW-BTC", "KRW-BCH", "KRW-ETH"]);
        assert_eq!(c.selected, None);
        cl.complete(&cands);
        assert_eq!(cl.input, "market KRW-BTC", "the next Tab takes the first");
    }

    /// Issue 17 item 10: a repeated Tab cycles through the choices (it used to stop at the
    /// common prefix, with nothing shown).
    #[test]
    fn a_repeated_tab_cycles_through_the_choices() {
        let mut cl = line("t");
        cl.complete(&cands);
        let c = cl.completion.clone().unwrap();
        assert_eq!(c.candidates, ["tf", "theme", "tp", "trail", "transfer"]);
        assert_eq!((cl.input.as_str(), c.selected), ("tf", Some(0)), "nothing to grow: the first is taken");
        let mut seen = vec![cl.input.clone()];
        for _ in 0..5 {
            cl.complete(&cands);
            seen.push(cl.input.clone());
        }
        assert_eq!(seen, ["tf", "theme", "tp", "trail", "transfer", "tf"]);
        // A coin finds its markets on every quote.
        let mut cl = line("market eth");
        cl.complete(&cands);
        assert_eq!(cl.input, "market KRW-ETH");
        cl.complete(&cands);
        assert_eq!(cl.input, "market BTC-ETH");
    }

    #[test]
    fn history() {
        let mut h = History::default();
        h.push("tf 5m");
        h.push("market KRW-ETH");
        h.push("market KRW-ETH");
        assert_eq!(h.entries.len(), 2);
        let mut cl = CommandLine::default();
        cl.history_prev(&h);
        assert_eq!(cl.input, "market KRW-ETH");
        cl.history_prev(&h);
        assert_eq!(cl.input, "tf 5m");
        cl.history_prev(&h);
        assert_eq!(cl.input, "tf 5m");
        cl.history_next(&h);
        assert_eq!(cl.input, "market KRW-ETH");
        cl.history_next(&h);
        assert_eq!(cl.input, "");
    }
}
