CREATE TABLE vapid_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    private_key BYTEA NOT NULL,
    public_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    -- NULL once the push service said the subscription is gone (404/410): the UNSID still
    -- names its user, but nothing is pushed to it any more.
    endpoint TEXT,
    p256dh BYTEA,
    auth BYTEA,
    target_host_name TEXT NOT NULL,
    display_name TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    gone_at BIGINT
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id);
CREATE UNIQUE INDEX subscriptions_by_endpoint ON subscriptions (user_id, endpoint)
    WHERE endpoint IS NOT NULL;
CREATE SEQUENCE notifications_seq;
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    app_notification_id TEXT,
    resource TEXT NOT NULL,
    priority TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    read_state TEXT NOT NULL DEFAULT 'unread',
    user_action_state TEXT NOT NULL DEFAULT 'none'
);
CREATE UNIQUE INDEX notifications_by_app_id ON notifications (user_id, app_notification_id)
    WHERE app_notification_id IS NOT NULL;
CREATE INDEX notifications_feed ON notifications (user_id, seq);
CREATE INDEX notifications_expiry ON notifications (expires_at);
CREATE SEQUENCE deliveries_id_seq;
-- Room on each page, so that a claim (which changes only leased_until, in no index) is a
-- HOT update that writes no index entry. No foreign key to subscriptions: its check locks
-- the subscription row FOR KEY SHARE in every post's transaction, and concurrent posts to
-- one user's browsers then share that lock through a MultiXact each time, which costs more
-- than the post. Deleting a subscription deletes its deliveries in the same statement; a
-- delivery a concurrent post made for it anyway is claimed as gone.
CREATE TABLE deliveries (
    id BIGINT PRIMARY KEY DEFAULT nextval('deliveries_id_seq'),
    subscription_id TEXT NOT NULL,
    notification_id TEXT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    next_attempt_at BIGINT NOT NULL,
    -- A deliverer's claim: until then no other replica takes the row.
    leased_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (notification_id, subscription_id)
) WITH (fillfactor = 80);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id);
