-- Nexmark q15, bidding statistics report: how many distinct users join the bidding at each
-- level of price, per day. Multiple distinct aggregations with filters. The SQL twin of
-- q15.toml. Adapted: DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') is the day's first millisecond.
-- Run: kvflow bench dataflows/nexmark/q15.sql --workload nexmark --events 1000000 -w 1,2

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

INSERT INTO q15 WITH (final_state = true)
SELECT
     `dateTime` - `dateTime` % 86400000 as `day`,
     count(*) AS total_bids,
     count(*) filter (where price < 10000) AS rank1_bids,
     count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
     count(*) filter (where price >= 1000000) AS rank3_bids,
     count(distinct bidder) AS total_bidders,
     count(distinct bidder) filter (where price < 10000) AS rank1_bidders,
     count(distinct bidder) filter (where price >= 10000 and price < 1000000) AS rank2_bidders,
     count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders,
     count(distinct auction) AS total_auctions,
     count(distinct auction) filter (where price < 10000) AS rank1_auctions,
     count(distinct auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions,
     count(distinct auction) filter (where price >= 1000000) AS rank3_auctions
FROM bid
GROUP BY `dateTime` - `dateTime` % 86400000;
