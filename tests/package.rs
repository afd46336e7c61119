//! The install a systemd host expects: `scripts/deb` builds the Debian package, dpkg installs
//! it into a clean root, and what landed there is checked and run — the unit by
//! systemd-analyze, the binary against a real Dovecot and Postfix, the man pages by man, the
//! completions by bash, fish and zsh.
//!
//! The package is built once per run, from this build's binary (`scripts/deb --binary`): a
//! release build takes minutes on two cores, and what is tested here is the packaging, not
//! the optimiser. Needs cargo-deb, dpkg-dev, systemd-analyze, man, zsh and fish;
//! `.ci/install-packaging-tools` installs them. Nothing here skips: a missing tool fails.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::mailsys::MailSystem;

/// The repository.
const SOURCE: &str = env!("CARGO_MANIFEST_DIR");

/// The package, and a clean root it was installed into.
struct Installed {
    deb: PathBuf,
    root: PathBuf,
}

impl Installed {
    fn path(&self, installed: &str) -> PathBuf {
        self.root.join(installed.trim_start_matches('/'))
    }

    fn binary(&self) -> PathBuf {
        self.path("/usr/bin/referrald")
    }
}

/// Builds the package and installs it, the first time a test asks.
fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Under target/tmp, emptied each run: nothing is left behind in /tmp.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();

        let deb = dir.join("referrald.deb");
        let built = Command::new(Path::new(SOURCE).join("scripts/deb"))
            .arg("--binary")
            .arg(env!("CARGO_BIN_EXE_referrald"))
            // The debug build's symbols would make it 150 MB; --fast: xz at its quickest.
            .args(["--strip", "--fast", "--output"])
            .arg(&deb)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .output()
            .unwrap();
        succeeded("scripts/deb", &built);

        let root = dir.join("root");
        install(&root, &deb);
        Installed { deb, root }
    })
}

/// Installs `deb` into `root`, made first if missing: a root that has nothing but systemd's
/// own units (systemd-analyze verify follows the unit's dependencies into them, as on any
/// host that runs it) and an empty dpkg database. Installing again into the same root is an
/// upgrade.
fn install(root: &Path, deb: &Path) {
    if !root.join("var/lib/dpkg/status").exists() {
        std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
        std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
        std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
        std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
        run(Command::new("cp")
            .args(["-a", "/usr/lib/systemd/system"])
            .arg(root.join("usr/lib/systemd/")));
    }
    dpkg(root, &["-i", deb.to_str().unwrap()]);
}

/// dpkg on `root`. The maintainer scripts run outside the root with DPKG_ROOT set, as dpkg
/// does for --root (the root has no shell to chroot into); deb-systemd-helper honours it.
fn dpkg(root: &Path, args: &[&str]) {
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-not-root",
            "--force-depends",
            "--force-script-chrootless",
        ])
        .args(args));
}

