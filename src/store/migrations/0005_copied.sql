-- People copied on an introduction to help (an assistant finding a time), as its words said.
-- They are not participants: nothing is planned for them, nothing counts them as parties;
-- `show` lists them.
CREATE TABLE copied (
    referral_id   INTEGER NOT NULL REFERENCES referrals (id),
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    position      INTEGER NOT NULL,       -- in the order addressed
    name          TEXT NOT NULL,          -- as this introduction named them ('' when unknown)
    PRIMARY KEY (referral_id, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX copied_contact ON copied (contact_id);
