//! Save semantics shared by Bulk ingest and the REST endpoints: insert, update, upsert
//! and delete, with Salesforce's validation order and error wording, plus the rules of
//! the order and price-book objects.

use chrono::{DateTime, Utc};

use super::ids::SfId;
use super::org::{ObjectPos, Org, Slot};
use super::schema::{FieldType, Value};
use super::values::RecordError;

/// Field values to write. A field absent from the list is left unchanged; `Value::Null`
/// clears it.
pub type Write = Vec<(usize, Value)>;

/// Who saves and when.
#[derive(Debug, Clone, Copy)]
pub struct SaveContext {
    pub user: SfId,
    pub now: DateTime<Utc>,
}

/// A successful save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub id: SfId,
    pub created: bool,
}

/// What an upsert keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertKey {
    /// The record Id.
    Id,
    /// An external-ID field (position in the object).
    Field(usize),
}

fn not_writable(names: &[String]) -> RecordError {
    RecordError {
        code: "INVALID_FIELD_FOR_INSERT_UPDATE",
        message: format!(
            "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
            names.join(", ")
        ),
        fields: names.to_vec(),
    }
}

pub(super) fn required_missing(names: &[String]) -> RecordError {
    RecordError {
        code: "REQUIRED_FIELD_MISSING",
        message: format!("Required fields are missing: [{}]", names.join(", ")),
        fields: names.to_vec(),
    }
}

pub fn invalid_cross_reference() -> RecordError {
    RecordError::new("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
}

/// Inserts a record after Salesforce's checks.
pub fn insert(
    org: &mut Org,
    object: ObjectPos,
    mut write: Write,
    ctx: SaveContext,
) -> Result<Saved, RecordError> {
    let def = org.object_def(object);
    let blocked: Vec<String> = write
        .iter()
        .filter(|(i, _)| !def.fields[*i].createable)
        .map(|(i, _)| def.fields[*i].name.clone())
        .collect();
    if !blocked.is_empty() {
        return Err(not_writable(&blocked));
    }
    // One pass over the row instead of one scan of it per field (hot path of every insert).
    let mut given = vec![false; def.fields.len()];
    let mut non_null = vec![false; def.fields.len()];
    for (i, v) in &write {
        given[*i] = true;
        non_null[*i] = !v.is_null();
    }
    // Defaults for fields the row does not mention.
    for (i, f) in def.fields.iter().enumerate() {
        if given[i] {
            continue;
        }
        let default = f.default_value.clone().or_else(|| {
            f.picklist
                .as_ref()
                .and_then(|p| p.default.clone())
                .map(|s| Value::String(s.into()))
        });
        if let Some(v) = default {
            non_null[i] = !v.is_null();
            write.push((i, v));
        }
    }
    let missing: Vec<String> = def
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| f.required && !non_null[*i])
        .map(|(_, f)| f.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(required_missing(&missing));
    }
    check_references(org, object, &write)?;
    check_unique(org, object, &write, None)?;
    let effects = rules::before_insert(org, object, &mut write)?;
    let id = org.insert_record(object, write, Some(ctx.user), ctx.now);
    rules::after_save(org, id, effects, ctx);
    Ok(Saved { id, created: true })
}

/// Updates the record in `slot` after Salesforce's checks.
pub fn update(
    org: &mut Org,
    object: ObjectPos,
    slot: Slot,
    mut write: Write,
    ctx: SaveContext,
) -> Result<Saved, RecordError> {
    let def = org.object_def(object);
    let Some(record) = org.record(object, slot) else {
        return Err(invalid_cross_reference());
    };
    let id = record.id;
    // Writing a create-only field with its current value is harmless; changing it is not.
    let blocked: Vec<String> = write
        .iter()
        .filter(|(i, v)| {
            !def.fields[*i].updateable
                && (!def.fields[*i].createable || org.value(object, slot, *i) != *v)
        })
        .map(|(i, _)| def.fields[*i].name.clone())
        .collect();
    if !blocked.is_empty() {
        return Err(not_writable(&blocked));
    }
    write.retain(|(i, _)| def.fields[*i].updateable);
    let cleared: Vec<String> = write
        .iter()
        .filter(|(i, v)| def.fields[*i].required && v.is_null())
        .map(|(i, _)| def.fields[*i].name.clone())
        .collect();
    if !cleared.is_empty() {
        return Err(required_missing(&cleared));
    }
    check_references(org, object, &write)?;
    check_unique(org, object, &write, Some(slot))?;
    let effects = rules::before_update(org, object, slot, &mut write)?;
    org.update_record(object, slot, write, Some(ctx.user), ctx.now);
    rules::after_save(org, id, effects, ctx);
    Ok(Saved { id, created: false })
}

