//! The embedded schema migrations, one tree per backend.
//!
//! `migrations/sqlite/` and `migrations/postgres/` hold the same migrations (same version
//! numbers and names; only column types differ). `build.rs` makes cargo re-embed them when a
//! file is added, and `.gitattributes` pins `*.sql` to LF so checksums do not change with the
//! checkout platform. Never edit an applied migration: add a new one to both trees.

use sqlx::migrate::Migrator;

// Embedded at compile time (`macros` feature; the store itself uses runtime-checked queries
// only, so no database is needed to build).

/// The SQLite schema.
pub static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");

/// The PostgreSQL schema.
pub static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(m: &Migrator) -> Vec<(i64, String)> {
        m.iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = listing(&SQLITE);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, listing(&POSTGRES));
    }

    #[test]
    fn migrations_have_lf_line_endings() {
        for m in SQLITE.iter().chain(POSTGRES.iter()) {
            assert!(
                !m.sql.as_str().contains('\r'),
                "migration {} ({}) contains CR characters; checksums would differ by platform",
                m.version,
                m.description
            );
        }
    }
}
