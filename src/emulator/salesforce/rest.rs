//! REST resources: SOQL query, sObject describe and CRUD, upsert by external ID, and
//! sObject Collections.

// Handlers return `Err(Response)` to answer early; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value as Json, json};

use super::dml::{self, SaveContext, Saved, UpsertKey, Write};
use super::http::{
    ApiRequest, ApiRequestHead, SharedState, error_response, json_response, lock_poisoned,
    method_not_allowed, not_found, parse_json_body,
};
use super::ids::SfId;
use super::org::{ObjectPos, Org, Record, Slot};
use super::schema::{FieldType, ObjectDef, Schema, Value};
use super::soql::{self, DataSource};
use super::values::{self, RecordError};

/// The org as a SOQL data source.
pub struct OrgSource<'a>(pub &'a Org);

impl DataSource for OrgSource<'_> {
    type Rec = Slot;

    fn schema(&self) -> &Schema {
        self.0.schema()
    }

    fn scan(&self, object: &str) -> Vec<Slot> {
        match self.0.schema().position(object) {
            Some(o) => self.0.slots(o).collect(),
            None => Vec::new(),
        }
    }

    fn value(&self, object: &str, rec: Slot, field: &str) -> Value {
        match self.0.schema().position(object) {
            Some(o) => self.0.value_by_name(o, rec, field),
            None => Value::Null,
        }
    }

    fn parent(&self, object: &str, rec: Slot, reference_field: &str) -> Option<(String, Slot)> {
        let Value::String(id) = self.value(object, rec, reference_field) else {
            return None;
        };
        let id = SfId::parse(&id)?;
        let (o, s) = self.0.find_id(&id)?;
        Some((self.0.object_def(o).name.clone(), s))
    }
}

fn record_url(version: f64, object: &str, id: &str) -> String {
    format!("/services/data/v{version:.1}/sobjects/{object}/{id}")
}

// ---------------------------------------------------------------- query

/// Records per REST query page (default `batchSize`).
const QUERY_PAGE: usize = 2000;

/// `GET query?q=` / `queryAll?q=` and `GET query/{cursor}`.
pub async fn query(state: SharedState, request: ApiRequest) -> Response {
    if request.method != Method::GET {
        return method_not_allowed(&request.method);
    }
    if let Some(cursor) = request.segments.get(1) {
        return next_page(&state, cursor, request.version);
    }
    let Some(text) = request.query.get("q") else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let parsed = match soql::parse(text) {
        Ok(q) => q,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    let Ok(org) = state.org.lock() else {
        return lock_poisoned();
    };
    if let Err(e) = soql::validate(&parsed, org.schema()) {
        return error_response(StatusCode::BAD_REQUEST, e.code, &e.message);
    }
    let columns_only = request.query.get("columns").is_some_and(|c| c == "true");
    if columns_only {
        return json_response(StatusCode::OK, column_metadata(&parsed, org.schema()));
    }
    let output = match soql::execute(&parsed, &OrgSource(&org), Utc::now()) {
        Ok(o) => o,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e.code, &e.message),
    };
    drop(org);
    match output {
        soql::QueryOutput::Count { count, alias, .. } => {
            if parsed
                .select
                .iter()
                .any(|s| matches!(s, soql::SelectItem::Count { field: Some(_), .. }))
            {
                let name = alias.unwrap_or_else(|| "expr0".to_string());
                let mut record = Map::new();
                record.insert("attributes".into(), json!({"type": "AggregateResult"}));
                record.insert(name, json!(count));
                json_response(
                    StatusCode::OK,
                    json!({"totalSize": 1, "done": true, "records": [record]}),
                )
            } else {
                json_response(
                    StatusCode::OK,
                    json!({"totalSize": count, "done": true, "records": []}),
                )
            }
        }
        soql::QueryOutput::Rows {
            object,
            columns,
            rows,
        } => {
            let records: Vec<Json> = rows
                .iter()
                .map(|row| row_json(&object, &columns, row, request.version))
                .collect();
            let page = request
                .headers
                .get("Sforce-Query-Options")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split(',')
                        .find_map(|p| p.trim().strip_prefix("batchSize="))
                })
                .and_then(|n| n.parse::<usize>().ok())
                .map(|n| n.clamp(200, 2000))
                .unwrap_or(QUERY_PAGE);
            page_response(&state, records, 0, page, request.version)
        }
    }
}

