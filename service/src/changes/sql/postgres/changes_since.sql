SELECT c.seq, c.notification_id, c.read_state, c.user_action_state, c.deleted,
       c.group_name, h.seq
FROM change_heads h
LEFT JOIN LATERAL (
    SELECT * FROM changes WHERE user_id = h.user_id AND seq > $2
    ORDER BY seq LIMIT $3
) c ON true
WHERE h.user_id = $1
ORDER BY c.seq
