//! The standard objects the engine uses, with the required fields, types, lengths,
//! picklists and read-only fields of a real org.

use super::schema::{FieldDef, FieldType, ObjectDef, Picklist, Value};

fn text(name: &str, length: u32) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Text);
    f.length = Some(length);
    f
}

fn typed(name: &str, field_type: FieldType) -> FieldDef {
    FieldDef::new(name, field_type)
}

fn required(mut f: FieldDef) -> FieldDef {
    f.required = true;
    f
}

fn read_only(mut f: FieldDef) -> FieldDef {
    f.createable = false;
    f.updateable = false;
    f
}

fn create_only(mut f: FieldDef) -> FieldDef {
    f.updateable = false;
    f
}

fn id_lookup(mut f: FieldDef) -> FieldDef {
    f.id_lookup = true;
    f
}

fn number(name: &str, field_type: FieldType, precision: u32, scale: u32) -> FieldDef {
    let mut f = FieldDef::new(name, field_type);
    f.precision = Some(precision);
    f.scale = Some(scale);
    f
}

fn checkbox(name: &str, default: bool) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Checkbox);
    f.default_value = Some(Value::Boolean(default));
    f
}

fn reference(name: &str, to: &[&str], relationship: &str) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Reference);
    f.reference_to = to.iter().map(|s| s.to_string()).collect();
    f.relationship_name = Some(relationship.to_string());
    f
}

fn picklist(name: &str, values: &[&str], restricted: bool, default: Option<&str>) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Picklist);
    f.picklist = Some(Picklist {
        values: values.iter().map(|s| s.to_string()).collect(),
        restricted,
        default: default.map(str::to_string),
    });
    f
}

fn formula(mut f: FieldDef, source: &str) -> FieldDef {
    f.formula = Some(source.to_string());
    f.createable = false;
    f.updateable = false;
    f
}

/// Audit fields every object carries.
fn system_fields(owned: bool) -> Vec<FieldDef> {
    let mut fields = vec![
        id_lookup(read_only(typed("Id", FieldType::Id))),
        read_only(typed("IsDeleted", FieldType::Checkbox)),
        read_only(typed("CreatedDate", FieldType::DateTime)),
        read_only(reference("CreatedById", &["User"], "CreatedBy")),
        read_only(typed("LastModifiedDate", FieldType::DateTime)),
        read_only(reference("LastModifiedById", &["User"], "LastModifiedBy")),
        read_only(typed("SystemModstamp", FieldType::DateTime)),
    ];
    if owned {
        fields.push(reference("OwnerId", &["User"], "Owner"));
    }
    fields
}

fn address(prefix: &str) -> Vec<FieldDef> {
    let mut street = typed(&format!("{prefix}Street"), FieldType::TextArea);
    street.length = Some(255);
    vec![
        street,
        text(&format!("{prefix}City"), 40),
        text(&format!("{prefix}State"), 80),
        text(&format!("{prefix}PostalCode"), 20),
        text(&format!("{prefix}Country"), 80),
        text(&format!("{prefix}StateCode"), 10),
        text(&format!("{prefix}CountryCode"), 10),
    ]
}

fn with(mut base: Vec<FieldDef>, more: Vec<FieldDef>) -> Vec<FieldDef> {
    base.extend(more);
    base
}

fn long_text(name: &str) -> FieldDef {
    let mut f = typed(name, FieldType::LongTextArea);
    f.length = Some(32000);
    f
}

fn phone(name: &str) -> FieldDef {
    typed(name, FieldType::Phone)
}

