//! The command line (SPEC §5). Exit status: 0 success, 1 runtime failure, 2 bad usage or
//! configuration. Errors are one sentence with their context, never a backtrace.

mod doctor;
mod generate;
pub(crate) mod print;
mod service;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::composer::Composer;
use crate::config::{Config, ConfigError};
use crate::model::{
    OutboundId, OutboundKind, ReferralId, ReferralStatus, normalize_email, strip_plus_detail,
};
use crate::outbox::{self, Clock, Outbox};
use crate::report::{self, Since};
use crate::source::files;
use crate::store::Store;
use crate::{export, transport};

/// Messages recorded per transaction when ingesting: large enough to make recording cheap,
/// small enough that memory stays flat.
const INGEST_BATCH: usize = 512;

/// What `--version` prints after the name: the version and the commit it was built from
/// (set by build.rs), e.g. "0.1.0 (abc1234 2026-12-04)", or "0.1.0 (unknown commit)".
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("REFERRALD_COMMIT"),
    ")"
);

/// referrald: tracks email introductions and follows them up.
#[derive(Debug, Parser)]
#[command(name = "referrald", version = VERSION, about, long_about = None)]
struct Cli {
    /// The configuration file [default: ./referrald.toml, then /etc/referrald/referrald.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Use this instant as the current time (RFC 3339), for tests, demos and dry runs
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_now)]
    now: Option<DateTime<Utc>>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Process .eml files, Maildir folders or - (standard input) as if they had just arrived
    Ingest {
        /// Files, folders, or - for standard input
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// The daemon: watch the mailbox, process new mail, send what is due, until SIGTERM
    Run,
    /// Check the configuration, templates, database, IMAP login and SMTP; say what is wrong
    Doctor,
    /// Sign in to Microsoft 365, Google or another OAuth 2.0 provider ([oauth2]): shows a
    /// code to enter in a browser, then keeps the refresh token beside the database
    Login,
    /// Send everything due now, once, and exit
    Tick,
    /// Print the weekly digest as it would go now, without sending or recording it
    Digest {
        /// Print its HTML alternative instead of the plain text
        #[arg(long)]
        html: bool,
    },
    /// Classify one message against the current store without changing anything
    Inspect {
        /// The message (.eml), or - for standard input
        file: PathBuf,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List referrals, newest first
    Referrals {
        /// Only referrals in this status (open, connected, succeeded, unsuccessful, stalled, cancelled)
        #[arg(long, value_parser = parse_status)]
        status: Option<ReferralStatus>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// An offline walkthrough on bundled sample introductions: no servers, no network
    Demo {
        /// Where to leave the database and the .eml outbox
        #[arg(default_value = "referrald-demo")]
        dir: PathBuf,
    },
    /// Show one referral: participants, events, outbound mail, feedback
    Show {
        /// The referral's number
        id: ReferralId,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the email referrald would send for a referral, without sending or recording anything
    Preview {
        /// The referral's number
        id: ReferralId,
        /// Which message (thank_you, follow_up, owner_nudge, feedback_request, feedback_reminder,
        /// outcome_report) [default: the next one scheduled]
        #[arg(value_parser = parse_kind)]
        kind: Option<OutboundKind>,
    },
    /// Send a held outcome report (bad news waits for you): it goes with the next tick
    Send {
        /// The message's number (the ID column of `outbox`)
        id: OutboundId,
    },
    /// Skip a held outcome report: it is never sent
    Skip {
        /// The message's number (the ID column of `outbox`)
        id: OutboundId,
    },
    /// List scheduled, sent, failed and cancelled outbound mail
    Outbox {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Every referral, oldest first, on standard output: for keeping, or moving elsewhere
    Export {
        /// json: the `show --json` objects in an array; csv: one row per referral
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
    },
    /// Erase one person's address, name and words, and never email them again
    Forget {
        /// Their email address
        #[arg(value_name = "EMAIL", value_parser = parse_email)]
        email: String,
    },
    /// The web page: referrals, their stories, the ledger and charts, on [web] listen
    Serve {
        /// Listen here instead of [web] listen (e.g. 127.0.0.1:0 for any free port)
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// The reports: rates, ratings, closed business, and who gives you referrals
    Stats {
        /// Only referrals recorded from this day (YYYY-MM-DD, in your timezone) or instant (RFC 3339)
        #[arg(long, value_name = "DATE")]
        since: Option<Since>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// An array of the objects `show --json` prints
    Json,
    /// One row per referral, with a header line
    Csv,
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, like 2026-11-02T10:00:00Z)"))
}

pub(crate) fn parse_email(text: &str) -> Result<String, String> {
    let email = normalize_email(text);
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.contains(char::is_whitespace) =>
        {
            Ok(email)
        }
        _ => Err(format!(
            "{text:?} is not an email address (expected one like fred@example.org)"
        )),
    }
}

fn parse_kind(text: &str) -> Result<OutboundKind, String> {
    text.parse().map_err(|_| {
        let kinds: Vec<&str> = OutboundKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "{text:?} is not a kind of message; the kinds are {}",
            kinds.join(", ")
        )
    })
}

fn parse_status(text: &str) -> Result<ReferralStatus, String> {
    text.parse().map_err(|e| format!("{e}"))
}

/// Runs the command line and returns the process's exit status.
pub fn main() -> ExitCode {
    // For packagers only, so parsed apart: `generate` stays out of --help and of the man
    // pages and completions it writes.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|word| word == "generate")
    {
        return generate::main(std::env::args_os().skip(1));
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("referrald: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let now = cli.now.unwrap_or_else(Utc::now);
    let config = || load_config(cli.config.as_deref());
    // The commands that judge incoming mail need to know whom to believe.
    let judging_config = || -> Result<Config> {
        let config = config()?;
        config.check_authentication().map_err(|ConfigError(why)| {
            let origin = config_path(cli.config.as_deref()).unwrap_or_default();
            ConfigError(format!("{}: {why}", origin.display()))
        })?;
        Ok(config)
    };
    match cli.command {
        Command::Run => {
            if cli.now.is_some() {
                return Err(ConfigError(
                    "--now cannot be used with run: the daemon runs on the real clock".into(),
                )
                .into());
            }
            let config = judging_config()?;
            init_logging();
            runtime()?.block_on(service::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => {
            let origin = config_path(cli.config.as_deref())
                .unwrap_or_else(|| PathBuf::from("referrald.toml"));
            doctor::doctor(config(), &origin)
        }
        Command::Login => login(&config()?),
        Command::Ingest { paths } => ingest(&judging_config()?, &paths, now),
        Command::Tick => tick(&config()?, now),
        Command::Digest { html } => digest(&config()?, html, now),
        Command::Demo { dir } => {
            runtime()?.block_on(crate::demo::run(&dir))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { file, json } => inspect(&judging_config()?, &file, json, now),
        Command::Referrals { status, json } => {
            let config = config()?;
            let store = open_store(&config)?;
            let list = store.referrals(status)?;
            if json {
                print::json(&list)?;
            } else {
                print::referrals(&list, &config);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, json } => {
            let config = config()?;
            let store = open_store(&config)?;
            let Some(detail) = store.referral(id)? else {
                eprintln!("referrald: there is no referral #{id}");
                return Ok(ExitCode::from(1));
            };
            if json {
                print::json(&detail)?;
            } else {
                print::referral(&detail, &config);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Preview { id, kind } => preview(&config()?, id, kind, now),
        Command::Export { format } => {
            let config = config()?;
            let store = open_store(&config)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = match format {
                ExportFormat::Json => export::json(&store, &mut out),
                ExportFormat::Csv => export::csv(&store, &mut out, config.intake.max_amount),
            }
            .and_then(|_| Ok(out.flush()?));
            match written {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // The reader has seen enough (`export | head`): not a failure of ours.
                Err(e) if broken_pipe(&e) => Ok(ExitCode::SUCCESS),
                Err(e) => Err(e.context("cannot write the export")),
            }
        }
        Command::Forget { email } => {
            let config = config()?;
            if let Some(why) = not_forgettable(&config, &email) {
                return Err(ConfigError(why).into());
            }
            let mut store = open_store(&config)?;
            let erasure = store.forget(&email, now)?;
            print::erasure(&email, &erasure, &config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { since, json } => {
            let config = config()?;
            let store = open_store(&config)?;
            let since = since.map(|s| s.start(config.owner.timezone));
            let report = report::build(
                since,
                &store.referrals_for_report(since)?,
                config.intake.max_amount,
            );
            if json {
                print::json(&report)?;
            } else {
                print::stats(&report, &config);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send { id } => decide_held(&config()?, id, true, now),
        Command::Skip { id } => decide_held(&config()?, id, false, now),
        Command::Serve { listen } => {
            let mut config = config()?;
            if let Some(listen) = listen {
                config.web.listen = listen;
            }
            init_logging();
            runtime()?.block_on(crate::web::serve(config, cli.now, |at| {
                // The first line of standard output, for scripts and tests: where to look.
                println!("referrald serve: open http://{at}/");
                let _ = std::io::stdout().flush();
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { json } => {
            let config = config()?;
            let store = open_store(&config)?;
            let rows = store.outbox()?;
            let planned = store.forecast(&config, cli.now.unwrap_or_else(Utc::now))?;
            if json {
                print::json(&print::outbox_json(&rows, &planned))?;
            } else {
                print::outbox(&rows, &planned, &config);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `login`: the OAuth 2.0 device flow ([`crate::oauth::login`]), talking to the user on
/// standard output. A running daemon picks the new sign-in up at its next token refresh.
fn login(config: &Config) -> Result<ExitCode> {
    if config.oauth2.is_none() {
        return Err(ConfigError(
            "`login` needs an [oauth2] section (README: \"Microsoft 365\", \"Google Workspace\") and auth = \"oauth2\" in [imap] and [smtp]".into(),
        )
        .into());
    }
    let path = runtime()?.block_on(crate::oauth::login(config, &mut |line| {
        println!("{line}");
        let _ = std::io::stdout().flush();
    }))?;
    println!(
        "Signed in. The refresh token is saved in {} (readable by this user only). `referrald run` uses it from now on, a running daemon included; `referrald doctor` checks it.",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Why `email` cannot be forgotten, if it cannot: forgetting yourself would stop your own
/// nudges and muddle every report, and the tracking address is no person.
pub(crate) fn not_forgettable(config: &Config, email: &str) -> Option<String> {
    if config.owner.is_owner(email) {
        return Some(format!(
            "{email} is one of your own addresses ([owner] emails): referrald does not forget its owner"
        ));
    }
    (strip_plus_detail(email) == config.tracking.address)
        .then(|| format!("{email} is the tracking address, not a person"))
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Where the configuration is: `--config`, else `./referrald.toml`, else
/// `/etc/referrald/referrald.toml`, if either exists.
fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    ["referrald.toml", "/etc/referrald/referrald.toml"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The configuration named by `--config`, else `./referrald.toml`, else
/// `/etc/referrald/referrald.toml`.
fn load_config(explicit: Option<&Path>) -> Result<Config> {
    if let Some(path) = config_path(explicit) {
        return Ok(Config::load(&path)?);
    }
    Err(ConfigError(
        "no configuration found: pass --config PATH, or create ./referrald.toml (config.example.toml shows every key)"
            .into(),
    )
    .into())
}

/// `send ID` / `skip ID`: the owner's decision about a held message.
fn decide_held(
    config: &Config,
    id: OutboundId,
    send: bool,
    now: DateTime<Utc>,
) -> Result<ExitCode> {
    let mut store = open_store(config)?;
    let decided = if send {
        store.release_held(id, now)
    } else {
        store.skip_held(id, now)
    };
    match decided {
        Ok(d) if send => {
            println!(
                "{} #{} to {} (referral #{}) will be sent with the next tick.",
                d.kind, d.id, d.to, d.referral
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(d) => {
            println!(
                "{} #{} to {} (referral #{}) skipped: it will not be sent.",
                d.kind, d.id, d.to, d.referral
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("referrald: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

fn open_store(config: &Config) -> Result<Store> {
    Store::open(&config.store_path())
}

fn ingest(config: &Config, paths: &[PathBuf], now: DateTime<Utc>) -> Result<ExitCode> {
    let inputs = files::expand(paths)?;
    let mut store = open_store(config)?;
    let mut tally = print::Tally::default();
    let mut failed = false;
    for chunk in inputs.chunks(INGEST_BATCH) {
        let mut messages = Vec::with_capacity(chunk.len());
        for input in chunk {
            match input.read() {
                Ok(m) => messages.push(m),
                Err(e) => {
                    eprintln!("referrald: {e:#}");
                    failed = true;
                }
            }
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for applied in store.ingest(&messages, config, now)? {
            print::applied(&mut out, &applied)?;
            tally.add(&applied);
            failed |= applied.result.is_err();
        }
        out.flush()?;
    }
    println!("{tally}");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Logs to standard error (the journal, under systemd): `info` unless `RUST_LOG` says
/// otherwise, e.g. `RUST_LOG=referrald=debug` for every message and delivery.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// A single-threaded runtime: the commands do one thing at a time, and the daemon's
/// database work runs on the runtime's blocking threads.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn tick(config: &Config, now: DateTime<Utc>) -> Result<ExitCode> {
    // Templates are checked before the database is touched: a broken override sends nothing.
    let composer = Composer::new(config)?;
    let store = outbox::shared(open_store(config)?);
    let runtime = runtime()?;
    let deliveries = runtime.block_on(async {
        let transport = transport::from_config(config)?;
        // One connection at a time, so the deliveries are printed in the order they were planned.
        let outbox = Outbox::new(store.clone(), config, composer, transport, 1);
        outbox.deliver_due(Clock::At(now), None).await
    })?;
    let store = outbox::lock(&store);
    let mut failed = false;
    for d in &deliveries {
        print::delivery(d);
        failed |= d.result.failed();
    }
    // The next planned message; a digest may have nothing to say, so it is not promised here.
    let next = store.next_due()?;
    print::tick_summary(&deliveries, next, config);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `digest`: the digest as it would go now (the period since the last one), or why none.
fn digest(config: &Config, html: bool, now: DateTime<Utc>) -> Result<ExitCode> {
    let composer = Composer::new(config)?;
    let store = open_store(config)?;
    let Some((week, since)) = store.next_digest_period(config, now)? else {
        println!("The digest is off ([digest] when = \"off\").");
        return Ok(ExitCode::SUCCESS);
    };
    let digest = store.digest(config, since, now)?;
    if digest.is_empty() {
        println!(
            "Nothing to say since {}: no digest would be sent.",
            digest.since
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(mut notice) = Store::digest_notice(config, &week.key, &digest) else {
        println!("No digest: [owner] emails names no address to send it to.");
        return Ok(ExitCode::SUCCESS);
    };
    notice.message_id = format!("referrald.notice.preview@{}", config.tracking.domain());
    let rendered = composer.render_notice(&notice)?;
    if html {
        print!(
            "{}",
            composer.render_notice_html(&notice)?.unwrap_or_default()
        );
    } else {
        println!("Subject: {}\n\n{}", rendered.subject, rendered.body);
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(config: &Config, file: &Path, json: bool, now: DateTime<Utc>) -> Result<ExitCode> {
    let input = files::expand(&[file.to_path_buf()])?
        .into_iter()
        .next()
        .with_context(|| format!("{} holds no message", file.display()))?;
    let message = input.read()?;
    // Inspecting never writes: without a database yet, classify against an empty one.
    let path = config.store_path();
    let store = if path.exists() {
        Store::open_read_only(&path)?
    } else {
        Store::open_in_memory()?
    };
    let classified = crate::intake::classify(&message.bytes, &store.view(), config, now);
    if json {
        print::json(&print::Inspection::from(&classified))?;
    } else {
        print::inspection(&classified);
    }
    Ok(ExitCode::SUCCESS)
}

/// `preview`: the mail as it would go out, composed by the sending path, from a database
/// opened read-only so that nothing is scheduled, claimed or recorded.
fn preview(
    config: &Config,
    id: ReferralId,
    kind: Option<OutboundKind>,
    now: DateTime<Utc>,
) -> Result<ExitCode> {
    let composer = Composer::new(config)?;
    let path = config.store_path();
    // Without a database there is no referral, and none is created by looking.
    let store = if path.exists() {
        Some(Store::open_read_only(&path)?)
    } else {
        None
    };
    let store = match store {
        Some(store) if store.has_referral(id)? => store,
        _ => {
            eprintln!("referrald: there is no referral #{id}");
            return Ok(ExitCode::from(1));
        }
    };
    let (messages, declined) = match kind {
        None => (store.preview_next(id, config, now)?, Vec::new()),
        Some(kind) => {
            let p = store.preview_kind(id, kind, config, now)?;
            (p.messages, p.declined)
        }
    };
    if messages.is_empty() {
        match kind {
            None => println!(
                "Nothing is scheduled for referral #{id}. `referrald preview {id} KIND` shows one kind of message, or why it would not go."
            ),
            Some(kind) => {
                println!("No {kind} would go out for referral #{id}:");
                for (who, why) in &declined {
                    println!("  not to {who}: {why}");
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (i, p) in messages.iter().enumerate() {
        if i > 0 {
            println!();
        }
        // Dated as it would be sent, so that "on Monday" reads as the recipient would see it.
        let at = p.due_at.max(now);
        let email = composer.compose(&p.draft, at)?;
        let rendered = composer.render(&p.draft, at)?;
        let state = match (p.made, p.scheduled) {
            (true, _) => "scheduled",
            (false, true) => "scheduled; its Message-ID is made when it falls due",
            (false, false) => "not scheduled yet; its Message-ID is made when it is",
        };
        println!(
            "# {} to {}, due {} ({state})",
            p.draft.kind,
            p.draft.to,
            print::local(&p.due_at.to_rfc3339(), config)
        );
        // The headers as they go out; the body decoded, as the recipient reads it.
        let formatted = email.formatted();
        let text = String::from_utf8_lossy(&formatted);
        let headers = text.split("\r\n\r\n").next().unwrap_or("");
        println!("{}", headers.replace("\r\n", "\n"));
        println!();
        print!("{}", rendered.body);
        if !rendered.body.ends_with('\n') {
            println!();
        }
    }
    for (who, why) in &declined {
        println!();
        println!("# not to {who}: {why}");
    }
    Ok(ExitCode::SUCCESS)
}
