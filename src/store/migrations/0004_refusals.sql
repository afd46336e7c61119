-- Permanent SMTP refusals of a contact's address since mail to it was last accepted: a second
-- one in a row marks the address undeliverable (bounced), as a delivery report would.
ALTER TABLE contacts ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
