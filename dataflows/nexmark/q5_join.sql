-- Nexmark q5, hot items: in every hopping window (10 s long, one every 2 s), the auction(s)
-- with the most bids, as the suite writes it (a join with each window's maximum). The SQL twin
-- of q5_join.toml; q5.sql is the window top-N form.
-- Run: kvflow bench dataflows/nexmark/q5_join.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

-- Bids per auction and window.
INSERT INTO auction_bids
SELECT window_start, window_end, value.auction AS auction, count(*) AS num
FROM HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
GROUP BY window_start, window_end, value.auction;

-- The largest count of each window.
INSERT INTO max_bids
SELECT window_start, max(num) AS max_num
FROM auction_bids
GROUP BY window_start;

INSERT INTO q5 WITH (final_state = true)
SELECT auction_bids.window_start AS window_start, auction_bids.window_end AS window_end,
       auction_bids.auction AS auction, auction_bids.num AS num
FROM auction_bids
JOIN max_bids ON auction_bids.window_start = max_bids.window_start
             AND auction_bids.num = max_bids.max_num;
