DELETE FROM notifications WHERE expires_at <= ?1
