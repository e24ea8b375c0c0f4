//! The per-household hash chain that makes tampering provable.
//!
//! `hash = hex(SHA-256(prev_hash ‖ JCS(payload without meta.hash)))` where `prev_hash` is the
//! previous event's hash as 64 lowercase hex ASCII bytes (64 `0`s for the first event) and JCS
//! is the JSON Canonicalization Scheme of RFC 8785 (keys sorted by UTF-16 code units, no
//! whitespace, ES6 number form). The payload includes the household id and the sequence, so an
//! edited, deleted, inserted or swapped event breaks the chain at that point.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::envelope::{CommandContext, Envelope, Facts, Recorded, SCHEMA_VERSION};

/// `prev_hash` of a household's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("the event could not be encoded as JSON: {0}")]
    Encode(String),
    #[error("the stored payload has no meta object")]
    NoMeta,
}

/// Where a household's chain stands: the last sequence written and its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainHead {
    pub sequence: i64,
    pub hash: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead {
            sequence: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainHead {
    /// Moves the head past a recorded event.
    pub fn advance(&mut self, meta: &Envelope) {
        self.sequence = meta.sequence;
        self.hash.clone_from(&meta.hash);
    }
}

/// Hash of a stored payload (`{"type","data","meta"}`), ignoring any `meta.hash` it carries.
pub fn payload_hash(payload: &Value) -> Result<String, ChainError> {
    payload_hash_owned(payload.clone())
}

/// Like [`payload_hash`], consuming the payload instead of copying it.
pub fn payload_hash_owned(mut payload: Value) -> Result<String, ChainError> {
    let meta = payload
        .get_mut("meta")
        .and_then(Value::as_object_mut)
        .ok_or(ChainError::NoMeta)?;
    meta.remove("hash");
    let prev = meta
        .get("prev_hash")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    hash_canonical(&prev, &payload)
}

fn hash_canonical(prev_hash: &str, unhashed: &Value) -> Result<String, ChainError> {
    let mut canonical = Vec::with_capacity(1_024);
    canonical::write(&mut canonical, unhashed)?;
    Ok(hash_bytes(prev_hash, &canonical))
}

/// RFC 8785 (JCS) output, byte for byte what `serde_jcs` writes, without its cost: `serde_jcs`
/// buffers every key and value of every object level in allocations of their own (and re-parses
/// each key), which made hashing the largest CPU cost of an import. This serializer writes into
/// one buffer and puts each object's members in order when the object ends; the numbers where
/// the two could differ (all but integers up to 2^53) are written by `serde_jcs` itself.
mod canonical {
    use std::cmp::Ordering;
    use std::io::Write;

    use serde::ser::{self, Impossible, Serialize};

    use super::ChainError;

    /// Integers up to 2^53 print the same as a double in ES6 form; larger ones do not.
    const EXACT_INTEGER: u64 = 1 << 53;

    /// What [`write`] learnt on the way.
    #[derive(Debug, Default)]
    pub struct Written {
        /// Offset of the closing brace of the top-level member `meta`'s object, if any.
        pub meta_end: Option<usize>,
        /// An integer beyond 2^53 was written as a double (so the bytes are not the data).
        pub rounded: bool,
    }

    /// Appends the canonical form of `value` to `out`.
    pub fn write<T: Serialize + ?Sized>(
        out: &mut Vec<u8>,
        value: &T,
    ) -> Result<Written, ChainError> {
        let mut w = Writer {
            out,
            scratch: Vec::new(),
            members: Vec::new(),
            text: String::new(),
            written: Written::default(),
            depth: 0,
        };
        value
            .serialize(&mut w)
            .map_err(|e| ChainError::Encode(e.0))?;
        Ok(w.written)
    }

    #[derive(Debug)]
    pub struct Error(String);

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Error {}

    impl ser::Error for Error {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            Error(msg.to_string())
        }
    }

    fn err(e: impl std::fmt::Display) -> Error {
        Error(e.to_string())
    }

    struct Writer<'o> {
        out: &'o mut Vec<u8>,
        /// Where an object's members are put in order.
        scratch: Vec<u8>,
        /// The members of the objects open, innermost last.
        members: Vec<Member>,
        /// Where `collect_str` formats.
        text: String,
        written: Written,
        /// Objects open around the current value.
        depth: usize,
    }

    impl<'o> Writer<'o> {
        fn string(&mut self, s: &str) -> Result<(), Error> {
            // serde_json escapes as RFC 8785 asks (\b \f \n \r \t, other controls as lowercase
            // \u00xx, `"` and `\\`, nothing else), and serde_jcs uses the same escaping.
            serde_json::to_writer(&mut *self.out, s).map_err(err)
        }

        fn signed(&mut self, i: i64) -> Result<(), Error> {
            if i.unsigned_abs() <= EXACT_INTEGER {
                write!(self.out, "{i}").map_err(err)
            } else {
                self.written.rounded = true;
                serde_jcs::to_writer(&mut *self.out, &i).map_err(err)
            }
        }

        fn unsigned(&mut self, u: u64) -> Result<(), Error> {
            if u <= EXACT_INTEGER {
                write!(self.out, "{u}").map_err(err)
            } else {
                self.written.rounded = true;
                serde_jcs::to_writer(&mut *self.out, &u).map_err(err)
            }
        }

        fn double(&mut self, f: f64) -> Result<(), Error> {
            // ES6 shortest form; non-finite numbers are refused, as serde_jcs refuses them.
            serde_jcs::to_writer(&mut *self.out, &f).map_err(err)
        }

        fn object(&mut self, wrapped: bool) -> Object<'_, 'o> {
            self.out.push(b'{');
            self.depth += 1;
            Object {
                start: self.out.len(),
                first: self.members.len(),
                wrapped,
                w: self,
            }
        }

        /// Opens `{"variant":` around a variant's content.
        fn variant(&mut self, variant: &str) -> Result<(), Error> {
            self.out.push(b'{');
            self.depth += 1;
            self.string(variant)?;
            self.out.push(b':');
            Ok(())
        }

        fn end_variant(&mut self) {
            self.depth -= 1;
            self.out.push(b'}');
        }
    }

    /// A member written in place: `"key":value` at `start..end`, the key's JSON at
    /// `start..key_end`; `plain` when the key is ASCII without escapes (its bytes sort as its
    /// UTF-16 code units do).
    struct Member {
        start: usize,
        key_end: usize,
        end: usize,
        plain: bool,
    }

    /// An object being written: members go out in the order given, and are put in RFC 8785
    /// order when it ends.
    struct Object<'a, 'o> {
        w: &'a mut Writer<'o>,
        start: usize,
        /// Where this object's members start in `w.members`.
        first: usize,
        /// The content of a struct variant: `}` once more at the end.
        wrapped: bool,
    }

    impl Object<'_, '_> {
        fn key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<(), Error> {
            let start = self.w.out.len();
            key.serialize(KeyWriter(&mut *self.w))?;
            let key_end = self.w.out.len();
            let key = &self.w.out[start..key_end];
            let plain = key.is_ascii() && !key.contains(&b'\\');
            self.w.out.push(b':');
            self.w.members.push(Member {
                start,
                key_end,
                end: key_end,
                plain,
            });
            Ok(())
        }

        fn value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), Error> {
            let at = self.w.members.len() - 1;
            value.serialize(&mut *self.w)?;
            // Nested objects have pushed and popped their own members above ours.
            self.w.members[at].end = self.w.out.len();
            Ok(())
        }

        fn end(self) -> Result<(), Error> {
            let Object {
                w,
                start,
                first,
                wrapped,
            } = self;
            w.depth -= 1;
            let top = w.depth == 0;
            let out = &mut *w.out;
            let members = &mut w.members[first..];
            let key = |m: &Member| &out[m.start..m.key_end];
            let order = |a: &Member, b: &Member| {
                if a.plain && b.plain {
                    key(a).cmp(key(b))
                } else {
                    key_order(key(a), key(b))
                }
            };
            // Stable: of members with one key, the last one counts (as in serde_jcs's map).
            members.sort_by(order);
            let mut unique = members.len();
            for i in (1..members.len()).rev() {
                if key(&members[i - 1]) == key(&members[i]) {
                    members[i - 1..].rotate_left(1);
                    unique -= 1;
                }
            }
            let members = &members[..unique];
            w.scratch.clear();
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    w.scratch.push(b',');
                }
                w.scratch.extend_from_slice(&out[m.start..m.end]);
                if top && key(m) == b"\"meta\"" && out[m.end - 1] == b'}' {
                    w.written.meta_end = Some(start + w.scratch.len() - 1);
                }
            }
            out.truncate(start);
            out.extend_from_slice(&w.scratch);
            out.push(b'}');
            w.members.truncate(first);
            if wrapped {
                w.end_variant();
            }
            Ok(())
        }
    }

    /// RFC 8785 orders keys by their UTF-16 code units; `a` and `b` are keys as JSON strings.
    fn key_order(a: &[u8], b: &[u8]) -> Ordering {
        fn inner(k: &[u8]) -> &[u8] {
            k.get(1..k.len().saturating_sub(1)).unwrap_or_default()
        }
        let plain = |k: &[u8]| k.is_ascii() && !k.contains(&b'\\');
        if plain(a) && plain(b) {
            return inner(a).cmp(inner(b));
        }
        let text = |k: &[u8]| serde_json::from_slice::<String>(k).unwrap_or_default();
        text(a).encode_utf16().cmp(text(b).encode_utf16())
    }

    /// Map keys as serde_json writes them: strings, or numbers and booleans in quotes.
    struct KeyWriter<'a, 'o>(&'a mut Writer<'o>);

    fn key_must_be_a_string() -> Error {
        Error("key must be a string".into())
    }

    impl KeyWriter<'_, '_> {
        fn quoted(self, f: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>) -> Result<(), Error> {
            self.0.out.push(b'"');
            f(self.0)?;
            self.0.out.push(b'"');
            Ok(())
        }
    }

    impl ser::Serializer for KeyWriter<'_, '_> {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Impossible<(), Error>;
        type SerializeTuple = Impossible<(), Error>;
        type SerializeTupleStruct = Impossible<(), Error>;
        type SerializeTupleVariant = Impossible<(), Error>;
        type SerializeMap = Impossible<(), Error>;
        type SerializeStruct = Impossible<(), Error>;
        type SerializeStructVariant = Impossible<(), Error>;

        fn serialize_str(self, v: &str) -> Result<(), Error> {
            self.0.string(v)
        }
        fn serialize_char(self, v: char) -> Result<(), Error> {
            self.0.string(v.encode_utf8(&mut [0; 4]))
        }
        fn serialize_bool(self, v: bool) -> Result<(), Error> {
            self.quoted(|w| {
                w.out
                    .write_all(if v { b"true" } else { b"false" })
                    .map_err(err)
            })
        }
        fn serialize_i8(self, v: i8) -> Result<(), Error> {
            self.quoted(|w| w.signed(v.into()))
        }
        fn serialize_i16(self, v: i16) -> Result<(), Error> {
            self.quoted(|w| w.signed(v.into()))
        }
        fn serialize_i32(self, v: i32) -> Result<(), Error> {
            self.quoted(|w| w.signed(v.into()))
        }
        fn serialize_i64(self, v: i64) -> Result<(), Error> {
            self.quoted(|w| w.signed(v))
        }
        fn serialize_u8(self, v: u8) -> Result<(), Error> {
            self.quoted(|w| w.unsigned(v.into()))
        }
        fn serialize_u16(self, v: u16) -> Result<(), Error> {
            self.quoted(|w| w.unsigned(v.into()))
        }
        fn serialize_u32(self, v: u32) -> Result<(), Error> {
            self.quoted(|w| w.unsigned(v.into()))
        }
        fn serialize_u64(self, v: u64) -> Result<(), Error> {
            self.quoted(|w| w.unsigned(v))
        }
        fn serialize_f32(self, _: f32) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_f64(self, _: f64) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_none(self) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_unit(self) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<(), Error> {
            self.0.string(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, Error> {
            Err(key_must_be_a_string())
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Error> {
            Err(key_must_be_a_string())
        }
    }

    /// An array being written.
    struct Array<'a, 'o> {
        w: &'a mut Writer<'o>,
        first: bool,
        /// The content of a tuple variant: `}` after the `]`.
        wrapped: bool,
    }

    impl Array<'_, '_> {
        fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            if !self.first {
                self.w.out.push(b',');
            }
            self.first = false;
            value.serialize(&mut *self.w)
        }

        fn end(self) -> Result<(), Error> {
            self.w.out.push(b']');
            if self.wrapped {
                self.w.end_variant();
            }
            Ok(())
        }
    }

    impl ser::SerializeSeq for Array<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            self.element(value)
        }
        fn end(self) -> Result<(), Error> {
            Array::end(self)
        }
    }

    impl ser::SerializeTuple for Array<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            self.element(value)
        }
        fn end(self) -> Result<(), Error> {
            Array::end(self)
        }
    }

    impl ser::SerializeTupleStruct for Array<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            self.element(value)
        }
        fn end(self) -> Result<(), Error> {
            Array::end(self)
        }
    }

    impl ser::SerializeTupleVariant for Array<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            self.element(value)
        }
        fn end(self) -> Result<(), Error> {
            Array::end(self)
        }
    }

    impl ser::SerializeMap for Object<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
            self.key(key)
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            self.value(value)
        }
        fn end(self) -> Result<(), Error> {
            Object::end(self)
        }
    }

    impl ser::SerializeStruct for Object<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            self.key(key)?;
            self.value(value)
        }
        fn end(self) -> Result<(), Error> {
            Object::end(self)
        }
    }

    impl ser::SerializeStructVariant for Object<'_, '_> {
        type Ok = ();
        type Error = Error;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            self.key(key)?;
            self.value(value)
        }
        fn end(self) -> Result<(), Error> {
            Object::end(self)
        }
    }

    impl<'a, 'o> ser::Serializer for &'a mut Writer<'o> {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = Array<'a, 'o>;
        type SerializeTuple = Array<'a, 'o>;
        type SerializeTupleStruct = Array<'a, 'o>;
        type SerializeTupleVariant = Array<'a, 'o>;
        type SerializeMap = Object<'a, 'o>;
        type SerializeStruct = Object<'a, 'o>;
        type SerializeStructVariant = Object<'a, 'o>;

        fn serialize_bool(self, v: bool) -> Result<(), Error> {
            self.out
                .write_all(if v { b"true" } else { b"false" })
                .map_err(err)
        }
        fn serialize_i8(self, v: i8) -> Result<(), Error> {
            self.signed(v.into())
        }
        fn serialize_i16(self, v: i16) -> Result<(), Error> {
            self.signed(v.into())
        }
        fn serialize_i32(self, v: i32) -> Result<(), Error> {
            self.signed(v.into())
        }
        fn serialize_i64(self, v: i64) -> Result<(), Error> {
            self.signed(v)
        }
        fn serialize_u8(self, v: u8) -> Result<(), Error> {
            self.unsigned(v.into())
        }
        fn serialize_u16(self, v: u16) -> Result<(), Error> {
            self.unsigned(v.into())
        }
        fn serialize_u32(self, v: u32) -> Result<(), Error> {
            self.unsigned(v.into())
        }
        fn serialize_u64(self, v: u64) -> Result<(), Error> {
            self.unsigned(v)
        }
        fn serialize_f32(self, v: f32) -> Result<(), Error> {
            self.double(v.into())
        }
        fn serialize_f64(self, v: f64) -> Result<(), Error> {
            self.double(v)
        }
        fn serialize_char(self, v: char) -> Result<(), Error> {
            self.string(v.encode_utf8(&mut [0; 4]))
        }
        fn serialize_str(self, v: &str) -> Result<(), Error> {
            self.string(v)
        }
        fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), Error> {
            // Dates and times come this way: formatted in a reused buffer, not a new string.
            let mut text = std::mem::take(&mut self.text);
            text.clear();
            std::fmt::Write::write_fmt(&mut text, format_args!("{value}")).map_err(err)?;
            let written = self.string(&text);
            self.text = text;
            written
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
            let mut array = ser::Serializer::serialize_seq(self, Some(v.len()))?;
            for b in v {
                array.element(b)?;
            }
            Array::end(array)
        }
        fn serialize_none(self) -> Result<(), Error> {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<(), Error> {
            self.out.write_all(b"null").map_err(err)
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
            self.serialize_unit()
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<(), Error> {
            self.string(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            self.variant(variant)?;
            value.serialize(&mut *self)?;
            self.end_variant();
            Ok(())
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a, 'o>, Error> {
            self.out.push(b'[');
            Ok(Array {
                w: self,
                first: true,
                wrapped: false,
            })
        }
        fn serialize_tuple(self, len: usize) -> Result<Array<'a, 'o>, Error> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            len: usize,
        ) -> Result<Array<'a, 'o>, Error> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Array<'a, 'o>, Error> {
            // `{"variant":[…]}`: one member, nothing to order.
            self.variant(variant)?;
            self.out.push(b'[');
            Ok(Array {
                w: self,
                first: true,
                wrapped: true,
            })
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Object<'a, 'o>, Error> {
            Ok(self.object(false))
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'a, 'o>, Error> {
            Ok(self.object(false))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Object<'a, 'o>, Error> {
            self.variant(variant)?;
            Ok(self.object(true))
        }
    }

    #[cfg(test)]
    mod tests {
        use proptest::prelude::*;
        use serde_json::{json, Value};

        fn canonical(v: &Value) -> Vec<u8> {
            let mut out = Vec::new();
            super::write(&mut out, v).expect("write");
            out
        }

        fn key() -> impl Strategy<Value = String> {
            // ASCII, Vietnamese, and the characters whose UTF-16 order differs from UTF-8's
            // (U+E000..U+FFFF against supplementary planes).
            prop::collection::vec(
                prop_oneof![
                    Just('a'),
                    Just('Z'),
                    Just('_'),
                    Just('ế'),
                    Just('\u{e000}'),
                    Just('\u{ffee}'),
                    Just('\u{1f600}'),
                    Just('\u{10000}'),
                ],
                0..4,
            )
            .prop_map(|cs| cs.into_iter().collect())
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|i| json!(i)),
                any::<u64>().prop_map(|u| json!(u)),
                (-1.0e25..1.0e25f64).prop_map(|f| json!(f)),
                prop_oneof![Just(1e21), Just(1e-7), Just(0.1), Just(-0.0), Just(5e-324)]
                    .prop_map(|f: f64| json!(f)),
                ".{0,12}".prop_map(Value::String),
                "[\u{0}-\u{1f}\u{7f}\"\\/]{0,6}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 40, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::btree_map(key(), inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn writes_what_serde_jcs_writes(v in value()) {
                prop_assert_eq!(canonical(&v), serde_jcs::to_vec(&v).expect("jcs"));
            }
        }

        #[derive(serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Shape {
            Unit,
            Newtype(Vec<u8>),
            Tuple(i64, Option<f64>),
            Struct { z: char, a: bool },
        }

        #[derive(serde::Serialize)]
        struct Pair(u64, &'static str);

        #[derive(serde::Serialize)]
        struct Sample {
            shapes: Vec<Shape>,
            pair: Pair,
            counts: std::collections::BTreeMap<i32, i8>,
            #[serde(flatten)]
            extra: Value,
            nothing: (),
        }

        #[test]
        fn writes_what_serde_jcs_writes_for_every_kind_of_rust_value() {
            let sample = Sample {
                shapes: vec![
                    Shape::Unit,
                    Shape::Newtype(vec![0, 255]),
                    Shape::Tuple(-(1 << 60), Some(0.5)),
                    Shape::Tuple(3, None),
                    Shape::Struct { z: 'ế', a: true },
                ],
                pair: Pair(u64::MAX, "x\u{1}y"),
                counts: [(-3, 1), (10, -2), (2, 0)].into_iter().collect(),
                // "nothing" twice: the last one counts, as in serde_jcs.
                extra: json!({"type": "t", "nothing": 5, "data": {"b": 1, "a": [{"d": 1, "c": 2}]}}),
                nothing: (),
            };
            let mut out = Vec::new();
            let written = super::write(&mut out, &sample).expect("write");
            assert_eq!(
                String::from_utf8(out).expect("utf8"),
                serde_jcs::to_string(&sample).expect("jcs")
            );
            assert!(written.rounded, "u64::MAX and -2^60 are written as doubles");
            // What serde_jcs refuses is refused.
            assert!(super::write(&mut Vec::new(), &f64::NAN).is_err());
            assert!(serde_jcs::to_vec(&1_i128).is_err());
            assert!(super::write(&mut Vec::new(), &1_i128).is_err());
        }

        #[test]
        fn the_top_level_meta_object_is_found_after_ordering() {
            let v = json!({"type": "x", "meta": {"b": 1, "a": {"z": 0}}, "data": {"meta": {}}});
            let mut out = Vec::new();
            let written = super::write(&mut out, &v).expect("write");
            let end = written.meta_end.expect("meta");
            let text = String::from_utf8(out).expect("utf8");
            assert_eq!(
                text,
                "{\"data\":{\"meta\":{}},\"meta\":{\"a\":{\"z\":0},\"b\":1},\"type\":\"x\"}"
            );
            assert_eq!(
                &text[..=end],
                "{\"data\":{\"meta\":{}},\"meta\":{\"a\":{\"z\":0},\"b\":1}"
            );
            assert!(!written.rounded);
        }

        #[test]
        fn keys_are_ordered_by_utf16_code_units() {
            let v =
                json!({"\u{1f600}": 1, "\u{ffee}": 2, "b": 3, "a": {"y": [1.5, 2e21], "x": null}});
            let expected =
                "{\"a\":{\"x\":null,\"y\":[1.5,2e+21]},\"b\":3,\"\u{1f600}\":1,\"\u{ffee}\":2}";
            assert_eq!(String::from_utf8(canonical(&v)).expect("utf8"), expected);
            assert_eq!(serde_jcs::to_string(&v).expect("jcs"), expected);
        }
    }
}

fn hash_bytes(prev_hash: &str, canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical);
    hex::encode(hasher.finalize())
}

