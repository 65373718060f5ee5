SELECT COALESCE(SUM(notifications), 0) FROM feed_counts WHERE user_id = ?1
