-- Field ownership: how many values each sync withheld from Salesforce, per field and
-- reason (`crm`: the field is CRM-owned; `on_create`: the record already existed). A count
-- that keeps growing for a CRM-owned field means the matrix gives the CRM a field Shopify
-- keeps changing.
-- Keep in lockstep with migrations/sqlite/0004_withheld_writes.sql.
CREATE TABLE withheld_writes (
    object         TEXT NOT NULL,
    field          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    total          BIGINT NOT NULL,
    last_run_id    BIGINT NOT NULL,
    last_run_count BIGINT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (object, field, reason)
);

-- The hash of the Contact row last built from the companies export's copy of a company
-- contact who was not in the customers export; an incremental run whose export lists the
-- contact again unchanged (its company changed, or the overlap window) sends nothing.
-- Cleared when the contact moves to another company.
ALTER TABLE company_contacts ADD COLUMN export_hash BIGINT;
