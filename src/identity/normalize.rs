//! The forms identities are compared in: email addresses trimmed and lower-cased, phone
//! numbers in E.164, names folded to letters.

use std::str::FromStr;

use phonenumber::country::Id as Country;

/// How email addresses are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlusTags {
    /// `ana+shop@example.com` and `ana@example.com` are different addresses (the default:
    /// no provider-specific tricks).
    #[default]
    Keep,
    /// The `+tag` of the local part is dropped before comparing.
    Ignore,
}

/// An email address in the form it is matched in: trimmed and lower-cased (the whole
/// address: no provider treats case as significant in practice). `None` for text that is
/// not an address.
pub fn email(raw: &str, plus_tags: PlusTags) -> Option<String> {
    let trimmed = raw.trim().trim_matches(|c| c == '<' || c == '>');
    let (local, domain) = trimmed.rsplit_once('@')?;
    if local.is_empty() || !domain.contains('.') || trimmed.chars().any(char::is_whitespace) {
        return None;
    }
    let local = match plus_tags {
        PlusTags::Keep => local,
        PlusTags::Ignore => local.split_once('+').map_or(local, |(base, _)| base),
    };
    if local.is_empty() {
        return None;
    }
    Some(format!("{local}@{domain}").to_lowercase())
}

/// A default region for reading national phone numbers: an ISO 3166-1 alpha-2 code the
/// phone-number library knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(Country);

impl Region {
    pub fn parse(code: &str) -> Option<Region> {
        Country::from_str(&code.trim().to_ascii_uppercase())
            .ok()
            .map(Region)
    }
}

/// A phone number in E.164 (`+15125550123`), read with `phonenumber` (libphonenumber's
/// metadata): national forms with the number's own country if known (the address's), else
/// `default_region`; extensions dropped (they reach a desk, not a person). Numbers are
/// parsed, not validated against assigned ranges: a test or fictional number still matches
/// itself. `None` when the text holds no number.
pub fn phone(raw: &str, region: Option<Region>, default_region: Option<Region>) -> Option<String> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    // Fast path: already E.164 (what Shopify stores for a customer's phone).
    if let Some(digits) = text.strip_prefix('+')
        && (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
    {
        return Some(text.to_string());
    }
    // International prefixes as typed: `00 44 …` (most of the world), `011 44 …` (North
    // America), and the British `+44 (0)7700 …` trunk digit that is not dialled from abroad.
    let mut written = text.replace("(0)", "");
    let digits_start = written.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    if let Some(rest) = digits_start.strip_prefix("00") {
        written = format!("+{rest}");
    } else if let Some(rest) = digits_start.strip_prefix("011")
        && region
            .or(default_region)
            .is_some_and(|r| r.0 == Country::US || r.0 == Country::CA)
    {
        written = format!("+{rest}");
    }
    let number = phonenumber::parse(region.or(default_region).map(|r| r.0), &written).ok()?;
    let formatted = number.format().mode(phonenumber::Mode::E164).to_string();
    let digits = formatted.strip_prefix('+')?;
    ((8..=15).contains(&digits.len()) && !digits.starts_with('0')).then_some(formatted)
}

/// A name folded for comparison: lower case, letters and digits only, accents kept (the
/// comparison is by similarity, not equality).
pub fn name(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A postal code folded for comparison: upper case, letters and digits only, and a US ZIP+4
/// cut to its five digits.
pub fn postal_code(raw: &str) -> String {
    let folded: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if folded.len() == 9 && folded.bytes().all(|b| b.is_ascii_digit()) && raw.contains('-') {
        folded[..5].to_string()
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased_and_nothing_else() {
        assert_eq!(
            email("  Ana.Silva12@Example.COM ", PlusTags::Keep).as_deref(),
            Some("ana.silva12@example.com")
        );
        assert_eq!(
            email("ana+shop@example.com", PlusTags::Keep).as_deref(),
            Some("ana+shop@example.com")
        );
        assert_eq!(
            email("ana+shop@example.com", PlusTags::Ignore).as_deref(),
            Some("ana@example.com")
        );
        assert_eq!(
            email("o'brien@example.ie", PlusTags::Keep).as_deref(),
            Some("o'brien@example.ie")
        );
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@localhost",
            "a b@example.com",
        ] {
            assert_eq!(email(bad, PlusTags::Keep), None, "{bad}");
        }
    }

    #[test]
    fn the_written_forms_of_a_number_meet_in_e164() {
        let us = Region::parse("US");
        let gb = Region::parse("gb");
        for raw in [
            "(512) 555-0123",
            "512.555.0123",
            "512-555-0123 x204",
            "+1 512 555 0123",
            "1-512-555-0123",
            "+15125550123",
        ] {
            assert_eq!(
                phone(raw, None, us).as_deref(),
                Some("+15125550123"),
                "{raw}"
            );
        }
        for raw in ["+44 (0)7700 900123", "07700 900123", "0044 7700 900123"] {
            assert_eq!(
                phone(raw, gb, us).as_deref(),
                Some("+447700900123"),
                "{raw}"
            );
        }
        // International forms read the same whatever the reader's region.
        for (raw, e164) in [
            ("+44 (0)7700 900123", "+447700900123"),
            ("0044 7700 021145", "+447700021145"),
            ("001 702 241 2737", "+17022412737"),
            ("011 44 7700 900123", "+447700900123"),
        ] {
            assert_eq!(phone(raw, None, us).as_deref(), Some(e164), "{raw}");
        }
        assert_eq!(
            phone("090-1234-5678", Region::parse("JP"), us).as_deref(),
            Some("+819012345678")
        );
        assert_eq!(phone("", None, us), None);
        assert_eq!(phone("call me", None, us), None);
        assert!(Region::parse("XX").is_none());
    }

    #[test]
    fn names_and_postal_codes_fold() {
        assert_eq!(name("O'Brien-Smith, Jr."), "obriensmithjr");
        assert_eq!(name("Zoë"), "zoë");
        assert_eq!(postal_code("78701-7299"), "78701");
        assert_eq!(postal_code("m5v 2t6"), "M5V2T6");
    }

    proptest! {
        #[test]
        fn email_normalisation_is_idempotent(local in "[A-Za-z0-9._%+-]{1,20}", domain in "[A-Za-z0-9-]{1,12}\\.[A-Za-z]{2,4}") {
            let raw = format!("{local}@{domain}");
            if let Some(once) = email(&raw, PlusTags::Keep) {
                prop_assert_eq!(email(&once, PlusTags::Keep), Some(once.clone()));
                prop_assert_eq!(once, raw.to_lowercase());
            }
        }

        #[test]
        fn an_e164_number_is_its_own_normal_form(digits in "[1-9][0-9]{7,14}") {
            let raw = format!("+{digits}");
            prop_assert_eq!(phone(&raw, None, None), Some(raw.clone()));
        }
    }
}
