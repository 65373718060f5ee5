//! State that follows the user across devices, and the user's own preferences, over real
//! HTTP on SQLite and on PostgreSQL: the change stream (`GET /me/notifications/changes`,
//! Server-Sent Events) heard at once and resumed with `Last-Event-ID`, across replicas on
//! PostgreSQL; the changes every push carries (decrypted by the loopback receiver's fake
//! browsers); pushes that only carry changes, sent only when they leave a group's
//! notification redrawn; and `/me/notificationPreferences`, whose muted groups and quiet
//! hours withhold pushes (deliveries `skipped`, with the reason).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// A client of the change stream, reading its events as a browser's page API does.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(service: &TestService, token: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = service
            .request(reqwest::Method::GET, "/me/notifications/changes")
            .bearer_auth(token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, `(id, data as JSON)`, within `limit`; `None` when none came (or the
    /// stream ended). Comments (keep-alives) are skipped.
    async fn next(&mut self, limit: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if let Some(id) = id {
                    return Some((id, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Every event that arrives within `limit`.
    async fn all(&mut self, limit: Duration) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        while let Some(event) = self.next(limit).await {
            events.push(event);
        }
        events
    }
}

const SOON: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(500);

async fn posted_id(service: &TestService, uns: &str, body: &Value) -> String {
    let answer = service.notify(ALICE, uns, body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_open_stream_hears_each_read_dismissal_and_deletion_at_once_and_resumes_after_its_last_event_id(
) {
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let browser = FakeBrowser::new(&receiver, "laptop");
        let uns = service.subscribe(ALICE, &browser, HOST).await;
        let first = posted_id(&service, &uns, &notification("one")).await;
        let second = posted_id(&service, &uns, &notification("two")).await;
        let mut stream = EventStream::open(&service, ALICE, None).await;
        let mut bobs = EventStream::open(&service, BOB, None).await;
        assert_eq!(stream.next(QUIET).await, None, "nothing changed yet");

        let started = Instant::now();
        assert_eq!(
            service
                .patch(&first, ALICE, &json!({"readState": "read"}))
                .await
                .status,
            200
        );
        let (id, data) = stream.next(SOON).await.expect("the read");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "at once: {:?}",
            started.elapsed()
        );
        assert_eq!(id, "1");
        assert_eq!(
            data,
            json!({"id": first, "readState": "read", "userActionState": "none", "deleted": false})
        );
        service
            .patch(&second, ALICE, &json!({"userActionState": "dismissed"}))
            .await;
        assert_eq!(
            stream.next(SOON).await.unwrap().1["userActionState"],
            "dismissed"
        );
        // The same state again is no change.
        service
            .patch(&first, ALICE, &json!({"readState": "read"}))
            .await;
        assert_eq!(
            service
                .delete(&format!("/me/notifications/{first}"), ALICE)
                .await
                .status,
            204
        );
        let (id, data) = stream.next(SOON).await.expect("the deletion");
        assert_eq!(
            (id.as_str(), data),
            ("3", json!({"id": first, "deleted": true}))
        );
        assert_eq!(bobs.all(QUIET).await, vec![], "another user hears nothing");

        // A device that was away resumes after the last event it had.
        let mut resumed = EventStream::open(&service, ALICE, Some("2")).await;
        let ids: Vec<String> = resumed
            .all(QUIET)
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["3"]);
        // A new device starts from the oldest change kept: the latest of each notification.
        let mut fresh = EventStream::open(&service, ALICE, None).await;
        let ids: Vec<String> = fresh
            .all(QUIET)
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["2", "3"]);
        // An id this log never reached (another deployment's) starts it over.
        let mut foreign = EventStream::open(&service, ALICE, Some("999")).await;
        assert_eq!(foreign.all(QUIET).await.len(), 2);
        // And a stream ends when the service stops, so that it can stop.
        let stopping = Instant::now();
        service.shutdown().await;
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "{:?}",
            stopping.elapsed()
        );
        assert_eq!(stream.next(SOON).await, None, "ended");
    }
}

#[tokio::test]
async fn a_new_device_catches_up_on_more_changes_than_the_stream_reads_at_once() {
    // The stream reads the log 100 changes at a time.
    const CHANGED: usize = 105;
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let browser = FakeBrowser::new(&receiver, "laptop");
        let uns = service.subscribe(ALICE, &browser, HOST).await;
        for index in 0..CHANGED {
            let id = posted_id(&service, &uns, &notification(&format!("n{index}"))).await;
            let read = service
                .patch(&id, ALICE, &json!({"readState": "read"}))
                .await;
            assert_eq!(read.status, 200);
        }
        let mut fresh = EventStream::open(&service, ALICE, None).await;
        let events = fresh.all(QUIET).await;
        assert_eq!(events.len(), CHANGED, "every change, past the first read");
        assert!(events.iter().all(|(_, data)| data["readState"] == "read"));
        service.shutdown().await;
    }
}

