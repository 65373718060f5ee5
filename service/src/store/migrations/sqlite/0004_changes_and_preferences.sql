-- State across devices and the user's preferences: each notification's group and the
-- end of its display time (what a push that only carries changes would leave visible),
-- the user's change log (one row per notification, its latest change under the user's
-- next seq) with each subscription's cursor in it, pushes that only carry changes
-- (deliveries of kind `changes`, without a notification: the table is made again, since
-- SQLite cannot drop a NOT NULL), and the preferences.
ALTER TABLE notifications ADD COLUMN group_name TEXT;
ALTER TABLE notifications ADD COLUMN display_until INTEGER;
UPDATE notifications SET group_name = json_extract(resource, '$.groupName'),
    display_until = updated_at + 1000 * json_extract(resource, '$.displayTimeToLive');
CREATE INDEX notifications_by_group ON notifications (user_id, group_name)
    WHERE group_name IS NOT NULL;
ALTER TABLE subscriptions ADD COLUMN changes_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE deliveries_v4 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    notification_id TEXT REFERENCES notifications (id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'notification',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    reason TEXT,
    last_status INTEGER,
    updated_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (subscription_id, notification_id)
);
INSERT INTO deliveries_v4 (id, subscription_id, notification_id, attempts, next_attempt_at,
        created_at, state, reason, last_status, updated_at)
    SELECT id, subscription_id, notification_id, attempts, next_attempt_at, created_at, state,
        reason, last_status, updated_at
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX deliveries_by_notification ON deliveries (notification_id);
CREATE UNIQUE INDEX deliveries_pending_changes ON deliveries (subscription_id)
    WHERE kind = 'changes' AND state IN ('queued', 'retrying');
CREATE TABLE change_heads (
    user_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE changes (
    user_id TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    read_state TEXT,
    user_action_state TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    group_name TEXT,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, notification_id)
);
CREATE UNIQUE INDEX changes_by_seq ON changes (user_id, seq);
CREATE INDEX changes_expiry ON changes (expires_at);
CREATE TABLE preferences (
    user_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
