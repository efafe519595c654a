//! Person Accounts: an org setting that, once enabled, lets an Account be a person.
//!
//! What the emulator models, as Salesforce behaves:
//! - a `RecordType` object with a "Business Account" and a "Person Account" record type
//!   (`IsPersonType`); an Account is a person account when its record type is a person type,
//!   or, with no record type given, when the row names a `LastName` and no `Name`;
//! - person fields on Account: `FirstName`, `LastName`, `Salutation`, `PersonEmail`,
//!   `PersonMobilePhone`, `PersonHomePhone`, `PersonMailing*`, `PersonHasOptedOutOfEmail`,
//!   `PersonTitle`, the read-only `IsPersonAccount` and `PersonContactId`, and every custom
//!   Contact field `X__c` again as `X__pc`;
//! - every person account has one Contact (its person contact) that Salesforce creates and
//!   keeps in step: its fields are the account's person fields, its `AccountId` the account;
//!   the Contact cannot be written through the Contact API;
//! - `Name` of a person account is `FirstName LastName`, computed; writing it fails with
//!   "bad field names on insert/update call: Name", as writing a person field on a business
//!   account does.

use super::dml::{SaveContext, Write};
use super::ids::SfId;
use super::org::{ObjectPos, Org, Slot};
use super::schema::{FieldDef, FieldType, ObjectDef, Picklist, Schema, Value};
use super::values::RecordError;

/// Developer name of the person record type the org is seeded with.
pub const PERSON_RECORD_TYPE: &str = "PersonAccount";
/// Developer name of the business record type.
pub const BUSINESS_RECORD_TYPE: &str = "Business_Account";

/// Person fields of Account and the person-contact fields they are (custom `__pc` fields
/// are added per custom Contact field).
const MIRRORED: &[(&str, &str)] = &[
    ("FirstName", "FirstName"),
    ("LastName", "LastName"),
    ("Salutation", "Salutation"),
    ("PersonEmail", "Email"),
    ("Phone", "Phone"),
    ("PersonMobilePhone", "MobilePhone"),
    ("PersonHomePhone", "HomePhone"),
    ("PersonTitle", "Title"),
    ("PersonMailingStreet", "MailingStreet"),
    ("PersonMailingCity", "MailingCity"),
    ("PersonMailingState", "MailingState"),
    ("PersonMailingPostalCode", "MailingPostalCode"),
    ("PersonMailingCountry", "MailingCountry"),
    ("PersonHasOptedOutOfEmail", "HasOptedOutOfEmail"),
    ("OwnerId", "OwnerId"),
];

/// Account fields only a person account may carry.
fn is_person_only(name: &str) -> bool {
    name.ends_with("__pc")
        || (name != "Phone"
            && name != "OwnerId"
            && MIRRORED.iter().any(|(a, _)| a.eq_ignore_ascii_case(name)))
}

/// The Contact field an Account person field is mirrored to.
fn contact_field_of(account_field: &str) -> Option<String> {
    if let Some(base) = account_field.strip_suffix("__pc") {
        return Some(format!("{base}__c"));
    }
    MIRRORED
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(account_field))
        .map(|(_, c)| c.to_string())
}

fn record_type_object() -> ObjectDef {
    let mut fields = vec![
        FieldDef::new("Id", FieldType::Id),
        FieldDef::new("Name", FieldType::Text),
        FieldDef::new("DeveloperName", FieldType::Text),
        FieldDef::new("SobjectType", FieldType::Text),
        FieldDef::new("IsPersonType", FieldType::Checkbox),
        FieldDef::new("IsActive", FieldType::Checkbox),
        FieldDef::new("Description", FieldType::Text),
        FieldDef::new("SystemModstamp", FieldType::DateTime),
    ];
    // Record types are set up by admins; the API reads them.
    for f in &mut fields {
        f.createable = false;
        f.updateable = false;
    }
    ObjectDef::new("RecordType", "Record Types", "012", fields)
}

fn field(name: &str, field_type: FieldType, length: Option<u32>) -> FieldDef {
    let mut f = FieldDef::new(name, field_type);
    if length.is_some() {
        f.length = length;
    }
    f
}

fn read_only(mut f: FieldDef) -> FieldDef {
    f.createable = false;
    f.updateable = false;
    f
}

