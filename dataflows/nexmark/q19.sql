-- Nexmark q19, auction top-10 price: the 10 highest bids of each auction, ranked. A top-N.
-- The SQL twin of q19.toml.
-- Run: kvflow bench dataflows/nexmark/q19.sql --workload nexmark --events 1000000 -w 1,2

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

INSERT INTO q19 WITH (final_state = true)
SELECT * FROM
(SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid)
WHERE rank_number <= 10;
