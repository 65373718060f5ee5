WITH old AS (
    SELECT id, read_state, user_action_state FROM notifications
    WHERE id = $1 AND user_id = $2 AND expires_at > $3 FOR UPDATE
), updated AS (
    UPDATE notifications n SET read_state = COALESCE($4, old.read_state),
        user_action_state = COALESCE($5, old.user_action_state)
    FROM old WHERE n.id = old.id AND n.user_id = $2
    RETURNING n.id, n.resource, n.read_state, n.user_action_state, n.created_at,
        n.group_name, n.expires_at,
        (n.read_state, n.user_action_state)
            IS DISTINCT FROM (old.read_state, old.user_action_state) AS changed
), head AS (
    INSERT INTO change_heads (user_id, seq) SELECT $2, 1 FROM updated WHERE changed
    ON CONFLICT (user_id) DO UPDATE SET seq = change_heads.seq + 1
    RETURNING seq
), logged AS (
    INSERT INTO changes (user_id, notification_id, seq, read_state,
        user_action_state, deleted, group_name, expires_at)
    SELECT $2, u.id, head.seq, u.read_state, u.user_action_state, false,
        u.group_name, u.expires_at
    FROM updated u, head
    ON CONFLICT (user_id, notification_id) DO UPDATE SET seq = EXCLUDED.seq,
        read_state = EXCLUDED.read_state,
        user_action_state = EXCLUDED.user_action_state, deleted = false,
        group_name = EXCLUDED.group_name, expires_at = EXCLUDED.expires_at
)
SELECT u.id, u.resource, u.read_state, u.user_action_state, u.created_at,
       u.group_name, (SELECT seq FROM head)
FROM updated u