/// Turns Person Accounts on in `schema` (after custom fields are loaded, since every custom
/// Contact field gets its `__pc` twin on Account).
pub fn enable(schema: &mut Schema) {
    let contact_custom: Vec<FieldDef> = schema
        .object("Contact")
        .map(|c| c.fields.iter().filter(|f| f.custom).cloned().collect())
        .unwrap_or_default();
    if let Some(contact) = schema.object_mut("Contact") {
        contact.upsert_field(read_only(field(
            "IsPersonAccount",
            FieldType::Checkbox,
            None,
        )));
    }
    let Some(account) = schema.object_mut("Account") else {
        return;
    };
    let mut record_type = FieldDef::new("RecordTypeId", FieldType::Reference);
    record_type.reference_to = vec!["RecordType".to_string()];
    record_type.relationship_name = Some("RecordType".to_string());
    let mut person_contact = read_only(FieldDef::new("PersonContactId", FieldType::Reference));
    person_contact.reference_to = vec!["Contact".to_string()];
    person_contact.relationship_name = Some("PersonContact".to_string());
    let mut salutation = FieldDef::new("Salutation", FieldType::Picklist);
    salutation.picklist = Some(Picklist {
        values: ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."]
            .map(String::from)
            .to_vec(),
        restricted: false,
        default: None,
    });
    let mut opted_out = FieldDef::new("PersonHasOptedOutOfEmail", FieldType::Checkbox);
    opted_out.default_value = Some(Value::Boolean(false));
    let mut person_street = FieldDef::new("PersonMailingStreet", FieldType::TextArea);
    person_street.length = Some(255);
    let mut fields = vec![
        record_type,
        read_only(field("IsPersonAccount", FieldType::Checkbox, None)),
        person_contact,
        field("FirstName", FieldType::Text, Some(40)),
        field("LastName", FieldType::Text, Some(80)),
        salutation,
        field("PersonEmail", FieldType::Email, Some(80)),
        field("PersonMobilePhone", FieldType::Phone, None),
        field("PersonHomePhone", FieldType::Phone, None),
        field("PersonTitle", FieldType::Text, Some(80)),
        person_street,
        field("PersonMailingCity", FieldType::Text, Some(40)),
        field("PersonMailingState", FieldType::Text, Some(80)),
        field("PersonMailingPostalCode", FieldType::Text, Some(20)),
        field("PersonMailingCountry", FieldType::Text, Some(80)),
        opted_out,
    ];
    for f in contact_custom {
        let Some(base) = f.name.strip_suffix("__c") else {
            continue;
        };
        let mut twin = f.clone();
        twin.name = format!("{base}__pc");
        // Uniqueness and external-ID lookups belong to the Contact field.
        twin.external_id = false;
        twin.unique = false;
        twin.id_lookup = false;
        twin.required = false;
        fields.push(twin);
    }
    for f in fields {
        account.upsert_field(f);
    }
    // A person account has no Name of its own: required only for business accounts
    // (checked in [`before_insert`]).
    if let Some(i) = account.field_position("Name") {
        let mut name = account.fields[i].clone();
        name.required = false;
        account.upsert_field(name);
    }
    schema.add_object(record_type_object());
}

/// The record types a person-account org is seeded with: (developer name, label, person).
pub fn seed_record_types() -> [(&'static str, &'static str, bool); 2] {
    [
        (BUSINESS_RECORD_TYPE, "Business Account", false),
        (PERSON_RECORD_TYPE, "Person Account", true),
    ]
}

/// Whether the org has Person Accounts (its Account has `IsPersonAccount`).
pub fn enabled(org: &Org, account: ObjectPos) -> bool {
    org.object_def(account).name == "Account"
        && org
            .object_def(account)
            .field_position("IsPersonAccount")
            .is_some()
}

/// What to do to the person contact once the account is saved.
#[derive(Debug, Default)]
pub struct PersonContactSync {
    /// Contact field position → value.
    pub write: Write,
    /// The account was created (its contact must be created too).
    pub create: bool,
}

fn bad_field_names(names: &[String]) -> RecordError {
    RecordError {
        code: "INVALID_FIELD_FOR_INSERT_UPDATE",
        message: format!(
            "Account: bad field names on insert/update call: {}",
            names.join(", ")
        ),
        fields: names.to_vec(),
    }
}

