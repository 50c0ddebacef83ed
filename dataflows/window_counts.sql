-- Counts per key prefix in event-time windows, over every change (the events view).
-- The SQL twin of window_counts.toml: the same outputs, byte for byte.
-- Run: kvflow run dataflows/window_counts.sql --output out/

SET input.file = 'window_counts.input.jsonl';

-- Every change: insert, update, delete; events may arrive up to 200 ms out of order.
CREATE SOURCE events FROM events WITH (max_out_of_orderness = 200);

-- Tumbling 1 s windows: count and sum of the integer values, per prefix.
INSERT INTO tumbling
SELECT window_start, window_end, split_part(key, '_', 1) AS prefix,
       count(*) AS count, sum(CAST(value AS INT)) AS sum
FROM TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)
GROUP BY window_start, window_end, split_part(key, '_', 1);

-- Hopping windows: 2 s long, one starting every 500 ms.
INSERT INTO hopping
SELECT window_start, window_end, split_part(key, '_', 1) AS prefix, count(*) AS count
FROM HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND, INTERVAL '2' SECOND)
GROUP BY window_start, window_end, split_part(key, '_', 1);

-- Sessions per key: changes at most 500 ms apart belong to one session.
INSERT INTO sessions
SELECT window_start, window_end, key, count(*) AS count
FROM SESSION(TABLE events PARTITION BY key, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND)
GROUP BY window_start, window_end, key;

-- No window: a running count per kind and prefix (a changelog).
INSERT INTO by_kind
SELECT kind, split_part(key, '_', 1) AS prefix, count(*) AS count
FROM events
GROUP BY kind, split_part(key, '_', 1);
