//! The slice of the Admin GraphQL schema (2026-01) the emulator serves: output types with their
//! fields, arguments, and the input types mutations take. Type and field names are Shopify's;
//! a field outside this slice is an `undefinedField` error, as an unknown field is on Shopify.

use serde_json::Value as Json;

/// The type of an output field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A scalar or enum (or a list of them).
    Scalar,
    /// An object of the named type.
    Obj(&'static str),
    /// A list of objects of the named type.
    ObjList(&'static str),
    /// A union or interface: the runtime type decides (`Node`, `PurchasingEntity`).
    Abstract(&'static str),
    /// A connection of nodes of the named type (`edges { node cursor }`, `nodes`, `pageInfo`).
    Conn(&'static str),
    /// The edge type of a connection of the named node type.
    Edge(&'static str),
    PageInfo,
}

impl Ty {
    /// The type name an error message shows.
    pub fn name(self) -> String {
        match self {
            Ty::Scalar => "scalar".into(),
            Ty::Obj(t) | Ty::ObjList(t) | Ty::Abstract(t) => t.into(),
            Ty::Conn(t) => format!("{t}Connection"),
            Ty::Edge(t) => format!("{t}Edge"),
            Ty::PageInfo => "PageInfo".into(),
        }
    }

    pub fn is_leaf(self) -> bool {
        self == Ty::Scalar
    }
}

/// An argument: its name and input type reference (`ID!`, `[MetafieldsSetInput!]!`).
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub ty: &'static str,
}

/// An output field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub args: &'static [Arg],
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        args: &[],
    }
}

const fn fa(name: &'static str, ty: Ty, args: &'static [Arg]) -> Field {
    Field { name, ty, args }
}

const fn s(name: &'static str) -> Field {
    f(name, Ty::Scalar)
}

const fn a(name: &'static str, ty: &'static str) -> Arg {
    Arg { name, ty }
}

const CONNECTION_ARGS: &[Arg] = &[
    a("first", "Int"),
    a("last", "Int"),
    a("after", "String"),
    a("before", "String"),
    a("reverse", "Boolean"),
    a("query", "String"),
    a("sortKey", "String"),
];

const PLAIN_CONNECTION_ARGS: &[Arg] = &[
    a("first", "Int"),
    a("last", "Int"),
    a("after", "String"),
    a("before", "String"),
    a("reverse", "Boolean"),
];

const METAFIELDS: Field = fa(
    "metafields",
    Ty::Conn("Metafield"),
    &[
        a("first", "Int"),
        a("last", "Int"),
        a("after", "String"),
        a("before", "String"),
        a("reverse", "Boolean"),
        a("namespace", "String"),
        a("keys", "[String!]"),
    ],
);

const METAFIELD: Field = fa(
    "metafield",
    Ty::Obj("Metafield"),
    &[a("namespace", "String"), a("key", "String!")],
);

const QUERY_ROOT: &[Field] = &[
    fa("customer", Ty::Obj("Customer"), &[a("id", "ID!")]),
    fa("customers", Ty::Conn("Customer"), CONNECTION_ARGS),
    fa("order", Ty::Obj("Order"), &[a("id", "ID!")]),
    fa("orders", Ty::Conn("Order"), CONNECTION_ARGS),
    fa("company", Ty::Obj("Company"), &[a("id", "ID!")]),
    fa("companies", Ty::Conn("Company"), CONNECTION_ARGS),
    fa("bulkOperation", Ty::Obj("BulkOperation"), &[a("id", "ID!")]),
    fa(
        "currentBulkOperation",
        Ty::Obj("BulkOperation"),
        &[a("type", "BulkOperationType")],
    ),
    fa("bulkOperations", Ty::Conn("BulkOperation"), CONNECTION_ARGS),
    fa("node", Ty::Abstract("Node"), &[a("id", "ID!")]),
    f("shop", Ty::Obj("Shop")),
];

const MUTATION_ROOT: &[Field] = &[
    fa(
        "bulkOperationRunQuery",
        Ty::Obj("BulkOperationRunQueryPayload"),
        &[a("query", "String!"), a("groupObjects", "Boolean")],
    ),
    fa(
        "bulkOperationCancel",
        Ty::Obj("BulkOperationCancelPayload"),
        &[a("id", "ID!")],
    ),
    fa(
        "customerEmailMarketingConsentUpdate",
        Ty::Obj("CustomerEmailMarketingConsentUpdatePayload"),
        &[a("input", "CustomerEmailMarketingConsentUpdateInput!")],
    ),
    fa(
        "metafieldsSet",
        Ty::Obj("MetafieldsSetPayload"),
        &[a("metafields", "[MetafieldsSetInput!]!")],
    ),
];

const CUSTOMER: &[Field] = &[
    s("id"),
    s("firstName"),
    s("lastName"),
    s("createdAt"),
    s("updatedAt"),
    s("state"),
    s("locale"),
    s("note"),
    s("tags"),
    s("verifiedEmail"),
    s("taxExempt"),
    f("defaultEmailAddress", Ty::Obj("CustomerEmailAddress")),
    f("defaultPhoneNumber", Ty::Obj("CustomerPhoneNumber")),
    s("email"),
    s("phone"),
    f(
        "emailMarketingConsent",
        Ty::Obj("CustomerEmailMarketingConsentState"),
    ),
    f(
        "smsMarketingConsent",
        Ty::Obj("CustomerSmsMarketingConsentState"),
    ),
    f("defaultAddress", Ty::Obj("MailingAddress")),
    fa(
        "addressesV2",
        Ty::Conn("MailingAddress"),
        PLAIN_CONNECTION_ARGS,
    ),
    METAFIELDS,
    METAFIELD,
];

const EMAIL_ADDRESS: &[Field] = &[
    s("emailAddress"),
    s("marketingState"),
    s("marketingOptInLevel"),
    s("marketingUpdatedAt"),
];

const PHONE_NUMBER: &[Field] = &[
    s("phoneNumber"),
    s("marketingState"),
    s("marketingOptInLevel"),
    s("marketingUpdatedAt"),
    s("marketingCollectedFrom"),
];

const EMAIL_CONSENT: &[Field] = &[
    s("marketingState"),
    s("marketingOptInLevel"),
    s("consentUpdatedAt"),
];

const SMS_CONSENT: &[Field] = &[
    s("marketingState"),
    s("marketingOptInLevel"),
    s("consentUpdatedAt"),
    s("consentCollectedFrom"),
];

const MAILING_ADDRESS: &[Field] = &[
    s("id"),
    s("firstName"),
    s("lastName"),
    s("address1"),
    s("address2"),
    s("city"),
    s("province"),
    s("provinceCode"),
    s("country"),
    s("countryCodeV2"),
    s("zip"),
    s("phone"),
    s("company"),
];

const MONEY_BAG: &[Field] = &[
    f("shopMoney", Ty::Obj("MoneyV2")),
    f("presentmentMoney", Ty::Obj("MoneyV2")),
];

const MONEY: &[Field] = &[s("amount"), s("currencyCode")];

const ORDER: &[Field] = &[
    s("id"),
    s("name"),
    s("createdAt"),
    s("updatedAt"),
    s("processedAt"),
    s("cancelledAt"),
    s("cancelReason"),
    s("closed"),
    s("test"),
    s("currencyCode"),
    s("presentmentCurrencyCode"),
    s("email"),
    s("phone"),
    s("displayFinancialStatus"),
    s("displayFulfillmentStatus"),
    s("sourceName"),
    s("tags"),
    s("note"),
    f("customer", Ty::Obj("Customer")),
    f("purchasingEntity", Ty::Abstract("PurchasingEntity")),
    f("subtotalPriceSet", Ty::Obj("MoneyBag")),
    f("totalDiscountsSet", Ty::Obj("MoneyBag")),
    f("totalShippingPriceSet", Ty::Obj("MoneyBag")),
    f("totalTaxSet", Ty::Obj("MoneyBag")),
    f("totalPriceSet", Ty::Obj("MoneyBag")),
    f("totalRefundedSet", Ty::Obj("MoneyBag")),
    f("currentTotalPriceSet", Ty::Obj("MoneyBag")),
    fa("refunds", Ty::ObjList("Refund"), &[a("first", "Int")]),
    fa("lineItems", Ty::Conn("LineItem"), PLAIN_CONNECTION_ARGS),
    METAFIELDS,
    METAFIELD,
];

const REFUND: &[Field] = &[
    s("id"),
    s("createdAt"),
    s("note"),
    f("totalRefundedSet", Ty::Obj("MoneyBag")),
];

const LINE_ITEM: &[Field] = &[
    s("id"),
    s("sku"),
    s("title"),
    s("name"),
    s("variantTitle"),
    s("vendor"),
    s("quantity"),
    s("currentQuantity"),
    s("isGiftCard"),
    f("originalUnitPriceSet", Ty::Obj("MoneyBag")),
    f("product", Ty::Obj("Product")),
    f("variant", Ty::Obj("ProductVariant")),
];

const PRODUCT: &[Field] = &[s("id")];

const VARIANT: &[Field] = &[s("id"), s("sku"), s("title"), s("displayName")];

const PURCHASING_COMPANY: &[Field] = &[
    f("company", Ty::Obj("Company")),
    f("location", Ty::Obj("CompanyLocation")),
    f("contact", Ty::Obj("CompanyContact")),
];

const COMPANY: &[Field] = &[
    s("id"),
    s("name"),
    s("externalId"),
    s("note"),
    s("createdAt"),
    s("updatedAt"),
    s("customerSince"),
    fa("locations", Ty::Conn("CompanyLocation"), CONNECTION_ARGS),
    fa("contacts", Ty::Conn("CompanyContact"), CONNECTION_ARGS),
];

const LOCATION: &[Field] = &[
    s("id"),
    s("name"),
    s("externalId"),
    s("phone"),
    s("locale"),
    f("billingAddress", Ty::Obj("CompanyAddress")),
    f("shippingAddress", Ty::Obj("CompanyAddress")),
];

const COMPANY_ADDRESS: &[Field] = &[
    s("address1"),
    s("address2"),
    s("city"),
    s("province"),
    s("zoneCode"),
    s("countryCode"),
    s("zip"),
    s("recipient"),
];

const CONTACT: &[Field] = &[
    s("id"),
    s("title"),
    s("isMainContact"),
    s("locale"),
    f("customer", Ty::Obj("Customer")),
];

const METAFIELD_FIELDS: &[Field] = &[
    s("id"),
    s("namespace"),
    s("key"),
    s("type"),
    s("value"),
    s("jsonValue"),
    s("compareDigest"),
    s("ownerType"),
    s("createdAt"),
    s("updatedAt"),
];

const BULK_OPERATION: &[Field] = &[
    s("id"),
    s("status"),
    s("type"),
    s("errorCode"),
    s("createdAt"),
    s("completedAt"),
    s("objectCount"),
    s("rootObjectCount"),
    s("fileSize"),
    s("url"),
    s("partialDataUrl"),
    s("query"),
];

const USER_ERROR: &[Field] = &[s("field"), s("message")];

const CODED_USER_ERROR: &[Field] = &[s("field"), s("message"), s("code")];

const METAFIELDS_SET_USER_ERROR: &[Field] =
    &[s("field"), s("message"), s("code"), s("elementIndex")];

const SHOP: &[Field] = &[
    s("id"),
    s("name"),
    s("myshopifyDomain"),
    s("currencyCode"),
    s("ianaTimezone"),
];

const PAGE_INFO: &[Field] = &[
    s("hasNextPage"),
    s("hasPreviousPage"),
    s("startCursor"),
    s("endCursor"),
];

const NODE: &[Field] = &[s("id")];

const RUN_QUERY_PAYLOAD: &[Field] = &[
    f("bulkOperation", Ty::Obj("BulkOperation")),
    f("userErrors", Ty::ObjList("BulkOperationUserError")),
];

const CANCEL_PAYLOAD: &[Field] = &[
    f("bulkOperation", Ty::Obj("BulkOperation")),
    f("userErrors", Ty::ObjList("UserError")),
];

const CONSENT_PAYLOAD: &[Field] = &[
    f("customer", Ty::Obj("Customer")),
    f(
        "userErrors",
        Ty::ObjList("CustomerEmailMarketingConsentUpdateUserError"),
    ),
];

const METAFIELDS_SET_PAYLOAD: &[Field] = &[
    f("metafields", Ty::ObjList("Metafield")),
    f("userErrors", Ty::ObjList("MetafieldsSetUserError")),
];

/// The fields of an object type; `None` for a type the emulator does not know.
pub fn fields_of(ty: Ty) -> Option<Vec<Field>> {
    let statics: &[Field] = match ty {
        Ty::Scalar => return None,
        Ty::Conn(node) => {
            return Some(vec![
                f("edges", Ty::Edge(node)),
                f("nodes", Ty::ObjList(node)),
                f("pageInfo", Ty::PageInfo),
            ]);
        }
        Ty::Edge(node) => return Some(vec![f("node", Ty::Obj(node)), s("cursor")]),
        Ty::PageInfo => PAGE_INFO,
        Ty::Abstract("Node") => NODE,
        Ty::Abstract(_) => &[],
        Ty::Obj(name) | Ty::ObjList(name) => object_fields(name)?,
    };
    Some(statics.to_vec())
}

fn object_fields(name: &str) -> Option<&'static [Field]> {
    Some(match name {
        "QueryRoot" => QUERY_ROOT,
        "Mutation" => MUTATION_ROOT,
        "Customer" => CUSTOMER,
        "CustomerEmailAddress" => EMAIL_ADDRESS,
        "CustomerPhoneNumber" => PHONE_NUMBER,
        "CustomerEmailMarketingConsentState" => EMAIL_CONSENT,
        "CustomerSmsMarketingConsentState" => SMS_CONSENT,
        "MailingAddress" => MAILING_ADDRESS,
        "MoneyBag" => MONEY_BAG,
        "MoneyV2" => MONEY,
        "Order" => ORDER,
        "Refund" => REFUND,
        "LineItem" => LINE_ITEM,
        "Product" => PRODUCT,
        "ProductVariant" => VARIANT,
        "PurchasingCompany" => PURCHASING_COMPANY,
        "Company" => COMPANY,
        "CompanyLocation" => LOCATION,
        "CompanyAddress" => COMPANY_ADDRESS,
        "CompanyContact" => CONTACT,
        "Metafield" => METAFIELD_FIELDS,
        "BulkOperation" => BULK_OPERATION,
        "Shop" => SHOP,
        "BulkOperationRunQueryPayload" => RUN_QUERY_PAYLOAD,
        "BulkOperationCancelPayload" => CANCEL_PAYLOAD,
        "CustomerEmailMarketingConsentUpdatePayload" => CONSENT_PAYLOAD,
        "MetafieldsSetPayload" => METAFIELDS_SET_PAYLOAD,
        "UserError" => USER_ERROR,
        "BulkOperationUserError" | "CustomerEmailMarketingConsentUpdateUserError" => {
            CODED_USER_ERROR
        }
        "MetafieldsSetUserError" => METAFIELDS_SET_USER_ERROR,
        _ => return None,
    })
}

