//! Turning text (CSV cells, JSON scalars) into typed field values, with Salesforce's own
//! per-record error codes and wording.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use super::ids::SfId;
use super::schema::{FieldDef, FieldType, Value};

/// A per-record save error, rendered as Salesforce writes it in `sf__Error`:
/// `CODE:message:Field1 Field2 --` (or `CODE:message:--` without fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
}

impl RecordError {
    pub fn new(code: &'static str, message: impl Into<String>) -> RecordError {
        RecordError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn on(code: &'static str, message: impl Into<String>, field: &str) -> RecordError {
        RecordError {
            code,
            message: message.into(),
            fields: vec![field.to_string()],
        }
    }

    /// The Bulk API `sf__Error` text.
    pub fn to_bulk_text(&self) -> String {
        let mut out = String::with_capacity(self.code.len() + self.message.len() + 16);
        out.push_str(self.code);
        out.push(':');
        out.push_str(&self.message);
        out.push(':');
        for f in &self.fields {
            out.push_str(f);
            out.push(' ');
        }
        out.push_str("--");
        out
    }

    /// The REST error object (`errorCode` form for single-record calls).
    pub fn to_rest_json(&self) -> serde_json::Value {
        serde_json::json!({"errorCode": self.code, "message": self.message, "fields": self.fields})
    }

    /// The sObject Collections per-item error object (uses `statusCode`).
    pub fn to_collection_json(&self) -> serde_json::Value {
        serde_json::json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }
}

/// Text that means "set this field to null" in Bulk CSV.
pub const CSV_NULL: &str = "#N/A";

fn deserialize_error(field: &FieldDef, text: &str, xsd: &str) -> RecordError {
    RecordError::on(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        format!(
            "{}: value not of required type: {}",
            field.label,
            text_for_message(text, xsd)
        ),
        &field.name,
    )
}

fn text_for_message(text: &str, _xsd: &str) -> String {
    text.to_string()
}

/// Parses a non-empty text value for `field`. `Ok(Value::Null)` for `#N/A`.
pub fn parse_text_value(field: &FieldDef, text: &str) -> Result<Value, RecordError> {
    if text == CSV_NULL {
        return Ok(Value::Null);
    }
    match field.field_type {
        FieldType::Id | FieldType::Reference => match SfId::parse(text) {
            Some(id) => Ok(Value::String(id.as_str().into())),
            None => Err(RecordError::on(
                "MALFORMED_ID",
                format!("{}: id value of incorrect type: {text}", field.label),
                &field.name,
            )),
        },
        FieldType::Text
        | FieldType::TextArea
        | FieldType::LongTextArea
        | FieldType::Phone
        | FieldType::Url
        | FieldType::AutoNumber => check_length(field, text).map(|()| Value::String(text.into())),
        FieldType::Email => {
            check_length(field, text)?;
            if is_valid_email(text) {
                Ok(Value::String(text.into()))
            } else {
                Err(RecordError::on(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {text}", field.label),
                    &field.name,
                ))
            }
        }
        FieldType::Picklist => parse_picklist(field, text).map(|s| Value::String(s.into())),
        FieldType::MultiselectPicklist => {
            let mut parts = Vec::new();
            for part in text.split(';') {
                parts.push(parse_picklist(field, part.trim())?);
            }
            Ok(Value::String(parts.join(";").into()))
        }
        FieldType::Number | FieldType::Currency | FieldType::Percent => {
            let n =
                parse_number(text).ok_or_else(|| deserialize_error(field, text, "xsd:double"))?;
            check_range(field, n, text)?;
            Ok(Value::Number(round_to_scale(n, field.scale)))
        }
        FieldType::Checkbox => parse_boolean(text)
            .map(Value::Boolean)
            .ok_or_else(|| deserialize_error(field, text, "xsd:boolean")),
        FieldType::Date => parse_date(text)
            .map(Value::Date)
            .ok_or_else(|| deserialize_error(field, text, "xsd:date")),
        FieldType::DateTime => parse_datetime(text)
            .map(Value::DateTime)
            .ok_or_else(|| deserialize_error(field, text, "xsd:dateTime")),
    }
}

/// Converts a JSON scalar from a REST body into a field value.
pub fn parse_json_value(field: &FieldDef, value: &serde_json::Value) -> Result<Value, RecordError> {
    match value {
        serde_json::Value::Null => Ok(Value::Null),
        serde_json::Value::String(s) => {
            if s.is_empty() {
                Ok(Value::Null)
            } else if s == CSV_NULL {
                // In JSON, "#N/A" is ordinary text, not a null marker.
                if field.field_type.is_textual() {
                    check_length(field, s).map(|()| Value::String(s.clone().into()))
                } else {
                    Err(deserialize_error(field, s, "json"))
                }
            } else {
                parse_text_value(field, s)
            }
        }
        serde_json::Value::Bool(b) => match field.field_type {
            FieldType::Checkbox => Ok(Value::Boolean(*b)),
            _ if field.field_type.is_textual() => parse_text_value(field, &b.to_string()),
            _ => Err(deserialize_error(field, &b.to_string(), "json")),
        },
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            match field.field_type {
                FieldType::Number | FieldType::Currency | FieldType::Percent => {
                    let v = n.as_f64().unwrap_or(f64::NAN);
                    check_range(field, v, &text)?;
                    Ok(Value::Number(round_to_scale(v, field.scale)))
                }
                _ => parse_text_value(field, &text),
            }
        }
        other => Err(RecordError::on(
            "JSON_PARSER_ERROR",
            format!(
                "Cannot deserialize instance of {} from {} value",
                field.field_type.describe_name(),
                json_kind(other)
            ),
            &field.name,
        )),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "START_ARRAY",
        serde_json::Value::Object(_) => "START_OBJECT",
        _ => "VALUE",
    }
}

