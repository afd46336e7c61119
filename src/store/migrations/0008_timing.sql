-- Timing anchored to the introduction (issue 8, item 1).
-- introduced_at: the introduction's own date (its Date header, no later than when it reached
-- the mailbox); the plan's delays count from it. NULL for referrals recorded before this
-- migration, whose plan counted from created_at and still does.
ALTER TABLE referrals ADD COLUMN introduced_at TEXT;
-- history: 1 when the introduction was older than every message of the plan when it was
-- recorded: it is kept for the record and the reports, and no mail is ever sent about it.
ALTER TABLE referrals ADD COLUMN history INTEGER NOT NULL DEFAULT 0;
-- back_on: the return date (YYYY-MM-DD) a proven auto-reply of this person named; mail to
-- them waits until the day after it.
ALTER TABLE contacts ADD COLUMN back_on TEXT;
