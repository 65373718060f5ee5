CREATE TABLE vapid_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    private_key BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    -- NULL once the push service said the subscription is gone (404/410): the UNSID still
    -- names its user, but nothing is pushed to it any more.
    endpoint TEXT,
    p256dh BLOB,
    auth BLOB,
    target_host_name TEXT NOT NULL,
    display_name TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    gone_at INTEGER
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id);
CREATE UNIQUE INDEX subscriptions_by_endpoint ON subscriptions (user_id, endpoint)
    WHERE endpoint IS NOT NULL;
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    app_notification_id TEXT,
    resource TEXT NOT NULL,
    priority TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    read_state TEXT NOT NULL DEFAULT 'unread',
    user_action_state TEXT NOT NULL DEFAULT 'none'
);
CREATE UNIQUE INDEX notifications_by_app_id ON notifications (user_id, app_notification_id)
    WHERE app_notification_id IS NOT NULL;
CREATE INDEX notifications_feed ON notifications (user_id, seq);
CREATE INDEX notifications_expiry ON notifications (expires_at);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (subscription_id, notification_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
