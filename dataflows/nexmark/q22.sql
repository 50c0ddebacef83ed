-- Nexmark q22, get URL directories: the first three directories of each bid's URL. The SQL
-- twin of q22.toml. Flink's SPLIT_INDEX(url, '/', n) (0-based) is split_part(url, '/', n + 1)
-- (1-based), which gives '' where SPLIT_INDEX gives null (past the last piece).
-- Run: kvflow bench dataflows/nexmark/q22.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

INSERT INTO q22
SELECT CAST(value.auction AS INT) AS auction, CAST(value.bidder AS INT) AS bidder,
       CAST(value.price AS INT) AS price, value.channel AS channel,
       split_part(value.url, '/', 4) AS dir1, split_part(value.url, '/', 5) AS dir2,
       split_part(value.url, '/', 6) AS dir3
FROM bids;
