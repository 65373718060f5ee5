-- State across devices and the user's preferences: each notification's group and the
-- end of its display time (what a push that only carries changes would leave visible),
-- the user's change log (one row per notification, its latest change under the user's
-- next seq, assigned under the lock of the user's change_heads row so that seqs commit in
-- order) with each subscription's cursor in it, pushes that only carry changes
-- (deliveries of kind `changes`, without a notification, at most one waiting per
-- subscription), and the preferences.
ALTER TABLE notifications ADD COLUMN group_name TEXT, ADD COLUMN display_until BIGINT;
UPDATE notifications SET group_name = resource::jsonb ->> 'groupName',
    display_until = updated_at
        + 1000 * (resource::jsonb ->> 'displayTimeToLive')::numeric::bigint;
CREATE INDEX notifications_by_group ON notifications (user_id, group_name)
    WHERE group_name IS NOT NULL;
ALTER TABLE subscriptions ADD COLUMN changes_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'notification',
    ALTER COLUMN notification_id DROP NOT NULL;
CREATE UNIQUE INDEX deliveries_pending_changes ON deliveries (subscription_id)
    WHERE kind = 'changes' AND state IN ('queued', 'retrying');
CREATE TABLE change_heads (
    user_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
CREATE TABLE changes (
    user_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    read_state TEXT,
    user_action_state TEXT,
    deleted BOOLEAN NOT NULL DEFAULT false,
    group_name TEXT,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, notification_id)
);
CREATE UNIQUE INDEX changes_by_seq ON changes (user_id, seq);
CREATE INDEX changes_expiry ON changes (expires_at);
CREATE TABLE preferences (
    user_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