fn account() -> ObjectDef {
    let mut fields = with(
        system_fields(true),
        vec![
            id_lookup(required(text("Name", 255))),
            reference("ParentId", &["Account"], "Parent"),
            picklist(
                "Type",
                &[
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Channel Partner / Reseller",
                    "Installation Partner",
                    "Technology Partner",
                    "Other",
                ],
                false,
                None,
            ),
            picklist(
                "Industry",
                &[
                    "Agriculture",
                    "Apparel",
                    "Banking",
                    "Communications",
                    "Consulting",
                    "Education",
                    "Electronics",
                    "Energy",
                    "Finance",
                    "Food & Beverage",
                    "Healthcare",
                    "Hospitality",
                    "Manufacturing",
                    "Media",
                    "Retail",
                    "Technology",
                    "Transportation",
                    "Other",
                ],
                false,
                None,
            ),
            picklist(
                "AccountSource",
                &[
                    "Web",
                    "Phone Inquiry",
                    "Partner Referral",
                    "Purchased List",
                    "Other",
                ],
                false,
                None,
            ),
            picklist("Rating", &["Hot", "Warm", "Cold"], false, None),
            phone("Phone"),
            phone("Fax"),
            typed("Website", FieldType::Url),
            text("AccountNumber", 40),
            text("Site", 80),
            number("NumberOfEmployees", FieldType::Number, 8, 0),
            number("AnnualRevenue", FieldType::Currency, 18, 0),
            long_text("Description"),
        ],
    );
    fields.extend(address("Billing"));
    fields.extend(address("Shipping"));
    ObjectDef::new("Account", "Accounts", "001", fields)
}

fn contact() -> ObjectDef {
    let mut fields = with(
        system_fields(true),
        vec![
            required(text("LastName", 80)),
            text("FirstName", 40),
            picklist(
                "Salutation",
                &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."],
                false,
                None,
            ),
            formula(
                text("Name", 121),
                "IF(ISBLANK(FirstName), LastName, FirstName & \" \" & LastName)",
            ),
            {
                let mut f = id_lookup(typed("Email", FieldType::Email));
                f.length = Some(80);
                f
            },
            phone("Phone"),
            phone("MobilePhone"),
            phone("HomePhone"),
            phone("OtherPhone"),
            text("Title", 128),
            text("Department", 80),
            reference("AccountId", &["Account"], "Account"),
            reference("ReportsToId", &["Contact"], "ReportsTo"),
            typed("Birthdate", FieldType::Date),
            long_text("Description"),
            picklist(
                "LeadSource",
                &[
                    "Web",
                    "Phone Inquiry",
                    "Partner Referral",
                    "Purchased List",
                    "Other",
                ],
                false,
                None,
            ),
            checkbox("HasOptedOutOfEmail", false),
            checkbox("HasOptedOutOfFax", false),
            checkbox("DoNotCall", false),
            read_only(typed("EmailBouncedDate", FieldType::DateTime)),
        ],
    );
    fields.extend(address("Mailing"));
    fields.extend(address("Other"));
    ObjectDef::new("Contact", "Contacts", "003", fields)
}

fn user() -> ObjectDef {
    let fields = with(
        system_fields(false),
        vec![
            id_lookup(required(text("Username", 80))),
            required(text("LastName", 80)),
            text("FirstName", 40),
            formula(
                text("Name", 121),
                "IF(ISBLANK(FirstName), LastName, FirstName & \" \" & LastName)",
            ),
            {
                let mut f = required(typed("Email", FieldType::Email));
                f.length = Some(128);
                f
            },
            required(text("Alias", 8)),
            checkbox("IsActive", true),
            text("Title", 80),
            text("Department", 80),
            text("Country", 80),
            text("State", 80),
            id_lookup(text("FederationIdentifier", 512)),
            text("TimeZoneSidKey", 40),
        ],
    );
    let mut def = ObjectDef::new("User", "Users", "005", fields);
    // Users are provisioned by admins, not by integrations.
    for f in &mut def.fields {
        f.createable = false;
    }
    def
}

fn product2() -> ObjectDef {
    let fields = with(
        system_fields(false),
        vec![
            required(text("Name", 255)),
            text("ProductCode", 255),
            long_text("Description"),
            checkbox("IsActive", false),
            picklist("Family", &["None"], false, None),
            id_lookup(text("StockKeepingUnit", 180)),
            picklist("QuantityUnitOfMeasure", &["Each"], false, None),
        ],
    );
    ObjectDef::new("Product2", "Products", "01t", fields)
}

