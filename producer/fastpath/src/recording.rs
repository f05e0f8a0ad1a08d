//! The lines of a cryptostream recording (producer/recording.py), split out of a buffer.
//!
//! A message line that embeds its message verbatim,
//! `{"received_at":"<27 characters>","raw":<the message>}`, is taken apart here: its receive
//! time and raw text are slices of the line, nothing is decoded. Every other line (a connect
//! event, a message stored as a JSON string, anything unexpected) is handed back whole, for the
//! Python reader to parse and, if need be, reject with its line number.

const PREFIX: &[u8] = br#"{"received_at":""#;
const RAW_KEY: &[u8] = br#"","raw":"#;
const TIME_END: usize = PREFIX.len() + 27;
const RAW_START: usize = TIME_END + RAW_KEY.len();

#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Message { received_at: &'a str, raw: &'a str },
    Other(&'a [u8]),
    Blank,
}

/// One line, without its line break.
pub fn parse_line(line: &[u8]) -> Line<'_> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    if line.starts_with(PREFIX) && line.get(TIME_END..RAW_START) == Some(RAW_KEY) {
        if let Ok(text) = std::str::from_utf8(line) {
            // The closing brace is the line's; a line cut short (a recorder killed mid-write)
            // keeps all it has, and its message goes to the dead-letter topic as not JSON.
            let end = text.len() - usize::from(text.ends_with('}'));
            if let (Some(received_at), Some(raw)) =
                (text.get(PREFIX.len()..TIME_END), text.get(RAW_START..end))
            {
                return Line::Message { received_at, raw };
            }
        }
    }
    Line::Other(line)
}

/// The complete lines at the start of `buffer` (all of it when `at_end`), in order, and how
/// many bytes they take. Line breaks are `\n` or `\r\n`.
pub fn split_lines(buffer: &[u8], at_end: bool) -> (Vec<Line<'_>>, usize) {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < buffer.len() {
        let end = match buffer[start..].iter().position(|&byte| byte == b'\n') {
            Some(length) => start + length,
            None if at_end => buffer.len(),
            None => break,
        };
        let line = &buffer[start..end];
        lines.push(parse_line(line.strip_suffix(b"\r").unwrap_or(line)));
        start = (end + 1).min(buffer.len());
    }
    (lines, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2024-01-01T00:00:00.000000Z";

    #[test]
    fn embedded_messages_are_sliced_and_the_rest_handed_back() {
        let buffer = format!(
            "{{\"received_at\":\"{T0}\",\"raw\":{{\"a\": 1}}}}\r\n\n  \n\
             {{\"received_at\":\"{T0}\",\"event\":\"connect\",\"url\":\"ws://x\"}}\n\
             {{\"received_at\":\"{T0}\",\"raw\":{{\"cut"
        );
        let (lines, used) = split_lines(buffer.as_bytes(), false);
        assert_eq!(used, buffer.rfind('\n').unwrap() + 1);
        assert_eq!(
            lines[0],
            Line::Message {
                received_at: T0,
                raw: r#"{"a": 1}"#
            }
        );
        assert_eq!((&lines[1], &lines[2]), (&Line::Blank, &Line::Blank));
        assert!(matches!(lines[3], Line::Other(_)));
        assert_eq!(lines.len(), 4);
        let (last, used) = split_lines(&buffer.as_bytes()[used..], true);
        assert_eq!(
            last,
            vec![Line::Message {
                received_at: T0,
                raw: r#"{"cut"#
            }]
        );
        assert_eq!(used, buffer.len() - buffer.rfind('\n').unwrap() - 1);
    }

    #[test]
    fn lines_that_are_not_utf8_are_handed_back() {
        let mut line = format!("{{\"received_at\":\"{T0}\",\"raw\":\"").into_bytes();
        line.extend_from_slice(b"\xff\"}");
        assert_eq!(parse_line(&line), Line::Other(&line));
    }
}
