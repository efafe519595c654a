//! Bulk API 2.0 ingest data: CSV dialects, header planning, per-row saves, and the
//! successful / failed / unprocessed result files.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

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

/// Keys used by more than one row of a job: Salesforce rejects every row that shares
/// one (`DUPLICATE_VALUE`), whatever the order of the rows.
#[derive(Debug, Default)]
pub struct DuplicateKeys {
    /// Normalised keys seen more than once.
    keys: HashSet<String>,
    case_sensitive: bool,
    is_id: bool,
}

impl DuplicateKeys {
    /// Whether `key` (as written in a row) is one of the repeated keys.
    pub fn contains(&self, key: &str) -> bool {
        !self.keys.is_empty()
            && self
                .keys
                .contains(&*normalise_key(key, self.case_sensitive, self.is_id))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What a first pass over an upload learns before any row is saved.
#[derive(Debug)]
pub struct UploadScan {
    /// Data rows (the header excluded).
    pub rows: usize,
    pub duplicates: DuplicateKeys,
}

/// Reads every data row of an upload once: checks that each parses (a row that does not
/// fails the whole job, before anything is saved, as Salesforce does) and finds the keys
/// used more than once. Keys are compared by 64-bit hash first, and only the rare repeated
/// hashes are re-read as text, so a million-row job keeps 8 bytes per distinct key rather
/// than a copy of every key.
pub fn scan_upload(
    org: &Org,
    plan: &Plan,
    dialect: Dialect,
    data: &[u8],
) -> Result<UploadScan, String> {
    let case_sensitive = match plan.upsert_key {
        Some(UpsertKey::Field(f)) => org.object_def(plan.object).fields[f].case_sensitive,
        _ => true,
    };
    let is_id = plan.upsert_key.is_none() || plan.upsert_key == Some(UpsertKey::Id);
    let hasher = foldhash::fast::FixedState::with_seed(0x6475_706b_6579_7321);
    let key_hash = |key: &str| hasher.hash_one(&*normalise_key(key, case_sensitive, is_id));

    let mut seen: HashSet<u64, foldhash::fast::FixedState> = HashSet::default();
    let mut repeated: HashSet<u64, foldhash::fast::FixedState> = HashSet::default();
    let mut rows = 0usize;
    for_each_row(dialect, data, |n, row| {
        rows = n + 1;
        if let Some(key) = plan
            .key_column
            .and_then(|k| row.get(k))
            .filter(|k| !k.is_empty())
        {
            let hash = key_hash(key);
            if !seen.insert(hash) {
                repeated.insert(hash);
            }
        }
        Ok(())
    })?;
    drop(seen);

    let mut keys = HashSet::new();
    if !repeated.is_empty() {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for_each_row(dialect, data, |_, row| {
            if let Some(key) = plan
                .key_column
                .and_then(|k| row.get(k))
                .filter(|k| !k.is_empty())
                && repeated.contains(&key_hash(key))
            {
                *counts
                    .entry(normalise_key(key, case_sensitive, is_id).into_owned())
                    .or_insert(0) += 1;
            }
            Ok(())
        })?;
        keys = counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, _)| k)
            .collect();
    }
    Ok(UploadScan {
        rows,
        duplicates: DuplicateKeys {
            keys,
            case_sensitive,
            is_id,
        },
    })
}

/// Calls `visit` with each data row of an upload (numbered from 0, header skipped),
/// reusing one record buffer. A row that does not parse stops the walk with the job's
/// error message.
pub fn for_each_row(
    dialect: Dialect,
    data: &[u8],
    mut visit: impl FnMut(usize, &csv::StringRecord) -> Result<(), String>,
) -> Result<(), String> {
    let mut reader = dialect.reader(data);
    let mut row = csv::StringRecord::new();
    let mut n = 0usize;
    let mut header = true;
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) if header => header = false,
            Ok(true) => {
                visit(n, &row)?;
                n += 1;
            }
            Err(e) => {
                return Err(format!(
                    "ClientInputError : CSV row {} could not be parsed: {e}",
                    n + 2
                ));
            }
        }
    }
}