#[tokio::test]
async fn a_change_made_through_one_replica_reaches_a_stream_open_on_another() {
    let one = TestService::start_on_postgres(|_| {}).await;
    let other = TestService::start_on(tempfile::tempdir().unwrap(), one.db.clone(), |_| {}).await;
    let receiver = PushReceiver::start().await;
    let browser = FakeBrowser::new(&receiver, "laptop");
    let uns = one.subscribe(ALICE, &browser, HOST).await;
    let id = posted_id(&one, &uns, &notification("across")).await;
    let mut stream = EventStream::open(&other, ALICE, None).await;
    // The other replica's listener connects on its own time; its first wake is harmless.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    one.patch(&id, ALICE, &json!({"readState": "read"})).await;
    let (_, data) = stream.next(SOON).await.expect("heard on the other replica");
    assert_eq!(data["readState"], "read");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    one.shutdown().await;
    other.shutdown().await;
}

/// The pushes `receiver` got for `name`, decrypted by `browser`.
fn bodies(receiver: &PushReceiver, name: &str, browser: &FakeBrowser) -> Vec<(Received, Value)> {
    receiver
        .received()
        .into_iter()
        .filter(|push| push.path == format!("/push/{name}"))
        .map(|push| {
            let body = serde_json::from_slice(&browser.decrypt(&push.body)).unwrap();
            (push, body)
        })
        .collect()
}

#[tokio::test]
async fn every_push_carries_the_changes_to_the_users_notifications_since_that_browsers_last_push() {
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let laptop = FakeBrowser::new(&receiver, "laptop");
        let phone = FakeBrowser::new(&receiver, "phone");
        let uns = service.subscribe(ALICE, &laptop, HOST).await;
        service.subscribe(ALICE, &phone, HOST).await;
        let first = posted_id(&service, &uns, &notification("first")).await;
        let second = posted_id(&service, &uns, &notification("second")).await;
        receiver.wait_for(4).await;
        service.wait_for_empty_queue().await;
        // Read on the laptop, deleted on the laptop: the phone hears of both with its next
        // push (neither is in a group that stays on its screen, so nothing is pushed for them
        // alone).
        service
            .patch(&first, ALICE, &json!({"readState": "read"}))
            .await;
        service
            .delete(&format!("/me/notifications/{second}"), ALICE)
            .await;
        tokio::time::sleep(QUIET).await;
        assert_eq!(receiver.count(), 4, "no push for the changes alone");
        posted_id(&service, &uns, &notification("third")).await;
        receiver.wait_for(6).await;
        for (name, browser) in [("phone", &phone), ("laptop", &laptop)] {
            let (_, last) = bodies(&receiver, name, browser).pop().unwrap();
            assert_eq!(last["payload"]["visualContent"]["title"], "third", "{name}");
            assert_eq!(
                last["changes"],
                json!([
                    {"id": second, "deleted": true},
                    {"id": first, "readState": "read", "userActionState": "none", "deleted": false}
                ]),
                "{name}: newest first"
            );
        }
        service.wait_for_empty_queue().await;
        posted_id(&service, &uns, &notification("fourth")).await;
        receiver.wait_for(8).await;
        let (_, last) = bodies(&receiver, "phone", &phone).pop().unwrap();
        assert_eq!(
            last.get("changes"),
            None,
            "carried once: a push with no changes to carry is the resource alone"
        );
        service.shutdown().await;
    }
}