fn pricebook2() -> ObjectDef {
    let fields = with(
        system_fields(false),
        vec![
            required(text("Name", 255)),
            checkbox("IsActive", false),
            read_only(typed("IsStandard", FieldType::Checkbox)),
            text("Description", 255),
        ],
    );
    ObjectDef::new("Pricebook2", "Price Books", "01s", fields)
}

fn pricebook_entry() -> ObjectDef {
    let fields = with(
        system_fields(false),
        vec![
            read_only(text("Name", 255)),
            required(create_only(reference(
                "Pricebook2Id",
                &["Pricebook2"],
                "Pricebook2",
            ))),
            required(create_only(reference(
                "Product2Id",
                &["Product2"],
                "Product2",
            ))),
            required(number("UnitPrice", FieldType::Currency, 16, 2)),
            checkbox("IsActive", false),
            checkbox("UseStandardPrice", false),
            read_only(text("ProductCode", 255)),
        ],
    );
    ObjectDef::new("PricebookEntry", "Price Book Entries", "01u", fields)
}

fn order() -> ObjectDef {
    let mut fields = with(
        system_fields(true),
        vec![
            required(reference("AccountId", &["Account"], "Account")),
            required(typed("EffectiveDate", FieldType::Date)),
            typed("EndDate", FieldType::Date),
            required(picklist(
                "Status",
                &["Draft", "Activated"],
                true,
                Some("Draft"),
            )),
            read_only(text("StatusCode", 40)),
            reference("Pricebook2Id", &["Pricebook2"], "Pricebook2"),
            reference("BillToContactId", &["Contact"], "BillToContact"),
            reference("ShipToContactId", &["Contact"], "ShipToContact"),
            read_only(typed("OrderNumber", FieldType::AutoNumber)),
            // A new order totals 0 until products are added (the roll-up adds to it).
            FieldDef {
                default_value: Some(Value::Number(0.0)),
                ..read_only(number("TotalAmount", FieldType::Currency, 18, 2))
            },
            text("Name", 80),
            long_text("Description"),
            picklist("Type", &["New", "Renewal", "Upgrade"], false, None),
            text("PoNumber", 80),
            typed("PoDate", FieldType::Date),
            typed("OrderReferenceNumber", FieldType::Text),
        ],
    );
    fields.extend(address("Billing"));
    fields.extend(address("Shipping"));
    ObjectDef::new("Order", "Orders", "801", fields)
}

fn order_item() -> ObjectDef {
    let fields = with(
        system_fields(false),
        vec![
            required(create_only(reference("OrderId", &["Order"], "Order"))),
            required(create_only(reference(
                "PricebookEntryId",
                &["PricebookEntry"],
                "PricebookEntry",
            ))),
            read_only(reference("Product2Id", &["Product2"], "Product2")),
            required(number("Quantity", FieldType::Number, 18, 2)),
            required(number("UnitPrice", FieldType::Currency, 16, 2)),
            read_only(number("ListPrice", FieldType::Currency, 16, 2)),
            formula(
                number("TotalPrice", FieldType::Currency, 16, 2),
                "Quantity * UnitPrice",
            ),
            read_only(typed("OrderItemNumber", FieldType::AutoNumber)),
            text("Description", 255),
            typed("ServiceDate", FieldType::Date),
            typed("EndDate", FieldType::Date),
        ],
    );
    ObjectDef::new("OrderItem", "Order Products", "802", fields)
}

