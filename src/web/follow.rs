//! While a page of the app is open and this browser is subscribed, the page API follows the
//! user's change stream (`GET /me/notifications/changes`, Server-Sent Events): each change
//! made on another device is applied to the feed at once, the worker closes or redraws the
//! notification it concerns (as for a change made in this page), and `onChanged` tells the
//! app.
//!
//! The stream is read with `fetch` (gloo-net) and a `ReadableStream` reader, not
//! `EventSource`: `EventSource` cannot send the `Authorization` header, and the bearer token
//! must not travel in the URL (where servers, proxies and the browser's history log it).
//! The core reads the events ([`crate::core::sync::EventReader`]).
//!
//! One follower per page, started by `open()` and `subscribe()`, stopped by
//! `unsubscribe()`. Each connection first sends what waits in the outbox, refreshes the
//! preferences kept for the worker, then resumes after the last event applied
//! (`Last-Event-ID`, kept in the feed database, so a page opened later catches up from
//! there: that is how `open()` syncs). A connection that fails or ends is made again
//! after 1 s, doubling to 60 s while it keeps failing, with jitter; a token the service
//! refuses (401, 403) stops it until the next `open()`.

use core::cell::Cell;

use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, ReadableStreamReadResult};

use super::client::announce_applied;
use super::js::{parse, sleep, spawn, warn};
use super::store::Feed;
use super::subscription::{fetch_preferences, registered_service, send_outbox, SubscriptionError};
use crate::core::record::CHANGES_CURSOR;
use crate::core::sync::{EventReader, StateChange};

/// The first wait before connecting again, and the longest, in ms.
const RETRY_FIRST: f64 = 1_000.0;
const RETRY_MOST: f64 = 60_000.0;

thread_local! {
    /// Whether this page follows the stream.
    static FOLLOWING: Cell<bool> = const { Cell::new(false) };
    /// Bumped by [`stop`]: a follower of an earlier generation ends.
    static GENERATION: Cell<u32> = const { Cell::new(0) };
    /// The reader of the stream being read, for [`stop`] to cancel.
    static READER: Cell<Option<ReadableStreamDefaultReader>> = const { Cell::new(None) };
}

/// Starts following the change stream in this page, unless it does already.
pub fn start(feed: &Feed) {
    if FOLLOWING.with(|following| following.replace(true)) {
        return;
    }
    let feed = feed.clone();
    let generation = GENERATION.with(Cell::get);
    spawn(alloc::boxed::Box::pin(async move {
        follow(feed, generation).await;
    }));
}

/// Stops following (the browser unsubscribed, or was subscribed again as someone else).
pub fn stop() {
    GENERATION.with(|generation| generation.set(generation.get().wrapping_add(1)));
    FOLLOWING.with(|following| following.set(false));
    if let Some(reader) = READER.with(Cell::take) {
        let _ = reader.cancel();
    }
}

fn current(generation: u32) -> bool {
    GENERATION.with(Cell::get) == generation
}

/// How a connection ended.
enum Ended {
    /// It was connected and the stream ended (or failed) part-way: connect again soon.
    Dropped,
    /// It could not connect: wait longer each time.
    Failed,
    /// Not subscribed (any more), stopped, or refused: follow no more.
    Done,
}

async fn follow(feed: Feed, generation: u32) {
    let mut wait = RETRY_FIRST;
    while current(generation) {
        match connection(&feed, generation).await {
            Ended::Done => break,
            Ended::Dropped => wait = RETRY_FIRST,
            Ended::Failed => {}
        }
        if !current(generation) {
            break;
        }
        // Jitter, so that the pages of many users do not all come back at once.
        sleep((wait * (0.5 + js_sys::Math::random())) as i32).await;
        wait = (wait * 2.0).min(RETRY_MOST);
    }
    if current(generation) {
        FOLLOWING.with(|following| following.set(false));
    }
}

/// One connection: the outbox, the preferences, then the stream from where it stopped.
async fn connection(feed: &Feed, generation: u32) -> Ended {
    let service = match registered_service(feed).await {
        Ok(service) => service,
        Err(_) => return Ended::Done,
    };
    match send_outbox(feed, &service).await {
        Ok(_) => {}
        Err(SubscriptionError::Service(failure)) if !failure.is_retryable() => {}
        Err(_) => return Ended::Failed,
    }
    if let Err(failure) = fetch_preferences(feed, &service).await {
        warn("preferences-not-refreshed", &failure.rejection());
    }
    let cursor = feed
        .setting(CHANGES_CURSOR)
        .await
        .ok()
        .and_then(|cursor| cursor.as_string());
    let response = match service
        .open_stream("/me/notifications/changes", cursor.as_deref())
        .await
    {
        Ok(response) => response,
        Err(refused) if matches!(refused.status, 401 | 403) => {
            warn("change-stream-refused", &refused.rejection());
            return Ended::Done;
        }
        Err(_) => return Ended::Failed,
    };
    let Some(body) = response.body() else {
        return Ended::Failed;
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    READER.with(|slot| slot.set(Some(reader.clone())));
    let mut events = EventReader::default();
    loop {
        let read = JsFuture::from(reader.read()).await;
        if !current(generation) {
            return Ended::Done;
        }
        let Ok(read) = read else {
            return Ended::Dropped;
        };
        let read: ReadableStreamReadResult = read.unchecked_into();
        if read.get_done() != Some(false) {
            return Ended::Dropped;
        }
        let chunk = read.get_value();
        if chunk.is_undefined() {
            return Ended::Dropped;
        }
        let bytes = Uint8Array::new(&chunk).to_vec();
        for event in events.push(&bytes) {
            let change = parse(&event.data).and_then(|data| StateChange::read(&data));
            if let Some(change) = change {
                apply(feed, &change).await;
            }
            if let Some(id) = &event.id {
                if let Err(error) = feed
                    .set_setting(CHANGES_CURSOR, Some(&JsValue::from_str(id)))
                    .await
                {
                    error.warn();
                }
            }
        }
    }
}

/// Applies one change here; the worker redraws and every page hears it.
async fn apply(feed: &Feed, change: &StateChange) {
    match feed
        .apply(core::slice::from_ref(change), super::js::now())
        .await
    {
        Ok(applied) => {
            for done in &applied {
                announce_applied(done).await;
            }
        }
        Err(error) => error.warn(),
    }
}
