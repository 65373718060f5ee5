SELECT seq, notification_id, read_state, user_action_state, deleted, group_name
FROM changes WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3