fn in_group(title: &str, group: &str) -> Value {
    let mut body = notification(title);
    body["groupName"] = json!(group);
    body
}

#[tokio::test]
async fn a_read_that_leaves_a_group_redrawn_is_pushed_to_each_device_alone_and_one_that_would_leave_nothing_waits(
) {
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let laptop = FakeBrowser::new(&receiver, "laptop");
        let phone = FakeBrowser::new(&receiver, "phone");
        let uns = service.subscribe(ALICE, &laptop, HOST).await;
        service.subscribe(ALICE, &phone, HOST).await;
        let older = posted_id(&service, &uns, &in_group("Ana", "chat")).await;
        let newer = posted_id(&service, &uns, &in_group("Rui", "chat")).await;
        receiver.wait_for(4).await;
        service.wait_for_empty_queue().await;

        // Reading the newer one leaves the older counted: both devices redraw "chat".
        service
            .patch(&newer, ALICE, &json!({"readState": "read"}))
            .await;
        let pushes = receiver.wait_for(6).await;
        for push in &pushes[4..] {
            assert_eq!(push.header("urgency"), Some("low"));
            assert_eq!(push.header("topic"), Some("usernotify-changes"));
        }
        for (name, browser) in [("phone", &phone), ("laptop", &laptop)] {
            let (_, body) = bodies(&receiver, name, browser).pop().unwrap();
            assert_eq!(
                body,
                json!({"changes": [{"id": newer, "readState": "read", "userActionState": "none", "deleted": false}]}),
                "{name}: changes and no notification"
            );
        }
        service.wait_for_empty_queue().await;
        // Reading the last unread one would leave nothing to show: it waits.
        service
            .patch(&older, ALICE, &json!({"readState": "read"}))
            .await;
        // An ungrouped notification read: nothing to redraw either.
        let alone = posted_id(&service, &uns, &notification("alone")).await;
        receiver.wait_for(8).await;
        service.wait_for_empty_queue().await;
        service
            .patch(&alone, ALICE, &json!({"readState": "read"}))
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            receiver.count(),
            8,
            "nothing pushed for changes that leave nothing"
        );
        service.shutdown().await;
    }
}

#[tokio::test]
async fn preferences_read_as_the_defaults_change_with_patch_semantics_and_are_refused_with_stable_codes(
) {
    for service in TestService::on_both_backends().await {
        let path = "/me/notificationPreferences";
        let defaults = service.get(path, ALICE).await;
        assert_eq!(defaults.status, 200);
        assert_eq!(
            defaults.body,
            json!({"mutedGroups": [], "quietHours": null})
        );
        let patch = |body: Value| {
            service.send(
                service
                    .request(reqwest::Method::PATCH, path)
                    .bearer_auth(ALICE)
                    .body(body.to_string()),
            )
        };
        let set = patch(json!({
            "mutedGroups": ["promos", "promos", "news"],
            "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Lisbon"}
        }))
        .await;
        assert_eq!(set.status, 200, "{}", set.body);
        let expected = json!({
            "mutedGroups": ["promos", "news"],
            "quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Lisbon", "allowHigh": false}
        });
        assert_eq!(set.body, expected);
        assert_eq!(service.get(path, ALICE).await.body, expected);
        assert_eq!(
            service.get(path, BOB).await.body["mutedGroups"],
            json!([]),
            "each user their own"
        );
        let kept = patch(json!({"mutedGroups": ["news"]})).await;
        assert_eq!(
            kept.body["quietHours"], expected["quietHours"],
            "absent stays"
        );
        let cleared = patch(json!({"quietHours": null})).await;
        assert_eq!(
            cleared.body,
            json!({"mutedGroups": ["news"], "quietHours": null})
        );
        for (body, code) in [
            (
                json!({"quietHours": {"start": "22:00", "end": "07:00", "timeZone": "Europe/Atlantis"}}),
                "invalid-time-zone",
            ),
            (
                json!({"quietHours": {"start": "24:00", "end": "07:00", "timeZone": "UTC"}}),
                "invalid-time",
            ),
            (json!({"mutedGroups": "news"}), "contract-mismatch"),
            (json!([]), "contract-mismatch"),
        ] {
            patch(body).await.assert_error(400, code);
        }
        assert_eq!(
            service.get(path, ALICE).await.body,
            json!({"mutedGroups": ["news"], "quietHours": null}),
            "a refused patch changes nothing"
        );
        service
            .get(path, "nobody")
            .await
            .assert_error(401, "unauthorized");
        service.shutdown().await;
    }
}

