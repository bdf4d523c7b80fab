//! Number spellings as Upbit writes them.
//!
//! Upbit spells one value many ways: websocket books carry large prices in exponent form
//! (`1.16539E8`) and sizes with trailing zeros (`0.00077720`); the REST ticker writes
//! `163248000.00000000`, trade ticks `91200000.0` and small volumes `5.485e-05`; the
//! exchange endpoints carry decimal strings such as `"1000000.0"`. The simulator's serde
//! output is always the plain shortest form, so a client tested only against it never
//! meets the others. [`respell`] rewrites the amounts of a serialized message into that
//! variety, chosen by a seeded generator, and never changes a value: the digits move, the
//! number stays exact.
//!
//! It works on the serialized bytes in one pass (no re-parse, no allocation per number)
//! and only touches values of amount keys (prices, sizes, volumes, funds, fees, balances,
//! rates): identifiers, counts and timestamps are integers on the wire and stay so.

/// Which wire a message goes out on: each spells numbers its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Websocket DEFAULT format: JSON numbers, Java-style exponents for large and tiny
    /// values (`1.16539E8`, `7.9276E-4`), trailing zeros on sizes.
    Websocket,
    /// Quotation REST: JSON numbers with eight decimals (`163248000.00000000`), `.0` on
    /// integral prices, lower-case exponents for tiny volumes (`5.485e-05`).
    Quotation,
    /// Exchange REST: decimal strings, `"2.0"`, `"0.00000000"`, or as they are.
    Exchange,
}

/// A small deterministic generator (SplitMix64): the same seed and message give the
/// same spellings.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..100`.
    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

/// Whether the value of `key` is an amount (a `Decimal` on both sides of the wire):
/// prices, sizes, volumes, funds, fees, balances, locked amounts and change rates, by
/// the ending of the key. Identifiers, counts and timestamps end otherwise.
fn is_amount(key: &[u8]) -> bool {
    // By the last byte first: most keys are rejected there.
    match key.last() {
        Some(b'e') => {
            key.ends_with(b"price")
                || key.ends_with(b"size")
                || key.ends_with(b"volume")
                || key.ends_with(b"fee")
                || key.ends_with(b"balance")
                || key.ends_with(b"change_rate")
        }
        Some(b's') => key.ends_with(b"funds"),
        Some(b'd') => key.ends_with(b"locked"),
        Some(b'h') => key.ends_with(b"price_24h") || key.ends_with(b"volume_24h"),
        _ => false,
    }
}

/// Rewrites the amounts of the serialized JSON `json` into one of the spellings Upbit
/// uses on `wire`. `seed` picks the spellings (mixed with the message, so equal messages
/// are spelled alike and different ones differently). Input that is not well-formed JSON
/// (a fault the simulator injects on purpose) is rewritten as far as it reads and never
/// panics. One pass, in which runs without numbers or strings are copied whole (4-5 µs
/// for a 30-level book, about 1 µs for a ticker, measured on a loaded build host).
pub(crate) fn respell(json: &[u8], seed: u64, wire: Wire) -> Vec<u8> {
    let mut rng = Rng(seed ^ mix(json));
    let mut out = Vec::with_capacity(json.len() + json.len() / 4);
    // The key whose value comes next (or whose array is being read), and whether it is
    // an amount.
    let mut amount = false;
    let mut i = 0;
    while i < json.len() {
        // Copy up to the next string or number.
        let Some(n) = json[i..].iter().position(|&b| b == b'"' || b == b'-' || b.is_ascii_digit()) else {
            out.extend_from_slice(&json[i..]);
            break;
        };
        out.extend_from_slice(&json[i..i + n]);
        i += n;
        if json[i] == b'"' {
            let start = i + 1;
            let end = string_end(json, start);
            let after = (end + 1).min(json.len());
            let next = json[after..].iter().find(|b| !b.is_ascii_whitespace());
            if next == Some(&b':') {
                amount = is_amount(&json[start..end]);
                out.extend_from_slice(&json[i..after]);
            } else if amount && wire == Wire::Exchange {
                out.push(b'"');
                spell_plain(&json[start..end], &mut rng, wire, true, &mut out);
                out.extend_from_slice(&json[end..after]);
            } else {
                out.extend_from_slice(&json[i..after]);
            }
            i = after;
        } else {
            let end = json[i..]
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                .map_or(json.len(), |n| i + n);
            if amount {
                spell_plain(&json[i..end], &mut rng, wire, false, &mut out);
            } else {
                out.extend_from_slice(&json[i..end]);
            }
            i = end;
        }
    }
    out
}

