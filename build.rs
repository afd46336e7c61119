//! Names the commit a binary was built from, for `referrald --version`: sets
//! `REFERRALD_COMMIT` to "abc1234 2026-12-04" (short hash, commit date) when the source is a
//! git checkout, else to "unknown commit". A build never fails for lack of git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let source = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = checkout(&source)
        .and_then(|()| git(&source, &["show", "-s", "--format=%h %cs", "HEAD"]))
        .unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo::rustc-env=REFERRALD_COMMIT={commit}");
}

/// Whether `source` is the top of a git checkout (a tarball unpacked inside some other
/// repository is not); if so, has the build rerun when HEAD moves.
fn checkout(source: &Path) -> Option<()> {
    let top = git(source, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != source.canonicalize().ok()? {
        return None;
    }
    // HEAD changes on checkout; the branch it names (loose, or packed) on commit.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(source, &["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(source, &["rev-parse", "--git-path", &name]) {
            let path = source.join(path);
            // A path that does not exist would make cargo rerun this on every build.
            if path.exists() {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }
    Some(())
}

/// The first line `git args` prints in `dir`, if it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim();
    (out.status.success() && !line.is_empty()).then(|| line.to_owned())
}