fn check_length(field: &FieldDef, text: &str) -> Result<(), RecordError> {
    if let Some(max) = field.length {
        let len = text.chars().count();
        if len > max as usize {
            return Err(RecordError::on(
                "STRING_TOO_LONG",
                format!(
                    "{}: data value too large: {} (max length={max})",
                    field.label, text
                ),
                &field.name,
            ));
        }
    }
    Ok(())
}

fn parse_picklist(field: &FieldDef, text: &str) -> Result<String, RecordError> {
    check_length(field, text)?;
    let Some(picklist) = &field.picklist else {
        return Ok(text.to_string());
    };
    if let Some(v) = picklist.values.iter().find(|v| v.as_str() == text) {
        return Ok(v.clone());
    }
    if let Some(v) = picklist
        .values
        .iter()
        .find(|v| v.eq_ignore_ascii_case(text))
    {
        return Ok(v.clone());
    }
    if picklist.restricted {
        Err(RecordError::on(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            format!(
                "{}: bad value for restricted picklist field: {text}",
                field.label
            ),
            &field.name,
        ))
    } else {
        Ok(text.to_string())
    }
}

fn check_range(field: &FieldDef, n: f64, text: &str) -> Result<(), RecordError> {
    if !n.is_finite() {
        return Err(deserialize_error(field, text, "xsd:double"));
    }
    let precision = field.precision.unwrap_or(18);
    let scale = field.scale.unwrap_or(0);
    let integer_digits = precision.saturating_sub(scale) as i32;
    if n.abs() >= 10f64.powi(integer_digits) {
        return Err(RecordError::on(
            "NUMBER_OUTSIDE_VALID_RANGE",
            format!(
                "{}: value outside of valid range on numeric field: {text}",
                field.label
            ),
            &field.name,
        ));
    }
    Ok(())
}

fn round_to_scale(n: f64, scale: Option<u32>) -> f64 {
    match scale {
        Some(s) if s < 10 => {
            let f = 10f64.powi(s as i32);
            (n * f).round() / f
        }
        _ => n,
    }
}

/// Numbers as Salesforce accepts them: plain decimals or scientific notation, optional sign.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Booleans: `true`/`false` in any case, plus `1`/`0` and `yes`/`no`.
pub fn parse_boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Dates are `yyyy-MM-dd` only.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if t.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()
}

/// Datetimes: `yyyy-MM-ddTHH:mm:ss[.SSS](Z|±HH:mm|±HHmm)`; a value without a zone is UTC.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(dt) = DateTime::<FixedOffset>::parse_from_str(t, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc());
        }
    }
    None
}

