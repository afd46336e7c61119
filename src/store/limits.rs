//! What the store keeps of incoming mail, bounded and without forgotten people.
//!
//! Mail is written by strangers, so every piece of it that is stored has a size cap (the
//! README lists them): a value over its cap keeps its head, cut on a character boundary and
//! marked with "…". And once someone has been erased with `referrald forget`, their address
//! must not come back in plain text with the next message that names it: [`Scrub`] replaces
//! any address whose hash is in `forgotten` by "(forgotten)" before text is written.

use std::borrow::Cow;
use std::cell::Cell;

use rusqlite::Connection;

use super::forget::{FORGOTTEN, address_hash};
use crate::model::strip_plus_detail;

/// A raw message kept in `rejected`: its first 256 KiB.
pub(crate) const MAX_RAW: usize = 256 * 1024;
/// Why a message was ignored or rejected, and a bounce's status.
pub(crate) const MAX_REASON: usize = 1024;
/// A participant's answer, as kept and quoted in outcome reports.
pub(crate) const MAX_COMMENT: usize = 4096;
/// A referral's subject.
pub(crate) const MAX_SUBJECT: usize = 1024;
/// A person's name.
pub(crate) const MAX_NAME: usize = 256;
/// One line of a referral's story (it names up to `max-parties` people and a subject).
pub(crate) const MAX_DETAIL: usize = 4096;
/// The text of a message referrald sent, as kept for the web page (templates may be
/// overridden, and quote people's answers).
pub(crate) const MAX_SENT_TEXT: usize = 32 * 1024;

/// `text` cut to at most `max` bytes on a character boundary, ending in "…" when cut.
pub(crate) fn cap(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    const MARK: &str = "…";
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{MARK}", &text[..end]))
}

/// Replaces forgotten addresses in what is about to be stored.
///
/// Whether anyone was forgotten at all is asked once per `Scrub` and remembered: keep a
/// `Scrub` no longer than the transaction (or the one message) it serves, since a `forget`
/// elsewhere may change the answer between transactions.
pub(crate) struct Scrub<'c> {
    conn: &'c Connection,
    anyone: Cell<Option<bool>>,
}

impl<'c> Scrub<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Scrub<'c> {
        Scrub {
            conn,
            anyone: Cell::new(None),
        }
    }

    /// `text` with every forgotten address in it replaced by "(forgotten)".
    pub(crate) fn text<'t>(&self, text: &'t str) -> rusqlite::Result<Cow<'t, str>> {
        Ok(match self.bytes(text.as_bytes())? {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Addresses are cut out at ASCII bytes only (see `address_byte`), so what is left
            // is still UTF-8; the lossy conversion never replaces anything.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        })
    }

    /// `bytes` with every forgotten address in it (as written, any case) replaced.
    pub(crate) fn bytes<'t>(&self, bytes: &'t [u8]) -> rusqlite::Result<Cow<'t, [u8]>> {
        if !bytes.contains(&b'@') || !self.anyone_forgotten()? {
            return Ok(Cow::Borrowed(bytes));
        }
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut i = 0;
        while let Some(offset) = bytes[i..].iter().position(|&b| b == b'@') {
            let at = i + offset;
            let mut start = at;
            while start > 0 && address_byte(bytes[start - 1], false) {
                start -= 1;
            }
            let mut end = at + 1;
            while end < bytes.len() && address_byte(bytes[end], true) {
                end += 1;
            }
            // A sentence's full stop is not part of the domain.
            while end > at + 1 && bytes[end - 1] == b'.' {
                end -= 1;
            }
            if start < at
                && end > at + 1
                && let Ok(address) = std::str::from_utf8(&bytes[start..end])
                && self.is_forgotten(address)?
            {
                let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                out.extend_from_slice(&bytes[copied..start]);
                out.extend_from_slice(FORGOTTEN.as_bytes());
                copied = end;
            }
            i = end.max(at + 1);
        }
        Ok(match out {
            None => Cow::Borrowed(bytes),
            Some(mut out) => {
                out.extend_from_slice(&bytes[copied..]);
                Cow::Owned(out)
            }
        })
    }

    /// Whether anyone at all was forgotten: when not, nothing needs scrubbing or hashing.
    pub(crate) fn anyone_forgotten(&self) -> rusqlite::Result<bool> {
        if let Some(anyone) = self.anyone.get() {
            return Ok(anyone);
        }
        let anyone = self
            .conn
            .prepare_cached("SELECT 1 FROM forgotten LIMIT 1")?
            .exists([])?;
        self.anyone.set(Some(anyone));
        Ok(anyone)
    }

    /// Whether an address, or the address without its `+detail`, was forgotten.
    pub(crate) fn is_forgotten(&self, email: &str) -> rusqlite::Result<bool> {
        // Most stores have forgotten nobody: spare every address its hashes.
        if !self.anyone_forgotten()? {
            return Ok(false);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM forgotten WHERE email_sha256 = ?1")?;
        let email = email.to_lowercase();
        let base = strip_plus_detail(&email);
        Ok(stmt.exists([address_hash(&email)])?
            || (base != email && stmt.exists([address_hash(&base)])?))
    }
}

/// Whether a byte can be part of an address next to its `@`: the local part's characters
/// before it, the domain's after it. Bytes of non-ASCII characters count, so an address is
/// only ever cut out at ASCII bytes.
fn address_byte(b: u8, domain: bool) -> bool {
    b.is_ascii_alphanumeric()
        || b >= 0x80
        || b == b'.'
        || b == b'-'
        || (!domain && b"_%+'".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_cut_on_a_character_boundary_and_say_so() {
        assert_eq!(cap("short", 10), "short");
        let cut = cap("ééééé", 8);
        assert!(cut.len() <= 8, "{cut}");
        assert_eq!(cut, "éé…");
        let long = "x".repeat(5000);
        assert_eq!(cap(&long, MAX_REASON).len(), MAX_REASON);
    }

    #[test]
    fn forgotten_addresses_are_scrubbed_as_written_and_with_any_detail() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("migrations/0003_forgotten.sql"))
            .unwrap();
        let scrub = Scrub::new(&conn);
        let text = "sender Fred@X.example is not allowed";
        // Nobody forgotten: nothing changes.
        assert!(matches!(scrub.text(text).unwrap(), Cow::Borrowed(_)));
        conn.execute(
            "INSERT INTO forgotten VALUES (?1, 'now')",
            [address_hash("fred@x.example")],
        )
        .unwrap();
        // A scrub remembers that nobody was forgotten: one made after the forget sees it.
        assert!(matches!(scrub.text(text).unwrap(), Cow::Borrowed(_)));
        let scrub = Scrub::new(&conn);
        assert_eq!(
            scrub.text(text).unwrap(),
            "sender (forgotten) is not allowed"
        );
        assert_eq!(
            scrub
                .text("<fred+crm@x.example>, alfred@x.example, fred@x.example.")
                .unwrap(),
            "<(forgotten)>, alfred@x.example, (forgotten)."
        );
        assert_eq!(
            scrub.text("née fred@x.example é").unwrap(),
            "née (forgotten) é"
        );
        assert_eq!(scrub.text("@@ a@ @b").unwrap(), "@@ a@ @b");
    }
}
