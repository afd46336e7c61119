//! What the parties of a test do with our mail: read it from their mailbox, and answer it the
//! way a mail client would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mail_parser::MessageParser;

use super::mailsys::MailSystem;

/// The one message of ours of `kind` (its X-Referrald-Kind) in `user`'s inbox, once the inbox
/// holds `count` messages. Fails if there is none, or two.
pub async fn received(
    mail: &MailSystem,
    user: &str,
    count: usize,
    kind: &str,
    timeout: Duration,
) -> Vec<u8> {
    let all = mail
        .wait_for_count(user, "INBOX", count, timeout)
        .await
        .unwrap();
    let mut found = all.into_iter().filter(|raw| {
        let m = MessageParser::default().parse(raw).unwrap();
        m.header_raw("X-Referrald-Kind").map(str::trim) == Some(kind)
    });
    let one = found
        .next()
        .unwrap_or_else(|| panic!("{user} has no {kind}"));
    assert!(found.next().is_none(), "{user} has two {kind}s");
    one
}

/// A reply to `parent` as a mail client writes it: to `tracking` (our Reply-To), threaded
/// under `parent`, top-posted above the quoted original.
pub fn reply(from: &str, tracking: &str, parent: &[u8], text: &str) -> Vec<u8> {
    static SENT: AtomicUsize = AtomicUsize::new(0);
    let n = SENT.fetch_add(1, Ordering::Relaxed);
    let p = MessageParser::default().parse(parent).unwrap();
    let id = p.message_id().unwrap();
    let subject = p.subject().unwrap_or_default();
    let quoted: String = p
        .body_text(0)
        .unwrap()
        .lines()
        .map(|l| format!("> {l}\r\n"))
        .collect();
    format!(
        "From: {from}\r\nTo: {tracking}\r\nSubject: Re: {subject}\r\n\
         Message-ID: <reply.{n}.{pid}@mail.example>\r\nIn-Reply-To: <{id}>\r\nReferences: <{id}>\r\n\
         Date: Wed, 4 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n\r\n\
         On Wed, 4 Nov 2026 at 10:00, Alice Smith <{tracking}> wrote:\r\n{quoted}",
        pid = std::process::id(),
    )
    .into_bytes()
}
