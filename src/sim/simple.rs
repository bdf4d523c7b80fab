//! The websocket `SIMPLE` format: DEFAULT keys renamed to the abbreviations of the
//! protocol reference §7 tables (and §6.3 for `LIST_SUBSCRIPTIONS`).

use serde_json::{Map, Value};

fn abbreviation(ty: &str, key: &str) -> Option<&'static str> {
    Some(match key {
        "type" => "ty",
        "code" => "cd",
        "opening_price" => "op",
        "high_price" => "hp",
        "low_price" => "lp",
        "trade_price" => "tp",
        "prev_closing_price" => "pcp",
        "change" => "c",
        "change_price" => "cp",
        "signed_change_price" => "scp",
        "change_rate" => "cr",
        "signed_change_rate" => "scr",
        "trade_volume" => "tv",
        "acc_trade_volume" => "atv",
        "acc_trade_volume_24h" => "atv24h",
        "acc_trade_price" => "atp",
        "acc_trade_price_24h" => "atp24h",
        // Ticker says `tdt`, trade says `td`.
        "trade_date" if ty == "trade" => "td",
        "trade_date" => "tdt",
        "trade_time" => "ttm",
        "trade_timestamp" => "ttms",
        "ask_bid" => "ab",
        "acc_ask_volume" => "aav",
        "acc_bid_volume" => "abv",
        "highest_52_week_price" => "h52wp",
        "highest_52_week_date" => "h52wdt",
        "lowest_52_week_price" => "l52wp",
        "lowest_52_week_date" => "l52wdt",
        "market_state" => "ms",
        "is_trading_suspended" => "its",
        "delisting_date" => "dd",
        "market_warning" => "mw",
        "timestamp" => "tms",
        "stream_type" => "st",
        "sequential_id" => "sid",
        "best_ask_price" => "bap",
        "best_ask_size" => "bas",
        "best_bid_price" => "bbp",
        "best_bid_size" => "bbs",
        "total_ask_size" => "tas",
        "total_bid_size" => "tbs",
        "orderbook_units" => "obu",
        "ask_price" => "ap",
        "bid_price" => "bp",
        "ask_size" => "as",
        "bid_size" => "bs",
        "level" => "lv",
        "candle_date_time_utc" => "cdttmu",
        "candle_date_time_kst" => "cdttmk",
        "candle_acc_trade_volume" => "catv",
        "candle_acc_trade_price" => "catp",
        "uuid" => "uid",
        "order_type" => "ot",
        "state" => "s",
        "trade_uuid" => "tuid",
        "price" => "p",
        "avg_price" => "ap",
        "volume" => "v",
        "remaining_volume" => "rv",
        "executed_volume" => "ev",
        "trades_count" => "tc",
        "reserved_fee" => "rsf",
        "remaining_fee" => "rmf",
        "paid_fee" => "pf",
        "locked" => "l",
        "executed_funds" => "ef",
        "time_in_force" => "tif",
        "trade_fee" => "tf",
        "is_maker" => "im",
        "identifier" => "id",
        "smp_type" => "smpt",
        "prevented_volume" => "pv",
        "prevented_locked" => "pl",
        "order_timestamp" => "otms",
        "asset_uuid" => "astuid",
        "assets" => "ast",
        "currency" => "cu",
        "balance" => "b",
        "asset_timestamp" => "asttms",
        "method" => "mthd",
        "result" => "rslt",
        "codes" => "cds",
        "ticket" => "tckt",
        _ => return None,
    })
}

/// Renames every key of a DEFAULT message (recursively) to its SIMPLE abbreviation.
pub(crate) fn simplify(v: Value) -> Value {
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    rename(v, &ty)
}

fn rename(v: Value, ty: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                let nk = abbreviation(ty, &k).map(str::to_string).unwrap_or(k);
                out.insert(nk, rename(v, ty));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|v| rename(v, ty)).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_and_ticker_dates_differ() {
        let t = simplify(serde_json::json!({"type":"trade","trade_date":"2024-10-31","code":"KRW-BTC"}));
        assert_eq!(t, serde_json::json!({"ty":"trade","td":"2024-10-31","cd":"KRW-BTC"}));
        let k = simplify(serde_json::json!({"type":"ticker","trade_date":"20241031"}));
        assert_eq!(k, serde_json::json!({"ty":"ticker","tdt":"20241031"}));
        let b = simplify(
            serde_json::json!({"type":"orderbook","orderbook_units":[{"ask_price":1,"bid_size":2}]}),
        );
        assert_eq!(b, serde_json::json!({"ty":"orderbook","obu":[{"ap":1,"bs":2}]}));
    }
}
