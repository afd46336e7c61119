-- What the owner already wrote on a referral's thread, so our mail does not repeat her, and
-- which held outcome reports she released (issue 8: mail its recipients would welcome).
ALTER TABLE referrals ADD COLUMN owner_thanked_at TEXT;        -- she thanked the introducer
ALTER TABLE referrals ADD COLUMN owner_offered_time_at TEXT;   -- she offered a time or a call
-- An outcome report with bad news is 'held' until the owner decides; released, it is sent
-- as it is and never held again.
ALTER TABLE outbound ADD COLUMN released_at TEXT;
-- The notice that tells the owner a report is held names it, so that her reply "send" or
-- "skip" to that notice decides about that report (and each held report is told once).
ALTER TABLE notices ADD COLUMN outbound_id INTEGER REFERENCES outbound (id);
