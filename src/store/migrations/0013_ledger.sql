-- The reciprocity ledger, counted as referrals are recorded (issue 11: `/people` and `/stats`
-- under 50 ms at 100,000 referrals, where counting it from every referral took most of a
-- second). One line per person other than the owner who introduced or was introduced, with
-- the counts `report::build` makes; what depends on answers (ratings, closed business) is
-- read from `answers_read` below. The tests compare every line with `report::build`'s.
CREATE TABLE ledger (
    contact_id     INTEGER PRIMARY KEY REFERENCES contacts (id),
    email          TEXT NOT NULL,      -- the contact's address, followed when `forget` changes it
    name           TEXT NOT NULL,      -- as their most recent referral named them
    named_in       INTEGER NOT NULL,   -- that referral
    introduced     INTEGER NOT NULL,   -- referrals they made
    gave_you       INTEGER NOT NULL,   -- of those, the ones with the owner as a party
    succeeded      INTEGER NOT NULL,   -- of those, the ones that succeeded
    was_introduced INTEGER NOT NULL,   -- referrals in which they were a party
    you_gave       INTEGER NOT NULL    -- of those, the ones the owner made
) STRICT;
-- The ledger's order (who gives you the most first), so a page of it is read, not sorted.
CREATE INDEX ledger_order
    ON ledger (gave_you DESC, introduced DESC, you_gave DESC, name, email);
-- The stats' counts by status and by month (from `since`): read in this index's order, neither
-- the table nor a sort (`Store::figures`, `Store::referrals_per_month`).
CREATE INDEX referrals_by_status ON referrals (status, substr(created_at, 1, 7), created_at);
-- The owner's places in referrals: how many they made and received, without reading the rest.
CREATE INDEX participants_owner ON participants (referral_id, role) WHERE is_owner = 1;

-- Recording stays as fast as it was: the counts are not kept by triggers as participants are
-- recorded (that made recording a fifth slower) but added in one statement per batch by
-- `Store::count_for_ledger`, for the referrals after `ledger_counted.upto`; the ledger page
-- runs it before it reads. The triggers below follow the rarer changes to counted referrals.
CREATE TABLE ledger_counted (
    upto INTEGER NOT NULL              -- referrals up to this id are counted in `ledger`
) STRICT;
CREATE UNIQUE INDEX ledger_email ON ledger (email);

-- A referral succeeds, or stops having succeeded: its introducer's count follows.
CREATE TRIGGER ledger_status AFTER UPDATE OF status ON referrals
WHEN (old.status = 'succeeded') != (new.status = 'succeeded')
 AND new.id <= (SELECT upto FROM ledger_counted) BEGIN
    UPDATE ledger SET succeeded = succeeded + (new.status = 'succeeded') - (old.status = 'succeeded')
    WHERE contact_id = (SELECT contact_id FROM participants
                        WHERE referral_id = new.id AND role = 'introducer' AND is_owner = 0);
END;

-- `forget` renames them and changes their address.
CREATE TRIGGER ledger_name AFTER UPDATE OF name ON participants WHEN new.is_owner = 0 BEGIN
    UPDATE ledger SET (name, named_in) = (SELECT name, referral_id FROM participants
                                          WHERE contact_id = new.contact_id AND is_owner = 0
                                            AND referral_id <= (SELECT upto FROM ledger_counted)
                                          ORDER BY referral_id DESC LIMIT 1)
    WHERE contact_id = new.contact_id;
END;

CREATE TRIGGER ledger_email AFTER UPDATE OF email ON contacts BEGIN
    UPDATE ledger SET email = new.email WHERE contact_id = new.id;
END;

-- What is already recorded: counted as `Store::count_for_ledger` counts.
INSERT INTO ledger_counted (upto) VALUES (0);
INSERT INTO ledger (contact_id, email, name, named_in, introduced, gave_you, succeeded,
                    was_introduced, you_gave)
