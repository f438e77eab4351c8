//! Turning one file's bytes into a document, or into a diagnostic that says what is wrong, where,
//! and what to do about it.

use serde::de::DeserializeOwned;

use super::layout::FileKind;
use crate::model::types::HINT_SEP;
use crate::model::{Code, Device, Diagnostic, Fleet, Plans, Pos, Severity, SourceId, Subscriber};

/// One parsed document of any kind.
///
/// Sized for a subscriber, the document there are many of (100,000 may be parsed at once): the
/// fleet and the devices, two or three times larger, are boxed; plans.yaml, which is one, is not
/// worth a box.
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "the large variant is the common one"
)]
pub enum Parsed {
    Fleet(Box<Fleet>),
    Plans(Plans),
    Device(Box<Device>),
    Subscriber(Subscriber),
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        with_snippet: false,
        emit_comments: false,
    }
}

/// Parses `bytes` as a document of `kind`.
pub fn parse(kind: FileKind, source: SourceId, bytes: &[u8]) -> Result<Parsed, Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(source, bytes, e))?;
    if is_blank(text) {
        return Err(problem(
            Code::MissingField,
            source,
            Pos::new(1, 1),
            "the file holds no document".to_string(),
            Some(format!(
                "write the fields listed in schemas/{}, or delete the file",
                kind.schema_file()
            )),
        ));
    }
    match kind {
        FileKind::Fleet => doc(kind, source, text).map(|f| Parsed::Fleet(Box::new(f))),
        FileKind::Plans => doc(kind, source, text).map(Parsed::Plans),
        FileKind::Device => doc(kind, source, text).map(|d| Parsed::Device(Box::new(d))),
        FileKind::Subscriber => doc(kind, source, text).map(Parsed::Subscriber),
    }
}

fn doc<T: DeserializeOwned>(kind: FileKind, source: SourceId, text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| from_yaml_error(kind, source, &e))
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    })
}

fn problem(
    code: Code,
    source: SourceId,
    pos: Pos,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code,
        source: Some(source),
        pos,
        message,
        hint,
        related: None,
    }
}

