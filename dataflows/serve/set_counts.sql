-- Writes per key prefix: a group-by count over every SET a client sends to `kvflow serve`.
-- The SQL twin of set_counts.toml.
-- Run: kvflow serve dataflows/serve/set_counts.sql --output out/
--      redis-benchmark -p 7379 -q -t set -n 100000      (out/sets_per_prefix.jsonl changes)

CREATE SOURCE sets FROM events WITH (kinds = 'insert,update');

INSERT INTO sets_per_prefix
SELECT split_part(key, ':', 1) AS prefix, count(*) AS sets
FROM sets
GROUP BY split_part(key, ':', 1);
