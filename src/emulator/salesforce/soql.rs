//! The emulator's SOQL engine: a lexer and parser for the subset of SOQL that clients send,
//! validation against the [`Schema`] with Salesforce's own error codes and wording, and an
//! evaluator that reads records through a [`DataSource`].
//!
//! Supported: `SELECT` of fields and parent-relationship paths (any depth), `COUNT()` and
//! `COUNT(field) [alias]`, `WHERE` with comparisons, `IN` / `NOT IN`, `LIKE`, `AND`, `OR`, `NOT`
//! and parentheses, `ORDER BY … [ASC|DESC] [NULLS FIRST|LAST]`, `LIMIT` and `OFFSET`.
//! Everything else (`GROUP BY`, subqueries, `TYPEOF`, `FOR UPDATE`, other aggregates and
//! functions) is rejected with `MALFORMED_QUERY`.
//!
//! Like Salesforce, a filter may not mix `AND` and `OR` at one level without parentheses, and
//! `NOT` may only open a (parenthesised) condition.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

use super::schema::{FieldDef, FieldType, ObjectDef, Schema, Value};

/// A field as written in a query: relationship names then the field, e.g.
/// `["Account", "Shopify_Company_ID__c"]` or `["LastName"]`.
pub type FieldPath = Vec<String>;

/// A parsed SOQL query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub select: Vec<SelectItem>,
    /// The object as written after `FROM` (resolved case-insensitively on validation).
    pub object: String,
    pub filter: Option<Condition>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Where each part was written, so errors can echo the query with a caret like
    /// Salesforce. Left at its default for queries built in code (errors then carry the
    /// bare message).
    pub source: Source,
}

/// The query text and the positions of the parts that validation may complain about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    pub text: String,
    /// The object name after `FROM`.
    pub object: Pos,
    /// One per [`Query::select`] item (for `COUNT(field)`, the field).
    pub select: Vec<Pos>,
    /// One per [`Query::order_by`] item.
    pub order_by: Vec<Pos>,
}

/// A 1-based row and column in the query text; `Pos::default()` (0, 0) means unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub row: usize,
    pub col: usize,
}

/// One item of the `SELECT` list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Field(FieldPath),
    /// `COUNT()` (no field) or `COUNT(Id) [alias]`.
    Count {
        field: Option<FieldPath>,
        alias: Option<String>,
    },
}

/// A comparison operator (`<>` parses as [`CompareOp::Ne`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            CompareOp::Eq => ord == Ordering::Equal,
            CompareOp::Ne => ord != Ordering::Equal,
            CompareOp::Lt => ord == Ordering::Less,
            CompareOp::Le => ord != Ordering::Greater,
            CompareOp::Gt => ord == Ordering::Greater,
            CompareOp::Ge => ord != Ordering::Less,
        }
    }
}

/// A literal value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Boolean(bool),
    Number(f64),
    /// A quoted string, escapes decoded.
    String(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// `TODAY`, `LAST_N_DAYS:30`, …
    Relative(RelativeDate),
}

/// Salesforce's relative date literals (the subset the emulator understands). Weeks start
/// on Sunday and days are UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativeDate {
    Today,
    Yesterday,
    Tomorrow,
    LastWeek,
    ThisWeek,
    NextWeek,
    LastMonth,
    ThisMonth,
    NextMonth,
    LastQuarter,
    ThisQuarter,
    NextQuarter,
    LastYear,
    ThisYear,
    NextYear,
    Last90Days,
    Next90Days,
    /// Today and the `n` days before it.
    LastNDays(u32),
    /// The `n` days after today (today excluded).
    NextNDays(u32),
    /// The single day `n` days ago.
    NDaysAgo(u32),
    LastNWeeks(u32),
    NextNWeeks(u32),
    LastNMonths(u32),
    NextNMonths(u32),
}

impl RelativeDate {
    /// The days covered, as `[start, end)`, for the given current day.
    pub fn range(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let day = |n: i64| add_days(today, n);
        let week = add_days(today, -i64::from(today.weekday().num_days_from_sunday()));
        let week_at = |n: i64| add_days(week, 7 * n);
        let month = i64::from(today.year()) * 12 + i64::from(today.month0());
        let month_at = |n: i64| month_start(month + n);
        let quarter = month - i64::from(today.month0() % 3);
        let quarter_at = |n: i64| month_start(quarter + 3 * n);
        let year = i64::from(today.year()) * 12;
        let year_at = |n: i64| month_start(year + 12 * n);
        match self {
            RelativeDate::Today => (day(0), day(1)),
            RelativeDate::Yesterday => (day(-1), day(0)),
            RelativeDate::Tomorrow => (day(1), day(2)),
            RelativeDate::LastWeek => (week_at(-1), week_at(0)),
            RelativeDate::ThisWeek => (week_at(0), week_at(1)),
            RelativeDate::NextWeek => (week_at(1), week_at(2)),
            RelativeDate::LastMonth => (month_at(-1), month_at(0)),
            RelativeDate::ThisMonth => (month_at(0), month_at(1)),
            RelativeDate::NextMonth => (month_at(1), month_at(2)),
            RelativeDate::LastQuarter => (quarter_at(-1), quarter_at(0)),
            RelativeDate::ThisQuarter => (quarter_at(0), quarter_at(1)),
            RelativeDate::NextQuarter => (quarter_at(1), quarter_at(2)),
            RelativeDate::LastYear => (year_at(-1), year_at(0)),
            RelativeDate::ThisYear => (year_at(0), year_at(1)),
            RelativeDate::NextYear => (year_at(1), year_at(2)),
            RelativeDate::Last90Days => (day(-90), day(1)),
            RelativeDate::Next90Days => (day(1), day(91)),
            RelativeDate::LastNDays(n) => (day(-i64::from(n)), day(1)),
            RelativeDate::NextNDays(n) => (day(1), day(1 + i64::from(n))),
            RelativeDate::NDaysAgo(n) => (day(-i64::from(n)), day(1 - i64::from(n))),
            RelativeDate::LastNWeeks(n) => (week_at(-i64::from(n)), week_at(0)),
            RelativeDate::NextNWeeks(n) => (week_at(1), week_at(1 + i64::from(n))),
            RelativeDate::LastNMonths(n) => (month_at(-i64::from(n)), month_at(0)),
            RelativeDate::NextNMonths(n) => (month_at(1), month_at(1 + i64::from(n))),
        }
    }

    fn from_name(name: &str, n: Option<u32>) -> Option<RelativeDate> {
        let upper = name.to_ascii_uppercase();
        Some(match (upper.as_str(), n) {
            ("TODAY", None) => RelativeDate::Today,
            ("YESTERDAY", None) => RelativeDate::Yesterday,
            ("TOMORROW", None) => RelativeDate::Tomorrow,
            ("LAST_WEEK", None) => RelativeDate::LastWeek,
            ("THIS_WEEK", None) => RelativeDate::ThisWeek,
            ("NEXT_WEEK", None) => RelativeDate::NextWeek,
            ("LAST_MONTH", None) => RelativeDate::LastMonth,
            ("THIS_MONTH", None) => RelativeDate::ThisMonth,
            ("NEXT_MONTH", None) => RelativeDate::NextMonth,
            ("LAST_QUARTER", None) => RelativeDate::LastQuarter,
            ("THIS_QUARTER", None) => RelativeDate::ThisQuarter,
            ("NEXT_QUARTER", None) => RelativeDate::NextQuarter,
            ("LAST_YEAR", None) => RelativeDate::LastYear,
            ("THIS_YEAR", None) => RelativeDate::ThisYear,
            ("NEXT_YEAR", None) => RelativeDate::NextYear,
            ("LAST_90_DAYS", None) => RelativeDate::Last90Days,
            ("NEXT_90_DAYS", None) => RelativeDate::Next90Days,
            ("LAST_N_DAYS", Some(n)) => RelativeDate::LastNDays(n),
            ("NEXT_N_DAYS", Some(n)) => RelativeDate::NextNDays(n),
            ("N_DAYS_AGO", Some(n)) => RelativeDate::NDaysAgo(n),
            ("LAST_N_WEEKS", Some(n)) => RelativeDate::LastNWeeks(n),
            ("NEXT_N_WEEKS", Some(n)) => RelativeDate::NextNWeeks(n),
            ("LAST_N_MONTHS", Some(n)) => RelativeDate::LastNMonths(n),
            ("NEXT_N_MONTHS", Some(n)) => RelativeDate::NextNMonths(n),
            _ => return None,
        })
    }

    fn takes_count(name: &str) -> bool {
        let upper = name.to_ascii_uppercase();
        matches!(
            upper.as_str(),
            "LAST_N_DAYS"
                | "NEXT_N_DAYS"
                | "N_DAYS_AGO"
                | "LAST_N_WEEKS"
                | "NEXT_N_WEEKS"
                | "LAST_N_MONTHS"
                | "NEXT_N_MONTHS"
        )
    }
}

fn add_days(date: NaiveDate, n: i64) -> NaiveDate {
    let shifted = if n >= 0 {
        date.checked_add_days(chrono::Days::new(n.unsigned_abs()))
    } else {
        date.checked_sub_days(chrono::Days::new(n.unsigned_abs()))
    };
    shifted.unwrap_or(if n >= 0 {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    })
}

/// The first day of the month `index` months after January of year 0.
fn month_start(index: i64) -> NaiveDate {
    i32::try_from(index.div_euclid(12))
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, index.rem_euclid(12) as u32 + 1, 1))
        .unwrap_or(if index < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// A `WHERE` condition. `And` / `Or` hold two or more operands.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field op value`; `= null` / `!= null` test for null.
    Compare {
        field: FieldPath,
        op: CompareOp,
        value: Literal,
        pos: Pos,
    },
    /// `field [NOT] IN (v1, v2, …)`.
    In {
        field: FieldPath,
        values: Vec<Literal>,
        negated: bool,
        pos: Pos,
    },
    /// `field LIKE 'pattern'`; the pattern as written between the quotes (escapes such as
    /// `\%` and `\'` not yet decoded).
    Like {
        field: FieldPath,
        pattern: String,
        pos: Pos,
    },
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

/// One `ORDER BY` item. The parser fills `nulls_last` with Salesforce's default (nulls first
/// ascending, last descending) when `NULLS FIRST|LAST` is not written.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub path: FieldPath,
    pub descending: bool,
    pub nulls_last: bool,
}

/// A query error as the API reports it: `errorCode` and `message`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoqlError {
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for SoqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SoqlError {}

impl SoqlError {
    fn new(code: &'static str, message: impl Into<String>) -> SoqlError {
        SoqlError {
            code,
            message: message.into(),
        }
    }

    /// Salesforce's form: the query line, a caret under the offending token, its position,
    /// then the message.
    fn at(code: &'static str, text: &str, pos: Pos, message: impl fmt::Display) -> SoqlError {
        if text.is_empty() || pos.row == 0 {
            return SoqlError::new(code, message.to_string());
        }
        let line = text
            .split('\n')
            .nth(pos.row - 1)
            .unwrap_or("")
            .trim_end_matches('\r');
        let caret = " ".repeat(pos.col.saturating_sub(1));
        SoqlError {
            code,
            message: format!(
                "\n{line}\n{caret}^\nERROR at Row:{}:Column:{}\n{message}",
                pos.row, pos.col
            ),
        }
    }
}

const MALFORMED: &str = "MALFORMED_QUERY";
const INVALID_FIELD: &str = "INVALID_FIELD";

/// What the evaluator reads records through. R is an opaque record handle (Copy).
pub trait DataSource {
    type Rec: Copy;
    fn schema(&self) -> &Schema;
    /// All records of an object (object name as in the schema). Order = insertion order.
    fn scan(&self, object: &str) -> Vec<Self::Rec>;
    /// The value of a (non-relationship) field of the record, including computed formula
    /// fields. Unknown → Value::Null.
    fn value(&self, object: &str, rec: Self::Rec, field: &str) -> Value;
    /// Follow a reference field (e.g. "AccountId") to the parent; None when the field is
    /// null/dangling. Returns the parent's object name and handle.
    fn parent(
        &self,
        object: &str,
        rec: Self::Rec,
        reference_field: &str,
    ) -> Option<(String, Self::Rec)>;
}

/// A resolved column of the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Canonical API names from the schema, e.g. `["Account", "Name"]`.
    pub path: FieldPath,
    /// `"Account.Name"` with canonical names.
    pub label: String,
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq)]
pub enum QueryOutput {
    Rows {
        /// Canonical object name.
        object: String,
        columns: Vec<Column>,
        rows: Vec<Vec<Value>>,
    },
    Count {
        object: String,
        alias: Option<String>,
        count: usize,
    },
}

// ---------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name, possibly dotted (`Account.Name`).
    Ident(String),
    /// A quoted string: the text between the quotes, escapes validated but not decoded.
    Str(String),
    Num(f64),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Comma,
    LParen,
    RParen,
    Colon,
    Op(CompareOp),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// As written (`<EOF>` for the end).
    text: String,
    pos: Pos,
}

