//! One stored record, packed: its Id and the fields that hold a value, encoded one after
//! another in a single byte buffer.
//!
//! A million-row job stores a million records, and most of the emulator's time on such a job
//! went into first-touch page faults for their memory. As a vector of `(field, Value)` pairs
//! every field took 32 bytes whatever it held (an 18-character Id, a number, a flag); packed,
//! an Id takes 22 bytes, a number 11 and a flag 3, and the buffer has no spare capacity. A
//! line item went from a 512-byte allocation to about 260 bytes.
//!
//! Layout of one field: its position (`u16`, little-endian), a tag byte, then the payload:
//!
//! | tag | value | payload |
//! |---|---|---|
//! | `TEXT_SHORT` | text under 256 bytes | length (`u8`), UTF-8 bytes |
//! | `TEXT_LONG` | longer text | length (`u32`), UTF-8 bytes |
//! | `NUMBER` | number | `f64` bits (exact, NaN and -0 included) |
//! | `TRUE`, `FALSE` | checkbox | none |
//! | `DATE` | date | days from 1 January of year 1 (`i32`) |
//! | `DATETIME` | datetime | seconds since the epoch (`i64`), nanoseconds (`u32`) |
//!
//! Fields are sorted by position and nulls are not stored. Reads decode the one field asked
//! for; a write of a value whose encoding has the size of the old one (the roll-up of an
//! order total, the audit stamps of an update) is done in place.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::ids::SfId;
use super::schema::Value;

const TEXT_SHORT: u8 = 1;
const TEXT_LONG: u8 = 2;
const NUMBER: u8 = 3;
const TRUE: u8 = 4;
const FALSE: u8 = 5;
const DATE: u8 = 6;
const DATETIME: u8 = 7;

/// One stored record: only fields that hold a value, packed and sorted by field position
/// (most records set a small share of their object's fields).
#[derive(Debug, Clone)]
pub struct Record {
    pub id: SfId,
    packed: Box<[u8]>,
}

/// Where one encoded field lies in the buffer.
struct Entry {
    /// First byte of the entry (its field position).
    start: usize,
    /// One past its last byte.
    end: usize,
}

impl Record {
    /// A record from field values in any order; a later value for the same field wins and
    /// nulls are not stored.
    pub fn from_pairs(id: SfId, mut pairs: Vec<(usize, Value)>) -> Record {
        // A stable sort keeps the given order within one field; the last of each run wins.
        pairs.sort_by_key(|(i, _)| *i);
        let mut kept: Vec<&(usize, Value)> = Vec::with_capacity(pairs.len());
        for pair in &pairs {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        kept.retain(|(_, v)| !v.is_null());
        let size = kept.iter().map(|(_, v)| encoded_len(v)).sum();
        let mut packed = Vec::with_capacity(size);
        for (i, v) in kept {
            encode(&mut packed, *i, v);
        }
        Record {
            id,
            packed: packed.into_boxed_slice(),
        }
    }

    /// A record with no field values.
    pub fn empty(id: SfId) -> Record {
        Record {
            id,
            packed: Box::default(),
        }
    }

    /// The value of a field (`Null` when it holds none).
    pub fn get(&self, field: usize) -> Value {
        match self.find(field) {
            Ok(entry) => decode(&self.packed[entry.start..entry.end]).1,
            Err(_) => Value::Null,
        }
    }

    /// The text a text field holds, borrowed from the record (`None` when the field holds
    /// no value or one of another kind): a lookup compares it without decoding a copy.
    pub fn text(&self, field: usize) -> Option<&str> {
        let entry = self.find(field).ok()?;
        let bytes = &self.packed[entry.start..entry.end];
        let payload = match bytes[2] {
            TEXT_SHORT => &bytes[4..],
            TEXT_LONG => &bytes[7..],
            _ => return None,
        };
        std::str::from_utf8(payload).ok()
    }

    /// Sets a field; `Null` removes it.
    pub fn set(&mut self, field: usize, value: Value) {
        let found = self.find(field);
        let (start, end) = match &found {
            Ok(entry) => (entry.start, entry.end),
            Err(at) => (*at, *at),
        };
        let new_len = if value.is_null() {
            0
        } else {
            encoded_len(&value)
        };
        if found.is_ok() && new_len == end - start {
            // Same size: overwrite in place.
            let mut entry = Vec::with_capacity(new_len);
            encode(&mut entry, field, &value);
            self.packed[start..end].copy_from_slice(&entry);
            return;
        }
        if found.is_err() && value.is_null() {
            return;
        }
        let mut packed = Vec::with_capacity(self.packed.len() - (end - start) + new_len);
        packed.extend_from_slice(&self.packed[..start]);
        if !value.is_null() {
            encode(&mut packed, field, &value);
        }
        packed.extend_from_slice(&self.packed[end..]);
        self.packed = packed.into_boxed_slice();
    }

    /// The fields that hold a value, in field order.
    pub fn values(&self) -> impl Iterator<Item = (usize, Value)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.packed.len() {
                return None;
            }
            let (len, value) = decode(&self.packed[at..]);
            let field = u16::from_le_bytes([self.packed[at], self.packed[at + 1]]);
            at += len;
            Some((field as usize, value))
        })
    }

    /// The entry of `field`, or the offset where it would be inserted.
    fn find(&self, field: usize) -> Result<Entry, usize> {
        let wanted = field as u16;
        let bytes = &self.packed[..];
        let mut at = 0;
        while at < bytes.len() {
            let field = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
            if field > wanted {
                return Err(at);
            }
            let end = at + entry_len(&bytes[at..]);
            if field == wanted {
                return Ok(Entry { start: at, end });
            }
            at = end;
        }
        Err(bytes.len())
    }
}

