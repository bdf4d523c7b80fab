//! The `:` command reference: one table of every verb with its syntax, what it does and
//! examples. Help draws it, completion offers its verbs and argument kinds, and the command
//! line refuses a verb it does not list, so the three cannot drift apart; a test parses
//! every example.

use crate::config::change::TradingKey;
use crate::exchange::types::{MarketId, Timeframe};
use crate::store::Snapshot;
use crate::ui::layout;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

/// What an argument position completes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// Nothing to offer (a number, a size, a name of the user's choosing).
    Free,
    /// A market code.
    Market,
    /// A chart timeframe.
    Timeframe,
    /// A theme name.
    Theme,
    /// A built-in or saved layout, or `save` / `rm`.
    Layout,
    /// A `:set` key.
    SetKey,
    /// `all`, a market, or an open order's identifier.
    CancelTarget,
    /// A market or an armed rule's id.
    UnarmTarget,
    /// One of these words.
    Words(&'static [&'static str]),
}

/// One verb of the command line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Command {
    /// The verb (`tp`).
    pub verb: &'static str,
    /// Other spellings the command line accepts (`m` for `market`).
    pub aliases: &'static [&'static str],
    /// Its arguments (`MARKET LEVEL [avg]`), without the verb.
    pub syntax: &'static str,
    /// What it does, one line.
    pub summary: &'static str,
    /// More to know (the anchor of a % level), or empty.
    pub detail: &'static str,
    /// Complete lines (without the `:`), each one parses.
    pub examples: &'static [&'static str],
    /// What each argument position completes to.
    pub args: &'static [Arg],
    /// A trading verb (handed to the trading parser) rather than a screen one.
    pub trading: bool,
}

const fn ui(
    verb: &'static str,
    aliases: &'static [&'static str],
    syntax: &'static str,
    summary: &'static str,
    examples: &'static [&'static str],
    args: &'static [Arg],
) -> Command {
    Command { verb, aliases, syntax, summary, detail: "", examples, args, trading: false }
}

const fn trade(
    verb: &'static str,
    syntax: &'static str,
    summary: &'static str,
    detail: &'static str,
    examples: &'static [&'static str],
    args: &'static [Arg],
) -> Command {
    Command { verb, aliases: &[], syntax, summary, detail, examples, args, trading: true }
}

/// A `%` level's anchor, said wherever levels are typed.
const ANCHOR: &str = "a % level is from the last price; add avg to measure it from the average cost";

