-- Hostile tenants and a push's cost. Each delivery names its user and its push host
-- (`host:port` of the endpoint, kept on the subscription), in the due index itself, so
-- that a claim shares the senders out among users and hosts reading that index alone.
-- Each user's feed is counted (notifications kept, and of those unread and not
-- dismissed) by triggers, in the transaction of every change: the feed's limit and the
-- badge each push carries cost one row, whatever the feed's size. (The table has
-- PostgreSQL's stripes, one here: SQLite's one writer serialises the posts anyway.)
ALTER TABLE subscriptions ADD COLUMN push_host TEXT;
UPDATE subscriptions SET push_host = lower(substr(substr(endpoint, instr(endpoint, '://') + 3),
        1, instr(substr(endpoint, instr(endpoint, '://') + 3) || '/', '/') - 1))
    WHERE endpoint IS NOT NULL;
ALTER TABLE deliveries ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN push_host TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET
    user_id = COALESCE((SELECT s.user_id FROM subscriptions s
                        WHERE s.id = deliveries.subscription_id), ''),
    push_host = COALESCE((SELECT s.push_host FROM subscriptions s
                          WHERE s.id = deliveries.subscription_id), '');
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, user_id, push_host)
    WHERE state IN ('queued', 'retrying');
CREATE INDEX notifications_by_user_expiry ON notifications (user_id, expires_at);
CREATE TABLE feed_counts (
    user_id TEXT NOT NULL,
    stripe INTEGER NOT NULL,
    notifications INTEGER NOT NULL,
    unread INTEGER NOT NULL,
    PRIMARY KEY (user_id, stripe)
);
INSERT INTO feed_counts (user_id, stripe, notifications, unread)
    SELECT user_id, 0, COUNT(*),
        SUM(read_state = 'unread' AND user_action_state <> 'dismissed')
    FROM notifications GROUP BY user_id;
CREATE TRIGGER feed_counts_on_insert AFTER INSERT ON notifications BEGIN
    INSERT INTO feed_counts (user_id, stripe, notifications, unread)
        VALUES (NEW.user_id, 0, 1,
                NEW.read_state = 'unread' AND NEW.user_action_state <> 'dismissed')
        ON CONFLICT (user_id, stripe) DO UPDATE SET notifications = notifications + 1,
            unread = unread + excluded.unread;
END;
CREATE TRIGGER feed_counts_on_delete AFTER DELETE ON notifications BEGIN
    UPDATE feed_counts SET notifications = notifications - 1,
        unread = unread - (OLD.read_state = 'unread' AND OLD.user_action_state <> 'dismissed')
        WHERE user_id = OLD.user_id AND stripe = 0;
END;
CREATE TRIGGER feed_counts_on_update AFTER UPDATE OF read_state, user_action_state
    ON notifications BEGIN
    UPDATE feed_counts SET
        unread = unread - (OLD.read_state = 'unread' AND OLD.user_action_state <> 'dismissed')
            + (NEW.read_state = 'unread' AND NEW.user_action_state <> 'dismissed')
        WHERE user_id = NEW.user_id AND stripe = 0;
END;
