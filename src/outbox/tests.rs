//! The outbox against a transport that refuses one recipient: what it keeps of each message.

use chrono::{TimeDelta, TimeZone};

use super::*;
use crate::source::RawMessage;
use crate::transport::{CheckFuture, SendFuture};

/// Accepts every message except those to `refused`, which it refuses for good.
struct Refusing {
    refused: &'static str,
}

impl Transport for Refusing {
    fn send<'a>(&'a self, message: &'a lettre::Message) -> SendFuture<'a> {
        let refused = message
            .envelope()
            .to()
            .iter()
            .any(|a| a.to_string() == self.refused);
        Box::pin(async move {
            if refused {
                Err(SendError::Permanent("550 not today".into()))
            } else {
                Ok(())
            }
        })
    }

    fn test_connection(&self) -> CheckFuture<'_> {
        Box::pin(async { Ok(()) })
    }
}

const FRED: &str = "fred@fredsbooks.example";

#[tokio::test]
async fn the_text_of_each_accepted_message_is_kept_and_of_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::testing::config_in(
        dir.path().to_path_buf(),
        "[intake]\naccept-from = [\"bob@networkers.example\"]",
    );
    let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap();
    let intro = format!(
        "From: Bob Brown <bob@networkers.example>\r\n\
         To: Fred Jones <{FRED}>, Sally Lee <sally@leedesign.example>\r\n\
         Cc: intros@tracker.example.org\r\n\
         Subject: Intro: Fred, meet Sally\r\n\
         Date: Mon, 2 Nov 2026 09:55:00 +0000\r\n\
         Message-ID: <intro@mail.networkers.example>\r\n\r\n\
         Hi both, you should talk. Bob\r\n"
    );
    let mut store = Store::open(&config.store_path()).unwrap();
    let message = RawMessage {
        origin: "test".into(),
        bytes: intro.into_bytes(),
        arrived_at: None,
    };
    store.ingest(&[message], &config, t0).unwrap();
    assert!(!store.forecast(&config, t0).unwrap().is_empty(), "a plan");
    let store = shared(store);
    let outbox = Outbox::new(
        store.clone(),
        &config,
        Composer::new(&config).unwrap(),
        Box::new(Refusing { refused: FRED }),
        2,
    );

    let deliveries = outbox
        .deliver_due(Clock::At(t0 + TimeDelta::days(3)), None)
        .await
        .unwrap();
    let texts = lock(&store).sent_texts(1).unwrap();
    assert!(
        deliveries.iter().any(|d| d.result == DeliveryResult::Sent)
            && deliveries
                .iter()
                .any(|d| d.to.email == FRED && d.result.failed()),
        "{deliveries:?}"
    );
    for d in &deliveries {
        let kept = texts.get(&d.id);
        assert_eq!(kept.is_some(), d.result == DeliveryResult::Sent, "{d:?}");
        if let Some(kept) = kept {
            // The text as the recipient reads it: their name, the subject, our footer.
            let first_name = d.to.name.split(' ').next().unwrap();
            assert!(
                kept.body.starts_with(&format!("Hi {first_name},")),
                "{kept:?}"
            );
            assert!(
                kept.body
                    .contains("Sent automatically on behalf of Alice Smith")
            );
            assert_eq!(kept.subject, "Re: Intro: Fred, meet Sally");
        }
    }
}
