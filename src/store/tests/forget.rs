//! `forget`: no trace of an address or a name left in the database or its file.

use super::*;

/// Every value in every column of every table that mentions one of `needles` (lower-case)
/// as a whole word, as "table.column: value".
fn mentions(store: &Store, needles: &[&str]) -> Vec<String> {
    let tables: Vec<String> = store
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(tables.len() >= 10, "{tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let mut stmt = store
            .conn
            .prepare(&format!("SELECT * FROM {table}"))
            .unwrap();
        let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, column) in columns.iter().enumerate() {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).to_lowercase()
                    }
                    _ => continue,
                };
                // Whole words only: alfred@… is someone else.
                let whole = |n: &&str| {
                    text.match_indices(n).any(|(i, _)| {
                        !text[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '.')
                    })
                };
                if needles.iter().any(whole) {
                    found.push(format!("{table}.{column}: {text}"));
                }
            }
        }
    }
    found
}

#[test]
fn forget_leaves_no_trace_of_the_address_or_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let frederick = person("Fred@FredsBooks.example", "Frederick Jones");
    let a = introduce_people(
        &mut store,
        "a@x",
        &bob(),
        &[fred(), sally()],
        "Intro: Fred Jones <> Sally Lee",
        t0(),
    );
    let b = introduce_people(
        &mut store,
        "b@x",
        &bob(),
        &[sally(), frederick],
        "Sally, meet Frederick Jones",
        t0(),
    );
    // His follow-up in #a bounces, with his address in the server's words.
    make_due(&mut store, t0() + TimeDelta::days(2));
    let follow_up = store
        .referral(a)
        .unwrap()
        .unwrap()
        .outbound
        .into_iter()
        .find(|o| o.kind == OutboundKind::FollowUp && o.to == fred().email)
        .unwrap();
    store
        .mark_failed(
            follow_up.id,
            "550 5.1.1 <fred@fredsbooks.example>: mailbox full",
            &config(),
            t0() + TimeDelta::days(2),
        )
        .unwrap();
    let later = t0() + TimeDelta::days(15);
    answer(
        &mut store,
        "fa@x",
        a,
        &fred(),
        won(4, 2000.0, "Sally was great. My cell is 555-0100."),
        later,
    );
    answer(
        &mut store,
        "fs@x",
        a,
        &sally(),
        won(
            5,
            2000.0,
            "FRED JONES is brilliant: write to fred@fredsbooks.example.",
        ),
        later,
    );
    // He wrote on someone else's thread, and sent something that could not be parsed.
    let stranger = classified(
        "stray@x",
        &fred(),
        Verdict::Ignored(IgnoreReason::Stranger(fred().email)),
    );
    store.record(&stranger, &raw(), &config(), later).unwrap();
    let garbled = RawMessage {
        origin: "imap:INBOX/7".into(),
        bytes: b"From: Fred <FRED@fredsbooks.example>\r\n\xff\xfe".to_vec(),
        arrived_at: None,
    };
    let unparseable = classified(
        "garbled@x",
        &fred(),
        Verdict::Ignored(IgnoreReason::Unparseable("no header end".into())),
    );
    store
        .record(&unparseable, &garbled, &config(), later)
        .unwrap();
    let other = RawMessage {
        origin: "imap:INBOX/8".into(),
        bytes: b"From: alfred@fredsbooks.example\r\n\xff".to_vec(),
        arrived_at: None,
    };
    let unparseable = classified(
        "garbled-2@x",
        &bob(),
        Verdict::Ignored(IgnoreReason::Unparseable("no header end".into())),
    );
    store
        .record(&unparseable, &other, &config(), later)
        .unwrap();
    let needles = [
        "fred@fredsbooks.example",
        "fred jones",
        "frederick jones",
        "555-0100",
    ];
    assert!(mentions(&store, &needles).len() > 8);

    let erased = store.forget(" FRED@fredsbooks.example", later).unwrap();
    assert!(erased.found_anything());
    let (contact, placeholder) = erased.contact.clone().unwrap();
    assert_eq!(
        placeholder,
        format!("forgotten-{contact}@forgotten.invalid")
    );
    assert_eq!(erased.referrals, 2);
    assert_eq!(erased.comments, 1);
    assert_eq!(erased.rejected, 1);
    assert!(erased.cancelled >= 1, "{erased:?}");
    assert!(erased.redacted >= 6, "{erased:?}");
    assert_eq!(erased.forgotten_before, None);
    assert_eq!(mentions(&store, &needles), Vec::<String>::new());
    // Nor in the bytes of the file: erased content is overwritten, the log emptied.
    for file in ["referrald.db", "referrald.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !crate::store::forget::contains_address(&bytes, b"fred@fredsbooks.example"),
            "{file}"
        );
        for name in ["Fred Jones", "Frederick Jones", "FRED JONES", "555-0100"] {
            assert!(
                !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} in {file}"
            );
        }
    }

    // What the referrals were stays; who he was does not.
    let detail = store.referral(a).unwrap().unwrap();
    assert_eq!(detail.referral.status, ReferralStatus::Succeeded);
    assert_eq!(detail.referral.subject, "Intro: (forgotten) <> Sally Lee");
    let him = &detail.referral.parties[0];
    assert_eq!(
        (him.name.as_str(), him.email.as_str()),
        (FORGOTTEN, placeholder.as_str())
    );
    assert_eq!(him.state, PartyState::OptedOut);
    assert_eq!(detail.feedback[0].comment, "");
    assert_eq!(detail.feedback[0].rating, Some(4));
    assert_eq!(detail.feedback[0].value, Some(2000.0));
    assert_eq!(
        detail.feedback[1].comment,
        "(forgotten) is brilliant: write to (forgotten)."
    );
    assert!(detail.events.iter().any(|e| e.kind == "forgotten"));
    for r in [a, b] {
        for (kind, to, st) in outbound_of(&store, r) {
            if to == placeholder {
                assert!(
                    matches!(st, OutboundState::Cancelled | OutboundState::Failed),
                    "{kind} in #{r} is {st}"
                );
            }
        }
    }
    // Replies are still matched by the subject as it now reads.
    let key: String = store
        .conn
        .query_row(
            "SELECT subject_key FROM referrals WHERE id = ?1",
            [a],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        key,
        crate::intake::normalize_subject(&detail.referral.subject)
    );
    // Someone else's stored message stays.
    let kept: i64 = store
        .conn
        .query_row("SELECT count(*) FROM rejected", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1);

    // Introduced again, he is recorded as opted out and nothing is planned for him.
    let c = introduce(&mut store, "c@x", later + TimeDelta::days(1));
    let detail = store.referral(c).unwrap().unwrap();
    assert_eq!(detail.referral.parties[0].email, fred().email);
    assert_eq!(detail.referral.parties[0].state, PartyState::OptedOut);
    assert!(
        outbound_of(&store, c)
            .iter()
            .all(|(_, to, _)| *to != fred().email)
    );
    // Forgetting him again erases the new contact, and says when he was first forgotten.
    let again = store
        .forget(&fred().email, later + TimeDelta::days(2))
        .unwrap();
    assert_eq!(again.referrals, 1);
    assert_eq!(
        again.forgotten_before.as_deref(),
        Some("2026-11-17T10:00:00Z")
    );
}

