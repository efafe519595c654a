//! Phone numbers as people type them → E.164 (`+15125550123`).
//!
//! Shopify stores a customer's phone normalised, but the numbers around it are free text:
//! address phones, checkout phones, company location phones, and records imported before
//! validation. The same number arrives as `+1 (512) 555-0123`, `512.555.0123 x204`,
//! `+44 (0)7700 900123`, `0044 7700 900123`, `0151/23456789` or `090-1234-5678`. Comparing
//! those strings finds nothing; comparing their E.164 forms finds the person.
//!
//! [`normalize_e164`] handles the international forms (`+`, `00`, `011` from North America),
//! the British `(0)` trunk marker, national forms for the countries in [`DIALING`] (trunk
//! prefix dropped, country code added), and extensions (`x204`, `ext. 12`, `;ext=3`, `#7`),
//! which are cut off: an extension reaches a desk, not a person. It checks shape (8 to 15
//! digits, no leading zero), not whether a number is assigned.

/// How one country's numbers are dialled at home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialing {
    /// ISO 3166-1 alpha-2 code (`US`).
    pub country: &'static str,
    /// Country calling code without `+` (`1`).
    pub calling_code: &'static str,
    /// The national trunk prefix dropped in international form (`0` in most of Europe).
    pub trunk: Option<char>,
    /// North American Numbering Plan: ten national digits, optionally led by `1`.
    pub nanp: bool,
}

const fn dialing(
    country: &'static str,
    calling_code: &'static str,
    trunk: Option<char>,
) -> Dialing {
    Dialing {
        country,
        calling_code,
        trunk,
        nanp: false,
    }
}

/// The countries whose national formats are understood.
pub const DIALING: &[Dialing] = &[
    Dialing {
        country: "US",
        calling_code: "1",
        trunk: None,
        nanp: true,
    },
    Dialing {
        country: "CA",
        calling_code: "1",
        trunk: None,
        nanp: true,
    },
    dialing("GB", "44", Some('0')),
    dialing("DE", "49", Some('0')),
    dialing("FR", "33", Some('0')),
    dialing("PT", "351", None),
    dialing("JP", "81", Some('0')),
    dialing("AU", "61", Some('0')),
    dialing("BR", "55", None),
    dialing("ES", "34", None),
    dialing("IT", "39", None),
    dialing("NL", "31", Some('0')),
    dialing("IE", "353", Some('0')),
    dialing("NZ", "64", Some('0')),
    dialing("CH", "41", Some('0')),
    dialing("AT", "43", Some('0')),
    dialing("BE", "32", Some('0')),
    dialing("SE", "46", Some('0')),
    dialing("MX", "52", None),
];

/// The dialing rules of a country (case-insensitive ISO code).
pub fn dialing_for(country: &str) -> Option<&'static Dialing> {
    DIALING
        .iter()
        .find(|d| d.country.eq_ignore_ascii_case(country.trim()))
}

/// The part of `raw` before an extension marker (`x`, `ext`, `#`, `;`, `,` after digits).
fn without_extension(raw: &str) -> &str {
    let mut seen_digit = false;
    for (i, c) in raw.char_indices() {
        if c.is_ascii_digit() {
            seen_digit = true;
        } else if seen_digit && (c.is_alphabetic() || matches!(c, '#' | ';' | ',')) {
            return &raw[..i];
        }
    }
    raw
}

/// `raw` as an E.164 number (`+` and 8 to 15 digits), reading national forms with the
/// dialing rules of `default_country` (the address's country, else the shop's). `None` when
/// the text is not a phone number, or is national and no country says how to read it.
pub fn normalize_e164(raw: &str, default_country: Option<&str>) -> Option<String> {
    let mut text = raw.trim();
    if text.len() >= 4 && text[..4].eq_ignore_ascii_case("tel:") {
        text = &text[4..];
    }
    let text = without_extension(text).replace("(0)", "");
    let plus = text
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .starts_with('+');
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let national = default_country.and_then(dialing_for);
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = digits
        .strip_prefix("011")
        .filter(|_| national.is_some_and(|d| d.nanp))
    {
        rest.to_string()
    } else {
        let d = national?;
        if d.nanp {
            match digits.len() {
                10 => format!("1{digits}"),
                11 if digits.starts_with('1') => digits,
                _ => return None,
            }
        } else {
            let national_digits = match d.trunk {
                Some(t) => digits.strip_prefix(t).unwrap_or(&digits),
                None => &digits,
            };
            format!("{}{national_digits}", d.calling_code)
        }
    };
    let ok = (8..=15).contains(&international.len()) && !international.starts_with('0');
    ok.then(|| format!("+{international}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formats_people_type_become_one_number() {
        let us = [
            "+15125550123",
            "+1 512-555-0123",
            "+1 (512) 555-0123",
            "(512) 555-0123",
            "512.555.0123",
            "1-512-555-0123",
            "1 (512) 555-0123",
            "5125550123",
            "512-555-0123 x204",
            "(512) 555-0123 ext. 12",
            "+1 512 555 0123;ext=3",
            "512 555 0123 #7",
            "001 512 555 0123",
            "011 1 512 555 0123",
            "tel:+1-512-555-0123",
        ];
        for raw in us {
            assert_eq!(
                normalize_e164(raw, Some("US")).as_deref(),
                Some("+15125550123"),
                "{raw}"
            );
        }
        let gb = [
            "+447700900123",
            "+44 7700 900123",
            "+44 (0)7700 900123",
            "0044 7700 900123",
            "07700 900123",
            "(07700) 900123",
            "07700900123 ext 4",
        ];
        for raw in gb {
            assert_eq!(
                normalize_e164(raw, Some("gb")).as_deref(),
                Some("+447700900123"),
                "{raw}"
            );
        }
        let others = [
            ("0151/23456789", "DE", "+4915123456789"),
            ("+49 (0)151 2345 6789", "DE", "+4915123456789"),
            ("06 12 34 56 78", "FR", "+33612345678"),
            ("06.12.34.56.78", "FR", "+33612345678"),
            ("912 345 678", "PT", "+351912345678"),
            ("(+351) 912 345 678", "PT", "+351912345678"),
            ("090-1234-5678", "JP", "+819012345678"),
            ("+81 (0)90-1234-5678", "JP", "+819012345678"),
            ("0412 345 678", "AU", "+61412345678"),
            ("(11) 91234-5678", "BR", "+5511912345678"),
        ];
        for (raw, country, e164) in others {
            assert_eq!(
                normalize_e164(raw, Some(country)).as_deref(),
                Some(e164),
                "{raw}"
            );
        }
    }

    #[test]
    fn international_forms_need_no_country_and_national_ones_do() {
        assert_eq!(
            normalize_e164("+44 7700 900123", None).as_deref(),
            Some("+447700900123")
        );
        assert_eq!(normalize_e164("07700 900123", None), None);
        assert_eq!(normalize_e164("07700 900123", Some("ZZ")), None);
        // A North American number must have ten digits.
        assert_eq!(normalize_e164("555-0123", Some("US")), None);
        assert_eq!(normalize_e164("call me", Some("US")), None);
        assert_eq!(normalize_e164("", Some("US")), None);
        assert_eq!(normalize_e164("+0123456789", None), None);
        assert_eq!(normalize_e164("+1234567890123456", None), None);
    }
}