/// Runs a command that must succeed; returns its standard output.
fn run(command: &mut Command) -> String {
    let what = format!("{command:?}");
    let out = command.output().unwrap_or_else(|e| {
        panic!("cannot run {what}: {e} (.ci/install-packaging-tools installs the tools)")
    });
    succeeded(&what, &out);
    String::from_utf8(out.stdout).unwrap()
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The commands `--help` lists, with what it says of each (`help` left out).
fn commands(binary: &Path) -> Vec<(String, String)> {
    let help = run(Command::new(binary).arg("--help"));
    let commands: Vec<(String, String)> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(' ')?;
            Some((name.to_owned(), about.trim().to_owned()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    // Guards the parsing: an empty list would check nothing.
    assert!(
        commands.iter().any(|(c, _)| c == "run") && commands.iter().any(|(c, _)| c == "doctor"),
        "{help}"
    );
    commands
}

/// Every file the package must hold, where a Debian host looks for it.
fn expected_files(commands: &[(String, String)]) -> BTreeSet<String> {
    let mut files: BTreeSet<String> = [
        "/usr/bin/referrald",
        "/usr/lib/systemd/system/referrald.service",
        "/etc/referrald/referrald.toml",
        "/usr/share/man/man1/referrald.1.gz",
        "/usr/share/bash-completion/completions/referrald",
        "/usr/share/zsh/vendor-completions/_referrald",
        "/usr/share/fish/vendor_completions.d/referrald.fish",
        "/usr/share/doc/referrald/README.md",
        "/usr/share/doc/referrald/copyright",
        "/usr/share/doc/referrald/config.example.toml",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for (command, _) in commands {
        files.insert(format!("/usr/share/man/man1/referrald-{command}.1.gz"));
    }
    files
}

/// Harm: a package missing a file (the unit, the man page, a completion) or holding a stray
/// one, a configuration an upgrade would overwrite, or a Depends a host cannot satisfy.
#[test]
fn the_package_holds_every_file_where_a_debian_host_looks_for_it() {
    let installed = installed();
    let commands = commands(&installed.binary());

    // `dpkg-deb -c`: "-rw-r--r-- 0/0 6201 2026-12-04 00:00 ./etc/referrald/referrald.toml".
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&installed.deb));
    let mut files = BTreeSet::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (mode, owner, path) = (fields[0], fields[1], fields[5]);
        assert_eq!(owner, "0/0", "owned by root: {line}");
        if mode.starts_with('-') {
            let path = path.trim_start_matches('.');
            let wanted = if path == "/usr/bin/referrald" {
                "-rwxr-xr-x"
            } else {
                "-rw-r--r--"
            };
            assert_eq!(mode, wanted, "{line}");
            files.insert(path.to_owned());
        }
    }
    assert_eq!(files, expected_files(&commands), "{listing}");

    let field = |name: &str| {
        run(Command::new("dpkg-deb")
            .arg("-f")
            .arg(&installed.deb)
            .arg(name))
    };
    assert_eq!(field("Package").trim(), "referrald");
    assert_eq!(
        field("Version").trim(),
        format!("{}-1", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        field("Architecture"),
        run(Command::new("dpkg").arg("--print-architecture"))
    );
    // Worked out by dpkg-shlibdeps from the binary: the C library, and nothing a host lacks.
    let depends = field("Depends");
    assert!(depends.trim().starts_with("libc6 (>= "), "{depends}");

    let control = |file: &str| {
        run(Command::new("dpkg-deb")
            .arg("-I")
            .arg(&installed.deb)
            .arg(file))
    };
    // An upgrade keeps the user's edits to the configuration.
    assert_eq!(control("conffiles").trim(), "/etc/referrald/referrald.toml");
    // systemd learns of the unit on install, stops the service on removal, and forgets its
    // enablement on purge.
    assert!(control("postinst").contains("daemon-reload"));
    assert!(control("prerm").contains("deb-systemd-invoke stop referrald.service"));
    assert!(control("postrm").contains("deb-systemd-helper purge referrald.service"));
}

/// Harm: a package that dpkg cannot install on a bare system, files not where they were
/// listed, or a unit systemd would reject or half-read.
#[test]
fn the_package_installs_into_a_clean_root_and_its_unit_verifies() {
    let installed = installed();
    let admindir = installed.path("/var/lib/dpkg");
    let status = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}", admindir.display()))
        .args(["-W", "-f=${Status}\n${Conffiles}\n", "referrald"]));
    assert!(status.starts_with("install ok installed\n"), "{status}");
    assert!(
        status.contains(" /etc/referrald/referrald.toml "),
        "registered as a conffile: {status}"
    );
    let listed = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}", admindir.display()))
        .args(["-L", "referrald"]));
    for file in expected_files(&commands(&installed.binary())) {
        assert!(
            listed.lines().any(|l| l == file),
            "{file} not installed:\n{listed}"
        );
        assert!(installed.path(&file).is_file(), "{file} missing");
    }

    // What was installed is what the repository holds.
    for (file, source) in [
        (
            "/usr/lib/systemd/system/referrald.service",
            "contrib/referrald.service",
        ),
        ("/etc/referrald/referrald.toml", "config.example.toml"),
        ("/usr/share/doc/referrald/README.md", "README.md"),
    ] {
        assert_eq!(
            std::fs::read(installed.path(file)).unwrap(),
            std::fs::read(Path::new(SOURCE).join(source)).unwrap(),
            "{file}"
        );
    }
    // Man pages are gzipped, as man and Debian policy expect.
    let page = std::fs::read(installed.path("/usr/share/man/man1/referrald.1.gz")).unwrap();
    assert_eq!(page[..2], [0x1f, 0x8b]);

    // verify also warns about unknown keys and bad values, with exit status 0: it must say
    // nothing at all. It checks ExecStart's binary exists in the root.
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", installed.root.display()))
        .arg("referrald.service")
        .output()
        .expect("systemd-analyze is missing: .ci/install-packaging-tools installs it");
    succeeded("systemd-analyze verify", &verify);
    assert_eq!(
        String::from_utf8_lossy(&verify.stderr),
        "",
        "systemd-analyze verify warned"
    );
}

