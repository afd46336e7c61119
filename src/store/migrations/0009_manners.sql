-- What the owner already wrote on a referral's thread, so our mail does not repeat her, and
-- which held outcome reports she released (issue 8: mail its recipients would welcome).
ALTER TABLE referrals ADD COLUMN owner_thanked_at TEXT;        -- she thanked the introducer
ALTER TABLE referrals ADD COLUMN owner_offered_time_at TEXT;   -- she offered a time or a call
-- An outcome report with bad news is 'held' until the owner decides; released, it is sent
-- as it is and never held again.
ALTER TABLE outbound ADD COLUMN released_at TEXT;
