//! Template files: the built-in ones compiled into the binary, the owner's overrides from
//! `templates.dir`, and the checks that make a bad template an error at startup rather than a
//! blank in a sent email.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use minijinja::syntax::SyntaxConfig;
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};

use super::vars;
use crate::model::OutboundKind;

/// The built-in template of each kind.
const BUILT_IN: &[(OutboundKind, &str)] = &[
    (
        OutboundKind::ThankYou,
        include_str!("../../templates/thank_you.txt"),
    ),
    (
        OutboundKind::OwnerNudge,
        include_str!("../../templates/owner_nudge.txt"),
    ),
    (
        OutboundKind::FollowUp,
        include_str!("../../templates/follow_up.txt"),
    ),
    (
        OutboundKind::FeedbackRequest,
        include_str!("../../templates/feedback_request.txt"),
    ),
    (
        OutboundKind::FeedbackReminder,
        include_str!("../../templates/feedback_reminder.txt"),
    ),
    (
        OutboundKind::OutcomeReport,
        include_str!("../../templates/outcome_report.txt"),
    ),
];

/// One template file, before compilation.
#[derive(Debug, Clone)]
pub struct Source {
    /// The message kind it renders.
    pub kind: OutboundKind,
    /// Where it came from, for error messages: `built-in follow_up.txt` or a path.
    pub origin: String,
    /// The file's text.
    pub text: String,
}

/// The file name of a kind's template.
pub fn file_name(kind: OutboundKind) -> String {
    format!("{}.txt", kind.as_str())
}

/// One template per kind: the built-in one, unless `dir` has a file of the same name.
pub fn load(dir: Option<&Path>) -> anyhow::Result<Vec<Source>> {
    let mut sources: Vec<Source> = BUILT_IN
        .iter()
        .map(|(kind, text)| Source {
            kind: *kind,
            origin: format!("built-in {}", file_name(*kind)),
            text: (*text).to_string(),
        })
        .collect();
    let Some(dir) = dir else {
        return Ok(sources);
    };
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the templates directory {}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry
            .with_context(|| format!("cannot read the templates directory {}", dir.display()))?;
        names.push(entry.file_name());
    }
    // Sorted, so that of several bad files the same one is reported every time.
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let name = name.to_string_lossy();
        // Hidden files (editor swap files, .keep) and notes to self are not templates.
        if name.starts_with('.') || name.starts_with("README") {
            continue;
        }
        // Notice templates are the composer's to load (see `notice_source`).
        if name
            .strip_suffix(".txt")
            .or_else(|| name.strip_suffix(".html"))
            .is_some_and(|stem| super::notices::notice_kind(stem).is_some())
        {
            continue;
        }
        let kind = name
            .strip_suffix(".txt")
            .and_then(|stem| stem.parse::<OutboundKind>().ok())
            .ok_or_else(|| {
                let expected: Vec<String> =
                    OutboundKind::ALL.iter().map(|k| file_name(*k)).collect();
                anyhow!(
                    "template {}: {name:?} is not a template name (a typo?); the templates directory may hold only {}",
                    path.display(),
                    expected.join(", ")
                )
            })?;
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read template {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow!("template {} ({kind}) is not UTF-8 text", path.display()))?;
        if let Some(source) = sources.iter_mut().find(|s| s.kind == kind) {
            source.origin = path.display().to_string();
            source.text = text;
        }
    }
    Ok(sources)
}

/// A notice kind's template: `dir`'s `<kind>.txt` when there is one, else the built-in one;
/// returns (where it came from, its text).
pub fn notice_source(
    dir: Option<&Path>,
    kind: &str,
    built_in: &str,
) -> anyhow::Result<(String, String)> {
    let path = dir.map(|d| d.join(format!("{kind}.txt")));
    match path {
        Some(path) if path.exists() => {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read template {}", path.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow!("template {} ({kind}) is not UTF-8 text", path.display()))?;
            Ok((path.display().to_string(), text))
        }
        _ => Ok((format!("built-in {kind}.txt"), built_in.to_string())),
    }
}

/// A notice kind's HTML alternative, if it has one: `dir`'s `<kind>.html` when there is one,
/// else the built-in one; returns (where it came from, its text).
pub fn notice_html_source(
    dir: Option<&Path>,
    kind: &str,
    built_in: Option<&str>,
) -> anyhow::Result<Option<(String, String)>> {
    let path = dir.map(|d| d.join(format!("{kind}.html")));
    match path {
        Some(path) if path.exists() => {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read template {}", path.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow!("template {} ({kind}) is not UTF-8 text", path.display()))?;
            Ok(Some((path.display().to_string(), text)))
        }
        _ => Ok(built_in.map(|t| (format!("built-in {kind}.html"), t.to_string()))),
    }
}

/// A template file split into its subject line and its body, each ready to compile.
#[derive(Debug)]
pub struct Parts {
    /// The subject template (what follows `Subject:` on the first line).
    pub subject: String,
    /// The body template, preceded by as many newlines as the lines before it in the file, so
    /// that minijinja's line numbers are the file's.
    pub body: String,
}

