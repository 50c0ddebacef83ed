-- Replicate a shop's orders to PostgreSQL, and the number and amount of orders per status.
-- The SQL twin of sync_postgres.toml.
-- Run: kvflow run dataflows/sync_postgres.sql --output out/   (PostgreSQL at 127.0.0.1:5432)
--   psql -h 127.0.0.1 -U postgres test -c 'SELECT * FROM kvflow_status_totals_live'
--   (each table keeps deleted keys as tombstones; its view <table>_live has the live rows)

SET input.generate = 'users-orders';
SET input.events = 6000;
SET input.seed = 22;
SET input.rate_per_sec = 2000;

CREATE SOURCE orders FROM table WITH (key_regex = '^order_');

INSERT INTO status_totals
SELECT value.status AS status, count(*) AS orders, sum(value.amount) AS total
FROM orders
GROUP BY value.status;

-- A table source: the live rows of its keys, one target row per key.
CREATE SINK orders_to_postgres FROM orders WITH (
  connector = 'postgres',
  url = 'host=127.0.0.1 port=5432 user=postgres dbname=test',
  table = 'kvflow_orders',
  conflict = 'last-writer-wins',
  origin = 'shop',
  batch_size = 500
);

-- A pipeline: its changelog, one target row per group.
CREATE SINK status_to_postgres FROM status_totals WITH (
  connector = 'postgres',
  url = 'host=127.0.0.1 port=5432 user=postgres dbname=test',
  table = 'kvflow_status_totals'
);
