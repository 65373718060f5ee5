//! The worker: claims due deliveries, sends them, records what each attempt did.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use usernotify::core::declarative::with_declarative_members;
use usernotify::core::sync::{change_push_visible_until, push_body_with_changes, StateChange};
use usernotify::core::{Json, Millis};

use super::attempt::{classify, parse_retry_after, reasons, Attempted, PushResult};
use super::holdings::Holdings;
use crate::clock::now_millis;
use crate::config::DeliverySettings;
use crate::deliveries::{ClaimShares, DueDelivery};
use crate::egress::{is_forbidden_address, PublicOnlyResolver, PushPolicy};
use crate::metrics::Metrics;
use crate::push::{self, PushMessage};
use crate::store::Db;
use crate::vapid::Vapid;

/// How often expired notifications are purged from the store.
const PURGE_EVERY_MS: Millis = 60_000;
/// The `Topic` of every push that only carries changes: a push service keeps only the
/// newest one a device has not received yet.
const CHANGES_TOPIC: &str = "usernotify-changes";

/// Everything the worker needs; cheap to clone into each send task.
#[derive(Clone)]
pub struct Deliverer {
    pub db: Db,
    pub vapid: Arc<Vapid>,
    pub metrics: Arc<Metrics>,
    pub client: reqwest::Client,
    pub settings: DeliverySettings,
    /// Where pushes may go: checked when each request is built, and by the client's
    /// resolver at each connection.
    pub push_policy: Arc<PushPolicy>,
    /// Woken when a POST queued deliveries, so they go out without waiting for the poll.
    pub wake: Arc<Notify>,
}