/// Every verb, in the order help lists them: looking, then trading, then the console.
pub(crate) const COMMANDS: &[Command] = &[
    ui(
        "market",
        &["m"],
        "MARKET",
        "show a market; a bare coin means its KRW market",
        &["market KRW-ETH", "market btc"],
        &[Arg::Market],
    ),
    ui(
        "tf",
        &[],
        "TIMEFRAME",
        "chart timeframe: 1s 1m 3m 5m 10m 15m 30m 1h 4h 1d 1w 1M",
        &["tf 5m"],
        &[Arg::Timeframe],
    ),
    ui(
        "ind",
        &[],
        "[add STUDY | rm STUDY | clear]",
        "chart studies: sma N, ema N, bb N [W], vwap, vol [N], rsi [N], macd [F S G]; alone: list",
        &[
            "ind add rsi 14",
            "ind add ema 50",
            "ind add bb 20 2",
            "ind add macd",
            "ind rm ema 50",
            "ind clear",
            "ind",
        ],
        &[
            Arg::Words(&["add", "rm", "clear"]),
            Arg::Words(&["sma", "ema", "bb", "vwap", "vol", "rsi", "macd"]),
        ],
    ),
    ui(
        "compare",
        &[],
        "[MARKET …]",
        "compare up to 3 markets with the chart's, normalised; alone: none",
        &["compare KRW-ETH KRW-XRP", "compare eth", "compare"],
        &[Arg::Market, Arg::Market, Arg::Market],
    ),
    ui(
        "theme",
        &[],
        "NAME",
        "colour theme (dark, light, high-contrast, mono …)",
        &["theme light"],
        &[Arg::Theme],
    ),
    ui(
        "layout",
        &[],
        "[NAME | save NAME | rm NAME]",
        "switch layout, save the current one, remove a saved one; alone: list",
        &["layout trade", "layout save mine", "layout rm mine", "layout"],
        &[Arg::Layout],
    ),
    ui(
        "venue",
        &[],
        "[upbit | binance]",
        "show that venue's markets in the market panes (Binance: read-only, orders stay on Upbit); alone: which is shown",
        &["venue binance", "venue upbit", "venue"],
        &[Arg::Words(&["upbit", "binance"])],
    ),
    trade(
        "buy",
        "SIZE @ PRICE|market|best [ioc|fok|post] [MARKET]",
        "buy: SIZE is a quantity, 100000krw or 50% of the balance",
        "without a market it is for the one on screen",
        &["buy 0.01 @ 95000000", "buy 100000krw @ market KRW-ETH", "buy 0.01 @ best ioc"],
        &[Arg::Free],
    ),
    trade(
        "sell",
        "SIZE @ PRICE|market|best [ioc|fok|post] [MARKET]",
        "sell: SIZE is a quantity or 50% of the holding",
        "",
        &["sell 50% @ market", "sell 0.01 @ 150000000 post KRW-BTC"],
        &[Arg::Free],
    ),
    trade(
        "cancel",
        "all | MARKET | ORDER-ID",
        "cancel every open order, a market's, or one",
        "",
        &["cancel all", "cancel KRW-BTC"],
        &[Arg::CancelTarget],
    ),
    trade(
        "stop",
        "MARKET -3%|PRICE [avg]",
        "stop-loss: sell the position at market when the price falls to the level",
        ANCHOR,
        &["stop KRW-ETH -3%", "stop KRW-BTC -3% avg", "stop KRW-BTC 97000000"],
        &[Arg::Market, Arg::Free, Arg::Words(&["avg"])],
    ),
    trade(
        "tp",
        "MARKET +5%|PRICE [avg]",
        "take-profit: sell the position when the price rises to the level",
        ANCHOR,
        &["tp KRW-BTC +5%", "tp KRW-BTC +5% avg", "tp KRW-BTC 160000000"],
        &[Arg::Market, Arg::Free, Arg::Words(&["avg"])],
    ),
    trade(
        "trail",
        "MARKET 2%",
        "trailing stop: sell when the price falls 2% from its highest since arming",
        "",
        &["trail KRW-BTC 2%"],
        &[Arg::Market],
    ),
    trade(
        "oco",
        "MARKET STOP TAKE [avg]",
        "a stop-loss and a take-profit as one rule: the first to trigger sells",
        ANCHOR,
        &["oco KRW-BTC -3% +5%", "oco KRW-BTC -3% +5% avg"],
        &[Arg::Market, Arg::Free, Arg::Free, Arg::Words(&["avg"])],
    ),
    trade(
        "alert",
        "MARKET (>|<|crosses) PRICE | move 5% | INDICATOR TEST [TF] | kimp > 3%",
        "alert (no order) on the price, on an indicator: rsi14 < 30, ema20 crosses [up|down] ema50, macd crosses signal, bb20 break up|down (timeframe 5m unless named), or on the kimchi premium: kimp (against KRW-USDT), kimpfx (against the [premium] USD/KRW rate)",
        "",
        &[
            "alert KRW-BTC > 100000000",
            "alert KRW-ETH move 5%",
            "alert KRW-ETH rsi14 < 30 5m",
            "alert KRW-BTC ema20 crosses ema50 1h",
            "alert KRW-BTC macd crosses up signal",
            "alert KRW-BTC bb20 break up 15m",
            "alert KRW-BTC kimp > 3%",
            "alert KRW-ETH kimpfx < -1%",
        ],
        &[
            Arg::Market,
            Arg::Words(&[
                ">", "<", "crosses", "move", "rsi14", "ema20", "sma20", "bb20", "macd", "kimp", "kimpfx",
            ]),
        ],
    ),
    trade(
        "unarm",
        "[MARKET | RULE-ID | ALERT-ID]",
        "disarm a market's rules and alerts, or one rule or alert; alone: every rule (asks first; alerts stay)",
        "",
        &["unarm KRW-BTC", "unarm"],
        &[Arg::UnarmTarget],
    ),
    trade("kill", "", "kill switch: halt trading and cancel every open order", "", &["kill"], &[]),
    trade("resume", "", "lift a halt (the kill switch or an exchange error)", "", &["resume"], &[]),
    trade(
        "transfer",
        "AMOUNT CURRENCY FROM TO",
        "move assets between two pockets of the account (asks y/N first)",
        "pockets by name, prefix or UUID (start); KRW in whole won, coins to 8 decimals; needs a main-pocket key (포켓관리)",
        &["transfer 100000 KRW main savings", "transfer 0.001 BTC sav main"],
        &[Arg::Free, Arg::Free, Arg::Free, Arg::Free],
    ),
    ui("alerts", &[], "", "alert history, newest first (marks them seen)", &["alerts"], &[]),
    ui("ack", &[], "", "mark alerts as seen", &["ack"], &[]),
    ui(
        "set",
        &[],
        "KEY VALUE",
        "change a [trading] limit now (held while orders are in flight)",
        &["set max_open_orders 5", "set price_band_pct 3"],
        &[Arg::SetKey],
    ),
    ui(
        "set!",
        &[],
        "KEY VALUE",
        "as set, but refused rather than held while orders are in flight",
        &["set! max_orders_per_minute 10"],
        &[Arg::SetKey],
    ),
    ui("reload", &[], "keymap", "read keymap.toml again", &["reload keymap"], &[Arg::Words(&["keymap"])]),
    ui("help", &[], "", "keys and this command reference", &["help"], &[]),
    ui("quit", &["q"], "", "quit (asks when orders or armed rules exist)", &["quit"], &[]),
];