/// Wraps the events one command produced in envelopes and links them onto the chain.
pub fn seal<E: Serialize>(
    head: &ChainHead,
    ctx: &CommandContext,
    events: Vec<(E, Facts)>,
) -> Result<Vec<Recorded<E>>, ChainError> {
    seal_with(head, ctx, events, true)
}

/// Envelopes without hashes: for checking a whole file before anything is written, where
/// the events are thrown away and only the rules' verdict counts.
pub fn envelope_unhashed<E: Serialize>(
    head: &ChainHead,
    ctx: &CommandContext,
    events: Vec<(E, Facts)>,
) -> Result<Vec<Recorded<E>>, ChainError> {
    seal_with(head, ctx, events, false)
}

fn seal_with<E: Serialize>(
    head: &ChainHead,
    ctx: &CommandContext,
    events: Vec<(E, Facts)>,
    hash: bool,
) -> Result<Vec<Recorded<E>>, ChainError> {
    let mut head = head.clone();
    let mut sealed = Vec::with_capacity(events.len());
    let mut scratch = Vec::new();
    for (event, facts) in events {
        let mut recorded = Recorded {
            event,
            meta: Envelope {
                household_id: ctx.household_id,
                sequence: head.sequence + 1,
                schema_version: SCHEMA_VERSION,
                actor: ctx.actor.clone(),
                recorded_at: ctx.recorded_at,
                effective_on: facts.effective_on.unwrap_or(ctx.today),
                reason: facts.reason,
                legal_basis: facts.legal_basis,
                decision_no: facts.decision_no,
                source: ctx.source.clone(),
                correlation_id: ctx.correlation_id,
                idempotency: ctx.idempotency.clone(),
                prev_hash: head.hash.clone(),
                hash: String::new(),
            },
        };
        if hash {
            hash_event(&mut recorded, &mut scratch, false)?;
        }
        head.advance(&recorded.meta);
        sealed.push(recorded);
    }
    Ok(sealed)
}