/// Polls the deliveries of `id` until none is queued; `(state, reason)` of each.
async fn delivery_states(service: &TestService, id: &str) -> Vec<(String, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = service
            .get(&format!("/me/notifications/{id}/deliveries"), ALICE)
            .await;
        let rows = answer.body["value"].as_array().unwrap().clone();
        if rows.iter().all(|row| row["state"] != "queued") {
            return rows
                .iter()
                .map(|row| {
                    (
                        row["state"].as_str().unwrap().to_owned(),
                        row["reason"].as_str().map(str::to_owned),
                    )
                })
                .collect();
        }
        assert!(Instant::now() < deadline, "still queued: {rows:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `HH:MM` in UTC, `minutes` from now.
fn utc_time_in(minutes: i64) -> String {
    let minute = ((now_millis() / 60_000 + minutes) % 1440 + 1440) % 1440;
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[tokio::test]
async fn a_muted_groups_notification_and_one_during_quiet_hours_are_kept_in_the_feed_not_pushed_and_their_deliveries_say_why(
) {
    for service in TestService::on_both_backends().await {
        let receiver = PushReceiver::start().await;
        let browser = FakeBrowser::new(&receiver, "laptop");
        let uns = service.subscribe(ALICE, &browser, HOST).await;
        let preferences = |body: Value| {
            service.send(
                service
                    .request(reqwest::Method::PATCH, "/me/notificationPreferences")
                    .bearer_auth(ALICE)
                    .body(body.to_string()),
            )
        };
        assert_eq!(
            preferences(json!({"mutedGroups": ["promos"]})).await.status,
            200
        );
        let muted = posted_id(&service, &uns, &in_group("Sale", "promos")).await;
        let other = posted_id(&service, &uns, &in_group("Hello", "chat")).await;
        assert_eq!(
            delivery_states(&service, &muted).await,
            [("skipped".to_owned(), Some("muted".to_owned()))]
        );
        assert_eq!(delivery_states(&service, &other).await[0].0, "sent");
        let feed = service.get("/me/notifications", ALICE).await.body;
        assert_eq!(
            feed["value"].as_array().unwrap().len(),
            2,
            "the feed has both"
        );

        // Quiet hours around now, in UTC: nothing is pushed, but High when the user allows.
        let hours = json!({"start": utc_time_in(-60), "end": utc_time_in(60), "timeZone": "UTC"});
        assert_eq!(preferences(json!({"quietHours": hours})).await.status, 200);
        let quiet = posted_id(&service, &uns, &notification("At night")).await;
        let mut urgent = notification("Urgent");
        urgent["priority"] = json!("High");
        let high = posted_id(&service, &uns, &urgent).await;
        let mut allowed = hours.clone();
        allowed["allowHigh"] = json!(true);
        assert_eq!(
            preferences(json!({"quietHours": allowed})).await.status,
            200
        );
        let breaks_through = posted_id(&service, &uns, &urgent).await;
        for (id, expected) in [
            (&quiet, ("skipped", Some("quiet-hours"))),
            (&high, ("skipped", Some("quiet-hours"))),
            (&breaks_through, ("sent", None)),
        ] {
            let states = delivery_states(&service, id).await;
            assert_eq!(
                (states[0].0.as_str(), states[0].1.as_deref()),
                expected,
                "{id}"
            );
        }
        let pushed: Vec<String> = bodies(&receiver, "laptop", &browser)
            .into_iter()
            .map(|(_, body)| {
                body["payload"]["visualContent"]["title"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(pushed, ["Hello", "Urgent"]);
        service.shutdown().await;
    }
}
