-- The list's search, indexed (issue 11: every page under 50 ms at 100,000 referrals). A
-- trigram index over what the search looks in: each referral's subject, and each
-- participant's name and address. It is a filter: every hit is checked against the tables
-- with the search's own LIKE, so results are exactly what a scan would find.
--
-- One index row per subject and per participant, numbered referral_id * 2^20 + slot: slot 0
-- is the subject, position + 1 a participant. A referral's rows are neighbours, and reading
-- the index in descending rowid order lists the newest referral first, as the page does.
--
-- Recording stays as fast as it was: nothing is indexed as referrals are recorded (an FTS5
-- write inside intake's savepoints flushed a tiny segment per message and made recording two
-- and a half times slower). `search_indexed.upto` is the newest referral indexed; the search
-- scans the newer ones itself, and `Store::index_for_search` indexes them in one statement
-- when the web page finds them waiting. Changes to what is indexed (only `forget` renames,
-- readdresses and redacts subjects) are followed by the triggers below.
--
-- Each text ends with two newlines, so that every character of it begins a trigram: a search
-- for one or two characters asks for the trigrams that begin with them (listed by
-- `search_terms`).
--
-- Contentless: no copy of any name is kept here, only the index. contentless_delete lets a
-- row be replaced by its rowid alone; `forget` merges the index afterwards so that deleted
-- entries do not linger. detail=none: a trigram query is an AND of its trigrams (the check
-- against the tables makes it exact), and the index stays small and quick to write.
CREATE VIRTUAL TABLE search USING fts5 (
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram',
    detail = 'none'
);

CREATE VIRTUAL TABLE search_terms USING fts5vocab (search, row);

CREATE TABLE search_indexed (
    upto INTEGER NOT NULL              -- referrals up to this id are in `search`
) STRICT;

CREATE TRIGGER search_referral_update AFTER UPDATE OF subject ON referrals
WHEN old.id <= (SELECT upto FROM search_indexed) BEGIN
    DELETE FROM search WHERE rowid = old.id * 1048576;
    INSERT INTO search (rowid, text) VALUES (new.id * 1048576, new.subject || char(10, 10));
END;

CREATE TRIGGER search_participant_update AFTER UPDATE OF name ON participants
WHEN old.referral_id <= (SELECT upto FROM search_indexed) BEGIN
    DELETE FROM search WHERE rowid = old.referral_id * 1048576 + old.position + 1;
    INSERT INTO search (rowid, text)
    SELECT new.referral_id * 1048576 + new.position + 1, new.name || char(10) || email || char(10, 10)
    FROM contacts WHERE id = new.contact_id;
END;

CREATE TRIGGER search_contact_update AFTER UPDATE OF email ON contacts BEGIN
    DELETE FROM search WHERE rowid IN (
        SELECT referral_id * 1048576 + position + 1 FROM participants
        WHERE contact_id = new.id AND referral_id <= (SELECT upto FROM search_indexed));
    INSERT INTO search (rowid, text)
    SELECT referral_id * 1048576 + position + 1, name || char(10) || new.email || char(10, 10)
    FROM participants
    WHERE contact_id = new.id AND referral_id <= (SELECT upto FROM search_indexed);
END;

-- What is already recorded.
INSERT INTO search_indexed (upto) VALUES (0);
INSERT INTO search (rowid, text) SELECT id * 1048576, subject || char(10, 10) FROM referrals;
INSERT INTO search (rowid, text)
SELECT p.referral_id * 1048576 + p.position + 1, p.name || char(10) || c.email || char(10, 10)
FROM participants p JOIN contacts c ON c.id = p.contact_id;
UPDATE search_indexed SET upto = coalesce((SELECT max(id) FROM referrals), 0);
