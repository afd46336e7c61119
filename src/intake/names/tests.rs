use super::*;

fn p(email: &str, name: Option<&str>) -> Person {
    Person::new(email, name)
}

fn names(cast: &Cast) -> Vec<(&str, &str)> {
    cast.parties
        .iter()
        .map(|p| (p.email.as_str(), p.name.as_str()))
        .collect()
}

fn copied(cast: &Cast) -> Vec<(&str, &str)> {
    cast.copied
        .iter()
        .map(|p| (p.email.as_str(), p.name.as_str()))
        .collect()
}

// The case: "ogrant@" was greeted "Hi Ogrant" in every message.
#[test]
fn an_initial_and_surname_address_takes_the_name_the_body_gives() {
    let body = "Hi Raj, hi Olivia,\n\nI'm delighted to connect you two. Olivia Grant is a partner at Grant Law and knows more about licensing than anyone I know.\n\nBest,\nBob";
    let cast = cast(
        vec![
            p("raj@patel.example", None),
            p("ogrant@grantlaw.example", None),
        ],
        body,
    );
    assert_eq!(
        names(&cast),
        [
            ("raj@patel.example", "Raj"),
            ("ogrant@grantlaw.example", "Olivia Grant")
        ]
    );
    assert!(cast.copied.is_empty());
}

#[test]
fn greeting_lines_name_first_name_addresses() {
    for body in [
        "Olivia, Raj —\n\nyou two should talk.",
        "Dear Olivia and Raj,\nplease meet each other.",
        "Hallo Olivia, hallo Raj,\n\nihr solltet euch kennenlernen.",
        "Bonjour Olivia, bonjour Raj,\n\nje vous présente l'un à l'autre.",
        "Hola Raj y Olivia:\n\nos presento.",
        "Hey Olivia & Raj!\nYou should meet.",
    ] {
        let cast = cast(
            vec![p("olivia@x.example", None), p("raj@y.example", None)],
            body,
        );
        assert_eq!(
            names(&cast),
            [("olivia@x.example", "Olivia"), ("raj@y.example", "Raj")],
            "{body}"
        );
    }
}

#[test]
fn meet_and_introducing_name_people() {
    let cast1 = cast(
        vec![p("olivia@x.example", None), p("rpatel@y.example", None)],
        "Olivia, meet Raj Patel. Raj runs the best bakery in town.",
    );
    assert_eq!(cast1.parties[0].name, "Olivia");
    assert_eq!(cast1.parties[1].name, "Raj Patel");
    let cast2 = cast(
        vec![p("jmueller@x.example", None), p("ana@y.example", None)],
        "Ana, te presento a José Müller, que trabaja en logística.",
    );
    assert_eq!(cast2.parties[0].name, "José Müller");
    assert_eq!(cast2.parties[1].name, "Ana");
}

#[test]
fn the_domain_names_someone_the_local_part_does_not() {
    let cast = cast(
        vec![p("raj@y.example", None), p("o@grantlaw.example", None)],
        "Raj, meet Olivia Grant. Olivia Grant is the founder of Grant Law.",
    );
    assert_eq!(cast.parties[1].name, "Olivia Grant");
    // A shared mailbox is not the person the body names.
    let cast = cast_of(vec![p("info@grantlaw.example", None)], "Meet Olivia Grant.");
    assert_eq!(cast.parties[0].name, "");
}

fn cast_of(people: Vec<Person>, body: &str) -> Cast {
    cast(people, body)
}

// Names made up from a local part ("Ogrant", "Info", "Jsmith", "Raj123") read as nonsense.
#[test]
fn without_a_fitting_name_nobody_is_named() {
    let cast = cast(
        vec![
            p("ogrant@grantlaw.example", None),
            p("info@acme.example", None),
            p("jsmith@acme.example", None),
            p("raj123@mail.example", None),
            p("og@grantlaw.example", None),
        ],
        "Hi all,\n\nYou should talk to each other. Olivia knows the market.",
    );
    for (email, name) in names(&cast) {
        assert_eq!(name, "", "{email}");
    }
}