fn account_contact_relation() -> ObjectDef {
    let mut roles = FieldDef::new("Roles", FieldType::MultiselectPicklist);
    roles.picklist = Some(Picklist {
        values: [
            "Business User",
            "Decision Maker",
            "Economic Buyer",
            "Economic Decision Maker",
            "Evaluator",
            "Executive Sponsor",
            "Influencer",
            "Technical Buyer",
            "Other",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        restricted: false,
        default: None,
    });
    let fields = with(
        system_fields(false),
        vec![
            required(create_only(reference("AccountId", &["Account"], "Account"))),
            required(create_only(reference("ContactId", &["Contact"], "Contact"))),
            read_only(typed("IsDirect", FieldType::Checkbox)),
            checkbox("IsActive", true),
            roles,
            typed("StartDate", FieldType::Date),
            typed("EndDate", FieldType::Date),
        ],
    );
    ObjectDef::new(
        "AccountContactRelation",
        "Account Contact Relationships",
        "07k",
        fields,
    )
}

fn organization() -> ObjectDef {
    let fields = with(
        system_fields(false),
        vec![
            text("Name", 80),
            text("InstanceName", 5),
            typed("IsSandbox", FieldType::Checkbox),
            typed("TrialExpirationDate", FieldType::DateTime),
            text("NamespacePrefix", 15),
            text("OrganizationType", 40),
            text("DefaultLocaleSidKey", 40),
            text("LanguageLocaleKey", 40),
            text("TimeZoneSidKey", 40),
        ],
    );
    read_only_object(ObjectDef::new(
        "Organization",
        "Organizations",
        "00D",
        fields,
    ))
}

fn entity_definition() -> ObjectDef {
    let fields = vec![
        id_lookup(read_only(typed("Id", FieldType::Id))),
        text("DurableId", 255),
        text("QualifiedApiName", 255),
        text("DeveloperName", 255),
        text("Label", 255),
        text("PluralLabel", 255),
        text("KeyPrefix", 5),
        typed("IsCustomizable", FieldType::Checkbox),
        typed("IsDeprecatedAndHidden", FieldType::Checkbox),
        typed("IsQueryable", FieldType::Checkbox),
        typed("IsCustomSetting", FieldType::Checkbox),
        typed("IsLayoutable", FieldType::Checkbox),
        typed("IsEverCreatable", FieldType::Checkbox),
        typed("IsEverUpdatable", FieldType::Checkbox),
        typed("IsEverDeletable", FieldType::Checkbox),
        typed("IsRetrieveable", FieldType::Checkbox),
    ];
    read_only_object(ObjectDef::new(
        "EntityDefinition",
        "Entity Definitions",
        "000",
        fields,
    ))
}

fn read_only_object(mut def: ObjectDef) -> ObjectDef {
    for f in &mut def.fields {
        f.createable = false;
        f.updateable = false;
    }
    def
}

/// All standard objects, in the order `describeGlobal` lists them.
pub fn standard_objects() -> Vec<ObjectDef> {
    vec![
        account(),
        account_contact_relation(),
        contact(),
        entity_definition(),
        order(),
        order_item(),
        organization(),
        pricebook2(),
        pricebook_entry(),
        product2(),
        user(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_requires_last_name_and_reads_name_as_a_formula() {
        let c = contact();
        assert!(c.field("LastName").unwrap().required);
        let name = c.field("Name").unwrap();
        assert!(!name.createable && name.formula.is_some());
        assert_eq!(c.relationship("account").unwrap().1.name, "AccountId");
    }

    #[test]
    fn order_total_is_read_only_and_order_items_need_their_parents() {
        let o = order();
        assert!(!o.field("TotalAmount").unwrap().createable);
        assert_eq!(
            o.field("TotalAmount").unwrap().default_value,
            Some(Value::Number(0.0))
        );
        for name in ["AccountId", "EffectiveDate", "Status"] {
            assert!(o.field(name).unwrap().required, "{name}");
        }
        let item = order_item();
        for name in ["OrderId", "PricebookEntryId", "Quantity", "UnitPrice"] {
            assert!(item.field(name).unwrap().required, "{name}");
        }
        assert!(!item.field("PricebookEntryId").unwrap().updateable);
    }

    #[test]
    fn key_prefixes_are_unique() {
        let objects = standard_objects();
        let mut prefixes: Vec<_> = objects.iter().map(|o| o.key_prefix.clone()).collect();
        prefixes.sort();
        prefixes.dedup();
        assert_eq!(prefixes.len(), objects.len());
    }
}
