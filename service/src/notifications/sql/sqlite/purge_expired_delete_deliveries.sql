DELETE FROM deliveries WHERE kind = ?2 AND created_at <= ?1