/// Links events that [`envelope_unhashed`] made onto the chain at `head`, as [`seal`] would have
/// (each `prev_hash` and `hash` set, `head` moved past them), appending each event's JSON as
/// stored to `out` — its canonical form plus the hash, so a bulk writer serialises an event once
/// for both, in one reused buffer — and returning where each one is.
pub fn link_into<E: Serialize>(
    head: &mut ChainHead,
    events: &mut [Recorded<E>],
    out: &mut Vec<u8>,
) -> Result<Vec<std::ops::Range<usize>>, ChainError> {
    let mut spans = Vec::with_capacity(events.len());
    for recorded in events {
        recorded.meta.prev_hash.clone_from(&head.hash);
        let start = out.len();
        hash_event(recorded, out, true)?;
        spans.push(start..out.len());
        head.advance(&recorded.meta);
    }
    Ok(spans)
}

/// Sets `meta.hash` of an event whose `prev_hash` is set, using the end of `out` to write its
/// canonical form; with `stored`, leaves there the JSON to store (the canonical form with the
/// hash added to `meta`), else leaves `out` as it was.
fn hash_event<E: Serialize>(
    recorded: &mut Recorded<E>,
    out: &mut Vec<u8>,
    stored: bool,
) -> Result<(), ChainError> {
    let start = out.len();
    // With `meta.hash` empty serde leaves it out: this is the form `payload_hash` recomputes
    // from the stored JSON.
    recorded.meta.hash.clear();
    let written = canonical::write(out, &*recorded)?;
    recorded.meta.hash = hash_bytes(&recorded.meta.prev_hash, &out[start..]);
    match written.meta_end {
        _ if !stored => out.truncate(start),
        // Key order does not matter to the store (jsonb); the hash goes last in `meta`.
        Some(end) if !written.rounded => {
            let comma = if out.get(end.wrapping_sub(1)) == Some(&b'{') {
                ""
            } else {
                ","
            };
            let field = format!("{comma}\"hash\":\"{}\"", recorded.meta.hash);
            out.splice(end..end, field.bytes());
        }
        // The canonical form wrote a huge integer as a double: store the exact data.
        _ => {
            out.truncate(start);
            serde_json::to_writer(&mut *out, &*recorded)
                .map_err(|e| ChainError::Encode(e.to_string()))?;
        }
    }
    Ok(())
}

