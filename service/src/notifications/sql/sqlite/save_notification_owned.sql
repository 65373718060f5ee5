SELECT 1 FROM subscriptions WHERE id = ?1 AND user_id = ?2
