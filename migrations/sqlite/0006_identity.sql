-- Identity resolution: the org's Contacts as the engine matches against them (normalised
-- email and phone, folded names), refreshed by SystemModstamp; and the Shopify customers
-- linked to a Contact the engine found rather than created.
-- Keep in lockstep with migrations/postgres/0006_identity.sql.
CREATE TABLE crm_contacts (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT,
    shopify_customer_id TEXT,
    shopify_store       TEXT,
    email               TEXT,
    phone               TEXT,
    first_name          TEXT NOT NULL,
    last_name           TEXT NOT NULL,
    postal_code         TEXT NOT NULL,
    created             INTEGER NOT NULL
);

CREATE TABLE identity_links (
    shop        TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    tier        TEXT NOT NULL,
    -- Whether the Contact carries this customer's id in Shopify_Customer_ID__c (the first
    -- customer linked to it); later ones (other shops) are linked by Id only.
    is_primary  INTEGER NOT NULL,
    linked_at   TEXT NOT NULL,
    PRIMARY KEY (shop, customer_id)
);
