DELETE FROM notifications WHERE id = ?1 AND user_id = ?2
RETURNING group_name, expires_at