/// Bytes one field takes: position, tag and payload.
fn encoded_len(value: &Value) -> usize {
    3 + match value {
        Value::Null => 0,
        Value::String(s) if s.len() < 256 => 1 + s.len(),
        Value::String(s) => 4 + s.len(),
        Value::Number(_) => 8,
        Value::Boolean(_) => 0,
        Value::Date(_) => 4,
        Value::DateTime(_) => 12,
    }
}

/// Appends one field. `value` must not be `Null`.
fn encode(out: &mut Vec<u8>, field: usize, value: &Value) {
    out.extend_from_slice(&(field as u16).to_le_bytes());
    match value {
        Value::Null => unreachable!("nulls are not stored"),
        Value::String(s) if s.len() < 256 => {
            out.push(TEXT_SHORT);
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
        Value::String(s) => {
            out.push(TEXT_LONG);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_bits().to_le_bytes());
        }
        Value::Boolean(true) => out.push(TRUE),
        Value::Boolean(false) => out.push(FALSE),
        Value::Date(d) => {
            out.push(DATE);
            out.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
        }
        Value::DateTime(dt) => {
            out.push(DATETIME);
            out.extend_from_slice(&dt.timestamp().to_le_bytes());
            out.extend_from_slice(&dt.timestamp_subsec_nanos().to_le_bytes());
        }
    }
}

