-- Event routes over a shop: deletes first, then big orders and order batches, then users.
-- The SQL twin of routes.toml.
-- Run: kvflow run dataflows/routes.sql --output out/
--   out/<handler>.routed.jsonl: what each handler got; out/routes.counts.jsonl: counts per
--   route and kind per window. With --data-dir, `kvflow replay` re-sends the history
--   through the same routes.

SET input.generate = 'users-orders';
SET input.events = 5000;
SET input.seed = 3;
SET input.rate_per_sec = 1000;

CREATE SOURCE orders FROM table WITH (key_regex = '^order_');

INSERT INTO open_orders
SELECT value.status AS status, count(*) AS orders FROM orders GROUP BY value.status;

SET routing.counts_window_ms = 1000;

-- Handlers: what a route hands its changes to (each writes <DIR>/<name>.routed.jsonl).
CREATE SINK removed WITH (connector = 'handler', kind = 'each');
CREATE SINK big_orders WITH (
  connector = 'handler', kind = 'conditional', condition = 'CAST(value.amount AS INT) > 400'
);
CREATE SINK order_batches WITH (connector = 'handler', kind = 'batch', size = 50, timeout_ms = 500);
CREATE SINK users WITH (connector = 'handler', kind = 'each');

-- Routes: the first one by priority that matches a change takes it. Handlers and routes
-- have names of their own (the route `users` hands its changes to the handler `users`).
CREATE SINK deletes WITH (connector = 'route', kinds = 'delete', priority = 20, handlers = 'removed');
CREATE SINK orders WITH (
  connector = 'route', kinds = 'insert,update', key_regex = '^order_', priority = 10,
  handlers = 'big_orders, order_batches'
);
CREATE SINK users WITH (connector = 'route', key_regex = '^user_', priority = 5, handlers = 'users');
