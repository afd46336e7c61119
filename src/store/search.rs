//! The list's search: which referrals a page of `/` shows. A search is answered from the
//! trigram index of migration 0012 (`search`), read newest first and checked a batch of hits
//! at a time against the tables with the same `LIKE` a scan uses, so the two always agree.
//! The scan itself answers the rest: a person chosen, a search for a common character (it
//! soon fills a page), or one holding a NUL.

use anyhow::Result;
use rusqlite::params;

use crate::model::ReferralId;

use super::Store;
use super::read::ReferralFilter;

/// Index rows per referral: rowid = referral id × SLOTS + slot (see 0012_search.sql).
const SLOT_BITS: u32 = 20;

/// A search of one or two characters that begin more index terms than this is scanned: the
/// character is common, so a scan soon fills a page, and a query of so many terms would not.
const MAX_SHORT_TERMS: usize = 256;

/// How the index answers a search.
enum Lookup {
    /// This FTS5 query lists every referral the search can find (and more: each is checked).
    Query(String),
    /// No referral in the index can match.
    Nothing,
    /// The index cannot help: scan.
    Scan,
}

/// The forms the index may hold `c` in: it folds ASCII to lower case, and other letters by
/// its own Unicode table. Rust's lower case stands in for that table: where the two differ
/// the character is kept as it is, so both are asked for.
fn folded(c: char) -> Vec<char> {
    if c.is_ascii() {
        return vec![c.to_ascii_lowercase()];
    }
    let mut forms = vec![c];
    let mut lower = c.to_lowercase();
    if let (Some(l), None) = (lower.next(), lower.next())
        && l != c
    {
        forms.push(l);
    }
    forms
}

