-- Nexmark q11, user sessions: how many bids each bidder made in each of its sessions, a
-- session ending after 10 s without a bid from that bidder. The SQL twin of q11.toml.
-- Adapted: Flink's legacy group window (GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10'
-- SECOND), with SESSION_START and SESSION_END) written as the SESSION table function, whose
-- window_start and window_end are those two.
-- Run: kvflow bench dataflows/nexmark/q11.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several sessions per bidder
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

-- The source declaration: Flink's `bid` table as a view of the fields q11 reads.
CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');
CREATE VIEW bid AS SELECT CAST(value.bidder AS INT) AS bidder, ts FROM bids;

INSERT INTO q11 WITH (final_state = true)
SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
FROM SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY bidder, window_start, window_end;
