WITH over AS (
    SELECT greatest(sum(notifications)::bigint - $3, 0) AS n FROM feed_counts
    WHERE user_id = $1
), victims AS (
    SELECT id FROM notifications WHERE user_id = $1 AND id <> $2
    ORDER BY seq LIMIT COALESCE((SELECT n FROM over), 0)
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM notifications WHERE id IN (SELECT id FROM victims)
    RETURNING id, group_name, expires_at
), head AS (
    INSERT INTO change_heads (user_id, seq)
    SELECT $1, count(*) FROM deleted HAVING count(*) > 0
    ON CONFLICT (user_id) DO UPDATE SET seq = change_heads.seq + EXCLUDED.seq
    RETURNING seq
), numbered AS (
    SELECT d.id, d.group_name, d.expires_at,
           (SELECT seq FROM head) + 1 - row_number() OVER (ORDER BY d.id) AS seq
    FROM deleted d
), logged AS (
    INSERT INTO changes (user_id, notification_id, seq, read_state,
        user_action_state, deleted, group_name, expires_at)
    SELECT $1, id, seq, NULL, NULL, true, group_name, expires_at FROM numbered
    ON CONFLICT (user_id, notification_id) DO UPDATE SET seq = EXCLUDED.seq,
        read_state = NULL, user_action_state = NULL, deleted = true
)
SELECT seq, id, group_name FROM numbered ORDER BY seq