/// Splits `Subject: …`, a blank line, and the body.
pub fn split(source: &Source) -> anyhow::Result<Parts> {
    split_text(&source.text, &source.origin, &source.kind)
}

/// [`split`] for a template of any kind: `origin` and `kind` name it in errors.
pub fn split_text(text: &str, origin: &str, kind: &dyn std::fmt::Display) -> anyhow::Result<Parts> {
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let subject = first
        .get(..8)
        .filter(|head| head.eq_ignore_ascii_case("subject:"))
        .map(|_| first[8..].trim())
        .ok_or_else(|| {
            anyhow!(
                "template {} ({}): the first line must be \"Subject: …\", found {:?}",
                origin,
                kind,
                first
            )
        })?;
    if subject.is_empty() {
        bail!(
            "template {} ({}): the subject on line 1 is empty",
            origin,
            kind
        );
    }
    let (second, body) = rest.split_once('\n').unwrap_or((rest, ""));
    if !second.trim().is_empty() {
        bail!(
            "template {} ({}), line 2: a blank line must separate the subject from the body",
            origin,
            kind
        );
    }
    if body.trim().is_empty() {
        bail!("template {} ({}): the body is empty", origin, kind);
    }
    Ok(Parts {
        subject: subject.to_string(),
        body: format!("\n\n{body}"),
    })
}

/// The minijinja environment every template is compiled in: plain text (no escaping), strict
/// about undefined values, and refusing to print `none` where a value is missing.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Mail is plain text; only an HTML alternative (a notice's `<kind>.html`) is escaped.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Debug info lets an error point at the failing expression.
    env.set_debug(true);
    // `{% if %}` lines leave no blank line or indentation behind.
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    if let Ok(syntax) = syntax {
        env.set_syntax(syntax);
    }
    env.set_formatter(refuse_none);
    env.add_filter("first_names", vars::first_names);
    env.add_filter("full_names", vars::full_names);
    env.add_filter("and_list", vars::and_list);
    env
}

/// Printing `none` would put the word "none" into someone's email: a missing rating, say,
/// printed without an `{% if %}` around it. That is a template error, caught by the sample
/// renders at startup.
fn refuse_none(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "prints a value that can be missing (none); guard it with {% if … %}",
        ));
    }
    minijinja::escape_formatter(out, state, value)
}

/// Which part of a template file an error is in.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// The `Subject:` line.
    Subject,
    /// Everything after the blank line.
    Body,
}

/// The minijinja name of a kind's subject or body template.
pub fn template_name(kind: OutboundKind, part: Part) -> String {
    match part {
        Part::Subject => format!("{kind}.subject"),
        Part::Body => format!("{kind}.body"),
    }
}

/// An error from compiling or rendering a template, naming the file, the kind, the line and,
/// where minijinja can point at it, the expression.
pub fn describe(source: &Source, part: Part, err: &Error) -> anyhow::Error {
    let line = match part {
        Part::Subject => Some(1),
        Part::Body => err.line(),
    };
    let place = match line {
        Some(line) => format!("template {} ({}), line {line}", source.origin, source.kind),
        None => format!("template {} ({})", source.origin, source.kind),
    };
    let expression = match (err.template_source(), err.range()) {
        (Some(text), Some(range)) => text.get(range).map(str::trim).filter(|e| !e.is_empty()),
        _ => None,
    };
    let what = match err.kind() {
        ErrorKind::SyntaxError => format!(
            "syntax error: {}",
            err.detail().unwrap_or("the template cannot be parsed")
        ),
        ErrorKind::UndefinedError => match expression {
            Some(expr) => format!(
                "`{expr}` is not defined for {} templates (see templates/README.md for the variables)",
                source.kind
            ),
            None => format!(
                "uses a value that is not defined for {} templates (see templates/README.md)",
                source.kind
            ),
        },
        _ => {
            let detail = err
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| err.kind().to_string());
            match expression {
                Some(expr) => format!("`{expr}` {detail}"),
                None => detail,
            }
        }
    };
    anyhow!("{place}: {what}")
}

/// The variables a template uses that `kind` templates do not have, by static analysis: this
/// sees every branch, including ones no sample render reaches.
pub fn unknown_variables(env: &Environment<'_>, kind: OutboundKind) -> Vec<(Part, String)> {
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    let mut found = Vec::new();
    for part in [Part::Subject, Part::Body] {
        let Ok(template) = env.get_template(&template_name(kind, part)) else {
            continue;
        };
        let mut used: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        used.sort();
        for path in used {
            let head = path.split('.').next().unwrap_or(&path);
            if !vars::allowed(kind, &path) && !globals.contains(&head) {
                found.push((part, path));
            }
        }
    }
    found
}

/// The 1-based line of `needle` in `text`, if it occurs.
pub fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
}
