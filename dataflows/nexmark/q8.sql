-- Nexmark q8, new users: the persons who opened an auction in the same 10 s tumbling window
-- in which they registered, with a window join. The SQL twin of q8.toml.
-- Run: kvflow bench dataflows/nexmark/q8.sql --workload nexmark --events 1000000 -w 1,2

SET input.generate = 'nexmark';
SET input.events = 10000;
SET input.rate_per_sec = 200;   -- 50 s of event time: several 10 s windows
SET store.append_only_keys = '^(person|auction|bid)_';   -- every event a new key: keep none

CREATE SOURCE persons FROM events WITH (key_regex = '^person_');
CREATE SOURCE auctions FROM events WITH (key_regex = '^auction_');

-- Persons per registration window.
INSERT INTO new_persons
SELECT window_start, window_end, value.id AS id, value.name AS name, count(*) AS registrations
FROM TUMBLE(TABLE persons, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY window_start, window_end, value.id, value.name;

-- Sellers per window.
INSERT INTO sellers
SELECT window_start, window_end, value.seller AS seller, count(*) AS auctions
FROM TUMBLE(TABLE auctions, DESCRIPTOR(ts), INTERVAL '10' SECOND)
GROUP BY window_start, window_end, value.seller;

-- A window join: both sides' rows of a window meet once it closes, and are dropped then.
INSERT INTO q8 WITH (final_state = true)
SELECT new_persons.id AS id, new_persons.name AS name, new_persons.window_start AS start
FROM new_persons
JOIN sellers ON new_persons.id = sellers.seller
            AND new_persons.window_start = sellers.window_start
            AND new_persons.window_end = sellers.window_end;