#[test]
fn display_names_and_first_last_addresses_are_kept() {
    let cast = cast(
        vec![
            p("sally.lee@x.example", None),
            p("raj@y.example", Some("Rajesh Patel")),
        ],
        "Hi Sal, hi Raj,\nmeet each other.",
    );
    assert_eq!(
        names(&cast),
        [
            ("sally.lee@x.example", "Sally Lee"),
            ("raj@y.example", "Rajesh Patel")
        ]
    );
}

#[test]
fn two_different_names_that_fit_give_none() {
    let cast = cast(
        vec![p("o@grant.example", None), p("raj@y.example", None)],
        "Meet Olivia Grant. Oscar Grant is her partner.",
    );
    assert_eq!(cast.parties[0].name, "");
}

// The case: an assistant copied to find a time got follow-ups as a party.
#[test]
fn an_assistant_copied_to_find_a_time_is_no_party() {
    let cast = cast(
        vec![
            p("raj@patel.example", Some("Raj Patel")),
            p("olivia@grantlaw.example", Some("Olivia Grant")),
            p("megan@patel.example", None),
        ],
        "Raj, meet Olivia. I'm cc'ing Megan, my assistant, to find a time for you two.",
    );
    assert_eq!(
        names(&cast),
        [
            ("raj@patel.example", "Raj Patel"),
            ("olivia@grantlaw.example", "Olivia Grant")
        ]
    );
    assert_eq!(copied(&cast), [("megan@patel.example", "Megan")]);
}

#[test]
fn helpers_are_found_in_the_ways_people_copy_them() {
    for body in [
        "Raj, meet Olivia. Looping in Megan to coordinate.",
        "Raj, meet Olivia. Megan (cc'd) will set up a call.",
        "Raj, meet Olivia.\ncc: my EA Megan",
        "Raj, meet Olivia. I've copied Megan Jones to help schedule.",
        "Raj, meet Olivia. Megan, my assistant, will find a time.",
        "Raj, meet Olivia. My colleague Megan is copied and can help with logistics.",
        "Raj, meet Olivia. Ich setze meine Assistentin Megan in Kopie, um einen Termin zu finden.",
    ] {
        let cast = cast(
            vec![
                p("raj@patel.example", Some("Raj Patel")),
                p("olivia@grantlaw.example", Some("Olivia Grant")),
                p("mjones@patel.example", Some("Megan Jones")),
            ],
            body,
        );
        assert_eq!(cast.parties.len(), 2, "{body}");
        assert_eq!(
            copied(&cast),
            [("mjones@patel.example", "Megan Jones")],
            "{body}"
        );
    }
}

#[test]
fn a_party_described_with_helper_words_stays_a_party() {
    let people = || {
        vec![
            p("raj@patel.example", Some("Raj Patel")),
            p("megan@coach.example", Some("Megan Lee")),
        ]
    };
    for body in [
        // About a party, not a helper.
        "Raj, meet Megan. Megan is a great assistant coach and has time on Fridays.",
        // "My assistant" who is not on the message: nobody is removed.
        "Raj, meet Megan. My assistant will send you both a calendar invite.",
        "Raj, meet Megan. I'm cc'ing my assistant Tom to find a time.",
        // Copied, but to meet, not to help.
        "Raj, I'm copying Megan, whom you should meet.",
        // Copied so that the parties can find a time: Megan is one of them.
        "Raj, I'm copying Megan so you two can find a time.",
        "Raj, looping in Megan, who can tell you about her schedule.",
        "Raj, I'm cc'ing Megan, a brilliant assistant director, since you should meet.",
    ] {
        let cast = cast(people(), body);
        assert_eq!(cast.parties.len(), 2, "{body}");
        assert!(cast.copied.is_empty(), "{body}");
    }
}

#[test]
fn no_words_change_nothing() {
    let people = vec![p("raj@patel.example", None), p("olivia@x.example", None)];
    let cast = cast(people.clone(), "");
    assert_eq!(cast.parties, people);
}