fn normalise_key(key: &str, case_sensitive: bool, is_id: bool) -> Cow<'_, str> {
    if is_id {
        SfId::parse(key)
            .map(|id| Cow::Owned(id.to_string()))
            .unwrap_or(Cow::Borrowed(key))
    } else {
        super::org::normalised(key, case_sensitive)
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
    duplicates: &DuplicateKeys,
    gate: &mut dyn RowGate,
    ctx: SaveContext,
) -> RowOutcome {
    match build_row(org, plan, row, duplicates, gate) {
        Ok((write, key)) => save_row(org, plan, write, key, ctx),
        Err((error, id)) => RowOutcome::failed(&error, id),
    }
}

type RowFailure = (RecordError, Option<SfId>);

fn build_row<'r>(
    org: &Org,
    plan: &Plan,
    row: &'r csv::StringRecord,
    duplicates: &DuplicateKeys,
    gate: &mut dyn RowGate,
) -> Result<(Write, Option<&'r str>), RowFailure> {
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
        .filter(|k| !k.is_empty());
    let existing_id = match (key, plan.upsert_key) {
        (Some(k), None) | (Some(k), Some(UpsertKey::Id)) => SfId::parse(k),
        _ => None,
    };
    if let Some(k) = key
        && duplicates.contains(k)
    {
        let is_id = plan.upsert_key.is_none() || plan.upsert_key == Some(UpsertKey::Id);
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
                let mut matches = org.lookup_each(*parent_object, *parent_field, cell);
                let parent_field_name = &parent_def.fields[*parent_field].name;
                match (matches.next(), matches.next()) {
                    (Some(slot), None) => {
                        let id = org.record(*parent_object, slot).map(|r| r.id);
                        if let Some(id) = id {
                            parents.push(id);
                            write.push((*reference_field, Value::String(id.as_str().into())));
                        }
                    }
                    (None, _) => {
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

/// Renders a whole result file into memory (see [`render_results_in_chunks`]).
pub fn render_results(
    kind: ResultKind,
    dialect: Dialect,
    data: &[u8],
    outcomes: &[RowOutcome],
    order: Option<&[u32]>,
) -> Vec<u8> {
    let mut file = Vec::new();
    render_results_in_chunks(
        kind,
        dialect,
        data,
        outcomes,
        order,
        usize::MAX,
        &mut |chunk| {
            file.extend_from_slice(&chunk);
            true
        },
    );
    file
}

/// Renders a result file from the uploaded CSV and the per-row outcomes, handing it to
/// `sink` in chunks of about `chunk_size` bytes (so a million-row file can be sent while it
/// is written). `sink` returns false to stop (the client went away). `order` gives the
/// order rows are written in (Salesforce does not keep upload order).
pub fn render_results_in_chunks(
    kind: ResultKind,
    dialect: Dialect,
    data: &[u8],
    outcomes: &[RowOutcome],
    order: Option<&[u32]>,
    chunk_size: usize,
    sink: &mut dyn FnMut(Vec<u8>) -> bool,
) {
    let mut reader = dialect.reader(data);
    let mut row = csv::ByteRecord::new();
    let header: Vec<String> = match reader.read_byte_record(&mut row) {
        Ok(true) => row
            .iter()
            .map(|cell| String::from_utf8_lossy(cell).into_owned())
            .collect(),
        _ => Vec::new(),
    };
    let delimiter = dialect.delimiter.byte();
    let terminator = dialect.line_ending.terminator();
    let wanted = |outcome: &RowOutcome| {
        matches!(
            (kind, outcome),
            (
                ResultKind::Successful,
                RowOutcome::Created(_) | RowOutcome::Updated(_)
            ) | (ResultKind::Failed, RowOutcome::Failed { .. })
                | (ResultKind::Unprocessed, RowOutcome::Unprocessed)
        )
    };
    let wanted_rows = outcomes.iter().filter(|o| wanted(o)).count();
    let expected = if wanted_rows == 0 {
        256
    } else {
        data.len() / outcomes.len().max(1) * wanted_rows + wanted_rows * 40
    };
    let capacity = expected.min(chunk_size.saturating_add(4096));
    let mut out = Vec::with_capacity(capacity);
    // Header: the sf__ columns quoted, the uploaded header as uploaded.
    let mut header_line = String::new();
    let sf_columns = match kind {
        ResultKind::Successful => Some("\"sf__Created\""),
        ResultKind::Failed => Some("\"sf__Error\""),
        ResultKind::Unprocessed => None,
    };
    if let Some(second) = sf_columns {
        header_line.push_str("\"sf__Id\"");
        header_line.push(delimiter as char);
        header_line.push_str(second);
    }
    let mut header_writer = dialect.writer(false);
    let _ = header_writer.write_record(&header);
    let echoed = header_writer.into_inner().unwrap_or_default();
    let echoed = String::from_utf8_lossy(&echoed);
    let echoed = echoed.trim_end_matches(['\r', '\n']);
    if sf_columns.is_some() && !header.is_empty() {
        header_line.push(delimiter as char);
    }
    header_line.push_str(echoed);
    out.extend_from_slice(header_line.as_bytes());
    out.extend_from_slice(terminator);
    if wanted_rows == 0 {
        sink(out);
        return;
    }
    // Hands over the chunk once it is full; false when the sink wants no more.
    let mut flush = |out: &mut Vec<u8>, force: bool| -> bool {
        if out.is_empty() || (!force && out.len() < chunk_size) {
            return true;
        }
        sink(std::mem::replace(out, Vec::with_capacity(capacity)))
    };

    let write_row = |out: &mut Vec<u8>, outcome: &RowOutcome, row: &csv::ByteRecord| {
        let mut first = true;
        let mut cell = |out: &mut Vec<u8>, value: &[u8]| {
            if !first {
                out.push(delimiter);
            }
            first = false;
            push_quoted(out, value);
        };
        match outcome {
            RowOutcome::Created(id) | RowOutcome::Updated(id) => {
                cell(out, id.as_str().as_bytes());
                let created: &[u8] = if matches!(outcome, RowOutcome::Created(_)) {
                    b"true"
                } else {
                    b"false"
                };
                cell(out, created);
            }
            RowOutcome::Failed { id, error } => {
                let id: &[u8] = match id {
                    Some(id) => id.as_str().as_bytes(),
                    None => b"",
                };
                cell(out, id);
                cell(out, error.as_bytes());
            }
            RowOutcome::Unprocessed => {}
        }
        for value in row.iter() {
            cell(out, value);
        }
        out.extend_from_slice(terminator);
    };

    match order {
        // Rows in upload order: one streaming pass, nothing held but the output.
        None => {
            for outcome in outcomes {
                match reader.read_byte_record(&mut row) {
                    Ok(true) => {}
                    _ => break,
                }
                if wanted(outcome) {
                    write_row(&mut out, outcome, &row);
                    if !flush(&mut out, false) {
                        return;
                    }
                }
            }
        }
        // Shuffled order (a fault profile): the wanted rows are needed by position.
        Some(order) => {
            let mut rows: Vec<Option<csv::ByteRecord>> = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                match reader.read_byte_record(&mut row) {
                    Ok(true) => rows.push(wanted(outcome).then(|| row.clone())),
                    _ => break,
                }
            }
            for &i in order {
                if let (Some(Some(row)), Some(outcome)) =
                    (rows.get(i as usize), outcomes.get(i as usize))
                {
                    write_row(&mut out, outcome, row);
                    if !flush(&mut out, false) {
                        return;
                    }
                }
            }
        }
    }
    flush(&mut out, true);
}

/// Writes one field quoted, doubling the quotes inside, as Salesforce's result files do.
fn push_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    let mut rest = value;
    while let Some(q) = rest.iter().position(|b| *b == b'"') {
        out.extend_from_slice(&rest[..=q]);
        out.push(b'"');
        rest = &rest[q + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
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