struct Lexer<'a> {
    text: &'a str,
    chars: Vec<char>,
    i: usize,
    row: usize,
    col: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            chars: text.chars().collect(),
            i: 0,
            row: 1,
            col: 1,
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn peek_is(&self, k: usize, f: impl Fn(char) -> bool) -> bool {
        self.peek(k).is_some_and(f)
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '\n' {
                self.row += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            row: self.row,
            col: self.col,
        }
    }

    fn since(&self, start: usize) -> String {
        self.chars[start..self.i].iter().collect()
    }

    fn error(&self, pos: Pos, message: impl fmt::Display) -> SoqlError {
        SoqlError::at(MALFORMED, self.text, pos, message)
    }

    fn tokens(mut self) -> Result<Vec<Token>, SoqlError> {
        let mut out = Vec::new();
        loop {
            while self.peek_is(0, char::is_whitespace) {
                self.bump();
            }
            let pos = self.pos();
            let start = self.i;
            let Some(c) = self.peek(0) else {
                out.push(Token {
                    tok: Tok::Eof,
                    text: "<EOF>".to_string(),
                    pos,
                });
                return Ok(out);
            };
            let tok = match c {
                ',' | '(' | ')' | ':' | '=' => {
                    self.bump();
                    match c {
                        ',' => Tok::Comma,
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        ':' => Tok::Colon,
                        _ => Tok::Op(CompareOp::Eq),
                    }
                }
                '!' => {
                    self.bump();
                    if self.peek(0) != Some('=') {
                        return Err(self.error(pos, "unexpected token: '!'"));
                    }
                    self.bump();
                    Tok::Op(CompareOp::Ne)
                }
                '<' => {
                    self.bump();
                    match self.peek(0) {
                        Some('=') => {
                            self.bump();
                            Tok::Op(CompareOp::Le)
                        }
                        Some('>') => {
                            self.bump();
                            Tok::Op(CompareOp::Ne)
                        }
                        _ => Tok::Op(CompareOp::Lt),
                    }
                }
                '>' => {
                    self.bump();
                    if self.peek(0) == Some('=') {
                        self.bump();
                        Tok::Op(CompareOp::Ge)
                    } else {
                        Tok::Op(CompareOp::Gt)
                    }
                }
                '\'' => self.string(pos)?,
                c if c.is_ascii_digit()
                    || (matches!(c, '-' | '+') && self.peek_is(1, |d| d.is_ascii_digit())) =>
                {
                    self.number(pos)?
                }
                c if c.is_ascii_alphabetic() || c == '_' => self.ident(),
                other => return Err(self.error(pos, format!("unexpected token: '{other}'"))),
            };
            out.push(Token {
                tok,
                text: self.since(start),
                pos,
            });
        }
    }

    fn ident(&mut self) -> Tok {
        let start = self.i;
        loop {
            while self.peek_is(0, |c| c.is_ascii_alphanumeric() || c == '_') {
                self.bump();
            }
            if self.peek(0) == Some('.') && self.peek_is(1, |c| c.is_ascii_alphabetic() || c == '_')
            {
                self.bump();
            } else {
                break;
            }
        }
        Tok::Ident(self.since(start))
    }

    fn string(&mut self, pos: Pos) -> Result<Tok, SoqlError> {
        self.bump();
        let mut raw = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(self.error(
                        pos,
                        "unexpected token: '<EOF>' (unterminated string literal)",
                    ));
                }
                Some('\'') => {
                    self.bump();
                    return Ok(Tok::Str(raw));
                }
                Some('\\') => {
                    let escape_pos = self.pos();
                    self.bump();
                    match self.peek(0) {
                        Some(c @ ('\'' | '"' | '\\' | 'n' | 'r' | 't' | 'b' | 'f' | '%' | '_')) => {
                            self.bump();
                            raw.push('\\');
                            raw.push(c);
                        }
                        Some(c) => {
                            return Err(self.error(
                                escape_pos,
                                format!("Invalid string literal. Illegal character sequence '\\{c}' in string literal."),
                            ));
                        }
                        None => {
                            return Err(self.error(
                                pos,
                                "unexpected token: '<EOF>' (unterminated string literal)",
                            ));
                        }
                    }
                }
                Some(c) => {
                    self.bump();
                    raw.push(c);
                }
            }
        }
    }

    fn number(&mut self, pos: Pos) -> Result<Tok, SoqlError> {
        let start = self.i;
        let signed = matches!(self.peek(0), Some('-' | '+'));
        if signed {
            self.bump();
        }
        let digits_start = self.i;
        while self.peek_is(0, |c| c.is_ascii_digit()) {
            self.bump();
        }
        if !signed
            && self.i - digits_start == 4
            && self.peek(0) == Some('-')
            && self.peek_is(1, |c| c.is_ascii_digit())
        {
            return self.temporal(start, pos);
        }
        if self.peek(0) == Some('.') && self.peek_is(1, |c| c.is_ascii_digit()) {
            self.bump();
            while self.peek_is(0, |c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        let text = self.since(start);
        text.parse::<f64>()
            .map(Tok::Num)
            .map_err(|_| self.error(pos, format!("unexpected token: '{text}'")))
    }

    fn temporal(&mut self, start: usize, pos: Pos) -> Result<Tok, SoqlError> {
        while self.peek_is(0, |c| c.is_ascii_digit() || c == '-') {
            self.bump();
        }
        if self.peek(0) != Some('T') {
            let text = self.since(start);
            return match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                Ok(date) if text.len() == 10 => Ok(Tok::Date(date)),
                _ => Err(self.error(
                    pos,
                    format!("invalid date: '{text}' (expected e.g. 2026-01-31)"),
                )),
            };
        }
        self.bump();
        while self.peek_is(0, |c| c.is_ascii_digit() || c == ':' || c == '.') {
            self.bump();
        }
        match self.peek(0) {
            Some('Z' | 'z') => self.bump(),
            Some('+' | '-') => {
                self.bump();
                while self.peek_is(0, |c| c.is_ascii_digit() || c == ':') {
                    self.bump();
                }
            }
            _ => {}
        }
        let text = self.since(start);
        DateTime::parse_from_rfc3339(&text)
            .or_else(|_| DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map(|dt| Tok::DateTime(dt.with_timezone(&Utc)))
            .map_err(|_| {
                self.error(
                    pos,
                    format!("invalid dateTime: '{text}' (expected e.g. 2026-01-31T10:00:00Z)"),
                )
            })
    }
}

/// Decodes the escapes of a string literal's raw text.
fn decode_string(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------

/// Words that can never be an alias.
const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "INCLUDES",
    "EXCLUDES",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "GROUP",
    "HAVING",
    "WITH",
    "FOR",
    "USING",
    "UPDATE",
    "VIEW",
    "REFERENCE",
    "ALL",
    "ROWS",
    "TRUE",
    "FALSE",
    "NULL",
    "TYPEOF",
];

const AGGREGATES: &[&str] = &["SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT"];

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

fn split_path(text: &str) -> FieldPath {
    text.split('.').map(str::to_string).collect()
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    i: usize,
}

/// Parses SOQL text. Names are checked against the schema only by [`validate`] / [`execute`].
pub fn parse(text: &str) -> Result<Query, SoqlError> {
    let toks = Lexer::new(text).tokens()?;
    Parser { text, toks, i: 0 }.query()
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i]
    }

    fn next(&mut self) -> Token {
        let tok = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        tok
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let found = self.is_kw(kw);
        if found {
            self.next();
        }
        found
    }

    fn expect_kw(&mut self, kw: &str) -> Result<Token, SoqlError> {
        let tok = self.next();
        match &tok.tok {
            Tok::Ident(s) if s.eq_ignore_ascii_case(kw) => Ok(tok),
            _ => Err(self.unexpected(&tok)),
        }
    }

    fn expect(&mut self, want: &Tok) -> Result<Token, SoqlError> {
        let tok = self.next();
        if &tok.tok == want {
            Ok(tok)
        } else {
            Err(self.unexpected(&tok))
        }
    }

    fn unexpected(&self, tok: &Token) -> SoqlError {
        if tok.tok == Tok::Colon {
            return SoqlError::at(
                MALFORMED,
                self.text,
                tok.pos,
                "Bind variables only allowed in Apex code",
            );
        }
        SoqlError::at(
            MALFORMED,
            self.text,
            tok.pos,
            format!("unexpected token: '{}'", tok.text),
        )
    }

    fn unsupported(&self, tok: &Token, what: &str) -> SoqlError {
        SoqlError::at(
            MALFORMED,
            self.text,
            tok.pos,
            format!("{what} is not supported by the Salesforce emulator's SOQL engine"),
        )
    }

    /// Rejects clauses the emulator does not implement, by name, rather than with a bare
    /// "unexpected token".
    fn reject_unsupported_clause(&self) -> Result<(), SoqlError> {
        let tok = self.peek();
        let Tok::Ident(word) = &tok.tok else {
            return Ok(());
        };
        let what = match word.to_ascii_uppercase().as_str() {
            "GROUP" => "GROUP BY",
            "HAVING" => "HAVING",
            "WITH" => "WITH",
            "USING" => "USING SCOPE",
            "FOR" => "FOR VIEW / FOR REFERENCE / FOR UPDATE",
            "ALL" => "ALL ROWS",
            "UPDATE" => "UPDATE TRACKING / UPDATE VIEWSTAT",
            _ => return Ok(()),
        };
        Err(self.unsupported(tok, what))
    }

    fn query(mut self) -> Result<Query, SoqlError> {
        let first = self.next();
        if !matches!(&first.tok, Tok::Ident(s) if s.eq_ignore_ascii_case("SELECT")) {
            return Err(self.unexpected(&first));
        }
        let (select, select_pos) = self.select_list()?;
        self.expect_kw("FROM")?;
        let object_tok = self.next();
        let object = match &object_tok.tok {
            Tok::Ident(name) if !name.contains('.') && !is_reserved(name) => name.clone(),
            _ => return Err(self.unexpected(&object_tok)),
        };
        let alias = match &self.peek().tok {
            Tok::Ident(word) if !word.contains('.') && !is_reserved(word) => {
                let word = word.clone();
                self.next();
                Some(word)
            }
            _ => None,
        };
        self.reject_unsupported_clause()?;
        let filter = if self.eat_kw("WHERE") {
            Some(self.condition()?)
        } else {
            None
        };
        self.reject_unsupported_clause()?;
        let (order_by, order_pos) = if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            self.order_list()?
        } else {
            (Vec::new(), Vec::new())
        };
        self.reject_unsupported_clause()?;
        let limit = if self.eat_kw("LIMIT") {
            Some(self.integer()?.0)
        } else {
            None
        };
        self.reject_unsupported_clause()?;
        let offset = if self.eat_kw("OFFSET") {
            let (n, tok) = self.integer()?;
            if n > 2000 {
                return Err(SoqlError::at(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    self.text,
                    tok.pos,
                    "Maximum SOQL offset allowed is 2000",
                ));
            }
            Some(n)
        } else {
            None
        };
        self.reject_unsupported_clause()?;
        let end = self.next();
        if end.tok != Tok::Eof {
            return Err(self.unexpected(&end));
        }

        let mut query = Query {
            select,
            object,
            filter,
            order_by,
            limit,
            offset,
            source: Source {
                text: self.text.to_string(),
                object: object_tok.pos,
                select: select_pos,
                order_by: order_pos,
            },
        };
        if let Some(alias) = alias {
            strip_alias(&mut query, &alias);
        }
        Ok(query)
    }

    fn select_list(&mut self) -> Result<(Vec<SelectItem>, Vec<Pos>), SoqlError> {
        let mut items = Vec::new();
        let mut positions = Vec::new();
        let mut count_tok: Option<Token> = None;
        let mut first_field: Option<(String, Pos)> = None;
        loop {
            let tok = self.next();
            match &tok.tok {
                Tok::LParen => return Err(self.unsupported(&tok, "A subquery in the SELECT list")),
                Tok::Ident(name) if self.peek().tok == Tok::LParen => {
                    let upper = name.to_ascii_uppercase();
                    if upper != "COUNT" {
                        let what = if AGGREGATES.contains(&upper.as_str()) {
                            format!("The aggregate function {upper}()")
                        } else {
                            format!("The function {name}()")
                        };
                        return Err(self.unsupported(&tok, &what));
                    }
                    if let Some(previous) = &count_tok {
                        return Err(self
                            .unsupported(previous, "More than one aggregate in the SELECT list"));
                    }
                    self.next();
                    let inner = self.next();
                    let (field, pos) = match &inner.tok {
                        Tok::RParen => (None, tok.pos),
                        Tok::Ident(path) if self.peek().tok == Tok::RParen => {
                            self.next();
                            (Some(split_path(path)), inner.pos)
                        }
                        _ => return Err(self.unexpected(&inner)),
                    };
                    let alias = match &self.peek().tok {
                        Tok::Ident(word) if !word.contains('.') && !is_reserved(word) => {
                            let word = word.clone();
                            self.next();
                            Some(word)
                        }
                        _ => None,
                    };
                    items.push(SelectItem::Count { field, alias });
                    positions.push(pos);
                    count_tok = Some(tok.clone());
                }
                Tok::Ident(name) if name.eq_ignore_ascii_case("TYPEOF") => {
                    return Err(self.unsupported(&tok, "TYPEOF"));
                }
                Tok::Ident(name) if !is_reserved(name) => {
                    if first_field.is_none() {
                        first_field = Some((name.clone(), tok.pos));
                    }
                    items.push(SelectItem::Field(split_path(name)));
                    positions.push(tok.pos);
                }
                _ => return Err(self.unexpected(&tok)),
            }
            if self.peek().tok == Tok::Comma {
                self.next();
            } else {
                break;
            }
        }
        if let (Some(count), Some((name, pos))) = (&count_tok, first_field) {
            let bare_count = items
                .iter()
                .any(|item| matches!(item, SelectItem::Count { field: None, .. }));
            return Err(if bare_count {
                SoqlError::at(
                    MALFORMED,
                    self.text,
                    count.pos,
                    "COUNT() must be the only element in the SELECT list",
                )
            } else {
                SoqlError::at(
                    MALFORMED,
                    self.text,
                    pos,
                    format!("Field must be grouped or aggregated: {name}"),
                )
            });
        }
        Ok((items, positions))
    }

    fn order_list(&mut self) -> Result<(Vec<OrderBy>, Vec<Pos>), SoqlError> {
        let mut items = Vec::new();
        let mut positions = Vec::new();
        loop {
            let tok = self.next();
            let path = match &tok.tok {
                Tok::Ident(name) if self.peek().tok == Tok::LParen => {
                    return Err(self.unsupported(&tok, &format!("ORDER BY {name}()")));
                }
                Tok::Ident(name) if !is_reserved(name) => split_path(name),
                _ => return Err(self.unexpected(&tok)),
            };
            let descending = if self.eat_kw("DESC") {
                true
            } else {
                self.eat_kw("ASC");
                false
            };
            let nulls_last = if self.eat_kw("NULLS") {
                if self.eat_kw("LAST") {
                    true
                } else {
                    self.expect_kw("FIRST")?;
                    false
                }
            } else {
                descending
            };
            items.push(OrderBy {
                path,
                descending,
                nulls_last,
            });
            positions.push(tok.pos);
            if self.peek().tok == Tok::Comma {
                self.next();
            } else {
                return Ok((items, positions));
            }
        }
    }

    fn integer(&mut self) -> Result<(usize, Token), SoqlError> {
        let tok = self.next();
        if !matches!(tok.tok, Tok::Num(_)) || !tok.text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.unexpected(&tok));
        }
        match tok.text.parse::<i32>() {
            Ok(n) => Ok((n as usize, tok)),
            Err(_) => Err(SoqlError::at(
                MALFORMED,
                self.text,
                tok.pos,
                format!("numeric value out of range: {}", tok.text),
            )),
        }
    }

    /// `cond := [NOT] operand ((AND operand)* | (OR operand)*)`; Salesforce requires
    /// parentheses to mix AND with OR and only lets NOT open a condition.
    fn condition(&mut self) -> Result<Condition, SoqlError> {
        let first = if self.eat_kw("NOT") {
            Condition::Not(Box::new(self.operand()?))
        } else {
            self.operand()?
        };
        let conjunction = if self.is_kw("AND") {
            "AND"
        } else if self.is_kw("OR") {
            "OR"
        } else {
            return Ok(first);
        };
        let mut items = vec![first];
        while self.eat_kw(conjunction) {
            if self.is_kw("NOT") {
                return Err(self.unexpected(self.peek()));
            }
            items.push(self.operand()?);
        }
        if self.is_kw("AND") || self.is_kw("OR") {
            return Err(self.unexpected(self.peek()));
        }
        Ok(if conjunction == "AND" {
            Condition::And(items)
        } else {
            Condition::Or(items)
        })
    }

    fn operand(&mut self) -> Result<Condition, SoqlError> {
        if self.peek().tok == Tok::LParen {
            self.next();
            let inner = self.condition()?;
            self.expect(&Tok::RParen)?;
            return Ok(inner);
        }
        let tok = self.next();
        let field = match &tok.tok {
            Tok::Ident(name) if self.peek().tok == Tok::LParen => {
                return Err(self.unsupported(&tok, &format!("The function {name}() in WHERE")));
            }
            Tok::Ident(name) if !is_reserved(name) => split_path(name),
            _ => return Err(self.unexpected(&tok)),
        };
        let pos = tok.pos;
        let op = self.next();
        match &op.tok {
            Tok::Op(cmp) => Ok(Condition::Compare {
                field,
                op: *cmp,
                value: self.literal()?,
                pos,
            }),
            Tok::Ident(word) if word.eq_ignore_ascii_case("IN") => Ok(Condition::In {
                field,
                values: self.literal_list()?,
                negated: false,
                pos,
            }),
            Tok::Ident(word) if word.eq_ignore_ascii_case("NOT") => {
                self.expect_kw("IN")?;
                Ok(Condition::In {
                    field,
                    values: self.literal_list()?,
                    negated: true,
                    pos,
                })
            }
            Tok::Ident(word) if word.eq_ignore_ascii_case("LIKE") => {
                let pattern = self.next();
                match pattern.tok {
                    Tok::Str(raw) => Ok(Condition::Like {
                        field,
                        pattern: raw,
                        pos,
                    }),
                    _ => Err(self.unexpected(&pattern)),
                }
            }
            Tok::Ident(word)
                if word.eq_ignore_ascii_case("INCLUDES")
                    || word.eq_ignore_ascii_case("EXCLUDES") =>
            {
                Err(self.unsupported(&op, &word.to_ascii_uppercase()))
            }
            _ => Err(self.unexpected(&op)),
        }
    }

    fn literal_list(&mut self) -> Result<Vec<Literal>, SoqlError> {
        self.expect(&Tok::LParen)?;
        if self.is_kw("SELECT") {
            return Err(self.unsupported(self.peek(), "A semi-join subquery (IN (SELECT …))"));
        }
        let mut values = vec![self.literal()?];
        while self.peek().tok == Tok::Comma {
            self.next();
            values.push(self.literal()?);
        }
        self.expect(&Tok::RParen)?;
        Ok(values)
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let tok = self.next();
        Ok(match &tok.tok {
            Tok::Str(raw) => Literal::String(decode_string(raw)),
            Tok::Num(n) => Literal::Number(*n),
            Tok::Date(d) => Literal::Date(*d),
            Tok::DateTime(dt) => Literal::DateTime(*dt),
            Tok::Ident(word) if word.eq_ignore_ascii_case("NULL") => Literal::Null,
            Tok::Ident(word) if word.eq_ignore_ascii_case("TRUE") => Literal::Boolean(true),
            Tok::Ident(word) if word.eq_ignore_ascii_case("FALSE") => Literal::Boolean(false),
            Tok::Ident(word) if RelativeDate::takes_count(word) => {
                self.expect(&Tok::Colon)?;
                let (n, _) = self.integer()?;
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                RelativeDate::from_name(word, Some(n))
                    .map(Literal::Relative)
                    .ok_or_else(|| self.unexpected(&tok))?
            }
            Tok::Ident(word) => RelativeDate::from_name(word, None)
                .map(Literal::Relative)
                .ok_or_else(|| self.unexpected(&tok))?,
            _ => return Err(self.unexpected(&tok)),
        })
    }
}

