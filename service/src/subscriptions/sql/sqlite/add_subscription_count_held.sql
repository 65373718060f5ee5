SELECT COUNT(*) FROM subscriptions
WHERE user_id = ?1 AND endpoint IS NOT NULL
