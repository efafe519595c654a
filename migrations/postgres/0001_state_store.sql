-- shopforce state store, PostgreSQL flavour. Keep in lockstep with migrations/sqlite/0001_state_store.sql:
-- same tables, columns, keys and indexes; only the column types differ.

-- One row per engine run (backfill, incremental sync, webhook drain, DLQ replay, ...).
CREATE TABLE runs (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop        TEXT        NOT NULL,
    kind        TEXT        NOT NULL,
    status      TEXT        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    summary     JSONB
);
CREATE INDEX runs_running ON runs (shop, kind) WHERE status = 'running';
CREATE INDEX runs_interrupted ON runs (id) WHERE status = 'interrupted';

-- Bulk API 2.0 ingest jobs, recorded before their data is uploaded.
CREATE TABLE bulk_jobs (
    id                BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            BIGINT      NOT NULL REFERENCES runs (id),
    object            TEXT        NOT NULL,
    operation         TEXT        NOT NULL,
    external_id_field TEXT,
    part              INTEGER     NOT NULL,
    attempt           INTEGER     NOT NULL,
    row_count         BIGINT      NOT NULL,
    payload_path      TEXT,
    sf_job_id         TEXT,
    phase             TEXT        NOT NULL CHECK (phase IN ('planned', 'created', 'uploaded', 'completed',
                                                           'results_stored', 'aborted', 'failed')),
    processed         BIGINT      NOT NULL DEFAULT 0,
    failed            BIGINT      NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX bulk_jobs_run ON bulk_jobs (run_id, id);
CREATE INDEX bulk_jobs_unfinished ON bulk_jobs (id)
    WHERE phase NOT IN ('results_stored', 'aborted', 'failed');
CREATE UNIQUE INDEX bulk_jobs_sf_job_id ON bulk_jobs (sf_job_id) WHERE sf_job_id IS NOT NULL;

-- Shopify record -> Salesforce record.
CREATE TABLE id_mappings (
    shop       TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    shopify_id TEXT        NOT NULL,
    sf_object  TEXT        NOT NULL,
    sf_id      TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop, kind, shopify_id)
);

-- Incremental-sync cursors (e.g. the last updated_at seen per resource).
CREATE TABLE cursors (
    shop       TEXT        NOT NULL,
    resource   TEXT        NOT NULL,
    value      TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop, resource)
);

-- Order cache for commerce metrics; amounts in minor units of `currency`.
CREATE TABLE order_cache (
    shop             TEXT        NOT NULL,
    order_id         TEXT        NOT NULL,
    customer_id      TEXT,
    email            TEXT,
    phone            TEXT,
    processed_at     TIMESTAMPTZ NOT NULL,
    total_minor      BIGINT      NOT NULL,
    currency         TEXT        NOT NULL,
    cancelled        BOOLEAN     NOT NULL,
    financial_status TEXT,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shop, order_id)
);
CREATE INDEX order_cache_customer ON order_cache (shop, customer_id, processed_at);

-- Dead-letter queue: records Salesforce rejected permanently. At most one open letter per record.
CREATE TABLE dead_letters (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      BIGINT      REFERENCES runs (id),
    shop        TEXT        NOT NULL,
    object      TEXT        NOT NULL,
    external_id TEXT        NOT NULL,
    payload     JSONB       NOT NULL,
    error_code  TEXT        NOT NULL,
    message     TEXT        NOT NULL,
    hint        TEXT,
    status      TEXT        NOT NULL CHECK (status IN ('open', 'retried', 'dropped')),
    attempts    INTEGER     NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX dead_letters_open_record ON dead_letters (object, external_id) WHERE status = 'open';
CREATE INDEX dead_letters_status ON dead_letters (status, id);

-- Hash of the last payload sent per Salesforce record (delta detection).
CREATE TABLE payload_hashes (
    object      TEXT        NOT NULL,
    external_id TEXT        NOT NULL,
    hash        BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (object, external_id)
);

-- Ambiguous identity matches waiting for a human. At most one open review per Shopify record.
CREATE TABLE reviews (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop         TEXT        NOT NULL,
    shopify_kind TEXT        NOT NULL,
    shopify_id   TEXT        NOT NULL,
    sf_object    TEXT        NOT NULL,
    reason       TEXT        NOT NULL,
    candidates   JSONB       NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    resolved_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX reviews_open_record ON reviews (shop, shopify_kind, shopify_id) WHERE status = 'open';
CREATE INDEX reviews_status ON reviews (status, id);
