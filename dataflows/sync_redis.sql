-- Replicate a shop to Redis: the live users table as it is, and each user's order totals.
-- The SQL twin of sync_redis.toml.
-- Run: kvflow run dataflows/sync_redis.sql --output out/   (Redis at 127.0.0.1:6379)
--   redis-cli GET 'kvflow-dataflow:users:user_7'   -> the user's value (JSON)
--   redis-cli GET 'kvflow-dataflow:totals:user_7'  -> {"user":"user_7","orders":..,"total":..}

SET input.generate = 'users-orders';
SET input.events = 6000;
SET input.seed = 21;
SET input.rate_per_sec = 2000;

CREATE SOURCE orders FROM table WITH (key_regex = '^order_');
CREATE SOURCE users FROM table WITH (key_regex = '^user_');

INSERT INTO user_totals
SELECT value.user_id AS user, count(*) AS orders, sum(value.amount) AS total
FROM orders
GROUP BY value.user_id;

-- The live users table, these keys.
CREATE SINK users_to_redis FROM users WITH (
  connector = 'redis',
  url = 'redis://127.0.0.1:6379/',
  prefix = 'kvflow-dataflow:users:',
  conflict = 'last-writer-wins',
  origin = 'shop'
);

-- The pipeline's changelog, one key per user.
CREATE SINK totals_to_redis FROM user_totals WITH (
  connector = 'redis',
  url = 'redis://127.0.0.1:6379/',
  prefix = 'kvflow-dataflow:totals:',
  batch_size = 1000
);
