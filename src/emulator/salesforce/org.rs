//! The org's records: per-object tables with Id and external-ID indexes, formula fields
//! computed on read, and snapshots to disk.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::formula::Formula;
use super::ids::SfId;
use super::schema::{FieldType, ObjectDef, Schema, Value};

/// Position of an object in the schema (and of its table in the org).
pub type ObjectPos = usize;
/// Position of a record in its table.
pub type Slot = u32;

pub use super::record::Record;

/// Hash maps on the hot path use foldhash: SipHash's flood resistance buys nothing in a
/// local emulator and costs a quarter of the ingest time.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// The records of one object.
#[derive(Debug, Default)]
struct Table {
    slots: Vec<Option<Record>>,
    by_id: FastMap<SfId, Slot>,
    /// One index per external-ID, unique and idLookup field.
    indexes: Vec<FieldIndex>,
    live: usize,
}

/// Slots whose indexed value hashes to one key: nearly always a single record.
#[derive(Debug, Clone)]
enum Bucket {
    One(Slot),
    Many(Vec<Slot>),
}

/// An index over one field, keyed by the 64-bit hash of the normalised value. Keys are not
/// stored (a million external IDs would double the org's memory): a lookup re-checks each
/// candidate record's value, so a hash collision can never return a wrong record.
#[derive(Debug)]
struct FieldIndex {
    field: usize,
    case_sensitive: bool,
    buckets: FastMap<u64, Bucket>,
}

/// The form two values of a field are compared in: as written when the field is case
/// sensitive, lower-cased otherwise.
pub(super) fn normalised(text: &str, case_sensitive: bool) -> Cow<'_, str> {
    if case_sensitive || (text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase())) {
        Cow::Borrowed(text)
    } else if text.is_ascii() {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Owned(text.to_lowercase())
    }
}

/// The text a stored value is indexed under (`None` for null).
fn index_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        other => Some(Cow::Owned(other.to_text())),
    }
}

const KEY_HASH_SEED: u64 = 0x5348_4f50_464f_5243;

fn key_hash(text: &str, case_sensitive: bool) -> u64 {
    foldhash::fast::FixedState::with_seed(KEY_HASH_SEED)
        .hash_one(&*normalised(text, case_sensitive))
}

impl FieldIndex {
    fn hash_of(&self, record: &Record) -> Option<u64> {
        let value = record.get(self.field);
        index_text(&value).map(|t| key_hash(&t, self.case_sensitive))
    }

    fn insert(&mut self, hash: u64, slot: Slot) {
        match self.buckets.entry(hash) {
            Entry::Vacant(e) => {
                e.insert(Bucket::One(slot));
            }
            Entry::Occupied(mut e) => {
                let bucket = e.get_mut();
                match bucket {
                    Bucket::One(first) => *bucket = Bucket::Many(vec![*first, slot]),
                    Bucket::Many(slots) => slots.push(slot),
                }
            }
        }
    }

    fn remove(&mut self, hash: u64, slot: Slot) {
        let Entry::Occupied(mut e) = self.buckets.entry(hash) else {
            return;
        };
        let replacement = match e.get_mut() {
            Bucket::One(s) if *s == slot => None,
            Bucket::One(_) => return,
            Bucket::Many(slots) => {
                slots.retain(|s| *s != slot);
                match slots.as_slice() {
                    [] => None,
                    [only] => Some(Bucket::One(*only)),
                    _ => return,
                }
            }
        };
        match replacement {
            None => {
                e.remove();
            }
            Some(bucket) => *e.get_mut() = bucket,
        }
    }

    fn candidates(&self, hash: u64) -> &[Slot] {
        match self.buckets.get(&hash) {
            None => &[],
            Some(Bucket::One(slot)) => std::slice::from_ref(slot),
            Some(Bucket::Many(slots)) => slots,
        }
    }
}

/// Reference fields the save rules look records up by.
fn is_extra_index(object: &str, field: &str) -> bool {
    matches!((object, field), ("PricebookEntry", "Product2Id"))
}

