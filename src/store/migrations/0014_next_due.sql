-- A plan computed when it is due (issue 9): a referral keeps only the time its next message
-- falls due, not a row for it. The outbound row is made when the message is due and about to
-- be claimed, so nothing is planned only to be cancelled. NULL: nothing ahead (the plan has
-- run out, or what is next is already a row: postponed, held or in flight).
--
-- Referrals recorded before this keep their scheduled rows, which go as before; each gets a
-- due time the next time it is planned.
ALTER TABLE referrals ADD COLUMN next_due_at TEXT;
-- With the pause beside the due time, the outbox's round skips paused referrals in the index
-- without reading their rows.
CREATE INDEX referrals_next_due ON referrals (next_due_at, paused_until)
    WHERE next_due_at IS NOT NULL;
-- Open referrals with nothing ahead: the only ones that may have stalled, looked at each
-- round without walking every open referral.
CREATE INDEX referrals_plan_ran_out ON referrals (id)
    WHERE status = 'open' AND next_due_at IS NULL;
-- Paused referrals (few): when a pause that outlasts a due time ends, the daemon wakes.
CREATE INDEX referrals_paused ON referrals (paused_until) WHERE paused_until IS NOT NULL;