SELECT p.contact_id, c.email,
    (SELECT q.name FROM participants q WHERE q.contact_id = p.contact_id AND q.is_owner = 0
     ORDER BY q.referral_id DESC LIMIT 1),
    max(p.referral_id),
    sum(p.role = 'introducer'),
    sum(p.role = 'introducer' AND EXISTS (SELECT 1 FROM participants o
        WHERE o.referral_id = p.referral_id AND o.role = 'party' AND o.is_owner = 1)),
    sum(p.role = 'introducer' AND r.status = 'succeeded'),
    sum(p.role = 'party'),
    sum(p.role = 'party' AND EXISTS (SELECT 1 FROM participants o
        WHERE o.referral_id = p.referral_id AND o.role = 'introducer' AND o.is_owner = 1))
FROM participants p JOIN contacts c ON c.id = p.contact_id JOIN referrals r ON r.id = p.referral_id
WHERE p.is_owner = 0
GROUP BY p.contact_id;
UPDATE ledger_counted SET upto = coalesce((SELECT max(id) FROM referrals), 0);

-- What the answers about each referral say, read by the report's rules (each person's latest
-- answer, the largest value of a deal): what `/stats` and the ledger's ratings and business
-- add up, so that a page reads one row per answered referral, not every answer. Like the
-- ledger it is brought up to date by the page (`Store::read_answers`), not as mail is
-- recorded: answers newer than `answers_read_upto.feedback` are read then. A change to an
-- answer already read (none is made today) marks its referral in `answers_stale`. While it
-- lags, the figures are counted from the answers themselves.
CREATE TABLE answers_read (
    referral_id INTEGER PRIMARY KEY REFERENCES referrals (id),
    created_at  TEXT NOT NULL,     -- the referral's, and its month (`YYYY-MM`), for the
    month       TEXT NOT NULL,     -- figures from a day and the charts
    credited    INTEGER,           -- its introducer's contact, unless that is the owner
    connected   INTEGER NOT NULL,  -- a party's latest answer says they met
    by_status   INTEGER NOT NULL,  -- its status says so already (connected or succeeded)
    rated_1     INTEGER NOT NULL,  -- how many people's latest rating is 1
    rated_2     INTEGER NOT NULL,
    rated_3     INTEGER NOT NULL,
    rated_4     INTEGER NOT NULL,
    rated_5     INTEGER NOT NULL
) STRICT;
CREATE INDEX answers_read_credited ON answers_read (credited) WHERE credited IS NOT NULL;
-- The business a referral closed, one row per currency, in the report's order.
CREATE TABLE answers_value (
    referral_id INTEGER NOT NULL REFERENCES referrals (id),
    seq         INTEGER NOT NULL,
    created_at  TEXT NOT NULL,     -- the referral's, and its month
    month       TEXT NOT NULL,
    currency    TEXT,
    value       REAL NOT NULL,
    PRIMARY KEY (referral_id, seq)
) STRICT;
CREATE TABLE answers_read_upto (
    feedback   INTEGER NOT NULL,   -- answers up to this id are read
    max_amount REAL                -- the `max-amount` they were read with
) STRICT;
INSERT INTO answers_read_upto (feedback, max_amount) VALUES (0, NULL);
CREATE TABLE answers_stale (referral_id INTEGER PRIMARY KEY) STRICT;
CREATE TRIGGER answers_changed
AFTER UPDATE OF referral_id, contact_id, rating, outcome, value, currency ON feedback
WHEN old.id <= (SELECT feedback FROM answers_read_upto) BEGIN
    INSERT OR IGNORE INTO answers_stale (referral_id) VALUES (old.referral_id), (new.referral_id);
END;
-- A referral's status follows it (so the figures need not read every answered referral).
CREATE TRIGGER answers_status AFTER UPDATE OF status ON referrals
WHEN (old.status IN ('connected', 'succeeded')) != (new.status IN ('connected', 'succeeded'))
BEGIN
    UPDATE answers_read SET by_status = new.status IN ('connected', 'succeeded')
    WHERE referral_id = new.id;
END;
CREATE TRIGGER answers_removed AFTER DELETE ON feedback
WHEN old.id <= (SELECT feedback FROM answers_read_upto) BEGIN
    INSERT OR IGNORE INTO answers_stale (referral_id) VALUES (old.referral_id);
END;