impl Table {
    fn new(def: &ObjectDef) -> Table {
        let indexes = def
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                (f.external_id || f.unique || f.id_lookup || is_extra_index(&def.name, &f.name))
                    && f.name != "Id"
                    && f.formula.is_none()
            })
            .map(|(field, f)| FieldIndex {
                field,
                case_sensitive: f.case_sensitive,
                buckets: FastMap::default(),
            })
            .collect();
        Table {
            indexes,
            ..Table::default()
        }
    }

    fn index_insert(&mut self, slot: Slot, record: &Record) {
        for index in &mut self.indexes {
            if let Some(hash) = index.hash_of(record) {
                index.insert(hash, slot);
            }
        }
    }

    fn index_remove(&mut self, slot: Slot, record: &Record) {
        for index in &mut self.indexes {
            if let Some(hash) = index.hash_of(record) {
                index.remove(hash, slot);
            }
        }
    }

    fn index(&self, field: usize) -> Option<&FieldIndex> {
        self.indexes.iter().find(|i| i.field == field)
    }
}

/// Static facts about the org the emulator pretends to be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgProfile {
    pub org_id: SfId,
    pub name: String,
    pub instance_name: String,
    /// Two characters of every generated Id after the key prefix.
    pub pod: String,
}

impl Default for OrgProfile {
    fn default() -> OrgProfile {
        OrgProfile {
            org_id: SfId::new("00D", "5g", 1),
            name: "shopforce Emulated Org".to_string(),
            instance_name: "EMU1".to_string(),
            pod: "5g".to_string(),
        }
    }
}

/// All data of the org.
pub struct Org {
    schema: Schema,
    tables: Vec<Table>,
    pub profile: OrgProfile,
    next_sequence: u64,
    /// Next auto-number per (object, field).
    auto_numbers: FastMap<(ObjectPos, usize), u64>,
    /// Parsed formulas per (object, field).
    formulas: FastMap<(ObjectPos, usize), Formula>,
    /// Positions of the audit fields per object, resolved once.
    audit: Vec<AuditFields>,
    /// Users that exist in every org: the integration user first.
    pub integration_user: SfId,
    pub standard_pricebook: SfId,
}

/// Where an object keeps its audit fields (None when it has no such field).
#[derive(Debug, Clone, Default)]
struct AuditFields {
    created_date: Option<usize>,
    created_by: Option<usize>,
    last_modified_date: Option<usize>,
    last_modified_by: Option<usize>,
    system_modstamp: Option<usize>,
    is_deleted: Option<usize>,
    owner: Option<usize>,
    /// Auto-number fields and their display width.
    auto_numbers: Vec<(usize, u32)>,
}

impl AuditFields {
    fn of(def: &ObjectDef) -> AuditFields {
        AuditFields {
            created_date: def.field_position("CreatedDate"),
            created_by: def.field_position("CreatedById"),
            last_modified_date: def.field_position("LastModifiedDate"),
            last_modified_by: def.field_position("LastModifiedById"),
            system_modstamp: def.field_position("SystemModstamp"),
            is_deleted: def.field_position("IsDeleted"),
            owner: def.field_position("OwnerId"),
            auto_numbers: def
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.field_type == FieldType::AutoNumber)
                .map(|(i, f)| (i, f.length.unwrap_or(8).min(10)))
                .collect(),
        }
    }
}

/// A user seeded into the org.
#[derive(Debug, Clone)]
pub struct SeedUser {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub active: bool,
}

/// The default sales team: a few active reps and one who has left.
pub fn default_users(integration_username: &str) -> Vec<SeedUser> {
    let mut users = vec![SeedUser {
        username: integration_username.to_string(),
        first_name: "Shopify".into(),
        last_name: "Integration".into(),
        email: integration_username.to_string(),
        active: true,
    }];
    for (first, last, active) in [
        ("Avery", "Nakamura", true),
        ("Jordan", "Okafor", true),
        ("Riley", "Fernández", true),
        ("Morgan", "Lindqvist", false),
    ] {
        let local = format!(
            "{}.{}",
            first.to_lowercase(),
            last.to_lowercase().replace('á', "a").replace('é', "e")
        );
        users.push(SeedUser {
            username: format!("{local}@example.com"),
            first_name: first.into(),
            last_name: last.into(),
            email: format!("{local}@example.com"),
            active,
        });
    }
    users
}

