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
    created             INTEGER NOT NULL,
    -- Email consent as the Contact shows it (a Shopify state: an opt-out is UNSUBSCRIBED),
    -- and when the CRM itself last changed it (epoch milliseconds; NULL: never seen).
    consent_state       TEXT,
    crm_consent_at      INTEGER
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

-- Email consent per customer: Shopify's latest state as the last export showed it, the
-- last change pushed to Shopify from the CRM (its echo is recognised), and a CRM change
-- waiting to be pushed (a live sync pushes it). Times are epoch milliseconds.
CREATE TABLE consent_log (
    shop           TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    shopify_state  TEXT,
    shopify_at     INTEGER,
    pushed_state   TEXT,
    pushed_at      INTEGER,
    pending_state  TEXT,
    pending_at     INTEGER,
    PRIMARY KEY (shop, customer_id)
);