fn page_response(
    state: &SharedState,
    mut records: Vec<Json>,
    position: usize,
    page: usize,
    version: f64,
) -> Response {
    let total = records.len() + position;
    if records.len() <= page {
        return json_response(
            StatusCode::OK,
            json!({"totalSize": total, "done": true, "records": records}),
        );
    }
    let rest = records.split_off(page);
    let next_position = position + page;
    let cursor_id = {
        let n = state.next_job_id();
        format!("01g{}-{next_position}", &n.as_str()[3..15])
    };
    if let Ok(mut cursors) = state.cursors.lock() {
        cursors.insert(
            cursor_id.clone(),
            super::state::QueryCursor {
                records: rest,
                position: next_position,
            },
        );
    }
    json_response(
        StatusCode::OK,
        json!({
            "totalSize": total,
            "done": false,
            "nextRecordsUrl": format!("/services/data/v{version:.1}/query/{cursor_id}"),
            "records": records,
        }),
    )
}

fn next_page(state: &SharedState, cursor: &str, version: f64) -> Response {
    let taken = state.cursors.lock().ok().and_then(|mut c| c.remove(cursor));
    let Some(c) = taken else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
    };
    // totalSize stays the whole result's size: records left plus records already served.
    page_response(state, c.records, c.position, QUERY_PAGE, version)
}

/// One query row as REST JSON, with nested objects for relationship columns.
fn row_json(object: &str, columns: &[soql::Column], row: &[Value], version: f64) -> Json {
    let mut root = Map::new();
    let id = columns
        .iter()
        .zip(row)
        .find(|(c, _)| c.path.len() == 1 && c.path[0] == "Id")
        .map(|(_, v)| v.to_text());
    let mut attributes = Map::new();
    attributes.insert("type".into(), json!(object));
    if let Some(id) = &id {
        attributes.insert("url".into(), json!(record_url(version, object, id)));
    }
    root.insert("attributes".into(), Json::Object(attributes));
    for (column, value) in columns.iter().zip(row) {
        insert_path(&mut root, &column.path, value);
    }
    Json::Object(root)
}

fn insert_path(map: &mut Map<String, Json>, path: &[String], value: &Value) {
    match path {
        [] => {}
        [leaf] => {
            map.insert(leaf.clone(), value.to_json());
        }
        [rel, rest @ ..] => {
            let entry = map
                .entry(rel.clone())
                .or_insert_with(|| json!({"attributes": {"type": rel}}));
            if let Json::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
            // A parent whose every selected value is null reads as null.
            if let Some(Json::Object(inner)) = map.get(rel) {
                let all_null = inner
                    .iter()
                    .filter(|(k, _)| *k != "attributes")
                    .all(|(_, v)| v.is_null());
                if all_null && !value.is_null() {
                    // unreachable: value just inserted is non-null
                }
            }
        }
    }
}

/// `columns=true`: the column metadata the sf CLI reads before printing a table.
fn column_metadata(query: &soql::Query, schema: &Schema) -> Json {
    let Some(def) = schema.object(&query.object) else {
        return json!({});
    };
    let mut columns = Vec::new();
    for item in &query.select {
        match item {
            soql::SelectItem::Field(path) => columns.push(column_json(def, path, schema)),
            soql::SelectItem::Count { alias, .. } => columns.push(json!({
                "aggregate": true, "apexType": "Integer", "booleanType": false,
                "columnName": alias.clone().unwrap_or_else(|| "expr0".into()), "custom": false,
                "displayName": alias.clone().unwrap_or_else(|| "COUNT(Id)".into()), "foreignKeyName": null,
                "insertable": false, "joinColumns": [], "numberType": true, "textType": false, "updatable": false,
            })),
        }
    }
    let id_selected = query
        .select
        .iter()
        .any(|s| matches!(s, soql::SelectItem::Field(p) if p.len() == 1 && p[0].eq_ignore_ascii_case("Id")));
    json!({
        "columnMetadata": columns,
        "entityName": def.name,
        "groupBy": false,
        "idSelected": id_selected,
        "keyPrefix": def.key_prefix,
    })
}

