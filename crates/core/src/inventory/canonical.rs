//! The one canonical form of every inventory file, written by `gamops fmt` and by bots, so that a
//! human edit and a bot edit of the same fact give the same bytes.
//!
//! A canonical file is: the editor's schema line, then the comment lines that stood at the top of
//! the original (kept verbatim), then the document with keys in the model's order, defaults left
//! out, and values quoted where a YAML 1.1 reader could misread them.

use serde::Serialize;

use super::layout::FileKind;

#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error("line {line} has a comment inside the document, which formatting would drop")]
    InnerComment { line: usize },
    #[error("could not write YAML: {0}")]
    Serialize(String),
    #[error("the file does not parse: {0}")]
    Parse(String),
    #[error("the canonical form would not read back the same (a gamops bug): {0}")]
    RoundTrip(String),
}

/// The canonical form of a whole file of `kind`. The result is parsed again and compared with
/// the original document, so formatting can never change or lose a value.
pub fn format_file(kind: FileKind, original: &str) -> Result<String, CanonicalError> {
    use super::parse::{Parsed, parse};
    use crate::model::SourceId;
    let parsed = parse(kind, SourceId(0), original.as_bytes())
        .map_err(|d| CanonicalError::Parse(format!("{}: {}", d.pos, d.message)))?;
    let text = match &parsed {
        Parsed::Fleet(v) => render(kind, v.as_ref(), Some(original)),
        Parsed::Plans(v) => render(kind, v, Some(original)),
        Parsed::Device(v) => render(kind, v.as_ref(), Some(original)),
        Parsed::Subscriber(v) => render(kind, v, Some(original)),
    }?;
    match parse(kind, SourceId(0), text.as_bytes()) {
        Ok(again) if again == parsed => Ok(text),
        Ok(_) => Err(CanonicalError::RoundTrip("a value changed".to_string())),
        Err(d) => Err(CanonicalError::RoundTrip(d.message)),
    }
}

/// The comment block at the top of `original` (without the schema line), and the number of
/// lines it spans.
fn header(original: &str) -> (Vec<&str>, usize) {
    let mut kept = Vec::new();
    let mut consumed = 0;
    for line in original.lines() {
        let t = line.trim_start();
        if t.starts_with('#') {
            if !t.starts_with("# yaml-language-server:") {
                kept.push(line.trim_end());
            }
        } else if !t.is_empty() && t != "---" {
            break;
        }
        consumed += 1;
    }
    // Blank lines between kept comments are dropped; trailing separators too.
    (kept, consumed)
}

/// Where a YAML comment starts on this line, if it has one: `#` at the start or after a space,
/// outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let (mut single, mut double, mut prev_space) = (false, false, true);
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if !double => {
                if single && chars.peek().map(|&(_, n)| n) == Some('\'') {
                    chars.next();
                } else {
                    single = !single;
                }
            }
            '"' if !single => double = !double,
            '\\' if double => {
                chars.next();
            }
            '#' if !single && !double && prev_space => return Some(i),
            _ => {}
        }
        prev_space = c == ' ' || c == '\t';
    }
    None
}

/// Renders `value` canonically, keeping `original`'s top comments. Refuses (rather than lose
/// them) when `original` has comments further down.
pub fn render<T: Serialize>(
    kind: FileKind,
    value: &T,
    original: Option<&str>,
) -> Result<String, CanonicalError> {
    // YAML breaks lines at CR too: normalise, or a comment line could carry a key with it.
    let normalised = original.map(|o| o.replace("\r\n", "\n").replace('\r', "\n"));
    let original = normalised.as_deref();
    let (kept, consumed) = original.map(header).unwrap_or_default();
    if let Some(text) = original {
        for (i, line) in text.lines().enumerate().skip(consumed) {
            if comment_start(line).is_some() {
                return Err(CanonicalError::InnerComment { line: i + 1 });
            }
        }
    }
    let body =
        serde_saphyr::to_string(value).map_err(|e| CanonicalError::Serialize(e.to_string()))?;
    let mut out = String::with_capacity(body.len() + 128);
    out.push_str(&kind.schema_line());
    out.push('\n');
    for line in kept {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(body.trim_end());
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_quotes() {
        assert_eq!(comment_start("a: 1 # x"), Some(5));
        assert_eq!(comment_start("# x"), Some(0));
        assert_eq!(comment_start("name: \"C # 4\""), None);
        assert_eq!(comment_start("name: 'it''s # no'"), None);
        assert_eq!(comment_start("description: C#"), None);
    }

    #[test]
    fn keeps_top_comments_and_refuses_inner_ones() {
        #[derive(Serialize)]
        struct D {
            a: u8,
        }
        let out = render(
            FileKind::Plans,
            &D { a: 1 },
            Some("# yaml-language-server: $schema=old\n# Owner: NOC\n\na: 1\n"),
        )
        .unwrap();
        assert_eq!(
            out,
            "# yaml-language-server: $schema=../schemas/plans.schema.json\n# Owner: NOC\na: 1\n"
        );
        let err = render(FileKind::Plans, &D { a: 1 }, Some("a: 1 # why\n")).unwrap_err();
        assert!(matches!(err, CanonicalError::InnerComment { line: 1 }));
    }

    #[test]
    fn a_carriage_return_ends_a_comment_line() {
        // Found by the fuzzer: YAML reads `\r` as a line break, so the key after it is data.
        let original = "# note\rname: g\nmodel: GAM-4-CX\naddress: 127.0.0.1\n";
        let out = format_file(FileKind::Device, original).unwrap();
        assert_eq!(
            out,
            "# yaml-language-server: $schema=../../schemas/device.schema.json\n# note\nname: g\nmodel: GAM-4-CX\naddress: \"127.0.0.1\"\nsubscriber_model: endpoint-aware\n"
        );
    }
}
