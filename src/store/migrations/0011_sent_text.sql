-- What each message referrald sent said: its subject and plain-text body as handed to the
-- server, so the web page can show every mail with its text. One row per outbound message,
-- written when the server accepted it; mail sent before this migration has none. `forget`
-- deletes the rows of every referral the forgotten person took part in.
CREATE TABLE sent_text (
    outbound_id   INTEGER PRIMARY KEY REFERENCES outbound (id),
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL
) STRICT;
