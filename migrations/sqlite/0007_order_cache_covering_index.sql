-- The commerce metrics add up every cached order per customer, in customer order. With only
-- (shop, customer_id, processed_at) in the index, each order was then looked up in the table
-- by its key: 300,000 random page reads, about 1.5 s, most of it re-reading pages SQLite's
-- cache had just dropped. With the columns the sums read in the index, one scan of the
-- index answers the query (0.4 s for the same orders). The order history query
-- (customer, by date) still uses its leading columns.
-- Keep in lockstep with migrations/postgres/0007_order_cache_covering_index.sql.
DROP INDEX order_cache_customer;
CREATE INDEX order_cache_customer ON order_cache (
    shop, customer_id, processed_at,
    total_minor, refunded_minor, currency, cancelled, is_test, financial_status
);