/// `FROM Contact c` lets paths start with `c.`; drop that prefix.
fn strip_alias(query: &mut Query, alias: &str) {
    fn strip(path: &mut FieldPath, alias: &str) {
        if path.len() > 1 && path[0].eq_ignore_ascii_case(alias) {
            path.remove(0);
        }
    }
    fn walk(cond: &mut Condition, alias: &str) {
        match cond {
            Condition::Compare { field, .. }
            | Condition::In { field, .. }
            | Condition::Like { field, .. } => strip(field, alias),
            Condition::And(items) | Condition::Or(items) => {
                items.iter_mut().for_each(|c| walk(c, alias))
            }
            Condition::Not(inner) => walk(inner, alias),
        }
    }
    for item in &mut query.select {
        match item {
            SelectItem::Field(path)
            | SelectItem::Count {
                field: Some(path), ..
            } => strip(path, alias),
            SelectItem::Count { field: None, .. } => {}
        }
    }
    if let Some(filter) = &mut query.filter {
        walk(filter, alias);
    }
    for order in &mut query.order_by {
        strip(&mut order.path, alias);
    }
}

// ---------------------------------------------------------------------------------------
// Validation: resolve names, type-check literals, compile the filter
// ---------------------------------------------------------------------------------------

/// How the evaluator treats a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Id,
    Number,
    Bool,
    Date,
    DateTime,
}

impl Kind {
    fn of(field_type: FieldType) -> Kind {
        match field_type {
            FieldType::Id | FieldType::Reference => Kind::Id,
            FieldType::Number | FieldType::Currency | FieldType::Percent => Kind::Number,
            FieldType::Checkbox => Kind::Bool,
            FieldType::Date => Kind::Date,
            FieldType::DateTime => Kind::DateTime,
            _ => Kind::Text,
        }
    }

    fn accepts(self, literal: &Literal) -> bool {
        matches!(
            (self, literal),
            (_, Literal::Null)
                | (Kind::Text | Kind::Id, Literal::String(_))
                | (Kind::Number, Literal::Number(_))
                | (Kind::Bool, Literal::Boolean(_))
                | (Kind::Date, Literal::Date(_) | Literal::Relative(_))
                | (
                    Kind::DateTime,
                    Literal::DateTime(_) | Literal::Date(_) | Literal::Relative(_)
                )
        )
    }
}

/// A field path resolved against the schema.
#[derive(Debug)]
struct ResolvedPath {
    /// Reference fields to follow from the queried object (`AccountId`, `ParentId`, …).
    hops: Vec<String>,
    field: String,
    kind: Kind,
    /// Canonical relationship names and field name.
    canonical: FieldPath,
}

#[derive(Debug)]
enum InSet {
    Text(HashSet<String>),
    Num(Vec<f64>),
    Bool { t: bool, f: bool },
    Time(Vec<(i64, i64)>),
}

/// One compiled test of a field value. Text literals are lower-cased once here; temporal
/// literals become `[lo, hi)` ranges in days (Date fields) or microseconds (DateTime fields).
#[derive(Debug)]
enum Test {
    Never,
    IsNull,
    NotNull,
    Text {
        op: CompareOp,
        lit: String,
    },
    Num {
        op: CompareOp,
        lit: f64,
    },
    Bool {
        op: CompareOp,
        lit: bool,
    },
    Time {
        op: CompareOp,
        lo: i64,
        hi: i64,
    },
    In {
        set: InSet,
        has_null: bool,
        negated: bool,
    },
    Like(LikePattern),
}

#[derive(Debug)]
enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Test { path: usize, test: Test },
}

#[derive(Debug)]
enum PlanOutput {
    Rows(Vec<(usize, Column)>),
    Count {
        field: Option<usize>,
        alias: Option<String>,
    },
}

#[derive(Debug)]
struct PlanOrder {
    path: usize,
    descending: bool,
    nulls_last: bool,
}

#[derive(Debug)]
struct Plan {
    object: String,
    paths: Vec<ResolvedPath>,
    output: PlanOutput,
    filter: Option<Pred>,
    order: Vec<PlanOrder>,
    limit: Option<usize>,
    offset: usize,
}

struct Compiler<'a> {
    schema: &'a Schema,
    root: &'a ObjectDef,
    text: &'a str,
    today: NaiveDate,
    paths: Vec<ResolvedPath>,
}

/// Validation alone (used before a Bulk query job is accepted).
pub fn validate(query: &Query, schema: &Schema) -> Result<(), SoqlError> {
    compile(query, schema, Utc::now()).map(|_| ())
}

