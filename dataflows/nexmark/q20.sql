-- Nexmark q20, expand bid with auction: each bid with its auction's details, for the auctions
-- of category 10. The SQL twin of q20.toml. Each bid looks its auction up at its own time (an
-- auction is always put before its bids), so only the auctions are kept, never the bids.
-- Run: kvflow bench dataflows/nexmark/q20.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE SOURCE auctions FROM table WITH (key_regex = '^auction_');

-- The auctions of category 10 (the description is left out: 100 words a row).
CREATE VIEW auction AS
SELECT CAST(value.id AS INT) AS id, value.item_name AS item_name,
       CAST(value.initial_bid AS INT) AS initial_bid, CAST(value.reserve AS INT) AS reserve,
       ts AS date_time, CAST(value.expires AS INT) AS expires,
       CAST(value.seller AS INT) AS seller, CAST(value.category AS INT) AS category
FROM auctions
WHERE CAST(value.category AS INT) = 10;

INSERT INTO q20 WITH (final_state = true)
SELECT CAST(bids.value.auction AS INT) AS auction, CAST(bids.value.bidder AS INT) AS bidder,
       CAST(bids.value.price AS INT) AS price, bids.value.channel AS channel,
       bids.value.url AS url, bids.ts AS bid_date_time, auction.item_name AS item_name,
       auction.initial_bid AS initial_bid, auction.reserve AS reserve,
       auction.date_time AS auction_date_time, auction.expires AS expires,
       auction.seller AS seller, auction.category AS category
FROM bids JOIN auction ON CAST(bids.value.auction AS INT) = auction.id;
