//! `GET /me/notifications/changes` (Server-Sent Events), and what follows a logged change:
//! the user's streams woken, pushes that only carry changes queued.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use usernotify::core::sync::{change_push_visible_until, OnDevice};
use usernotify::core::{Millis, Priority};

use crate::changes::LoggedChange;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::AppState;

/// After a change was logged: this process's streams of the user hear it at once (the
/// store tells other replicas), and each device where the change would leave a group's
/// notification redrawn gets a push that only carries changes (the core's rule,
/// [`usernotify::core::sync::change_push_visible_until`]); never during quiet hours. The
/// change is made already: a failure here only delays it to the next push or page visit.
pub(crate) async fn changed(state: &AppState, user: &str, change: &LoggedChange, now: Millis) {
    state.changes().wake(user);
    let Some(group) = &change.group else {
        return;
    };
    match queue_change_pushes(state, user, &change.change.id, group, now).await {
        Ok(0) => {}
        Ok(count) => {
            tracing::debug!(count, "pushes that only carry changes queued");
            state.wake_deliveries();
        }
        Err(error) => tracing::warn!(%error, "queueing pushes that only carry changes failed"),
    }
}

/// Queues a push that only carries changes to each of the user's devices where the change
/// of `id` in `group` leaves that group's notification redrawn; none in quiet hours.
pub(crate) async fn queue_change_pushes(
    state: &AppState,
    user: &str,
    id: &str,
    group: &str,
    now: Millis,
) -> Result<usize, crate::store::StoreError> {
    let quiet = crate::preferences::withheld(state.db(), user, None, Priority::Low, now).await?;
    if quiet.is_some() {
        return Ok(0);
    }
    let on_devices = state
        .db()
        .on_devices(user.to_owned(), None, vec![group.to_owned()])
        .await?;
    let mut by_device: BTreeMap<String, Vec<OnDevice>> = BTreeMap::new();
    for (subscription, shown) in on_devices {
        by_device.entry(subscription).or_default().push(shown);
    }
    let changed = [(id, Some(group))];
    let subscriptions: Vec<String> = by_device
        .into_iter()
        .filter(|(_, shown)| change_push_visible_until(&changed, shown, now).is_some())
        .map(|(subscription, _)| subscription)
        .collect();
    if subscriptions.is_empty() {
        return Ok(0);
    }
    state.db().queue_change_pushes(subscriptions, now).await
}

/// How many logged changes a stream reads at a time.
pub(crate) const STREAM_BATCH: usize = 100;
/// How often an idle stream sends a comment, so that proxies keep the connection open.
pub(crate) const STREAM_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /me/notifications/changes` (`Accept: text/event-stream`): the user's notification
/// changes as Server-Sent Events, each `id: <seq>` and `data: {"id", "readState",
/// "userActionState", "deleted"}`. Resumed after `Last-Event-ID`; without one (or with one
/// this log never reached, e.g. another deployment's) it starts from the oldest change kept,
/// so a new device catches up on everything that changed in the notifications' lifetime.
/// It stays open, sending each change as it is logged (on any replica), until the client
/// goes or the service stops.
pub(crate) async fn change_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(user): Caller,
) -> Result<Response, ApiError> {
    let after = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .unwrap_or(0);
    // Watched before the first read, so that a change between the read and the wait wakes it.
    let max = state.limits().change_streams;
    let wake = state
        .changes()
        .watch(&user, max)
        .ok_or(ApiError::TooManyChangeStreams { max })?;
    let (first, head) = state
        .db()
        .changes_since(user.clone(), after, STREAM_BATCH)
        .await?;
    // A position beyond the log's head is not this log's: start from its beginning.
    let (first, after) = if after > head {
        let (first, _) = state
            .db()
            .changes_since(user.clone(), 0, STREAM_BATCH)
            .await?;
        (first, 0)
    } else {
        (first, after)
    };
    let stream = ChangeStream {
        db: state.db().clone(),
        user,
        after,
        more: first.len() == STREAM_BATCH,
        pending: first.into(),
        wake,
        closing: state.changes().closing(),
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok::<_, std::convert::Infallible>(event), stream))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(STREAM_KEEP_ALIVE))
        .into_response();
    // Proxies that buffer responses (nginx) would hold the events back.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// One open change stream: what it has read and not sent yet, and where it is in the log.
pub(crate) struct ChangeStream {
    db: crate::store::Db,
    user: String,
    /// The last `seq` read.
    after: i64,
    pending: std::collections::VecDeque<LoggedChange>,
    /// The last read filled a batch: read again before waiting.
    more: bool,
    wake: tokio::sync::watch::Receiver<()>,
    closing: tokio::sync::watch::Receiver<bool>,
}

impl ChangeStream {
    /// The next event; `None` ends the stream (the service stops, or the database failed:
    /// the client reconnects with its `Last-Event-ID`).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(logged) = self.pending.pop_front() {
                self.after = logged.seq;
                return Some(
                    Event::default()
                        .id(logged.seq.to_string())
                        .data(logged.change.to_json()),
                );
            }
            if *self.closing.borrow() {
                return None;
            }
            if !self.more {
                tokio::select! {
                    changed = self.wake.changed() => changed.ok()?,
                    _ = self.closing.changed() => return None,
                }
            }
            match self
                .db
                .changes_since(self.user.clone(), self.after, STREAM_BATCH)
                .await
            {
                Ok((changes, _)) => {
                    self.more = changes.len() == STREAM_BATCH;
                    self.pending = changes.into();
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the change log for a stream failed; it ends");
                    return None;
                }
            }
        }
    }
}
