-- The live state of the store (the table view), summarised per key prefix.
-- An update replaces a key's old value in the sums; a delete removes it.
-- The SQL twin of live_table.toml.
-- Run: kvflow run dataflows/live_table.sql --output out/   (out/live.final.jsonl: the final state)

SET input.file = 'live_table.input.jsonl';

CREATE SOURCE table FROM table;

INSERT INTO live WITH (final_state = true)
SELECT split_part(key, '_', 1) AS prefix, count(*) AS live_keys, sum(CAST(value AS INT)) AS total
FROM table
GROUP BY split_part(key, '_', 1);