/// The index of the closing quote of the string whose content starts at `start` (or the
/// end of the input when it is cut).
fn string_end(json: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < json.len() {
        match json[j] {
            b'\\' => j += 2,
            b'"' => return j,
            _ => j += 1,
        }
    }
    json.len()
}

/// A cheap digest of a message (its length and 64 bytes from each end, 8 at a time):
/// enough to tell messages apart, without reading a whole book.
fn mix(b: &[u8]) -> u64 {
    let mut h = (b.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let head = &b[..b.len().min(64)];
    let tail = &b[b.len().saturating_sub(64)..];
    for chunk in head.chunks(8).chain(tail.chunks(8)) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }
    h
}

/// A plain decimal split into its parts, kept as text so nothing is rounded.
struct Plain<'a> {
    neg: bool,
    int: &'a [u8],
    frac: &'a [u8],
}

fn parse_plain(t: &[u8]) -> Option<Plain<'_>> {
    let (neg, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &body[..0]),
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    (!int.is_empty() && digits(int) && digits(frac) && (!frac.is_empty() || !body.ends_with(b".")))
        .then_some(Plain { neg, int, frac })
}

/// Writes `t` (the text of an amount) in a spelling chosen for `wire`. Anything that is
/// not a plain decimal (already an exponent form, junk) is written unchanged.
fn spell_plain(t: &[u8], rng: &mut Rng, wire: Wire, in_string: bool, out: &mut Vec<u8>) {
    let Some(p) = parse_plain(t) else {
        out.extend_from_slice(t);
        return;
    };
    let int = trim_leading_zeros(p.int);
    let roll = rng.percent();
    let integral = trim_trailing_zeros(p.frac).is_empty();
    match wire {
        Wire::Websocket => {
            if roll < 45 && !in_string && exponent_form(&p, b'E', false, out) {
                return;
            }
            if roll < 70 && integral && p.frac.is_empty() {
                out.extend_from_slice(t);
                out.extend_from_slice(b".0");
                return;
            }
            if roll < 85 && !integral && p.frac.len() < 8 {
                pad_to(t, p.frac.len(), 8, out);
                return;
            }
        }
        Wire::Quotation => {
            if roll < 40 && p.frac.len() < 8 {
                pad_to(t, p.frac.len(), 8, out);
                return;
            }
            if roll < 60 && integral && p.frac.is_empty() {
                out.extend_from_slice(t);
                out.extend_from_slice(b".0");
                return;
            }
            if roll < 85 && int.is_empty() && exponent_form(&p, b'e', true, out) {
                return;
            }
        }
        Wire::Exchange => {
            if roll < 50 && integral && p.frac.is_empty() {
                out.extend_from_slice(t);
                out.extend_from_slice(b".0");
                return;
            }
            if roll < 70 && p.frac.len() < 8 {
                pad_to(t, p.frac.len(), 8, out);
                return;
            }
        }
    }
    out.extend_from_slice(t);
}

/// `t` with zeros appended so it has `want` decimals (a point added when it had none).
fn pad_to(t: &[u8], have: usize, want: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(t);
    if have == 0 {
        out.push(b'.');
    }
    out.extend(std::iter::repeat_n(b'0', want - have));
}

fn trim_leading_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b'0').count();
    &s[n..]
}

fn trim_trailing_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|&&b| b == b'0').count();
    &s[..s.len() - n]
}

