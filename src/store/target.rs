//! Store URLs: which backend a URL selects, and how to show it without its password.

use std::path::PathBuf;

use super::error::StoreError;

/// Where a store URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A SQLite database file (created on first use).
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`sqlite::memory:`), gone when the store closes.
    SqliteMemory,
    /// A PostgreSQL URL (`postgres://…` or `postgresql://…`), passed to the driver unchanged.
    Postgres,
}

/// Classifies a store URL.
///
/// - `postgres://…` / `postgresql://…` → PostgreSQL;
/// - `sqlite::memory:` / `sqlite://:memory:` → in-memory SQLite;
/// - `sqlite://PATH` / `sqlite:PATH` / a bare file path → a SQLite file. Everything after the
///   prefix is the path (no query parameters), so `sqlite:///var/lib/x.db` is absolute and
///   `sqlite://state.db` is relative to the working directory.
pub(crate) fn classify(url: &str) -> Result<Target, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: redact(url),
        reason: reason.to_owned(),
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(invalid("the URL is empty"));
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(Target::Postgres);
    }
    let sqlite_path = if lower.starts_with("sqlite://") {
        Some(&trimmed["sqlite://".len()..])
    } else if lower.starts_with("sqlite:") {
        Some(&trimmed["sqlite:".len()..])
    } else {
        None
    };
    match sqlite_path {
        Some("" | "//") => Err(invalid("the SQLite URL names no file")),
        Some(":memory:") => Ok(Target::SqliteMemory),
        Some(path) => Ok(Target::SqliteFile(PathBuf::from(path))),
        None => match trimmed.split_once("://") {
            Some((scheme, _)) => Err(invalid(&format!(
                "unsupported scheme `{scheme}` (use sqlite:PATH, postgres://… or a file path)"
            ))),
            None => Ok(Target::SqliteFile(PathBuf::from(trimmed))),
        },
    }
}

/// The URL with any password (in the userinfo part or a `password=` query parameter) replaced
/// by `***`. Safe to log and to put in error messages.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() || parsed.password().is_some() => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            if parsed.query_pairs().any(|(k, _)| is_secret_key(&k)) {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if is_secret_key(&k) {
                            "***".to_owned()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        // Paths, `sqlite:` URLs without a host, and anything unparseable: hide a userinfo
        // part if one seems to be present, keep the rest.
        _ => match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}://***{}", &url[..scheme_end], &url[at..])
            }
            _ => url.to_owned(),
        },
    }
}

/// Removes every secret contained in `url` (its password, raw and percent-decoded, and any
/// `password=` query value) from `message`.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    let mut secrets: Vec<String> = Vec::new();
    if let Ok(parsed) = url::Url::parse(url) {
        if let Some(password) = parsed.password() {
            secrets.push(password.to_owned());
            if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
                secrets.push(decoded.into_owned());
            }
        }
        for (k, v) in parsed.query_pairs() {
            if is_secret_key(&k) {
                secrets.push(v.into_owned());
            }
        }
    }
    let mut out = message.to_owned();
    // Longest first, so a secret that contains another is removed whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("sslpassword")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_select_postgres() {
        assert_eq!(classify("postgres://u@h/db").unwrap(), Target::Postgres);
        assert_eq!(classify("PostgreSQL://u@h/db").unwrap(), Target::Postgres);
    }

    #[test]
    fn sqlite_forms_select_a_file() {
        let file = |p: &str| Target::SqliteFile(PathBuf::from(p));
        assert_eq!(classify("sqlite:state.db").unwrap(), file("state.db"));
        assert_eq!(classify("sqlite://state.db").unwrap(), file("state.db"));
        assert_eq!(
            classify("sqlite:///var/lib/s.db").unwrap(),
            file("/var/lib/s.db")
        );
        assert_eq!(
            classify("/tmp/x/state.db").unwrap(),
            file("/tmp/x/state.db")
        );
        assert_eq!(
            classify(".shopforce/state.db").unwrap(),
            file(".shopforce/state.db")
        );
        assert_eq!(classify("sqlite::memory:").unwrap(), Target::SqliteMemory);
    }

    #[test]
    fn unsupported_or_empty_urls_are_rejected_without_secrets() {
        let err = classify("mysql://root:hunter2@db/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme `mysql`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(classify("  ").is_err());
        assert!(classify("sqlite:").is_err());
    }

    #[test]
    fn redaction_hides_passwords_everywhere() {
        assert_eq!(
            redact("postgres://app:s3cr%40t@db.example:5432/shop"),
            "postgres://app:***@db.example:5432/shop"
        );
        let r = redact("postgres://db/shop?user=app&password=s3cret&sslmode=require");
        assert!(
            !r.contains("s3cret") && r.contains("sslmode=require"),
            "{r}"
        );
        assert_eq!(redact("postgres://app@db/shop"), "postgres://app@db/shop");
        assert_eq!(redact("sqlite:state.db"), "sqlite:state.db");
        assert_eq!(redact("weird://a:b@c:d@host"), "weird://a:***@host");
        assert_eq!(redact("not a url://x:y@z"), "not a url://***@z");
    }

    #[test]
    fn scrub_removes_raw_and_decoded_passwords() {
        let url = "postgres://app:s3cr%40t@db/shop?password=other";
        let msg = "bad s3cr%40t / s3cr@t / other";
        assert_eq!(scrub(msg, url), "bad *** / *** / ***");
    }
}
