-- People erased with `referrald forget`. All that is kept of them is the SHA-256 of their
-- lower-cased address, so that an introduction naming them again records them as opted out
-- and they are never emailed. A hash of an address is a pseudonym, not anonymity: anyone who
-- has (or guesses) the address can hash it and find it here.
CREATE TABLE forgotten (
    email_sha256  TEXT PRIMARY KEY,       -- lower-case hex
    at            TEXT NOT NULL           -- when they were first forgotten
) STRICT, WITHOUT ROWID;