/// Writes the value of `p` as `d.dddE±n`. Java style (`e` = `E`, `padded` = false):
/// `1.16539E8`, `1.0E8`, `7.9276E-4`; Python style (`e` = `e`, `padded` = true): a sign and
/// two digits in the exponent, `5.485e-05`, `1e+08`. Only for values at least 1e7 or
/// below 1e-3 (where both languages switch to exponents) and at most 17 significant digits
/// (what a double carries); `false` (nothing written) otherwise.
fn exponent_form(p: &Plain<'_>, e: u8, padded: bool, out: &mut Vec<u8>) -> bool {
    let int = trim_leading_zeros(p.int);
    // The significant digits are `first` then `rest` (trailing zeros dropped), and the
    // first one stands for 10^exp.
    let (first, rest, exp): (u8, &[u8], i64) = if int.is_empty() {
        let lead = p.frac.iter().take_while(|&&b| b == b'0').count();
        let sig = trim_trailing_zeros(&p.frac[lead..]);
        let Some((&f, r)) = sig.split_first() else { return false }; // zero
        (f, r, -(lead as i64) - 1)
    } else {
        // Digits of the fraction follow those of the integer part; a fraction of zeros
        // adds nothing.
        (int[0], &int[1..], int.len() as i64 - 1)
    };
    let frac = if int.is_empty() { &[][..] } else { trim_trailing_zeros(p.frac) };
    let rest_int = if frac.is_empty() { trim_trailing_zeros(rest) } else { rest };
    if 1 + rest_int.len() + frac.len() > 17 || (-3..7).contains(&exp) {
        return false;
    }
    if p.neg {
        out.push(b'-');
    }
    out.push(first);
    if rest_int.is_empty() && frac.is_empty() {
        if !padded {
            out.extend_from_slice(b".0");
        }
    } else {
        out.push(b'.');
        out.extend_from_slice(rest_int);
        out.extend_from_slice(frac);
    }
    out.push(e);
    if exp < 0 {
        out.push(b'-');
    } else if padded {
        out.push(b'+');
    }
    let mag = exp.unsigned_abs();
    if mag >= 10 {
        out.push(b'0' + (mag / 10 % 10) as u8);
    } else if padded {
        out.push(b'0');
    }
    out.push(b'0' + (mag % 10) as u8);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn spelled(p: &str, e: u8, padded: bool) -> Option<String> {
        let p = parse_plain(p.as_bytes())?;
        let mut out = Vec::new();
        exponent_form(&p, e, padded, &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn exponent_forms_are_the_ones_upbit_writes() {
        assert_eq!(spelled("116539000", b'E', false).as_deref(), Some("1.16539E8"));
        assert_eq!(spelled("100000000", b'E', false).as_deref(), Some("1.0E8"));
        assert_eq!(spelled("0.00079276", b'E', false).as_deref(), Some("7.9276E-4"));
        assert_eq!(spelled("0.00005485", b'e', true).as_deref(), Some("5.485e-05"));
        assert_eq!(spelled("0.0005", b'E', false).as_deref(), Some("5.0E-4"));
        assert_eq!(spelled("-116539000.00", b'E', false).as_deref(), Some("-1.16539E8"));
        // Between 1e-3 and 1e7 both languages write plain numbers; zero stays zero.
        assert_eq!(spelled("1234567", b'E', false), None);
        assert_eq!(spelled("0.001", b'E', false), None);
        assert_eq!(spelled("0.00000000", b'E', false), None);
        // More digits than a double carries: never in exponent form.
        assert_eq!(spelled("123456789012345678", b'E', false), None);
    }

    /// The values of every amount in `a` and `b`, in order.
    fn amounts(json: &[u8]) -> Vec<(String, Decimal)> {
        fn walk(k: &str, v: &serde_json::Value, out: &mut Vec<(String, Decimal)>) {
            match v {
                serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| walk(k, v, out)),
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(k, v, out)),
                serde_json::Value::Number(n) => {
                    let t = n.to_string();
                    let d = Decimal::from_str(&t).or_else(|_| Decimal::from_scientific(&t)).unwrap();
                    out.push((k.to_string(), d));
                }
                serde_json::Value::String(s) if is_amount(k.as_bytes()) => {
                    out.push((k.to_string(), Decimal::from_str(s).unwrap()));
                }
                _ => {}
            }
        }
        let v: serde_json::Value = serde_json::from_slice(json).unwrap();
        let mut out = Vec::new();
        walk("", &v, &mut out);
        out
    }

    const BOOK: &str = r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1790134742106,"total_ask_size":2.51469375,"total_bid_size":1.63815297,"orderbook_units":[{"ask_price":116539000,"bid_price":116538000,"ask_size":0.02054761,"bid_size":0.0000812},{"ask_price":116542000,"bid_price":116537000,"ask_size":0.0007772,"bid_size":0.01129382}],"stream_type":"SNAPSHOT","level":0}"#;
    const ORDER: &str = r#"{"uuid":"a-1","side":"bid","ord_type":"limit","price":"140000000","state":"wait","market":"KRW-BTC","created_at":"2026-01-01T00:00:00+09:00","volume":"0.0001","remaining_volume":"0.0001","reserved_fee":"7","remaining_fee":"7","paid_fee":"0","locked":"14007","executed_volume":"0","prevented_volume":"0","prevented_locked":"0","trades_count":0}"#;

    #[test]
    fn respelling_never_changes_a_value_nor_an_integer_field() {
        for (json, wire) in [(BOOK, Wire::Websocket), (BOOK, Wire::Quotation), (ORDER, Wire::Exchange)] {
            let mut forms = std::collections::BTreeSet::new();
            for seed in 0..200u64 {
                let out = respell(json.as_bytes(), seed, wire);
                let text = String::from_utf8(out.clone()).unwrap();
                assert_eq!(amounts(&out), amounts(json.as_bytes()), "{text}");
                assert!(text.contains(r#""timestamp":1790134742106"#) || wire == Wire::Exchange, "{text}");
                assert!(text.contains(r#""level":0"#) || wire == Wire::Exchange, "{text}");
                assert!(text.contains(r#""trades_count":0"#) || wire != Wire::Exchange, "{text}");
                forms.insert(text);
            }
            assert!(forms.len() > 20, "{wire:?}: only {} spellings", forms.len());
        }
        // The variety Upbit shows, each at least once over the seeds.
        let all: String = (0..200u64)
            .map(|s| String::from_utf8(respell(BOOK.as_bytes(), s, Wire::Websocket)).unwrap())
            .collect();
        for want in ["1.16539E8", "116539000.0", "0.00077720", "8.12E-5"] {
            assert!(all.contains(want), "{want} never written");
        }
        let all: String = (0..200u64)
            .map(|s| String::from_utf8(respell(BOOK.as_bytes(), s, Wire::Quotation)).unwrap())
            .collect();
        for want in ["116539000.00000000", "116539000.0", "8.12e-05"] {
            assert!(all.contains(want), "{want} never written");
        }
        let all: String = (0..200u64)
            .map(|s| String::from_utf8(respell(ORDER.as_bytes(), s, Wire::Exchange)).unwrap())
            .collect();
        for want in [r#""price":"140000000.0""#, r#""volume":"0.00010000""#, r#""paid_fee":"0.0""#] {
            assert!(all.contains(want), "{want} never written");
        }
    }

    #[test]
    fn the_same_seed_spells_the_same_and_junk_never_panics() {
        let a = respell(BOOK.as_bytes(), 7, Wire::Websocket);
        assert_eq!(a, respell(BOOK.as_bytes(), 7, Wire::Websocket));
        for cut in 0..BOOK.len() {
            let _ = respell(&BOOK.as_bytes()[..cut], 7, Wire::Websocket);
        }
        for junk in
            [&b"{\"price\":\"1e309\"}"[..], b"{\"price\":-}", b"\"", b"{\"a\\\"price\":1}", b"{\"price\":1.}"]
        {
            let _ = respell(junk, 1, Wire::Exchange);
            let _ = respell(junk, 1, Wire::Websocket);
        }
    }
}
