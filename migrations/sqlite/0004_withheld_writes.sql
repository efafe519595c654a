-- Field ownership: how many values each sync withheld from Salesforce, per field and
-- reason (`crm`: the field is CRM-owned; `on_create`: the record already existed). A count
-- that keeps growing for a CRM-owned field means the matrix gives the CRM a field Shopify
-- keeps changing.
-- Keep in lockstep with migrations/postgres/0004_withheld_writes.sql.
CREATE TABLE withheld_writes (
    object         TEXT NOT NULL,
    field          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    total          INTEGER NOT NULL,
    last_run_id    INTEGER NOT NULL,
    last_run_count INTEGER NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (object, field, reason)
);
