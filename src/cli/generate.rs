//! `referrald generate`: the man pages and shell completions, written from the same
//! definitions as `--help`, for packagers (`scripts/deb`). Not a command users see: it is
//! kept out of `--help`, the man pages and the completions it writes.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use super::{Cli, VERSION};

/// Writes referrald's documentation files.
#[derive(Debug, Parser)]
#[command(name = "referrald generate", bin_name = "referrald generate", version = VERSION)]
enum Generate {
    /// The man pages: referrald.1 (every command) and referrald-COMMAND.1 for each command
    Man {
        /// The directory to write them into (created if missing)
        dir: PathBuf,
    },
    /// The completion script for SHELL: referrald.bash, _referrald (zsh), referrald.fish
    Completions {
        /// The shell: bash, zsh and fish are the ones the package ships
        shell: Shell,
        /// The directory to write it into (created if missing)
        dir: PathBuf,
    },
}

/// Runs `referrald generate …`; `args` are the words after `referrald`.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let written = match Generate::parse_from(args) {
        Generate::Man { dir } => man(&dir),
        Generate::Completions { shell, dir } => completions(shell, &dir),
    };
    match written {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("referrald: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Writes referrald.1, whose COMMANDS section names every command, and a page per command.
fn man(dir: &Path) -> Result<Vec<PathBuf>> {
    create(dir)?;
    // `help` is a command of the binary, not one a man page needs; the commands are called
    // commands, as in --help.
    let mut cli = Cli::command()
        .disable_help_subcommand(true)
        .subcommand_help_heading("COMMANDS")
        .subcommand_value_name("COMMAND");
    cli.build();
    let source = format!("referrald {VERSION}");
    let mut written = Vec::new();
    for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let page = Man::new(command.clone()).source(&source);
        written.push(
            page.generate_to(dir)
                .with_context(|| format!("cannot write a man page into {}", dir.display()))?,
        );
    }
    let page = Man::new(cli).source(&source);
    let path = dir.join(page.get_filename());
    let mut text = Vec::new();
    page.render_title(&mut text)?;
    page.render_name_section(&mut text)?;
    page.render_synopsis_section(&mut text)?;
    page.render_description_section(&mut text)?;
    page.render_options_section(&mut text)?;
    page.render_subcommands_section(&mut text)?;
    text.write_all(main_page_sections().as_bytes())?;
    page.render_version_section(&mut text)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    Ok(written)
}

/// What the main page says beyond the command-line definitions: files and exit status.
fn main_page_sections() -> String {
    let mut roff = Roff::default();
    roff.control("SH", ["FILES"]);
    for (file, what) in [
        (
            "/etc/referrald/referrald.toml",
            "The configuration, used when there is no ./referrald.toml and no --config; \
             /usr/share/doc/referrald/config.example.toml shows every key.",
        ),
        (
            "/var/lib/referrald/referrald.db",
            "The database, under the systemd unit referrald.service (set [store] path to it).",
        ),
        (
            "/etc/referrald/imap-password, /etc/referrald/smtp-password",
            "The passwords the unit hands referrald as credentials (password-file = \"%d/imap-password\").",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(file)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 on success, 1 on a runtime failure, 2 on bad usage or a bad configuration.",
    )]);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        italic("systemctl"),
        roman("(1), "),
        italic("journalctl"),
        roman("(1), and /usr/share/doc/referrald/README.md"),
    ]);
    roff.to_roff()
}

/// Writes the completion script for `shell`.
fn completions(shell: Shell, dir: &Path) -> Result<Vec<PathBuf>> {
    create(dir)?;
    let path = clap_complete::generate_to(shell, &mut Cli::command(), "referrald", dir)
        .with_context(|| {
            format!(
                "cannot write the {shell} completions into {}",
                dir.display()
            )
        })?;
    Ok(vec![path])
}

fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}