/// The entry of a verb or alias, if the command line knows it.
pub(crate) fn find(verb: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.verb == verb || c.aliases.contains(&verb))
}

/// Candidates for the word after `before` (the words already typed; empty: a verb).
pub(crate) fn candidates(before: &[&str], ui: &UiState, snap: &Snapshot) -> Vec<String> {
    let Some((verb, args)) = before.split_first() else {
        return COMMANDS.iter().map(|c| c.verb.to_string()).collect();
    };
    let Some(cmd) = find(verb) else { return Vec::new() };
    // `:layout rm NAME` removes one of the user's own.
    if cmd.verb == "layout" {
        return match args {
            [] => layout::LAYOUTS
                .iter()
                .map(|s| s.to_string())
                .chain(ui.saved_layouts.keys().cloned())
                .chain(["save".into(), "rm".into()])
                .collect(),
            ["rm" | "save"] => ui.saved_layouts.keys().cloned().collect(),
            _ => Vec::new(),
        };
    }
    let markets = || snap.market.markets.iter().map(|m| m.market.to_string());
    match cmd.args.get(args.len()).copied().unwrap_or(Arg::Free) {
        Arg::Free | Arg::Layout => Vec::new(),
        Arg::Market => markets().collect(),
        Arg::Timeframe => Timeframe::ALL.iter().map(|t| t.label().to_string()).collect(),
        Arg::Theme => Theme::embedded_names().map(str::to_string).collect(),
        Arg::SetKey => TradingKey::ALL.iter().map(|k| k.name().to_string()).collect(),
        Arg::CancelTarget => std::iter::once("all".to_string())
            .chain(markets())
            .chain(snap.account.open_orders.iter().map(|o| o.uuid.clone()))
            .collect(),
        Arg::UnarmTarget => markets()
            .chain(snap.account.rules.iter().map(|r| r.id.clone()))
            .chain(snap.account.alerts.iter().map(|a| a.id.clone()))
            .collect(),
        Arg::Words(w) => w.iter().map(|s| s.to_string()).collect(),
    }
}

/// Whether `candidate` is offered for the typed `word`: a prefix of it (any case), or, for
/// a market code, a prefix of its coin (`eth` offers `KRW-ETH` and `BTC-ETH`).
pub(crate) fn matches(candidate: &str, word: &str) -> bool {
    let (c, w) = (candidate.to_ascii_lowercase(), word.to_ascii_lowercase());
    c.starts_with(&w) || c.split_once('-').is_some_and(|(_, base)| !w.is_empty() && base.starts_with(&w))
}

/// The market a bare coin means (`btc` → `KRW-BTC`); a code is kept as typed.
pub(crate) fn market_of(word: &str) -> Option<MarketId> {
    if word.contains('-') {
        return word.parse().ok();
    }
    (!word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| MarketId::new(&format!("KRW-{word}")))
}