/// Length of the entry at the start of `bytes`.
fn entry_len(bytes: &[u8]) -> usize {
    3 + match bytes[2] {
        TEXT_SHORT => 1 + bytes[3] as usize,
        TEXT_LONG => 4 + u32::from_le_bytes(array(&bytes[3..])) as usize,
        NUMBER => 8,
        DATE => 4,
        DATETIME => 12,
        _ => 0,
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// The entry at the start of `bytes`: its length and value.
fn decode(bytes: &[u8]) -> (usize, Value) {
    let payload = &bytes[3..];
    let value = match bytes[2] {
        TEXT_SHORT => {
            let len = payload[0] as usize;
            Value::String(text(&payload[1..1 + len]))
        }
        TEXT_LONG => {
            let len = u32::from_le_bytes(array(payload)) as usize;
            Value::String(text(&payload[4..4 + len]))
        }
        NUMBER => Value::Number(f64::from_bits(u64::from_le_bytes(array(payload)))),
        TRUE => Value::Boolean(true),
        FALSE => Value::Boolean(false),
        DATE => NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(array(payload)))
            .map_or(Value::Null, Value::Date),
        DATETIME => DateTime::<Utc>::from_timestamp(
            i64::from_le_bytes(array(payload)),
            u32::from_le_bytes(array(&payload[8..])),
        )
        .map_or(Value::Null, Value::DateTime),
        _ => Value::Null,
    };
    (entry_len(bytes), value)
}

/// Text bytes the record wrote from a `&str`, so always UTF-8.
fn text(bytes: &[u8]) -> super::schema::Text {
    super::schema::Text::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn id() -> SfId {
        SfId::parse("001000000000001AAA").expect("id")
    }

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            ".{0,300}".prop_map(|s| Value::String(s.into())),
            any::<f64>().prop_map(Value::Number),
            any::<bool>().prop_map(Value::Boolean),
            (-400_000i32..4_000_000)
                .prop_map(|d| Value::Date(NaiveDate::from_num_days_from_ce_opt(d).expect("date"))),
            (-50_000_000_000i64..50_000_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| {
                Value::DateTime(DateTime::from_timestamp(s, n).expect("datetime"))
            }),
        ]
    }

    /// Same value, NaN included (a NaN is stored bit for bit).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    #[test]
    fn every_kind_of_value_reads_back_and_nulls_are_not_stored() {
        let when = Utc.with_ymd_and_hms(2026, 12, 2, 18, 30, 0).unwrap();
        let long = "x".repeat(40_000);
        let record = Record::from_pairs(
            id(),
            vec![
                (9, Value::String("Ünïcode, \"quoted\"".into())),
                (2, Value::Number(-12.5)),
                (4, Value::Boolean(false)),
                (3, Value::Boolean(true)),
                (
                    7,
                    Value::Date(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()),
                ),
                (1, Value::DateTime(when)),
                (5, Value::Null),
                (8, Value::String(long.as_str().into())),
            ],
        );
        assert_eq!(record.get(9), Value::String("Ünïcode, \"quoted\"".into()));
        assert_eq!(record.get(2), Value::Number(-12.5));
        assert_eq!(record.get(4), Value::Boolean(false));
        assert_eq!(record.get(3), Value::Boolean(true));
        assert_eq!(
            record.get(7),
            Value::Date(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap())
        );
        assert_eq!(record.get(1), Value::DateTime(when));
        assert_eq!(record.get(8), Value::String(long.as_str().into()));
        assert_eq!(record.get(5), Value::Null);
        assert_eq!(record.get(0), Value::Null);
        assert_eq!(record.get(100), Value::Null);
        let fields: Vec<usize> = record.values().map(|(f, _)| f).collect();
        assert_eq!(fields, vec![1, 2, 3, 4, 7, 8, 9]);
    }

    #[test]
    fn a_later_value_for_the_same_field_wins_even_when_it_is_null() {
        let record = Record::from_pairs(
            id(),
            vec![
                (1, Value::Number(1.0)),
                (2, Value::Number(2.0)),
                (1, Value::Number(3.0)),
                (2, Value::Null),
            ],
        );
        assert_eq!(record.get(1), Value::Number(3.0));
        assert_eq!(record.get(2), Value::Null);
        assert_eq!(record.values().count(), 1);
    }

    #[test]
    fn a_same_size_write_is_made_in_place_and_others_move_the_rest() {
        let mut record = Record::from_pairs(
            id(),
            vec![(1, Value::Number(1.0)), (5, Value::String("abc".into()))],
        );
        let before = record.packed.as_ptr();
        record.set(1, Value::Number(99.0));
        assert_eq!(record.packed.as_ptr(), before, "same size: no new buffer");
        record.set(5, Value::String("a longer text".into()));
        record.set(3, Value::Boolean(true));
        record.set(1, Value::Null);
        record.set(7, Value::Null);
        let all: Vec<(usize, Value)> = record.values().collect();
        assert_eq!(
            all,
            vec![
                (3, Value::Boolean(true)),
                (5, Value::String("a longer text".into())),
            ]
        );
    }

    proptest! {
        /// Any series of writes leaves the record holding exactly what a map of the same
        /// writes holds.
        #[test]
        fn writes_agree_with_a_map(
            initial in proptest::collection::vec((0usize..40, any_value()), 0..20),
            writes in proptest::collection::vec((0usize..40, any_value()), 0..30),
        ) {
            let mut expected = std::collections::BTreeMap::new();
            for (f, v) in &initial {
                expected.insert(*f, v.clone());
            }
            let mut record = Record::from_pairs(id(), initial);
            for (f, v) in writes {
                record.set(f, v.clone());
                expected.insert(f, v);
            }
            expected.retain(|_, v| !v.is_null());
            let got: Vec<(usize, Value)> = record.values().collect();
            prop_assert_eq!(got.len(), expected.len());
            for ((gf, gv), (ef, ev)) in got.iter().zip(expected.iter()) {
                prop_assert_eq!(gf, ef);
                prop_assert!(same(gv, ev), "field {}: {:?} != {:?}", gf, gv, ev);
                prop_assert!(same(&record.get(*gf), ev));
                // Text is also read in place; other kinds are not text.
                match ev {
                    Value::String(text) => prop_assert_eq!(record.text(*gf), Some(text.as_str())),
                    _ => prop_assert_eq!(record.text(*gf), None),
                }
            }
            // A field that holds nothing has no text.
            for f in (0..40).filter(|f| !expected.contains_key(f)) {
                prop_assert_eq!(record.text(f), None);
            }
        }
    }
}