fn column_json(def: &ObjectDef, path: &[String], schema: &Schema) -> Json {
    match path {
        [leaf] => {
            let f = def.field(leaf);
            let name = f.map(|f| f.name.clone()).unwrap_or_else(|| leaf.clone());
            let t = f.map(|f| f.field_type).unwrap_or(FieldType::Text);
            json!({
                "aggregate": false,
                "apexType": apex_type(t),
                "booleanType": t == FieldType::Checkbox,
                "columnName": name,
                "custom": f.is_some_and(|f| f.custom),
                "displayName": name,
                "foreignKeyName": null,
                "insertable": f.is_some_and(|f| f.createable),
                "joinColumns": [],
                "numberType": matches!(t, FieldType::Number | FieldType::Currency | FieldType::Percent),
                "textType": t.is_textual() && t != FieldType::Id && t != FieldType::Reference,
                "updatable": f.is_some_and(|f| f.updateable),
            })
        }
        [rel, rest @ ..] => {
            let parent = def
                .relationship(rel)
                .and_then(|(_, f)| f.reference_to.first())
                .and_then(|p| schema.object(p));
            let name = def
                .relationship(rel)
                .and_then(|(_, f)| f.relationship_name.clone())
                .unwrap_or_else(|| rel.clone());
            let join = parent
                .map(|p| column_json(p, rest, schema))
                .unwrap_or(Json::Null);
            json!({
                "aggregate": false, "apexType": null, "booleanType": false, "columnName": name, "custom": false,
                "displayName": name, "foreignKeyName": null, "insertable": false, "joinColumns": [join],
                "numberType": false, "textType": false, "updatable": false,
            })
        }
        [] => Json::Null,
    }
}

fn apex_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Id | FieldType::Reference => "Id",
        FieldType::Checkbox => "Boolean",
        FieldType::Number | FieldType::Percent => "Double",
        FieldType::Currency => "Decimal",
        FieldType::Date => "Date",
        FieldType::DateTime => "Datetime",
        _ => "String",
    }
}

// ---------------------------------------------------------------- describe

