//! The bulk queries the engine runs, one per export file. `README.md` shows the same text
//! (a test keeps the two equal), and `--from-jsonl` reads what these produce.

use chrono::{DateTime, SecondsFormat, Utc};

/// One export of a shop: a bulk query and the file its JSONL is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Export {
    Customers,
    Orders,
    Companies,
}

impl Export {
    /// Every export, in the order they are fetched.
    pub const ALL: [Export; 3] = [Export::Companies, Export::Customers, Export::Orders];

    /// The file `--from-jsonl` reads.
    pub fn file_name(self) -> &'static str {
        match self {
            Export::Customers => "customers.jsonl",
            Export::Orders => "orders.jsonl",
            Export::Companies => "companies.jsonl",
        }
    }

    /// The cursor resource name in the state store (the sync records the newest
    /// `updatedAt` it stored per resource).
    pub fn resource(self) -> &'static str {
        match self {
            Export::Customers => "customers",
            Export::Orders => "orders",
            Export::Companies => "companies",
        }
    }

    /// The connection the query starts from.
    fn root(self) -> &'static str {
        self.resource()
    }

    /// The selection under `edges { node { … } }`.
    fn selection(self) -> &'static str {
        match self {
            Export::Customers => CUSTOMER_SELECTION,
            Export::Orders => ORDER_SELECTION,
            Export::Companies => COMPANY_SELECTION,
        }
    }

    /// The bulk query: everything, or (incremental) what changed at or after `since`.
    pub fn bulk_query(self, since: Option<DateTime<Utc>>) -> String {
        let filter = since
            .map(|t| {
                format!(
                    "(query: \"updated_at:>='{}'\")",
                    t.to_rfc3339_opts(SecondsFormat::Secs, true)
                )
            })
            .unwrap_or_default();
        format!(
            "{{ {}{} {{ edges {{ node {{\n{}\n}} }} }} }}",
            self.root(),
            filter,
            self.selection().trim_end()
        )
    }
}

const CUSTOMER_SELECTION: &str = "    id firstName lastName createdAt updatedAt tags verifiedEmail
    defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
    defaultPhoneNumber { phoneNumber marketingState marketingOptInLevel marketingUpdatedAt }
    defaultAddress { address1 address2 city province provinceCode country countryCodeV2 zip phone company }
";

const ORDER_SELECTION: &str =
    "    id name createdAt updatedAt processedAt cancelledAt currencyCode email phone test
    displayFinancialStatus displayFulfillmentStatus
    customer { id }
    totalPriceSet { shopMoney { amount currencyCode } }
    totalRefundedSet { shopMoney { amount currencyCode } }
    purchasingEntity { __typename ... on Customer { id }
      ... on PurchasingCompany { company { id } location { id } contact { id customer { id } } } }
    lineItems { edges { node {
        id sku title name quantity
        originalUnitPriceSet { shopMoney { amount currencyCode } }
        product { id } variant { id sku title displayName }
    } } }
";

const COMPANY_SELECTION: &str = "    id name externalId note createdAt updatedAt
    locations { edges { node { id name externalId phone
        billingAddress { address1 address2 city province zoneCode countryCode zip }
        shippingAddress { address1 address2 city province zoneCode countryCode zip } } } }
    contacts { edges { node { id title isMainContact
        customer { id firstName lastName email phone tags
          defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt } } } } }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_documents_exactly_these_selections() {
        let readme = include_str!("../../README.md");
        for export in Export::ALL {
            let selection = export.selection().trim_end();
            assert!(
                readme.contains(selection),
                "README.md's bulk query for {} differs from the one the engine runs:\n{selection}",
                export.file_name()
            );
        }
    }

    #[test]
    fn incremental_queries_filter_on_updated_at() {
        let since = DateTime::parse_from_rfc3339("2026-11-01T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let q = Export::Orders.bulk_query(Some(since));
        assert!(
            q.starts_with(
                "{ orders(query: \"updated_at:>='2026-11-01T10:00:00Z'\") { edges { node {"
            ),
            "{q}"
        );
        assert!(q.ends_with("} } } }"));
        let full = Export::Customers.bulk_query(None);
        assert!(full.starts_with("{ customers { edges { node {\n    id firstName"));
        // Balanced braces: Shopify rejects a query that does not parse.
        for q in [q, full, Export::Companies.bulk_query(None)] {
            let open = q.matches('{').count();
            assert_eq!(open, q.matches('}').count(), "{q}");
        }
    }
}
