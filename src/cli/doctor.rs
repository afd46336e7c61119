//! `referrald doctor`: checks everything `run` needs, one line each — ✓, ⚠ for what works
//! but should not stay so, or ✗ with what is wrong and how to fix it. It also finds the
//! authserv-id to trust by reading who authenticated the newest mail in the mailbox.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::composer::Composer;
use crate::config::{Auth, Config, Imap, TransportKind};
use crate::intake::auth::{Provider, Stamp, topmost_stamp};
use crate::model::OutboundKind;
use crate::net::{CertificateRefused, Trust};
use crate::oauth::{Grant, NeedsLogin};
use crate::source::imap::{Credential, ImapSession, LoginRefused};
use crate::store::Store;
use crate::transport;

/// How many of the newest messages are read to find the authserv-id.
const STAMPS_READ: u32 = 20;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Ok,
    /// Works, but unsafe or incomplete: said, without failing `doctor`.
    Warn,
    Fail,
}

/// One check's verdict.
struct Line {
    mark: Mark,
    what: &'static str,
    text: String,
}

impl Line {
    fn ok(what: &'static str, text: String) -> Line {
        Line {
            mark: Mark::Ok,
            what,
            text,
        }
    }

    fn warn(what: &'static str, text: String) -> Line {
        Line {
            mark: Mark::Warn,
            what,
            text,
        }
    }

    fn fail(what: &'static str, problem: String, fix: &str) -> Line {
        Line {
            mark: Mark::Fail,
            what,
            text: format!("{problem}; {fix}"),
        }
    }

    /// A failure whose description already says what to do.
    fn fail_explained(what: &'static str, problem: String) -> Line {
        Line {
            mark: Mark::Fail,
            what,
            text: problem,
        }
    }

    fn print(&self) {
        let mark = match self.mark {
            Mark::Ok => "✓",
            Mark::Warn => "⚠",
            Mark::Fail => "✗",
        };
        println!("{mark} {}: {}", self.what, self.text);
    }
}