fn describe_field(f: &FieldDef) -> Json {
    json!({
        "name": f.name,
        "label": f.label,
        "type": f.field_type.describe_name(),
        "soapType": soap_type(f.field_type),
        "length": if f.field_type.is_textual() { f.length.unwrap_or(0) } else { 0 },
        "byteLength": if f.field_type.is_textual() { f.length.unwrap_or(0) * 3 } else { 0 },
        "precision": f.precision.unwrap_or(0),
        "scale": f.scale.unwrap_or(0),
        "digits": 0,
        "nillable": !f.required && f.field_type != FieldType::Checkbox,
        "createable": f.createable,
        "updateable": f.updateable,
        "externalId": f.external_id,
        "unique": f.unique,
        "caseSensitive": f.case_sensitive,
        "idLookup": f.id_lookup || f.external_id,
        "calculated": f.formula.is_some(),
        "calculatedFormula": f.formula,
        "custom": f.custom,
        "defaultedOnCreate": f.default_value.is_some() || matches!(f.name.as_str(), "Id" | "OwnerId" | "CreatedDate" | "CreatedById" | "LastModifiedDate" | "LastModifiedById" | "SystemModstamp" | "IsDeleted"),
        "filterable": true,
        "sortable": f.field_type != FieldType::LongTextArea,
        "groupable": !matches!(f.field_type, FieldType::LongTextArea | FieldType::Number | FieldType::Currency | FieldType::Percent | FieldType::DateTime),
        "nameField": f.name == "Name",
        "referenceTo": f.reference_to,
        "relationshipName": f.relationship_name,
        "restrictedPicklist": f.picklist.as_ref().is_some_and(|p| p.restricted),
        "picklistValues": f.picklist.as_ref().map(|p| p.values.iter().map(|v| json!({
            "active": true, "defaultValue": p.default.as_deref() == Some(v.as_str()), "label": v, "validFor": null, "value": v,
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "defaultValue": f.default_value.as_ref().map(Value::to_json),
        "htmlFormatted": false,
        "autoNumber": f.field_type == FieldType::AutoNumber,
        "deprecatedAndHidden": false,
    })
}

use super::schema::FieldDef;

fn soap_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Id | FieldType::Reference => "tns:ID",
        FieldType::Checkbox => "xsd:boolean",
        FieldType::Number | FieldType::Currency | FieldType::Percent => "xsd:double",
        FieldType::Date => "xsd:date",
        FieldType::DateTime => "xsd:dateTime",
        _ => "xsd:string",
    }
}

fn object_summary(def: &ObjectDef, version: f64) -> Json {
    let writable = def.fields.iter().any(|f| f.createable);
    let base = format!("/services/data/v{version:.1}/sobjects/{}", def.name);
    json!({
        "name": def.name,
        "label": def.label,
        "labelPlural": def.label_plural,
        "keyPrefix": def.key_prefix,
        "custom": false,
        "queryable": true,
        "retrieveable": true,
        "searchable": true,
        "createable": writable,
        "updateable": writable,
        "deletable": writable,
        "undeletable": writable,
        "layoutable": true,
        "replicateable": true,
        "triggerable": true,
        "customSetting": false,
        "deprecatedAndHidden": false,
        "urls": {
            "sobject": base,
            "describe": format!("{base}/describe"),
            "rowTemplate": format!("{base}/{{ID}}"),
        },
    })
}

fn describe(def: &ObjectDef, version: f64) -> Json {
    let mut summary = object_summary(def, version);
    if let Json::Object(map) = &mut summary {
        map.insert(
            "fields".into(),
            Json::Array(def.fields.iter().map(describe_field).collect()),
        );
        map.insert("childRelationships".into(), json!([]));
        map.insert("recordTypeInfos".into(), json!([]));
        map.insert(
            "supportedScopes".into(),
            json!([{"label": "All", "name": "everything"}]),
        );
    }
    summary
}

// ---------------------------------------------------------------- sobjects

/// Routes `sobjects/...`.
pub async fn sobjects(state: SharedState, request: ApiRequest) -> Response {
    let (body, head) = match request.read_body(8 << 20).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let version = head.version;
    let Some(object_name) = head.segments.get(1).cloned() else {
        if head.method != Method::GET {
            return method_not_allowed(&head.method);
        }
        let Ok(org) = state.org.lock() else {
            return lock_poisoned();
        };
        let objects: Vec<Json> = org
            .schema()
            .objects()
            .iter()
            .map(|d| object_summary(d, version))
            .collect();
        return json_response(
            StatusCode::OK,
            json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects}),
        );
    };
    let object = {
        let Ok(org) = state.org.lock() else {
            return lock_poisoned();
        };
        match org.schema().position(&object_name) {
            Some(o) => o,
            None => {
                return error_response(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "The requested resource does not exist",
                );
            }
        }
    };
    match (head.segments.len(), head.method.clone()) {
        (2, Method::GET) => {
            let Ok(org) = state.org.lock() else {
                return lock_poisoned();
            };
            json_response(
                StatusCode::OK,
                json!({"objectDescribe": object_summary(org.object_def(object), version), "recentItems": []}),
            )
        }
        (2, Method::POST) => create_one(&state, &head, object, &body),
        (3, Method::GET) if head.keyword(2).as_deref() == Some("describe") => {
            let Ok(org) = state.org.lock() else {
                return lock_poisoned();
            };
            json_response(StatusCode::OK, describe(org.object_def(object), version))
        }
        (3, method) => by_id(&state, &head, object, &head.segments[2], method, &body),
        (4, method) => by_external_id(
            &state,
            &head,
            object,
            &head.segments[2],
            &head.segments[3],
            method,
            &body,
        ),
        (_, method) if method != Method::GET => method_not_allowed(&method),
        _ => not_found(),
    }
}

