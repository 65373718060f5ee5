UPDATE notifications SET read_state = COALESCE(?3, read_state),
    user_action_state = COALESCE(?4, user_action_state)
WHERE id = ?1 AND user_id = ?2
RETURNING id, resource, read_state, user_action_state, created_at, group_name,
    expires_at
