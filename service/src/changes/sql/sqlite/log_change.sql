INSERT INTO changes (user_id, notification_id, seq, read_state, user_action_state,
    deleted, group_name, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)
ON CONFLICT (user_id, notification_id) DO UPDATE SET seq = excluded.seq,
    read_state = excluded.read_state, user_action_state = excluded.user_action_state,
    deleted = 0, group_name = excluded.group_name, expires_at = excluded.expires_at