/// Converts a REST JSON record into field writes. Nested objects under a relationship
/// name resolve the parent by one external-ID or idLookup field.
fn json_to_write(
    org: &Org,
    object: ObjectPos,
    record: &Map<String, Json>,
) -> Result<(Write, Option<String>), RecordError> {
    let def = org.object_def(object);
    let mut write = Write::new();
    let mut id = None;
    for (key, value) in record {
        if key == "attributes" {
            continue;
        }
        if let Some(i) = def.field_position(key) {
            let f = &def.fields[i];
            if f.field_type == FieldType::Id {
                id = value.as_str().map(str::to_string);
                continue;
            }
            write.push((i, values::parse_json_value(f, value)?));
            continue;
        }
        if let (Some((ref_field, reference)), Json::Object(parent)) = (def.relationship(key), value)
        {
            let parent_name = parent
                .get("attributes")
                .and_then(|a| a.get("type"))
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| reference.reference_to.first().cloned().unwrap_or_default());
            let Some(parent_obj) = org.schema().position(&parent_name) else {
                return Err(RecordError::new(
                    "INVALID_TYPE",
                    format!("sObject type '{parent_name}' is not supported."),
                ));
            };
            let parent_def = org.object_def(parent_obj);
            let Some((pk, pv)) = parent.iter().find(|(k, _)| *k != "attributes") else {
                return Err(RecordError::new(
                    "INVALID_FIELD",
                    format!("No external ID given for relationship {key}"),
                ));
            };
            let Some(pf) = parent_def
                .field_position(pk)
                .filter(|p| parent_def.fields[*p].is_indexed_lookup())
            else {
                return Err(RecordError::new(
                    "INVALID_FIELD",
                    format!(
                        "Field {pk} on {} is not an External ID or indexed field",
                        parent_def.name
                    ),
                ));
            };
            let key_text = match pv {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let matches = org.lookup(parent_obj, pf, &key_text);
            match matches.as_slice() {
                [slot] => {
                    let parent_id = org
                        .record(parent_obj, *slot)
                        .map(|r| r.id.to_string())
                        .unwrap_or_default();
                    write.push((ref_field, Value::String(parent_id.into())));
                }
                [] => {
                    return Err(RecordError::new(
                        "INVALID_FIELD",
                        format!(
                            "Foreign key external ID: {key_text} not found for field {} in entity {}",
                            parent_def.fields[pf].name, parent_def.name
                        ),
                    ));
                }
                _ => {
                    return Err(RecordError::new(
                        "INVALID_FIELD",
                        format!(
                            "More than 1 record found for external id field {} in entity {} with value {key_text}",
                            parent_def.fields[pf].name, parent_def.name
                        ),
                    ));
                }
            }
            continue;
        }
        return Err(RecordError::on(
            "INVALID_FIELD",
            format!("No such column '{key}' on sobject of type {}", def.name),
            key,
        ));
    }
    Ok((write, id))
}

fn save_error(e: &RecordError) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!([e.to_rest_json()]))
}

fn body_object(body: &[u8]) -> Result<Map<String, Json>, Response> {
    match parse_json_body(body)? {
        Json::Object(m) => Ok(m),
        _ => Err(error_response(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of the sObject from a value that is not a JSON object",
        )),
    }
}

fn ctx(head: &ApiRequestHead) -> SaveContext {
    SaveContext {
        user: head.caller.user,
        now: Utc::now(),
    }
}

