-- Orders joined to their users (both live tables), with running totals per user region.
-- The SQL twin of orders_join.toml.
-- Run: kvflow run dataflows/orders_join.sql --output out/

SET input.file = 'orders_join.input.jsonl';

CREATE SOURCE orders FROM table WITH (key_regex = '^order_');
CREATE SOURCE users FROM table WITH (key_regex = '^user_');

INSERT INTO orders_by_region WITH (final_state = true)
SELECT users.value.region AS region, count(*) AS orders, sum(orders.value.amount) AS total
FROM orders JOIN users ON orders.value.user_id = users.key
GROUP BY users.value.region;