/// The password files the unit loads as credentials, as the package leaves them.
fn password_files(root: &Path) -> Vec<PathBuf> {
    ["imap-password", "smtp-password"]
        .iter()
        .map(|name| root.join("etc/referrald").join(name))
        .collect()
}

/// Harm: a unit that cannot start because a credential file it loads is missing (a mailbox
/// that signs in with OAuth 2.0 has no password to put there), a password file others can
/// read, an upgrade that empties a password the owner wrote, or a purge that leaves secrets.
#[test]
fn the_password_files_exist_private_from_install_survive_upgrades_and_go_with_purge() {
    use std::os::unix::fs::PermissionsExt;

    let installed = installed();
    for file in password_files(&installed.root) {
        let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(meta.len(), 0, "{} starts empty", file.display());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{}",
            file.display()
        );
    }
    // Not package files: dpkg would replace or remove them with the package.
    let admindir = installed.path("/var/lib/dpkg");
    let listed = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}", admindir.display()))
        .args(["-L", "referrald"]));
    assert!(!listed.contains("password"), "{listed}");
    // Our scripts carry debhelper's systemd lines once each, where the token stood.
    for script in ["postinst", "postrm"] {
        let path = installed.path(&format!("/var/lib/dpkg/info/referrald.{script}"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("#DEBHELPER#"), "{text}");
        assert!(text.contains("deb-systemd-helper"), "{text}");
        run(Command::new("sh").arg("-n").arg(&path));
    }
    let postrm =
        std::fs::read_to_string(installed.path("/var/lib/dpkg/info/referrald.postrm")).unwrap();
    assert_eq!(
        postrm.matches("deb-systemd-helper purge").count(),
        1,
        "{postrm}"
    );

    // A root of this test's own: it upgrades and purges.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-lifecycle");
    if root.exists() {
        std::fs::remove_dir_all(&root).unwrap();
    }
    install(&root, &installed.deb);
    let [imap, smtp] = <[PathBuf; 2]>::try_from(password_files(&root)).unwrap();
    std::fs::write(&imap, "hunter2\n").unwrap();
    install(&root, &installed.deb);
    assert_eq!(std::fs::read_to_string(&imap).unwrap(), "hunter2\n");
    assert!(smtp.exists());
    dpkg(&root, &["--purge", "referrald"]);
    assert!(
        !imap.exists() && !smtp.exists(),
        "purge leaves no password behind"
    );
    assert!(!root.join("etc/referrald/referrald.toml").exists());
}

/// The commit this source is: what `--version` must name.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(SOURCE)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8(out.stdout).unwrap().trim().to_owned())
    };
    let checkout = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        Path::new(&top).canonicalize().unwrap() == Path::new(SOURCE).canonicalize().unwrap()
    });
    match git(&["show", "-s", "--format=%h %cs", "HEAD"]) {
        Some(commit) if checkout => commit,
        _ => "unknown commit".to_owned(),
    }
}

