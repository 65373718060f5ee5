SELECT id, created_at FROM subscriptions WHERE user_id = ?1 AND endpoint = ?2
