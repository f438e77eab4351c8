//! Where each kind of file lives in an inventory, and which schema describes it.
//!
//! ```text
//! gamops.yaml                                  fleet settings
//! plans.yaml                                   bandwidth plans
//! devices/<device>.yaml                        one GAM each
//! subscribers/<device>/<subscriber-id>.yaml    one subscriber each
//! ```
//! Hidden files and folders (`.git`, `.gamops`) and Markdown notes are not read.

/// The kinds of file an inventory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Fleet,
    Plans,
    Device,
    Subscriber,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [
        FileKind::Fleet,
        FileKind::Plans,
        FileKind::Device,
        FileKind::Subscriber,
    ];

    /// The schema's file name under `schemas/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            FileKind::Fleet => "gamops.schema.json",
            FileKind::Plans => "plans.schema.json",
            FileKind::Device => "device.schema.json",
            FileKind::Subscriber => "subscriber.schema.json",
        }
    }

    /// How many folders below the inventory's root a file of this kind sits.
    fn depth(self) -> usize {
        match self {
            FileKind::Fleet | FileKind::Plans => 0,
            FileKind::Device => 1,
            FileKind::Subscriber => 2,
        }
    }

    /// The editor's schema line: `schemas/` is expected beside the inventory folder.
    pub fn schema_line(self) -> String {
        format!(
            "# yaml-language-server: $schema={}../schemas/{}",
            "../".repeat(self.depth()),
            self.schema_file()
        )
    }
}

/// What a path inside the inventory is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed<'a> {
    Fleet,
    Plans,
    Device {
        stem: &'a str,
    },
    Subscriber {
        device: &'a str,
        stem: &'a str,
    },
    /// Not read: hidden, or a note.
    Ignored,
    /// Does not belong here; the string says what is expected instead.
    Unexpected(&'static str),
}

impl Placed<'_> {
    pub fn kind(&self) -> Option<FileKind> {
        match self {
            Placed::Fleet => Some(FileKind::Fleet),
            Placed::Plans => Some(FileKind::Plans),
            Placed::Device { .. } => Some(FileKind::Device),
            Placed::Subscriber { .. } => Some(FileKind::Subscriber),
            Placed::Ignored | Placed::Unexpected(_) => None,
        }
    }
}

const LAYOUT_HINT: &str = "an inventory holds gamops.yaml, plans.yaml, devices/<device>.yaml and subscribers/<device>/<id>.yaml; move other files out";

/// Classifies a `/`-separated path relative to the inventory root.
pub fn place(rel: &str) -> Placed<'_> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.iter().any(|p| p.starts_with('.')) {
        return Placed::Ignored;
    }
    let Some(file) = parts.last() else {
        return Placed::Unexpected(LAYOUT_HINT);
    };
    if file.ends_with(".md") {
        return Placed::Ignored;
    }
    if let Some(base) = file.strip_suffix(".yml") {
        let _ = base;
        return Placed::Unexpected("gamops reads `.yaml` files: rename it to end in .yaml");
    }
    let Some(stem) = file.strip_suffix(".yaml") else {
        return Placed::Unexpected(LAYOUT_HINT);
    };
    match parts.as_slice() {
        ["gamops.yaml"] => Placed::Fleet,
        ["plans.yaml"] => Placed::Plans,
        ["devices", _] => Placed::Device { stem },
        ["subscribers", device, _] => Placed::Subscriber { device, stem },
        _ => Placed::Unexpected(LAYOUT_HINT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_files() {
        assert_eq!(place("gamops.yaml"), Placed::Fleet);
        assert_eq!(place("plans.yaml"), Placed::Plans);
        assert_eq!(place("devices/gam1.yaml"), Placed::Device { stem: "gam1" });
        assert_eq!(
            place("subscribers/gam1/s-1.yaml"),
            Placed::Subscriber {
                device: "gam1",
                stem: "s-1"
            }
        );
        assert_eq!(place(".git/config"), Placed::Ignored);
        assert_eq!(place("README.md"), Placed::Ignored);
        assert!(matches!(place("devices/gam1.yml"), Placed::Unexpected(_)));
        assert!(matches!(place("notes.txt"), Placed::Unexpected(_)));
        assert!(matches!(
            place("devices/x/gam1.yaml"),
            Placed::Unexpected(_)
        ));
        assert!(matches!(place("subscribers/s.yaml"), Placed::Unexpected(_)));
    }

    #[test]
    fn schema_lines_point_beside_the_inventory() {
        assert_eq!(
            FileKind::Subscriber.schema_line(),
            "# yaml-language-server: $schema=../../../schemas/subscriber.schema.json"
        );
        assert_eq!(
            FileKind::Fleet.schema_line(),
            "# yaml-language-server: $schema=../schemas/gamops.schema.json"
        );
    }
}
