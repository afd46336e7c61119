//! `export`: every referral as `show` has it, in JSON and CSV.

use super::*;

#[test]
fn export_writes_every_referral_as_show_does_and_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("referrald.db")).unwrap();
    let zoe = person("zoe@example.jp", "Zoë \"Z\" Ångström, CPA");
    let nasty = "Intro: Zoë, meet Fred — \"the\" bookkeeper,\r\nfinally";
    let a = introduce_people(
        &mut store,
        "a@x",
        &bob(),
        &[zoe.clone(), fred()],
        nasty,
        t0(),
    );
    let b = introduce(&mut store, "b@x", t0() + TimeDelta::hours(1));
    let later = t0() + TimeDelta::days(15);
    answer(&mut store, "fa@x", a, &fred(), won(4, 2000.0, "ok"), later);
    answer(
        &mut store,
        "fz@x",
        a,
        &zoe,
        won(5, 2500.0, "We signed, \"finally\".\nThanks!"),
        later,
    );

    let mut json = Vec::new();
    assert_eq!(crate::export::json(&store, &mut json).unwrap(), 2);
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let shown: Vec<serde_json::Value> = [a, b]
        .iter()
        .map(|r| serde_json::to_value(store.referral(*r).unwrap().unwrap()).unwrap())
        .collect();
    assert_eq!(json, serde_json::Value::Array(shown));
    assert_eq!(
        json[0]["feedback"][1]["comment"],
        "We signed, \"finally\".\nThanks!"
    );

    let mut csv = Vec::new();
    assert_eq!(
        crate::export::csv(&store, &mut csv, 100_000_000.0).unwrap(),
        2
    );
    let rows = crate::export::csv_reader::read_csv(&String::from_utf8(csv).unwrap());
    assert_eq!(rows[0], crate::export::CSV_HEADER);
    assert_eq!(rows.len(), 3);
    let row: std::collections::HashMap<&str, &str> = crate::export::CSV_HEADER
        .iter()
        .copied()
        .zip(rows[1].iter().map(String::as_str))
        .collect();
    assert_eq!(row["id"], a.to_string());
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["created_at"], "2026-11-02T10:00:00Z");
    assert_eq!(row["subject"], nasty);
    assert_eq!(row["introducer_email"], "bob@networkers.example");
    assert_eq!(row["introducer_name"], "Bob Brown");
    assert_eq!(
        row["parties"],
        "Zoë \"Z\" Ångström, CPA <zoe@example.jp>; Fred Jones <fred@fredsbooks.example>"
    );
    assert_eq!(row["party_states"], "responded; responded");
    assert_eq!(row["rating"], "4.5");
    assert_eq!(
        row["outcomes"],
        "Fred Jones: won; Zoë \"Z\" Ångström, CPA: won"
    );
    // Both reported the deal: it counts once, at the larger amount.
    assert_eq!(row["value"], "2500");
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["answers"], "2");
    // A referral nobody answered has empty figures, not zeros.
    assert_eq!(&rows[2][8..], ["", "", "", "", "0"]);
}

#[test]
fn export_of_an_empty_store_is_an_empty_array_and_a_header() {
    let store = Store::open_in_memory().unwrap();
    let mut json = Vec::new();
    crate::export::json(&store, &mut json).unwrap();
    assert_eq!(json, b"[]\n");
    let mut csv = Vec::new();
    crate::export::csv(&store, &mut csv, 100_000_000.0).unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        crate::export::CSV_HEADER.join(",") + "\r\n"
    );
}
