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
    // Nothing after the word, or a value already hidden (`?sslpassword=<redacted>&...`).
    if value.trim().is_empty() || value.starts_with(REDACTED) {
        return None;
    }
    let keep = &body[..body.len() - value.len()];
    Some(format!("{keep}{REDACTED}{ending}"))
}

/// Query parameters of a URL whose value is a secret (matched without regard to case, also
/// inside longer names such as `sslpassword` or `access_token`).
const URL_KEYWORDS: &[&str] = &["password", "passwd", "secret", "token", "key", "sig"];

/// A command line as the store records it: the credentials in every URL in it hidden
/// (`postgres://gamops:<redacted>@db/gamops`, `?password=<redacted>`), then what follows
/// secret-bearing words ([`redact`]).
pub fn command_line(text: &str) -> Cow<'_, str> {
    match redact_urls(text) {
        Cow::Borrowed(t) => redact(t),
        Cow::Owned(t) => Cow::Owned(redact(&t).into_owned()),
    }
}

/// Hides the password of every `scheme://user:password@host` in `text` (the whole user part of
/// an `http(s)` URL, where it is often a token), and the values of secret query parameters.
pub fn redact_urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits, `+ - .` just before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let scheme = rest[scheme_start..at].to_ascii_lowercase();
        out.push_str(&rest[..at + 3]);
        let after = &rest[at + 3..];
        // The URL runs to the next space or quote.
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
            .unwrap_or(after.len());
        let url = &after[..end];
        let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..auth_end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.split_once(':') {
                    Some((user, pass)) if !pass.is_empty() && pass != REDACTED => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(REDACTED);
                        changed = true;
                    }
                    None if (scheme == "http" || scheme == "https") && !userinfo.is_empty() => {
                        out.push_str(REDACTED);
                        changed = true;
                    }
                    _ => out.push_str(userinfo),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        let tail = &url[auth_end..];
        match tail.split_once('?') {
            Some((path, query)) => {
                out.push_str(path);
                out.push('?');
                let mut first = true;
                for param in query.split('&') {
                    if !first {
                        out.push('&');
                    }
                    first = false;
                    match param.split_once('=') {
                        Some((name, value))
                            if !value.is_empty()
                                && value != REDACTED
                                && URL_KEYWORDS
                                    .iter()
                                    .any(|k| name.to_ascii_lowercase().contains(k)) =>
                        {
                            out.push_str(name);
                            out.push('=');
                            out.push_str(REDACTED);
                            changed = true;
                        }
                        _ => out.push_str(param),
                    }
                }
            }
            None => out.push_str(tail),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_credentials_in_urls() {
        assert_eq!(
            command_line(
                "gamops apply --database-url postgres://gamops:hunter2@db:5432/gamops --auto-approve"
            ),
            "gamops apply --database-url postgres://gamops:<redacted>@db:5432/gamops --auto-approve"
        );
        assert_eq!(
            command_line(
                "gamops history --database-url=postgresql://u:p%40ss@h/db?sslmode=require&password=x"
            ),
            "gamops history --database-url=postgresql://u:<redacted>@h/db?sslmode=require&password=<redacted>"
        );
        assert_eq!(
            command_line("push https://ghp_abc123@github.com/o/r.git and https://x:tok@h/"),
            "push https://<redacted>@github.com/o/r.git and https://x:<redacted>@h/"
        );
        for s in [
            "gamops apply --database-url postgres://postgres@127.0.0.1:5432/test",
            "gamops plan --out plan.json",
            "see https://example.com/a?b=c",
            "a://",
            "://x",
        ] {
            assert!(matches!(command_line(s), Cow::Borrowed(_)), "{s}");
        }
        // Redacting twice changes nothing more.
        let once = command_line("postgres://a:b@h/d").into_owned();
        assert_eq!(command_line(&once), once);
    }

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
