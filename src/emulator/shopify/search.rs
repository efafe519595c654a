//! The `query:` search syntax of connection arguments, the subset incremental syncs use:
//! `updated_at:>'2026-10-01T00:00:00Z' AND updated_at:<'…'`, `created_at:…`,
//! `processed_at:…`, `email:ana@example.com`, `id:…`.
//!
//! Terms are joined by whitespace or `AND`. As on Shopify, a term on a field the resource
//! does not filter by is ignored rather than rejected. `OR`, `NOT`, parentheses and free-text
//! terms are not supported: a query using them is matched on its other terms only.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// A comparison in a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
        }
    }
}

/// One `field:value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub field: String,
    pub cmp: Cmp,
    pub value: String,
}

/// A parsed search query (all terms must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub terms: Vec<Term>,
}

/// What a record offers to a search.
pub trait Searchable {
    /// The timestamp (seconds since the epoch) of a date field the resource filters by.
    fn date(&self, field: &str) -> Option<i64>;
    /// The text of a text field the resource filters by (`None`: not a filter field).
    fn text(&self, field: &str) -> Option<Option<String>>;
    /// The numeric id.
    fn id(&self) -> u64;
}

/// Splits on whitespace outside quotes.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for ch in query.chars() {
        match quote {
            Some(q) if ch == q => {
                quote = None;
                current.push(ch);
            }
            Some(_) => current.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                current.push(ch);
            }
            None if ch.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            None => current.push(ch),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

impl Search {
    pub fn parse(query: &str) -> Search {
        let mut terms = Vec::new();
        for token in tokens(query) {
            if token == "AND" {
                continue;
            }
            let Some((field, rest)) = token.split_once(':') else {
                continue;
            };
            let (cmp, value) = if let Some(v) = rest.strip_prefix(">=") {
                (Cmp::Ge, v)
            } else if let Some(v) = rest.strip_prefix("<=") {
                (Cmp::Le, v)
            } else if let Some(v) = rest.strip_prefix('>') {
                (Cmp::Gt, v)
            } else if let Some(v) = rest.strip_prefix('<') {
                (Cmp::Lt, v)
            } else {
                (Cmp::Eq, rest)
            };
            terms.push(Term {
                field: field.to_ascii_lowercase(),
                cmp,
                value: unquote(value).to_string(),
            });
        }
        Search { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether `record` matches every term it can be filtered by.
    pub fn matches(&self, record: &impl Searchable) -> bool {
        self.terms.iter().all(|t| term_matches(t, record))
    }
}

fn term_matches(term: &Term, record: &impl Searchable) -> bool {
    if term.field == "id" {
        return match term.value.parse::<u64>() {
            Ok(id) => term.cmp.holds(record.id(), id),
            Err(_) => false,
        };
    }
    if let Some(date) = record.date(&term.field) {
        return match parse_time(&term.value) {
            Some(at) => term.cmp.holds(date, at),
            // An unparseable date matches nothing, as Shopify returns nothing for it.
            None => false,
        };
    }
    match record.text(&term.field) {
        Some(Some(text)) => {
            let (left, right) = (text.to_lowercase(), term.value.to_lowercase());
            match right.strip_suffix('*') {
                Some(prefix) if term.cmp == Cmp::Eq => left.starts_with(prefix),
                _ => term.cmp.holds(left.as_str(), right.as_str()),
            }
        }
        Some(None) => false,
        // Not a filter of this resource: ignored.
        None => true,
    }
}

/// RFC 3339, a date and time without zone (UTC), or a date (midnight UTC).
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rec {
        updated: i64,
        email: Option<&'static str>,
        id: u64,
    }

    impl Searchable for Rec {
        fn date(&self, field: &str) -> Option<i64> {
            (field == "updated_at").then_some(self.updated)
        }
        fn text(&self, field: &str) -> Option<Option<String>> {
            (field == "email").then(|| self.email.map(str::to_string))
        }
        fn id(&self) -> u64 {
            self.id
        }
    }

    #[test]
    fn incremental_windows_filter_on_updated_at() {
        let at = parse_time("2026-10-01T00:00:00Z").unwrap();
        let rec = |updated| Rec {
            updated,
            email: None,
            id: 1,
        };
        let q = Search::parse(
            "updated_at:>='2026-10-01T00:00:00Z' AND updated_at:<'2026-10-02T00:00:00Z'",
        );
        assert_eq!(q.terms.len(), 2);
        assert!(q.matches(&rec(at)));
        assert!(q.matches(&rec(at + 86_399)));
        assert!(!q.matches(&rec(at - 1)));
        assert!(!q.matches(&rec(at + 86_400)));
        let strict = Search::parse("updated_at:>'2026-10-01T00:00:00Z'");
        assert!(!strict.matches(&rec(at)));
        assert!(Search::parse("updated_at:>2026-09-30").matches(&rec(at)));
        assert!(Search::parse("updated_at:>\"2026-09-30T23:00:00+02:00\"").matches(&rec(at)));
    }

    #[test]
    fn email_matches_case_insensitively_and_unknown_fields_are_ignored() {
        let rec = Rec {
            updated: 0,
            email: Some("Ana.Silva@Example.com"),
            id: 42,
        };
        assert!(Search::parse("email:ana.silva@example.com").matches(&rec));
        assert!(Search::parse("email:'ana.silva@example.com' tag:vip").matches(&rec));
        assert!(!Search::parse("email:bob@example.com").matches(&rec));
        assert!(Search::parse("id:42").matches(&rec));
        assert!(Search::parse("id:>41").matches(&rec));
        assert!(!Search::parse("updated_at:>not-a-date").matches(&rec));
        let none = Rec {
            updated: 0,
            email: None,
            id: 1,
        };
        assert!(!Search::parse("email:ana.silva@example.com").matches(&none));
    }
}
