-- The weekly digest to the owner: one row per week it was decided for (sent as a notice, or
-- nothing to say). The week is the key, so a restart or a second `tick` never decides a week
-- twice and never sends two digests for it.
CREATE TABLE digests (
    week        TEXT PRIMARY KEY,              -- the local day of the digest, 2026-12-07
    decided_at  TEXT NOT NULL,
    notice_id   INTEGER REFERENCES notices (id)   -- none when there was nothing to say
) STRICT;
