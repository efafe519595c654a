//! Bulk API 2.0 ingest data: CSV dialects, header planning, per-row saves, and the
//! successful / failed / unprocessed result files.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::dml::{self, SaveContext, UpsertKey, Write};
use super::ids::SfId;
use super::org::{ObjectPos, Org};
use super::schema::{FieldType, Value};
use super::values::{self, CSV_NULL, RecordError};

/// Ingest operations (`operation` in the create-job body; case-sensitive as in Salesforce).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    #[serde(rename = "insert")]
    Insert,
    #[serde(rename = "update")]
    Update,
    #[serde(rename = "upsert")]
    Upsert,
    #[serde(rename = "delete")]
    Delete,
    #[serde(rename = "hardDelete")]
    HardDelete,
}

impl Operation {
    pub fn parse(text: &str) -> Option<Operation> {
        match text {
            "insert" => Some(Operation::Insert),
            "update" => Some(Operation::Update),
            "upsert" => Some(Operation::Upsert),
            "delete" => Some(Operation::Delete),
            "hardDelete" => Some(Operation::HardDelete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
            Operation::HardDelete => "hardDelete",
        }
    }
}

/// `columnDelimiter` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnDelimiter {
    #[serde(rename = "COMMA")]
    Comma,
    #[serde(rename = "BACKQUOTE")]
    Backquote,
    #[serde(rename = "CARET")]
    Caret,
    #[serde(rename = "PIPE")]
    Pipe,
    #[serde(rename = "SEMICOLON")]
    Semicolon,
    #[serde(rename = "TAB")]
    Tab,
}

impl ColumnDelimiter {
    pub fn parse(text: &str) -> Option<ColumnDelimiter> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ColumnDelimiter::Comma => "COMMA",
            ColumnDelimiter::Backquote => "BACKQUOTE",
            ColumnDelimiter::Caret => "CARET",
            ColumnDelimiter::Pipe => "PIPE",
            ColumnDelimiter::Semicolon => "SEMICOLON",
            ColumnDelimiter::Tab => "TAB",
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            ColumnDelimiter::Comma => b',',
            ColumnDelimiter::Backquote => b'`',
            ColumnDelimiter::Caret => b'^',
            ColumnDelimiter::Pipe => b'|',
            ColumnDelimiter::Semicolon => b';',
            ColumnDelimiter::Tab => b'\t',
        }
    }
}

/// `lineEnding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineEnding {
    #[serde(rename = "LF")]
    Lf,
    #[serde(rename = "CRLF")]
    Crlf,
}

impl LineEnding {
    pub fn parse(text: &str) -> Option<LineEnding> {
        match text {
            "LF" => Some(LineEnding::Lf),
            "CRLF" => Some(LineEnding::Crlf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Lf => "LF",
            LineEnding::Crlf => "CRLF",
        }
    }

    fn terminator(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::Crlf => b"\r\n",
        }
    }
}

/// The CSV dialect of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: ColumnDelimiter,
    pub line_ending: LineEnding,
}

impl Dialect {
    pub fn reader<'a>(&self, data: &'a [u8]) -> csv::Reader<&'a [u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter.byte())
            .has_headers(false)
            .flexible(true)
            .terminator(match self.line_ending {
                LineEnding::Lf => csv::Terminator::Any(b'\n'),
                LineEnding::Crlf => csv::Terminator::CRLF,
            })
            .from_reader(data)
    }

    fn writer(&self, quote_all: bool) -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .delimiter(self.delimiter.byte())
            .terminator(match self.line_ending {
                LineEnding::Lf => csv::Terminator::Any(b'\n'),
                LineEnding::Crlf => csv::Terminator::CRLF,
            })
            .quote_style(if quote_all {
                csv::QuoteStyle::Always
            } else {
                csv::QuoteStyle::Necessary
            })
            .from_writer(Vec::new())
    }

    /// A whole-job check Salesforce makes before processing: the first line must end
    /// with the declared line ending.
    pub fn check_line_ending(&self, data: &[u8]) -> Result<(), String> {
        let Some(nl) = data.iter().position(|b| *b == b'\n') else {
            return Ok(());
        };
        let crlf = nl > 0 && data[nl - 1] == b'\r';
        match (self.line_ending, crlf) {
            (LineEnding::Lf, true) | (LineEnding::Crlf, false) => Err(format!(
                "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {}",
                self.line_ending.as_str()
            )),
            _ => Ok(()),
        }
    }
}