/// Upserts: no match inserts, one match updates, several fail with
/// `DUPLICATE_EXTERNAL_ID`.
pub fn upsert(
    org: &mut Org,
    object: ObjectPos,
    key: UpsertKey,
    key_value: Option<&str>,
    write: Write,
    ctx: SaveContext,
) -> Result<Saved, RecordError> {
    match key {
        UpsertKey::Id => match key_value.filter(|v| !v.is_empty()) {
            None => insert(org, object, write, ctx),
            Some(text) => {
                let def = org.object_def(object);
                let id = SfId::parse(text)
                    .filter(|id| id.prefix() == def.key_prefix)
                    .ok_or_else(|| {
                        RecordError::on(
                            "MALFORMED_ID",
                            format!("{} ID: id value of incorrect type: {text}", def.label),
                            "Id",
                        )
                    })?;
                let slot = org
                    .find_in(object, &id)
                    .ok_or_else(invalid_cross_reference)?;
                update(org, object, slot, write, ctx)
            }
        },
        UpsertKey::Field(field) => {
            let def = org.object_def(object);
            let f = &def.fields[field];
            let Some(text) = key_value.filter(|v| !v.is_empty()) else {
                return Err(RecordError::on(
                    "MISSING_ARGUMENT",
                    format!("{} not specified", f.name),
                    &f.name,
                ));
            };
            let (first, second) = {
                let mut matches = org.lookup_each(object, field, text);
                (matches.next(), matches.next())
            };
            match (first, second) {
                (None, _) => insert(org, object, write, ctx),
                (Some(slot), None) => update(org, object, slot, write, ctx),
                (Some(_), Some(_)) => {
                    let ids: Vec<String> = org
                        .lookup(object, field, text)
                        .iter()
                        .filter_map(|s| org.record(object, *s))
                        .map(|r| r.id.to_string())
                        .collect();
                    Err(RecordError::on(
                        "DUPLICATE_EXTERNAL_ID",
                        format!(
                            "{}: more than one record found for external id field: [{}]",
                            f.label,
                            ids.join(", ")
                        ),
                        &f.name,
                    ))
                }
            }
        }
    }
}

/// Deletes a record by Id.
pub fn delete(
    org: &mut Org,
    object: ObjectPos,
    id_text: &str,
    ctx: SaveContext,
) -> Result<Saved, RecordError> {
    let def = org.object_def(object);
    let id = SfId::parse(id_text)
        .filter(|id| id.prefix() == def.key_prefix)
        .ok_or_else(|| {
            RecordError::on(
                "MALFORMED_ID",
                format!("{} ID: id value of incorrect type: {id_text}", def.label),
                "Id",
            )
        })?;
    if !def.fields.iter().any(|f| f.createable || f.updateable) {
        return Err(RecordError::new(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights on object id",
        ));
    }
    let slot = org
        .find_in(object, &id)
        .ok_or_else(|| RecordError::new("ENTITY_IS_DELETED", "entity is deleted"))?;
    let effects = rules::before_delete(org, object, slot);
    org.delete_record(object, slot);
    rules::after_save(org, id, effects, ctx);
    Ok(Saved { id, created: false })
}

/// Every reference written must point at an existing record of an allowed type.
fn check_references(org: &Org, object: ObjectPos, write: &Write) -> Result<(), RecordError> {
    let def = org.object_def(object);
    for (i, v) in write {
        let f = &def.fields[*i];
        if f.field_type != FieldType::Reference {
            continue;
        }
        let Value::String(text) = v else { continue };
        let Some(id) = SfId::parse(text) else {
            return Err(RecordError::on(
                "MALFORMED_ID",
                format!("{}: id value of incorrect type: {text}", f.label),
                &f.name,
            ));
        };
        let allowed = f
            .reference_to
            .iter()
            .filter_map(|name| org.schema().object(name))
            .any(|target| target.key_prefix == id.prefix());
        if !allowed {
            return Err(RecordError::on(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("{}: id value of incorrect type: {text}", f.label),
                &f.name,
            ));
        }
        let Some((target, slot)) = org.find_id(&id) else {
            return Err(RecordError::on(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &f.name,
            ));
        };
        // Salesforce refuses a deactivated user as a record's owner.
        if f.name == "OwnerId"
            && org.value_by_name(target, slot, "IsActive") == Value::Boolean(false)
        {
            return Err(RecordError::on(
                "INACTIVE_OWNER_OR_USER",
                format!(
                    "operation performed with inactive user [{text}] as owner of [{}]",
                    def.name.to_lowercase()
                ),
                &f.name,
            ));
        }
    }
    Ok(())
}

