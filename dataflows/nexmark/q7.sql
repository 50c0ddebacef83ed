-- Nexmark q7, highest bid: in every 10 s tumbling window, the bid(s) with the highest price.
-- The SQL twin of q7.toml: a window join of the bids, each in its window, with the window's
-- maximum, so a window's bids are held only until it closes.
-- Run: kvflow bench dataflows/nexmark/q7.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

-- The highest price of each window.
CREATE VIEW max_price AS
SELECT window_start, window_end, max(CAST(value.price AS INT)) AS max_price
FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY window_start, window_end;

INSERT INTO q7 WITH (final_state = true)
SELECT bids.window_start AS window_start, bids.value.auction AS auction,
       bids.value.bidder AS bidder, CAST(bids.value.price AS INT) AS price,
       bids.ts AS date_time
FROM TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)
JOIN max_price ON bids.window_start = max_price.window_start
              AND bids.window_end = max_price.window_end
              AND CAST(bids.value.price AS INT) = max_price.max_price;
