SELECT 1 FROM notifications WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3
