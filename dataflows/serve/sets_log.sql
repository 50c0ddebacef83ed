-- Every SET as a row of the file sink: what the latency example measures (the time from a
-- client's SET to its row in the file).
-- The SQL twin of sets_log.toml.
-- Run: kvflow serve dataflows/serve/sets_log.sql --output out/     (out/sets.jsonl)

CREATE SOURCE writes FROM events WITH (kinds = 'insert,update');

INSERT INTO sets SELECT key, value FROM writes;
