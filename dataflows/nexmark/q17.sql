-- Nexmark q17, auction statistics report: bids per auction and day, and their prices. An
-- unbounded group aggregation. The SQL twin of q17.toml. Adapted: DATE_FORMAT(`dateTime`,
-- 'yyyy-MM-dd') is the day's first millisecond; avg is a float (Flink's BIGINT column
-- truncates it).
-- Run: kvflow bench dataflows/nexmark/q17.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

-- The source declaration: Flink's `bid` table as a view of the bids' fields.
CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE VIEW bid AS
SELECT CAST(value.auction AS INT) AS auction, CAST(value.bidder AS INT) AS bidder,
       CAST(value.price AS INT) AS price, value.channel AS channel, value.url AS url,
       ts AS `dateTime`
FROM bids;

INSERT INTO q17 WITH (final_state = true)
SELECT
     auction,
     `dateTime` - `dateTime` % 86400000 as `day`,
     count(*) AS total_bids,
     count(*) filter (where price < 10000) AS rank1_bids,
     count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
     count(*) filter (where price >= 1000000) AS rank3_bids,
     min(price) AS min_price,
     max(price) AS max_price,
     avg(price) AS avg_price,
     sum(price) AS sum_price
FROM bid
GROUP BY auction, `dateTime` - `dateTime` % 86400000;
