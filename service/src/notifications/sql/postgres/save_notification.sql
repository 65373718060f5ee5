WITH owned AS (
    SELECT 1 FROM subscriptions WHERE id = $10 AND user_id = $2
), stored AS (
    INSERT INTO notifications (id, user_id, app_notification_id, resource, priority,
        expires_at, created_at, updated_at, seq, group_name, display_until)
    SELECT $1, $2, $3, $4, $5, $6, $7, $7, nextval('notifications_seq'), $12, $13
    WHERE EXISTS (SELECT 1 FROM owned)
    ON CONFLICT (id) DO UPDATE SET resource = EXCLUDED.resource,
        priority = EXCLUDED.priority, expires_at = EXCLUDED.expires_at,
        updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq,
        read_state = $23::text, user_action_state = $24::text,
        group_name = EXCLUDED.group_name, display_until = EXCLUDED.display_until
    WHERE notifications.user_id = EXCLUDED.user_id
    RETURNING created_at
), forgotten AS (
    -- An update is news again: an earlier change of it is not one to tell.
    DELETE FROM changes WHERE $14 AND user_id = $2 AND notification_id = $1
        AND EXISTS (SELECT 1 FROM owned)
), fanned AS (
    INSERT INTO deliveries (subscription_id, notification_id, state, reason,
        next_attempt_at, created_at, updated_at, user_id, push_host)
    SELECT id, $1,
        CASE WHEN endpoint IS NULL THEN $15::text
             WHEN NOT $8 OR $9::text IS NULL
                 OR lower(target_host_name) <> lower($9)
                 OR $11::text IS NOT NULL THEN $16::text
             ELSE $17::text END,
        CASE WHEN endpoint IS NULL THEN $18::text
             WHEN NOT $8 THEN $19::text
             WHEN $9::text IS NULL OR lower(target_host_name) <> lower($9)
                 THEN $20::text
             ELSE $11::text END,
        $7, $7, $7, user_id, COALESCE(push_host, '')
    FROM subscriptions WHERE user_id = $2 AND EXISTS (SELECT 1 FROM owned)
    ON CONFLICT (notification_id, subscription_id) DO UPDATE SET
        id = nextval('deliveries_id_seq'), state = EXCLUDED.state,
        reason = EXCLUDED.reason, attempts = 0, last_status = NULL,
        next_attempt_at = EXCLUDED.next_attempt_at, leased_until = 0,
        created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
    RETURNING state, reason
), counted AS (
    SELECT count(*) FILTER (WHERE state = $17::text) AS queued,
           count(*) FILTER (WHERE reason = $19::text) AS policy,
           count(*) FILTER (WHERE reason = $20::text) AS host,
           count(*) FILTER (WHERE state = $15::text) AS gone,
           count(*) FILTER (WHERE reason IN ($21::text, $22::text)) AS withheld
    FROM fanned
)
SELECT stored.created_at, counted.queued, counted.policy, counted.host,
       counted.gone, counted.withheld,
       (SELECT sum(notifications)::bigint FROM feed_counts WHERE user_id = $2)
FROM stored, counted
