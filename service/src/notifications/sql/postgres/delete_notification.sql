WITH deleted AS (
    DELETE FROM notifications WHERE id = $1 AND user_id = $2
    RETURNING id, group_name, expires_at
), head AS (
    INSERT INTO change_heads (user_id, seq) SELECT $2, 1 FROM deleted
    ON CONFLICT (user_id) DO UPDATE SET seq = change_heads.seq + 1
    RETURNING seq
), logged AS (
    INSERT INTO changes (user_id, notification_id, seq, read_state,
        user_action_state, deleted, group_name, expires_at)
    SELECT $2, d.id, head.seq, NULL, NULL, true, d.group_name, d.expires_at
    FROM deleted d, head
    ON CONFLICT (user_id, notification_id) DO UPDATE SET seq = EXCLUDED.seq,
        read_state = NULL, user_action_state = NULL, deleted = true
)
SELECT head.seq, d.group_name FROM deleted d, head
