INSERT INTO changes (user_id, notification_id, seq, read_state, user_action_state,
    deleted, group_name, expires_at)
VALUES (?1, ?2, ?3, NULL, NULL, 1, ?4, ?5)
ON CONFLICT (user_id, notification_id) DO UPDATE SET seq = excluded.seq,
    read_state = NULL, user_action_state = NULL, deleted = 1