/// A business account may not carry person fields (their defaults aside, which the insert
/// fills in for every Account).
fn misplaced_person_fields(def: &ObjectDef, write: &Write) -> Result<(), RecordError> {
    let misplaced: Vec<String> = write
        .iter()
        .filter(|(i, v)| {
            let f = &def.fields[*i];
            !v.is_null() && is_person_only(&f.name) && f.default_value.as_ref() != Some(v)
        })
        .map(|(i, _)| def.fields[*i].name.clone())
        .collect();
    if misplaced.is_empty() {
        Ok(())
    } else {
        Err(bad_field_names(&misplaced))
    }
}

fn written<'a>(def: &ObjectDef, write: &'a Write, name: &str) -> Option<&'a Value> {
    let f = def.field_position(name)?;
    write.iter().find(|(i, _)| *i == f).map(|(_, v)| v)
}

fn set(def: &ObjectDef, write: &mut Write, name: &str, value: Value) {
    if let Some(f) = def.field_position(name) {
        write.retain(|(i, _)| *i != f);
        write.push((f, value));
    }
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Null) | None => None,
        Some(v) => Some(v.to_text()).filter(|s| !s.is_empty()),
    }
}

fn person_name(first: Option<String>, last: Option<String>) -> Value {
    let name: Vec<String> = [first, last].into_iter().flatten().collect();
    Value::String(name.join(" ").into())
}

/// Whether the record type `id` is an active person type of Account.
fn is_person_type(org: &Org, id: &SfId) -> Result<bool, RecordError> {
    let Some((o, s)) = org.find_id(id) else {
        return Err(super::dml::invalid_cross_reference());
    };
    let sobject = org.value_by_name(o, s, "SobjectType");
    let active = org.value_by_name(o, s, "IsActive");
    if sobject != Value::String("Account".into()) || active != Value::Boolean(true) {
        return Err(RecordError::on(
            "INVALID_CROSS_REFERENCE_KEY",
            format!("Record Type ID: this ID value isn't valid for the user: {id}"),
            "RecordTypeId",
        ));
    }
    Ok(org.value_by_name(o, s, "IsPersonType") == Value::Boolean(true))
}

/// The default person record type (a row with `LastName` and no record type).
fn default_person_type(org: &Org) -> Option<SfId> {
    let o = org.schema().position("RecordType")?;
    org.slots(o)
        .find(|s| {
            org.value_by_name(o, *s, "IsPersonType") == Value::Boolean(true)
                && org.value_by_name(o, *s, "IsActive") == Value::Boolean(true)
        })
        .and_then(|s| org.record(o, s).map(|r| r.id))
}

/// Contact fields to write for the account fields in `write`.
fn mirror(org: &Org, account: ObjectPos, write: &Write) -> Write {
    let Some(contact) = org.schema().position("Contact") else {
        return Vec::new();
    };
    let def = org.object_def(account);
    let contact_def = org.object_def(contact);
    write
        .iter()
        .filter_map(|(i, v)| {
            let target = contact_field_of(&def.fields[*i].name)?;
            contact_def.field_position(&target).map(|c| (c, v.clone()))
        })
        .collect()
}

/// A unique Contact field mirrored from the account must not collide with another Contact
/// (the save's own uniqueness check, run on the person contact's values).
fn check_contact_unique(
    org: &Org,
    contact_write: &Write,
    own_contact: Option<Slot>,
) -> Result<(), RecordError> {
    match org.schema().position("Contact") {
        Some(contact) => super::dml::check_unique(org, contact, contact_write, own_contact),
        None => Ok(()),
    }
}

