-- The reciprocity ledger, kept as referrals are recorded (issue 11: `/people` and `/stats`
-- under 50 ms at 100,000 referrals, where counting it from every referral took most of a
-- second). One line per person other than the owner who introduced or was introduced, with
-- the counts `report::build` makes; what depends on answers (ratings, closed business) is
-- still counted when read, from the answers alone. The tests compare every line with
-- `report::build`'s.
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
-- The owner's places in referrals: how many they made and received, without reading the rest.
CREATE INDEX participants_owner ON participants (referral_id, role) WHERE is_owner = 1;

-- Someone other than the owner takes part in a referral.
CREATE TRIGGER ledger_participant AFTER INSERT ON participants WHEN new.is_owner = 0 BEGIN
    INSERT INTO ledger (contact_id, email, name, named_in, introduced, gave_you, succeeded,
                        was_introduced, you_gave)
    SELECT new.contact_id, c.email, new.name, new.referral_id,
        new.role = 'introducer',
        new.role = 'introducer' AND EXISTS (SELECT 1 FROM participants o
            WHERE o.referral_id = new.referral_id AND o.role = 'party' AND o.is_owner = 1),
        new.role = 'introducer' AND r.status = 'succeeded',
        new.role = 'party',
        new.role = 'party' AND EXISTS (SELECT 1 FROM participants o
            WHERE o.referral_id = new.referral_id AND o.role = 'introducer' AND o.is_owner = 1)
    FROM contacts c, referrals r WHERE c.id = new.contact_id AND r.id = new.referral_id
    ON CONFLICT (contact_id) DO UPDATE SET
        introduced = introduced + excluded.introduced,
        gave_you = gave_you + excluded.gave_you,
        succeeded = succeeded + excluded.succeeded,
        was_introduced = was_introduced + excluded.was_introduced,
        you_gave = you_gave + excluded.you_gave,
        name = CASE WHEN excluded.named_in >= named_in THEN excluded.name ELSE name END,
        named_in = max(named_in, excluded.named_in);
END;

-- The owner is a party (once per referral, however many of their addresses are): the
-- introducer, if already recorded, gave them one.
CREATE TRIGGER ledger_owner_party AFTER INSERT ON participants
WHEN new.is_owner = 1 AND new.role = 'party' BEGIN
    UPDATE ledger SET gave_you = gave_you + 1
    WHERE contact_id = (SELECT contact_id FROM participants
                        WHERE referral_id = new.referral_id AND role = 'introducer'
                          AND is_owner = 0)
      AND NOT EXISTS (SELECT 1 FROM participants o
                      WHERE o.referral_id = new.referral_id AND o.role = 'party'
                        AND o.is_owner = 1 AND o.contact_id != new.contact_id);
END;

-- The owner made the referral: the parties already recorded were given one.
CREATE TRIGGER ledger_owner_introducer AFTER INSERT ON participants
WHEN new.is_owner = 1 AND new.role = 'introducer' BEGIN
    UPDATE ledger SET you_gave = you_gave + 1
    WHERE contact_id IN (SELECT contact_id FROM participants
                         WHERE referral_id = new.referral_id AND role = 'party'
                           AND is_owner = 0);
END;

-- A referral succeeds, or stops having succeeded: its introducer's count follows.
CREATE TRIGGER ledger_status AFTER UPDATE OF status ON referrals
WHEN (old.status = 'succeeded') != (new.status = 'succeeded') BEGIN
    UPDATE ledger SET succeeded = succeeded + (new.status = 'succeeded') - (old.status = 'succeeded')
    WHERE contact_id = (SELECT contact_id FROM participants
                        WHERE referral_id = new.id AND role = 'introducer' AND is_owner = 0);
END;

-- `forget` renames them and changes their address.
CREATE TRIGGER ledger_name AFTER UPDATE OF name ON participants WHEN new.is_owner = 0 BEGIN
    UPDATE ledger SET (name, named_in) = (SELECT name, referral_id FROM participants
                                          WHERE contact_id = new.contact_id AND is_owner = 0
                                          ORDER BY referral_id DESC LIMIT 1)
    WHERE contact_id = new.contact_id;
END;

CREATE TRIGGER ledger_email AFTER UPDATE OF email ON contacts BEGIN
    UPDATE ledger SET email = new.email WHERE contact_id = new.id;
END;

-- What is already recorded.
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
