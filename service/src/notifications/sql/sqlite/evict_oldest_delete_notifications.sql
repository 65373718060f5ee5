DELETE FROM notifications WHERE id IN (
    SELECT id FROM notifications WHERE user_id = ?1 AND id <> ?2
    ORDER BY seq LIMIT ?3)
RETURNING id, group_name, expires_at