impl Org {
    /// A fresh org with the given schema, its seeded users, the standard price book and
    /// the Organization record.
    pub fn new(
        schema: Schema,
        profile: OrgProfile,
        users: &[SeedUser],
        now: DateTime<Utc>,
    ) -> Result<Org, String> {
        let tables = schema.objects().iter().map(Table::new).collect();
        let mut formulas = FastMap::default();
        for (o, def) in schema.objects().iter().enumerate() {
            for (i, f) in def.fields.iter().enumerate() {
                if let Some(src) = &f.formula {
                    let parsed = Formula::parse(src).map_err(|e| {
                        format!(
                            "{}.{}: formula does not parse: {}",
                            def.name, f.name, e.message
                        )
                    })?;
                    formulas.insert((o, i), parsed);
                }
            }
        }
        let audit = schema.objects().iter().map(AuditFields::of).collect();
        let mut org = Org {
            audit,
            schema,
            tables,
            profile,
            next_sequence: 1,
            auto_numbers: FastMap::default(),
            formulas,
            integration_user: SfId::new("005", "5g", 0),
            standard_pricebook: SfId::new("01s", "5g", 0),
        };
        org.seed(users, now);
        Ok(org)
    }

    fn seed(&mut self, users: &[SeedUser], now: DateTime<Utc>) {
        let user_pos = self.schema.position("User");
        if let Some(u) = user_pos {
            for (n, user) in users.iter().enumerate() {
                let values = self.named_values(
                    u,
                    &[
                        ("Username", Value::String(user.username.clone().into())),
                        ("FirstName", Value::String(user.first_name.clone().into())),
                        ("LastName", Value::String(user.last_name.clone().into())),
                        ("Email", Value::String(user.email.clone().into())),
                        (
                            "Alias",
                            Value::String(
                                user.first_name
                                    .chars()
                                    .take(1)
                                    .chain(user.last_name.chars().take(4))
                                    .collect::<String>()
                                    .to_lowercase()
                                    .into(),
                            ),
                        ),
                        ("IsActive", Value::Boolean(user.active)),
                        (
                            "TimeZoneSidKey",
                            Value::String("America/Los_Angeles".into()),
                        ),
                    ],
                );
                let id = self.insert_record(u, values, None, now);
                if n == 0 {
                    self.integration_user = id;
                }
            }
        }
        if let Some(p) = self.schema.position("Pricebook2") {
            let values = self.named_values(
                p,
                &[
                    ("Name", Value::String("Standard Price Book".into())),
                    ("IsActive", Value::Boolean(true)),
                    ("IsStandard", Value::Boolean(true)),
                ],
            );
            self.standard_pricebook = self.insert_record(p, values, None, now);
        }
        if let Some(r) = self.schema.position("RecordType") {
            for (developer_name, label, person) in super::person::seed_record_types() {
                let values = self.named_values(
                    r,
                    &[
                        ("Name", Value::String(label.into())),
                        ("DeveloperName", Value::String(developer_name.into())),
                        ("SobjectType", Value::String("Account".into())),
                        ("IsPersonType", Value::Boolean(person)),
                        ("IsActive", Value::Boolean(true)),
                        ("SystemModstamp", Value::DateTime(now)),
                    ],
                );
                self.insert_record(r, values, None, now);
            }
        }
        if let Some(o) = self.schema.position("Organization") {
            let values = self.named_values(
                o,
                &[
                    ("Name", Value::String(self.profile.name.clone().into())),
                    (
                        "InstanceName",
                        Value::String(self.profile.instance_name.clone().into()),
                    ),
                    ("IsSandbox", Value::Boolean(false)),
                    (
                        "OrganizationType",
                        Value::String("Enterprise Edition".into()),
                    ),
                    ("DefaultLocaleSidKey", Value::String("en_US".into())),
                    ("LanguageLocaleKey", Value::String("en_US".into())),
                    (
                        "TimeZoneSidKey",
                        Value::String("America/Los_Angeles".into()),
                    ),
                ],
            );
            self.store(o, Record::from_pairs(self.profile.org_id, values));
        }
        if let Some(e) = self.schema.position("EntityDefinition") {
            let rows: Vec<Vec<(usize, Value)>> = self
                .schema
                .objects()
                .iter()
                .filter(|d| d.name != "EntityDefinition")
                .map(|d| {
                    let writable = d.fields.iter().any(|f| f.createable);
                    self.named_values(
                        e,
                        &[
                            ("DurableId", Value::String(d.name.clone().into())),
                            ("QualifiedApiName", Value::String(d.name.clone().into())),
                            ("DeveloperName", Value::String(d.name.clone().into())),
                            ("Label", Value::String(d.label.clone().into())),
                            ("PluralLabel", Value::String(d.label_plural.clone().into())),
                            ("KeyPrefix", Value::String(d.key_prefix.clone().into())),
                            ("IsCustomizable", Value::Boolean(true)),
                            ("IsDeprecatedAndHidden", Value::Boolean(false)),
                            ("IsQueryable", Value::Boolean(true)),
                            ("IsCustomSetting", Value::Boolean(false)),
                            ("IsLayoutable", Value::Boolean(true)),
                            ("IsEverCreatable", Value::Boolean(writable)),
                            ("IsEverUpdatable", Value::Boolean(writable)),
                            ("IsEverDeletable", Value::Boolean(writable)),
                            ("IsRetrieveable", Value::Boolean(true)),
                        ],
                    )
                })
                .collect();
            for values in rows {
                self.insert_record(e, values, None, now);
            }
        }
    }