#[test]
fn a_greeting_may_run_into_the_first_sentence() {
    let cast = cast(
        vec![
            p("fred@books.example", None),
            p("sally@bakery.example", None),
        ],
        "Fred, Sally - as discussed.",
    );
    assert_eq!(
        names(&cast),
        [
            ("fred@books.example", "Fred"),
            ("sally@bakery.example", "Sally")
        ]
    );
}

#[test]
fn a_helper_name_that_fits_two_recipients_removes_neither() {
    let cast = cast(
        vec![
            p("raj@patel.example", Some("Raj Patel")),
            p("megan@lee.example", Some("Megan Lee")),
            p("megan@patel.example", Some("Megan Stone")),
        ],
        "Raj, meet Megan. I'm cc'ing Megan, my assistant, to find a time.",
    );
    assert_eq!(cast.parties.len(), 3);
    assert!(cast.copied.is_empty());
}

// A To line of thousands and a body of thousands of names must not take quadratic time.
#[test]
fn many_recipients_and_names_are_read_quickly() {
    let people: Vec<Person> = (0..20_000)
        .map(|i| p(&format!("p{i}@x.example"), None))
        .collect();
    // Twenty thousand different names: "Meet Ab Grant. Meet Ac Grant. …"
    let name = |mut i: usize| {
        let mut word = String::from("A");
        loop {
            word.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return word;
            }
        }
    };
    let body: String = (0..20_000)
        .map(|i| format!("Meet {} Grant. ", name(i)))
        .collect();
    let started = std::time::Instant::now();
    let cast = cast(people, &body);
    assert_eq!(cast.parties.len(), 20_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// The cheap gate in front of `cast`: it may say "maybe" too often, never "no" wrongly.
#[test]
fn the_gate_lets_through_every_message_cast_could_change() {
    let named = || {
        vec![
            p("raj@patel.example", Some("Raj Patel")),
            p("olivia@grantlaw.example", Some("Olivia Grant")),
            p("mjones@patel.example", Some("Megan Jones")),
        ]
    };
    let helpers = [
        "Raj, meet Olivia. Looping in Megan to coordinate.",
        "Raj, meet Olivia. Megan (cc'd) will set up a call.",
        "Raj, meet Olivia.\ncc: my EA Megan",
        "Raj, meet Olivia. I've copied Megan Jones to help schedule.",
        "Raj, meet Olivia. Megan, my assistant, will find a time.",
        "Raj, meet Olivia. My colleague Megan is copied and can help with logistics.",
        "Raj, meet Olivia. Ich setze meine Assistentin Megan in Kopie, um einen Termin zu finden.",
        // What the own words drop or fold must not hide a cue from the gate.
        "Raj, meet Olivia. C\u{200B}C'ing Megan to coordinate.",
        "Raj, meet Olivia. Megan (c\u{7}c'd) will set up a call.",
        "Raj, meet Olivia. Megan (c\u{9b}c'd) will set up a call.",
        "Raj, meet Olivia. Megan, my A\u{2060}SSISTANT, will find a time.",
        "Raj, meet Olivia. \u{212A}opie an Megan, meine Sekretärin, für einen Termin.",
    ];
    let words = |body: &str| crate::intake::reply::own_words(Some(body), None);
    for body in helpers {
        assert!(may_recast(&named(), Some(body), None), "{body}");
        assert_eq!(cast(named(), &words(body)).parties.len(), 2, "{body}");
    }
    let plain = "Hi Raj and Olivia,\n\nRaj runs a design studio; Olivia is the best lawyer I know.\n\nBest,\nBob";
    assert!(!may_recast(&named(), Some(plain), None));
    assert_eq!(cast(named(), &words(plain)).parties, named());
    // A nameless party may take a name; HTML's words are decoded first, so only cast knows.
    let mut nameless = named();
    nameless[1] = p("ogrant@grantlaw.example", None);
    assert!(may_recast(&nameless, Some(plain), None));
    assert!(may_recast(
        &named(),
        None,
        Some("<p>c&#99;: my EA Megan</p>")
    ));
    assert!(may_recast(&named(), Some(" \n"), Some("<p>Hi</p>")));
    assert!(!may_recast(&named(), None, None));
}