/// Result of checking one household's events in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// Row sequence numbers are not 1, 2, 3, … (an event was deleted or inserted).
    Gap { expected: i64, found: i64 },
    /// The payload's own sequence or household differs from the row it sits in.
    Misplaced { sequence: i64 },
    /// `prev_hash` is not the previous event's hash.
    Unlinked { sequence: i64 },
    /// The recomputed hash differs from the stored one (the payload was edited).
    Altered { sequence: i64 },
}

impl ChainBreak {
    pub fn sequence(&self) -> i64 {
        match self {
            ChainBreak::Gap { expected, .. } => *expected,
            ChainBreak::Misplaced { sequence }
            | ChainBreak::Unlinked { sequence }
            | ChainBreak::Altered { sequence } => *sequence,
        }
    }
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Gap { expected, found } => {
                write!(
                    f,
                    "event {expected} is missing (next stored event is {found})"
                )
            }
            ChainBreak::Misplaced { sequence } => {
                write!(f, "event {sequence} belongs to another place in the log")
            }
            ChainBreak::Unlinked { sequence } => {
                write!(f, "event {sequence} does not link to the event before it")
            }
            ChainBreak::Altered { sequence } => {
                write!(f, "event {sequence} was altered after it was written")
            }
        }
    }
}

/// Checks events fed in row order and remembers the first break.
#[derive(Debug)]
pub struct ChainVerifier {
    household_id: uuid::Uuid,
    head: ChainHead,
    first_break: Option<ChainBreak>,
}

