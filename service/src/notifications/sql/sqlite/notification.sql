SELECT id, resource, read_state, user_action_state, created_at FROM notifications
WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3