/// Checks and completes an Account insert in a person-account org.
pub fn before_insert(
    org: &Org,
    account: ObjectPos,
    write: &mut Write,
) -> Result<Option<PersonContactSync>, RecordError> {
    let def = org.object_def(account);
    let given = |write: &Write, name: &str| written(def, write, name).is_some_and(|v| !v.is_null());
    let person = match written(def, write, "RecordTypeId") {
        Some(Value::String(text)) => {
            let id = SfId::parse(text).ok_or_else(super::dml::invalid_cross_reference)?;
            is_person_type(org, &id)?
        }
        _ => {
            let person = given(write, "LastName") && !given(write, "Name");
            if person && let Some(id) = default_person_type(org) {
                set(
                    def,
                    write,
                    "RecordTypeId",
                    Value::String(id.as_str().into()),
                );
            }
            person
        }
    };
    if !person {
        misplaced_person_fields(def, write)?;
        if !given(write, "Name") {
            return Err(super::dml::required_missing(&["Name".to_string()]));
        }
        set(def, write, "IsPersonAccount", Value::Boolean(false));
        return Ok(None);
    }
    if given(write, "Name") {
        return Err(bad_field_names(&["Name".to_string()]));
    }
    if !given(write, "LastName") {
        return Err(super::dml::required_missing(&["LastName".to_string()]));
    }
    let name = person_name(
        text_of(written(def, write, "FirstName")),
        text_of(written(def, write, "LastName")),
    );
    set(def, write, "Name", name);
    set(def, write, "IsPersonAccount", Value::Boolean(true));
    let contact_write = mirror(org, account, write);
    check_contact_unique(org, &contact_write, None)?;
    Ok(Some(PersonContactSync {
        write: contact_write,
        create: true,
    }))
}

/// Checks and completes an Account update in a person-account org.
pub fn before_update(
    org: &Org,
    account: ObjectPos,
    slot: Slot,
    write: &mut Write,
) -> Result<Option<PersonContactSync>, RecordError> {
    let def = org.object_def(account);
    let person = org.value_by_name(account, slot, "IsPersonAccount") == Value::Boolean(true);
    if let Some(Value::String(text)) = written(def, write, "RecordTypeId") {
        let id = SfId::parse(text).ok_or_else(super::dml::invalid_cross_reference)?;
        if is_person_type(org, &id)? != person {
            return Err(RecordError::on(
                "INVALID_FIELD",
                "Cannot change the record type between a business account and a person account through this call",
                "RecordTypeId",
            ));
        }
    }
    if !person {
        misplaced_person_fields(def, write)?;
        if written(def, write, "Name").is_some_and(Value::is_null) {
            return Err(super::dml::required_missing(&["Name".to_string()]));
        }
        return Ok(None);
    }
    if written(def, write, "Name").is_some() {
        return Err(bad_field_names(&["Name".to_string()]));
    }
    if written(def, write, "LastName").is_some_and(Value::is_null) {
        return Err(super::dml::required_missing(&["LastName".to_string()]));
    }
    if written(def, write, "FirstName").is_some() || written(def, write, "LastName").is_some() {
        let current = |name: &str| match written(def, write, name) {
            Some(v) => text_of(Some(v)),
            None => text_of(Some(&org.value_by_name(account, slot, name))),
        };
        let name = person_name(current("FirstName"), current("LastName"));
        set(def, write, "Name", name);
    }
    let contact_write = mirror(org, account, write);
    let own = person_contact_slot(org, account, slot);
    check_contact_unique(org, &contact_write, own)?;
    Ok(Some(PersonContactSync {
        write: contact_write,
        create: false,
    }))
}

fn person_contact_slot(org: &Org, account: ObjectPos, slot: Slot) -> Option<Slot> {
    let contact = org.schema().position("Contact")?;
    match org.value_by_name(account, slot, "PersonContactId") {
        Value::String(text) => SfId::parse(&text).and_then(|id| org.find_in(contact, &id)),
        _ => None,
    }
}

/// Contacts of person accounts are written through their account only.
pub fn check_contact_write(
    org: &Org,
    contact: ObjectPos,
    slot: Option<Slot>,
    write: &Write,
) -> Result<(), RecordError> {
    let def = org.object_def(contact);
    if def.field_position("IsPersonAccount").is_none() {
        return Ok(());
    }
    let is_person_contact = slot
        .is_some_and(|s| org.value_by_name(contact, s, "IsPersonAccount") == Value::Boolean(true));
    if is_person_contact {
        return Err(RecordError::new(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Cannot update a person account's contact; update the person account instead",
        ));
    }
    let account_of = written(def, write, "AccountId").and_then(|v| match v {
        Value::String(text) => SfId::parse(text),
        _ => None,
    });
    if let Some(id) = account_of
        && let Some((o, s)) = org.find_id(&id)
        && org.value_by_name(o, s, "IsPersonAccount") == Value::Boolean(true)
    {
        return Err(RecordError::on(
            "FIELD_INTEGRITY_EXCEPTION",
            "Cannot associate a contact with a person account",
            "AccountId",
        ));
    }
    Ok(())
}

