-- Nexmark q2, selection: the bids on a sample of auctions. The SQL twin of q2.toml.
-- Run: kvflow bench dataflows/nexmark/q2.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

INSERT INTO q2
SELECT value.auction AS auction, value.price AS price
FROM bids
WHERE CAST(value.auction AS INT) % 123 = 0;