fn create_one(
    state: &SharedState,
    head: &ApiRequestHead,
    object: ObjectPos,
    body: &[u8],
) -> Response {
    let record = match body_object(body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Ok(mut org) = state.org.lock() else {
        return lock_poisoned();
    };
    let result = json_to_write(&org, object, &record).and_then(|(write, id)| {
        if id.is_some() {
            return Err(RecordError::on(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "cannot specify Id in an insert call",
                "Id",
            ));
        }
        dml::insert(&mut org, object, write, ctx(head))
    });
    match result {
        Ok(saved) => json_response(
            StatusCode::CREATED,
            json!({"id": saved.id.as_str(), "success": true, "errors": []}),
        ),
        Err(e) => save_error(&e),
    }
}

fn record_body(
    org: &Org,
    object: ObjectPos,
    slot: Slot,
    fields: Option<&str>,
    version: f64,
) -> Json {
    let def = org.object_def(object);
    let id = org
        .record(object, slot)
        .map(|r| r.id.to_string())
        .unwrap_or_default();
    let mut map = Map::new();
    map.insert(
        "attributes".into(),
        json!({"type": def.name, "url": record_url(version, &def.name, &id)}),
    );
    let wanted: Option<Vec<String>> = fields.map(|f| {
        f.split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    });
    for (i, f) in def.fields.iter().enumerate() {
        if let Some(w) = &wanted
            && !w.contains(&f.name.to_ascii_lowercase())
        {
            continue;
        }
        map.insert(f.name.clone(), org.value(object, slot, i).to_json());
    }
    Json::Object(map)
}

fn by_id(
    state: &SharedState,
    head: &ApiRequestHead,
    object: ObjectPos,
    id_text: &str,
    method: Method,
    body: &[u8],
) -> Response {
    let Ok(mut org) = state.org.lock() else {
        return lock_poisoned();
    };
    let def = org.object_def(object);
    let slot = SfId::parse(id_text)
        .filter(|id| id.prefix() == def.key_prefix)
        .and_then(|id| org.find_in(object, &id));
    let Some(slot) = slot else {
        return if SfId::parse(id_text).is_none() {
            error_response(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                &format!(
                    "Provided external ID field does not exist or is not accessible: {id_text}"
                ),
            )
        } else {
            not_found()
        };
    };
    match method {
        Method::GET => json_response(
            StatusCode::OK,
            record_body(
                &org,
                object,
                slot,
                head.query.get("fields").map(String::as_str),
                head.version,
            ),
        ),
        Method::PATCH => {
            let record = match body_object(body) {
                Ok(r) => r,
                Err(r) => return r,
            };
            let result = json_to_write(&org, object, &record)
                .and_then(|(write, _)| dml::update(&mut org, object, slot, write, ctx(head)));
            match result {
                Ok(_) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => save_error(&e),
            }
        }
        Method::DELETE => match dml::delete(&mut org, object, id_text, ctx(head)) {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => save_error(&e),
        },
        other => method_not_allowed(&other),
    }
}

fn by_external_id(
    state: &SharedState,
    head: &ApiRequestHead,
    object: ObjectPos,
    field_name: &str,
    key: &str,
    method: Method,
    body: &[u8],
) -> Response {
    let Ok(mut org) = state.org.lock() else {
        return lock_poisoned();
    };
    let def = org.object_def(object);
    let Some(field) = def
        .field_position(field_name)
        .filter(|f| def.fields[*f].is_indexed_lookup())
    else {
        return error_response(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!(
                "Provided external ID field does not exist or is not accessible: {field_name}"
            ),
        );
    };
    let object_name = def.name.clone();
    match method {
        Method::GET => {
            let matches = org.lookup(object, field, key);
            match matches.as_slice() {
                [] => not_found(),
                [slot] => json_response(
                    StatusCode::OK,
                    record_body(&org, object, *slot, None, head.version),
                ),
                many => multiple_choices(&org, object, &object_name, many, head.version),
            }
        }
        Method::PATCH => {
            let record = match body_object(body) {
                Ok(r) => r,
                Err(r) => return r,
            };
            let matches = org.lookup(object, field, key);
            if matches.len() > 1 {
                return multiple_choices(&org, object, &object_name, &matches, head.version);
            }
            let upsert_key = if org.object_def(object).fields[field].field_type == FieldType::Id {
                UpsertKey::Id
            } else {
                UpsertKey::Field(field)
            };
            let result = json_to_write(&org, object, &record).and_then(|(mut write, _)| {
                if let UpsertKey::Field(f) = upsert_key
                    && !write.iter().any(|(i, _)| *i == f)
                {
                    write.push((f, Value::String(key.into())));
                }
                dml::upsert(&mut org, object, upsert_key, Some(key), write, ctx(head))
            });
            match result {
                Ok(Saved { id, created }) => json_response(
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    json!({"id": id.as_str(), "success": true, "errors": [], "created": created}),
                ),
                Err(e) => save_error(&e),
            }
        }
        Method::DELETE => {
            let matches = org.lookup(object, field, key);
            match matches.as_slice() {
                [] => not_found(),
                [slot] => {
                    let id = org
                        .record(object, *slot)
                        .map(|r| r.id.to_string())
                        .unwrap_or_default();
                    match dml::delete(&mut org, object, &id, ctx(head)) {
                        Ok(_) => StatusCode::NO_CONTENT.into_response(),
                        Err(e) => save_error(&e),
                    }
                }
                many => multiple_choices(&org, object, &object_name, many, head.version),
            }
        }
        other => method_not_allowed(&other),
    }
}

fn multiple_choices(
    org: &Org,
    object: ObjectPos,
    name: &str,
    slots: &[Slot],
    version: f64,
) -> Response {
    let urls: Vec<Json> = slots
        .iter()
        .filter_map(|s| org.record(object, *s))
        .map(|r| json!(record_url(version, name, r.id.as_str())))
        .collect();
    json_response(StatusCode::MULTIPLE_CHOICES, Json::Array(urls))
}

// ---------------------------------------------------------------- composite

/// Routes `composite/sobjects[/{Object}/{ExternalIdField}]`.
pub async fn composite(state: SharedState, request: ApiRequest) -> Response {
    let (body, head) = match request.read_body(32 << 20).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if head.keyword(1).as_deref() != Some("sobjects") {
        return not_found();
    }
    let parsed = match parse_json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let all_or_none = parsed
        .get("allOrNone")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let Some(records) = parsed.get("records").and_then(Json::as_array) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            "The 'records' array is required",
        );
    };
    if records.len() > 200 {
        return error_response(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "Record limit exceeded. A request can include up to 200 records.",
        );
    }
    let mode = match (head.segments.len(), &head.method) {
        (2, &Method::POST) => CollectionMode::Create,
        (2, &Method::PATCH) => CollectionMode::Update,
        (4, &Method::PATCH) => CollectionMode::Upsert,
        (_, m) => return method_not_allowed(m),
    };
    let Ok(mut org) = state.org.lock() else {
        return lock_poisoned();
    };
    let fixed_object = if mode == CollectionMode::Upsert {
        match org.schema().position(&head.segments[2]) {
            Some(o) => Some(o),
            None => return not_found(),
        }
    } else {
        None
    };
    let upsert_field = match fixed_object {
        Some(o) => {
            let def = org.object_def(o);
            match def.field_position(&head.segments[3]).filter(|f| {
                def.fields[*f].external_id || def.fields[*f].field_type == FieldType::Id
            }) {
                Some(f) => Some(f),
                None => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        "INVALID_FIELD",
                        &format!(
                            "Field name provided, {} is not an External ID or indexed field for {}",
                            head.segments[3], def.name
                        ),
                    );
                }
            }
        }
        None => None,
    };
    let context = ctx(&head);
    let mut undo: Vec<Undo> = Vec::new();
    let mut results: Vec<Result<Saved, RecordError>> = Vec::with_capacity(records.len());
    for record in records {
        let result = save_collection_item(
            &mut org,
            mode,
            fixed_object,
            upsert_field,
            record,
            context,
            &mut undo,
        );
        let failed = result.is_err();
        results.push(result);
        if failed && all_or_none {
            break;
        }
    }
    let any_failed = results.iter().any(Result::is_err);
    if all_or_none && any_failed {
        for step in undo.into_iter().rev() {
            step.apply(&mut org);
        }
        let body: Vec<Json> = (0..records.len())
            .map(|i| match results.get(i) {
                Some(Err(e)) => json!({"success": false, "errors": [e.to_collection_json()]}),
                _ => json!({"success": false, "errors": [{
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    "fields": [],
                }]}),
            })
            .collect();
        return json_response(StatusCode::OK, Json::Array(body));
    }
    let body: Vec<Json> = results
        .into_iter()
        .map(|r| match r {
            Ok(saved) => {
                let mut m = json!({"id": saved.id.as_str(), "success": true, "errors": []});
                if mode == CollectionMode::Upsert {
                    m["created"] = json!(saved.created);
                }
                m
            }
            Err(e) => json!({"success": false, "errors": [e.to_collection_json()]}),
        })
        .collect();
    json_response(StatusCode::OK, Json::Array(body))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CollectionMode {
    Create,
    Update,
    Upsert,
}

