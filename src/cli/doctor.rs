//! `referrald doctor`: checks everything `run` needs, one line each — ✓, or what is wrong
//! and how to fix it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::composer::Composer;
use crate::config::{Config, TransportKind};
use crate::model::OutboundKind;
use crate::net::{CertificateRefused, Trust};
use crate::source::imap::{ImapSession, LoginRefused};
use crate::store::Store;
use crate::transport;

/// One check's verdict.
struct Line {
    ok: bool,
    what: &'static str,
    text: String,
}

impl Line {
    fn ok(what: &'static str, text: String) -> Line {
        Line {
            ok: true,
            what,
            text,
        }
    }

    fn fail(what: &'static str, problem: String, fix: &str) -> Line {
        Line {
            ok: false,
            what,
            text: format!("{problem}; {fix}"),
        }
    }

    /// A failure whose description already says what to do.
    fn fail_explained(what: &'static str, problem: String) -> Line {
        Line {
            ok: false,
            what,
            text: problem,
        }
    }

    fn print(&self) {
        let mark = if self.ok { "✓" } else { "✗" };
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
    let mut lines = vec![templates(&config), database(&config)];
    for line in &lines {
        line.print();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for line in runtime.block_on(async { vec![imap(&config).await, outbound(&config).await] }) {
        line.print();
        lines.push(line);
    }
    Ok(if lines.iter().all(|l| l.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

async fn imap(config: &Config) -> Line {
    let Some(imap) = &config.imap else {
        return Line::fail(
            "IMAP",
            "there is no [imap] section".into(),
            "add one naming the tracking mailbox (see config.example.toml): `run` needs it",
        );
    };
    let trust = match imap
        .ca_path(&config.base_dir)
        .and_then(|ca_file| Trust::load("imap", ca_file.as_deref()))
    {
        Ok(trust) => trust,
        Err(e) => {
            return Line::fail(
                "IMAP",
                format!("{e}"),
                "ca-file must be a PEM file of the certificates to trust besides Mozilla's roots (or leave it out)",
            );
        }
    };
    let password = match imap.secret().reveal(&config.base_dir) {
        Ok(p) => p,
        Err(e) => {
            return Line::fail(
                "IMAP",
                format!("{e}"),
                "check [imap] password-file or password-command",
            );
        }
    };
    let mut session = match ImapSession::connect(imap, &trust, &password).await {
        Ok(s) => s,
        Err(e) if e.downcast_ref::<CertificateRefused>().is_some() => {
            return Line::fail_explained("IMAP", format!("{e:#}"));
        }
        Err(e) if e.downcast_ref::<LoginRefused>().is_some() => {
            return Line::fail(
                "IMAP",
                format!("{e:#}"),
                "many providers (Gmail, Fastmail) need an app password here",
            );
        }
        Err(e) => {
            return Line::fail(
                "IMAP",
                format!("{e:#}"),
                "check [imap] host, port and tls (993 with \"implicit\", 143 with \"starttls\")",
            );
        }
    };
    let idle = if session.can_idle() {
        "IDLE supported"
    } else {
        "no IDLE: polling"
    };
    let line = match session.examine(&imap.folder).await {
        Ok(count) => Line::ok(
            "IMAP",
            format!(
                "logged in to {}:{} as {}; {} holds {count} message(s); {idle}",
                imap.host,
                imap.port(),
                imap.username,
                imap.folder
            ),
        ),
        Err(e) => Line::fail(
            "IMAP",
            format!("{e:#}"),
            "check [imap] folder (the folder introductions arrive in, usually INBOX)",
        ),
    };
    session.logout().await;
    line
}

async fn outbound(config: &Config) -> Line {
    let transport = match transport::from_config(config) {
        Ok(t) => t,
        Err(e) => {
            return Line::fail("SMTP", format!("{e:#}"), "check the [smtp] section");
        }
    };
    let result = transport.test_connection().await;
    match (config.outbound.transport, &config.smtp, result) {
        (TransportKind::Smtp, _, Err(e)) if e.downcast_ref::<CertificateRefused>().is_some() => {
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