/// Creates or updates the person contact of the account `account_id` just saved.
pub fn after_save(org: &mut Org, account_id: SfId, sync: PersonContactSync, ctx: SaveContext) {
    let Some(contact) = org.schema().position("Contact") else {
        return;
    };
    let Some((account, slot)) = org.find_id(&account_id) else {
        return;
    };
    let contact_def = org.object_def(contact);
    let mut write = sync.write;
    if sync.create {
        let mut extra = Vec::new();
        for (name, value) in [
            ("AccountId", Value::String(account_id.as_str().into())),
            ("IsPersonAccount", Value::Boolean(true)),
        ] {
            if let Some(i) = contact_def.field_position(name) {
                extra.push((i, value));
            }
        }
        // Defaults of the contact fields the account row did not mention.
        for (i, f) in contact_def.fields.iter().enumerate() {
            if !write.iter().any(|(w, _)| *w == i)
                && let Some(v) = f.default_value.clone()
            {
                extra.push((i, v));
            }
        }
        write.extend(extra);
        let contact_id = org.insert_record(contact, write, Some(ctx.user), ctx.now);
        if let Some(field) = org.object_def(account).field_position("PersonContactId") {
            org.update_record(
                account,
                slot,
                vec![(field, Value::String(contact_id.as_str().into()))],
                Some(ctx.user),
                ctx.now,
            );
        }
    } else if !write.is_empty()
        && let Some(contact_slot) = person_contact_slot(org, account, slot)
    {
        org.update_record(contact, contact_slot, write, Some(ctx.user), ctx.now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::salesforce::dml::{self, Saved};
    use crate::emulator::salesforce::org::{OrgProfile, default_users};
    use crate::emulator::salesforce::state::build_schema;
    use chrono::Utc;

    fn org() -> Org {
        let sfdx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sfdx");
        let schema = build_schema(Some(&sfdx), true).unwrap();
        Org::new(
            schema,
            OrgProfile::default(),
            &default_users("int@example.com"),
            Utc::now(),
        )
        .unwrap()
    }

    fn ctx(org: &Org) -> SaveContext {
        SaveContext {
            user: org.integration_user,
            now: Utc::now(),
        }
    }

    fn write(org: &Org, object: &str, pairs: &[(&str, &str)]) -> Write {
        let def = org.schema().object(object).unwrap();
        pairs
            .iter()
            .map(|(name, v)| {
                let f = def.field_position(name).unwrap_or_else(|| panic!("{name}"));
                let value = match *v {
                    "" => Value::Null,
                    "true" => Value::Boolean(true),
                    "false" => Value::Boolean(false),
                    text => Value::String(text.into()),
                };
                (f, value)
            })
            .collect()
    }

    fn insert(org: &mut Org, object: &str, pairs: &[(&str, &str)]) -> Result<Saved, RecordError> {
        let o = org.schema().position(object).unwrap();
        let w = write(org, object, pairs);
        let c = ctx(org);
        dml::insert(org, o, w, c)
    }

    fn get(org: &Org, id: SfId, field: &str) -> Value {
        let (o, s) = org.find_id(&id).unwrap();
        org.value_by_name(o, s, field)
    }

    /// `OwnerId` takes an active user; a deactivated one is refused as Salesforce does.
    #[test]
    fn an_owner_must_be_an_active_user() {
        let mut org = org();
        let user = |org: &Org, email: &str| {
            let o = org.schema().position("User").unwrap();
            org.slots(o)
                .find(|s| org.value_by_name(o, *s, "Email") == Value::String(email.into()))
                .and_then(|s| org.record(o, s))
                .map(|r| r.id.as_str().to_string())
                .unwrap()
        };
        let active = user(&org, "avery.nakamura@example.com");
        let inactive = user(&org, "morgan.lindqvist@example.com");
        let saved = insert(
            &mut org,
            "Account",
            &[("Name", "Acme"), ("OwnerId", &active)],
        )
        .unwrap();
        assert_eq!(
            get(&org, saved.id, "OwnerId"),
            Value::String(active.as_str().into())
        );
        let e = insert(
            &mut org,
            "Account",
            &[("Name", "Acme 2"), ("OwnerId", &inactive)],
        )
        .unwrap_err();
        assert_eq!(e.code, "INACTIVE_OWNER_OR_USER");
        assert!(e.message.contains(&inactive), "{}", e.message);
        // Without an owner the running user owns it.
        let saved = insert(&mut org, "Account", &[("Name", "Acme 3")]).unwrap();
        assert_eq!(
            get(&org, saved.id, "OwnerId"),
            Value::String(org.integration_user.as_str().into())
        );
    }

    #[test]
    fn a_person_account_brings_its_contact_and_keeps_it_in_step() {
        let mut org = org();
        let saved = insert(
            &mut org,
            "Account",
            &[
                ("LastName", "Lovelace"),
                ("FirstName", "Ada"),
                ("PersonEmail", "ada@example.com"),
                ("Shopify_Customer_ID__pc", "42"),
                ("Email_Consent_Status__pc", "Subscribed"),
            ],
        )
        .unwrap();
        assert_eq!(
            get(&org, saved.id, "Name"),
            Value::String("Ada Lovelace".into())
        );
        assert_eq!(get(&org, saved.id, "IsPersonAccount"), Value::Boolean(true));
        let contact = match get(&org, saved.id, "PersonContactId") {
            Value::String(t) => SfId::parse(&t).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            get(&org, contact, "Email"),
            Value::String("ada@example.com".into())
        );
        assert_eq!(
            get(&org, contact, "Shopify_Customer_ID__c"),
            Value::String("42".into())
        );
        assert_eq!(
            get(&org, contact, "AccountId"),
            Value::String(saved.id.as_str().into())
        );

        // An update through the account reaches the contact and renames both.
        let a = org.schema().position("Account").unwrap();
        let slot = org.find_in(a, &saved.id).unwrap();
        let w = write(
            &org,
            "Account",
            &[("LastName", "King"), ("PersonEmail", "")],
        );
        let c = ctx(&org);
        dml::update(&mut org, a, slot, w, c).unwrap();
        assert_eq!(
            get(&org, saved.id, "Name"),
            Value::String("Ada King".into())
        );
        assert_eq!(get(&org, contact, "LastName"), Value::String("King".into()));
        assert_eq!(get(&org, contact, "Email"), Value::Null);

        // The contact itself cannot be written, nor given a sibling.
        let co = org.schema().position("Contact").unwrap();
        let cslot = org.find_in(co, &contact).unwrap();
        let w = write(&org, "Contact", &[("Title", "Countess")]);
        let c = ctx(&org);
        let e = dml::update(&mut org, co, cslot, w, c).unwrap_err();
        assert_eq!(e.code, "INVALID_FIELD_FOR_INSERT_UPDATE");
        let e = insert(
            &mut org,
            "Contact",
            &[("LastName", "Babbage"), ("AccountId", saved.id.as_str())],
        )
        .unwrap_err();
        assert_eq!(e.code, "FIELD_INTEGRITY_EXCEPTION");

        // The mirrored Contact key stays unique.
        let e = insert(
            &mut org,
            "Account",
            &[("LastName", "Twin"), ("Shopify_Customer_ID__pc", "42")],
        )
        .unwrap_err();
        assert_eq!(e.code, "DUPLICATE_VALUE");
    }

    #[test]
    fn names_and_person_fields_go_to_the_right_kind_of_account() {
        let mut org = org();
        let e = insert(
            &mut org,
            "Account",
            &[("Name", "Acme"), ("PersonEmail", "x@example.com")],
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Account: bad field names on insert/update call: PersonEmail"
            )
        );
        let person_type = default_person_type(&org).unwrap();
        let e = insert(
            &mut org,
            "Account",
            &[
                ("RecordTypeId", person_type.as_str()),
                ("Name", "Ada Lovelace"),
                ("LastName", "Lovelace"),
            ],
        )
        .unwrap_err();
        assert!(e.message.ends_with(": Name"), "{}", e.message);
        let e = insert(
            &mut org,
            "Account",
            &[("RecordTypeId", person_type.as_str())],
        )
        .unwrap_err();
        assert_eq!(e.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e.fields, vec!["LastName".to_string()]);
        let e = insert(&mut org, "Account", &[("Phone", "+1 555 0100")]).unwrap_err();
        assert_eq!(e.fields, vec!["Name".to_string()]);
        let business = insert(&mut org, "Account", &[("Name", "Acme")]).unwrap();
        assert_eq!(
            get(&org, business.id, "IsPersonAccount"),
            Value::Boolean(false)
        );
        assert_eq!(get(&org, business.id, "PersonContactId"), Value::Null);
    }
}
