UPDATE notifications SET resource = ?2, priority = ?3, expires_at = ?4,
    updated_at = ?5, seq = ?6, read_state = 'unread', user_action_state = 'none',
    group_name = ?7, display_until = ?8
WHERE id = ?1
