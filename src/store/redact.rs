//! Defensive redaction of journal text: whatever follows a secret-bearing word on a line.
//!
//! Callers redact what they know to be secret; this catches what slips through, such as a
//! device echoing `snmp-server community s3cret` or a command that carries a password.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Words after which the rest of the line is treated as secret (matched without regard to case,
/// also inside longer words such as `auth-password` or `snmp-community`).
const KEYWORDS: &[&str] = &["password", "passwd", "passphrase", "secret", "community"];

/// Replaces the rest of each line after a secret-bearing word (and its `=`, `:` or spaces) with
/// [`REDACTED`]. Lines where nothing follows the word, such as a `Password:` prompt, are kept.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !text.split_inclusive('\n').any(|l| redact_line(l).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match redact_line(line) {
            Some(r) => out.push_str(&r),
            None => out.push_str(line),
        }
    }
    Cow::Owned(out)
}

/// The redacted line (keeping its line ending), or `None` when it holds nothing to hide.
fn redact_line(line: &str) -> Option<String> {
    let (body, ending) = match line.strip_suffix('\n') {
        Some(b) => match b.strip_suffix('\r') {
            Some(b2) => (b2, "\r\n"),
            None => (b, "\n"),
        },
        None => (line, ""),
    };
    // ASCII lowercasing keeps byte offsets, and the keywords are ASCII, so offsets found in
    // `lower` are character boundaries in `body`.
    let lower = body.to_ascii_lowercase();
    let (start, len) = KEYWORDS
        .iter()
        .filter_map(|k| lower.find(k).map(|p| (p, k.len())))
        .min_by_key(|(p, _)| *p)?;
    let mut end = start + len;
    // The rest of the word: `password2`, `community-string`.
    for (i, c) in body[end..].char_indices() {
        if !(c.is_alphanumeric() || c == '-' || c == '_') {
            end += i;
            break;
        }
        if end + i + c.len_utf8() == body.len() {
            end = body.len();
        }
    }
    let rest = &body[end..];
    let value = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
    if value.trim().is_empty() || value.trim_end() == REDACTED {
        return None;
    }
    let keep = &body[..body.len() - value.len()];
    Some(format!("{keep}{REDACTED}{ending}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_what_follows_secret_words() {
        assert_eq!(
            redact("snmp-server community s3cret ro"),
            "snmp-server community <redacted>"
        );
        assert_eq!(
            redact("username admin password hunter2 privilege 15"),
            "username admin password <redacted>"
        );
        assert_eq!(redact("auth-password=abc"), "auth-password=<redacted>");
        assert_eq!(redact("Secret: xyz"), "Secret: <redacted>");
        assert_eq!(
            redact("ok\nPASSWORD  \"a b\"\r\nnext line\n"),
            "ok\nPASSWORD  <redacted>\r\nnext line\n"
        );
    }

    #[test]
    fn keeps_lines_without_a_secret() {
        for s in [
            "",
            "configure terminal",
            "Password:",
            "Password: ",
            "% Bad password",
            "community <redacted>",
            "ghn subscriber 3 name flat-12 vlan 100",
        ] {
            assert!(matches!(redact(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(redact(s), s);
        }
    }

    #[test]
    fn handles_non_ascii_text() {
        assert_eq!(
            redact("mot de passe é password ünïcode"),
            "mot de passe é password <redacted>"
        );
        assert_eq!(redact("passwordé x"), "passwordé <redacted>");
        assert_eq!(redact("ünï"), "ünï");
    }
}