fn not_utf8(source: SourceId, bytes: &[u8], e: std::str::Utf8Error) -> Diagnostic {
    let before = &bytes[..e.valid_up_to()];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    problem(
        Code::NotUtf8,
        source,
        Pos::new(clamp(line as u64), clamp(column as u64)),
        "the file is not UTF-8 text".to_string(),
        Some("save it as UTF-8; GAM names and descriptions are ASCII".to_string()),
    )
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Maps a serde-saphyr error onto a diagnostic: its position, a message without the position
/// suffix, a code by what went wrong, and a hint.
fn from_yaml_error(kind: FileKind, source: SourceId, e: &serde_saphyr::Error) -> Diagnostic {
    let pos = e
        .location()
        .map(|l| Pos::new(clamp(l.line()), clamp(l.column())))
        .unwrap_or(Pos::UNKNOWN);
    let mut text = e.without_snippet().to_string();
    if pos.is_known() {
        let suffix = format!(" at line {}, column {}", pos.line, pos.column);
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_string();
        }
    }
    if let Some(stripped) = text.strip_prefix("error: ") {
        text = stripped.to_string();
    }
    let schema = kind.schema_file();
    // A message built by a model type carries its own hint.
    if let Some((message, hint)) = text.split_once(HINT_SEP) {
        return problem(
            Code::InvalidValue,
            source,
            pos,
            message.to_string(),
            Some(hint.to_string()),
        );
    }
    let (code, message, hint) = if text.starts_with("unknown field") {
        (
            Code::UnknownField,
            text,
            format!("remove it or fix its spelling; schemas/{schema} lists the fields"),
        )
    } else if text.starts_with("missing field") {
        (
            Code::MissingField,
            text,
            format!("add it; schemas/{schema} lists the required fields"),
        )
    } else if let Some(rest) = text.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        (
            Code::DuplicateKey,
            format!("key `{key}` appears twice in the same mapping"),
            "keep one of them: YAML would silently use the last".to_string(),
        )
    } else if text.starts_with("unknown variant") {
        (
            Code::InvalidValue,
            text,
            "use one of the values listed".to_string(),
        )
    } else if text.contains("boolean") {
        (Code::InvalidValue, text, "write true or false".to_string())
    } else if text.starts_with("invalid") || text.starts_with("expected") {
        (
            Code::InvalidValue,
            text,
            format!("schemas/{schema} gives each field's type"),
        )
    } else {
        (
            Code::YamlSyntax,
            text,
            "check the YAML around this line (indentation, colons, quotes)".to_string(),
        )
    };
    problem(code, source, pos, message, Some(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "id: a1\ndevice: d1\nport: 3\nendpoint: { mac: 00:0e:d8:1c:95:08 }\nvlan: 1409\nplan: 500M\n";

    fn err(kind: FileKind, text: &str) -> Diagnostic {
        parse(kind, SourceId(0), text.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_a_subscriber_with_positions() {
        let Parsed::Subscriber(s) =
            parse(FileKind::Subscriber, SourceId(0), SUB.as_bytes()).unwrap()
        else {
            panic!("not a subscriber")
        };
        assert_eq!(s.vlan.get(), 1409);
        assert_eq!(s.vlan.pos, Pos::new(5, 7));
    }

    #[test]
    fn yaml_errors_become_diagnostics() {
        let d = err(FileKind::Subscriber, &format!("{SUB}colour: red\n"));
        assert_eq!((d.code, d.pos), (Code::UnknownField, Pos::new(7, 1)));
        assert!(
            d.message.starts_with("unknown field `colour`"),
            "{}",
            d.message
        );

        let d = err(FileKind::Subscriber, &SUB.replace("plan: 500M\n", ""));
        assert_eq!(d.code, Code::MissingField);
        assert_eq!(d.message, "missing field `plan`");

        let d = err(FileKind::Subscriber, &format!("{SUB}vlan: 12\n"));
        assert_eq!((d.code, d.pos), (Code::DuplicateKey, Pos::new(7, 1)));
        assert_eq!(d.message, "key `vlan` appears twice in the same mapping");

        let d = err(FileKind::Subscriber, &SUB.replace("1409", "5000"));
        assert_eq!((d.code, d.pos), (Code::InvalidValue, Pos::new(5, 7)));
        assert_eq!(d.message, "VLAN 5000 is not a VLAN id");
        assert_eq!(
            d.hint.as_deref(),
            Some("a VLAN id is 1..4095; subscribers use 3..4093")
        );

        let d = err(FileKind::Subscriber, &SUB.replace("port: 3", "port: three"));
        assert_eq!(d.code, Code::InvalidValue);
        assert!(d.message.contains("\"three\""), "{}", d.message);

        let d = err(FileKind::Subscriber, "id: a1\ndevice: d1: x\n");
        assert_eq!(d.code, Code::YamlSyntax, "{d:?}");
    }

    #[test]
    fn empty_and_binary_files() {
        assert_eq!(
            err(FileKind::Device, "# only a comment\n").code,
            Code::MissingField
        );
        let d = parse(FileKind::Device, SourceId(0), b"name: a\nmodel: \xff\xfe\n").unwrap_err();
        assert_eq!((d.code, d.pos), (Code::NotUtf8, Pos::new(2, 8)));
    }

    #[test]
    fn yaml_1_1_booleans_are_refused() {
        let d = err(FileKind::Subscriber, &format!("{SUB}tagged: yes\n"));
        assert_eq!(d.code, Code::InvalidValue, "{d:?}");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    const SEEDS: [&str; 3] = [
        "id: a1\ndevice: d1\nport: 3\nendpoint: { mac: 00:0e:d8:1c:95:08 }\nvlan: 1409\nplan: 500M\nallowed_vlans: [3, 4]\n",
        "name: g\nmodel: GAM-12-C\naddress: 127.0.0.1\nsnmp: {port: 161, community: env:C}\nports:\n  - {port: 1, mode: mimo}\n",
        "1G: {down_mbps: 1000, up_mbps: 1000, description: x}\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any bytes, as any kind: a document or a diagnostic, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), k in 0usize..4) {
            let _ = parse(FileKind::ALL[k], SourceId(0), &bytes);
        }

        /// Valid files with a few bytes changed: still no panic, and whatever parses formats
        /// to a canonical form that reads back the same.
        #[test]
        fn mutated_files_never_panic(seed in 0usize..3, edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), k in 0usize..4) {
            let mut bytes = SEEDS[seed].as_bytes().to_vec();
            for (at, b) in edits {
                let i = at % bytes.len();
                bytes[i] = b;
            }
            let kind = FileKind::ALL[k];
            if parse(kind, SourceId(0), &bytes).is_ok() && let Ok(text) = std::str::from_utf8(&bytes) {
                match crate::inventory::canonical::format_file(kind, text) {
                    Ok(_) | Err(crate::inventory::canonical::CanonicalError::InnerComment { .. }) => {}
                    Err(e) => prop_assert!(false, "parsed but did not format: {e}"),
                }
            }
        }
    }
}

/// Inputs the fuzzer once found a bug with (`fuzz/regressions/`): each must parse or fail
/// cleanly, and format back to the same values.
#[cfg(test)]
#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let Some((&selector, bytes)) = data.split_first() else {
            continue;
        };
        let kind = FileKind::ALL[usize::from(selector) % FileKind::ALL.len()];
        if parse(kind, SourceId(0), bytes).is_ok()
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            match crate::inventory::canonical::format_file(kind, text) {
                Ok(_) | Err(crate::inventory::canonical::CanonicalError::InnerComment { .. }) => {}
                Err(e) => panic!("{kind:?}: parsed but did not format: {e}"),
            }
        }
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}
