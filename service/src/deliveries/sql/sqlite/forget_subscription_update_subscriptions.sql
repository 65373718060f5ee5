UPDATE subscriptions SET endpoint = NULL, p256dh = NULL, auth = NULL, gone_at = ?2
WHERE id = ?1 AND endpoint IS NOT NULL
