//! Mail sources: where raw messages come from. Each yields [`RawMessage`]s for intake and
//! knows nothing about what they mean.

pub mod files;
pub mod imap;

/// One message as it arrived: its bytes and where they came from.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// A path, `stdin`, or `imap:<folder>/<uid>`: shown in logs and kept with rejected mail.
    pub origin: String,
    /// The message, headers and body, exactly as received.
    pub bytes: Vec<u8>,
    /// When it reached the mailbox, when the source knows (IMAP's INTERNALDATE); `None` for
    /// files and standard input, which count as arriving when they are recorded.
    pub arrived_at: Option<chrono::DateTime<chrono::Utc>>,
}
