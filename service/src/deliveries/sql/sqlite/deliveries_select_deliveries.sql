SELECT subscription_id, state, attempts, last_status, reason, next_attempt_at,
       updated_at
FROM deliveries WHERE notification_id = ?1 ORDER BY subscription_id