#[test]
fn forgetting_an_unknown_address_changes_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    introduce(&mut store, "a@x", t0());
    let erased = store.forget("nobody@example.org", t0()).unwrap();
    assert!(!erased.found_anything());
    assert_eq!(erased, Erasure::default());
    let hashes: i64 = store
        .conn
        .query_row("SELECT count(*) FROM forgotten", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hashes, 0);
}

/// Whether the bytes of the database file, or of its write-ahead log, hold `needle`.
fn file_holds(dir: &std::path::Path, needle: &str) -> bool {
    ["referrald.db", "referrald.db-wal"].iter().any(|file| {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        bytes
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    })
}

/// Harm guarded against: a row rewritten before `forget` (here the contact, when a bounce
/// was recorded) leaving its old version, address included, in the file's free space.
#[test]
fn rows_rewritten_before_a_forget_leave_nothing_readable_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let checkpoint = |store: &Store| {
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    };
    introduce(&mut store, "a@x", t0());
    checkpoint(&store);
    let bounce = Bounce {
        recipients: vec![fred().email],
        status: Some("5.2.2 mailbox full".into()),
        ..Bounce::default()
    };
    let bounced = classified("dsn@x", &bob(), Verdict::Bounce(bounce));
    store
        .record(&bounced, &raw(), &config(), t0() + TimeDelta::days(1))
        .unwrap();
    checkpoint(&store);
    assert!(file_holds(dir.path(), &fred().email));

    store
        .forget(&fred().email, t0() + TimeDelta::days(2))
        .unwrap();
    assert!(!file_holds(dir.path(), &fred().email));
}

/// Harm guarded against: `forget fred@x` leaving `fred+crm@x`, the same mailbox, on file
/// and on the mailing list.
#[test]
fn forgetting_an_address_forgets_its_plus_detail_variants() {
    let mut store = Store::open_in_memory().unwrap();
    let crm = person("fred+crm@fredsbooks.example", "Fred (CRM)");
    let a = introduce_people(&mut store, "a@x", &bob(), &[crm, sally()], "One", t0());
    introduce_people(&mut store, "b@x", &bob(), &[fred(), sally()], "Two", t0());
    // Someone else's +detail address on the same domain is someone else.
    let alfred = person("fred2+crm@fredsbooks.example", "Alfred");
    introduce_people(&mut store, "c@x", &bob(), &[alfred, sally()], "Three", t0());

    let erased = store.forget(&fred().email, t0()).unwrap();
    assert_eq!(erased.variants, 1);
    assert_eq!(erased.referrals, 2);
    assert_eq!(
        mentions(
            &store,
            &[
                "fred+crm@fredsbooks.example",
                "fred (crm)",
                "fred@fredsbooks.example"
            ]
        ),
        Vec::<String>::new()
    );
    assert!(!mentions(&store, &["fred2+crm@fredsbooks.example"]).is_empty());
    let detail = store.referral(a).unwrap().unwrap();
    assert_eq!(detail.referral.parties[0].name, FORGOTTEN);
    assert_eq!(detail.referral.parties[0].state, PartyState::OptedOut);
    // A new variant later is recognised as forgotten.
    assert!(
        store
            .view()
            .is_forgotten("fred+newsletter@fredsbooks.example")
    );
    assert!(!store.view().is_forgotten("fred2@fredsbooks.example"));
}