/// Unique fields must not collide with another record.
pub(super) fn check_unique(
    org: &Org,
    object: ObjectPos,
    write: &Write,
    this: Option<Slot>,
) -> Result<(), RecordError> {
    let def = org.object_def(object);
    for (i, v) in write {
        let f = &def.fields[*i];
        if !f.unique || v.is_null() {
            continue;
        }
        let text = v.to_text();
        if let Some(other) = org
            .lookup_each(object, *i, &text)
            .find(|s| Some(*s) != this)
        {
            let other_id = org
                .record(object, other)
                .map(|r| r.id.to_string())
                .unwrap_or_default();
            return Err(RecordError::new(
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: {} duplicates value on record with id: {other_id}",
                    f.name
                ),
            ));
        }
    }
    Ok(())
}

/// Object-specific rules: price books, order products and the order total roll-up.
mod rules {
    use super::*;
    use crate::emulator::salesforce::person;

    /// Work to do once the save has landed.
    #[derive(Debug, Default)]
    pub struct Effects {
        /// Add this amount to the `TotalAmount` of this order.
        order_total_delta: Option<(SfId, f64)>,
        /// Create or update the person contact of the saved person account.
        person_contact: Option<person::PersonContactSync>,
    }

    fn field(org: &Org, object: ObjectPos, name: &str) -> Option<usize> {
        org.object_def(object).field_position(name)
    }

    fn written(write: &Write, field: Option<usize>) -> Option<&Value> {
        let f = field?;
        write.iter().find(|(i, _)| *i == f).map(|(_, v)| v)
    }

    fn as_id(v: Option<&Value>) -> Option<SfId> {
        match v {
            Some(Value::String(s)) => SfId::parse(s),
            _ => None,
        }
    }

    fn as_number(v: &Value) -> f64 {
        match v {
            Value::Number(n) => *n,
            _ => 0.0,
        }
    }