/// The concrete types an abstract type (or a concrete one) can be at run time.
pub fn possible_types(abstract_name: &str) -> &'static [&'static str] {
    match abstract_name {
        "PurchasingEntity" => &["Customer", "PurchasingCompany"],
        "Node" => &[
            "Customer",
            "Order",
            "Company",
            "CompanyLocation",
            "CompanyContact",
            "LineItem",
            "Metafield",
            "BulkOperation",
            "MailingAddress",
            "Product",
            "ProductVariant",
            "Refund",
            "Shop",
        ],
        _ => &[],
    }
}

/// Whether a fragment on `condition` may apply inside a selection of type `parent`.
pub fn fragment_applies(parent: Ty, condition: &str) -> bool {
    match parent {
        Ty::Abstract(name) => condition == name || possible_types(name).contains(&condition),
        Ty::Obj(name) | Ty::ObjList(name) => {
            condition == name || (condition == "Node" && possible_types("Node").contains(&name))
        }
        _ => false,
    }
}

/// Whether a type name exists in the emulator's schema.
pub fn type_exists(name: &str) -> bool {
    object_fields(name).is_some() || matches!(name, "PurchasingEntity" | "Node")
}

// ---------------------------------------------------------------------------------------------
// Input types

/// An input type.
enum Input {
    Scalar(&'static str),
    Enum(&'static [&'static str]),
    Object(&'static [(&'static str, &'static str)]),
}

fn input_type(name: &str) -> Option<Input> {
    Some(match name {
        "ID" | "String" | "Int" | "Float" | "Boolean" | "DateTime" | "URL" | "JSON" => {
            Input::Scalar(match name {
                "ID" => "ID",
                "String" => "String",
                "Int" => "Int",
                "Float" => "Float",
                "Boolean" => "Boolean",
                "DateTime" => "DateTime",
                "URL" => "URL",
                _ => "JSON",
            })
        }
        "BulkOperationType" => Input::Enum(&["QUERY", "MUTATION"]),
        "CustomerEmailMarketingState" => Input::Enum(&super::store::EMAIL_STATES),
        "CustomerMarketingOptInLevel" => Input::Enum(&super::store::OPT_IN_LEVELS),
        "CustomerEmailMarketingConsentUpdateInput" => Input::Object(&[
            ("customerId", "ID!"),
            (
                "emailMarketingConsent",
                "CustomerEmailMarketingConsentInput!",
            ),
        ]),
        "CustomerEmailMarketingConsentInput" => Input::Object(&[
            ("marketingOptInLevel", "CustomerMarketingOptInLevel"),
            ("marketingState", "CustomerEmailMarketingState!"),
            ("consentUpdatedAt", "DateTime"),
            ("sourceLocationId", "ID"),
        ]),
        "MetafieldsSetInput" => Input::Object(&[
            ("ownerId", "ID!"),
            ("namespace", "String"),
            ("key", "String!"),
            ("value", "String!"),
            ("type", "String"),
            ("compareDigest", "String"),
        ]),
        _ => return None,
    })
}

/// Whether `name` is an input type the emulator knows.
pub fn input_type_exists(type_ref: &str) -> bool {
    input_type(base_name(type_ref)).is_some()
}

fn base_name(type_ref: &str) -> &str {
    type_ref.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// A coercion problem: where in the value, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: Vec<Json>,
    pub explanation: String,
}

/// Checks `value` against an input type reference; returns every problem found.
pub fn check_input(type_ref: &str, value: &Json) -> Vec<Problem> {
    let mut problems = Vec::new();
    check(type_ref, value, &mut Vec::new(), &mut problems);
    problems
}

fn problem(path: &[Json], explanation: String, out: &mut Vec<Problem>) {
    out.push(Problem {
        path: path.to_vec(),
        explanation,
    });
}

fn check(type_ref: &str, value: &Json, path: &mut Vec<Json>, out: &mut Vec<Problem>) {
    let (inner, non_null) = match type_ref.strip_suffix('!') {
        Some(inner) => (inner, true),
        None => (type_ref, false),
    };
    if value.is_null() {
        if non_null {
            problem(path, "Expected value to not be null".into(), out);
        }
        return;
    }
    if let Some(item) = inner.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        match value {
            Json::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(Json::from(i));
                    check(item, v, path, out);
                    path.pop();
                }
            }
            // A single value where a list is expected is coerced to a list of one.
            other => check(item, other, path, out),
        }
        return;
    }
    let Some(input) = input_type(inner) else {
        problem(path, format!("Unknown input type {inner}"), out);
        return;
    };
    match input {
        Input::Scalar(kind) => {
            let ok = match (kind, value) {
                ("ID" | "String" | "URL", Json::String(_)) => true,
                ("ID", Json::Number(n)) => n.is_u64(),
                ("Int", Json::Number(n)) => n.is_i64() || n.is_u64(),
                ("Float", Json::Number(_)) => true,
                ("Boolean", Json::Bool(_)) => true,
                ("JSON", _) => true,
                ("DateTime", Json::String(text)) => {
                    if chrono::DateTime::parse_from_rfc3339(text).is_err()
                        && super::search::parse_time(text).is_none()
                    {
                        problem(path, format!("invalid DateTime '{text}'"), out);
                    }
                    true
                }
                _ => false,
            };
            if !ok {
                problem(
                    path,
                    format!("Could not coerce value {value} to {kind}"),
                    out,
                );
            }
        }
        Input::Enum(values) => match value.as_str() {
            Some(v) if values.contains(&v) => {}
            _ => {
                let shown = match value.as_str() {
                    Some(v) => format!("\"{v}\""),
                    None => value.to_string(),
                };
                problem(
                    path,
                    format!("Expected {shown} to be one of: {}", values.join(", ")),
                    out,
                );
            }
        },
        Input::Object(fields) => {
            let Json::Object(map) = value else {
                problem(
                    path,
                    format!("Expected {value} to be a key-value object."),
                    out,
                );
                return;
            };
            for key in map.keys() {
                if !fields.iter().any(|(name, _)| name == key) {
                    path.push(Json::String(key.clone()));
                    problem(path, format!("Field is not defined on {inner}"), out);
                    path.pop();
                }
            }
            for (name, field_ty) in fields {
                path.push(Json::String((*name).to_string()));
                check(field_ty, map.get(*name).unwrap_or(&Json::Null), path, out);
                path.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn consent_input_problems_name_the_path() {
        let ty = "CustomerEmailMarketingConsentUpdateInput!";
        assert!(
            check_input(
                ty,
                &json!({"customerId": "gid://shopify/Customer/1",
                    "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}})
            )
            .is_empty()
        );
        let p = check_input(ty, &json!({"customerId": "gid://shopify/Customer/1"}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].path, vec![json!("emailMarketingConsent")]);
        assert_eq!(p[0].explanation, "Expected value to not be null");
        let p = check_input(
            ty,
            &json!({"customerId": "x", "emailMarketingConsent":
                {"marketingState": "SUBSCRIBED", "marketingOptInLevel": "BOGUS", "consentUpdatedAt": "not-a-date"}}),
        );
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0].explanation,
            "Expected \"BOGUS\" to be one of: SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN"
        );
        assert_eq!(p[1].explanation, "invalid DateTime 'not-a-date'");
        assert_eq!(check_input(ty, &Json::Null).len(), 1);
    }

    #[test]
    fn lists_and_unknown_input_fields() {
        let ty = "[MetafieldsSetInput!]!";
        let ok = json!([{"ownerId": "gid://shopify/Customer/1", "key": "k", "value": "v"}]);
        assert!(check_input(ty, &ok).is_empty());
        let bad =
            json!([{"ownerId": "gid://shopify/Customer/1", "key": "k", "value": "v", "bogus": 1}]);
        let p = check_input(ty, &bad);
        assert_eq!(p[0].path, vec![json!(0), json!("bogus")]);
    }

    #[test]
    fn the_schema_knows_the_engine_selections() {
        let customer = fields_of(Ty::Obj("Customer")).unwrap();
        assert!(customer.iter().any(|f| f.name == "defaultEmailAddress"));
        let conn = fields_of(Ty::Conn("LineItem")).unwrap();
        assert_eq!(conn[0].ty, Ty::Edge("LineItem"));
        assert!(fragment_applies(
            Ty::Abstract("PurchasingEntity"),
            "PurchasingCompany"
        ));
        assert!(!fragment_applies(Ty::Obj("Order"), "Customer"));
        assert!(fields_of(Ty::Obj("Nope")).is_none());
    }
}
