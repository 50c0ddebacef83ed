-- Nexmark q3, local item suggestion: who sells in category 10 from Oregon, Idaho or
-- California. A join of two live tables, so the output is a changelog; the final state is
-- the answer over the whole input. The SQL twin of q3.toml.
-- Run: kvflow bench dataflows/nexmark/q3.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE persons FROM table WITH (key_regex = '^person_');
CREATE SOURCE auctions FROM table WITH (key_regex = '^auction_');

-- The persons of the three states, keyed by id.
INSERT INTO local_persons
SELECT value.id AS id, value.name AS name, value.city AS city, value.state AS state
FROM persons
WHERE value.state IN ('OR', 'ID', 'CA');

INSERT INTO q3 WITH (final_state = true)
SELECT local_persons.name AS name, local_persons.city AS city, local_persons.state AS state,
       auctions.value.id AS auction
FROM auctions JOIN local_persons ON auctions.value.seller = local_persons.id
WHERE CAST(auctions.value.category AS INT) = 10;
