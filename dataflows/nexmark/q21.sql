-- Nexmark q21, add channel id: each bid of a known channel, or whose URL names a channel id,
-- with that id. The SQL twin of q21.toml. Flink's REGEXP_EXTRACT(url,
-- '(&|^)channel_id=([^&]*)', 2) is written with split_part: the text after `channel_id=` up to
-- the next `&` (the generator's URLs put `&` before it); a URL without one gives ''.
-- Run: kvflow bench dataflows/nexmark/q21.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE bids FROM events WITH (key_regex = '^bid_');

INSERT INTO q21
SELECT CAST(value.auction AS INT) AS auction, CAST(value.bidder AS INT) AS bidder,
       CAST(value.price AS INT) AS price, value.channel AS channel,
       CASE WHEN lower(value.channel) = 'apple' THEN '0'
            WHEN lower(value.channel) = 'google' THEN '1'
            WHEN lower(value.channel) = 'facebook' THEN '2'
            WHEN lower(value.channel) = 'baidu' THEN '3'
            ELSE split_part(split_part(value.url, 'channel_id=', 2), '&', 1) END AS channel_id
FROM bids
WHERE split_part(value.url, 'channel_id=', 2) <> ''
   OR lower(value.channel) IN ('apple', 'google', 'facebook', 'baidu');
