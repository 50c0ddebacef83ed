-- Nexmark q5, hot items: in every hopping window (10 s long, one every 2 s), the auction(s)
-- with the most bids. A window top-N: RANK() keeps every auction tied for the most, and each
-- window is ranked once, when it closes, and then forgotten, so memory holds the open windows
-- only. The SQL twin of q5.toml; q5_join.sql is the suite's form, a join with each window's
-- maximum, which gives the same rows and keeps every closed window.
-- Run: kvflow bench dataflows/nexmark/q5.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

-- Bids per auction and window.
CREATE VIEW auction_bids AS
SELECT window_start, window_end, value.auction AS auction, count(*) AS num
FROM HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)
GROUP BY window_start, window_end, value.auction;

INSERT INTO q5 WITH (final_state = true)
SELECT window_start, window_end, auction, num
FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rownum
      FROM auction_bids)
WHERE rownum <= 1;
