//! PostgreSQL's LISTEN/NOTIFY: what this process did announced to the replicas, and what
//! they did heard.

use super::*;

impl PgStore {
    /// Tells the replicas (the announcer, off the request) that deliveries were queued.
    pub(crate) fn announce_queued(&self) {
        self.announcements
            .queued
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.announcements.signal.notify_one();
    }

    /// Tells the replicas (the announcer, off the request) that `user`'s change log grew.
    pub fn announce_change(&self, user: &str) {
        self.announcements.changed().insert(user.to_owned());
        self.announcements.signal.notify_one();
    }

    /// LISTENs on its own connection (one per process) and wakes the deliverer on each
    /// notification of queued deliveries, and the user's change streams on each logged
    /// change; both once after every (re)connection, for what was announced while it was
    /// not listening.
    pub fn spawn_wakeups(
        &self,
        wake: Arc<Notify>,
        hub: Arc<ChangeHub>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            while !*shutdown.borrow() {
                match listen(&pool).await {
                    Ok(mut listener) => {
                        wake.notify_one();
                        hub.wake_all();
                        loop {
                            tokio::select! {
                                received = listener.try_recv() => match received {
                                    Ok(Some(notification)) if notification.channel() == CHANGES_CHANNEL => {
                                        let users: Vec<String> =
                                            serde_json::from_str(notification.payload()).unwrap_or_default();
                                        for user in users {
                                            hub.wake(&user);
                                        }
                                    }
                                    Ok(Some(_)) => wake.notify_one(),
                                    // The connection was lost and is made again: what came
                                    // meanwhile is read again.
                                    Ok(None) => {
                                        wake.notify_one();
                                        hub.wake_all();
                                    }
                                    Err(error) => {
                                        tracing::warn!(%error, "listening for queued deliveries and changes failed");
                                        break;
                                    }
                                },
                                _ = shutdown.changed() => return,
                            }
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%error, "cannot listen for queued deliveries yet");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(LISTEN_RETRY) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
    }
}

/// NOTIFYs the replicas of what this process did: deliveries queued, change logs grown. At
/// most once per [`ANNOUNCE_EVERY`], one statement for everything since the last time. Ends
/// soon after the last clone of its store is dropped.
pub(super) fn spawn_announcer(pool: PgPool, announcements: &Arc<Announcements>) {
    let announcements = Arc::downgrade(announcements);
    tokio::spawn(async move {
        while let Some(signal) = announcements.upgrade() {
            let signalled = tokio::time::timeout(Duration::from_secs(1), signal.signal.notified())
                .await
                .is_ok();
            let queued = signal
                .queued
                .swap(false, std::sync::atomic::Ordering::Relaxed);
            let changed: Vec<String> = signal.changed().drain().collect();
            drop(signal);
            if !signalled && !queued && changed.is_empty() {
                continue;
            }
            let mut channels = Vec::new();
            let mut payloads = Vec::new();
            if queued {
                channels.push(WAKE_CHANNEL);
                payloads.push(String::new());
            }
            for chunk in user_chunks(&changed) {
                channels.push(CHANGES_CHANNEL);
                payloads.push(chunk);
            }
            if channels.is_empty() {
                continue;
            }
            let announced = sqlx::query(include_str!("../sql/postgres/announce.sql"))
                .bind(&channels)
                .bind(&payloads)
                .execute(&pool)
                .await;
            if let Err(error) = announced {
                // The replicas' polling finds the deliveries anyway; their streams catch up
                // on the next change, or when they reconnect.
                tracing::debug!(%error, "announcing queued deliveries and changes failed");
            }
            tokio::time::sleep(ANNOUNCE_EVERY).await;
        }
    });
}

/// Users as JSON arrays, each under [`MAX_NOTIFY_PAYLOAD`] bytes.
pub(super) fn user_chunks(users: &[String]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<&str> = Vec::new();
    let mut size = 2;
    for user in users {
        let cost = user.len() + 3;
        if !chunk.is_empty() && size + cost > MAX_NOTIFY_PAYLOAD {
            chunks.push(serde_json::to_string(&chunk).unwrap_or_default());
            chunk.clear();
            size = 2;
        }
        if cost + 2 > MAX_NOTIFY_PAYLOAD {
            continue;
        }
        chunk.push(user);
        size += cost;
    }
    if !chunk.is_empty() {
        chunks.push(serde_json::to_string(&chunk).unwrap_or_default());
    }
    chunks
}

pub(super) async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([WAKE_CHANNEL, CHANGES_CHANNEL]).await?;
    Ok(listener)
}