fn compile(query: &Query, schema: &Schema, now: DateTime<Utc>) -> Result<Plan, SoqlError> {
    let text = query.source.text.as_str();
    let root = schema.object(&query.object).ok_or_else(|| {
        SoqlError::at(
            "INVALID_TYPE",
            text,
            query.source.object,
            format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to \
                 append the '__c' after the entity name. Please reference your WSDL or the describe call for \
                 the appropriate names.",
                query.object
            ),
        )
    })?;
    let mut compiler = Compiler {
        schema,
        root,
        text,
        today: now.date_naive(),
        paths: Vec::new(),
    };
    if query.select.is_empty() {
        return Err(SoqlError::new(MALFORMED, "unexpected token: 'FROM'"));
    }

    let mut columns: Vec<(usize, Column)> = Vec::new();
    let mut count = None;
    for (i, item) in query.select.iter().enumerate() {
        let pos = query.source.select.get(i).copied().unwrap_or_default();
        match item {
            SelectItem::Field(path) => {
                let (index, _) = compiler.resolve(path, pos)?;
                let canonical = compiler.paths[index].canonical.clone();
                let label = canonical.join(".");
                if columns
                    .iter()
                    .any(|(_, c)| c.label.eq_ignore_ascii_case(&label))
                {
                    return Err(SoqlError::at(
                        INVALID_FIELD,
                        text,
                        pos,
                        format!("duplicate field selected: {label}"),
                    ));
                }
                columns.push((
                    index,
                    Column {
                        path: canonical,
                        label,
                    },
                ));
            }
            SelectItem::Count { field, alias } => {
                let field = match field {
                    Some(path) => Some(compiler.resolve(path, pos)?.0),
                    None => None,
                };
                count = Some((field, alias.clone()));
            }
        }
    }
    let output = match count {
        Some(_) if !columns.is_empty() => {
            let column = &columns[0].1;
            let pos = query
                .select
                .iter()
                .position(|item| matches!(item, SelectItem::Field(_)))
                .and_then(|k| query.source.select.get(k).copied())
                .unwrap_or_default();
            return Err(SoqlError::at(
                MALFORMED,
                text,
                pos,
                format!("Field must be grouped or aggregated: {}", column.label),
            ));
        }
        Some((field, alias)) => PlanOutput::Count { field, alias },
        None => PlanOutput::Rows(columns),
    };

    let filter = match &query.filter {
        Some(condition) => Some(compiler.condition(condition)?),
        None => None,
    };

    let mut order = Vec::new();
    for (i, item) in query.order_by.iter().enumerate() {
        let pos = query.source.order_by.get(i).copied().unwrap_or_default();
        let (path, _) = compiler.resolve(&item.path, pos)?;
        order.push(PlanOrder {
            path,
            descending: item.descending,
            nulls_last: item.nulls_last,
        });
    }

    Ok(Plan {
        object: root.name.clone(),
        paths: compiler.paths,
        output,
        filter,
        order,
        limit: query.limit,
        offset: query.offset.unwrap_or(0),
    })
}

impl<'a> Compiler<'a> {
    fn resolve(&mut self, path: &[String], pos: Pos) -> Result<(usize, &'a FieldDef), SoqlError> {
        let mut segments = path;
        // `Contact.LastName` FROM Contact: the object's own name may open a path.
        if segments.len() > 1
            && segments[0].eq_ignore_ascii_case(&self.root.name)
            && self.root.relationship(&segments[0]).is_none()
        {
            segments = &segments[1..];
        }
        let Some((last, relationships)) = segments.split_last() else {
            return Err(SoqlError::at(
                MALFORMED,
                self.text,
                pos,
                "unexpected token: '<EOF>'",
            ));
        };
        let mut object: &'a ObjectDef = self.root;
        let mut hops = Vec::with_capacity(relationships.len());
        let mut canonical = Vec::with_capacity(segments.len());
        for relationship in relationships {
            let parent = object
                .relationship(relationship)
                .and_then(|(_, reference)| {
                    let parent = self.schema.object(reference.reference_to.first()?)?;
                    Some((reference, parent))
                });
            let Some((reference, parent)) = parent else {
                return Err(SoqlError::at(
                    INVALID_FIELD,
                    self.text,
                    pos,
                    format!(
                        "Didn't understand relationship '{relationship}' in field path. If you are attempting to \
                         use a custom relationship, be sure to append the '__r' after the custom relationship \
                         name. Please reference your WSDL or the describe call for the appropriate names."
                    ),
                ));
            };
            hops.push(reference.name.clone());
            canonical.push(
                reference
                    .relationship_name
                    .clone()
                    .unwrap_or_else(|| relationship.clone()),
            );
            object = parent;
        }
        let Some(field) = object.field(last) else {
            return Err(SoqlError::at(
                INVALID_FIELD,
                self.text,
                pos,
                format!(
                    "No such column '{last}' on entity '{}'. If you are attempting to use a custom field, be sure \
                     to append the '__c' after the custom field name. Please reference your WSDL or the describe \
                     call for the appropriate names.",
                    object.name
                ),
            ));
        };
        canonical.push(field.name.clone());
        let index = match self.paths.iter().position(|p| p.canonical == canonical) {
            Some(i) => i,
            None => {
                self.paths.push(ResolvedPath {
                    hops,
                    field: field.name.clone(),
                    kind: Kind::of(field.field_type),
                    canonical,
                });
                self.paths.len() - 1
            }
        };
        Ok((index, field))
    }

    fn type_error(&self, field: &FieldDef, pos: Pos) -> SoqlError {
        let (type_name, quoted) = match field.field_type {
            FieldType::Id | FieldType::Reference => ("id", true),
            FieldType::Number | FieldType::Currency | FieldType::Percent => {
                (field.field_type.describe_name(), false)
            }
            FieldType::Checkbox => ("boolean", false),
            FieldType::Date => ("date", false),
            FieldType::DateTime => ("dateTime", false),
            _ => ("string", true),
        };
        SoqlError::at(
            INVALID_FIELD,
            self.text,
            pos,
            format!(
                "value of filter criterion for field '{}' must be of type {type_name} and should {}be enclosed in quotes",
                field.name,
                if quoted { "" } else { "not " }
            ),
        )
    }

    fn condition(&mut self, condition: &Condition) -> Result<Pred, SoqlError> {
        Ok(match condition {
            Condition::And(items) => Pred::And(
                items
                    .iter()
                    .map(|c| self.condition(c))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Or(items) => Pred::Or(
                items
                    .iter()
                    .map(|c| self.condition(c))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Not(inner) => Pred::Not(Box::new(self.condition(inner)?)),
            Condition::Compare {
                field,
                op,
                value,
                pos,
            } => {
                let (path, def) = self.resolve(field, *pos)?;
                let kind = self.paths[path].kind;
                if !kind.accepts(value) {
                    return Err(self.type_error(def, *pos));
                }
                let test = match value {
                    Literal::Null => null_test(kind, *op),
                    Literal::String(s) if s.is_empty() => null_test(kind, *op),
                    Literal::String(s) => Test::Text {
                        op: *op,
                        lit: self.text_key(kind, s, *pos)?,
                    },
                    Literal::Number(n) => Test::Num { op: *op, lit: *n },
                    Literal::Boolean(b) => Test::Bool { op: *op, lit: *b },
                    temporal => {
                        let (lo, hi) = self.range(kind, temporal);
                        Test::Time { op: *op, lo, hi }
                    }
                };
                Pred::Test { path, test }
            }
            Condition::In {
                field,
                values,
                negated,
                pos,
            } => {
                let (path, def) = self.resolve(field, *pos)?;
                let kind = self.paths[path].kind;
                let mut has_null = false;
                let mut set = match kind {
                    Kind::Text | Kind::Id => InSet::Text(HashSet::new()),
                    Kind::Number => InSet::Num(Vec::new()),
                    Kind::Bool => InSet::Bool { t: false, f: false },
                    Kind::Date | Kind::DateTime => InSet::Time(Vec::new()),
                };
                for value in values {
                    if !kind.accepts(value) {
                        return Err(self.type_error(def, *pos));
                    }
                    match (&mut set, value) {
                        // A checkbox is never null: null means false.
                        (InSet::Bool { f, .. }, Literal::Null) => *f = true,
                        (_, Literal::Null) => has_null = true,
                        (InSet::Text(_), Literal::String(s)) if s.is_empty() => has_null = true,
                        (InSet::Text(set), Literal::String(s)) => {
                            set.insert(self.text_key(kind, s, *pos)?);
                        }
                        (InSet::Num(set), Literal::Number(n)) => set.push(*n),
                        (InSet::Bool { t, f }, Literal::Boolean(b)) => {
                            if *b {
                                *t = true
                            } else {
                                *f = true
                            }
                        }
                        (InSet::Time(set), temporal) => set.push(self.range(kind, temporal)),
                        _ => return Err(self.type_error(def, *pos)),
                    }
                }
                Pred::Test {
                    path,
                    test: Test::In {
                        set,
                        has_null,
                        negated: *negated,
                    },
                }
            }
            Condition::Like {
                field,
                pattern,
                pos,
            } => {
                let (path, def) = self.resolve(field, *pos)?;
                if !matches!(self.paths[path].kind, Kind::Text | Kind::Id) {
                    return Err(SoqlError::at(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        self.text,
                        *pos,
                        format!(
                            "invalid operator on {} field '{}': LIKE applies only to text fields",
                            def.field_type.describe_name(),
                            def.name
                        ),
                    ));
                }
                Pred::Test {
                    path,
                    test: Test::Like(LikePattern::compile(pattern)),
                }
            }
        })
    }

    /// The comparison key of a string literal: lower-cased; Ids also widened to 18 characters.
    fn text_key(&self, kind: Kind, literal: &str, pos: Pos) -> Result<String, SoqlError> {
        if kind != Kind::Id {
            return Ok(lower(literal).into_owned());
        }
        match id18(literal) {
            Some(id) => Ok(id.to_ascii_lowercase()),
            None => Err(SoqlError::at(
                "INVALID_QUERY_FILTER_OPERATOR",
                self.text,
                pos,
                format!("invalid ID field: {literal}"),
            )),
        }
    }

    fn range(&self, kind: Kind, literal: &Literal) -> (i64, i64) {
        let days = |(start, end): (NaiveDate, NaiveDate)| match kind {
            Kind::Date => (day_number(start), day_number(end)),
            _ => (day_micros(start), day_micros(end)),
        };
        match literal {
            Literal::Date(d) => days((*d, add_days(*d, 1))),
            Literal::Relative(r) => days(r.range(self.today)),
            Literal::DateTime(dt) => {
                let at = dt.timestamp_micros();
                (at, at.saturating_add(1))
            }
            _ => (0, 0),
        }
    }
}

fn null_test(kind: Kind, op: CompareOp) -> Test {
    match (kind, op) {
        // Salesforce: on a checkbox, `= null` means `= false` and `!= null` means `= true`.
        (Kind::Bool, CompareOp::Eq) => Test::Bool {
            op: CompareOp::Eq,
            lit: false,
        },
        (Kind::Bool, CompareOp::Ne) => Test::Bool {
            op: CompareOp::Eq,
            lit: true,
        },
        (_, CompareOp::Eq) => Test::IsNull,
        (_, CompareOp::Ne) => Test::NotNull,
        _ => Test::Never,
    }
}

fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

fn day_micros(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

/// Lower-cases for case-insensitive comparison, borrowing when nothing changes.
fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
    }
}

/// Whether the lower-cased `value` is in `set`; short ASCII values are lower-cased on the
/// stack.
fn contains_lower(set: &HashSet<String>, value: &str) -> bool {
    const STACK: usize = 64;
    if value.len() <= STACK && value.is_ascii() {
        let mut buf = [0u8; STACK];
        let key = &mut buf[..value.len()];
        key.copy_from_slice(value.as_bytes());
        key.make_ascii_lowercase();
        return std::str::from_utf8(key).is_ok_and(|key| set.contains(key));
    }
    set.contains(lower(value).as_ref())
}

/// Case-insensitive equality against an already lower-cased literal.
fn text_eq(value: &str, lit_lower: &str) -> bool {
    if value.is_ascii() && lit_lower.is_ascii() {
        value.eq_ignore_ascii_case(lit_lower)
    } else {
        value
            .chars()
            .flat_map(char::to_lowercase)
            .eq(lit_lower.chars())
    }
}

/// Case-insensitive ordering against an already lower-cased literal.
fn text_cmp(value: &str, lit_lower: &str) -> Ordering {
    if value.is_ascii() && lit_lower.is_ascii() {
        value
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(lit_lower.bytes())
    } else {
        value
            .chars()
            .flat_map(char::to_lowercase)
            .cmp(lit_lower.chars())
    }
}

/// A 15- or 18-character Id in its 18-character form (the 15-character form is
/// case-sensitive; the 3-character suffix encodes which of its letters are upper case).
fn id18(id: &str) -> Option<Cow<'_, str>> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        18 => Some(Cow::Borrowed(id)),
        15 => {
            const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
            let mut out = String::with_capacity(18);
            out.push_str(id);
            for chunk in id.as_bytes().chunks(5) {
                let bits = chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_uppercase())
                    .fold(0usize, |acc, (i, _)| acc | (1 << i));
                out.push(ALPHABET[bits] as char);
            }
            Some(Cow::Owned(out))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// LIKE
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LikeTok<T> {
    Lit(T),
    One,
    Many,
}

/// A compiled, case-insensitive LIKE pattern (`%` any run, `_` one character, `\%` / `\_`
/// literal).
#[derive(Debug)]
struct LikePattern {
    chars: Vec<LikeTok<char>>,
    /// The same pattern over bytes when it is pure ASCII (the fast path).
    bytes: Option<Vec<LikeTok<u8>>>,
}

impl LikePattern {
    fn compile(raw: &str) -> LikePattern {
        let mut chars = Vec::new();
        let mut it = raw.chars();
        let push_lit = |toks: &mut Vec<LikeTok<char>>, c: char| {
            toks.extend(c.to_lowercase().map(LikeTok::Lit))
        };
        while let Some(c) = it.next() {
            match c {
                '%' => {
                    if chars.last() != Some(&LikeTok::Many) {
                        chars.push(LikeTok::Many);
                    }
                }
                '_' => chars.push(LikeTok::One),
                '\\' => {
                    let escaped = match it.next() {
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some(other) => other,
                        None => '\\',
                    };
                    push_lit(&mut chars, escaped);
                }
                c => push_lit(&mut chars, c),
            }
        }
        let bytes = chars
            .iter()
            .map(|t| match *t {
                LikeTok::Lit(c) if c.is_ascii() => Some(LikeTok::Lit(c as u8)),
                LikeTok::Lit(_) => None,
                LikeTok::One => Some(LikeTok::One),
                LikeTok::Many => Some(LikeTok::Many),
            })
            .collect();
        LikePattern { chars, bytes }
    }