    fn named_values(&self, object: ObjectPos, pairs: &[(&str, Value)]) -> Vec<(usize, Value)> {
        let def = &self.schema.objects()[object];
        pairs
            .iter()
            .filter_map(|(name, v)| def.field_position(name).map(|i| (i, v.clone())))
            .collect()
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn object_def(&self, object: ObjectPos) -> &ObjectDef {
        &self.schema.objects()[object]
    }

    /// Live records of an object, in insertion order.
    pub fn slots(&self, object: ObjectPos) -> impl Iterator<Item = Slot> + '_ {
        self.tables[object]
            .slots
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_some())
            .map(|(i, _)| i as Slot)
    }

    /// Makes room for `additional` new records of an object up front, so a large job does
    /// not grow (and re-hash) its table and indexes step by step.
    pub fn reserve(&mut self, object: ObjectPos, additional: usize) {
        let table = &mut self.tables[object];
        table.slots.reserve(additional);
        table.by_id.reserve(additional);
        for index in &mut table.indexes {
            index.buckets.reserve(additional);
        }
    }

    pub fn count(&self, object: ObjectPos) -> usize {
        self.tables[object].live
    }

    pub fn record(&self, object: ObjectPos, slot: Slot) -> Option<&Record> {
        self.tables[object]
            .slots
            .get(slot as usize)
            .and_then(Option::as_ref)
    }

    /// Finds a record by Id (any object).
    pub fn find_id(&self, id: &SfId) -> Option<(ObjectPos, Slot)> {
        let object = self.schema.position_by_prefix(id.prefix())?;
        self.tables[object]
            .by_id
            .get(id)
            .map(|slot| (object, *slot))
    }

    /// Finds a record of `object` by Id.
    pub fn find_in(&self, object: ObjectPos, id: &SfId) -> Option<Slot> {
        self.tables[object].by_id.get(id).copied()
    }

    /// Records whose indexed `field` equals `key` (case-insensitive unless the field is
    /// case-sensitive). `Id` is looked up directly.
    pub fn lookup(&self, object: ObjectPos, field: usize, key: &str) -> Vec<Slot> {
        self.lookup_each(object, field, key).collect()
    }

    /// [`Org::lookup`] as an iterator, for a caller that needs the first one or two
    /// matches (the common case is one) without collecting them.
    pub fn lookup_each<'a>(
        &'a self,
        object: ObjectPos,
        field: usize,
        key: &'a str,
    ) -> impl Iterator<Item = Slot> + 'a {
        let def = self.object_def(object);
        let f = &def.fields[field];
        let case_sensitive = f.case_sensitive;
        let by_id = (f.field_type == FieldType::Id).then(|| {
            SfId::parse(key)
                .and_then(|id| self.find_in(object, &id))
                .into_iter()
        });
        let wanted = normalised(key, case_sensitive);
        let is_wanted = move |text: &str| match case_sensitive {
            false if text.is_ascii() && key.is_ascii() => text.eq_ignore_ascii_case(key),
            _ => normalised(text, case_sensitive) == wanted,
        };
        let table = &self.tables[object];
        let (indexed, scanned) = match (&by_id, table.index(field)) {
            (Some(_), _) => (None, None),
            (None, Some(index)) => (
                Some(
                    index
                        .candidates(key_hash(key, case_sensitive))
                        .iter()
                        .copied(),
                ),
                None,
            ),
            (None, None) => (None, Some(self.slots(object))),
        };
        let is_wanted_too = is_wanted.clone();
        // An indexed field's stored text is compared in place; other kinds through their
        // text form.
        let indexed = indexed.into_iter().flatten().filter(move |slot| {
            self.record(object, *slot)
                .is_some_and(|record| match record.text(field) {
                    Some(text) => is_wanted(text),
                    None => index_text(&record.get(field)).is_some_and(|t| is_wanted(&t)),
                })
        });
        // A field without an index (formula fields among them) is read as a query would.
        let scanned = scanned.into_iter().flatten().filter(move |slot| {
            index_text(&self.value(object, *slot, field)).is_some_and(|t| is_wanted_too(&t))
        });
        by_id.into_iter().flatten().chain(indexed).chain(scanned)
    }

    /// The value of a field, computing formula and system fields on read.
    pub fn value(&self, object: ObjectPos, slot: Slot, field: usize) -> Value {
        let Some(record) = self.record(object, slot) else {
            return Value::Null;
        };
        let def = self.object_def(object);
        let f = &def.fields[field];
        if f.field_type == FieldType::Id {
            return Value::String(record.id.as_str().into());
        }
        if let Some(formula) = self.formulas.get(&(object, field)) {
            let lookup = |name: &str| match def.field_position(name) {
                Some(i) if i != field => self.value(object, slot, i),
                _ => Value::Null,
            };
            return formula.evaluate(&lookup, f.field_type, f.formula_blanks_as_zero, Utc::now());
        }
        record.get(field)
    }

    /// The value of a field by name (unknown fields read as null).
    pub fn value_by_name(&self, object: ObjectPos, slot: Slot, field: &str) -> Value {
        match self.object_def(object).field_position(field) {
            Some(i) => self.value(object, slot, i),
            None => Value::Null,
        }
    }

    fn next_id(&mut self, object: ObjectPos) -> SfId {
        let prefix = self.object_def(object).key_prefix.clone();
        let id = SfId::new(&prefix, &self.profile.pod, self.next_sequence);
        self.next_sequence += 1;
        id
    }

    /// Stores a new record with system fields filled in; returns its Id. No validation:
    /// callers ([`super::dml`]) validate first.
    pub fn insert_record(
        &mut self,
        object: ObjectPos,
        values: Vec<(usize, Value)>,
        user: Option<SfId>,
        now: DateTime<Utc>,
    ) -> SfId {
        // Salesforce keeps datetimes to the millisecond (what the API shows): a stamp
        // finer than that would sort after its own rendering in a query filter.
        let now = chrono::SubsecRound::trunc_subsecs(now, 3);
        let id = self.next_id(object);
        let user = Value::String(user.unwrap_or(self.integration_user).as_str().into());
        let audit = &self.audit[object];
        let owner_given = audit
            .owner
            .is_some_and(|o| values.iter().any(|(i, v)| *i == o && !v.is_null()));
        let stamps = [
            (audit.created_date, Value::DateTime(now)),
            (audit.last_modified_date, Value::DateTime(now)),
            (audit.system_modstamp, Value::DateTime(now)),
            (audit.created_by, user.clone()),
            (audit.last_modified_by, user.clone()),
            (audit.is_deleted, Value::Boolean(false)),
            (audit.owner.filter(|_| !owner_given), user),
        ];
        // Built in one go and sorted once, at its final size: the record vector is most of
        // a stored record's memory, so no slack is left in it.
        let mut pairs: Vec<(usize, Value)> = values;
        pairs.extend(
            stamps
                .into_iter()
                .filter_map(|(field, value)| field.map(|i| (i, value))),
        );
        for &(i, width) in &audit.auto_numbers {
            let counter = self.auto_numbers.entry((object, i)).or_insert(0);
            *counter += 1;
            pairs.push((
                i,
                Value::String(format!("{:0width$}", *counter, width = width as usize).into()),
            ));
        }
        let record = Record::from_pairs(id, pairs);
        self.store(object, record);
        id
    }

    fn store(&mut self, object: ObjectPos, record: Record) {
        let table = &mut self.tables[object];
        let slot = table.slots.len() as Slot;
        table.index_insert(slot, &record);
        table.by_id.insert(record.id, slot);
        table.slots.push(Some(record));
        table.live += 1;
    }

    /// Applies changes to a stored record and bumps its audit fields.
    pub fn update_record(
        &mut self,
        object: ObjectPos,
        slot: Slot,
        changes: Vec<(usize, Value)>,
        user: Option<SfId>,
        now: DateTime<Utc>,
    ) {
        let now = chrono::SubsecRound::trunc_subsecs(now, 3);
        let user = Value::String(user.unwrap_or(self.integration_user).as_str().into());
        let fields = &self.audit[object];
        let audit: Vec<(usize, Value)> = [
            (fields.last_modified_date, Value::DateTime(now)),
            (fields.system_modstamp, Value::DateTime(now)),
            (fields.last_modified_by, user),
        ]
        .into_iter()
        .filter_map(|(f, v)| f.map(|i| (i, v)))
        .collect();
        let table = &mut self.tables[object];
        let Some(mut record) = table.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        // Index entries move only for indexed fields whose normalised value changes.
        let touched: Vec<(usize, Option<u64>)> = table
            .indexes
            .iter()
            .enumerate()
            .filter(|(_, index)| changes.iter().any(|(f, _)| *f == index.field))
            .map(|(n, index)| (n, index.hash_of(&record)))
            .collect();
        for (i, v) in changes.into_iter().chain(audit) {
            record.set(i, v);
        }
        for (n, old) in touched {
            let index = &mut table.indexes[n];
            let new = index.hash_of(&record);
            if old != new {
                if let Some(hash) = old {
                    index.remove(hash, slot);
                }
                if let Some(hash) = new {
                    index.insert(hash, slot);
                }
            }
        }
        table.slots[slot as usize] = Some(record);
    }

    /// Puts back an earlier copy of a record (rollback of an allOrNone request).
    pub fn replace_record(&mut self, object: ObjectPos, slot: Slot, record: Record) {
        let table = &mut self.tables[object];
        if let Some(Some(current)) = table.slots.get(slot as usize) {
            let current = current.clone();
            table.index_remove(slot, &current);
        }
        table.index_insert(slot, &record);
        if let Some(entry) = table.slots.get_mut(slot as usize) {
            *entry = Some(record);
        }
    }

    /// Removes a record; returns it.
    pub fn delete_record(&mut self, object: ObjectPos, slot: Slot) -> Option<Record> {
        let table = &mut self.tables[object];
        let record = table.slots.get_mut(slot as usize).and_then(Option::take)?;
        table.index_remove(slot, &record);
        table.by_id.remove(&record.id);
        table.live -= 1;
        Some(record)
    }

    /// All fields of a record that hold a value, formulas included, as JSON (admin API).
    pub fn record_json(
        &self,
        object: ObjectPos,
        slot: Slot,
    ) -> serde_json::Map<String, serde_json::Value> {
        let def = self.object_def(object);
        let mut map = serde_json::Map::new();
        for (i, f) in def.fields.iter().enumerate() {
            let v = self.value(object, slot, i);
            if !v.is_null() {
                map.insert(f.name.clone(), v.to_json());
            }
        }
        map
    }

    /// Empties every table and re-seeds users, price book and org record.
    pub fn reset(&mut self, users: &[SeedUser], now: DateTime<Utc>) {
        self.tables = self.schema.objects().iter().map(Table::new).collect();
        self.next_sequence = 1;
        self.auto_numbers.clear();
        self.seed(users, now);
    }

    /// A serialisable copy of all records (field names, not positions, so a snapshot
    /// survives changes to `sfdx/`).
    pub fn snapshot(&self) -> OrgSnapshot {
        let mut objects = Vec::new();
        for (o, def) in self.schema.objects().iter().enumerate() {
            let records: Vec<SnapshotRecord> = self
                .slots(o)
                .filter_map(|s| self.record(o, s))
                .map(|r| SnapshotRecord {
                    id: r.id,
                    fields: r
                        .values()
                        .map(|(i, v)| (def.fields[i].name.clone(), v))
                        .collect(),
                })
                .collect();
            objects.push(SnapshotObject {
                name: def.name.clone(),
                records,
            });
        }
        OrgSnapshot {
            profile: self.profile.clone(),
            next_sequence: self.next_sequence,
            auto_numbers: self
                .auto_numbers
                .iter()
                .map(|((o, f), n)| {
                    let def = self.object_def(*o);
                    (format!("{}.{}", def.name, def.fields[*f].name), *n)
                })
                .collect(),
            objects,
        }
    }

    /// Replaces all records with a snapshot's. Fields the schema no longer has are dropped.
    pub fn restore(&mut self, snapshot: OrgSnapshot) {
        self.tables = self.schema.objects().iter().map(Table::new).collect();
        self.profile = snapshot.profile;
        self.next_sequence = snapshot.next_sequence;
        self.auto_numbers.clear();
        for (key, n) in snapshot.auto_numbers {
            if let Some((obj, field)) = key.split_once('.')
                && let Some(o) = self.schema.position(obj)
                && let Some(f) = self.object_def(o).field_position(field)
            {
                self.auto_numbers.insert((o, f), n);
            }
        }
        for object in snapshot.objects {
            let Some(o) = self.schema.position(&object.name) else {
                continue;
            };
            for r in object.records {
                let mut record = Record::empty(r.id);
                for (name, v) in r.fields {
                    if let Some(i) = self.object_def(o).field_position(&name) {
                        record.set(i, v);
                    }
                }
                self.store(o, record);
            }
        }
        if let Some(u) = self.schema.position("User") {
            let first = self
                .slots(u)
                .next()
                .and_then(|s| self.record(u, s))
                .map(|r| r.id);
            if let Some(id) = first {
                self.integration_user = id;
            }
        }
        if let Some(p) = self.schema.position("Pricebook2") {
            let standard = self
                .object_def(p)
                .field_position("IsStandard")
                .and_then(|f| {
                    self.slots(p)
                        .find(|s| self.value(p, *s, f) == Value::Boolean(true))
                });
            if let Some(id) = standard.and_then(|slot| self.record(p, slot)).map(|r| r.id) {
                self.standard_pricebook = id;
            }
        }
    }
}

/// The on-disk form of the org (`--state FILE`).
#[derive(Debug, Serialize, Deserialize)]
pub struct OrgSnapshot {
    pub profile: OrgProfile,
    pub next_sequence: u64,
    pub auto_numbers: HashMap<String, u64>,
    pub objects: Vec<SnapshotObject>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotObject {
    pub name: String,
    pub records: Vec<SnapshotRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub id: SfId,
    pub fields: Vec<(String, Value)>,
}
