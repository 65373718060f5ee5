//! JSON as validation reads it, and JSON written by hand.
//!
//! Validation reads through [`JsonRead`], so that both sides run the very same checks and
//! agree on every error code: the service parses bytes into the [`Json`] tree (serde_json),
//! and the worker reads the JS value the engine's `JSON.parse` made, in place
//! (`src/web/js.rs`). Writing is hand-rolled ([`ObjectWriter`]), to keep `serde_json` and
//! float formatting out of the worker.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::String;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The JSON type of a value, as validation needs to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// What validation reads from a parsed JSON value. Text is borrowed for `'a` where the value
/// holds it (the core's tree) and copied out where it cannot be borrowed (a JS value).
pub trait JsonRead<'a>: Sized + Clone {
    fn kind(&self) -> Kind;
    /// The member `name` where `null` matters (a patch's "clear this"): `None` when absent
    /// or not an object, `Some(None)` when `null`; an object's last (as `JSON.parse` keeps).
    fn field(&self, name: &str) -> Option<Option<Self>>;
    /// The member `name` of an object; `None` when absent, `null`, or not an object.
    fn member(&self, name: &str) -> Option<Self> {
        self.field(name).flatten()
    }
    fn text(&self) -> Option<Cow<'a, str>>;
    fn flag(&self) -> Option<bool>;
    fn number(&self) -> Option<f64>;
    /// The items of an array; empty for anything else.
    fn items(&self) -> Vec<Self>;

    /// An array's string items; anything else is left out.
    fn strings(&self) -> Vec<String> {
        self.items()
            .iter()
            .filter_map(|item| item.text().map(Cow::into_owned))
            .collect()
    }
}

