//! [`SqliteStore`] behind the store's interface, on tokio's blocking pool.

use super::*;

/// [`SqliteStore`] behind [`Store`]: each call runs on tokio's blocking pool, so SQLite never
/// stalls the async workers. Cheap to clone.
#[derive(Clone)]
pub struct SqliteBackend(Arc<SqliteStore>);

impl SqliteBackend {
    /// Opens (creating if needed) and migrates the file, off the async workers.
    pub async fn open(path: PathBuf) -> Result<SqliteBackend, StoreError> {
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
            .await
            .map_err(|_| StoreError::TaskFailed)??;
        Ok(SqliteBackend(Arc::new(store)))
    }

    /// Runs `call` on the blocking pool.
    fn run<T, F>(&self, call: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || call(&store))
                .await
                .map_err(|_| StoreError::TaskFailed)?
        })
    }
}

impl Store for SqliteBackend {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&self) -> StoreFuture<'_, i64> {
        self.run(|store| store.schema_version())
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.run(|store| store.ping())
    }

    fn queue_stats_at(&self, now: Millis) -> StoreFuture<'_, QueueStats> {
        self.run(move |store| store.queue_stats(now))
    }

    fn subscription_count(&self) -> StoreFuture<'_, u64> {
        self.run(|store| store.subscription_count())
    }

    fn vapid_key_or_insert(
        &self,
        candidate: (Vec<u8>, Vec<u8>),
        now: Millis,
    ) -> StoreFuture<'_, (Vec<u8>, Vec<u8>)> {
        self.run(move |store| store.vapid_key_or_insert(&candidate, now))
    }

    fn add_subscription(
        &self,
        user: String,
        subscription: NewSubscription,
        candidate_id: String,
        max: usize,
        now: Millis,
    ) -> StoreFuture<'_, Registration> {
        self.run(move |store| store.add_subscription(&user, &subscription, &candidate_id, max, now))
    }

    fn subscription(&self, id: String) -> StoreFuture<'_, Option<SubscriptionInfo>> {
        self.run(move |store| store.subscription(&id))
    }

    fn delete_subscription(&self, user: String, id: String) -> StoreFuture<'_, bool> {
        self.run(move |store| store.delete_subscription(&user, &id))
    }

    fn save_notification(
        &self,
        user: String,
        uns: String,
        notification: Notification,
        candidate_id: String,
        withheld: Option<&'static str>,
        max_notifications: usize,
        now: Millis,
    ) -> StoreFuture<'_, Option<Saved>> {
        self.run(move |store| {
            store.save_notification(
                &user,
                &uns,
                &notification,
                &candidate_id,
                withheld,
                max_notifications,
                now,
            )
        })
    }

    fn feed(
        &self,
        user: String,
        before: Option<i64>,
        top: usize,
        now: Millis,
    ) -> StoreFuture<'_, FeedPage> {
        self.run(move |store| store.feed(&user, before, top, now))
    }

    fn notification(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<FeedItem>> {
        self.run(move |store| store.notification(&user, &id, now))
    }

    fn update_state(
        &self,
        user: String,
        id: String,
        read_state: Option<&'static str>,
        user_action_state: Option<&'static str>,
        now: Millis,
    ) -> StoreFuture<'_, Option<StateUpdated>> {
        self.run(move |store| store.update_state(&user, &id, read_state, user_action_state, now))
    }

    fn delete_notification(
        &self,
        user: String,
        id: String,
    ) -> StoreFuture<'_, Option<LoggedChange>> {
        self.run(move |store| store.delete_notification(&user, &id))
    }

    fn changes_since(
        &self,
        user: String,
        after: i64,
        limit: usize,
    ) -> StoreFuture<'_, (Vec<LoggedChange>, i64)> {
        self.run(move |store| store.changes_since(&user, after, limit))
    }

    fn on_devices(
        &self,
        user: String,
        subscription: Option<String>,
        groups: Vec<String>,
    ) -> StoreFuture<'_, Vec<(String, OnDevice)>> {
        self.run(move |store| store.on_devices(&user, &subscription, &groups))
    }

    fn queue_change_pushes(
        &self,
        subscriptions: Vec<String>,
        now: Millis,
    ) -> StoreFuture<'_, usize> {
        self.run(move |store| store.queue_change_pushes(&subscriptions, now))
    }

    fn preferences(&self, user: String) -> StoreFuture<'_, Option<(String, i64)>> {
        self.run(move |store| store.preferences(&user))
    }

    fn put_preferences(
        &self,
        user: String,
        body: String,
        expected: Option<i64>,
        now: Millis,
    ) -> StoreFuture<'_, bool> {
        self.run(move |store| store.put_preferences(&user, &body, expected, now))
    }

    fn deliveries(
        &self,
        user: String,
        id: String,
        now: Millis,
    ) -> StoreFuture<'_, Option<Vec<DeliveryInfo>>> {
        self.run(move |store| store.deliveries(&user, &id, now))
    }

    fn purge_expired(&self, now: Millis) -> StoreFuture<'_, usize> {
        self.run(move |store| store.purge_expired(now))
    }

    fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        shares: ClaimShares,
    ) -> StoreFuture<'_, Vec<DueDelivery>> {
        self.run(move |store| store.claim_due(&shares, now, limit, lease_until))
    }

    fn release_claims(&self, ids: Vec<i64>) -> StoreFuture<'_, ()> {
        self.run(move |store| store.release_claims(&ids))
    }

    fn next_due(&self, shares: ClaimShares) -> StoreFuture<'_, Option<Millis>> {
        self.run(move |store| store.next_due(&shares))
    }

    fn pending_deliveries(&self) -> StoreFuture<'_, usize> {
        self.run(|store| store.pending_deliveries())
    }

    fn record_outcomes(
        &self,
        outcomes: Arc<Vec<Attempted>>,
        now: Millis,
    ) -> StoreFuture<'_, Vec<String>> {
        self.run(move |store| store.record_outcomes(&outcomes, now))
    }
}
