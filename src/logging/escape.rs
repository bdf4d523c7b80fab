//! Control characters in logged text, escaped. A field can carry text from outside (a
//! notice title, an error body): raw, an ESC would run as a terminal escape in whoever
//! `tail -f`s the file, a CR or LF would forge a line of its own, and a bidi override
//! would make a line read other than it is. Every message and field written to the log
//! file and the ring goes through [`Escaping`], so no call site has to remember it.
//!
//! Escapes are Rust's spelling (`\n`, `\r`, `\t`, `\0`, `\u{1b}`), so an escaped line
//! reads as what was logged. Text with no such character (nearly all of it) is written
//! through after a byte scan, without copying.

use std::fmt::{self, Write};

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

/// Characters never written raw: C0 and C1 controls and DEL, the bidi embeddings,
/// overrides, isolates and marks, and the Unicode line and paragraph separators.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// A writer that escapes what [`is_unsafe`] names and passes the rest through.
pub(crate) struct Escaping<W>(pub(crate) W);

impl<W: Write> Write for Escaping<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Fast path: printable ASCII only.
        if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return self.0.write_str(s);
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if !is_unsafe(c) {
                continue;
            }
            self.0.write_str(&s[start..i])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                '\0' => self.0.write_str("\\0")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            start = i + c.len_utf8();
        }
        self.0.write_str(&s[start..])
    }
}

/// `text` with what [`is_unsafe`] names escaped.
#[cfg(test)]
pub(crate) fn escaped(text: &str) -> String {
    let mut out = String::new();
    let _ = Escaping(&mut out).write_str(text);
    out
}

/// The file layer's field formatter: tracing's default layout (`message key=value …`),
/// written through [`Escaping`].
#[derive(Debug, Default)]
pub(crate) struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut escaping = Escaping(&mut writer);
        DefaultFields::new().format_fields(Writer::new(&mut escaping), fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(escaped("plain KRW-BTC 1,000"), "plain KRW-BTC 1,000");
        assert_eq!(escaped("상장 🇰🇷 안내"), "상장 🇰🇷 안내");
        assert_eq!(
            escaped("a\x1b[2J\x1b]0;t\x07b\r\nc\0\td\u{85}e\u{202e}f\u{2066}"),
            "a\\u{1b}[2J\\u{1b}]0;t\\u{7}b\\r\\nc\\0\\td\\u{85}e\\u{202e}f\\u{2066}"
        );
    }
}
