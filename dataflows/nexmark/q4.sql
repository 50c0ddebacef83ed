-- Nexmark q4, average price per category: the winning (highest) bid of each auction among
-- the bids placed while it was open, averaged per category. Over live tables, so the output
-- is a changelog; the final state is the answer over the whole input. The SQL twin of q4.toml.
-- Run: kvflow bench dataflows/nexmark/q4.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE SOURCE auctions FROM table WITH (key_regex = '^auction_');

-- The highest bid of each auction while it was open.
INSERT INTO winning_bids
SELECT auctions.value.id AS auction, auctions.value.category AS category,
       max(CAST(bids.value.price AS INT)) AS final_price
FROM bids JOIN auctions ON bids.value.auction = auctions.value.id
WHERE bids.ts >= CAST(auctions.value.ts AS INT) AND bids.ts <= CAST(auctions.value.expires AS INT)
GROUP BY auctions.value.id, auctions.value.category;

INSERT INTO q4 WITH (final_state = true)
SELECT category, avg(final_price) AS avg_price
FROM winning_bids
GROUP BY category;