/// What a CSV column writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// The record Id (key for update, delete and upsert on `Id`).
    Id,
    /// A field of the object.
    Field(usize),
    /// `Relationship.IndexedField`: resolves a parent by its indexed field and writes the
    /// reference field.
    Relationship {
        reference_field: usize,
        parent_object: ObjectPos,
        parent_field: usize,
    },
}

/// The header, resolved against the object once per job.
#[derive(Debug, Clone)]
pub struct Plan {
    pub object: ObjectPos,
    pub operation: Operation,
    pub columns: Vec<Column>,
    /// Column holding the upsert key (external ID or Id).
    pub key_column: Option<usize>,
    pub upsert_key: Option<UpsertKey>,
}

/// Resolves a header row. Errors are the job's `errorMessage` (the job fails whole).
pub fn plan(
    org: &Org,
    object: ObjectPos,
    operation: Operation,
    external_id_field: Option<&str>,
    header: &[String],
) -> Result<Plan, String> {
    let def = org.object_def(object);
    let mut columns = Vec::with_capacity(header.len());
    let mut seen: HashMap<String, ()> = HashMap::new();
    for name in header {
        if seen.insert(name.to_ascii_lowercase(), ()).is_some() {
            return Err(format!("InvalidBatch : Duplicate field name: {name}"));
        }
        let column = if let Some((rel_part, parent_field_name)) = name.split_once('.') {
            let (type_prefix, rel_name) = match rel_part.split_once(':') {
                Some((t, r)) => (Some(t), r),
                None => (None, rel_part),
            };
            let Some((reference_field, reference)) = def.relationship(rel_name) else {
                return Err(format!("InvalidBatch : Field name not found : {name}"));
            };
            let polymorphic = reference.reference_to.len() > 1;
            let parent_name = match (type_prefix, polymorphic) {
                (Some(t), true) => {
                    if !reference
                        .reference_to
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(t))
                    {
                        return Err(format!("InvalidBatch : Field name not found : {name}"));
                    }
                    t.to_string()
                }
                (None, false) => reference.reference_to[0].clone(),
                (Some(_), false) => {
                    return Err(format!(
                        "InvalidBatch : Polymorphic prefix given for the non-polymorphic relationship: {name}"
                    ));
                }
                (None, true) => {
                    return Err(format!(
                        "InvalidBatch : Polymorphic relationship needs an object type prefix (ObjectType:{rel_part}.Field): {name}"
                    ));
                }
            };
            let Some(parent_object) = org.schema().position(&parent_name) else {
                return Err(format!("InvalidBatch : Field name not found : {name}"));
            };
            let parent_def = org.object_def(parent_object);
            let Some(parent_field) = parent_def.field_position(parent_field_name) else {
                return Err(format!("InvalidBatch : Field name not found : {name}"));
            };
            if !parent_def.fields[parent_field].is_indexed_lookup() {
                return Err(format!(
                    "InvalidBatch : The field {parent_field_name} on {} is not an External ID or indexed field and cannot be used in relationship column {name}",
                    parent_def.name
                ));
            }
            Column::Relationship {
                reference_field,
                parent_object,
                parent_field,
            }
        } else {
            match def.field_position(name) {
                Some(i) if def.fields[i].field_type == FieldType::Id => Column::Id,
                Some(i) => Column::Field(i),
                None => return Err(format!("InvalidBatch : Field name not found : {name}")),
            }
        };
        columns.push(column);
    }
    let (key_column, upsert_key) = match operation {
        Operation::Upsert => {
            let key_name = external_id_field.unwrap_or("Id");
            let field = def.field_position(key_name);
            match field {
                Some(i) if def.fields[i].field_type == FieldType::Id => (
                    columns.iter().position(|c| *c == Column::Id),
                    Some(UpsertKey::Id),
                ),
                Some(i) => (
                    columns.iter().position(|c| *c == Column::Field(i)),
                    Some(UpsertKey::Field(i)),
                ),
                None => return Err(format!("InvalidBatch : Field name not found : {key_name}")),
            }
        }
        Operation::Update | Operation::Delete | Operation::HardDelete => {
            let id = columns.iter().position(|c| *c == Column::Id);
            if id.is_none() {
                return Err("InvalidBatch : Field name not found : Id".to_string());
            }
            (id, None)
        }
        Operation::Insert => (None, None),
    };
    Ok(Plan {
        object,
        operation,
        columns,
        key_column,
        upsert_key,
    })
}