/// Why `market` is not shown, with the listed markets closest to what was typed.
pub(crate) fn unknown_market(market: &MarketId, snap: &Snapshot) -> String {
    let coin = market.base().to_ascii_lowercase();
    let mut close: Vec<&MarketId> = Vec::new();
    // `eth-btc` for BTC-ETH: the two sides swapped first.
    let swapped = MarketId::new(&format!("{}-{}", market.base(), market.quote()));
    close.extend(snap.market.markets.iter().map(|m| &m.market).filter(|m| **m == swapped));
    // Same coin on another quote first, then coins starting with it, then names holding it.
    let tiers: [&dyn Fn(&crate::exchange::types::MarketInfo) -> bool; 3] = [
        &|m| m.market.base().eq_ignore_ascii_case(&coin),
        &|m| m.market.base().to_ascii_lowercase().starts_with(&coin),
        &|m| {
            m.english_name.to_ascii_lowercase().contains(&coin)
                || m.market.base().to_ascii_lowercase().contains(&coin)
        },
    ];
    for tier in tiers {
        for m in snap.market.markets.iter().filter(|m| tier(m)) {
            if close.len() < 5 && !close.contains(&&m.market) {
                close.push(&m.market);
            }
        }
    }
    if close.is_empty() {
        format!("unknown market {market} (type :market and Tab to list them)")
    } else {
        let close: Vec<String> = close.iter().map(ToString::to_string).collect();
        format!("unknown market {market}; close: {}", close.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trading::intent::parse_line;
    use crate::ui::command_line::{Parsed, parse};

    /// One entry per verb and alias: a verb written twice is listed twice in help.
    #[test]
    fn every_verb_and_alias_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for c in COMMANDS {
            for name in std::iter::once(&c.verb).chain(c.aliases) {
                assert!(seen.insert(*name), "{name} is listed twice");
            }
        }
    }

    /// The reference cannot rot: every example of every verb parses, as the UI parser
    /// and (for trading verbs) the trading parser read it.
    #[test]
    fn every_example_of_every_verb_parses() {
        let selected = MarketId::new("KRW-BTC");
        for cmd in COMMANDS {
            assert!(!cmd.examples.is_empty(), ":{} has no example", cmd.verb);
            for ex in cmd.examples {
                assert_eq!(
                    ex.split_whitespace().next(),
                    Some(cmd.verb),
                    "{ex:?} is not an example of :{}",
                    cmd.verb
                );
                match parse(ex) {
                    Parsed::Error(e) => panic!(":{ex} does not parse: {e}"),
                    Parsed::Trade(line) => {
                        assert!(cmd.trading, ":{ex} is a trading line but not marked so");
                        if let Err(e) = parse_line(&line, Some(&selected)) {
                            panic!(":{ex} does not parse as a trading line: {e}");
                        }
                    }
                    _ => assert!(!cmd.trading, ":{ex} is marked trading but the UI acts on it"),
                }
            }
        }
    }

    /// Every verb the command line accepts is in the reference (and a verb it does not
    /// list is refused), and every trading verb the UI forwards has an entry.
    #[test]
    fn every_accepted_verb_has_a_reference_entry() {
        for v in crate::ui::command_line::TRADE_VERBS {
            assert!(find(v).is_some_and(|c| c.trading), "trading verb :{v} has no entry");
        }
        for cmd in COMMANDS {
            for v in std::iter::once(&cmd.verb).chain(cmd.aliases) {
                let bare = parse(v);
                assert!(
                    !matches!(&bare, Parsed::Error(e) if e.contains("unknown command")),
                    ":{v} is listed but refused: {bare:?}"
                );
            }
        }
        // Words the parsers once took without help listing them are refused by the UI.
        for v in ["frobnicate", "halt", "sl", "b"] {
            assert!(find(v).is_none());
            assert!(
                matches!(parse(&format!("{v} KRW-BTC")), Parsed::Error(e) if e.contains("unknown command"))
            );
        }
    }

    #[test]
    fn the_rule_anchors_are_taught() {
        let tp = find("tp").unwrap();
        assert!(tp.examples.contains(&"tp KRW-BTC +5%") && tp.examples.contains(&"tp KRW-BTC +5% avg"));
        assert!(tp.detail.contains("last price") && tp.detail.contains("avg"));
        assert!(find("stop").unwrap().examples.contains(&"stop KRW-ETH -3%"));
        assert!(find("unarm").unwrap().summary.contains("asks"));
        assert!(find("layout").unwrap().examples.contains(&"layout rm mine"));
        assert!(find("alerts").is_some());
    }

    #[test]
    fn a_bare_coin_means_its_krw_market() {
        assert_eq!(market_of("btc"), Some(MarketId::new("KRW-BTC")));
        assert_eq!(market_of("btc-eth"), Some(MarketId::new("BTC-ETH")));
        assert_eq!(market_of("b t"), None);
        assert!(matches("KRW-ETH", "eth") && matches("KRW-ETH", "krw-e") && !matches("KRW-ETH", "btc"));
    }
}