/// An FTS5 string holding `text`, whatever it contains.
fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `words` as a `LIKE` pattern that matches them anywhere, wildcards taken literally.
fn like_pattern(words: &str) -> String {
    let escaped = words
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `words` as an FTS5 query: every trigram of them (the index keeps no positions, so this is
/// all it can ask), each an FTS5 string, so that `"`, `NEAR(`, `*` or `AND` are plain text.
fn fts_query(words: &str) -> String {
    let chars: Vec<char> = words.chars().collect();
    let mut seen = std::collections::HashSet::new();
    chars
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .filter(|t| seen.insert(t.clone()))
        .map(|t| fts_string(&t))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store {
    /// The ids of the referrals `filter` chooses, newest first: at most `limit` from
    /// `offset`.
    pub(super) fn chosen(
        &self,
        filter: &ReferralFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ReferralId>> {
        let lookup = match filter.search.as_deref() {
            Some(words) if filter.person.is_none() => self.lookup(words, MAX_SHORT_TERMS)?,
            _ => Lookup::Scan,
        };
        match (lookup, filter.search.as_deref()) {
            (Lookup::Query(query), Some(words)) => {
                self.found(filter, words, Some(&query), offset, limit)
            }
            (Lookup::Nothing, Some(words)) => self.found(filter, words, None, offset, limit),
            _ => self.scanned(filter, offset, limit),
        }
    }

    /// How the index answers a search for `words`. Three characters or more: the AND of
    /// their trigrams. One or two: every text in the index ends with two newlines, so every
    /// character begins a trigram, and the search asks for every trigram that begins with
    /// them (listed by `search_terms`), unless there are more than `max_terms`. SQLite reads
    /// a bound text only up to a NUL: such a search is scanned.
    fn lookup(&self, words: &str, max_terms: usize) -> Result<Lookup> {
        let chars: Vec<char> = words.chars().collect();
        if chars.is_empty() || words.contains('\0') {
            return Ok(Lookup::Scan);
        }
        if chars.len() >= 3 {
            return Ok(Lookup::Query(fts_query(words)));
        }
        let mut prefixes = vec![String::new()];
        for &c in &chars {
            prefixes = prefixes
                .iter()
                .flat_map(|p| folded(c).into_iter().map(move |f| format!("{p}{f}")))
                .collect();
        }
        let mut range = self.conn.prepare_cached(
            "SELECT term FROM search_terms WHERE term >= ?1 AND term < ?1 || char(1114111)
             LIMIT ?2",
        )?;
        let mut terms: Vec<String> = Vec::new();
        for prefix in &prefixes {
            let room = max_terms + 1 - terms.len();
            let more = range
                .query_map(params![prefix, i64::try_from(room).unwrap_or(0)], |r| {
                    r.get(0)
                })?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            terms.extend(more);
            if terms.len() > max_terms {
                return Ok(Lookup::Scan);
            }
        }
        if terms.is_empty() {
            return Ok(Lookup::Nothing);
        }
        Ok(Lookup::Query(
            terms
                .iter()
                .map(|t| fts_string(t))
                .collect::<Vec<_>>()
                .join(" OR "),
        ))
    }

    /// [`Store::chosen`] by reading every referral in turn.
    pub(super) fn scanned(
        &self,
        filter: &ReferralFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ReferralId>> {
        let pattern = filter.search.as_deref().map(like_pattern);
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id FROM referrals r
             WHERE (?1 IS NULL OR r.status = ?1)
               AND (?2 IS NULL OR r.id IN (SELECT p.referral_id FROM participants p
                    JOIN contacts c ON c.id = p.contact_id WHERE c.email = ?2))
               AND (?3 IS NULL OR r.subject LIKE ?3 ESCAPE '\\' OR EXISTS (SELECT 1
                    FROM participants p JOIN contacts c ON c.id = p.contact_id
                    WHERE p.referral_id = r.id
                      AND (c.email LIKE ?3 ESCAPE '\\' OR p.name LIKE ?3 ESCAPE '\\')))
             ORDER BY r.id DESC LIMIT ?4 OFFSET ?5",
        )?;
        let ids = stmt
            .query_map(
                params![
                    filter.status.map(|s| s.as_str()),
                    filter.person,
                    pattern,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    i64::try_from(offset).unwrap_or(i64::MAX),
                ],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// [`Store::chosen`] for a search of three characters or more: the referrals not yet
    /// indexed are scanned, then each referral the index names, newest first, is checked as
    /// [`Store::scanned`] checks it, until the page is full.
    pub(super) fn found(
        &self,
        filter: &ReferralFilter,
        words: &str,
        query: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ReferralId>> {
        let pattern = like_pattern(words);
        let status = filter.status.map(|s| s.as_str());
        let upto = self.indexed_upto()?;
        let tail: Vec<ReferralId> = self
            .conn
            .prepare_cached(
                "SELECT r.id FROM referrals r
                 WHERE r.id > ?1
                   AND (?2 IS NULL OR r.status = ?2)
                   AND (?3 IS NULL OR r.id IN (SELECT p.referral_id FROM participants p
                        JOIN contacts c ON c.id = p.contact_id WHERE c.email = ?3))
                   AND (r.subject LIKE ?4 ESCAPE '\\' OR EXISTS (SELECT 1
                        FROM participants p JOIN contacts c ON c.id = p.contact_id
                        WHERE p.referral_id = r.id
                          AND (c.email LIKE ?4 ESCAPE '\\' OR p.name LIKE ?4 ESCAPE '\\')))
                 ORDER BY r.id DESC LIMIT ?5",
            )?
            .query_map(
                params![
                    upto,
                    status,
                    filter.person,
                    pattern,
                    i64::try_from(offset.saturating_add(limit)).unwrap_or(i64::MAX)
                ],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let mut ids: Vec<ReferralId> = tail.iter().skip(offset).take(limit).copied().collect();
        let mut skipped = tail.len().min(offset);
        if ids.len() == limit {
            return Ok(ids);
        }
        let mut hits = self
            .conn
            .prepare_cached("SELECT rowid FROM search WHERE search MATCH ?1 ORDER BY rowid DESC")?;
        // Candidates are checked a batch at a time: one statement per batch, not per hit.
        let mut check = self.conn.prepare_cached(
            "SELECT r.id FROM referrals r
             WHERE r.id IN (SELECT value FROM json_each(?1))
               AND (?2 IS NULL OR r.status = ?2)
               AND (?3 IS NULL OR r.id IN (SELECT p.referral_id FROM participants p
                    JOIN contacts c ON c.id = p.contact_id WHERE c.email = ?3))
               AND (r.subject LIKE ?4 ESCAPE '\\' OR EXISTS (SELECT 1
                    FROM participants p JOIN contacts c ON c.id = p.contact_id
                    WHERE p.referral_id = r.id
                      AND (c.email LIKE ?4 ESCAPE '\\' OR p.name LIKE ?4 ESCAPE '\\')))
             ORDER BY r.id DESC",
        )?;
        let Some(query) = query else {
            return Ok(ids);
        };
        let mut rows = hits.query([query])?;
        let mut last = None;
        // The batch grows as it goes: a first page rarely needs more than a few candidates,
        // a deep page many.
        let mut batch: Vec<ReferralId> = Vec::new();
        let mut size = limit.max(8);
        let mut exhausted = false;
        while ids.len() < limit && !exhausted {
            batch.clear();
            while batch.len() < size {
                let Some(row) = rows.next()? else {
                    exhausted = true;
                    break;
                };
                let id: ReferralId = row.get::<_, i64>(0)? >> SLOT_BITS;
                if last != Some(id) {
                    last = Some(id);
                    batch.push(id);
                }
            }
            if batch.is_empty() {
                break;
            }
            let candidates = serde_json::to_string(&batch)?;
            let mut found = check.query(params![candidates, status, filter.person, pattern])?;
            while let Some(row) = found.next()? {
                let id: ReferralId = row.get(0)?;
                if skipped < offset {
                    skipped += 1;
                } else if ids.len() < limit {
                    ids.push(id);
                }
            }
            size = (size * 2).min(4096);
        }
        Ok(ids)
    }

    /// The newest referral in the search's index.
    fn indexed_upto(&self) -> Result<ReferralId> {
        Ok(self
            .conn
            .prepare_cached("SELECT upto FROM search_indexed")?
            .query_row([], |r| r.get(0))?)
    }

    /// How many referrals the search's index does not have yet (the search scans them).
    pub fn unindexed(&self) -> Result<usize> {
        self.referrals_after("search_indexed")
    }

    /// Adds the referrals recorded since the last time to the search's index, in one
    /// transaction; returns how many.
    pub fn index_for_search(&mut self) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let upto: ReferralId = tx.query_row("SELECT upto FROM search_indexed", [], |r| r.get(0))?;
        let newest: Option<ReferralId> =
            tx.query_row("SELECT max(id) FROM referrals", [], |r| r.get(0))?;
        let Some(newest) = newest.filter(|n| *n > upto) else {
            return Ok(0);
        };
        // One statement each: FTS5 writes its segment once, not once per row.
        let added = tx.execute(
            "INSERT INTO search (rowid, text)
             SELECT id * 1048576, subject || char(10, 10) FROM referrals WHERE id > ?1 AND id <= ?2",
            params![upto, newest],
        )?;
        tx.execute(
            "INSERT INTO search (rowid, text)
             SELECT p.referral_id * 1048576 + p.position + 1,
                 p.name || char(10) || c.email || char(10, 10)
             FROM participants p JOIN contacts c ON c.id = p.contact_id
             WHERE p.referral_id > ?1 AND p.referral_id <= ?2",
            params![upto, newest],
        )?;
        tx.execute("UPDATE search_indexed SET upto = ?1", [newest])?;
        tx.commit()?;
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::ReferralStatus;
    use crate::source::RawMessage;
    use chrono::{TimeZone, Utc};

    fn config() -> Config {
        crate::config::testing::config("[intake]\naccept-from = [\"*@networkers.example\"]")
    }

    /// Names as introductions give them: accents, other scripts, and the characters LIKE
    /// and FTS5 give meaning to.
    const NAMES: &[&str] = &[
        "Fred Jones",
        "Sally Lee",
        "José Müller",
        "JOSÉ MÜLLER",
        "Zoë Ærø",
        "Σοφία Παπαδοπούλου",
        "王小明",
        "İsmail Straße",
        "Anne_Marie 50% O'Neil",
        "Bob \\\"NEAR(x y)\\\" Smith",
        "Ana AND Wei OR Kim*",
        "Tom ^col:umn {a b} -minus",
    ];

    fn introduction(i: usize) -> RawMessage {
        let a = NAMES[i % NAMES.len()];
        let b = NAMES[(i / 3 + 5) % NAMES.len()];
        let text = format!(
            "From: Bob {k} <bob{k}@networkers.example>\r\n\
             To: \"{a}\" <a{i}@books.example>, \"{b}\" <b{i}@design.example>\r\n\
             Cc: intros@tracker.example.org\r\n\
             Subject: Intro: {a}, meet {b} ({i}% off_deal)\r\n\
             Date: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
             Message-ID: <search-{i}@networkers.example>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=UTF-8\r\n\r\n\
             Hi both, you should talk. Bob\r\n",
            k = i % 7,
        );
        RawMessage {
            origin: format!("test/{i}"),
            bytes: text.into_bytes(),
            arrived_at: None,
        }
    }

    fn seeded(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let config = config();
        let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
        // Two thirds indexed, the newest third not yet: searches read both.
        let messages: Vec<RawMessage> = (0..n).map(introduction).collect();
        let (old, new) = messages.split_at(n * 2 / 3);
        store.ingest(old, &config, now).unwrap();
        assert_eq!(store.index_for_search().unwrap(), old.len());
        store.ingest(new, &config, now).unwrap();
        assert_eq!(store.unindexed().unwrap(), new.len());
        (dir, store)
    }

    /// What the index finds for `filter`'s words; a search the index cannot answer fails.
    fn indexed(
        store: &Store,
        filter: &ReferralFilter,
        offset: usize,
        limit: usize,
    ) -> Vec<ReferralId> {
        let words = filter.search.as_deref().unwrap();
        match store.lookup(words, MAX_SHORT_TERMS).unwrap() {
            Lookup::Query(query) => store.found(filter, words, Some(&query), offset, limit),
            Lookup::Nothing => store.found(filter, words, None, offset, limit),
            Lookup::Scan => panic!("{words:?} is scanned"),
        }
        .unwrap()
    }

    fn filter(status: Option<ReferralStatus>, words: &str) -> ReferralFilter {
        ReferralFilter {
            status,
            person: None,
            search: Some(words.to_string()),
        }
    }

    /// Searches that reach the index, and what each must find at least.
    const SEARCHES: &[(&str, usize)] = &[
        ("Sally", 1),
        ("sALLY lee", 1),
        ("José", 1),
        ("josé", 1),
        ("JOSÉ MÜL", 1),
        ("müller", 1),
        ("zoë æ", 0),
        ("ZOË Æ", 0),
        ("zoë Æ", 1),
        ("ΣΟΦΊΑ", 0),
        ("Σοφία", 1),
        ("王小明", 1),
        ("İsmail", 1),
        ("straße", 1),
        ("50%", 1),
        ("% O'", 1),
        ("e_M", 1),
        ("a_m", 0),
        ("off_deal", 1),
        ("o'neil", 1),
        ("\"NEAR(", 1),
        ("NEAR(x y)", 1),
        ("y)\" S", 1),
        ("\"\"\"", 0),
        ("AND Wei OR", 1),
        ("Kim*", 1),
        ("^col:umn", 1),
        ("{a b}", 1),
        ("-minus", 1),
        ("'; DROP TABLE referrals; --", 0),
        ("@books.example", 1),
        ("a17@books", 1),
        ("bob3@", 1),
        (".example", 1),
        ("meet", 1),
        ("nobody here", 0),
        ("*\"*", 0),
        (" OR ", 1),
        ("OR", 1),
        ("ra", 1),
        ("RA", 1),
        ("zq", 0),
        ("e_", 1),
        ("_M", 1),
        ("%2", 0),
        ("% ", 1),
        ("\"N", 1),
        ("le", 1),
        ("l)", 1),
        ("ex", 1),
        // One or two characters of any script, in any case, at the end of a name too.
        ("Zö", 0),
        ("ZÖ", 0),
        ("ß", 1),
        ("王", 1),
        ("小明", 1),
        ("明", 1),
        ("Σ", 1),
        ("σ", 0),
        ("ί", 1),
        ("Ί", 0),
        ("İ", 1),
        ("ı", 0),
        ("ë", 1),
        ("Ë", 0),
        ("ø", 1),
        ("æ", 0),
        ("Æ", 1),
        ("q", 0),
        ("%", 1),
        ("_", 1),
        ("\"", 1),
        ("'", 1),
        ("*", 1),
        (")", 1),
        ("7", 1),
        ("Q", 0),
        ("\u{202e}", 0),
    ];

    #[test]
    fn the_index_finds_exactly_what_a_scan_finds() {
        let (_dir, store) = seeded(240);
        assert!(
            store
                .referrals(None)
                .unwrap()
                .iter()
                .any(|r| r.parties.iter().any(|p| p.name == "王小明")),
            "the seed records names in other scripts"
        );
        for &(words, at_least) in SEARCHES {
            for status in [
                None,
                Some(ReferralStatus::Open),
                Some(ReferralStatus::Cancelled),
            ] {
                let f = filter(status, words);
                for (offset, limit) in [(0, 1000), (0, 7), (3, 7), (40, 10)] {
                    let found = indexed(&store, &f, offset, limit);
                    let scanned = store.scanned(&f, offset, limit).unwrap();
                    assert_eq!(found, scanned, "{words:?} {status:?} {offset} {limit}");
                }
            }
            let all = indexed(&store, &filter(None, words), 0, 1000);
            assert!(all.len() >= at_least, "{words:?} found {}", all.len());
            assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first");
        }
        // Matches on several of one referral's rows list it once.
        assert_eq!(
            indexed(&store, &filter(None, "example"), 0, 1000).len(),
            240
        );
        // A character that begins more trigrams than the cap is scanned: it is common.
        assert!(matches!(
            store.lookup("e", MAX_SHORT_TERMS),
            Ok(Lookup::Query(_))
        ));
        assert!(matches!(store.lookup("e", 10), Ok(Lookup::Scan)));
    }

    /// Which of `trigrams` appear anywhere in the bytes of the search's index.
    fn in_index_bytes(store: &Store, trigrams: &[&str]) -> Vec<String> {
        let mut stmt = store.conn.prepare("SELECT block FROM search_data").unwrap();
        let blocks: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        trigrams
            .iter()
            .filter(|t| {
                blocks
                    .iter()
                    .any(|b| b.windows(3).any(|w| w == t.as_bytes()))
            })
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn the_index_follows_changes_and_forgets_whom_forget_erases() {
        let (_dir, mut store) = seeded(20);
        let config = config();
        let now = Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap();
        let intro = RawMessage {
            origin: "test/xq".into(),
            bytes: b"From: Bob <bob1@networkers.example>\r\n\
                To: Xavier Qwertyuiop <xq@zzyzx.example>, Sally Lee <sally@design.example>\r\n\
                Cc: intros@tracker.example.org\r\n\
                Subject: Intro: Xavier Qwertyuiop, meet Sally\r\n\
                Date: Tue, 3 Nov 2026 09:55:00 +0000\r\n\
                Message-ID: <xq@networkers.example>\r\n\r\nHi both.\r\n"
                .to_vec(),
            arrived_at: None,
        };
        store.ingest(&[intro], &config, now).unwrap();
        store.index_for_search().unwrap();
        assert_eq!(store.unindexed().unwrap(), 0);
        let search = |store: &Store, words: &str| -> Vec<ReferralId> {
            indexed(store, &filter(None, words), 0, 100)
        };
        let theirs = search(&store, "Qwertyuiop");
        assert_eq!(theirs.len(), 1);
        assert_eq!(search(&store, "xq@zzyzx"), theirs);
        // Trigrams no one else's text has: some are stored whole in the index's pages (others
        // share a prefix with the term before them).
        let trigrams = [
            "qwe", "wer", "ert", "rty", "tyu", "yui", "uio", "iop", "zzy", "zyx",
        ];
        assert!(!in_index_bytes(&store, &trigrams).is_empty());

        store.forget("xq@zzyzx.example", now).unwrap();
        assert!(search(&store, "Qwertyuiop").is_empty());
        assert!(search(&store, "xq@zzyzx").is_empty());
        // Their row now reads as the store does: the placeholder, and the redacted subject.
        assert_eq!(search(&store, "@forgotten.invalid"), theirs);
        assert_eq!(search(&store, "Intro: (forgotten), meet"), theirs);
        // Not even their trigrams are left in the index: deleted, not only marked deleted.
        assert_eq!(in_index_bytes(&store, &trigrams), Vec::<String>::new());
        // Everyone else is still found.
        // A referral forgotten before it was indexed is indexed as it now reads.
        let late = RawMessage {
            origin: "test/late".into(),
            bytes: b"From: Bob <bob1@networkers.example>\r\n\
                To: Yolanda Plonk <yp@plonk.example>, Sally Lee <sally@design.example>\r\n\
                Cc: intros@tracker.example.org\r\n\
                Subject: Intro: Yolanda Plonk, meet Sally\r\n\
                Date: Tue, 3 Nov 2026 09:55:00 +0000\r\n\
                Message-ID: <yp@networkers.example>\r\n\r\nHi both.\r\n"
                .to_vec(),
            arrived_at: None,
        };
        store.ingest(&[late], &config, now).unwrap();
        store.forget("yp@plonk.example", now).unwrap();
        assert_eq!(store.index_for_search().unwrap(), 1);
        assert!(search(&store, "Plonk").is_empty());
        assert_eq!(search(&store, "@forgotten.invalid").len(), 2);
        let sally = filter(None, "Sally");
        assert_eq!(
            search(&store, "Sally"),
            store.scanned(&sally, 0, 100).unwrap()
        );
        assert!(search(&store, "Sally").len() > 1);
    }

    #[test]
    fn any_search_text_is_answered_never_an_sql_or_fts5_error() {
        let (_dir, store) = seeded(30);
        let hostile = [
            "",
            " ",
            "%",
            "_",
            "\\",
            "\"",
            "'",
            "*",
            "a",
            "é",
            "ab",
            "\0",
            "a\0b\0c",
            "NEAR(",
            "NEAR(a b, 2)",
            "\"\"",
            "a\"b",
            "\"a",
            "AND",
            "OR NOT",
            "col:x",
            "^x",
            "+x",
            "(((",
            ")))",
            "{x}",
            "x -y",
            "\u{202e}abc",
            "\r\n\t",
            "%%%",
            "___",
            "\\%\\_",
        ];
        for words in hostile {
            let (_, _) = store
                .referrals_page(&filter(None, words), 0, 50)
                .unwrap_or_else(|e| panic!("{words:?}: {e}"));
            let f = ReferralFilter {
                person: Some("bob3@networkers.example".into()),
                ..filter(Some(ReferralStatus::Open), words)
            };
            store
                .referrals_page(&f, 0, 50)
                .unwrap_or_else(|e| panic!("{words:?}: {e}"));
        }
        // Short searches find what they should.
        let (two, _) = store.referrals_page(&filter(None, "王小"), 0, 50).unwrap();
        assert!(!two.is_empty());
        let (one, _) = store.referrals_page(&filter(None, "王"), 0, 50).unwrap();
        let ids =
            |views: &[crate::store::ReferralView]| views.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(&one), ids(&two));
    }

    #[test]
    fn search_words_are_plain_text_to_both_like_and_fts5() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(
            fts_query("a\"bc\"b"),
            "\"a\"\"b\" \"\"\"bc\" \"bc\"\"\" \"c\"\"b\""
        );
        assert_eq!(fts_query("aaaa"), "\"aaa\"");
        assert_eq!(folded('A'), ['a']);
        assert_eq!(folded('Ö'), ['Ö', 'ö']);
        assert_eq!(folded('ö'), ['ö']);
        // Its lower case is two characters: kept as it is.
        assert_eq!(folded('İ'), ['İ']);
    }
}
