-- Live order totals per user, from the keys `order:<id>` that clients write to `kvflow serve`
-- as JSON: an update replaces the order's old amount, a delete (or an expiry) removes it.
-- The SQL twin of orders.toml.
-- Run: kvflow serve dataflows/serve/orders.sql --output out/ --view orders_per_user
--      redis-cli -p 7379 SET order:1 '{"user":"ada","amount":30}'
--      redis-cli -p 7379 GET view:orders_per_user:ada      -> {"customer":"ada","orders":1,"total":30}

CREATE SOURCE orders FROM table WITH (key_regex = '^order:');

INSERT INTO orders_per_user
SELECT value.user AS customer, count(*) AS orders, sum(CAST(value.amount AS INT)) AS total
FROM orders
GROUP BY value.user;