    /// The fields of the record `id` by name (null for each when there is none). The
    /// record is found once, however many fields are read (a line-item job reads its
    /// order's and price book entry's for every row).
    fn fields_of(org: &Org, id: SfId) -> impl Fn(&str) -> Value + '_ {
        let found = org.find_id(&id);
        move |name| found.map_or(Value::Null, |(o, s)| org.value_by_name(o, s, name))
    }

    fn set(write: &mut Write, field: Option<usize>, value: Value) {
        if let Some(f) = field {
            write.retain(|(i, _)| *i != f);
            write.push((f, value));
        }
    }

    fn integrity(message: &str, field: &str) -> RecordError {
        RecordError::on("FIELD_INTEGRITY_EXCEPTION", message, field)
    }

    pub fn before_insert(
        org: &Org,
        object: ObjectPos,
        write: &mut Write,
    ) -> Result<Effects, RecordError> {
        match org.object_def(object).name.as_str() {
            "PricebookEntry" => {
                let book = as_id(written(write, field(org, object, "Pricebook2Id")))
                    .ok_or_else(invalid_cross_reference)?;
                let product = as_id(written(write, field(org, object, "Product2Id")))
                    .ok_or_else(invalid_cross_reference)?;
                let pricebook_field = field(org, object, "Pricebook2Id");
                let product_field = field(org, object, "Product2Id");
                let existing = |book_id: SfId| {
                    product_field.zip(pricebook_field).is_some_and(|(pf, bf)| {
                        org.lookup(object, pf, product.as_str())
                            .into_iter()
                            .any(|s| {
                                org.value(object, s, bf) == Value::String(book_id.as_str().into())
                            })
                    })
                };
                if existing(book) {
                    return Err(RecordError::new(
                        "DUPLICATE_VALUE",
                        "This price definition already exists in this price book",
                    ));
                }
                if book != org.standard_pricebook && !existing(org.standard_pricebook) {
                    return Err(RecordError::new(
                        "STANDARD_PRICE_NOT_DEFINED",
                        "No standard price defined for this product",
                    ));
                }
                let of_product = fields_of(org, product);
                let name = of_product("Name");
                let code = of_product("ProductCode");
                set(write, field(org, object, "Name"), name);
                set(write, field(org, object, "ProductCode"), code);
                Ok(Effects::default())
            }
            "OrderItem" => {
                let order = as_id(written(write, field(org, object, "OrderId")))
                    .ok_or_else(invalid_cross_reference)?;
                let entry = as_id(written(write, field(org, object, "PricebookEntryId")))
                    .ok_or_else(invalid_cross_reference)?;
                let of_order = fields_of(org, order);
                let of_entry = fields_of(org, entry);
                let order_book = of_order("Pricebook2Id");
                let entry_book = of_entry("Pricebook2Id");
                if order_book.is_null() || order_book != entry_book {
                    return Err(integrity(
                        "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the Order, or Order has no pricebook assigned)",
                        "PricebookEntryId",
                    ));
                }
                if of_entry("IsActive") != Value::Boolean(true) {
                    return Err(integrity(
                        "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
                        "PricebookEntryId",
                    ));
                }
                if of_order("Status") == Value::String("Activated".into()) {
                    return Err(integrity(
                        "You can't add or remove products from an activated order.",
                        "OrderId",
                    ));
                }
                let product = of_entry("Product2Id");
                let list_price = of_entry("UnitPrice");
                set(write, field(org, object, "Product2Id"), product);
                set(write, field(org, object, "ListPrice"), list_price);
                let qty = written(write, field(org, object, "Quantity"))
                    .map(as_number)
                    .unwrap_or(0.0);
                let price = written(write, field(org, object, "UnitPrice"))
                    .map(as_number)
                    .unwrap_or(0.0);
                Ok(Effects {
                    order_total_delta: Some((order, qty * price)),
                    ..Effects::default()
                })
            }
            "Account" if person::enabled(org, object) => Ok(Effects {
                person_contact: person::before_insert(org, object, write)?,
                ..Effects::default()
            }),
            "Contact" => {
                person::check_contact_write(org, object, None, write)?;
                Ok(Effects::default())
            }
            _ => Ok(Effects::default()),
        }
    }

    pub fn before_update(
        org: &Org,
        object: ObjectPos,
        slot: Slot,
        write: &mut Write,
    ) -> Result<Effects, RecordError> {
        match org.object_def(object).name.as_str() {
            "OrderItem" => {
                let Some(order) = as_id(Some(&org.value_by_name(object, slot, "OrderId"))) else {
                    return Ok(Effects::default());
                };
                let old_qty = as_number(&org.value_by_name(object, slot, "Quantity"));
                let old_price = as_number(&org.value_by_name(object, slot, "UnitPrice"));
                let qty = written(write, field(org, object, "Quantity"))
                    .map(as_number)
                    .unwrap_or(old_qty);
                let price = written(write, field(org, object, "UnitPrice"))
                    .map(as_number)
                    .unwrap_or(old_price);
                Ok(Effects {
                    order_total_delta: Some((order, qty * price - old_qty * old_price)),
                    ..Effects::default()
                })
            }
            "Account" if person::enabled(org, object) => Ok(Effects {
                person_contact: person::before_update(org, object, slot, write)?,
                ..Effects::default()
            }),
            "Contact" => {
                person::check_contact_write(org, object, Some(slot), write)?;
                Ok(Effects::default())
            }
            "Order" => {
                let status = org.value_by_name(object, slot, "Status");
                let account_change = written(write, field(org, object, "AccountId"))
                    .is_some_and(|v| *v != org.value_by_name(object, slot, "AccountId"));
                if account_change && status == Value::String("Activated".into()) {
                    return Err(integrity(
                        "You can't change the account on an activated order.",
                        "AccountId",
                    ));
                }
                Ok(Effects::default())
            }
            _ => Ok(Effects::default()),
        }
    }

    pub fn before_delete(org: &Org, object: ObjectPos, slot: Slot) -> Effects {
        if org.object_def(object).name == "OrderItem"
            && let Some(order) = as_id(Some(&org.value_by_name(object, slot, "OrderId")))
        {
            let qty = as_number(&org.value_by_name(object, slot, "Quantity"));
            let price = as_number(&org.value_by_name(object, slot, "UnitPrice"));
            return Effects {
                order_total_delta: Some((order, -qty * price)),
                ..Effects::default()
            };
        }
        Effects::default()
    }

    pub fn after_save(org: &mut Org, saved: SfId, effects: Effects, ctx: SaveContext) {
        if let Some(sync) = effects.person_contact {
            person::after_save(org, saved, sync, ctx);
        }
        if let Some((order, delta)) = effects.order_total_delta {
            if delta == 0.0 {
                return;
            }
            if let Some((o, s)) = org.find_id(&order)
                && let Some(total) = org.object_def(o).field_position("TotalAmount")
            {
                let current = as_number(&org.value(o, s, total));
                let next = ((current + delta) * 100.0).round() / 100.0;
                org.update_record(
                    o,
                    s,
                    vec![(total, Value::Number(next))],
                    Some(ctx.user),
                    ctx.now,
                );
            }
        }
    }
}
