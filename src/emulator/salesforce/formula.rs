//! Salesforce formula fields: a parser and evaluator for the subset of the formula language
//! that the project's custom fields use (see `sfdx/`), with Salesforce's null and date
//! semantics.
//!
//! Supported: number, `'text'` / `"text"`, `TRUE`, `FALSE` and `NULL` literals; field
//! references (`Last_Order_Date__c`, `Account.Name`, `$User.Id` — the caller resolves them);
//! `+ - * / ^`, unary minus, `&` concatenation, `= == != <> < <= > >=`, `&& ||`, `/* comments */`;
//! and the functions listed in [`Func`]. Function names and keywords are case-insensitive.
//!
//! Evaluation never fails: where Salesforce would show `#Error!` (division by zero, a type
//! mismatch, `VALUE('abc')`) the result is [`Value::Null`].

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::schema::{FieldType, Value, format_number};

/// Deepest nesting of parentheses / function calls accepted, so a hostile formula cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 128;

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    source: String,
    expr: Expr,
}

/// A formula that does not parse. The message names the problem and its character position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FormulaError {
    pub message: String,
}

impl FormulaError {
    fn new(message: impl Into<String>) -> FormulaError {
        FormulaError {
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

/// The functions the evaluator implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Today,
    Now,
    If,
    And,
    Or,
    Not,
    IsBlank,
    IsNull,
    BlankValue,
    NullValue,
    Case,
    Round,
    Floor,
    Ceiling,
    Abs,
    Max,
    Min,
    Text,
    ValueOf,
    Len,
    Upper,
    Lower,
    Contains,
    Begins,
    IsPickVal,
    DateValue,
}

/// How many arguments a function takes.
enum Arity {
    Exactly(usize),
    AtLeast(usize),
    /// `CASE(expr, when1, then1, …, else)`: an even count of at least 4.
    Case,
}

impl Func {
    const ALL: [(&'static str, Func); 26] = [
        ("TODAY", Func::Today),
        ("NOW", Func::Now),
        ("IF", Func::If),
        ("AND", Func::And),
        ("OR", Func::Or),
        ("NOT", Func::Not),
        ("ISBLANK", Func::IsBlank),
        ("ISNULL", Func::IsNull),
        ("BLANKVALUE", Func::BlankValue),
        ("NULLVALUE", Func::NullValue),
        ("CASE", Func::Case),
        ("ROUND", Func::Round),
        ("FLOOR", Func::Floor),
        ("CEILING", Func::Ceiling),
        ("ABS", Func::Abs),
        ("MAX", Func::Max),
        ("MIN", Func::Min),
        ("TEXT", Func::Text),
        ("VALUE", Func::ValueOf),
        ("LEN", Func::Len),
        ("UPPER", Func::Upper),
        ("LOWER", Func::Lower),
        ("CONTAINS", Func::Contains),
        ("BEGINS", Func::Begins),
        ("ISPICKVAL", Func::IsPickVal),
        ("DATEVALUE", Func::DateValue),
    ];

    fn lookup(name: &str) -> Option<Func> {
        Func::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
    }

    fn name(self) -> &'static str {
        Func::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    fn arity(self) -> Arity {
        use Func::*;
        match self {
            Today | Now => Arity::Exactly(0),
            Not | IsBlank | IsNull | Floor | Ceiling | Abs | Text | ValueOf | Len | Upper
            | Lower | DateValue => Arity::Exactly(1),
            BlankValue | NullValue | Round | Contains | Begins | IsPickVal => Arity::Exactly(2),
            If => Arity::Exactly(3),
            And | Or | Max | Min => Arity::AtLeast(1),
            Case => Arity::Case,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Literal(Value),
    Field(String),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("number {}", format_number(*n)),
            Tok::Str(s) => format!("text '{s}'"),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Op(o) => format!("'{o}'"),
            Tok::End => "end of formula".into(),
        }
    }
}

/// Tokens with their character offsets.
fn lex(src: &str) -> Result<Vec<(Tok, usize)>, FormulaError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            let mut j = i + 2;
            loop {
                if j + 1 >= chars.len() {
                    return Err(FormulaError::new(format!(
                        "unterminated comment starting at position {start}"
                    )));
                }
                if chars[j] == '*' && chars[j + 1] == '/' {
                    break;
                }
                j += 1;
            }
            i = j + 2;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            let n: f64 = text.parse().map_err(|_| {
                FormulaError::new(format!("malformed number '{text}' at position {start}"))
            })?;
            out.push((Tok::Num(n), start));
            i = j;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => {
                        return Err(FormulaError::new(format!(
                            "unterminated text literal starting at position {start}"
                        )));
                    }
                    Some('\\') => {
                        let esc = chars.get(j + 1).copied().ok_or_else(|| {
                            FormulaError::new(format!(
                                "unterminated text literal starting at position {start}"
                            ))
                        })?;
                        s.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        j += 2;
                    }
                    Some(&q) if q == c => break,
                    Some(&other) => {
                        s.push(other);
                        j += 1;
                    }
                }
            }
            out.push((Tok::Str(s), start));
            i = j + 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '.')
            {
                j += 1;
            }
            out.push((Tok::Ident(chars[i..j].iter().collect()), start));
            i = j;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            ('=', Some('=')) => (Tok::Op("="), 2),
            ('=', _) => (Tok::Op("="), 1),
            ('!', Some('=')) => (Tok::Op("<>"), 2),
            ('<', Some('>')) => (Tok::Op("<>"), 2),
            ('<', Some('=')) => (Tok::Op("<="), 2),
            ('<', _) => (Tok::Op("<"), 1),
            ('>', Some('=')) => (Tok::Op(">="), 2),
            ('>', _) => (Tok::Op(">"), 1),
            ('&', Some('&')) => (Tok::Op("&&"), 2),
            ('&', _) => (Tok::Op("&"), 1),
            ('|', Some('|')) => (Tok::Op("||"), 2),
            ('+', _) => (Tok::Op("+"), 1),
            ('-', _) => (Tok::Op("-"), 1),
            ('*', _) => (Tok::Op("*"), 1),
            ('/', _) => (Tok::Op("/"), 1),
            ('^', _) => (Tok::Op("^"), 1),
            _ => {
                return Err(FormulaError::new(format!(
                    "unexpected character '{c}' at position {start}"
                )));
            }
        };
        out.push((tok, start));
        i += len;
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser (precedence climbing, loosest first: || , && , comparison , + - & , * / , ^ , unary)

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self, wanted: &str) -> FormulaError {
        FormulaError::new(format!(
            "expected {wanted} but found {} at position {}",
            self.peek().describe(),
            self.offset()
        ))
    }

    fn eat_op(&mut self, ops: &[(&str, BinOp)]) -> Option<BinOp> {
        let Tok::Op(o) = self.peek() else {
            return None;
        };
        let op = ops.iter().find(|(s, _)| s == o).map(|(_, op)| *op)?;
        self.bump();
        Some(op)
    }

    fn binary_level(
        &mut self,
        ops: &[(&str, BinOp)],
        next: fn(&mut Parser) -> Result<Expr, FormulaError>,
    ) -> Result<Expr, FormulaError> {
        let mut lhs = next(self)?;
        while let Some(op) = self.eat_op(ops) {
            let rhs = next(self)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn expr(&mut self) -> Result<Expr, FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FormulaError::new(format!(
                "formula nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let e = self.or();
        self.depth -= 1;
        e
    }

    fn or(&mut self) -> Result<Expr, FormulaError> {
        self.binary_level(&[("||", BinOp::Or)], Parser::and)
    }

    fn and(&mut self) -> Result<Expr, FormulaError> {
        self.binary_level(&[("&&", BinOp::And)], Parser::comparison)
    }

    fn comparison(&mut self) -> Result<Expr, FormulaError> {
        self.binary_level(
            &[
                ("=", BinOp::Eq),
                ("<>", BinOp::Ne),
                ("<", BinOp::Lt),
                ("<=", BinOp::Le),
                (">", BinOp::Gt),
                (">=", BinOp::Ge),
            ],
            Parser::additive,
        )
    }

    fn additive(&mut self) -> Result<Expr, FormulaError> {
        self.binary_level(
            &[("+", BinOp::Add), ("-", BinOp::Sub), ("&", BinOp::Concat)],
            Parser::multiplicative,
        )
    }

    fn multiplicative(&mut self) -> Result<Expr, FormulaError> {
        self.binary_level(&[("*", BinOp::Mul), ("/", BinOp::Div)], Parser::unary)
    }

    fn unary(&mut self) -> Result<Expr, FormulaError> {
        if self.eat_op(&[("-", BinOp::Sub)]).is_some() {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat_op(&[("+", BinOp::Add)]).is_some() {
            return self.unary();
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, FormulaError> {
        let base = self.primary()?;
        if self.eat_op(&[("^", BinOp::Pow)]).is_some() {
            // Right-associative; the exponent may carry its own sign.
            let exp = self.unary()?;
            return Ok(Expr::Binary(BinOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, FormulaError> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::Num(n) => {
                self.bump();
                Ok(Expr::Literal(Value::Number(n)))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Literal(if s.is_empty() {
                    Value::Null
                } else {
                    Value::String(s.into())
                }))
            }
            Tok::LParen => {
                self.bump();
                let e = self.expr()?;
                if self.peek() != &Tok::RParen {
                    return Err(self.unexpected("')'"));
                }
                self.bump();
                Ok(e)
            }
            Tok::Ident(name) => {
                self.bump();
                if self.peek() == &Tok::LParen {
                    self.bump();
                    return self.call(&name, at);
                }
                if name.eq_ignore_ascii_case("TRUE") {
                    Ok(Expr::Literal(Value::Boolean(true)))
                } else if name.eq_ignore_ascii_case("FALSE") {
                    Ok(Expr::Literal(Value::Boolean(false)))
                } else if name.eq_ignore_ascii_case("NULL") {
                    Ok(Expr::Literal(Value::Null))
                } else if name.ends_with('.') || name.contains("..") {
                    Err(FormulaError::new(format!(
                        "malformed field reference '{name}' at position {at}"
                    )))
                } else {
                    Ok(Expr::Field(name))
                }
            }
            _ => Err(self.unexpected("a value, field or function")),
        }
    }

    /// Arguments of a call whose `(` has been consumed.
    fn call(&mut self, name: &str, at: usize) -> Result<Expr, FormulaError> {
        let func = Func::lookup(name).ok_or_else(|| {
            FormulaError::new(format!("unknown function {name} at position {at}"))
        })?;
        let mut args = Vec::new();
        if self.peek() != &Tok::RParen {
            loop {
                args.push(self.expr()?);
                match self.peek() {
                    Tok::Comma => {
                        self.bump();
                    }
                    Tok::RParen => break,
                    _ => return Err(self.unexpected("',' or ')'")),
                }
            }
        }
        self.bump();
        let n = args.len();
        let ok = match func.arity() {
            Arity::Exactly(k) => n == k,
            Arity::AtLeast(k) => n >= k,
            Arity::Case => n >= 4 && n % 2 == 0,
        };
        if !ok {
            let expected = match func.arity() {
                Arity::Exactly(k) => format!("{k}"),
                Arity::AtLeast(k) => format!("at least {k}"),
                Arity::Case => "an even number, at least 4,".to_string(),
            };
            return Err(FormulaError::new(format!(
                "{}() at position {at} takes {expected} argument(s), got {n}",
                func.name()
            )));
        }
        Ok(Expr::Call(func, args))
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

struct Ctx<'a> {
    field: &'a dyn Fn(&str) -> Value,
    blanks_as_zero: bool,
    now: DateTime<Utc>,
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Blank text is null, as Salesforce stores it.
fn normalize(v: Value) -> Value {
    match v {
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Number(n) if !n.is_finite() => Value::Null,
        other => other,
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Boolean(true))
}

fn text_of(v: &Value) -> String {
    match v {
        Value::DateTime(dt) => dt.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        other => other.to_text(),
    }
}

fn add_days_to_datetime(dt: DateTime<Utc>, days: f64) -> Option<DateTime<Utc>> {
    let ms = (days * 86_400_000.0).round();
    if !ms.is_finite() || ms.abs() > 1.0e17 {
        return None;
    }
    dt.checked_add_signed(Duration::milliseconds(ms as i64))
}

fn add_days_to_date(d: NaiveDate, days: f64) -> Option<NaiveDate> {
    let whole = days.trunc();
    if !whole.is_finite() || whole.abs() > 1.0e7 {
        return None;
    }
    d.checked_add_signed(Duration::days(whole as i64))
}

/// Rounds half away from zero, as `ROUND` does, cancelling binary noise first so that
/// `ROUND(1.005, 2)` is 1.01.
fn round_half_away(n: f64, digits: i32) -> f64 {
    let factor = 10f64.powi(digits);
    let mut x = n * factor;
    if x.abs() < 1.0e9 {
        x = (x * 1.0e6).round() / 1.0e6;
    }
    x.round() / factor
}

impl Ctx<'_> {
    /// Null numbers become 0 under `BlankAsZero`.
    fn num_or_zero(&self, v: Value) -> Value {
        if v.is_null() && self.blanks_as_zero {
            Value::Number(0.0)
        } else {
            v
        }
    }

    fn number(&self, e: &Expr) -> Option<f64> {
        match self.num_or_zero(self.eval(e)) {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    fn text(&self, e: &Expr) -> String {
        text_of(&self.eval(e))
    }

    fn eval(&self, e: &Expr) -> Value {
        normalize(match e {
            Expr::Literal(v) => v.clone(),
            Expr::Field(name) => (self.field)(name),
            Expr::Neg(inner) => match self.num_or_zero(self.eval(inner)) {
                Value::Number(n) => Value::Number(-n),
                _ => Value::Null,
            },
            Expr::Binary(op, a, b) => self.binary(*op, a, b),
            Expr::Call(f, args) => self.call(*f, args),
        })
    }

    fn binary(&self, op: BinOp, a: &Expr, b: &Expr) -> Value {
        match op {
            BinOp::And => return Value::Boolean(truthy(&self.eval(a)) && truthy(&self.eval(b))),
            BinOp::Or => return Value::Boolean(truthy(&self.eval(a)) || truthy(&self.eval(b))),
            BinOp::Concat => {
                return Value::String((self.text(a) + &self.text(b)).into());
            }
            _ => {}
        }
        let (mut l, mut r) = (self.eval(a), self.eval(b));
        // BlankAsZero turns a blank into 0 where the other side is a number (or also blank).
        if self.blanks_as_zero {
            let numeric = |v: &Value| matches!(v, Value::Number(_) | Value::Null);
            if numeric(&l) && numeric(&r) {
                l = self.num_or_zero(l);
                r = self.num_or_zero(r);
            }
        }
        match op {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                compare(op, &l, &r)
            }
            _ => arithmetic(op, l, r),
        }
    }

    fn call(&self, f: Func, args: &[Expr]) -> Value {
        use Func::*;
        match f {
            Today => Value::Date(self.now.date_naive()),
            Now => Value::DateTime(self.now),
            If => {
                if truthy(&self.eval(&args[0])) {
                    self.eval(&args[1])
                } else {
                    self.eval(&args[2])
                }
            }
            And => Value::Boolean(args.iter().all(|a| truthy(&self.eval(a)))),
            Or => Value::Boolean(args.iter().any(|a| truthy(&self.eval(a)))),
            Not => match self.eval(&args[0]) {
                Value::Boolean(b) => Value::Boolean(!b),
                _ => Value::Boolean(true),
            },
            IsBlank | IsNull => Value::Boolean(is_blank(&self.eval(&args[0]))),
            BlankValue | NullValue => {
                let v = self.eval(&args[0]);
                if is_blank(&v) { self.eval(&args[1]) } else { v }
            }
            Case => {
                let subject = self.eval(&args[0]);
                let pairs = &args[1..args.len() - 1];
                for pair in pairs.chunks(2) {
                    if truthy(&compare(BinOp::Eq, &subject, &self.eval(&pair[0]))) {
                        return self.eval(&pair[1]);
                    }
                }
                self.eval(&args[args.len() - 1])
            }
            Round => match (self.number(&args[0]), self.number(&args[1])) {
                (Some(n), Some(d)) if d.abs() <= 15.0 => {
                    Value::Number(round_half_away(n, d.trunc() as i32))
                }
                _ => Value::Null,
            },
            // Salesforce: FLOOR rounds towards zero for negatives, CEILING away from zero.
            Floor => self.map_number(&args[0], f64::trunc),
            Ceiling => self.map_number(&args[0], |n| n.abs().ceil().copysign(n)),
            Abs => self.map_number(&args[0], f64::abs),
            Max | Min => {
                let mut best: Option<f64> = None;
                for a in args {
                    let n = match self.number(a) {
                        Some(n) => n,
                        None => return Value::Null,
                    };
                    best = Some(match best {
                        None => n,
                        Some(b) if f == Max => b.max(n),
                        Some(b) => b.min(n),
                    });
                }
                best.map(Value::Number).unwrap_or(Value::Null)
            }
            Text => match self.eval(&args[0]) {
                Value::Null => Value::Null,
                v => Value::String(text_of(&v).into()),
            },
            ValueOf => match self.eval(&args[0]) {
                Value::Number(n) => Value::Number(n),
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            },
            Len => Value::Number(self.text(&args[0]).chars().count() as f64),
            Upper => self.map_text(&args[0], |s| s.to_uppercase()),
            Lower => self.map_text(&args[0], |s| s.to_lowercase()),
            Contains => Value::Boolean(self.text(&args[0]).contains(&self.text(&args[1]))),
            Begins => Value::Boolean(self.text(&args[0]).starts_with(&self.text(&args[1]))),
            IsPickVal => Value::Boolean(self.text(&args[0]) == self.text(&args[1])),
            DateValue => match self.eval(&args[0]) {
                Value::Date(d) => Value::Date(d),
                Value::DateTime(dt) => Value::Date(dt.date_naive()),
                Value::String(s) => parse_date(&s).map(Value::Date).unwrap_or(Value::Null),
                _ => Value::Null,
            },
        }
    }

    fn map_number(&self, e: &Expr, f: impl Fn(f64) -> f64) -> Value {
        self.number(e)
            .map(|n| Value::Number(f(n)))
            .unwrap_or(Value::Null)
    }

    fn map_text(&self, e: &Expr, f: impl Fn(&str) -> String) -> Value {
        match self.eval(e) {
            Value::Null => Value::Null,
            v => Value::String(f(&text_of(&v)).into()),
        }
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| parse_datetime(s).map(|dt| dt.date_naive()))
}

fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|dt| dt.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc())
        })
}

fn arithmetic(op: BinOp, l: Value, r: Value) -> Value {
    use Value::*;
    match (op, l, r) {
        (_, Null, _) | (_, _, Null) => Null,
        (BinOp::Add, Number(a), Number(b)) => Number(a + b),
        (BinOp::Sub, Number(a), Number(b)) => Number(a - b),
        (BinOp::Mul, Number(a), Number(b)) => Number(a * b),
        (BinOp::Div, Number(a), Number(b)) => {
            if b == 0.0 {
                Null
            } else {
                Number(a / b)
            }
        }
        (BinOp::Pow, Number(a), Number(b)) => Number(a.powf(b)),
        (BinOp::Add, String(a), String(b)) => String(a + &b),
        (BinOp::Sub, Date(a), Date(b)) => Number((a - b).num_days() as f64),
        (BinOp::Add, Date(d), Number(n)) | (BinOp::Add, Number(n), Date(d)) => {
            add_days_to_date(d, n).map(Date).unwrap_or(Null)
        }
        (BinOp::Sub, Date(d), Number(n)) => add_days_to_date(d, -n).map(Date).unwrap_or(Null),
        (BinOp::Sub, DateTime(a), DateTime(b)) => {
            Number((a - b).num_milliseconds() as f64 / 86_400_000.0)
        }
        (BinOp::Add, DateTime(t), Number(n)) | (BinOp::Add, Number(n), DateTime(t)) => {
            add_days_to_datetime(t, n).map(DateTime).unwrap_or(Null)
        }
        (BinOp::Sub, DateTime(t), Number(n)) => {
            add_days_to_datetime(t, -n).map(DateTime).unwrap_or(Null)
        }
        _ => Null,
    }
}

fn compare(op: BinOp, l: &Value, r: &Value) -> Value {
    use Value::*;
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Null, Null) => {
            return match op {
                BinOp::Eq => Boolean(true),
                BinOp::Ne => Boolean(false),
                _ => Null,
            };
        }
        // Blank text compares as the empty string.
        (Null, String(s)) => Some("".cmp(s.as_str())),
        (String(s), Null) => Some(s.as_str().cmp("")),
        (Null, _) | (_, Null) => return Null,
        (Number(a), Number(b)) => a.partial_cmp(b),
        (String(a), String(b)) => Some(a.cmp(b)),
        (Boolean(a), Boolean(b)) => Some(a.cmp(b)),
        (Date(a), Date(b)) => Some(a.cmp(b)),
        (DateTime(a), DateTime(b)) => Some(a.cmp(b)),
        (Date(a), DateTime(b)) => a.and_hms_opt(0, 0, 0).map(|a| a.and_utc().cmp(b)),
        (DateTime(a), Date(b)) => b.and_hms_opt(0, 0, 0).map(|b| a.cmp(&b.and_utc())),
        _ => None,
    };
    let Some(ord) = ord else {
        return Null;
    };
    Boolean(match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::Ne => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

/// Converts an evaluated result to the field's declared return type.
fn coerce(v: Value, return_type: FieldType) -> Value {
    match return_type {
        FieldType::Number | FieldType::Currency | FieldType::Percent => match v {
            Value::Number(n) => Value::Number(n),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Value::Number)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        FieldType::Checkbox => Value::Boolean(truthy(&v)),
        FieldType::Date => match v {
            Value::Date(d) => Value::Date(d),
            Value::DateTime(dt) => Value::Date(dt.date_naive()),
            Value::String(s) => parse_date(&s).map(Value::Date).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        FieldType::DateTime => match v {
            Value::DateTime(dt) => Value::DateTime(dt),
            Value::Date(d) => d
                .and_hms_opt(0, 0, 0)
                .map(|n| Value::DateTime(n.and_utc()))
                .unwrap_or(Value::Null),
            Value::String(s) => parse_datetime(&s)
                .map(Value::DateTime)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        },
        _ => match v {
            Value::Null => Value::Null,
            Value::String(s) => Value::String(s),
            other => Value::String(text_of(&other).into()),
        },
    }
}

fn collect_fields(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Literal(_) => {}
        Expr::Field(name) => {
            if !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                out.push(name.clone());
            }
        }
        Expr::Neg(inner) => collect_fields(inner, out),
        Expr::Binary(_, a, b) => {
            collect_fields(a, out);
            collect_fields(b, out);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| collect_fields(a, out)),
    }
}

fn uses_clock(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Field(_) => false,
        Expr::Neg(inner) => uses_clock(inner),
        Expr::Binary(_, a, b) => uses_clock(a) || uses_clock(b),
        Expr::Call(f, args) => matches!(f, Func::Today | Func::Now) || args.iter().any(uses_clock),
    }
}

impl Formula {
    /// Parses formula source text.
    pub fn parse(source: &str) -> Result<Formula, FormulaError> {
        let toks = lex(source)?;
        if toks.len() == 1 {
            return Err(FormulaError::new("formula is empty"));
        }
        let mut parser = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let expr = parser.expr()?;
        if parser.peek() != &Tok::End {
            return Err(parser.unexpected("an operator or end of formula"));
        }
        Ok(Formula {
            source: source.to_string(),
            expr,
        })
    }

    /// The source text the formula was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Field names the formula reads (canonical case as written, first spelling wins,
    /// in order of first appearance).
    pub fn referenced_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_fields(&self.expr, &mut out);
        out
    }

    /// Whether the result depends on neither fields nor the clock (`TODAY()`, `NOW()`), so
    /// it can be computed once (e.g. a field's `defaultValue`).
    pub fn is_constant(&self) -> bool {
        self.referenced_fields().is_empty() && !uses_clock(&self.expr)
    }

    /// Evaluate. `field` returns the current value of a field of the same record.
    /// `blanks_as_zero` implements `formulaTreatBlanksAs` = `BlankAsZero`: blank numbers
    /// read as 0 in arithmetic, comparisons and numeric functions.
    pub fn evaluate(
        &self,
        field: &dyn Fn(&str) -> Value,
        return_type: FieldType,
        blanks_as_zero: bool,
        now: DateTime<Utc>,
    ) -> Value {
        let ctx = Ctx {
            field,
            blanks_as_zero,
            now,
        };
        coerce(ctx.eval(&self.expr), return_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Evaluates `src` against `fields` (case-insensitive lookup, missing = null).
    fn eval_with(src: &str, fields: &[(&str, Value)], rt: FieldType, zero: bool) -> Value {
        let f = Formula::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let lookup = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null)
        };
        f.evaluate(&lookup, rt, zero, now())
    }

    fn num(src: &str) -> Value {
        eval_with(src, &[], FieldType::Number, false)
    }

    fn text(src: &str, fields: &[(&str, Value)]) -> Value {
        eval_with(src, fields, FieldType::Text, false)
    }

    #[test]
    fn multiplication_binds_tighter_than_addition() {
        assert_eq!(num("1 + 2 * 3"), Value::Number(7.0));
        assert_eq!(num("(1 + 2) * 3"), Value::Number(9.0));
        assert_eq!(num("10 - 4 - 3"), Value::Number(3.0));
        assert_eq!(num("12 / 3 / 2"), Value::Number(2.0));
        assert_eq!(num("-2 ^ 2 + 1"), Value::Number(-3.0));
        assert_eq!(num("2 * -3"), Value::Number(-6.0));
        assert_eq!(num("2 ^ 3 ^ 2"), Value::Number(512.0));
    }

    #[test]
    fn division_by_zero_is_null() {
        assert_eq!(num("1 / 0"), Value::Null);
        assert_eq!(num("1 / (2 - 2) + 5"), Value::Null);
    }

    #[test]
    fn date_minus_date_is_a_number_of_days() {
        let fields = [
            ("A__c", Value::Date(date("2026-03-01"))),
            ("B__c", Value::Date(date("2026-02-01"))),
        ];
        assert_eq!(
            eval_with("A__c - B__c", &fields, FieldType::Number, false),
            Value::Number(28.0)
        );
        assert_eq!(
            eval_with("B__c + 28", &fields, FieldType::Date, false),
            Value::Date(date("2026-03-01"))
        );
        assert_eq!(
            eval_with("A__c - 1", &fields, FieldType::Date, false),
            Value::Date(date("2026-02-28"))
        );
    }

    #[test]
    fn datetime_minus_datetime_is_fractional_days() {
        let t0 = now();
        let fields = [
            ("Start__c", Value::DateTime(t0)),
            ("End__c", Value::DateTime(t0 + Duration::hours(36))),
        ];
        assert_eq!(
            eval_with("End__c - Start__c", &fields, FieldType::Number, false),
            Value::Number(1.5)
        );
        assert_eq!(
            eval_with("Start__c + 0.5", &fields, FieldType::DateTime, false),
            Value::DateTime(t0 + Duration::hours(12))
        );
    }

    #[test]
    fn today_minus_a_date_counts_days_from_the_given_now() {
        let fields = [("Last_Order_Date__c", Value::Date(date("2026-11-15")))];
        let src = "TODAY() - Last_Order_Date__c";
        assert_eq!(
            eval_with(src, &fields, FieldType::Number, false),
            Value::Number(10.0)
        );
        // A blank date stays blank, whichever way blanks are treated.
        assert_eq!(eval_with(src, &[], FieldType::Number, false), Value::Null);
        assert_eq!(eval_with(src, &[], FieldType::Number, true), Value::Null);
        assert_eq!(
            eval_with("NOW()", &[], FieldType::DateTime, false),
            Value::DateTime(now())
        );
    }

    #[test]
    fn if_isblank_and_blankvalue_choose_by_blankness() {
        let set = [("Name__c", Value::String("Ada".into()))];
        assert_eq!(
            text("IF(ISBLANK(Name__c), 'none', Name__c)", &set),
            Value::String("Ada".into())
        );
        assert_eq!(
            text("IF(ISBLANK(Name__c), 'none', Name__c)", &[]),
            Value::String("none".into())
        );
        let empty = [("Name__c", Value::String(String::new().into()))];
        assert_eq!(
            text("BLANKVALUE(Name__c, 'fallback')", &empty),
            Value::String("fallback".into())
        );
        assert_eq!(
            text("NULLVALUE(Name__c, 'fallback')", &set),
            Value::String("Ada".into())
        );
        assert_eq!(
            eval_with("ISNULL(X__c)", &[], FieldType::Checkbox, false),
            Value::Boolean(true)
        );
    }

    #[test]
    fn arithmetic_on_a_blank_is_blank_unless_blanks_are_zero() {
        let fields = [("A__c", Value::Number(5.0))];
        assert_eq!(
            eval_with("A__c + B__c", &fields, FieldType::Number, false),
            Value::Null
        );
        assert_eq!(
            eval_with("A__c + B__c", &fields, FieldType::Number, true),
            Value::Number(5.0)
        );
        assert_eq!(
            eval_with("-B__c", &fields, FieldType::Number, true),
            Value::Number(0.0)
        );
        assert_eq!(
            eval_with("ROUND(B__c, 0)", &fields, FieldType::Number, false),
            Value::Null
        );
        // The average-order-value formula from the reference.
        let avg = "IF(Order_Count__c > 0, Total_Spend__c / Order_Count__c, NULL)";
        assert_eq!(eval_with(avg, &[], FieldType::Currency, true), Value::Null);
        let orders = [
            ("Order_Count__c", Value::Number(4.0)),
            ("Total_Spend__c", Value::Number(100.0)),
        ];
        assert_eq!(
            eval_with(avg, &orders, FieldType::Currency, true),
            Value::Number(25.0)
        );
    }

    #[test]
    fn case_picks_the_matching_branch_or_the_default() {
        let src = "CASE(Tier__c, 'high', 3, 'medium', 2, 1)";
        let at = |v: &str| {
            eval_with(
                src,
                &[("Tier__c", Value::String(v.into()))],
                FieldType::Number,
                false,
            )
        };
        assert_eq!(at("high"), Value::Number(3.0));
        assert_eq!(at("medium"), Value::Number(2.0));
        assert_eq!(at("low"), Value::Number(1.0));
        assert_eq!(
            eval_with(src, &[], FieldType::Number, false),
            Value::Number(1.0)
        );
    }

    #[test]
    fn ampersand_concatenates_text_and_blank_reads_as_empty() {
        let fields = [
            ("First__c", Value::String("Ada".into())),
            ("Last__c", Value::String("Lovelace".into())),
        ];
        assert_eq!(
            text("First__c & ' ' & Last__c", &fields),
            Value::String("Ada Lovelace".into())
        );
        assert_eq!(
            text("First__c & Missing__c", &fields),
            Value::String("Ada".into())
        );
        assert_eq!(
            text("\"n=\" & TEXT(1 + 1)", &[]),
            Value::String("n=2".into())
        );
        assert_eq!(text("'' & ''", &[]), Value::Null);
    }

    #[test]
    fn comparisons_and_logic_yield_checkbox_values() {
        let cb = |src: &str| {
            eval_with(
                src,
                &[("N__c", Value::Number(3.0))],
                FieldType::Checkbox,
                false,
            )
        };
        assert_eq!(cb("N__c = 3"), Value::Boolean(true));
        assert_eq!(cb("N__c == 3 && N__c <> 4"), Value::Boolean(true));
        assert_eq!(cb("N__c != 3 || N__c >= 4"), Value::Boolean(false));
        assert_eq!(
            cb("AND(N__c > 2, N__c < 4, NOT(N__c <= 2))"),
            Value::Boolean(true)
        );
        assert_eq!(cb("OR(FALSE, Missing__c > 1)"), Value::Boolean(false));
        assert_eq!(cb("'abc' < 'abd'"), Value::Boolean(true));
    }

    #[test]
    fn numeric_functions_follow_salesforce_rounding() {
        assert_eq!(num("ROUND(1.005, 2)"), Value::Number(1.01));
        assert_eq!(num("ROUND(-2.5, 0)"), Value::Number(-3.0));
        assert_eq!(num("FLOOR(-2.5)"), Value::Number(-2.0));
        assert_eq!(num("CEILING(-2.5)"), Value::Number(-3.0));
        assert_eq!(num("CEILING(2.1)"), Value::Number(3.0));
        assert_eq!(num("ABS(-4)"), Value::Number(4.0));
        assert_eq!(num("MAX(1, 7, 3) - MIN(4, 2)"), Value::Number(5.0));
        assert_eq!(num("VALUE('12.5') * 2"), Value::Number(25.0));
        assert_eq!(num("VALUE('abc')"), Value::Null);
        assert_eq!(num("LEN('héllo')"), Value::Number(5.0));
    }

    #[test]
    fn text_functions_work_on_picklists_and_dates() {
        let fields = [
            ("Status__c", Value::String("Subscribed".into())),
            ("D__c", Value::Date(date("2026-01-02"))),
        ];
        let cb = |src: &str| eval_with(src, &fields, FieldType::Checkbox, false);
        assert_eq!(
            cb("ISPICKVAL(Status__c, 'Subscribed')"),
            Value::Boolean(true)
        );
        assert_eq!(cb("ISPICKVAL(Status__c, 'Pending')"), Value::Boolean(false));
        assert_eq!(
            cb("CONTAINS(UPPER(Status__c), 'SCRIB')"),
            Value::Boolean(true)
        );
        assert_eq!(cb("BEGINS(LOWER(Status__c), 'sub')"), Value::Boolean(true));
        assert_eq!(
            text("TEXT(D__c)", &fields),
            Value::String("2026-01-02".into())
        );
        assert_eq!(
            eval_with("DATEVALUE('2026-05-06')", &[], FieldType::Date, false),
            Value::Date(date("2026-05-06"))
        );
        assert_eq!(
            eval_with("DATEVALUE(NOW())", &[], FieldType::Date, false),
            Value::Date(date("2026-11-25"))
        );
    }

    #[test]
    fn results_are_coerced_to_the_return_type() {
        assert_eq!(
            eval_with("1 + 1", &[], FieldType::Text, false),
            Value::String("2".into())
        );
        assert_eq!(
            eval_with("NULL", &[], FieldType::Checkbox, false),
            Value::Boolean(false)
        );
        assert_eq!(
            eval_with("TODAY()", &[], FieldType::DateTime, false),
            Value::DateTime(date("2026-11-25").and_hms_opt(0, 0, 0).unwrap().and_utc())
        );
        assert_eq!(
            eval_with("'abc'", &[], FieldType::Number, false),
            Value::Null
        );
    }

    #[test]
    fn referenced_fields_are_listed_once_as_written() {
        let f = Formula::parse(
            "IF(Order_Count__c > 0, Total_Spend__c / ORDER_COUNT__C, NULL) /* avg */ + Account.X__c",
        )
        .unwrap();
        assert_eq!(
            f.referenced_fields(),
            vec!["Order_Count__c", "Total_Spend__c", "Account.X__c"]
        );
        assert!(!f.is_constant());
        assert!(Formula::parse("'a' & 'b'").unwrap().is_constant());
        assert!(!Formula::parse("TODAY()").unwrap().is_constant());
        assert_eq!(Formula::parse("today()").unwrap().source(), "today()");
    }

    #[test]
    fn malformed_formulas_are_rejected_with_a_position() {
        let err = |src: &str| Formula::parse(src).unwrap_err().message;
        assert!(err("").contains("empty"));
        assert!(err("1 +").contains("end of formula"), "{}", err("1 +"));
        assert!(err("(1 + 2").contains("')'"));
        assert!(err("1 2").contains("position 2"), "{}", err("1 2"));
        assert!(err("FOO(1)").contains("unknown function FOO"));
        assert!(err("IF(TRUE, 1)").contains("IF() at position 0 takes 3"));
        assert!(err("CASE(X__c, 1, 2)").contains("CASE()"));
        assert!(err("'open").contains("unterminated text"));
        assert!(err("1 # 2").contains("unexpected character '#'"));
        assert!(err("1 /* never closed").contains("unterminated comment"));
        assert!(err(&"(".repeat(500)).contains("nests deeper"));
    }
}
