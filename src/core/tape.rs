//! JSON values as the worker's shell hands them to the module: parsed by the engine's
//! `JSON.parse`, then written flat, so that the module reads them in place with no parser.
//!
//! Each value is one token: a tag byte, then
//! - `0` null, `1` false, `2` true: nothing more;
//! - `3` number: its IEEE 754 double, 8 bytes little-endian;
//! - `4` string: its UTF-8 length (4 bytes little-endian) and bytes;
//! - `5` array, `6` object: the length of what follows (4 bytes little-endian), then the
//!   items, or for an object each member's name (a string token) and value.
//!
//! A container's length lets a reader step over it at once, so nothing recurses with the
//! input's depth. Malformed input (the shell never writes any) reads as absent values,
//! never as a panic.

use alloc::vec::Vec;

use super::json::{JsonRead, Kind};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const NUMBER: u8 = 3;
const STRING: u8 = 4;
const ARRAY: u8 = 5;
const OBJECT: u8 = 6;

/// One value, from its tag to the end of what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tape<'a>(&'a [u8]);

impl<'a> Tape<'a> {
    /// The value at the start of `bytes` (the whole input); anything after it is ignored.
    pub fn new(bytes: &'a [u8]) -> Tape<'a> {
        let mut tokens = Tokens(bytes);
        tokens.next().unwrap_or(Tape(&[]))
    }

    fn tag(self) -> u8 {
        self.0.first().copied().unwrap_or(NULL)
    }

    /// What a string or container holds, after its tag and length.
    fn content(self) -> &'a [u8] {
        self.0.get(5..).unwrap_or_default()
    }

    /// The member `name`, even when it is `null` (a body that is `null` is no body's absence).
    pub fn field(self, name: &str) -> Option<Tape<'a>> {
        let mut found = None;
        if self.tag() == OBJECT {
            let mut tokens = Tokens(self.content());
            while let (Some(key), Some(value)) = (tokens.next(), tokens.next()) {
                if key.text() == Some(name) {
                    found = Some(value);
                }
            }
        }
        found
    }

    /// The strings among an array's items.
    pub fn strings(self) -> Vec<&'a str> {
        self.items().iter().filter_map(|item| item.text()).collect()
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.tag() {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }
}

