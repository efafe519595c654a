-- The commerce metrics add up every cached order per customer, in customer order: with the
-- columns the sums read carried in the index, an index-only scan answers the query instead
-- of one table lookup per order.
-- Keep in lockstep with migrations/sqlite/0007_order_cache_covering_index.sql.
DROP INDEX order_cache_customer;
CREATE INDEX order_cache_customer ON order_cache (shop, customer_id, processed_at)
    INCLUDE (total_minor, refunded_minor, currency, cancelled, is_test, financial_status);