impl ChainVerifier {
    pub fn new(household_id: uuid::Uuid) -> Self {
        ChainVerifier {
            household_id,
            head: ChainHead::default(),
            first_break: None,
        }
    }

    /// Feeds the next stored row: its sequence column and its payload.
    pub fn push(&mut self, row_sequence: i64, payload: &Value) {
        self.push_owned(row_sequence, payload.clone());
    }

    /// Like [`ChainVerifier::push`], consuming the payload (no copy on the hot path).
    pub fn push_owned(&mut self, row_sequence: i64, payload: Value) {
        if self.first_break.is_some() {
            return;
        }
        let expected = self.head.sequence + 1;
        if row_sequence != expected {
            self.first_break = Some(ChainBreak::Gap {
                expected,
                found: row_sequence,
            });
            return;
        }
        let meta = payload.get("meta");
        let field = |name: &str| meta.and_then(|m| m.get(name));
        let stored_hash = field("hash")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let in_place = field("sequence").and_then(Value::as_i64) == Some(row_sequence)
            && field("household_id").and_then(Value::as_str)
                == Some(self.household_id.to_string().as_str());
        let linked = field("prev_hash").and_then(Value::as_str) == Some(self.head.hash.as_str());
        self.first_break = if !in_place {
            Some(ChainBreak::Misplaced {
                sequence: row_sequence,
            })
        } else if !linked {
            Some(ChainBreak::Unlinked {
                sequence: row_sequence,
            })
        } else if payload_hash_owned(payload).ok() != Some(stored_hash.clone()) {
            Some(ChainBreak::Altered {
                sequence: row_sequence,
            })
        } else {
            None
        };
        self.head = ChainHead {
            sequence: row_sequence,
            hash: stored_hash,
        };
    }