impl<'a> JsonRead<'a> for Tape<'a> {
    fn kind(self) -> Kind {
        match self.tag() {
            FALSE | TRUE => Kind::Bool,
            NUMBER => Kind::Number,
            STRING => Kind::String,
            ARRAY => Kind::Array,
            OBJECT => Kind::Object,
            _ => Kind::Null,
        }
    }

    fn member(self, name: &str) -> Option<Tape<'a>> {
        self.field(name).filter(|value| value.tag() != NULL)
    }

    fn text(self) -> Option<&'a str> {
        let bytes = self.content();
        // Checked, so that any bytes at all are safe to read (and to fuzz), though the
        // shell's `TextEncoder` only writes valid UTF-8.
        (self.tag() == STRING && is_utf8(bytes)).then(|| {
            // SAFETY: `is_utf8` checked these bytes.
            unsafe { core::str::from_utf8_unchecked(bytes) }
        })
    }

    fn number(self) -> Option<f64> {
        let bytes = self.0.get(1..9)?;
        (self.tag() == NUMBER).then(|| f64::from_le_bytes(bytes.try_into().unwrap_or_default()))
    }

    fn items(self) -> Vec<Tape<'a>> {
        match self.tag() {
            ARRAY => Tokens(self.content()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Whether `bytes` are UTF-8: each character the shortest encoding of a scalar value (no
/// surrogates, nothing above U+10FFFF). The standard library's check is three times the
/// size, for a speed that strings of a few hundred bytes do not need.
fn is_utf8(bytes: &[u8]) -> bool {
    let mut rest = bytes.iter();
    while let Some(&first) = rest.next() {
        let (length, least) = match first {
            0x00..=0x7f => continue,
            0xc2..=0xdf => (1, 0x80),
            0xe0..=0xef => (2, 0x800),
            0xf0..=0xf4 => (3, 0x10000),
            _ => return false,
        };
        let mut code = u32::from(first) & (0x3f >> length);
        for _ in 0..length {
            match rest.next() {
                Some(&next) if next & 0xc0 == 0x80 => code = code << 6 | u32::from(next & 0x3f),
                _ => return false,
            }
        }
        if code < least || (0xd800..0xe000).contains(&code) || code > 0x10ffff {
            return false;
        }
    }
    true
}

/// The tokens one after another in `.0`.
struct Tokens<'a>(&'a [u8]);

impl<'a> Iterator for Tokens<'a> {
    type Item = Tape<'a>;

    fn next(&mut self) -> Option<Tape<'a>> {
        let size = match *self.0.first()? {
            NUMBER => 9,
            STRING | ARRAY | OBJECT => {
                let length = self.0.get(1..5)?.try_into().ok().map(u32::from_le_bytes)?;
                5 + length as usize
            }
            _ => 1,
        };
        let token = self.0.get(..size)?;
        self.0 = self.0.get(size..).unwrap_or_default();
        Some(Tape(token))
    }
}

/// Writes `Tape`s, for tests and tools on the host: the shell's encoding, in Rust.
#[cfg(not(target_arch = "wasm32"))]
pub mod write {
    use super::*;
    use crate::core::json::Json;

    /// The tape of a JSON tree.
    pub fn tape_of(value: &Json) -> Vec<u8> {
        let mut out = Vec::new();
        put(value, &mut out);
        out
    }

    fn put(value: &Json, out: &mut Vec<u8>) {
        match value {
            Json::Null => out.push(NULL),
            Json::Bool(false) => out.push(FALSE),
            Json::Bool(true) => out.push(TRUE),
            Json::Number(number) => {
                out.push(NUMBER);
                out.extend_from_slice(&number.to_le_bytes());
            }
            Json::String(text) => {
                out.push(STRING);
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Json::Array(items) => container(ARRAY, out, |out| {
                items.iter().for_each(|item| put(item, out))
            }),
            Json::Object(members) => container(OBJECT, out, |out| {
                for (name, value) in members {
                    put(&Json::String(name.clone()), out);
                    put(value, out);
                }
            }),
        }
    }

    fn container(tag: u8, out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
        out.push(tag);
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        fill(out);
        let length = (out.len() - at - 4) as u32;
        out.splice(at..at + 4, length.to_le_bytes());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::write::tape_of;
    use super::*;
    use crate::core::json::Json;

    fn json(text: &str) -> Json {
        serde_json::from_str(text).expect("test JSON parses")
    }

    #[test]
    fn members_and_items_read_as_in_the_tree_with_the_last_duplicate_winning() {
        let bytes = tape_of(&json(
            r#"{"a": [1.5, "x", {"b": null}], "s": "té", "a": {"c": true}}"#,
        ));
        let value = Tape::new(&bytes);
        assert_eq!(value.kind(), Kind::Object);
        assert_eq!(value.member("s").and_then(Tape::text), Some("té"));
        assert_eq!(value.member("a").map(Tape::kind), Some(Kind::Object));
        assert_eq!(
            value
                .member("a")
                .and_then(|a| a.member("c"))
                .and_then(Tape::as_bool),
            Some(true)
        );
        assert_eq!(value.member("missing"), None);
        let list = tape_of(&json(r#"[1.5, "x", {"b": null}]"#));
        let items = Tape::new(&list).items();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].number(), Some(1.5));
        assert_eq!(items[2].member("b"), None);
        assert_eq!(items[2].field("b").map(Tape::kind), Some(Kind::Null));
    }

    #[test]
    fn deep_nesting_is_stepped_over_without_recursion() {
        // `{"a": [[[...[1]...]]], "b": true}`, 100,000 arrays deep, written directly.
        const DEPTH: usize = 100_000;
        let mut inner = Vec::new();
        for level in 0..DEPTH {
            inner.push(ARRAY);
            let length = 9 + 5 * (DEPTH - 1 - level);
            inner.extend_from_slice(&(length as u32).to_le_bytes());
        }
        inner.push(NUMBER);
        inner.extend_from_slice(&1.0f64.to_le_bytes());
        let mut members = tape_of(&Json::String("a".into()));
        members.extend_from_slice(&inner);
        members.extend_from_slice(&tape_of(&Json::String("b".into())));
        members.push(TRUE);
        let mut bytes = vec![OBJECT];
        bytes.extend_from_slice(&(members.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&members);
        let value = Tape::new(&bytes);
        assert_eq!(value.member("b").and_then(Tape::as_bool), Some(true));
        assert_eq!(value.member("a").map(Tape::kind), Some(Kind::Array));
    }

    #[test]
    fn strings_read_only_when_they_are_utf8_as_the_standard_library_checks_it() {
        let samples: [&[u8]; 12] = [
            b"plain",
            "é€😀".as_bytes(),
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\x80",
            b"\xc3",
            b"\xe2\x82",
            b"\xef\xbf\xbf",
            b"\xf0\x9f\x98",
        ];
        for bytes in samples {
            assert_eq!(
                is_utf8(bytes),
                core::str::from_utf8(bytes).is_ok(),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn malformed_bytes_read_as_absent_values_and_never_panic() {
        for bytes in [
            &[][..],
            &[9],
            &[3, 1, 2],
            &[4, 255, 255, 255, 255, b'a'],
            &[6, 3, 0, 0, 0, 4, 0],
            &[4, 2, 0, 0, 0, 0xff, 0xfe],
        ] {
            let value = Tape::new(bytes);
            assert_eq!(value.member("a"), None);
            assert_eq!(value.text(), None);
            assert_eq!(value.number(), None);
            assert!(value.items().is_empty());
        }
    }
}