impl<'a> JsonRead<'a> for &'a Json {
    fn kind(&self) -> Kind {
        match *self {
            Json::Null => Kind::Null,
            Json::Bool(_) => Kind::Bool,
            Json::Number(_) => Kind::Number,
            Json::String(_) => Kind::String,
            Json::Array(_) => Kind::Array,
            Json::Object(_) => Kind::Object,
        }
    }

    fn field(&self, name: &str) -> Option<Option<&'a Json>> {
        let json: &'a Json = self;
        match json {
            Json::Object(members) => members
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| (!matches!(value, Json::Null)).then_some(value)),
            _ => None,
        }
    }

    fn text(&self) -> Option<Cow<'a, str>> {
        let json: &'a Json = self;
        json.as_str().map(Cow::Borrowed)
    }

    fn flag(&self) -> Option<bool> {
        match *self {
            Json::Bool(value) => Some(*value),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match *self {
            Json::Number(number) => Some(*number),
            _ => None,
        }
    }

    fn items(&self) -> Vec<&'a Json> {
        match *self {
            Json::Array(items) => items.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// A parsed JSON value. Objects keep their members in order; a repeated name keeps the last
/// value on lookup, as `JSON.parse` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `name` of an object; `None` for absent, for `null`, and for non-objects.
    pub fn get(&self, name: &str) -> Option<&Json> {
        JsonRead::member(&self, name)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// Builds an object from `(name, value)` pairs, skipping `None` values.
    pub fn object<const N: usize>(members: [(&str, Option<Json>); N]) -> Json {
        Json::Object(
            members
                .into_iter()
                .filter_map(|(name, value)| value.map(|value| (name.to_owned(), value)))
                .collect(),
        )
    }

    /// Serialises compactly, escaping as JSON requires.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Number(number) => write_number(*number, out),
            Json::String(text) => write_string(text, out),
            Json::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (index, (name, value)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(name, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// An object's JSON text opened for more members: without its closing brace, and with a
/// comma after its last member, so that what follows (members, then `}`) completes it; the
/// text's own members stay byte for byte. `None` when it does not end with `}`.
pub fn open_object(text: &str) -> Option<String> {
    let open = text.trim().strip_suffix('}')?.trim_end();
    Some(match open.ends_with('{') {
        true => open.to_owned(),
        false => alloc::format!("{open},"),
    })
}

/// A JSON object written member by member, straight to text: the worker's records, its
/// notification options and its messages.
pub struct ObjectWriter(String);

impl Default for ObjectWriter {
    fn default() -> ObjectWriter {
        ObjectWriter(String::from("{"))
    }
}

impl ObjectWriter {
    fn name(&mut self, name: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        write_string(name, &mut self.0);
        self.0.push(':');
    }

    pub fn str(mut self, name: &str, value: &str) -> Self {
        self.name(name);
        write_string(value, &mut self.0);
        self
    }

    /// A string member, or `null`.
    pub fn opt_str(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.str(name, value),
            None => self.raw(name, "null"),
        }
    }

    pub fn int(mut self, name: &str, value: i64) -> Self {
        self.name(name);
        push_int(&mut self.0, value);
        self
    }

    /// A whole-number member, or `null`.
    pub fn opt_int(self, name: &str, value: Option<i64>) -> Self {
        match value {
            Some(value) => self.int(name, value),
            None => self.raw(name, "null"),
        }
    }

    pub fn bool(self, name: &str, value: bool) -> Self {
        self.raw(name, if value { "true" } else { "false" })
    }

    pub fn strs<S: AsRef<str>>(mut self, name: &str, values: &[S]) -> Self {
        self.name(name);
        self.0.push('[');
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.0.push(',');
            }
            write_string(value.as_ref(), &mut self.0);
        }
        self.0.push(']');
        self
    }

    /// A member already written as JSON.
    pub fn raw(mut self, name: &str, json: &str) -> Self {
        self.name(name);
        self.0.push_str(json);
        self
    }

    pub fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn write_number(number: f64, out: &mut String) {
    if !number.is_finite() {
        out.push_str("null");
    } else if is_whole(number) && (-9.0e15..9.0e15).contains(&number) {
        push_int(out, number as i64);
    } else {
        out.push_str(&number.to_string());
    }
}

/// True for a finite number without a fractional part (`f64::fract` needs std).
pub fn is_whole(number: f64) -> bool {
    if !number.is_finite() {
        return false;
    }
    // Beyond 2^53 every f64 is a whole number; below it the cast round-trips exactly.
    !(-9.0e15..=9.0e15).contains(&number) || (number as i64) as f64 == number
}

/// Appends a decimal integer without going through `format!`.
pub fn push_int(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut magnitude = value.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut used = 0;
    loop {
        if let Some(slot) = digits.get_mut(used) {
            *slot = b'0' + (magnitude % 10) as u8;
        }
        used += 1;
        magnitude /= 10;
        if magnitude == 0 || used == digits.len() {
            break;
        }
    }
    for digit in digits.iter().take(used).rev() {
        out.push(char::from(*digit));
    }
}

pub fn write_string(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if (ch as u32) < 0x20 => {
                let code = ch as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX.get(code >> 4).copied().unwrap_or(b'0')));
                out.push(char::from(HEX.get(code & 0xf).copied().unwrap_or(b'0')));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value as f64))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Number(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Json>()? {
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

// Host only: these parse with serde_json, which the wasm tests do not link.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json {
        serde_json::from_str(text).unwrap_or(Json::Null)
    }

    #[test]
    fn a_repeated_member_name_reads_as_its_last_value_like_json_parse() {
        assert_eq!(parse(r#"{"a":1,"a":2}"#).get("a"), Some(&Json::Number(2.0)));
    }

    #[test]
    fn a_null_member_reads_as_absent() {
        assert_eq!(parse(r#"{"a":null}"#).get("a"), None);
    }

    #[test]
    fn writing_escapes_quotes_control_characters_and_keeps_unicode() {
        let value = Json::String("a\"b\\c\nd\u{1}é".to_owned());
        assert_eq!(value.to_json_string(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn written_json_parses_back_to_the_same_tree() {
        let text = r#"{"n":-12,"f":1.5,"t":true,"a":[null,"x"],"o":{}}"#;
        let tree = parse(text);
        assert_eq!(tree.to_json_string(), text);
        assert_eq!(parse(&tree.to_json_string()), tree);
    }

    #[test]
    fn fractions_are_written_so_that_they_parse_back_to_the_same_number() {
        for number in [1.5, -0.1, 1e-7, 123.456, 1e300, 5e-324, f64::MAX, -9.5e15] {
            let written = Json::Number(number).to_json_string();
            assert_eq!(written.parse::<f64>().unwrap(), number, "{written}");
        }
        assert_eq!(Json::Number(1.5).to_json_string(), "1.5");
        assert_eq!(Json::Number(-0.25).to_json_string(), "-0.25");
    }

    #[test]
    fn integers_are_written_without_a_fraction() {
        let mut out = String::new();
        push_int(&mut out, -9_007_199_254_740_991);
        assert_eq!(out, "-9007199254740991");
        assert_eq!(Json::Number(60.0).to_json_string(), "60");
    }
}