    /// The head after the last event fed, or the first break found.
    pub fn finish(self) -> Result<ChainHead, ChainBreak> {
        match self.first_break {
            Some(b) => Err(b),
            None => Ok(self.head),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Actor, Source};
    use serde_json::json;

    fn ctx() -> CommandContext {
        CommandContext::new(
            uuid::Uuid::from_u128(7),
            Actor::system("test"),
            Source::Cli,
            "2024-05-01T03:00:00Z".parse().expect("time"),
        )
    }

    fn sealed(n: usize) -> Vec<Value> {
        let events = (0..n)
            .map(|i| {
                (
                    json!({"type": "note", "data": {"n": i, "text": "Tây Ninh"}}),
                    Facts::default(),
                )
            })
            .collect();
        seal(&ChainHead::default(), &ctx(), events)
            .expect("seal")
            .iter()
            .map(|r| serde_json::to_value(r).expect("json"))
            .collect()
    }

    fn check(events: &[Value]) -> Result<ChainHead, ChainBreak> {
        let mut v = ChainVerifier::new(uuid::Uuid::from_u128(7));
        for e in events {
            v.push(e["meta"]["sequence"].as_i64().unwrap_or(0), e);
        }
        v.finish()
    }

    #[test]
    fn a_sealed_chain_verifies_and_links_from_genesis() {
        let events = sealed(4);
        assert_eq!(events[0]["meta"]["prev_hash"], GENESIS_HASH);
        assert_eq!(events[1]["meta"]["prev_hash"], events[0]["meta"]["hash"]);
        let head = check(&events).expect("intact");
        assert_eq!(head.sequence, 4);
        assert_eq!(json!(head.hash), events[3]["meta"]["hash"]);
    }

    #[test]
    fn the_hash_is_sha256_of_prev_hash_and_the_rfc8785_form() {
        let events = sealed(1);
        let mut unhashed = events[0].clone();
        unhashed["meta"]
            .as_object_mut()
            .expect("meta")
            .remove("hash");
        // RFC 8785: sorted keys, no whitespace; non-ASCII stays as UTF-8.
        let canonical = serde_jcs::to_string(&unhashed).expect("jcs");
        assert!(canonical.starts_with("{\"data\":{\"n\":0,\"text\":\"Tây Ninh\"},\"meta\":{"));
        let expected = hex::encode(Sha256::digest(format!("{GENESIS_HASH}{canonical}")));
        assert_eq!(events[0]["meta"]["hash"], expected.as_str());
    }

    #[test]
    fn key_order_and_whitespace_of_the_stored_json_do_not_matter() {
        let events = sealed(2);
        let reparsed: Vec<Value> = events
            .iter()
            .map(|e| serde_json::from_str(&serde_json::to_string_pretty(e).expect("s")).expect("p"))
            .collect();
        assert!(check(&reparsed).is_ok());
    }

    #[test]
    fn linking_unhashed_envelopes_seals_them_and_gives_their_stored_json() {
        let events = |n: usize| {
            (0..n)
                .map(|i| {
                    (
                        json!({"type": "note", "data": {"n": i, "big": u64::MAX, "text": "a\tb"}}),
                        Facts::default(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let start = ChainHead {
            sequence: 4,
            hash: "ab".repeat(32),
        };
        let ctx = ctx();
        let sealed = seal(&start, &ctx, events(3)).expect("seal");
        let mut linked = envelope_unhashed(&start, &ctx, events(3)).expect("envelopes");
        let mut head = start.clone();
        let mut json = Vec::new();
        let spans = link_into(&mut head, &mut linked, &mut json).expect("link");
        let stored: Vec<&[u8]> = spans.into_iter().map(|span| &json[span]).collect();
        assert_eq!(linked, sealed);
        assert_eq!(head.sequence, 7);
        assert_eq!(head.hash, sealed[2].meta.hash);
        for (json, recorded) in stored.iter().zip(&sealed) {
            let value: Value = serde_json::from_slice(json).expect("stored JSON");
            assert_eq!(value, serde_json::to_value(recorded).expect("json"));
        }
        // The small-integer form splices the hash into the canonical bytes.
        let note = vec![(json!({"type": "x"}), Facts::default())];
        let mut one = envelope_unhashed(&ChainHead::default(), &ctx, note).expect("envelope");
        let mut json = Vec::new();
        let spans = link_into(&mut ChainHead::default(), &mut one, &mut json).expect("link");
        let value: Value = serde_json::from_slice(&json[spans[0].clone()]).expect("json");
        assert_eq!(value["meta"]["hash"], one[0].meta.hash.as_str());
        assert_eq!(payload_hash(&value).expect("hash"), one[0].meta.hash);
    }

    #[test]
    fn an_edited_payload_is_altered() {
        let mut events = sealed(3);
        events[1]["data"]["n"] = json!(99);
        assert_eq!(check(&events), Err(ChainBreak::Altered { sequence: 2 }));
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut events = sealed(3);
        events[1]["data"]["n"] = json!(99);
        let rehash = payload_hash(&events[1]).expect("hash");
        events[1]["meta"]["hash"] = json!(rehash);
        assert_eq!(check(&events), Err(ChainBreak::Unlinked { sequence: 3 }));
    }

    #[test]
    fn a_deleted_event_is_a_gap() {
        let mut events = sealed(3);
        events.remove(1);
        assert_eq!(
            check(&events),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn swapped_payloads_are_misplaced() {
        let events = sealed(3);
        let mut v = ChainVerifier::new(uuid::Uuid::from_u128(7));
        v.push(1, &events[0]);
        v.push(2, &events[2]);
        v.push(3, &events[1]);
        assert_eq!(v.finish(), Err(ChainBreak::Misplaced { sequence: 2 }));
    }

    #[test]
    fn an_event_moved_from_another_household_is_misplaced() {
        let events = sealed(1);
        let mut v = ChainVerifier::new(uuid::Uuid::from_u128(8));
        v.push(1, &events[0]);
        assert_eq!(v.finish(), Err(ChainBreak::Misplaced { sequence: 1 }));
    }
}
