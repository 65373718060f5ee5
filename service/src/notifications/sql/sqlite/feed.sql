SELECT id, resource, read_state, user_action_state, created_at, seq
FROM notifications
WHERE user_id = ?1 AND expires_at > ?2 AND seq < ?3
ORDER BY seq DESC LIMIT ?4
