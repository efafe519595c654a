-- What commerce metrics need from each cached order (issue 6): the amount refunded (in minor
-- units of the order's currency, shop money), the B2B company the order was placed for, and
-- whether it is a test order. Orders cached before this migration read as not refunded, no
-- company, not a test, until the next export that lists them (`shopforce sync --full`
-- re-reads every order).
-- Version 0004 is another feature's; the gap is intended (sqlx applies missing versions).
-- Keep in lockstep with migrations/postgres/0005_order_metrics.sql.
ALTER TABLE order_cache ADD COLUMN refunded_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_cache ADD COLUMN company_id TEXT;
ALTER TABLE order_cache ADD COLUMN is_test INTEGER NOT NULL DEFAULT 0 CHECK (is_test IN (0, 1));
CREATE INDEX order_cache_company ON order_cache (shop, company_id) WHERE company_id IS NOT NULL;
