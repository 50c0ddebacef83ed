-- Nexmark q9, winning bids: each auction's highest bid made while it was open (the earliest
-- of equal bids), with the auction's fields. Flink's q9 with the source declarations
-- adapted; the SQL twin of q9.toml.
-- Run: kvflow bench dataflows/nexmark/q9.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: auctions open and close
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE auctions FROM events WITH (key_regex = '^auction_');
CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

CREATE VIEW auction AS
SELECT CAST(value.id AS INT) AS id, value.item_name AS itemName,
       value.description AS description, CAST(value.initial_bid AS INT) AS initialBid,
       CAST(value.reserve AS INT) AS reserve, ts AS `dateTime`,
       CAST(value.expires AS INT) AS expires, CAST(value.seller AS INT) AS seller,
       CAST(value.category AS INT) AS category
FROM auctions;

CREATE VIEW bid AS
SELECT CAST(value.auction AS INT) AS auction, CAST(value.bidder AS INT) AS bidder,
       CAST(value.price AS INT) AS price, ts AS `dateTime`
FROM bids;

INSERT INTO q9 WITH (final_state = true)
SELECT * FROM (
  SELECT auction.id AS id, auction.itemName AS itemName, auction.description AS description,
         auction.initialBid AS initialBid, auction.reserve AS reserve,
         auction.`dateTime` AS `dateTime`, auction.expires AS expires,
         auction.seller AS seller, auction.category AS category,
         bid.auction AS auction, bid.bidder AS bidder, bid.price AS price,
         bid.`dateTime` AS bid_dateTime,
         ROW_NUMBER() OVER (PARTITION BY auction.id ORDER BY bid.price DESC, bid.`dateTime` ASC) AS rownum
  FROM auction JOIN bid ON auction.id = bid.auction
  WHERE bid.`dateTime` BETWEEN auction.`dateTime` AND auction.expires
)
WHERE rownum <= 1;
