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
}
