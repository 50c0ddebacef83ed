-- Event-time windows over the `zipf` (or `uniform`) workload: puts of {"v": <int 0..=999>} and
-- deletes over keys a_0, b_1, c_2, d_3, a_4, ... (a_0 the hottest under zipf).
-- The SQL twin of zipf_windows.toml.
-- Run:   kvflow run dataflows/zipf_windows.sql --output out/
-- Bench: kvflow bench dataflows/zipf_windows.sql --workload zipf --keys 10000 --skew 1.2 --events 500000

SET input.generate = 'zipf';
SET input.events = 3000;
SET input.keys = 40;
SET input.skew = 1.2;
SET input.seed = 1;
SET input.disorder_ms = 150;

-- Every change; the generator's events are at most 150 ms out of order.
CREATE SOURCE events FROM events WITH (max_out_of_orderness = 200);

-- Tumbling 1 s windows: count and sum of the values, per prefix (a delete has no value).
INSERT INTO tumbling
SELECT window_start, window_end, split_part(key, '_', 1) AS prefix,
       count(*) AS count, sum(CAST(value.v AS INT)) AS sum
FROM TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)
GROUP BY window_start, window_end, split_part(key, '_', 1);

-- Hopping windows: 2 s long, one starting every 500 ms; the largest value per prefix.
INSERT INTO hopping
SELECT window_start, window_end, split_part(key, '_', 1) AS prefix,
       count(*) AS count, max(CAST(value.v AS INT)) AS max
FROM HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND, INTERVAL '2' SECOND)
GROUP BY window_start, window_end, split_part(key, '_', 1);

-- Sessions per key: changes at most 500 ms apart belong to one session.
INSERT INTO sessions
SELECT window_start, window_end, key, count(*) AS count
FROM SESSION(TABLE events PARTITION BY key, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND)
GROUP BY window_start, window_end, key;
