-- Nexmark q18, find last bid: each bidder's last bid on each auction. Deduplication
-- (ROW_NUMBER() … ORDER BY `dateTime` DESC kept to 1 row). The SQL twin of q18.toml. Adapted:
-- the generator's bids have no `extra` column.
-- Run: kvflow bench dataflows/nexmark/q18.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

-- The source declaration: Flink's `bid` table as a view of the bids' fields (a typed source,
-- `CREATE SOURCE bid (auction BIGINT, …)`, would also give `SELECT *` its key, ts, seq and
-- kind, and the deduplication would keep those in its state).
CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE VIEW bid AS
SELECT CAST(value.auction AS INT) AS auction, CAST(value.bidder AS INT) AS bidder,
       CAST(value.price AS INT) AS price, value.channel AS channel, value.url AS url,
       ts AS `dateTime`
FROM bids;

INSERT INTO q18 WITH (final_state = true)
SELECT auction, bidder, price, channel, url, `dateTime`
 FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number
       FROM bid)
 WHERE rank_number <= 1;