    fn matches(&self, value: &str) -> bool {
        if let Some(bytes) = &self.bytes
            && value.is_ascii()
        {
            let v = value.as_bytes();
            return like_match(bytes, v.len(), |i| v[i].to_ascii_lowercase());
        }
        let v: Vec<char> = value.chars().flat_map(char::to_lowercase).collect();
        like_match(&self.chars, v.len(), |i| v[i])
    }
}

/// Wildcard matching with a single backtrack point (linear in practice).
fn like_match<T: Copy + PartialEq>(
    pattern: &[LikeTok<T>],
    len: usize,
    at: impl Fn(usize) -> T,
) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < len {
        match pattern.get(p) {
            Some(LikeTok::Many) => {
                star = Some((p, s));
                p += 1;
                continue;
            }
            Some(LikeTok::One) => {
                p += 1;
                s += 1;
                continue;
            }
            Some(LikeTok::Lit(c)) if *c == at(s) => {
                p += 1;
                s += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, ss)) => {
                p = sp + 1;
                s = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|t| *t == LikeTok::Many)
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

/// The text of a value for comparison; `None` for null or empty (Salesforce does not tell
/// them apart). 15-character Ids are widened so they compare with 18-character literals.
fn text_of(value: &Value, kind: Kind) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if kind == Kind::Id && s.len() == 15 => {
            Some(id18(s).unwrap_or(Cow::Borrowed(s)))
        }
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_text())),
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => Some(*n),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A checkbox is never null: a missing value reads as false.
fn bool_of(value: &Value) -> bool {
    match value {
        Value::Boolean(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Days since the common era for Date fields, microseconds since the epoch for DateTime.
fn time_of(value: &Value, kind: Kind) -> Option<i64> {
    let (date, datetime) = match value {
        Value::Date(d) => (*d, None),
        Value::DateTime(dt) => (dt.date_naive(), Some(*dt)),
        Value::String(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(dt) => {
                let dt = dt.with_timezone(&Utc);
                (dt.date_naive(), Some(dt))
            }
            Err(_) => (NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?, None),
        },
        _ => return None,
    };
    Some(match (kind, datetime) {
        (Kind::Date, _) => day_number(date),
        (_, Some(dt)) => dt.timestamp_micros(),
        (_, None) => day_micros(date),
    })
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

impl Test {
    fn eval(&self, kind: Kind, value: &Value) -> bool {
        match self {
            Test::Never => false,
            Test::IsNull => is_blank(value),
            Test::NotNull => !is_blank(value),
            Test::Text { op, lit } => text_of(value, kind).is_some_and(|s| match op {
                CompareOp::Eq => text_eq(&s, lit),
                CompareOp::Ne => !text_eq(&s, lit),
                _ => op.accepts(text_cmp(&s, lit)),
            }),
            Test::Num { op, lit } => number_of(value)
                .is_some_and(|n| n.partial_cmp(lit).is_some_and(|ord| op.accepts(ord))),
            Test::Bool { op, lit } => op.accepts(bool_of(value).cmp(lit)),
            Test::Time { op, lo, hi } => time_of(value, kind).is_some_and(|t| match op {
                CompareOp::Eq => *lo <= t && t < *hi,
                CompareOp::Ne => !(*lo <= t && t < *hi),
                CompareOp::Lt => t < *lo,
                CompareOp::Le => t < *hi,
                CompareOp::Gt => t >= *hi,
                CompareOp::Ge => t >= *lo,
            }),
            Test::In {
                set,
                has_null,
                negated,
            } => {
                let member = match set {
                    InSet::Bool { t, f } => Some(if bool_of(value) { *t } else { *f }),
                    InSet::Text(set) => text_of(value, kind).map(|s| contains_lower(set, &s)),
                    InSet::Num(set) => number_of(value).map(|n| set.contains(&n)),
                    InSet::Time(set) => {
                        time_of(value, kind).map(|t| set.iter().any(|(lo, hi)| *lo <= t && t < *hi))
                    }
                };
                match member {
                    Some(member) => member != *negated,
                    None => *has_null && !*negated,
                }
            }
            Test::Like(pattern) => text_of(value, kind).is_some_and(|s| pattern.matches(&s)),
        }
    }
}

struct Eval<'a, D: DataSource> {
    source: &'a D,
    object: &'a str,
    paths: &'a [ResolvedPath],
}

impl<D: DataSource> Eval<'_, D> {
    fn read(&self, rec: D::Rec, path: usize) -> Value {
        let path = &self.paths[path];
        let Some((first, rest)) = path.hops.split_first() else {
            return self.source.value(self.object, rec, &path.field);
        };
        let Some((mut object, mut current)) = self.source.parent(self.object, rec, first) else {
            return Value::Null;
        };
        for hop in rest {
            match self.source.parent(&object, current, hop) {
                Some((o, r)) => {
                    object = o;
                    current = r;
                }
                None => return Value::Null,
            }
        }
        self.source.value(&object, current, &path.field)
    }

    fn test(&self, pred: &Pred, rec: D::Rec) -> bool {
        match pred {
            Pred::And(items) => items.iter().all(|p| self.test(p, rec)),
            Pred::Or(items) => items.iter().any(|p| self.test(p, rec)),
            Pred::Not(inner) => !self.test(inner, rec),
            Pred::Test { path, test } => test.eval(self.paths[*path].kind, &self.read(rec, *path)),
        }
    }
}

/// A sort key, computed once per record.
#[derive(Debug)]
enum Key {
    Null,
    /// Lower-cased text and its first eight bytes (big-endian, zero-padded), which settle
    /// most comparisons without touching the heap.
    Text(u64, String),
    Num(f64),
    Bool(bool),
    Time(i64),
}

impl Key {
    fn of(value: Value, kind: Kind) -> Key {
        match kind {
            Kind::Bool => Key::Bool(bool_of(&value)),
            Kind::Number => number_of(&value).map_or(Key::Null, Key::Num),
            Kind::Date | Kind::DateTime => time_of(&value, kind).map_or(Key::Null, Key::Time),
            Kind::Text | Kind::Id => text_of(&value, kind).map_or(Key::Null, |s| {
                let text = lower(&s).into_owned();
                let mut prefix = [0u8; 8];
                let head = &text.as_bytes()[..text.len().min(8)];
                prefix[..head.len()].copy_from_slice(head);
                Key::Text(u64::from_be_bytes(prefix), text)
            }),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Null => 0,
            Key::Bool(_) => 1,
            Key::Num(_) => 2,
            Key::Time(_) => 3,
            Key::Text(..) => 4,
        }
    }

    fn compare(&self, other: &Key, order: &PlanOrder) -> Ordering {
        let ord = match (self, other) {
            (Key::Null, Key::Null) => return Ordering::Equal,
            (Key::Null, _) => {
                return if order.nulls_last {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (_, Key::Null) => {
                return if order.nulls_last {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            (Key::Text(pa, a), Key::Text(pb, b)) => pa.cmp(pb).then_with(|| a.cmp(b)),
            (Key::Num(a), Key::Num(b)) => a.total_cmp(b),
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Time(a), Key::Time(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        };
        if order.descending { ord.reverse() } else { ord }
    }
}

/// Validate against the schema, then evaluate. `now` drives date literals.
pub fn execute<D: DataSource>(
    query: &Query,
    source: &D,
    now: DateTime<Utc>,
) -> Result<QueryOutput, SoqlError> {
    let plan = compile(query, source.schema(), now)?;
    let eval = Eval {
        source,
        object: &plan.object,
        paths: &plan.paths,
    };
    let records = source.scan(&plan.object);
    let keep = |rec: D::Rec| plan.filter.as_ref().is_none_or(|p| eval.test(p, rec));

    match plan.output {
        PlanOutput::Count { field, ref alias } => {
            let mut count = records
                .iter()
                .filter(|rec| keep(**rec))
                .filter(|rec| field.is_none_or(|f| !is_blank(&eval.read(**rec, f))))
                .count();
            if field.is_none() {
                count = count.saturating_sub(plan.offset);
                if let Some(limit) = plan.limit {
                    count = count.min(limit);
                }
            }
            Ok(QueryOutput::Count {
                object: plan.object.clone(),
                alias: alias.clone(),
                count,
            })
        }
        PlanOutput::Rows(ref columns) => {
            let selected: Vec<D::Rec> = if plan.order.is_empty() {
                let mut out = Vec::new();
                let mut skipped = 0;
                if plan.limit != Some(0) {
                    for &rec in &records {
                        if !keep(rec) {
                            continue;
                        }
                        if skipped < plan.offset {
                            skipped += 1;
                            continue;
                        }
                        out.push(rec);
                        if Some(out.len()) == plan.limit {
                            break;
                        }
                    }
                }
                out
            } else {
                sorted(
                    &eval,
                    &plan,
                    records.into_iter().filter(|rec| keep(*rec)).collect(),
                )
            };
            let rows = selected
                .into_iter()
                .map(|rec| {
                    columns
                        .iter()
                        .map(|(path, _)| eval.read(rec, *path))
                        .collect()
                })
                .collect();
            Ok(QueryOutput::Rows {
                object: plan.object.clone(),
                columns: columns.iter().map(|(_, c)| c.clone()).collect(),
                rows,
            })
        }
    }
}

/// Sorts the matching records by the plan's ORDER BY (ties keep insertion order) and
/// applies OFFSET / LIMIT, only fully sorting the rows that are returned. The first key sits
/// next to its record index for locality; later keys are consulted on ties only.
fn sorted<D: DataSource>(eval: &Eval<'_, D>, plan: &Plan, matched: Vec<D::Rec>) -> Vec<D::Rec> {
    let Some((first_order, later_orders)) = plan.order.split_first() else {
        return matched;
    };
    let width = later_orders.len();
    let key = |rec: D::Rec, order: &PlanOrder| {
        Key::of(eval.read(rec, order.path), plan.paths[order.path].kind)
    };
    let mut entries: Vec<(Key, usize)> = Vec::with_capacity(matched.len());
    let mut later: Vec<Key> = Vec::with_capacity(matched.len() * width);
    for (i, &rec) in matched.iter().enumerate() {
        entries.push((key(rec, first_order), i));
        later.extend(later_orders.iter().map(|order| key(rec, order)));
    }
    let compare = |a: &(Key, usize), b: &(Key, usize)| {
        a.0.compare(&b.0, first_order).then_with(|| {
            later_orders
                .iter()
                .enumerate()
                .map(|(j, order)| later[a.1 * width + j].compare(&later[b.1 * width + j], order))
                .find(|ord| *ord != Ordering::Equal)
                .unwrap_or_else(|| a.1.cmp(&b.1))
        })
    };
    let end = plan
        .limit
        .map_or(usize::MAX, |limit| plan.offset.saturating_add(limit))
        .min(entries.len());
    if end == 0 {
        return Vec::new();
    }
    if end < entries.len() {
        entries.select_nth_unstable_by(end - 1, compare);
        entries.truncate(end);
    }
    entries.sort_unstable_by(compare);
    entries
        .into_iter()
        .skip(plan.offset)
        .map(|(_, i)| matched[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;

    use super::*;

    fn reference(name: &str, to: &str, relationship: &str) -> FieldDef {
        let mut f = FieldDef::new(name, FieldType::Reference);
        f.reference_to = vec![to.to_string()];
        f.relationship_name = Some(relationship.to_string());
        f
    }

    fn schema() -> Schema {
        let account = ObjectDef::new(
            "Account",
            "Accounts",
            "001",
            vec![
                FieldDef::new("Id", FieldType::Id),
                FieldDef::new("Name", FieldType::Text),
                FieldDef::new("Shopify_Company_ID__c", FieldType::Text),
                reference("ParentId", "Account", "Parent"),
            ],
        );
        let contact = ObjectDef::new(
            "Contact",
            "Contacts",
            "003",
            vec![
                FieldDef::new("Id", FieldType::Id),
                FieldDef::new("LastName", FieldType::Text),
                FieldDef::new("Email", FieldType::Email),
                reference("AccountId", "Account", "Account"),
                FieldDef::new("Total_Spend__c", FieldType::Currency),
                FieldDef::new("Last_Order_Date__c", FieldType::Date),
                FieldDef::new("CreatedDate", FieldType::DateTime),
                FieldDef::new("HasOptedOutOfEmail", FieldType::Checkbox),
            ],
        );
        Schema::new(vec![account, contact])
    }

    /// A 15-character Id with some upper-case letters (so its checksum is not trivial).
    fn id15(prefix: &str, n: u32) -> String {
        format!("{prefix}5gAb0000{n:04}")
    }

    fn id(prefix: &str, n: u32) -> String {
        id18(&id15(prefix, n)).unwrap().into_owned()
    }

    fn text(s: &str) -> Value {
        Value::String(s.into())
    }

    fn day(y: i32, m: u32, d: u32) -> Value {
        Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn at(s: &str) -> Value {
        Value::DateTime(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    struct Org {
        schema: Schema,
        records: HashMap<String, Vec<HashMap<String, Value>>>,
        reads: Cell<usize>,
    }

    impl DataSource for Org {
        type Rec = usize;

        fn schema(&self) -> &Schema {
            &self.schema
        }

        fn scan(&self, object: &str) -> Vec<usize> {
            (0..self.records.get(object).map_or(0, Vec::len)).collect()
        }

        fn value(&self, object: &str, rec: usize, field: &str) -> Value {
            self.reads.set(self.reads.get() + 1);
            self.records[object][rec]
                .get(field)
                .cloned()
                .unwrap_or(Value::Null)
        }

        fn parent(
            &self,
            object: &str,
            rec: usize,
            reference_field: &str,
        ) -> Option<(String, usize)> {
            let Some(Value::String(target_id)) = self.records[object][rec].get(reference_field)
            else {
                return None;
            };
            let field = self.schema.object(object)?.field(reference_field)?;
            let target = field.reference_to.first()?.clone();
            let index = self
                .records
                .get(&target)?
                .iter()
                .position(|r| match r.get("Id") {
                    Some(Value::String(id)) => id == target_id,
                    _ => false,
                })?;
            Some((target, index))
        }
    }

    fn record(pairs: Vec<(&str, Value)>) -> HashMap<String, Value> {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn org() -> Org {
        let accounts = vec![
            record(vec![
                ("Id", text(&id("001", 1))),
                ("Name", text("Acme Corp")),
                ("Shopify_Company_ID__c", text("gid://shopify/Company/1")),
            ]),
            record(vec![
                ("Id", text(&id("001", 2))),
                ("Name", text("Beta LLC")),
                ("Shopify_Company_ID__c", text("gid://shopify/Company/2")),
                ("ParentId", text(&id("001", 1))),
            ]),
            record(vec![
                ("Id", text(&id("001", 3))),
                ("Name", text("gamma inc")),
            ]),
            record(vec![
                ("Id", text(&id("001", 4))),
                ("Name", text("Ëlan Ünlimited")),
            ]),
        ];
        let contacts = vec![
            record(vec![
                ("Id", text(&id("003", 1))),
                ("LastName", text("Smith")),
                ("Email", text("smith@example.com")),
                ("AccountId", text(&id("001", 1))),
                ("Total_Spend__c", Value::Number(150.5)),
                ("Last_Order_Date__c", day(2026, 3, 15)),
                ("CreatedDate", at("2026-03-15T08:00:00Z")),
                ("HasOptedOutOfEmail", Value::Boolean(false)),
            ]),
            record(vec![
                ("Id", text(&id("003", 2))),
                ("LastName", text("jones")),
                ("Email", text("JONES@Example.com")),
                ("AccountId", text(&id("001", 2))),
                ("Total_Spend__c", Value::Number(20.0)),
                ("Last_Order_Date__c", day(2026, 3, 14)),
                ("CreatedDate", at("2026-03-10T00:00:00Z")),
                ("HasOptedOutOfEmail", Value::Boolean(true)),
            ]),
            record(vec![
                ("Id", text(&id("003", 3))),
                ("LastName", text("O'Brien")),
                ("CreatedDate", at("2026-01-01T00:00:00Z")),
                ("HasOptedOutOfEmail", Value::Boolean(false)),
            ]),
            record(vec![
                ("Id", text(&id("003", 4))),
                ("LastName", text("50% Off")),
                ("Email", text("sale_bot@example.com")),
                ("AccountId", text(&id("001", 2))),
                ("Total_Spend__c", Value::Number(0.0)),
                ("Last_Order_Date__c", day(2026, 3, 20)),
                ("CreatedDate", at("2026-03-16T01:00:00Z")),
            ]),
            record(vec![
                ("Id", text(&id("003", 5))),
                ("LastName", text("Smith")),
                ("Email", text("other.smith@example.org")),
                ("AccountId", text(&id("001", 3))),
                ("Total_Spend__c", Value::Number(99.99)),
                ("Last_Order_Date__c", day(2025, 12, 31)),
                ("CreatedDate", at("2026-03-15T23:59:59Z")),
                ("HasOptedOutOfEmail", Value::Boolean(false)),
            ]),
        ];
        Org {
            schema: schema(),
            records: HashMap::from([
                ("Account".to_string(), accounts),
                ("Contact".to_string(), contacts),
            ]),
            reads: Cell::new(0),
        }
    }

    fn run(soql: &str) -> Result<QueryOutput, SoqlError> {
        execute(&parse(soql)?, &org(), now())
    }

    fn rows(soql: &str) -> Vec<Vec<String>> {
        match run(soql) {
            Ok(QueryOutput::Rows { rows, .. }) => rows
                .iter()
                .map(|row| row.iter().map(Value::to_text).collect())
                .collect(),
            other => panic!("{soql}: expected rows, got {other:?}"),
        }
    }

    /// Last names of the contacts `SELECT LastName FROM Contact <rest>` returns.
    fn names(rest: &str) -> Vec<String> {
        rows(&format!("SELECT LastName FROM Contact {rest}"))
            .into_iter()
            .map(|mut row| row.remove(0))
            .collect()
    }

    fn column(soql: &str, i: usize) -> Vec<String> {
        rows(soql)
            .into_iter()
            .map(|mut row| row.remove(i))
            .collect()
    }

    fn count(soql: &str) -> (Option<String>, usize) {
        match run(soql) {
            Ok(QueryOutput::Count { alias, count, .. }) => (alias, count),
            other => panic!("{soql}: expected a count, got {other:?}"),
        }
    }

    fn error(soql: &str) -> SoqlError {
        match run(soql) {
            Err(e) => e,
            Ok(out) => panic!("{soql}: expected an error, got {out:?}"),
        }
    }

    /// Checks Salesforce's echo: the query line, a caret under `col`, then the position.
    fn assert_caret(err: &SoqlError, line: &str, col: usize) {
        let lines: Vec<&str> = err.message.split('\n').collect();
        assert_eq!(lines[0], "", "{}", err.message);
        assert_eq!(lines[1], line, "{}", err.message);
        assert_eq!(
            lines[2],
            format!("{}^", " ".repeat(col - 1)),
            "{}",
            err.message
        );
        assert_eq!(
            lines[3],
            format!("ERROR at Row:1:Column:{col}"),
            "{}",
            err.message
        );
    }

    fn strs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn equals_compares_strings_without_regard_to_case() {
        assert_eq!(names("WHERE LastName = 'SMITH'"), strs(&["Smith", "Smith"]));
        assert_eq!(names("WHERE Email = 'jones@example.COM'"), strs(&["jones"]));
    }

    #[test]
    fn not_equals_excludes_the_value_and_null_values() {
        assert_eq!(
            names("WHERE Email != 'SMITH@example.com'"),
            strs(&["jones", "50% Off", "Smith"])
        );
    }

    #[test]
    fn angle_brackets_mean_not_equals() {
        assert_eq!(
            names("WHERE Email <> 'smith@example.com'"),
            strs(&["jones", "50% Off", "Smith"])
        );
    }

    #[test]
    fn ordering_operators_compare_numbers_numerically() {
        assert_eq!(names("WHERE Total_Spend__c > 100"), strs(&["Smith"]));
        assert_eq!(
            names("WHERE Total_Spend__c < 100"),
            strs(&["jones", "50% Off", "Smith"])
        );
        assert_eq!(
            names("WHERE Total_Spend__c <= 20"),
            strs(&["jones", "50% Off"])
        );
        assert_eq!(
            names("WHERE Total_Spend__c >= 99.99"),
            strs(&["Smith", "Smith"])
        );
        assert_eq!(names("WHERE Total_Spend__c = 20"), strs(&["jones"]));
        assert_eq!(names("WHERE Total_Spend__c > -1").len(), 4);
    }

    #[test]
    fn ordering_operators_compare_strings_without_regard_to_case() {
        assert_eq!(names("WHERE LastName < 'K'"), strs(&["jones", "50% Off"]));
        assert_eq!(
            names("WHERE LastName >= 'o'"),
            strs(&["Smith", "O'Brien", "Smith"])
        );
    }

    #[test]
    fn in_matches_any_listed_value_without_regard_to_case() {
        assert_eq!(
            names(r"WHERE LastName IN ('JONES', 'o\'brien', 'nobody')"),
            strs(&["jones", "O'Brien"])
        );
    }

    #[test]
    fn not_in_excludes_the_listed_values_and_null_values() {
        assert_eq!(
            names("WHERE Email NOT IN ('smith@example.com', 'JONES@example.com')"),
            strs(&["50% Off", "Smith"])
        );
    }

    #[test]
    fn in_with_null_also_matches_missing_values() {
        assert_eq!(
            names("WHERE Email IN (null, 'sale_bot@example.com')"),
            strs(&["O'Brien", "50% Off"])
        );
    }

    #[test]
    fn in_compares_numbers_and_dates_by_value() {
        assert_eq!(
            names("WHERE Total_Spend__c IN (20, 0)"),
            strs(&["jones", "50% Off"])
        );
        assert_eq!(
            names("WHERE Last_Order_Date__c IN (2026-03-14, TODAY)"),
            strs(&["Smith", "jones"])
        );
    }

    #[test]
    fn like_percent_matches_any_run_of_characters_without_regard_to_case() {
        assert_eq!(
            names("WHERE Email LIKE '%@EXAMPLE.COM'"),
            strs(&["Smith", "jones", "50% Off"])
        );
        assert_eq!(names("WHERE LastName LIKE 's%'"), strs(&["Smith", "Smith"]));
        assert_eq!(
            names("WHERE LastName LIKE '%i%h'"),
            strs(&["Smith", "Smith"])
        );
    }

    #[test]
    fn like_underscore_matches_exactly_one_character() {
        assert_eq!(names("WHERE LastName LIKE 'jone_'"), strs(&["jones"]));
        assert!(names("WHERE LastName LIKE 'jon_'").is_empty());
    }

    #[test]
    fn like_escapes_match_a_literal_percent_or_underscore() {
        assert_eq!(names(r"WHERE LastName LIKE '%\%%'"), strs(&["50% Off"]));
        assert_eq!(names(r"WHERE Email LIKE '%\_%'"), strs(&["50% Off"]));
        assert_eq!(names("WHERE Email LIKE '%_%'").len(), 4);
    }

    #[test]
    fn like_never_matches_a_null_value() {
        assert_eq!(
            names("WHERE Email LIKE '%'"),
            strs(&["Smith", "jones", "50% Off", "Smith"])
        );
    }

    #[test]
    fn non_ascii_text_compares_without_regard_to_case() {
        let accounts = |rest: &str| column(&format!("SELECT Name FROM Account {rest}"), 0);
        assert_eq!(
            accounts("WHERE Name = 'ëlan ünlimited'"),
            strs(&["Ëlan Ünlimited"])
        );
        assert_eq!(
            accounts("WHERE Name IN ('ËLAN ÜNLIMITED')"),
            strs(&["Ëlan Ünlimited"])
        );
        assert_eq!(
            accounts("WHERE Name LIKE 'ëlan_ü%'"),
            strs(&["Ëlan Ünlimited"])
        );
        assert!(accounts("WHERE Name LIKE 'elan%'").is_empty());
        assert_eq!(accounts("WHERE Name > 'z'"), strs(&["Ëlan Ünlimited"]));
    }

    #[test]
    fn like_on_a_number_field_is_rejected() {
        let err = error("SELECT Id FROM Contact WHERE Total_Spend__c LIKE '1%'");
        assert_eq!(err.code, "INVALID_QUERY_FILTER_OPERATOR");
        assert_caret(
            &err,
            "SELECT Id FROM Contact WHERE Total_Spend__c LIKE '1%'",
            30,
        );
    }

    #[test]
    fn and_requires_every_condition() {
        assert_eq!(
            names("WHERE LastName = 'Smith' AND Total_Spend__c > 100 AND Email != null"),
            strs(&["Smith"])
        );
    }

    #[test]
    fn or_accepts_any_condition() {
        assert_eq!(
            names("WHERE LastName = 'jones' OR Email = null OR Total_Spend__c = 0"),
            strs(&["jones", "O'Brien", "50% Off"])
        );
    }

    #[test]
    fn parentheses_group_conditions() {
        assert_eq!(
            names("WHERE LastName = 'Smith' AND (Total_Spend__c > 100 OR Email LIKE '%.org')"),
            strs(&["Smith", "Smith"])
        );
        assert_eq!(
            names("WHERE (LastName = 'Smith' AND Total_Spend__c > 100) OR LastName = 'jones'"),
            strs(&["Smith", "jones"])
        );
        assert_eq!(names("WHERE ((LastName = 'jones'))"), strs(&["jones"]));
    }

    #[test]
    fn mixing_and_with_or_without_parentheses_is_rejected_like_salesforce() {
        let soql = "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Email = 'c'";
        let err = error(soql);
        assert_eq!(err.code, "MALFORMED_QUERY");
        assert!(
            err.message.ends_with("\nunexpected token: 'OR'"),
            "{}",
            err.message
        );
        assert_caret(&err, soql, 61);
    }

    #[test]
    fn not_negates_the_condition_it_opens() {
        assert_eq!(
            names("WHERE NOT LastName = 'Smith'"),
            strs(&["jones", "O'Brien", "50% Off"])
        );
        assert_eq!(
            names("WHERE NOT (LastName = 'Smith' OR Email = null)"),
            strs(&["jones", "50% Off"])
        );
        assert_eq!(
            names("WHERE Email != null AND (NOT LastName = 'Smith')"),
            strs(&["jones", "50% Off"])
        );
    }

    #[test]
    fn not_after_and_is_rejected_like_salesforce() {
        let err = error("SELECT Id FROM Contact WHERE Email != null AND NOT LastName = 'Smith'");
        assert_eq!(err.code, "MALFORMED_QUERY");
        assert!(
            err.message.ends_with("unexpected token: 'NOT'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn parent_fields_can_be_selected_and_filtered() {
        assert_eq!(
            rows("SELECT LastName, Account.Name FROM Contact WHERE Account.Name LIKE 'acme%'"),
            vec![strs(&["Smith", "Acme Corp"])]
        );
        assert_eq!(
            names("WHERE Account.Shopify_Company_ID__c = 'gid://shopify/Company/2'"),
            strs(&["jones", "50% Off"])
        );
    }

    #[test]
    fn columns_carry_canonical_names_whatever_the_query_casing() {
        let Ok(QueryOutput::Rows {
            object,
            columns,
            rows,
        }) = run("select account.name, LASTNAME from contact")
        else {
            panic!("expected rows");
        };
        assert_eq!(object, "Contact");
        let labels: Vec<&str> = columns.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["Account.Name", "LastName"]);
        assert_eq!(columns[0].path, strs(&["Account", "Name"]));
        assert_eq!(rows[2], vec![Value::Null, text("O'Brien")]);
    }

    #[test]
    fn grandparent_fields_resolve_through_two_relationships() {
        assert_eq!(
            rows(
                "SELECT LastName, Account.Parent.Name FROM Contact WHERE Account.Parent.Name = 'ACME corp'"
            ),
            vec![
                strs(&["jones", "Acme Corp"]),
                strs(&["50% Off", "Acme Corp"])
            ]
        );
    }

    #[test]
    fn a_missing_parent_reads_as_null() {
        assert_eq!(names("WHERE Account.Name = null"), strs(&["O'Brien"]));
        assert_eq!(
            names("WHERE Account.Parent.Name != null"),
            strs(&["jones", "50% Off"])
        );
    }

    #[test]
    fn order_by_ascending_puts_nulls_first() {
        assert_eq!(
            column(
                "SELECT LastName, Total_Spend__c FROM Contact ORDER BY Total_Spend__c",
                1
            ),
            strs(&["", "0", "20", "99.99", "150.5"])
        );
    }

    #[test]
    fn order_by_descending_puts_nulls_last() {
        assert_eq!(
            column(
                "SELECT LastName, Total_Spend__c FROM Contact ORDER BY Total_Spend__c DESC",
                1
            ),
            strs(&["150.5", "99.99", "20", "0", ""])
        );
    }

    #[test]
    fn nulls_first_and_nulls_last_override_the_default() {
        assert_eq!(
            column(
                "SELECT Total_Spend__c FROM Contact ORDER BY Total_Spend__c DESC NULLS FIRST",
                0
            ),
            strs(&["", "150.5", "99.99", "20", "0"])
        );
        assert_eq!(
            column(
                "SELECT Total_Spend__c FROM Contact ORDER BY Total_Spend__c ASC NULLS LAST",
                0
            ),
            strs(&["0", "20", "99.99", "150.5", ""])
        );
    }

    #[test]
    fn order_by_sorts_strings_without_regard_to_case() {
        assert_eq!(
            names("ORDER BY LastName"),
            strs(&["50% Off", "jones", "O'Brien", "Smith", "Smith"])
        );
    }

    #[test]
    fn later_order_by_keys_break_ties() {
        assert_eq!(
            rows(
                "SELECT LastName, Total_Spend__c FROM Contact ORDER BY LastName DESC, Total_Spend__c"
            ),
            vec![
                strs(&["Smith", "99.99"]),
                strs(&["Smith", "150.5"]),
                strs(&["O'Brien", ""]),
                strs(&["jones", "20"]),
                strs(&["50% Off", "0"]),
            ]
        );
    }

    #[test]
    fn order_by_can_use_parent_fields() {
        assert_eq!(
            names("ORDER BY Account.Name DESC NULLS LAST, LastName"),
            strs(&["Smith", "50% Off", "jones", "Smith", "O'Brien"])
        );
    }

    #[test]
    fn dates_and_datetimes_sort_chronologically() {
        assert_eq!(
            names("ORDER BY CreatedDate DESC"),
            strs(&["50% Off", "Smith", "Smith", "jones", "O'Brien"])
        );
        assert_eq!(
            names("WHERE Last_Order_Date__c != null ORDER BY Last_Order_Date__c"),
            strs(&["Smith", "jones", "Smith", "50% Off"])
        );
    }

    #[test]
    fn limit_and_offset_page_through_unsorted_results_in_insertion_order() {
        assert_eq!(names("LIMIT 2"), strs(&["Smith", "jones"]));
        assert_eq!(names("LIMIT 2 OFFSET 2"), strs(&["O'Brien", "50% Off"]));
        assert_eq!(names("OFFSET 4"), strs(&["Smith"]));
        assert!(names("LIMIT 0").is_empty());
        assert_eq!(
            names("WHERE Email != null LIMIT 1 OFFSET 2"),
            strs(&["50% Off"])
        );
    }

    #[test]
    fn limit_and_offset_apply_after_sorting() {
        assert_eq!(
            names("ORDER BY LastName LIMIT 2 OFFSET 1"),
            strs(&["jones", "O'Brien"])
        );
        assert_eq!(
            names("ORDER BY Total_Spend__c DESC LIMIT 1"),
            strs(&["Smith"])
        );
        assert!(names("ORDER BY LastName OFFSET 9").is_empty());
    }

    #[test]
    fn limit_without_order_by_stops_reading_records_early() {
        let org = org();
        let query = parse("SELECT LastName FROM Contact WHERE LastName = 'jones' LIMIT 1").unwrap();
        execute(&query, &org, now()).unwrap();
        // Smith's filter read, then jones's filter read and projection; nothing after.
        assert_eq!(org.reads.get(), 3);
    }

    #[test]
    fn count_returns_the_number_of_matching_records() {
        assert_eq!(
            count("SELECT COUNT() FROM Contact WHERE LastName = 'Smith'"),
            (None, 2)
        );
        assert_eq!(count("SELECT count() FROM Contact"), (None, 5));
        assert_eq!(count("SELECT COUNT() FROM Contact LIMIT 3"), (None, 3));
    }

    #[test]
    fn count_of_a_field_takes_an_alias_and_skips_nulls() {
        assert_eq!(
            count("SELECT COUNT(Id) CNT FROM Contact"),
            (Some("CNT".to_string()), 5)
        );
        assert_eq!(count("SELECT COUNT(Email) FROM Contact"), (None, 4));
        assert_eq!(
            count("SELECT COUNT(Account.Name) n FROM Contact WHERE LastName = 'Smith'"),
            (Some("n".to_string()), 2)
        );
    }

    #[test]
    fn count_mixed_with_plain_fields_is_rejected() {
        let err = error("SELECT COUNT(Id), LastName FROM Contact");
        assert_eq!(err.code, "MALFORMED_QUERY");
        assert!(
            err.message
                .ends_with("Field must be grouped or aggregated: LastName"),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT COUNT(Id), LastName FROM Contact", 19);
    }

    #[test]
    fn relative_date_literals_cover_whole_days() {
        assert_eq!(names("WHERE Last_Order_Date__c = TODAY"), strs(&["Smith"]));
        assert_eq!(
            names("WHERE Last_Order_Date__c = YESTERDAY"),
            strs(&["jones"])
        );
        assert!(names("WHERE Last_Order_Date__c = TOMORROW").is_empty());
        assert_eq!(
            names("WHERE Last_Order_Date__c > TODAY"),
            strs(&["50% Off"])
        );
        assert_eq!(
            names("WHERE Last_Order_Date__c = LAST_N_DAYS:1"),
            strs(&["Smith", "jones"])
        );
        assert_eq!(
            names("WHERE Last_Order_Date__c = NEXT_N_DAYS:5"),
            strs(&["50% Off"])
        );
        assert!(names("WHERE Last_Order_Date__c = NEXT_N_DAYS:4").is_empty());
        assert_eq!(
            names("WHERE Last_Order_Date__c < THIS_YEAR"),
            strs(&["Smith"])
        );
        assert_eq!(names("WHERE Last_Order_Date__c = last_year").len(), 1);
    }

    #[test]
    fn relative_date_literals_against_datetime_fields_use_the_whole_day() {
        assert_eq!(
            names("WHERE CreatedDate = TODAY"),
            strs(&["Smith", "Smith"])
        );
        assert_eq!(names("WHERE CreatedDate > TODAY"), strs(&["50% Off"]));
        assert_eq!(
            names("WHERE CreatedDate <= YESTERDAY"),
            strs(&["jones", "O'Brien"])
        );
        assert_eq!(
            names("WHERE CreatedDate = LAST_N_DAYS:5"),
            strs(&["Smith", "jones", "Smith"])
        );
    }

    #[test]
    fn a_date_literal_against_a_datetime_field_matches_the_whole_day() {
        assert_eq!(
            names("WHERE CreatedDate = 2026-03-15"),
            strs(&["Smith", "Smith"])
        );
        assert_eq!(names("WHERE CreatedDate > 2026-03-15"), strs(&["50% Off"]));
        assert_eq!(
            names("WHERE CreatedDate < 2026-03-15"),
            strs(&["jones", "O'Brien"])
        );
    }

    #[test]
    fn datetime_literals_accept_offsets_and_milliseconds() {
        assert_eq!(
            names("WHERE CreatedDate = 2026-03-15T09:00:00+01:00"),
            strs(&["Smith"])
        );
        assert_eq!(
            names("WHERE CreatedDate = 2026-03-15T08:00:00.000Z"),
            strs(&["Smith"])
        );
        assert_eq!(
            names("WHERE CreatedDate >= 2026-03-15T08:00:00Z"),
            strs(&["Smith", "50% Off", "Smith"])
        );
        assert_eq!(
            names("WHERE CreatedDate > 2026-03-15T08:00:00Z"),
            strs(&["50% Off", "Smith"])
        );
    }

    #[test]
    fn date_fields_compare_with_date_literals() {
        assert_eq!(
            names("WHERE Last_Order_Date__c >= 2026-01-01"),
            strs(&["Smith", "jones", "50% Off"])
        );
        assert_eq!(
            names("WHERE Last_Order_Date__c <= 2026-03-14"),
            strs(&["jones", "Smith"])
        );
        assert_eq!(
            names("WHERE Last_Order_Date__c = 2026-03-20"),
            strs(&["50% Off"])
        );
    }

    #[test]
    fn relative_date_ranges_follow_salesforce_definitions() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap(); // a Sunday
        let d = |m: u32, day: u32| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(RelativeDate::ThisWeek.range(today), (d(3, 15), d(3, 22)));
        assert_eq!(RelativeDate::LastMonth.range(today), (d(2, 1), d(3, 1)));
        assert_eq!(RelativeDate::ThisQuarter.range(today), (d(1, 1), d(4, 1)));
        assert_eq!(
            RelativeDate::LastNDays(2).range(today),
            (d(3, 13), d(3, 16))
        );
        assert_eq!(RelativeDate::NDaysAgo(3).range(today), (d(3, 12), d(3, 13)));
        assert_eq!(
            RelativeDate::NextYear.range(today),
            (
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2028, 1, 1).unwrap()
            )
        );
    }

    #[test]
    fn a_checkbox_without_a_value_counts_as_false() {
        assert_eq!(names("WHERE HasOptedOutOfEmail = true"), strs(&["jones"]));
        assert_eq!(
            names("WHERE HasOptedOutOfEmail = false"),
            strs(&["Smith", "O'Brien", "50% Off", "Smith"])
        );
        assert_eq!(names("WHERE HasOptedOutOfEmail = null").len(), 4);
        assert_eq!(names("WHERE HasOptedOutOfEmail != null"), strs(&["jones"]));
    }

    #[test]
    fn string_escapes_are_decoded() {
        assert_eq!(names(r"WHERE LastName = 'O\'Brien'"), strs(&["O'Brien"]));
        let query = parse(r#"SELECT Id FROM Contact WHERE LastName = 'a\\b\n\"c\t'"#).unwrap();
        let Some(Condition::Compare { value, .. }) = query.filter else {
            panic!("expected a comparison");
        };
        assert_eq!(value, Literal::String("a\\b\n\"c\t".to_string()));
    }

    #[test]
    fn an_illegal_escape_is_rejected() {
        let err = error(r"SELECT Id FROM Contact WHERE LastName = 'a\qb'");
        assert_eq!(err.code, "MALFORMED_QUERY");
        assert!(
            err.message.contains(r"Illegal character sequence '\q'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn ids_match_in_their_fifteen_or_eighteen_character_form() {
        assert_eq!(
            names(&format!("WHERE Id = '{}'", id15("003", 2))),
            strs(&["jones"])
        );
        assert_eq!(
            names(&format!(
                "WHERE AccountId = '{}'",
                id("001", 2).to_ascii_uppercase()
            )),
            strs(&["jones", "50% Off"])
        );
        assert_eq!(
            names(&format!(
                "WHERE Id IN ('{}', '{}')",
                id15("003", 1),
                id("003", 5)
            )),
            strs(&["Smith", "Smith"])
        );
        // The 15-character form is case-sensitive.
        assert!(
            names(&format!(
                "WHERE Id = '{}'",
                id15("003", 2).to_ascii_lowercase()
            ))
            .is_empty()
        );
    }

    #[test]
    fn an_invalid_id_is_rejected() {
        let err = error("SELECT Id FROM Contact WHERE AccountId = 'abc'");
        assert_eq!(err.code, "INVALID_QUERY_FILTER_OPERATOR");
        assert!(
            err.message.ends_with("\ninvalid ID field: abc"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_alias_or_the_object_name_may_open_a_path() {
        assert_eq!(
            rows(
                "SELECT c.LastName, c.Account.Name FROM Contact c WHERE c.Email = 'smith@example.com'"
            ),
            vec![strs(&["Smith", "Acme Corp"])]
        );
        assert_eq!(
            names("WHERE Contact.Account.Name = 'Beta LLC' ORDER BY Contact.LastName"),
            strs(&["50% Off", "jones"])
        );
    }

    #[test]
    fn keywords_and_names_ignore_case() {
        assert_eq!(
            rows(
                "select lastname from CONTACT where LASTNAME = 'jones' order by lastname asc nulls first limit 5"
            ),
            vec![strs(&["jones"])]
        );
    }

    #[test]
    fn parse_builds_the_query_structure() {
        let query = parse(
            "SELECT LastName, Account.Name FROM Contact WHERE Email != null AND Total_Spend__c IN (1, 2.5) \
             ORDER BY LastName DESC, Email NULLS LAST LIMIT 10 OFFSET 5",
        )
        .unwrap();
        assert_eq!(
            query.select,
            vec![
                SelectItem::Field(strs(&["LastName"])),
                SelectItem::Field(strs(&["Account", "Name"]))
            ]
        );
        assert_eq!(query.object, "Contact");
        assert_eq!(
            query.filter,
            Some(Condition::And(vec![
                Condition::Compare {
                    field: strs(&["Email"]),
                    op: CompareOp::Ne,
                    value: Literal::Null,
                    pos: Pos { row: 1, col: 50 },
                },
                Condition::In {
                    field: strs(&["Total_Spend__c"]),
                    values: vec![Literal::Number(1.0), Literal::Number(2.5)],
                    negated: false,
                    pos: Pos { row: 1, col: 68 },
                },
            ]))
        );
        assert_eq!(
            query.order_by,
            vec![
                OrderBy {
                    path: strs(&["LastName"]),
                    descending: true,
                    nulls_last: true
                },
                OrderBy {
                    path: strs(&["Email"]),
                    descending: false,
                    nulls_last: true
                },
            ]
        );
        assert_eq!((query.limit, query.offset), (Some(10), Some(5)));
        assert_eq!(
            query.source.select,
            vec![Pos { row: 1, col: 8 }, Pos { row: 1, col: 18 }]
        );
    }

    #[test]
    fn validate_checks_names_without_reading_any_data() {
        let schema = schema();
        assert_eq!(
            validate(
                &parse("SELECT Name, Parent.Name FROM Account").unwrap(),
                &schema
            ),
            Ok(())
        );
        let err = validate(&parse("SELECT Nme FROM Account").unwrap(), &schema).unwrap_err();
        assert_eq!(err.code, "INVALID_FIELD");
        let err = validate(
            &parse("SELECT Id FROM Account WHERE Name = 5").unwrap(),
            &schema,
        )
        .unwrap_err();
        assert_eq!(err.code, "INVALID_FIELD");
    }

    #[test]
    fn an_unknown_object_is_reported_as_invalid_type_with_a_caret() {
        let err = error("SELECT Id FROM Acount");
        assert_eq!(err.code, "INVALID_TYPE");
        assert_eq!(
            err.message,
            "\nSELECT Id FROM Acount\n               ^\nERROR at Row:1:Column:16\nsObject type 'Acount' is not \
             supported. If you are attempting to use a custom object, be sure to append the '__c' after the \
             entity name. Please reference your WSDL or the describe call for the appropriate names."
        );
    }

    #[test]
    fn an_unknown_field_is_reported_with_the_salesforce_wording() {
        let err = error("SELECT IsPersonAccount FROM Account");
        assert_eq!(err.code, "INVALID_FIELD");
        assert_eq!(
            err.message,
            "\nSELECT IsPersonAccount FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column \
             'IsPersonAccount' on entity 'Account'. If you are attempting to use a custom field, be sure to \
             append the '__c' after the custom field name. Please reference your WSDL or the describe call for \
             the appropriate names."
        );
    }

    #[test]
    fn an_unknown_field_in_where_or_order_by_points_at_that_field() {
        let err = error("SELECT Id FROM Contact WHERE Emial = 'x'");
        assert_eq!(err.code, "INVALID_FIELD");
        assert!(
            err.message
                .contains("No such column 'Emial' on entity 'Contact'.")
        );
        assert_caret(&err, "SELECT Id FROM Contact WHERE Emial = 'x'", 30);
        let err = error("SELECT Id FROM Contact ORDER BY Nope");
        assert_caret(&err, "SELECT Id FROM Contact ORDER BY Nope", 33);
    }

    #[test]
    fn an_unknown_field_on_a_parent_names_the_parent_entity() {
        let err = error("SELECT Id, Account.Nme FROM Contact");
        assert_eq!(err.code, "INVALID_FIELD");
        assert!(
            err.message
                .contains("\nNo such column 'Nme' on entity 'Account'."),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT Id, Account.Nme FROM Contact", 12);
    }

    #[test]
    fn an_unknown_relationship_is_reported_with_the_salesforce_wording() {
        let err = error("SELECT Foo.Name FROM Contact");
        assert_eq!(err.code, "INVALID_FIELD");
        assert!(
            err.message.ends_with(
                "\nDidn't understand relationship 'Foo' in field path. If you are attempting to use a custom \
                 relationship, be sure to append the '__r' after the custom relationship name. Please reference \
                 your WSDL or the describe call for the appropriate names."
            ),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT Foo.Name FROM Contact", 8);
        // A reference field's own name is not a relationship.
        let err = error("SELECT AccountId.Name FROM Contact");
        assert!(
            err.message
                .contains("Didn't understand relationship 'AccountId'")
        );
    }

    #[test]
    fn a_syntax_error_reports_the_unexpected_token() {
        let err = error("SELECT Id, FROM Contact");
        assert_eq!(err.code, "MALFORMED_QUERY");
        assert!(
            err.message.ends_with("\nunexpected token: 'FROM'"),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT Id, FROM Contact", 12);

        let err = error("SELECT Id FROM Contact WHERE");
        assert!(
            err.message.ends_with("\nunexpected token: '<EOF>'"),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT Id FROM Contact WHERE", 29);

        let err = error("SELECT Id FROM Contact LIMIT ten");
        assert!(
            err.message.ends_with("\nunexpected token: 'ten'"),
            "{}",
            err.message
        );

        let err = error("SELECT * FROM Contact");
        assert!(
            err.message.ends_with("\nunexpected token: '*'"),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT * FROM Contact", 8);
    }

    #[test]
    fn errors_on_later_lines_report_their_row() {
        let err = error("SELECT Id\nFROM Contact\nWHERE Nope = 1");
        assert!(
            err.message.starts_with(
                "\nWHERE Nope = 1\n      ^\nERROR at Row:3:Column:7\nNo such column 'Nope'"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_quoted_value_for_a_number_field_is_rejected() {
        let soql = "SELECT Id FROM Contact WHERE Total_Spend__c > '5'";
        let err = error(soql);
        assert_eq!(err.code, "INVALID_FIELD");
        assert!(
            err.message.ends_with(
                "\nvalue of filter criterion for field 'Total_Spend__c' must be of type currency and should not \
                 be enclosed in quotes"
            ),
            "{}",
            err.message
        );
        assert_caret(&err, soql, 30);
    }

    #[test]
    fn a_mistyped_value_for_other_fields_is_rejected() {
        let err = error("SELECT Id FROM Contact WHERE LastName = 5");
        assert!(err.message.ends_with(
            "value of filter criterion for field 'LastName' must be of type string and should be enclosed in quotes"
        ));
        let err = error("SELECT Id FROM Contact WHERE CreatedDate > '2026-01-01'");
        assert!(
            err.message
                .ends_with("must be of type dateTime and should not be enclosed in quotes")
        );
        let err = error("SELECT Id FROM Contact WHERE HasOptedOutOfEmail IN ('true')");
        assert!(
            err.message
                .ends_with("must be of type boolean and should not be enclosed in quotes")
        );
        let err = error("SELECT Id FROM Contact WHERE Last_Order_Date__c = 2026-01-01T00:00:00Z");
        assert!(
            err.message
                .ends_with("must be of type date and should not be enclosed in quotes")
        );
    }

    #[test]
    fn unsupported_syntax_is_rejected_as_a_malformed_query() {
        for (soql, what) in [
            ("SELECT LastName FROM Contact GROUP BY LastName", "GROUP BY"),
            (
                "SELECT Name, (SELECT LastName FROM Contacts) FROM Account",
                "subquery",
            ),
            (
                "SELECT TYPEOF What WHEN Account THEN Name END FROM Event",
                "TYPEOF",
            ),
            ("SELECT Id FROM Contact FOR UPDATE", "FOR UPDATE"),
            ("SELECT SUM(Total_Spend__c) FROM Contact", "SUM()"),
            ("SELECT FIELDS(ALL) FROM Contact LIMIT 200", "FIELDS()"),
            (
                "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
                "semi-join",
            ),
            (
                "SELECT Id FROM Contact WHERE Email INCLUDES ('a')",
                "INCLUDES",
            ),
            ("SELECT Id FROM Contact WITH SECURITY_ENFORCED", "WITH"),
        ] {
            let err = error(soql);
            assert_eq!(err.code, "MALFORMED_QUERY", "{soql}");
            assert!(err.message.contains(what), "{soql}: {}", err.message);
            assert!(
                err.message.contains("not supported"),
                "{soql}: {}",
                err.message
            );
        }
    }

    #[test]
    fn a_field_selected_twice_is_rejected() {
        let err = error("SELECT Id, LastName, id FROM Contact");
        assert_eq!(err.code, "INVALID_FIELD");
        assert!(
            err.message.ends_with("\nduplicate field selected: Id"),
            "{}",
            err.message
        );
        assert_caret(&err, "SELECT Id, LastName, id FROM Contact", 22);
    }

    #[test]
    fn an_offset_above_two_thousand_is_rejected() {
        let err = error("SELECT Id FROM Contact OFFSET 2001");
        assert_eq!(err.code, "NUMBER_OUTSIDE_VALID_RANGE");
        assert!(err.message.ends_with("Maximum SOQL offset allowed is 2000"));
        assert!(run("SELECT Id FROM Contact OFFSET 2000").is_ok());
    }

    #[test]
    fn bind_variables_are_rejected() {
        let err = error("SELECT Id FROM Contact WHERE LastName = :name");
        assert_eq!(err.code, "MALFORMED_QUERY");
        assert!(
            err.message
                .ends_with("Bind variables only allowed in Apex code"),
            "{}",
            err.message
        );
    }
}
