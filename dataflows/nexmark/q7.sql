-- Nexmark q7, highest bid: in every 10 s tumbling window, the bid(s) with the highest price.
-- The SQL twin of q7.toml (see there why the bids are read through a pipeline).
-- Run: kvflow bench dataflows/nexmark/q7.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

-- The highest price of each window.
INSERT INTO max_price
SELECT window_start, window_end, max(CAST(value.price AS INT)) AS max_price
FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY window_start, window_end;

-- Every bid, keyed by its window.
INSERT INTO window_bids
SELECT ts - ts % 10000 AS window_start, value.auction AS auction, value.bidder AS bidder,
       CAST(value.price AS INT) AS price, ts AS date_time
FROM bids;

INSERT INTO q7 WITH (final_state = true)
SELECT max_price.window_start AS window_start, window_bids.auction AS auction,
       window_bids.bidder AS bidder, window_bids.price AS price,
       window_bids.date_time AS date_time
FROM max_price
JOIN window_bids ON max_price.window_start = window_bids.window_start
                AND max_price.max_price = window_bids.price;
