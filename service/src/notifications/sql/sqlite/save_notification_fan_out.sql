INSERT INTO deliveries (subscription_id, notification_id, state, reason,
    next_attempt_at, created_at, updated_at, user_id, push_host)
SELECT id, ?1, CASE
        WHEN endpoint IS NULL THEN ?7
        WHEN NOT ?2 OR ?3 IS NULL
            OR target_host_name <> ?3 COLLATE NOCASE
            OR ?6 IS NOT NULL THEN ?8
        ELSE ?9 END,
    CASE
        WHEN endpoint IS NULL THEN ?10
        WHEN NOT ?2 THEN ?11
        WHEN ?3 IS NULL OR target_host_name <> ?3 COLLATE NOCASE
            THEN ?12
        ELSE ?6
        END,
    ?4, ?4, ?4, user_id, COALESCE(push_host, '')
FROM subscriptions WHERE user_id = ?5
RETURNING state, reason