/// How to take back one save of an allOrNone request.
enum Undo {
    Delete(ObjectPos, SfId),
    Restore(ObjectPos, Slot, Record),
}

impl Undo {
    fn apply(self, org: &mut Org) {
        match self {
            Undo::Delete(o, id) => {
                if let Some(slot) = org.find_in(o, &id) {
                    org.delete_record(o, slot);
                }
            }
            Undo::Restore(o, slot, record) => org.replace_record(o, slot, record),
        }
    }
}

fn save_collection_item(
    org: &mut Org,
    mode: CollectionMode,
    fixed_object: Option<ObjectPos>,
    upsert_field: Option<usize>,
    record: &Json,
    context: SaveContext,
    undo: &mut Vec<Undo>,
) -> Result<Saved, RecordError> {
    let Json::Object(map) = record else {
        return Err(RecordError::new(
            "JSON_PARSER_ERROR",
            "Each record must be a JSON object",
        ));
    };
    let type_name = map
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Json::as_str);
    let object = match (fixed_object, type_name) {
        (Some(o), Some(t)) if org.object_def(o).name.eq_ignore_ascii_case(t) => o,
        (Some(o), Some(t)) => {
            return Err(RecordError::new(
                "INVALID_TYPE",
                format!(
                    "Record type {t} does not match the URI's type {}",
                    org.object_def(o).name
                ),
            ));
        }
        (_, None) => {
            return Err(RecordError::new(
                "INVALID_TYPE",
                "Must specify a type in the attributes of each record",
            ));
        }
        (None, Some(t)) => org.schema().position(t).ok_or_else(|| {
            RecordError::new(
                "INVALID_TYPE",
                format!("sObject type '{t}' is not supported."),
            )
        })?,
    };
    let (write, id) = json_to_write(org, object, map)?;
    let before = |org: &Org, slot: Slot| org.record(object, slot).cloned();
    match mode {
        CollectionMode::Create => {
            if id.is_some() {
                return Err(RecordError::on(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "cannot specify Id in an insert call",
                    "Id",
                ));
            }
            let saved = dml::insert(org, object, write, context)?;
            undo.push(Undo::Delete(object, saved.id));
            Ok(saved)
        }
        CollectionMode::Update => {
            let text = id.unwrap_or_default();
            let slot = SfId::parse(&text)
                .and_then(|i| org.find_in(object, &i))
                .ok_or_else(|| {
                    RecordError::on(
                        "MALFORMED_ID",
                        format!(
                            "{} ID: id value of incorrect type: {text}",
                            org.object_def(object).label
                        ),
                        "Id",
                    )
                })?;
            let previous = before(org, slot);
            let saved = dml::update(org, object, slot, write, context)?;
            if let Some(p) = previous {
                undo.push(Undo::Restore(object, slot, p));
            }
            Ok(saved)
        }
        CollectionMode::Upsert => {
            if id.is_some() {
                return Err(RecordError::on(
                    "INVALID_FIELD",
                    "Id is not allowed in an upsert by external ID; remove it from the record",
                    "Id",
                ));
            }
            let field = upsert_field.unwrap_or(0);
            let key = write
                .iter()
                .find(|(i, _)| *i == field)
                .map(|(_, v)| v.to_text());
            let existing = key
                .as_deref()
                .map(|k| org.lookup(object, field, k))
                .unwrap_or_default();
            let previous = existing
                .first()
                .and_then(|s| before(org, *s).map(|r| (*s, r)));
            let saved = dml::upsert(
                org,
                object,
                UpsertKey::Field(field),
                key.as_deref(),
                write,
                context,
            )?;
            match (saved.created, previous) {
                (true, _) => undo.push(Undo::Delete(object, saved.id)),
                (false, Some((slot, record))) => undo.push(Undo::Restore(object, slot, record)),
                _ => {}
            }
            Ok(saved)
        }
    }
}
