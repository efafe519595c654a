//! Reading Shopify bulk-operation JSONL (`groupObjects: false`, API 2026-01).
//!
//! One JSON object per line; every node of a connection is its own line carrying
//! `__parentId`, in any order relative to its parent. Lines are read one at a time, so memory
//! does not grow with the file. A line that is not valid JSON, or whose fields have the wrong
//! types, becomes a [`LineError`] naming the file and line; reading goes on.

use std::fmt;
use std::io::BufRead;

use serde::Deserialize;

use super::model::{Company, CompanyContact, CompanyLocation, Customer, LineItem, Order, gid_type};

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for LineError {}

/// A line of `customers.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerLine {
    Customer(Box<Customer>),
    /// A child node the engine does not use (addresses, metafields, …).
    Ignored,
}

/// A line of `orders.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderLine {
    Order(Box<Order>),
    LineItem(Box<LineItem>),
    Ignored,
}

/// A line of `companies.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompanyLine {
    Company(Box<Company>),
    Location(Box<CompanyLocation>),
    Contact(Box<CompanyContact>),
    Ignored,
}

/// What every line has: its own gid (connection nodes that are not `Node`s have none) and,
/// for children, the parent's.
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "__parentId", default)]
    parent: Option<String>,
}

fn head(line: &str) -> Result<Head, String> {
    serde_json::from_str::<Head>(line).map_err(|e| format!("not a JSON object: {e}"))
}

fn typed<T: for<'de> Deserialize<'de>>(line: &str, what: &str) -> Result<T, String> {
    serde_json::from_str(line).map_err(|e| format!("{what} has an unexpected shape: {e}"))
}

/// Whether a line is a connection child. `"__parentId":` with both quotes can only be a
/// key: inside a JSON string its quotes would be escaped.
fn is_child(line: &str) -> bool {
    line.contains("\"__parentId\"")
}

fn kind_of(id: &str) -> Option<&str> {
    gid_type(id)
}

/// Parses one line of `customers.jsonl`.
pub fn parse_customer_line(line: &str) -> Result<CustomerLine, String> {
    if is_child(line) {
        return Ok(CustomerLine::Ignored);
    }
    // One typed parse; the type is checked from the gid afterwards.
    match serde_json::from_str::<Customer>(line) {
        Ok(c) if kind_of(&c.id) == Some("Customer") => Ok(CustomerLine::Customer(Box::new(c))),
        Ok(c) if c.id.is_empty() => Err("line has no Shopify gid in \"id\"".to_string()),
        Ok(c) => Err(format!("expected a Customer, found {}", c.id)),
        Err(e) => Err(describe(line, e, "Customer")),
    }
}

/// A parse failure, told apart: not JSON at all, or JSON of the wrong shape.
fn describe(line: &str, error: serde_json::Error, what: &str) -> String {
    match head(line) {
        Err(not_json) => not_json,
        Ok(h) => match h.id.as_deref().and_then(gid_type) {
            Some(kind) if kind != what => format!("expected a {what}, found a {kind}"),
            _ => format!("{what} has an unexpected shape: {error}"),
        },
    }
}

/// Parses one line of `orders.jsonl`.
pub fn parse_order_line(line: &str) -> Result<OrderLine, String> {
    if is_child(line) {
        return match serde_json::from_str::<LineItem>(line) {
            Ok(item) if kind_of(&item.id) == Some("LineItem") => {
                Ok(OrderLine::LineItem(Box::new(item)))
            }
            Ok(_) => Ok(OrderLine::Ignored),
            // A child of another connection (discounts, …) has other field types.
            Err(e) => match head(line) {
                Ok(h) if h.id.as_deref().and_then(gid_type) == Some("LineItem") => {
                    Err(format!("LineItem has an unexpected shape: {e}"))
                }
                Ok(_) => Ok(OrderLine::Ignored),
                Err(not_json) => Err(not_json),
            },
        };
    }
    match serde_json::from_str::<Order>(line) {
        Ok(o) if kind_of(&o.id) == Some("Order") => Ok(OrderLine::Order(Box::new(o))),
        Ok(o) if o.id.is_empty() => Err("line has no Shopify gid in \"id\"".to_string()),
        Ok(o) => Err(format!("expected an Order, found {}", o.id)),
        Err(e) => Err(describe(line, e, "Order")),
    }
}

/// Parses one line of `companies.jsonl`.
pub fn parse_company_line(line: &str) -> Result<CompanyLine, String> {
    let h = head(line)?;
    match (h.id.as_deref().and_then(gid_type), h.parent) {
        (Some("Company"), None) => Ok(CompanyLine::Company(Box::new(typed(line, "Company")?))),
        (Some("CompanyLocation"), Some(_)) => Ok(CompanyLine::Location(Box::new(typed(
            line,
            "CompanyLocation",
        )?))),
        (Some("CompanyContact"), Some(_)) => Ok(CompanyLine::Contact(Box::new(typed(
            line,
            "CompanyContact",
        )?))),
        (_, Some(_)) => Ok(CompanyLine::Ignored),
        (Some(other), None) => Err(format!("expected a Company, found a {other}")),
        (None, None) => Err("line has no Shopify gid in \"id\"".to_string()),
    }
}

/// The lines of a JSONL file, parsed one at a time (one line in memory). Blank lines are
/// skipped; I/O errors end the iteration with `Err` (the file cannot be trusted past them);
/// a line that does not parse is an `Ok(Err(LineError))` and reading goes on.
pub struct JsonlLines<R, P> {
    file: String,
    reader: R,
    parse: P,
    buffer: Vec<u8>,
    number: usize,
}

