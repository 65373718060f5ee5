INSERT INTO deliveries (subscription_id, notification_id, kind, state,
    next_attempt_at, created_at, updated_at, user_id, push_host)
SELECT id, NULL, ?4, ?3, ?2, ?2, ?2, user_id,
    COALESCE(push_host, '') FROM subscriptions
WHERE id = ?1 AND endpoint IS NOT NULL
ON CONFLICT DO NOTHING