/// The HTTP client for push services: bounded time, no redirects (a push endpoint that
/// redirects is not followed), rustls with the bundled web roots, and a resolver that
/// dials public addresses only (`policy`). No proxy from the environment: through one,
/// the addresses dialled could not be checked.
pub fn push_client(
    settings: &DeliverySettings,
    policy: Arc<PushPolicy>,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnlyResolver::new(policy)))
        .timeout(settings.request_timeout)
        .connect_timeout(settings.connect_timeout.min(settings.request_timeout))
        .user_agent(concat!("usernotify-service/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Deliverer {
    /// Runs until `shutdown` turns true, then lets the pushes in flight finish and records
    /// them, so a clean stop re-sends nothing; those still unanswered after
    /// `settings.shutdown_grace` are abandoned and stay queued for the next start.
    ///
    /// A pool, not rounds: up to `settings.batch` pushes are in flight at once and a free
    /// slot is refilled as soon as one finishes, so one slow or hanging push service holds
    /// up a single slot instead of everything behind it. The pool is shared out: no user
    /// holds more than `per_user` of it and no push host more than `per_host`, users take
    /// turns in each claim, and a push host that keeps timing out rests ([`Holdings`]).
    /// Outcomes that finish together are recorded in one transaction. A delivery stays in
    /// the queue until its outcome is recorded, so a crash re-sends at most the pushes that
    /// were in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let limit = self.settings.batch.max(1);
        let mut sending: JoinSet<(DueDelivery, PushResult)> = JoinSet::new();
        // Deliveries being sent, by task (id, user, push host), so a task that fails can
        // give its claim and its share back.
        let mut in_flight: HashMap<tokio::task::Id, (i64, String, String)> = HashMap::new();
        let mut holdings = Holdings::default();
        // Outcomes not recorded yet: those gathered for one statement (see `GATHER`), and
        // those whose recording failed (the database was busy or failing). They stay claimed
        // until recorded, so they are not sent again meanwhile.
        let mut unrecorded: Vec<Attempted> = Vec::new();
        let mut record_at: Option<tokio::time::Instant> = None;
        let mut record_failing = false;
        // Whether the queue may hold deliveries this process could claim now: a post woke
        // it, the last claim was full, a share came free while others waited, or a timer
        // ran out. A claim that finds less than it asked for clears it, so finished pushes
        // do not each cost a claim (on PostgreSQL, a round trip) that finds nothing.
        let mut may_claim = true;
        let mut claim_at: Option<tokio::time::Instant> = None;
        let mut stopping = *shutdown.borrow();
        let mut give_up_at = tokio::time::Instant::now() + self.settings.shutdown_grace;
        let mut last_purge: Millis = 0;
        loop {
            let instant = tokio::time::Instant::now();
            let record_due = record_at.is_some_and(|at| at <= instant)
                || unrecorded.len() >= GATHER_AT_MOST
                || sending.is_empty()
                || stopping;
            let mut wait = None;
            if !unrecorded.is_empty() && record_due {
                unrecorded = self.record(std::mem::take(&mut unrecorded)).await;
                record_at = None;
                record_failing = !unrecorded.is_empty();
                if record_failing {
                    // The database failed: try again shortly, claiming nothing meanwhile.
                    record_at = Some(
                        tokio::time::Instant::now()
                            + self.settings.backoff_base.min(self.settings.poll_interval),
                    );
                }
            }
            if stopping && sending.is_empty() {
                if !unrecorded.is_empty() {
                    // Still queued as before the attempt: sent again after the restart.
                    tracing::warn!(
                        count = unrecorded.len(),
                        "stopping with unrecorded outcomes"
                    );
                }
                return;
            }
            let now = now_millis();
            let claim_due =
                may_claim && claim_at.is_none_or(|at| at <= tokio::time::Instant::now());
            if !stopping && claim_due && !record_failing {
                if now - last_purge >= PURGE_EVERY_MS {
                    last_purge = now;
                    self.purge(now).await;
                }
                let free = limit.saturating_sub(sending.len());
                if free > 0 {
                    claim_at = None;
                    let shares = holdings.shares(&self.settings, tokio::time::Instant::now());
                    let due = self.claim(now, free, shares.clone()).await;
                    let fetched = due.len();
                    for delivery in due {
                        let held = (
                            delivery.id,
                            delivery.owner.clone(),
                            delivery.push_host.clone(),
                        );
                        holdings.take(&held.1, &held.2);
                        let this = self.clone();
                        let task = sending.spawn(async move {
                            let outcome = this.attempt(&delivery).await;
                            (delivery, outcome)
                        });
                        in_flight.insert(task.id(), held);
                    }
                    may_claim = fetched == free;
                }
            }
            if !stopping && !may_claim && sending.is_empty() && record_at.is_none() {
                // Idle: sleep until the next delivery is due (a retry, a host's rest), a
                // post wakes it, or the poll interval.
                let shares = holdings.shares(&self.settings, tokio::time::Instant::now());
                let mut until = self.until_next_due(now, shares).await;
                if let Some(rest) = holdings.rest_ends(tokio::time::Instant::now()) {
                    until = until.min(rest);
                }
                wait = Some(until);
            }
            let shares = holdings.shares(&self.settings, tokio::time::Instant::now());
            let waiting_for_shares =
                !shares.full_users().is_empty() || !shares.full_hosts().is_empty();
            let timer = [record_at, claim_at]
                .into_iter()
                .flatten()
                .min()
                .or_else(|| wait.map(|wait| tokio::time::Instant::now() + wait))
                .unwrap_or_else(|| tokio::time::Instant::now() + self.settings.poll_interval);
            tokio::select! {
                Some(first) = sending.join_next_with_id(), if !sending.is_empty() => {
                    let mut done = vec![first];
                    while let Some(more) = sending.try_join_next_with_id() {
                        done.push(more);
                    }
                    let mut failed = Vec::new();
                    let ended = tokio::time::Instant::now();
                    for joined in done {
                        match joined {
                            Ok((task, (delivery, outcome))) => {
                                in_flight.remove(&task);
                                holdings.give_back(
                                    &delivery.owner,
                                    &delivery.push_host,
                                    outcome.host_answered(),
                                    ended,
                                );
                                unrecorded.push(self.verdict(&delivery, &outcome));
                            }
                            // The delivery stays queued; releasing its claim lets it be retried.
                            Err(error) => {
                                if let Some((id, user, host)) = in_flight.remove(&error.id()) {
                                    holdings.give_back(&user, &host, None, ended);
                                    failed.push(id);
                                }
                                tracing::warn!(%error, "a push task failed");
                            }
                        }
                    }
                    if !failed.is_empty() {
                        may_claim = true;
                        if let Err(error) = self.db.release_claims(failed).await {
                            tracing::warn!(%error, "releasing claims failed; they run out by themselves");
                        }
                    }
                    // Outcomes are gathered for a moment while other pushes are in flight,
                    // so that a stream of pushes is recorded a batch per statement.
                    record_at.get_or_insert(ended + GATHER);
                    // A user or host that had no room has some now: its deliveries wait.
                    if waiting_for_shares {
                        may_claim = true;
                    }
                }
                _ = self.wake.notified() => {
                    may_claim = true;
                    // While pushes are in flight, posts that arrive together are claimed
                    // together; an idle worker claims at once.
                    if !sending.is_empty() {
                        claim_at.get_or_insert(tokio::time::Instant::now() + GATHER);
                    }
                }
                _ = tokio::time::sleep_until(timer) => {
                    if record_at.is_none_or(|at| at > tokio::time::Instant::now()) {
                        may_claim = true;
                    }
                }
                changed = shutdown.changed(), if !stopping => {
                    stopping = changed.is_err() || *shutdown.borrow();
                    give_up_at = tokio::time::Instant::now() + self.settings.shutdown_grace;
                }
                _ = tokio::time::sleep_until(give_up_at), if stopping => {
                    tracing::warn!(
                        count = sending.len(),
                        "pushes unanswered after the shutdown grace stay queued"
                    );
                    sending.abort_all();
                    return;
                }
            }
        }
    }

    async fn purge(&self, now: Millis) {
        match self.db.purge_expired(now).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged expired notifications"),
            Err(error) => tracing::warn!(%error, "purging expired notifications failed"),
        }
    }

    /// Claims up to `limit` due deliveries for this process, for the lease, shared out by
    /// `shares`.
    async fn claim(&self, now: Millis, limit: usize, shares: ClaimShares) -> Vec<DueDelivery> {
        let lease = Millis::try_from(self.settings.lease.as_millis()).unwrap_or(Millis::MAX);
        match self
            .db
            .claim_due(now, limit, now.saturating_add(lease), shares)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "reading the delivery queue failed");
                Vec::new()
            }
        }
    }

    /// How long to sleep before the next queued delivery (not one in flight) is due,
    /// at most the poll interval.
    async fn until_next_due(&self, now: Millis, shares: ClaimShares) -> Duration {
        match self.db.next_due(shares).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now).unwrap_or(0)),
            _ => self.settings.poll_interval,
        }
        .min(self.settings.poll_interval)
    }

    /// Records a group of outcomes in one transaction; gives them back if that failed.
    async fn record(&self, verdicts: Vec<Attempted>) -> Vec<Attempted> {
        if verdicts.is_empty() {
            return verdicts;
        }
        let now = now_millis();
        let shared = Arc::new(verdicts);
        match self.db.record_outcomes(Arc::clone(&shared), now).await {
            Ok(forgotten) => {
                for subscription in forgotten {
                    tracing::info!(%subscription, "the push service says the subscription is gone; forgotten");
                }
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(%error, count = shared.len(), "recording delivery outcomes failed");
                Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.as_ref().clone())
            }
        }
    }

    /// One attempt: build the request purely, send it, classify the answer. A push service
    /// that refuses the body as too large (413) gets the notification once more, as the
    /// smallest body that still shows it ([`crate::shrink::minimal_body`]).
    pub async fn attempt(&self, delivery: &DueDelivery) -> PushResult {
        let (Some(endpoint), Some(p256dh), Some(auth)) =
            (&delivery.endpoint, &delivery.p256dh, &delivery.auth)
        else {
            return PushResult::AlreadyGone;
        };
        let now = now_millis();
        let rules = crate::shrink::rules_for(&delivery.push_host);
        let (body, until, urgency, topic) = if delivery.changes_only {
            match self.change_push(delivery, now, rules.max_json).await {
                Ok((body, until)) => (body, until, "low", Some(CHANGES_TOPIC.to_owned())),
                Err(outcome) => return outcome,
            }
        } else {
            (
                self.body(delivery, rules),
                delivery.expires_at,
                push::urgency_for(&delivery.priority),
                delivery.app_notification_id.as_deref().map(push::topic_for),
            )
        };
        let ttl_secs = u64::try_from((until.min(delivery.expires_at) - now) / 1000).unwrap_or(0);
        if ttl_secs == 0 {
            return PushResult::Expired;
        }
        let mut message = PushMessage {
            payload: &body,
            ttl_secs,
            urgency,
            topic,
        };
        let outcome = self.send(endpoint, p256dh, auth, &message).await;
        if outcome != PushResult::Rejected(413) || delivery.changes_only {
            return outcome;
        }
        let smaller = match crate::shrink::minimal_body(&delivery.resource) {
            Some(smaller) if smaller.len() < body.len() => smaller,
            _ => return outcome,
        };
        message.payload = smaller.as_bytes();
        match self.send(endpoint, p256dh, auth, &message).await {
            PushResult::Delivered(status) => PushResult::DeliveredSmaller(status),
            other => other,
        }
    }

    /// Builds, sends and classifies one push request.
    async fn send(
        &self,
        endpoint: &str,
        p256dh: &[u8],
        auth: &[u8],
        message: &PushMessage<'_>,
    ) -> PushResult {
        let request = match push::build_request(
            endpoint,
            p256dh,
            auth,
            message,
            &self.vapid,
            &self.push_policy,
        )
        .map_err(|error| error.code())
        .and_then(|request| reqwest::Request::try_from(request).map_err(|_| "bad-request-parts"))
        {
            Ok(request) => request,
            Err(code) => return PushResult::Unbuildable(code),
        };
        let started = std::time::Instant::now();
        let answer = self.client.execute(request).await;
        self.metrics.push_latency(started.elapsed());
        match answer {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
                classify(response.status(), retry_after)
            }
            Err(error) if is_forbidden_address(&error) => PushResult::Forbidden,
            // reqwest's error text names the URL, which is a secret: keep only its kind.
            Err(error) => PushResult::Unreachable(if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "transport"
            }),
        }
    }

    /// A push that only carries changes, decided again when its turn comes (more changes
    /// may have come, or a push carried them meanwhile): its body and until when it is
    /// worth delivering, or why it is not sent. The rule is the core's
    /// ([`change_push_visible_until`]): it must leave a group's notification visible.
    async fn change_push(
        &self,
        delivery: &DueDelivery,
        now: Millis,
        max_json: usize,
    ) -> Result<(Vec<u8>, Millis), PushResult> {
        if delivery.changes.is_empty() {
            return Err(PushResult::NotSent(reasons::NO_CHANGES));
        }
        let user = delivery.user.clone().ok_or(PushResult::AlreadyGone)?;
        let mut groups: Vec<String> = Vec::new();
        for group in delivery
            .changes
            .iter()
            .filter_map(|logged| logged.group.as_ref())
        {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        if groups.is_empty() {
            return Err(PushResult::NotSent(reasons::NOTHING_VISIBLE));
        }
        let on_device = self
            .db
            .on_devices(user, Some(delivery.subscription_id.clone()), groups)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading what a change push would leave visible failed");
                PushResult::Unreachable("store")
            })?;
        let on_device: Vec<_> = on_device.into_iter().map(|(_, shown)| shown).collect();
        let changed: Vec<(&str, Option<&str>)> = delivery
            .changes
            .iter()
            .map(|logged| (logged.change.id.as_str(), logged.group.as_deref()))
            .collect();
        let until = change_push_visible_until(&changed, &on_device, now)
            .ok_or(PushResult::NotSent(reasons::NOTHING_VISIBLE))?;
        Ok((
            push_body_with_changes(None, changes_of(delivery), max_json),
            until,
        ))
    }

    /// The push body: the stored resource, with a Declarative Web Push message beside it
    /// carrying the user's unread count (the core's `with_declarative_members`, which reads
    /// the resource parsed into the core's tree), unless the deployment turned that off or
    /// the push host's browsers show none; then the changes since the subscription's last
    /// push in the room the host takes, so that changes are dropped before anything of the
    /// notification.
    fn body(&self, delivery: &DueDelivery, rules: crate::shrink::BodyRules) -> Vec<u8> {
        if self.settings.declarative_push && rules.declarative {
            // Stored by the service as valid JSON; anything else reads as no resource, and
            // goes as it is.
            let parsed: Json = serde_json::from_str(&delivery.resource).unwrap_or(Json::Null);
            let content =
                with_declarative_members(&delivery.resource, &parsed, Some(delivery.unread));
            push_body_with_changes(Some(&content), changes_of(delivery), rules.max_json)
        } else {
            push_body_with_changes(
                Some(&delivery.resource),
                changes_of(delivery),
                rules.max_json,
            )
        }
    }
}

/// How long the worker gathers finished pushes (and, while pushes are in flight, new posts)
/// before one statement records (claims) them all: a stream of pushes costs a statement per
/// batch rather than per push, for at most this much more latency.
const GATHER: Duration = Duration::from_millis(3);
/// Outcomes recorded at once at most, whatever `GATHER` says.
const GATHER_AT_MOST: usize = 64;

/// The changes a delivery carries, newest first, as the push body writes them.
fn changes_of(delivery: &DueDelivery) -> impl Iterator<Item = &StateChange> {
    delivery.changes.iter().map(|logged| &logged.change)
}
