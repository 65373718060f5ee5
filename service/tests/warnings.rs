//! A 201 that tells the sender what it ignored: `@usernotify.warnings` lists the members the
//! contract does not know (with the known one meant) and a post that reaches no browser, and
//! why; the same is logged at WARN. Over real HTTP, on the real binary for the log.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const WARNINGS: &str = "@usernotify.warnings";

#[tokio::test]
async fn a_misspelt_member_is_accepted_and_named_in_the_answer_with_the_member_it_most_likely_meant(
) {
    let (service, _receiver, uns) = with_subscription().await;
    let mut body = notification("Typos");
    body["prority"] = json!("High");
    body["payload"]["visualContent"]["boby"] = json!("the body");
    body["customerTier"] = json!("gold");
    let answer = service.notify(ALICE, &uns, &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(
        answer.body["priority"], "None",
        "an unknown member changes nothing"
    );
    // In the order of the body as sent (serde_json's objects here sort their members).
    assert_eq!(
        answer.body[WARNINGS],
        json!([
            {"code": "unknown-field", "field": "customerTier",
             "message": "customerTier is not a member of the notification resource and was ignored"},
            {"code": "unknown-field", "field": "prority", "didYouMean": "priority",
             "message": "prority is not a member of the notification resource and was ignored: did you mean priority?"},
            {"code": "unknown-field", "field": "payload.visualContent.boby", "didYouMean": "payload.visualContent.body",
             "message": "payload.visualContent.boby is not a member of the notification resource and was ignored: did you mean payload.visualContent.body?"},
        ])
    );
    let clean = service.notify(ALICE, &uns, &notification("Clean")).await;
    assert_eq!(clean.status, 201);
    assert!(clean.body.get(WARNINGS).is_none(), "{}", clean.body);
    service.shutdown().await;
}

#[tokio::test]
async fn a_post_that_reaches_no_browser_says_why_in_the_answer_another_host_a_policy_a_muted_group()
{
    let (service, _receiver, uns) = with_subscription().await;
    let reason = |answer: &Answer| {
        assert_eq!(answer.status, 201, "{}", answer.body);
        let warnings = answer.body[WARNINGS]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(warnings.len(), 1, "{}", answer.body);
        assert_eq!(warnings[0]["code"], "reaches-no-subscription");
        (
            warnings[0]["reason"].as_str().unwrap().to_owned(),
            warnings[0]["message"].as_str().unwrap().to_owned(),
        )
    };

    let mut other_host = notification("Elsewhere");
    other_host["targetHostName"] = json!("app.exmaple");
    let (why, message) = reason(&service.notify(ALICE, &uns, &other_host).await);
    assert_eq!(why, "target-host");
    assert_eq!(
        message,
        "targetHostName \"app.exmaple\" is not the host name the user's browsers subscribed with \
         (the subscription X-UNS names has \"app.example\"): it is stored in the user's feed but pushed to no browser."
    );

    let mut misspelt = notification("Misspelt host member");
    let host = misspelt
        .as_object_mut()
        .unwrap()
        .remove("targetHostName")
        .unwrap();
    misspelt["targetHostname"] = host;
    let answer = service.notify(ALICE, &uns, &misspelt).await;
    let codes: Vec<&str> = answer.body[WARNINGS]
        .as_array()
        .unwrap()
        .iter()
        .map(|warning| warning["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["unknown-field", "reaches-no-subscription"]);
    assert_eq!(answer.body[WARNINGS][0]["didYouMean"], "targetHostName");
    assert!(answer.body[WARNINGS][1]["message"]
        .as_str()
        .unwrap()
        .starts_with("The post has no targetHostName"));

    let mut windows = notification("Windows only");
    windows["targetPolicy"] = json!({"platformTypes": ["windows"]});
    assert_eq!(
        reason(&service.notify(ALICE, &uns, &windows).await).0,
        "target-policy"
    );

    let muted = service
        .send(
            service
                .request(reqwest::Method::PATCH, "/me/notificationPreferences")
                .bearer_auth(ALICE)
                .body(json!({"mutedGroups": ["promos"]}).to_string()),
        )
        .await;
    assert_eq!(muted.status, 200);
    let mut promo = notification("Sale");
    promo["groupName"] = json!("promos");
    let (why, message) = reason(&service.notify(ALICE, &uns, &promo).await);
    assert_eq!(why, "muted");
    assert_eq!(
        message,
        "The user muted the group \"promos\": it is stored in the user's feed but pushed to no browser."
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ignored_members_and_a_post_that_reaches_nobody_are_logged_at_warn() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let service = Binary::start_logging(dir.path().join("usernotify.db"), Some(&log)).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "warned");
    let uns = subscribe_at(&reqwest::Client::new(), &service.base, &browser).await;
    let mut body = notification("Typo");
    body["prority"] = json!("High");
    body["targetHostName"] = json!("other.example");
    assert_eq!(service.notify(&uns, &body).await, 201);
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|line| line.contains("WARN"))
            .map(str::to_owned)
            .collect();
        if lines.len() >= 2 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let line = |what: &str| {
        lines
            .iter()
            .find(|line| line.contains(what))
            .unwrap_or_else(|| panic!("a WARN line with {what:?}: {lines:#?}"))
            .clone()
    };
    assert!(line("does not know").contains("fields=prority"));
    assert!(line("reaches no subscription").contains("\"other.example\" is not the host name"));
    drop(service);
}
