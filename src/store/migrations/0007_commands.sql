-- The owner's commands by email. A paused referral holds its mail until `paused_until`
-- (a hundred years ahead for "until resume"); the planner sends nothing for it meanwhile.
ALTER TABLE referrals ADD COLUMN paused_until TEXT;

-- Mail to the owner that is no part of a referral's plan: the answer to a command now, a
-- digest or another notice later. Delivered by the one outbox, like `outbound`, with the same
-- life (scheduled → sending → sent | failed) and the same Message-ID kept on retries.
CREATE TABLE notices (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,          -- command_reply
    to_email      TEXT NOT NULL,          -- the owner's address it answers
    to_name       TEXT NOT NULL,
    referral_id   INTEGER REFERENCES referrals (id),   -- the referral it is about, if one
    subject       TEXT NOT NULL,          -- the subject of the mail it answers ('' if none)
    facts         TEXT NOT NULL,          -- JSON: what its template says
    in_reply_to   TEXT,                   -- the Message-ID it answers
    references_   TEXT NOT NULL,          -- space-separated, ending with in_reply_to
    message_id    TEXT NOT NULL UNIQUE,   -- referrald.notice.<id>.<random>@<tracking domain>
    state         TEXT NOT NULL,          -- scheduled | sending | sent | failed
    due_at        TEXT NOT NULL,
    sent_at       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,  -- bumped before each attempt
    first_attempt_at TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX notices_pending ON notices (state, due_at);
