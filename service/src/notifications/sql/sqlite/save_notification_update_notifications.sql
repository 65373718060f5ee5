UPDATE notifications SET resource = ?2, priority = ?3, expires_at = ?4,
    updated_at = ?5, seq = ?6, read_state = ?9, user_action_state = ?10,
    group_name = ?7, display_until = ?8
WHERE id = ?1
