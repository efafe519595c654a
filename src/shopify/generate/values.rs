//! The scalar shapes Shopify writes: gids, `Decimal` money strings, `DateTime`s, currencies.

use std::fmt;

use serde::{Serialize, Serializer};

/// A Shopify global id, written as `gid://shopify/{kind}/{id}{suffix}` without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gid {
    pub kind: &'static str,
    pub id: u64,
    /// A query-string suffix some gids carry (`?model_name=CustomerAddress`).
    pub suffix: &'static str,
}

impl Gid {
    pub const fn new(kind: &'static str, id: u64) -> Gid {
        Gid {
            kind,
            id,
            suffix: "",
        }
    }
}

impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gid://shopify/{}/{}{}", self.kind, self.id, self.suffix)
    }
}

impl Serialize for Gid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An amount in a currency's minor units, written as Shopify's `Decimal` writes it: no
/// trailing zeros past the first decimal (`"29.99"`, `"29.9"`, `"30.0"`, JPY `"1200.0"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub exponent: u8,
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let m = self.minor.unsigned_abs();
        match self.exponent {
            0 => write!(f, "{sign}{m}.0"),
            e => {
                let scale = 10u64.pow(u32::from(e));
                let (units, mut frac, mut width) = (m / scale, m % scale, usize::from(e));
                while width > 1 && frac % 10 == 0 {
                    frac /= 10;
                    width -= 1;
                }
                write!(f, "{sign}{units}.{frac:0width$}")
            }
        }
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Seconds since the Unix epoch, written as `2026-10-01T09:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub i64);

/// Civil date of a day count since 1970-01-01 (the days-from-civil inverse, proleptic
/// Gregorian calendar).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date.
pub const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Ts {
    pub const fn at(year: i64, month: i64, day: i64) -> Ts {
        Ts(days_from_civil(year, month, day) * 86_400)
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d) = civil(self.0.div_euclid(86_400));
        let s = self.0.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A currency: ISO code, minor-unit exponent, and a fixed rate per US dollar (the generator
/// needs plausible conversions, not today's market).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Currency {
    pub code: &'static str,
    pub exponent: u8,
    pub per_usd: f64,
}

pub const CURRENCIES: &[Currency] = &[
    Currency {
        code: "USD",
        exponent: 2,
        per_usd: 1.0,
    },
    Currency {
        code: "EUR",
        exponent: 2,
        per_usd: 0.92,
    },
    Currency {
        code: "GBP",
        exponent: 2,
        per_usd: 0.79,
    },
    Currency {
        code: "CAD",
        exponent: 2,
        per_usd: 1.37,
    },
    Currency {
        code: "JPY",
        exponent: 0,
        per_usd: 151.0,
    },
    Currency {
        code: "AUD",
        exponent: 2,
        per_usd: 1.52,
    },
    Currency {
        code: "BRL",
        exponent: 2,
        per_usd: 5.1,
    },
    Currency {
        code: "CHF",
        exponent: 2,
        per_usd: 0.88,
    },
    Currency {
        code: "MXN",
        exponent: 2,
        per_usd: 17.0,
    },
    Currency {
        code: "SEK",
        exponent: 2,
        per_usd: 10.4,
    },
];

impl Currency {
    /// The currency of an ISO code; an unknown code is taken as a two-decimal currency at
    /// par with the dollar (the generator never invents codes, it only uses the shop's).
    pub fn of(code: &'static str) -> Currency {
        CURRENCIES
            .iter()
            .copied()
            .find(|c| c.code.eq_ignore_ascii_case(code))
            .unwrap_or(Currency {
                code,
                exponent: 2,
                per_usd: 1.0,
            })
    }

    /// `minor` units of `from` in this currency's minor units (rounded).
    pub fn convert(&self, minor: i64, from: &Currency) -> i64 {
        let value = minor as f64 / 10f64.powi(i32::from(from.exponent));
        let usd = value / from.per_usd;
        (usd * self.per_usd * 10f64.powi(i32::from(self.exponent))).round() as i64
    }

    pub fn amount(&self, minor: i64) -> Amount {
        Amount {
            minor,
            exponent: self.exponent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_like_shopify_decimals() {
        let usd = Currency::of("USD");
        assert_eq!(usd.amount(2999).to_string(), "29.99");
        assert_eq!(usd.amount(2990).to_string(), "29.9");
        assert_eq!(usd.amount(3000).to_string(), "30.0");
        assert_eq!(usd.amount(5).to_string(), "0.05");
        assert_eq!(usd.amount(-150).to_string(), "-1.5");
        assert_eq!(Currency::of("JPY").amount(1200).to_string(), "1200.0");
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(Ts(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Ts::at(2026, 10, 1).to_string(), "2026-10-01T00:00:00Z");
        assert_eq!(
            Ts(Ts::at(2024, 2, 29).0 + 3661).to_string(),
            "2024-02-29T01:01:01Z"
        );
        assert_eq!(Ts::at(2000, 3, 1).0 - Ts::at(2000, 2, 28).0, 2 * 86_400);
    }

    #[test]
    fn conversions_respect_minor_units() {
        let usd = Currency::of("USD");
        let jpy = Currency::of("JPY");
        assert_eq!(jpy.convert(1000, &usd), 1510);
        assert_eq!(usd.convert(1510, &jpy), 1000);
        assert_eq!(Currency::of("XTS").exponent, 2);
    }
}
