-- Alert when a user's new orders in a 10 s window total more than a threshold.
-- The SQL twin of alerts.toml.
-- Run: kvflow run dataflows/alerts.sql --output out/   (alerts in out/big_spender.alerts.jsonl)
-- Add `webhook` to `deliver` and `webhook.url = 'http://127.0.0.1:8080/alerts'` to POST each alert.

SET input.generate = 'users-orders';
SET input.events = 8000;
SET input.seed = 11;
SET input.rate_per_sec = 500;

CREATE SOURCE new_orders FROM events WITH (kinds = 'insert', key_regex = '^order_');

INSERT INTO order_totals
SELECT window_start, window_end, value.user_id AS user, count(*) AS orders,
       sum(value.amount) AS total
FROM TUMBLE(TABLE new_orders, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY window_start, window_end, value.user_id;

CREATE SINK big_spender FROM order_totals WITH (
  connector = 'alert',
  condition = 'total > 2000',
  message = '{user} ordered {total} in {orders} orders in [{window_start}, {window_end})',
  severity = 'warning',
  cooldown_ms = INTERVAL '30' SECOND,
  deliver = 'log'
);
