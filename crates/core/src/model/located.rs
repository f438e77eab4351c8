//! `Located<T>`: a value together with where it was written (line and column in its document).
//!
//! The model knows no files: a position is relative to the document the value came from, and the
//! inventory layer knows which file that was. Equality ignores the position, so two states that
//! say the same thing compare equal wherever they were written.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 1-based line and column in a YAML document; `0:0` when unknown (a value built in code).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    pub const fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value and the position it was read from.
#[derive(Clone, Copy, Default)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Located<T> {
    pub const fn new(value: T, pos: Pos) -> Self {
        Located { value, pos }
    }

    /// A value built in code rather than read from a document.
    pub const fn bare(value: T) -> Self {
        Located {
            value,
            pos: Pos::UNKNOWN,
        }
    }

    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> From<T> for Located<T> {
    fn from(value: T) -> Self {
        Located::bare(value)
    }
}

impl<T> Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> AsRef<T> for Located<T> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl Borrow<str> for Located<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.is_known() {
            write!(f, "{:?} @{}", self.value, self.pos)
        } else {
            self.value.fmt(f)
        }
    }
}

impl<T: fmt::Display> fmt::Display for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl<T: PartialOrd> PartialOrd for Located<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Located<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Hash> Hash for Located<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde-saphyr recognises its `Spanned` wrapper and hands over the node's position;
        // any other deserializer (JSON in tests) yields the value with an unknown position.
        let spanned = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let loc = spanned.referenced;
        let pos = Pos::new(
            u32::try_from(loc.line()).unwrap_or(u32::MAX),
            u32::try_from(loc.column()).unwrap_or(u32::MAX),
        );
        Ok(Located::new(spanned.value, pos))
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        a: Located<u32>,
        b: Located<String>,
    }

    #[test]
    fn yaml_positions_are_kept() {
        let doc: Doc = serde_saphyr::from_str("a: 5\nb:   text\n").unwrap();
        assert_eq!(*doc.a, 5);
        assert_eq!(doc.a.pos, Pos::new(1, 4));
        assert_eq!(doc.b.pos, Pos::new(2, 6));
    }

    #[test]
    fn equality_ignores_position() {
        assert_eq!(
            Located::new(3, Pos::new(1, 1)),
            Located::new(3, Pos::new(9, 9))
        );
    }

    #[test]
    fn serialises_as_the_bare_value() {
        let v = Located::new(7u16, Pos::new(2, 3));
        assert_eq!(serde_json::to_string(&v).unwrap(), "7");
    }
}