impl<R: BufRead, T, P: Fn(&str) -> Result<T, String>> JsonlLines<R, P> {
    pub fn new(file_name: &str, reader: R, parse: P) -> JsonlLines<R, P> {
        JsonlLines {
            file: file_name.to_string(),
            reader,
            parse,
            buffer: Vec::new(),
            number: 0,
        }
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> usize {
        self.number
    }
}

impl<R: BufRead, T, P: Fn(&str) -> Result<T, String>> Iterator for JsonlLines<R, P> {
    type Item = std::io::Result<Result<T, LineError>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buffer.clear();
            match self.reader.read_until(b'\n', &mut self.buffer) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
            self.number += 1;
            let error = |message: String| LineError {
                file: self.file.clone(),
                line: self.number,
                message,
            };
            let Ok(text) = std::str::from_utf8(&self.buffer) else {
                return Some(Ok(Err(error("line is not valid UTF-8".to_string()))));
            };
            let line = text.trim();
            if line.is_empty() {
                continue;
            }
            return Some(Ok((self.parse)(line).map_err(error)));
        }
    }
}

/// Calls `visit` with each non-empty line's parse result; returns the lines read.
pub fn for_each_line<R: BufRead, T>(
    file_name: &str,
    reader: R,
    parse: impl Fn(&str) -> Result<T, String>,
    mut visit: impl FnMut(Result<T, LineError>),
) -> std::io::Result<usize> {
    let mut lines = JsonlLines::new(file_name, reader, parse);
    for line in lines.by_ref() {
        visit(line?);
    }
    Ok(lines.lines_read())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r##"{"id":"gid://shopify/LineItem/2001","sku":"SKU-1","title":"Widget A","quantity":2,"originalUnitPriceSet":{"shopMoney":{"amount":"50.00","currencyCode":"EUR"}},"variant":{"id":"gid://shopify/ProductVariant/4001"},"__parentId":"gid://shopify/Order/1001"}
{"id":"gid://shopify/Order/1001","name":"#1001","processedAt":"2026-10-01T09:00:00Z","currencyCode":"EUR","customer":{"id":"gid://shopify/Customer/7301"},"totalPriceSet":{"shopMoney":{"amount":"150.00","currencyCode":"EUR"}},"newField":true}
{"__parentId":"gid://shopify/Order/1001","description":"10% off"}

{"id":"gid://shopify/Order/1002", "name": 
{"id":"gid://shopify/Order/1003","name":42}
"##;

    #[test]
    fn children_before_parents_unknown_fields_and_bad_lines() {
        let mut orders = 0;
        let mut items = 0;
        let mut ignored = 0;
        let mut errors = Vec::new();
        let lines = for_each_line(
            "orders.jsonl",
            ORDERS.as_bytes(),
            parse_order_line,
            |r| match r {
                Ok(OrderLine::Order(o)) => {
                    assert_eq!(o.name.as_deref(), Some("#1001"));
                    orders += 1
                }
                Ok(OrderLine::LineItem(li)) => {
                    assert_eq!(li.parent_id, "gid://shopify/Order/1001");
                    assert_eq!(li.quantity, Some(2.0));
                    items += 1
                }
                Ok(OrderLine::Ignored) => ignored += 1,
                Err(e) => errors.push(e),
            },
        )
        .unwrap();
        assert_eq!(lines, 6);
        assert_eq!((orders, items, ignored), (1, 1, 1));
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 5);
        assert!(
            errors[0]
                .to_string()
                .starts_with("orders.jsonl line 5: not a JSON object")
        );
        assert_eq!(errors[1].line, 6);
        assert!(
            errors[1].message.contains("Order has an unexpected shape"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn company_children_are_told_apart_by_gid() {
        let text = r#"{"id":"gid://shopify/CompanyContact/3","__parentId":"gid://shopify/Company/1","customer":{"id":"gid://shopify/Customer/9","lastName":"Lee"}}
{"id":"gid://shopify/CompanyLocation/2","__parentId":"gid://shopify/Company/1","name":"HQ"}
{"id":"gid://shopify/Company/1","name":"Acme"}
{"id":"gid://shopify/Customer/1","name":"wrong file"}
"#;
        let mut kinds = Vec::new();
        for_each_line(
            "companies.jsonl",
            text.as_bytes(),
            parse_company_line,
            |r| {
                kinds.push(match r {
                    Ok(CompanyLine::Company(_)) => "company",
                    Ok(CompanyLine::Location(_)) => "location",
                    Ok(CompanyLine::Contact(c)) => {
                        assert_eq!(c.customer.unwrap().last_name.as_deref(), Some("Lee"));
                        "contact"
                    }
                    Ok(CompanyLine::Ignored) => "ignored",
                    Err(_) => "error",
                })
            },
        )
        .unwrap();
        assert_eq!(kinds, ["contact", "location", "company", "error"]);
    }

    #[test]
    fn invalid_utf8_is_one_bad_line() {
        let mut data = b"{\"id\":\"gid://shopify/Customer/1\"}\n".to_vec();
        data.extend_from_slice(b"{\"id\":\"\xff\xfe\"}\n{\"id\":\"gid://shopify/Customer/2\"}\n");
        let mut ok = 0;
        let mut bad = Vec::new();
        for_each_line(
            "customers.jsonl",
            data.as_slice(),
            parse_customer_line,
            |r| match r {
                Ok(_) => ok += 1,
                Err(e) => bad.push(e.line),
            },
        )
        .unwrap();
        assert_eq!(ok, 2);
        assert_eq!(bad, [2]);
    }
}
