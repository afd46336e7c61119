-- Options in the address an introduction was sent to (`intros+nothanks+5d@…`), for the
-- referrals that had any: the planner reads them at every plan, `show` lists them.
CREATE TABLE referral_options (
    referral_id     INTEGER PRIMARY KEY REFERENCES referrals (id),
    quiet           INTEGER NOT NULL,     -- 1: nothing is ever sent about it
    thanks          INTEGER NOT NULL,     -- 0: no thank-you to the introducer
    follow_up_after TEXT,                 -- the delay as written ('5d'), when one was given
    follow_up_secs  INTEGER,              -- the same, in seconds
    unknown         TEXT NOT NULL         -- options not understood, space-separated
) STRICT;
