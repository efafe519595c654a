//! `Ts`: how timestamps are bound and read on each backend.
//!
//! PostgreSQL stores `TIMESTAMPTZ` (microseconds). SQLite has no date type; sqlx would write
//! `DateTime<Utc>` as RFC 3339 with a *variable* number of fraction digits, and variable-width
//! text does not sort in time order (`…:05Z` sorts after `…:05.5Z`). `Ts` truncates to
//! microseconds and, on SQLite, writes a fixed-width form (`2026-01-02T03:04:05.000006Z`), so
//! `ORDER BY`, `MIN` and `MAX` over timestamp columns are correct on both backends and both
//! return exactly the value written.

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type};

/// A UTC timestamp with microsecond precision, as the store binds and reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts(pub DateTime<Utc>);

impl Ts {
    /// Truncates to whole microseconds.
    pub(crate) fn new(at: DateTime<Utc>) -> Ts {
        Ts(at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at))
    }

    /// The current time, truncated.
    pub(crate) fn now() -> Ts {
        Ts::new(Utc::now())
    }

    /// The SQLite text form: fixed width, microseconds, `Z`.
    fn sqlite_text(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <DateTime<Utc> as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(Ts::new(self.0).sqlite_text(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Sqlite>>::decode(value).map(Ts)
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<'_, Postgres>>::encode_by_ref(&Ts::new(self.0).0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Postgres>>::decode(value).map(Ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_text_is_fixed_width_and_sorts_in_time_order() {
        let whole = Ts::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let later = Ts::new(whole.0 + TimeDelta::nanoseconds(500_000_999));
        assert_eq!(whole.sqlite_text(), "2026-01-02T03:04:05.000000Z");
        assert_eq!(later.sqlite_text(), "2026-01-02T03:04:05.500000Z");
        assert!(whole.sqlite_text() < later.sqlite_text());
        assert_eq!(later.0.timestamp_subsec_nanos(), 500_000_000);
    }
}