/// Harm: a bug report that cannot say which build it is about; an installed referrald that
/// cannot reach the mail servers with the configuration the package gave it.
#[test]
fn the_installed_binary_names_its_commit_and_passes_doctor_against_real_servers() {
    let installed = installed();
    let version = run(Command::new(installed.binary()).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("referrald {} ({})", env!("CARGO_PKG_VERSION"), commit())
    );

    // The installed configuration, edited as its user would for this mail system. The
    // passwords stay "%d/…": they come from the credentials directory, as under the unit.
    let mail = MailSystem::start_blocking().unwrap();
    let text = std::fs::read_to_string(installed.path("/etc/referrald/referrald.toml")).unwrap();
    let mut config: toml::Table = text.parse().unwrap();
    // As installed, the database goes where the unit lets referrald write, and nowhere else.
    let unit = std::fs::read_to_string(installed.path("/usr/lib/systemd/system/referrald.service"))
        .unwrap();
    assert!(unit.lines().any(|l| l == "StateDirectory=referrald"));
    assert_eq!(
        config["store"]["path"].as_str(),
        Some("/var/lib/referrald/referrald.db")
    );
    let section = |config: &toml::Table, name: &str| config[name].as_table().unwrap().clone();
    let deployment = tempfile::tempdir().unwrap();
    let mut tracking = section(&config, "tracking");
    tracking.insert("address".into(), "intros@tracker.test".into());
    let mut store = section(&config, "store");
    let database = deployment.path().join("referrald.db");
    store.insert("path".into(), database.to_str().unwrap().into());
    let mut imap = section(&config, "imap");
    assert_eq!(imap["password-file"].as_str(), Some("%d/imap-password"));
    imap.insert("host".into(), mail.host().into());
    imap.insert("port".into(), i64::from(mail.imap_port()).into());
    imap.insert("tls".into(), "none".into());
    imap.insert("username".into(), "intros@tracker.test".into());
    let mut smtp = section(&config, "smtp");
    smtp.insert("host".into(), mail.host().into());
    smtp.insert("port".into(), i64::from(mail.smtp_port()).into());
    smtp.insert("tls".into(), "none".into());
    // The harness's Postfix relays from loopback without a login.
    smtp.remove("username");
    smtp.remove("password-file");
    for (name, table) in [
        ("tracking", tracking),
        ("store", store),
        ("imap", imap),
        ("smtp", smtp),
    ] {
        config.insert(name.into(), table.into());
    }
    let path = deployment.path().join("referrald.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let credentials = deployment.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("imap-password"), mail.password()).unwrap();

    let out = Command::new(installed.binary())
        .arg("--config")
        .arg(&path)
        .arg("doctor")
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    for line in [
        "✓ config",
        "✓ templates",
        "✓ database",
        "✓ IMAP: logged in",
        "✓ SMTP",
    ] {
        assert!(said.contains(line), "{line}:\n{said}");
    }
    // The database it was pointed at, not one beside the configuration.
    assert!(
        said.contains(&format!(
            "✓ database: {} will be created at the first run",
            database.display()
        )),
        "{said}"
    );
}

/// `man` with the installed pages, as text.
fn man(installed: &Installed, page: &str) -> String {
    run(Command::new("man")
        .arg("-M")
        .arg(installed.path("/usr/share/man"))
        .arg(page)
        .env("MANWIDTH", "250")
        .env("MANPAGER", "cat"))
}

/// Harm: `man referrald` that leaves out a command, or a command with no page of its own.
#[test]
fn man_referrald_shows_every_command() {
    let installed = installed();
    let page = man(installed, "referrald");
    let section: Vec<&str> = page
        .lines()
        .skip_while(|l| *l != "COMMANDS")
        .take_while(|l| *l != "FILES")
        .map(str::trim)
        .collect();
    for (command, about) in commands(&installed.binary()) {
        let at = section
            .iter()
            .position(|l| *l == format!("referrald-{command}(1)"))
            .unwrap_or_else(|| panic!("{command} missing from COMMANDS:\n{page}"));
        assert_eq!(section[at + 1], about, "{page}");

        let own = man(installed, &format!("referrald-{command}"));
        assert!(
            own.contains(&format!("referrald-{command} - {about}"))
                && own.contains(&format!("referrald {command}")),
            "{own}"
        );
    }
    assert!(
        page.contains("/etc/referrald/referrald.toml") && page.contains("EXIT STATUS"),
        "{page}"
    );
    assert!(
        !page.contains("generate"),
        "the packagers' command is not for users"
    );
}

/// Harm: a shell that completes a command that is not there, or misses one that is.
#[test]
fn the_completions_offer_every_command_in_bash_fish_and_zsh() {
    let installed = installed();
    let mut wanted: BTreeSet<String> = commands(&installed.binary())
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    wanted.insert("help".into());

    // What `referrald <Tab>` and `referrald export --format <Tab>` offer.
    let bash = |words: &str| -> BTreeSet<String> {
        let script = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _referrald referrald \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            installed
                .path("/usr/share/bash-completion/completions/referrald")
                .display()
        );
        let out = run(Command::new("bash").arg("-c").arg(script));
        out.lines().map(String::from).collect()
    };
    let offered: BTreeSet<String> = bash("referrald ''")
        .into_iter()
        .filter(|w| !w.starts_with('-'))
        .collect();
    assert_eq!(offered, wanted);
    assert_eq!(
        bash("referrald export --format ''"),
        BTreeSet::from(["json".into(), "csv".into()])
    );

    let fish = |line: &str| -> BTreeSet<String> {
        let script = format!(
            "source {}; complete -C '{line}'",
            installed
                .path("/usr/share/fish/vendor_completions.d/referrald.fish")
                .display()
        );
        let out = run(Command::new("fish").arg("-c").arg(script));
        out.lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(fish("referrald "), wanted);
    assert_eq!(
        fish("referrald export --format "),
        BTreeSet::from(["json".into(), "csv".into()])
    );

    // zsh completes only in an interactive shell: the script must parse, and list each
    // command with what it does.
    let zsh = installed.path("/usr/share/zsh/vendor-completions/_referrald");
    run(Command::new("zsh").arg("-n").arg(&zsh));
    let text = std::fs::read_to_string(&zsh).unwrap();
    for command in &wanted {
        assert!(
            text.contains(&format!("'{command}:")),
            "{command} in _referrald"
        );
    }
}

/// Harm: a unit that gives a network client more of the system than it needs. The score is
/// systemd's own, from `systemd-analyze security --offline=yes` on the unit as shipped.
#[test]
fn the_unit_is_rated_at_most_1_2_by_systemd_analyze_security() {
    let unit = Path::new(SOURCE).join("contrib/referrald.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze is missing: .ci/install-packaging-tools installs it");
    succeeded("systemd-analyze security", &out);
    let report = String::from_utf8(out.stdout).unwrap();
    // "→ Overall exposure level for referrald.service: 1.1 OK 🙂"
    let score: f64 = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for referrald.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    assert!(score <= 1.2, "exposure {score}:\n{report}");
    // The sandbox the score stands for: each of these is what a test run showed referrald
    // works under.
    for setting in [
        "✓ PrivateUsers=",
        "✓ SystemCallFilter=~@resources",
        "✓ PrivateMounts=",
        "✓ ProtectClock=",
        "✓ CapabilityBoundingSet=~CAP_SYS_ADMIN",
    ] {
        assert!(report.contains(setting), "{setting}:\n{report}");
    }
}

/// Harm: a build from a tarball, or on a machine without git, that fails, or that names a
/// commit it was not built from (that of a repository the source was unpacked inside).
#[test]
fn a_build_without_git_says_unknown_commit_and_never_fails() {
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("build-script");
    run(Command::new("rustc")
        .args(["--edition", "2024", "-o"])
        .arg(&script)
        .arg(Path::new(SOURCE).join("build.rs")));
    let build = |source: &Path, path: &str| -> String {
        run(Command::new(&script)
            .env("CARGO_MANIFEST_DIR", source)
            .env("PATH", path))
    };
    let unknown = "cargo::rustc-env=REFERRALD_COMMIT=unknown commit";
    let path = std::env::var("PATH").unwrap();

    // An unpacked tarball: no .git anywhere above it.
    let tarball = scratch.path().join("referrald-0.1.0");
    std::fs::create_dir(&tarball).unwrap();
    assert!(build(&tarball, &path).lines().any(|l| l == unknown));

    // The same, unpacked inside some other git repository.
    let git = |args: &[&str]| {
        run(Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t.test"])
            .args(args)
            .current_dir(scratch.path()))
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "someone else's"]);
    let out = build(&tarball, &path);
    assert!(out.lines().any(|l| l == unknown), "{out}");

    // This checkout, on a machine without git.
    let out = build(Path::new(SOURCE), "/nonexistent");
    assert!(out.lines().any(|l| l == unknown), "{out}");

    // This checkout with git: the commit, and a rebuild when HEAD moves.
    let out = build(Path::new(SOURCE), &path);
    assert!(
        out.lines()
            .any(|l| l == format!("cargo::rustc-env=REFERRALD_COMMIT={}", commit())),
        "{out}"
    );
    let watched: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("cargo::rerun-if-changed="))
        .collect();
    assert!(
        watched.iter().any(|w| w.ends_with("/HEAD")),
        "HEAD watched: {out}"
    );
    assert!(
        watched
            .iter()
            .all(|w| *w == "build.rs" || Path::new(w).exists())
    );
}