/// Runs every check, printing each as it finishes; exit status 1 if any failed.
pub fn doctor(config: Result<Config>, origin: &Path) -> Result<ExitCode> {
    let config = match config {
        Ok(config) => {
            Line::ok("config", format!("{} is valid", origin.display())).print();
            config
        }
        Err(e) => {
            Line::fail(
                "config",
                format!("{e:#}"),
                "fix the file (config.example.toml lists every key)",
            )
            .print();
            return Ok(ExitCode::from(1));
        }
    };
    let mut lines = vec![
        authentication(&config),
        templates(&config),
        database(&config),
    ];
    for line in &lines {
        line.print();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let remote = runtime.block_on(async {
        let (mut lines, grant) = oauth2(&config).await;
        lines.extend(imap(&config, grant.as_deref()).await);
        lines.push(outbound(&config, grant).await);
        lines
    });
    for line in remote {
        line.print();
        lines.push(line);
    }
    Ok(if lines.iter().all(|l| l.mark != Mark::Fail) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether introductions must prove who sent them, and whom we believe about that.
fn authentication(config: &Config) -> Line {
    let intake = &config.intake;
    // Without [imap] there is no mail to find the authserv-id in.
    let find = if config.imap.is_some() {
        "with the trusted-authserv-ids line the authserv-id check below prints"
    } else {
        "with trusted-authserv-ids (see Authentication in the README; with [imap], doctor finds the value)"
    };
    if !intake.require_authentication {
        return Line::warn(
            "authentication",
            format!(
                "require-authentication = false: anyone can write From: an allowed introducer, and referrald will mail whomever the message names; turn it on {find}"
            ),
        );
    }
    if intake.trusted_authserv_ids.is_empty() {
        return Line::fail_explained(
            "authentication",
            format!(
                "require-authentication is on (the default) but trusted-authserv-ids is empty, so `run` and `ingest` refuse to start: complete [intake] {find}, or set require-authentication = false"
            ),
        );
    }
    Line::ok(
        "authentication",
        format!(
            "introductions must pass DMARC or aligned DKIM, as judged by {}",
            intake.trusted_authserv_ids.join(", ")
        ),
    )
}

fn templates(config: &Config) -> Line {
    match Composer::new(config) {
        Ok(composer) => {
            // Name the overrides in use: a misnamed file would otherwise go unnoticed.
            let overridden: Vec<&str> = OutboundKind::ALL
                .iter()
                .map(|kind| composer.template_origin(*kind))
                .filter(|origin| !origin.starts_with("built-in"))
                .collect();
            Line::ok(
                "templates",
                if overridden.is_empty() {
                    "every message renders (built-in templates)".to_string()
                } else {
                    format!(
                        "every message renders (yours: {}; the rest built in)",
                        overridden.join(", ")
                    )
                },
            )
        }
        Err(e) => Line::fail(
            "templates",
            format!("{e:#}"),
            "fix the template named, or remove it to use the built-in one",
        ),
    }
}

fn database(config: &Config) -> Line {
    let path = config.store_path();
    if !path.exists() {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() && !meta.permissions().readonly() => Line::ok(
                "database",
                format!("{} will be created at the first run", path.display()),
            ),
            _ => Line::fail(
                "database",
                format!(
                    "{} does not exist and {} is not a writable directory",
                    path.display(),
                    dir.display()
                ),
                "create the directory, or set [store] path",
            ),
        };
    }
    match Store::open_read_only(&path).and_then(|s| s.totals()) {
        Ok((processed, referrals)) => Line::ok(
            "database",
            format!(
                "{}: {referrals} referral(s), {processed} message(s) processed",
                path.display()
            ),
        ),
        Err(e) => Line::fail(
            "database",
            format!("{e:#}"),
            "check the file's permissions and that no other program holds it",
        ),
    }
}

/// For `auth = "oauth2"`: whether the saved sign-in still gets access tokens, and if not,
/// the exact `referrald login` command to run; the grant, for the IMAP and SMTP checks.
async fn oauth2(config: &Config) -> (Vec<Line>, Option<std::sync::Arc<Grant>>) {
    const WHAT: &str = "OAuth 2.0";
    let grant = match Grant::from_config(config) {
        Ok(Some(grant)) => grant,
        Ok(None) => return (Vec::new(), None),
        Err(e) => {
            return (
                vec![Line::fail(WHAT, format!("{e}"), "check [oauth2]")],
                None,
            );
        }
    };
    let line = match grant.access_token().await {
        Ok(_) => Line::ok(
            WHAT,
            format!(
                "signed in: {} gave an access token for the refresh token in {}",
                grant.token_url(),
                grant.path().display()
            ),
        ),
        Err(e) if e.downcast_ref::<NeedsLogin>().is_some() => {
            Line::fail_explained(WHAT, format!("{e:#}"))
        }
        Err(e) => Line::fail(
            WHAT,
            format!("{e:#}"),
            "check [oauth2] (client-id, client-secret-file, the URLs) and that the token endpoint can be reached",
        ),
    };
    (vec![line], Some(grant))
}

/// The IMAP check, and when it logs in, the authserv-id found in the newest mail.
async fn imap(config: &Config, grant: Option<&Grant>) -> Vec<Line> {
    let Some(imap) = &config.imap else {
        return vec![Line::fail(
            "IMAP",
            "there is no [imap] section".into(),
            "add one naming the tracking mailbox (see config.example.toml): `run` needs it",
        )];
    };
    let mut session = match login(config, imap, grant).await {
        Ok(session) => session,
        Err(line) => return vec![line],
    };
    let idle = if session.can_idle() {
        "IDLE supported"
    } else {
        "no IDLE: polling"
    };
    let lines = match session.examine(&imap.folder).await {
        Ok(count) => {
            let found = match session.newest_headers(count, STAMPS_READ).await {
                Ok(headers) => authserv_ids(config, &imap.folder, &headers),
                Err(e) => Line::fail(
                    "authserv-id",
                    format!("{e:#}"),
                    "run doctor again to find the authserv-id to trust",
                ),
            };
            vec![
                Line::ok(
                    "IMAP",
                    format!(
                        "logged in to {}:{} as {}; {} holds {count} message(s); {idle}",
                        imap.host,
                        imap.port(),
                        imap.username,
                        imap.folder
                    ),
                ),
                found,
            ]
        }
        Err(e) => vec![Line::fail(
            "IMAP",
            format!("{e:#}"),
            "check [imap] folder (the folder introductions arrive in, usually INBOX)",
        )],
    };
    session.logout().await;
    lines
}

/// Who stamped the newest mail's topmost `Authentication-Results` (headers newest first),
/// and the `trusted-authserv-ids` line that believes them.
fn authserv_ids(config: &Config, folder: &str, headers: &[Vec<u8>]) -> Line {
    const WHAT: &str = "authserv-id";
    let intake = &config.intake;
    if headers.is_empty() {
        return Line::warn(
            WHAT,
            format!(
                "{folder} is empty: run doctor again once mail from outside has arrived, to find the authserv-id your server writes"
            ),
        );
    }
    // Entry → (messages, how it looks): Fastmail's many hosts are one entry.
    let mut tally: BTreeMap<String, (usize, Stamp)> = BTreeMap::new();
    let mut unstamped = 0;
    for stamp in headers.iter().map(|h| topmost_stamp(h)) {
        match stamp {
            Some(stamp) => tally.entry(stamp.entry()).or_insert((0, stamp)).0 += 1,
            None => unstamped += 1,
        }
    }
    let mut counted: Vec<(&String, &(usize, Stamp))> = tally.iter().collect();
    counted.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let Some((entry, (_, stamp))) = counted.first() else {
        let text = format!(
            "none of the {} newest messages in {folder} carries Authentication-Results: the receiving server does not authenticate mail (see \"Authentication\" in the README)",
            headers.len()
        );
        return if intake.require_authentication {
            Line::fail_explained(
                WHAT,
                format!("{text}, or set require-authentication = false"),
            )
        } else {
            Line::warn(WHAT, text)
        };
    };
    let mut seen: Vec<String> = counted
        .iter()
        .map(|(entry, (n, stamp))| {
            let name = match stamp {
                // Written by whoever sent the mail, perhaps: printed escaped.
                Stamp::Named(id) if stamp.provider() != Provider::Fastmail => {
                    id.escape_debug().to_string()
                }
                Stamp::Named(_) => (*entry).clone(),
                Stamp::Unnamed => "no authserv-id".to_string(),
            };
            format!("{name} on {n} ({})", stamp.provider().describe())
        })
        .collect();
    if unstamped > 0 {
        seen.push(format!("none on {unstamped}"));
    }
    let report = format!(
        "the topmost Authentication-Results of the {} newest messages in {folder}: {}",
        headers.len(),
        seen.join(", ")
    );
    let line = format!(
        "trusted-authserv-ids = [{}]",
        serde_json::to_string(entry).unwrap_or_default()
    );
    if stamp.is_trusted(&intake.trusted_authserv_ids) && intake.require_authentication {
        Line::ok(WHAT, format!("{report}; trusted"))
    } else if intake.require_authentication && !intake.trusted_authserv_ids.is_empty() {
        Line::fail_explained(
            WHAT,
            format!(
                "{report}; trusted-authserv-ids does not name the first, so mail stamped by it is ignored: paste under [intake] instead:\n    {line}"
            ),
        )
    } else if intake.require_authentication {
        Line::fail_explained(WHAT, format!("{report}; paste under [intake]:\n    {line}"))
    } else {
        Line::warn(
            WHAT,
            format!(
                "{report}; to turn authentication on, remove require-authentication = false and paste under [intake]:\n    {line}"
            ),
        )
    }
}

/// Connects and logs in to `[imap]`, or the line saying why not.
async fn login(config: &Config, imap: &Imap, grant: Option<&Grant>) -> Result<ImapSession, Line> {
    let trust = match imap
        .ca_path(&config.base_dir)
        .and_then(|ca_file| Trust::load("imap", ca_file.as_deref()))
    {
        Ok(trust) => trust,
        Err(e) => {
            return Err(Line::fail(
                "IMAP",
                format!("{e}"),
                "ca-file must be a PEM file of the certificates to trust besides Mozilla's roots (or leave it out)",
            ));
        }
    };
    if imap.auth == Auth::Oauth2 {
        return crate::daemon::connect(imap, &trust, config, grant)
            .await
            .map_err(|e| {
                if e.downcast_ref::<CertificateRefused>().is_some()
                    || e.downcast_ref::<NeedsLogin>().is_some()
                {
                    Line::fail_explained("IMAP", format!("{e:#}"))
                } else if e.downcast_ref::<LoginRefused>().is_some() {
                    Line::fail(
                        "IMAP",
                        format!("{e:#}"),
                        "the server refused a fresh token: check [imap] username (the mailbox's address) and that the app may use IMAP (README: \"Microsoft 365\", \"Google Workspace\")",
                    )
                } else {
                    Line::fail(
                        "IMAP",
                        format!("{e:#}"),
                        "check [imap] host, port and tls (993 with \"implicit\", 143 with \"starttls\")",
                    )
                }
            });
    }
    let password = match imap.secret().reveal(&config.base_dir) {
        Ok(p) => p,
        Err(e) => {
            return Err(Line::fail(
                "IMAP",
                format!("{e}"),
                "check [imap] password-file or password-command",
            ));
        }
    };
    ImapSession::connect(imap, &trust, Credential::Password(&password))
        .await
        .map_err(|e| {
            if e.downcast_ref::<CertificateRefused>().is_some() {
                Line::fail_explained("IMAP", format!("{e:#}"))
            } else if e.downcast_ref::<LoginRefused>().is_some() {
                Line::fail(
                    "IMAP",
                    format!("{e:#}"),
                    "many providers (Gmail, Fastmail) need an app password here",
                )
            } else {
                Line::fail(
                    "IMAP",
                    format!("{e:#}"),
                    "check [imap] host, port and tls (993 with \"implicit\", 143 with \"starttls\")",
                )
            }
        })
}

async fn outbound(config: &Config, grant: Option<std::sync::Arc<Grant>>) -> Line {
    let transport = match transport::from_config_with(config, grant) {
        Ok(t) => t,
        Err(e) => {
            return Line::fail("SMTP", format!("{e:#}"), "check the [smtp] section");
        }
    };
    let result = transport.test_connection().await;
    match (config.outbound.transport, &config.smtp, result) {
        (TransportKind::Smtp, _, Err(e))
            if e.downcast_ref::<CertificateRefused>().is_some()
                || e.downcast_ref::<NeedsLogin>().is_some() =>
        {
            Line::fail_explained("SMTP", format!("{e:#}"))
        }
        (TransportKind::File, _, Ok(())) => Line::ok(
            "outbound",
            format!(
                "transport = \"file\": mail is written to {}, not sent",
                config.outbox_dir().display()
            ),
        ),
        (TransportKind::File, _, Err(e)) => {
            Line::fail("outbound", format!("{e:#}"), "make outbox-dir writable")
        }
        (TransportKind::Smtp, Some(smtp), Ok(())) => Line::ok(
            "SMTP",
            match &smtp.username {
                Some(user) if smtp.auth == Auth::Oauth2 => format!(
                    "{}:{} accepted our OAuth 2.0 token for {user}",
                    smtp.host,
                    smtp.port()
                ),
                Some(user) => format!("{}:{} accepted our login as {user}", smtp.host, smtp.port()),
                None => format!(
                    "{}:{} answers (no login configured)",
                    smtp.host,
                    smtp.port()
                ),
            },
        ),
        (TransportKind::Smtp, _, Err(e)) => Line::fail(
            "SMTP",
            format!("{e:#}"),
            "check [smtp] host, port and tls (465 with \"implicit\", 587 with \"starttls\") and the login",
        ),
        (TransportKind::Smtp, None, Ok(())) => Line::fail(
            "SMTP",
            "there is no [smtp] section".into(),
            "add one, or set [outbound] transport = \"file\"",
        ),
    }
}