/// The result of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    Created(SfId),
    Updated(SfId),
    Failed { id: Option<SfId>, error: Box<str> },
    Unprocessed,
}

impl RowOutcome {
    pub fn failed(error: &RecordError, id: Option<SfId>) -> RowOutcome {
        RowOutcome::Failed {
            id,
            error: error.to_bulk_text().into_boxed_str(),
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, RowOutcome::Created(_) | RowOutcome::Updated(_))
    }
}

/// Keys used more than once in one job: Salesforce rejects every row that shares one.
pub fn duplicate_keys(org: &Org, plan: &Plan, rows: &[csv::StringRecord]) -> HashMap<String, u32> {
    let Some(k) = plan.key_column else {
        return HashMap::new();
    };
    let case_sensitive = match plan.upsert_key {
        Some(UpsertKey::Field(f)) => org.object_def(plan.object).fields[f].case_sensitive,
        _ => true,
    };
    let mut counts: HashMap<String, u32> = HashMap::with_capacity(rows.len());
    for row in rows {
        let key = row.get(k).unwrap_or("");
        if key.is_empty() {
            continue;
        }
        let key = normalise_key(
            key,
            case_sensitive,
            plan.upsert_key.is_none() || plan.upsert_key == Some(UpsertKey::Id),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts.retain(|_, n| *n > 1);
    counts
}

fn normalise_key(key: &str, case_sensitive: bool, is_id: bool) -> String {
    if is_id {
        SfId::parse(key)
            .map(|id| id.to_string())
            .unwrap_or_else(|| key.to_string())
    } else if case_sensitive {
        key.to_string()
    } else {
        key.to_lowercase()
    }
}

/// Called for every row before it is saved with the parent records it references; may
/// fail the row (lock contention simulation).
pub trait RowGate {
    fn check(&mut self, parents: &[SfId]) -> Option<RecordError>;
}

/// No gate: every row proceeds.
pub struct OpenGate;

impl RowGate for OpenGate {
    fn check(&mut self, _parents: &[SfId]) -> Option<RecordError> {
        None
    }
}

/// Saves one CSV row.
pub fn apply_row(
    org: &mut Org,
    plan: &Plan,
    row: &csv::StringRecord,
    duplicates: &HashMap<String, u32>,
    gate: &mut dyn RowGate,
    ctx: SaveContext,
) -> RowOutcome {
    match build_row(org, plan, row, duplicates, gate) {
        Ok((write, key)) => save_row(org, plan, write, key.as_deref(), ctx),
        Err((error, id)) => RowOutcome::failed(&error, id),
    }
}

type RowFailure = (RecordError, Option<SfId>);

fn build_row(
    org: &Org,
    plan: &Plan,
    row: &csv::StringRecord,
    duplicates: &HashMap<String, u32>,
    gate: &mut dyn RowGate,
) -> Result<(Write, Option<String>), RowFailure> {
    let def = org.object_def(plan.object);
    if row.len() != plan.columns.len() {
        return Err((
            RecordError::new(
                "INVALID_FIELD",
                format!(
                    "Row has {} columns but the header has {}; check quoting and the column delimiter",
                    row.len(),
                    plan.columns.len()
                ),
            ),
            None,
        ));
    }
    let key = plan
        .key_column
        .and_then(|k| row.get(k))
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    let existing_id = match (&key, plan.upsert_key) {
        (Some(k), None) | (Some(k), Some(UpsertKey::Id)) => SfId::parse(k),
        _ => None,
    };
    if let Some(k) = &key
        && !duplicates.is_empty()
    {
        let case_sensitive = match plan.upsert_key {
            Some(UpsertKey::Field(f)) => def.fields[f].case_sensitive,
            _ => true,
        };
        let is_id = plan.upsert_key.is_none() || plan.upsert_key == Some(UpsertKey::Id);
        if duplicates.contains_key(&normalise_key(k, case_sensitive, is_id)) {
            let error = if is_id {
                RecordError::new("DUPLICATE_VALUE", format!("Duplicate id in list: {k}"))
            } else {
                RecordError::new(
                    "DUPLICATE_VALUE",
                    format!("Duplicate external id specified: {k}"),
                )
            };
            return Err((error, existing_id));
        }
    }
    if matches!(plan.operation, Operation::Delete | Operation::HardDelete) {
        return Ok((Vec::new(), key));
    }
    let mut write: Write = Vec::with_capacity(row.len());
    let mut parents: Vec<SfId> = Vec::new();
    for (column, cell) in plan.columns.iter().zip(row.iter()) {
        if cell.is_empty() {
            continue;
        }
        match column {
            Column::Id => {
                if plan.operation == Operation::Insert {
                    return Err((
                        RecordError::on(
                            "INVALID_FIELD_FOR_INSERT_UPDATE",
                            "cannot specify Id in an insert call",
                            "Id",
                        ),
                        None,
                    ));
                }
            }
            Column::Field(i) => {
                let field = &def.fields[*i];
                let value = values::parse_text_value(field, cell).map_err(|e| (e, existing_id))?;
                if field.field_type == FieldType::Reference
                    && let Value::String(s) = &value
                {
                    parents.extend(SfId::parse(s));
                }
                write.push((*i, value));
            }
            Column::Relationship {
                reference_field,
                parent_object,
                parent_field,
            } => {
                if cell == CSV_NULL {
                    write.push((*reference_field, Value::Null));
                    continue;
                }
                let parent_def = org.object_def(*parent_object);
                let matches = org.lookup(*parent_object, *parent_field, cell);
                let parent_field_name = &parent_def.fields[*parent_field].name;
                match matches.as_slice() {
                    [slot] => {
                        let id = org.record(*parent_object, *slot).map(|r| r.id);
                        if let Some(id) = id {
                            parents.push(id);
                            write.push((*reference_field, Value::String(id.to_string())));
                        }
                    }
                    [] => {
                        return Err((
                            RecordError::new(
                                "INVALID_FIELD",
                                format!(
                                    "Foreign key external ID: {cell} not found for field {parent_field_name} in entity {}",
                                    parent_def.name
                                ),
                            ),
                            existing_id,
                        ));
                    }
                    _ => {
                        return Err((
                            RecordError::new(
                                "INVALID_FIELD",
                                format!(
                                    "More than 1 record found for external id field {parent_field_name} in entity {} with value {cell}",
                                    parent_def.name
                                ),
                            ),
                            existing_id,
                        ));
                    }
                }
            }
        }
    }
    if let Some(error) = gate.check(&parents) {
        return Err((error, existing_id));
    }
    Ok((write, key))
}

fn save_row(
    org: &mut Org,
    plan: &Plan,
    write: Write,
    key: Option<&str>,
    ctx: SaveContext,
) -> RowOutcome {
    let object = plan.object;
    let result = match plan.operation {
        Operation::Insert => dml::insert(org, object, write, ctx),
        Operation::Upsert => {
            let upsert_key = plan.upsert_key.unwrap_or(UpsertKey::Id);
            dml::upsert(org, object, upsert_key, key, write, ctx)
        }
        Operation::Update => {
            let def = org.object_def(object);
            let text = key.unwrap_or("");
            match SfId::parse(text).filter(|id| id.prefix() == def.key_prefix) {
                None => Err(RecordError::on(
                    "MALFORMED_ID",
                    format!("{} ID: id value of incorrect type: {text}", def.label),
                    "Id",
                )),
                Some(id) => match org.find_in(object, &id) {
                    Some(slot) => dml::update(org, object, slot, write, ctx),
                    None => Err(RecordError::new("ENTITY_IS_DELETED", "entity is deleted")),
                },
            }
        }
        Operation::Delete | Operation::HardDelete => {
            dml::delete(org, object, key.unwrap_or(""), ctx)
        }
    };
    match result {
        Ok(saved) if saved.created => RowOutcome::Created(saved.id),
        Ok(saved) => RowOutcome::Updated(saved.id),
        Err(error) => {
            let id = match (plan.operation, key) {
                (Operation::Insert, _) => None,
                (_, Some(k)) => SfId::parse(k).or_else(|| match plan.upsert_key {
                    Some(UpsertKey::Field(f)) => {
                        let found = org.lookup(object, f, k);
                        found
                            .first()
                            .and_then(|s| org.record(object, *s))
                            .map(|r| r.id)
                    }
                    _ => None,
                }),
                _ => None,
            };
            RowOutcome::failed(&error, id)
        }
    }
}

/// Which result file to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

/// Renders a result file from the uploaded CSV and the per-row outcomes. `order` gives
/// the order rows are written in (Salesforce does not keep upload order).
pub fn render_results(
    kind: ResultKind,
    dialect: Dialect,
    data: &[u8],
    outcomes: &[RowOutcome],
    order: Option<&[u32]>,
) -> Vec<u8> {
    let mut reader = dialect.reader(data);
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let rows: Vec<csv::StringRecord> = records.filter_map(Result::ok).collect();
    let delimiter = dialect.delimiter.byte() as char;
    let mut out = Vec::with_capacity(data.len() + outcomes.len() * 32);
    // Header: the sf__ columns quoted, the uploaded header as uploaded.
    let mut header_line = String::new();
    match kind {
        ResultKind::Successful => {
            header_line.push_str("\"sf__Id\"");
            header_line.push(delimiter);
            header_line.push_str("\"sf__Created\"");
        }
        ResultKind::Failed => {
            header_line.push_str("\"sf__Id\"");
            header_line.push(delimiter);
            header_line.push_str("\"sf__Error\"");
        }
        ResultKind::Unprocessed => {}
    }
    let mut header_writer = dialect.writer(false);
    let _ = header_writer.write_record(&header);
    let echoed = header_writer.into_inner().unwrap_or_default();
    let echoed = String::from_utf8_lossy(&echoed);
    let echoed = echoed.trim_end_matches(['\r', '\n']);
    if kind != ResultKind::Unprocessed && !header.is_empty() {
        header_line.push(delimiter);
    }
    header_line.push_str(echoed);
    out.extend_from_slice(header_line.as_bytes());
    out.extend_from_slice(dialect.line_ending.terminator());

    let mut writer = dialect.writer(true);
    let indices: Box<dyn Iterator<Item = usize>> = match order {
        Some(o) => Box::new(o.iter().map(|i| *i as usize)),
        None => Box::new(0..rows.len()),
    };
    for i in indices {
        let (Some(row), Some(outcome)) = (rows.get(i), outcomes.get(i)) else {
            continue;
        };
        let id_text;
        let mut cells: Vec<&str> = Vec::with_capacity(row.len() + 2);
        match (kind, outcome) {
            (ResultKind::Successful, RowOutcome::Created(id)) => {
                id_text = id.to_string();
                cells.push(&id_text);
                cells.push("true");
            }
            (ResultKind::Successful, RowOutcome::Updated(id)) => {
                id_text = id.to_string();
                cells.push(&id_text);
                cells.push("false");
            }
            (ResultKind::Failed, RowOutcome::Failed { id, error }) => {
                id_text = id.map(|i| i.to_string()).unwrap_or_default();
                cells.push(&id_text);
                cells.push(error);
            }
            (ResultKind::Unprocessed, RowOutcome::Unprocessed) => {}
            _ => continue,
        }
        cells.extend(row.iter());
        let _ = writer.write_record(&cells);
    }
    out.extend(writer.into_inner().unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_and_line_endings_parse_their_api_names() {
        assert_eq!(ColumnDelimiter::parse("PIPE"), Some(ColumnDelimiter::Pipe));
        assert_eq!(ColumnDelimiter::parse("pipe"), None);
        assert_eq!(LineEnding::parse("CRLF"), Some(LineEnding::Crlf));
        assert_eq!(Operation::parse("hardDelete"), Some(Operation::HardDelete));
        assert_eq!(Operation::parse("INSERT"), None);
    }

    #[test]
    fn a_crlf_file_in_an_lf_job_is_rejected() {
        let lf = Dialect {
            delimiter: ColumnDelimiter::Comma,
            line_ending: LineEnding::Lf,
        };
        assert!(lf.check_line_ending(b"a,b\r\n1,2\r\n").is_err());
        assert!(lf.check_line_ending(b"a,b\n1,2\n").is_ok());
        let crlf = Dialect {
            delimiter: ColumnDelimiter::Comma,
            line_ending: LineEnding::Crlf,
        };
        assert!(crlf.check_line_ending(b"a,b\n1,2\n").is_err());
        assert!(crlf.check_line_ending(b"a,b\r\n1,2\r\n").is_ok());
    }

    #[test]
    fn results_quote_every_value_and_echo_the_header() {
        let dialect = Dialect {
            delimiter: ColumnDelimiter::Comma,
            line_ending: LineEnding::Lf,
        };
        let data = b"Name,Note\nAda,\"a, \"\"quoted\"\" note\"\nBob,x\n";
        let id = SfId::new("001", "5g", 7);
        let outcomes = vec![
            RowOutcome::Created(id),
            RowOutcome::Failed {
                id: None,
                error: "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --".into(),
            },
        ];
        let ok = String::from_utf8(render_results(
            ResultKind::Successful,
            dialect,
            data,
            &outcomes,
            None,
        ))
        .unwrap();
        assert_eq!(
            ok,
            format!(
                "\"sf__Id\",\"sf__Created\",Name,Note\n\"{id}\",\"true\",\"Ada\",\"a, \"\"quoted\"\" note\"\n"
            )
        );
        let failed = String::from_utf8(render_results(
            ResultKind::Failed,
            dialect,
            data,
            &outcomes,
            None,
        ))
        .unwrap();
        assert_eq!(
            failed,
            "\"sf__Id\",\"sf__Error\",Name,Note\n\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --\",\"Bob\",\"x\"\n"
        );
        let none = String::from_utf8(render_results(
            ResultKind::Unprocessed,
            dialect,
            data,
            &outcomes,
            None,
        ))
        .unwrap();
        assert_eq!(none, "Name,Note\n");
    }

    #[test]
    fn results_use_the_jobs_dialect() {
        let dialect = Dialect {
            delimiter: ColumnDelimiter::Pipe,
            line_ending: LineEnding::Crlf,
        };
        let data = b"Name|Note\r\nAda|x\r\n";
        let outcomes = vec![RowOutcome::Unprocessed];
        let text = String::from_utf8(render_results(
            ResultKind::Unprocessed,
            dialect,
            data,
            &outcomes,
            None,
        ))
        .unwrap();
        assert_eq!(text, "Name|Note\r\n\"Ada\"|\"x\"\r\n");
    }
}
