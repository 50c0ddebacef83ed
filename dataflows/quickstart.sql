-- kvflow quickstart: a generated shop (users, orders, items) flows through two pipelines.
-- The SQL twin of quickstart.toml.
-- Run: cargo run --release -- run dataflows/quickstart.sql

SET input.generate = 'users-orders';   -- the built-in generator; try --generate nexmark or --input FILE
SET input.events = 20000;
SET input.seed = 1;

-- Every change to an order key.
CREATE SOURCE orders FROM events WITH (key_regex = '^order_', kinds = 'insert,update');

-- The live key/value state of the whole store.
CREATE SOURCE store FROM table;

-- Orders and revenue per status, in 1-second event-time windows.
INSERT INTO orders_per_second
SELECT window_start, window_end, value.status AS status,
       count(*) AS orders, sum(value.amount) AS revenue
FROM TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND)
GROUP BY window_start, window_end, value.status;

-- How many live keys of each kind the store holds (a changelog as it evolves).
INSERT INTO live_keys WITH (final_state = true)
SELECT split_part(key, '_', 1) AS kind, count(*) AS keys
FROM store
GROUP BY split_part(key, '_', 1);
