-- Nexmark q1, currency conversion: every bid with its price in euros. The SQL twin of q1.toml.
-- Run: kvflow bench dataflows/nexmark/q1.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

INSERT INTO q1
SELECT value.auction AS auction, value.bidder AS bidder,
       0.908 * CAST(value.price AS INT) AS price, ts AS date_time
FROM bids;
