-- The first schema: people, referrals, who takes part in them, what happened, and the mail we
-- send. Times are UTC in RFC 3339 with second precision ("2026-11-02T10:00:00Z"), so they sort
-- as text and read well in the sqlite3 shell.

-- Everyone we have seen in an introduction. Opting out and bouncing are facts about the
-- address, not about one referral.
CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,   -- lower-cased
    name          TEXT NOT NULL,
    opted_out_at  TEXT,
    bounced_at    TEXT,
    bounce_status TEXT
) STRICT;

CREATE TABLE referrals (
    id            INTEGER PRIMARY KEY,
    status        TEXT NOT NULL,          -- open | connected | succeeded | unsuccessful | stalled | cancelled
    subject       TEXT NOT NULL,
    subject_key   TEXT NOT NULL,          -- normalize_subject(subject), for matching replies
    thread_root   TEXT NOT NULL,          -- the Message-ID our mail threads under
    references_   TEXT NOT NULL,          -- the introduction's References, space-separated
    intro_message_id TEXT NOT NULL,       -- the message that recorded it
    forwarded     INTEGER NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX referrals_subject_key ON referrals (subject_key);

CREATE TABLE participants (
    referral_id   INTEGER NOT NULL REFERENCES referrals (id),
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    position      INTEGER NOT NULL,       -- 0 for the introducer, then parties as addressed
    role          TEXT NOT NULL,          -- introducer | party
    name          TEXT NOT NULL,          -- as this introduction named them
    is_owner      INTEGER NOT NULL,
    state         TEXT NOT NULL,          -- pending | responded | opted_out | bounced
    responded_at  TEXT,
    PRIMARY KEY (referral_id, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX participants_contact ON participants (contact_id);

-- Every change to a referral, with its time and cause, so `show` can tell its story.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    referral_id   INTEGER REFERENCES referrals (id),   -- NULL for address-wide events
    at            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    detail        TEXT NOT NULL,
    message_id    TEXT                                   -- the incoming message that caused it
) STRICT;
CREATE INDEX events_referral ON events (referral_id);

CREATE TABLE outbound (
    id            INTEGER PRIMARY KEY,
    referral_id   INTEGER NOT NULL REFERENCES referrals (id),
    kind          TEXT NOT NULL,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    state         TEXT NOT NULL,          -- scheduled | sending | sent | failed | cancelled
    due_at        TEXT NOT NULL,
    sent_at       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,  -- bumped before each attempt
    first_attempt_at TEXT,                   -- retries give up counting from here
    last_error    TEXT,
    message_id    TEXT NOT NULL,          -- fixed when first scheduled, kept on retries; names the row
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX outbound_pending ON outbound (state, due_at);
CREATE INDEX outbound_referral ON outbound (referral_id);

CREATE TABLE feedback (
    id            INTEGER PRIMARY KEY,
    referral_id   INTEGER NOT NULL REFERENCES referrals (id),
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    at            TEXT NOT NULL,
    rating        INTEGER CHECK (rating BETWEEN 1 AND 5),
    outcome       TEXT,                   -- met | not_met | won | lost
    value         REAL,
    currency      TEXT,
    comment       TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    reported_at   TEXT                    -- when an outcome report carried it to the introducer
) STRICT;
CREATE INDEX feedback_referral ON feedback (referral_id);

-- Every Message-ID we have received, in one index: the incoming messages intake has decided
-- about (so none is processed twice), and the original Message-ID of an introduction that was
-- forwarded to us. A reply is matched to its referral by looking up the ids it refers to here,
-- or, for our own mail, by the outbound row its Message-ID names.
CREATE TABLE messages (
    message_id    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,          -- an intake kind, or 'thread_root'
    reason        TEXT,                   -- why an ignored message was ignored
    referral_id   INTEGER REFERENCES referrals (id),
    at            TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Messages that could not be processed, kept whole so nothing is lost.
CREATE TABLE rejected (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    origin        TEXT NOT NULL,          -- a file path, "stdin", or "imap:<folder>/<uid>"
    reason        TEXT NOT NULL,
    raw           BLOB NOT NULL
) STRICT;