/// A deliberately plain address check: one `@`, a non-empty local part, a dotted domain,
/// no spaces. Salesforce rejects the same obvious mistakes.
pub fn is_valid_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::super::schema::Picklist;
    use super::*;

    fn field(name: &str, t: FieldType) -> FieldDef {
        FieldDef::new(name, t)
    }

    #[test]
    fn record_errors_render_like_bulk_results() {
        let e = RecordError::on(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            "LastName",
        );
        assert_eq!(
            e.to_bulk_text(),
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
        );
        let e = RecordError::new("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id");
        assert_eq!(
            e.to_bulk_text(),
            "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--"
        );
    }

    #[test]
    fn text_longer_than_the_field_is_string_too_long() {
        let mut f = field("Shopify_Customer_ID__c", FieldType::Text);
        f.length = Some(3);
        assert_eq!(
            parse_text_value(&f, "abc").unwrap(),
            Value::String("abc".into())
        );
        let err = parse_text_value(&f, "abcd").unwrap_err();
        assert_eq!(err.code, "STRING_TOO_LONG");
        assert!(err.message.contains("max length=3"), "{}", err.message);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let mut f = field("FirstName", FieldType::Text);
        f.length = Some(4);
        assert!(parse_text_value(&f, "Zoë!").is_ok());
    }

    #[test]
    fn restricted_picklists_reject_unknown_values_and_normalise_case() {
        let mut f = field("Churn_Risk__c", FieldType::Picklist);
        f.label = "Churn Risk".into();
        f.picklist = Some(Picklist {
            values: vec!["low".into(), "high".into()],
            restricted: true,
            default: None,
        });
        assert_eq!(
            parse_text_value(&f, "HIGH").unwrap(),
            Value::String("high".into())
        );
        let err = parse_text_value(&f, "maybe").unwrap_err();
        assert_eq!(
            err.to_bulk_text(),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Churn Risk: bad value for restricted picklist field: maybe:Churn_Risk__c --"
        );
    }

    #[test]
    fn numbers_accept_scientific_notation_and_check_precision() {
        let mut f = field("Total_Spend__c", FieldType::Currency);
        f.precision = Some(5);
        f.scale = Some(2);
        assert_eq!(
            parse_text_value(&f, "9.12e2").unwrap(),
            Value::Number(912.0)
        );
        assert_eq!(parse_text_value(&f, "1.005").unwrap(), Value::Number(1.0));
        assert_eq!(
            parse_text_value(&f, "1000").unwrap_err().code,
            "NUMBER_OUTSIDE_VALID_RANGE"
        );
        assert_eq!(
            parse_text_value(&f, "12abc").unwrap_err().code,
            "INVALID_TYPE_ON_FIELD_IN_RECORD"
        );
    }

    #[test]
    fn dates_and_datetimes_follow_the_bulk_formats() {
        let d = field("Birthdate", FieldType::Date);
        assert!(parse_text_value(&d, "2026-02-28").is_ok());
        assert!(parse_text_value(&d, "2026-02-30").is_err());
        assert!(parse_text_value(&d, "28/02/2026").is_err());
        let dt = field("Shopify_Created_At__c", FieldType::DateTime);
        let a = parse_text_value(&dt, "2002-10-10T12:00:00+05:00").unwrap();
        let b = parse_text_value(&dt, "2002-10-10T07:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(parse_text_value(&dt, "2002-10-10T07:00:00.123+0000").is_ok());
        assert!(parse_text_value(&dt, "yesterday").is_err());
    }

    #[test]
    fn booleans_accept_common_spellings() {
        let f = field("DoNotCall", FieldType::Checkbox);
        assert_eq!(parse_text_value(&f, "True").unwrap(), Value::Boolean(true));
        assert_eq!(parse_text_value(&f, "0").unwrap(), Value::Boolean(false));
        assert!(parse_text_value(&f, "maybe").is_err());
    }

    #[test]
    fn na_marker_means_null() {
        let f = field("Phone", FieldType::Phone);
        assert_eq!(parse_text_value(&f, "#N/A").unwrap(), Value::Null);
    }

    #[test]
    fn emails_are_checked() {
        let f = field("Email", FieldType::Email);
        assert!(parse_text_value(&f, "ada@example.com").is_ok());
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@@example.com",
            "ada @example.com",
            "ada@example",
        ] {
            assert_eq!(
                parse_text_value(&f, bad).unwrap_err().code,
                "INVALID_EMAIL_ADDRESS",
                "{bad}"
            );
        }
    }

    #[test]
    fn references_must_be_ids() {
        let f = field("AccountId", FieldType::Reference);
        assert!(parse_text_value(&f, "001A000000AhD4k").is_ok());
        assert_eq!(
            parse_text_value(&f, "not-an-id").unwrap_err().code,
            "MALFORMED_ID"
        );
    }
}
