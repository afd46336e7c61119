-- Where the IMAP watcher left off in each folder: a changed UIDVALIDITY means the server
-- renumbered the folder, and the watcher resynchronises by Message-ID.
CREATE TABLE mailbox (
    folder        TEXT PRIMARY KEY,
    uidvalidity   INTEGER NOT NULL,
    last_uid      INTEGER NOT NULL
) STRICT;
