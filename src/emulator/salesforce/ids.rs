//! Salesforce record Ids: 15 case-sensitive characters plus a 3-character checksum that
//! makes the 18-character form case-insensitive.

use std::fmt;

use serde::{Deserialize, Serialize};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// An 18-character Salesforce Id, stored inline (cheap to copy, no allocation).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SfId([u8; 18]);

/// Hashed as two machine words over its first 15 characters (the last three are their
/// checksum), not as an 18-byte slice: every saved row looks Ids up several times (its
/// parents, its own new Id, a roll-up's target).
impl std::hash::Hash for SfId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&self.0[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        state.write_u64(word(0));
        state.write_u64(word(7));
    }
}

impl SfId {
    /// Builds the Id of the `sequence`-th record with the given key prefix on instance `pod`
    /// (two characters, e.g. `5g`).
    pub fn new(prefix: &str, pod: &str, sequence: u64) -> SfId {
        let mut raw = [b'0'; 18];
        raw[..3].copy_from_slice(&prefix.as_bytes()[..3]);
        raw[3..5].copy_from_slice(&pod.as_bytes()[..2]);
        // raw[5] stays '0' (reserved); nine base-62 digits of sequence.
        let mut n = sequence;
        for slot in raw[6..15].iter_mut().rev() {
            *slot = BASE62[(n % 62) as usize];
            n /= 62;
        }
        let suffix = checksum(&raw[..15]);
        raw[15..].copy_from_slice(&suffix);
        SfId(raw)
    }

    /// Parses a 15- or 18-character Id. An 18-character Id must carry a correct checksum;
    /// the result is always the canonical 18-character form.
    pub fn parse(text: &str) -> Option<SfId> {
        let bytes = text.as_bytes();
        if !(bytes.len() == 15 || bytes.len() == 18) || !bytes.iter().all(u8::is_ascii_alphanumeric)
        {
            return None;
        }
        let mut raw = [0u8; 18];
        if bytes.len() == 18 {
            // The 18-character form is case-insensitive: recover the casing from the checksum.
            let suffix = &bytes[15..];
            for chunk in 0..3 {
                let pos = CHECKSUM_ALPHABET
                    .iter()
                    .position(|c| *c == suffix[chunk].to_ascii_uppercase())?;
                for i in 0..5 {
                    let c = bytes[chunk * 5 + i];
                    raw[chunk * 5 + i] = if pos & (1 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    };
                }
            }
        } else {
            raw[..15].copy_from_slice(bytes);
        }
        let suffix = checksum(&raw[..15]);
        raw[15..].copy_from_slice(&suffix);
        Some(SfId(raw))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The key prefix that names the object type.
    pub fn prefix(&self) -> &str {
        &self.as_str()[..3]
    }
}

fn checksum(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in out.iter_mut().enumerate() {
        let mut bits = 0usize;
        for i in 0..5 {
            if id15[chunk * 5 + i].is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        *slot = CHECKSUM_ALPHABET[bits];
    }
    out
}

impl fmt::Display for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SfId({})", self.as_str())
    }
}

impl Serialize for SfId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SfId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SfId, D::Error> {
        let text = String::deserialize(d)?;
        SfId::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a Salesforce Id: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_known_salesforce_example() {
        // A published example pair: 15-char 001A000000AhD4k -> 18-char 001A000000AhD4kIAF.
        let id = SfId::parse("001A000000AhD4k").unwrap();
        assert_eq!(id.as_str(), "001A000000AhD4kIAF");
    }

    #[test]
    fn eighteen_char_ids_are_case_insensitive() {
        let id = SfId::parse("001a000000ahd4kiaf").unwrap();
        assert_eq!(id.as_str(), "001A000000AhD4kIAF");
    }

    #[test]
    fn generated_ids_round_trip_and_keep_their_prefix() {
        let id = SfId::new("003", "5g", 123_456_789);
        assert_eq!(id.prefix(), "003");
        assert_eq!(SfId::parse(id.as_str()), Some(id));
        assert_eq!(SfId::parse(&id.as_str()[..15]), Some(id));
        assert_ne!(SfId::new("003", "5g", 1), SfId::new("003", "5g", 2));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert!(SfId::parse("003").is_none());
        assert!(SfId::parse("003xx00000!!!!!").is_none());
        assert!(SfId::parse("001A000000AhD4k999").is_none());
    }
}
